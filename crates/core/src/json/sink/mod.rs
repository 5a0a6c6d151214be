//! The JSON writer as a sink: fields are rendered as they arrive, and only the order of the
//! rendered members is fixed afterwards.
//!
//! Every member is rendered with a leading comma (`,"temperature_3":27.2`) and recorded as a
//! fragment: its key's rank (a number ordered as the keys, `rank.rs`) and where it starts in
//! the buffer (it ends where the next member of its container starts, or where the container
//! ends). When a container closes, its members are already the text if they came in key order (the first comma becomes `{` or
//! `[`); otherwise the fragments are copied out in key order, the last of a repeated key kept.
//! Nothing is stored per field but its text, which is what makes this the fast path to JSON.
//!
//! The key cache is in `keys.rs`, [`JsonWriter::decode`](crate::json::JsonWriter::decode) and the
//! result's tail in `decode.rs`. Measured and not kept (instructions a frame, LPP decode + JSON
//! through the registry): the sorted top-level members appended to the output one by one
//! (`Vec::extend_from_slice`, a `memcpy` call each) instead of assembled in one place (then the
//! spare buffer, appended at once; now zeroed room at the end of the output): 1,703.5 to
//! 1,716.5. The spare buffer is left for nested objects put in order (`reorder`).

use alloc::vec::Vec;
use core::ops::Range;

use super::order::{Frag, Text, sort_order};
use super::rank::Ranks;
use super::text::{SLACK, bound_of, put_byte};
use super::value::{dyn_bound, put_dyn_key, put_dyn_value, put_value};
use crate::dynamic::{DynValue, Note, Span, StoredNote};
use crate::fieldbuf::{MAX_DEPTH, MAX_NOTES, MAX_WARNINGS};
use crate::{Container, DecodeError, ErrorKind, Field, Sink};

/// The buffer a writer starts with; it grows (once) for larger results.
const INITIAL: usize = 4096;

/// What a result starts with. The buffer keeps room for it in front of the top-level members,
/// so that a whole result is appended to the output in one copy.
const DATA: &[u8; 8] = b"{\"data\":";

/// Room kept past the text: [`copy_out`] reads 32 bytes at a time.
const TAIL: usize = 32;

mod decode;
mod keys;
#[cfg(test)]
mod tests;

pub use decode::JsonOutcome;
pub(super) use keys::KeyCache;

/// An open container.
#[derive(Debug, Clone, Copy)]
pub(super) struct Level {
    container: Container,
    /// Where its members' text begins in the buffer.
    body: usize,
    /// Its first fragment in the fragment list (objects).
    first: usize,
    /// Whether its members came in strictly increasing key order so far.
    ascending: bool,
    /// The fragment of the member it is the value of, in its parent object.
    member: Option<usize>,
    /// Where its member's text begins in its parent (at the leading comma).
    begin: usize,
    /// Whether run-time members came into it: they are kept in the order they came.
    dynamic: bool,
}

impl Level {
    const fn top() -> Level {
        Level {
            container: Container::Object,
            body: DATA.len(),
            first: 0,
            ascending: true,
            member: None,
            begin: DATA.len(),
            dynamic: false,
        }
    }
}

/// Run-time notes and their text, kept by the writer from frame to frame.
#[derive(Debug)]
struct Notes<'w> {
    notes: &'w mut Vec<StoredNote>,
    text: &'w mut Vec<u8>,
    /// The normalized payload's text in `text`.
    normalized: &'w mut Option<Range<usize>>,
}

/// A sink that renders JSON as the codec pushes fields: see
/// [`JsonWriter::decode`](crate::json::JsonWriter::decode).
#[derive(Debug)]
pub struct JsonSink<'w> {
    buf: &'w mut Vec<u8>,
    frags: &'w mut Vec<Frag>,
    spare: &'w mut Vec<u8>,
    pos: usize,
    /// The open containers enclosing `top`, the top-level object first (kept by the writer
    /// from frame to frame).
    levels: &'w mut Vec<Level>,
    /// The innermost open container (the top-level object when none is), held here rather
    /// than on `levels` so that a member reads its state without going through the `Vec`.
    top: Level,
    warnings: &'w mut Vec<DecodeError>,
    /// A fixed number of sets: a set's index needs no bounds check.
    keys: &'w mut KeyCache,
    /// Every key rendered so far, with its rank.
    ranks: &'w mut Ranks,
    notes: Notes<'w>,
    /// Events (fields and openings) that may still come before `sink_full`.
    left: usize,
}

impl JsonSink<'_> {
    /// Makes room for `need` more bytes (plus slack) in the buffer.
    #[inline(always)]
    fn reserve(&mut self, need: usize) {
        let want = self.pos + need + SLACK.max(TAIL);
        if want > self.buf.len() {
            self.grow(want);
        }
    }

    #[cold]
    fn grow(&mut self, want: usize) {
        let len = want.max(2 * self.buf.len());
        self.buf.resize(len, 0);
    }

    #[inline(always)]
    fn level(&self) -> Level {
        self.top
    }

    /// How many containers are open below the top-level object.
    #[inline(always)]
    fn depth(&self) -> usize {
        self.levels.len()
    }

    /// Records a member of the current object rendered from `start`.
    #[inline(always)]
    fn record(&mut self, rank: u32, start: usize) -> usize {
        // A repeated key counts as out of order: the sort keeps the last.
        let level = &mut self.top;
        if level.ascending
            && self.frags.len() > level.first
            && let Some(last) = self.frags.last()
            && last.rank() >= rank
        {
            level.ascending = false;
        }
        self.frags.push(Frag::new(rank, start));
        self.frags.len() - 1
    }

    /// Closes the container at the top of the stack, rewriting its text in place.
    fn close_level(&mut self) {
        let level = self.level();
        let body = level.body;
        match level.container {
            Container::Array => {
                self.reserve(2);
                if self.pos == body {
                    self.pos = put_byte(self.buf, self.pos, b'[');
                } else if let Some(first) = self.buf.get_mut(body) {
                    *first = b'[';
                }
                self.pos = put_byte(self.buf, self.pos, b']');
            }
            Container::Object => {
                self.reserve(2);
                if self.pos == body {
                    self.pos = put_byte(self.buf, self.pos, b'{');
                } else if level.ascending || level.dynamic {
                    if let Some(first) = self.buf.get_mut(body) {
                        *first = b'{';
                    }
                } else {
                    self.reorder(level);
                }
                self.pos = put_byte(self.buf, self.pos, b'}');
                self.frags.truncate(level.first);
            }
        }
    }

    /// Rewrites an object's members in key order, keeping the last of equal keys.
    fn reorder(&mut self, level: Level) {
        let body = level.body;
        let end = self.pos;
        let frags = self.frags.get_mut(level.first..).unwrap_or_default();
        let mut small = [0u8; 16];
        let sorted = sort_order(&mut small, frags, end);
        // The members' text, copied out of the way; read back at its place in the buffer less
        // `body`.
        self.spare.clear();
        self.spare
            .extend_from_slice(self.buf.get(body..end).unwrap_or_default());
        self.spare.resize(self.spare.len() + TAIL, 0);
        let text = Text {
            src: self.spare,
            base: body,
            frags,
            end,
        };
        let pos = text.copy_sorted(self.buf, body, sorted);
        // Some member was copied: the object is not empty.
        if let Some(first) = self.buf.get_mut(body) {
            *first = b'{';
        }
        self.pos = pos;
    }

    /// Removes every container still open, with its text: see
    /// [`crate::FieldStore::abandon_open`].
    fn abandon_open(&mut self) {
        if self.depth() == 0 {
            return;
        }
        // The outermost open container: the second of `levels`, or `top` if only it is open.
        let outermost = self.levels.get(1).copied().unwrap_or(self.top);
        self.pos = outermost.begin;
        self.frags
            .truncate(outermost.member.unwrap_or(outermost.first));
        self.top = self.levels.first().copied().unwrap_or(Level::top());
        self.levels.clear();
    }

    /// Closes what a codec left open, and writes the top-level object to `out`: its text at
    /// once if its members came in key order, else member by member in key order.
    fn finish(&mut self, out: &mut Vec<u8>, whole: bool) -> Range<usize> {
        while self.depth() > 0 {
            let _ = self.close();
        }
        let top = self.level();
        let ascending = top.ascending || top.dynamic;
        let at = out.len() + DATA.len();
        let frags = self.frags.as_mut_slice();
        if frags.is_empty() || ascending {
            // The members are the text already: `{"data":` before them, braces around.
            let buf: &mut [u8] = self.buf;
            let mut pos = self.pos;
            if pos == DATA.len() {
                pos = put_byte(buf, pos, b'{');
            } else if let Some(first) = buf.get_mut(DATA.len()) {
                *first = b'{';
            }
            if let Some(head) = buf.get_mut(..DATA.len()) {
                head.copy_from_slice(DATA);
            }
            pos = put_byte(buf, pos, b'}');
            let end = pos;
            if whole {
                pos = put_byte(buf, pos, b'}');
            }
            out.extend_from_slice(buf.get(..pos).unwrap_or_default());
            return at..at + end - DATA.len();
        }
        // Sorted as a list of positions (moving bytes, not fragments), the order of an earlier
        // frame like this one tried first.
        let mut small = [0u8; 16];
        let sorted = self.ranks.orders.sort(&mut small, frags, self.pos);
        // Assembled in place at the end of `out`, at a position kept in a register (each
        // push into `out` would wait on the `Vec`'s length stored by the one before): the room
        // is zeroed, written and cut to the text. Not assembled elsewhere and then copied:
        // that copy's wide loads would read bytes just stored by narrower moves, which the
        // core cannot forward (measured in `benches/README.md`, "Ninth round": the sorted
        // members assembled in the output).
        let base = out.len();
        out.resize(base + self.pos + 3 + TAIL, 0);
        let dst = out.get_mut(base..).unwrap_or_default();
        if let Some(head) = dst.get_mut(..DATA.len()) {
            head.copy_from_slice(DATA);
        }
        // Each fragment with its leading comma; the first comma becomes `{` below.
        let text = Text {
            src: self.buf,
            base: 0,
            frags,
            end: self.pos,
        };
        let mut pos = text.copy_sorted(dst, DATA.len(), sorted);
        // Some member was copied: `frags` is not empty.
        if let Some(first) = dst.get_mut(DATA.len()) {
            *first = b'{';
        }
        pos = put_byte(dst, pos, b'}');
        let end = pos;
        if whole {
            pos = put_byte(dst, pos, b'}');
        }
        out.truncate(base + pos);
        at..at + end - DATA.len()
    }
}

impl<'a> Sink<'a> for JsonSink<'_> {
    // Always inlined into codecs' monomorphised loops: called, the field would be passed
    // through memory and its wide loads would stall on the narrower stores that built it.
    #[inline(always)]
    fn field(&mut self, field: Field<'a>) -> Result<(), ErrorKind> {
        // As many as a FieldBuf stores, so that both paths stop at the same field.
        self.left = self.left.checked_sub(1).ok_or(ErrorKind::SinkFull)?;
        let object = self.top.container == Container::Object;
        self.reserve(8 + 6 * field.name.len() + bound_of(&field.value));
        let start = self.pos;
        let (key_end, rank) = if object {
            self.put_member_key(start, field.name, field.channel)
        } else {
            (put_byte(self.buf, start, b','), 0)
        };
        let pos = put_value(self.buf, key_end, &field.value);
        self.pos = pos;
        if object {
            self.record(rank, start);
        }
        Ok(())
    }

    fn open(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        container: Container,
    ) -> Result<(), ErrorKind> {
        if self.depth() >= MAX_DEPTH {
            return Err(ErrorKind::Nesting);
        }
        self.left = self.left.checked_sub(1).ok_or(ErrorKind::SinkFull)?;
        let object = self.level().container == Container::Object;
        self.reserve(8 + 6 * name.len());
        let start = self.pos;
        let (pos, rank) = if object {
            self.put_member_key(start, name, channel)
        } else {
            (put_byte(self.buf, start, b','), 0)
        };
        self.pos = pos;
        let member = object.then(|| self.record(rank, start));
        self.push(Level {
            container,
            body: pos,
            first: self.frags.len(),
            ascending: true,
            member,
            begin: start,
            dynamic: false,
        });
        Ok(())
    }

    /// Rendered in one pass when its members come in key order (their keys' ranks
    /// strictly increasing): `,"gps_1":{"altitude":..,"latitude":..}` with no container
    /// opened; otherwise, or when it would reach `sink_full` or the nesting limit, in steps.
    #[inline(always)]
    fn object(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        members: &[Field<'a>],
    ) -> Result<(), ErrorKind> {
        let events = 1 + members.len();
        if self.depth() >= MAX_DEPTH || self.left < events {
            return self.object_in_steps(name, channel, members);
        }
        let in_object = self.top.container == Container::Object;
        let need = members.iter().fold(10 + 6 * name.len(), |n, m| {
            n + 8 + 6 * m.name.len() + bound_of(&m.value)
        });
        self.reserve(need);
        let start = self.pos;
        let generation = self.ranks.generation;
        let (body, rank) = if in_object {
            self.put_member_key(start, name, channel)
        } else {
            (put_byte(self.buf, start, b','), 0)
        };
        let mut pos = body;
        let mut sorted = true;
        let mut last = None;
        for m in members {
            let (key_end, p) = self.put_member_key(pos, m.name, m.channel);
            sorted &= last.is_none_or(|l| l < p);
            last = Some(p);
            pos = put_value(self.buf, key_end, &m.value);
        }
        // Ranks spread out meanwhile are not comparable with the ones taken before.
        if !sorted || self.ranks.generation != generation {
            return self.object_in_steps(name, channel, members);
        }
        // `{` over the first member's comma.
        match self.buf.get_mut(body) {
            Some(first) if pos > body => *first = b'{',
            _ => pos = put_byte(self.buf, pos, b'{'),
        }
        pos = put_byte(self.buf, pos, b'}');
        self.pos = pos;
        self.left -= events;
        if in_object {
            self.record(rank, start);
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), ErrorKind> {
        if self.depth() == 0 {
            return Err(ErrorKind::Nesting);
        }
        self.close_level();
        self.top = self.levels.pop().unwrap_or(Level::top());
        Ok(())
    }

    fn warning(&mut self, warning: DecodeError) -> Result<(), ErrorKind> {
        // As many as a FieldBuf keeps, so that both paths print the same.
        if self.warnings.len() >= MAX_WARNINGS {
            return Err(ErrorKind::SinkFull);
        }
        self.warnings.push(warning);
        Ok(())
    }

    fn dyn_field(&mut self, key: &str, value: DynValue<'_>) -> Result<(), ErrorKind> {
        // Counted as a FieldBuf counts it: both paths stop at the same member.
        self.left = self.left.checked_sub(1).ok_or(ErrorKind::SinkFull)?;
        let object = self.mark_dynamic();
        self.reserve(8 + 6 * key.len() + dyn_bound(&value));
        let mut pos = put_byte(self.buf, self.pos, b',');
        if object {
            pos = put_dyn_key(self.buf, pos, key);
        }
        self.pos = put_dyn_value(self.buf, pos, &value);
        Ok(())
    }

    fn dyn_open(&mut self, key: &str, container: Container) -> Result<(), ErrorKind> {
        if self.depth() >= MAX_DEPTH {
            return Err(ErrorKind::Nesting);
        }
        self.left = self.left.checked_sub(1).ok_or(ErrorKind::SinkFull)?;
        let object = self.mark_dynamic();
        self.reserve(8 + 6 * key.len());
        let start = self.pos;
        let mut pos = put_byte(self.buf, start, b',');
        if object {
            pos = put_dyn_key(self.buf, pos, key);
        }
        self.pos = pos;
        self.push(Level {
            container,
            body: pos,
            first: self.frags.len(),
            ascending: true,
            member: None,
            begin: start,
            dynamic: true,
        });
        Ok(())
    }

    fn note(&mut self, note: Note<'_>) -> Result<(), ErrorKind> {
        // As many as a FieldBuf keeps, so that both paths print the same.
        if self.notes.notes.len() >= MAX_NOTES {
            return Err(ErrorKind::SinkFull);
        }
        let start = u32::try_from(self.notes.text.len()).map_err(|_| ErrorKind::SinkFull)?;
        let len = u32::try_from(note.message.len()).map_err(|_| ErrorKind::SinkFull)?;
        self.notes.text.extend_from_slice(note.message.as_bytes());
        self.notes.notes.push(StoredNote {
            severity: note.severity,
            kind: note.kind,
            message: Span { start, len },
            line: note.line,
        });
        Ok(())
    }

    fn normalized(&mut self, json: &str) -> Result<(), ErrorKind> {
        let start = self.notes.text.len();
        self.notes.text.extend_from_slice(json.as_bytes());
        *self.notes.normalized = Some(start..self.notes.text.len());
        Ok(())
    }
}

impl JsonSink<'_> {
    /// [`Sink::object`] as its three steps, from the position it started at.
    #[cold]
    #[inline(never)]
    fn object_in_steps<'a>(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        members: &[Field<'a>],
    ) -> Result<(), ErrorKind> {
        <Self as Sink<'a>>::open(self, name, channel, Container::Object)?;
        for &member in members {
            self.field(member)?;
        }
        <Self as Sink<'a>>::close(self)
    }

    /// Opens `level` inside the current container.
    fn push(&mut self, level: Level) {
        self.levels.push(self.top);
        self.top = level;
    }

    /// Marks the current container as holding run-time members; whether it is an object.
    fn mark_dynamic(&mut self) -> bool {
        self.top.dynamic = true;
        self.top.container == Container::Object
    }
}
