//! The `lorafield` binary end to end: outputs, exit codes, streams.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn lorafield(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn the_issue_example() {
    let o = lorafield(
        &[
            "decode",
            "--codec",
            "cayenne-lpp",
            "--fport",
            "3",
            "A2cA+AQChfw=",
        ],
        "",
    );
    assert_eq!(
        stdout(&o),
        "{\"data\":{\"analog_in_4\":-312.36,\"temperature_3\":24.8}}\n"
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn errors_exit_1_and_keep_partial_data_unless_tts() {
    let o = lorafield(&["decode", "0367011005"], "");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "{\"data\":{\"temperature_3\":27.2},\"errors\":[{\"kind\":\"unexpected_eof\",\"message\":\"unexpected end of payload at byte 4\",\"offset\":4}]}\n"
    );
    let o = lorafield(&["decode", "--profile", "tts", "0367011005"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("{\"errors\":[{\"kind\":\"unexpected_eof\""));
}

#[test]
fn port_zero_is_refused() {
    let o = lorafield(&["decode", "--fport", "0", "03670110"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("{\"errors\":[{\"kind\":\"port_zero\""),
        "{}",
        stdout(&o)
    );
}

#[test]
fn forced_encodings() {
    let o = lorafield(&["decode", "--base64", "AAAA"], "");
    // Three zero bytes: one digital input record on channel 0.
    assert_eq!(stdout(&o), "{\"data\":{\"digital_in_0\":0}}\n");
    let o = lorafield(&["decode", "--hex", "A2cA+AQChfw="], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not hex"));
}

#[test]
fn usage_errors_exit_2_with_a_reason() {
    let cases: [(&[&str], &str); 6] = [
        (&["decode", "not a payload!"], "neither hex"),
        (
            &["decode", "--codec", "nope", "00"],
            "unknown codec \"nope\" (known: cayenne-lpp, ",
        ),
        (
            &["decode", "--profile", "v9", "00"],
            "unknown profile \"v9\"",
        ),
        (
            &["decode", "--model", "am307", "00"],
            "model \"am307\" belongs to codec milesight, which is not in use (cayenne-lpp): add --codec milesight",
        ),
        (
            &["decode", "-c", "cayenne-lpp", "--model", "am307", "00"],
            "codec cayenne-lpp takes no option \"model\"",
        ),
        (&["decode", "--fport", "256", "00"], "256"),
    ];
    for (args, reason) in cases {
        let o = lorafield(args, "");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}

#[test]
fn stdin_lines_map_one_to_one() {
    let input = "0367011005\n\nnot hex!\n{\"fPort\":3,\"bytes\":\"A2cA+AQChfw=\"}\r\n{\"bytes\":[1,104,255]}";
    let o = lorafield(&["decode"], input);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(lines[1], "{\"data\":{}}");
    assert!(
        lines[2].contains("\"kind\":\"invalid_input\",\"line\":3"),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[3],
        "{\"data\":{\"analog_in_4\":-312.36,\"temperature_3\":24.8}}"
    );
    assert_eq!(lines[4], "{\"data\":{\"relative_humidity_1\":127.5}}");
    assert_eq!(o.status.code(), Some(1));
    let o = lorafield(&["decode"], "03670110\n");
    assert_eq!(o.status.code(), Some(0));
    let o = lorafield(&["decode"], "");
    assert_eq!((stdout(&o).as_str(), o.status.code()), ("", Some(0)));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .arg("decode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    let line = "0367011005670110\n".repeat(1000);
    for _ in 0..100 {
        if stdin.write_all(line.as_bytes()).is_err() {
            break;
        }
    }
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn codecs_lists_options() {
    let o = lorafield(&["codecs"], "");
    assert!(stdout(&o).contains("cayenne-lpp"));
    assert!(stdout(&o).contains("--profile (default extended)"));
    assert!(stdout(&o).contains("em300-th"));
    assert!(stdout(&o).contains("--model (default universal-tracker)"));
    assert!(stdout(&o).contains("values: universal-tracker legacy nb-iot"));
    assert!(stdout(&o).contains("--model (required)"));
    let o = lorafield(&["codecs", "--json"], "");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["options"][0]["name"], "profile");
}

#[test]
fn sodaq_models_from_the_command_line() {
    // A legacy frame with one previous fix: the fix starts at byte 20, over time_to_fix, and
    // the last byte (ee) is stale.
    let legacy = "bf41835976193a540b1f824b0b03f1ff0f008c05840300c70a1fc0320a03ee";
    let o = lorafield(
        &[
            "decode",
            "--codec",
            "sodaq-tracker",
            "--model",
            "legacy",
            legacy,
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "{\"data\":{\"altitude\":-15,\"battery_voltage\":4.18,\"board_temperature\":25,\"course\":140,\"latitude\":52.0836154,\"longitude\":5.1071874,\"previous_fixes\":[{\"latitude\":52.08,\"longitude\":5.1,\"seconds_ago\":900}],\"satellites\":5,\"speed\":15,\"timestamp\":1501774271}}\n"
    );
    // The same bytes under the default model read the fix's first byte (84) as time_to_fix.
    let o = lorafield(&["decode", "-c", "sodaq-tracker", legacy], "");
    assert!(
        stdout(&o).contains("\"time_to_fix\":132,"),
        "{}",
        stdout(&o)
    );
    // A length no model sends: rejected whole, exit 1.
    let o = lorafield(&["decode", "-c", "sodaq-tracker", "-m", "nb-iot", "00"], "");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "{\"errors\":[{\"expected\":37,\"kind\":\"invalid_length\",\"length\":1,\"message\":\"invalid length 1 (expected 37) at byte 0\",\"offset\":0}]}\n"
    );
    let o = lorafield(&["decode", "-c", "sodaq-tracker", "-m", "v9", "00"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("legacy"));
}

#[test]
fn elsys_warnings_do_not_fail_the_run() {
    // The spec's example, then an unknown type (0x77): decoding stops with a warning.
    let o = lorafield(&["decode", "-c", "elsys", "0100e2022904002705067701"], "");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "{\"data\":{\"humidity\":41,\"light\":39,\"motion\":6,\"temperature\":22.6},\"warnings\":[{\"kind\":\"unknown_type\",\"message\":\"unknown type 0x77 at byte 10\",\"offset\":10,\"type\":119}]}\n"
    );
    // A record cut short is an error: exit 1, the data before it kept.
    let o = lorafield(&["decode", "-c", "elsys", "0100e20400"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with(
            "{\"data\":{\"temperature\":22.6},\"errors\":[{\"kind\":\"unexpected_eof\""
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn vectors_report_failures_with_a_diff() {
    let dir = std::env::temp_dir().join(format!("lorafield-vectors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cases.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"codec":"cayenne-lpp","fPort":1,"hex":"03670110","expected":{"data":{"temperature_3":27.2}}}"#, "\n",
            r#"{"codec":"cayenne-lpp","fPort":1,"hex":"03670110","description":"wrong on purpose","expected":{"data":{"temperature_3":27.3}}}"#, "\n",
            r#"{"codec":"no-such-codec","fPort":1,"hex":"00","expected":{"data":{}}}"#, "\n",
        ),
    )
    .unwrap();
    let o = lorafield(&["vectors", dir.to_str().unwrap()], "");
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(out.contains("cases.jsonl:2 (wrong on purpose)"), "{out}");
    assert!(
        out.contains("data.temperature_3: expected 27.3, got 27.2"),
        "{out}"
    );
    assert!(out.contains("unknown codec"), "{out}");
    assert_eq!(out.lines().last(), Some("1 passed, 2 failed"));
    std::fs::remove_dir_all(&dir).unwrap();
    let o = lorafield(&["vectors", "/nonexistent/vectors"], "");
    assert_eq!(o.status.code(), Some(2));
    // The error names the path it could not read.
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "lorafield: cannot read /nonexistent/vectors: No such file or directory (os error 2)\n"
    );
}

#[test]
fn the_readme_installs_with_the_lock_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let installs: Vec<&str> = readme
        .lines()
        .filter(|l| l.contains("cargo install"))
        .collect();
    assert!(!installs.is_empty());
    for line in installs {
        assert!(
            line.starts_with("cargo install --locked --path crates/cli "),
            "{line}"
        );
    }
    // The path is this crate, the one with the binary, and the lock file is there to honour.
    let manifest = std::fs::read_to_string(root.join("crates/cli/Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"lorafield\""), "{manifest}");
    assert!(root.join("Cargo.lock").is_file());
}
