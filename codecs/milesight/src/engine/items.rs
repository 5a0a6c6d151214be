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

    /// The number at `at` in `bytes`, none where the bytes end first.
    // Inlined, like `Div::apply` and `label`: returned through memory, the small enums these
    // produce are loaded back wider than they were stored, which stalls. A jump table on the
    // type: reading the four bytes ending where the number ends and shifting (as the Cayenne
    // LPP codec does) took 56 instructions a frame more on the codecs bench's mix. Kept apart
    // from `read_int`, whose seven integer arms it repeats: `read` as `read_int` after the
    // `F32` test took 482.2 instructions a frame against 477.5 (decode-only, concrete), and
    // `read_int` first with `F32`'s bits made a float after, 481.9.
    #[inline(always)]
    fn read(self, bytes: &[u8], at: usize) -> Option<Raw> {
        let bytes = bytes.get(at..)?;
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

impl Int {
    /// The integer at `at` in `bytes`, none where the bytes end first; for [`Int::F32`], its
    /// bits as [`Int::I32`]'s (the table's one-number tests hold integer types only).
    // A jump table on the type, as in `read`.
    #[inline(always)]
    pub(super) fn read_int(self, bytes: &[u8], at: usize) -> Option<i64> {
        let bytes = bytes.get(at..)?;
        Some(match self {
            Int::U8 => i64::from(*bytes.first()?),
            Int::I8 => i64::from(*bytes.first()? as i8),
            Int::U16 => i64::from(u16::from_le_bytes(*bytes.first_chunk()?)),
            Int::I16 => i64::from(i16::from_le_bytes(*bytes.first_chunk()?)),
            Int::U16Be => i64::from(u16::from_be_bytes(*bytes.first_chunk()?)),
            Int::U32 => i64::from(u32::from_le_bytes(*bytes.first_chunk()?)),
            Int::U32Js | Int::I32 | Int::F32 => {
                i64::from(i32::from_le_bytes(*bytes.first_chunk()?))
            }
        })
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

/// What a value is divided by (`/ 10` in the decoder), with how the quotient prints worked
/// out when it is made: an exact decimal where the divisor is a power of ten or 2, else the
/// double quotient. Made by [`Div()`], at compile time in the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Div {
    divisor: u32,
    /// What the digits are multiplied by for the decimal (5 for a divisor of 2); 0 where the
    /// quotient is a double.
    mul: u8,
    /// The decimal's scale.
    scale: u8,
}

/// Divided by `divisor` (`Div(10)`): a function named as the type it makes, as a tuple
/// struct's constructor is, so that tables read `Div(10)`.
#[allow(non_snake_case)]
pub const fn Div(divisor: u32) -> Div {
    let (mul, scale) = match divisor {
        2 => (5, 1),
        d if is_power_of_ten(d) => (1, d.ilog10() as u8),
        _ => (0, 0),
    };
    Div {
        divisor,
        mul,
        scale,
    }
}

/// No scaling.
pub const ONE: Div = Div(1);

impl Div {
    /// The divisor.
    pub const fn divisor(self) -> u32 {
        self.divisor
    }

    /// What the digits are multiplied by for the decimal; 0 where the quotient is a double.
    pub(super) const fn mul(self) -> u8 {
        self.mul
    }

    /// The decimal's scale.
    pub(super) const fn scale(self) -> u8 {
        self.scale
    }

    /// `raw / divisor` as the decoder computes it.
    #[inline(always)]
    fn apply(self, raw: Raw) -> Value<'static> {
        match raw {
            Raw::Int(i) if self.mul != 0 => Value::Decimal {
                digits: i * i64::from(self.mul),
                scale: self.scale,
            },
            Raw::Int(i) => Value::F64(i as f64 / f64::from(self.divisor)),
            Raw::Float(f) => Value::F64(f / f64::from(self.divisor)),
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
    read_items_at(items, value, 0, sink)
}

/// Reads `items` from `bytes` at `start` into `sink`; returns the bytes they took. The engine
/// passes the whole payload and the value's offset: an offset per item, not a slice, is 20
/// instructions a frame less on the codecs bench's mix.
#[inline(always)]
pub(super) fn read_items_at<'a, S: Sink<'a> + ?Sized>(
    items: &[Item],
    bytes: &'a [u8],
    start: usize,
    sink: &mut S,
) -> Result<usize, ErrorKind> {
    let mut at = start;
    for item in items {
        at += read_item(item, bytes, at, sink)?;
    }
    Ok(at - start)
}

/// Reads one `item` from `bytes` at `at` into `sink`; returns the bytes it took.
#[inline(always)]
pub(super) fn read_item<'a, S: Sink<'a> + ?Sized>(
    item: &Item,
    bytes: &'a [u8],
    at: usize,
    sink: &mut S,
) -> Result<usize, ErrorKind> {
    let int = |int: Int| int.read(bytes, at).ok_or(ErrorKind::UnexpectedEof);
    let emit = |sink: &mut S, name, v| sink.field(Field::new(name, None, v));
    // Numbers first, the commonest item, on a branch of their own rather than through the
    // match below: 27 instructions a frame less on the codecs bench's mix.
    if let Item::Num(name, i, div) = *item {
        read_num(name, i, div, bytes, at, sink)?;
        return Ok(i.size());
    }
    let rest = bytes.get(at..).unwrap_or_default();
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
        Item::Object(name, inner) => read_object(name, inner, bytes, at, sink)?,
        Item::Skip(n) => {
            if rest.len() < usize::from(n) {
                return Err(ErrorKind::UnexpectedEof);
            }
            usize::from(n)
        }
    })
}

/// A number item, [`Item::Num`]`(name, int, div)`, from `bytes` at `at` into `sink`.
#[inline(always)]
pub(super) fn read_num<'a, S: Sink<'a> + ?Sized>(
    name: &'static str,
    int: Int,
    div: Div,
    bytes: &'a [u8],
    at: usize,
    sink: &mut S,
) -> Result<(), ErrorKind> {
    let raw = int.read(bytes, at).ok_or(ErrorKind::UnexpectedEof)?;
    sink.field(Field::new(name, None, div.apply(raw)))
}

/// `name: {items}`.
#[inline(never)]
fn read_object<'a, S: Sink<'a> + ?Sized>(
    name: &'static str,
    items: &[Item],
    bytes: &'a [u8],
    at: usize,
    sink: &mut S,
) -> Result<usize, ErrorKind> {
    sink.open(name, None, Container::Object)?;
    let n = read_items_at(items, bytes, at, sink)?;
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
pub(super) fn read_undefined<'a, S: Sink<'a> + ?Sized>(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each type's number from its own bytes, read one at a time.
    fn plain(int: Int, b: &[u8]) -> Raw {
        let le = |n: usize| {
            b[..n]
                .iter()
                .rev()
                .fold(0u64, |w, &x| (w << 8) | u64::from(x))
        };
        Raw::Int(match int {
            Int::U8 | Int::U16 | Int::U32 => le(int.size()) as i64,
            Int::I8 => i64::from(b[0] as i8),
            Int::I16 => i64::from(le(2) as u16 as i16),
            Int::I32 | Int::U32Js => i64::from(le(4) as u32 as i32),
            Int::U16Be => i64::from(b[0]) << 8 | i64::from(b[1]),
            Int::F32 => return Raw::Float(js_float(le(4) as u32)),
        })
    }

    #[test]
    fn numbers_read_the_same_at_every_offset_and_stop_at_the_end() {
        let ints = [
            Int::U8,
            Int::I8,
            Int::U16,
            Int::I16,
            Int::U32,
            Int::U32Js,
            Int::I32,
            Int::F32,
            Int::U16Be,
        ];
        let samples: [&[u8]; 4] = [
            &[0x00, 0x00, 0x00, 0x00],
            &[0xff, 0xff, 0xff, 0xff],
            &[0x80, 0x01, 0x7f, 0xfe],
            &[0x12, 0x34, 0x56, 0x87],
        ];
        for int in ints {
            for sample in samples {
                for at in 0..6 {
                    let mut bytes = alloc::vec![0xa5; at];
                    bytes.extend_from_slice(&sample[..int.size()]);
                    let want = plain(int, sample);
                    assert_eq!(
                        int.read(&bytes, at),
                        Some(want),
                        "{int:?} {sample:02x?} at {at}"
                    );
                    // Bytes after the number change nothing; one byte short reads nothing.
                    bytes.push(0x5a);
                    assert_eq!(
                        int.read(&bytes, at),
                        Some(want),
                        "{int:?} at {at}, then more"
                    );
                    bytes.truncate(at + int.size() - 1);
                    assert_eq!(int.read(&bytes, at), None, "{int:?} short at {at}");
                }
            }
        }
    }

    #[test]
    fn divisors_print_as_the_decoders_compute() {
        let d = |div: u32, raw| Div(div).apply(Raw::Int(raw));
        assert_eq!(
            d(1, 7),
            Value::Decimal {
                digits: 7,
                scale: 0
            }
        );
        assert_eq!(
            d(2, 7),
            Value::Decimal {
                digits: 35,
                scale: 1
            }
        );
        assert_eq!(
            d(10, -7),
            Value::Decimal {
                digits: -7,
                scale: 1
            }
        );
        assert_eq!(
            d(10_000, 7),
            Value::Decimal {
                digits: 7,
                scale: 4
            }
        );
        assert_eq!(d(3, 10), Value::F64(10.0 / 3.0));
        assert_eq!(d(20, 10), Value::F64(0.5));
        assert_eq!(Div(10).divisor(), 10);
    }
}
