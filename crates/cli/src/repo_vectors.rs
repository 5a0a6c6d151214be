//! `lorafield vectors --device-repo`: every example of every codec file a device profile of
//! The Things Network's device repository references, run as The Things Stack's own example
//! check runs it (the routine's returned object compared by deep equality, numbers as
//! doubles), in cached and in fresh contexts; with `--native`, the native codecs on the
//! examples of the devices they cover.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lorafield::Registry;
use lorafield_codec_js::repo::{DeviceRepo, Example, RepoError, Routine};
use lorafield_codec_js::{Isolation, JsCodec, JsOptions, Script};
use serde_json::Value;

use crate::vectors::first_difference;

/// One example that did not give what it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFailure {
    /// `<vendor>/<codec> #n description (routine)`.
    pub at: String,
    /// What differs, or why there is no result.
    pub detail: String,
}

/// What a run found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoReport {
    /// Examples that gave what they expect.
    pub passed: usize,
    /// Those that did not.
    pub failed: Vec<RepoFailure>,
    /// Examples whose result in a cached context differs from a fresh one (a script that
    /// keeps state from one call to the next), with both results.
    pub isolation: Vec<RepoFailure>,
    /// Files the run could not read (a codec file that does not parse), with why.
    pub unreadable: Vec<String>,
}

/// Runs the examples of the codecs `vendor`'s devices reference (every vendor's when `None`)
/// with scripts run under `options` (its isolation decides which result counts; the other is
/// compared with it). With `native`, the registry's native codecs also run the uplink examples
/// of the devices they cover.
pub fn run(
    repo: &DeviceRepo,
    vendor: Option<&str>,
    options: &JsOptions,
    native: Option<&Registry>,
) -> Result<RepoReport, RepoError> {
    let vendors = match vendor {
        Some(v) => {
            repo.devices(v)?;
            vec![v.to_string()]
        }
        None => repo.vendors()?,
    };
    let mut report = RepoReport::default();
    let mut scripts: BTreeMap<(PathBuf, &str), Result<JsCodec, String>> = BTreeMap::new();
    let other = match options.isolation {
        Isolation::Cached => Isolation::Fresh,
        Isolation::Fresh => Isolation::Cached,
    };
    for vendor in vendors {
        let codecs = match repo.referenced_codecs(&vendor) {
            Ok(c) => c,
            // A vendor listed in the index without a folder of its own has nothing to run.
            Err(RepoError::UnknownVendor { .. }) => continue,
            Err(e) => {
                report.unreadable.push(e.to_string());
                continue;
            }
        };
        for (vendor, codec) in codecs {
            let examples = match repo.examples(&vendor, &codec) {
                Ok(e) => e,
                Err(e) => {
                    report.unreadable.push(e.to_string());
                    continue;
                }
            };
            for example in examples {
                let at = format!(
                    "{vendor}/{codec} {} ({})",
                    example.description,
                    example.routine.name()
                );
                let mut result = |isolation: Isolation| {
                    let codec = scripts
                        .entry((example.script.clone(), isolation.name()))
                        .or_insert_with(|| load(&example, options, isolation));
                    match codec {
                        Ok(c) => c
                            .run_routine(example.routine, &example.input)
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.clone()),
                    }
                };
                let counted = result(options.isolation);
                let compared = result(other);
                if counted != compared {
                    report.isolation.push(RepoFailure {
                        at: at.clone(),
                        detail: format!(
                            "  {}: {}\n  {}: {}",
                            options.isolation.name(),
                            shown(&counted),
                            other.name(),
                            shown(&compared)
                        ),
                    });
                }
                match check(&example, &counted) {
                    None => report.passed += 1,
                    Some(detail) => report.failed.push(RepoFailure { at, detail }),
                }
            }
        }
        if let Some(registry) = native {
            run_native(repo, &vendor, registry, &mut report);
        }
    }
    Ok(report)
}

/// A result as shown in a report.
fn shown(r: &Result<Value, String>) -> String {
    match r {
        Ok(v) => v.to_string(),
        Err(e) => format!("no result: {e}"),
    }
}

/// The script of `example`, named as the repository names it (`<vendor>/<file>`).
fn load(example: &Example, options: &JsOptions, isolation: Isolation) -> Result<JsCodec, String> {
    let script = Script::from_file(&example.script).map_err(|e| e.to_string())?;
    let script = Script::new(example.script_name.clone(), script.text());
    let options = JsOptions {
        isolation,
        ..options.clone()
    };
    JsCodec::new(script, options).map_err(|e| e.to_string())
}

/// Why a result is not the example's output, if it is not.
fn check(example: &Example, result: &Result<Value, String>) -> Option<String> {
    match result {
        Ok(actual) => first_difference("", &example.output, actual).map(|why| {
            format!(
                "  expected {}\n  actual   {}\n  {}",
                example.output,
                actual,
                why.trim_start_matches('.')
            )
        }),
        Err(e) => Some(format!("  expected {}\n  no result: {e}", example.output)),
    }
}

/// The native codecs on the uplink examples of `vendor`'s devices they cover: each device's
/// codec file's examples decoded with its native codec, `data` compared as the script's is;
/// an example that expects errors expects the native codec to report errors.
fn run_native(repo: &DeviceRepo, vendor: &str, registry: &Registry, report: &mut RepoReport) {
    let Ok(models) = repo.devices(vendor) else {
        return;
    };
    for model in models {
        let Some((id, options)) = lorafield::native_for(registry, vendor, &model) else {
            continue;
        };
        let device = lorafield_codec_js::repo::DeviceRef {
            vendor: vendor.into(),
            model: model.clone(),
            firmware: None,
            band: None,
        };
        let Ok(resolved) = repo.resolve(&device) else {
            continue;
        };
        let Ok(examples) = repo.examples(vendor, &resolved.codec) else {
            continue;
        };
        let Ok(codec) = registry.build(id, &options) else {
            continue;
        };
        for example in examples
            .iter()
            .filter(|e| e.routine == Routine::DecodeUplink)
        {
            let at = format!(
                "native {id} for {vendor}/{model} {} ({})",
                example.description, resolved.codec
            );
            let port = example.input.get("fPort").and_then(Value::as_u64);
            let bytes: Option<Vec<u8>> = example
                .input
                .get("bytes")
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                        .collect()
                });
            let (Some(port), Some(bytes)) = (port.and_then(|p| u8::try_from(p).ok()), bytes) else {
                report.failed.push(RepoFailure {
                    at,
                    detail: "  the example's input has no fPort and bytes".into(),
                });
                continue;
            };
            let mut out = Vec::new();
            lorafield::decode_to_json(&*codec, port, &bytes, &mut out);
            let actual: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
            let expects_errors = example
                .output
                .get("errors")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty());
            let why = if expects_errors {
                (actual.get("errors").is_none()).then(|| "  expected errors, got none".to_string())
            } else {
                let expected = example.output.get("data").unwrap_or(&Value::Null);
                match actual.get("data") {
                    Some(data) => first_difference("data", expected, data)
                        .map(|why| format!("  expected {expected}\n  actual   {data}\n  {why}")),
                    None => Some(format!("  expected {expected}\n  actual   {actual}")),
                }
            };
            match why {
                None => report.passed += 1,
                Some(detail) => report.failed.push(RepoFailure { at, detail }),
            }
        }
    }
}
