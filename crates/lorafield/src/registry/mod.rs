//! Codecs by id, built from options.

mod builtin;
mod dispatch;

pub use dispatch::Builtin;
mod options;

use std::fmt;
use std::sync::Arc;

use lorafield_core::Codec;

pub use options::{OptionSpec, Options, Setting, SettingSpec};

/// The script options the settings of the `js` codec give (limits, isolation, clock,
/// variables); `script` and `name` are left to the caller.
#[cfg(feature = "js")]
pub fn js_options(options: &Options) -> Result<lorafield_codec_js::JsOptions, String> {
    builtin::js::js_options(options)
}

/// A registered codec: its id, what it is, and how to build it.
#[derive(Clone, Copy)]
pub struct CodecInfo {
    /// The id (`cayenne-lpp`), kebab-case.
    pub id: &'static str,
    /// The implementing crate's version.
    pub version: &'static str,
    /// One line on what it decodes.
    pub description: &'static str,
    /// The options it accepts.
    pub options: &'static [OptionSpec],
    /// The settings it accepts (run-time codecs: a script, variables, limits).
    pub settings: &'static [SettingSpec],
    /// Builds the codec. Called with options whose names are among `options` and whose
    /// values are among each option's `values`, spelled as listed there, and settings whose
    /// names are among `settings`; a setting it cannot use is an error in words.
    pub build: fn(&Options) -> Result<Arc<dyn Codec>, String>,
}

impl fmt::Debug for CodecInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecInfo")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("options", &self.options)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why a codec could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// No codec has this id.
    UnknownCodec {
        /// The id asked for.
        id: String,
        /// The ids registered.
        known: Vec<&'static str>,
    },
    /// The codec takes no option of this name.
    UnsupportedOption {
        /// The codec.
        codec: &'static str,
        /// The option given.
        option: &'static str,
        /// The options it does take.
        supported: Vec<&'static str>,
    },
    /// The codec needs this option and none was given.
    MissingOption {
        /// The codec.
        codec: &'static str,
        /// The option.
        option: &'static str,
        /// The values it takes.
        known: &'static [&'static str],
    },
    /// The option's value is not one the codec knows.
    InvalidValue {
        /// The codec.
        codec: &'static str,
        /// The option.
        option: &'static str,
        /// The value given.
        value: String,
        /// The values it takes.
        known: &'static [&'static str],
    },
    /// The codec takes no setting of this name.
    UnknownSetting {
        /// The codec.
        codec: &'static str,
        /// The setting given.
        setting: String,
        /// The settings it takes.
        known: Vec<&'static str>,
    },
    /// The codec could not be built from what was given (a script that does not load, a
    /// setting with a wrong value).
    Build {
        /// The codec.
        codec: &'static str,
        /// Why, in words.
        reason: String,
    },
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::UnknownCodec { id, known } => {
                write!(f, "unknown codec {id:?} (known: {})", known.join(", "))
            }
            RegistryError::UnsupportedOption {
                codec,
                option,
                supported,
            } => {
                write!(f, "codec {codec} takes no option {option:?}")?;
                if supported.is_empty() {
                    f.write_str(" (it takes none)")
                } else {
                    write!(f, " (it takes: {})", supported.join(", "))
                }
            }
            RegistryError::MissingOption {
                codec,
                option,
                known,
            } => write!(
                f,
                "codec {codec} needs --{option} (known: {})",
                known.join(", ")
            ),
            RegistryError::InvalidValue {
                codec,
                option,
                value,
                known,
            } => write!(
                f,
                "unknown {option} {value:?} for codec {codec} (known: {})",
                known.join(", ")
            ),
            RegistryError::UnknownSetting {
                codec,
                setting,
                known,
            } if known.is_empty() => {
                write!(
                    f,
                    "codec {codec} takes no setting {setting:?} (it takes none)"
                )
            }
            RegistryError::UnknownSetting {
                codec,
                setting,
                known,
            } => write!(
                f,
                "codec {codec} takes no setting {setting:?} (it takes: {})",
                known.join(", ")
            ),
            RegistryError::Build { codec, reason } => write!(f, "codec {codec}: {reason}"),
        }
    }
}

impl std::error::Error for RegistryError {}

/// Codecs by id.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    codecs: Vec<CodecInfo>,
}

impl Registry {
    /// A registry with no codecs.
    pub fn empty() -> Self {
        Registry::default()
    }

    /// The codecs compiled in (one cargo feature each).
    #[allow(unused_mut)] // with no codec feature, nothing is registered
    pub fn builtin() -> Self {
        let mut r = Registry::empty();
        #[cfg(feature = "cayenne-lpp")]
        r.register(builtin::lpp::INFO);
        #[cfg(feature = "sodaq")]
        r.register(builtin::sodaq::INFO);
        #[cfg(feature = "elsys")]
        r.register(builtin::elsys::INFO);
        #[cfg(feature = "milesight")]
        r.register(builtin::milesight::INFO);
        #[cfg(feature = "js")]
        r.register(builtin::js::INFO);
        r
    }

    /// Adds a codec, replacing one with the same id.
    pub fn register(&mut self, info: CodecInfo) {
        self.codecs.retain(|c| c.id != info.id);
        self.codecs.push(info);
    }

    /// The codecs, in registration order.
    pub fn codecs(&self) -> &[CodecInfo] {
        &self.codecs
    }

    /// The codec registered as `id`.
    pub fn get(&self, id: &str) -> Option<&CodecInfo> {
        self.codecs.iter().find(|c| c.id == id)
    }

    /// Builds codec `id` with `options`, checked and spelled as [`Registry::canonical`] says.
    pub fn build(&self, id: &str, options: &Options) -> Result<Arc<dyn Codec>, RegistryError> {
        let (info, options) = self.resolve(id, options)?;
        (info.build)(&options).map_err(|reason| RegistryError::Build {
            codec: info.id,
            reason,
        })
    }

    /// Builds the built-in codec `id` as a [`Builtin`]: the codec by value, decoded through a
    /// `match` that the compiler inlines into the caller's loop, with no virtual call per
    /// frame (what [`Registry::build`]'s `Arc<dyn Codec>` costs). The options are checked as
    /// [`Registry::build`] checks them. A run-time codec (`js`) is not built in: it is an
    /// error here, and [`Registry::build`] builds it.
    ///
    /// ```
    /// # #[cfg(feature = "cayenne-lpp")] {
    /// use lorafield::{FieldBuf, Options, Registry};
    ///
    /// let codec = Registry::builtin().build_builtin("cayenne-lpp", &Options::default()).unwrap();
    /// let mut buf = FieldBuf::<{ lorafield::MAX_EVENTS }>::new();
    /// let decoded = lorafield::decode(&codec, 3, &[3, 0x67, 0, 0xf8], &mut buf);
    /// assert_eq!(decoded.get("temperature_3").and_then(|v| v.as_f64()), Some(24.8));
    /// # }
    /// ```
    pub fn build_builtin(&self, id: &str, options: &Options) -> Result<Builtin, RegistryError> {
        let (info, options) = self.resolve(id, options)?;
        Builtin::make(info.id, &options).ok_or_else(|| RegistryError::Build {
            codec: info.id,
            reason: "not a built-in codec (it runs a script): build it with Registry::build".into(),
        })
    }

    /// The options as codec `id` takes them: every option checked against what the codec
    /// accepts, each value spelled as the codec lists it. Values compare ignoring ASCII case
    /// (`AM308` is `am308`); errors still list the values as the codec spells them.
    ///
    /// ```
    /// # #[cfg(feature = "milesight")] {
    /// use lorafield::{Options, Registry};
    ///
    /// let registry = Registry::builtin();
    /// let options = registry.canonical("milesight", &Options::default().model("AM308")).unwrap();
    /// assert_eq!(options.model.as_deref(), Some("am308"));
    /// # }
    /// ```
    pub fn canonical(&self, id: &str, options: &Options) -> Result<Options, RegistryError> {
        self.resolve(id, options).map(|(_, options)| options)
    }

    fn resolve(&self, id: &str, options: &Options) -> Result<(&CodecInfo, Options), RegistryError> {
        let info = self.get(id).ok_or_else(|| RegistryError::UnknownCodec {
            id: id.into(),
            known: self.codecs.iter().map(|c| c.id).collect(),
        })?;
        let mut canonical = Options {
            settings: options.settings.clone(),
            ..Options::default()
        };
        if let Some(name) = options
            .settings
            .keys()
            .find(|k| !info.settings.iter().any(|s| s.name == k.as_str()))
        {
            return Err(RegistryError::UnknownSetting {
                codec: info.id,
                setting: name.clone(),
                known: info.settings.iter().map(|s| s.name).collect(),
            });
        }
        for (name, value) in options.given() {
            let spec = info
                .options
                .iter()
                .find(|o| o.name == name)
                .ok_or_else(|| RegistryError::UnsupportedOption {
                    codec: info.id,
                    option: name,
                    supported: info.options.iter().map(|o| o.name).collect(),
                })?;
            let value = spec
                .value(value)
                .ok_or_else(|| RegistryError::InvalidValue {
                    codec: info.id,
                    option: spec.name,
                    value: value.into(),
                    known: spec.values,
                })?;
            canonical.set(name, value);
        }
        if let Some(spec) = info
            .options
            .iter()
            .find(|o| o.default.is_none() && options.get(o.name).is_none())
        {
            return Err(RegistryError::MissingOption {
                codec: info.id,
                option: spec.name,
                known: spec.values,
            });
        }
        Ok((info, canonical))
    }

    /// The codecs that take `value` for option `name` (ignoring ASCII case), in registration
    /// order: where a model given without a codec belongs.
    pub fn codecs_taking(&self, name: &str, value: &str) -> Vec<&'static str> {
        self.codecs
            .iter()
            .filter(|c| {
                c.options
                    .iter()
                    .any(|o| o.name == name && o.value(value).is_some())
            })
            .map(|c| c.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_what_is_known() {
        let r = Registry::builtin();
        let e = r.build("lpp", &Options::default()).err().unwrap();
        let known: Vec<_> = r.codecs().iter().map(|c| c.id).collect();
        assert_eq!(
            e.to_string(),
            format!(r#"unknown codec "lpp" (known: {})"#, known.join(", "))
        );
        assert_eq!(known[0], "cayenne-lpp");
        let e = r
            .build("cayenne-lpp", &Options::default().profile("v2"))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            r#"unknown profile "v2" for codec cayenne-lpp (known: tts, extended)"#
        );
        let e = r
            .build("cayenne-lpp", &Options::default().model("am307"))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            r#"codec cayenne-lpp takes no option "model" (it takes: profile)"#
        );
    }

    #[cfg(feature = "sodaq")]
    #[test]
    fn sodaq_models_are_the_codec_s_own() {
        use lorafield_codec_sodaq::Model;
        let r = Registry::builtin();
        let info = r.get("sodaq-tracker").unwrap();
        let names: Vec<_> = Model::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(info.options[0].values, names);
        assert_eq!(info.options[0].default, Some(Model::default().name()));
        for name in names {
            r.build("sodaq-tracker", &Options::default().model(name))
                .unwrap();
        }
        let e = r
            .build("sodaq-tracker", &Options::default().profile("tts"))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            r#"codec sodaq-tracker takes no option "profile" (it takes: model)"#
        );
    }

    #[cfg(feature = "elsys")]
    #[test]
    fn elsys_takes_no_option() {
        let r = Registry::builtin();
        assert!(r.get("elsys").unwrap().options.is_empty());
        let e = r
            .build("elsys", &Options::default().model("ers"))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            r#"codec elsys takes no option "model" (it takes none)"#
        );
    }

    #[test]
    fn values_ignore_case() {
        let r = Registry::builtin();
        let tts = r
            .build("cayenne-lpp", &Options::default().profile("TTS"))
            .unwrap();
        assert!(!tts.keeps_partial());
        let o = r
            .canonical("cayenne-lpp", &Options::default().profile("Extended"))
            .unwrap();
        assert_eq!(o, Options::default().profile("extended"));
        assert_eq!(
            r.canonical("cayenne-lpp", &Options::default()).unwrap(),
            Options::default()
        );
        // Errors list the values as the codec spells them.
        let e = r
            .build("cayenne-lpp", &Options::default().profile("TTX"))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            r#"unknown profile "TTX" for codec cayenne-lpp (known: tts, extended)"#
        );
        assert_eq!(r.codecs_taking("profile", "TTS"), ["cayenne-lpp"]);
        assert!(r.codecs_taking("profile", "none").is_empty());
        assert!(r.codecs_taking("colour", "tts").is_empty());
    }

    #[cfg(feature = "milesight")]
    #[test]
    fn milesight_models_ignore_case() {
        let r = Registry::builtin();
        for name in ["AM308", "am308", "Am308"] {
            let codec = r
                .build("milesight", &Options::default().model(name))
                .unwrap();
            let mut out = Vec::new();
            crate::decode_to_json(&*codec, 85, &[0x01, 0x75, 0x5c], &mut out);
            assert_eq!(out, br#"{"data":{"battery":92}}"#, "{name}");
        }
        assert_eq!(r.codecs_taking("model", "EM300-TH"), ["milesight"]);
    }

    #[test]
    fn profiles_build_different_codecs() {
        let r = Registry::builtin();
        let tts = r
            .build("cayenne-lpp", &Options::default().profile("tts"))
            .unwrap();
        let ext = r.build("cayenne-lpp", &Options::default()).unwrap();
        assert!(!tts.keeps_partial());
        assert!(ext.keeps_partial());
    }
}
