//! `lorafield decode`: one payload, or one per line of standard input, to JSON results.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use lorafield::{Options, Registry};
use lorafield_cli::decode::Decoder;
use lorafield_cli::payload::{Encoding, parse_payload};

/// Decode one payload, or one per line of standard input, to JSON results.
///
/// The result has the LoRa Alliance codec API shape: {"data":{...},"errors":[...],
/// "warnings":[...]}, empty lists left out; "data" is absent when the frame is rejected as a
/// whole. Keys are sorted and numbers printed as The Things Stack prints them.
#[derive(Args)]
#[command(after_help = DECODE_EXAMPLES)]
pub(crate) struct DecodeArgs {
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

pub(crate) fn run(args: DecodeArgs) -> Result<ExitCode> {
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
