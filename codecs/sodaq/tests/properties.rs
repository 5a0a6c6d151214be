//! Properties over any input and every model: decoding never panics, always yields valid JSON
//! of the right shape, and the two paths to JSON (rendering while decoding, storing first)
//! print the same text.

use lorafield_codec_sodaq::{MAX_EVENTS, Model, SodaqTracker};
use lorafield_core::json::JsonWriter;
use lorafield_core::{Decoded, ErrorKind, FieldBuf, Uplink};
use proptest::prelude::*;
use serde_json::Value;

fn result_json(d: &Decoded<'_, '_>) -> String {
    let mut out = Vec::new();
    JsonWriter::new().write_result(d, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Checks one frame; returns the parsed result.
fn check_shape(model: Model, frame: &[u8]) -> Value {
    let codec = SodaqTracker::new(model);
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let d = buf.decode(&codec, Uplink::new(1, frame));
    let text = result_json(&d);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    match d.error {
        // A length error rejects the frame whole: no data.
        Some(e) if matches!(e.kind, ErrorKind::InvalidLength { .. }) => {
            assert_eq!(e.offset, 0, "{text}");
            assert!(v.get("data").is_none(), "{text}");
        }
        Some(e) => {
            assert!(e.offset < frame.len(), "{text}");
            assert!(v.get("data").is_some_and(Value::is_object), "{text}");
        }
        None => assert!(v.get("data").is_some_and(Value::is_object), "{text}"),
    }
    assert!(v.get("warnings").is_none(), "{text}");
    // The fast path (rendering as it decodes) prints the same text.
    let mut fast = Vec::new();
    JsonWriter::with_max_events(MAX_EVENTS).decode(&codec, Uplink::new(1, frame), &mut fast);
    assert_eq!(String::from_utf8(fast).unwrap(), text);
    v
}

fn model() -> impl Strategy<Value = Model> {
    prop::sample::select(Model::ALL.to_vec())
}

/// A frame of one of the model's report lengths, any bytes.
fn report_frame(model: Model) -> impl Strategy<Value = Vec<u8>> {
    (0..=3usize).prop_flat_map(move |fixes| {
        prop::collection::vec(any::<u8>(), model.report_frame_len(fixes))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_bytes_give_valid_json(model in model(), bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        check_shape(model, &bytes);
    }

    #[test]
    fn every_report_frame_decodes_whole(
        (model, frame) in model().prop_flat_map(|m| (Just(m), report_frame(m)))
    ) {
        let v = check_shape(model, &frame);
        prop_assert!(v.get("errors").is_none());
        let data = v["data"].as_object().unwrap();
        let fixes = data.get("previous_fixes").map_or(0, |f| f.as_array().unwrap().len());
        prop_assert_eq!(model.report_frame_len(fixes), frame.len());
        let ttf = data.contains_key("time_to_fix");
        prop_assert_eq!(ttf, model != Model::Legacy || fixes == 0);
        prop_assert_eq!(data.contains_key("udp_header"), model == Model::NbIot);
        let v = data["battery_voltage"].as_f64().unwrap();
        prop_assert!((3.0..=5.55).contains(&v));
    }

    #[test]
    fn lpp_mode_frames_give_valid_json(model in model(), rest in prop::collection::vec(any::<u8>(), 17)) {
        let mut frame = vec![0x01, 0x88];
        frame.extend(rest);
        check_shape(model, &frame);
        frame[11..13].copy_from_slice(&[2, 2]);
        frame[15..17].copy_from_slice(&[3, 0x67]);
        let v = check_shape(model, &frame);
        prop_assert_eq!(v.get("errors").is_none(), model.has_lpp_mode());
    }
}
