//! `lorafield vectors`: conformance vector files against the codecs.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use lorafield::Registry;
use lorafield_cli::vectors::{Report, Runner, collect_files};

use crate::args::scripts::ScriptArgs;

/// Check the codecs against conformance vector files (JSON Lines), or against the examples of
/// The Things Network's device repository.
///
/// Each case of a vector file names a codec, fPort, hex payload and an expected result (see
/// the vectors README). A failing case prints its file and line, what was expected and what
/// came out.
///
/// With --device-repo DIR (and no files), every example of every codec file that a device
/// profile references runs: uplink decode (and normalizeUplink where the example gives a
/// normalized output), downlink encode and downlink decode, each compared as The Things
/// Stack's own example check compares it (the returned object, deep equality, numbers as
/// doubles). Each runs in a cached and in a fresh context; an example whose result differs
/// between the two is reported (a script that keeps state from call to call). --vendor V
/// runs one vendor's; --native also runs the native codecs on the examples of the devices
/// they cover (Milesight, Elsys).
///
/// The last line is "N passed, M failed"; the exit status is 1 if any case failed.
#[derive(Args)]
#[command(after_help = VECTORS_EXAMPLES)]
pub(crate) struct VectorsArgs {
    /// Vector files, or directories whose *.jsonl files are run.
    #[arg(value_name = "DIR|FILE", required_unless_present = "device_repo")]
    paths: Vec<PathBuf>,
    /// With --device-repo: only this vendor's codecs (its id: milesight-iot).
    #[arg(long, value_name = "VENDOR")]
    vendor: Option<String>,
    /// With --device-repo: also run the native codecs on the examples of the devices they
    /// cover.
    #[arg(long)]
    native: bool,
    #[command(flatten)]
    scripts: ScriptArgs,
}

const VECTORS_EXAMPLES: &str = "\
Examples (at the root of a clone of the repository):
  lorafield vectors fixtures/cayenne-lpp
  lorafield vectors --device-repo fixtures/device-repo
  lorafield vectors --device-repo fixtures/device-repo --vendor acme --native";

pub(crate) fn run(args: VectorsArgs) -> Result<ExitCode> {
    #[cfg(feature = "js")]
    if args.paths.is_empty() {
        return device_repo(&args);
    }
    if args.vendor.is_some() || args.native {
        bail!("--vendor and --native go with --device-repo DIR and no vector files");
    }
    let files = collect_files(&args.paths)?;
    if files.is_empty() {
        bail!("no *.jsonl vector files under {:?}", args.paths);
    }
    let mut runner = Runner::new(Registry::builtin());
    let mut report = Report::default();
    let mut out = io::stdout().lock();
    for file in &files {
        let r = runner
            .run_file(file)
            .with_context(|| format!("reading {}", file.display()))?;
        for f in &r.failed {
            match &f.description {
                Some(d) => writeln!(out, "FAIL {} ({d})", f.at)?,
                None => writeln!(out, "FAIL {}", f.at)?,
            }
            writeln!(out, "{}", f.detail)?;
        }
        report.merge(r);
    }
    writeln!(
        out,
        "{} passed, {} failed",
        report.passed,
        report.failed.len()
    )?;
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `vectors --device-repo DIR`.
#[cfg(feature = "js")]
fn device_repo(args: &VectorsArgs) -> Result<ExitCode> {
    use lorafield::js::repo::DeviceRepo;
    let Some(dir) = &args.scripts.device_repo else {
        bail!("give vector files, or --device-repo DIR");
    };
    let repo = DeviceRepo::open(dir)?;
    let options = lorafield::Options {
        settings: args.scripts.settings(),
        ..lorafield::Options::default()
    };
    let js = lorafield::js_options(&options).map_err(anyhow::Error::msg)?;
    let registry = Registry::builtin();
    let report = lorafield_cli::repo_vectors::run(
        &repo,
        args.vendor.as_deref(),
        &js,
        args.native.then_some(&registry),
    )?;
    let mut out = io::stdout().lock();
    for f in &report.failed {
        writeln!(out, "FAIL {}\n{}", f.at, f.detail)?;
    }
    for f in &report.isolation {
        writeln!(
            out,
            "STATE {} (differs between cached and fresh contexts)\n{}",
            f.at, f.detail
        )?;
    }
    for u in &report.unreadable {
        writeln!(out, "UNREADABLE {u}")?;
    }
    writeln!(
        out,
        "{} passed, {} failed",
        report.passed,
        report.failed.len()
    )?;
    Ok(
        if report.failed.is_empty() && report.unreadable.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}
