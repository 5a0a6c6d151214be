//! `lorafield compare`: a native codec against a device's script, payload by payload.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use lorafield::js::repo::{DeviceRef, RepoError, Routine};
use lorafield::{Options, Registry};
use lorafield_cli::compare::{self, Case};
use lorafield_cli::config::{self, Request};

use crate::args::scripts::ScriptArgs;

/// Decode the same payloads with a native codec and a device's script from the device
/// repository, and print every difference.
///
/// The payloads: the uplink examples of the device's codec file, then --count more, mutations
/// of the examples (a byte changed, a bit flipped, a byte added, the payload cut short) and
/// random ones, drawn from --seed. Where both decode, their data is compared (deep equality,
/// numbers as doubles; the script's is taken as expected); else whether each reports errors.
/// Each difference prints the payload, both results and the first place they differ; the last
/// line counts them.
///
/// Exit status: 0 when no payload differs, 1 when some do, 2 on usage or I/O errors.
#[derive(Args)]
#[command(after_help = COMPARE_EXAMPLES)]
pub(crate) struct CompareArgs {
    /// The device: BRAND/MODEL[@FIRMWARE][:BAND].
    #[arg(long, value_name = "BRAND/MODEL")]
    device: String,
    /// The native codec (default: the one that covers the device).
    #[arg(long, short = 'c')]
    codec: Option<String>,
    /// The native codec's model (default: the device's).
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// The native codec's profile.
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// How many payloads beyond the examples.
    #[arg(long, short = 'n', default_value_t = 1000)]
    count: usize,
    /// The seed of the mutated and random payloads.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print at most this many differences (all are counted).
    #[arg(long, default_value_t = 20)]
    show: usize,
    #[command(flatten)]
    scripts: ScriptArgs,
}

const COMPARE_EXAMPLES: &str = "\
Examples (with a checkout of The Things Network's lorawan-devices in ../lorawan-devices):
  lorafield compare --device-repo ../lorawan-devices --device milesight-iot/am308
  lorafield compare --device-repo ../lorawan-devices --device elsys/ers --codec elsys --count 5000";

pub(crate) fn run(args: CompareArgs) -> Result<ExitCode> {
    let registry = Registry::builtin();
    let device: DeviceRef = args
        .device
        .parse()
        .map_err(|e: RepoError| anyhow::anyhow!("{e}"))?;
    let selection = config::load(
        &registry,
        &Request {
            env: args.scripts.environment(),
            ..Request::default()
        },
    )?;
    let codecs = selection.device_codecs(&registry)?;
    let resolved = codecs.repo().resolve(&device)?;
    let (id, mut options) = match (
        &args.codec,
        lorafield::native_for(&registry, &device.vendor, &device.model),
    ) {
        (Some(c), _) => (c.clone(), Options::default()),
        (None, Some((id, options))) => (id.to_string(), options),
        (None, None) => {
            bail!("no native codec covers {device}: give --codec (see lorafield codecs)")
        }
    };
    if let Some(m) = &args.model {
        options.model = Some(m.clone());
    }
    if let Some(p) = &args.profile {
        options.profile = Some(p.clone());
    }
    let native = registry
        .build(&id, &options)
        .with_context(|| format!("building the native codec {id}"))?;
    let script = codecs.script_for(&device, Routine::DecodeUplink)?;
    let examples: Vec<Case> = codecs
        .repo()
        .examples(&device.vendor, &resolved.codec)?
        .into_iter()
        .filter(|e| e.routine == Routine::DecodeUplink)
        .filter_map(|e| {
            let port = e
                .input
                .get("fPort")?
                .as_u64()
                .and_then(|p| u8::try_from(p).ok())?;
            let bytes = e
                .input
                .get("bytes")?
                .as_array()?
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect::<Option<Vec<u8>>>()?;
            Some(Case {
                origin: format!("example {}", e.description),
                f_port: port,
                bytes,
            })
        })
        .collect();
    let cases = compare::cases(&examples, args.count, args.seed);
    let differences = compare::run(&*native, &script, &cases);
    let mut out = io::stdout().lock();
    for d in differences.iter().take(args.show) {
        writeln!(
            out,
            "DIFF fPort {} {} ({})\n  native {}\n  script {}\n  {}",
            d.case.f_port,
            hex::encode(&d.case.bytes),
            d.case.origin,
            d.native,
            d.script,
            d.why
        )?;
    }
    if differences.len() > args.show {
        writeln!(
            out,
            "... and {} more (--show N prints more)",
            differences.len() - args.show
        )?;
    }
    writeln!(
        out,
        "{} payloads ({} examples): {} the same, {} different; native {id}{}, script {}",
        cases.len(),
        examples.len(),
        cases.len() - differences.len(),
        differences.len(),
        options
            .model
            .as_deref()
            .map(|m| format!(" (model {m})"))
            .unwrap_or_default(),
        resolved.script_name
    )?;
    Ok(if differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
