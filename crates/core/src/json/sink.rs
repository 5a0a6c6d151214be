//! The JSON writer as a sink: fields are rendered as they arrive, and only the order of the
//! rendered members is fixed afterwards.
//!
//! Every member is rendered with a leading comma (`,"temperature_3":27.2`) and recorded as a
//! fragment: its key's rank (a number ordered as the keys, `rank.rs`) and where it starts in
//! the buffer (it ends where the
//! next member of its container starts, or where the container ends). When a container closes, its
//! members are already the text if they came in key order (the first comma becomes `{` or
//! `[`); otherwise the fragments are copied out in key order, the last of a repeated key kept.
//! Nothing is stored per field but its text, which is what makes this the fast path to JSON.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;

use super::order::{Frag, Text, sort_order};
use super::rank::Ranks;
use super::text::{SLACK, bound_of, put_byte};
use super::{
    JsonWriter, dyn_bound, put_dyn_key, put_dyn_value, put_key, put_value, write_problems,
};
use crate::dynamic::{DynValue, Note, Severity, Span, StoredNote};
use crate::fieldbuf::{MAX_DEPTH, MAX_NOTES, MAX_WARNINGS};
use crate::{Codec, Container, DecodeError, ErrorKind, Field, Sink, Uplink};

/// The buffer a writer starts with; it grows (once) for larger results.
const INITIAL: usize = 4096;

/// What a result starts with. The buffer keeps room for it in front of the top-level members,
/// so that a whole result is appended to the output in one copy.
const DATA: &[u8; 8] = b"{\"data\":";

/// Room kept past the text: [`copy_out`] reads 32 bytes at a time.
const TAIL: usize = 32;

/// A rendered key, remembered: `,"temperature_3":` for one name (by address: names are
/// `'static`) and channel. Codecs use a handful of keys over and over.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CachedKey {
    name: usize,
    /// The name's length and the channel (`0x100` for none): [`tag`].
    tag: u64,
    /// The key's rank ([`super::rank`]).
    rank: u32,
    len: u8,
    text: [u8; 32],
}

/// A key's name length and channel as one word, compared at once.
#[inline(always)]
fn tag(name: &str, channel: Option<u8>) -> u64 {
    ((name.len() as u64) << 16) | u64::from(channel.map_or(0x100, u16::from))
}

/// Sets of the key cache, a power of two; each holds two keys, the one rendered last first.
/// Two ways, because a direct-mapped cache makes the writer's speed a matter of where the
/// linker put the names: two frequent keys of a codec in one slot evict each other on every
/// frame (with 128 direct-mapped slots, one build of the LPP bench rendered 0.43 keys a frame
/// again, another 0.11).
const SETS: usize = 128;

/// The key cache.
pub(super) type KeyCache = [[CachedKey; 2]; SETS];

/// An empty key cache, made once per writer (built out of line: the array is 18 KiB).
#[cold]
#[inline(never)]
fn new_key_cache() -> Box<KeyCache> {
    Box::new([[CachedKey::default(); 2]; SETS])
}

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

/// Run-time notes and their text, kept by the writer from frame to frame.
#[derive(Debug)]
struct Notes<'w> {
    notes: &'w mut Vec<StoredNote>,
    text: &'w mut Vec<u8>,
    /// The normalized payload's text in `text`.
    normalized: &'w mut Option<Range<usize>>,
}

/// A sink that renders JSON as the codec pushes fields: see [`JsonWriter::decode`].
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
    let mut comma = comma;
    if let Some(error) = error {
        out.extend_from_slice(if comma {
            b",\"errors\":["
        } else {
            b"\"errors\":["
        });
        super::write_error(&error, out);
        out.push(b']');
        comma = true;
    }
    if !warnings.is_empty() {
        out.extend_from_slice(if comma {
            b",\"warnings\":["
        } else {
            b"\"warnings\":["
        });
        for (i, w) in warnings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            super::write_error(w, out);
        }
        out.push(b']');
    }
    out.push(b'}');
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

    /// Writes `,"<name>_<channel>":` at `start`, from the key cache when it holds the key;
    /// returns the end and the key's rank.
    #[inline(always)]
    fn put_member_key(
        &mut self,
        start: usize,
        name: &'static str,
        channel: Option<u8>,
    ) -> (usize, u32) {
        let address = name.as_ptr() as usize;
        let tag = tag(name, channel);
        // Multiplicative hashing of name and channel: the top bits of the product.
        let hash = ((address as u64) ^ (tag << 48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let set = (hash >> (64 - SETS.trailing_zeros())) as usize;
        if let Some([first, second]) = self.keys.get(set) {
            let hit = if first.name == address && first.tag == tag {
                Some(first)
            } else if second.name == address && second.tag == tag {
                Some(second)
            } else {
                None
            };
            if let Some(key) = hit {
                let (text, len, rank) = (key.text, key.len, key.rank);
                if let Some(dst) = self.buf.get_mut(start..start + 32) {
                    dst.copy_from_slice(&text);
                }
                return (start + usize::from(len), rank);
            }
        }
        self.put_new_key(start, name, channel, set)
    }

    /// [`JsonSink::put_member_key`] for a key the cache does not hold: rendered, and kept in
    /// `set` if it fits. Out of line: the hit is the hot path of every codec, and a miss
    /// inlined into it makes the codec's loop larger (rare for most codecs, every time for
    /// keys longer than a slot).
    #[inline(never)]
    fn put_new_key(
        &mut self,
        start: usize,
        name: &'static str,
        channel: Option<u8>,
        set: usize,
    ) -> (usize, u32) {
        let (frags, keys) = (&mut *self.frags, &mut *self.keys);
        // When the ranks are spread out, the cached keys and the members recorded so far take
        // their new ranks (in the same order).
        let rank = self.ranks.rank(name, channel, |ranks| {
            for f in frags.iter_mut() {
                f.set_rank(ranks.renumbered(f.rank()));
            }
            for key in keys.iter_mut().flatten() {
                key.rank = ranks.renumbered(key.rank);
            }
        });
        let buf: &mut [u8] = &mut self.buf[..];
        let after_comma = put_byte(buf, start, b',');
        let end = put_key(buf, after_comma, name, channel);
        if let (Some(text), Some([first, second])) = (
            buf.get(start..start + 32).filter(|_| end - start <= 32),
            self.keys.get_mut(set),
        ) {
            // The older key makes room; the new one goes first.
            *second = *first;
            first.text.copy_from_slice(text);
            first.len = (end - start) as u8;
            first.name = name.as_ptr() as usize;
            first.tag = tag(name, channel);
            first.rank = rank;
        }
        (end, rank)
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
        // Sorted as a list of positions (moving bytes, not fragments).
        let mut small = [0u8; 16];
        let sorted = sort_order(&mut small, frags, self.pos);
        // Assembled in the spare buffer at a position kept in a register (each push into `out`
        // would wait on the `Vec`'s length stored by the one before), then appended at once.
        let need = self.pos + 3 + TAIL;
        if self.spare.len() < need {
            self.spare.resize(need.max(INITIAL), 0);
        }
        let spare: &mut [u8] = self.spare;
        if let Some(head) = spare.get_mut(..DATA.len()) {
            head.copy_from_slice(DATA);
        }
        // Each fragment with its leading comma; the first comma becomes `{` below.
        let text = Text {
            src: self.buf,
            base: 0,
            frags,
            end: self.pos,
        };
        let mut pos = text.copy_sorted(spare, DATA.len(), sorted);
        // Some member was copied: `frags` is not empty.
        if let Some(first) = spare.get_mut(DATA.len()) {
            *first = b'{';
        }
        pos = put_byte(spare, pos, b'}');
        let end = pos;
        if whole {
            pos = put_byte(spare, pos, b'}');
        }
        out.extend_from_slice(spare.get(..pos).unwrap_or_default());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldBuf, Value};
    use alloc::format;
    use alloc::string::String;

    /// A codec that replays a script of sink calls.
    struct Script(&'static [Step]);

    #[derive(Clone, Copy)]
    enum Step {
        F(&'static str, Option<u8>, i64),
        Open(&'static str, Option<u8>, Container),
        Close,
        Warn(usize),
        Fail(usize),
        /// A run-time member: key, number.
        DynN(&'static str, f64),
        /// A run-time member: key, text.
        DynS(&'static str, &'static str),
        DynOpen(&'static str, Container),
        /// A note: severity, message, line.
        NoteS(Severity, &'static str, Option<u32>),
        /// A whole object ([`Sink::object`]): name, channel, members (name, tenths).
        Obj(&'static str, Option<u8>, &'static [(&'static str, i64)]),
    }

    impl Codec for Script {
        fn id(&self) -> &'static str {
            "script"
        }
        fn decode<'a>(&self, _: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError> {
            let e = |k| DecodeError::new(0, k);
            for step in self.0 {
                match *step {
                    Step::F(n, c, v) => sink
                        .field(Field::new(
                            n,
                            c,
                            Value::Decimal {
                                digits: v,
                                scale: 1,
                            },
                        ))
                        .map_err(e)?,
                    Step::Open(n, c, k) => sink.open(n, c, k).map_err(e)?,
                    Step::Close => sink.close().map_err(e)?,
                    Step::Warn(o) => sink
                        .warning(DecodeError::new(o, ErrorKind::OutOfRange))
                        .map_err(e)?,
                    Step::Fail(o) => return Err(DecodeError::new(o, ErrorKind::UnexpectedEof)),
                    Step::Obj(n, c, members) => {
                        let mut fields = [Field::new("", None, Value::Null); 4];
                        for (slot, &(name, digits)) in fields.iter_mut().zip(members) {
                            let value = Value::Decimal { digits, scale: 1 };
                            *slot = Field::new(name, None, value);
                        }
                        let fields = fields.get(..members.len()).unwrap();
                        sink.object(n, c, fields).map_err(e)?
                    }
                    // Copied from a buffer that is overwritten at once, as a script's text is.
                    Step::DynN(k, n) => {
                        let mut key = String::from(k);
                        sink.dyn_field(&key, DynValue::Number(n)).map_err(e)?;
                        key.clear();
                        key.push_str("overwritten");
                    }
                    Step::DynS(k, v) => {
                        let (key, value) = (String::from(k), String::from(v));
                        sink.dyn_field(&key, DynValue::Text(&value)).map_err(e)?;
                    }
                    Step::DynOpen(k, c) => sink.dyn_open(&String::from(k), c).map_err(e)?,
                    Step::NoteS(severity, m, line) => sink
                        .note(Note {
                            severity,
                            kind: ErrorKind::CodecError,
                            message: &String::from(m),
                            line,
                        })
                        .map_err(e)?,
                }
            }
            Ok(())
        }
    }

    /// The writer's result through the sink, and through a FieldBuf: they must agree.
    fn both(steps: &'static [Step]) -> String {
        both_within::<64>(steps)
    }

    /// The same with room for `N` events on both paths.
    fn both_within<const N: usize>(steps: &'static [Step]) -> String {
        let codec = Script(steps);
        let mut w = JsonWriter::with_max_events(N);
        let mut fast = Vec::new();
        let outcome = w.decode(&codec, Uplink::new(1, &[]), &mut fast);
        let mut buf = FieldBuf::<N>::new();
        let d = buf.decode(&codec, Uplink::new(1, &[]));
        let mut slow = Vec::new();
        w.write_result(&d, &mut slow);
        let fast = String::from_utf8(fast).unwrap();
        assert_eq!(fast, String::from_utf8(slow).unwrap());
        // And a rejected frame.
        let mut tts_like = Vec::new();
        w.reject(DecodeError::new(0, ErrorKind::PortZero), &mut tts_like);
        assert!(tts_like.starts_with(b"{\"errors\":[{\"kind\":\"port_zero\""));
        assert_eq!(outcome.has_errors, d.has_errors());
        assert_eq!(outcome.has_warnings, d.has_warnings());
        // serde gives the same value (its number text may differ: `1e21` for `1e+21`).
        #[cfg(feature = "serde")]
        assert_eq!(
            serde_json::to_value(d).unwrap(),
            serde_json::from_str::<serde_json::Value>(&fast).unwrap()
        );
        if let Some(r) = outcome.data {
            assert!(fast[r].starts_with('{'));
        }
        fast
    }

    use Container::{Array, Object};
    use Step::*;

    #[test]
    fn renders_like_the_writer() {
        assert_eq!(both(&[]), r#"{"data":{}}"#);
        assert_eq!(
            both(&[
                F("t", Some(10), 1),
                F("t", Some(2), 2),
                F("a", None, 3),
                F("t", Some(2), 4)
            ]),
            r#"{"data":{"a":0.3,"t_10":0.1,"t_2":0.4}}"#
        );
        assert_eq!(
            both(&[
                Open("gps", Some(1), Object),
                F("lon", None, 1),
                F("lat", None, 2),
                F("alt", None, 3),
                Close,
                F("b", None, 5),
                Open("list", None, Array),
                F("", None, 2),
                Open("", None, Object),
                F("z", None, 1),
                F("y", None, 2),
                Close,
                Open("", None, Array),
                Close,
                Close,
                Open("empty", None, Object),
                Close,
                Open("gps", Some(1), Object),
                F("x", None, 9),
                Close,
            ]),
            r#"{"data":{"b":0.5,"empty":{},"gps_1":{"x":0.9},"list":[0.2,{"y":0.2,"z":0.1},[]]}}"#
        );
    }

    #[test]
    fn run_time_members_are_copied_and_kept_in_order() {
        assert_eq!(
            both(&[
                DynN("battery", 3.6),
                DynOpen("gps", Object),
                DynN("lat", 52.08),
                DynN("lon", -0.0),
                Close,
                DynOpen("list", Array),
                DynS("", "a\"b"),
                DynN("", 1e21),
                DynOpen("", Object),
                DynS("z", "é"),
                Close,
                Close,
                DynN("t", 1e-7),
            ]),
            r#"{"data":{"battery":3.6,"gps":{"lat":52.08,"lon":0},"list":["a\"b",1e+21,{"z":"é"}],"t":1e-7}}"#
        );
        // Native members beside run-time ones are all kept, in the order they came.
        assert_eq!(
            both(&[F("z", None, 1), DynN("a", 2.0), F("b", None, 3)]),
            r#"{"data":{"z":0.1,"a":2,"b":0.3}}"#
        );
    }

    #[test]
    fn notes_are_the_errors_and_follow_the_warnings() {
        assert_eq!(
            both(&[
                DynN("a", 1.0),
                NoteS(Severity::Warning, "low battery", None),
                Warn(2),
            ]),
            r#"{"data":{"a":1},"warnings":[{"kind":"out_of_range","message":"value out of range at byte 2","offset":2},{"kind":"codec_error","message":"low battery"}]}"#
        );
        assert_eq!(
            both(&[
                DynN("a", 1.0),
                NoteS(Severity::Error, "bad \"port\"", Some(12)),
                NoteS(Severity::Error, "second", None),
                Fail(0),
            ]),
            r#"{"data":{"a":1},"errors":[{"kind":"codec_error","line":12,"message":"bad \"port\""},{"kind":"codec_error","message":"second"}]}"#
        );
        // A failure inside a run-time container removes the container, as for native ones.
        assert_eq!(
            both(&[
                DynN("kept", 1.0),
                DynOpen("half", Object),
                DynN("x", 1.0),
                Fail(3)
            ]),
            r#"{"data":{"kept":1},"errors":[{"kind":"unexpected_eof","message":"unexpected end of payload at byte 3","offset":3}]}"#
        );
    }

    #[test]
    fn errors_warnings_and_what_is_left_open() {
        assert_eq!(
            both(&[
                Open("o", None, Object),
                F("b", None, 1),
                F("a", None, 2),
                Close,
                Open("p", None, Object),
                F("q", None, 1),
                Warn(3),
                Fail(7)
            ]),
            r#"{"data":{"o":{"a":0.2,"b":0.1}},"errors":[{"kind":"unexpected_eof","message":"unexpected end of payload at byte 7","offset":7}],"warnings":[{"kind":"out_of_range","message":"value out of range at byte 3","offset":3}]}"#
        );
        assert_eq!(
            both(&[Close]),
            r#"{"data":{},"errors":[{"kind":"nesting","message":"unbalanced or too deeply nested containers at byte 0","offset":0}]}"#
        );
    }

    #[test]
    fn a_failing_codec_leaves_no_half_object() {
        assert_eq!(
            both(&[
                F("kept", None, 1),
                Open("half", Some(2), Object),
                F("x", None, 1),
                Fail(3)
            ]),
            r#"{"data":{"kept":0.1},"errors":[{"kind":"unexpected_eof","message":"unexpected end of payload at byte 3","offset":3}]}"#
        );
        assert_eq!(
            both(&[
                F("z", None, 1),
                Open("a", None, Array),
                Open("", None, Object),
                Fail(3)
            ]),
            r#"{"data":{"z":0.1},"errors":[{"kind":"unexpected_eof","message":"unexpected end of payload at byte 3","offset":3}]}"#
        );
    }

    /// `Obj` replaced by its three steps.
    fn in_steps(steps: &'static [Step]) -> &'static [Step] {
        let mut out = Vec::new();
        for &step in steps {
            match step {
                Obj(n, c, members) => {
                    out.push(Open(n, c, Object));
                    out.extend(members.iter().map(|&(m, v)| F(m, None, v)));
                    out.push(Close);
                }
                other => out.push(other),
            }
        }
        Vec::leak(out)
    }

    #[test]
    fn a_whole_object_renders_as_its_three_steps() {
        let cases: [&'static [Step]; 7] = [
            // In key order: one pass.
            &[
                F("b", None, 1),
                Obj("gps", Some(1), &[("alt", 1), ("lat", 2), ("lon", 3)]),
            ],
            // Out of key order, a repeated key, none: as the steps render them.
            &[Obj("o", None, &[("y", 1), ("x", 2)]), F("a", None, 3)],
            &[Obj("o", None, &[("x", 1), ("x", 2), ("w", 3)])],
            &[Obj("empty", Some(2), &[])],
            // Keys that tie on their 8-byte prefixes.
            &[Obj(
                "o",
                None,
                &[("temperature_a", 1), ("temperature_b", 2)],
            )],
            // Inside an array and inside an object.
            &[
                Open("list", None, Array),
                Obj("", None, &[("a", 1), ("b", 2)]),
                Obj("", None, &[("b", 1), ("a", 2)]),
                Close,
                Open("o", None, Object),
                Obj("p", Some(3), &[("a", 1)]),
                Close,
            ],
            // The object the same key as a field before it: the last one is kept.
            &[
                F("o", None, 1),
                Obj("o", None, &[("a", 1)]),
                F("o", Some(1), 2),
            ],
        ];
        for steps in cases {
            assert_eq!(both(steps), both(in_steps(steps)));
        }
        assert_eq!(
            both(cases[0]),
            r#"{"data":{"b":0.1,"gps_1":{"alt":0.1,"lat":0.2,"lon":0.3}}}"#
        );
        assert_eq!(both(cases[2]), r#"{"data":{"o":{"w":0.3,"x":0.2}}}"#);
    }

    #[test]
    fn a_whole_object_stops_where_its_steps_would() {
        // Room for the opening and one member of three: the object is left out whole.
        for steps in [
            &[
                F("a", None, 1),
                Obj("o", None, &[("x", 1), ("y", 2), ("z", 3)]),
            ][..],
            &[Obj("o", None, &[("x", 1), ("y", 2)]), F("a", None, 1)][..],
        ] {
            let text = both_within::<3>(steps);
            assert_eq!(text, both_within::<3>(in_steps(steps)));
            assert!(text.contains("sink_full"), "{text}");
        }
        // Exactly full.
        let steps = &[Obj("o", None, &[("x", 1), ("y", 2)])];
        assert_eq!(
            both_within::<3>(steps),
            r#"{"data":{"o":{"x":0.1,"y":0.2}}}"#
        );
        // Below the deepest nesting allowed, and at it.
        static DEEP: [Step; MAX_DEPTH + 1] = {
            let mut s = [Open("", None, Array); MAX_DEPTH + 1];
            s[MAX_DEPTH] = Obj("", None, &[("a", 1)]);
            s
        };
        let shallow = &DEEP[1..];
        assert_eq!(both(shallow), both(in_steps(shallow)));
        assert!(both(shallow).contains(r#"[{"a":0.1}]"#));
        let text = both(&DEEP);
        assert_eq!(text, both(in_steps(&DEEP)));
        assert!(text.contains("nesting"), "{text}");
    }

    #[test]
    fn large_results_grow_the_buffer() {
        static MANY: [Step; 3000] = {
            let mut s = [Step::F("name_of_some_length", None, 0); 3000];
            let mut i = 0;
            while i < 3000 {
                s[i] = Step::F("name_of_some_length", Some((i % 256) as u8), i as i64);
                i += 1;
            }
            s
        };
        let codec = Script(&MANY);
        let mut w = JsonWriter::with_max_events(MANY.len());
        let mut out = Vec::new();
        w.decode(&codec, Uplink::new(1, &[]), &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"].as_object().unwrap().len(), 256);
        // The last of each repeated key wins: channel 255 last came at i = 2815.
        assert_eq!(
            v["data"]["name_of_some_length_255"],
            serde_json::json!(281.5)
        );
    }

    #[test]
    fn ranks_spread_out_in_the_middle_of_a_frame() {
        // Each new key falls between the one before and `c`: the gap between ranks halves
        // each time, so that the ranks are spread out while members are recorded, in a nested
        // object and (likely) while an object is pushed whole; the order must not change.
        static STEPS: [Step; 52] = [
            F("c", None, 1),
            F("a", None, 2),
            Open("n", None, Object),
            F("b", None, 1),
            F("bb", None, 2),
            F("bbb", None, 3),
            F("bbbb", None, 4),
            F("bbbbb", None, 5),
            F("bbbbbb", None, 6),
            F("bbbbbbb", None, 7),
            F("bbbbbbbb", None, 8),
            F("bbbbbbbbb", None, 9),
            F("bbbbbbbbbb", None, 10),
            F("bbbbbbbbbbb", None, 11),
            F("bbbbbbbbbbbb", None, 12),
            F("bbbbbbbbbbbbb", None, 13),
            F("bbbbbbbbbbbbbb", None, 14),
            F("bbbbbbbbbbbbbbb", None, 15),
            F("bbbbbbbbbbbbbbbb", None, 16),
            F("bbbbbbbbbbbbbbbbb", None, 17),
            F("bbbbbbbbbbbbbbbbbb", None, 18),
            F("bbbbbbbbbbbbbbbbbbb", None, 19),
            F("bbbbbbbbbbbbbbbbbbbb", None, 20),
            F("a", None, 3),
            Close,
            Obj(
                "o",
                Some(0),
                &[
                    ("bbbbbbbbbbbbbbbbbbbbb", 21),
                    ("bbbbbbbbbbbbbbbbbbbbbb", 22),
                    ("bbbbbbbbbbbbbbbbbbbbbbb", 23),
                ],
            ),
            Obj(
                "o",
                Some(1),
                &[
                    ("bbbbbbbbbbbbbbbbbbbbbbbb", 24),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbb", 25),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbb", 26),
                ],
            ),
            Obj(
                "o",
                Some(2),
                &[
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbb", 27),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbb", 28),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 29),
                ],
            ),
            Obj(
                "o",
                Some(3),
                &[
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 30),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 31),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 32),
                ],
            ),
            Obj(
                "o",
                Some(4),
                &[
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 33),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 34),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 35),
                ],
            ),
            Obj(
                "o",
                Some(5),
                &[
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 36),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 37),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 38),
                ],
            ),
            Obj(
                "o",
                Some(6),
                &[
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 39),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 40),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 41),
                ],
            ),
            Obj(
                "o",
                Some(7),
                &[
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 42),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 43),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 44),
                ],
            ),
            Obj(
                "o",
                Some(8),
                &[
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 45),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 46),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 47),
                ],
            ),
            Obj(
                "o",
                Some(9),
                &[
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 48),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 49),
                    ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 50),
                ],
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                51,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                52,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                53,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                54,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                55,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                56,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                57,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                58,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                59,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                60,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                61,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                62,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                63,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                64,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                65,
            ),
            F(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                None,
                66,
            ),
            F("c", None, 3),
        ];
        let codec = Script(&STEPS);
        let mut w = JsonWriter::with_max_events(256);
        let mut out = Vec::new();
        w.decode(&codec, Uplink::new(1, &[]), &mut out);
        assert!(w.ranks.generation > 0, "the ranks were spread out");
        let out = String::from_utf8(out).unwrap();
        // The same through a FieldBuf, with a writer that has ranked these keys before.
        assert_eq!(both_within::<256>(&STEPS), out);
        let at = |key: &str| out.find(key).unwrap();
        assert!(at("\"a\":") < at("\"b\":") && at("\"b\":") < at("\"bb\":"));
        let last_b = alloc::format!("\"{}\":", "b".repeat(66));
        assert!(at(&last_b) < at("\"c\":0.3") && !out.contains("\"c\":0.1"));
        assert!(at("\"c\":0.3") < at("\"n\":") && at("\"n\":") < at("\"o_0\":"));
    }

    #[test]
    fn keys_with_long_common_prefixes_sort_as_text() {
        // Keys that share 16 bytes and more, and keys with escapes: ranked as their text.
        let out = both(&[
            F("relative_humidity", Some(3), 1),
            F("relative_humidity", Some(10), 2),
            F("relative_humidit\"y", None, 3),
            F("relative_humidity", Some(2), 4),
            F("relative_humidit\\y", None, 5),
            F("relative_humidity", Some(3), 6),
            F("relative_humidit\u{1}", None, 7),
        ]);
        assert_eq!(
            out,
            concat!(
                r#"{"data":{"relative_humidit\u0001":0.7,"relative_humidit\"y":0.3,"#,
                r#""relative_humidit\\y":0.5,"relative_humidity_10":0.2,"#,
                r#""relative_humidity_2":0.4,"relative_humidity_3":0.6}}"#
            )
        );
        // The same in a nested object, and in an object of more than 16 members (sorted as
        // fragments, not positions), the last of a repeated key kept.
        static NESTED: [Step; 8] = [
            Open("o", None, Object),
            F("relative_humidity", Some(3), 1),
            F("relative_humidity", Some(10), 2),
            F("relative_humidit\"y", None, 3),
            F("relative_humidity", Some(3), 4),
            F("a", None, 5),
            Close,
            F("b", None, 6),
        ];
        assert_eq!(
            both(&NESTED),
            concat!(
                r#"{"data":{"b":0.6,"o":{"a":0.5,"relative_humidit\"y":0.3,"#,
                r#""relative_humidity_10":0.2,"relative_humidity_3":0.4}}}"#
            )
        );
        static LARGE: [Step; 40] = {
            let mut s = [Step::F("relative_humidity", None, 0); 40];
            let mut i = 0;
            while i < 40 {
                // Channels 0..20 twice, in a scrambled order.
                s[i] = Step::F("relative_humidity", Some(((i * 7) % 20) as u8), i as i64);
                i += 1;
            }
            s
        };
        let out = both(&LARGE);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let data = v["data"].as_object().unwrap();
        assert_eq!(data.len(), 20);
        // Channel 7 came at i = 1 and i = 21: the last is kept.
        assert_eq!(data["relative_humidity_7"], serde_json::json!(2.1));
        let keys: Vec<&String> = data.keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(out.starts_with(r#"{"data":{"relative_humidity_0":2,"relative_humidity_1":"#));
    }

    #[test]
    fn past_the_limit_both_paths_stop_at_the_same_field() {
        const FULL: &str = r#""errors":[{"kind":"sink_full","message":"no room for more fields at byte 0","offset":0}]}"#;
        // The third field does not fit: the two before it are kept.
        assert_eq!(
            both_within::<2>(&[F("a", None, 1), F("b", None, 2), F("c", None, 3)]),
            format!(r#"{{"data":{{"a":0.1,"b":0.2}},{FULL}"#)
        );
        // An opening counts as an event; a container cut short is left out whole.
        assert_eq!(
            both_within::<3>(&[
                F("a", None, 1),
                Open("o", None, Object),
                F("x", None, 1),
                F("y", None, 2),
                Close
            ]),
            format!(r#"{{"data":{{"a":0.1}},{FULL}"#)
        );
        assert_eq!(
            both_within::<2>(&[F("a", None, 1), F("b", None, 2), Open("l", None, Array)]),
            both_within::<2>(&[F("a", None, 1), F("b", None, 2), F("c", None, 3)])
        );
        // Exactly full is not an error; closing takes no room.
        assert_eq!(
            both_within::<3>(&[
                Open("l", None, Array),
                F("", None, 1),
                F("", None, 2),
                Close
            ]),
            r#"{"data":{"l":[0.1,0.2]}}"#
        );
        // The default is the facade's FieldBuf size.
        static MANY: [Step; crate::MAX_EVENTS + 1] = [F("n", None, 1); crate::MAX_EVENTS + 1];
        let text = both_within::<{ crate::MAX_EVENTS }>(&MANY);
        let mut fast = Vec::new();
        JsonWriter::new().decode(&Script(&MANY), Uplink::new(1, &[]), &mut fast);
        assert_eq!(String::from_utf8(fast).unwrap(), text);
        assert!(text.ends_with(&format!(",{FULL}")), "{text}");
    }
}
