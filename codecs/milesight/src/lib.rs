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
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

pub mod engine;
mod models;

use lorafield_core::{Codec, DecodeError, FieldStore, Sink, Uplink};

pub use models::models;

/// The codec's id in the registry.
pub const ID: &str = "milesight";

/// One device model: its id (the device repository's codec id without `-codec`), the device
/// ids that use it, and its rules.
#[derive(Debug)]
pub struct Model {
    /// The model id (`am307`).
    pub id: &'static str,
    /// Device ids of the device repository that use this model's decoder.
    pub aliases: &'static [&'static str],
    /// The decoder's chain of tests.
    pub rules: &'static [engine::Rule],
}

/// The model called `name`: a model id, else a device id using one.
pub fn model(name: &str) -> Option<&'static Model> {
    models()
        .find(|m| m.id == name)
        .or_else(|| models().find(|m| m.aliases.contains(&name)))
}

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

impl Codec for Milesight {
    fn id(&self) -> &'static str {
        ID
    }

    fn decode<'a>(&self, uplink: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError> {
        engine::decode(self.model.rules, uplink.payload, &mut engine::DynSink(sink))
    }

    #[inline]
    fn decode_store<'a>(
        &self,
        uplink: Uplink<'a>,
        store: &mut FieldStore<'a, '_>,
    ) -> Result<(), DecodeError> {
        engine::decode(self.model.rules, uplink.payload, store)
    }

    #[cfg(feature = "alloc")]
    #[inline]
    fn decode_json<'a>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut lorafield_core::json::JsonSink<'_>,
    ) -> Result<(), DecodeError> {
        engine::decode(self.model.rules, uplink.payload, sink)
    }
}
