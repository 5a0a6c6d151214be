//! The result of decoding one frame.

use crate::dynamic::{Severity, StoredNote};
use crate::{DecodeError, Event};

/// What decoding one frame produced, in the LoRa Alliance codec API (TS013) shape:
/// `{"data": {...}, "errors": [...], "warnings": [...]}`.
///
/// It borrows the events and warnings from the sink that collected them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decoded<'s, 'a> {
    /// The decoded fields as a stream of events; `None` when the frame was rejected as a whole.
    pub data: Option<&'s [Event<'a>]>,
    /// The error that stopped decoding, if any.
    pub error: Option<DecodeError>,
    /// Warnings: what was skipped or doubted.
    pub warnings: &'s [DecodeError],
    /// The sink's text area: run-time keys, strings and messages that [`Event::Dyn`] events
    /// and `notes` refer to (empty for native codecs).
    pub text: &'s [u8],
    /// Errors and warnings with run-time text ([`crate::dynamic::Note`]). Error notes, when
    /// there are any, are the result's `errors` (the `error` then only says that the frame
    /// failed); warning notes follow `warnings`.
    pub notes: &'s [StoredNote],
    /// The normalized payload's JSON text in `text` (TS013 `normalizeUplink`), if any.
    pub normalized: Option<crate::dynamic::Span>,
}

impl<'s, 'a> Decoded<'s, 'a> {
    /// A frame rejected as a whole: no data, one error.
    pub const fn rejected(error: DecodeError) -> Self {
        Decoded {
            data: None,
            error: Some(error),
            warnings: &[],
            text: &[],
            notes: &[],
            normalized: None,
        }
    }

    /// Whether decoding met an error (warnings do not count).
    pub fn has_errors(&self) -> bool {
        self.error.is_some() || self.notes.iter().any(|n| n.severity == Severity::Error)
    }

    /// Whether decoding met a warning.
    pub fn has_warnings(&self) -> bool {
        !self.warnings.is_empty() || self.notes.iter().any(|n| n.severity == Severity::Warning)
    }

    /// Writes the result as compact JSON into `out` (appending). Allocates only to grow `out`
    /// and for objects of more than a few dozen members; see [`crate::json::JsonWriter`] to
    /// reuse that scratch space too.
    #[cfg(feature = "alloc")]
    pub fn write_json(&self, out: &mut alloc::vec::Vec<u8>) {
        crate::json::JsonWriter::new().write_result(self, out);
    }
}
