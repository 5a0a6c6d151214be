//! The decoding core of lorafield: the contract between payload codecs and their outputs.
//!
//! ```
//! use lorafield_core::{Codec, DecodeError, Field, FieldBuf, Sink, Uplink, Value};
//!
//! /// A toy codec: every byte is a percentage on its own channel.
//! struct Percent;
//!
//! impl Codec for Percent {
//!     fn id(&self) -> &'static str {
//!         "percent"
//!     }
//!     fn decode<'a>(&self, uplink: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError> {
//!         for (offset, &b) in uplink.payload.iter().enumerate() {
//!             let field = Field::new("percentage", Some(offset as u8), Value::U64(b.into()));
//!             sink.field(field).map_err(|kind| DecodeError::new(offset, kind))?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let mut buf = FieldBuf::<16>::new();
//! let decoded = buf.decode(&Percent, Uplink::new(1, &[7, 42]));
//! let mut json = Vec::new();
//! decoded.write_json(&mut json);
//! assert_eq!(json, br#"{"data":{"percentage_0":7,"percentage_1":42}}"#);
//! ```
//!
//! A [`Codec`] is a pure function of the payload, its port and the codec's own configuration. It
//! pushes what it reads into a [`Sink`] one [`Field`] at a time, opening and closing nested
//! objects and arrays as it goes, and returns a [`DecodeError`] whose offset is the first byte of
//! the record it could not read. Sinks decide what to do with the stream: [`FieldBuf`] keeps it in
//! a fixed array without allocating, and the JSON writer (feature `alloc`) renders a [`Decoded`]
//! result into a caller's buffer with the keys sorted bytewise at every level, the last of a
//! repeated key winning and numbers printed as the shortest text that round-trips.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod codec;
mod decoded;
pub mod dynamic;
mod error;
mod fieldbuf;
#[cfg(feature = "alloc")]
pub mod json;
pub mod parse;
#[cfg(feature = "serde")]
mod serde_impl;
mod sink;
mod value;
mod view;

pub use codec::{Codec, GenericCodec, MAX_PAYLOAD, Uplink};
pub use decoded::Decoded;
pub use error::{Context, DecodeError, ErrorKind, Limit};
pub use fieldbuf::{
    FieldBuf, FieldCore, FieldStore, MAX_DEPTH, MAX_NOTES, MAX_WARNINGS, Ran, TEXT_CAPACITY,
};
pub use sink::{Container, Event, Sink};
pub use value::{Field, Value};
pub use view::{Members, Node};

/// Events (fields and container openings) enough for any frame of up to 242 bytes, LoRaWAN's
/// largest application payload, of the built-in codecs (Milesight's WS50x yields the most, 480;
/// its VS121 people counter, whose region count is a byte of the payload, is the one exception):
/// the size of the `FieldBuf` the facade decodes into, and how many events
/// [`json::JsonWriter::decode`] renders by default. A frame with more stops with
/// [`ErrorKind::SinkFull`] at the same field on both paths, what came before kept.
pub const MAX_EVENTS: usize = 512;
