//! Support for codecs written with nom: an error type that remembers only how many bytes were
//! left, so it has no lifetime, is `Copy`, never allocates, and becomes an absolute offset once
//! the whole input is known; and the number parsers codecs read with it.
//!
//! The number parsers ([`u8()`], [`le_u16`], [`be_i24`], ...) and [`take`] are nom parsers, used
//! as nom's own are (`(le_u32, u8, le_i16).parse(i)`), that read with one bounds check and
//! always inline. nom 8's own go through `Input::take_from`, which is not `#[inline]` for
//! slices: one call per number from a codec crate. Measured on the Sodaq report's fixtures
//! (instructions a frame, decode-only): 512 read by a loop over an offset table, 642 through
//! nom's number parsers, 449 through these.
//!
//! ```
//! use lorafield_core::parse::{PResult, be_i16, le_u32, u8};
//! use nom::Parser;
//!
//! fn record(i: &[u8]) -> PResult<'_, (u32, u8, i16)> {
//!     (le_u32, u8, be_i16).parse(i)
//! }
//!
//! assert_eq!(record(&[1, 0, 0, 0, 7, 0xff, 0xfe, 9]), Ok((&[9][..], (1, 7, -2))));
//! let e = record(&[1, 0, 0]).unwrap_err();
//! assert_eq!(lorafield_core::parse::kind_of(e), lorafield_core::ErrorKind::UnexpectedEof);
//! ```

use nom::error::{ErrorKind as NomKind, ParseError};

use crate::{DecodeError, ErrorKind};

/// A nom error: how many input bytes were left where parsing failed, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    /// Bytes left in the input where the failing parser started.
    pub left: usize,
    /// Why it failed.
    pub kind: ErrorKind,
}

impl Remaining {
    /// An error of `kind` with `input` left.
    pub fn new(input: &[u8], kind: ErrorKind) -> Self {
        Remaining {
            left: input.len(),
            kind,
        }
    }

    /// The error at its absolute offset in a payload of `total` bytes.
    pub fn at(self, total: usize) -> DecodeError {
        DecodeError::new(total.saturating_sub(self.left), self.kind)
    }
}

impl ParseError<&[u8]> for Remaining {
    fn from_error_kind(input: &[u8], kind: NomKind) -> Self {
        let kind = match kind {
            NomKind::Eof | NomKind::Complete => ErrorKind::UnexpectedEof,
            _ => ErrorKind::OutOfRange,
        };
        Remaining::new(input, kind)
    }

    fn append(_: &[u8], _: NomKind, other: Self) -> Self {
        other
    }
}

/// The result of a nom parser over a payload with [`Remaining`] errors.
pub type PResult<'a, T> = nom::IResult<&'a [u8], T, Remaining>;

/// The kind of a nom failure (`Incomplete` cannot happen with complete parsers; it counts as
/// an unexpected end).
pub fn kind_of(err: nom::Err<Remaining>) -> ErrorKind {
    match err {
        nom::Err::Error(e) | nom::Err::Failure(e) => e.kind,
        nom::Err::Incomplete(_) => ErrorKind::UnexpectedEof,
    }
}

/// A nom failure as an error at its absolute offset in a payload of `total` bytes.
pub fn error_at(err: nom::Err<Remaining>, total: usize) -> DecodeError {
    match err {
        nom::Err::Error(e) | nom::Err::Failure(e) => e.at(total),
        nom::Err::Incomplete(_) => DecodeError::new(total, ErrorKind::UnexpectedEof),
    }
}

/// The first `N` bytes as an array.
#[inline(always)]
pub fn array<const N: usize>(i: &[u8]) -> PResult<'_, [u8; N]> {
    match i.split_first_chunk::<N>() {
        Some((head, rest)) => Ok((rest, *head)),
        None => Err(nom::Err::Error(Remaining::new(i, ErrorKind::UnexpectedEof))),
    }
}

/// The first `n` bytes, as nom's `take(n)` reads them, inlined.
#[inline(always)]
pub fn take(n: usize) -> impl Fn(&[u8]) -> PResult<'_, &[u8]> {
    move |i| match i.split_at_checked(n) {
        Some((head, rest)) => Ok((rest, head)),
        None => Err(nom::Err::Error(Remaining::new(i, ErrorKind::UnexpectedEof))),
    }
}

/// Number parsers: `name(bytes, conversion)`.
macro_rules! numbers {
    ($($(#[$doc:meta])* $name:ident: $t:ty = $n:literal, $convert:expr;)+) => {
        $(
            $(#[$doc])*
            #[inline(always)]
            pub fn $name(i: &[u8]) -> PResult<'_, $t> {
                let (rest, b) = array::<$n>(i)?;
                let convert: fn([u8; $n]) -> $t = $convert;
                Ok((rest, convert(b)))
            }
        )+
    };
}

numbers! {
    /// An unsigned byte.
    u8: u8 = 1, |[b]| b;
    /// A signed byte.
    i8: i8 = 1, |[b]| b as i8;
    /// A little-endian u16.
    le_u16: u16 = 2, u16::from_le_bytes;
    /// A little-endian i16.
    le_i16: i16 = 2, i16::from_le_bytes;
    /// A little-endian u32.
    le_u32: u32 = 4, u32::from_le_bytes;
    /// A little-endian i32.
    le_i32: i32 = 4, i32::from_le_bytes;
    /// A big-endian u16.
    be_u16: u16 = 2, u16::from_be_bytes;
    /// A big-endian i16.
    be_i16: i16 = 2, i16::from_be_bytes;
    /// A big-endian 24-bit unsigned number.
    be_u24: u32 = 3, |[a, b, c]| u32::from_be_bytes([0, a, b, c]);
    /// A big-endian 24-bit two's complement number.
    be_i24: i32 = 3, |[a, b, c]| i32::from_be_bytes([a, b, c, 0]) >> 8;
    /// A little-endian 24-bit two's complement number.
    le_i24: i32 = 3, |[a, b, c]| i32::from_le_bytes([0, a, b, c]) >> 8;
    /// A big-endian u32.
    be_u32: u32 = 4, u32::from_be_bytes;
    /// A big-endian i32.
    be_i32: i32 = 4, i32::from_be_bytes;
}

#[cfg(test)]
mod tests {
    use super::*;
    use nom::Parser;

    #[test]
    fn eof_becomes_an_offset() {
        let input = [1u8, 2, 3];
        let r: PResult<'_, (u8, u16, u16)> = (u8, be_u16, be_u16).parse(&input[..]);
        let nom::Err::Error(e) = r.unwrap_err() else {
            panic!("expected an error")
        };
        assert_eq!(e.kind, ErrorKind::UnexpectedEof);
        assert_eq!(
            e.at(input.len()),
            DecodeError::new(3, ErrorKind::UnexpectedEof)
        );
    }

    #[test]
    fn error_at_is_the_offset_where_the_failing_parser_started() {
        let input = [7u8, 0x01, 0x88, 0x00];
        let r = (u8, take(2), le_u16).parse(&input[..]);
        assert_eq!(
            error_at(r.unwrap_err(), input.len()),
            DecodeError::new(3, ErrorKind::UnexpectedEof)
        );
        let unknown = nom::Err::Failure(Remaining::new(&input[1..], ErrorKind::UnknownType(1)));
        assert_eq!(
            error_at(unknown, input.len()),
            DecodeError::new(1, ErrorKind::UnknownType(1))
        );
        let incomplete = nom::Err::Incomplete(nom::Needed::Unknown);
        assert_eq!(
            error_at(incomplete, 4),
            DecodeError::new(4, ErrorKind::UnexpectedEof)
        );
    }

    #[test]
    fn take_takes_what_nom_s_own_takes() {
        use nom::bytes::complete::take as theirs;
        let input: &[u8] = &[1, 2, 3];
        for n in 0..5 {
            let nom: PResult<'_, &[u8]> = theirs(n).parse(input);
            assert_eq!(take(n)(input), nom, "{n}");
        }
    }

    #[test]
    fn numbers_read_what_nom_s_own_read() {
        use nom::number::complete as theirs;
        let inputs: [&[u8]; 6] = [
            &[0x80, 0x01, 0xff, 0x7f, 0x12],
            &[0xff, 0xff, 0xff, 0xff],
            &[0x00, 0x00, 0x80],
            &[0x7f, 0xfe],
            &[0x7f],
            &[],
        ];
        macro_rules! same {
            ($($name:ident),+) => {$(
                for i in inputs {
                    let nom: PResult<'_, _> = theirs::$name(i);
                    // The same value and rest, or the same error where it failed.
                    assert_eq!($name(i), nom, "{} {i:02x?}", stringify!($name));
                }
            )+};
        }
        same!(
            u8, i8, le_u16, le_i16, le_u32, le_i32, be_u16, be_i16, be_u24, be_i24, le_i24, be_u32,
            be_i32
        );
        assert_eq!(be_i24(&[0xff, 0xff, 0xfe]), Ok((&[][..], -2)));
        assert_eq!(le_i24(&[0xfe, 0xff, 0xff]), Ok((&[][..], -2)));
    }
}
