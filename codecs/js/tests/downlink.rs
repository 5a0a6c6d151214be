//! Downlinks: `encodeDownlink` into bytes (integers 0-255, anything else an error, never
//! clamped) and a port, `decodeDownlink` into data, with the script's warnings and errors.

mod common;

use common::{device, inline};
use lorafield_codec_js::{EncodedDownlink, RoutineError};
use lorafield_core::{ErrorKind, Limit};
use serde_json::{Value, json};

fn invalid(message: &str) -> RoutineError {
    RoutineError {
        kind: ErrorKind::InvalidResult,
        message: message.into(),
    }
}

#[test]
fn encode_gives_bytes_a_port_and_warnings() {
    let valve = device("acme/valve");
    assert_eq!(
        valve.encode_downlink(&json!({"command": "open"}), None),
        Ok(EncodedDownlink {
            bytes: vec![1],
            f_port: Some(10),
            warnings: vec![]
        })
    );
    // 1500.5 L/min is 15005 = 0x3A9D tenths.
    assert_eq!(
        valve.encode_downlink(&json!({"command": "set_flow", "flow": 1500.5}), Some(3)),
        Ok(EncodedDownlink {
            bytes: vec![2, 0x3A, 0x9D],
            f_port: Some(11),
            warnings: vec!["flow above 1000 L/min".into()]
        })
    );
    // The script names no port: the caller's stays.
    let raw = |bytes: Value, port: Option<u8>| {
        valve.encode_downlink(&json!({"command": "raw", "bytes": bytes}), port)
    };
    assert_eq!(raw(json!([0, 255]), Some(9)).unwrap().f_port, Some(9));
    assert_eq!(raw(json!([0, 255]), None).unwrap().bytes, [0, 255]);
    assert_eq!(raw(json!([]), None).unwrap().bytes, Vec::<u8>::new());
}

#[test]
fn bytes_out_of_range_are_errors_never_clamped() {
    let valve = device("acme/valve");
    let raw =
        |bytes: Value| valve.encode_downlink(&json!({"command": "raw", "bytes": bytes}), None);
    for (bytes, shown) in [
        (json!([256]), "256"),
        (json!([-1]), "-1"),
        (json!([1.5]), "1.5"),
        (json!(["x"]), r#""x""#),
        (json!([null]), "null"),
        (json!([true]), "true"),
    ] {
        assert_eq!(
            raw(bytes.clone()),
            Err(invalid(&format!(
                "bytes[0] is {shown}, not an integer from 0 to 255"
            ))),
            "{bytes}"
        );
    }
    assert_eq!(
        raw(json!([1, 2, 300])),
        Err(invalid("bytes[2] is 300, not an integer from 0 to 255"))
    );
    assert_eq!(
        raw(json!("01")),
        Err(invalid(
            r#"encodeDownlink returned no bytes array: {"bytes":"01"}"#
        ))
    );
    for port in [json!(0), json!(256), json!(2.5), json!(-3)] {
        let out = valve.encode_downlink(
            &json!({"command": "raw", "bytes": [1], "fPort": port}),
            None,
        );
        assert_eq!(
            out,
            Err(invalid(&format!(
                "fPort {port} is not a port from 1 to 255"
            )))
        );
    }
}

#[test]
fn the_script_s_errors_are_codec_errors() {
    let valve = device("acme/valve");
    let e = valve
        .encode_downlink(&json!({"command": "set_flow", "flow": -1}), None)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::CodecError);
    assert_eq!(
        e.to_string(),
        "codec_error: flow must be between 0 and 6553.5 L/min"
    );
    let two = inline("function encodeDownlink() { return { errors: ['first', 'second'] }; }");
    assert_eq!(
        two.encode_downlink(&json!({}), None),
        Err(RoutineError {
            kind: ErrorKind::CodecError,
            message: "first; second".into()
        })
    );
}

#[test]
fn typed_arrays_and_lone_warnings() {
    let c = inline(
        "function encodeDownlink(input) {
           if (input.data.loop) for (;;) {}
           if (input.data.throw) throw new Error('cannot');
           return { bytes: new Uint8Array([1, 2]), warnings: 'one' };
         }",
    );
    assert_eq!(
        c.encode_downlink(&json!({}), None),
        Ok(EncodedDownlink {
            bytes: vec![1, 2],
            f_port: None,
            warnings: vec!["one".into()]
        })
    );
    assert_eq!(
        c.encode_downlink(&json!({"loop": true}), None),
        Err(RoutineError {
            kind: ErrorKind::ScriptLimit(Limit::Fuel),
            message: "the script exceeded its fuel limit".into()
        })
    );
    assert_eq!(
        c.encode_downlink(&json!({"throw": true}), None),
        Err(RoutineError {
            kind: ErrorKind::ScriptError,
            message: "Error: cannot (line 3)".into()
        })
    );
    // And after a limit, the next call runs.
    assert_eq!(c.encode_downlink(&json!({}), None).unwrap().bytes, [1, 2]);
}

#[test]
fn decode_gives_data() {
    let valve = device("acme/valve");
    let d = valve.decode_downlink(11, &[2, 0x3A, 0x9D]).unwrap();
    assert_eq!(d.data, json!({"command": "set_flow", "flow": 1500.5}));
    assert!(d.warnings.is_empty());
    assert_eq!(
        valve.decode_downlink(10, &[0]).unwrap().data,
        json!({"command": "close"})
    );
    assert_eq!(
        valve.decode_downlink(12, &[1]),
        Err(RoutineError {
            kind: ErrorKind::CodecError,
            message: "cannot decode downlink on fPort 12".into()
        })
    );
    let array = inline("function decodeDownlink() { return { data: [1] }; }");
    assert_eq!(
        array.decode_downlink(1, &[1]),
        Err(invalid("decodeDownlink returned no data object ([1])"))
    );
    let none = inline("function decodeDownlink() { return {}; }");
    assert_eq!(
        none.decode_downlink(1, &[1]),
        Err(invalid("decodeDownlink returned no data object (none)"))
    );
}

#[test]
fn encode_then_decode_round_trips() {
    let module = device("lorafield-test/module-node");
    for interval in [0, 1, 900, 65535] {
        let e = module
            .encode_downlink(&json!({ "interval": interval }), None)
            .unwrap();
        assert_eq!(e.f_port, Some(3));
        assert_eq!(e.bytes, [(interval >> 8) as u8, interval as u8]);
        let d = module.decode_downlink(3, &e.bytes).unwrap();
        assert_eq!(d.data, json!({ "interval": interval }));
    }
}

#[test]
fn scripts_without_downlinks_say_so() {
    let v1 = device("acme/th-sensor@1.9");
    let unsupported = |message: &str| RoutineError {
        kind: ErrorKind::Unsupported,
        message: message.into(),
    };
    assert_eq!(
        v1.encode_downlink(&json!({}), None),
        Err(unsupported(
            "script acme/th-sensor-v1.js has no encodeDownlink"
        ))
    );
    assert_eq!(
        v1.decode_downlink(1, &[]),
        Err(unsupported(
            "script acme/th-sensor-v1.js has no decodeDownlink"
        ))
    );
}
