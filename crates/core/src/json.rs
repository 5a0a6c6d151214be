//! The JSON writer: compact, keys sorted bytewise at every level, the last of a repeated key
//! kept, numbers as the shortest text that round-trips (no `.0` on integral values).

use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt::{self, Write as _};

use crate::error::{Member, sorted_members};
use crate::value::decimal_to_f64;
use crate::{Container, DecodeError, Decoded, Event, Value};

/// Renders decoded results as JSON, keeping its scratch space (member indices being sorted)
/// from one call to the next so that steady-state writing allocates nothing.
#[derive(Debug, Default, Clone)]
pub struct JsonWriter {
    scratch: Vec<u32>,
}

impl JsonWriter {
    /// A writer with empty scratch space.
    pub const fn new() -> Self {
        JsonWriter {
            scratch: Vec::new(),
        }
    }

    /// Appends `{"data":{...},"errors":[...],"warnings":[...]}` to `out`; `data` is left out
    /// when the frame was rejected, `errors` and `warnings` when empty.
    pub fn write_result(&mut self, decoded: &Decoded<'_, '_>, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut comma = false;
        if let Some(events) = decoded.data {
            out.extend_from_slice(b"\"data\":");
            self.write_object(events, out);
            comma = true;
        }
        if let Some(error) = decoded.error {
            if comma {
                out.push(b',');
            }
            out.extend_from_slice(b"\"errors\":[");
            write_error(&error, out);
            out.push(b']');
            comma = true;
        }
        if !decoded.warnings.is_empty() {
            if comma {
                out.push(b',');
            }
            out.extend_from_slice(b"\"warnings\":[");
            for (i, w) in decoded.warnings.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_error(w, out);
            }
            out.push(b']');
        }
        out.push(b'}');
    }

    /// Appends the events as one JSON object (the `data` member's text).
    pub fn write_object(&mut self, events: &[Event<'_>], out: &mut Vec<u8>) {
        let base = self.scratch.len();
        let mut i = 0;
        while i < events.len() {
            self.scratch.push(i as u32);
            i = i.saturating_add(1 + events.get(i).map_or(0, Event::subtree_len));
        }
        if let Some(members) = self.scratch.get_mut(base..) {
            members.sort_unstable_by(|&a, &b| {
                key_cmp(key_of(events, a), key_of(events, b)).then(a.cmp(&b))
            });
        }
        out.push(b'{');
        let end = self.scratch.len();
        let mut first = true;
        for k in base..end {
            let Some(&i) = self.scratch.get(k) else { break };
            let key = key_of(events, i);
            // Equal keys are adjacent and in input order: keep the last.
            if let Some(&next) = self.scratch.get(k + 1)
                && k + 1 < end
                && key_cmp(key_of(events, next), key) == Ordering::Equal
            {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            write_key(key, out);
            out.push(b':');
            self.write_event(events, i as usize, out);
        }
        out.push(b'}');
        self.scratch.truncate(base);
    }

    fn write_array(&mut self, events: &[Event<'_>], out: &mut Vec<u8>) {
        out.push(b'[');
        let mut i = 0;
        while i < events.len() {
            if i > 0 {
                out.push(b',');
            }
            self.write_event(events, i, out);
            i = i.saturating_add(1 + events.get(i).map_or(0, Event::subtree_len));
        }
        out.push(b']');
    }

    fn write_event(&mut self, events: &[Event<'_>], i: usize, out: &mut Vec<u8>) {
        match events.get(i) {
            Some(Event::Field(f)) => write_value(&f.value, out),
            Some(&Event::Open { container, len, .. }) => {
                let start = i + 1;
                let end = start.saturating_add(len as usize).min(events.len());
                let inner = events.get(start..end).unwrap_or_default();
                match container {
                    Container::Object => self.write_object(inner, out),
                    Container::Array => self.write_array(inner, out),
                }
            }
            None => out.extend_from_slice(b"null"),
        }
    }
}

fn key_of(events: &[Event<'_>], i: u32) -> (&'static str, Option<u8>) {
    events.get(i as usize).map_or(("", None), Event::key)
}

/// The `_<channel>` suffix of a key, as bytes.
fn suffix(channel: Option<u8>) -> ([u8; 4], usize) {
    let mut s = [b'_', 0, 0, 0];
    match channel {
        None => (s, 0),
        Some(c) if c >= 100 => {
            s[1] = b'0' + c / 100;
            s[2] = b'0' + c / 10 % 10;
            s[3] = b'0' + c % 10;
            (s, 4)
        }
        Some(c) if c >= 10 => {
            s[1] = b'0' + c / 10;
            s[2] = b'0' + c % 10;
            (s, 3)
        }
        Some(c) => {
            s[1] = b'0' + c;
            (s, 2)
        }
    }
}

/// Compares two keys (`name` + `_<channel>`) bytewise, as their printed text.
pub fn key_cmp(a: (&str, Option<u8>), b: (&str, Option<u8>)) -> Ordering {
    let (sa, la) = suffix(a.1);
    let (sb, lb) = suffix(b.1);
    let sa = sa.get(..la).unwrap_or_default();
    let sb = sb.get(..lb).unwrap_or_default();
    if a.0 == b.0 {
        return sa.cmp(sb);
    }
    let ta = a.0.as_bytes().iter().chain(sa);
    let tb = b.0.as_bytes().iter().chain(sb);
    ta.cmp(tb)
}

fn write_key(key: (&str, Option<u8>), out: &mut Vec<u8>) {
    out.push(b'"');
    escape_into(key.0, out);
    let (s, l) = suffix(key.1);
    out.extend_from_slice(s.get(..l).unwrap_or_default());
    out.push(b'"');
}

/// Appends one error or warning object: `{"kind":..,"message":..,"offset":..}` plus the
/// kind's context members (`"type":119`), keys sorted.
pub fn write_error(error: &DecodeError, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (key, member)) in sorted_members(error).iter().flatten().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        match member {
            Member::Kind => write_str(error.kind.name(), out),
            Member::Message => {
                out.push(b'"');
                let _ = write!(Escaped(out), "{error}");
                out.push(b'"');
            }
            Member::Number(n) => write_u64(*n, out),
        }
    }
    out.push(b'}');
}

/// Appends one value as JSON.
pub fn write_value(value: &Value<'_>, out: &mut Vec<u8>) {
    match *value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::U64(v) => write_u64(v, out),
        Value::I64(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        Value::F64(v) => write_f64(v, out),
        Value::Decimal { digits, scale } => write_decimal(digits, scale, out),
        Value::Str(s) => write_str(s, out),
        Value::Text(s) => write_str(s, out),
        Value::Bytes(b) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.reserve(b.len() * 2 + 2);
            out.push(b'"');
            for &byte in b {
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 15)]);
            }
            out.push(b'"');
        }
    }
}

fn write_u64(v: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends an `f64` as the shortest text that round-trips, in fixed notation, integral values
/// without `.0` (as Rust's `{}` prints it); non-finite values as `null`.
pub fn write_f64(v: f64, out: &mut Vec<u8>) {
    if !v.is_finite() {
        out.extend_from_slice(b"null");
    } else if v == (v as i64) as f64 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
    } else {
        let _ = write!(Escaped(out), "{v}");
    }
}

/// Decimals with at most this many digits are unique among doubles: their own digits are the
/// shortest text that round-trips.
const EXACT_DIGITS_LIMIT: u64 = 1_000_000_000_000_000;

/// Appends `digits / 10^scale` as JSON.
pub fn write_decimal(digits: i64, scale: u8, out: &mut Vec<u8>) {
    let magnitude = digits.unsigned_abs();
    if scale == 0 && magnitude < EXACT_DIGITS_LIMIT {
        out.extend_from_slice(itoa::Buffer::new().format(digits).as_bytes());
        return;
    }
    if magnitude >= EXACT_DIGITS_LIMIT || scale > 22 {
        write_f64(decimal_to_f64(digits, scale), out);
        return;
    }
    // Drop trailing zeros of the fraction.
    let mut m = magnitude;
    let mut s = scale;
    while s > 0 && m % 10 == 0 {
        m /= 10;
        s -= 1;
    }
    if m == 0 {
        out.push(b'0');
        return;
    }
    if digits < 0 {
        out.push(b'-');
    }
    let mut buf = itoa::Buffer::new();
    let text = buf.format(m).as_bytes();
    let s = usize::from(s);
    if s == 0 {
        out.extend_from_slice(text);
    } else if text.len() > s {
        let (int, frac) = text.split_at(text.len() - s);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else {
        out.extend_from_slice(b"0.");
        out.extend(core::iter::repeat_n(b'0', s - text.len()));
        out.extend_from_slice(text);
    }
}

/// Appends a JSON string literal.
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    escape_into(s, out);
    out.push(b'"');
}

fn escape_into(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

/// `fmt::Write` into a JSON string body, escaping as it goes.
struct Escaped<'o>(&'o mut Vec<u8>);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(s, self.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, Field, FieldBuf, Sink};
    use alloc::string::String;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimals_print_their_digits() {
        let d = |digits, scale| text(|o| write_decimal(digits, scale, o));
        assert_eq!(d(272, 1), "27.2");
        assert_eq!(d(250, 1), "25");
        assert_eq!(d(-1, 2), "-0.01");
        assert_eq!(d(0, 3), "0");
        assert_eq!(d(-31236, 2), "-312.36");
        assert_eq!(d(5, 4), "0.0005");
        assert_eq!(d(-8388608, 4), "-838.8608");
        assert_eq!(d(10735, 1), "1073.5");
        assert_eq!(d(i64::MIN, 0), text(|o| write_f64(i64::MIN as f64, o)));
    }

    #[test]
    fn decimals_match_rust_display_of_the_division() {
        for digits in (-70_000i64..70_000).step_by(7) {
            for scale in 0..6u8 {
                let expect = alloc::format!("{}", decimal_to_f64(digits, scale));
                assert_eq!(
                    text(|o| write_decimal(digits, scale, o)),
                    expect,
                    "{digits} {scale}"
                );
            }
        }
        for digits in [i64::from(i32::MAX), u32::MAX.into(), 999_999_999_999_999] {
            for scale in 0..23u8 {
                let expect = alloc::format!("{}", decimal_to_f64(digits, scale));
                assert_eq!(
                    text(|o| write_decimal(digits, scale, o)),
                    expect,
                    "{digits} {scale}"
                );
            }
        }
    }

    #[test]
    fn floats() {
        let f = |v| text(|o| write_f64(v, o));
        assert_eq!(f(255.0), "255");
        assert_eq!(f(27.2), "27.2");
        assert_eq!(f(1e21), "1000000000000000000000");
        assert_eq!(f(1e-7), "0.0000001");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(f64::NAN), "null");
        assert_eq!(f(f64::INFINITY), "null");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            text(|o| write_str("a\"b\\c\n\u{1}é", o)),
            "\"a\\\"b\\\\c\\n\\u0001é\""
        );
        assert_eq!(
            text(|o| write_value(&Value::Bytes(&[0, 0xab, 0x10]), o)),
            "\"00ab10\""
        );
    }

    #[test]
    fn keys_sort_as_text() {
        assert_eq!(
            key_cmp(("temperature", Some(10)), ("temperature", Some(2))),
            Ordering::Less
        );
        assert_eq!(key_cmp(("gps", Some(1)), ("gps_x", None)), Ordering::Less);
        assert_eq!(key_cmp(("a_1", None), ("a", Some(1))), Ordering::Equal);
        assert_eq!(
            key_cmp(("a", Some(255)), ("a", Some(25))),
            Ordering::Greater
        );
        assert_eq!(key_cmp(("ab", None), ("a", Some(0))), Ordering::Greater);
    }

    #[test]
    fn objects_sort_dedup_and_nest() {
        let mut b = FieldBuf::<32>::new();
        let n = |name, ch, v| Field::new(name, ch, Value::U64(v));
        b.field(n("temperature", Some(2), 1)).unwrap();
        b.field(n("temperature", Some(10), 2)).unwrap();
        b.open("gps", Some(1), Container::Object).unwrap();
        b.field(n("latitude", None, 3)).unwrap();
        b.field(n("longitude", None, 4)).unwrap();
        b.field(n("altitude", None, 5)).unwrap();
        b.close().unwrap();
        b.field(n("temperature", Some(2), 9)).unwrap();
        b.open("list", None, Container::Array).unwrap();
        b.field(n("", None, 2)).unwrap();
        b.field(n("", None, 1)).unwrap();
        b.close().unwrap();
        let out = text(|o| JsonWriter::new().write_object(b.events(), o));
        assert_eq!(
            out,
            r#"{"gps_1":{"altitude":5,"latitude":3,"longitude":4},"list":[2,1],"temperature_10":2,"temperature_2":9}"#
        );
    }

    #[test]
    fn result_shape() {
        let events = [Event::Field(Field::new(
            "t",
            Some(3),
            Value::Decimal {
                digits: 272,
                scale: 1,
            },
        ))];
        let warnings = [DecodeError::new(
            2,
            ErrorKind::UnknownPair {
                channel: 3,
                ty: 0x99,
            },
        )];
        let d = Decoded {
            data: Some(&events),
            error: Some(DecodeError::new(4, ErrorKind::UnknownType(0x77))),
            warnings: &warnings,
        };
        assert_eq!(
            text(|o| d.write_json(o)),
            concat!(
                r#"{"data":{"t_3":27.2},"errors":[{"kind":"unknown_type","message":"unknown type 0x77 at byte 4","offset":4,"type":119}],"#,
                r#""warnings":[{"channel":3,"kind":"unknown_pair","message":"unknown channel 0x03 type 0x99 at byte 2","offset":2,"type":153}]}"#
            )
        );
        let r = Decoded::rejected(DecodeError::new(0, ErrorKind::UnexpectedEof));
        assert_eq!(
            text(|o| r.write_json(o)),
            r#"{"errors":[{"kind":"unexpected_eof","message":"unexpected end of payload at byte 0","offset":0}]}"#
        );
        let empty = Decoded {
            data: Some(&[]),
            error: None,
            warnings: &[],
        };
        assert_eq!(text(|o| empty.write_json(o)), r#"{"data":{}}"#);
    }
}
