//! `lorafield redecode`: decode stored uplinks again.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use lorafield::{Options, Registry};
use lorafield_cli::redecode;

use crate::args::microshare::{MicroshareArgs, deliver_outbox};
use crate::args::scripts::ScriptArgs;

/// Decode stored uplinks again: JSON Lines of envelopes or Microshare shares, share pages,
/// JSON arrays, gzip files, or standard input.
///
/// Each record's shape is found on its own: The Things Stack v3 (uplink_message.frm_payload),
/// TTN v2 (payload_raw), ChirpStack v4 (data), or a Microshare share (2017 or 2020+ encoding)
/// whose data holds one of them; a page's shares are records of their own. The decoded payload
/// is written back where the shape keeps it (decoded_payload, payload_fields, object) with a
/// stamp, the member "lorafield": {"codec","version","profile"/"model","errors","warnings"}.
/// Every other byte of the record is copied as it was. Joins, downlink events and port-0
/// uplinks pass through untouched.
///
/// Output: JSON Lines, one line per record read, in input order (whatever --jobs is). Which
/// codec decodes which record: --config FILE, else lorafield.toml in the current directory if
/// there is one, else cayenne-lpp; --codec replaces every rule, --profile/--model alone change
/// that option wherever the chosen codec takes it. Option values ignore case (--model AM308).
///
/// "failed" counts records that could not be read (not JSON, not UTF-8, cut short) or decoded
/// (a JSON object that is no uplink envelope, no payload, not base64, a codec error). Each one
/// carries its reason: in its stamp when it is written, in --errors when given, as a line of
/// its own with --diff. Standard error names the first 5 (`<file>:<line>: <reason>`), then how
/// many more failed.
///
/// Summary, one line on standard error at the end:
///   lorafield redecode: read R: decoded D (changed C, unchanged U), failed F, passed through P;
///   written W, to errors E
/// where R = D + F + P, D = C + U and R = W + E; with --diff, where only changes and failures
/// are written, C + F = W + E.
///
/// Exit status: 0 when every uplink decoded, 1 when some record failed, 2 on usage or I/O
/// errors (a file that cannot be opened or read to its end; the other files are still read).
#[derive(Args)]
#[command(after_help = REDECODE_EXAMPLES)]
pub(crate) struct RedecodeArgs {
    /// Input files (JSON Lines, a page or an array; gzip-compressed ones are read as such).
    /// None or `-`: standard input.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Write the records here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Decoding threads (default: every core).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Write each record that could not be read or decoded here, as
    /// {"at":"<file>:<line>","reason":..,"record":..}, instead of to the output (or, with
    /// --diff, instead of its line there).
    #[arg(long, value_name = "FILE")]
    errors: Option<PathBuf>,
    /// Write only the records whose decoded payload changed, as
    /// {"at":"<file>:<line>","id":..,"before":..,"after":..} (both compact), and those that
    /// failed, as {"at":"<file>:<line>","id":..,"reason":..} (unless --errors takes them);
    /// "id" is the share id, {"device_id":..,"f_cnt":..} for a bare envelope, or null.
    #[arg(long)]
    diff: bool,
    /// The selection rules (default: lorafield.toml in the current directory, if any).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Decode every record with this codec, whatever the rules say.
    #[arg(long, short = 'c')]
    codec: Option<String>,
    /// Codec profile (cayenne-lpp: tts or extended).
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// Device model, for codecs that have models.
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// Standard error holds the summary line only (and I/O errors, if any): no progress bar
    /// (there is none anyway when standard error is not a terminal), no list of failures, no
    /// notice that standard input is read.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Read the shares of this recType from Microshare (GET /share/{recType}, every page)
    /// instead of files; needs --username, --password and --api-key.
    #[arg(long, value_name = "RECTYPE", conflicts_with = "files")]
    from_microshare: Option<String>,
    /// Send the re-decoded records to Microshare as new shares of this recType (a share's data,
    /// or the envelope), through the outbox (--outbox), and wait until they are delivered;
    /// nothing is written to the output. Typically `<recType>.decoded`: shares cannot be updated
    /// in place.
    #[arg(long, value_name = "RECTYPE", conflicts_with_all = ["output", "diff"])]
    to_microshare: Option<String>,
    /// The outbox directory for --to-microshare.
    #[arg(long, value_name = "DIR", default_value = "lorafield-outbox")]
    outbox: PathBuf,
    #[command(flatten)]
    microshare: MicroshareArgs,
    /// Decode with this script, whatever the rules say.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["codec", "device"])]
    js: Option<PathBuf>,
    /// Decode with this device's codec from the device repository:
    /// BRAND/MODEL[@FIRMWARE][:BAND] (see `lorafield decode --help`).
    #[arg(long, value_name = "BRAND/MODEL", conflicts_with = "codec")]
    device: Option<String>,
    /// native or js: which codec decodes a --device that a native codec covers.
    #[arg(long, value_name = "native|js", requires = "device")]
    prefer: Option<String>,
    /// The script's variables, a JSON object.
    #[arg(long, value_name = "JSON")]
    variables: Option<String>,
    #[command(flatten)]
    scripts: ScriptArgs,
}

/// One command a line, each runnable from the top of a checkout (the CLI tests run them).
const REDECODE_EXAMPLES: &str = "\
Examples (at the root of a clone of the repository):
  lorafield redecode fixtures/envelopes/sample.jsonl
  lorafield redecode --diff fixtures/envelopes/sample.jsonl fixtures/envelopes/page-2017.json
  lorafield redecode -o out.jsonl --errors failed.jsonl fixtures/envelopes/*.jsonl
  lorafield gen-shares --count 1000 | gzip > shares.jsonl.gz
  lorafield redecode --profile tts -q shares.jsonl.gz > /dev/null
  lorafield gen-shares --count 1000 | lorafield redecode --jobs 2 > /dev/null";

pub(crate) fn run(args: RedecodeArgs) -> Result<ExitCode> {
    use lorafield_envelope::batch::{RunOptions, Settings, run};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let registry = Registry::builtin();
    let options = Options {
        profile: args.profile,
        model: args.model,
        ..Options::default()
    };
    let selection = lorafield_cli::config::load(
        &registry,
        &lorafield_cli::config::Request {
            config: args.config.as_deref(),
            codec: args.codec.as_deref(),
            options,
            js: args.js.as_deref(),
            device: args.device.as_deref(),
            variables: args.variables.as_deref(),
            prefer: args.prefer.as_deref(),
            env: args.scripts.environment(),
        },
    )?;
    let jobs = match args.jobs {
        Some(0) => bail!("--jobs must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let to_outbox = match &args.to_microshare {
        Some(rec_type) => {
            let outbox = lorafield_microshare::outbox::Outbox::open(&args.outbox)
                .with_context(|| format!("opening the outbox in {}", args.outbox.display()))?;
            Some((outbox, rec_type.clone()))
        }
        None => None,
    };
    let mut held = None;
    let mut out: Box<dyn Write + Send> = match (&args.output, &to_outbox) {
        (_, Some((outbox, rec_type))) => {
            let writer = redecode::OutboxWriter::new(outbox.clone(), rec_type);
            held = Some(writer.held());
            Box::new(writer)
        }
        (Some(p), None) => Box::new(io::BufWriter::with_capacity(
            1 << 20,
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        (None, None) => Box::new(io::BufWriter::with_capacity(1 << 20, io::stdout())),
    };
    let mut errors: Option<Box<dyn Write + Send>> = match &args.errors {
        Some(p) => Some(Box::new(io::BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        ))),
        None => None,
    };
    let read = Arc::new(AtomicU64::new(0));
    let reads_stdin = args.from_microshare.is_none()
        && (args.files.is_empty() || args.files.iter().any(|f| f.as_os_str() == "-"));
    if reads_stdin && !args.quiet && io::stdin().is_terminal() {
        eprintln!(
            "lorafield: reading records from standard input, JSON Lines or a page (Ctrl-D ends)"
        );
    }
    let inputs = match &args.from_microshare {
        Some(rec_type) => vec![redecode::microshare_input(
            args.microshare.client(true)?,
            rec_type,
        )],
        None => redecode::inputs(&args.files, &read),
    };
    let bar = (!args.quiet && io::stderr().is_terminal()).then(|| {
        match redecode::total_size(&args.files) {
            Some(total) => indicatif::ProgressBar::new(total).with_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            ),
            None => indicatif::ProgressBar::new_spinner(),
        }
    });
    let mut progress = {
        let bar = bar.clone();
        let read = read.clone();
        move |c: &lorafield_envelope::batch::Counts| {
            if let Some(bar) = &bar {
                bar.set_position(read.load(Ordering::Relaxed));
                bar.set_message(format!("{} records, {} failed", c.read, c.failed));
            }
        }
    };
    let run_options = RunOptions {
        jobs,
        settings: Settings {
            diff: args.diff,
            errors: args.errors.is_some(),
        },
        chunk_bytes: None,
    };
    let report = run(
        inputs,
        &selection,
        &run_options,
        &mut *out,
        errors.as_deref_mut().map(|e| e as &mut (dyn Write + Send)),
        &mut progress,
    )
    .context("writing the output")?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for e in &report.io_errors {
        eprintln!("lorafield: {e}");
    }
    if !args.quiet {
        for f in &report.failures {
            eprintln!("{f}");
        }
        let more = report
            .counts
            .failed
            .saturating_sub(report.failures.len() as u64);
        if more > 0 {
            match &args.errors {
                Some(p) => eprintln!("... and {more} more in {}", p.display()),
                None => eprintln!("... and {more} more; --errors FILE keeps them all"),
            }
        }
    }
    eprintln!("lorafield redecode: {}", report.counts);
    drop(out);
    let held = held.map_or(0, |h| h.load(Ordering::Relaxed));
    if held > 0 {
        let what = match held {
            1 => "1 record was".to_string(),
            n => format!("{n} records were"),
        };
        eprintln!(
            "lorafield redecode: {what} in the outbox already (the same key and recType: \
             waiting, dead, or delivered and not yet purged), not sent again"
        );
    }
    if let Some((outbox, rec_type)) = to_outbox {
        deliver_outbox(&args.microshare, outbox, &rec_type)?;
    }
    Ok(if !report.io_errors.is_empty() {
        ExitCode::from(2)
    } else if report.counts.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
