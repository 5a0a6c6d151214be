//! [`JsonWriter::decode`]: a frame decoded through the sink, and the result's tail (errors,
//! warnings, the closing brace).

use alloc::vec::Vec;
use core::ops::Range;

use super::{DATA, INITIAL, JsonSink, Level, Notes, keys::new_key_cache};
use crate::dynamic::Severity;
use crate::json::JsonWriter;
use crate::json::value::write_problems;
use crate::{Codec, DecodeError, Uplink};

/// What [`JsonWriter::decode`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonOutcome {
    /// Whether the result has errors (warnings do not count).
    pub has_errors: bool,
    /// Whether the result has warnings.
    pub has_warnings: bool,
    /// Where the `data` object's text is in the output; `None` when the frame was rejected.
    pub data: Option<Range<usize>>,
    /// Where the normalized payload's text is in the output (TS013 `normalizeUplink`), if the
    /// codec gave one.
    pub normalized: Option<Range<usize>>,
}

impl JsonWriter {
    /// Decodes `uplink` with `codec`, rendering the result straight into `out` (appending):
    /// `{"data":{...},"errors":[...],"warnings":[...]}`, as [`JsonWriter::write_result`] would
    /// print it after decoding into a [`crate::FieldBuf`], without storing the fields first.
    /// Steady state allocates nothing.
    ///
    /// Generic over the codec so that a concrete one is called directly (and inlined); a
    /// `&dyn Codec` works too.
    #[inline]
    pub fn decode<C: Codec + ?Sized>(
        &mut self,
        codec: &C,
        uplink: Uplink<'_>,
        out: &mut Vec<u8>,
    ) -> JsonOutcome {
        if self.buf.len() < INITIAL {
            self.buf.resize(INITIAL, 0);
        }
        self.frags.clear();
        self.levels.clear();
        self.warnings.clear();
        self.notes.clear();
        self.text.clear();
        self.normalized = None;
        let mut sink = JsonSink {
            buf: &mut self.buf,
            frags: &mut self.frags,
            spare: &mut self.spare,
            pos: DATA.len(),
            levels: &mut self.levels,
            top: Level::top(),
            warnings: &mut self.warnings,
            keys: self.keys.get_or_insert_with(new_key_cache),
            ranks: &mut self.ranks,
            notes: Notes {
                notes: &mut self.notes,
                text: &mut self.text,
                normalized: &mut self.normalized,
            },
            left: self.max_events,
        };
        let result = codec.decode_json(uplink, &mut sink);
        let error = result.err();
        let rejected = error.is_some_and(|e| e.kind.rejects_frame() || !codec.keeps_partial());
        if rejected {
            out.push(b'{');
            let normalized = self.write_tail(out, false, error);
            return JsonOutcome {
                has_errors: true,
                has_warnings: self.has_warnings(),
                data: None,
                normalized,
            };
        }
        if error.is_some() {
            sink.abandon_open();
        }
        // Without errors or warnings the result ends with the data: one copy for all of it.
        let whole = error.is_none()
            && sink.warnings.is_empty()
            && sink.notes.notes.is_empty()
            && sink.notes.normalized.is_none();
        let data = sink.finish(out, whole);
        if whole {
            // Nothing else to write or to look for.
            return JsonOutcome {
                has_errors: false,
                has_warnings: false,
                data: Some(data),
                normalized: None,
            };
        }
        let normalized = self.write_tail(out, true, error);
        JsonOutcome {
            has_errors: error.is_some() || self.notes.iter().any(|n| n.severity == Severity::Error),
            has_warnings: self.has_warnings(),
            data: Some(data),
            normalized,
        }
    }

    fn has_warnings(&self) -> bool {
        !self.warnings.is_empty() || self.notes.iter().any(|n| n.severity == Severity::Warning)
    }

    /// Appends the errors, the normalized payload, the warnings and the closing brace (see
    /// [`write_tail`]); where the normalized payload landed.
    #[inline]
    fn write_tail(
        &self,
        out: &mut Vec<u8>,
        comma: bool,
        error: Option<DecodeError>,
    ) -> Option<Range<usize>> {
        if self.notes.is_empty() && self.normalized.is_none() {
            write_tail(out, comma, error, &self.warnings);
            return None;
        }
        let normalized = self.normalized.clone().and_then(|r| self.text.get(r));
        write_problems(
            out,
            comma,
            error,
            &self.warnings,
            &self.notes,
            &self.text,
            normalized,
        )
    }

    /// The same for a frame rejected before any codec ran (port 0): `{"errors":[...]}`.
    pub fn reject(&mut self, error: DecodeError, out: &mut Vec<u8>) -> JsonOutcome {
        out.push(b'{');
        write_tail(out, false, Some(error), &[]);
        JsonOutcome {
            has_errors: true,
            has_warnings: false,
            data: None,
            normalized: None,
        }
    }
}

/// Appends `,"errors":[...]` and `,"warnings":[...]` (without the leading comma when nothing
/// came before) and the closing brace.
#[inline]
fn write_tail(
    out: &mut Vec<u8>,
    comma: bool,
    error: Option<DecodeError>,
    warnings: &[DecodeError],
) {
    if error.is_none() && warnings.is_empty() {
        out.push(b'}');
        return;
    }
    write_tail_slow(out, comma, error, warnings);
}

#[inline(never)]
fn write_tail_slow(
    out: &mut Vec<u8>,
    comma: bool,
    error: Option<DecodeError>,
    warnings: &[DecodeError],
) {
    // The result's problems with no notes and nothing normalized.
    write_problems(out, comma, error, warnings, &[], &[], None);
}
