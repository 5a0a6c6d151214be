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

/// Runs `f` and returns what this thread's code logged meanwhile: each event as
/// `target: message name=value ...`.
///
/// The subscriber is the global one of the test binary, installed once and keeping events of
/// threads that capture: a subscriber scoped to one thread would race with the other tests'
/// threads over each log call site's cached interest, and miss events now and then.
pub(crate) fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    use std::cell::RefCell;
    use std::sync::Once;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    thread_local! {
        static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    }
    struct Capture;
    struct Fields(Vec<String>);
    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let text = format!("{value:?}");
            if field.name() == "message" {
                self.0.insert(0, text);
            } else {
                self.0.push(format!("{}={text}", field.name()));
            }
        }
    }
    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            CAPTURED.with(|c| {
                if let Some(lines) = c.borrow_mut().as_mut() {
                    let mut fields = Fields(Vec::new());
                    event.record(&mut fields);
                    let target = event.metadata().target();
                    lines.push(format!("{target}: {}", fields.0.join(" ")));
                }
            });
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Capture).expect("no other global subscriber");
    });
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let r = f();
    let lines = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (r, lines)
}
