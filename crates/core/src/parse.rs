//! Support for codecs written with nom: an error type that remembers only how many bytes were
//! left, so it has no lifetime, is `Copy`, never allocates, and becomes an absolute offset once
//! the whole input is known.

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

#[cfg(test)]
mod tests {
    use super::*;
    use nom::Parser;
    use nom::number::complete::{be_u16, u8};

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
}
