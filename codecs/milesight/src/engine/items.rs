//! Items: the pieces a rule's value reads, with the number semantics of the decoders'
//! JavaScript.

use lorafield_core::{Container, ErrorKind, Field, Sink, Value};

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

    // Inlined, like `Div::apply` and `label`: returned through memory, the small enums these
    // produce are loaded back wider than they were stored, which stalls.
    #[inline(always)]
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
    #[inline(always)]
    fn apply(self, raw: Raw) -> Value<'static> {
        let raw = match raw {
            Raw::Float(f) => return Value::F64(f / f64::from(self.0)),
            Raw::Int(i) => i,
        };
        let decimal = |digits, scale| Value::Decimal { digits, scale };
        // The divisors the decoders use, without a loop; any other power of ten below.
        match self.0 {
            1 => decimal(raw, 0),
            2 => decimal(raw * 5, 1),
            10 => decimal(raw, 1),
            100 => decimal(raw, 2),
            1000 => decimal(raw, 3),
            d if is_power_of_ten(d) => decimal(raw, d.ilog10() as u8),
            d => Value::F64(raw as f64 / f64::from(d)),
        }
    }
}

const fn is_power_of_ten(mut d: u32) -> bool {
    if d == 0 {
        return false;
    }
    while d.is_multiple_of(10) {
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

#[inline(always)]
fn label(table: &[(i64, &'static str)], default: &'static str, v: i64) -> Value<'static> {
    Value::Str(
        table
            .iter()
            .find(|(k, _)| *k == v)
            .map_or(default, |(_, s)| s),
    )
}

/// Reads `items` from `value` into `sink`; returns the bytes they took.
#[inline(always)]
pub fn read_items<'a, S: Sink<'a> + ?Sized>(
    items: &[Item],
    value: &'a [u8],
    sink: &mut S,
) -> Result<usize, ErrorKind> {
    let mut at = 0;
    for item in items {
        at += read_item(item, value.get(at..).unwrap_or_default(), sink)?;
    }
    Ok(at)
}

/// Reads one `item` from the start of `rest` into `sink`; returns the bytes it took.
#[inline(always)]
pub(super) fn read_item<'a, S: Sink<'a> + ?Sized>(
    item: &Item,
    rest: &'a [u8],
    sink: &mut S,
) -> Result<usize, ErrorKind> {
    let int = |int: Int| int.read(rest).ok_or(ErrorKind::UnexpectedEof);
    let emit = |sink: &mut S, name, v| sink.field(Field::new(name, None, v));
    Ok(match *item {
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
        Item::Object(name, inner) => read_object(name, inner, rest, sink)?,
        Item::Skip(n) => {
            if rest.len() < usize::from(n) {
                return Err(ErrorKind::UnexpectedEof);
            }
            usize::from(n)
        }
    })
}

/// `name: {items}`.
#[inline(never)]
fn read_object<'a, S: Sink<'a> + ?Sized>(
    name: &'static str,
    items: &[Item],
    value: &'a [u8],
    sink: &mut S,
) -> Result<usize, ErrorKind> {
    sink.open(name, None, Container::Object)?;
    let n = read_items(items, value, sink)?;
    sink.close()?;
    Ok(n)
}

/// The bytes `items` take.
#[inline]
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

/// Items read from bytes that are not there, as the decoders compute them from `undefined`: no
/// label equals it (the default), `undefined == 0` is false (`true`); numbers stop it.
pub(super) fn read_undefined<'a, S: Sink<'a>>(
    items: &[Item],
    sink: &mut S,
) -> Result<(), ErrorKind> {
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
