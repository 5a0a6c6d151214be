//! Elsys sensors for lorafield: ERS, ERS CO2, ERS Sound, ERS Eye, ERS VOC, EMS, ELT and the
//! rest share one payload, a sequence of `[type][value]` records, decoded with the output
//! names of the device repository's reference decoder (`elsys.js`).
//!
//! ```
//! use lorafield_codec_elsys::Elsys;
//! use lorafield_core::{FieldBuf, Uplink};
//!
//! let mut buf = FieldBuf::<{ lorafield_codec_elsys::MAX_EVENTS }>::new();
//! // temperature 22.6, humidity 41, light 39, motion 6.
//! let payload = [0x01, 0x00, 0xe2, 0x02, 0x29, 0x04, 0x00, 0x27, 0x05, 0x06];
//! let decoded = buf.decode(&Elsys, Uplink::new(5, &payload));
//! let mut json = Vec::new();
//! decoded.write_json(&mut json);
//! assert_eq!(
//!     json,
//!     br#"{"data":{"humidity":41,"light":39,"motion":6,"temperature":22.6}}"#
//! );
//! ```
//!
//! The type byte fixes the value's size and meaning; one const table ([`TYPES`]: id, keys,
//! sizes, signedness, byte order, divisor) is the spec, and one loop drives it. Numbers are
//! big-endian (the GPS coordinates little-endian, as the reference reads them) and pushed as
//! exact decimals. Keys are the reference's camelCase (`soundPeak`, `pulseAbs`), and a repeated
//! key keeps its last value, except `externalTemperature2`, whose occurrences become an array
//! when there are several: a pre-scan counts them, so nothing is allocated. An unknown type
//! stops decoding with a warning (the reference stops silently); a record cut short is an
//! `unexpected_eof` error at its type byte. What was decoded before either is kept.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod decode;
mod types;

pub use decode::Elsys;
pub use types::{GRIDEYE_SIZE, Layout, Member, Num, TYPES, Type};

/// The codec's id in the registry.
pub const ID: &str = "elsys";

/// Events enough for any frame of up to 242 bytes (LoRaWAN's largest payload): Grid-EYE
/// records are the densest, 65 events in 66 bytes; a `FieldBuf` this large never fills on
/// them.
pub const MAX_EVENTS: usize = 256;
