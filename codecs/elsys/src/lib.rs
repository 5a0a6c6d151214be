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
//!
//! # Native codecs against their scripts
//!
//! `lorafield compare` decodes the same payloads with this codec and with the device
//! repository's `elsys.js` (which every Elsys device there uses) and classifies every
//! difference. Run over its 14 devices, 5,047 payloads each (the codec file's example, the 46
//! golden cases of `fixtures/elsys`, 5,000 seeded mutations and random payloads), what differs
//! is deliberate (the table per device, and how to run it again, is in `against-scripts.md`
//! beside this crate's `Cargo.toml`):
//!
//! - **The script reads past the end of a cut record** (class `native unexpected_eof`, 10,995
//!   of 70,658 payloads): a missing byte is `undefined`, which `<<` and `|` turn into 0. ERS
//!   `0100e2 0229 0400`: the script adds `"light":0`; this codec reports the cut record at
//!   byte 5 and keeps temperature and humidity.
//! - **The script stops at an unknown type silently**: the same data, and this codec adds an
//!   `unknown_type` warning (`0100e2 0229 ff01`: a warning at byte 5). Not a difference.
//! - **u32 values** (`pulseAbs`, `pulseAbs2`, `pressure`): the script assembles them with
//!   JavaScript's 32-bit signed `<<` and `|`, so from 2^31 on they come out negative
//!   (`0b80000001`: `-2147483647`; `1480000001`: a pressure of `-2147483.647` hPa). Elsys's
//!   document and the script's own table give them as unsigned (0 to 0xFFFFFFFF); this codec
//!   reads them unsigned (`2147483649`, `2147483.649`). The script is wrong here.
//! - **Type 0x3d** (`debug`, u32): the script names it in its table but has no case for it, so
//!   it stops there and drops the rest of the payload; this codec decodes it, as Elsys's
//!   document does, and goes on (`3ddeadbeef 0229`: `{}` from the script,
//!   `{"debug":3735928559,"humidity":41}` here).
//!
//! The last two are the class `data` (2,520 payloads; none of another cause), and with a cut
//! record after them `native fails` (140).
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
