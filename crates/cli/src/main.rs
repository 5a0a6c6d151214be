//! The `lorafield` command.
#![forbid(unsafe_code)]

mod microshare_cmd;
mod redecode_cmd;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use lorafield::{Options, Registry};
use lorafield_cli::decode::Decoder;
use lorafield_cli::payload::{Encoding, parse_payload};
use lorafield_cli::vectors::{Report, Runner, collect_files};

/// Decode LoRaWAN uplink payloads (Cayenne LPP and more) into JSON, re-decode stored uplinks,
/// and forward decoded uplinks to Microshare.
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
    Redecode(Box<redecode_cmd::RedecodeArgs>),
    GenShares(redecode_cmd::GenSharesArgs),
    Serve(Box<microshare_cmd::ServeArgs>),
    Outbox(microshare_cmd::OutboxArgs),
    MicroshareSim(microshare_cmd::MicroshareSimArgs),
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
        Command::Redecode(args) => redecode_cmd::redecode(*args),
        Command::GenShares(args) => redecode_cmd::gen_shares(args),
        Command::Serve(args) => microshare_cmd::serve(*args),
        Command::Outbox(args) => microshare_cmd::outbox(args),
        Command::MicroshareSim(args) => microshare_cmd::microshare_sim(args),
    }
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
