//! `lorafield codecs`: the codecs compiled in, with their options.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lorafield::Registry;

/// List the codecs with their options; with --device-repo, every device of The Things
/// Network's device repository and what decodes it.
///
/// A device resolves the way The Things Stack resolves it: its latest firmware, its profiles'
/// codec (a device whose bands use different codecs needs a band, and is listed with the
/// choices). A device a native codec covers (Milesight, Elsys) is decoded by it unless a rule
/// says prefer = "js"; the others by their script.
#[derive(Args)]
#[command(
    after_help = "Examples (at the root of a clone of the repository):\n  lorafield codecs\n  lorafield codecs --device-repo fixtures/device-repo\n  lorafield codecs --device-repo fixtures/device-repo --vendor acme --json"
)]
pub(crate) struct CodecsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// A checkout of the device repository: list its devices instead.
    #[arg(
        long,
        value_name = "DIR",
        env = "LORAFIELD_DEVICE_REPO",
        hide_env_values = true
    )]
    device_repo: Option<std::path::PathBuf>,
    /// With --device-repo: only this vendor's devices.
    #[arg(long, value_name = "VENDOR", requires = "device_repo")]
    vendor: Option<String>,
}

pub(crate) fn run(args: CodecsArgs) -> Result<ExitCode> {
    let registry = Registry::builtin();
    let mut out = io::stdout().lock();
    #[cfg(feature = "js")]
    if let Some(dir) = &args.device_repo {
        let repo = lorafield::js::repo::DeviceRepo::open(dir)?;
        let (text, json) =
            lorafield_cli::codecs::device_listing(&registry, &repo, args.vendor.as_deref())?;
        if args.json {
            writeln!(out, "{json}")?;
        } else {
            out.write_all(text.as_bytes())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        let json = lorafield_cli::codecs::listing_json(&registry);
        writeln!(out, "{json}")?;
    } else {
        out.write_all(lorafield_cli::codecs::listing(&registry).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
