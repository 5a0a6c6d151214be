//! `lorafield compare`: a native codec against a device's script, payload by payload.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
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
/// The payloads: the uplink examples of the device's codec file and those of --payloads, then
/// --count more, mutations of them (a byte changed, a bit flipped, a byte added, the payload
/// cut short, two spliced) and random ones, drawn from --seed. Where both decode, their data
/// is compared (deep equality, numbers as doubles; the script's is taken as expected); else
/// whether each reports errors. Each difference prints its class, the payload, both results
/// and the first place they differ; the last line counts them, by class.
///
/// Classes: "native KIND" when the native codec reports KIND (an error or a warning) at a byte
/// before which both agree, and what it decoded from there on the script decoded alike: the
/// script reads on where the native codec stops or warns (past the end of a cut payload, over
/// a record it does not know). "data": both decode, to different data. "native fails" and
/// "script fails": one reports errors, the other decodes, and no report explains it.
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
    /// More payloads to start from: files of JSON Lines with "fPort" and "hex" (the vector
    /// format, such as a codec's golden cases; other members are ignored).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    payloads: Vec<PathBuf>,
    /// Print at most this many differences (all are counted).
    #[arg(long, default_value_t = 20)]
    show: usize,
    /// Print only the differences of this class: "data", "native fails", "script fails" or
    /// "native KIND" ("native unexpected_eof").
    #[arg(long, value_name = "CLASS", value_parser = class_name)]
    only: Option<String>,
    /// Print no differences, only the count of each class with its first payload.
    #[arg(long)]
    summary: bool,
    #[command(flatten)]
    scripts: ScriptArgs,
}

const COMPARE_EXAMPLES: &str = "\
Examples (at the root of a clone; ../lorawan-devices: the device repository):
  export LORAFIELD_DEVICE_REPO=../lorawan-devices
  lorafield compare --device milesight-iot/am308
  lorafield compare --device elsys/ers --codec elsys --count 5000 --seed 7
  # Start from the golden cases too, and print only the count of each class
  lorafield compare --device milesight-iot/em300-th --summary \\
      --payloads fixtures/milesight/*.jsonl
  # Only the genuine differences
  lorafield compare --device milesight-iot/uc1122 --only data";

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
    let mut seeds = examples.clone();
    for path in &args.payloads {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        seeds.extend(
            compare::payloads(&text, &path.display().to_string()).map_err(anyhow::Error::msg)?,
        );
    }
    let cases = compare::cases(&seeds, args.count, args.seed);
    let comparison = compare::run(&*native, &script, &cases);
    let differences = &comparison.differences;
    let by_class = comparison.by_class();
    let same = cases.len() - differences.len();
    let mut out = io::stdout().lock();
    if args.summary {
        writeln!(out, "{same:>6}  the same")?;
        for (kind, n) in &comparison.reported {
            writeln!(out, "{n:>6}    of which the native codec reports {kind}")?;
        }
        for (class, n) in &by_class {
            if let Some(d) = differences.iter().find(|d| d.class == *class) {
                writeln!(
                    out,
                    "{n:>6}  {class}  (first: fPort {} {}, {})",
                    d.case.f_port,
                    hex::encode(&d.case.bytes),
                    d.case.origin
                )?;
            }
        }
    } else {
        let shown: Vec<_> = differences
            .iter()
            .filter(|d| args.only.as_ref().is_none_or(|c| d.class.to_string() == *c))
            .collect();
        for d in shown.iter().take(args.show) {
            writeln!(
                out,
                "DIFF [{}] fPort {} {} ({})\n  native {}\n  script {}\n  {}",
                d.class,
                d.case.f_port,
                hex::encode(&d.case.bytes),
                d.case.origin,
                d.native,
                d.script,
                d.why
            )?;
        }
        if shown.len() > args.show {
            writeln!(
                out,
                "... and {} more (--show N prints more)",
                shown.len() - args.show
            )?;
        }
    }
    let reported = counts(comparison.reported.iter().map(|(k, n)| (k, *n)));
    let classes = counts(by_class.iter().map(|(c, n)| (c, *n)));
    writeln!(
        out,
        "{} payloads ({} examples, {} given): {same} the same{}, {} different{}; native {id}{}, \
         script {}",
        cases.len(),
        examples.len(),
        seeds.len() - examples.len(),
        if reported.is_empty() {
            String::new()
        } else {
            format!(" (of which the native codec reports {reported})")
        },
        differences.len(),
        if classes.is_empty() {
            String::new()
        } else {
            format!(" ({classes})")
        },
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

/// A class as `--only` takes it.
fn class_name(s: &str) -> Result<String, String> {
    let kind = s.strip_prefix("native ").unwrap_or("");
    match s {
        "data" | "native fails" | "script fails" => Ok(s.to_string()),
        _ if !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
            Ok(s.to_string())
        }
        _ => Err("not a class: data, native fails, script fails or native KIND".into()),
    }
}

/// `3 a, 1 b`.
fn counts<K: std::fmt::Display>(items: impl Iterator<Item = (K, usize)>) -> String {
    items
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}
