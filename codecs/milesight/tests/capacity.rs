//! The buffer and LoRaWAN's largest payload: 242-byte frames of every model's pairs, each
//! repeated at every value size up to 16 bytes, never fill a `FieldBuf<MAX_EVENTS>` with
//! events, but for the VS121's people counter; past the buffer, both paths to JSON stop at the
//! same pair.

use lorafield_codec_milesight::engine::Id;
use lorafield_codec_milesight::{MAX_EVENTS, Milesight, models};
use lorafield_core::MAX_PAYLOAD;
use lorafield_core::json::JsonWriter;
use lorafield_core::{ErrorKind, FieldBuf, MAX_WARNINGS, Uplink};

/// Bytes a rule's channel or type test takes.
fn bytes_of(id: Id) -> Vec<u8> {
    match id {
        Id::Is(b) => vec![b],
        Id::Not(b) => vec![b.wrapping_add(1)],
        Id::Any => vec![0x00, 0x01, 0xff],
        Id::In(set) => set.to_vec(),
    }
}

/// Both paths' results for `frame`, which must be the same text.
fn both_paths(codec: &Milesight, frame: &[u8]) -> serde_json::Value {
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let d = buf.decode(codec, Uplink::new(85, frame));
    let mut stored = Vec::new();
    JsonWriter::new().write_result(&d, &mut stored);
    let mut fast = Vec::new();
    JsonWriter::with_max_events(MAX_EVENTS).decode(codec, Uplink::new(85, frame), &mut fast);
    assert_eq!(
        String::from_utf8(fast).unwrap(),
        String::from_utf8(stored.clone()).unwrap()
    );
    serde_json::from_slice(&stored).unwrap()
}

#[test]
fn full_payloads_of_one_pair_fit_the_buffer() {
    let mut most = (0, "", Vec::new());
    // VS121's people counter is left out: its own region count byte decides how many events
    // one pair yields (below).
    for model in models().filter(|m| m.id != "vs121") {
        let codec = Milesight::new(model);
        for rule in model.table.rules() {
            for channel in bytes_of(rule.channel) {
                for ty in bytes_of(rule.ty) {
                    for fill in [0x00, 0x01, 0xff] {
                        for size in 0..=16 {
                            let mut pair = vec![channel, ty];
                            pair.resize(2 + size, fill);
                            let frame: Vec<u8> =
                                pair.iter().copied().cycle().take(MAX_PAYLOAD).collect();
                            // Room to count past MAX_EVENTS, should a frame get there.
                            let mut buf = Box::new(FieldBuf::<2048>::new());
                            let d = buf.decode(&codec, Uplink::new(85, &frame));
                            // Neither the events nor the warnings fill up: pairs passed over
                            // warn seven times at most, and the stop's warning has room.
                            assert_ne!(
                                d.error.map(|e| e.kind),
                                Some(ErrorKind::SinkFull),
                                "{pair:02x?}"
                            );
                            assert!(d.warnings.len() <= MAX_WARNINGS, "{pair:02x?}");
                            let events = d.data.map_or(0, <[_]>::len);
                            if events > most.0 {
                                most = (events, model.id, pair);
                            }
                        }
                    }
                }
            }
        }
    }
    let (events, model, pair) = most;
    assert!(
        events <= MAX_EVENTS,
        "{model}: {events} events from {pair:02x?} repeated"
    );
    // The densest: WS50x's switch states, six events in three bytes.
    assert_eq!(events, 6 * (MAX_PAYLOAD / 3), "{model} {pair:02x?}");
}

#[test]
fn a_vs121_counter_of_169_regions_fits_and_170_do_not() {
    let codec = Milesight::for_model("vs121").unwrap();
    // Two fields, the `regions` array, three events per region.
    let v = both_paths(&codec, &[0x04, 0xc9, 7, 169, 0x00, 0x05]);
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(v["data"]["regions"].as_array().map(Vec::len), Some(169));
    assert_eq!(v["data"]["regions"][4]["count"], 1);
    assert_eq!(v["data"]["regions"][5]["count"], 0);
    let v = both_paths(&codec, &[0x04, 0xc9, 7, 170, 0x00, 0x05]);
    assert_eq!(v["errors"][0]["kind"], "sink_full", "{v}");
    assert_eq!(v["errors"][0]["offset"], 0);
    // The pair's fields before the array are kept; the array cut short is not.
    assert_eq!(v["data"]["region_count"], 170);
    assert!(v["data"].get("regions").is_none(), "{v}");
}

#[test]
fn past_the_buffer_both_paths_stop_at_the_same_pair() {
    // am308: `01 75 xx` is the battery, one event in three bytes: 600 of them fill the buffer.
    let codec = Milesight::for_model("am308").unwrap();
    let frame: Vec<u8> = [0x01, 0x75, 0x5c].repeat(600);
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let d = buf.decode(&codec, Uplink::new(85, &frame));
    let e = d.error.expect("the buffer is full");
    assert_eq!((e.offset, e.kind), (MAX_EVENTS * 3, ErrorKind::SinkFull));
    let v = both_paths(&codec, &frame);
    assert_eq!(v["data"]["battery"], 92);
    assert_eq!(v["errors"][0]["kind"], "sink_full");
    assert_eq!(v["errors"][0]["offset"], MAX_EVENTS * 3);
}
