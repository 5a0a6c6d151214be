//! Run-time output: keys, text and messages that a codec makes while it runs (a script's), not
//! names from its tables.
//!
//! Native codecs push [`crate::Field`]s whose names are `'static` and whose values borrow the
//! payload; nothing is copied. A run-time codec's keys and strings live only as long as the
//! call that made them, so it pushes them through [`crate::Sink::dyn_field`],
//! [`crate::Sink::dyn_open`] and [`crate::Sink::note`], and the sink copies the text: the JSON
//! writer renders it at once, a [`crate::FieldBuf`] keeps it in its text area and refers to it
//! by [`Span`]. The native path is untouched by any of this.
//!
//! A run-time codec pushes each object's members in bytewise key order, each key once (a
//! script's object has unique keys; the codec sorts them): sinks keep run-time members in the
//! order they come and do not sort or deduplicate them.

use crate::ErrorKind;

/// A run-time value: what a script's result holds at a leaf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DynValue<'t> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, printed as ECMAScript's `Number.prototype.toString` prints it (`1e+21`,
    /// `1e-7`, `0.000001`, `-0` as `0`); not finite prints `null`.
    Number(f64),
    /// A string.
    Text(&'t str),
}

/// Whether a note is an error or a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The frame did not decode (its `data` is dropped).
    Error,
    /// Something the codec doubts; the data stays.
    Warning,
}

/// An error or warning with run-time text: a script's exception, a codec's own message.
///
/// It prints as `{"kind":..,"line":..,"message":..}` (keys sorted, `line` when known, the
/// kind's context members such as `"limit":"fuel"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note<'t> {
    /// Error or warning.
    pub severity: Severity,
    /// What kind of problem (`codec_error`, `script_error`, ...).
    pub kind: ErrorKind,
    /// The message, as the codec or the engine gave it.
    pub message: &'t str,
    /// The script line it points at, if known.
    pub line: Option<u32>,
}

/// A stretch of a sink's text area: where a run-time key or string is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

impl Span {
    /// The text this span covers in `text` (a [`crate::Decoded`]'s `text`); empty if it does
    /// not lie there.
    pub fn resolve<'t>(&self, text: &'t [u8]) -> &'t str {
        let start = self.start as usize;
        text.get(start..start + self.len as usize)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

/// A run-time value as a sink stores it: text by [`Span`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stored {
    /// `null`.
    Null,
    /// A flag.
    Bool(bool),
    /// A number (see [`DynValue::Number`]).
    Number(f64),
    /// A string in the text area.
    Text(Span),
}

impl Stored {
    /// The value, its text taken from `text` (a [`crate::Decoded`]'s `text`).
    pub fn resolve<'t>(&self, text: &'t [u8]) -> DynValue<'t> {
        match *self {
            Stored::Null => DynValue::Null,
            Stored::Bool(b) => DynValue::Bool(b),
            Stored::Number(n) => DynValue::Number(n),
            Stored::Text(span) => DynValue::Text(span.resolve(text)),
        }
    }
}

/// A [`Note`] as a sink stores it: its message by [`Span`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredNote {
    /// Error or warning.
    pub severity: Severity,
    /// What kind of problem.
    pub kind: ErrorKind,
    /// The message in the text area.
    pub message: Span,
    /// The script line, if known.
    pub line: Option<u32>,
}

impl StoredNote {
    /// The note, its message taken from `text`.
    pub fn resolve<'t>(&self, text: &'t [u8]) -> Note<'t> {
        Note {
            severity: self.severity,
            kind: self.kind,
            message: self.message.resolve(text),
            line: self.line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_resolve_or_are_empty() {
        let text = b"temperaturehello";
        assert_eq!(Span { start: 0, len: 11 }.resolve(text), "temperature");
        assert_eq!(Span { start: 11, len: 5 }.resolve(text), "hello");
        assert_eq!(Span { start: 12, len: 5 }.resolve(text), "");
        let v = Stored::Text(Span { start: 11, len: 5 });
        assert_eq!(v.resolve(text), DynValue::Text("hello"));
        assert_eq!(Stored::Number(1.5).resolve(text), DynValue::Number(1.5));
    }
}
