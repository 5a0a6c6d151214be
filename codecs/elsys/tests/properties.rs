//! Properties over any input: decoding never panics, always yields valid JSON of the right
//! shape, and the two paths to JSON (rendering while decoding, storing first) print the same
//! text.

use lorafield_codec_elsys::{Elsys, Layout, MAX_EVENTS, TYPES};
use lorafield_core::MAX_PAYLOAD;
use lorafield_core::json::JsonWriter;
use lorafield_core::{ErrorKind, FieldBuf, Uplink};
use proptest::prelude::*;
use serde_json::Value;

fn check_shape(frame: &[u8]) -> Value {
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let d = buf.decode(&Elsys, Uplink::new(5, frame));
    let mut out = Vec::new();
    JsonWriter::new().write_result(&d, &mut out);
    let text = String::from_utf8(out).expect("JSON is UTF-8");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    // Data is always there: nothing rejects an Elsys frame whole.
    assert!(v.get("data").is_some_and(Value::is_object), "{text}");
    if let Some(e) = d.error {
        assert!(e.offset < frame.len(), "{text}");
        // A frame a device can send never fills the buffer (tests/capacity.rs).
        assert_eq!(e.kind, ErrorKind::UnexpectedEof, "{text}");
    }
    // At most one warning (the unknown type that stopped decoding), never with an error.
    assert!(d.warnings.len() <= 1, "{text}");
    assert!(d.warnings.is_empty() || d.error.is_none(), "{text}");
    for w in d.warnings {
        assert!(matches!(w.kind, ErrorKind::UnknownType(_)), "{text}");
        assert!(w.offset < frame.len(), "{text}");
    }
    if let Some(t) = v["data"].get("externalTemperature2") {
        assert!(
            t.is_number() || t.as_array().is_some_and(|a| a.len() >= 2),
            "{text}"
        );
    }
    // The fast path (rendering as it decodes) prints the same text.
    let mut fast = Vec::new();
    JsonWriter::with_max_events(MAX_EVENTS).decode(&Elsys, Uplink::new(5, frame), &mut fast);
    assert_eq!(String::from_utf8(fast).unwrap(), text);
    v
}

/// A frame of well-formed records, sometimes with a broken tail: at most [`MAX_PAYLOAD`]
/// bytes, as a device sends (the records that would not fit are left out).
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let types: Vec<(u8, usize)> = TYPES.iter().map(|t| (t.id, usize::from(t.size))).collect();
    let record = (
        prop::sample::select(types),
        prop::collection::vec(any::<u8>(), 65),
    )
        .prop_map(|((id, size), value)| {
            let mut r = vec![id];
            r.extend_from_slice(&value[..size]);
            r
        });
    // externalTemperature2 often, so that lists are common.
    let list = prop::collection::vec(any::<u8>(), 2).prop_map(|v| vec![0x19, v[0], v[1]]);
    let tail = prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec(any::<u8>(), 1..6),
    ];
    (
        prop::collection::vec(prop_oneof![3 => record, 1 => list], 0..12),
        tail,
    )
        .prop_map(|(records, tail)| {
            let mut f = Vec::new();
            for r in records {
                if f.len() + r.len() + tail.len() > MAX_PAYLOAD {
                    break;
                }
                f.extend(r);
            }
            f.extend(tail);
            f
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_bytes_give_valid_json(bytes in prop::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD)) {
        check_shape(&bytes);
    }

    #[test]
    fn well_formed_frames_give_valid_json(f in frame()) {
        prop_assert!(f.len() <= MAX_PAYLOAD);
        let v = check_shape(&f);
        // Every list occurrence decoded is in the output.
        let mut pos = 0;
        let mut occurrences = 0;
        while let Some(t) = f.get(pos).and_then(|&id| TYPES.iter().find(|t| t.id == id)) {
            if pos + 1 + usize::from(t.size) > f.len() {
                break;
            }
            occurrences += usize::from(matches!(t.layout, Layout::List(_)));
            pos += 1 + usize::from(t.size);
        }
        let printed = match v["data"].get("externalTemperature2") {
            None => 0,
            Some(Value::Array(a)) => a.len(),
            Some(_) => 1,
        };
        prop_assert_eq!(printed, occurrences);
    }
}
