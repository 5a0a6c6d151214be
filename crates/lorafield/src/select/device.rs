//! Codecs from The Things Network's device repository: a device resolved to a native codec
//! where one covers it, else to its script; and the rules that resolve each record's device
//! from its `version_ids`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use lorafield_codec_js::repo::{DeviceRef, DeviceRepo};
use lorafield_core::dynamic::{Note, Severity};
use lorafield_core::{Codec, DecodeError, ErrorKind, Sink, Uplink};

use super::{Choice, Meta};
use crate::registry::{Options, Registry, RegistryError, Setting};

/// Which codec decodes a device that a native codec covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prefer {
    /// The native codec (faster, and checked against the device's script).
    #[default]
    Native,
    /// The device's script, as The Things Stack runs it.
    Js,
}

impl std::str::FromStr for Prefer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "native" => Ok(Prefer::Native),
            "js" => Ok(Prefer::Js),
            _ => Err(format!("prefer {s:?} is neither \"native\" nor \"js\"")),
        }
    }
}

/// The native codec and options that decode `vendor`'s `model`, if the registry has one:
/// Milesight's models by their device id, every Elsys sensor.
pub fn native_for(
    registry: &Registry,
    vendor: &str,
    model: &str,
) -> Option<(&'static str, Options)> {
    match vendor {
        "milesight-iot" => {
            let options = Options::default().model(model);
            let options = registry.canonical("milesight", &options).ok()?;
            Some((registry.get("milesight")?.id, options))
        }
        "elsys" => Some((registry.get("elsys")?.id, Options::default())),
        _ => None,
    }
}

/// Device codecs: a repository, the registry, and the settings scripts run with (`[js]`).
#[derive(Debug, Clone)]
pub struct DeviceCodecs {
    repo: DeviceRepo,
    registry: Registry,
    settings: BTreeMap<String, Setting>,
}

/// Why a device's codec could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceError {
    /// The device does not resolve (the repository's error, listing the choices).
    Repo(lorafield_codec_js::repo::RepoError),
    /// Its codec could not be built (the script does not load).
    Codec(RegistryError),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::Repo(e) => e.fmt(f),
            DeviceError::Codec(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DeviceError {}

impl DeviceCodecs {
    /// Device codecs from `repo`, with scripts run under `settings` (the `js` codec's
    /// settings but `script` and `name`: limits, isolation, clock).
    pub fn new(repo: DeviceRepo, registry: Registry, settings: BTreeMap<String, Setting>) -> Self {
        DeviceCodecs {
            repo,
            registry,
            settings,
        }
    }

    /// The repository.
    pub fn repo(&self) -> &DeviceRepo {
        &self.repo
    }

    /// These device codecs with a script setting replaced (`variables`, a limit).
    pub fn with_setting(mut self, name: &str, value: Setting) -> Self {
        self.settings.insert(name.into(), value);
        self
    }

    /// The codec for `device`: the native codec that covers it unless `prefer` is
    /// [`Prefer::Js`], else its script (with `variables`, JSON text of an object).
    pub fn choice(
        &self,
        device: &DeviceRef,
        prefer: Prefer,
        variables: Option<&str>,
    ) -> Result<Choice, DeviceError> {
        let resolved = self.repo.resolve(device).map_err(DeviceError::Repo)?;
        if prefer == Prefer::Native
            && let Some((id, options)) =
                native_for(&self.registry, &resolved.vendor, &resolved.model)
        {
            return Choice::build(&self.registry, id, &options).map_err(DeviceError::Codec);
        }
        let mut options = Options {
            settings: self.settings.clone(),
            ..Options::default()
        };
        options.settings.insert(
            "script".into(),
            Setting::Text(resolved.script.display().to_string()),
        );
        options.settings.insert(
            "name".into(),
            Setting::Text(format!("{}/{}", resolved.vendor, resolved.codec)),
        );
        if let Some(v) = variables {
            options
                .settings
                .insert("variables".into(), Setting::Json(v.into()));
        }
        Choice::build(&self.registry, lorafield_codec_js::ID, &options).map_err(DeviceError::Codec)
    }
}

impl DeviceCodecs {
    /// The script that serves `routine` for `device` (its downlink encoder or decoder, which
    /// may be another file than its uplink decoder), built with these codecs' settings.
    pub fn script_for(
        &self,
        device: &DeviceRef,
        routine: lorafield_codec_js::repo::Routine,
    ) -> Result<lorafield_codec_js::JsCodec, DeviceError> {
        use lorafield_codec_js::repo::Routine;
        use lorafield_codec_js::{JsCodec, Script};
        let resolved = self.repo.resolve(device).map_err(DeviceError::Repo)?;
        let path = match routine {
            Routine::EncodeDownlink => resolved.encoder.clone(),
            Routine::DecodeDownlink => resolved.decoder.clone(),
            Routine::DecodeUplink | Routine::NormalizeUplink => Some(resolved.script.clone()),
        };
        let build_error = |reason: String| {
            DeviceError::Codec(RegistryError::Build {
                codec: lorafield_codec_js::ID,
                reason,
            })
        };
        let Some(path) = path else {
            return Err(build_error(format!(
                "the codec of {device} has no {} script",
                routine.name()
            )));
        };
        let options = Options {
            settings: self.settings.clone(),
            ..Options::default()
        };
        let js = crate::registry::js_options(&options).map_err(build_error)?;
        let script = Script::from_file(&path).map_err(|e| build_error(e.to_string()))?;
        let name = match path.file_name() {
            Some(f) => format!("{}/{}", resolved.vendor, f.to_string_lossy()),
            None => resolved.script_name.clone(),
        };
        JsCodec::new(Script::new(name, script.text()), js).map_err(|e| build_error(e.to_string()))
    }
}

/// A `codec = "device-repo"` rule: each record's device resolved from its `version_ids`,
/// once per device (the codec is shared by the device's later records).
pub(crate) struct Resolver {
    codecs: DeviceCodecs,
    prefer: Prefer,
    variables: Option<String>,
    rule: std::sync::atomic::AtomicUsize,
    forward_to: Option<String>,
    cache: Mutex<HashMap<DeviceRef, Option<Arc<Choice>>>>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("repo", &self.codecs.repo.vendor_dir())
            .field("prefer", &self.prefer)
            .field(
                "rule",
                &self.rule.load(std::sync::atomic::Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl Resolver {
    pub(crate) fn new(
        codecs: DeviceCodecs,
        prefer: Prefer,
        variables: Option<String>,
        rule: usize,
        forward_to: Option<String>,
    ) -> Resolver {
        Resolver {
            codecs,
            prefer,
            variables,
            rule: std::sync::atomic::AtomicUsize::new(rule),
            forward_to,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Numbers the rule (1-based) that this resolver is.
    pub(crate) fn set_rule(&self, rule: usize) {
        self.rule.store(rule, std::sync::atomic::Ordering::Relaxed);
    }

    /// The codec of the record's device; `None` when the record names no device
    /// (`version_ids` without a brand or model) or the repository has no such device.
    ///
    /// A device whose script does not load gets a codec that fails each of its records with
    /// the reason, so that the records say why rather than fall to another rule.
    pub(crate) fn resolve(&self, meta: &Meta<'_>) -> Option<Arc<Choice>> {
        let device = DeviceRef {
            vendor: meta.brand_id?.to_string(),
            model: meta.model_id?.to_string(),
            firmware: meta.firmware_version.map(String::from),
            band: meta.band_id.map(String::from),
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = cache.get(&device) {
            return found.clone();
        }
        let built = match self
            .codecs
            .choice(&device, self.prefer, self.variables.as_deref())
        {
            Ok(choice) => Some(choice),
            Err(DeviceError::Repo(_)) => None,
            Err(DeviceError::Codec(e)) => Some(failed(&device, &e.to_string())),
        };
        let built = built.map(|mut c| {
            c.rule = Some(self.rule.load(std::sync::atomic::Ordering::Relaxed));
            c.forward_to = self.forward_to.clone();
            Arc::new(c)
        });
        cache.insert(device, built.clone());
        built
    }
}

/// A codec standing for a device's script that does not load: each record fails with why.
struct Failed {
    message: String,
}

impl Codec for Failed {
    fn id(&self) -> &'static str {
        lorafield_codec_js::ID
    }

    fn decode<'a>(&self, _: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError> {
        let _ = sink.note(Note {
            severity: Severity::Error,
            kind: ErrorKind::ScriptError,
            message: &self.message,
            line: None,
        });
        Err(DecodeError::new(0, ErrorKind::ScriptError))
    }

    fn keeps_partial(&self) -> bool {
        false
    }
}

fn failed(device: &DeviceRef, reason: &str) -> Choice {
    Choice {
        codec: Arc::new(Failed {
            message: format!("the codec of {device} cannot be used: {reason}"),
        }),
        id: lorafield_codec_js::ID,
        version: env!("CARGO_PKG_VERSION"),
        specs: &[],
        options: Options::default(),
        rule: None,
        forward_to: None,
    }
}
