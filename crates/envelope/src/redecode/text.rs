//! Writing records out: copying spans (onto one line), comparing JSON texts.

use std::borrow::Cow;
use std::ops::Range;

use lorafield::core::json::write_str;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Appends `record[range]`; a record spread over several lines (a pretty-printed page) is
/// put on one: line breaks and the indentation after them are dropped (JSON whitespace only:
/// a string cannot hold a raw line break).
pub(super) fn copy(record: &str, range: Range<usize>, out: &mut Vec<u8>) {
    let part = &record.as_bytes()[range];
    if memchr::memchr2(b'\n', b'\r', part).is_none() {
        out.extend_from_slice(part);
        return;
    }
    copy_lines(part, out);
}

/// [`copy`] for text known to be on one line.
pub(super) fn copy_line(record: &str, range: Range<usize>, out: &mut Vec<u8>) {
    out.extend_from_slice(&record.as_bytes()[range]);
}

pub(super) fn copy_lines(part: &[u8], out: &mut Vec<u8>) {
    let mut skip_indent = false;
    for &b in part {
        match b {
            b'\n' | b'\r' => skip_indent = true,
            b' ' | b'\t' if skip_indent => {}
            _ => {
                skip_indent = false;
                out.push(b);
            }
        }
    }
}

/// Appends `record`, put on one line as [`Redecoder::redecode`](super::Redecoder::redecode) does.
pub fn write_compact(record: &str, out: &mut Vec<u8>) {
    copy(record, 0..record.len(), out);
}

/// Appends the JSON text `json` compact: without the whitespace between its tokens (strings
/// are copied as they are), as lorafield prints its own JSON.
pub fn write_minified(json: &str, out: &mut Vec<u8>) {
    let mut in_string = false;
    let mut escaped = false;
    for &b in json.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        } else if b == b'"' {
            in_string = true;
        }
        out.push(b);
    }
}

/// What is to be written for text that is not a JSON object.
pub(crate) fn write_unreadable(record: &str, reason: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"lorafield\":{\"errors\":[{\"kind\":\"unreadable\",\"message\":");
    write_str(reason, out);
    out.extend_from_slice(b"}]},\"unreadable\":");
    write_str(record, out);
    out.push(b'}');
}

/// The start of the reason given for a record whose bytes are not UTF-8; its report holds the
/// text made valid (each bad sequence a U+FFFD), which is no longer what was read.
pub(crate) const NOT_UTF8: &str = "not UTF-8 text";

/// Whether `record` is a report of [`write_unreadable`] (an object of `lorafield` and a string
/// `unreadable`, nothing else) that still stands; if so, why, in the report's own words when it
/// has them. A report stands when its text is still not a JSON object, or when it says the
/// bytes were not UTF-8 ([`NOT_UTF8`]): the text made valid may read as a JSON object (even an
/// envelope) while the record read was not one.
pub(super) fn unreadable_report(record: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Report {
        lorafield: Stamp,
        unreadable: String,
    }
    #[derive(serde::Deserialize)]
    struct Stamp {
        #[serde(default)]
        errors: Vec<Error>,
    }
    #[derive(serde::Deserialize)]
    struct Error {
        kind: String,
        message: String,
    }
    let report: Report = serde_json::from_str(record).ok()?;
    let said = report
        .lorafield
        .errors
        .into_iter()
        .find(|e| e.kind == "unreadable")
        .map(|e| e.message);
    if said.as_deref().is_some_and(|m| m.starts_with(NOT_UTF8)) {
        return said;
    }
    let e = crate::scan::scan(&report.unreadable).err()?;
    Some(said.unwrap_or_else(|| format!("not a JSON object: {e}")))
}

/// Whether two JSON texts say the same: equal bytes, or equal values (whitespace and member
/// order aside).
pub(super) fn same_json(a: &[u8], b: &[u8]) -> bool {
    a == b
        || matches!(
            (
                serde_json::from_slice::<serde_json::Value>(a),
                serde_json::from_slice::<serde_json::Value>(b),
            ),
            (Ok(x), Ok(y)) if x == y
        )
}

/// The `errors` and `warnings` arrays of a TS013 result, as ranges of it.
#[derive(Debug, Default)]
pub(super) struct Tail {
    pub(super) errors: Option<Range<usize>>,
    pub(super) warnings: Option<Range<usize>>,
}

impl Tail {
    pub(super) fn read(result: &[u8], errors: bool, warnings: bool) -> Tail {
        if !errors && !warnings {
            return Tail::default();
        }
        #[derive(Deserialize)]
        struct Result<'a> {
            #[serde(borrow)]
            errors: Option<&'a RawValue>,
            #[serde(borrow)]
            warnings: Option<&'a RawValue>,
        }
        let Ok(text) = std::str::from_utf8(result) else {
            return Tail::default();
        };
        let Ok(r) = serde_json::from_str::<Result<'_>>(text) else {
            return Tail::default();
        };
        let range = |v: &RawValue| {
            let s = v.get();
            let start = s.as_ptr().addr() - text.as_ptr().addr();
            start..start + s.len()
        };
        Tail {
            errors: r.errors.map(range),
            warnings: r.warnings.map(range),
        }
    }

    pub(super) fn first_error_message(&self, result: &[u8]) -> String {
        let Some(e) = &self.errors else {
            return "decode failed".into();
        };
        serde_json::from_slice::<Vec<Message<'_>>>(&result[e.clone()])
            .ok()
            .and_then(|v| v.into_iter().next())
            .map_or_else(|| "decode failed".into(), |m| m.message.into_owned())
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Message<'a> {
    #[serde(borrow)]
    pub(super) message: Cow<'a, str>,
}
