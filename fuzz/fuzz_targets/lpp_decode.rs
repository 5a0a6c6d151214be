//! Decodes arbitrary bytes as a Cayenne LPP frame on port 1 under both profiles and checks the
//! JSON result: it parses, its error offsets lie inside the input, `tts` drops the data of a
//! frame with an error while `extended` always keeps it, and the fast path (`decode_json`,
//! rendering while decoding) prints the same text as decoding into a `FieldBuf` first; port 0
//! is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lorafield::{Decoded, ErrorKind, FieldBuf, JsonWriter};
use lorafield_codec_lpp::{CayenneLpp, MAX_EVENTS, Profile};
use serde_json::Value;

/// The largest LoRaWAN application payload, which `MAX_EVENTS` events always hold.
const MAX_PAYLOAD: usize = 242;

fuzz_target!(|data: &[u8]| {
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let mut writer = JsonWriter::new();
    for profile in Profile::ALL {
        let codec = CayenneLpp::new(profile);
        let decoded = lorafield::decode(&codec, 1, data, &mut buf);
        let result = check_json(&decoded);

        // The fast path renders while decoding: the same text, unless the FieldBuf filled up
        // (beyond LoRaWAN's 242 bytes), which the fast path never does.
        let mut fast = Vec::new();
        let outcome = lorafield::decode_json(&codec, 1, data, &mut writer, &mut fast);
        let mut stored = Vec::new();
        decoded.write_json(&mut stored);
        if decoded.error.map(|e| e.kind) != Some(ErrorKind::SinkFull) {
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&stored),
                "{profile}: decode_json differs"
            );
            assert_eq!(outcome.has_errors, decoded.has_errors());
        }

        if let Some(e) = decoded.error {
            assert!(
                e.offset < data.len() || (data.is_empty() && e.offset == 0),
                "{profile}: error offset {} outside a {}-byte input",
                e.offset,
                data.len()
            );
            if data.len() <= MAX_PAYLOAD {
                assert_ne!(
                    e.kind,
                    ErrorKind::SinkFull,
                    "{profile}: MAX_EVENTS too small"
                );
            }
        }
        match profile {
            Profile::Tts if decoded.has_errors() => {
                assert!(result.get("data").is_none(), "tts: data despite an error")
            }
            Profile::Tts => {}
            Profile::Extended => assert!(result.get("data").is_some(), "extended: no data"),
        }
    }

    // Port 0 carries MAC commands: refused whatever the payload.
    let decoded = lorafield::decode(&CayenneLpp::new(Profile::Extended), 0, data, &mut buf);
    let result = check_json(&decoded);
    assert_eq!(decoded.data, None, "port 0: data");
    assert_eq!(
        decoded.error.map(|e| (e.offset, e.kind)),
        Some((0, ErrorKind::PortZero))
    );
    assert!(result.get("data").is_none(), "port 0: data member");
});

/// Renders `decoded`, checks the text is a JSON object whose `errors` match `decoded.error`,
/// and returns it parsed.
fn check_json(decoded: &Decoded<'_, '_>) -> serde_json::Map<String, Value> {
    let mut json = Vec::new();
    decoded.write_json(&mut json);
    let text = String::from_utf8_lossy(&json);
    let Ok(Value::Object(result)) = serde_json::from_slice::<Value>(&json) else {
        panic!("not a JSON object: {text}");
    };
    assert_eq!(
        result.get("data").is_some(),
        decoded.data.is_some(),
        "{text}"
    );
    let offsets: Vec<Option<u64>> = match result.get("errors") {
        None => Vec::new(),
        Some(Value::Array(errors)) => errors.iter().map(|e| e["offset"].as_u64()).collect(),
        Some(_) => panic!("errors is not an array: {text}"),
    };
    let expected: Vec<Option<u64>> = decoded
        .error
        .iter()
        .map(|e| Some(e.offset as u64))
        .collect();
    assert_eq!(offsets, expected, "{text}");
    result
}
