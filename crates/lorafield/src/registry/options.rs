//! What a codec is built from: options with listed values, and the free-form settings of
//! run-time codecs.

use std::collections::BTreeMap;
use std::fmt;

/// An option a codec accepts (`profile`, `model`).
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// The option's name.
    pub name: &'static str,
    /// The values it takes.
    pub values: &'static [&'static str],
    /// The value used when none is given; `None`: the option must be given.
    pub default: Option<&'static str>,
    /// What it changes.
    pub description: &'static str,
}

impl OptionSpec {
    /// The value as this option spells it, if `value` is one of its values ignoring ASCII case.
    pub fn value(&self, value: &str) -> Option<&'static str> {
        self.values
            .iter()
            .copied()
            .find(|v| v.eq_ignore_ascii_case(value))
    }
}

/// A setting a run-time codec accepts (`script`, `variables`, `fuel`): free-form values that
/// the codec checks when it is built.
#[derive(Debug, Clone, Copy)]
pub struct SettingSpec {
    /// The setting's name.
    pub name: &'static str,
    /// What it takes and changes.
    pub description: &'static str,
    /// The value used when none is given, in words; `None`: nothing.
    pub default: Option<&'static str>,
    /// Whether the codec cannot be built without it.
    pub required: bool,
}

/// The value of a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// Text (a path, a name).
    Text(String),
    /// An integer (a limit).
    Integer(i64),
    /// A flag.
    Bool(bool),
    /// A JSON value, as compact text (a script's `variables`).
    Json(String),
}

impl Setting {
    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Setting::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Text(s) => write!(f, "{s:?}"),
            Setting::Integer(i) => write!(f, "{i}"),
            Setting::Bool(b) => write!(f, "{b}"),
            Setting::Json(j) => f.write_str(j),
        }
    }
}

/// Options given to build a codec. Each codec says which it accepts; giving one it does not
/// accept is an error, not silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// A decoding profile (`tts`, `extended` for Cayenne LPP).
    pub profile: Option<String>,
    /// A device model (`em300-th` for Milesight).
    pub model: Option<String>,
    /// Settings of run-time codecs (`script`, `variables`, limits), by name.
    pub settings: BTreeMap<String, Setting>,
}

impl Options {
    /// These options with `profile` set.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// These options with `model` set.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// These options with setting `name` set to `value`.
    pub fn setting(mut self, name: impl Into<String>, value: Setting) -> Self {
        self.settings.insert(name.into(), value);
        self
    }

    /// The options given, as `(name, value)`.
    pub fn given(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [("profile", &self.profile), ("model", &self.model)]
            .into_iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    }

    /// The value of option `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.given().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Sets option `name` (`profile` or `model`; other names are ignored).
    pub(crate) fn set(&mut self, name: &str, value: &str) {
        match name {
            "profile" => self.profile = Some(value.into()),
            "model" => self.model = Some(value.into()),
            _ => {}
        }
    }
}
