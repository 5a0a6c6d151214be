//! Run-time JavaScript codecs for lorafield: the scripts of The Things Network's device
//! repository, The Things Stack's custom formatters and ChirpStack's codecs, run on QuickJS
//! behind the same [`Codec`] trait as the native codecs.
//!
//! ```
//! use lorafield_codec_js::{JsCodec, JsOptions, Script};
//! use lorafield_core::json::JsonWriter;
//! use lorafield_core::Uplink;
//!
//! let script = Script::new(
//!     "example.js",
//!     "function decodeUplink(input) {
//!          return { data: { temperature: ((input.bytes[0] << 8) | input.bytes[1]) / 10 } };
//!      }",
//! );
//! let codec = JsCodec::new(script, JsOptions::default()).unwrap();
//! let mut out = Vec::new();
//! JsonWriter::new().decode(&codec, Uplink::new(1, &[0x01, 0x10]), &mut out);
//! assert_eq!(out, br#"{"data":{"temperature":27.2}}"#);
//! ```
//!
//! A script runs as a classic script (sloppy mode, as The Things Stack runs it). Its entry
//! point is `decodeUplink(input)` (TS013), else TTN v2's `Decoder(bytes, fPort)`, else
//! ChirpStack v3's `Decode(fPort, bytes, variables)`, declared with `function`, `var`, `let` or
//! `const`. `normalizeUplink` runs after a decode without errors; `encodeDownlink` and
//! `decodeDownlink` serve downlinks ([`JsCodec::encode_downlink`], [`JsCodec::decode_downlink`]).
//!
//! Each thread has one QuickJS runtime; a script's evaluated context is cached per thread by
//! the sha256 of its text, so decoding an uplink is a call, not an evaluation. The globals a
//! call creates are removed after it; [`Isolation::Fresh`] evaluates the script anew for each
//! uplink instead, as The Things Stack does. Nothing of the host is reachable: no module
//! loader, no `require`, no files, network, timers or process; `console` goes to the debug log.
//! Every call is bounded ([`Limits`]): fuel counted in the engine's interrupt checks (the same
//! amount of work whatever the machine's load), a wall-clock backstop, memory, stack depth,
//! script size and output size. A call that hits a limit fails that uplink only, and its
//! context is thrown away. The host's time zone never shows (local-time `Date` methods behave
//! as UTC), and [`Clock::RecvTime`] makes `Date.now()` the uplink's receive time and seeds
//! `Math.random` from the record, so that decoding history again gives the same result.
//!
//! Results are converted from JavaScript values directly (not through JSON text) and pushed
//! into the sink as run-time members ([`lorafield_core::dynamic`]): keys sorted bytewise,
//! numbers printed as ECMAScript prints them, `undefined` and functions left out (`null` in
//! arrays), typed arrays as arrays, dates as ISO 8601 text, boxed primitives as their values,
//! BigInts as numbers when exact.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod convert;
mod downlink;
mod engine;
mod entry;
mod helpers;
mod limits;
pub mod repo;
mod script;
mod text;

pub use downlink::{DownlinkResult, EncodedDownlink, RoutineError};

pub use limits::{Clock, DEFAULT_FUEL, Isolation, JsOptions, Limits};
pub use script::{LoadError, Script};

use std::sync::Arc;

use lorafield_core::{Codec, DecodeError, Sink, Uplink};

/// The codec's id in the registry.
pub const ID: &str = "js";

/// A script codec: a [`Script`] with its options, decoding through this thread's engine.
#[derive(Debug, Clone)]
pub struct JsCodec {
    script: Arc<Script>,
    options: Arc<JsOptions>,
}

impl JsCodec {
    /// A codec running `script` with `options`. The script is evaluated once here (on this
    /// thread) to check it: a syntax error, an ES module, a script over the size limit, one
    /// that throws or runs into a limit while it loads, or one without an entry point is an
    /// error now rather than on every uplink; so are variables that are not a JSON object.
    pub fn new(script: Script, options: JsOptions) -> Result<JsCodec, LoadError> {
        if let Some(text) = &options.variables {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) if v.is_object() => {}
                Ok(_) => {
                    return Err(LoadError::Variables {
                        reason: format!("{text} is not an object"),
                    });
                }
                Err(e) => {
                    return Err(LoadError::Variables {
                        reason: e.to_string(),
                    });
                }
            }
        }
        let codec = JsCodec {
            script: Arc::new(script),
            options: Arc::new(options),
        };
        engine::check(&codec)?;
        Ok(codec)
    }

    /// The script.
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// The options.
    pub fn options(&self) -> &JsOptions {
        &self.options
    }

    /// Whether the script has `normalizeUplink`.
    pub fn normalizes(&self) -> bool {
        engine::entries(self).is_ok_and(|e| e.normalize)
    }

    /// Whether the script decodes uplinks (`decodeUplink`, `Decoder` or `Decode`); a script
    /// may serve downlinks only.
    pub fn decodes_uplinks(&self) -> bool {
        engine::entries(self).is_ok_and(|e| e.uplink)
    }
}

impl Codec for JsCodec {
    fn id(&self) -> &'static str {
        ID
    }

    fn decode<'a>(&self, uplink: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError> {
        engine::decode(self, uplink, sink)
    }

    /// A result with errors has no data, as in The Things Stack.
    fn keeps_partial(&self) -> bool {
        false
    }

    fn script(&self) -> Option<(&str, &str)> {
        Some((self.script.name(), self.script.short_hash()))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
