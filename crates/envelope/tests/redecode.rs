//! Re-decoding records of every shape: what changes, what stays byte for byte, what fails.

use std::path::PathBuf;

use lorafield::{Choice, Options, Registry, Selection};
use lorafield_envelope::batch::{Counts, Settings, process_chunk};
use lorafield_envelope::{Framer, RecordId, Redecoder, Shape, Status};
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/envelopes")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn lpp() -> Selection {
    Selection::builtin_default(&Registry::builtin())
}

fn redecode(selection: &Selection, record: &str) -> (Status, Option<Shape>, String) {
    let mut r = Redecoder::new(selection);
    let mut out = Vec::new();
    let o = r.redecode(record, &mut out);
    (o.status, o.shape, String::from_utf8(out).unwrap())
}

/// The record's text with the member `"lorafield":{...}` we add (compact, the last member)
/// taken out, and the stamp parsed.
fn strip_stamp(out: &str) -> (String, Value) {
    let at = out.rfind(",\"lorafield\":").expect("a stamp");
    let rest = &out[at + ",\"lorafield\":".len()..];
    let mut de = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
    let stamp = de.next().unwrap().unwrap();
    let end = at + ",\"lorafield\":".len() + de.byte_offset();
    (format!("{}{}", &out[..at], &out[end..]), stamp)
}

/// The envelope of a record: a share's `data`, or the record.
fn envelope(v: &Value) -> &Value {
    match v.get("data") {
        Some(d) if d.is_object() => d,
        _ => v,
    }
}

fn decoded_of(env: &Value) -> Option<&Value> {
    env.pointer("/uplink_message/decoded_payload")
        .or_else(|| env.get("payload_fields"))
        .or_else(|| env.get("object"))
}

/// What decoding the envelope's payload with cayenne-lpp (extended) prints as data.
fn expected_data(env: &Value) -> Value {
    use base64::Engine as _;
    let (port, payload) = if let Some(u) = env.get("uplink_message") {
        (&u["f_port"], &u["frm_payload"])
    } else if env.get("payload_raw").is_some() {
        (&env["port"], &env["payload_raw"])
    } else {
        (&env["fPort"], &env["data"])
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.as_str().unwrap())
        .unwrap();
    let codec = Registry::builtin()
        .build("cayenne-lpp", &Options::default())
        .unwrap();
    let mut out = Vec::new();
    lorafield::decode_to_json(&*codec, port.as_u64().unwrap() as u8, &bytes, &mut out);
    let result: Value = serde_json::from_slice(&out).unwrap();
    result["data"].clone()
}

#[test]
fn every_shape_of_the_sample_file_is_read_and_written_back() {
    use Status::*;
    let expected = [
        (Unchanged, Some(Shape::TtsV3)),
        (Changed, Some(Shape::TtsV3)),
        (Changed, Some(Shape::TtsV3)),
        (PassedThrough, None),
        (PassedThrough, Some(Shape::TtsV3)),
        (Unchanged, Some(Shape::TtnV2)),
        (Changed, Some(Shape::TtnV2)),
        (Changed, Some(Shape::ChirpStackV4)),
        (Unchanged, Some(Shape::TtnV2)),
        (Changed, Some(Shape::TtsV3)),
        (PassedThrough, None),
    ];
    let text = fixture("sample.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len());
    let selection = lpp();
    for (i, (line, (status, shape))) in lines.iter().zip(expected).enumerate() {
        let (got, got_shape, out) = redecode(&selection, line);
        assert_eq!((got, got_shape), (status, shape), "line {}", i + 1);
        let before: Value = serde_json::from_str(line).unwrap();
        match status {
            PassedThrough => assert_eq!(&out, line, "line {}", i + 1),
            Unchanged | Failed => {
                // Byte for byte the record, plus the stamp.
                let (rest, stamp) = strip_stamp(&out);
                assert_eq!(&rest, line, "line {}", i + 1);
                assert_eq!(stamp["codec"], "cayenne-lpp");
                assert_eq!(stamp["profile"], "extended");
                assert_eq!(stamp["version"], env!("CARGO_PKG_VERSION"));
                assert_eq!(stamp.get("errors").is_some(), status == Failed);
            }
            Changed => {
                let after: Value = serde_json::from_str(&out).unwrap();
                let (b, a) = (envelope(&before), envelope(&after));
                assert_eq!(decoded_of(a).unwrap(), &expected_data(b), "line {}", i + 1);
                assert_ne!(decoded_of(b), decoded_of(a));
                // Nothing else changed but the decoded payload and the stamp.
                let mut a = after.clone();
                let mut b = before.clone();
                for v in [&mut a, &mut b] {
                    let env = if v["data"].is_object() {
                        &mut v["data"]
                    } else {
                        v
                    };
                    env.as_object_mut().unwrap().remove("lorafield");
                    env.as_object_mut().unwrap().remove("payload_fields");
                    env.as_object_mut().unwrap().remove("object");
                    if let Some(u) = env.get_mut("uplink_message") {
                        u.as_object_mut().unwrap().remove("decoded_payload");
                    }
                }
                assert_eq!(a, b, "line {}", i + 1);
            }
            Page => unreachable!(),
        }
    }
}

#[test]
fn a_second_run_changes_nothing() {
    let selection = lpp();
    for line in fixture("sample.jsonl").lines() {
        let (first, _, out) = redecode(&selection, line);
        let (second, _, again) = redecode(&selection, &out);
        assert_eq!(again, out);
        let expect = if first == Status::Changed {
            Status::Unchanged
        } else {
            first
        };
        assert_eq!(second, expect, "{line}");
    }
}

#[test]
fn a_missing_decoded_payload_goes_right_after_the_raw_one() {
    let selection = lpp();
    let line = fixture("sample.jsonl").lines().nth(2).unwrap().to_string();
    let (_, _, out) = redecode(&selection, &line);
    assert!(out.contains(
        r#""frm_payload":"A4gKa0z6NOkAJxA=","decoded_payload":{"gps_3":{"altitude":100,"latitude":68.2828,"longitude":-37.9671}},"rx_metadata":"#
    ));
    let (_, _, out) = redecode(&selection, fixture("sample.jsonl").lines().nth(6).unwrap());
    assert!(
        out.contains(
            r#""payload_raw":"AQIBXg==","payload_fields":{"analog_in_1":3.5},"metadata":"#
        )
    );
}

#[test]
fn both_microshare_encodings_are_shares_with_their_ids() {
    let selection = lpp();
    let text = fixture("sample.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    let mut r = Redecoder::new(&selection);
    let mut out = Vec::new();
    let o2017 = r.redecode(lines[8], &mut out);
    assert!(o2017.in_share);
    assert_eq!(o2017.id, RecordId::Share("5dbffbe746e0fb0024c1a201".into()));
    let o2020 = r.redecode(lines[9], &mut out);
    assert!(o2020.in_share);
    assert_eq!(o2020.id, RecordId::Share("63f0a1c246e0fb0029d4e512".into()));
    // The stamp sits in the share's data, with the envelope.
    for line in [lines[8], lines[9]] {
        let (_, _, out) = redecode(&selection, line);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["data"]["lorafield"]["codec"], "cayenne-lpp");
        assert!(v.get("lorafield").is_none());
    }
    // A share with only an `_id` of the 2017 form.
    let share = r#"{"_id":{"$oid":"5dbffbe746e0fb0024c1a2aa"},"recType":"x","data":{"app_id":"a","dev_id":"d","port":1,"payload_raw":"AQIBXg=="}}"#;
    assert_eq!(
        r.redecode(share, &mut out).id,
        RecordId::Share("5dbffbe746e0fb0024c1a2aa".into())
    );
}

/// Every record of `text` as the batch code sees it, named `source`.
fn batch(
    selection: &Selection,
    text: &str,
    source: &str,
    settings: Settings,
) -> (String, String, Counts) {
    let mut framer = Framer::new(text.as_bytes());
    let mut r = Redecoder::new(selection);
    let (mut out, mut errors, mut counts) = (Vec::new(), Vec::new(), Counts::default());
    while let Some(chunk) = framer.next_chunk(1000) {
        let o = process_chunk(&mut r, &chunk, source, &settings);
        out.extend(o.out);
        errors.extend(o.errors);
        counts.add(&o.counts);
    }
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(errors).unwrap(),
        counts,
    )
}

#[test]
fn a_pretty_page_gives_one_line_per_share_with_the_line_it_starts_on() {
    let text = fixture("page-2017.json");
    // Where each share starts: the lines that open an element of "objs".
    let starts: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "    {")
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(starts.len(), 2);
    let settings = Settings {
        diff: true,
        errors: false,
    };
    let (out, _, counts) = batch(&lpp(), &text, "page.json", settings);
    // The first share's payload_fields are right; the second's are not.
    assert_eq!(counts.read, 2);
    assert_eq!((counts.changed, counts.unchanged), (1, 1));
    let diff: Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(diff["at"], format!("page.json:{}", starts[1]));
    assert_eq!(diff["id"], "5dbffbe746e0fb0024c1a2ff");
    let (out, _, _) = batch(&lpp(), &text, "page.json", Settings::default());
    assert_eq!(out.lines().count(), 2);
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["recType"], "io.example.plant");
    }
}

#[test]
fn the_summary_of_the_sample_file_adds_up() {
    let (out, errors, c) = batch(&lpp(), &fixture("sample.jsonl"), "s", Settings::default());
    assert_eq!(
        c,
        Counts {
            read: 11,
            decoded: 8,
            changed: 5,
            unchanged: 3,
            failed: 0,
            passed_through: 3,
            written: 11,
            to_errors: 0,
        }
    );
    assert!(c.balanced(false));
    assert_eq!(out.lines().count(), 11);
    assert!(errors.is_empty());
    assert_eq!(
        c.to_string(),
        "read 11: decoded 8 (changed 5, unchanged 3), failed 0, passed through 3; written 11, to errors 0"
    );
    // The broken file: one record decodes, five fail, each written with its reason.
    let (out, _, c) = batch(&lpp(), &fixture("broken.jsonl"), "b", Settings::default());
    assert_eq!((c.read, c.decoded, c.failed, c.written), (6, 1, 5, 6));
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["uplink_message"]["decoded_payload"],
        serde_json::json!({"temperature_3": 24.8}),
        "a failed decode leaves the decoded payload as it was"
    );
    assert_eq!(first["lorafield"]["errors"][0]["kind"], "unknown_type");
}

const TTS: &str = r#"{"end_device_ids":{"device_id":"d1","application_ids":{"application_id":"a"}},"uplink_message":{"f_port":3,"f_cnt":5,"frm_payload":PAYLOAD,"rx_metadata":[]}}"#;

fn tts(payload: &str) -> String {
    TTS.replace("PAYLOAD", payload)
}

#[test]
fn bad_records_are_errors_with_file_and_line_and_the_run_goes_on() {
    let good = tts("\"A2cA+AQChfw=\"");
    let lines = [
        good.clone(),
        "{\"end_device_ids\":{\"device_id\":\"d1\"},\"uplink_message\":{\"f_port\":3,".into(),
        tts("\"A2cA*AQChfw=\""),
        TTS.replace(",\"frm_payload\":PAYLOAD", ""),
        tts("12"),
        TTS.replace("\"f_port\":3", "\"f_port\":\"3\"")
            .replace("PAYLOAD", "\"AQ==\""),
        TTS.replace("\"f_port\":3", "\"f_port\":300")
            .replace("PAYLOAD", "\"AQ==\""),
        "[1,2]".into(),
        "{\"some\":\"thing else\"}".into(),
        good.clone(),
        "{\"end_device_ids\":{\"device_id\":\"d1\"},\"uplink_message\":{\"f_po".into(),
    ];
    let reasons = [
        "",
        "not a JSON object: EOF while parsing",
        "uplink_message.frm_payload is not base64: '*' (character 5) is not a base64 character",
        "no uplink_message.frm_payload in this uplink (f_port 3)",
        "uplink_message.frm_payload is not a string: 12",
        "uplink_message.f_port: invalid type: string \"3\", expected u64: \"3\"",
        "f_port 300 is out of range (1-255)",
        "not a JSON object: invalid type: sequence, expected a JSON object",
        "not an uplink envelope",
        "",
        "not a JSON object: EOF while parsing",
    ];
    let text = lines.join("\n");
    let settings = Settings {
        diff: false,
        errors: true,
    };
    let (out, errors, c) = batch(&lpp(), &text, "in.jsonl", settings);
    assert_eq!(out.lines().count(), 2, "the two good records");
    assert_eq!((c.read, c.decoded, c.failed, c.to_errors), (11, 2, 9, 9));
    assert!(c.balanced(false));
    let errors: Vec<Value> = errors
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut e = errors.iter();
    for (i, reason) in reasons.iter().enumerate() {
        if reason.is_empty() {
            continue;
        }
        let err = e.next().unwrap();
        assert_eq!(err["at"], format!("in.jsonl:{}", i + 1));
        let got = err["reason"].as_str().unwrap();
        assert!(got.starts_with(reason), "line {}: {got}", i + 1);
        // The record itself: as JSON when it is a JSON object, else as text.
        match serde_json::from_str::<Value>(&lines[i]) {
            Ok(v) if v.is_object() => assert_eq!(err["record"], v),
            _ => assert_eq!(err["record"], lines[i].as_str()),
        }
    }
    // Without --errors, failed records go to the output with their errors in the stamp.
    let (out, _, c) = batch(&lpp(), &text, "in.jsonl", Settings::default());
    assert_eq!(out.lines().count(), 11);
    assert_eq!(c.written, 11);
    for (line, reason) in out.lines().zip(reasons) {
        let v: Value = serde_json::from_str(line).unwrap();
        if reason.is_empty() {
            assert!(v["lorafield"].get("errors").is_none());
            continue;
        }
        let e = &v["lorafield"]["errors"][0];
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with(reason.trim_start_matches("not a JSON object: "))
                || e["message"].as_str().unwrap().starts_with(reason),
            "{line}"
        );
    }
}

/// What redecode writes, re-decoded, is written again as it is: decoded records, records
/// stamped with their errors, and the reports of text that is not a JSON object (re-decoded as
/// the text they hold). Found by the `envelope_redecode` fuzz target: a report came back with
/// `invalid_envelope` in place of `unreadable`.
#[test]
fn what_redecode_wrote_is_written_again_as_it_is() {
    let good = tts("\"A2cA9gQChfw=\"");
    let lines = [
        good.clone(),
        "\u{2}".to_string(),
        "[1,2]".into(),
        "{\"end_device_ids\":{\"device_id\":\"d1\"},\"uplink_message\":{\"f_po".into(),
        "not json at all: \"quoted\" \\ and\ttabs".into(),
        tts("12"),
        "{\"some\":\"thing else\"}".into(),
        good,
    ];
    let (once, _, c) = batch(&lpp(), &lines.join("\n"), "in.jsonl", Settings::default());
    assert_eq!((c.read, c.written), (8, 8));
    let (twice, _, c2) = batch(&lpp(), &once, "out.jsonl", Settings::default());
    assert_eq!(twice, once);
    assert_eq!((c2.read, c2.failed), (8, c.failed));
    // Each unreadable line is reported as such both times, holding its text.
    for (line, text) in once.lines().zip(&lines).skip(1).take(4) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["lorafield"]["errors"][0]["kind"], "unreadable", "{line}");
        assert_eq!(v["unreadable"], text.as_str());
    }
    // Bytes that are not UTF-8: reported with the text made valid (U+FFFD), and that report,
    // re-decoded, is written again as it is, its reason still the first pass's; also when the
    // text made valid reads as a JSON object (a fuzz finding) or as a whole envelope.
    // An envelope with one member whose key holds a byte that is not UTF-8 (0xE9 alone).
    let mut bad_envelope = tts("\"A2cA9gQChfw=\"").into_bytes();
    bad_envelope.splice(1..1, b"\"x\xe9\":1,".iter().copied());
    let selection = lpp();
    let mut r = Redecoder::new(&selection);
    for bytes in [
        b"\xff\xfe".to_vec(),
        b"{\"tk \x8b \" : 999}".to_vec(),
        bad_envelope,
    ] {
        let mut input = bytes.clone();
        input.push(b'\n');
        let mut framer = Framer::new(&input[..]);
        let chunk = framer.next_chunk(1000).unwrap();
        let first = process_chunk(&mut r, &chunk, "in", &Settings::default()).out;
        let report = std::str::from_utf8(&first).unwrap().trim_end();
        assert!(report.contains("not UTF-8 text"), "{report}");
        let v: Value = serde_json::from_str(report).unwrap();
        assert_eq!(v["unreadable"], *String::from_utf8_lossy(&bytes));
        let mut again = Vec::new();
        let outcome = r.redecode(report, &mut again);
        assert_eq!(std::str::from_utf8(&again).unwrap(), report);
        assert!(
            outcome
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains("not UTF-8 text")
        );
    }
    // A report whose text is a JSON object after all (made by hand) is not taken for one: it
    // is an object of no known shape.
    let made = r#"{"lorafield":{"errors":[]},"unreadable":"{}"}"#;
    let (_, _, out) = redecode(&lpp(), made);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["lorafield"]["errors"][0]["kind"], "invalid_envelope",
        "{out}"
    );
}

#[test]
fn escaped_payloads_and_objects_that_end_empty_take_the_slow_path() {
    let selection = lpp();
    // `\/` in base64 (some encoders escape slashes): a TTS envelope, ChirpStack, and a share.
    let (s, _, out) = redecode(&selection, &tts(r#""BXH\/nABkA+g=""#));
    assert_eq!(s, Status::Changed);
    assert!(out.contains(r#""decoded_payload":{"accelerometer_5":{"x":-0.1,"y":0.1,"z":1}}"#));
    let cs = r#"{"deviceInfo":{"deviceName":"x"},"fPort":5,"data":"BXH\/nABkA+g=","rxInfo":[]}"#;
    let (s, _, out) = redecode(&selection, cs);
    assert_eq!(s, Status::Changed);
    assert!(out.contains(r#""data":"BXH\/nABkA+g=","object":{"accelerometer_5""#));
    let share = format!(r#"{{"id":"s1","data":{cs},"recType":"r"}}"#);
    let (s, _, out) = redecode(&selection, &share);
    assert_eq!(s, Status::Changed);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["data"]["lorafield"]["codec"], "cayenne-lpp");
    // A share whose envelope ends with an empty object: the stamp still goes into it.
    let share = format!(
        r#"{{"id":"s2","data":{},"recType":"r"}}"#,
        tts("\"AQIBXg==\"").replace("\"rx_metadata\":[]", "\"locations\":{ }")
    );
    let (s, _, out) = redecode(&selection, &share);
    assert_eq!(s, Status::Changed);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["data"]["uplink_message"]["locations"],
        serde_json::json!({})
    );
    assert_eq!(v["data"]["lorafield"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_stamp_already_there_is_replaced_and_warnings_follow_the_result() {
    let registry = Registry::builtin();
    let milesight = Selection::single(
        Choice::build(
            &registry,
            "milesight",
            &Options::default().model("em300-th"),
        )
        .unwrap(),
    );
    // em300-th: temperature (channel 3, type 0x67) then an unknown pair: a warning.
    let record = r#"{"end_device_ids":{"device_id":"m"},"uplink_message":{"f_port":85,"frm_payload":"A2cQAVV1","decoded_payload":{},"decoded_payload_warnings":["old"],"x":1},"lorafield":{"codec":"old"}}"#;
    let (s, _, out) = redecode(&milesight, record);
    assert_eq!(s, Status::Changed);
    let v: Value = serde_json::from_str(&out).unwrap();
    let warnings = &v["uplink_message"]["decoded_payload_warnings"];
    assert_eq!(warnings.as_array().unwrap().len(), 1);
    assert!(warnings[0].as_str().unwrap().contains("0x55"), "{warnings}");
    assert_eq!(v["lorafield"]["codec"], "milesight");
    assert_eq!(v["lorafield"]["model"], "em300-th");
    assert_eq!(v["lorafield"]["warnings"].as_array().unwrap().len(), 1);
    // Without warnings now, the old list goes, commas and all.
    let record = record.replace("A2cQAVV1", "A2cQAQ==");
    let (_, _, out) = redecode(&milesight, &record);
    assert!(!out.contains("decoded_payload_warnings"));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["uplink_message"]["x"], 1);
    assert_eq!(
        v["uplink_message"]["decoded_payload"],
        serde_json::json!({"temperature": 27.2})
    );
}

#[test]
fn port_zero_and_missing_ports_pass_through() {
    let selection = lpp();
    for record in [
        TTS.replace("\"f_port\":3,", "")
            .replace("PAYLOAD", "\"AQ==\""),
        TTS.replace("\"f_port\":3", "\"f_port\":0")
            .replace("PAYLOAD", "\"AQ==\""),
        r#"{"app_id":"a","dev_id":"d","payload_raw":"AQ=="}"#.into(),
    ] {
        let (s, _, out) = redecode(&selection, &record);
        assert_eq!(s, Status::PassedThrough, "{record}");
        assert_eq!(out, record);
    }
}

#[test]
fn ids_name_the_uplink_in_every_shape() {
    let selection = lpp();
    let text = fixture("sample.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    let mut r = Redecoder::new(&selection).with_ids(true);
    let mut out = Vec::new();
    let ids = |r: &mut Redecoder<'_>, line: &str, out: &mut Vec<u8>| {
        let o = r.redecode(line, out);
        let v: Value = serde_json::from_str(line).unwrap();
        (
            o.ids.map(|i| {
                (
                    i.dev_eui.map(|s| s.into_owned()),
                    i.f_cnt,
                    i.received_at.map(|s| s.into_owned()),
                    i.payload.into_owned(),
                )
            }),
            v,
        )
    };
    // TTS v3: the uplink's own received_at.
    let (got, v) = ids(&mut r, lines[0], &mut out);
    let u = &v["uplink_message"];
    assert_eq!(
        got,
        Some((
            Some("70B3D57ED005A1B2".into()),
            312,
            u["received_at"].as_str().map(String::from),
            "A2cA+AQChfw=".into()
        ))
    );
    assert_ne!(
        u["received_at"], v["received_at"],
        "the fixture tells them apart"
    );
    // TTN v2: metadata.time; a missing counter is 0.
    let (got, v) = ids(&mut r, lines[6], &mut out);
    assert_eq!(
        got,
        Some((
            Some("0004A30B001C4F2E".into()),
            0,
            v["metadata"]["time"].as_str().map(String::from),
            "AQIBXg==".into()
        ))
    );
    // ChirpStack v4: time and devEui.
    let (got, v) = ids(&mut r, lines[7], &mut out);
    assert_eq!(
        got,
        Some((
            Some("a84041000181c6b2".into()),
            77,
            v["time"].as_str().map(String::from),
            "BmUBkA==".into()
        ))
    );
    assert_eq!(r.last_choice().map(|c| c.id()), Some("cayenne-lpp"));
    // Not an uplink: no ids, no choice.
    let (got, _) = ids(&mut r, lines[3], &mut out);
    assert_eq!(got, None);
    assert!(r.last_choice().is_none());
    // Without with_ids, none.
    let mut plain = Redecoder::new(&selection);
    assert!(plain.redecode(lines[0], &mut out).ids.is_none());
}

#[test]
fn a_tts_message_other_than_an_uplink_is_named() {
    let selection = lpp();
    let ids = r#""end_device_ids":{"device_id":"d","application_ids":{"application_id":"a"}}"#;
    let mut r = Redecoder::new(&selection);
    for (member, body) in [
        ("join_accept", r#"{"session_key_id":"AQ=="}"#),
        ("downlink_queued", r#"{"f_port":1,"frm_payload":"AQ=="}"#),
        ("downlink_sent", r#"{"f_port":1,"frm_payload":"AQ=="}"#),
        ("location_solved", r#"{"service":"frequency-plan"}"#),
    ] {
        let record = format!(r#"{{{ids},"{member}":{body},"received_at":"2026-03-02T08:00:00Z"}}"#);
        let mut out = Vec::new();
        let o = r.redecode(&record, &mut out);
        assert_eq!(o.status, Status::PassedThrough, "{record}");
        assert_eq!(o.event, Some(member));
    }
    let mut out = Vec::new();
    let uplink = TTS.replace("PAYLOAD", "\"AQ==\"");
    assert_eq!(r.redecode(&uplink, &mut out).event, None);
}

#[test]
fn an_object_that_is_no_envelope_fails_with_a_stamp_saying_what_was_looked_for() {
    let selection = lpp();
    let mut r = Redecoder::new(&selection);
    for (record, written) in [
        (
            "{}",
            r#"{"lorafield":{"errors":[{"kind":"invalid_envelope","message":REASON}]}}"#,
        ),
        (
            r#"{"foo":1}"#,
            r#"{"foo":1,"lorafield":{"errors":[{"kind":"invalid_envelope","message":REASON}]}}"#,
        ),
        (
            "{\n  \"foo\": 1,\n  \"lorafield\": {\"codec\": \"x\"}\n}",
            r#"{"foo": 1,"lorafield": {"errors":[{"kind":"invalid_envelope","message":REASON}]}}"#,
        ),
    ] {
        let mut out = Vec::new();
        let o = r.redecode(record, &mut out);
        assert_eq!(o.status, Status::Failed, "{record}");
        let reason = o.reason.unwrap();
        for looked_for in [
            "uplink_message",
            "payload_raw",
            "deviceInfo",
            "data",
            "objs",
        ] {
            assert!(reason.contains(looked_for), "{reason}");
        }
        let quoted = serde_json::to_string(&reason).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            written.replace("REASON", &quoted),
            "{record}"
        );
    }
}

#[test]
fn with_diff_a_failed_record_is_a_line_with_its_reason() {
    let good = tts("\"A2cA+AQChfw=\"");
    let text = [
        good.clone(),
        "{}".into(),
        tts("\"A2cA*AQChfw=\""),
        "not json".into(),
        good,
    ]
    .join("\n");
    let diff = Settings {
        diff: true,
        errors: false,
    };
    let (out, errors, c) = batch(&lpp(), &text, "in.jsonl", diff);
    assert!(errors.is_empty());
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The two changes and the three failures, in input order.
    assert_eq!(lines.len(), 5);
    assert!(lines[0]["after"].is_object() && lines[4]["after"].is_object());
    for (line, at) in [(&lines[1], 2), (&lines[2], 3), (&lines[3], 4)] {
        assert_eq!(line["at"], format!("in.jsonl:{at}"));
        assert!(line.get("after").is_none(), "{line}");
        assert!(line["reason"].is_string(), "{line}");
    }
    assert!(
        lines[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("not an uplink envelope")
    );
    assert!(lines[2]["reason"].as_str().unwrap().contains("not base64"));
    assert_eq!(
        lines[2]["id"],
        serde_json::json!({"device_id": "d1", "f_cnt": 5})
    );
    assert!(
        lines[3]["reason"]
            .as_str()
            .unwrap()
            .starts_with("not a JSON object")
    );
    assert_eq!(lines[3]["id"], Value::Null);
    assert_eq!(
        (c.read, c.changed, c.failed, c.written, c.to_errors),
        (5, 2, 3, 5, 0)
    );
    assert!(c.balanced(true));
    // With --errors they go there instead; the accounting still adds up.
    let both = Settings {
        diff: true,
        errors: true,
    };
    let (out, errors, c) = batch(&lpp(), &text, "in.jsonl", both);
    assert_eq!(out.lines().count(), 2);
    assert_eq!(errors.lines().count(), 3);
    assert_eq!((c.written, c.to_errors), (2, 3));
    assert!(c.balanced(true));
    assert!(!Counts { written: 4, ..c }.balanced(true));
}

#[test]
fn with_diff_before_is_compact_like_after() {
    let record = r#"{"uplink_message":{"f_port":3,"frm_payload":"A2cA+AQChfw=","decoded_payload": { "temperature_3" : 1, "note": "a b\" c" }}}"#;
    let diff = Settings {
        diff: true,
        errors: false,
    };
    let (out, _, _) = batch(&lpp(), record, "in.jsonl", diff);
    assert!(
        out.contains(r#""before":{"temperature_3":1,"note":"a b\" c"},"after":{"#),
        "{out}"
    );
}

#[test]
fn a_run_names_its_first_failures_in_input_order() {
    use lorafield_envelope::batch::{FIRST_FAILURES, Input, RunOptions, run};
    let text: String = (0..12).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    let input = Input {
        name: "in.jsonl".into(),
        open: Box::new(move || Ok(Box::new(std::io::Cursor::new(text)) as Box<_>)),
        file: None,
    };
    let options = RunOptions {
        jobs: 2,
        settings: Settings::default(),
        chunk_bytes: Some(16),
    };
    let mut out = Vec::new();
    let report = run(vec![input], &lpp(), &options, &mut out, None, &mut |_| {}).unwrap();
    assert_eq!(report.counts.failed, 12);
    let at: Vec<&str> = report.failures.iter().map(|f| f.at.as_str()).collect();
    assert_eq!(
        at,
        [
            "in.jsonl:1",
            "in.jsonl:2",
            "in.jsonl:3",
            "in.jsonl:4",
            "in.jsonl:5"
        ]
    );
    assert_eq!(report.failures.len(), FIRST_FAILURES);
    assert!(
        report.failures[0]
            .to_string()
            .starts_with("in.jsonl:1: not an uplink envelope")
    );
}

/// A plain JSON Lines file is read in blocks by the decoding threads; whatever the block size
/// and the number of threads, the output, the errors output, the counts and the failures
/// named (with their lines) are exactly those of the same bytes framed on one thread.
#[test]
fn a_file_read_in_blocks_gives_what_framing_gives() {
    use lorafield_envelope::batch::{FileSource, Input, Report, RunOptions, run};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/envelopes");
    let mut text = String::new();
    for (i, name) in ["sample.jsonl", "broken.jsonl", "sample.jsonl"]
        .iter()
        .enumerate()
    {
        text.push_str(&std::fs::read_to_string(dir.join(name)).unwrap());
        // Blank lines, a CR line end, a line that is not JSON, a last line without newline.
        text.push_str(&format!("\n\n  {{\"n\":{i}}}\r\nnot json\n"));
    }
    text.push_str("{\"last\":true}");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("in.jsonl");
    std::fs::write(&path, &text).unwrap();

    let once = |file: bool, jobs: usize, chunk: usize, settings: Settings| {
        let body = text.clone();
        let input = Input {
            name: "in.jsonl".into(),
            open: Box::new(move || Ok(Box::new(std::io::Cursor::new(body)) as Box<_>)),
            file: file.then(|| FileSource {
                path: path.clone(),
                read: None,
            }),
        };
        let options = RunOptions {
            jobs,
            settings,
            chunk_bytes: Some(chunk),
        };
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        let report: Report = run(
            vec![input],
            &lpp(),
            &options,
            &mut out,
            Some(&mut errors),
            &mut |_| {},
        )
        .unwrap();
        (out, errors, report.counts, format!("{:?}", report.failures))
    };
    for settings in [
        Settings::default(),
        Settings {
            diff: true,
            errors: false,
        },
        Settings {
            diff: false,
            errors: true,
        },
    ] {
        let want = once(false, 1, 1 << 20, settings);
        assert!(want.2.failed >= 6, "{:?}", want.2);
        assert!(want.2.decoded >= 2, "{:?}", want.2);
        for jobs in [1, 2, 3] {
            for chunk in [1, 5, 64, 700, 1 << 20] {
                let got = once(true, jobs, chunk, settings);
                assert!(
                    got == want,
                    "{settings:?}, {jobs} jobs, blocks of {chunk}: {}\nagainst\n{}",
                    String::from_utf8_lossy(&got.0),
                    String::from_utf8_lossy(&want.0)
                );
            }
        }
    }
}
