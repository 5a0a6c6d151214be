//! The codecs compiled in: one registration per cargo feature.

#[cfg(feature = "cayenne-lpp")]
pub(crate) mod lpp {
    use super::super::*;
    use lorafield_codec_lpp::{CayenneLpp, Profile};

    pub(crate) const INFO: CodecInfo = CodecInfo {
        id: lorafield_codec_lpp::ID,
        version: env!("CARGO_PKG_VERSION"),
        description: "Cayenne LPP: 12 v1 types and 14 extended ones (The Things Stack's output under --profile tts)",
        options: &[OptionSpec {
            name: "profile",
            values: &["tts", "extended"],
            default: Some("extended"),
            description: "tts: v1 types only, barometer signed, nothing kept on error, as The Things Stack; extended: v1 + extended types, partial results kept",
        }],
        settings: &[],
        build,
    };

    fn build(options: &Options) -> Result<Arc<dyn Codec>, String> {
        Ok(Arc::new(make(options)))
    }

    pub(crate) fn make(options: &Options) -> CayenneLpp {
        let profile = options
            .profile
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(Profile::Extended);
        CayenneLpp::new(profile)
    }
}

#[cfg(feature = "sodaq")]
pub(crate) mod sodaq {
    use super::super::*;
    use lorafield_codec_sodaq::{Model, SodaqTracker};

    pub(crate) const INFO: CodecInfo = CodecInfo {
        id: lorafield_codec_sodaq::ID,
        version: env!("CARGO_PKG_VERSION"),
        description: "Sodaq ONE / Universal Tracker: GPS report with 0-3 previous fixes (21/31/41/51 bytes, little-endian) or the 19-byte Cayenne LPP mode",
        options: &[OptionSpec {
            name: "model",
            values: &["universal-tracker", "legacy", "nb-iot"],
            default: Some("universal-tracker"),
            description: "universal-tracker: Sodaq_Universal_Tracker over LoRaWAN; legacy: SodaqOne-UniversalTracker v1-v3 (previous fixes from byte 20 over time_to_fix, last byte stale); nb-iot: 16-byte UDP header (version, IMEI, token) then the universal layout",
        }],
        settings: &[],
        build,
    };

    fn build(options: &Options) -> Result<Arc<dyn Codec>, String> {
        Ok(Arc::new(make(options)))
    }

    pub(crate) fn make(options: &Options) -> SodaqTracker {
        let model = options
            .model
            .as_deref()
            .and_then(|m| m.parse().ok())
            .unwrap_or(Model::UniversalTracker);
        SodaqTracker::new(model)
    }
}

#[cfg(feature = "elsys")]
pub(crate) mod elsys {
    use super::super::*;
    use lorafield_codec_elsys::Elsys;

    pub(crate) const INFO: CodecInfo = CodecInfo {
        id: lorafield_codec_elsys::ID,
        version: env!("CARGO_PKG_VERSION"),
        description: "Elsys ERS/EMS/ELT sensors: [type][value] records, big-endian, with the device repository's camelCase output names",
        options: &[],
        settings: &[],
        build,
    };

    fn build(options: &Options) -> Result<Arc<dyn Codec>, String> {
        Ok(Arc::new(make(options)))
    }

    pub(crate) fn make(_: &Options) -> Elsys {
        Elsys
    }
}

#[cfg(feature = "milesight")]
pub(crate) mod milesight {
    use super::super::*;
    use lorafield_codec_milesight::{MODEL_NAMES, Milesight};

    pub(crate) const INFO: CodecInfo = CodecInfo {
        id: lorafield_codec_milesight::ID,
        version: env!("CARGO_PKG_VERSION"),
        description: "Milesight IoT sensors (port 85 channel/type pairs): one table per model of The Things Network's device repository",
        options: &[OptionSpec {
            name: "model",
            values: MODEL_NAMES,
            default: None,
            description: "the device repository's codec id without -codec (am307, em300-th, ws52x, ...); the device ids using one are accepted too",
        }],
        settings: &[],
        build,
    };

    fn build(options: &Options) -> Result<Arc<dyn Codec>, String> {
        Ok(Arc::new(make(options)))
    }

    pub(crate) fn make(options: &Options) -> Milesight {
        // The registry checked the model against MODEL_NAMES, all of which `model` resolves.
        let name = options.model.as_deref().unwrap_or_default();
        Milesight::new(lorafield_codec_milesight::model_or_first(name))
    }
}

#[cfg(feature = "js")]
pub(crate) mod js {
    use super::super::*;
    use lorafield_codec_js::{JsCodec, JsOptions, Limits, Script};

    /// The settings of the `js` codec. Limits are in the units their names say.
    pub(crate) const SETTINGS: &[SettingSpec] = &[
        SettingSpec {
            name: "script",
            description: "the script file (TS013 decodeUplink, TTN v2 Decoder or ChirpStack v3 Decode)",
            default: None,
            required: true,
        },
        SettingSpec {
            name: "name",
            description: "the script's name in messages and decode stamps (the device repository's <vendor>/<codec id>)",
            default: Some("the script's path"),
            required: false,
        },
        SettingSpec {
            name: "variables",
            description: "input.variables (TS013) or ChirpStack's third argument, a JSON object",
            default: None,
            required: false,
        },
        SettingSpec {
            name: "isolation",
            description: "cached: a context per script and thread, reused; fresh: a new context per uplink, as The Things Stack does",
            default: Some("cached"),
            required: false,
        },
        SettingSpec {
            name: "clock",
            description: "real: the host's clock; recv-time: Date.now() is the uplink's receive time and Math.random is seeded from the record",
            default: Some("real"),
            required: false,
        },
        SettingSpec {
            name: "fuel",
            description: "work per call, in the engine's interrupt checks (the same work whatever the load)",
            default: Some("80, about 50 ms of a loop of arithmetic"),
            required: false,
        },
        SettingSpec {
            name: "time_ms",
            description: "the wall-clock backstop per call",
            default: Some("1000"),
            required: false,
        },
        SettingSpec {
            name: "memory_mb",
            description: "memory a call may allocate",
            default: Some("32"),
            required: false,
        },
        SettingSpec {
            name: "stack_kb",
            description: "stack a call may use",
            default: Some("256"),
            required: false,
        },
        SettingSpec {
            name: "script_size_kb",
            description: "the largest script",
            default: Some("1024"),
            required: false,
        },
        SettingSpec {
            name: "output_size_kb",
            description: "the largest result",
            default: Some("256"),
            required: false,
        },
        SettingSpec {
            name: "contexts",
            description: "evaluated contexts cached per thread",
            default: Some("64"),
            required: false,
        },
    ];

    pub(crate) const INFO: CodecInfo = CodecInfo {
        id: lorafield_codec_js::ID,
        version: env!("CARGO_PKG_VERSION"),
        description: "JavaScript codecs (the device repository's, The Things Stack's, ChirpStack's) on QuickJS, sandboxed and limited",
        options: &[],
        settings: SETTINGS,
        build,
    };

    fn build(options: &Options) -> Result<Arc<dyn Codec>, String> {
        let js = js_options(options)?;
        let path = options
            .settings
            .get("script")
            .and_then(Setting::as_text)
            .ok_or("needs the setting script (a file)")?;
        let script = Script::from_file(std::path::Path::new(path)).map_err(|e| e.to_string())?;
        let script = match options.settings.get("name").and_then(Setting::as_text) {
            Some(name) => Script::new(name, script.text()),
            None => script,
        };
        let codec = JsCodec::new(script, js).map_err(|e| e.to_string())?;
        Ok(Arc::new(codec))
    }

    /// The codec options the settings give (everything but the script).
    pub(crate) fn js_options(options: &Options) -> Result<JsOptions, String> {
        let mut js = JsOptions::default();
        let mut limits = Limits::default();
        for (name, value) in &options.settings {
            let int = |scale: u64| -> Result<u64, String> {
                match value {
                    Setting::Integer(i) if *i > 0 => u64::try_from(*i)
                        .ok()
                        .and_then(|v| v.checked_mul(scale))
                        .ok_or_else(|| format!("{name} = {i} is too large")),
                    other => Err(format!("{name} must be a positive integer, not {other}")),
                }
            };
            let size = |scale: u64| int(scale).map(|v| usize::try_from(v).unwrap_or(usize::MAX));
            match name.as_str() {
                "script" | "name" => {}
                "variables" => match value {
                    Setting::Json(text) if text.starts_with('{') => {
                        js.variables = Some(text.clone());
                    }
                    other => return Err(format!("variables must be an object, not {other}")),
                },
                "isolation" => {
                    js.isolation = value.as_text().ok_or("isolation must be text")?.parse()?;
                }
                "clock" => js.clock = value.as_text().ok_or("clock must be text")?.parse()?,
                "fuel" => limits.fuel = int(1)?,
                "time_ms" => limits.time = std::time::Duration::from_millis(int(1)?),
                "memory_mb" => limits.memory = size(1 << 20)?,
                "stack_kb" => limits.stack = size(1 << 10)?,
                "script_size_kb" => limits.script_size = size(1 << 10)?,
                "output_size_kb" => limits.output_size = size(1 << 10)?,
                "contexts" => limits.contexts = size(1)?,
                other => return Err(format!("unknown setting {other}")),
            }
        }
        js.limits = limits;
        Ok(js)
    }
}
