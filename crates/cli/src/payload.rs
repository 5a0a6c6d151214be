//! Payload text: hex or base64, and the stdin line forms.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

/// How payload text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// An even number of hex digits and nothing else is hex; anything else base64.
    #[default]
    Auto,
    /// Always hex.
    Hex,
    /// Always base64.
    Base64,
}

/// Standard base64, padding optional (TTS pads, some tools do not).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Text that is not a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError(String);

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PayloadError {}

fn is_hex(text: &str) -> bool {
    text.len() % 2 == 0 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads payload text as `encoding` says.
pub fn parse_payload(text: &str, encoding: Encoding) -> Result<Vec<u8>, PayloadError> {
    let shown = shorten(text);
    match encoding {
        Encoding::Hex => {
            hex::decode(text).map_err(|e| PayloadError(format!("{shown:?} is not hex: {e}")))
        }
        Encoding::Base64 => general_purpose::STANDARD
            .decode(text)
            .or_else(|_| BASE64.decode(text))
            .map_err(|e| PayloadError(format!("{shown:?} is not base64: {e}"))),
        Encoding::Auto if is_hex(text) => parse_payload(text, Encoding::Hex),
        Encoding::Auto => BASE64.decode(text).map_err(|e| {
            PayloadError(format!(
                "{shown:?} is neither hex (an even number of hex digits) nor base64 ({e})"
            ))
        }),
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

/// One stdin line, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInput {
    /// The port the line names (`{"fPort": 3, ...}`), if any.
    pub f_port: Option<u8>,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Reads a stdin line: hex or base64 text (an empty line is an empty payload), or a JSON object
/// `{"fPort": .., "bytes": ..}` whose `bytes` is hex or base64 text or, as in TS013, an array
/// of integers 0-255. Surrounding whitespace is ignored.
pub fn parse_line(line: &[u8], encoding: Encoding) -> Result<LineInput, PayloadError> {
    let text = std::str::from_utf8(line)
        .map_err(|e| PayloadError(format!("not UTF-8 text ({e})")))?
        .trim();
    if !text.starts_with('{') {
        return Ok(LineInput {
            f_port: None,
            payload: parse_payload(text, encoding)?,
        });
    }
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| PayloadError(format!("not a JSON object: {e}")))?;
    let f_port = match object.get("fPort") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|p| u8::try_from(p).ok())
                .ok_or_else(|| PayloadError(format!("fPort {v} is not a port (0-255)")))?,
        ),
    };
    let payload = match object.get("bytes") {
        Some(serde_json::Value::String(s)) => parse_payload(s, encoding)?,
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_u64()
                    .and_then(|b| u8::try_from(b).ok())
                    .ok_or_else(|| PayloadError(format!("bytes[{i}] = {v} is not a byte (0-255)")))
            })
            .collect::<Result<_, _>>()?,
        Some(v) => {
            return Err(PayloadError(format!(
                "\"bytes\" must be hex or base64 text or an array of bytes, not {v}"
            )));
        }
        None => return Err(PayloadError("the object has no \"bytes\"".into())),
    };
    Ok(LineInput { f_port, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_detection() {
        assert_eq!(
            parse_payload("03670110", Encoding::Auto).unwrap(),
            [3, 0x67, 1, 0x10]
        );
        assert_eq!(
            parse_payload("036701", Encoding::Auto).unwrap(),
            [3, 0x67, 1]
        );
        // Odd number of hex digits: base64.
        assert!(parse_payload("0367011", Encoding::Auto).is_err());
        assert_eq!(
            parse_payload("A2cA+AQChfw=", Encoding::Auto).unwrap(),
            [3, 0x67, 0, 0xf8, 4, 2, 0x85, 0xfc]
        );
        assert_eq!(
            parse_payload("A2cA+AQChfw", Encoding::Auto).unwrap(),
            [3, 0x67, 0, 0xf8, 4, 2, 0x85, 0xfc]
        );
        // Even hex digits are hex even if they are also base64.
        assert_eq!(parse_payload("AAAA", Encoding::Auto).unwrap(), [0xaa, 0xaa]);
        assert_eq!(parse_payload("AAAA", Encoding::Base64).unwrap(), [0, 0, 0]);
        assert_eq!(parse_payload("", Encoding::Auto).unwrap(), Vec::<u8>::new());
        let e = parse_payload("not a payload!", Encoding::Auto).unwrap_err();
        assert!(e.to_string().contains("neither hex"), "{e}");
        assert!(parse_payload("A2cZ", Encoding::Hex).is_err());
    }

    #[test]
    fn lines() {
        let l = parse_line(b"  0367011005 \r", Encoding::Auto).unwrap();
        assert_eq!((l.f_port, l.payload.len()), (None, 5));
        let l = parse_line(br#"{"fPort":3,"bytes":"A2cA+AQChfw="}"#, Encoding::Auto).unwrap();
        assert_eq!((l.f_port, l.payload.len()), (Some(3), 8));
        let l = parse_line(br#"{"bytes":[3,103,1,16],"recvTime":"x"}"#, Encoding::Auto).unwrap();
        assert_eq!((l.f_port, l.payload), (None, vec![3, 103, 1, 16]));
        assert!(parse_line(br#"{"bytes":[3,256]}"#, Encoding::Auto).is_err());
        assert!(parse_line(br#"{"fPort":300,"bytes":""}"#, Encoding::Auto).is_err());
        assert!(parse_line(br#"{"fPort":1}"#, Encoding::Auto).is_err());
        assert!(parse_line(br#"{"bytes":5}"#, Encoding::Auto).is_err());
        assert!(parse_line(b"{broken", Encoding::Auto).is_err());
        assert!(parse_line(b"\xff\xfe", Encoding::Auto).is_err());
        assert_eq!(
            parse_line(b"", Encoding::Auto).unwrap().payload,
            Vec::<u8>::new()
        );
    }
}
