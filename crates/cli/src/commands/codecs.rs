//! `lorafield codecs`: the codecs compiled in, with their options.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lorafield::Registry;

/// List the codecs with their options.
#[derive(Args)]
pub(crate) struct CodecsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: CodecsArgs) -> Result<ExitCode> {
    let registry = Registry::builtin();
    let mut out = io::stdout().lock();
    if args.json {
        let json = lorafield_cli::codecs::listing_json(&registry);
        writeln!(out, "{json}")?;
    } else {
        out.write_all(lorafield_cli::codecs::listing(&registry).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
