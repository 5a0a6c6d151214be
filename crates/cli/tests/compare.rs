//! `lorafield compare` end to end, on a device repository of one device written here: its
//! script reads a cut record's missing bytes as 0 and scales one type differently from the
//! native Elsys codec.
#![cfg(feature = "js")]

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// A device repository with `elsys/ers`, whose codec file has one uplink example.
fn repo(dir: &Path) {
    let vendor = dir.join("vendor");
    let elsys = vendor.join("elsys");
    fs::create_dir_all(&elsys).unwrap();
    fs::write(
        vendor.join("index.yaml"),
        "vendors:\n  - id: elsys\n    name: Elsys\n",
    )
    .unwrap();
    fs::write(elsys.join("index.yaml"), "endDevices:\n  - ers\n").unwrap();
    fs::write(
        elsys.join("ers.yaml"),
        "name: ERS\nfirmwareVersions:\n  - version: '1.0'\n    profiles:\n      EU863-870:\n        \
         id: eu868\n        codec: ers-codec\n",
    )
    .unwrap();
    fs::write(
        elsys.join("ers-codec.yaml"),
        "uplinkDecoder:\n  fileName: ers.js\n  examples:\n    - description: temperature, \
         humidity, light\n      input:\n        fPort: 5\n        bytes: [0x01, 0x00, 0xe2, \
         0x02, 0x29, 0x04, 0x00, 0x27]\n      output:\n        data: {}\n",
    )
    .unwrap();
    // Temperature and humidity as the native codec reads them, but from bytes that may not be
    // there (`undefined` reads as 0 in `<<` and `|`); light divided by 10, which the native
    // codec does not do; any other type stops.
    fs::write(
        elsys.join("ers.js"),
        "function decodeUplink(input) {
           var b = input.bytes, d = {};
           for (var i = 0; i < b.length; ) {
             var t = b[i];
             if (t === 1) { var v = (b[i + 1] << 8) | b[i + 2]; if (v > 32767) v -= 65536; d.temperature = v / 10; i += 3; }
             else if (t === 2) { d.humidity = b[i + 1] | 0; i += 2; }
             else if (t === 4) { d.light = ((b[i + 1] << 8) | b[i + 2]) / 10; i += 3; }
             else break;
           }
           return { data: d };
         }",
    )
    .unwrap();
}

fn lorafield(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn differences_are_classified_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    repo(dir.path());
    let base = [
        "compare",
        "--device-repo",
        ".",
        "--device",
        "elsys/ers",
        "--count",
        "300",
    ];
    let out = lorafield(dir.path(), &[&base[..], &["--summary"]].concat());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("301 payloads (1 examples, 0 given): "),
        "{last}"
    );
    assert!(
        last.ends_with("; native elsys, script elsys/ers.js"),
        "{last}"
    );
    // The example differs by its light (data); cut records are the script reading on.
    let data = text
        .lines()
        .find(|l| l.contains("  data  (first: "))
        .unwrap();
    assert!(
        data.ends_with(
            "(first: fPort 5 0100e20229040027, example #1 temperature, humidity, light)"
        ),
        "{data}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("  native unexpected_eof  (first: ")),
        "{text}"
    );
    // Where both agree but the native codec warns (an unknown type), the summary says so.
    assert!(
        text.lines().any(|l| l
            .trim_start()
            .ends_with("of which the native codec reports unknown_type")),
        "{text}"
    );

    // Only one class shown, in full.
    let out = lorafield(
        dir.path(),
        &[&base[..], &["--only", "data", "--show", "1"]].concat(),
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("DIFF [data] fPort 5 "), "{text}");
    assert!(lines[3].starts_with("  data.light: expected "), "{text}");
    assert!(lines[4].starts_with("... and "), "{text}");
    assert!(
        text.lines().all(|l| !l.starts_with("DIFF [native")),
        "{text}"
    );

    // More payloads from a file; a bad line is named.
    fs::write(
        dir.path().join("more.jsonl"),
        "{\"fPort\":5,\"hex\":\"0229\"}\n",
    )
    .unwrap();
    let out = lorafield(
        dir.path(),
        &[&base[..], &["--payloads", "more.jsonl", "--summary"]].concat(),
    );
    assert!(
        stdout(&out)
            .lines()
            .last()
            .unwrap()
            .starts_with("302 payloads (1 examples, 1 given): ")
    );
    fs::write(
        dir.path().join("bad.jsonl"),
        "{\"fPort\":5,\"hex\":\"0229\"}\n{\"hex\":\"\"}\n",
    )
    .unwrap();
    let out = lorafield(
        dir.path(),
        &[&base[..], &["--payloads", "bad.jsonl"]].concat(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl:2: no \"fPort\""), "{err}");
}

#[test]
fn a_script_that_agrees_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    repo(dir.path());
    // The script with the light read as the native codec reads it: the example agrees.
    let js = dir.path().join("vendor/elsys/ers.js");
    let text = fs::read_to_string(&js).unwrap().replace(") / 10;", ");");
    fs::write(&js, text).unwrap();
    let out = lorafield(
        dir.path(),
        &[
            "compare",
            "--device-repo",
            ".",
            "--device",
            "elsys/ers",
            "--count",
            "0",
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        text.trim_end(),
        "1 payloads (1 examples, 0 given): 1 the same, 0 different; native elsys, script elsys/ers.js"
    );
}
