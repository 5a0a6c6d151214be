//! `lorafield decode`: one payload, or one per line of standard input, to JSON results.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use lorafield::{Options, Registry};
use lorafield_cli::config::{self, Request};

use crate::args::scripts::ScriptArgs;
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
    /// Decode with this script (decodeUplink, TTN v2 Decoder or ChirpStack v3 Decode),
    /// whatever the rules say.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["codec", "device"])]
    js: Option<PathBuf>,
    /// Decode with this device's codec from the device repository (--device-repo):
    /// BRAND/MODEL[@FIRMWARE][:BAND], The Things Stack's brand and model ids (the latest
    /// firmware when none; a band only where the firmware's bands use different codecs).
    /// A device a native codec covers (Milesight, Elsys) uses it unless --prefer js.
    #[arg(long, value_name = "BRAND/MODEL", conflicts_with = "codec")]
    device: Option<String>,
    /// native or js: which codec decodes a --device that a native codec covers.
    #[arg(long, value_name = "native|js", requires = "device")]
    prefer: Option<String>,
    /// The script's variables (input.variables), a JSON object.
    #[arg(long, value_name = "JSON")]
    variables: Option<String>,
    /// Decode downlinks instead (the script's decodeDownlink): the result is {"data":..} or
    /// {"errors":[..]}.
    #[arg(long)]
    downlink: bool,
    #[command(flatten)]
    scripts: ScriptArgs,
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
    let request = Request {
        config: args.config.as_deref(),
        codec: args.codec.as_deref(),
        options,
        js: args.js.as_deref(),
        device: args.device.as_deref(),
        variables: args.variables.as_deref(),
        prefer: args.prefer.as_deref(),
        env: args.scripts.environment(),
    };
    let registry = Registry::builtin();
    if args.downlink {
        return downlink(
            &registry,
            &request,
            args.payload.as_deref(),
            args.fport,
            args.hex,
            args.base64,
        );
    }
    let selection = config::load(&registry, &request)?;
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

/// `decode --downlink`: the script's decodeDownlink on one payload or one per stdin line.
fn downlink(
    registry: &Registry,
    request: &Request<'_>,
    payload: Option<&str>,
    f_port: u8,
    hex: bool,
    base64: bool,
) -> Result<ExitCode> {
    use lorafield_cli::payload::parse_line;
    // A device's downlink decoder may be another file than its uplink decoder.
    #[cfg(feature = "js")]
    let device_script = match request.device {
        Some(device) => Some(lorafield_cli::downlink::device_script(
            registry,
            &request.env,
            device,
            lorafield::js::repo::Routine::DecodeDownlink,
            request.variables,
        )?),
        None => None,
    };
    let selection = match request.device {
        Some(_) => None,
        None => Some(config::load(registry, request)?),
    };
    let choice = selection.as_ref().map(|s| {
        s.select(&lorafield::Meta {
            f_port: Some(f_port),
            ..lorafield::Meta::default()
        })
    });
    let codec = match &choice {
        Some(choice) => lorafield_cli::downlink::script_codec(choice).ok_or_else(|| {
            anyhow::anyhow!(
                "codec {} decodes no downlinks: --downlink runs a script's decodeDownlink (give --js FILE or --device BRAND/MODEL)",
                choice.id()
            )
        })?,
        #[cfg(feature = "js")]
        None => device_script
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no codec"))?,
        #[cfg(not(feature = "js"))]
        None => anyhow::bail!("no codec"),
    };
    let encoding = match (hex, base64) {
        (true, _) => Encoding::Hex,
        (_, true) => Encoding::Base64,
        _ => Encoding::Auto,
    };
    let mut out = io::stdout().lock();
    let mut failed = false;
    let one = |port: u8, bytes: &[u8], out: &mut dyn Write| -> Result<bool> {
        let line = lorafield_cli::downlink::decode_downlink_line(codec, port, bytes);
        writeln!(out, "{line}")?;
        Ok(line.starts_with("{\"errors\""))
    };
    match payload {
        Some(text) if text != "-" => {
            let bytes = parse_payload(text.trim(), encoding)?;
            failed |= one(f_port, &bytes, &mut out)?;
        }
        _ => {
            for line in io::stdin().lock().lines() {
                let line = line.context("reading standard input")?;
                match parse_line(line.as_bytes(), encoding) {
                    Ok(item) => {
                        failed |= one(item.f_port.unwrap_or(f_port), &item.payload, &mut out)?;
                    }
                    Err(e) => {
                        failed = true;
                        let message = serde_json::to_string(&e.to_string())?;
                        writeln!(
                            out,
                            r#"{{"errors":[{{"kind":"invalid_input","message":{message}}}]}}"#
                        )?;
                    }
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
