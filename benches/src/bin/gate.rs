//! The bench gate's arithmetic, run by `benches/check.sh` after the benches: reads criterion's
//! output of one or more runs, prints each ratio against `benches/baseline.json`, and exits 1
//! when one fell more than the tolerance below its baseline (2 on any error, a missing bench
//! included). `update` rewrites the baseline from the runs instead.
//!
//! ```text
//! gate check  --baseline FILE [--tolerance 0.10] RUN_DIR...
//! gate update --baseline FILE --commit C --date D --machine M --how H RUN_DIR...
//! gate counts --baseline FILE [--tolerance 0.02] COUNTS
//! ```
//!
//! `counts` compares instructions a frame (`benches/icount.sh --check`, which writes COUNTS)
//! with `benches/icounts.tsv`: exit 1 when a path runs more than the tolerance above its
//! baseline, 2 on any error (a path the baseline lacks included).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lorafield_benches::counts::{self, Counts};
use lorafield_benches::gate::{self, Baseline, Measured, Note};

const USAGE: &str = "usage: gate check --baseline FILE [--tolerance 0.10] RUN_DIR...\n       \
                     gate update --baseline FILE --commit C --date D --machine M --how H RUN_DIR...\n       \
                     gate counts --baseline FILE [--tolerance 0.02] COUNTS";

/// The command line, parsed.
struct Args {
    update: bool,
    baseline: PathBuf,
    tolerance: f64,
    note: Note,
    runs: Vec<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let update = match args.next().as_deref() {
        Some("check") => false,
        Some("update") => true,
        _ => return Err(USAGE.into()),
    };
    let mut parsed = Args {
        update,
        baseline: PathBuf::new(),
        tolerance: 0.10,
        note: Note::default(),
        runs: Vec::new(),
    };
    while let Some(arg) = args.next() {
        if !arg.starts_with("--") {
            parsed.runs.push(arg.into());
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match (arg.as_str(), update) {
            ("--baseline", _) => parsed.baseline = value.into(),
            ("--tolerance", false) => {
                parsed.tolerance = value
                    .parse()
                    .ok()
                    .filter(|t: &f64| (0.0..1.0).contains(t))
                    .ok_or_else(|| format!("--tolerance {value}: a fraction from 0 to 1"))?;
            }
            ("--commit", true) => parsed.note.commit = value,
            ("--date", true) => parsed.note.date = value,
            ("--machine", true) => parsed.note.machine = value,
            ("--how", true) => parsed.note.how = value,
            _ => return Err(format!("unknown option {arg}\n{USAGE}")),
        }
    }
    if parsed.baseline.as_os_str().is_empty() || parsed.runs.is_empty() {
        return Err(USAGE.into());
    }
    Ok(parsed)
}

fn run(args: &Args) -> Result<bool, gate::Error> {
    let mut runs = Vec::with_capacity(args.runs.len());
    for dir in &args.runs {
        runs.push(gate::read_run(dir)?);
    }
    let measured = Measured::from_runs(&runs)?;
    if args.update {
        let baseline = Baseline::from_measured(&measured, args.note.clone());
        // What changes, against the baseline being replaced when it still compares (else
        // against itself, for the spread).
        let rows = Baseline::load(&args.baseline)
            .and_then(|old| gate::compare(&old, &measured))
            .or_else(|_| gate::compare(&baseline, &measured))?;
        print!("{}", gate::table(&rows, args.tolerance, runs.len()));
        baseline.save(&args.baseline)?;
        println!("wrote {}", args.baseline.display());
        return Ok(true);
    }
    let baseline = Baseline::load(&args.baseline)?;
    let rows = gate::compare(&baseline, &measured)?;
    print!("{}", gate::table(&rows, args.tolerance, runs.len()));
    let below = rows.iter().filter(|r| !r.passes(args.tolerance)).count();
    // 0.1 prints as 10, 0.125 as 12.5.
    let percent = (args.tolerance * 1000.0).round() / 10.0;
    if below == 0 {
        println!(
            "bench gate: all {} ratios within {percent}% of the baseline ({} run{})",
            rows.len(),
            runs.len(),
            if runs.len() == 1 { "" } else { "s" }
        );
    } else {
        println!(
            "bench gate: {below} of {} ratios more than {percent}% below the baseline",
            rows.len(),
        );
    }
    Ok(below == 0)
}

/// `gate counts`: the arguments after `counts`.
fn parse_counts(mut args: impl Iterator<Item = String>) -> Result<(PathBuf, f64, PathBuf), String> {
    let (mut baseline, mut tolerance, mut now) = (None, 0.02, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--baseline" => baseline = args.next().map(PathBuf::from),
            "--tolerance" => {
                let value = args.next().unwrap_or_default();
                tolerance = value
                    .parse()
                    .ok()
                    .filter(|t: &f64| (0.0..1.0).contains(t))
                    .ok_or_else(|| format!("--tolerance {value}: a fraction from 0 to 1"))?;
            }
            a if a.starts_with("--") => return Err(format!("unknown option {a}\n{USAGE}")),
            _ if now.is_none() => now = Some(PathBuf::from(arg)),
            _ => return Err(format!("one counts file, not two\n{USAGE}")),
        }
    }
    match (baseline, now) {
        (Some(b), Some(n)) => Ok((b, tolerance, n)),
        _ => Err(USAGE.into()),
    }
}

/// `gate counts`: whether every path counted is within the tolerance of its baseline.
fn run_counts(baseline: &Path, tolerance: f64, now: &Path) -> Result<bool, String> {
    let read = |path: &Path| {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Counts::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let rows = counts::compare(&read(baseline)?, &read(now)?)
        .map_err(|e| format!("{}: {e}", now.display()))?;
    print!("{}", counts::table(&rows, tolerance));
    let more = rows.iter().filter(|r| !r.passes(tolerance)).count();
    let percent = (tolerance * 1000.0).round() / 10.0;
    if more == 0 {
        println!(
            "instruction counts: all {} paths within {percent}% of the baseline",
            rows.len()
        );
    } else {
        println!(
            "instruction counts: {more} of {} paths more than {percent}% above the baseline",
            rows.len()
        );
    }
    Ok(more == 0)
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1).peekable();
    if argv.peek().map(String::as_str) == Some("counts") {
        argv.next();
        let outcome = parse_counts(argv).and_then(|(b, t, n)| run_counts(&b, t, &n));
        return match outcome {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(message) => {
                eprintln!("gate: {message}");
                ExitCode::from(2)
            }
        };
    }
    let args = match parse(argv) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("gate: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("gate: {e}");
            ExitCode::from(2)
        }
    }
}
