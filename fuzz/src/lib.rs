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

/// Decodes `payload` on `f_port` with the script codec `codec` through both paths to JSON
/// and checks: no panic; the result is a JSON object whose every object has its keys in
/// strictly increasing bytewise order (unique); `data` is an object and present exactly when
/// there are no errors; every error and warning has a `kind` and a `message` (and a
/// `limit` for `script_limit`), never one of the engine's own failures (`engine: ...`);
/// `JsonWriter::decode` prints exactly what a `FieldBuf` of as many events (and a text area
/// large enough for any result of a 242-byte payload) prints.
pub fn check_js(codec: &lorafield_codec_js::JsCodec, f_port: u8, payload: &[u8]) {
    use lorafield_core::Uplink;
    let uplink = Uplink::new(f_port, payload);
    let mut writer = JsonWriter::new();
    let mut fast = Vec::new();
    let outcome = writer.decode(codec, uplink, &mut fast);
    let text = String::from_utf8(fast).expect("JSON is UTF-8");
    let Ok(Value::Object(result)) = serde_json::from_str::<Value>(&text) else {
        panic!("not a JSON object: {text}");
    };
    if let Err(e) = keys_sorted(&text) {
        panic!("{e}: {text}");
    }
    let errors = result.get("errors").and_then(Value::as_array);
    assert_eq!(result.get("data").is_some(), errors.is_none(), "{text}");
    assert_eq!(outcome.data.is_some(), !outcome.has_errors, "{text}");
    if let Some(d) = result.get("data") {
        assert!(d.is_object(), "data is not an object: {text}");
    }
    let warnings = result.get("warnings").and_then(Value::as_array);
    for e in errors.into_iter().flatten().chain(warnings.into_iter().flatten()) {
        assert!(e["kind"].is_string() && e["message"].is_string(), "{text}");
        if e["kind"] == "script_limit" {
            assert!(e["limit"].is_string(), "{text}");
        }
        // The engine's own failures are lorafield's bugs, never the script's doing.
        let message = e["message"].as_str().unwrap_or_default();
        assert!(!message.starts_with("engine: "), "{text}");
    }
    let mut buf = Box::new(lorafield_core::FieldBuf::<MAX_EVENTS, 65536>::new());
    let decoded = buf.decode(codec, uplink);
    let mut stored = Vec::new();
    writer.write_result(&decoded, &mut stored);
    assert_eq!(String::from_utf8_lossy(&stored), text, "the FieldBuf path differs");
    assert_eq!(decoded.has_errors(), outcome.has_errors);
}

/// Whether every object in the JSON `text` has its keys in strictly increasing bytewise
/// order: a small scanner over the text (strings, escapes and nesting), since a parsed
/// `Value` has lost the order and the repeats.
fn keys_sorted(text: &str) -> Result<(), String> {
    let b = text.as_bytes();
    // Per open container: whether it is an object, and its last key.
    let mut stack: Vec<(bool, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => stack.push((true, None)),
            b'[' => stack.push((false, None)),
            b'}' | b']' => {
                stack.pop();
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let literal = text.get(start..=i).ok_or("a cut string")?;
                // A key is a string followed by a colon.
                if b.get(i + 1) == Some(&b':') {
                    let key: String =
                        serde_json::from_str(literal).map_err(|e| format!("{e}: {literal}"))?;
                    if let Some((true, last)) = stack.last_mut() {
                        if let Some(before) = last {
                            if before.as_bytes() >= key.as_bytes() {
                                return Err(format!("key {key:?} after {before:?}"));
                            }
                        }
                        *last = Some(key);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::keys_sorted;

    #[test]
    fn unsorted_and_repeated_keys_are_found() {
        assert!(keys_sorted(r#"{"data":{"":1,"a":{"b":[1,{"c":"x\"}:"}]}}}"#).is_ok());
        assert!(keys_sorted(r#"{"data":{"b":1,"a":2}}"#).is_err());
        assert!(keys_sorted(r#"{"data":[{"x":1,"x":2}]}"#).is_err());
        assert!(keys_sorted(r#"{"data":{"é":1,"😀":2,"z":3}}"#).is_err());
    }
}
