//! The `lorafield` command.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use lorafield::{Options, Registry};
use lorafield_cli::decode::Decoder;
use lorafield_cli::payload::{Encoding, parse_payload};
use lorafield_cli::redecode;
use lorafield_cli::vectors::{Report, Runner, collect_files};

/// Decode LoRaWAN uplink payloads (Cayenne LPP and more) into JSON.
///
/// Exit status: 0 when everything decoded, 1 when some result has errors (warnings do not
/// count) or a vector case failed, 2 on usage or I/O errors.
#[derive(Parser)]
#[command(name = "lorafield", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Decode(DecodeArgs),
    Codecs(CodecsArgs),
    Vectors(VectorsArgs),
    Redecode(RedecodeArgs),
    GenShares(GenSharesArgs),
}

/// Decode one payload, or one per line of standard input, to JSON results.
///
/// The result has the LoRa Alliance codec API shape: {"data":{...},"errors":[...],
/// "warnings":[...]}, empty lists left out; "data" is absent when the frame is rejected as a
/// whole. Keys are sorted and numbers printed as The Things Stack prints them.
#[derive(Args)]
#[command(after_help = DECODE_EXAMPLES)]
struct DecodeArgs {
    /// The payload, as hex (an even number of hex digits and nothing else) or base64. Without
    /// it, payloads are read from standard input, one per line: hex or base64 text (an empty
    /// line is an empty payload), or a JSON object {"fPort":3,"bytes":...} whose "bytes" is hex
    /// or base64 text or an array of integers. One result is printed per line, in order; a line
    /// that is not a payload gets a result with an "invalid_input" error naming the line.
    payload: Option<String>,
    /// Codec id (see `lorafield codecs`).
    #[arg(long, short = 'c', default_value = "cayenne-lpp")]
    codec: String,
    /// Codec profile; for cayenne-lpp: tts (The Things Stack's output) or extended.
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// Device model, for codecs that have models.
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// LoRaWAN FPort, used where the input names none. Port 0 (MAC commands) is refused.
    #[arg(long, short = 'f', default_value_t = 1, value_name = "N")]
    fport: u8,
    /// Read payload text as hex only.
    #[arg(long, conflicts_with = "base64")]
    hex: bool,
    /// Read payload text as base64 only.
    #[arg(long)]
    base64: bool,
}

const DECODE_EXAMPLES: &str = "\
Examples:
  lorafield decode --fport 3 A2cA+AQChfw=
  lorafield decode --profile tts 0367011005
  printf '0367011005\\n{\"fPort\":3,\"bytes\":[3,103,0,248]}\\n' | lorafield decode
  lorafield decode --profile tts < payloads.txt > results.jsonl";

/// List the codecs with their options.
#[derive(Args)]
struct CodecsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Check the codecs against conformance vector files (JSON Lines).
///
/// Each case names a codec, fPort, hex payload and an expected result (see the vectors
/// README). A failing case prints its file and line, what was expected and what came out.
/// The last line is "N passed, M failed"; the exit status is 1 if any case failed.
#[derive(Args)]
struct VectorsArgs {
    /// Vector files, or directories whose *.jsonl files are run.
    #[arg(required = true, value_name = "DIR|FILE")]
    paths: Vec<PathBuf>,
}

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
/// that option wherever the chosen codec takes it.
///
/// Summary, one line on standard error at the end:
///   lorafield redecode: read R: decoded D (changed C, unchanged U), failed F, passed through P;
///   written W, to errors E
/// where R = D + F + P, D = C + U and (without --diff) R = W + E. "failed" counts records that
/// could not be read (not JSON, not UTF-8, cut short) or decoded (no payload, not base64, a
/// codec error); each is reported with its file and line.
///
/// Exit status: 0 when every uplink decoded, 1 when some record failed, 2 on usage or I/O
/// errors (a file that cannot be opened or read to its end; the other files are still read).
#[derive(Args)]
#[command(after_help = REDECODE_EXAMPLES)]
struct RedecodeArgs {
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
    /// {"at":"<file>:<line>","reason":..,"record":..}, instead of to the output.
    #[arg(long, value_name = "FILE")]
    errors: Option<PathBuf>,
    /// Write only the records whose decoded payload changed, as
    /// {"at":"<file>:<line>","id":..,"before":..,"after":..}; "id" is the share id, or
    /// {"device_id":..,"f_cnt":..} for a bare envelope.
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
    /// No progress bar (there is none anyway when standard error is not a terminal).
    #[arg(long, short = 'q')]
    quiet: bool,
}

const REDECODE_EXAMPLES: &str = "\
Examples:
  lorafield redecode fixtures/envelopes/shares.jsonl
  lorafield redecode --profile tts -o out.jsonl --errors failed.jsonl history-*.jsonl.gz
  lorafield redecode --diff page-1.json page-2.json
  lorafield gen-shares --count 1000 | lorafield redecode --jobs 2 > /dev/null";

/// Write realistic Microshare shares, one per line, for trying redecode, tests and benches.
///
/// Each share holds a TTS v3 or TTN v2 uplink of one of about fifty devices, with a Cayenne
/// LPP payload (1-4 channels of temperature, humidity, GPS, accelerometer, ...) and the decoded
/// payload The Things Stack stored for it; a --stale fraction of them hold a missing or
/// outdated decoded payload, which a redecode changes. The same options always give the same
/// bytes. A summary goes to standard error.
#[derive(Args)]
#[command(after_help = "Example:\n  lorafield gen-shares --count 100000 --seed 7 -o shares.jsonl")]
struct GenSharesArgs {
    /// How many shares.
    #[arg(long, short = 'n', default_value_t = 1000)]
    count: usize,
    /// The random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Microshare's id and date encoding: 2017 ($oid/$date/$numberLong), 2020 (plain strings
    /// and epoch numbers) or mixed.
    #[arg(long, default_value = "mixed")]
    encoding: lorafield_envelope::generate::DateEncoding,
    /// The uplinks' envelope: tts-v3, ttn-v2 or mixed.
    #[arg(long, default_value = "mixed")]
    shape: lorafield_envelope::generate::Shape,
    /// The fraction (0 to 1) of shares whose decoded payload is missing or outdated.
    #[arg(long, default_value_t = 0.1)]
    stale: f64,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lorafield: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Decode(args) => decode(args),
        Command::Codecs(args) => {
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
        Command::Vectors(args) => vectors(args),
        Command::Redecode(args) => redecode(args),
        Command::GenShares(args) => gen_shares(args),
    }
}

fn gen_shares(args: GenSharesArgs) -> Result<ExitCode> {
    use lorafield_envelope::generate::{GenOptions, write_shares};
    if !(0.0..=1.0).contains(&args.stale) {
        bail!("--stale must be between 0 and 1, not {}", args.stale);
    }
    let options = GenOptions {
        count: args.count,
        seed: args.seed,
        encoding: args.encoding,
        shape: args.shape,
        stale: args.stale,
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(io::BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
    };
    let s = write_shares(&options, &mut out)?;
    out.flush()?;
    eprintln!(
        "lorafield gen-shares: {} shares ({} TTS v3, {} TTN v2), {} bytes, {} stale",
        s.records, s.tts_v3, s.ttn_v2, s.bytes, s.stale
    );
    Ok(ExitCode::SUCCESS)
}

fn redecode(args: RedecodeArgs) -> Result<ExitCode> {
    use lorafield_envelope::batch::{RunOptions, Settings, run};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let registry = Registry::builtin();
    let options = Options {
        profile: args.profile,
        model: args.model,
    };
    let selection = redecode::load_selection(
        &registry,
        args.config.as_deref(),
        args.codec.as_deref(),
        &options,
    )?;
    let jobs = match args.jobs {
        Some(0) => bail!("--jobs must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut out: Box<dyn Write + Send> = match &args.output {
        Some(p) => Box::new(io::BufWriter::with_capacity(
            1 << 20,
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(io::BufWriter::with_capacity(1 << 20, io::stdout())),
    };
    let mut errors: Option<Box<dyn Write + Send>> = match &args.errors {
        Some(p) => Some(Box::new(io::BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        ))),
        None => None,
    };
    let read = Arc::new(AtomicU64::new(0));
    let inputs = redecode::inputs(&args.files, &read);
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
    eprintln!("lorafield redecode: {}", report.counts);
    Ok(if !report.io_errors.is_empty() {
        ExitCode::from(2)
    } else if report.counts.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn decode(args: DecodeArgs) -> Result<ExitCode> {
    let options = Options {
        profile: args.profile,
        model: args.model,
    };
    let codec = Registry::builtin().build(&args.codec, &options)?;
    let encoding = match (args.hex, args.base64) {
        (true, _) => Encoding::Hex,
        (_, true) => Encoding::Base64,
        _ => Encoding::Auto,
    };
    let mut decoder = Decoder::new(codec, args.fport, encoding);
    let failed = match args.payload {
        Some(text) => {
            let payload = parse_payload(text.trim(), encoding)?;
            let mut out = Vec::new();
            let errors = decoder.decode(args.fport, &payload, &mut out);
            out.push(b'\n');
            io::stdout().lock().write_all(&out)?;
            errors
        }
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                eprintln!(
                    "lorafield: reading payloads from standard input, one per line (Ctrl-D ends)"
                );
            }
            let stats = decoder
                .decode_stream(stdin.lock(), io::stdout().lock())
                .context("decoding standard input")?;
            stats.with_errors > 0
        }
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn vectors(args: VectorsArgs) -> Result<ExitCode> {
    let files = collect_files(&args.paths).context("finding vector files")?;
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
