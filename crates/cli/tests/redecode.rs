//! `lorafield redecode` end to end: inputs, order, exit codes, the summary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/envelopes")
        .join(name)
}

fn run_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .current_dir(dir)
        .arg("redecode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Written from a thread of its own while the output is read: the command holds only a few
    // chunks between reading and writing, so a large input written before reading anything
    // would fill both pipes and wait for ever.
    let mut input = child.stdin.take().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            // The command may stop reading early (an error): then the pipe is closed.
            let _ = input.write_all(stdin);
        });
        child.wait_with_output().unwrap()
    })
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    // An empty directory: no lorafield.toml is picked up by accident.
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), args, stdin)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The summary line's numbers: read, decoded, changed, unchanged, failed, passed through,
/// written, to errors.
fn summary(o: &Output) -> [u64; 8] {
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    let line = err
        .lines()
        .find_map(|l| l.strip_prefix("lorafield redecode: "))
        .unwrap_or_else(|| panic!("no summary in {err}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    numbers.try_into().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[test]
fn the_sample_file_redecodes_with_a_summary_that_adds_up() {
    let o = run(&[path(&fixture("sample.jsonl"))], b"");
    assert_eq!(o.status.code(), Some(0), "every uplink decoded");
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(out.lines().count(), 11);
    let [
        read,
        decoded,
        changed,
        unchanged,
        failed,
        passed,
        written,
        errors,
    ] = summary(&o);
    assert_eq!(read, 11);
    assert_eq!(read, decoded + failed + passed);
    assert_eq!(decoded, changed + unchanged);
    assert_eq!(read, written + errors);
    assert_eq!((changed, unchanged, failed, passed), (5, 3, 0, 3));
    let o = run(&[path(&fixture("broken.jsonl"))], b"");
    assert_eq!(o.status.code(), Some(1), "some records failed");
    assert_eq!(summary(&o)[..5], [6, 1, 0, 1, 5]);
}

#[test]
fn gzip_files_and_gzip_on_stdin_read_as_the_plain_file() {
    let plain = std::fs::read(fixture("sample.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("history.jsonl.gz");
    std::fs::write(&gz, gzip(&plain)).unwrap();
    let expected = run(&[path(&fixture("sample.jsonl"))], b"").stdout;
    assert_eq!(run(&[path(&gz)], b"").stdout, expected);
    assert_eq!(run(&[], &gzip(&plain)).stdout, expected);
    assert_eq!(run(&["-"], &plain).stdout, expected);
}

#[test]
fn a_truncated_gzip_file_is_an_io_error_and_what_was_read_is_accounted_for() {
    let plain = std::fs::read(fixture("sample.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("cut.jsonl.gz");
    let whole = gzip(&plain);
    std::fs::write(&gz, &whole[..whole.len() * 2 / 3]).unwrap();
    let o = run(&[path(&gz), path(&fixture("sample.jsonl"))], b"");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    assert!(err.contains("cut.jsonl.gz: read error after line"), "{err}");
    let [read, decoded, _, _, failed, passed, written, errors] = summary(&o);
    assert_eq!(read, decoded + failed + passed);
    assert_eq!(read, written + errors);
    // The second file was read whole after the first broke off.
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count() as u64, read);
    assert!(read > 11 && read < 22, "{read}");
}

#[test]
fn a_missing_file_is_exit_2_and_the_others_are_still_read() {
    let o = run(
        &["no-such-file.jsonl", path(&fixture("page-2017.json"))],
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    assert!(err.contains("no-such-file.jsonl: "), "{err}");
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 2);
}

#[test]
fn order_is_kept_with_two_jobs() {
    // About 9 MB: many chunks, decoded two at a time.
    let sample = std::fs::read_to_string(fixture("sample.jsonl")).unwrap();
    let lines: Vec<&str> = sample.lines().collect();
    let mut input = String::new();
    for i in 0..10_000u32 {
        let line = lines[i as usize % lines.len()];
        input.push_str(&line.replacen("\"f_cnt\":", &format!("\"seq\":{i},\"f_cnt\":"), 1));
        input.push('\n');
    }
    let one = run(&["--jobs", "1"], input.as_bytes());
    let two = run(&["--jobs", "2"], input.as_bytes());
    assert_eq!(one.stdout.len(), two.stdout.len());
    assert!(
        one.stdout == two.stdout,
        "--jobs 2 wrote a different output"
    );
    let out = String::from_utf8(two.stdout.clone()).unwrap();
    assert_eq!(out.lines().count(), 10_000);
    let mut next = 0;
    for line in out.lines() {
        if let Some(at) = line.find("\"seq\":") {
            let seq: u32 = line[at + 6..].split(',').next().unwrap().parse().unwrap();
            assert!(seq >= next, "record {seq} after {next}");
            next = seq + 1;
        }
    }
    assert_eq!(summary(&one), summary(&two));
}

#[test]
fn errors_go_to_their_file_and_diff_writes_only_changes() {
    let dir = tempfile::tempdir().unwrap();
    let errors = dir.path().join("failed.jsonl");
    let out = dir.path().join("out.jsonl");
    let o = run(
        &[
            "-o",
            path(&out),
            "--errors",
            path(&errors),
            path(&fixture("sample.jsonl")),
            path(&fixture("broken.jsonl")),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 12);
    let failed = std::fs::read_to_string(&errors).unwrap();
    let failed: Vec<Value> = failed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(failed.len(), 5);
    for (e, line) in failed.iter().zip(1..) {
        let at = e["at"].as_str().unwrap();
        assert!(at.ends_with(&format!("broken.jsonl:{line}")), "{e}");
    }
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("cayenne-lpp: unknown type"), "{reason}");
    assert_eq!(
        failed[0]["record"]["end_device_ids"]["device_id"],
        "kitchen-th"
    );
    assert!(
        failed[4]["record"].is_string(),
        "a cut line is kept as text"
    );
    assert_eq!(summary(&o)[6..], [12, 5]);

    let o = run(&["--diff", path(&fixture("sample.jsonl"))], b"");
    let diffs: Vec<Value> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(diffs.len(), 5);
    for d in &diffs {
        assert_ne!(d["before"], d["after"]);
        assert!(d["id"].is_object() || d["id"].is_string());
    }
    assert_eq!(summary(&o)[6], 5);
}

#[test]
fn the_config_file_chooses_and_the_flags_override() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lorafield.toml"),
        "[[rule]]\ndevice_id = \"kitchen-*\"\ncodec = \"cayenne-lpp\"\nprofile = \"tts\"\n",
    )
    .unwrap();
    let sample = path(&fixture("sample.jsonl")).to_string();
    let profiles = |o: &Output| -> Vec<String> {
        String::from_utf8(o.stdout.clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter_map(|v| {
                let env = if v["data"].is_object() {
                    &v["data"]
                } else {
                    &v
                };
                env["lorafield"]["profile"].as_str().map(String::from)
            })
            .collect()
    };
    // lorafield.toml in the current directory is read by default.
    let o = run_in(dir.path(), &[&sample], b"");
    let p = profiles(&o);
    assert_eq!(p.iter().filter(|p| *p == "tts").count(), 2, "{p:?}");
    assert_eq!(p.iter().filter(|p| *p == "extended").count(), 6, "{p:?}");
    // --profile changes it everywhere.
    let o = run_in(dir.path(), &["--profile", "extended", &sample], b"");
    assert!(profiles(&o).iter().all(|p| p == "extended"));
    // --config points elsewhere; a bad file is exit 2 with the reason.
    std::fs::write(dir.path().join("bad.toml"), "[[rule]]\ncodec = \"nope\"\n").unwrap();
    let o = run_in(dir.path(), &["--config", "bad.toml", &sample], b"");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("bad.toml") && err.contains("nope"), "{err}");
    let o = run_in(dir.path(), &["--jobs", "0", &sample], b"");
    assert_eq!(o.status.code(), Some(2));
}

fn stderr_lines(o: &Output) -> Vec<String> {
    String::from_utf8(o.stderr.clone())
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Seven records that fail, one of each kind and some more.
const SEVEN_FAILURES: &str = concat!(
    "{}\n",
    "{\"foo\":1}\n",
    "[1]\n",
    "{\"uplink_message\":{\"f_port\":1,\"frm_payload\":\"AWcA\"}}\n",
    "{\"uplink_message\":{\"f_port\":1,\"frm_payload\":\"A*\"}}\n",
    "{\"a\":1}\n",
    "{\"b\":2}\n",
);

#[test]
fn the_first_failures_are_named_on_stderr_then_how_many_more() {
    let o = run(&["-o", "/dev/null"], SEVEN_FAILURES.as_bytes());
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_lines(&o);
    assert_eq!(err.len(), 7, "{err:#?}");
    assert!(err[0].starts_with("<stdin>:1: not an uplink envelope: it has none of uplink_message"));
    assert!(err[1].starts_with("<stdin>:2: not an uplink envelope"));
    assert!(err[2].starts_with("<stdin>:3: not a JSON object"));
    assert_eq!(
        err[3],
        "<stdin>:4: cayenne-lpp: unexpected end of payload at byte 0"
    );
    assert!(err[4].starts_with("<stdin>:5: uplink_message.frm_payload is not base64"));
    assert_eq!(err[5], "... and 2 more; --errors FILE keeps them all");
    assert!(err[6].starts_with("lorafield redecode: read 7:"));
    assert_eq!(summary(&o), [7, 0, 0, 0, 7, 0, 7, 0]);

    // With --errors, the hint names the file that holds them all.
    let dir = tempfile::tempdir().unwrap();
    let errors = dir.path().join("failed.jsonl");
    let o = run(
        &["-o", "/dev/null", "--errors", path(&errors)],
        SEVEN_FAILURES.as_bytes(),
    );
    let err = stderr_lines(&o);
    assert_eq!(err[5], format!("... and 2 more in {}", errors.display()));
    assert_eq!(std::fs::read_to_string(&errors).unwrap().lines().count(), 7);

    // Five or fewer: no hint.
    let five: String = SEVEN_FAILURES
        .lines()
        .take(5)
        .map(|l| format!("{l}\n"))
        .collect();
    let err = stderr_lines(&run(&["-o", "/dev/null"], five.as_bytes()));
    assert_eq!(err.len(), 6, "{err:#?}");
    assert!(err[5].starts_with("lorafield redecode: read 5:"));
}

#[test]
fn quiet_keeps_stderr_to_the_summary_line() {
    for args in [
        &["-q"][..],
        &["-q", "--diff"],
        &["-q", "--errors", "/dev/null"],
    ] {
        let o = run(args, SEVEN_FAILURES.as_bytes());
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(
                "lorafield redecode: read 7: decoded 0 (changed 0, unchanged 0), failed 7"
            ),
            "{err}"
        );
    }
}

#[test]
fn an_object_that_is_no_envelope_is_written_with_its_reason() {
    let o = run(&[], b"{}\n{\"foo\":1}\n");
    assert_eq!(o.status.code(), Some(1));
    let out: Vec<Value> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1]["foo"], 1, "the record as it was");
    for v in &out {
        let e = &v["lorafield"]["errors"][0];
        assert_eq!(e["kind"], "invalid_envelope");
        let message = e["message"].as_str().unwrap();
        assert!(message.starts_with("not an uplink envelope"), "{message}");
        assert!(message.contains("uplink_message") && message.contains("payload_raw"));
    }
    assert_eq!(summary(&o), [2, 0, 0, 0, 2, 0, 2, 0]);
}

#[test]
fn with_diff_failed_records_are_lines_with_their_reason() {
    let mut input = std::fs::read(fixture("sample.jsonl")).unwrap();
    input.extend_from_slice(b"{}\n[1]\n");
    let o = run(&["--diff"], &input);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<Value> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (failed, changed): (Vec<&Value>, Vec<&Value>) =
        lines.iter().partition(|l| l.get("reason").is_some());
    assert_eq!(changed.len(), 5);
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["at"], "<stdin>:12");
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("not an uplink envelope")
    );
    assert_eq!(failed[1]["at"], "<stdin>:13");
    assert!(
        failed[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("not a JSON object")
    );
    // read 13 = decoded 8 + failed 2 + passed 3; changed 5 + failed 2 = written 7 + errors 0.
    assert_eq!(summary(&o), [13, 8, 5, 3, 2, 3, 7, 0]);
    // With --errors the failures go there, not to the diff.
    let o = run(&["--diff", "--errors", "/dev/null"], &input);
    assert_eq!(
        String::from_utf8(o.stdout.clone()).unwrap().lines().count(),
        5
    );
    assert_eq!(summary(&o)[6..], [5, 2]);
}

#[test]
fn with_diff_before_is_as_compact_as_after() {
    let record = br#"{"end_device_ids":{"device_id":"d"},"uplink_message":{"f_port":3,"frm_payload":"A2cA+AQChfw=","decoded_payload": { "temperature_3" : 1, "label": "a b" }}}"#;
    let o = run(&["--diff"], record);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains(r#""before":{"temperature_3":1,"label":"a b"},"after":{"analog_in_4":-312.36,"temperature_3":24.8}"#),
        "{out}"
    );
}

#[test]
fn every_example_of_the_help_runs_from_a_checkout() {
    let help = Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .args(["redecode", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let examples: Vec<&str> = help
        .split("Examples (at the root of a clone of the repository):\n")
        .nth(1)
        .expect("the help has examples")
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("lorafield "))
        .collect();
    assert!(examples.len() >= 4, "{examples:?}");
    // A directory laid out like a checkout: its fixtures, and `lorafield` on the PATH.
    let dir = tempfile::tempdir().unwrap();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    std::os::unix::fs::symlink(
        fixtures.canonicalize().unwrap(),
        dir.path().join("fixtures"),
    )
    .unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_lorafield"));
    let paths = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.parent().unwrap().to_path_buf()];
    dirs.extend(std::env::split_paths(&paths));
    let path_var = std::env::join_paths(dirs).unwrap();
    for example in examples {
        let o = Command::new("sh")
            .args(["-c", &format!("set -e; {example}")])
            .current_dir(dir.path())
            .env("PATH", &path_var)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        // 0, or 1 where a record fails on purpose (broken.jsonl); never a missing file.
        assert!(matches!(o.status.code(), Some(0 | 1)), "{example}: {err}");
        assert!(!err.contains("No such file"), "{example}: {err}");
        if example.contains("lorafield redecode") {
            assert!(summary(&o)[0] > 0, "{example}: {err}");
        }
    }
}

#[test]
fn on_a_terminal_it_says_it_reads_standard_input() {
    // `script` runs the command on a pseudo-terminal; Ctrl-D (0x04) ends its input.
    let bin = env!("CARGO_BIN_EXE_lorafield");
    for (args, notice) in [("", true), ("-q", false)] {
        let command = format!("{bin} redecode -o /dev/null {args}");
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script (util-linux) runs the command on a terminal");
        let mut input = child.stdin.take().unwrap();
        input.write_all(b"{}\n\x04").unwrap();
        drop(input);
        // Bounded: a run that does not end is killed and fails the test.
        let mut waited = 0;
        while child.try_wait().unwrap().is_none() {
            if waited == 600 {
                child.kill().unwrap();
                panic!("redecode {args} did not end on Ctrl-D");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            waited += 1;
        }
        let o = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            text.contains("lorafield: reading records from standard input"),
            notice,
            "{args}: {text}"
        );
        assert!(
            text.contains("lorafield redecode: read 1:"),
            "{args}: {text}"
        );
    }
}
