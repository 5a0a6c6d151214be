//! One record: a device's next uplink drawn, decoded, perhaps made stale, and written as a share.

use fastrand::Rng;
use lorafield::JsonWriter;
use lorafield_codec_lpp::{CayenneLpp, Profile};

use super::fleet::{FREQUENCIES, Fleet, encode};
use super::json::{Json, hex};
use super::share::Share;
use super::uplink::{Draw, Heard, write_v2, write_v3};
use super::{DateEncoding, GenOptions};

/// Reused buffers: the record, its `data`, the decoder's output.
#[derive(Debug, Default)]
pub(super) struct RecordWriter {
    pub(super) line: Json,
    data: Json,
    decoded: Vec<u8>,
    stale: Vec<u8>,
    json: JsonWriter,
}

const CODEC: CayenneLpp = CayenneLpp::new(Profile::Tts);

impl RecordWriter {
    /// Writes one share into `self.line`; returns whether it holds a TTS v3 uplink and whether
    /// its stored payload is stale.
    pub(super) fn record(
        &mut self,
        rng: &mut Rng,
        fleet: &mut Fleet,
        options: &GenOptions,
        air_ns: i64,
    ) -> (bool, bool) {
        let pick = rng.usize(..fleet.devices.len());
        let device = &mut fleet.devices[pick];
        let app = &fleet.apps[device.app];
        let mut draw = Draw {
            air_ns,
            frequency: rng.usize(..FREQUENCIES.len()),
            heard: [Heard::default(); 3],
            n_heard: 0,
            f_cnt: device.f_cnt,
            frame: [0; 48],
            len: 0,
            ns_ns: 0,
            as_ns: 0,
            create_ms: 0,
        };
        device.f_cnt += if rng.u8(..10) == 0 { rng.u32(2..=4) } else { 1 };
        for c in &mut device.channels {
            c.walk(rng);
        }
        draw.len = encode(&device.channels, None, None, &mut draw.frame);
        // Heard by one to three of the application's gateways, the best first.
        let mut order: Vec<usize> = (0..app.gateways.len()).collect();
        rng.shuffle(&mut order);
        draw.n_heard = match rng.u8(..20) {
            0..16 => 1,
            16..19 => 2,
            _ => 3,
        };
        let mut rssi = rng.i64(-118..=-50);
        for (h, &gateway) in draw.heard.iter_mut().zip(&order).take(draw.n_heard) {
            *h = Heard {
                gateway,
                rssi,
                snr: ((rssi + 112) * 5 + rng.i64(-20..=20)).clamp(-200, 125),
                delay_ns: rng.i64(2_000_000..60_000_000),
                frequency_offset: (rng.u8(..8) == 0).then(|| rng.i64(-30..=30) * 100),
            };
            rssi -= rng.i64(1..=12);
        }
        draw.ns_ns = air_ns + rng.i64(80_000_000..220_000_000);
        draw.as_ns = draw.ns_ns + rng.i64(100_000_000..300_000_000);
        draw.create_ms = draw.as_ns / 1_000_000 + rng.i64(150..600);

        self.decoded.clear();
        let outcome = lorafield::decode_json(
            &CODEC,
            device.f_port,
            &draw.frame[..draw.len],
            &mut self.json,
            &mut self.decoded,
        );
        let fresh = outcome.data.unwrap_or(0..0);
        let stale = options.stale > 0.0 && rng.f64() < options.stale;
        // A stale payload is left out, lacks one channel's key, or has one value changed.
        let pick = rng.usize(..device.channels.len());
        let stored = match stale.then(|| rng.u8(..3)) {
            None => Some(&self.decoded[fresh]),
            Some(0) => None,
            Some(kind) => {
                let (skip, nudge) = match kind {
                    1 if device.channels.len() > 1 => (Some(pick), None),
                    _ => (None, Some(pick)),
                };
                let mut frame = [0u8; 48];
                let len = encode(&device.channels, skip, nudge, &mut frame);
                self.stale.clear();
                let outcome = lorafield::decode_json(
                    &CODEC,
                    device.f_port,
                    &frame[..len],
                    &mut self.json,
                    &mut self.stale,
                );
                Some(&self.stale[outcome.data.unwrap_or(0..0)])
            }
        };
        let encoding = match options.encoding {
            DateEncoding::Mixed if rng.bool() => DateEncoding::V2017,
            DateEncoding::Mixed => DateEncoding::V2020,
            e => e,
        };
        let mut random = [0u8; 60];
        rng.fill(&mut random);
        let j = &mut self.data;
        j.clear();
        if device.v3 {
            write_v3(j, app, device, &draw, stored, &random);
        } else {
            write_v2(j, app, device, &draw, stored);
        }
        let secs = (draw.create_ms / 1000) as u32;
        let mut id = [0u8; 24];
        hex(&mut id[..8], &secs.to_be_bytes(), false);
        hex(&mut id[8..18], &fleet.oid_process, false);
        hex(&mut id[18..], &fleet.oid_counter.to_be_bytes()[1..], false);
        fleet.oid_counter = (fleet.oid_counter + 1) & 0xff_ffff;
        let share = Share {
            encoding,
            app,
            id,
            create_ms: draw.create_ms,
            data: &self.data.buf,
        };
        self.line.clear();
        share.write(&mut self.line);
        (device.v3, stale)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::Value as J;

    use super::super::testing::{generate, lines, object_after, options};
    use super::*;

    #[test]
    fn frame_counters_increase_per_device() {
        let (out, _) = generate(&options(3000, 11));
        let mut last = std::collections::BTreeMap::new();
        let mut omitted = 0;
        for line in lines(&out) {
            let share: J = serde_json::from_slice(line).unwrap();
            let d = &share["data"];
            let (device, f_cnt) = match d.get("uplink_message") {
                Some(m) => (&d["end_device_ids"]["device_id"], &m["f_cnt"]),
                None => (&d["dev_id"], &d["counter"]),
            };
            omitted += usize::from(f_cnt.is_null());
            let f_cnt = f_cnt.as_u64().unwrap_or(0);
            let device = device.as_str().unwrap().replace('_', "-");
            if let Some(prev) = last.insert(device, f_cnt) {
                assert!(f_cnt > prev);
            }
        }
        assert_eq!(last.len(), 50);
        assert!(omitted > 0, "some device starts at frame 0");
    }

    #[test]
    fn stored_payloads_match_a_redecode_unless_stale() {
        let codec = lorafield::Registry::builtin()
            .build("cayenne-lpp", &lorafield::Options::default().profile("tts"))
            .unwrap();
        for stale in [0.0, 0.1, 0.5] {
            let o = GenOptions {
                stale,
                ..options(3000, 9)
            };
            let (out, summary) = generate(&o);
            let (mut differ, mut missing) = (0, 0);
            for line in lines(&out) {
                let share: J = serde_json::from_slice(line).unwrap();
                let d = &share["data"];
                let (port, payload, stored) = match d.get("uplink_message") {
                    Some(m) => (&m["f_port"], &m["frm_payload"], "decoded_payload"),
                    None => (&d["port"], &d["payload_raw"], "payload_fields"),
                };
                let frame = STANDARD.decode(payload.as_str().unwrap()).unwrap();
                let mut json = Vec::new();
                let port = port.as_u64().unwrap() as u8;
                lorafield::decode_to_json(&*codec, port, &frame, &mut json);
                let fresh = object_after(&json, "data").unwrap();
                assert_eq!(json.len(), fresh.len() + 9, "no errors nor warnings");
                match object_after(line, stored) {
                    Some(text) if text == fresh => {}
                    Some(_) => differ += 1,
                    None => missing += 1,
                }
            }
            assert_eq!(differ + missing, summary.stale);
            if stale == 0.0 {
                assert_eq!(summary.stale, 0);
            } else {
                let expected = stale * 3000.0;
                let got = summary.stale as f64;
                assert!(
                    (got - expected).abs() < expected * 0.2,
                    "{got} vs {expected}"
                );
                assert!(differ > 0 && missing > 0);
            }
        }
    }
}
