//! The result of decoding one frame.

use crate::dynamic::{Severity, StoredNote};
use crate::{Container, DecodeError, Event, Members, Node};

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

    /// The decoded value under `path`: a key as the JSON prints it (`temperature_3`), and for
    /// nested values the keys of objects and indices of arrays joined by dots
    /// (`gps_1.latitude`, `previous_fixes.0.latitude`). Of members with the same key the last
    /// counts, as in the JSON. `None` when there is no such value or the frame was rejected.
    /// A borrowed view: allocates nothing.
    ///
    /// ```
    /// use lorafield_core::{Container, Field, FieldBuf, Node, Sink, Uplink, Value};
    ///
    /// // What a GPS codec pushes: a temperature, then an object.
    /// let mut buf = FieldBuf::<8>::new();
    /// buf.field(Field::new("temperature", Some(3), Value::Decimal { digits: 272, scale: 1 }))?;
    /// buf.open("gps", Some(1), Container::Object)?;
    /// buf.field(Field::new("latitude", None, Value::Decimal { digits: 523519, scale: 4 }))?;
    /// buf.close()?;
    /// let decoded = buf.result();
    ///
    /// assert_eq!(decoded.get("temperature_3").and_then(|n| n.as_f64()), Some(27.2));
    /// assert_eq!(decoded.get("gps_1.latitude").and_then(|n| n.as_f64()), Some(52.3519));
    /// assert!(matches!(decoded.get("gps_1"), Some(Node::Object(m)) if m.len() == 1));
    /// assert_eq!(decoded.get("temperature_4"), None);
    /// # Ok::<(), lorafield_core::ErrorKind>(())
    /// ```
    pub fn get(&self, path: &str) -> Option<Node<'s, 'a>> {
        self.members()?.get(path)
    }

    /// The members of `data` (`None` when the frame was rejected), to walk or iterate.
    pub fn members(&self) -> Option<Members<'s, 'a>> {
        Some(Members::with_text(self.data?, Container::Object, self.text))
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
