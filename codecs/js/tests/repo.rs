//! The device repository: resolving devices to codecs in lorafield's own tree
//! (`fixtures/device-repo`), the errors that list the choices, and every example of the tree
//! run through its script.

mod common;

use std::collections::BTreeSet;

use common::{fixtures, repo};
use lorafield_codec_js::repo::{DeviceRef, DeviceRepo, RepoError, Routine};
use lorafield_codec_js::{JsCodec, JsOptions, Script};

fn resolve(device: &str) -> Result<(String, String, String), RepoError> {
    let d: DeviceRef = device.parse()?;
    let r = repo().resolve(&d)?;
    assert!(r.script.is_file(), "{device}: {}", r.script.display());
    assert!(
        r.script.ends_with(&r.script_name),
        "{device}: {}",
        r.script_name
    );
    Ok((r.firmware, r.codec, r.script_name))
}

fn resolved(firmware: &str, codec: &str, script: &str) -> (String, String, String) {
    (firmware.into(), codec.into(), script.into())
}

fn error(device: &str) -> (RepoError, String) {
    let e = resolve(device).expect_err(device);
    let text = e.to_string();
    (e, text)
}

#[test]
fn the_tree_opens_from_the_checkout_or_its_vendor_folder() {
    let root = fixtures().join("device-repo");
    for dir in [root.clone(), root.join("vendor")] {
        let repo = DeviceRepo::open(&dir).unwrap();
        assert_eq!(repo.vendor_dir(), root.join("vendor"));
    }
    let e = DeviceRepo::open(&fixtures().join("js")).unwrap_err();
    assert!(matches!(e, RepoError::NotARepo(_)));
    assert!(
        e.to_string()
            .ends_with("is not a checkout of the device repository (no vendor/index.yaml in it)"),
        "{e}"
    );
}

#[test]
fn vendors_devices_and_the_codecs_they_name() {
    let repo = repo();
    assert_eq!(
        repo.vendors().unwrap(),
        ["acme", "lorafield-test", "nordwind", "acme-labs"]
    );
    assert_eq!(
        repo.devices("acme").unwrap(),
        ["th-sensor", "meter", "valve", "pulse-counter", "repeater"]
    );
    let codecs: Vec<String> = repo
        .referenced_codecs("acme")
        .unwrap()
        .into_iter()
        .map(|(v, c)| format!("{v}/{c}"))
        .collect();
    assert_eq!(
        codecs,
        [
            "acme/meter-eu-codec",
            "acme/meter-us-codec",
            "acme/pulse-counter-codec",
            "acme/th-sensor-v1-codec",
            "acme/th-sensor-v2-codec",
            "acme/valve-codec",
        ]
    );
}

#[test]
fn the_latest_firmware_unless_one_is_named() {
    // 1.10 is later than 1.9: versions compare part by part, as numbers.
    let v2 = resolved("1.10", "th-sensor-v2-codec", "acme/th-sensor-v2.js");
    let v1 = resolved("1.9", "th-sensor-v1-codec", "acme/th-sensor-v1.js");
    assert_eq!(resolve("acme/th-sensor").unwrap(), v2);
    assert_eq!(resolve("acme/th-sensor@1.10").unwrap(), v2);
    assert_eq!(resolve("acme/th-sensor@1.9").unwrap(), v1);
    // Its bands agree: a band is accepted, not needed.
    assert_eq!(resolve("acme/th-sensor@1.9:US_902_928").unwrap(), v1);
    let (e, text) = error("acme/th-sensor@2.0");
    assert_eq!(
        e,
        RepoError::UnknownFirmware {
            device: "acme/th-sensor@2.0".into(),
            known: vec!["1.9".into(), "1.10".into()],
        }
    );
    assert_eq!(
        text,
        "no firmware version for acme/th-sensor@2.0 (known: 1.9, 1.10)"
    );
}

#[test]
fn a_band_is_needed_where_the_profiles_name_different_codecs() {
    let (e, text) = error("acme/meter");
    let choices = [
        "EU863-870 (meter-eu-codec)",
        "AS923 (meter-eu-codec)",
        "US902-928 (meter-us-codec)",
    ];
    assert_eq!(
        e,
        RepoError::NeedsBand {
            device: "acme/meter".into(),
            choices: choices.map(String::from).to_vec(),
        }
    );
    assert_eq!(
        text,
        "acme/meter uses different codecs per band: add :BAND (choices: EU863-870 (meter-eu-codec), AS923 (meter-eu-codec), US902-928 (meter-us-codec))"
    );
    // Either spelling of a band, in any case; the device file writes EU863-870.
    let eu = resolved("2.0", "meter-eu-codec", "acme/meter-eu.js");
    for band in ["EU_863_870", "EU863-870", "eu863-870", "AS_923"] {
        assert_eq!(
            resolve(&format!("acme/meter:{band}")).unwrap(),
            eu,
            "{band}"
        );
    }
    let us = resolved("2.0", "meter-us-codec", "acme/scripts/meter-us.js");
    assert_eq!(resolve("acme/meter@2.0:US_902_928").unwrap(), us);
    // A device file that writes EU_863_870, asked for as EU863-870.
    assert_eq!(
        resolve("nordwind/weather-station:EU863-870").unwrap(),
        resolved(
            "1.0",
            "weather-station-codec",
            "nordwind/weather-station.js"
        )
    );
    let (e, text) = error("acme/meter:CN470-510");
    assert_eq!(
        e,
        RepoError::UnknownBand {
            device: "acme/meter:CN470-510".into(),
            known: choices.map(String::from).to_vec(),
        }
    );
    assert_eq!(
        text,
        "no profile for the band of acme/meter:CN470-510 (known: EU863-870 (meter-eu-codec), AS923 (meter-eu-codec), US902-928 (meter-us-codec))"
    );
}

#[test]
fn unknown_vendors_and_models_list_the_choices() {
    let (e, text) = error("acme/th-sensr");
    assert_eq!(
        e,
        RepoError::UnknownModel {
            device: "acme/th-sensr".into(),
            known: ["th-sensor", "meter", "valve", "pulse-counter", "repeater"]
                .map(String::from)
                .to_vec(),
        }
    );
    assert_eq!(
        text,
        "no device acme/th-sensr (its vendor has: th-sensor, meter, valve, pulse-counter, repeater)"
    );
    let (e, text) = error("acm/meter");
    assert_eq!(
        e,
        RepoError::UnknownVendor {
            vendor: "acm".into(),
            close: vec!["acme".into(), "acme-labs".into()],
        }
    );
    assert_eq!(
        text,
        r#"no vendor "acm" in the device repository (did you mean acme, acme-labs?)"#
    );
    let (e, text) = error("zephyr/meter");
    assert_eq!(
        e,
        RepoError::UnknownVendor {
            vendor: "zephyr".into(),
            close: vec![],
        }
    );
    assert_eq!(
        text,
        r#"no vendor "zephyr" in the device repository (lorafield codecs --device-repo DIR lists them)"#
    );
    // Listed in the index, but without a folder.
    assert!(matches!(
        error("acme-labs/meter").0,
        RepoError::UnknownVendor { .. }
    ));
    // Ids never leave the vendor folder.
    assert!(matches!(
        error("../meter").0,
        RepoError::UnknownVendor { .. }
    ));
    assert!(matches!(error("acme/..").0, RepoError::UnknownModel { .. }));
}

#[test]
fn devices_without_a_codec_or_an_uplink_script() {
    let (e, text) = error("acme/repeater");
    assert_eq!(
        e,
        RepoError::NoCodec {
            device: "acme/repeater".into()
        }
    );
    assert_eq!(text, "acme/repeater names no payload codec");
    let (e, text) = error("nordwind/display");
    assert_eq!(
        e,
        RepoError::NoScript {
            codec: "nordwind/display-codec".into()
        }
    );
    assert_eq!(
        text,
        "codec nordwind/display-codec names no uplink decoder script"
    );
}

#[test]
fn malformed_devices_say_how_to_write_one() {
    let e = "acme".parse::<DeviceRef>().unwrap_err();
    assert_eq!(e, RepoError::BadDevice("acme".into()));
    assert_eq!(
        e.to_string(),
        r#""acme" is not a device: write BRAND/MODEL[@FIRMWARE][:BAND], for example milesight-iot/em300-th@1.15:EU_863_870"#
    );
}

/// Every example of every codec of the tree passes: the routine's output, converted as results
/// are, equals the example's output.
#[test]
fn every_example_of_the_tree_passes() {
    let repo = repo();
    let mut seen = BTreeSet::new();
    let mut routines = BTreeSet::new();
    let mut total = 0;
    for vendor in repo.vendors().unwrap() {
        if vendor == "acme-labs" {
            continue; // listed without a folder
        }
        for (v, codec) in repo.referenced_codecs(&vendor).unwrap() {
            seen.insert(format!("{v}/{codec}.yaml"));
            let examples = repo.examples(&v, &codec).unwrap();
            assert!(!examples.is_empty(), "{v}/{codec} has no examples");
            for e in examples {
                let text = std::fs::read_to_string(&e.script).unwrap();
                let script = Script::new(e.script_name.clone(), text);
                let js = JsCodec::new(script, JsOptions::default()).unwrap();
                let got = js.run_routine(e.routine, &e.input);
                assert_eq!(
                    got.as_ref().ok(),
                    Some(&e.output),
                    "{v}/{codec} {:?} {}: got {got:?}",
                    e.routine,
                    e.description
                );
                routines.insert(e.routine);
                total += 1;
            }
        }
    }
    // Every codec file of the tree is some device's, and has been run.
    let mut files = BTreeSet::new();
    for dir in std::fs::read_dir(repo.vendor_dir()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let name = f.unwrap().file_name().into_string().unwrap();
            if name.ends_with("-codec.yaml") {
                let vendor = dir.file_name().unwrap().to_str().unwrap();
                files.insert(format!("{vendor}/{name}"));
            }
        }
    }
    assert_eq!(seen, files);
    assert_eq!(files.len(), 14);
    // 57 examples, 5 of them with a normalized output too.
    assert_eq!(total, 62);
    assert_eq!(
        routines.into_iter().collect::<Vec<_>>(),
        [
            Routine::DecodeUplink,
            Routine::NormalizeUplink,
            Routine::EncodeDownlink,
            Routine::DecodeDownlink
        ]
    );
}

#[test]
fn legacy_decoders_run_as_the_things_stack_runs_them() {
    // A TTN v2 Decoder's and a ChirpStack v3 Decode's return value is the data.
    let v2 = common::device("acme/pulse-counter");
    let out = v2
        .run_routine(
            Routine::DecodeUplink,
            &serde_json::json!({"bytes": [0, 10, 1], "fPort": 1}),
        )
        .unwrap();
    assert_eq!(out.to_string(), r#"{"data":{"count":10,"interval_s":60}}"#);
    let v3 = common::device("lorafield-test/cs-node");
    let out = v3
        .run_routine(
            Routine::DecodeUplink,
            &serde_json::json!({"bytes": [0, 10], "fPort": 7, "variables": {"unit": "m"}}),
        )
        .unwrap();
    assert_eq!(
        out.to_string(),
        r#"{"data":{"level":10,"port":7,"unit":"m","variables":1}}"#
    );
    // Downlink routines they do not have are errors that name the routine.
    let e = v2
        .run_routine(Routine::EncodeDownlink, &serde_json::json!({"data": {}}))
        .unwrap_err();
    assert_eq!(e.kind.name(), "unsupported");
    assert_eq!(
        e.message,
        "script acme/pulse-counter.js has no encodeDownlink"
    );
}
