//! `lorafield gen-shares`: realistic Microshare shares for trying redecode, tests and benches.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

/// Write realistic Microshare shares, one per line, for trying redecode, tests and benches.
///
/// Each share holds a TTS v3 or TTN v2 uplink of one of about fifty devices, with a Cayenne
/// LPP payload (1-4 channels of temperature, humidity, GPS, accelerometer, ...) and the decoded
/// payload The Things Stack stored for it; a --stale fraction of them hold a missing or
/// outdated decoded payload, which a redecode changes. The same options always give the same
/// bytes. A summary goes to standard error.
#[derive(Args)]
#[command(after_help = "Example:\n  lorafield gen-shares --count 100000 --seed 7 -o shares.jsonl")]
pub(crate) struct GenSharesArgs {
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

pub(crate) fn run(args: GenSharesArgs) -> Result<ExitCode> {
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
