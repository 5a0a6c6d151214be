//! Scripts and the device repository end to end, through the binary, on lorafield's own tree
//! (`fixtures/device-repo`): decode with `--js` and `--device`, downlinks, `encode`, `vectors
//! --device-repo`, `codecs --device-repo`, and `redecode` choosing each record's script from
//! its `version_ids`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn repo() -> String {
    root().join("fixtures/device-repo").display().to_string()
}

/// Runs `lorafield args` in `dir` with `stdin`, without a device repository from the
/// environment.
fn lorafield_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .args(args)
        .current_dir(dir)
        .env_remove("LORAFIELD_DEVICE_REPO")
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

fn lorafield(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    lorafield_in(dir.path(), args, "")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn decode_runs_a_script_or_a_device_s_codec() {
    let script = root().join("fixtures/js/bench/lpp.js");
    let o = lorafield(&[
        "decode",
        "--js",
        script.to_str().unwrap(),
        "0367011005670110",
    ]);
    assert_eq!(
        stdout(&o),
        "{\"data\":{\"temperature_3\":27.2,\"temperature_5\":27.2}}\n"
    );
    assert_eq!(o.status.code(), Some(0));

    // The latest firmware (1.10) of the TH sensor, and its variables.
    let repo = repo();
    let th = |extra: &[&str]| {
        let mut args = vec!["decode", "--device-repo", &repo, "--device"];
        args.extend_from_slice(extra);
        lorafield(&args)
    };
    let o = th(&["acme/th-sensor", "00e751b4"]);
    assert_eq!(
        stdout(&o),
        "{\"data\":{\"battery\":{\"voltage\":3.3},\"flags\":[],\"humidity\":40.5,\"label\":\"unnamed\",\"temperature\":23.1}}\n",
        "{}",
        stderr(&o)
    );
    let o = th(&[
        "acme/th-sensor",
        "--variables",
        r#"{"label":"greenhouse"}"#,
        "00e751b4",
    ]);
    assert!(
        stdout(&o).contains("\"label\":\"greenhouse\""),
        "{}",
        stdout(&o)
    );
    // Its firmware 1.9 names another codec.
    let o = th(&["acme/th-sensor@1.9", "00e751b4"]);
    assert_ne!(stdout(&o), "", "{}", stderr(&o));
    assert!(!stdout(&o).contains("label"), "{}", stdout(&o));

    // A band is needed where the bands name different codecs; either spelling.
    let o = th(&["acme/meter", "00"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("uses different codecs per band: add :BAND"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("US902-928 (meter-us-codec)"),
        "{}",
        stderr(&o)
    );
    let eu = th(&["acme/meter:EU_863_870", "--fport", "2", "0000000a"]);
    let eu2 = th(&["acme/meter:EU863-870", "--fport", "2", "0000000a"]);
    assert_eq!(stdout(&eu), stdout(&eu2));
    // A miss lists what there is.
    let o = th(&["acme/th-sensr", "00"]);
    assert!(
        stderr(&o).contains("no device acme/th-sensr (its vendor has: "),
        "{}",
        stderr(&o)
    );
    // No repository given: the error says how to give one.
    let o = lorafield(&["decode", "--device", "acme/th-sensor", "00"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--device-repo DIR"), "{}", stderr(&o));
}

#[test]
fn script_errors_are_results_with_errors() {
    let repo = repo();
    // An exception: no data, its message and line, exit 1.
    let o = lorafield(&[
        "decode",
        "--device-repo",
        &repo,
        "--device",
        "lorafield-test/thrower",
        "--fport",
        "2",
        "00",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "{\"errors\":[{\"kind\":\"script_error\",\"line\":15,\"message\":\"TypeError: "
        ),
        "{out}"
    );
    // The codec's own errors: each kept.
    let o = lorafield(&[
        "decode",
        "--device-repo",
        &repo,
        "--device",
        "lorafield-test/thrower",
        "--fport",
        "8",
        "00",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("\"kind\":\"invalid_result\""),
        "{}",
        stdout(&o)
    );
}

#[test]
fn downlinks_encode_and_decode() {
    let repo = repo();
    let o = lorafield(&[
        "encode",
        "--device-repo",
        &repo,
        "--device",
        "acme/valve",
        r#"{"open":true}"#,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let bytes = line["bytes"].as_str().unwrap().to_string();
    let port = line["fPort"].as_u64().unwrap().to_string();
    // Decoding the downlink gives the command back.
    let o = lorafield(&[
        "decode",
        "--downlink",
        "--device-repo",
        &repo,
        "--device",
        "acme/valve",
        "--fport",
        &port,
        &bytes,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("{\"data\":{"), "{}", stdout(&o));
    // A script's bytes are checked, never clamped.
    let o = lorafield(&[
        "encode",
        "--device-repo",
        &repo,
        "--device",
        "acme/valve",
        r#"{"command":"raw","bytes":[1,256]}"#,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("not an integer from 0 to 255"),
        "{}",
        stdout(&o)
    );
    // Cayenne LPP natively, in base64.
    let o = lorafield(&["encode", "--base64", r#"{"temperature_3":24.8}"#]);
    assert_eq!(stdout(&o), "{\"bytes\":\"A2cA+A==\",\"fPort\":1}\n");
    // A codec without downlinks says so.
    let o = lorafield(&["encode", "--codec", "elsys", "{}"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("encodes no downlinks"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn vectors_and_codecs_over_the_tree() {
    let repo = repo();
    let o = lorafield(&["vectors", "--device-repo", &repo]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let last = stdout(&o).lines().last().unwrap().to_string();
    let (passed, failed) = last.split_once(" passed, ").unwrap();
    assert_eq!(failed, "0 failed");
    assert!(passed.parse::<usize>().unwrap() >= 60, "{last}");
    let o = lorafield(&["vectors", "--device-repo", &repo, "--vendor", "acme"]);
    let acme: usize = stdout(&o)
        .lines()
        .last()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(acme > 10 && acme < passed.parse().unwrap());

    let o = lorafield(&["codecs", "--device-repo", &repo]);
    let text = stdout(&o);
    assert!(
        text.contains("acme/th-sensor  script acme/th-sensor-v2-codec (firmware 1.10)"),
        "{text}"
    );
    assert!(
        text.contains("acme/meter  -- acme/meter uses different codecs per band"),
        "{text}"
    );
    assert!(
        text.contains("acme/repeater  -- acme/repeater names no payload codec"),
        "{text}"
    );
    let o = lorafield(&[
        "codecs",
        "--device-repo",
        &repo,
        "--vendor",
        "nordwind",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(json.as_array().unwrap().len() == 2, "{json}");
}

/// A TTS v3 uplink of `brand/model` carrying `hex`.
fn tts(brand: &str, model: &str, port: u8, hex: &str, cnt: u32) -> String {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD.encode(hex::decode(hex).unwrap());
    serde_json::json!({
        "end_device_ids": {"device_id": format!("{model}-1"), "dev_eui": "0004A30B001C0530",
            "application_ids": {"application_id": "app"}},
        "received_at": "2024-05-01T12:00:00.5Z",
        "uplink_message": {"f_port": port, "f_cnt": cnt, "frm_payload": payload,
            "received_at": "2024-05-01T12:00:00.4Z",
            "version_ids": {"brand_id": brand, "model_id": model, "band_id": "EU_863_870"}}
    })
    .to_string()
}

#[test]
fn redecode_picks_each_record_s_script_from_its_version_ids() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lorafield.toml"),
        format!(
            "device_repo = {:?}\n[js]\nclock = \"recv-time\"\n[[rule]]\ncodec = \"device-repo\"\n",
            repo()
        ),
    )
    .unwrap();
    let records = [
        tts("acme", "th-sensor", 1, "00e751b4", 1),
        tts(
            "nordwind",
            "weather-station",
            1,
            "08596f2794015901 0e".replace(' ', "").as_str(),
            2,
        ),
        // No such device: the rule does not match, [default] (Cayenne LPP) decodes it.
        tts("nobody", "nothing", 3, "036700f8", 3),
    ];
    let input = records.join("\n") + "\n";
    let o = lorafield_in(dir.path(), &["redecode", "-"], &input);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), 3);
    let th = &out[0];
    assert_eq!(th["uplink_message"]["decoded_payload"]["temperature"], 23.1);
    assert_eq!(th["lorafield"]["codec"], "js");
    assert_eq!(th["lorafield"]["script"], "acme/th-sensor-v2-codec");
    assert_eq!(th["lorafield"]["sha256"].as_str().unwrap().len(), 16);
    let ws = &out[1];
    assert_eq!(
        ws["uplink_message"]["decoded_payload"]["wind_direction"],
        270
    );
    // The normalized payload goes where The Things Stack keeps it, as a list.
    assert_eq!(
        ws["uplink_message"]["normalized_payload"][0]["air"]["temperature"],
        21.37
    );
    assert_eq!(out[2]["lorafield"]["codec"], "cayenne-lpp");
    assert_eq!(
        out[2]["uplink_message"]["decoded_payload"]["temperature_3"],
        24.8
    );
    // The same records decoded again give the same bytes (the clock is the receive time).
    let again = lorafield_in(dir.path(), &["redecode", "-"], &input);
    assert_eq!(stdout(&again), stdout(&o));
}
