//! What the tests share: the fixtures' paths, codecs made from them, and results as JSON text.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use lorafield_codec_js::repo::{DeviceRef, DeviceRepo};
use lorafield_codec_js::{JsCodec, JsOptions, Script};
use lorafield_core::json::JsonWriter;
use lorafield_core::{FieldBuf, Uplink};

/// The project's fixtures.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// lorafield's own device repository tree.
pub(crate) fn repo() -> DeviceRepo {
    DeviceRepo::open(&fixtures().join("device-repo")).expect("the fixture tree opens")
}

/// The script of `device` (`vendor/model[@firmware][:band]`) in the fixture tree.
pub(crate) fn device_script(device: &str) -> Script {
    let d: DeviceRef = device.parse().expect("a device");
    let resolved = repo().resolve(&d).expect("the device resolves");
    let text = std::fs::read_to_string(&resolved.script).expect("the script reads");
    Script::new(resolved.script_name, text)
}

/// The codec of `device` in the fixture tree, with `options`.
pub(crate) fn device_with(device: &str, options: JsOptions) -> JsCodec {
    JsCodec::new(device_script(device), options).expect("the script loads")
}

/// The codec of `device` in the fixture tree, with the default options.
pub(crate) fn device(device: &str) -> JsCodec {
    device_with(device, JsOptions::default())
}

/// A script of `fixtures/js/` (named by its path there).
pub(crate) fn js_script(rel: &str) -> Script {
    let text = std::fs::read_to_string(fixtures().join("js").join(rel)).expect("the script reads");
    Script::new(rel, text)
}

/// A codec of `fixtures/js/` with `options`.
pub(crate) fn js_with(rel: &str, options: JsOptions) -> JsCodec {
    JsCodec::new(js_script(rel), options).expect("the script loads")
}

/// A codec of the text `text` (named `inline.js`) with the default options.
pub(crate) fn inline(text: &str) -> JsCodec {
    JsCodec::new(Script::new("inline.js", text), JsOptions::default()).expect("the script loads")
}

/// The whole result as JSON text, through the JSON writer's sink.
pub(crate) fn decode(codec: &JsCodec, uplink: Uplink<'_>) -> String {
    let mut out = Vec::new();
    JsonWriter::new().decode(codec, uplink, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// The whole result of `bytes` on `f_port` as JSON text.
pub(crate) fn decode_port(codec: &JsCodec, f_port: u8, bytes: &[u8]) -> String {
    decode(codec, Uplink::new(f_port, bytes))
}

/// The whole result as JSON text, through a `FieldBuf` and then the writer; checked to be the
/// same text as [`decode`] gives.
pub(crate) fn decode_both(codec: &JsCodec, uplink: Uplink<'_>) -> String {
    let fast = decode(codec, uplink);
    let mut buf = FieldBuf::<256>::new();
    let decoded = buf.decode(codec, uplink);
    let mut out = Vec::new();
    JsonWriter::new().write_result(&decoded, &mut out);
    let stored = String::from_utf8(out).expect("JSON is UTF-8");
    assert_eq!(fast, stored, "the two paths to JSON differ");
    fast
}

/// The script-limit error of `limit` as the result prints it.
pub(crate) fn limit_error(limit: &str, message: &str) -> String {
    format!(r#"{{"errors":[{{"kind":"script_limit","limit":"{limit}","message":"{message}"}}]}}"#)
}
