//! Reading `lorafield.toml`: serde shapes, then rules checked and built.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, IntoDeserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::pattern::{Key, Pattern, PortSet, Test};
use super::*;
use crate::registry::Setting;

/// The file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    device_repo: Option<Spanned<String>>,
    js: Option<Spanned<JsTable>>,
    default: Option<Spanned<DefaultTable>>,
    #[serde(default)]
    rule: Vec<Spanned<RuleTable>>,
}

/// `[js]`: how scripts run (the `js` codec's settings, for every script of the file).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsTable {
    fuel: Option<i64>,
    time_ms: Option<i64>,
    memory_mb: Option<i64>,
    stack_kb: Option<i64>,
    script_size_kb: Option<i64>,
    output_size_kb: Option<i64>,
    contexts: Option<i64>,
    isolation: Option<String>,
    clock: Option<String>,
}

impl JsTable {
    fn settings(&self) -> BTreeMap<String, Setting> {
        let mut out = BTreeMap::new();
        let ints = [
            ("fuel", self.fuel),
            ("time_ms", self.time_ms),
            ("memory_mb", self.memory_mb),
            ("stack_kb", self.stack_kb),
            ("script_size_kb", self.script_size_kb),
            ("output_size_kb", self.output_size_kb),
            ("contexts", self.contexts),
        ];
        for (name, v) in ints {
            if let Some(v) = v {
                out.insert(name.to_string(), Setting::Integer(v));
            }
        }
        for (name, v) in [("isolation", &self.isolation), ("clock", &self.clock)] {
            if let Some(v) = v {
                out.insert(name.to_string(), Setting::Text(v.clone()));
            }
        }
        out
    }
}

/// What decodes: a codec and its options, or a script, or a device of the repository.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultTable {
    codec: Option<Spanned<String>>,
    profile: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    js: Option<Spanned<String>>,
    device: Option<Spanned<String>>,
    variables: Option<Spanned<toml::Table>>,
    prefer: Option<Spanned<String>>,
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
    js: Option<Spanned<String>>,
    device: Option<Spanned<String>>,
    variables: Option<Spanned<toml::Table>>,
    prefer: Option<Spanned<String>>,
    forward_to: Option<String>,
}

/// The decoding keys of `[default]` or a rule.
struct Decoding<'t> {
    codec: Option<&'t Spanned<String>>,
    profile: &'t Option<Spanned<String>>,
    model: &'t Option<Spanned<String>>,
    js: &'t Option<Spanned<String>>,
    device: &'t Option<Spanned<String>>,
    variables: &'t Option<Spanned<toml::Table>>,
    prefer: &'t Option<Spanned<String>>,
}

/// What a section decodes with, built.
enum Built {
    Choice(Choice),
    /// `codec = "device-repo"`: resolved per record.
    #[cfg(feature = "js")]
    Device(Arc<super::device::Resolver>),
}

pub(super) fn read(
    text: &str,
    registry: &Registry,
    env: &Environment,
) -> Result<Selection, SelectionError> {
    let file: File = toml::from_str(text).map_err(|e| toml_error(text, e))?;
    let line = |span: Range<usize>| line_at(text, span.start);
    let mut js_settings = file
        .js
        .as_ref()
        .map(|t| t.get_ref().settings())
        .unwrap_or_default();
    js_settings.extend(env.js.clone());
    let relative = |p: &str| match &env.base_dir {
        Some(dir) => dir.join(p),
        None => PathBuf::from(p),
    };
    let repo_dir = env
        .device_repo
        .clone()
        .or_else(|| file.device_repo.as_ref().map(|d| relative(d.get_ref())));
    let repo_line = file.device_repo.as_ref().map(|d| line(d.span()));

    let build = |section: Section,
                 d: Decoding<'_>,
                 at: Range<usize>,
                 forward_to: Option<String>|
     -> Result<Built, SelectionError> {
        let fail = |span: Range<usize>, reason: String| SelectionError::Run {
            section,
            line: line(span),
            reason,
        };
        let runtime = [d.js.is_some(), d.device.is_some()];
        let named = runtime.iter().filter(|x| **x).count() + usize::from(d.codec.is_some());
        if named > 1 {
            return Err(fail(
                at,
                "give one of codec, js and device, not several".into(),
            ));
        }
        if d.js.is_none() && d.device.is_none() {
            let device_repo = d.codec.is_some_and(|c| c.get_ref() == DEVICE_REPO);
            if let Some(v) = d.variables.as_ref().filter(|_| !device_repo) {
                return Err(fail(
                    v.span(),
                    "variables are given to scripts: add js = \"FILE\" or device = \"BRAND/MODEL\""
                        .into(),
                ));
            }
            if let Some(p) = d.prefer.as_ref().filter(|_| !device_repo) {
                return Err(fail(
                    p.span(),
                    "prefer applies to device = \"BRAND/MODEL\" and codec = \"device-repo\"".into(),
                ));
            }
        }
        let variables = d.variables.as_ref().map(|v| json_of_table(v.get_ref()));
        if let Some(js) = d.js {
            if d.profile.is_some() || d.model.is_some() {
                return Err(fail(js.span(), "a script takes no profile or model".into()));
            }
            let mut settings = js_settings.clone();
            settings.insert(
                "script".into(),
                Setting::Text(relative(js.get_ref()).display().to_string()),
            );
            settings.insert("name".into(), Setting::Text(js.get_ref().clone()));
            if let Some(v) = variables {
                settings.insert("variables".into(), Setting::Json(v));
            }
            let options = Options {
                settings,
                ..Options::default()
            };
            let choice = Choice::build(registry, JS_CODEC, &options).map_err(|error| {
                SelectionError::Codec {
                    section,
                    line: Some(line(js.span())),
                    error,
                }
            })?;
            return Ok(Built::Choice(choice.with_forward_to(forward_to)));
        }
        let device_repo = d.codec.is_some_and(|c| c.get_ref() == DEVICE_REPO);
        if d.device.is_some() || device_repo {
            let span = d
                .device
                .as_ref()
                .map(|s| s.span())
                .or_else(|| d.codec.map(|c| c.span()))
                .unwrap_or(at.clone());
            return device(
                registry,
                section,
                repo_dir.as_deref(),
                repo_line,
                &js_settings,
                d,
                variables,
                forward_to,
            )
            .map_err(|reason| fail(span, reason));
        }
        let lpp = Spanned::new(at.clone(), DEFAULT_CODEC.to_owned());
        let codec = d.codec.unwrap_or(&lpp);
        let given = |o: &Option<Spanned<String>>| o.as_ref().map(|v| v.get_ref().clone());
        let options = Options {
            profile: given(d.profile),
            model: given(d.model),
            settings: if codec.get_ref() == JS_CODEC {
                js_settings.clone()
            } else {
                BTreeMap::new()
            },
        };
        let choice = Choice::build(registry, codec.get_ref(), &options).map_err(|error| {
            // The line of what the registry refused.
            let named = |o: &Option<Spanned<String>>| o.as_ref().map(|v| v.span());
            let span = match &error {
                RegistryError::UnknownCodec { .. } => Some(codec.span()),
                RegistryError::UnsupportedOption { option, .. }
                | RegistryError::InvalidValue { option, .. } => match *option {
                    "profile" => named(d.profile),
                    "model" => named(d.model),
                    _ => None,
                },
                _ => None,
            };
            SelectionError::Codec {
                section,
                line: Some(line(span.unwrap_or(at))),
                error,
            }
        })?;
        Ok(Built::Choice(choice.with_forward_to(forward_to)))
    };

    let default = match &file.default {
        Some(table) => {
            let t = table.get_ref();
            let d = Decoding {
                codec: t.codec.as_ref(),
                profile: &t.profile,
                model: &t.model,
                js: &t.js,
                device: &t.device,
                variables: &t.variables,
                prefer: &t.prefer,
            };
            match build(Section::Default, d, table.span(), t.forward_to.clone())? {
                Built::Choice(c) => c,
                #[cfg(feature = "js")]
                Built::Device(_) => {
                    return Err(SelectionError::Run {
                        section: Section::Default,
                        line: line(table.span()),
                        reason: "codec = \"device-repo\" is for rules: [default] decodes the records no rule took, whose device did not resolve".into(),
                    });
                }
            }
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
        if t.codec.is_none() && t.js.is_none() && t.device.is_none() {
            return Err(SelectionError::MissingCodec {
                rule: n,
                line: line(table.span()),
            });
        }
        let d = Decoding {
            codec: t.codec.as_ref(),
            profile: &t.profile,
            model: &t.model,
            js: &t.js,
            device: &t.device,
            variables: &t.variables,
            prefer: &t.prefer,
        };
        let action = match build(Section::Rule(n), d, table.span(), t.forward_to.clone())? {
            Built::Choice(mut choice) => {
                choice.rule = Some(n);
                Action::Choice(choice)
            }
            #[cfg(feature = "js")]
            Built::Device(resolver) => {
                resolver.set_rule(n);
                Action::Device(resolver)
            }
        };
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
            action,
        });
    }
    Ok(Selection {
        rules,
        default,
        scripts: Scripts {
            device_repo: repo_dir,
            settings: js_settings,
        },
    })
}

/// The codec id of scripts.
const JS_CODEC: &str = "js";
/// The `codec` that resolves each record's device.
const DEVICE_REPO: &str = "device-repo";

/// `device = "BRAND/MODEL..."` or `codec = "device-repo"`.
#[allow(clippy::too_many_arguments)]
fn device(
    registry: &Registry,
    section: Section,
    repo_dir: Option<&std::path::Path>,
    repo_line: Option<usize>,
    js_settings: &BTreeMap<String, Setting>,
    d: Decoding<'_>,
    variables: Option<String>,
    forward_to: Option<String>,
) -> Result<Built, String> {
    #[cfg(feature = "js")]
    {
        use super::device::{DeviceCodecs, Prefer, Resolver};
        use lorafield_codec_js::repo::{DeviceRef, DeviceRepo};
        if d.profile.is_some() || d.model.is_some() {
            return Err("a device's codec takes its profile and model from the device repository; leave profile and model out".into());
        }
        let Some(dir) = repo_dir else {
            return Err("the device repository is not given: add device_repo = \"DIR\" at the top of lorafield.toml, or give --device-repo DIR or LORAFIELD_DEVICE_REPO".into());
        };
        let repo = DeviceRepo::open(dir).map_err(|e| match repo_line {
            Some(l) => format!("device_repo (line {l}): {e}"),
            None => e.to_string(),
        })?;
        let prefer: Prefer = match d.prefer {
            Some(p) => p.get_ref().parse()?,
            None => Prefer::default(),
        };
        let codecs = DeviceCodecs::new(repo, registry.clone(), js_settings.clone());
        match d.device {
            Some(device) => {
                let device: DeviceRef = device.get_ref().parse().map_err(|e| format!("{e}"))?;
                let choice = codecs
                    .choice(&device, prefer, variables.as_deref())
                    .map_err(|e| e.to_string())?;
                Ok(Built::Choice(choice.with_forward_to(forward_to)))
            }
            None => {
                let _ = section;
                Ok(Built::Device(Arc::new(Resolver::new(
                    codecs, prefer, variables, 0, forward_to,
                ))))
            }
        }
    }
    #[cfg(not(feature = "js"))]
    {
        let _ = (
            registry,
            section,
            repo_dir,
            repo_line,
            js_settings,
            d,
            variables,
            forward_to,
        );
        Err("this build has no JavaScript codecs (cargo feature js), which the device repository needs".into())
    }
}

/// A TOML table as JSON text (a script's `variables`).
fn json_of_table(root: &toml::Table) -> String {
    fn value(v: &toml::Value, out: &mut String) {
        match v {
            toml::Value::String(s) => string(s, out),
            toml::Value::Integer(i) => out.push_str(&i.to_string()),
            toml::Value::Float(f) if f.is_finite() => out.push_str(&f.to_string()),
            toml::Value::Float(_) => out.push_str("null"),
            toml::Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
            toml::Value::Datetime(d) => string(&d.to_string(), out),
            toml::Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    value(v, out);
                }
                out.push(']');
            }
            toml::Value::Table(t) => table(t, out),
        }
    }
    fn string(s: &str, out: &mut String) {
        let mut bytes = Vec::new();
        lorafield_core::json::write_str(s, &mut bytes);
        out.push_str(&String::from_utf8_lossy(&bytes));
    }
    fn table(t: &toml::Table, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in t.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            string(k, out);
            out.push(':');
            value(v, out);
        }
        out.push('}');
    }
    let mut out = String::new();
    table(root, &mut out);
    out
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
