//! Properties over any input: decoding never panics and always yields valid JSON of the right
//! shape, and decode(encode(decode(x))) == decode(x).

use lorafield_codec_lpp::{CayenneLpp, MAX_EVENTS, Profile, TYPES, encode_events};
use lorafield_core::MAX_PAYLOAD;
use lorafield_core::json::JsonWriter;
use lorafield_core::{Decoded, ErrorKind, FieldBuf, Uplink};
use proptest::prelude::*;
use serde_json::Value;

fn result_json(d: &Decoded<'_, '_>) -> String {
    let mut out = Vec::new();
    JsonWriter::new().write_result(d, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

fn data_json(d: &Decoded<'_, '_>) -> Option<String> {
    let mut out = Vec::new();
    JsonWriter::new().write_object(d.data?, &mut out);
    Some(String::from_utf8(out).expect("JSON is UTF-8"))
}

fn check_shape(profile: Profile, frame: &[u8]) {
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let d = buf.decode(&CayenneLpp::new(profile), Uplink::new(1, frame));
    let text = result_json(&d);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let errors = v.get("errors").and_then(Value::as_array);
    match profile {
        Profile::Tts => assert_eq!(v.get("data").is_some(), errors.is_none(), "{text}"),
        Profile::Extended => assert!(v.get("data").is_some_and(Value::is_object), "{text}"),
    }
    if let Some(e) = d.error {
        assert!(e.offset < frame.len(), "{text}");
        // A frame a device can send never fills the buffer (tests/capacity.rs).
        assert_ne!(e.kind, ErrorKind::SinkFull, "{text}");
        assert_eq!(errors.map(Vec::len), Some(1));
    }
    // The fast path (rendering as it decodes) prints the same text.
    let mut fast = Vec::new();
    let outcome = JsonWriter::with_max_events(MAX_EVENTS).decode(
        &CayenneLpp::new(profile),
        Uplink::new(1, frame),
        &mut fast,
    );
    assert_eq!(String::from_utf8(fast.clone()).unwrap(), text);
    assert_eq!(
        outcome.data.map(|r| fast[r].to_vec()),
        data_json(&d).map(String::into_bytes)
    );
}

fn check_roundtrip(profile: Profile, frame: &[u8]) {
    let codec = CayenneLpp::new(profile);
    let mut first = FieldBuf::<MAX_EVENTS>::new();
    let d1 = first.decode(&codec, Uplink::new(1, frame));
    let Some(events) = d1.data else {
        // tts rejected the frame: there is nothing to encode.
        return;
    };
    let mut out = [0u8; 512];
    let n = encode_events(events, profile, &mut out)
        .unwrap_or_else(|e| panic!("decoded data does not re-encode: {e}"));
    let mut second = FieldBuf::<MAX_EVENTS>::new();
    let d2 = second.decode(&codec, Uplink::new(1, &out[..n]));
    assert_eq!(d2.error, None);
    if d1.error.is_none() {
        assert_eq!(result_json(&d2), result_json(&d1));
    } else {
        assert_eq!(data_json(&d2), data_json(&d1));
    }
}

/// A frame of well-formed records of `profile`'s types, sometimes with a broken tail (at most
/// 16 records of 11 bytes and 5 more: always within [`MAX_PAYLOAD`]).
fn frame(profile: Profile) -> impl Strategy<Value = Vec<u8>> {
    let types: Vec<(u8, usize)> = TYPES
        .iter()
        .filter(|t| profile.lookup(t.id).is_some())
        .map(|t| (t.id, usize::from(t.size)))
        .collect();
    let record = (
        any::<u8>(),
        prop::sample::select(types),
        prop::collection::vec(any::<u8>(), 9),
    )
        .prop_map(|(channel, (id, size), value)| {
            let mut r = vec![channel, id];
            r.extend_from_slice(&value[..size]);
            r
        });
    let tail = prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec(any::<u8>(), 1..6),
    ];
    (prop::collection::vec(record, 0..16), tail).prop_map(|(records, tail)| {
        let mut f: Vec<u8> = records.concat();
        f.extend(tail);
        f
    })
}

fn profile() -> impl Strategy<Value = Profile> {
    prop::sample::select(Profile::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_bytes_give_valid_json(profile in profile(), bytes in prop::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD)) {
        check_shape(profile, &bytes);
    }

    #[test]
    fn well_formed_frames_give_valid_json(profile in profile(), f in frame(Profile::Extended)) {
        prop_assert!(f.len() <= MAX_PAYLOAD);
        check_shape(profile, &f);
    }

    #[test]
    fn any_bytes_roundtrip(profile in profile(), bytes in prop::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD)) {
        check_roundtrip(profile, &bytes);
    }

    #[test]
    fn tts_frames_roundtrip(f in frame(Profile::Tts)) {
        check_roundtrip(Profile::Tts, &f);
    }

    #[test]
    fn extended_frames_roundtrip(f in frame(Profile::Extended)) {
        check_roundtrip(Profile::Extended, &f);
    }
}
