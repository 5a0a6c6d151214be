//! `lorafield vectors`: conformance vector files against the codecs.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use lorafield::Registry;
use lorafield_cli::vectors::{Report, Runner, collect_files};

/// Check the codecs against conformance vector files (JSON Lines).
///
/// Each case names a codec, fPort, hex payload and an expected result (see the vectors
/// README). A failing case prints its file and line, what was expected and what came out.
/// The last line is "N passed, M failed"; the exit status is 1 if any case failed.
#[derive(Args)]
pub(crate) struct VectorsArgs {
    /// Vector files, or directories whose *.jsonl files are run.
    #[arg(required = true, value_name = "DIR|FILE")]
    paths: Vec<PathBuf>,
}

pub(crate) fn run(args: VectorsArgs) -> Result<ExitCode> {
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
