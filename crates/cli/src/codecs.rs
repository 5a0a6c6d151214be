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
    }
    s
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
