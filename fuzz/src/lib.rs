//! The checks every codec's fuzz target makes, so that each target stays a few lines.
#![forbid(unsafe_code)]

use lorafield::{Codec, FieldBuf, JsonWriter, MAX_EVENTS};
use serde_json::Value;

/// Decodes `data` on `f_port` with `codec` through both paths to JSON and checks: no panic; the
/// result is a JSON object; `data`, if present, is an object; error and warning offsets lie
/// inside the input; the fast path (`decode_json`) prints exactly what the FieldBuf path prints
/// (`writer` renders as many events as the buffer holds, `JsonWriter::new()`'s default: past
/// them both stop with `sink_full` at the same field).
pub fn check(codec: &dyn Codec, f_port: u8, data: &[u8], writer: &mut JsonWriter) {
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let decoded = lorafield::decode(codec, f_port, data, &mut buf);
    let mut stored = Vec::new();
    writer.write_result(&decoded, &mut stored);
    let text = String::from_utf8_lossy(&stored).into_owned();
    let Ok(Value::Object(result)) = serde_json::from_slice::<Value>(&stored) else {
        panic!("{}: not a JSON object: {text}", codec.id());
    };
    if let Some(d) = result.get("data") {
        assert!(
            d.is_object(),
            "{}: data is not an object: {text}",
            codec.id()
        );
    }
    for e in decoded.error.iter().chain(decoded.warnings) {
        assert!(
            e.offset < data.len() || e.offset == 0,
            "{}: offset {} outside a {}-byte input: {text}",
            codec.id(),
            e.offset,
            data.len()
        );
    }
    let mut fast = Vec::new();
    let outcome = lorafield::decode_json(codec, f_port, data, writer, &mut fast);
    assert_eq!(
        String::from_utf8_lossy(&fast),
        text,
        "{}: decode_json differs",
        codec.id()
    );
    assert_eq!(outcome.has_errors, decoded.has_errors());
}
