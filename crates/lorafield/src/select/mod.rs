//! Which codec decodes which uplink: rules matched on a record's metadata, read from a
//! `lorafield.toml` file (feature `config`).
//!
//! ```toml
//! # lorafield.toml: which codec decodes which uplink. Rules are tried in order; the first whose
//! # every key matches wins. A record without a rule falls to [default].
//!
//! [default]              # optional; without it: cayenne-lpp with its default profile
//! codec = "cayenne-lpp"
//! profile = "tts"
//!
//! [[rule]]
//! application_id = "hackiot-*"          # a string or a list of strings; `*` matches any run of characters
//! f_port = [3, 4]                       # an integer or a list
//! codec = "cayenne-lpp"
//! profile = "tts"
//!
//! [[rule]]
//! brand_id = "milesight-iot"            # version_ids.brand_id as The Things Stack sends it
//! model_id = ["em300-th", "em300-mcs"]
//! codec = "milesight"
//! model = "em300-th"
//!
//! [[rule]]
//! rec_type = "uk.reading.ttn.sodaq"      # a Microshare share's recType
//! codec = "sodaq-tracker"
//! ```
//!
//! - Match keys: `application_id`, `device_id`, `dev_eui`, `f_port`, `brand_id`, `model_id`,
//!   `rec_type` ([`Meta`]'s fields). Each takes one value or a list, any of which may match.
//! - Text is compared exactly, except that `*` matches any run of characters (none included)
//!   and `dev_eui` ignores ASCII case (`70B3D5...` matches `70b3d5...`).
//! - A record that lacks a key a rule names does not match that rule; a rule with no match key
//!   matches every record.
//! - `codec` (required in a rule) names a registered codec; `profile` and `model` are its
//!   options, checked when the file is read; their values ignore ASCII case (`AM308`). In `[default]`, `codec` may be left out:
//!   `cayenne-lpp`.
//! - `forward_to` (optional, in a rule or `[default]`): the Microshare recType `lorafield serve`
//!   posts these records to, instead of its `--rec-type`.
//! - `f_port` values are application ports, 1 to 255. An unknown key, a codec or option the
//!   registry refuses, or an empty list is an error naming the rule and its line.
//!
//! Everything is checked and every codec built when the selection is made; [`Selection::select`]
//! then only compares text, allocating nothing.

// Rules are made only from files: without `config`, the matching machinery goes unused.
#![cfg_attr(not(feature = "config"), allow(dead_code))]

use std::fmt;
use std::sync::Arc;

use lorafield_core::Codec;

use crate::registry::{OptionSpec, Options, Registry, RegistryError};

#[cfg(feature = "config")]
mod config;
#[cfg(feature = "js")]
pub(crate) mod device;
mod pattern;
#[cfg(feature = "config")]
#[cfg(all(
    test,
    feature = "cayenne-lpp",
    feature = "sodaq",
    feature = "elsys",
    feature = "milesight"
))]
mod tests;

use pattern::Test;

/// The codec decoding records no rule matches, when none is configured.
const DEFAULT_CODEC: &str = "cayenne-lpp";

/// What a record offers to match on (borrowed from the envelope).
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta<'a> {
    /// The application (The Things Stack's `application_ids.application_id`).
    pub application_id: Option<&'a str>,
    /// The device (`device_id`).
    pub device_id: Option<&'a str>,
    /// The DevEUI as hex text, either case.
    pub dev_eui: Option<&'a str>,
    /// The LoRaWAN port.
    pub f_port: Option<u8>,
    /// `version_ids.brand_id` (`milesight-iot`).
    pub brand_id: Option<&'a str>,
    /// `version_ids.model_id` (`em300-th`).
    pub model_id: Option<&'a str>,
    /// A Microshare share's `recType`.
    pub rec_type: Option<&'a str>,
    /// `version_ids.firmware_version` (`1.15`).
    pub firmware_version: Option<&'a str>,
    /// `version_ids.band_id` (`EU_863_870`).
    pub band_id: Option<&'a str>,
}

/// A built codec with the id, version and options that made it (for the decode stamp).
#[derive(Clone)]
pub struct Choice {
    codec: Arc<dyn Codec>,
    id: &'static str,
    version: &'static str,
    specs: &'static [OptionSpec],
    options: Options,
    rule: Option<usize>,
    forward_to: Option<String>,
}

impl Choice {
    /// Builds codec `id` of `registry` with `options`, checked as [`Registry::build`] checks them
    /// and kept as the codec spells them ([`Registry::canonical`]: `AM308` is kept as `am308`).
    pub fn build(
        registry: &Registry,
        id: &str,
        options: &Options,
    ) -> Result<Choice, RegistryError> {
        let options = registry.canonical(id, options)?;
        let codec = registry.build(id, &options)?;
        let info = registry.get(id).expect("Registry::build found the codec");
        Ok(Choice {
            codec,
            id: info.id,
            version: info.version,
            specs: info.options,
            options,
            rule: None,
            forward_to: None,
        })
    }

    /// The codec.
    pub fn codec(&self) -> &dyn Codec {
        &*self.codec
    }

    /// The codec, shared: clone it to keep it beyond the selection.
    pub fn codec_arc(&self) -> &Arc<dyn Codec> {
        &self.codec
    }

    /// For a run-time codec, the script it runs: its name (a file, or the device repository's
    /// `<vendor>/<codec id>`) and the first 16 hex digits of its sha256, as the decode stamp
    /// prints them. `None` for a native codec.
    pub fn script(&self) -> Option<(&str, &str)> {
        self.codec.script()
    }

    /// Whether the codec runs a script: slower than a native codec and bounded by its limits,
    /// so a server decodes with it off its async executor.
    pub fn is_runtime(&self) -> bool {
        self.codec.script().is_some()
    }

    /// The codec's id (`cayenne-lpp`).
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The implementing crate's version.
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// The options as given (spelled as the codec lists them), defaults not filled in.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Every option the codec takes with the value it decodes with, as `(name, value)`: the one
    /// given, else the option's default. What a decode stamp prints.
    pub fn effective_options(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.specs.iter().filter_map(|spec| {
            let value = self.options.get(spec.name).or(spec.default)?;
            Some((spec.name, value))
        })
    }

    /// The 1-based number of the rule that chose this codec; `None` for the default.
    pub fn rule(&self) -> Option<usize> {
        self.rule
    }

    /// The Microshare recType `lorafield serve` posts the records of this rule to (the rule's
    /// `forward_to`); `None`: the bridge's `--rec-type`.
    pub fn forward_to(&self) -> Option<&str> {
        self.forward_to.as_deref()
    }

    /// This choice with records forwarded to `rec_type` (see [`Choice::forward_to`]).
    pub fn with_forward_to(mut self, rec_type: Option<String>) -> Self {
        self.forward_to = rec_type;
        self
    }

    /// Whether the codec takes option `name`.
    fn takes(&self, name: &str) -> bool {
        self.specs.iter().any(|s| s.name == name)
    }
}

impl fmt::Debug for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Choice")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("options", &self.options)
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

/// Which codec decodes which uplink: rules tried in order, the first whose every key matches
/// wins, else the default. Rules come from a `lorafield.toml` ([`Selection::from_toml`]);
/// command-line options apply on top ([`Selection::with_overrides`]).
///
/// ```
/// # #[cfg(all(feature = "config", feature = "cayenne-lpp", feature = "milesight"))] {
/// use lorafield::{Meta, Registry, Selection};
///
/// let registry = Registry::builtin();
/// let toml = r#"
///     [[rule]]
///     brand_id = "milesight-iot"
///     model_id = "em300-*"
///     codec = "milesight"
///     model = "em300-th"
/// "#;
/// let selection = Selection::from_toml(toml, &registry).unwrap();
/// let meta = Meta {
///     brand_id: Some("milesight-iot"),
///     model_id: Some("em300-th"),
///     ..Meta::default()
/// };
/// assert_eq!(selection.select(&meta).id(), "milesight");
/// assert_eq!(selection.select(&meta).rule(), Some(1));
/// assert_eq!(selection.select(&Meta::default()).id(), "cayenne-lpp");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Selection {
    rules: Vec<Rule>,
    default: Choice,
    scripts: Scripts,
}

/// How the selection's scripts run and where its device repository is: the file's
/// `device_repo` and `[js]` under what the command line says.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scripts {
    pub(crate) device_repo: Option<std::path::PathBuf>,
    pub(crate) settings: std::collections::BTreeMap<String, crate::registry::Setting>,
}

/// The choice [`Selection::select`] made: one of the selection's own, or one resolved for the
/// record (`codec = "device-repo"`), shared with every record of the same device.
#[derive(Debug, Clone)]
pub enum Selected<'s> {
    /// A rule's or the default's choice.
    Fixed(&'s Choice),
    /// A choice resolved from the record's device.
    Resolved(Arc<Choice>),
}

impl std::ops::Deref for Selected<'_> {
    type Target = Choice;

    fn deref(&self) -> &Choice {
        match self {
            Selected::Fixed(c) => c,
            Selected::Resolved(c) => c,
        }
    }
}

impl Selection {
    /// Everything decoded by one codec.
    pub fn single(mut choice: Choice) -> Selection {
        choice.rule = None;
        Selection {
            rules: Vec::new(),
            default: choice,
            scripts: Scripts::default(),
        }
    }

    /// This selection with the command line's script settings and device repository (`env`)
    /// where it has none of its own from a file: what [`Selection::with_script`] and
    /// [`Selection::with_device`] use.
    pub fn in_environment(mut self, env: &Environment) -> Selection {
        if env.device_repo.is_some() {
            self.scripts.device_repo = env.device_repo.clone();
        }
        self.scripts.settings.extend(env.js.clone());
        self
    }

    /// Everything decoded by the script in file `path` (with `variables`, JSON text of an
    /// object), run with the selection's script settings; the rules no longer matter.
    #[cfg(feature = "js")]
    pub fn with_script(
        self,
        registry: &Registry,
        path: &std::path::Path,
        variables: Option<&str>,
    ) -> Result<Selection, SelectionError> {
        use crate::registry::Setting;
        let mut settings = self.scripts.settings.clone();
        settings.insert("script".into(), Setting::Text(path.display().to_string()));
        if let Some(v) = variables {
            settings.insert("variables".into(), Setting::Json(v.into()));
        }
        let options = Options {
            settings,
            ..Options::default()
        };
        let choice =
            Choice::build(registry, lorafield_codec_js::ID, &options).map_err(|error| {
                SelectionError::Override {
                    section: None,
                    error,
                }
            })?;
        Ok(Selection {
            scripts: self.scripts,
            ..Selection::single(choice)
        })
    }

    /// Everything decoded by the codec of `device` (`BRAND/MODEL[@FIRMWARE][:BAND]`) in the
    /// selection's device repository: its native codec where one covers it, unless `prefer`
    /// is [`device::Prefer::Js`], else its script; the rules no longer matter.
    #[cfg(feature = "js")]
    pub fn with_device(
        self,
        registry: &Registry,
        device: &str,
        prefer: device::Prefer,
        variables: Option<&str>,
    ) -> Result<Selection, SelectionError> {
        let choice = self.device_choice(registry, device, prefer, variables)?;
        Ok(Selection {
            scripts: self.scripts,
            ..Selection::single(choice)
        })
    }

    /// The codecs of the selection's device repository, if it has one.
    #[cfg(feature = "js")]
    pub fn device_codecs(
        &self,
        registry: &Registry,
    ) -> Result<device::DeviceCodecs, SelectionError> {
        let dir = self
            .scripts
            .device_repo
            .as_ref()
            .ok_or(SelectionError::NoDeviceRepo)?;
        let repo = lorafield_codec_js::repo::DeviceRepo::open(dir)
            .map_err(|e| SelectionError::Device(e.to_string()))?;
        Ok(device::DeviceCodecs::new(
            repo,
            registry.clone(),
            self.scripts.settings.clone(),
        ))
    }

    #[cfg(feature = "js")]
    fn device_choice(
        &self,
        registry: &Registry,
        device: &str,
        prefer: device::Prefer,
        variables: Option<&str>,
    ) -> Result<Choice, SelectionError> {
        let codecs = self.device_codecs(registry)?;
        let device: lorafield_codec_js::repo::DeviceRef =
            device
                .parse()
                .map_err(|e: lorafield_codec_js::repo::RepoError| {
                    SelectionError::Device(e.to_string())
                })?;
        codecs
            .choice(&device, prefer, variables)
            .map_err(|e| SelectionError::Device(e.to_string()))
    }

    /// Everything decoded by Cayenne LPP with its default options: the registry's `cayenne-lpp`,
    /// or the built-in one when the registry has none that builds without options.
    #[cfg(feature = "cayenne-lpp")]
    pub fn builtin_default(registry: &Registry) -> Selection {
        let choice = Choice::build(registry, DEFAULT_CODEC, &Options::default())
            .or_else(|_| Choice::build(&Registry::builtin(), DEFAULT_CODEC, &Options::default()))
            .expect("the built-in Cayenne LPP builds with its default options");
        Selection::single(choice)
    }

    /// Reads a `lorafield.toml`, building every codec it names with `registry`.
    ///
    /// - `[default]` (optional): `codec` (`cayenne-lpp` when left out) and its options
    ///   `profile` and `model`. Without it, records no rule matches go to the registry's
    ///   `cayenne-lpp` with its default options.
    /// - `[[rule]]`, tried in order: match keys `application_id`, `device_id`, `dev_eui`,
    ///   `f_port` (1 to 255), `brand_id`, `model_id`, `rec_type` ([`Meta`]'s fields), each one
    ///   value or a list of which one must match; then `codec` (required) and its options. In
    ///   text `*` matches any run of characters; `dev_eui` ignores ASCII case. A record lacking
    ///   a key the rule names does not match it; a rule without match keys matches all.
    ///
    /// Every mistake is found here, never per record: an unknown key (the error lists the valid
    /// ones), a wrong type, an empty list, a codec or option value the registry refuses, a rule
    /// without a codec. The error names `[default]` or the rule's number, and the line.
    #[cfg(feature = "config")]
    pub fn from_toml(text: &str, registry: &Registry) -> Result<Selection, SelectionError> {
        config::read(text, registry, &Environment::default())
    }

    /// Reads a `lorafield.toml` as [`Selection::from_toml`] does, in `env`: paths relative to
    /// the file's folder, and what the command line says over the file (the device
    /// repository, the scripts' settings).
    ///
    /// Beyond codecs, `[default]` and rules may decode with a script or a device of The Things
    /// Network's device repository (feature `js`): `js = "FILE"` (relative to the file),
    /// `device = "BRAND/MODEL[@FIRMWARE][:BAND]"` (a native codec where one covers the
    /// device, unless `prefer = "js"`), each with `variables = {..}`; a rule with `codec =
    /// "device-repo"` resolves each record's codec from its `version_ids`, and a record whose
    /// device does not resolve does not match it. `device_repo = "DIR"` at the top names the
    /// repository; `[js]` sets how scripts run (`fuel`, `time_ms`, `memory_mb`, `stack_kb`,
    /// `script_size_kb`, `output_size_kb`, `contexts`, `isolation`, `clock`).
    #[cfg(feature = "config")]
    pub fn from_toml_in(
        text: &str,
        registry: &Registry,
        env: &Environment,
    ) -> Result<Selection, SelectionError> {
        config::read(text, registry, env)
    }

    /// Applies options given on a command line.
    ///
    /// With `codec`, every rule and the default are replaced by that codec built with `options`:
    /// the rules no longer matter. Without, each option given replaces that option in every rule
    /// and the default whose codec takes it; an option no codec of the selection takes is an
    /// error naming it and the registry's codecs that have its value (the `--codec` to add).
    pub fn with_overrides(
        mut self,
        registry: &Registry,
        codec: Option<&str>,
        options: &Options,
    ) -> Result<Selection, SelectionError> {
        if let Some(id) = codec {
            let choice =
                Choice::build(registry, id, options).map_err(|error| SelectionError::Override {
                    section: None,
                    error,
                })?;
            return Ok(Selection::single(choice));
        }
        for (option, value) in options.given() {
            if !self.choices().any(|c| c.takes(option)) {
                let mut codecs: Vec<&'static str> = Vec::new();
                for c in self.choices() {
                    if !codecs.contains(&c.id) {
                        codecs.push(c.id);
                    }
                }
                return Err(SelectionError::UnusedOption {
                    option,
                    value: value.into(),
                    codecs,
                    owners: registry.codecs_taking(option, value),
                });
            }
        }
        let default = std::iter::once(&mut self.default);
        // Without the feature `js`, every action is a choice.
        #[allow(clippy::unnecessary_filter_map)]
        let fixed = self.rules.iter_mut().filter_map(|r| match &mut r.action {
            Action::Choice(c) => Some(c),
            #[cfg(feature = "js")]
            Action::Device(_) => None,
        });
        for choice in fixed.chain(default) {
            let pick = |name: &str, given: &Option<String>, old: &Option<String>| match given {
                Some(_) if choice.takes(name) => given.clone(),
                _ => old.clone(),
            };
            let merged = Options {
                profile: pick("profile", &options.profile, &choice.options.profile),
                model: pick("model", &options.model, &choice.options.model),
                settings: choice.options.settings.clone(),
            };
            if merged != choice.options {
                let rule = choice.rule;
                let forward_to = choice.forward_to.take();
                *choice = Choice::build(registry, choice.id, &merged).map_err(|error| {
                    SelectionError::Override {
                        section: Some(rule.map_or(Section::Default, Section::Rule)),
                        error,
                    }
                })?;
                choice.rule = rule;
                choice.forward_to = forward_to;
            }
        }
        Ok(self)
    }

    /// The codec for a record: the first rule that matches, else the default. Allocates
    /// nothing, but for a `codec = "device-repo"` rule meeting a device for the first time (its
    /// codec is resolved and built then, and shared by the device's later records).
    pub fn select(&self, meta: &Meta<'_>) -> Selected<'_> {
        for rule in &self.rules {
            if !rule.matches(meta) {
                continue;
            }
            match &rule.action {
                Action::Choice(c) => return Selected::Fixed(c),
                #[cfg(feature = "js")]
                Action::Device(resolver) => {
                    if let Some(c) = resolver.resolve(meta) {
                        return Selected::Resolved(c);
                    }
                }
            }
        }
        Selected::Fixed(&self.default)
    }

    /// Whether some record may be decoded by a script: a rule's or the default's codec runs
    /// one, or a rule resolves each record's device (which may run one).
    pub fn has_runtime(&self) -> bool {
        self.choices().any(Choice::is_runtime)
            || self
                .rules
                .iter()
                .any(|r| !matches!(r.action, Action::Choice(_)))
    }

    /// How many rules there are (the default not counted).
    pub fn rules(&self) -> usize {
        self.rules.len()
    }

    /// Every rule's choice, in order, then the default's (rules that resolve each record's
    /// codec have none).
    pub fn choices(&self) -> impl Iterator<Item = &Choice> {
        // Without the feature `js`, every action is a choice.
        #[allow(clippy::unnecessary_filter_map)]
        self.rules
            .iter()
            .filter_map(|r| match &r.action {
                Action::Choice(c) => Some(c),
                #[cfg(feature = "js")]
                Action::Device(_) => None,
            })
            .chain(std::iter::once(&self.default))
    }
}

/// What a `lorafield.toml` is read with besides its text: where it is, and what the command
/// line says over it.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// The file's folder: `js = "..."` and `device_repo = "..."` are relative to it.
    pub base_dir: Option<std::path::PathBuf>,
    /// The device repository given on the command line (or its environment variable); it
    /// wins over the file's `device_repo`.
    pub device_repo: Option<std::path::PathBuf>,
    /// Settings of scripts given on the command line (`fuel`, `isolation`, ...); they win
    /// over the file's `[js]`.
    pub js: std::collections::BTreeMap<String, crate::registry::Setting>,
}

/// A part of a selection: `[default]` or a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The default, for records no rule matches.
    Default,
    /// A rule, by its 1-based number.
    Rule(usize),
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Section::Default => f.write_str("[default]"),
            Section::Rule(n) => write!(f, "rule {n}"),
        }
    }
}

/// Why a selection could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectionError {
    /// The file is not TOML, or not a `lorafield.toml`: an unknown key, a value of the wrong
    /// type, an `f_port` out of 1..=255, an empty list.
    Toml {
        /// Where the error is, when it is inside `[default]` or a rule.
        section: Option<Section>,
        /// The 1-based line of the error.
        line: Option<usize>,
        /// The TOML parser's report: line, column, the line itself and the message.
        report: String,
    },
    /// A rule or `[default]` names a codec the registry does not have, or options it refuses.
    Codec {
        /// Which.
        section: Section,
        /// The 1-based line of the offending value in the file; `None` without a `[default]`
        /// table (the registry has no `cayenne-lpp`).
        line: Option<usize>,
        /// What the registry said.
        error: RegistryError,
    },
    /// A script or device could not be used: the repository is not given or has no such
    /// device, the keys do not fit together.
    Run {
        /// Which section.
        section: Section,
        /// The line of the offending value.
        line: usize,
        /// Why, in words.
        reason: String,
    },
    /// A rule names no codec.
    MissingCodec {
        /// The rule's number.
        rule: usize,
        /// The line of its `[[rule]]` header.
        line: usize,
    },
    /// An override could not be applied: the codec given, or an option's value for the codec
    /// of a rule or the default.
    Override {
        /// The rule or default whose codec refused; `None` for the codec given.
        section: Option<Section>,
        /// What the registry said.
        error: RegistryError,
    },
    /// An override names an option no codec of the selection takes (`--model em300-th`
    /// without `--codec` while everything goes to Cayenne LPP).
    UnusedOption {
        /// The option.
        option: &'static str,
        /// Its value.
        value: String,
        /// The codecs of the selection.
        codecs: Vec<&'static str>,
        /// The registry's codecs that take this value for this option: the `--codec` to add.
        owners: Vec<&'static str>,
    },
    /// A device is asked for and no device repository is given.
    NoDeviceRepo,
    /// A device given on the command line does not resolve, or its codec cannot be built.
    Device(String),
}

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectionError::Toml {
                section: Some(section),
                report,
                ..
            } => write!(f, "{section}: {report}"),
            SelectionError::Toml { report, .. } => f.write_str(report),
            SelectionError::Codec {
                section,
                line,
                error,
            } => {
                write!(f, "{section}")?;
                if let Some(line) = line {
                    write!(f, " (line {line})")?;
                }
                match error {
                    RegistryError::MissingOption {
                        codec,
                        option,
                        known,
                    } => write!(
                        f,
                        ": codec {codec} needs `{option} = ...` (known: {})",
                        known.join(", ")
                    ),
                    _ => write!(f, ": {error}"),
                }
            }
            SelectionError::Run {
                section,
                line,
                reason,
            } => write!(f, "{section} (line {line}): {reason}"),
            SelectionError::NoDeviceRepo => f.write_str(
                "no device repository: give --device-repo DIR (a checkout of The Things Network's lorawan-devices), LORAFIELD_DEVICE_REPO, or device_repo = \"DIR\" in lorafield.toml",
            ),
            SelectionError::Device(reason) => f.write_str(reason),
            SelectionError::MissingCodec { rule, line } => write!(
                f,
                "rule {rule} (line {line}): no codec (add `codec = \"...\"`, `js = \"FILE\"` or `device = \"BRAND/MODEL\"`)"
            ),
            SelectionError::Override {
                section: Some(section),
                error,
            } => write!(f, "{section}: {error}"),
            SelectionError::Override { error, .. } => write!(f, "{error}"),
            SelectionError::UnusedOption {
                option,
                value,
                codecs,
                owners,
            } => {
                let in_use = codecs.join(", ");
                match owners.as_slice() {
                    [] => write!(
                        f,
                        "option {option} {value:?} is taken by no codec in use ({in_use}), \
                         and no codec has a {option} {value:?}"
                    ),
                    [owner] => write!(
                        f,
                        "{option} {value:?} belongs to codec {owner}, which is not in use \
                         ({in_use}): add --codec {owner}"
                    ),
                    _ => write!(
                        f,
                        "{option} {value:?} belongs to codecs {}, none of them in use \
                         ({in_use}): add --codec with one of them",
                        owners.join(", ")
                    ),
                }
            }
        }
    }
}

/// The registry's error is part of the message (and a field of the variant), not a source:
/// a report that prints the chain of sources names it once.
impl std::error::Error for SelectionError {}

/// A rule, checked and built: every test must pass for its action to be taken.
#[derive(Debug, Clone)]
struct Rule {
    tests: Box<[Test]>,
    action: Action,
}

/// What a rule decodes with.
#[derive(Debug, Clone)]
enum Action {
    /// A codec built when the rule was read.
    Choice(Choice),
    /// The codec of each record's device in the device repository, resolved from its
    /// `version_ids`; a record whose device does not resolve does not match.
    #[cfg(feature = "js")]
    Device(Arc<device::Resolver>),
}

impl Rule {
    fn matches(&self, meta: &Meta<'_>) -> bool {
        self.tests.iter().all(|t| t.matches(meta))
    }
}
