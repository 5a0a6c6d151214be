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
}

impl Selection {
    /// Everything decoded by one codec.
    pub fn single(mut choice: Choice) -> Selection {
        choice.rule = None;
        Selection {
            rules: Vec::new(),
            default: choice,
        }
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
        config::read(text, registry)
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
        for choice in self.rules.iter_mut().map(|r| &mut r.choice).chain(default) {
            let pick = |name: &str, given: &Option<String>, old: &Option<String>| match given {
                Some(_) if choice.takes(name) => given.clone(),
                _ => old.clone(),
            };
            let merged = Options {
                profile: pick("profile", &options.profile, &choice.options.profile),
                model: pick("model", &options.model, &choice.options.model),
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

    /// The codec for a record: the first rule that matches, else the default. Allocates nothing.
    pub fn select(&self, meta: &Meta<'_>) -> &Choice {
        self.rules
            .iter()
            .find(|r| r.matches(meta))
            .map_or(&self.default, |r| &r.choice)
    }

    /// How many rules there are (the default not counted).
    pub fn rules(&self) -> usize {
        self.rules.len()
    }

    /// Every rule's choice, in order, then the default's.
    fn choices(&self) -> impl Iterator<Item = &Choice> {
        self.rules
            .iter()
            .map(|r| &r.choice)
            .chain(std::iter::once(&self.default))
    }
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
            SelectionError::MissingCodec { rule, line } => write!(
                f,
                "rule {rule} (line {line}): no codec (add `codec = \"...\"`)"
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

/// A rule, checked and built: every test must pass for `choice` to be chosen.
#[derive(Debug, Clone)]
struct Rule {
    tests: Box<[Test]>,
    choice: Choice,
}

impl Rule {
    fn matches(&self, meta: &Meta<'_>) -> bool {
        self.tests.iter().all(|t| t.matches(meta))
    }
}

/// One match key of a rule.
#[derive(Debug, Clone)]
enum Test {
    /// The text `key` must match one of the patterns.
    Text(Key, Box<[Pattern]>),
    /// The port must be one of these.
    Port(PortSet),
}

impl Test {
    fn matches(&self, meta: &Meta<'_>) -> bool {
        match self {
            Test::Text(key, patterns) => key.of(meta).is_some_and(|text| {
                let fold = matches!(key, Key::DevEui);
                patterns.iter().any(|p| p.matches(text, fold))
            }),
            Test::Port(ports) => meta.f_port.is_some_and(|p| ports.contains(p)),
        }
    }
}

/// The text fields of [`Meta`].
#[derive(Debug, Clone, Copy)]
enum Key {
    ApplicationId,
    DeviceId,
    DevEui,
    BrandId,
    ModelId,
    RecType,
}

impl Key {
    fn of<'a>(self, meta: &Meta<'a>) -> Option<&'a str> {
        match self {
            Key::ApplicationId => meta.application_id,
            Key::DeviceId => meta.device_id,
            Key::DevEui => meta.dev_eui,
            Key::BrandId => meta.brand_id,
            Key::ModelId => meta.model_id,
            Key::RecType => meta.rec_type,
        }
    }
}

/// Ports 0 to 255, one bit each.
#[derive(Debug, Clone, Copy, Default)]
struct PortSet([u64; 4]);

impl PortSet {
    fn insert(&mut self, port: u8) {
        self.0[usize::from(port >> 6)] |= 1 << (port & 63);
    }

    fn contains(&self, port: u8) -> bool {
        self.0[usize::from(port >> 6)] >> (port & 63) & 1 == 1
    }
}

/// A text pattern in which only `*` is special.
#[derive(Debug, Clone)]
enum Pattern {
    /// No `*`: the whole text.
    Exact(Box<str>),
    /// `prefix*middle*...*suffix`, the pieces between stars, empty ones left out.
    Glob {
        prefix: Box<str>,
        middle: Box<[Box<str>]>,
        suffix: Box<str>,
    },
}

impl Pattern {
    fn new(pattern: &str) -> Pattern {
        let mut pieces = pattern.split('*');
        let prefix = pieces.next().unwrap_or_default();
        let Some(last) = pieces.next_back() else {
            return Pattern::Exact(prefix.into());
        };
        Pattern::Glob {
            prefix: prefix.into(),
            middle: pieces.filter(|p| !p.is_empty()).map(Box::from).collect(),
            suffix: last.into(),
        }
    }

    /// Whether `text` matches; `fold`: ignoring ASCII case.
    fn matches(&self, text: &str, fold: bool) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            if fold {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        match self {
            Pattern::Exact(p) => eq(text.as_bytes(), p.as_bytes()),
            Pattern::Glob {
                prefix,
                middle,
                suffix,
            } => {
                let (text, prefix, suffix) =
                    (text.as_bytes(), prefix.as_bytes(), suffix.as_bytes());
                let Some(inner) = text.len().checked_sub(prefix.len() + suffix.len()) else {
                    return false;
                };
                let (head, rest) = text.split_at(prefix.len());
                let (mut rest, tail) = rest.split_at(inner);
                if !eq(head, prefix) || !eq(tail, suffix) {
                    return false;
                }
                // Leftmost matches leave the most room for the pieces after.
                for piece in middle.iter().map(|p| p.as_bytes()) {
                    match rest.windows(piece.len()).position(|w| eq(w, piece)) {
                        Some(at) => rest = &rest[at + piece.len()..],
                        None => return false,
                    }
                }
                true
            }
        }
    }
}

#[cfg(feature = "config")]
mod config {
    //! Reading `lorafield.toml`: serde shapes, then rules checked and built.

    use std::fmt;
    use std::marker::PhantomData;
    use std::ops::Range;

    use serde::Deserialize;
    use serde::de::{self, Deserializer, IntoDeserializer, SeqAccess, Visitor};
    use toml::Spanned;

    use super::*;

    /// The file.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        default: Option<Spanned<DefaultTable>>,
        #[serde(default)]
        rule: Vec<Spanned<RuleTable>>,
    }

    /// `[default]`.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DefaultTable {
        codec: Option<Spanned<String>>,
        profile: Option<Spanned<String>>,
        model: Option<Spanned<String>>,
        forward_to: Option<String>,
    }

    /// A `[[rule]]`.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RuleTable {
        application_id: Option<OneOrMany<String>>,
        device_id: Option<OneOrMany<String>>,
        dev_eui: Option<OneOrMany<String>>,
        f_port: Option<OneOrMany<Port>>,
        brand_id: Option<OneOrMany<String>>,
        model_id: Option<OneOrMany<String>>,
        rec_type: Option<OneOrMany<String>>,
        codec: Option<Spanned<String>>,
        profile: Option<Spanned<String>>,
        model: Option<Spanned<String>>,
        forward_to: Option<String>,
    }

    pub(super) fn read(text: &str, registry: &Registry) -> Result<Selection, SelectionError> {
        let file: File = toml::from_str(text).map_err(|e| toml_error(text, e))?;
        let line = |span: Range<usize>| line_at(text, span.start);
        let build = |section,
                     codec: &Spanned<String>,
                     profile: &Option<Spanned<String>>,
                     model: &Option<Spanned<String>>,
                     at: Range<usize>| {
            let given = |o: &Option<Spanned<String>>| o.as_ref().map(|v| v.get_ref().clone());
            let options = Options {
                profile: given(profile),
                model: given(model),
            };
            Choice::build(registry, codec.get_ref(), &options).map_err(|error| {
                // The line of what the registry refused.
                let named = |o: &Option<Spanned<String>>| o.as_ref().map(|v| v.span());
                let span = match &error {
                    RegistryError::UnknownCodec { .. } => Some(codec.span()),
                    RegistryError::UnsupportedOption { option, .. }
                    | RegistryError::InvalidValue { option, .. } => match *option {
                        "profile" => named(profile),
                        "model" => named(model),
                        _ => None,
                    },
                    _ => None,
                };
                SelectionError::Codec {
                    section,
                    line: Some(line(span.unwrap_or(at))),
                    error,
                }
            })
        };

        let default = match &file.default {
            Some(table) => {
                let t = table.get_ref();
                let lpp = Spanned::new(table.span(), DEFAULT_CODEC.to_owned());
                let codec = t.codec.as_ref().unwrap_or(&lpp);
                build(Section::Default, codec, &t.profile, &t.model, table.span())?
                    .with_forward_to(t.forward_to.clone())
            }
            None => {
                let built = Choice::build(registry, DEFAULT_CODEC, &Options::default());
                built.map_err(|error| SelectionError::Codec {
                    section: Section::Default,
                    line: None,
                    error,
                })?
            }
        };

        let mut rules = Vec::with_capacity(file.rule.len());
        for (i, table) in file.rule.iter().enumerate() {
            let (n, t) = (i + 1, table.get_ref());
            let Some(codec) = &t.codec else {
                return Err(SelectionError::MissingCodec {
                    rule: n,
                    line: line(table.span()),
                });
            };
            let mut choice = build(Section::Rule(n), codec, &t.profile, &t.model, table.span())?
                .with_forward_to(t.forward_to.clone());
            choice.rule = Some(n);
            let texts = [
                (Key::ApplicationId, &t.application_id),
                (Key::DeviceId, &t.device_id),
                (Key::DevEui, &t.dev_eui),
                (Key::BrandId, &t.brand_id),
                (Key::ModelId, &t.model_id),
                (Key::RecType, &t.rec_type),
            ];
            let mut tests: Vec<Test> = texts
                .into_iter()
                .filter_map(|(key, values)| {
                    let patterns = values.as_ref()?.0.iter().map(|v| Pattern::new(v));
                    Some(Test::Text(key, patterns.collect()))
                })
                .collect();
            if let Some(ports) = &t.f_port {
                let mut set = PortSet::default();
                ports.0.iter().for_each(|p| set.insert(p.0));
                tests.push(Test::Port(set));
            }
            rules.push(Rule {
                tests: tests.into(),
                choice,
            });
        }
        Ok(Selection { rules, default })
    }

    /// A TOML error, placed in `[default]` or a rule when it is inside one.
    fn toml_error(text: &str, mut error: toml::de::Error) -> SelectionError {
        error.set_input(Some(text));
        let span = error.span();
        SelectionError::Toml {
            section: span.as_ref().and_then(|s| section_at(text, s.start)),
            line: span.map(|s| line_at(text, s.start)),
            report: error.to_string().trim_end().to_owned(),
        }
    }

    /// The 1-based line of byte `at`.
    fn line_at(text: &str, at: usize) -> usize {
        let before = text.as_bytes().get(..at).unwrap_or(text.as_bytes());
        before.iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// The section holding byte `at`: the top-level table or array-of-tables element that
    /// starts last before it, when that is `[default]` or a `[[rule]]`.
    fn section_at(text: &str, at: usize) -> Option<Section> {
        let doc = toml::de::DeTable::parse(text).ok()?;
        let mut best: Option<(usize, Option<Section>)> = None;
        let mut consider = |start: usize, section: Option<Section>| {
            if start <= at && best.is_none_or(|(s, _)| start >= s) {
                best = Some((start, section));
            }
        };
        for (key, value) in doc.get_ref() {
            match value.get_ref() {
                toml::de::DeValue::Table(_) => {
                    let default = (key.get_ref() == "default").then_some(Section::Default);
                    consider(value.span().start, default);
                }
                toml::de::DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let rule = (key.get_ref() == "rule").then_some(Section::Rule(i + 1));
                        consider(item.span().start, rule);
                    }
                }
                _ => {}
            }
        }
        best.and_then(|(_, section)| section)
    }

    /// One value or a non-empty list of them.
    struct OneOrMany<T>(Vec<T>);

    /// What a [`OneOrMany`] of this type expects, for errors.
    trait Expecting {
        const EXPECTING: &'static str;
    }

    impl Expecting for String {
        const EXPECTING: &'static str = "a string or a list of strings";
    }

    impl Expecting for Port {
        const EXPECTING: &'static str = "a port or a list of ports";
    }

    impl<'de, T: Deserialize<'de> + Expecting> Deserialize<'de> for OneOrMany<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<T>(PhantomData<T>);

            impl<'de, T: Deserialize<'de> + Expecting> Visitor<'de> for V<T> {
                type Value = Vec<T>;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(T::EXPECTING)
                }

                fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
                    T::deserialize(v.into_deserializer()).map(|t| vec![t])
                }

                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<T>, E> {
                    T::deserialize(v.into_deserializer()).map(|t| vec![t])
                }

                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
                    let mut all = Vec::new();
                    while let Some(t) = seq.next_element()? {
                        all.push(t);
                    }
                    if all.is_empty() {
                        return Err(de::Error::custom("an empty list matches nothing"));
                    }
                    Ok(all)
                }
            }

            d.deserialize_any(V(PhantomData)).map(OneOrMany)
        }
    }

    /// An application port, 1 to 255.
    struct Port(u8);

    impl<'de> Deserialize<'de> for Port {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;

            impl Visitor<'_> for V {
                type Value = Port;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an application port, 1 to 255")
                }

                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Port, E> {
                    match u8::try_from(v) {
                        Ok(p @ 1..) => Ok(Port(p)),
                        _ => Err(E::custom(format_args!(
                            "f_port {v} is not an application port (1 to 255; port 0 carries MAC commands)"
                        ))),
                    }
                }
            }

            d.deserialize_i64(V)
        }
    }
}

#[cfg(all(
    test,
    feature = "cayenne-lpp",
    feature = "sodaq",
    feature = "elsys",
    feature = "milesight"
))]
mod tests {
    use super::*;

    fn registry() -> Registry {
        Registry::builtin()
    }

    #[test]
    fn globs() {
        let cases = [
            ("hackiot-*", "hackiot-1", true),
            ("hackiot-*", "hackiot-", true),
            ("hackiot-*", "hackiot", false),
            ("hackiot-*", "x-hackiot-1", false),
            ("*-th", "em300-th", true),
            ("*-th", "em300-thx", false),
            ("em*th", "em300-th", true),
            ("em*th", "emth", true),
            ("em*th", "eth", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "acb", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("*b*b*", "abab", true),
            ("*b*b*", "ab", false),
            ("a**b", "ab", true),
            ("*", "", true),
            ("*", "anything", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(
                Pattern::new(pattern).matches(text, false),
                want,
                "{pattern} {text}"
            );
        }
        assert!(Pattern::new("70B3D5*").matches("70b3d57ed0000001", true));
        assert!(!Pattern::new("70B3D5*").matches("70b3d57ed0000001", false));
    }

    #[test]
    fn port_set() {
        let mut s = PortSet::default();
        for p in [1, 63, 64, 200, 255] {
            s.insert(p);
        }
        for p in 0..=255 {
            assert_eq!(s.contains(p), [1, 63, 64, 200, 255].contains(&p), "{p}");
        }
    }

    #[test]
    fn single_and_builtin_default() {
        let r = registry();
        let choice = Choice::build(&r, "elsys", &Options::default()).unwrap();
        let s = Selection::single(choice);
        assert_eq!(s.rules(), 0);
        assert_eq!(s.select(&Meta::default()).id(), "elsys");
        let s = Selection::builtin_default(&r);
        let c = s.select(&Meta::default());
        assert_eq!((c.id(), c.rule()), ("cayenne-lpp", None));
        assert_eq!(c.options(), &Options::default());
        assert!(c.codec().keeps_partial());
        let s = Selection::builtin_default(&Registry::empty());
        assert_eq!(s.select(&Meta::default()).id(), "cayenne-lpp");
    }

    #[test]
    fn effective_options_fill_in_defaults() {
        let r = registry();
        let c = Choice::build(&r, "cayenne-lpp", &Options::default()).unwrap();
        assert_eq!(c.options().given().count(), 0);
        assert_eq!(
            c.effective_options().collect::<Vec<_>>(),
            [("profile", "extended")]
        );
        let c = Choice::build(&r, "cayenne-lpp", &Options::default().profile("tts")).unwrap();
        assert_eq!(
            c.effective_options().collect::<Vec<_>>(),
            [("profile", "tts")]
        );
        let c = Choice::build(&r, "sodaq-tracker", &Options::default()).unwrap();
        assert_eq!(
            c.effective_options().collect::<Vec<_>>(),
            [("model", "universal-tracker")]
        );
        let c = Choice::build(&r, "elsys", &Options::default()).unwrap();
        assert_eq!(c.effective_options().count(), 0);
        assert_eq!(
            format!("{c:?}"),
            format!(
                r#"Choice {{ id: "elsys", version: "{}", options: Options {{ profile: None, model: None }}, rule: None, .. }}"#,
                c.version()
            )
        );
    }

    #[test]
    fn overriding_the_codec_drops_the_rules() {
        let r = registry();
        let mut s = Selection::builtin_default(&r);
        s.rules.push(Rule {
            tests: Box::new([]),
            choice: Choice::build(&r, "elsys", &Options::default()).unwrap(),
        });
        let s = s
            .with_overrides(
                &r,
                Some("sodaq-tracker"),
                &Options::default().model("legacy"),
            )
            .unwrap();
        assert_eq!(s.rules(), 0);
        let c = s.select(&Meta::default());
        assert_eq!(
            (c.id(), c.options().get("model")),
            ("sodaq-tracker", Some("legacy"))
        );
        let e = Selection::builtin_default(&r)
            .with_overrides(&r, Some("lpp"), &Options::default())
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with(r#"unknown codec "lpp" (known: cayenne-lpp"#),
            "{e}"
        );
        let e = Selection::builtin_default(&r)
            .with_overrides(&r, Some("elsys"), &Options::default().profile("tts"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"codec elsys takes no option "profile" (it takes none)"#
        );
    }

    #[cfg(feature = "config")]
    mod toml_files {
        use super::*;

        fn select(toml: &str, meta: Meta<'_>) -> (&'static str, Option<usize>) {
            let s = Selection::from_toml(toml, &registry()).unwrap();
            let c = s.select(&meta);
            (c.id(), c.rule())
        }

        fn error(toml: &str) -> String {
            Selection::from_toml(toml, &registry())
                .unwrap_err()
                .to_string()
        }

        const TWO_RULES: &str = r#"
            [[rule]]
            f_port = 5
            codec = "elsys"

            [[rule]]
            f_port = [5, 6]
            codec = "sodaq-tracker"
        "#;

        #[test]
        fn the_first_match_wins() {
            let port = |p| Meta {
                f_port: Some(p),
                ..Meta::default()
            };
            assert_eq!(select(TWO_RULES, port(5)), ("elsys", Some(1)));
            assert_eq!(select(TWO_RULES, port(6)), ("sodaq-tracker", Some(2)));
            assert_eq!(select(TWO_RULES, port(7)), ("cayenne-lpp", None));
            assert_eq!(select(TWO_RULES, Meta::default()), ("cayenne-lpp", None));
        }

        #[test]
        fn the_default_table() {
            let toml = "[default]\ncodec = \"elsys\"\n";
            assert_eq!(select(toml, Meta::default()), ("elsys", None));
            let s = Selection::from_toml("[default]\nprofile = \"tts\"", &registry()).unwrap();
            let c = s.select(&Meta::default());
            assert_eq!(
                (c.id(), c.options().get("profile")),
                ("cayenne-lpp", Some("tts"))
            );
            let s = Selection::from_toml("", &registry()).unwrap();
            assert_eq!(s.rules(), 0);
            let c = s.select(&Meta::default());
            assert_eq!((c.id(), c.options()), ("cayenne-lpp", &Options::default()));
        }

        #[test]
        fn each_key_matches_its_field() {
            type Set = fn(&mut Meta<'static>, &'static str);
            let keys: [(&str, Set); 6] = [
                ("application_id", |m, v| m.application_id = Some(v)),
                ("device_id", |m, v| m.device_id = Some(v)),
                ("dev_eui", |m, v| m.dev_eui = Some(v)),
                ("brand_id", |m, v| m.brand_id = Some(v)),
                ("model_id", |m, v| m.model_id = Some(v)),
                ("rec_type", |m, v| m.rec_type = Some(v)),
            ];
            for (key, set) in keys {
                let toml = format!("[[rule]]\n{key} = [\"a\", \"b-*\"]\ncodec = \"elsys\"\n");
                let s = Selection::from_toml(&toml, &registry()).unwrap();
                for (value, want) in [("a", "elsys"), ("b-1", "elsys"), ("c", "cayenne-lpp")] {
                    let mut meta = Meta::default();
                    set(&mut meta, value);
                    assert_eq!(s.select(&meta).id(), want, "{key} = {value}");
                }
                // The other fields holding the value do not count.
                let mut others = Meta::default();
                for (other, set_other) in keys {
                    if other != key {
                        set_other(&mut others, "a");
                    }
                }
                assert_eq!(s.select(&others).id(), "cayenne-lpp", "{key}");
            }
        }

        #[test]
        fn a_record_without_the_key_does_not_match() {
            let toml = "[[rule]]\napplication_id = \"*\"\ncodec = \"elsys\"\n";
            assert_eq!(select(toml, Meta::default()), ("cayenne-lpp", None));
            let app = Meta {
                application_id: Some(""),
                ..Meta::default()
            };
            assert_eq!(select(toml, app), ("elsys", Some(1)));
        }

        #[test]
        fn every_key_of_a_rule_must_match() {
            let toml = r#"
                [[rule]]
                brand_id = "milesight-iot"
                model_id = ["em300-th", "em300-mcs"]
                f_port = 85
                codec = "milesight"
                model = "em300-th"
            "#;
            let mut meta = Meta {
                brand_id: Some("milesight-iot"),
                model_id: Some("em300-mcs"),
                f_port: Some(85),
                ..Meta::default()
            };
            assert_eq!(select(toml, meta), ("milesight", Some(1)));
            meta.f_port = Some(86);
            assert_eq!(select(toml, meta), ("cayenne-lpp", None));
            meta.f_port = Some(85);
            meta.model_id = Some("em300-di");
            assert_eq!(select(toml, meta), ("cayenne-lpp", None));
        }

        #[test]
        fn a_rule_without_keys_matches_everything() {
            let toml = "[[rule]]\ncodec = \"elsys\"\n[[rule]]\ncodec = \"sodaq-tracker\"\n";
            assert_eq!(select(toml, Meta::default()), ("elsys", Some(1)));
        }

        #[test]
        fn dev_eui_ignores_case() {
            let toml =
                "[[rule]]\ndev_eui = [\"70B3D57ED0000001\", \"a84041*\"]\ncodec = \"elsys\"\n";
            for (eui, want) in [
                ("70b3d57ed0000001", "elsys"),
                ("70B3D57ED0000001", "elsys"),
                ("A840410000000001", "elsys"),
                ("70b3d57ed0000002", "cayenne-lpp"),
            ] {
                let meta = Meta {
                    dev_eui: Some(eui),
                    ..Meta::default()
                };
                assert_eq!(select(toml, meta).0, want, "{eui}");
            }
            // Other keys keep case.
            let toml = "[[rule]]\ndevice_id = \"Node-1\"\ncodec = \"elsys\"\n";
            let meta = Meta {
                device_id: Some("node-1"),
                ..Meta::default()
            };
            assert_eq!(select(toml, meta).0, "cayenne-lpp");
        }

        #[test]
        fn an_unknown_key_is_named_with_the_valid_ones() {
            let e =
                error("[[rule]]\ncodec = \"elsys\"\n\n[[rule]]\nfport = 3\ncodec = \"elsys\"\n");
            assert!(
                e.starts_with("rule 2: TOML parse error at line 5, column 1"),
                "{e}"
            );
            assert!(
                e.ends_with(
                    "unknown field `fport`, expected one of `application_id`, `device_id`, \
                     `dev_eui`, `f_port`, `brand_id`, `model_id`, `rec_type`, `codec`, \
                     `profile`, `model`, `forward_to`"
                ),
                "{e}"
            );
            let e = error("[default]\ncodec = \"elsys\"\nf_port = 3\n");
            assert!(
                e.starts_with("[default]: TOML parse error at line 3"),
                "{e}"
            );
            let e = error("[[rule]]\ncodec = \"elsys\"\n[defaults]\ncodec = \"elsys\"\n");
            assert!(e.starts_with("TOML parse error at line 3"), "{e}");
            assert!(
                e.contains("unknown field `defaults`, expected `default` or `rule`"),
                "{e}"
            );
            let e = error("[[rule]\n");
            assert!(e.starts_with("TOML parse error at line 1"), "{e}");
        }

        #[test]
        fn an_unknown_codec_names_the_rule_and_its_line() {
            let e = Selection::from_toml(
                "[[rule]]\ncodec = \"elsys\"\n\n[[rule]]\nf_port = 2\ncodec = \"lpp\"\n",
                &registry(),
            )
            .unwrap_err();
            assert!(
                matches!(
                    &e,
                    SelectionError::Codec {
                        section: Section::Rule(2),
                        line: Some(6),
                        error: RegistryError::UnknownCodec { .. }
                    }
                ),
                "{e:?}"
            );
            assert!(
                e.to_string()
                    .starts_with(r#"rule 2 (line 6): unknown codec "lpp" (known: cayenne-lpp"#),
                "{e}"
            );
        }

        #[test]
        fn bad_options_name_the_rule_and_the_option_s_line() {
            let e = error("[[rule]]\ncodec = \"cayenne-lpp\"\nprofile = \"v2\"\n");
            assert_eq!(
                e,
                r#"rule 1 (line 3): unknown profile "v2" for codec cayenne-lpp (known: tts, extended)"#
            );
            let e = error("[[rule]]\ncodec = \"elsys\"\n\nmodel = \"ers\"\n");
            assert_eq!(
                e,
                r#"rule 1 (line 4): codec elsys takes no option "model" (it takes none)"#
            );
            let e = error("[[rule]]\nf_port = 85\ncodec = \"milesight\"\n");
            assert!(
                e.starts_with("rule 1 (line 1): codec milesight needs `model = ...` (known: "),
                "{e}"
            );
            let e = error("[default]\ncodec = \"cayenne-lpp\"\nprofile = \"v2\"\n");
            assert!(e.starts_with("[default] (line 3): unknown profile"), "{e}");
        }

        #[test]
        fn option_values_ignore_case_and_are_kept_as_the_codec_spells_them() {
            let r = registry();
            let toml = "[default]\ncodec = \"milesight\"\nmodel = \"AM308\"\n[[rule]]\nf_port = 2\ncodec = \"cayenne-lpp\"\nprofile = \"TTS\"\n";
            let s = Selection::from_toml(toml, &r).unwrap();
            let c = s.select(&Meta::default());
            assert_eq!(
                (c.id(), c.options().get("model")),
                ("milesight", Some("am308"))
            );
            let c = s.select(&Meta {
                f_port: Some(2),
                ..Meta::default()
            });
            assert_eq!(c.options().get("profile"), Some("tts"));
            assert!(!c.codec().keeps_partial());
            // The same from the command line.
            let s = s
                .with_overrides(&r, None, &Options::default().model("EM300-TH"))
                .unwrap();
            assert_eq!(
                s.select(&Meta::default()).options().get("model"),
                Some("em300-th")
            );
        }

        #[test]
        fn an_unknown_model_is_named_once() {
            let e = Selection::from_toml(
                "[default]\ncodec = \"milesight\"\nmodel = \"foo\"\n",
                &registry(),
            )
            .unwrap_err();
            let text = e.to_string();
            assert!(
                text.starts_with(
                    r#"[default] (line 3): unknown model "foo" for codec milesight (known: am103, "#
                ),
                "{text}"
            );
            assert_eq!(text.matches("unknown model").count(), 1, "{text}");
            // Nothing more to print after it: a report of the error chain repeats nothing.
            assert!(std::error::Error::source(&e).is_none());
        }

        #[test]
        fn a_rule_needs_a_codec() {
            let e = error("[[rule]]\ncodec = \"elsys\"\n[[rule]]\nf_port = 1\n");
            assert_eq!(e, r#"rule 2 (line 3): no codec (add `codec = "..."`)"#);
        }

        #[test]
        fn ports_are_application_ports() {
            for bad in ["0", "256", "-1", "[1, 0]"] {
                let e = error(&format!("[[rule]]\nf_port = {bad}\ncodec = \"elsys\"\n"));
                assert!(e.starts_with("rule 1: TOML parse error at line 2"), "{e}");
                assert!(e.contains("is not an application port (1 to 255"), "{e}");
            }
            let e = error("[[rule]]\nf_port = \"3\"\ncodec = \"elsys\"\n");
            assert!(e.contains("expected an application port, 1 to 255"), "{e}");
            let e = error("[[rule]]\nf_port = []\ncodec = \"elsys\"\n");
            assert!(e.contains("an empty list matches nothing"), "{e}");
            let e = error("[[rule]]\napplication_id = 3\ncodec = \"elsys\"\n");
            assert!(
                e.contains("invalid type: integer `3`, expected a string"),
                "{e}"
            );
            let e = error("[[rule]]\napplication_id = true\ncodec = \"elsys\"\n");
            assert!(e.contains("expected a string or a list of strings"), "{e}");
            let e = error("[[rule]]\nf_port = 1.5\ncodec = \"elsys\"\n");
            assert!(e.contains("expected a port or a list of ports"), "{e}");
            let toml = "[[rule]]\nf_port = [1, 255]\ncodec = \"elsys\"\n";
            let port = |p| Meta {
                f_port: Some(p),
                ..Meta::default()
            };
            assert_eq!(select(toml, port(255)).0, "elsys");
            assert_eq!(select(toml, port(0)).0, "cayenne-lpp");
        }

        #[test]
        fn option_overrides_reach_the_codecs_that_take_them() {
            let r = registry();
            let toml = r#"
                [default]
                profile = "extended"

                [[rule]]
                f_port = 1
                codec = "sodaq-tracker"

                [[rule]]
                f_port = 2
                codec = "cayenne-lpp"
                profile = "extended"

                [[rule]]
                f_port = 3
                codec = "elsys"
            "#;
            let s = Selection::from_toml(toml, &r).unwrap();
            let s = s
                .with_overrides(&r, None, &Options::default().profile("tts"))
                .unwrap();
            assert_eq!(s.rules(), 3);
            let at = |p| {
                let c = s.select(&Meta {
                    f_port: Some(p),
                    ..Meta::default()
                });
                (c.id(), c.rule(), c.options().clone())
            };
            assert_eq!(at(1), ("sodaq-tracker", Some(1), Options::default()));
            let tts = Options::default().profile("tts");
            assert_eq!(at(2), ("cayenne-lpp", Some(2), tts.clone()));
            assert!(
                !s.select(&Meta {
                    f_port: Some(2),
                    ..Meta::default()
                })
                .codec()
                .keeps_partial()
            );
            assert_eq!(at(3), ("elsys", Some(3), Options::default()));
            assert_eq!(at(4), ("cayenne-lpp", None, tts));

            let s = Selection::from_toml(toml, &r).unwrap();
            let s = s
                .with_overrides(&r, None, &Options::default().model("legacy"))
                .unwrap();
            assert_eq!(
                s.select(&Meta {
                    f_port: Some(1),
                    ..Meta::default()
                })
                .options()
                .get("model"),
                Some("legacy")
            );

            // A value one of the codecs refuses names its rule.
            let s = Selection::from_toml(toml, &r).unwrap();
            let e = s
                .with_overrides(&r, None, &Options::default().model("em300-th"))
                .unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(r#"rule 1: unknown model "em300-th" for codec sodaq-tracker"#),
                "{e}"
            );
        }

        #[test]
        fn an_option_no_codec_takes_is_an_error() {
            let r = registry();
            let toml = "[[rule]]\ncodec = \"elsys\"\n[[rule]]\ncodec = \"elsys\"\n";
            let e = Selection::from_toml(toml, &r)
                .unwrap()
                .with_overrides(&r, None, &Options::default().model("em300-th"))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                r#"model "em300-th" belongs to codec milesight, which is not in use (elsys, cayenne-lpp): add --codec milesight"#
            );
            // Named as the user spelled it, found ignoring case.
            let e = Selection::builtin_default(&r)
                .with_overrides(&r, None, &Options::default().model("Legacy"))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                r#"model "Legacy" belongs to codec sodaq-tracker, which is not in use (cayenne-lpp): add --codec sodaq-tracker"#
            );
            let e = Selection::builtin_default(&r)
                .with_overrides(&r, None, &Options::default().model("foo"))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                r#"option model "foo" is taken by no codec in use (cayenne-lpp), and no codec has a model "foo""#
            );
            // Two codecs with the model: both are named.
            let mut two = registry();
            let mut info = *two.get("milesight").unwrap();
            info.id = "milesight-copy";
            two.register(info);
            let e = Selection::builtin_default(&two)
                .with_overrides(&two, None, &Options::default().model("am308"))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                r#"model "am308" belongs to codecs milesight, milesight-copy, none of them in use (cayenne-lpp): add --codec with one of them"#
            );
            // No option, no codec: nothing changes.
            let s = Selection::from_toml(toml, &r)
                .unwrap()
                .with_overrides(&r, None, &Options::default())
                .unwrap();
            assert_eq!(s.rules(), 2);
        }

        #[test]
        fn the_readme_example_reads() {
            let readme = include_str!("../../../README.md");
            let section = readme
                .split("\n## Choosing codecs: `lorafield.toml`\n")
                .nth(1)
                .expect("the README has the section");
            let section = section.split("\n## ").next().unwrap();
            let example = section
                .split("```toml\n")
                .nth(1)
                .and_then(|s| s.split("\n```").next())
                .expect("the section has a ```toml block");
            let s = Selection::from_toml(example, &registry()).unwrap();
            assert_eq!(s.rules(), 3);
            let hackiot = Meta {
                application_id: Some("hackiot-demo"),
                f_port: Some(3),
                ..Meta::default()
            };
            assert_eq!(s.select(&hackiot).rule(), Some(1));
            let em300 = Meta {
                brand_id: Some("milesight-iot"),
                model_id: Some("em300-th"),
                f_port: Some(85),
                ..Meta::default()
            };
            assert_eq!(s.select(&em300).id(), "milesight");
            let sodaq = Meta {
                rec_type: Some("uk.reading.ttn.sodaq"),
                ..Meta::default()
            };
            assert_eq!(s.select(&sodaq).id(), "sodaq-tracker");
            // And the module documentation shows the same file.
            let docs: String = include_str!("select.rs")
                .lines()
                .filter_map(|l| l.strip_prefix("//! "))
                .skip_while(|l| *l != "```toml")
                .skip(1)
                .take_while(|l| *l != "```")
                .collect::<Vec<_>>()
                .join("\n");
            assert_eq!(docs.replace('\n', ""), example.replace('\n', ""));
        }
    }
}
