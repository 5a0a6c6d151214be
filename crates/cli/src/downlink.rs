//! Downlinks: `lorafield encode` and `lorafield decode --downlink`, natively for Cayenne LPP
//! and through scripts' `encodeDownlink` and `decodeDownlink`.

use lorafield::Choice;
#[cfg(feature = "js")]
use lorafield_codec_js::JsCodec;
use lorafield_codec_lpp::{Encoder, Layout, Profile, Type};
use serde_json::{Map, Value};

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

/// The script of `device` that serves `routine` (a downlink encoder or decoder may be another
/// file than the uplink decoder), with the settings and repository of lorafield.toml (if
/// there is one in the current directory) under `env`, and `variables`.
#[cfg(feature = "js")]
pub fn device_script(
    registry: &lorafield::Registry,
    env: &lorafield::Environment,
    device: &str,
    routine: lorafield_codec_js::repo::Routine,
    variables: Option<&str>,
) -> anyhow::Result<JsCodec> {
    use lorafield_codec_js::repo::{DeviceRef, RepoError};
    let selection = crate::config::load(
        registry,
        &crate::config::Request {
            env: env.clone(),
            ..crate::config::Request::default()
        },
    )?;
    let mut codecs = selection.device_codecs(registry)?;
    if let Some(v) = variables {
        codecs = codecs.with_setting("variables", lorafield::Setting::Json(v.into()));
    }
    let device: DeviceRef = device
        .parse()
        .map_err(|e: RepoError| anyhow::anyhow!("{e}"))?;
    Ok(codecs.script_for(&device, routine)?)
}

/// A downlink made: its bytes and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The payload.
    pub bytes: Vec<u8>,
    /// The port.
    pub f_port: u8,
    /// The script's warnings.
    pub warnings: Vec<String>,
}

/// Encodes `data` as Cayenne LPP under `profile`: each member `<type name>_<channel>`
/// (`temperature_3`) with a number, or for a type of several values an object of its members
/// (`gps_1: {latitude, longitude, altitude}`); records in the keys' bytewise order.
/// A key that is no type's name, a channel over 255, a value that does not fit: an error.
pub fn encode_lpp(data: &Map<String, Value>, profile: Profile) -> Result<Vec<u8>, String> {
    let mut buf = [0u8; 1024];
    let mut enc = Encoder::new(&mut buf, profile);
    for (key, value) in data {
        let (name, channel) = key
            .rsplit_once('_')
            .and_then(|(n, c)| Some((n, c.parse::<u8>().ok()?)))
            .ok_or_else(|| {
                format!("{key:?} is not <type name>_<channel> (temperature_3, gps_1, ...)")
            })?;
        let t: &Type = Type::by_name(name, profile).ok_or_else(|| {
            format!("{key:?}: no Cayenne LPP type is called {name:?} in profile {profile}")
        })?;
        let mut values = [0f64; 3];
        let n = match (t.layout, value) {
            (Layout::Scalar(_), v) => {
                values[0] = v
                    .as_f64()
                    .ok_or_else(|| format!("{key:?}: {v} is not a number"))?;
                1
            }
            (Layout::Object(members), Value::Object(o)) => {
                for (slot, m) in values.iter_mut().zip(members) {
                    let v = o
                        .get(m.name)
                        .ok_or_else(|| format!("{key:?} has no member {:?}", m.name))?;
                    *slot = v
                        .as_f64()
                        .ok_or_else(|| format!("{key:?}.{}: {v} is not a number", m.name))?;
                }
                members.len()
            }
            (Layout::Object(members), v) => {
                let names: Vec<&str> = members.iter().map(|m| m.name).collect();
                return Err(format!(
                    "{key:?}: {v} is not an object of {}",
                    names.join(", ")
                ));
            }
        };
        enc.push(channel, t.id, values.get(..n).unwrap_or_default())
            .map_err(|e| format!("{key:?}: {e}"))?;
    }
    Ok(enc.encoded().to_vec())
}

/// Encodes `data` with a script's `encodeDownlink`; the port the script chose, else `f_port`.
#[cfg(feature = "js")]
pub fn encode_script(
    codec: &JsCodec,
    data: &Value,
    f_port: Option<u8>,
) -> Result<Encoded, lorafield_codec_js::RoutineError> {
    let e = codec.encode_downlink(data, f_port)?;
    Ok(Encoded {
        bytes: e.bytes,
        f_port: e.f_port.or(f_port).unwrap_or(1),
        warnings: e.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lpp(json: &str) -> Result<String, String> {
        let v: Value = serde_json::from_str(json).unwrap();
        encode_lpp(v.as_object().unwrap(), Profile::Extended).map(hex::encode)
    }

    #[test]
    fn cayenne_lpp_from_its_keys() {
        assert_eq!(
            lpp(r#"{"temperature_3":24.8,"analog_in_4":-312.36}"#).unwrap(),
            "040285fc036700f8"
        );
        assert_eq!(
            lpp(r#"{"gps_1":{"latitude":52.3655,"longitude":4.8885,"altitude":21.54}}"#).unwrap(),
            // 523655 = 0x07fd87, 48885 = 0x00bef5, 2154 = 0x00086a.
            "018807fd8700bef500086a"
        );
        assert_eq!(
            lpp(r#"{"temp_3":1}"#).unwrap_err(),
            r#""temp_3": no Cayenne LPP type is called "temp" in profile extended"#
        );
        assert!(
            lpp(r#"{"temperature":1}"#)
                .unwrap_err()
                .contains("<type name>_<channel>")
        );
        assert!(lpp(r#"{"temperature_300":1}"#).is_err());
        assert!(
            lpp(r#"{"temperature_3":"x"}"#)
                .unwrap_err()
                .contains("not a number")
        );
        assert!(
            lpp(r#"{"temperature_3":99999}"#)
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            lpp(r#"{"gps_1":{"latitude":1}}"#)
                .unwrap_err()
                .contains("no member")
        );
    }
}
