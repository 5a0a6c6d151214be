//! Uplink envelopes: read them, re-decode their payload, write them back with every byte that
//! did not change passed through as it was.
//!
//! ```
//! use lorafield::{Registry, Selection};
//! use lorafield_envelope::{Redecoder, Status};
//!
//! let selection = Selection::builtin_default(&Registry::builtin());
//! let mut redecoder = Redecoder::new(&selection);
//! let record = r#"{"app_id":"a","dev_id":"d","port":3,"counter":7,"payload_raw":"A2cA+AQChfw="}"#;
//! let mut out = Vec::new();
//! let outcome = redecoder.redecode(record, &mut out);
//! assert_eq!(outcome.status, Status::Changed);
//! assert_eq!(
//!     String::from_utf8(out).unwrap(),
//!     r#"{"app_id":"a","dev_id":"d","port":3,"counter":7,"payload_raw":"A2cA+AQChfw=","payload_fields":{"analog_in_4":-312.36,"temperature_3":24.8},"lorafield":{"codec":"cayenne-lpp","profile":"extended","version":"0.1.0"}}"#
//! );
//! ```
//!
//! # Shapes
//!
//! A record is one JSON object. Its shape is found from the members it has, per record:
//!
//! | shape | recognised by | port | payload (base64) | decoded payload written to |
//! |---|---|---|---|---|
//! | The Things Stack v3 | `uplink_message` | `uplink_message.f_port` | `uplink_message.frm_payload` | `uplink_message.decoded_payload` (+ `decoded_payload_warnings`) |
//! | TTN v2 | `payload_raw`, or `app_id` with `port` | `port` | `payload_raw` | `payload_fields` |
//! | ChirpStack v4 | `deviceInfo` with `data` or `fPort` | `fPort` | `data` | `object` |
//! | Microshare share | `data` holding an object | | the envelope in `data` | the envelope in `data` |
//! | Microshare page | `objs` | | | each share of `objs` is a record ([`page_objects`]) |
//!
//! Both Microshare encodings (2017: `{"$oid":..}`, `{"$date":..}`, `{"$numberLong":..}`; 2020+:
//! plain strings and numbers) are read alike: of a share only `data`, `recType` (for the
//! selection rules) and `id`/`_id` (to name it) are read, and the rest is copied.
//!
//! Passed through untouched ([`Status::PassedThrough`]): TTS messages other than uplinks
//! (`join_accept`, `downlink_*`, ...), TTN v2 and ChirpStack events without a payload, uplinks
//! on port 0 or without a port (MAC commands, which are never decoded), and shares whose `data`
//! is not an uplink.
//!
//! # What is written
//!
//! The record's own text, with at most three splices:
//!
//! 1. The decoded payload (the `data` of the codec's result, compact, keys sorted) replaces the
//!    old one, or is inserted right after the raw payload when there was none. When the old
//!    one says the same (equal bytes, or equal JSON values), it is left as it was. When the
//!    decode meets an error, the old one is left as it was too (partial data included: a
//!    failed record is the record as it was plus a stamp saying why).
//! 2. TTS v3 only, with the decoded payload: `decoded_payload_warnings` holds the result's
//!    warning messages as strings, or is removed when there are none.
//! 3. The **decode stamp**, the envelope's member `lorafield` (for a share: inside `data`, so
//!    that it travels with the envelope), replaced when present, else added as the envelope's
//!    last member:
//!
//!    ```json
//!    {"codec":"cayenne-lpp","errors":[...],"profile":"tts","version":"0.1.0","warnings":[...]}
//!    ```
//!
//!    `codec` and `version` name the codec that decoded the payload; its options follow by
//!    name (`model`, `profile`), defaults filled in; `errors` and `warnings` are those of the
//!    result, objects as in the decode output, left out when empty. A record that could not be
//!    decoded because the envelope is wrong (no payload, not base64, a port out of range, a
//!    member of the wrong type) gets one error of kind `invalid_envelope` with the reason. So
//!    does a JSON object of none of the shapes above (`{}`, `{"foo":1}`), its stamp at its top
//!    level: `not an uplink envelope: it has none of uplink_message (TTS v3), payload_raw (TTN v2),
//!    ...`, naming what was looked for.
//!
//! Every other byte is copied as it was, member order and spacing included; a record spread
//! over several lines (a pretty-printed page) is put on one line by dropping its line breaks
//! and the indentation after them. Text that is not a JSON object is written as
//! `{"lorafield":{"errors":[{"kind":"unreadable","message":..}]},"unreadable":"<the text>"}`,
//! so that nothing read is lost.
//!
//! Nothing depends on the clock: the same input and selection give the same bytes.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "gen")]
pub mod generate;

pub mod batch;
mod blocks;
mod frame;
mod pipeline;
mod redecode;
mod scan;

pub use frame::{Chunk, Framer, Item};
pub use redecode::{
    Outcome, RecordId, Redecoder, Shape, Status, UplinkIds, page_objects, write_compact,
    write_minified,
};

/// Why `text` is not base64, in words (which character, or what about its length), for
/// messages that people read instead of the base64 crate's own.
pub fn base64_reason(text: &str, error: &base64::DecodeError) -> String {
    let at = |offset: usize| {
        let c = text.get(offset..).and_then(|t| t.chars().next());
        let n = text.get(..offset).map_or(offset, |t| t.chars().count()) + 1;
        (c.unwrap_or('?'), n)
    };
    match *error {
        base64::DecodeError::InvalidByte(offset, b'=') => {
            let (_, n) = at(offset);
            format!("'=' (character {n}) is padding, which only ends base64 text")
        }
        base64::DecodeError::InvalidByte(offset, _) => {
            let (c, n) = at(offset);
            format!("{c:?} (character {n}) is not a base64 character")
        }
        base64::DecodeError::InvalidLength(len) => format!(
            "{len} characters cannot be base64 (it comes in groups of four, and the last group here has one)"
        ),
        base64::DecodeError::InvalidLastSymbol { offset, .. } => {
            let (c, n) = at(offset);
            format!(
                "the last character {c:?} (character {n}) leaves bits over: the text is cut short or altered"
            )
        }
        base64::DecodeError::InvalidPadding => {
            "the '=' padding does not fit the length of the text".into()
        }
    }
}
