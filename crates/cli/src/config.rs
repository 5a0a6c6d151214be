//! The selection every command decodes with: `lorafield.toml` and the command line's codec
//! options.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lorafield::{Options, Registry, Selection};

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
    let path = match config {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.is_file()),
    };
    let selection = match &path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Selection::from_toml(&text, registry).with_context(|| format!("in {}", p.display()))?
        }
        None => Selection::builtin_default(registry),
    };
    Ok(selection.with_overrides(registry, codec, options)?)
}
