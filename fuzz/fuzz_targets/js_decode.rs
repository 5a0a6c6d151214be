//! JavaScript codecs: the codecs of lorafield's own device repository tree
//! (`fixtures/device-repo`). The first byte picks the codec (modulo), the second the port
//! (1-223), the rest (at most 242 bytes, LoRaWAN's largest payload) is the payload; see
//! `lorafield_fuzz::check_js`.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use lorafield_codec_js::repo::{DeviceRef, DeviceRepo};
use lorafield_codec_js::{JsCodec, JsOptions, Script};
use lorafield_core::MAX_PAYLOAD;

/// Every device of the fixture tree with an uplink decoder, each codec once.
const DEVICES: [&str; 13] = [
    "acme/th-sensor@1.9",
    "acme/th-sensor@1.10",
    "acme/meter:EU_863_870",
    "acme/meter:US_902_928",
    "acme/pulse-counter",
    "acme/valve",
    "lorafield-test/cs-node",
    "lorafield-test/globals-node",
    "lorafield-test/module-node",
    "lorafield-test/thrower",
    "lorafield-test/kinds",
    "lorafield-test/shapes",
    "nordwind/weather-station",
];

static CODECS: LazyLock<Vec<JsCodec>> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/device-repo");
    let repo = DeviceRepo::open(&root).expect("the fixture tree");
    DEVICES
        .iter()
        .map(|d| {
            let device: DeviceRef = d.parse().expect("a device");
            let resolved = repo.resolve(&device).expect("the device resolves");
            let text = std::fs::read_to_string(&resolved.script).expect("the script");
            JsCodec::new(Script::new(resolved.script_name, text), JsOptions::default())
                .expect("the script loads")
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let [pick, port, payload @ ..] = data else {
        return;
    };
    let codec = &CODECS[usize::from(*pick) % CODECS.len()];
    let f_port = 1 + port % 223;
    let payload = &payload[..payload.len().min(MAX_PAYLOAD)];
    lorafield_fuzz::check_js(codec, f_port, payload);
});
