//! The naive way to re-decode a stored record, the peer of `lorafield redecode`'s core: parse
//! the line into a `serde_json::Value`, find the payload, decode it, put the result and a stamp
//! into the tree, serialise the tree again.
//!
//! It uses the same codec and the same reused JSON writer as lorafield, so the difference
//! measured is the envelope handling alone. (It also reorders every object's keys, as
//! `serde_json::Value` without `preserve_order` does: it does not even keep the record.)

use base64::Engine as _;
use lorafield::{Codec, JsonWriter};
use serde_json::{Value, json};

/// Re-decodes one record the naive way, appending the new record and a line end to `out`.
pub fn redecode(
    line: &str,
    codec: &dyn Codec,
    json: &mut JsonWriter,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let env = if v.get("data").is_some_and(Value::is_object) {
        &mut v["data"]
    } else {
        &mut v
    };
    let (port, payload, key) = if let Some(u) = env.get("uplink_message") {
        (&u["f_port"], &u["frm_payload"], "decoded_payload")
    } else if env.get("payload_raw").is_some() {
        (&env["port"], &env["payload_raw"], "payload_fields")
    } else {
        (&env["fPort"], &env["data"], "object")
    };
    let port = port.as_u64().ok_or("no port")? as u8;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.as_str().ok_or("no payload")?)
        .map_err(|e| e.to_string())?;
    scratch.clear();
    let outcome = lorafield::decode_json(codec, port, &bytes, json, scratch);
    let data: Value = match outcome.data {
        Some(range) => serde_json::from_slice(&scratch[range]).map_err(|e| e.to_string())?,
        None => Value::Null,
    };
    if env.get("uplink_message").is_some() {
        env["uplink_message"][key] = data;
    } else {
        env[key] = data;
    }
    env["lorafield"] = json!({
        "codec": codec.id(),
        "profile": "extended",
        "version": env!("CARGO_PKG_VERSION"),
    });
    serde_json::to_writer(&mut *out, &v).map_err(|e| e.to_string())?;
    out.push(b'\n');
    Ok(())
}
