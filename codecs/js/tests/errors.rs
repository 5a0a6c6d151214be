//! Errors, warnings and exceptions: the codec's own errors (each message kept), exceptions
//! with their message and line, results that are not results, and scripts that cannot load.
//! A result with errors has no data; warnings stay with data; the next uplink decodes as usual.

mod common;

use common::{decode_both, decode_port, device, fixtures, inline};
use lorafield_codec_js::{JsCodec, JsOptions, LoadError, Script};
use lorafield_core::dynamic::Severity;
use lorafield_core::json::JsonWriter;
use lorafield_core::{ErrorKind, FieldBuf, Uplink};

fn script_error(line: Option<u32>, message: &str) -> String {
    match line {
        Some(l) => {
            format!(r#"{{"errors":[{{"kind":"script_error","line":{l},"message":"{message}"}}]}}"#)
        }
        None => format!(r#"{{"errors":[{{"kind":"script_error","message":"{message}"}}]}}"#),
    }
}

fn invalid(message: &str) -> String {
    format!(r#"{{"errors":[{{"kind":"invalid_result","message":"{message}"}}]}}"#)
}

#[test]
fn exceptions_give_their_message_and_line() {
    let t = device("lorafield-test/thrower");
    let cases: [(u8, &[u8], String); 5] = [
        // Thrown in a helper: the line of the throw.
        (1, &[], script_error(Some(5), "Error: empty payload")),
        (
            2,
            &[],
            script_error(
                Some(15),
                "TypeError: cannot read property 'length' of undefined",
            ),
        ),
        (3, &[], script_error(None, "uncaught a plain string")),
        (
            4,
            &[7],
            script_error(Some(19), "RangeError: level 7 out of range"),
        ),
        (
            10,
            &[],
            script_error(
                Some(33),
                "ReferenceError: notDefinedAnywhere is not defined",
            ),
        ),
    ];
    for (port, bytes, want) in cases {
        assert_eq!(
            decode_both(&t, Uplink::new(port, bytes)),
            want,
            "port {port}"
        );
        // The next uplink decodes as usual.
        assert_eq!(decode_port(&t, 1, &[42]), r#"{"data":{"first":42}}"#);
    }
}

#[test]
fn results_that_are_not_results_are_invalid() {
    let t = device("lorafield-test/thrower");
    let cases = [
        (5, invalid("reading is NaN")),
        (6, invalid("reading.1 is Infinity")),
        (
            7,
            invalid("a.b.back refers back to an object that contains it (a cycle)"),
        ),
        (8, invalid("the result's data is an array, not an object")),
        (
            9,
            invalid("decodeUplink returned a string instead of an object {data, errors, warnings}"),
        ),
        (11, invalid("the result's data is undefined, not an object")),
    ];
    for (port, want) in cases {
        assert_eq!(
            decode_both(&t, Uplink::new(port, &[1])),
            want,
            "port {port}"
        );
    }
    assert_eq!(decode_port(&t, 100, &[]), r#"{"data":{"port":100}}"#);
}

#[test]
fn codec_errors_are_each_kept_and_drop_the_data() {
    let valve = device("acme/valve");
    assert_eq!(
        decode_both(&valve, Uplink::new(1, &[7, 150, 0, 0])),
        r#"{"errors":[{"kind":"codec_error","message":"unknown valve state 7"},{"kind":"codec_error","message":"battery 150 % is over 100"}]}"#
    );
    // Warnings stay with data.
    assert_eq!(
        decode_both(&valve, Uplink::new(1, &[2, 5, 0, 0])),
        r#"{"data":{"battery":5,"flow":0,"state":"fault"},"warnings":[{"kind":"codec_warning","message":"the valve reports a fault"},{"kind":"codec_warning","message":"battery at 5 %"}]}"#
    );
    // Data returned beside errors is dropped, as The Things Stack drops it; the warnings stay.
    let both = inline(
        "function decodeUplink(input) {
           return { data: { a: 1 }, errors: ['first', 'second'], warnings: ['careful'] };
         }",
    );
    assert_eq!(
        decode_both(&both, Uplink::new(1, &[])),
        r#"{"errors":[{"kind":"codec_error","message":"first"},{"kind":"codec_error","message":"second"}],"warnings":[{"kind":"codec_warning","message":"careful"}]}"#
    );
    // A lone string is one message; other values are their JSON text.
    let odd = inline(
        "function decodeUplink(input) {
           if (input.fPort === 1) return { errors: 'just one' };
           return { data: {}, warnings: [{ code: 7 }, 42] };
         }",
    );
    assert_eq!(
        decode_both(&odd, Uplink::new(1, &[])),
        r#"{"errors":[{"kind":"codec_error","message":"just one"}]}"#
    );
    assert_eq!(
        decode_both(&odd, Uplink::new(2, &[])),
        r#"{"data":{},"warnings":[{"kind":"codec_warning","message":"{\"code\":7}"},{"kind":"codec_warning","message":"42"}]}"#
    );
    // Empty lists are no errors.
    let empty = inline(
        "function decodeUplink() { return { data: { ok: true }, errors: [], warnings: [] }; }",
    );
    assert_eq!(
        decode_both(&empty, Uplink::new(1, &[])),
        r#"{"data":{"ok":true}}"#
    );
}

#[test]
fn the_stored_result_has_no_data_and_keeps_each_message() {
    let valve = device("acme/valve");
    let mut buf = FieldBuf::<64>::new();
    let d = buf.decode(&valve, Uplink::new(1, &[7, 150, 0, 0]));
    assert!(d.data.is_none());
    assert!(d.has_errors());
    assert_eq!(d.error.map(|e| e.kind), Some(ErrorKind::CodecError));
    let notes: Vec<_> = d.notes.iter().map(|n| n.resolve(d.text)).collect();
    assert_eq!(notes.len(), 2);
    assert!(notes.iter().all(|n| n.severity == Severity::Error));
    assert_eq!(notes[0].message, "unknown valve state 7");
    assert_eq!(notes[1].message, "battery 150 % is over 100");

    let t = device("lorafield-test/thrower");
    let d = buf.decode(&t, Uplink::new(4, &[9]));
    assert!(d.data.is_none());
    let note = d.notes[0].resolve(d.text);
    assert_eq!(note.kind, ErrorKind::ScriptError);
    assert_eq!(note.message, "RangeError: level 9 out of range");
    assert_eq!(note.line, Some(19));

    // The JSON writer says the same.
    let mut out = Vec::new();
    let outcome = JsonWriter::new().decode(&t, Uplink::new(4, &[9]), &mut out);
    assert!(outcome.has_errors);
    assert_eq!(outcome.data, None);
    let mut out = Vec::new();
    let outcome = JsonWriter::new().decode(&valve, Uplink::new(1, &[2, 5, 0, 0]), &mut out);
    assert!(!outcome.has_errors && outcome.has_warnings);
    let data = outcome.data.unwrap();
    assert_eq!(&out[data], br#"{"battery":5,"flow":0,"state":"fault"}"#);
}

#[test]
fn legacy_entry_points_report_exceptions_too() {
    let v2 = inline("function Decoder(bytes, port) {\n  return { x: bytes[0].toFixed(200) };\n}");
    assert_eq!(
        decode_port(&v2, 1, &[1]),
        script_error(Some(2), "RangeError: invalid number of digits")
    );
    // A TTN v2 decoder that returns no object.
    let v2 = inline("function Decoder(bytes, port) { return bytes.length; }");
    assert_eq!(
        decode_port(&v2, 1, &[1]),
        invalid("the result's data is a number, not an object")
    );
}

#[test]
fn thrown_null_and_undefined() {
    let t = inline(
        "function decodeUplink(input) {
           if (input.fPort === 1) throw null;
           if (input.fPort === 2) throw undefined;
           if (input.fPort === 3) throw 42;
           return { data: {} };
         }",
    );
    assert_eq!(decode_port(&t, 1, &[]), script_error(None, "uncaught null"));
    assert_eq!(
        decode_port(&t, 2, &[]),
        script_error(None, "uncaught a thrown undefined")
    );
    assert_eq!(decode_port(&t, 3, &[]), script_error(None, "uncaught 42"));
    assert_eq!(decode_port(&t, 4, &[]), r#"{"data":{}}"#);
}

fn load(text: &str) -> LoadError {
    JsCodec::new(Script::new("bad.js", text), JsOptions::default()).unwrap_err()
}

#[test]
fn scripts_that_cannot_load_say_why_and_where() {
    let e = load("function decodeUplink(input) {\n  var x = ;\n  return { data: {} };\n}\n");
    assert_eq!(
        e.to_string(),
        "script bad.js, line 2: SyntaxError: unexpected token in expression: ';'"
    );
    // Cut short: the error is at the end.
    let e = load("function decodeUplink(input) {\n  return { data: {}\n}\n");
    assert!(matches!(e, LoadError::Script { line: Some(4), .. }), "{e}");
    let e = load("var x = 1;\nthrow new Error('not today');\nfunction decodeUplink() {}");
    assert_eq!(e.to_string(), "script bad.js, line 2: Error: not today");
    assert!(matches!(e, LoadError::Script { line: Some(2), .. }));
    let e = load("var decode = function (input) { return { data: {} }; };");
    assert_eq!(
        e,
        LoadError::NoEntryPoint {
            script: "bad.js".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "script bad.js defines none of decodeUplink(input), Decoder(bytes, fPort), Decode(fPort, bytes, variables), encodeDownlink(input) and decodeDownlink(input)"
    );
    // An entry point that is not a function is none.
    let e = load("var decodeUplink = 42;");
    assert!(matches!(e, LoadError::NoEntryPoint { .. }));
    let e = Script::from_file(&fixtures().join("js/no-such-script.js")).unwrap_err();
    assert!(matches!(e, LoadError::Read { .. }));
    assert!(e.to_string().starts_with("cannot read script "), "{e}");
}

#[test]
fn messages_with_lone_surrogates_read_as_the_replacement_character() {
    let c = inline(
        "function decodeUplink(input) {
           if (input.fPort === 1) return { errors: ['a\\ud800b'], warnings: ['\\udc00'] };
           if (input.fPort === 2) throw new Error('x\\ud800');
           if (input.fPort === 3) throw '\\ud800';
           return { data: {}, warnings: ['\\ud800\\ud83d\\ude00'] };
         }",
    );
    assert_eq!(
        decode_both(&c, Uplink::new(1, &[])),
        "{\"errors\":[{\"kind\":\"codec_error\",\"message\":\"a\u{fffd}b\"}],\"warnings\":[{\"kind\":\"codec_warning\",\"message\":\"\u{fffd}\"}]}"
    );
    assert_eq!(
        decode_both(&c, Uplink::new(2, &[])),
        script_error(Some(3), "Error: x\u{fffd}")
    );
    assert_eq!(
        decode_both(&c, Uplink::new(3, &[])),
        script_error(None, "uncaught \u{fffd}")
    );
    assert_eq!(
        decode_both(&c, Uplink::new(4, &[])),
        "{\"data\":{},\"warnings\":[{\"kind\":\"codec_warning\",\"message\":\"\u{fffd}😀\"}]}"
    );
}
