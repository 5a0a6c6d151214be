//! `lorafield decode` end to end: lorafield.toml, standard input, payloads as people paste
//! them, long payloads, model names, and the examples of `--help` and the README.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `lorafield args` in `dir` with `stdin`.
fn lorafield_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .args(args)
        .current_dir(dir)
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

/// Runs `lorafield args` in an empty directory (no lorafield.toml).
fn lorafield(args: &[&str], stdin: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    lorafield_in(dir.path(), args, stdin)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The workspace root: where a fresh clone's paths start.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const AM308: &str = "01755c03673401046865050001";
const AM308_DATA: &str =
    r#"{"data":{"battery":92,"humidity":50.5,"pir":"trigger","temperature":30.8}}"#;

const CONFIG: &str = r#"
[default]
profile = "tts"

[[rule]]
f_port = 85
codec = "milesight"
model = "am308"

[[rule]]
dev_eui = "*"
codec = "elsys"
"#;

#[test]
fn the_config_in_the_current_directory_chooses_by_port() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lorafield.toml"), CONFIG).unwrap();
    // Port 85: the rule's codec and model.
    let o = lorafield_in(dir.path(), &["decode", "--fport", "85", AM308], "");
    assert_eq!((stdout(&o).trim(), o.status.code()), (AM308_DATA, Some(0)));
    // Another port: [default], Cayenne LPP under tts (no data on error). The dev_eui rule
    // never matches a bare payload.
    let o = lorafield_in(dir.path(), &["decode", "0367011005"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with(r#"{"errors":[{"kind":"unexpected_eof""#),
        "{}",
        stdout(&o)
    );
    // On standard input each line's fPort decides.
    let input =
        format!("{{\"fPort\":85,\"bytes\":\"{AM308}\"}}\n{{\"fPort\":3,\"bytes\":\"03670110\"}}\n");
    let o = lorafield_in(dir.path(), &["decode", "-"], &input);
    assert_eq!(
        stdout(&o),
        format!("{AM308_DATA}\n{{\"data\":{{\"temperature_3\":27.2}}}}\n")
    );
    // --codec replaces every rule; --profile alone changes it where the codec takes it.
    let o = lorafield_in(
        dir.path(),
        &[
            "decode",
            "--codec",
            "cayenne-lpp",
            "--fport",
            "85",
            "03670110",
        ],
        "",
    );
    assert_eq!(stdout(&o), "{\"data\":{\"temperature_3\":27.2}}\n");
    let o = lorafield_in(
        dir.path(),
        &["decode", "--profile", "extended", "0367011005"],
        "",
    );
    assert!(
        stdout(&o).starts_with(r#"{"data":{"temperature_3":27.2},"errors""#),
        "{}",
        stdout(&o)
    );
    // --model alone reaches the Milesight rule.
    let o = lorafield_in(
        dir.path(),
        &["decode", "--model", "em300-th", "--fport", "85", "01755c"],
        "",
    );
    assert_eq!(stdout(&o), "{\"data\":{\"battery\":92}}\n");
}

#[test]
fn config_flag_and_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.toml");
    std::fs::write(&file, CONFIG).unwrap();
    let path = file.to_str().unwrap();
    let o = lorafield(&["decode", "--config", path, "--fport", "85", AM308], "");
    assert_eq!(stdout(&o).trim(), AM308_DATA);

    // The reason, and what must be said once.
    let cases: [(&str, &str, &str); 3] = [
        (
            "[[rule]]\nfport = 85\ncodec = \"milesight\"\n",
            "rule 1: TOML parse error at line 2",
            "unknown field `fport`",
        ),
        (
            "[default]\ncodec = \"milesight\"\nmodel = \"foo\"\n",
            "[default] (line 3): unknown model \"foo\" for codec milesight (known: am103,",
            "unknown model",
        ),
        (
            "[[rule]]\nf_port = 85\ncodec = \"milesite\"\n",
            "rule 1 (line 3): unknown codec \"milesite\" (known: cayenne-lpp,",
            "unknown codec",
        ),
    ];
    for (toml, want, once) in cases {
        std::fs::write(&file, toml).unwrap();
        for command in ["decode", "redecode"] {
            let o = lorafield(&[command, "--config", path, "00"], "");
            assert_eq!(o.status.code(), Some(2), "{command} {toml}");
            let err = stderr(&o);
            assert!(
                err.starts_with(&format!("lorafield: in {path}: {want}")),
                "{command}: {err}"
            );
            assert_eq!(err.matches(once).count(), 1, "{command}: {err}");
        }
    }
    let o = lorafield(
        &["decode", "--config", "/nonexistent/lorafield.toml", "00"],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("lorafield: reading /nonexistent/lorafield.toml: "),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_dash_reads_standard_input() {
    let o = lorafield(&["decode", "-"], "03670110\n\n");
    assert_eq!(
        stdout(&o),
        "{\"data\":{\"temperature_3\":27.2}}\n{\"data\":{}}\n"
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn hex_as_people_paste_it() {
    for text in [
        "03 67 01 10",
        "03:67:01:10",
        "0x03670110",
        "0x03, 0x67, 0x01, 0x10",
    ] {
        let o = lorafield(&["decode", text], "");
        assert_eq!(
            stdout(&o),
            "{\"data\":{\"temperature_3\":27.2}}\n",
            "{text}: {}",
            stderr(&o)
        );
        let o = lorafield(&["decode"], &format!("{text}\n"));
        assert_eq!(
            stdout(&o),
            "{\"data\":{\"temperature_3\":27.2}}\n",
            "{text}"
        );
    }
    let o = lorafield(&["decode", "not a payload!"], "");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "lorafield: \"not a payload!\" is neither hex nor base64: as hex, 'n' (character 1) is not a hex digit; as base64, ' ' (character 4) is not a base64 character\n"
    );
    let o = lorafield(&["decode", "03 67 0"], "");
    assert_eq!(
        stderr(&o),
        "lorafield: \"03 67 0\" is not hex: the group \"0\" (character 7) has an odd number of hex digits (1; a byte is two)\n"
    );
}

#[test]
fn a_payload_over_242_bytes_decodes_with_a_warning() {
    // 61 temperature records of four bytes: 244 bytes.
    let hex = "03670110".repeat(61);
    let o = lorafield(&["decode", &hex], "");
    assert_eq!(o.status.code(), Some(0), "warnings do not fail the run");
    assert_eq!(
        stdout(&o),
        "{\"data\":{\"temperature_3\":27.2},\"warnings\":[{\"kind\":\"payload_too_long\",\"length\":244,\"message\":\"payload of 244 bytes is longer than the 242 a LoRaWAN uplink carries\",\"offset\":242}]}\n"
    );
    let o = lorafield(&["decode", &"03670110".repeat(60)], "");
    assert_eq!(stdout(&o), "{\"data\":{\"temperature_3\":27.2}}\n");
}

#[test]
fn model_names_ignore_case() {
    for model in ["AM308", "am308", "Am308"] {
        let o = lorafield(&["decode", "-c", "milesight", "-m", model, AM308], "");
        assert_eq!(stdout(&o).trim(), AM308_DATA, "{model}: {}", stderr(&o));
    }
    let o = lorafield(&["decode", "-c", "sodaq-tracker", "-m", "NB-IoT", "00"], "");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // In lorafield.toml too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lorafield.toml"),
        "[default]\ncodec = \"milesight\"\nmodel = \"AM308\"\n",
    )
    .unwrap();
    let o = lorafield_in(dir.path(), &["decode", AM308], "");
    assert_eq!(stdout(&o).trim(), AM308_DATA, "{}", stderr(&o));
    // Errors list the models as the codec spells them.
    let o = lorafield(&["decode", "-c", "milesight", "-m", "AM999", AM308], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with(
            "lorafield: unknown model \"AM999\" for codec milesight (known: am103, am103l,"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_model_without_its_codec_names_the_codec() {
    let o = lorafield(&["decode", "--model", "em300-th", "01755c"], "");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "lorafield: model \"em300-th\" belongs to codec milesight, which is not in use (cayenne-lpp): add --codec milesight\n"
    );
    let o = lorafield(&["decode", "--model", "LEGACY", "00"], "");
    assert!(
        stderr(&o).ends_with("belongs to codec sodaq-tracker, which is not in use (cayenne-lpp): add --codec sodaq-tracker\n"),
        "{}",
        stderr(&o)
    );
    let o = lorafield(&["decode", "--model", "am307x", "00"], "");
    assert_eq!(
        stderr(&o),
        "lorafield: option model \"am307x\" is taken by no codec in use (cayenne-lpp), and no codec has a model \"am307x\"\n"
    );
}

#[test]
fn stdin_objects_are_ts013_inputs() {
    let input = concat!(
        r#"{"fPort":3,"bytes":"03670110","recvTime":"2024-01-01T00:00:00Z","variables":{}}"#,
        "\n",
        r#"{"fport":3,"bytes":"03670110"}"#,
        "\n",
    );
    let o = lorafield(&["decode"], input);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "{\"data\":{\"temperature_3\":27.2}}");
    assert_eq!(
        lines[1],
        r#"{"errors":[{"kind":"invalid_input","line":2,"message":"line 2: unknown member \"fport\": a TS013 input has only fPort, bytes, recvTime, variables"}]}"#
    );
}

/// Runs a shell command line from the workspace root with the built binary first on PATH.
fn shell(line: &str) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_lorafield")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(root())
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn every_help_example_works_from_a_clone() {
    let help = lorafield(&["decode", "--help"], "");
    let help = stdout(&help);
    let examples: Vec<&str> = help
        .split("Examples (at the root of a clone of the repository):\n")
        .nth(1)
        .expect("the help has examples")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(examples.len() >= 5, "{help}");
    for example in examples {
        let o = shell(example);
        assert_eq!(o.status.code(), Some(0), "{example}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(!out.is_empty(), "{example}");
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v.get("data").is_some(), "{example}: {line}");
        }
    }
}

#[test]
fn the_readme_decode_examples_print_what_it_shows() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Using the CLI\n")
        .nth(1)
        .expect("the README has the section");
    let block = section
        .split("```console\n")
        .nth(1)
        .and_then(|s| s.split("\n```").next())
        .expect("the section has a console block");
    let mut checked = 0;
    let mut lines = block.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(command) = line.strip_prefix("$ ") else {
            continue;
        };
        let mut shown = String::new();
        while let Some(out) = lines.next_if(|l| !l.is_empty() && !l.starts_with("$ ")) {
            shown.push_str(out);
            shown.push('\n');
        }
        if !command.contains("lorafield decode") {
            continue;
        }
        let o = shell(command);
        assert_eq!(stdout(&o), shown, "{command}: {}", stderr(&o));
        checked += 1;
    }
    assert!(checked >= 6, "{checked}");
}
