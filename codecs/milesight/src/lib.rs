//! Milesight IoT sensors for lorafield: one engine for the `[channel][type][value]` pairs every
//! Milesight device sends on port 85, and one table per model of The Things Network's device
//! repository.
//!
//! ```
//! use lorafield_codec_milesight::Milesight;
//! use lorafield_core::{FieldBuf, Uplink};
//!
//! let codec = Milesight::for_model("am103").unwrap();
//! let mut buf = FieldBuf::<64>::new();
//! let payload = [0x01, 0x75, 0x5c, 0x03, 0x67, 0x34, 0x01, 0x04, 0x68, 0x65, 0x07, 0x7d, 0xe7, 0x04];
//! let mut json = Vec::new();
//! buf.decode(&codec, Uplink::new(85, &payload)).write_json(&mut json);
//! assert_eq!(json, br#"{"data":{"battery":92,"co2":1255,"humidity":50.5,"temperature":30.8}}"#);
//! ```
//!
//! The same pair means different things on different models (`05 00` is `pir` on one,
//! `leakage_status` on another), so the model is the codec's option. A model is the chain of
//! tests of its decoder in the device repository at commit `96abc53c`, written as a table of
//! [`engine::Rule`]s in the same order: the output is that decoder's, names, labels, scaling and
//! nesting included. Where the decoder stops silently at a pair it does not know, this codec
//! stops too, keeps what came before, and adds an `unknown_pair` warning with the offset.
//!
//! # Native codecs against their scripts
//!
//! `lorafield compare` decodes the same payloads with this codec and with the device's script
//! from the device repository (the codec file's examples and the golden cases of
//! `fixtures/milesight`, then seeded mutations of them and random payloads) and classifies
//! every difference. Run over all 61 models, 5,000 payloads each beyond the given ones, it
//! finds no difference of data; what differs is deliberate (the table per model, and how to
//! run it again, is in `against-scripts.md` beside this crate's `Cargo.toml`):
//!
//! - **The script reads past the end of a cut payload** (class `native unexpected_eof`, 5,592
//!   of the 313,127 payloads). JavaScript reads a missing byte as `undefined`, which `<<` and
//!   `|` turn into 0 and a label test into its default; this codec stops at the pair whose value
//!   is cut, keeps what came before and reports `unexpected_eof` there (an error; a warning for
//!   the lone last byte, whose labels it computes as the decoder does). AM307 `01755c 036734`:
//!   the script says `{"battery":92,"temperature":5.2}`, its temperature's missing high byte
//!   read as 0; this codec says `{"battery":92}` with an error at byte 3.
//! - **The script stops at, or passes over, a pair it does not know, silently.** The data is
//!   the same; this codec adds an `unknown_pair` warning for the pair (its decoders without an
//!   `else` pass over it, and so does this codec, warning of the first seven such pairs so that
//!   a stop's own warning always has room). AM307 `01755c 056a4900`: `{"battery":92}` from
//!   both, and a warning at byte 3 here. Not a difference: 278,667 payloads of the same data
//!   carry such a warning, and 30,373 the lone last byte's `unexpected_eof`.
//! - **Capacity**: a VS121 people counter (`04 c9`) of more than 169 regions fills a `FieldBuf`
//!   of [`MAX_EVENTS`], and this codec stops at it with `sink_full`
//!   (`04c901f80001 04c90003ffff`: 248 regions, then 3; the script's result is the second
//!   pair's). A result that large is refused on the script's side too, so a lone such pair
//!   fails on both; none came up in the last run.
//!
//! One difference was this codec's, and is fixed: past eight pairs passed over, the warning of
//! the pair decoding stopped at was refused as `sink_full`, an error where the decoder returns
//! its data (3,621 payloads over AM104, EM500-LGT, UC1114, UC1122, UC1152, UC300 and UC50x in
//! the same run before the fix; the golden case in `fixtures/milesight/uc.jsonl` is named after
//! it).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

#[cfg(test)]
extern crate alloc;

pub mod engine;
mod models;

use lorafield_core::{DecodeError, GenericCodec, Sink, Uplink};

pub use models::models;

/// The codec's id in the registry.
pub const ID: &str = "milesight";

/// Events enough for any frame of up to 242 bytes (LoRaWAN's largest payload) of every model
/// but one: the densest pairs are WS50x's and WS558's switch states, six events in three bytes
/// (480 in 242 bytes; `tests/capacity.rs` searches every model's pairs). The exception is the
/// VS121's people counter (`04 c9`), whose own region count byte asks for up to 255 regions of
/// three events each: a pair of more than 169 regions, or several large ones, fills a
/// `FieldBuf` this large. Decoding then stops at that pair with `sink_full`, what came before
/// kept, on both paths to JSON alike.
pub const MAX_EVENTS: usize = 512;

/// One device model: its id (the device repository's codec id without `-codec`), the device
/// ids that use it, and its table of rules.
#[derive(Debug)]
pub struct Model {
    /// The model id (`am307`).
    pub id: &'static str,
    /// Device ids of the device repository that use this model's decoder.
    pub aliases: &'static [&'static str],
    /// The decoder's chain of tests, with its lookup.
    pub table: engine::Table,
}

/// The model called `name`: a model id, else a device id using one.
pub fn model(name: &str) -> Option<&'static Model> {
    models()
        .find(|m| m.id == name)
        .or_else(|| models().find(|m| m.aliases.contains(&name)))
}

/// The model called `name`, or the first model when there is none (for callers that checked
/// `name` against [`MODEL_NAMES`] already).
pub fn model_or_first(name: &str) -> &'static Model {
    model(name).unwrap_or(models::FIRST)
}

/// Every name [`model`] resolves: the model ids and the device ids that use them.
pub static MODEL_NAMES: &[&str] = &[
    "am103",
    "am103l",
    "am104",
    "am107",
    "am307",
    "am307l",
    "am308",
    "am308l",
    "am319",
    "am319l",
    "em300-di",
    "em300-mcs",
    "em300-mld",
    "em300-sld",
    "em300-th",
    "em300-zld",
    "em310-tilt",
    "em310-udl",
    "em320-th",
    "em320-tilt",
    "em400-mud",
    "em400-tld",
    "em400-udl",
    "em500-co2",
    "em500-lgt",
    "em500-pp",
    "em500-pt100",
    "em500-smt",
    "em500-smtc",
    "em500-swl",
    "em500-udl",
    "gs101",
    "gs301",
    "ts101",
    "uc100",
    "uc1114",
    "uc1122",
    "uc1152",
    "uc300",
    "uc50x",
    "uc51x",
    "vs121",
    "vs133",
    "vs330",
    "vs340",
    "vs341",
    "ws101",
    "ws136",
    "ws156",
    "ws201",
    "ws202",
    "ws203",
    "ws301",
    "ws302",
    "ws303",
    "ws50x",
    "ws52x",
    "ws558",
    "wts305",
    "wts505",
    "wts506",
];

/// The Milesight codec for one model.
#[derive(Debug, Clone, Copy)]
pub struct Milesight {
    model: &'static Model,
}

impl Milesight {
    /// The codec for `model`.
    pub const fn new(model: &'static Model) -> Self {
        Milesight { model }
    }

    /// The codec for the model called `name` (see [`model`]).
    pub fn for_model(name: &str) -> Option<Self> {
        model(name).map(Milesight::new)
    }

    /// The model.
    pub const fn model(&self) -> &'static Model {
        self.model
    }
}

impl GenericCodec for Milesight {
    const ID: &'static str = crate::ID;

    #[inline]
    fn decode_generic<'a, S: Sink<'a> + ?Sized>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut S,
    ) -> Result<(), DecodeError> {
        engine::decode(&self.model.table, uplink.payload, sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn model_names_are_every_id_and_alias() {
        let mut names: Vec<&str> = models().map(|m| m.id).collect();
        for a in models().flat_map(|m| m.aliases.iter().copied()) {
            if !names.contains(&a) {
                names.push(a);
            }
        }
        let mut listed = MODEL_NAMES.to_vec();
        names.sort_unstable();
        listed.sort_unstable();
        assert_eq!(names, listed);
        assert_eq!(MODEL_NAMES.len(), 61);
        for n in MODEL_NAMES {
            assert!(model(n).is_some(), "{n}");
        }
        assert!(model("am999").is_none());
        assert_eq!(model_or_first("am999").id, "am103");
    }
}
