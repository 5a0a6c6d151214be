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

use lorafield_core::{Container, DecodeError, ErrorKind, Field, Sink, Value};

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

impl Id {
    /// Whether a type byte that is not there (the payload's lone last byte) passes the test:
    /// in the decoders `channel_type` is then `undefined`, unequal to everything.
    fn matches_absent(self) -> bool {
        matches!(self, Id::Any | Id::Not(_))
    }

    #[inline]
    fn matches(self, b: u8) -> bool {
        match self {
            Id::Is(x) => b == x,
            Id::Not(x) => b != x,
            Id::Any => true,
            Id::In(set) => set.contains(&b),
        }
    }
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
/// the value took. It must not read past what it returns, and report a short value as
/// [`ErrorKind::UnexpectedEof`].
pub type Custom = for<'a> fn(&'a [u8], u8, u8, &mut dyn Sink<'a>) -> Result<usize, ErrorKind>;

/// How a rule's value reads.
#[derive(Debug, Clone, Copy)]
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
    /// and decoding goes on. Put last, with [`Id::Any`] for both bytes; it warns, like a stop.
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
    fn of(self, channel: u8) -> Option<u8> {
        match self {
            KeyChannel::None => None,
            KeyChannel::FromId { base, step, first } => {
                Some((channel.wrapping_sub(base) / step.max(1)).wrapping_add(first))
            }
        }
    }
}

/// How an integer is stored, and the quirks of the JavaScript that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int {
    /// One byte, unsigned.
    U8,
    /// One byte, two's complement.
    I8,
    /// Two bytes little-endian, unsigned.
    U16,
    /// Two bytes little-endian, two's complement.
    I16,
    /// Four bytes little-endian, unsigned.
    U32,
    /// Four bytes little-endian as the decoders' `readUInt32LE` computes them with `& 0xffffffff`
    /// and no `>>> 0`: a JavaScript bit operation, so values from 2^31 come out negative.
    U32Js,
    /// Four bytes little-endian, two's complement.
    I32,
    /// Four bytes little-endian, an IEEE single as the decoders' `readFloatLE` computes it
    /// (sign * mantissa * 2^(exponent - 150), so infinities and NaNs come out as large finite
    /// numbers).
    F32,
    /// Two bytes big-endian, unsigned.
    U16Be,
}

/// A number read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Raw {
    Int(i64),
    Float(f64),
}

impl Int {
    /// Bytes it takes.
    pub const fn size(self) -> usize {
        match self {
            Int::U8 | Int::I8 => 1,
            Int::U16 | Int::I16 | Int::U16Be => 2,
            Int::U32 | Int::U32Js | Int::I32 | Int::F32 => 4,
        }
    }

    fn read(self, bytes: &[u8]) -> Option<Raw> {
        let raw = match self {
            Int::U8 => i64::from(*bytes.first()?),
            Int::I8 => i64::from(*bytes.first()? as i8),
            Int::U16 => i64::from(u16::from_le_bytes(*bytes.first_chunk()?)),
            Int::I16 => i64::from(i16::from_le_bytes(*bytes.first_chunk()?)),
            Int::U16Be => i64::from(u16::from_be_bytes(*bytes.first_chunk()?)),
            Int::U32 => i64::from(u32::from_le_bytes(*bytes.first_chunk()?)),
            Int::U32Js | Int::I32 => i64::from(i32::from_le_bytes(*bytes.first_chunk()?)),
            Int::F32 => {
                return Some(Raw::Float(js_float(u32::from_le_bytes(
                    *bytes.first_chunk()?,
                ))));
            }
        };
        Some(Raw::Int(raw))
    }
}

/// `readFloatLE` of the decoders: sign * m * 2^(e - 150), in doubles.
fn js_float(bits: u32) -> f64 {
    let sign = if bits >> 31 == 0 { 1.0 } else { -1.0 };
    let e = (bits >> 23) & 0xff;
    let m = if e == 0 {
        (bits & 0x7f_ffff) << 1
    } else {
        (bits & 0x7f_ffff) | 0x80_0000
    };
    sign * f64::from(m) * pow2(e as i32 - 150)
}

/// 2^e as a double, exactly (e in -150..=105).
fn pow2(e: i32) -> f64 {
    // Two steps keep each factor a normal double.
    let half = e / 2;
    f64::from_bits(((1023 + half) as u64) << 52) * f64::from_bits(((1023 + e - half) as u64) << 52)
}

/// What a value is divided by (`/ 10` in the decoder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Div(pub u32);

/// No scaling.
pub const ONE: Div = Div(1);

impl Div {
    /// `raw / divisor` as the decoder computes it: an exact decimal where the divisor is a power
    /// of ten or 2, else the double quotient.
    fn apply(self, raw: Raw) -> Value<'static> {
        let raw = match raw {
            Raw::Float(f) => return Value::F64(f / f64::from(self.0)),
            Raw::Int(i) => i,
        };
        match self.0 {
            2 => Value::Decimal {
                digits: raw * 5,
                scale: 1,
            },
            d if is_power_of_ten(d) => Value::Decimal {
                digits: raw,
                scale: d.ilog10() as u8,
            },
            d => Value::F64(raw as f64 / f64::from(d)),
        }
    }
}

const fn is_power_of_ten(mut d: u32) -> bool {
    if d == 0 {
        return false;
    }
    while d % 10 == 0 {
        d /= 10;
    }
    d == 1
}

/// A piece of a value.
#[derive(Debug, Clone, Copy)]
pub enum Item {
    /// A number, divided.
    Num(&'static str, Int, Div),
    /// A label for the number: the first entry equal to it, else the default.
    Enum(
        &'static str,
        Int,
        &'static [(i64, &'static str)],
        &'static str,
    ),
    /// `number != 0` (`b == 0 ? false : true`).
    Bool(&'static str, Int),
    /// Several fields from the bits of one number, read once.
    Bits(Int, &'static [Bit]),
    /// A number and a unit as one string (`readUInt32LE(..) + "s"`).
    Suffixed(&'static str, Int, &'static str),
    /// A version string (`"v1.2"`).
    Version(&'static str, Version),
    /// Bytes as a hex string (a serial number).
    Hex(&'static str, u8),
    /// A value that reads nothing (`decoded.power = "on"`).
    Const(&'static str, Value<'static>),
    /// An object holding the items (`decoded.x = {..}`); `Object(name, &[])` is `{}`.
    Object(&'static str, &'static [Item]),
    /// Bytes read past (a decoder that advances further than it reads).
    Skip(u8),
}

/// One field from bits of a number: `(number >> shift) & mask`, then printed as `out` says.
#[derive(Debug, Clone, Copy)]
pub struct Bit {
    /// The field's name.
    pub name: &'static str,
    /// Bits to shift right.
    pub shift: u8,
    /// The mask after shifting.
    pub mask: u32,
    /// How it prints.
    pub out: BitOut,
}

/// How a bit field prints.
#[derive(Debug, Clone, Copy)]
pub enum BitOut {
    /// As a number.
    Num,
    /// `!= 0`.
    Bool,
    /// A label: the first entry equal to it, else the default.
    Enum(&'static [(i64, &'static str)], &'static str),
}

/// The version formats of the decoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One byte: the high nibble, the low nibble (`readProtocolVersion`).
    Nibbles,
    /// Two bytes: the first, the high nibble of the second (`readHardwareVersion`).
    MajorHighNibble,
    /// Two bytes: the first, the second (`readSoftwareVersion`).
    MajorMinor,
}

fn label(table: &[(i64, &'static str)], default: &'static str, v: i64) -> Value<'static> {
    Value::Str(
        table
            .iter()
            .find(|(k, _)| *k == v)
            .map_or(default, |(_, s)| s),
    )
}

/// Reads `items` from `value` into `sink`; returns the bytes they took.
pub fn read_items<'a, S: Sink<'a> + ?Sized>(
    items: &[Item],
    value: &'a [u8],
    sink: &mut S,
) -> Result<usize, ErrorKind> {
    let mut at = 0;
    for item in items {
        let rest = value.get(at..).unwrap_or_default();
        let int = |int: Int| int.read(rest).ok_or(ErrorKind::UnexpectedEof);
        let emit = |sink: &mut S, name, v| sink.field(Field::new(name, None, v));
        at += match *item {
            Item::Num(name, i, div) => {
                emit(sink, name, div.apply(int(i)?))?;
                i.size()
            }
            Item::Enum(name, i, table, default) => {
                let Raw::Int(v) = int(i)? else {
                    return Err(ErrorKind::OutOfRange);
                };
                emit(sink, name, label(table, default, v))?;
                i.size()
            }
            Item::Bool(name, i) => {
                let v = match int(i)? {
                    Raw::Int(v) => v != 0,
                    Raw::Float(f) => f != 0.0,
                };
                emit(sink, name, Value::Bool(v))?;
                i.size()
            }
            Item::Bits(i, bits) => {
                let Raw::Int(v) = int(i)? else {
                    return Err(ErrorKind::OutOfRange);
                };
                for b in bits {
                    let x = (v >> b.shift) & i64::from(b.mask);
                    let out = match b.out {
                        BitOut::Num => Value::Decimal {
                            digits: x,
                            scale: 0,
                        },
                        BitOut::Bool => Value::Bool(x != 0),
                        BitOut::Enum(table, default) => label(table, default, x),
                    };
                    emit(sink, b.name, out)?;
                }
                i.size()
            }
            Item::Suffixed(name, i, suffix) => {
                let Raw::Int(v) = int(i)? else {
                    return Err(ErrorKind::OutOfRange);
                };
                emit(sink, name, Value::Suffixed { value: v, suffix })?;
                i.size()
            }
            Item::Version(name, kind) => {
                let (major, minor, size) = match (kind, rest) {
                    (Version::Nibbles, [b, ..]) => (b >> 4, b & 0x0f, 1),
                    (Version::MajorHighNibble, [a, b, ..]) => (*a, b >> 4, 2),
                    (Version::MajorMinor, [a, b, ..]) => (*a, *b, 2),
                    _ => return Err(ErrorKind::UnexpectedEof),
                };
                let (major, minor) = (major.into(), minor.into());
                emit(sink, name, Value::Version { major, minor })?;
                size
            }
            Item::Hex(name, n) => {
                let bytes = rest.get(..usize::from(n)).ok_or(ErrorKind::UnexpectedEof)?;
                emit(sink, name, Value::Bytes(bytes))?;
                usize::from(n)
            }
            Item::Const(name, v) => {
                emit(sink, name, v)?;
                0
            }
            Item::Object(name, inner) => {
                sink.open(name, None, Container::Object)?;
                let n = read_items(inner, rest, sink)?;
                sink.close()?;
                n
            }
            Item::Skip(n) => {
                if rest.len() < usize::from(n) {
                    return Err(ErrorKind::UnexpectedEof);
                }
                usize::from(n)
            }
        };
    }
    Ok(at)
}

/// The bytes `items` take.
pub const fn items_size(items: &[Item]) -> usize {
    let mut size = 0;
    let mut rest = items;
    while let [item, tail @ ..] = rest {
        size += match *item {
            Item::Num(_, i, _)
            | Item::Enum(_, i, _, _)
            | Item::Bool(_, i)
            | Item::Bits(i, _)
            | Item::Suffixed(_, i, _) => i.size(),
            Item::Version(_, Version::Nibbles) => 1,
            Item::Version(_, _) => 2,
            Item::Hex(_, n) | Item::Skip(n) => n as usize,
            Item::Const(..) => 0,
            Item::Object(_, inner) => items_size(inner),
        };
        rest = tail;
    }
    size
}

/// A sink that keeps nothing: for passes that only need a value's size.
pub struct Discard;

impl<'a> Sink<'a> for Discard {
    fn field(&mut self, _: Field<'a>) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// A sink behind a reference, itself `Sized` (so that it can be passed on as a `dyn Sink` to
/// routines), whatever the sink is: the engine's entry point for unsized sinks.
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
    fn warning(&mut self, warning: DecodeError) -> Result<(), ErrorKind> {
        self.0.warning(warning)
    }
}

/// A gathered container met in the first pass: its key and shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gathered {
    name: &'static str,
    channel: Option<u8>,
    shape: Shape,
}

/// How many distinct gathered containers a frame may have.
const MAX_GATHERED: usize = 16;

/// Decodes `payload` with `rules` into `sink`.
pub fn decode<'a, S: Sink<'a>>(
    rules: &'static [Rule],
    payload: &'a [u8],
    sink: &mut S,
) -> Result<(), DecodeError> {
    let mut gathered = [None::<Gathered>; MAX_GATHERED];
    let mut pos = 0;
    let mut error = None;
    // First pass: top-level values, the end of what decodes, the gathered containers.
    while pos < payload.len() {
        match first_pass(rules, payload, pos, sink, &mut gathered) {
            Ok(Some(n)) => pos += n,
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let end = pos;
    // One pass per gathered container, over the pairs that decoded.
    for key in gathered.iter().flatten() {
        let container = match key.shape {
            Shape::Array => Container::Array,
            Shape::Object => Container::Object,
        };
        let at = |k| DecodeError::new(0, k);
        sink.open(key.name, key.channel, container).map_err(at)?;
        let mut pos = 0;
        while pos < end {
            let Some((rule, channel, Some(ty))) = find(rules, payload, pos) else {
                break;
            };
            let value = payload.get(pos + 2..).unwrap_or_default();
            let fail = |k| DecodeError::new(pos, k);
            let n = match rule.read {
                Read::Into(g, items) if is(key, g, channel) => match key.shape {
                    Shape::Array => element(sink, |s| read_items(items, value, s)),
                    Shape::Object => read_items(items, value, sink),
                },
                Read::IntoCustom(g, f) if is(key, g, channel) => match key.shape {
                    Shape::Array => element(sink, |s| f(value, channel, ty, s)),
                    Shape::Object => f(value, channel, ty, sink),
                },
                _ => skip(rule.read, value, channel, ty),
            }
            .map_err(fail)?;
            pos += 2 + n;
        }
        sink.close().map_err(at)?;
    }
    error.map_or(Ok(()), Err)
}

/// The pair at `pos` in the first pass: `Some(size)` when it decoded, `None` when decoding
/// stops there (a pair the model does not know: a warning).
fn first_pass<'a, S: Sink<'a>>(
    rules: &'static [Rule],
    payload: &'a [u8],
    pos: usize,
    sink: &mut S,
    gathered: &mut [Option<Gathered>; MAX_GATHERED],
) -> Result<Option<usize>, DecodeError> {
    let fail = |k| DecodeError::new(pos, k);
    let warn = |sink: &mut S, k| sink.warning(DecodeError::new(pos, k)).map_err(fail);
    let Some((rule, channel, ty)) = find(rules, payload, pos) else {
        let kind = match payload.get(pos..) {
            Some(&[channel, ty, ..]) => ErrorKind::UnknownPair { channel, ty },
            _ => ErrorKind::UnexpectedEof,
        };
        warn(sink, kind)?;
        return Ok(None);
    };
    let Some(ty) = ty else {
        // The lone last byte: a channel without a type or value. Labels and flags read from
        // bytes that are not there come out as the decoders compute them from `undefined`;
        // anything else stops. Either way, a warning says the payload ended inside a pair.
        if let Read::Items(items) = rule.read {
            let _ = read_undefined(items, sink);
        }
        warn(sink, ErrorKind::UnexpectedEof)?;
        return Ok(None);
    };
    if let Read::SkipPair = rule.read {
        // Best effort: a payload of many such pairs must not turn a full warning list into
        // an error.
        let _ = sink.warning(DecodeError::new(
            pos,
            ErrorKind::UnknownPair { channel, ty },
        ));
        return Ok(Some(2));
    }
    let value = payload.get(pos + 2..).unwrap_or_default();
    let mut gather = |g: Gather| {
        let key = Gathered {
            name: g.name,
            channel: g.channel.of(channel),
            shape: g.shape,
        };
        if !gathered.iter().flatten().any(|k| *k == key) {
            let slot = gathered
                .iter_mut()
                .find(|s| s.is_none())
                .ok_or(ErrorKind::SinkFull)?;
            *slot = Some(key);
        }
        Ok(())
    };
    // A pair whose value is cut short leaves nothing: its size is checked before it emits.
    let n = match rule.read {
        Read::Items(items) => match items_size(items) <= value.len() {
            true => read_items(items, value, sink),
            false => Err(ErrorKind::UnexpectedEof),
        },
        Read::Custom(f) => {
            f(value, channel, ty, &mut Discard).and_then(|_| f(value, channel, ty, sink))
        }
        // Gathered only once its value proved whole: a cut record adds no empty container.
        Read::Into(g, _) | Read::IntoCustom(g, _) => {
            skip(rule.read, value, channel, ty).and_then(|n| gather(g).map(|()| n))
        }
        Read::SkipPair => Ok(0),
    }
    .map_err(fail)?;
    Ok(Some(2 + n))
}

fn is(key: &Gathered, g: Gather, channel: u8) -> bool {
    key.name == g.name && key.shape == g.shape && key.channel == g.channel.of(channel)
}

/// One object element of a gathered array.
fn element<'a, S: Sink<'a>>(
    sink: &mut S,
    read: impl FnOnce(&mut S) -> Result<usize, ErrorKind>,
) -> Result<usize, ErrorKind> {
    sink.open("", None, Container::Object)?;
    let n = read(sink)?;
    sink.close()?;
    Ok(n)
}

/// The size of a rule's value, emitting nothing.
fn skip(read: Read, value: &[u8], channel: u8, ty: u8) -> Result<usize, ErrorKind> {
    match read {
        Read::Items(items) | Read::Into(_, items) => read_items(items, value, &mut Discard),
        Read::Custom(f) | Read::IntoCustom(_, f) => f(value, channel, ty, &mut Discard),
        Read::SkipPair => Ok(0),
    }
}

/// The first rule matching the pair at `pos`, with the pair's channel id and type (none for
/// the payload's lone last byte).
fn find(
    rules: &'static [Rule],
    payload: &[u8],
    pos: usize,
) -> Option<(&'static Rule, u8, Option<u8>)> {
    let (channel, ty) = match payload.get(pos..)? {
        &[channel, ty, ..] => (channel, Some(ty)),
        &[channel] => (channel, None),
        [] => return None,
    };
    let rule = rules.iter().find(|r| {
        r.channel.matches(channel) && ty.map_or(r.ty.matches_absent(), |t| r.ty.matches(t))
    })?;
    Some((rule, channel, ty))
}

/// Items read from bytes that are not there, as the decoders compute them from `undefined`: no
/// label equals it (the default), `undefined == 0` is false (`true`); numbers stop it.
fn read_undefined<'a, S: Sink<'a>>(items: &[Item], sink: &mut S) -> Result<(), ErrorKind> {
    for item in items {
        match *item {
            Item::Enum(name, _, _, default) => {
                sink.field(Field::new(name, None, Value::Str(default)))?;
            }
            Item::Bool(name, _) => sink.field(Field::new(name, None, Value::Bool(true)))?,
            Item::Const(name, v) => sink.field(Field::new(name, None, v))?,
            Item::Skip(_) => {}
            _ => return Err(ErrorKind::UnexpectedEof),
        }
    }
    Ok(())
}
