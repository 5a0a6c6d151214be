//! Cayenne LPP for lorafield: the 12 v1 types and 14 extended types, decoded exactly as The Things
//! Stack does (profile `tts`) or as the extended libraries do (profile `extended`, the default),
//! and an encoder.
//!
//! ```
//! use lorafield_codec_lpp::{CayenneLpp, Profile};
//! use lorafield_core::{FieldBuf, Uplink};
//!
//! let codec = CayenneLpp::new(Profile::Tts);
//! let mut buf = FieldBuf::<64>::new();
//! // The seed tutorial's payload, `A2cA+AQChfw=` on port 3.
//! let payload = [0x03, 0x67, 0x00, 0xf8, 0x04, 0x02, 0x85, 0xfc];
//! let decoded = buf.decode(&codec, Uplink::new(3, &payload));
//! let mut json = Vec::new();
//! decoded.write_json(&mut json);
//! assert_eq!(json, br#"{"data":{"analog_in_4":-312.36,"temperature_3":24.8}}"#);
//! ```
//!
//! A frame is a sequence of records `[channel][type][value]`; the type fixes the value's size,
//! signedness and divisor. All of that lives in one table ([`TYPES`]), read side by side with the
//! spec; one small loop drives it. Values are pushed as exact decimals
//! ([`lorafield_core::Value::Decimal`]), so the JSON text is the reading's own digits. Decoding
//! stops at the first record it cannot read, reporting the record's first byte; the `extended`
//! profile keeps what came before, the `tts` profile drops it as The Things Stack does.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod decode;
mod encode;
mod types;

pub use decode::CayenneLpp;
pub use encode::{EncodeError, Encoder, encode_events};
pub use types::{Layout, Member, Num, Profile, TYPES, Type};

/// The codec's id in the registry.
pub const ID: &str = "cayenne-lpp";

/// The largest LoRaWAN application payload (242 bytes) holds at most this many events of
/// Cayenne LPP (48 colour records of five bytes and four events each, 192 events; checked in
/// `tests/capacity.rs`): a `FieldBuf` this large never fills.
pub const MAX_EVENTS: usize = 256;
