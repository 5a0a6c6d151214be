//! Sodaq ONE / Universal Tracker for lorafield: the GPS report with its previous fixes, in the
//! Universal Tracker's layout, the older firmware's (`legacy`) and behind the NB-IoT UDP header
//! (`nb-iot`), and the 19-byte Cayenne LPP mode.
//!
//! ```
//! use lorafield_codec_sodaq::{Model, SodaqTracker};
//! use lorafield_core::{FieldBuf, Uplink};
//!
//! let codec = SodaqTracker::new(Model::UniversalTracker);
//! let mut buf = FieldBuf::<{ lorafield_codec_sodaq::MAX_EVENTS }>::new();
//! let payload = [
//!     0xbf, 0x41, 0x83, 0x59, 0x76, 0x19, 0x3a, 0x54, 0x0b, 0x1f, 0x82, 0x4b, 0x0b, 0x03,
//!     0xf1, 0xff, 0x0f, 0x00, 0x8c, 0x05, 0x0b,
//! ];
//! let decoded = buf.decode(&codec, Uplink::new(1, &payload));
//! let mut json = Vec::new();
//! decoded.write_json(&mut json);
//! assert_eq!(
//!     String::from_utf8(json).unwrap(),
//!     r#"{"data":{"altitude":-15,"battery_voltage":4.18,"board_temperature":25,"course":140,"latitude":52.0836154,"longitude":5.1071874,"satellites":5,"speed":15,"time_to_fix":11,"timestamp":1501774271}}"#
//! );
//! ```
//!
//! The firmware sends its structs as they lie in the SAMD21's memory, so every number is
//! little-endian, at a fixed offset: the report and a previous fix are each read by a nom
//! parser that follows the firmware's struct member by member, then pushed in key order. A frame's
//! length picks its layout (0-3 previous fixes, or the LPP mode); any other length rejects the
//! frame as a whole with an `invalid_length` error. Values are exact decimals of the raw
//! numbers ([`lorafield_core::Value::Decimal`]): `(300 + raw) / 100` volts, `raw / 10^7`
//! degrees, printed as their own digits.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod decode;
mod lpp;
mod model;
mod report;

pub use decode::SodaqTracker;
pub use model::{FIX_LEN, LPP_LEN, MAX_FIXES, Model, REPORT_LEN, UDP_HEADER_LEN, UnknownModel};

/// The codec's id in the registry.
pub const ID: &str = "sodaq-tracker";

/// The most events a frame yields (an NB-IoT report with three previous fixes: 10 report
/// fields, the `previous_fixes` array of three objects of three, the UDP header's object of
/// three), with room to spare: a `FieldBuf` this large never fills.
pub const MAX_EVENTS: usize = 32;
