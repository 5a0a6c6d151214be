//! Downlinks: `lorafield encode` and `lorafield decode --downlink`, natively for Cayenne LPP
//! and through scripts' `encodeDownlink` and `decodeDownlink`.

use lorafield::Choice;
#[cfg(feature = "js")]
use lorafield_codec_js::JsCodec;

/// The script codec behind `choice`, if it runs one.
#[cfg(feature = "js")]
pub fn script_codec(choice: &Choice) -> Option<&JsCodec> {
    choice.codec().as_any()?.downcast_ref::<JsCodec>()
}

/// Without the feature `js` no codec is a script.
#[cfg(not(feature = "js"))]
pub fn script_codec(_: &Choice) -> Option<&()> {
    None
}

/// A result line for one downlink decoded by `codec`: `{"data":..,"warnings":[..]}` or
/// `{"errors":[{"kind":..,"message":..}]}`.
#[cfg(feature = "js")]
pub fn decode_downlink_line(codec: &JsCodec, f_port: u8, bytes: &[u8]) -> String {
    use serde_json::{Value, json};
    let result = match codec.decode_downlink(f_port, bytes) {
        Ok(r) => {
            let mut out = serde_json::Map::new();
            out.insert("data".into(), r.data);
            if !r.warnings.is_empty() {
                out.insert("warnings".into(), json!(r.warnings));
            }
            Value::Object(out)
        }
        Err(e) => json!({"errors": [{"kind": e.kind.name(), "message": e.message}]}),
    };
    result.to_string()
}

/// Without the feature `js` there is nothing to decode with.
#[cfg(not(feature = "js"))]
pub fn decode_downlink_line(_: &(), _: u8, _: &[u8]) -> String {
    String::new()
}
