//! nom for the routines ([`super::Custom`]): a routine reads its value with nom parsers over
//! the core's [`Remaining`] error, and emits once the whole value has read.
//!
//! [`field`] turns an [`Item`] that makes one field into a parser of that field, so that a
//! routine's numbers and labels read with the same semantics as the tables'.
//!
//! Measured, in instructions per call of each routine over the codecs bench's frames of all 61
//! models (callgrind), against the hand-written code before: `di_history` 280 to 162,
//! `ws203_history` 307 to 144, `em320_angles` 195 to 184, `people_counter` 351 to 355 (+1.3%),
//! the Modbus readings 252-259 to 257-263 (+1.5% to +2.6%), the one-byte routines unchanged
//! (32-43). Not kept, each costing more than 5%:
//!
//! - nom's own byte and number parsers (`nom::number::complete::u8`, `le_i16`, `take`): the
//!   slice handling they share (`Input::take_from`, `input_len`) is not inlined across crates,
//!   +60% to +90% on the one-byte routines (`gs101_alarm` 37 to 59, `ws302_class` 32 to 61).
//!   [`u8`], [`le_i16`], [`be_u16`] and [`take`] are this module's instead, nom parsers too.
//! - [`field`] as a closure, which the compiler does not inline: `di_history` 613,
//!   `ws203_history` 596, `ws136_button` 202 (43 before).
//! - [`field`] of an item chosen at run time, for the UC100's reading by its data type: +21%
//!   (91 to 110). That routine frames the pair with nom and reads its one item with
//!   [`super::read_items`] (91).
//!
//! ```
//! use lorafield_codec_milesight::engine::Int::{I16, U8};
//! use lorafield_codec_milesight::engine::{Div, Item, ONE, field, parse, u8};
//! use lorafield_core::{ErrorKind, Value};
//!
//! let value = [7, 0x34, 0x01, 0xff];
//! let ((mode, t), n) = parse(&value, (u8, field(Item::Num("t", I16, Div(10))))).unwrap();
//! assert_eq!((mode, t.name, t.value, n), (7, "t", Value::Decimal { digits: 308, scale: 1 }, 3));
//! let short = parse(&value[..2], (u8, field(Item::Num("t", I16, Div(10)))));
//! assert_eq!(short.unwrap_err(), ErrorKind::UnexpectedEof);
//! ```

use lorafield_core::parse::{PResult, Remaining, kind_of};
use lorafield_core::{ErrorKind, Field, Sink};
use nom::{Complete, Emit, Mode, OutputM, OutputMode, Parser};

use super::Item;
use super::items::read_item;

/// Runs `parser` over `value`: what it read and the bytes it took, or why it failed.
#[inline(always)]
pub fn parse<'a, O>(
    value: &'a [u8],
    mut parser: impl Parser<&'a [u8], Output = O, Error = Remaining>,
) -> Result<(O, usize), ErrorKind> {
    // `process` rather than `parse_complete`, which is the same but not always inlined.
    let (rest, out) = parser
        .process::<OutputM<Emit, Emit, Complete>>(value)
        .map_err(kind_of)?;
    Ok((out, value.len() - rest.len()))
}

/// A byte (nom's `u8`, whose slice handling is not inlined across crates: this one is).
#[inline(always)]
pub fn u8(input: &[u8]) -> PResult<'_, u8> {
    match input.split_first() {
        Some((&b, rest)) => Ok((rest, b)),
        None => Err(eof(input)),
    }
}

/// A two's complement int16, little-endian.
#[inline(always)]
pub fn le_i16(input: &[u8]) -> PResult<'_, i16> {
    match input.split_first_chunk() {
        Some((&b, rest)) => Ok((rest, i16::from_le_bytes(b))),
        None => Err(eof(input)),
    }
}

/// An unsigned int16, big-endian.
#[inline(always)]
pub fn be_u16(input: &[u8]) -> PResult<'_, u16> {
    match input.split_first_chunk() {
        Some((&b, rest)) => Ok((rest, u16::from_be_bytes(b))),
        None => Err(eof(input)),
    }
}

/// `n` bytes (nom's `take`).
#[inline(always)]
pub fn take<'a>(n: usize) -> impl Parser<&'a [u8], Output = &'a [u8], Error = Remaining> {
    move |input: &'a [u8]| match input.split_at_checked(n) {
        Some((bytes, rest)) => Ok((rest, bytes)),
        None => Err(eof(input)),
    }
}

fn eof(input: &[u8]) -> nom::Err<Remaining> {
    nom::Err::Error(Remaining::new(input, ErrorKind::UnexpectedEof))
}

/// A parser of `item`, an item that makes one field (a number, a label, a flag, a number with
/// its unit, a version, a constant): the field [`super::read_items`] would emit, emitting nothing. An
/// item that makes no field or several fails with [`ErrorKind::OutOfRange`].
pub const fn field(item: Item) -> FieldOf {
    FieldOf(item)
}

/// The parser [`field`] makes: a struct, not a closure, so that its one call is inlined where
/// it parses and the item, a constant there, chooses its reading at compile time.
#[derive(Debug, Clone, Copy)]
pub struct FieldOf(Item);

impl<'a> Parser<&'a [u8]> for FieldOf {
    type Output = Field<'a>;
    type Error = Remaining;

    #[inline(always)]
    fn process<OM: OutputMode>(
        &mut self,
        input: &'a [u8],
    ) -> nom::PResult<OM, &'a [u8], Field<'a>, Remaining> {
        let mut one = One(None);
        let kind = match read_item(&self.0, input, 0, &mut one) {
            Ok(n) => match one.0 {
                Some(field) => {
                    return Ok((
                        input.get(n..).unwrap_or_default(),
                        OM::Output::bind(|| field),
                    ));
                }
                None => ErrorKind::OutOfRange,
            },
            Err(kind) => kind,
        };
        Err(nom::Err::Error(OM::Error::bind(|| {
            Remaining::new(input, kind)
        })))
    }
}

/// A sink that keeps one field.
struct One<'a>(Option<Field<'a>>);

impl<'a> Sink<'a> for One<'a> {
    #[inline(always)]
    fn field(&mut self, field: Field<'a>) -> Result<(), ErrorKind> {
        match self.0 {
            None => {
                self.0 = Some(field);
                Ok(())
            }
            Some(_) => Err(ErrorKind::OutOfRange),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Int::{U8, U16};
    use crate::engine::{Bit, BitOut, ONE};
    use lorafield_core::Value;

    #[test]
    fn items_of_one_field_parse_and_others_fail() {
        let on_off = Item::Enum("s", U8, &[(0, "off")], "on");
        let (f, n) = parse(&[0, 9], field(on_off)).unwrap();
        assert_eq!((f.name, f.value, n), ("s", Value::Str("off"), 1));
        let two = Item::Bits(
            U8,
            &[
                Bit {
                    name: "a",
                    shift: 0,
                    mask: 1,
                    out: BitOut::Bool,
                },
                Bit {
                    name: "b",
                    shift: 1,
                    mask: 1,
                    out: BitOut::Bool,
                },
            ],
        );
        assert_eq!(parse(&[3], field(two)), Err(ErrorKind::OutOfRange));
        assert_eq!(
            parse(&[3], field(Item::Skip(1))),
            Err(ErrorKind::OutOfRange)
        );
        assert_eq!(
            parse(&[1], (u8, field(Item::Num("n", U16, ONE)))),
            Err(ErrorKind::UnexpectedEof)
        );
    }
}
