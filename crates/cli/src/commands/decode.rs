//! `lorafield decode`: one payload, or one per line of standard input, to JSON results.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use lorafield::{Options, Registry};
use lorafield_cli::config::load_selection;
use lorafield_cli::decode::Decoder;
use lorafield_cli::payload::{Encoding, parse_payload};

/// Decode one payload, or one per line of standard input, to JSON results.
///
/// The result has the LoRa Alliance codec API shape: {"data":{...},"errors":[...],
/// "warnings":[...]}, empty lists left out; "data" is absent when the frame is rejected as a
/// whole. Keys are sorted and numbers printed as The Things Stack prints them. A payload longer
/// than a LoRaWAN uplink carries (242 bytes) is decoded with a "payload_too_long" warning.
///
/// Which codec decodes a payload: --config FILE, else lorafield.toml in the current directory
/// if there is one, else cayenne-lpp. A payload offers the rules only its port: rules on f_port
/// apply, rules on keys a bare payload has not (application_id, dev_eui, ...) never match it.
/// --codec replaces every rule; --profile or --model alone change that option wherever the
/// codec takes it. Option values ignore case (--model AM308).
///
/// Exit status: 0 when every payload decoded (warnings do not count), 1 when some result has
/// errors, 2 on usage or I/O errors.
#[derive(Args)]
#[command(after_help = DECODE_EXAMPLES)]
pub(crate) struct DecodeArgs {
    /// The payload: hex (pairs of hex digits, optionally 0x first and separated by spaces,
    /// colons, dashes or commas: 03670110, "03 67 01 10", 03:67:01:10, 0x03670110) or base64.
    /// `-` or none: payloads are read from standard input, one per line: payload text (an empty
    /// line is an empty payload), or a TS013 input object {"fPort":3,"bytes":...} whose "bytes"
    /// is payload text or an array of integers ("recvTime" and "variables" may be there; any
    /// other member is an error). One result is printed per line, in order; a line that is not
    /// a payload gets a result with an "invalid_input" error naming the line.
    payload: Option<String>,
    /// The selection rules (default: lorafield.toml in the current directory, if any).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Decode with this codec, whatever the rules say (see `lorafield codecs`). Default: the
    /// rules, else cayenne-lpp.
    #[arg(long, short = 'c')]
    codec: Option<String>,
    /// Codec profile; for cayenne-lpp: tts (The Things Stack's output) or extended.
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// Device model, for codecs that have models (milesight, sodaq-tracker). Needs --codec
    /// unless a codec in use takes it (a lorafield.toml rule's); the error names the codec.
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// LoRaWAN FPort, used where the input names none; it also picks the lorafield.toml rule.
    /// Port 0 (MAC commands) is refused.
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
Examples (at the root of a clone of the repository):
  lorafield decode --fport 3 A2cA+AQChfw=
  lorafield decode --profile tts '03 67 01 10'
  lorafield decode --codec milesight --model AM308 01755c03673401046865050001
  lorafield decode --config fixtures/lorafield.toml --fport 85 01755c03673401046865050001
  printf '03670110\\n{\"fPort\":3,\"bytes\":[3,103,0,248]}\\n' | lorafield decode -
  lorafield decode < fixtures/cayenne-lpp/payloads.txt";

pub(crate) fn run(args: DecodeArgs) -> Result<ExitCode> {
    let options = Options {
        profile: args.profile,
        model: args.model,
        ..Options::default()
    };
    let selection = load_selection(
        &Registry::builtin(),
        args.config.as_deref(),
        args.codec.as_deref(),
        &options,
    )?;
    let encoding = match (args.hex, args.base64) {
        (true, _) => Encoding::Hex,
        (_, true) => Encoding::Base64,
        _ => Encoding::Auto,
    };
    let mut decoder = Decoder::new(selection, args.fport, encoding);
    let failed = match args.payload.as_deref() {
        Some(text) if text != "-" => {
            let payload = parse_payload(text.trim(), encoding)?;
            let mut out = Vec::new();
            let errors = decoder.decode(args.fport, &payload, &mut out);
            out.push(b'\n');
            io::stdout().lock().write_all(&out)?;
            errors
        }
        _ => {
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
