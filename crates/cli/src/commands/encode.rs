//! `lorafield encode`: downlinks from JSON, with Cayenne LPP or a script's encodeDownlink.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use clap::Args;
use lorafield::{Options, Registry};
use lorafield_cli::config::{self, Request};
use lorafield_cli::downlink::{self, Encoded};
use serde_json::{Value, json};

use crate::args::scripts::ScriptArgs;

/// Encode downlinks: a JSON object (the downlink's data) to bytes and a port.
///
/// Prints {"bytes":"<hex>","fPort":N} per object ("bytes" in base64 with --base64), and
/// "warnings" when the script gave some. Cayenne LPP is encoded natively, one record per member
/// in the keys' bytewise order: each member is
/// <type name>_<channel> with a number ({"temperature_3":24.8}) or, for a type of several
/// values, an object of its members ({"gps_1":{"latitude":..,"longitude":..,"altitude":..}}).
/// A script (--js, or a --device's) runs its encodeDownlink({data}); its bytes must be integers
/// from 0 to 255: anything else is an error, never clamped. A failure prints
/// {"errors":[{"kind":..,"message":..}]}.
///
/// Exit status: 0 when every object was encoded, 1 when some failed, 2 on usage or I/O
/// errors.
#[derive(Args)]
#[command(after_help = ENCODE_EXAMPLES)]
pub(crate) struct EncodeArgs {
    /// The data, a JSON object. `-` or none: one object per line of standard input.
    data: Option<String>,
    /// The codec: cayenne-lpp (the default) or js (with --js).
    #[arg(long, short = 'c')]
    codec: Option<String>,
    /// Cayenne LPP profile: tts (the 12 v1 types) or extended [default: extended].
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// Encode with this script's encodeDownlink.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["codec", "device"])]
    js: Option<PathBuf>,
    /// Encode with this device's script from the device repository (--device-repo):
    /// BRAND/MODEL[@FIRMWARE][:BAND].
    #[arg(long, value_name = "BRAND/MODEL", conflicts_with = "codec")]
    device: Option<String>,
    /// The script's variables, a JSON object.
    #[arg(long, value_name = "JSON")]
    variables: Option<String>,
    /// The port: Cayenne LPP's; for a script, a hint it may override [default: 1].
    #[arg(long, short = 'f', value_name = "N")]
    fport: Option<u8>,
    /// Print the bytes in base64 instead of hex.
    #[arg(long)]
    base64: bool,
    #[command(flatten)]
    scripts: ScriptArgs,
}

const ENCODE_EXAMPLES: &str = "\
Examples (at the root of a clone of the repository):
  lorafield encode '{\"temperature_3\":24.8,\"analog_in_4\":-312.36}'
  lorafield encode --base64 --fport 2 '{\"digital_out_1\":1}'
  lorafield encode --device-repo fixtures/device-repo --device acme/valve '{\"open\":true}'";

/// What encodes.
enum With<'a> {
    Lpp(lorafield_codec_lpp::Profile),
    #[cfg(feature = "js")]
    Script(&'a lorafield_codec_js::JsCodec),
    #[cfg(not(feature = "js"))]
    #[allow(dead_code)]
    Never(std::marker::PhantomData<&'a ()>),
}

pub(crate) fn run(args: EncodeArgs) -> Result<ExitCode> {
    let registry = Registry::builtin();
    let codec = args.codec.as_deref().unwrap_or("cayenne-lpp");
    let script = args.js.is_some() || args.device.is_some();
    if !script && codec != "cayenne-lpp" {
        bail!(
            "codec {codec} encodes no downlinks: lorafield encodes Cayenne LPP natively, and scripts (--js FILE, --device BRAND/MODEL) with their encodeDownlink"
        );
    }
    let profile: lorafield_codec_lpp::Profile = match args.profile.as_deref() {
        Some(p) if script => bail!("--profile {p} is Cayenne LPP's; a script has none"),
        Some(p) => p
            .to_ascii_lowercase()
            .parse()
            .map_err(|_| anyhow::anyhow!("unknown profile {p:?} (known: tts, extended)"))?,
        None => lorafield_codec_lpp::Profile::Extended,
    };
    if !script && args.variables.is_some() {
        bail!("--variables are given to a script: add --js FILE or --device BRAND/MODEL");
    }
    // The device's downlink encoder may be another file than its uplink decoder.
    #[cfg(feature = "js")]
    let device_script = match &args.device {
        Some(device) => Some(lorafield_cli::downlink::device_script(
            &registry,
            &args.scripts.environment(),
            device,
            lorafield::js::repo::Routine::EncodeDownlink,
            args.variables.as_deref(),
        )?),
        None => None,
    };
    let selection = match &args.js {
        Some(js) => Some(config::load(
            &registry,
            &Request {
                js: Some(js),
                variables: args.variables.as_deref(),
                env: args.scripts.environment(),
                options: Options::default(),
                ..Request::default()
            },
        )?),
        None => None,
    };
    let choice = selection
        .as_ref()
        .map(|s| s.select(&lorafield::Meta::default()));
    let with = match &choice {
        #[cfg(feature = "js")]
        None if device_script.is_some() => match &device_script {
            Some(js) => With::Script(js),
            None => With::Lpp(profile),
        },
        None => With::Lpp(profile),
        #[cfg(feature = "js")]
        Some(choice) => match downlink::script_codec(choice) {
            Some(js) => With::Script(js),
            None => bail!("codec {} encodes no downlinks", choice.id()),
        },
        #[cfg(not(feature = "js"))]
        Some(_) => bail!("this lorafield was built without JavaScript codecs"),
    };
    let mut out = io::stdout().lock();
    let mut failed = false;
    match args.data.as_deref() {
        Some(text) if text != "-" => {
            failed |= encode_one(&with, text, args.fport, args.base64, &mut out)?;
        }
        _ => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                eprintln!(
                    "lorafield: reading downlinks from standard input, one JSON object per line (Ctrl-D ends)"
                );
            }
            for line in stdin.lock().lines() {
                let line = line.context("reading standard input")?;
                if line.trim().is_empty() {
                    continue;
                }
                failed |= encode_one(&with, &line, args.fport, args.base64, &mut out)?;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Encodes one object and prints its line; whether it failed.
fn encode_one(
    with: &With<'_>,
    text: &str,
    f_port: Option<u8>,
    base64: bool,
    out: &mut dyn Write,
) -> Result<bool> {
    let error =
        |kind: &str, message: String| json!({"errors": [{"kind": kind, "message": message}]});
    let data: Value = match serde_json::from_str(text.trim()) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => {
            let line = error("invalid_input", format!("{other} is not a JSON object"));
            writeln!(out, "{line}")?;
            return Ok(true);
        }
        Err(e) => {
            let line = error("invalid_input", format!("not JSON: {e}"));
            writeln!(out, "{line}")?;
            return Ok(true);
        }
    };
    let result: Result<Encoded, Value> = match with {
        With::Lpp(profile) => match data.as_object() {
            Some(o) => downlink::encode_lpp(o, *profile)
                .map(|bytes| Encoded {
                    bytes,
                    f_port: f_port.unwrap_or(1),
                    warnings: Vec::new(),
                })
                .map_err(|m| error("invalid_input", m)),
            None => Err(error("invalid_input", "not an object".into())),
        },
        #[cfg(feature = "js")]
        With::Script(js) => {
            downlink::encode_script(js, &data, f_port).map_err(|e| error(e.kind.name(), e.message))
        }
        #[cfg(not(feature = "js"))]
        With::Never(_) => Err(error("unsupported", "no scripts in this build".into())),
    };
    match result {
        Ok(e) => {
            let bytes = if base64 {
                base64::engine::general_purpose::STANDARD.encode(&e.bytes)
            } else {
                hex::encode(&e.bytes)
            };
            let mut line = json!({"bytes": bytes, "fPort": e.f_port});
            if !e.warnings.is_empty() {
                line["warnings"] = json!(e.warnings);
            }
            writeln!(out, "{line}")?;
            Ok(false)
        }
        Err(line) => {
            writeln!(out, "{line}")?;
            Ok(true)
        }
    }
}
