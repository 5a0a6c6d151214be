//! Properties over any input: any payload (0 to 242 bytes) on any application port (1-223)
//! into each codec of the fixture tree never panics and gives a valid JSON result of the right
//! shape (keys sorted bytewise and unique in every object, errors without data, none of the
//! engine's own failures), and the two paths to JSON (rendering while decoding, storing in a
//! `FieldBuf` first) print the same text whenever the `FieldBuf` had room.

mod common;

use std::fmt;
use std::sync::LazyLock;

use lorafield_codec_js::JsCodec;
use lorafield_core::json::JsonWriter;
use lorafield_core::{FieldBuf, MAX_EVENTS, MAX_PAYLOAD, Uplink};
use proptest::prelude::*;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Every device of the fixture tree with an uplink decoder, each codec once.
const DEVICES: [&str; 13] = [
    "acme/th-sensor@1.9",
    "acme/th-sensor@1.10",
    "acme/meter:EU_863_870",
    "acme/meter:US_902_928",
    "acme/pulse-counter",
    "acme/valve",
    "lorafield-test/cs-node",
    "lorafield-test/globals-node",
    "lorafield-test/module-node",
    "lorafield-test/thrower",
    "lorafield-test/kinds",
    "lorafield-test/shapes",
    "nordwind/weather-station",
];

static CODECS: LazyLock<Vec<JsCodec>> =
    LazyLock::new(|| DEVICES.iter().map(|d| common::device(d)).collect());

/// Checks that every object's keys come in strictly increasing bytewise order.
struct Sorted;

impl<'de> DeserializeSeed<'de> for Sorted {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Sorted {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut last: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            if let Some(before) = &last
                && before.as_bytes() >= key.as_bytes()
            {
                return Err(de::Error::custom(format!("key {key:?} after {before:?}")));
            }
            map.next_value_seed(Sorted)?;
            last = Some(key);
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Sorted)?.is_some() {}
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The result's shape: valid JSON, keys sorted and unique, `data` an object and absent
/// exactly when there are errors, each error and warning an object with a kind and a message.
fn check_shape(text: &str) -> Value {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut de = serde_json::Deserializer::from_str(text);
    Sorted
        .deserialize(&mut de)
        .unwrap_or_else(|e| panic!("{e}: {text}"));
    let top = v.as_object().expect("an object");
    for key in top.keys() {
        assert!(
            ["data", "errors", "normalized", "warnings"].contains(&key.as_str()),
            "{text}"
        );
    }
    let errors = top.get("errors").and_then(Value::as_array);
    assert_eq!(top.get("data").is_some(), errors.is_none(), "{text}");
    if let Some(data) = top.get("data") {
        assert!(data.is_object(), "{text}");
    }
    for e in errors.into_iter().flatten().chain(
        top.get("warnings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    ) {
        assert!(e["kind"].is_string() && e["message"].is_string(), "{text}");
        if e["kind"] == "script_limit" {
            assert!(e["limit"].is_string(), "{text}");
        }
        // The engine's own failures are lorafield's bugs, never the script's doing.
        let message = e["message"].as_str().unwrap_or_default();
        assert!(!message.starts_with("engine: "), "{text}");
    }
    v
}

fn check(codec: &JsCodec, f_port: u8, bytes: &[u8]) {
    let uplink = Uplink::new(f_port, bytes);
    let mut writer = JsonWriter::new();
    let mut fast = Vec::new();
    let outcome = writer.decode(codec, uplink, &mut fast);
    let fast = String::from_utf8(fast).expect("UTF-8");
    check_shape(&fast);
    assert_eq!(outcome.data.is_some(), !outcome.has_errors, "{fast}");

    // A FieldBuf of as many events as the writer renders, its text area large enough for any
    // result of a 242-byte payload: the same text.
    let mut large = Box::new(FieldBuf::<MAX_EVENTS, 65536>::new());
    let decoded = large.decode(codec, uplink);
    let mut stored = Vec::new();
    writer.write_result(&decoded, &mut stored);
    let stored = String::from_utf8(stored).expect("UTF-8");
    assert_eq!(stored, fast);
    assert_eq!(decoded.has_errors(), outcome.has_errors);

    // A small FieldBuf: valid too, and the same text unless it ran out of room (the output
    // limit).
    let mut small = FieldBuf::<64>::new();
    let decoded = small.decode(codec, uplink);
    let mut text = Vec::new();
    writer.write_result(&decoded, &mut text);
    let text = String::from_utf8(text).expect("UTF-8");
    check_shape(&text);
    let full = r#""limit":"output_size""#;
    if !text.contains(full) || fast.contains(full) {
        assert_eq!(text, fast);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_bytes_into_any_fixture_codec_give_valid_json(
        which in 0..DEVICES.len(),
        f_port in 1u8..=223,
        bytes in prop::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD),
    ) {
        check(&CODECS[which], f_port, &bytes);
    }

    #[test]
    fn any_bytes_into_the_shapes_codec_give_valid_json(
        f_port in 1u8..=223,
        bytes in prop::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD),
    ) {
        check(&CODECS[11], f_port, &bytes);
    }
}

#[test]
fn the_shape_check_finds_unsorted_and_repeated_keys() {
    let mut de = serde_json::Deserializer::from_str(r#"{"data":{"b":1,"a":2}}"#);
    assert!(Sorted.deserialize(&mut de).is_err());
    let mut de = serde_json::Deserializer::from_str(r#"{"data":{"a":[{"x":1,"x":2}]}}"#);
    assert!(Sorted.deserialize(&mut de).is_err());
    let mut de = serde_json::Deserializer::from_str(r#"{"data":{"":1,"a":{"b":[1,{"c":2}]}}}"#);
    assert!(Sorted.deserialize(&mut de).is_ok());
}
