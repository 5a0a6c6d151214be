//! Golden fixtures under `fixtures/`: every case's whole result, in every codec's folder
//! (`fixtures/<codec id>/*.jsonl`), and the output of the README's sample run.
//! `UPDATE_FIXTURES=1 cargo test -p lorafield-cli --test fixtures` rewrites them from what the
//! code produces now; review the diff before committing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lorafield::Registry;
use lorafield_cli::vectors::Runner;
use serde_json::{Map, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1")
}

/// The `*.jsonl` case files of every codec folder under `fixtures/` (a folder per codec id),
/// sorted. A folder whose codec is not registered (its cargo feature is not built, or it is not
/// registered yet) is skipped with a note.
fn case_files(registry: &Registry) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in fs::read_dir(fixtures()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let id = dir.file_name().unwrap().to_string_lossy().into_owned();
        if registry.get(&id).is_none() {
            eprintln!("fixtures/{id}: codec {id:?} is not registered; its cases are skipped");
            continue;
        }
        for file in fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "jsonl") {
                files.push(file);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn golden_results() {
    let registry = Registry::builtin();
    let files = case_files(&registry);
    let mut runner = Runner::new(registry);
    let mut failures = Vec::new();
    let mut cases = 0;
    for file in files {
        let folder = file.parent().and_then(Path::file_name).unwrap();
        let text = fs::read_to_string(&file).unwrap();
        let mut rewritten = String::new();
        for (i, line) in text.lines().enumerate() {
            cases += 1;
            let mut case: Map<String, Value> = serde_json::from_str(line).unwrap();
            assert_eq!(
                case.get("codec").and_then(Value::as_str),
                folder.to_str(),
                "{}:{}: a case's codec is its folder's name",
                file.display(),
                i + 1
            );
            let actual = runner.decode_case(&case).unwrap();
            if updating() {
                case.insert("expected_result".into(), actual.result.into());
                rewritten.push_str(&serde_json::to_string(&case).unwrap());
                rewritten.push('\n');
            } else if let Err(why) = runner.check_line(line) {
                failures.push(format!("{}:{}\n{why}", file.display(), i + 1));
            } else if !case.contains_key("expected_result") {
                failures.push(format!("{}:{}: no expected_result", file.display(), i + 1));
            }
        }
        if updating() {
            fs::write(&file, rewritten).unwrap();
        }
    }
    assert!(cases >= 72 + 42 + 46, "only {cases} fixture cases");
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn sample_payloads_decode_as_recorded() {
    let dir = fixtures().join("cayenne-lpp");
    let input = fs::File::open(dir.join("payloads.txt")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .arg("decode")
        .stdin(Stdio::from(input))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = dir.join("payloads.expected");
    if updating() {
        fs::write(&golden, &out.stdout).unwrap();
    }
    let expected = fs::read_to_string(golden).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    let inputs = fs::read_to_string(dir.join("payloads.txt")).unwrap();
    assert_eq!(inputs.lines().count(), expected.lines().count());
}
