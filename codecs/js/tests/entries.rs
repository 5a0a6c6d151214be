//! Entry points and script styles: TS013 `decodeUplink` declared with `function`, `var`,
//! `let` or `const`, TTN v2 `Decoder`, ChirpStack v3 `Decode`, ES5 and modern syntax,
//! implicit globals, guarded `module.exports`, the input object (`recvTime`, `variables`) and
//! `normalizeUplink`.

mod common;

use common::{decode_both, decode_port, device, device_with, inline};
use lorafield_codec_js::{JsCodec, JsOptions, LoadError, Script};
use lorafield_core::json::JsonWriter;
use lorafield_core::{FieldBuf, Uplink};

fn with_variables(json: &str) -> JsOptions {
    JsOptions {
        variables: Some(json.into()),
        ..JsOptions::default()
    }
}

#[test]
fn es5_with_a_var_entry_point() {
    let v1 = device("acme/th-sensor@1.9");
    assert_eq!(
        decode_both(&v1, Uplink::new(1, &[0xFF, 0x9C, 0x64])),
        r#"{"data":{"humidity":50,"temperature":-10}}"#
    );
}

#[test]
fn modern_syntax_with_a_bigint_and_variables() {
    let v2 = device("acme/th-sensor");
    // -20 degC, 0 %RH, 2.5 V, button and low battery, uptime 0x499602D2 ms (a BigInt).
    let frame = [
        0xFF, 0x38, 0x00, 0x64, 0x05, 0x00, 0x00, 0x49, 0x96, 0x02, 0xD2,
    ];
    assert_eq!(
        decode_both(&v2, Uplink::new(1, &frame)),
        concat!(
            r#"{"data":{"battery":{"voltage":2.5},"flags":["button","low_battery"],"#,
            r#""humidity":0,"label":"unnamed","temperature":-20,"uptime_ms":1234567890},"#,
            r#""warnings":[{"kind":"codec_warning","message":"battery low: 2.5 V"}]}"#
        )
    );
    // The largest 48-bit uptime (a BigInt) is still a number: a double holds it exactly.
    let big = [
        0x00, 0xE7, 0x51, 0xB4, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ];
    let labelled = device_with(
        "acme/th-sensor",
        with_variables(r#"{"label":"greenhouse"}"#),
    );
    assert_eq!(
        decode_both(&labelled, Uplink::new(1, &big)),
        concat!(
            r#"{"data":{"battery":{"voltage":3.3},"flags":["tamper"],"humidity":40.5,"#,
            r#""label":"greenhouse","temperature":23.1,"uptime_ms":281474976710655}}"#
        )
    );
}

#[test]
fn entry_points_declared_with_const_and_let() {
    let eu = device("acme/meter:EU_863_870");
    assert_eq!(
        decode_both(&eu, Uplink::new(2, &[0xFF, 0xFF, 0xFF, 0xFF, 0x01])),
        r#"{"data":{"energy_kwh":4294967.295,"phase":1,"region":"EU"}}"#
    );
    let weather = device("nordwind/weather-station");
    assert!(weather.normalizes());
    assert_eq!(
        decode_port(&weather, 1, &[0x08, 0x59]),
        r#"{"errors":[{"kind":"codec_error","message":"expected 9 bytes on fPort 1, got 2"}]}"#
    );
}

#[test]
fn ttn_v2_decoder_returns_the_data() {
    let v2 = device("acme/pulse-counter");
    assert_eq!(
        decode_both(&v2, Uplink::new(1, &[0x01, 0x2C, 0x05])),
        r#"{"data":{"count":300,"interval_s":300}}"#
    );
    assert_eq!(decode_both(&v2, Uplink::new(2, &[1])), r#"{"data":{}}"#);
}

#[test]
fn chirpstack_v3_decode_gets_the_variables() {
    let v3 = device("lorafield-test/cs-node");
    assert_eq!(
        decode_both(&v3, Uplink::new(4, &[0x01, 0x02])),
        r#"{"data":{"level":258,"port":4,"unit":"cm","variables":0}}"#
    );
    let with = device_with(
        "lorafield-test/cs-node",
        with_variables(r#"{"offset":"-8","unit":"mm"}"#),
    );
    assert_eq!(
        decode_both(&with, Uplink::new(4, &[0x01, 0x02])),
        r#"{"data":{"level":250,"port":4,"unit":"mm","variables":2}}"#
    );
}

#[test]
fn decode_uplink_comes_first() {
    let both = inline(
        "function Decoder(bytes, port) { return { from: 'Decoder' }; }
         function Decode(port, bytes) { return { from: 'Decode' }; }
         function decodeUplink(input) { return { data: { from: 'decodeUplink' } }; }",
    );
    assert_eq!(
        decode_port(&both, 1, &[]),
        r#"{"data":{"from":"decodeUplink"}}"#
    );
    let legacy = inline(
        "function Decode(port, bytes) { return { from: 'Decode' }; }
         var Decoder = function (bytes, port) { return { from: 'Decoder' }; };",
    );
    assert_eq!(
        decode_port(&legacy, 1, &[]),
        r#"{"data":{"from":"Decoder"}}"#
    );
}

#[test]
fn guarded_module_exports_and_implicit_globals() {
    let m = device("lorafield-test/module-node");
    assert_eq!(
        decode_both(&m, Uplink::new(1, &[36])),
        r#"{"data":{"battery":3.6,"exports_seen":false,"module_seen":false}}"#
    );
    let g = device("lorafield-test/globals-node");
    assert_eq!(
        decode_both(&g, Uplink::new(1, &[])),
        r#"{"data":{"calls":1,"count":0,"sum":0}}"#
    );
}

#[test]
fn the_input_object() {
    let c = inline(
        "function decodeUplink(input) {
           return { data: { keys: Object.keys(input), recv: input.recvTime,
                            date: input.recvTime instanceof Date, variables: input.variables } };
         }",
    );
    assert_eq!(
        decode_port(&c, 1, &[]),
        r#"{"data":{"date":false,"keys":["bytes","fPort"]}}"#
    );
    assert_eq!(
        common::decode(&c, Uplink::new(1, &[]).received_at(1_600_000_000_000)),
        r#"{"data":{"date":true,"keys":["bytes","fPort","recvTime"],"recv":"2020-09-13T12:26:40.000Z"}}"#
    );
    let c = JsCodec::new(c.script().clone(), with_variables(r#"{"a":[1,2],"b":"x"}"#)).unwrap();
    assert_eq!(
        decode_port(&c, 1, &[]),
        r#"{"data":{"date":false,"keys":["bytes","fPort","variables"],"variables":{"a":[1,2],"b":"x"}}}"#
    );
    // The bytes are a plain array of numbers a script may change: its own copy.
    let bytes = inline(
        "function decodeUplink(input) {
           var b = input.bytes; b.push(255); b[0] = 'x';
           return { data: { array: Array.isArray(b), bytes: b } };
         }",
    );
    assert_eq!(
        decode_port(&bytes, 1, &[1, 2]),
        r#"{"data":{"array":true,"bytes":["x",2,255]}}"#
    );
}

#[test]
fn variables_that_are_not_a_json_object_are_refused() {
    let script = Script::new("v.js", "function decodeUplink() { return { data: {} }; }");
    for (text, reason) in [
        (r#"{"a":"#, "EOF while parsing a value at line 1 column 5"),
        ("[1]", "[1] is not an object"),
    ] {
        let e = JsCodec::new(script.clone(), with_variables(text)).unwrap_err();
        assert_eq!(
            e,
            LoadError::Variables {
                reason: reason.into()
            }
        );
        assert_eq!(
            e.to_string(),
            format!("the variables are not a JSON object: {reason}")
        );
    }
}

#[test]
fn normalize_uplink_gives_the_normalized_payload() {
    let w = device("nordwind/weather-station");
    let frame = [0x08, 0x59, 0x6F, 0x27, 0x94, 0x01, 0x59, 0x01, 0x0E];
    let data = r#"{"humidity":55.5,"pressure":1013.2,"temperature":21.37,"wind_direction":270,"wind_speed":3.45}"#;
    let normalized = r#"{"air":{"pressure":1013.2,"relativeHumidity":55.5,"temperature":21.37},"wind":{"direction":270,"speed":3.45}}"#;
    let mut out = b"prefix ".to_vec();
    let outcome = JsonWriter::new().decode(&w, Uplink::new(1, &frame), &mut out);
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(
        text,
        format!(r#"prefix {{"data":{data},"normalized":{normalized}}}"#)
    );
    assert!(!outcome.has_errors && !outcome.has_warnings);
    assert_eq!(&text[outcome.data.unwrap()], data);
    assert_eq!(&text[outcome.normalized.unwrap()], normalized);
    // The same through a FieldBuf.
    let mut buf = FieldBuf::<64>::new();
    let d = buf.decode(&w, Uplink::new(1, &frame));
    assert_eq!(d.normalized.unwrap().resolve(d.text), normalized);
    assert_eq!(d.get("wind_speed").and_then(|n| n.as_f64()), Some(3.45));
    // Several measurements: an array.
    assert_eq!(
        decode_both(&w, Uplink::new(3, &[0x08, 0x59, 0xFD, 0xDA])),
        r#"{"data":{"temperatures":[21.37,-5.5]},"normalized":[{"air":{"temperature":21.37}},{"air":{"temperature":-5.5}}]}"#
    );
    // Its warnings are the result's, its undefined members left out.
    assert_eq!(
        decode_both(
            &w,
            Uplink::new(1, &[0x00, 0x00, 0xDC, 0x27, 0x10, 0x00, 0x64, 0xFF, 0xFF])
        ),
        concat!(
            r#"{"data":{"humidity":110,"pressure":1000,"temperature":0,"wind_direction":null,"wind_speed":1},"#,
            r#""normalized":{"air":{"pressure":1000,"temperature":0},"wind":{"speed":1}},"#,
            r#""warnings":[{"kind":"codec_warning","message":"normalizeUplink: relative humidity 110 % is over 100 %: left out"}]}"#
        )
    );
}

#[test]
fn a_normalize_uplink_failure_is_a_warning_and_the_data_stays() {
    let w = device("nordwind/weather-station");
    // Its errors.
    assert_eq!(
        decode_both(&w, Uplink::new(2, &[3])),
        r#"{"data":{"fault":3,"fault_text":"wind sensor"},"warnings":[{"kind":"codec_warning","message":"normalizeUplink: no reading: fault 3 (wind sensor)"}]}"#
    );
    let norm = |body: &str| {
        inline(&format!(
            "function decodeUplink() {{ return {{ data: {{ a: 1 }} }}; }}
             function normalizeUplink(input) {{ {body} }}"
        ))
    };
    let warned = |message: &str| {
        format!(
            r#"{{"data":{{"a":1}},"warnings":[{{"kind":"codec_warning","message":"{message}"}}]}}"#
        )
    };
    // An exception, a result that is no object, a result that is not valid.
    assert_eq!(
        decode_both(&norm("throw new TypeError('bad');"), Uplink::new(1, &[])),
        warned("normalizeUplink: TypeError: bad")
    );
    assert_eq!(
        decode_both(&norm("return 5;"), Uplink::new(1, &[])),
        warned("normalizeUplink returned no object")
    );
    assert_eq!(
        decode_both(&norm("return { data: { x: NaN } };"), Uplink::new(1, &[])),
        warned("normalizeUplink: x is NaN")
    );
    assert_eq!(
        decode_both(
            &norm("var o = {}; o.o = o; return { data: o };"),
            Uplink::new(1, &[])
        ),
        warned("normalizeUplink: o refers back to an object that contains it (a cycle)")
    );
    // No data: nothing normalized, and nothing to say.
    assert_eq!(
        decode_both(&norm("return {};"), Uplink::new(1, &[])),
        r#"{"data":{"a":1}}"#
    );
    // It sees the decoded data.
    assert_eq!(
        decode_both(&norm("return { data: input.data };"), Uplink::new(1, &[])),
        r#"{"data":{"a":1},"normalized":{"a":1}}"#
    );
    // A limit is the call's: the uplink fails.
    assert_eq!(
        decode_port(&norm("for (;;) {}"), 1, &[]),
        r#"{"errors":[{"kind":"script_limit","limit":"fuel","message":"the script ran out of fuel (an endless loop?)"}]}"#
    );
    // It does not run when the decode has errors.
    let skipped = inline(
        "function decodeUplink() { return { data: { a: 1 }, errors: ['no'] }; }
         function normalizeUplink() { throw new Error('ran'); }",
    );
    assert_eq!(
        decode_both(&skipped, Uplink::new(1, &[])),
        r#"{"errors":[{"kind":"codec_error","message":"no"}]}"#
    );
}

#[test]
fn what_a_script_offers() {
    let valve = device("acme/valve");
    assert!(valve.decodes_uplinks());
    assert!(!valve.normalizes());
    assert_eq!(valve.downlinks(), (true, true));
    assert_eq!(valve.script().name(), "acme/valve.js");
    let v1 = device("acme/th-sensor@1.9");
    assert_eq!(v1.downlinks(), (false, false));
    assert_eq!(lorafield_core::Codec::id(&v1), "js");
    // A script with downlinks only.
    let text =
        std::fs::read_to_string(common::fixtures().join("device-repo/vendor/nordwind/display.js"))
            .unwrap();
    let display = JsCodec::new(
        Script::new("nordwind/display.js", text),
        JsOptions::default(),
    )
    .unwrap();
    assert!(!display.decodes_uplinks());
    assert_eq!(display.downlinks(), (true, true));
    assert_eq!(
        decode_both(&display, Uplink::new(1, &[])),
        r#"{"errors":[{"kind":"unsupported","message":"script nordwind/display.js has no decodeUplink(input), Decoder(bytes, fPort) or Decode(fPort, bytes, variables): it only handles downlinks"}]}"#
    );
}
