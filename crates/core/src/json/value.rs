//! Values, run-time values, and the error, warning and note objects: each written into a
//! buffer with room checked once, or appended to a `Vec` on its own.

use alloc::vec::Vec;
use core::fmt::Write as _;

use super::num::{put_decimal, put_f64, put_js_number, put_u64};
use super::text::{
    self, Cursor, SLACK, bound_of, put_byte, put_bytes, put_escaped, put_hex, put_str,
};
use crate::dynamic::{DynValue, Note, Severity, StoredNote};
use crate::error::{Member as ErrorMember, sorted_members, sorted_note_members};
use crate::{DecodeError, Value};

/// The most an error object takes (its message is a line of text).
const ERROR_BOUND: usize = 512;

/// Writes one value (room: [`bound_of`] it).
#[inline(always)]
pub(super) fn put_value(buf: &mut [u8], pos: usize, value: &Value<'_>) -> usize {
    match *value {
        Value::Decimal { digits, scale } => put_decimal(buf, pos, digits, scale),
        Value::Null => put_bytes(buf, pos, b"null"),
        Value::Bool(true) => put_bytes(buf, pos, b"true"),
        Value::Bool(false) => put_bytes(buf, pos, b"false"),
        Value::U64(v) => put_u64(buf, pos, v),
        Value::I64(v) => put_decimal(buf, pos, v, 0),
        Value::F64(v) => put_f64(buf, pos, v),
        Value::Str(s) => put_str(buf, pos, s),
        Value::Text(s) => put_str(buf, pos, s),
        Value::Bytes(b) => put_hex(buf, pos, b),
        Value::DecimalText(v) => {
            let pos = put_byte(buf, pos, b'"');
            let pos = put_u64(buf, pos, v);
            put_byte(buf, pos, b'"')
        }
        Value::Version { major, minor } => {
            let pos = put_bytes(buf, pos, b"\"v");
            let pos = put_u64(buf, pos, major.into());
            let pos = put_byte(buf, pos, b'.');
            let pos = put_u64(buf, pos, minor.into());
            put_byte(buf, pos, b'"')
        }
        Value::Suffixed { value, suffix } => {
            let pos = put_byte(buf, pos, b'"');
            let pos = put_decimal(buf, pos, value, 0);
            let pos = put_escaped(buf, pos, suffix);
            put_byte(buf, pos, b'"')
        }
    }
}

/// The most a run-time value takes as JSON text.
#[inline]
pub(super) fn dyn_bound(value: &DynValue<'_>) -> usize {
    match value {
        DynValue::Null | DynValue::Bool(_) => 5,
        DynValue::Number(_) => text::NUMBER_BOUND,
        DynValue::Text(s) => 2 + 6 * s.len(),
    }
}

/// Writes `"<key>":` for a run-time key (escaped).
pub(super) fn put_dyn_key(buf: &mut [u8], pos: usize, key: &str) -> usize {
    let pos = put_byte(buf, pos, b'"');
    let pos = put_escaped(buf, pos, key);
    put_bytes(buf, pos, b"\":")
}

/// Writes a run-time value (room: [`dyn_bound`] it).
pub(super) fn put_dyn_value(buf: &mut [u8], pos: usize, value: &DynValue<'_>) -> usize {
    match *value {
        DynValue::Null => put_bytes(buf, pos, b"null"),
        DynValue::Bool(true) => put_bytes(buf, pos, b"true"),
        DynValue::Bool(false) => put_bytes(buf, pos, b"false"),
        DynValue::Number(n) => put_js_number(buf, pos, n),
        DynValue::Text(s) => put_str(buf, pos, s),
    }
}

/// Appends `,"errors":[...]` and `,"warnings":[...]` (without the leading comma when nothing
/// came before) and the closing brace: the error notes as the errors when there are any, else
/// the codec's error; the warnings, then the warning notes.
///
/// `normalized` (JSON text) goes between the errors and the warnings; where its text landed in
/// `out` is returned.
pub(super) fn write_problems(
    out: &mut Vec<u8>,
    comma: bool,
    error: Option<DecodeError>,
    warnings: &[DecodeError],
    notes: &[StoredNote],
    text: &[u8],
    normalized: Option<&[u8]>,
) -> Option<core::ops::Range<usize>> {
    let is = |s: Severity| move |n: &&StoredNote| n.severity == s;
    let error_notes = notes.iter().filter(is(Severity::Error)).count();
    let mut comma = comma;
    if error_notes > 0 || error.is_some() {
        out.extend_from_slice(if comma {
            b",\"errors\":["
        } else {
            b"\"errors\":["
        });
        if error_notes > 0 {
            for (i, n) in notes.iter().filter(is(Severity::Error)).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_note(&n.resolve(text), out);
            }
        } else if let Some(error) = error {
            write_error(&error, out);
        }
        out.push(b']');
        comma = true;
    }
    let mut normalized_at = None;
    if let Some(n) = normalized {
        out.extend_from_slice(if comma {
            b",\"normalized\":"
        } else {
            b"\"normalized\":"
        });
        let at = out.len();
        out.extend_from_slice(n);
        normalized_at = Some(at..out.len());
        comma = true;
    }
    let warning_notes = notes.iter().filter(is(Severity::Warning));
    if !warnings.is_empty() || notes.len() > error_notes {
        out.extend_from_slice(if comma {
            b",\"warnings\":["
        } else {
            b"\"warnings\":["
        });
        let mut first = true;
        for w in warnings {
            if !first {
                out.push(b',');
            }
            write_error(w, out);
            first = false;
        }
        for n in warning_notes {
            if !first {
                out.push(b',');
            }
            write_note(&n.resolve(text), out);
            first = false;
        }
        out.push(b']');
    }
    out.push(b'}');
    normalized_at
}

/// Appends one note as a JSON object: `{"kind":..,"line":..,"message":..}` plus the kind's
/// context members (`"limit":"fuel"`), keys sorted.
pub fn write_note(note: &Note<'_>, out: &mut Vec<u8>) {
    let members = sorted_note_members(note);
    append(out, 64 + 6 * note.message.len() + 64, |buf, pos| {
        let mut pos = put_byte(buf, pos, b'{');
        for (i, (key, member)) in members.iter().flatten().enumerate() {
            if i > 0 {
                pos = put_byte(buf, pos, b',');
            }
            pos = put_byte(buf, pos, b'"');
            pos = put_bytes(buf, pos, key.as_bytes());
            pos = put_bytes(buf, pos, b"\":");
            pos = match *member {
                ErrorMember::Kind => put_str(buf, pos, note.kind.name()),
                ErrorMember::Message => put_str(buf, pos, note.message),
                ErrorMember::Number(n) => put_u64(buf, pos, n),
                ErrorMember::Name(s) => put_str(buf, pos, s),
            };
        }
        put_byte(buf, pos, b'}')
    });
}

/// Appends a run-time value as JSON (numbers as ECMAScript prints them).
pub fn write_dyn_value(value: &DynValue<'_>, out: &mut Vec<u8>) {
    append(out, dyn_bound(value), |b, p| put_dyn_value(b, p, value));
}

/// Writes one error or warning object (room: [`ERROR_BOUND`]).
fn put_error(buf: &mut [u8], pos: usize, error: &DecodeError) -> usize {
    let mut pos = put_byte(buf, pos, b'{');
    for (i, (key, member)) in sorted_members(error).iter().flatten().enumerate() {
        if i > 0 {
            pos = put_byte(buf, pos, b',');
        }
        pos = put_byte(buf, pos, b'"');
        pos = put_bytes(buf, pos, key.as_bytes());
        pos = put_bytes(buf, pos, b"\":");
        pos = match member {
            ErrorMember::Kind => put_str(buf, pos, error.kind.name()),
            ErrorMember::Message => {
                let pos = put_byte(buf, pos, b'"');
                let end = (pos + ERROR_BOUND - 64).min(buf.len());
                let mut cursor = Cursor {
                    buf: buf.get_mut(..end).unwrap_or_default(),
                    pos,
                    escape: true,
                };
                let _ = write!(cursor, "{error}");
                let pos = cursor.pos;
                put_byte(buf, pos, b'"')
            }
            ErrorMember::Number(n) => put_u64(buf, pos, *n),
            ErrorMember::Name(s) => put_str(buf, pos, s),
        };
    }
    put_byte(buf, pos, b'}')
}

/// Appends text of at most `bound` bytes written by `put` to `out`.
fn append(out: &mut Vec<u8>, bound: usize, put: impl FnOnce(&mut [u8], usize) -> usize) {
    let at = out.len();
    out.resize(at + bound + SLACK, 0);
    let end = put(out.get_mut(at..).unwrap_or_default(), 0);
    out.truncate(at + end);
}

/// Appends one error or warning object: `{"kind":..,"message":..,"offset":..}` plus the
/// kind's context members (`"type":119`), keys sorted.
pub fn write_error(error: &DecodeError, out: &mut Vec<u8>) {
    append(out, ERROR_BOUND, |b, p| put_error(b, p, error));
}

/// Appends one value as JSON.
pub fn write_value(value: &Value<'_>, out: &mut Vec<u8>) {
    append(out, bound_of(value), |b, p| put_value(b, p, value));
}

/// Appends an `f64` as the shortest text that round-trips, in fixed notation, integral values
/// without `.0` (as Rust's `{}` prints it); non-finite values as `null`.
pub fn write_f64(v: f64, out: &mut Vec<u8>) {
    write_value(&Value::F64(v), out);
}

/// Appends `digits / 10^scale` as JSON: the digits with a point inserted and the fraction's
/// trailing zeros dropped (`272, 1` is `27.2`; `-1, 2` is `-0.01`; `250, 1` is `25`).
pub fn write_decimal(digits: i64, scale: u8, out: &mut Vec<u8>) {
    write_value(&Value::Decimal { digits, scale }, out);
}

/// Appends a JSON string literal.
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    write_value(&Value::Text(s), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::text;

    #[test]
    fn formatted_values() {
        let t = |v: Value<'_>| text(|o| write_value(&v, o));
        assert_eq!(
            t(Value::DecimalText(357518080211964)),
            r#""357518080211964""#
        );
        assert_eq!(t(Value::DecimalText(u64::MAX)), r#""18446744073709551615""#);
        assert_eq!(
            t(Value::Version {
                major: 1,
                minor: 10
            }),
            r#""v1.10""#
        );
        assert_eq!(
            t(Value::Suffixed {
                value: -120,
                suffix: "s"
            }),
            r#""-120s""#
        );
        assert_eq!(
            t(Value::Suffixed {
                value: 3,
                suffix: "\""
            }),
            r#""3\"""#
        );
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
}
