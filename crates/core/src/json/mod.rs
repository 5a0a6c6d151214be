//! The JSON writer: compact, keys sorted bytewise at every level, the last of a repeated key
//! kept, numbers as the shortest text that round-trips (no `.0` on integral values).
//!
//! Text is written into the writer's own fixed buffer at positions carried as plain values
//! (they stay in registers), and appended to the caller's `Vec` once per result or whenever the
//! buffer fills: pushing byte by byte into a `Vec<u8>` reloads the `Vec`'s length after every
//! store, because a byte store may alias it.

mod key;
mod num;
mod order;
mod rank;
mod sink;
mod text;
mod value;

pub use key::key_cmp;
pub use sink::{JsonOutcome, JsonSink};
pub use value::{
    write_decimal, write_dyn_value, write_error, write_f64, write_note, write_str, write_value,
};

use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::dynamic::StoredNote;
use crate::{Container, DecodeError, Decoded, Event};
use key::{key_prefix, put_key};
use text::{SLACK, bound_of, put_byte, put_bytes};
use value::{dyn_bound, put_dyn_key, put_dyn_value, put_value, write_problems};

/// The writer's buffer: results are appended to the caller's `Vec` in pieces of at most this.
const CHUNK: usize = 4096;

/// Renders decoded results as JSON, keeping its buffer and scratch space (members being sorted)
/// from one call to the next, so that steady-state writing allocates nothing.
///
/// [`JsonWriter::decode`] renders at most [`crate::MAX_EVENTS`] events (fields and container
/// openings) per frame, as many as a `FieldBuf<MAX_EVENTS>` stores, and stops with
/// [`crate::ErrorKind::SinkFull`] at the same field: both paths print the same result for every
/// frame, however long. [`JsonWriter::with_max_events`] matches another `FieldBuf` size.
#[derive(Debug, Clone)]
pub struct JsonWriter {
    /// How many events [`JsonWriter::decode`] renders before `sink_full`.
    max_events: usize,
    scratch: Vec<Member>,
    buf: Vec<u8>,
    frags: Vec<order::Frag>,
    spare: Vec<u8>,
    levels: Vec<sink::Level>,
    warnings: Vec<DecodeError>,
    keys: Option<alloc::boxed::Box<sink::KeyCache>>,
    ranks: rank::Ranks,
    notes: Vec<StoredNote>,
    text: Vec<u8>,
    normalized: Option<core::ops::Range<usize>>,
}

/// An object member waiting to be written in key order.
#[derive(Debug, Clone, Copy)]
struct Member {
    /// The first 8 bytes of the key's text, big-endian, zero-padded: most comparisons end here.
    prefix: u64,
    name: &'static str,
    channel: Option<u8>,
    index: u32,
}

impl Member {
    // Inlined so that the member is stored into the scratch `Vec` field by field: built on the
    // stack and copied, its 16-byte loads would stall on the narrower stores.
    #[inline(always)]
    fn new(name: &'static str, channel: Option<u8>, index: u32) -> Self {
        Member {
            prefix: key_prefix(name, channel),
            name,
            channel,
            index,
        }
    }

    #[inline]
    fn cmp_key(&self, other: &Member) -> Ordering {
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| key_cmp((self.name, self.channel), (other.name, other.channel)))
    }
}

/// Where text goes: the writer's buffer and, when that fills, the caller's `Vec`.
struct Sheet<'w> {
    buf: &'w mut [u8],
    out: &'w mut Vec<u8>,
}

impl Sheet<'_> {
    /// The position to write `need` bytes at: `pos`, or 0 after moving the buffer's text to
    /// the output when it lacks room. `None` when `need` exceeds the whole buffer.
    #[inline(always)]
    fn room(&mut self, pos: usize, need: usize) -> Option<usize> {
        if pos + need + SLACK <= self.buf.len() {
            return Some(pos);
        }
        self.flush(pos);
        (need + SLACK <= self.buf.len()).then_some(0)
    }

    /// Moves the buffer's text before `pos` to the output.
    fn flush(&mut self, pos: usize) {
        self.out
            .extend_from_slice(self.buf.get(..pos).unwrap_or_default());
    }

    /// Writes text of up to `need` bytes with `put` at `pos`; text too large for the buffer is
    /// written through a buffer of its own. Returns the new position.
    #[inline(always)]
    fn write(
        &mut self,
        pos: usize,
        need: usize,
        put: impl FnOnce(&mut [u8], usize) -> usize,
    ) -> usize {
        match self.room(pos, need) {
            Some(pos) => put(self.buf, pos),
            None => {
                let mut large = vec![0u8; need + SLACK];
                let n = put(&mut large, 0);
                self.out
                    .extend_from_slice(large.get(..n).unwrap_or_default());
                0
            }
        }
    }
}

impl Default for JsonWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonWriter {
    /// A writer with empty scratch space that renders up to [`crate::MAX_EVENTS`] events a
    /// frame.
    pub const fn new() -> Self {
        Self::with_max_events(crate::MAX_EVENTS)
    }

    /// A writer whose [`JsonWriter::decode`] stops with [`crate::ErrorKind::SinkFull`] where a
    /// `FieldBuf<N>` with `N = max_events` would: at the field that does not fit.
    ///
    /// ```
    /// use lorafield_core::json::JsonWriter;
    /// use lorafield_core::{Codec, DecodeError, Field, FieldBuf, Sink, Uplink, Value};
    ///
    /// /// Every byte a field.
    /// struct Bytes;
    /// impl Codec for Bytes {
    ///     fn id(&self) -> &'static str {
    ///         "bytes"
    ///     }
    ///     fn decode<'a>(&self, u: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError> {
    ///         for (i, &b) in u.payload.iter().enumerate() {
    ///             let f = Field::new("b", Some(i as u8), Value::U64(b.into()));
    ///             sink.field(f).map_err(|k| DecodeError::new(i, k))?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let frame = Uplink::new(1, &[1, 2, 3]);
    /// let mut fast = Vec::new();
    /// JsonWriter::with_max_events(2).decode(&Bytes, frame, &mut fast);
    /// let mut stored = Vec::new();
    /// FieldBuf::<2>::new().decode(&Bytes, frame).write_json(&mut stored);
    /// assert_eq!(fast, stored);
    /// assert!(fast.ends_with(br#""kind":"sink_full","message":"no room for more fields at byte 2","offset":2}]}"#));
    /// ```
    pub const fn with_max_events(max_events: usize) -> Self {
        JsonWriter {
            max_events,
            scratch: Vec::new(),
            buf: Vec::new(),
            frags: Vec::new(),
            spare: Vec::new(),
            levels: Vec::new(),
            warnings: Vec::new(),
            keys: None,
            ranks: rank::Ranks::new(),
            notes: Vec::new(),
            text: Vec::new(),
            normalized: None,
        }
    }

    /// Runs `f` with the writer's buffer as a sheet over `out`, then appends what is left.
    fn sheet(&mut self, out: &mut Vec<u8>, f: impl FnOnce(&mut Self, &mut Sheet<'_>) -> usize) {
        let mut buf = core::mem::take(&mut self.buf);
        if buf.len() < CHUNK {
            buf.resize(CHUNK, 0);
        }
        let mut sheet = Sheet { buf: &mut buf, out };
        let pos = f(self, &mut sheet);
        sheet.flush(pos);
        self.buf = buf;
    }

    /// Appends `{"data":{...},"errors":[...],"warnings":[...]}` to `out`; `data` is left out
    /// when the frame was rejected, `errors` and `warnings` when empty.
    pub fn write_result(&mut self, decoded: &Decoded<'_, '_>, out: &mut Vec<u8>) {
        let text = decoded.text;
        self.sheet(out, |w, sheet| {
            let mut pos = sheet.write(0, 1, |b, p| put_byte(b, p, b'{'));
            let mut comma = false;
            if let Some(events) = decoded.data {
                pos = sheet.write(pos, 7, |b, p| put_bytes(b, p, b"\"data\":"));
                pos = w.object(events, text, sheet, pos);
                comma = true;
            }
            let normalized = decoded.normalized.map(|n| n.resolve(text).as_bytes());
            if decoded.error.is_none()
                && decoded.warnings.is_empty()
                && decoded.notes.is_empty()
                && normalized.is_none()
            {
                return sheet.write(pos, 1, |b, p| put_byte(b, p, b'}'));
            }
            sheet.flush(pos);
            write_problems(
                sheet.out,
                comma,
                decoded.error,
                decoded.warnings,
                decoded.notes,
                text,
                normalized,
            );
            0
        });
    }

    /// Appends the events as one JSON object (the `data` member's text): members in bytewise
    /// key order, the last of equal keys kept.
    ///
    /// Run-time members ([`Event::Dyn`]) need the text they were stored with: see
    /// [`JsonWriter::write_events`].
    pub fn write_object(&mut self, events: &[Event<'_>], out: &mut Vec<u8>) {
        self.sheet(out, |w, sheet| w.object(events, &[], sheet, 0));
    }

    /// [`JsonWriter::write_object`] for events that may hold run-time members, whose keys and
    /// strings are in `text` (a [`Decoded`]'s or a [`crate::FieldBuf`]'s).
    pub fn write_events(&mut self, events: &[Event<'_>], text: &[u8], out: &mut Vec<u8>) {
        self.sheet(out, |w, sheet| w.object(events, text, sheet, 0));
    }

    fn object(
        &mut self,
        events: &[Event<'_>],
        text: &[u8],
        sheet: &mut Sheet<'_>,
        pos: usize,
    ) -> usize {
        let base = self.scratch.len();
        let mut i = 0;
        // Codecs that emit members in key order skip the sort and the duplicate checks.
        let mut ascending = true;
        // Run-time members are kept in the order they came (see `crate::dynamic`).
        let mut dynamic = false;
        while let Some(event) = events.get(i) {
            let (name, channel) = event.key();
            let member = Member::new(name, channel, i as u32);
            if let Some(last) = self.scratch.last()
                && self.scratch.len() > base
            {
                ascending &= last.cmp_key(&member) == Ordering::Less;
            }
            dynamic |= event.is_dyn();
            self.scratch.push(member);
            i = i.saturating_add(1 + event.subtree_len());
        }
        ascending |= dynamic;
        if !ascending && let Some(members) = self.scratch.get_mut(base..) {
            // Equal keys end up adjacent and in input order.
            members.sort_unstable_by(|a, b| a.cmp_key(b).then(a.index.cmp(&b.index)));
        }
        let mut pos = sheet.write(pos, 1, |b, p| put_byte(b, p, b'{'));
        let end = self.scratch.len();
        let mut first = true;
        for k in base..end {
            let Some(&m) = self.scratch.get(k) else { break };
            if !ascending
                && let Some(next) = self.scratch.get(k + 1)
                && k + 1 < end
                && next.cmp_key(&m) == Ordering::Equal
            {
                continue;
            }
            let Some(event) = events.get(m.index as usize) else {
                continue;
            };
            // A comma, the quoted name escaped, `_255` and `":`.
            let key_bound = 1 + 6 * m.name.len() + 7;
            let key = |b: &mut [u8], p: usize| {
                let p = if first { p } else { put_byte(b, p, b',') };
                put_key(b, p, m.name, m.channel)
            };
            pos = match event {
                Event::Field(f) => sheet.write(pos, key_bound + bound_of(&f.value), |b, p| {
                    let p = key(b, p);
                    put_value(b, p, &f.value)
                }),
                Event::Open { .. } => {
                    let pos = sheet.write(pos, key_bound, key);
                    self.container(events, m.index as usize, text, sheet, pos)
                }
                Event::Dyn { key: k, value } => {
                    let (k, v) = (k.resolve(text), value.resolve(text));
                    sheet.write(pos, 8 + 6 * k.len() + dyn_bound(&v), |b, p| {
                        let p = if first { p } else { put_byte(b, p, b',') };
                        let p = put_dyn_key(b, p, k);
                        put_dyn_value(b, p, &v)
                    })
                }
                Event::DynOpen { key: k, .. } => {
                    let k = k.resolve(text);
                    let pos = sheet.write(pos, 8 + 6 * k.len(), |b, p| {
                        let p = if first { p } else { put_byte(b, p, b',') };
                        put_dyn_key(b, p, k)
                    });
                    self.container(events, m.index as usize, text, sheet, pos)
                }
            };
            first = false;
        }
        self.scratch.truncate(base);
        sheet.write(pos, 1, |b, p| put_byte(b, p, b'}'))
    }

    /// Writes the container opened by event `i` (an object or an array).
    fn container(
        &mut self,
        events: &[Event<'_>],
        i: usize,
        text: &[u8],
        sheet: &mut Sheet<'_>,
        pos: usize,
    ) -> usize {
        let (container, len) = match events.get(i) {
            Some(&Event::Open { container, len, .. } | &Event::DynOpen { container, len, .. }) => {
                (container, len)
            }
            _ => return sheet.write(pos, 4, |b, p| put_bytes(b, p, b"null")),
        };
        let start = i + 1;
        let end = start.saturating_add(len as usize).min(events.len());
        let inner = events.get(start..end).unwrap_or_default();
        match container {
            Container::Object => self.object(inner, text, sheet, pos),
            Container::Array => self.array(inner, text, sheet, pos),
        }
    }

    fn array(
        &mut self,
        events: &[Event<'_>],
        text: &[u8],
        sheet: &mut Sheet<'_>,
        pos: usize,
    ) -> usize {
        let mut pos = sheet.write(pos, 1, |b, p| put_byte(b, p, b'['));
        let mut i = 0;
        while let Some(event) = events.get(i) {
            let comma = i > 0;
            pos = match event {
                Event::Field(f) => sheet.write(pos, 1 + bound_of(&f.value), |b, p| {
                    let p = if comma { put_byte(b, p, b',') } else { p };
                    put_value(b, p, &f.value)
                }),
                Event::Dyn { value, .. } => {
                    let v = value.resolve(text);
                    sheet.write(pos, 1 + dyn_bound(&v), |b, p| {
                        let p = if comma { put_byte(b, p, b',') } else { p };
                        put_dyn_value(b, p, &v)
                    })
                }
                Event::Open { .. } | Event::DynOpen { .. } => {
                    let pos =
                        sheet.write(pos, 1, |b, p| if comma { put_byte(b, p, b',') } else { p });
                    self.container(events, i, text, sheet, pos)
                }
            };
            i = i.saturating_add(1 + event.subtree_len());
        }
        sheet.write(pos, 1, |b, p| put_byte(b, p, b']'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, Field, FieldBuf, Sink, Value};
    use alloc::string::String;

    /// What `f` appends, as text (for this module's tests and its children's).
    pub(super) fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
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
    fn output_larger_than_the_buffer() {
        extern crate std;
        let mut b = FieldBuf::<600>::new();
        let names: Vec<String> = (0..500).map(|i| alloc::format!("m{i:04}")).collect();
        let names: Vec<&'static str> = names.into_iter().map(|n| &*n.leak()).collect();
        for (i, &n) in names.iter().enumerate().rev() {
            b.field(Field::new(
                n,
                Some(200),
                Value::Decimal {
                    digits: -(i as i64) * 7,
                    scale: 3,
                },
            ))
            .unwrap();
        }
        let long: &'static str = std::string::String::from("x\"y").repeat(2000).leak();
        b.field(Field::new("zz", None, Value::Str(long))).unwrap();
        let mut w = JsonWriter::new();
        let mut out = Vec::new();
        w.write_object(b.events(), &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o.len(), 501);
        assert_eq!(o["m0499_200"], serde_json::json!(-3.493));
        assert_eq!(o["zz"].as_str().unwrap().len(), 6000);
        assert!(out.starts_with(b"{\"m0000_200\":0,\"m0001_200\":-0.007,"));
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
            text: &[],
            notes: &[],
            normalized: None,
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
            text: &[],
            notes: &[],
            normalized: None,
        };
        assert_eq!(text(|o| empty.write_json(o)), r#"{"data":{}}"#);
    }
}
