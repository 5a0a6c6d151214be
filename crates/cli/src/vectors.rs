//! `lorafield vectors`: conformance vector files (JSON Lines, one case a line) checked against
//! the codecs.
//!
//! A case has `codec`, `fPort`, `hex`, optional `profile`/`model`, and one expectation:
//!
//! - `expected_json`: the exact text of `data`;
//! - `expected`: `{"data", "errors", "warnings"}` compared as parsed JSON: `data` equal (key
//!   order free, numbers as `f64`, exactly; absent means the result must have no `data`),
//!   errors given as objects with `offset`/`kind` must match those members (a `message` of ours
//!   may differ), errors given only as a message or a string count by presence, and warnings
//!   count by presence (extra warnings of ours are allowed);
//! - `expected_result`: the exact text of the whole result (our own golden fixtures).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::{fs, io};

use lorafield::{Codec, FieldBuf, JsonWriter, MAX_EVENTS, Options, Registry};
use serde_json::{Map, Value};

/// One failing case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `file:line`.
    pub at: String,
    /// The case's description, if it has one.
    pub description: Option<String>,
    /// What differs, several lines.
    pub detail: String,
}

/// The outcome of running vector files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed, in file order.
    pub failed: Vec<Failure>,
}

impl Report {
    /// Adds another report's counts and failures.
    pub fn merge(&mut self, other: Report) {
        self.passed += other.passed;
        self.failed.extend(other.failed);
    }
}

type CodecKey = (String, Option<String>, Option<String>);

/// Checks vector cases, building each codec configuration once.
pub struct Runner {
    registry: Registry,
    codecs: HashMap<CodecKey, Result<Arc<dyn Codec>, String>>,
    json: JsonWriter,
}

/// What decoding a case produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actual {
    /// The whole result's JSON text.
    pub result: String,
    /// The `data` member's JSON text, if the result has one.
    pub data: Option<String>,
}

impl Runner {
    /// A runner over `registry`'s codecs.
    pub fn new(registry: Registry) -> Self {
        Runner {
            registry,
            codecs: HashMap::new(),
            json: JsonWriter::new(),
        }
    }

    /// Decodes the case's payload with its codec and options.
    pub fn decode_case(&mut self, case: &Map<String, Value>) -> Result<Actual, String> {
        let text = |k: &str| case.get(k).and_then(Value::as_str).map(str::to_owned);
        let codec_id = text("codec").ok_or("case has no \"codec\"")?;
        let f_port = case
            .get("fPort")
            .and_then(Value::as_u64)
            .and_then(|p| u8::try_from(p).ok())
            .ok_or("case has no \"fPort\" of 0-255")?;
        let hex_text = text("hex").ok_or("case has no \"hex\"")?;
        let payload = hex::decode(&hex_text).map_err(|e| format!("\"hex\" is not hex: {e}"))?;
        let key = (codec_id, text("profile"), text("model"));
        let registry = &self.registry;
        let codec = self
            .codecs
            .entry(key)
            .or_insert_with_key(|(id, profile, model)| {
                let options = Options {
                    profile: profile.clone(),
                    model: model.clone(),
                    ..Options::default()
                };
                registry.build(id, &options).map_err(|e| e.to_string())
            })
            .clone()?;
        // Both paths to JSON: rendering while decoding, and storing the fields first. They
        // must agree to the byte (past a FieldBuf of MAX_EVENTS too: both stop with
        // sink_full at the same field), or the case fails.
        let mut result = Vec::new();
        let outcome =
            lorafield::decode_json(&*codec, f_port, &payload, &mut self.json, &mut result);
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let mut stored = Vec::new();
        let decoded = lorafield::decode(&*codec, f_port, &payload, &mut buf);
        self.json.write_result(&decoded, &mut stored);
        if stored != result {
            return Err(format!(
                "the two paths to JSON differ:\n  rendered: {}\n  stored:   {}",
                String::from_utf8_lossy(&result),
                String::from_utf8_lossy(&stored)
            ));
        }
        let data = outcome
            .data
            .and_then(|r| result.get(r))
            .map(|d| String::from_utf8_lossy(d).into_owned());
        Ok(Actual {
            result: String::from_utf8_lossy(&result).into_owned(),
            data,
        })
    }

    /// Checks one case given as a JSON line; `Err` holds what differs.
    pub fn check_line(&mut self, line: &str) -> Result<(), String> {
        let case: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
        let actual = self.decode_case(&case)?;
        let context = case_context(&case);
        if let Some(expected) = case.get("expected_result") {
            let expected = expected.as_str().ok_or("\"expected_result\" is not text")?;
            if expected != actual.result {
                return Err(format!(
                    "{context}\n  expected result: {expected}\n  actual result:   {}",
                    actual.result
                ));
            }
        } else if let Some(expected) = case.get("expected_json") {
            let expected = expected.as_str().ok_or("\"expected_json\" is not text")?;
            if actual.data.as_deref() != Some(expected) {
                return Err(format!(
                    "{context}\n  expected data: {expected}\n  actual result: {}",
                    actual.result
                ));
            }
        } else if let Some(expected) = case.get("expected") {
            let result: Value = serde_json::from_str(&actual.result)
                .map_err(|e| format!("our result is not JSON ({e}): {}", actual.result))?;
            if let Some(why) = compare_expected(expected, &result) {
                return Err(format!(
                    "{context}\n  expected: {expected}\n  actual:   {}\n  {why}",
                    actual.result
                ));
            }
        } else {
            return Err("case has no expected_result, expected_json or expected".into());
        }
        Ok(())
    }

    /// Runs every case of one file.
    pub fn run_file(&mut self, path: &Path) -> io::Result<Report> {
        let text = fs::read_to_string(path)?;
        let mut report = Report::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match self.check_line(line) {
                Ok(()) => report.passed += 1,
                Err(detail) => {
                    let description = serde_json::from_str::<Value>(line)
                        .ok()
                        .and_then(|c| c.get("description")?.as_str().map(str::to_owned));
                    report.failed.push(Failure {
                        at: format!("{}:{}", path.display(), i + 1),
                        description,
                        detail,
                    });
                }
            }
        }
        Ok(report)
    }
}

fn case_context(case: &Map<String, Value>) -> String {
    let mut s = String::from(" ");
    for key in ["codec", "profile", "model", "fPort", "hex"] {
        if let Some(v) = case.get(key) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            let _ = write!(s, " {key} {v}");
        }
    }
    s
}

/// The vector files under `paths`: files as given, directories' `*.jsonl` files (recursively),
/// sorted. An error names the path that could not be read.
pub fn collect_files(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if fs::metadata(path).map_err(|e| at(path, e))?.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// `error`, saying which path it is about.
fn at(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("cannot read {}: {error}", path.display()),
    )
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| at(dir, e))? {
        let path = entry.map_err(|e| at(dir, e))?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    Ok(())
}

/// Compares a result with an `expected` object; `Some` says the first difference.
pub fn compare_expected(expected: &Value, actual: &Value) -> Option<String> {
    let Some(expected) = expected.as_object() else {
        return Some("\"expected\" is not an object".into());
    };
    match (expected.get("data"), actual.get("data")) {
        (None, Some(_)) => return Some("expected no data (frame rejected), got data".into()),
        (Some(_), None) => return Some("expected data, got none (frame rejected)".into()),
        (Some(e), Some(a)) => {
            if let Some(why) = first_difference("data", e, a) {
                return Some(why);
            }
        }
        (None, None) => {}
    }
    let list = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let expected_errors = list(expected.get("errors"));
    let actual_errors = list(actual.get("errors"));
    if expected_errors.is_empty() && !actual_errors.is_empty() {
        return Some(format!(
            "expected no errors, got {}",
            Value::Array(actual_errors)
        ));
    }
    if !expected_errors.is_empty() && actual_errors.is_empty() {
        return Some("expected errors, got none".into());
    }
    for e in &expected_errors {
        let Some(members) = e.as_object() else {
            continue;
        };
        let checked: Vec<_> = members.iter().filter(|(k, _)| *k != "message").collect();
        if checked.is_empty() {
            continue;
        }
        let matched = actual_errors.iter().any(|a| {
            checked.iter().all(|(k, v)| {
                a.get(k.as_str())
                    .is_some_and(|av| first_difference("", v, av).is_none())
            })
        });
        if !matched {
            return Some(format!("no error matches {e}"));
        }
    }
    let expected_warnings = list(expected.get("warnings"));
    if !expected_warnings.is_empty() && list(actual.get("warnings")).is_empty() {
        return Some("expected warnings, got none".into());
    }
    None
}

/// The first place where two JSON values differ (numbers compared as `f64`, exactly; object
/// key order free).
pub fn first_difference(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    match (expected, actual) {
        (Value::Number(e), Value::Number(a)) => {
            (e.as_f64() != a.as_f64()).then(|| format!("{path}: expected {e}, got {a}"))
        }
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    None => return Some(format!("{p}: missing")),
                    Some(av) => {
                        if let Some(why) = first_difference(&p, ev, av) {
                            return Some(why);
                        }
                    }
                }
            }
            a.keys()
                .find(|k| !e.contains_key(*k))
                .map(|k| format!("{path}.{k}: not expected"))
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{path}: expected {} elements, got {}",
                    e.len(),
                    a.len()
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (ev, av))| first_difference(&format!("{path}[{i}]"), ev, av))
        }
        (e, a) => (e != a).then(|| format!("{path}: expected {e}, got {a}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn runner() -> Runner {
        Runner::new(Registry::builtin())
    }

    #[test]
    fn numbers_compare_as_f64_exactly() {
        assert_eq!(first_difference("", &json!(80.0), &json!(80)), None);
        assert!(first_difference("", &json!(27.2), &json!(27.200000000000003)).is_some());
        assert!(first_difference("", &json!({"a": 1}), &json!({"a": 1, "b": 2})).is_some());
        assert!(first_difference("", &json!({"a": 1, "b": 2}), &json!({"a": 1})).is_some());
        assert_eq!(
            first_difference(
                "",
                &json!({"a": [1, {"x": 2}]}),
                &json!({"a": [1.0, {"x": 2}]})
            ),
            None
        );
    }

    #[test]
    fn expectations() {
        let mut r = runner();
        let ok = r#"{"codec":"cayenne-lpp","profile":"tts","fPort":1,"hex":"0367011005","expected":{"errors":[{"offset":4,"kind":"unexpected_eof"}]}}"#;
        assert_eq!(r.check_line(ok), Ok(()));
        let wrong_offset = ok.replace("\"offset\":4", "\"offset\":3");
        assert!(
            r.check_line(&wrong_offset)
                .unwrap_err()
                .contains("no error matches")
        );
        let message_only = r#"{"codec":"cayenne-lpp","profile":"tts","fPort":1,"hex":"01ffff","expected":{"errors":[{"message":"cayennelpp: unknown type"}]}}"#;
        assert_eq!(r.check_line(message_only), Ok(()));
        let data_expected = r#"{"codec":"cayenne-lpp","profile":"tts","fPort":1,"hex":"01ffff","expected":{"data":{}}}"#;
        assert!(r.check_line(data_expected).is_err());
        let exact = r#"{"codec":"cayenne-lpp","fPort":3,"hex":"036700f8040285fc","expected_json":"{\"analog_in_4\":-312.36,\"temperature_3\":24.8}"}"#;
        assert_eq!(r.check_line(exact), Ok(()));
        let unknown = r#"{"codec":"nope","fPort":1,"hex":"","expected":{"data":{}}}"#;
        assert!(r.check_line(unknown).unwrap_err().contains("unknown codec"));
        assert!(
            r.check_line(r#"{"codec":"cayenne-lpp","fPort":1,"hex":""}"#)
                .is_err()
        );
        let warn =
            r#"{"codec":"cayenne-lpp","fPort":1,"hex":"","expected":{"data":{},"warnings":["w"]}}"#;
        assert_eq!(
            r.check_line(warn).unwrap_err().lines().last(),
            Some("  expected warnings, got none")
        );
    }
}
