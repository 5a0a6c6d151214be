//! What a codec could not read.

use core::fmt;

/// Why a frame, or part of it, could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The payload ends inside a record.
    UnexpectedEof,
    /// A record's type byte is not one the codec (or its profile) knows.
    UnknownType(u8),
    /// A channel/type pair the codec's model does not know.
    UnknownPair {
        /// The channel byte.
        channel: u8,
        /// The type byte.
        ty: u8,
    },
    /// The frame's length is not one the format allows.
    InvalidLength {
        /// The length the format expects (the nearest allowed one).
        expected: u16,
        /// The length found.
        found: u16,
    },
    /// A value lies outside the range its format allows.
    OutOfRange,
    /// The sink has no room for another field, container or warning.
    SinkFull,
    /// Containers were closed that were never opened, or nested deeper than a sink allows.
    Nesting,
    /// Port 0 carries MAC commands, never application data.
    PortZero,
    /// The payload is longer than a LoRaWAN uplink carries ([`crate::MAX_PAYLOAD`] bytes): a
    /// warning, the payload is still decoded.
    PayloadTooLong {
        /// The payload's length in bytes (saturating).
        length: u32,
    },
}

impl ErrorKind {
    /// The kind's stable snake_case name, as printed in JSON results.
    pub const fn name(&self) -> &'static str {
        match self {
            ErrorKind::UnexpectedEof => "unexpected_eof",
            ErrorKind::UnknownType(_) => "unknown_type",
            ErrorKind::UnknownPair { .. } => "unknown_pair",
            ErrorKind::InvalidLength { .. } => "invalid_length",
            ErrorKind::OutOfRange => "out_of_range",
            ErrorKind::SinkFull => "sink_full",
            ErrorKind::Nesting => "nesting",
            ErrorKind::PortZero => "port_zero",
            ErrorKind::PayloadTooLong { .. } => "payload_too_long",
        }
    }

    /// The kind's context as `(key, value)` members for a JSON error object (`type` of an
    /// unknown type, ...), at most two.
    pub fn context(&self) -> [Option<(&'static str, u64)>; 2] {
        match *self {
            ErrorKind::UnknownType(ty) => [Some(("type", ty.into())), None],
            ErrorKind::UnknownPair { channel, ty } => {
                [Some(("channel", channel.into())), Some(("type", ty.into()))]
            }
            ErrorKind::InvalidLength { expected, found } => [
                Some(("expected", expected.into())),
                Some(("length", found.into())),
            ],
            ErrorKind::PayloadTooLong { length } => [Some(("length", length.into())), None],
            _ => [None, None],
        }
    }

    /// Whether an error of this kind rejects the frame as a whole (no `data` in the result),
    /// whatever the codec's partial-decode policy.
    pub const fn rejects_frame(&self) -> bool {
        matches!(self, ErrorKind::InvalidLength { .. } | ErrorKind::PortZero)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::UnexpectedEof => f.write_str("unexpected end of payload"),
            ErrorKind::UnknownType(ty) => write!(f, "unknown type 0x{ty:02x}"),
            ErrorKind::UnknownPair { channel, ty } => {
                write!(f, "unknown channel 0x{channel:02x} type 0x{ty:02x}")
            }
            ErrorKind::InvalidLength { expected, found } => {
                write!(f, "invalid length {found} (expected {expected})")
            }
            ErrorKind::OutOfRange => f.write_str("value out of range"),
            ErrorKind::SinkFull => f.write_str("no room for more fields"),
            ErrorKind::Nesting => f.write_str("unbalanced or too deeply nested containers"),
            ErrorKind::PortZero => f.write_str("port 0 carries MAC commands, not application data"),
            ErrorKind::PayloadTooLong { length } => write!(
                f,
                "payload of {length} bytes is longer than the {} a LoRaWAN uplink carries",
                crate::MAX_PAYLOAD
            ),
        }
    }
}

/// A decoding failure (or warning) and where it happened: `offset` is the first byte of the
/// record (or frame) that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// The first byte of the record or frame that failed.
    pub offset: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl DecodeError {
    /// An error of `kind` at byte `offset`.
    pub const fn new(offset: usize, kind: ErrorKind) -> Self {
        DecodeError { offset, kind }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            // Whole-frame conditions: the offset adds nothing to the message.
            ErrorKind::PortZero | ErrorKind::PayloadTooLong { .. } => {
                fmt::Display::fmt(&self.kind, f)
            }
            _ => write!(f, "{} at byte {}", self.kind, self.offset),
        }
    }
}

impl core::error::Error for DecodeError {}

/// A member of an error's JSON object.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) enum Member {
    /// `kind`: the kind's name.
    Kind,
    /// `message`: the error's `Display` text.
    Message,
    /// `offset` or a context member.
    Number(u64),
}

/// The members of an error's JSON object, keys sorted bytewise.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) fn sorted_members(error: &DecodeError) -> [Option<(&'static str, Member)>; 5] {
    let [c0, c1] = error.kind.context();
    let mut members = [
        Some(("kind", Member::Kind)),
        Some(("message", Member::Message)),
        Some(("offset", Member::Number(error.offset as u64))),
        c0.map(|(k, v)| (k, Member::Number(v))),
        c1.map(|(k, v)| (k, Member::Number(v))),
    ];
    // `None` sorts first; keys are distinct.
    members.sort_unstable_by_key(|m| m.as_ref().map(|(k, _)| *k));
    members
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn messages_name_the_offset() {
        let e = DecodeError::new(4, ErrorKind::UnknownType(0x77));
        assert_eq!(e.to_string(), "unknown type 0x77 at byte 4");
        let e = DecodeError::new(0, ErrorKind::UnexpectedEof);
        assert_eq!(e.to_string(), "unexpected end of payload at byte 0");
        let e = DecodeError::new(0, ErrorKind::PortZero);
        assert_eq!(
            e.to_string(),
            "port 0 carries MAC commands, not application data"
        );
        let e = DecodeError::new(242, ErrorKind::PayloadTooLong { length: 250 });
        assert_eq!(
            e.to_string(),
            "payload of 250 bytes is longer than the 242 a LoRaWAN uplink carries"
        );
        assert_eq!(e.kind.name(), "payload_too_long");
        assert_eq!(e.kind.context(), [Some(("length", 250)), None]);
        assert!(!e.kind.rejects_frame());
    }

    #[test]
    fn context_members() {
        assert_eq!(
            ErrorKind::UnknownType(119).context(),
            [Some(("type", 119)), None]
        );
        assert_eq!(ErrorKind::UnexpectedEof.context(), [None, None]);
        assert!(ErrorKind::PortZero.rejects_frame());
        assert!(!ErrorKind::UnexpectedEof.rejects_frame());
    }
}
