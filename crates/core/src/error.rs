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
    /// A run-time codec (a script) stopped at one of its limits.
    ScriptLimit(Limit),
    /// A run-time codec threw an exception (its message and line are in the result's note).
    ScriptError,
    /// A run-time codec reported errors of its own (TS013 `errors`, each kept as a note).
    CodecError,
    /// A run-time codec reported a warning of its own (TS013 `warnings`).
    CodecWarning,
    /// A run-time codec returned something that is not a result: no `data` object, a cycle,
    /// a number that is not finite.
    InvalidResult,
    /// The sink cannot take run-time output (text that is not `'static`).
    Unsupported,
    /// The payload is longer than a LoRaWAN uplink carries ([`crate::MAX_PAYLOAD`] bytes): a
    /// warning, the payload is still decoded.
    PayloadTooLong {
        /// The payload's length in bytes (saturating).
        length: u32,
    },
}

/// The limit a run-time codec ran into ([`ErrorKind::ScriptLimit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// The work allowed for one call (counted in the engine's interrupt checks, so it is the
    /// same whatever the machine's load).
    Fuel,
    /// The wall-clock backstop.
    Time,
    /// The memory one call may allocate.
    Memory,
    /// The call stack's depth.
    Stack,
    /// The script's size.
    ScriptSize,
    /// The size of the result.
    OutputSize,
}

impl Limit {
    /// The limit's stable snake_case name (`fuel`, `script_size`).
    pub const fn name(&self) -> &'static str {
        match self {
            Limit::Fuel => "fuel",
            Limit::Time => "time",
            Limit::Memory => "memory",
            Limit::Stack => "stack",
            Limit::ScriptSize => "script_size",
            Limit::OutputSize => "output_size",
        }
    }
}

/// A context member's value in an error's JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// A number (`"type":119`).
    Number(u64),
    /// A fixed name (`"limit":"fuel"`).
    Name(&'static str),
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
            ErrorKind::ScriptLimit(_) => "script_limit",
            ErrorKind::ScriptError => "script_error",
            ErrorKind::CodecError => "codec_error",
            ErrorKind::CodecWarning => "codec_warning",
            ErrorKind::InvalidResult => "invalid_result",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::PayloadTooLong { .. } => "payload_too_long",
        }
    }

    /// The kind's context as `(key, value)` members for a JSON error object (`type` of an
    /// unknown type, ...), at most two.
    pub fn context(&self) -> [Option<(&'static str, Context)>; 2] {
        let n = |v: u64| Context::Number(v);
        match *self {
            ErrorKind::UnknownType(ty) => [Some(("type", n(ty.into()))), None],
            ErrorKind::UnknownPair { channel, ty } => [
                Some(("channel", n(channel.into()))),
                Some(("type", n(ty.into()))),
            ],
            ErrorKind::InvalidLength { expected, found } => [
                Some(("expected", n(expected.into()))),
                Some(("length", n(found.into()))),
            ],
            ErrorKind::ScriptLimit(limit) => [Some(("limit", Context::Name(limit.name()))), None],
            ErrorKind::PayloadTooLong { length } => [Some(("length", n(length.into()))), None],
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
            ErrorKind::ScriptLimit(limit) => {
                write!(f, "the script exceeded its {} limit", limit.name())
            }
            ErrorKind::ScriptError => f.write_str("the script threw an exception"),
            ErrorKind::CodecError => f.write_str("the codec reported an error"),
            ErrorKind::CodecWarning => f.write_str("the codec reported a warning"),
            ErrorKind::InvalidResult => f.write_str("the script returned no valid result"),
            ErrorKind::Unsupported => f.write_str("this sink cannot take run-time output"),
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
    /// `offset` or a numeric context member.
    Number(u64),
    /// A context member that is a fixed name.
    Name(&'static str),
}

impl From<Context> for Member {
    fn from(c: Context) -> Self {
        match c {
            Context::Number(n) => Member::Number(n),
            Context::Name(s) => Member::Name(s),
        }
    }
}

/// The members of an error's JSON object, keys sorted bytewise.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) fn sorted_members(error: &DecodeError) -> [Option<(&'static str, Member)>; 5] {
    let [c0, c1] = error.kind.context();
    let mut members = [
        Some(("kind", Member::Kind)),
        Some(("message", Member::Message)),
        Some(("offset", Member::Number(error.offset as u64))),
        c0.map(|(k, v)| (k, Member::from(v))),
        c1.map(|(k, v)| (k, Member::from(v))),
    ];
    // `None` sorts first; keys are distinct.
    members.sort_unstable_by_key(|m| m.as_ref().map(|(k, _)| *k));
    members
}

/// The members of a note's JSON object (`line` when known, no `offset`), keys sorted bytewise;
/// [`Member::Message`] is the note's message.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) fn sorted_note_members(
    note: &crate::dynamic::Note<'_>,
) -> [Option<(&'static str, Member)>; 5] {
    let [c0, c1] = note.kind.context();
    let mut members = [
        Some(("kind", Member::Kind)),
        Some(("message", Member::Message)),
        note.line.map(|l| ("line", Member::Number(l.into()))),
        c0.map(|(k, v)| (k, Member::from(v))),
        c1.map(|(k, v)| (k, Member::from(v))),
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
        assert_eq!(
            e.kind.context(),
            [Some(("length", Context::Number(250))), None]
        );
        assert!(!e.kind.rejects_frame());
    }

    #[test]
    fn context_members() {
        assert_eq!(
            ErrorKind::UnknownType(119).context(),
            [Some(("type", Context::Number(119))), None]
        );
        assert_eq!(
            ErrorKind::ScriptLimit(Limit::Fuel).context(),
            [Some(("limit", Context::Name("fuel"))), None]
        );
        assert_eq!(ErrorKind::UnexpectedEof.context(), [None, None]);
        assert!(ErrorKind::PortZero.rejects_frame());
        assert!(!ErrorKind::UnexpectedEof.rejects_frame());
    }
}
