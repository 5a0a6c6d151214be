//! Payload text: hex or base64 as people paste it, and the stdin line forms.

use std::fmt;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

/// How payload text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Hex when the text is hex (see [`parse_payload`]), anything else base64.
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

/// The members a TS013 `decodeUplink` input has; a stdin object may have no others.
pub const TS013_INPUT: [&str; 4] = ["fPort", "bytes", "recvTime", "variables"];

/// Text that is not a payload, with the reason in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError(String);

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PayloadError {}

/// Characters that may separate the bytes of hex text (`03 67`, `03:67`, `03-67`, `03,67`).
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, ':' | '-' | ',')
}

/// Why text is not hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HexProblem {
    /// A character that is neither a hex digit nor a separator (character index, 0-based).
    NotDigit(char, usize),
    /// A group of digits of odd length: where it starts (0-based) and its digits.
    OddGroup { at: usize, digits: usize },
    /// `0x` with no digits after it.
    NoDigits,
}

/// Reads hex text: pairs of hex digits, the whole optionally prefixed `0x`, in groups of an
/// even number of digits separated by spaces, colons, dashes or commas, each group optionally
/// prefixed `0x` too (`0367`, `03 67`, `03:67`, `0x0367`, `0x03, 0x67`).
fn parse_hex(text: &str) -> Result<Vec<u8>, HexProblem> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars.get(i).copied().is_some_and(is_separator) {
            i += 1;
            continue;
        }
        // A group: optional 0x, then digits up to the next separator.
        let start = i;
        if chars.get(i) == Some(&'0') && matches!(chars.get(i + 1), Some('x' | 'X')) {
            i += 2;
        }
        let digits_at = i;
        while let Some(&c) = chars.get(i).filter(|&&c| !is_separator(c)) {
            if !c.is_ascii_hexdigit() {
                return Err(HexProblem::NotDigit(c, i));
            }
            i += 1;
        }
        let digits = chars.get(digits_at..i).unwrap_or_default();
        if digits.is_empty() {
            return Err(HexProblem::NoDigits);
        }
        if digits.len() % 2 == 1 {
            return Err(HexProblem::OddGroup {
                at: start,
                digits: digits.len(),
            });
        }
        for pair in digits.chunks(2) {
            let nibble = |c: Option<&char>| c.and_then(|c| c.to_digit(16)).unwrap_or_default();
            out.push((nibble(pair.first()) << 4 | nibble(pair.get(1))) as u8);
        }
    }
    Ok(out)
}

/// The reason text is not hex, in words.
fn hex_reason(text: &str, problem: HexProblem) -> String {
    let grouped = text.chars().any(is_separator);
    match problem {
        HexProblem::NotDigit(c, at) => format!("{c:?} (character {}) is not a hex digit", at + 1),
        HexProblem::OddGroup { digits, .. } if !grouped => {
            format!("{digits} hex digits are an odd number (a byte is two digits)")
        }
        HexProblem::OddGroup { at, digits } => {
            let group: String = text
                .chars()
                .skip(at)
                .take_while(|&c| !is_separator(c))
                .collect();
            format!(
                "the group {group:?} (character {}) has an odd number of hex digits ({digits}; a byte is two)",
                at + 1
            )
        }
        HexProblem::NoDigits => "\"0x\" has no hex digits after it".into(),
    }
}

use lorafield_envelope::base64_reason;

/// Whether every character could be in base64 text.
fn base64_alphabet(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Reads payload text as `encoding` says. Hex text is pairs of hex digits, optionally `0x`
/// first and separated by spaces, colons, dashes or commas (`03670110`, `03 67 01 10`,
/// `03:67:01:10`, `0x03670110`); base64 is the standard alphabet, padding optional. Under
/// [`Encoding::Auto`] text that reads as hex is hex, anything else base64. An error says in
/// plain words which character or length is wrong.
pub fn parse_payload(text: &str, encoding: Encoding) -> Result<Vec<u8>, PayloadError> {
    let shown = shorten(text);
    let not_hex = |p| PayloadError(format!("{shown:?} is not hex: {}", hex_reason(text, p)));
    let not_base64 = |e| {
        PayloadError(format!(
            "{shown:?} is not base64: {}",
            base64_reason(text, &e)
        ))
    };
    match encoding {
        Encoding::Hex => parse_hex(text).map_err(not_hex),
        Encoding::Base64 => BASE64.decode(text).map_err(not_base64),
        Encoding::Auto => {
            let prefixed = text.starts_with("0x") || text.starts_with("0X");
            let hex_problem = match parse_hex(text) {
                Ok(bytes) => return Ok(bytes),
                Err(p) if prefixed => return Err(not_hex(p)),
                Err(p) => p,
            };
            let b64_error = match BASE64.decode(text) {
                Ok(bytes) => return Ok(bytes),
                Err(e) => e,
            };
            // One reason when the text can only have meant one reading: hex digits in groups
            // (base64 has no separators), or base64 characters that are no hex digits.
            let grouped_hex = text.chars().any(is_separator)
                && text
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || is_separator(c));
            let base64_only = base64_alphabet(text) && !text.chars().all(|c| c.is_ascii_hexdigit());
            if grouped_hex {
                Err(not_hex(hex_problem))
            } else if base64_only {
                Err(not_base64(b64_error))
            } else {
                Err(PayloadError(format!(
                    "{shown:?} is neither hex nor base64: as hex, {}; as base64, {}",
                    hex_reason(text, hex_problem),
                    base64_reason(text, &b64_error)
                )))
            }
        }
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
    /// The receive time the line names (`"recvTime"`: RFC 3339 text, or milliseconds since
    /// the Unix epoch), in milliseconds since the epoch.
    pub recv_ms: Option<i64>,
}

/// Reads a stdin line: payload text (see [`parse_payload`]; an empty line is an empty
/// payload), or a TS013 input object `{"fPort": .., "bytes": ..}` whose `bytes` is payload
/// text or, as in TS013, an array of integers 0-255; `recvTime` (RFC 3339 text or
/// milliseconds) is the uplink's receive time, which scripts see; `variables` may be there
/// (the codec's come from `--variables` or its rule); any other member is an error. Surrounding whitespace is ignored.
pub fn parse_line(line: &[u8], encoding: Encoding) -> Result<LineInput, PayloadError> {
    let text = std::str::from_utf8(line)
        .map_err(|e| {
            PayloadError(format!(
                "not UTF-8 text (byte {} is not part of a character)",
                e.valid_up_to() + 1
            ))
        })?
        .trim();
    if !text.starts_with('{') {
        return Ok(LineInput {
            f_port: None,
            payload: parse_payload(text, encoding)?,
            recv_ms: None,
        });
    }
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| PayloadError(format!("not a JSON object: {e}")))?;
    if let Some(other) = object.keys().find(|k| !TS013_INPUT.contains(&k.as_str())) {
        return Err(PayloadError(format!(
            "unknown member {other:?}: a TS013 input has only {}",
            TS013_INPUT.join(", ")
        )));
    }
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
    let recv_ms = match object.get("recvTime") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(t)) => Some(rfc3339_ms(t).ok_or_else(|| {
            PayloadError(format!(
                "recvTime {t:?} is not an RFC 3339 time (2024-05-01T12:00:00Z)"
            ))
        })?),
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            PayloadError(format!(
                "recvTime {v} is neither RFC 3339 text nor milliseconds since 1970"
            ))
        })?),
    };
    Ok(LineInput {
        f_port,
        payload,
        recv_ms,
    })
}

/// RFC 3339 text (`2024-05-01T12:00:00.5Z`) as milliseconds since the Unix epoch.
pub fn rfc3339_ms(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(text: &str) -> Result<Vec<u8>, String> {
        parse_payload(text, Encoding::Auto).map_err(|e| e.to_string())
    }

    #[test]
    fn auto_detection() {
        assert_eq!(auto("03670110").unwrap(), [3, 0x67, 1, 0x10]);
        assert_eq!(auto("036701").unwrap(), [3, 0x67, 1]);
        assert_eq!(
            auto("A2cA+AQChfw=").unwrap(),
            [3, 0x67, 0, 0xf8, 4, 2, 0x85, 0xfc]
        );
        assert_eq!(
            auto("A2cA+AQChfw").unwrap(),
            [3, 0x67, 0, 0xf8, 4, 2, 0x85, 0xfc]
        );
        // Even hex digits are hex even if they are also base64.
        assert_eq!(auto("AAAA").unwrap(), [0xaa, 0xaa]);
        assert_eq!(parse_payload("AAAA", Encoding::Base64).unwrap(), [0, 0, 0]);
        assert_eq!(auto("").unwrap(), Vec::<u8>::new());
        assert!(parse_payload("A2cZ", Encoding::Hex).is_err());
    }

    #[test]
    fn hex_as_people_paste_it() {
        let want = [3, 0x67, 1, 0x10];
        for text in [
            "03 67 01 10",
            "03:67:01:10",
            "03-67-01-10",
            "0x03670110",
            "0X03670110",
            "0x03 0x67 0x01 0x10",
            "0x03, 0x67, 0x01, 0x10",
            "0367 0110",
            "03  67\t01 10",
            "03:67:01:10:",
        ] {
            assert_eq!(auto(text).unwrap(), want, "{text}");
            assert_eq!(parse_payload(text, Encoding::Hex).unwrap(), want, "{text}");
        }
        // Forced base64 reads `0x...` as base64.
        assert_eq!(
            parse_payload("0xAA", Encoding::Base64).unwrap(),
            [0xd3, 0x10, 0x00]
        );
    }

    #[test]
    fn failures_in_plain_words() {
        let cases = [
            (
                "03 67 0z",
                r#""03 67 0z" is neither hex nor base64: as hex, 'z' (character 8) is not a hex digit; as base64, ' ' (character 3) is not a base64 character"#,
            ),
            (
                "03 6 01",
                r#""03 6 01" is not hex: the group "6" (character 4) has an odd number of hex digits (1; a byte is two)"#,
            ),
            (
                "0367011",
                r#""0367011" is neither hex nor base64: as hex, 7 hex digits are an odd number (a byte is two digits); as base64, the last character '1' (character 7) leaves bits over: the text is cut short or altered"#,
            ),
            (
                "not a payload!",
                r#""not a payload!" is neither hex nor base64: as hex, 'n' (character 1) is not a hex digit; as base64, ' ' (character 4) is not a base64 character"#,
            ),
            (
                "A2cA+AQChfw=X",
                r#""A2cA+AQChfw=X" is not base64: '=' (character 12) is padding, which only ends base64 text"#,
            ),
            (
                "A2cA+",
                r#""A2cA+" is not base64: 5 characters cannot be base64 (it comes in groups of four, and the last group here has one)"#,
            ),
            ("0x", r#""0x" is not hex: "0x" has no hex digits after it"#),
            (
                "température",
                r#""température" is neither hex nor base64: as hex, 't' (character 1) is not a hex digit; as base64, 'é' (character 5) is not a base64 character"#,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(auto(text).unwrap_err(), want);
        }
        let e = parse_payload("A2cA+AQChfw=", Encoding::Hex).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#""A2cA+AQChfw=" is not hex: '+' (character 5) is not a hex digit"#
        );
        let e = parse_payload("03 67", Encoding::Base64).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#""03 67" is not base64: ' ' (character 3) is not a base64 character"#
        );
        // No message carries the base64 crate's own wording.
        for text in ["A2cA+", "not a payload!", "0367011", "A2cA+AQChfw=X"] {
            let e = auto(text).unwrap_err();
            assert!(!e.contains("Invalid") && !e.contains("symbol"), "{e}");
        }
        let long = "!".repeat(100);
        assert!(
            auto(&long)
                .unwrap_err()
                .starts_with(&format!("\"{}...\"", "!".repeat(40)))
        );
    }

    #[test]
    fn lines() {
        let l = parse_line(b"  0367011005 \r", Encoding::Auto).unwrap();
        assert_eq!((l.f_port, l.payload.len()), (None, 5));
        let l = parse_line(b"03 67 01 10", Encoding::Auto).unwrap();
        assert_eq!(l.payload, [3, 0x67, 1, 0x10]);
        let l = parse_line(br#"{"fPort":3,"bytes":"A2cA+AQChfw="}"#, Encoding::Auto).unwrap();
        assert_eq!((l.f_port, l.payload.len()), (Some(3), 8));
        let l = parse_line(
            br#"{"bytes":[3,103,1,16],"recvTime":"2024-05-01T12:00:00.5Z","variables":{"a":1}}"#,
            Encoding::Auto,
        )
        .unwrap();
        assert_eq!((l.f_port, l.payload), (None, vec![3, 103, 1, 16]));
        assert_eq!(l.recv_ms, Some(1_714_564_800_500));
        let l = parse_line(br#"{"bytes":"","recvTime":1714564800500}"#, Encoding::Auto).unwrap();
        assert_eq!(l.recv_ms, Some(1_714_564_800_500));
        let e = parse_line(br#"{"bytes":"","recvTime":"yesterday"}"#, Encoding::Auto).unwrap_err();
        assert!(e.to_string().contains("not an RFC 3339 time"), "{e}");
        assert!(parse_line(br#"{"bytes":[3,256]}"#, Encoding::Auto).is_err());
        assert!(parse_line(br#"{"fPort":300,"bytes":""}"#, Encoding::Auto).is_err());
        assert!(parse_line(br#"{"fPort":1}"#, Encoding::Auto).is_err());
        assert!(parse_line(br#"{"bytes":5}"#, Encoding::Auto).is_err());
        assert!(parse_line(b"{broken", Encoding::Auto).is_err());
        let e = parse_line(b"\xff\xfe", Encoding::Auto).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not UTF-8 text (byte 1 is not part of a character)"
        );
        assert_eq!(
            parse_line(b"", Encoding::Auto).unwrap().payload,
            Vec::<u8>::new()
        );
    }

    #[test]
    fn members_other_than_ts013_input_are_errors() {
        for line in [
            r#"{"fport":3,"bytes":"03670110"}"#,
            r#"{"fPort":3,"bytes":"03670110","f_port":2}"#,
            r#"{"bytes":"03670110","payload":"x"}"#,
        ] {
            let e = parse_line(line.as_bytes(), Encoding::Auto).unwrap_err();
            assert!(
                e.to_string().starts_with("unknown member \"")
                    && e.to_string()
                        .ends_with("\": a TS013 input has only fPort, bytes, recvTime, variables"),
                "{line}: {e}"
            );
        }
    }
}
