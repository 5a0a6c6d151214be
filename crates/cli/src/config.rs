//! The selection every command decodes with: `lorafield.toml` and the command line's codec
//! options.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lorafield::{Environment, Options, Registry, Selection};

/// The file read when `--config` is not given, if it exists in the current directory.
pub const DEFAULT_CONFIG: &str = "lorafield.toml";

/// Builds the selection: `--config FILE`, else `lorafield.toml` in the current directory if
/// there is one, else Cayenne LPP for everything; then the command line's overrides
/// ([`Selection::with_overrides`]: `codec` replaces every rule, an option alone changes it
/// wherever the codec takes it).
pub fn load_selection(
    registry: &Registry,
    config: Option<&Path>,
    codec: Option<&str>,
    options: &Options,
) -> Result<Selection> {
    load(
        registry,
        &Request {
            config,
            codec,
            options: options.clone(),
            ..Request::default()
        },
    )
}

/// What decodes, as a command line asks for it.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// `--config FILE`.
    pub config: Option<&'a Path>,
    /// `--codec ID`: replaces every rule.
    pub codec: Option<&'a str>,
    /// `--profile`, `--model`.
    pub options: Options,
    /// `--js FILE`: a script replaces every rule.
    pub js: Option<&'a Path>,
    /// `--device BRAND/MODEL[@FIRMWARE][:BAND]`: a device's codec replaces every rule.
    pub device: Option<&'a str>,
    /// `--variables JSON`: the script's variables (with `--js` or `--device`).
    pub variables: Option<&'a str>,
    /// `--prefer native|js` (with `--device`).
    pub prefer: Option<&'a str>,
    /// The device repository and script settings given on the command line.
    pub env: Environment,
}

/// Builds the selection a command asks for: `--config FILE`, else `lorafield.toml` in the
/// current directory if there is one, else Cayenne LPP for everything (paths in the file
/// relative to it; the command line's device repository and script settings over the
/// file's); then `--codec`, `--js` or `--device` replacing every rule, and `--profile` or
/// `--model` changing that option wherever the codec takes it.
pub fn load(registry: &Registry, request: &Request<'_>) -> Result<Selection> {
    let path = match request.config {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.is_file()),
    };
    let selection = match &path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let env = Environment {
                base_dir: p.parent().map(Path::to_path_buf),
                ..request.env.clone()
            };
            Selection::from_toml_in(&text, registry, &env)
                .with_context(|| format!("in {}", p.display()))?
        }
        None => Selection::builtin_default(registry).in_environment(&request.env),
    };
    let replacing = [
        request.codec.is_some(),
        request.js.is_some(),
        request.device.is_some(),
    ];
    if replacing.iter().filter(|x| **x).count() > 1 {
        bail!("give one of --codec, --js and --device");
    }
    if let Some(v) = request.variables {
        if request.js.is_none() && request.device.is_none() {
            bail!("--variables are given to a script: add --js FILE or --device BRAND/MODEL");
        }
        match serde_json::from_str::<serde_json::Value>(v) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(other) => bail!("--variables must be a JSON object, not {other}"),
            Err(e) => bail!("--variables is not JSON: {e}"),
        }
    }
    if request.prefer.is_some() && request.device.is_none() {
        bail!("--prefer applies to --device");
    }
    #[cfg(feature = "js")]
    {
        if let Some(js) = request.js {
            let selection = selection.with_script(registry, js, request.variables)?;
            return Ok(selection.with_overrides(registry, None, &request.options)?);
        }
        if let Some(device) = request.device {
            let prefer = match request.prefer {
                Some(p) => p.parse().map_err(anyhow::Error::msg)?,
                None => lorafield::Prefer::default(),
            };
            let selection = selection.with_device(registry, device, prefer, request.variables)?;
            return Ok(selection.with_overrides(registry, None, &request.options)?);
        }
    }
    #[cfg(not(feature = "js"))]
    if request.js.is_some() || request.device.is_some() {
        bail!("this lorafield was built without JavaScript codecs (cargo feature js)");
    }
    Ok(selection.with_overrides(registry, request.codec, &request.options)?)
}
