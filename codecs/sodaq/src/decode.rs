//! The codec: which layout a frame has, by model and length.

use lorafield_core::{DecodeError, ErrorKind, GenericCodec, Sink, Uplink};

use crate::model::Model;
use crate::{lpp, report};

/// The Sodaq tracker codec for one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SodaqTracker {
    model: Model,
}

impl SodaqTracker {
    /// The codec for `model`.
    pub const fn new(model: Model) -> Self {
        SodaqTracker { model }
    }

    /// The codec's model.
    pub const fn model(&self) -> Model {
        self.model
    }

    /// Decodes `payload` into any sink, monomorphised for it.
    ///
    /// The length decides the layout: a report with 0-3 previous fixes (the model's lengths),
    /// or the 19-byte LPP mode when it starts `01 88` (models with that mode). Any other length
    /// rejects the frame as a whole: [`ErrorKind::InvalidLength`] at offset 0, expecting the
    /// nearest report length. The port is not looked at (it is configurable on the device,
    /// and UDP has none).
    #[inline(always)]
    pub fn decode_into<'a, S: Sink<'a> + ?Sized>(
        &self,
        payload: &'a [u8],
        sink: &mut S,
    ) -> Result<(), DecodeError> {
        if let Some(layout) = self.model.layout(payload.len()) {
            return report::decode(payload, layout, sink);
        }
        if self.model.has_lpp_mode() && lpp::is_lpp(payload) {
            return lpp::decode(payload, sink);
        }
        let narrow = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        Err(DecodeError::new(
            0,
            ErrorKind::InvalidLength {
                expected: narrow(self.model.nearest_len(payload.len())),
                found: narrow(payload.len()),
            },
        ))
    }
}

impl GenericCodec for SodaqTracker {
    const ID: &'static str = crate::ID;

    // Always: each of `Codec`'s entry points (a `dyn Sink`, the store, the store with the
    // payload passed in registers, the JSON writer) is the decoder itself, not a call to it.
    #[inline(always)]
    fn decode_generic<'a, S: Sink<'a> + ?Sized>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut S,
    ) -> Result<(), DecodeError> {
        self.decode_into(uplink.payload, sink)
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use crate::MAX_EVENTS;
    use alloc::string::String;
    use alloc::vec::Vec;
    use lorafield_core::FieldBuf;

    fn json(model: Model, payload: &[u8]) -> String {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let d = buf.decode(&SodaqTracker::new(model), Uplink::new(1, payload));
        let mut out = Vec::new();
        d.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn data(model: Model, payload: &[u8]) -> String {
        let full = json(model, payload);
        let inner = full
            .strip_prefix(r#"{"data":"#)
            .and_then(|s| s.strip_suffix('}'));
        inner
            .unwrap_or_else(|| panic!("not a clean result: {full}"))
            .into()
    }

    fn error(model: Model, payload: &[u8]) -> Option<DecodeError> {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        buf.decode(&SodaqTracker::new(model), Uplink::new(1, payload))
            .error
    }

    #[rustfmt::skip]
    const REPORT: [u8; 21] = [
        0x10, 0x32, 0x54, 0x76, // timestamp: 0x76543210 = 1985229328
        0x75,                   // battery_voltage: (300 + 117) / 100 = 4.17
        0xfb,                   // board_temperature: -5
        0x80, 0x2c, 0x0e, 0x1f, // latitude: 0x1f0e2c80 = 521022592 / 10^7
        0x40, 0x2c, 0xfd, 0xff, // longitude: 0xfffd2c40 = -185280 / 10^7
        0xfe, 0xff,             // altitude: -2 (signed)
        0x2c, 0x01,             // speed: 300 km/h
        0xb4,                   // course: 180
        0x07,                   // satellites: 7
        0x21,                   // time_to_fix: 33 s
    ];

    const REPORT_DATA: &str = r#""altitude":-2,"battery_voltage":4.17,"board_temperature":-5,"course":180,"latitude":52.1022592,"longitude":-0.018528"#;
    const REPORT_TAIL: &str =
        r#""satellites":7,"speed":300,"time_to_fix":33,"timestamp":1985229328"#;

    #[rustfmt::skip]
    const FIXES: [[u8; 10]; 3] = [
        [
            0x84, 0x03,             // seconds_ago: 900
            0x00, 0x2d, 0x0e, 0x1f, // latitude: 521022720 / 10^7
            0xc0, 0x2b, 0xfd, 0xff, // longitude: -185408 / 10^7
        ],
        [
            0xff, 0xff,             // seconds_ago: 65535 (that long or longer)
            0x00, 0x00, 0x00, 0x80, // latitude: i32::MIN / 10^7
            0xff, 0xff, 0xff, 0x7f, // longitude: i32::MAX / 10^7
        ],
        [
            0x00, 0x00,             // seconds_ago: 0
            0x00, 0x00, 0x00, 0x00, // latitude: 0
            0xff, 0xff, 0xff, 0xff, // longitude: -1 / 10^7
        ],
    ];

    const FIXES_DATA: [&str; 3] = [
        r#"{"latitude":52.102272,"longitude":-0.0185408,"seconds_ago":900}"#,
        r#"{"latitude":-214.7483648,"longitude":214.7483647,"seconds_ago":65535}"#,
        r#"{"latitude":0,"longitude":-0.0000001,"seconds_ago":0}"#,
    ];

    fn with_fixes(head: &[u8], report: &[u8], fixes: usize) -> Vec<u8> {
        let mut f = head.to_vec();
        f.extend_from_slice(report);
        for fix in &FIXES[..fixes] {
            f.extend_from_slice(fix);
        }
        f
    }

    fn expected_fixes(fixes: usize) -> String {
        if fixes == 0 {
            return String::new();
        }
        alloc::format!(r#","previous_fixes":[{}]"#, FIXES_DATA[..fixes].join(","))
    }

    #[test]
    fn report_with_every_count_of_previous_fixes() {
        for fixes in 0..=3 {
            let frame = with_fixes(&[], &REPORT, fixes);
            let expected =
                alloc::format!("{{{REPORT_DATA}{},{REPORT_TAIL}}}", expected_fixes(fixes));
            assert_eq!(data(Model::UniversalTracker, &frame), expected, "{fixes}");
        }
    }

    #[test]
    fn legacy_fixes_start_over_time_to_fix_and_the_last_byte_is_stale() {
        // Without fixes a legacy frame is the report as is.
        assert_eq!(
            data(Model::Legacy, &REPORT),
            data(Model::UniversalTracker, &REPORT)
        );
        let tail_without_ttf = r#""satellites":7,"speed":300,"timestamp":1985229328"#;
        for fixes in 1..=3 {
            let mut frame = with_fixes(&[], &REPORT[..20], fixes);
            frame.push(0xee); // stale
            let expected = alloc::format!(
                "{{{REPORT_DATA}{},{tail_without_ttf}}}",
                expected_fixes(fixes)
            );
            assert_eq!(data(Model::Legacy, &frame), expected, "{fixes}");
            // The stale byte changes nothing.
            *frame.last_mut().unwrap() = 0x11;
            assert_eq!(data(Model::Legacy, &frame), expected, "{fixes}");
        }
    }

    #[test]
    fn nb_iot_header_then_the_universal_layout() {
        #[rustfmt::skip]
        let header = [
            0x01,                                     // version: 1
            0x01, 0x45, 0x29, 0x2a, 0x2b, 0xfb, 0xfc, // imei: 357518080211964
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0xff, // token
        ];
        for fixes in 0..=3 {
            let frame = with_fixes(&header, &REPORT, fixes);
            let expected = alloc::format!(
                r#"{{{REPORT_DATA}{},{REPORT_TAIL},"udp_header":{{"imei":"357518080211964","token":"00112233445566ff","version":1}}}}"#,
                expected_fixes(fixes)
            );
            assert_eq!(data(Model::NbIot, &frame), expected, "{fixes}");
        }
        // The largest IMEI the 7 bytes hold.
        let mut frame = with_fixes(&header, &REPORT, 0);
        frame[1..8].fill(0xff);
        assert!(data(Model::NbIot, &frame).contains(r#""imei":"72057594037927935""#));
    }

    #[test]
    fn signs_and_bounds() {
        let mut f = REPORT;
        f[4] = 0xff; // battery: (300 + 255) / 100
        f[5] = 0x7f; // board_temperature: 127
        f[14..16].copy_from_slice(&[0xff, 0x7f]); // altitude: 32767
        f[16..18].copy_from_slice(&[0xff, 0xff]); // speed: 65535
        f[18] = 0xff;
        f[19] = 0xff;
        f[20] = 0xff; // time_to_fix 255: no fix
        let d = data(Model::UniversalTracker, &f);
        for part in [
            r#""battery_voltage":5.55"#,
            r#""board_temperature":127"#,
            r#""altitude":32767"#,
            r#""speed":65535,"#,
            r#""course":255"#,
            r#""satellites":255"#,
            r#""time_to_fix":255"#,
        ] {
            assert!(d.contains(part), "{part} in {d}");
        }
        f[0..4].fill(0xff); // timestamp: u32::MAX
        f[4] = 0; // battery: 3
        f[5] = 0x80; // board_temperature: -128
        f[14..16].copy_from_slice(&[0x00, 0x80]); // altitude: -32768
        let d = data(Model::UniversalTracker, &f);
        for part in [
            r#""timestamp":4294967295"#,
            r#""battery_voltage":3,"#,
            r#""board_temperature":-128"#,
            r#""altitude":-32768"#,
        ] {
            assert!(d.contains(part), "{part} in {d}");
        }
    }

    #[test]
    fn lpp_mode() {
        #[rustfmt::skip]
        let f = [
            0x01, 0x88,       // channel 1, GPS
            0x07, 0xfd, 0xe2, // latitude: 523746 / 10^4
            0xff, 0x40, 0x00, // longitude: -49152 / 10^4
            0xff, 0xff, 0xf6, // altitude: -10 / 100
            0x02, 0x02,       // channel 2, analog input
            0x01, 0x9f,       // 415 / 100 volts
            0x03, 0x67,       // channel 3, temperature
            0xff, 0xd8,       // -40 / 10 C
        ];
        let expected = r#"{"analog_in_2":4.15,"gps_1":{"altitude":-0.1,"latitude":52.3746,"longitude":-4.9152},"temperature_3":-4}"#;
        assert_eq!(data(Model::UniversalTracker, &f), expected);
        assert_eq!(data(Model::Legacy, &f), expected);
        // No LPP mode over UDP: 19 bytes is not an NB-IoT length.
        assert_eq!(
            error(Model::NbIot, &f),
            Some(DecodeError::new(
                0,
                ErrorKind::InvalidLength {
                    expected: 37,
                    found: 19
                }
            ))
        );
        // A record header that is not the expected one stops decoding there.
        let mut bad = f;
        bad[12] = 0x03; // channel 2 type 0x03: analog output
        assert_eq!(
            json(Model::UniversalTracker, &bad),
            r#"{"data":{"gps_1":{"altitude":-0.1,"latitude":52.3746,"longitude":-4.9152}},"errors":[{"channel":2,"kind":"unknown_pair","message":"unknown channel 0x02 type 0x03 at byte 11","offset":11,"type":3}]}"#
        );
        let mut bad = f;
        bad[15] = 0x04; // channel 4
        assert_eq!(
            error(Model::UniversalTracker, &bad),
            Some(DecodeError::new(
                15,
                ErrorKind::UnknownPair {
                    channel: 4,
                    ty: 0x67
                }
            ))
        );
        // 19 bytes that do not start 01 88 are not the LPP mode.
        let mut other = f;
        other[1] = 0x67;
        assert_eq!(
            error(Model::UniversalTracker, &other).map(|e| e.kind),
            Some(ErrorKind::InvalidLength {
                expected: 21,
                found: 19
            })
        );
    }

    #[test]
    fn every_other_length_is_rejected_whole() {
        let bytes = [0x5au8; 80];
        for model in Model::ALL {
            for len in 0..bytes.len() {
                let frame = &bytes[..len];
                let valid = model.layout(len).is_some();
                let e = error(model, frame);
                assert_eq!(e.is_none(), valid, "{model} {len}");
                if let Some(e) = e {
                    assert_eq!(e.offset, 0);
                    assert_eq!(
                        e.kind,
                        ErrorKind::InvalidLength {
                            expected: model.nearest_len(len) as u16,
                            found: len as u16,
                        }
                    );
                    // No data at all.
                    assert!(json(model, frame).starts_with(r#"{"errors":[{"expected":"#));
                }
            }
        }
        assert_eq!(
            json(Model::UniversalTracker, &[]),
            r#"{"errors":[{"expected":21,"kind":"invalid_length","length":0,"message":"invalid length 0 (expected 21) at byte 0","offset":0}]}"#
        );
        assert_eq!(
            error(Model::UniversalTracker, &[0; 300]).map(|e| e.kind),
            Some(ErrorKind::InvalidLength {
                expected: 51,
                found: 300
            })
        );
    }

    #[test]
    fn truncation_at_every_byte_is_a_length_error() {
        for model in Model::ALL {
            let frame = with_fixes(&[0; 16][..model.report_frame_len(0) - 21], &REPORT, 3);
            for cut in 0..frame.len() {
                let e = error(model, &frame[..cut]);
                let valid = model.layout(cut).is_some();
                assert_eq!(e.is_none(), valid, "{model} cut at {cut}");
            }
        }
    }

    #[test]
    fn a_full_sink_is_an_error_at_the_record() {
        let frame = with_fixes(&[], &REPORT, 2);
        let codec = SodaqTracker::default();
        let mut buf = FieldBuf::<3>::new();
        let d = buf.decode(&codec, Uplink::new(1, &frame));
        assert_eq!(d.error, Some(DecodeError::new(0, ErrorKind::SinkFull)));
        // Room for the head, the array and one fix: the second fix fails at its first byte.
        let mut buf = FieldBuf::<{ 6 + 1 + 4 + 1 }>::new();
        let d = buf.decode(&codec, Uplink::new(1, &frame));
        assert_eq!(d.error, Some(DecodeError::new(31, ErrorKind::SinkFull)));
        // The half-made array is dropped whole.
        assert_eq!(d.data.map(<[_]>::len), Some(6));
    }
}
