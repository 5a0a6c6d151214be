//! Any bytes, any model: decoding never panics, the result is valid JSON of the right shape, and
//! the fast path to JSON prints what the FieldBuf path prints.

use lorafield_codec_milesight::{MAX_EVENTS, Milesight, models};
use lorafield_core::MAX_PAYLOAD;
use lorafield_core::json::JsonWriter;
use lorafield_core::{FieldBuf, Uplink};
use proptest::prelude::*;
use serde_json::Value;

fn check(model: usize, bytes: &[u8]) {
    let all: Vec<_> = models().collect();
    let codec = Milesight::new(all[model % all.len()]);
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let d = buf.decode(&codec, Uplink::new(85, bytes));
    let mut stored = Vec::new();
    JsonWriter::new().write_result(&d, &mut stored);
    let text = String::from_utf8(stored.clone()).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(v.get("data").is_some_and(Value::is_object), "{text}");
    if let Some(e) = d.error {
        assert!(e.offset < bytes.len(), "{text}");
    }
    for w in d.warnings {
        assert!(w.offset < bytes.len(), "{text}");
    }
    let mut fast = Vec::new();
    JsonWriter::with_max_events(MAX_EVENTS).decode(&codec, Uplink::new(85, bytes), &mut fast);
    // Past the buffer too (a VS121 counter of many regions), both paths print the same.
    assert_eq!(
        String::from_utf8(fast).unwrap(),
        text,
        "{}",
        codec.model().id
    );
}

/// Payloads made of pairs the models know (channel ids and types that occur), to get past the
/// first pair more often than random bytes do.
fn pairs() -> impl Strategy<Value = Vec<u8>> {
    let pair = (
        prop::sample::select(vec![
            0x01u8, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x20, 0x83, 0xff,
        ]),
        prop::sample::select(vec![
            0x00u8, 0x01, 0x65, 0x67, 0x68, 0x6a, 0x73, 0x75, 0x7d, 0x82, 0xc8, 0xce, 0xcb,
        ]),
        prop::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(c, t, v)| {
            let mut p = vec![c, t];
            p.extend(v);
            p
        });
    prop::collection::vec(pair, 0..8).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_bytes(model in any::<usize>(), bytes in prop::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD)) {
        check(model, &bytes);
    }

    #[test]
    fn pair_shaped_bytes(model in any::<usize>(), bytes in pairs()) {
        check(model, &bytes);
    }
}
