//! The channel/type engine: one loop over `[channel][type][value]` pairs, driven by a model's
//! table of rules.
//!
//! A model's decoder in the device repository is a chain of `if (channel_id === .. &&
//! channel_type === ..)` tests; a [`Rule`] is one link of that chain, in the same order (the
//! first match wins), and says how the value reads: a list of [`Item`]s for what a table can
//! say, a [`Custom`] routine for what it cannot. Values some decoders gather across pairs (a
//! `history` array, a `line_1` object filled by three pairs) are [`Read::Into`] rules: the first
//! pass skips them, and one pass per gathered container emits it whole, so that the output is
//! one container, not a repeated key.
//!
//! The chain is not searched per pair: a [`Table`], built at compile time from the rules, finds
//! a pair's rule by its channel id and a test or two of its type, with the value's size where
//! the items say it, checked once before they read.
//!
//! The pairs' path, in instructions a frame on the codecs bench's mix (decode-only through the
//! registry, `benches/icount.sh`): 618.9 to 550.8 with a value of one number read without the
//! loop over items (to 604.2), the rule's variant a plain byte (`#[repr(u8)]` on [`Read`], to
//! 581.6), the table's tests holding their rules by reference (566.7), the gathering pass over
//! the containers met only (556.9) and the payload's lone last byte looked up off the pairs'
//! path (550.8; before the rule references, 584.0 against 581.6, not kept then). Then to
//! 505.5: a one-number rule's name, integer type and decimal scaling held in its table test,
//! read without its rule, its items or its item (511.1), [`KeyChannel`]'s `of` inlined (508.9)
//! and a list's first test masked into range (505.5). Tried and not kept (against 511.1 or
//! 508.9): the pairs that are not one number through a function out of line, so that the loop
//! keeps its values in registers (578.4), only routines, gathered and passed-over pairs out of
//! line (537.1); the gathered pairs' positions noted in the first pass, so that the pass per
//! container reads those only (509.9-516.8: the larger set-up outweighs the walk saved); a
//! test holding its rule's items too, in an enum with the one number (520.0: a switch on the
//! tag, and the payload's length spilled); `decode` inlined into the codec's entry (511.7).
//! Later, against 477.5 (concrete) and 3,140.0 with JSON: a lone label (`[Item::Enum]`, 0.52
//! pairs a frame) read from its table test as the one number is, 468.2-479.4 decode-only and
//! 3,141.6-3,191.6 with JSON by how its branch and the items' path were arranged, never lower
//! on both. The benches' README has the rest, and where the count goes.

mod items;
mod parse;
mod table;

pub use items::{Bit, BitOut, Div, Int, Item, ONE, Version, items_size, read_items};

use items::{read_items_at, read_num, read_undefined};
use lorafield_core::dynamic::{DynValue, Note};
use lorafield_core::{Container, DecodeError, ErrorKind, Field, MAX_WARNINGS, Sink, Value};
pub use parse::{FieldOf, be_u16, field, le_i16, parse, take, u8};
pub use table::Table;
use table::{ABSENT, Found};

/// Which channel id or type byte a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Id {
    /// This byte.
    Is(u8),
    /// Any byte but this one.
    Not(u8),
    /// Any byte.
    Any,
    /// One of these.
    In(&'static [u8]),
}

/// One link of a model's chain of tests.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The channel id it matches.
    pub channel: Id,
    /// The channel type it matches.
    pub ty: Id,
    /// How its value reads.
    pub read: Read,
}

/// A rule matching channel `c` and type `t`, reading `items`.
pub const fn rule(c: u8, t: u8, items: &'static [Item]) -> Rule {
    Rule {
        channel: Id::Is(c),
        ty: Id::Is(t),
        read: Read::Items(items),
    }
}

/// A routine for a value a table cannot describe: it gets the bytes after the pair's two bytes
/// (to the end of the payload), the channel id and type, and a sink; it returns how many bytes
/// the value took. It must not read past what it returns, report a short value as
/// [`ErrorKind::UnexpectedEof`], and emit nothing when it fails to read: it reads its whole
/// value first (with nom parsers, see [`parse()`]), then emits. The engine calls it once.
pub type Custom = for<'a> fn(&'a [u8], u8, u8, &mut dyn Sink<'a>) -> Result<usize, ErrorKind>;

/// How a rule's value reads.
// A plain byte first for the variant, which every pair tests: without it the variant is
// folded into a niche of `Gather`'s and worked out with a subtraction and a move per pair.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub enum Read {
    /// Items at the top level of the result.
    Items(&'static [Item]),
    /// Items added to a container gathered across pairs.
    Into(Gather, &'static [Item]),
    /// A routine writing at the top level.
    Custom(Custom),
    /// A routine adding to a container gathered across pairs.
    IntoCustom(Gather, Custom),
    /// The decoder has no `else`: a pair no earlier test takes is passed over (its two bytes)
    /// and decoding goes on. Put last, with [`Id::Any`] for both bytes; it warns, like a stop,
    /// the first [`SKIP_WARNINGS`] times in a frame.
    SkipPair,
}

/// A container filled by several pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gather {
    /// Its key.
    pub name: &'static str,
    /// How its key's channel suffix (`line_2`) comes from the pair's channel id, if it has one.
    pub channel: KeyChannel,
    /// Array of one object per pair, or one object the pairs add members to.
    pub shape: Shape,
}

/// The shape of a gathered container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `name: [{..}, {..}]`: each pair appends an object.
    Array,
    /// `name: {..}`: each pair adds members.
    Object,
}

/// The channel suffix of a gathered container's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChannel {
    /// No suffix.
    None,
    /// `(channel id - base) / step + first`.
    FromId {
        /// The channel id of the first container.
        base: u8,
        /// Channel ids between two containers.
        step: u8,
        /// The first container's number.
        first: u8,
    },
}

impl KeyChannel {
    // Inlined into the engine's passes, which are built in the sink's crate: else a call
    // through the GOT per gathered pair (511.1 to 508.9 instructions a frame).
    #[inline]
    fn of(self, channel: u8) -> Option<u8> {
        match self {
            KeyChannel::None => None,
            KeyChannel::FromId { base, step, first } => {
                Some((channel.wrapping_sub(base) / step.max(1)).wrapping_add(first))
            }
        }
    }
}

/// A sink that keeps nothing: for passes that only need a value's size.
pub struct Discard;

impl<'a> Sink<'a> for Discard {
    fn field(&mut self, _: Field<'a>) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// A sink behind a reference, itself `Sized` (so that it can be passed on as a `dyn Sink` to
/// routines), whatever the sink is. The engine wraps its sink in one only to call a routine:
/// around the whole frame, it would keep the sink's own state (a `FieldBuf`'s event count) out
/// of registers.
///
/// It forwards every method of [`Sink`], not only the required one: a default left in place
/// here would hide the sink's own (a [`Sink::object`] the core's store and JSON writer take in
/// one step would reach them as an open, its fields and a close).
pub struct SinkRef<'s, S: ?Sized>(pub &'s mut S);

impl<'a, S: Sink<'a> + ?Sized> Sink<'a> for SinkRef<'_, S> {
    fn field(&mut self, field: Field<'a>) -> Result<(), ErrorKind> {
        self.0.field(field)
    }
    fn open(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        c: Container,
    ) -> Result<(), ErrorKind> {
        self.0.open(name, channel, c)
    }
    #[inline(always)]
    fn close(&mut self) -> Result<(), ErrorKind> {
        self.0.close()
    }
    #[inline(always)]
    fn object(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        members: &[Field<'a>],
    ) -> Result<(), ErrorKind> {
        self.0.object(name, channel, members)
    }
    #[inline(always)]
    fn warning(&mut self, warning: DecodeError) -> Result<(), ErrorKind> {
        self.0.warning(warning)
    }
    #[inline]
    fn dyn_field(&mut self, key: &str, value: DynValue<'_>) -> Result<(), ErrorKind> {
        self.0.dyn_field(key, value)
    }
    #[inline]
    fn dyn_open(&mut self, key: &str, container: Container) -> Result<(), ErrorKind> {
        self.0.dyn_open(key, container)
    }
    #[inline]
    fn note(&mut self, note: Note<'_>) -> Result<(), ErrorKind> {
        self.0.note(note)
    }
    #[inline]
    fn normalized(&mut self, json: &str) -> Result<(), ErrorKind> {
        self.0.normalized(json)
    }
}

/// A gathered container met in the first pass: its number in the table and its channel
/// suffix (together, its key), its name and shape.
#[derive(Debug, Clone, Copy)]
struct Gathered {
    container: u8,
    channel: Option<u8>,
    name: &'static str,
    shape: Shape,
}

impl Gathered {
    /// Whether the pair `found` on channel id `channel` adds to this container.
    #[inline]
    fn takes(&self, found: &Found, g: Gather, channel: u8) -> bool {
        found.container == self.container && g.channel.of(channel) == self.channel
    }
}

/// How many pairs passed over ([`Read::SkipPair`]) a frame warns of: one less than a
/// `FieldBuf` or the JSON writer holds, so that where decoding stops (a pair it does not know,
/// the lone last byte) its own warning always has room. Were it refused, the frame would end
/// in a `sink_full` error where the decoder returns its data.
pub const SKIP_WARNINGS: u8 = MAX_WARNINGS as u8 - 1;

/// How many distinct gathered containers a frame may have.
const MAX_GATHERED: usize = 16;

/// The gathered containers of a frame, in the order met.
#[derive(Debug, Clone, Copy)]
struct Containers {
    keys: [Option<Gathered>; MAX_GATHERED],
}

impl Containers {
    /// Notes the container `g` (number `container`) of a pair on channel id `channel` as met.
    fn add(&mut self, g: Gather, container: u8, channel: u8) -> Result<(), ErrorKind> {
        let key = Gathered {
            container,
            channel: g.channel.of(channel),
            name: g.name,
            shape: g.shape,
        };
        for slot in &mut self.keys {
            match slot {
                Some(k) if (k.container, k.channel) == (key.container, key.channel) => {
                    return Ok(());
                }
                Some(_) => {}
                None => {
                    *slot = Some(key);
                    return Ok(());
                }
            }
        }
        Err(ErrorKind::SinkFull)
    }
}

/// Decodes `payload` with `table` into `sink`.
pub fn decode<'a, S: Sink<'a> + ?Sized>(
    table: &Table,
    payload: &'a [u8],
    sink: &mut S,
) -> Result<(), DecodeError> {
    // Set up on the first gathered pair only: most frames have none.
    let mut gathered: Option<Containers> = None;
    let mut skipped = 0;
    let mut pos = 0;
    let mut error = None;
    // First pass: top-level values, the end of what decodes, the gathered containers.
    while pos < payload.len() {
        match first_pass(table, payload, pos, sink, &mut gathered, &mut skipped) {
            Ok(Some(n)) => pos += n,
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if let Some(gathered) = &gathered {
        gather_pass(table, payload, pos, gathered, sink)?;
    }
    error.map_or(Ok(()), Err)
}

/// One pass per gathered container, over the pairs that decoded (up to `end`, where the first
/// pass stopped).
#[cold]
#[inline(never)]
fn gather_pass<'a, S: Sink<'a> + ?Sized>(
    table: &Table,
    payload: &'a [u8],
    end: usize,
    gathered: &Containers,
    sink: &mut S,
) -> Result<(), DecodeError> {
    // Up to the first free slot: the slots fill in order, and most stay free.
    for key in gathered.keys.iter().map_while(Option::as_ref) {
        let container = match key.shape {
            Shape::Array => Container::Array,
            Shape::Object => Container::Object,
        };
        let at = |k| DecodeError::new(0, k);
        sink.open(key.name, key.channel, container).map_err(at)?;
        let mut pos = 0;
        while let Some(&[channel, ty, ref value @ ..]) = payload.get(pos..).filter(|_| pos < end) {
            let Some(found) = table.find(channel, ty.into()) else {
                break;
            };
            let fail = |k| DecodeError::new(pos, k);
            let n = match found.rule.read {
                Read::Into(g, items) if key.takes(&found, g, channel) => match key.shape {
                    Shape::Array => element(sink, |s| read_items_at(items, payload, pos + 2, s)),
                    Shape::Object => read_items_at(items, payload, pos + 2, sink),
                },
                Read::IntoCustom(g, f) if key.takes(&found, g, channel) => match key.shape {
                    Shape::Array => element(sink, |s| f(value, channel, ty, &mut SinkRef(s))),
                    Shape::Object => f(value, channel, ty, &mut SinkRef(sink)),
                },
                _ => skip(found.rule.read, found.size, value, channel, ty),
            }
            .map_err(fail)?;
            pos += 2 + n;
        }
        sink.close().map_err(at)?;
    }
    Ok(())
}

/// The pair at `pos` in the first pass: `Some(size)` when it decoded, `None` when decoding
/// stops there (a pair the model does not know: a warning). `skipped` counts the
/// warnings of pairs passed over.
#[inline(always)]
fn first_pass<'a, S: Sink<'a> + ?Sized>(
    table: &Table,
    payload: &'a [u8],
    pos: usize,
    sink: &mut S,
    gathered: &mut Option<Containers>,
    skipped: &mut u8,
) -> Result<Option<usize>, DecodeError> {
    let rest = payload.get(pos..).unwrap_or_default();
    let fail = |k| DecodeError::new(pos, k);
    let (channel, ty) = match *rest {
        [channel, ty, ..] => (channel, ty),
        // Off the pairs' path: a type byte that is always there is a byte, not a `u16`.
        [channel] => return lone_byte(table, channel, pos, sink).map(|()| None),
        [] => return Ok(None),
    };
    let Some(test) = table.test(channel, ty.into()) else {
        return stop(sink, pos, channel, ty.into()).map(|()| None);
    };
    // One integer printed as a decimal, the commonest value, from the test alone.
    if let Some(int) = test.num {
        let Some(raw) = int.read_int(payload, pos + 2) else {
            return Err(fail(ErrorKind::UnexpectedEof));
        };
        let value = Value::Decimal {
            digits: raw * i64::from(test.mul),
            scale: test.scale,
        };
        sink.field(Field::new(test.name, None, value))
            .map_err(fail)?;
        return Ok(Some(2 + test.size()));
    }
    let Some(rule) = test.rule() else {
        return stop(sink, pos, channel, ty.into()).map(|()| None);
    };
    let size = test.size();
    // A pair whose value is cut short leaves nothing: its size is checked before it emits.
    // Items first, the commonest read, on a branch of their own.
    if let Read::Items(items) = rule.read {
        if pos + 2 + size > payload.len() {
            return Err(fail(ErrorKind::UnexpectedEof));
        }
        // One number, the commonest value, without the loop over items.
        if let [Item::Num(name, int, div)] = *items {
            read_num(name, int, div, payload, pos + 2, sink).map_err(fail)?;
        } else {
            read_items_at(items, payload, pos + 2, sink).map_err(fail)?;
        }
        return Ok(Some(2 + size));
    }
    let value = rest.get(2..).unwrap_or_default();
    let n = match rule.read {
        Read::Items(_) => Ok(size),
        // A routine reads its whole value before it emits.
        Read::Custom(f) => f(value, channel, ty, &mut SinkRef(sink)),
        // Gathered only once its value proved whole: a cut record adds no empty container.
        Read::Into(g, _) | Read::IntoCustom(g, _) => skip(rule.read, size, value, channel, ty)
            .and_then(|n| {
                let containers = gathered.get_or_insert(Containers {
                    keys: [None; MAX_GATHERED],
                });
                containers.add(g, test.container(), channel).map(|()| n)
            }),
        Read::SkipPair => {
            // The first few only, leaving room for the stop's; best effort all the same: a
            // sink that holds fewer must not turn a full warning list into an error.
            if *skipped < SKIP_WARNINGS {
                *skipped += 1;
                let _ = sink.warning(fail(ErrorKind::UnknownPair { channel, ty }));
            }
            Ok(0)
        }
    }
    .map_err(fail)?;
    Ok(Some(2 + n))
}

/// Where no rule takes the pair at `pos`: a warning (an unknown pair, or the payload's lone
/// last byte).
#[cold]
#[inline(never)]
fn stop<'a, S: Sink<'a> + ?Sized>(
    sink: &mut S,
    pos: usize,
    channel: u8,
    ty: u16,
) -> Result<(), DecodeError> {
    let kind = match u8::try_from(ty) {
        Ok(ty) => ErrorKind::UnknownPair { channel, ty },
        Err(_) => ErrorKind::UnexpectedEof,
    };
    let fail = |k| DecodeError::new(pos, k);
    sink.warning(fail(kind)).map_err(fail)
}

/// The payload's lone last byte at `pos`, channel id `channel`: a channel without a type or
/// value. Where a rule takes it, labels and flags read from bytes that are not there come out
/// as the decoders compute them from `undefined`; anything else stops. Either way, a warning
/// says the payload ended inside a pair.
#[cold]
#[inline(never)]
fn lone_byte<'a, S: Sink<'a> + ?Sized>(
    table: &Table,
    channel: u8,
    pos: usize,
    sink: &mut S,
) -> Result<(), DecodeError> {
    let Some(found) = table.find(channel, ABSENT) else {
        return stop(sink, pos, channel, ABSENT);
    };
    if let Read::Items(items) = found.rule.read {
        let _ = read_undefined(items, sink);
    }
    let fail = |k| DecodeError::new(pos, k);
    sink.warning(fail(ErrorKind::UnexpectedEof)).map_err(fail)
}

/// One object element of a gathered array.
fn element<'a, S: Sink<'a> + ?Sized>(
    sink: &mut S,
    read: impl FnOnce(&mut S) -> Result<usize, ErrorKind>,
) -> Result<usize, ErrorKind> {
    sink.open("", None, Container::Object)?;
    let n = read(sink)?;
    sink.close()?;
    Ok(n)
}

/// The size of a rule's value, emitting nothing: `size`, the table's, where items say it.
#[inline]
fn skip(read: Read, size: usize, value: &[u8], channel: u8, ty: u8) -> Result<usize, ErrorKind> {
    match read {
        Read::Items(_) | Read::Into(..) if size <= value.len() => Ok(size),
        Read::Items(_) | Read::Into(..) => Err(ErrorKind::UnexpectedEof),
        Read::Custom(f) | Read::IntoCustom(_, f) => f(value, channel, ty, &mut Discard),
        Read::SkipPair => Ok(0),
    }
}
