//! `lorafield codecs`: what is registered.

use std::fmt::Write as _;

use lorafield::Registry;

/// A human-readable listing: each codec's id, version and description, then its options.
pub fn listing(registry: &Registry) -> String {
    let mut s = String::new();
    for info in registry.codecs() {
        let _ = writeln!(s, "{} {}\n    {}", info.id, info.version, info.description);
        for o in info.options {
            let default = o
                .default
                .map_or("required".into(), |d| format!("default {d}"));
            let _ = writeln!(s, "    --{} ({default})\n        {}", o.name, o.description);
            // The values, wrapped.
            let mut line = String::from("        values:");
            for v in o.values {
                if line.len() + v.len() > 96 {
                    let _ = writeln!(s, "{line}");
                    line = String::from("               ");
                }
                line.push(' ');
                line.push_str(v);
            }
            let _ = writeln!(s, "{line}");
        }
        for st in info.settings {
            let default = match (st.required, st.default) {
                (true, _) => "required".to_string(),
                (false, Some(d)) => format!("default {d}"),
                (false, None) => "optional".to_string(),
            };
            let _ = writeln!(s, "    {} ({default})\n        {}", st.name, st.description);
        }
    }
    s
}

/// What a device repository resolves: one line per device, `<vendor>/<model>` then what
/// decodes it (`native milesight (model am308)`, `script <vendor>/<codec id>`) or why nothing
/// does; and the counts last.
#[cfg(feature = "js")]
pub fn device_listing(
    registry: &Registry,
    repo: &lorafield::js::repo::DeviceRepo,
    vendor: Option<&str>,
) -> Result<(String, serde_json::Value), lorafield::js::repo::RepoError> {
    use lorafield::js::repo::{DeviceRef, RepoError};
    let vendors = match vendor {
        Some(v) => {
            repo.devices(v)?;
            vec![v.to_string()]
        }
        None => repo.vendors()?,
    };
    let mut text = String::new();
    let mut json = Vec::new();
    let (mut native, mut script, mut none) = (0, 0, 0);
    for vendor in vendors {
        let models = match repo.devices(&vendor) {
            Ok(m) => m,
            Err(RepoError::UnknownVendor { .. }) => continue,
            Err(e) => return Err(e),
        };
        for model in models {
            let device = DeviceRef {
                vendor: vendor.clone(),
                model: model.clone(),
                firmware: None,
                band: None,
            };
            let (what, entry) = match repo.resolve(&device) {
                Ok(r) => match lorafield::native_for(registry, &vendor, &model) {
                    Some((id, options)) => {
                        native += 1;
                        let m = options.model.as_deref().map(|m| format!(" (model {m})"));
                        (
                            format!(
                                "native {id}{}; script {}/{}",
                                m.unwrap_or_default(),
                                vendor,
                                r.codec
                            ),
                            serde_json::json!({"native": id, "model": options.model, "script": format!("{vendor}/{}", r.codec), "firmware": r.firmware}),
                        )
                    }
                    None => {
                        script += 1;
                        (
                            format!("script {vendor}/{} (firmware {})", r.codec, r.firmware),
                            serde_json::json!({"script": format!("{vendor}/{}", r.codec), "firmware": r.firmware}),
                        )
                    }
                },
                Err(e) => {
                    none += 1;
                    (
                        format!("-- {e}"),
                        serde_json::json!({"error": e.to_string()}),
                    )
                }
            };
            let _ = writeln!(text, "{vendor}/{model}  {what}");
            let mut entry = entry;
            entry["device"] = serde_json::json!(format!("{vendor}/{model}"));
            json.push(entry);
        }
    }
    let _ = writeln!(
        text,
        "{} devices: {native} with a native codec, {script} with a script only, {none} without a codec that resolves (see why above)",
        native + script + none
    );
    Ok((text, serde_json::Value::Array(json)))
}

/// The same as JSON: `[{"id", "version", "description", "options": [{"name", "values",
/// "default", "description"}]}]`.
pub fn listing_json(registry: &Registry) -> serde_json::Value {
    registry
        .codecs()
        .iter()
        .map(|info| {
            serde_json::json!({
                "id": info.id,
                "version": info.version,
                "description": info.description,
                "options": info.options.iter().map(|o| serde_json::json!({
                    "name": o.name,
                    "values": o.values,
                    "default": o.default,
                    "description": o.description,
                })).collect::<Vec<_>>(),
                "settings": info.settings.iter().map(|s| serde_json::json!({
                    "name": s.name,
                    "default": s.default,
                    "required": s.required,
                    "description": s.description,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_codec_and_option() {
        let r = Registry::builtin();
        let text = listing(&r);
        assert!(text.starts_with("cayenne-lpp "), "{text}");
        assert!(text.contains("--profile (default extended)"), "{text}");
        assert!(text.contains("values: tts extended"), "{text}");
        assert!(text.contains("--model (required)"), "{text}");
        assert!(text.contains(" wts506"), "{text}");
        let json = listing_json(&r);
        assert_eq!(json[0]["id"], "cayenne-lpp");
        assert_eq!(
            json[0]["options"][0]["values"],
            serde_json::json!(["tts", "extended"])
        );
    }
}
