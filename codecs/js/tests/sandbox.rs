//! The sandbox: no module loader, no `require`, no std/os, no files, network, timers or
//! process; `console` goes to the debug log, never to the output; ES modules are refused.

mod common;

use common::{capture_logs, decode_both, decode_port, fixtures, inline, js_with};
use lorafield_codec_js::{JsCodec, JsOptions, LoadError, Script};
use lorafield_core::Uplink;

#[test]
fn nothing_of_the_host_is_reachable() {
    let c = js_with("sandbox.js", JsOptions::default());
    let names = [
        "Buffer",
        "XMLHttpRequest",
        "exports",
        "fetch",
        "global",
        "load",
        "module",
        "os",
        "performance",
        "print",
        "process",
        "require",
        "scriptArgs",
        "setInterval",
        "setTimeout",
        "std",
        "window",
    ];
    let mut want = String::from(r#"{"data":{"#);
    for name in names {
        if name == "exports" {
            want.push_str(r#""console":"function","#);
        }
        want.push_str(&format!(r#""{name}":"undefined","#));
    }
    want.pop();
    want.push_str("}}");
    assert_eq!(decode_both(&c, Uplink::new(1, &[])), want);
}

#[test]
fn the_global_object_holds_the_language_console_and_the_script_only() {
    let c = inline(
        "function decodeUplink() {
           return { data: { own: Object.getOwnPropertyNames(globalThis).sort(),
                            proto: Object.getPrototypeOf(globalThis) === Object.prototype } };
         }",
    );
    let standard = [
        "AggregateError",
        "Array",
        "ArrayBuffer",
        "AsyncDisposableStack",
        "Atomics",
        "BigInt",
        "BigInt64Array",
        "BigUint64Array",
        "Boolean",
        "DataView",
        "Date",
        "DisposableStack",
        "Error",
        "EvalError",
        "FinalizationRegistry",
        "Float16Array",
        "Float32Array",
        "Float64Array",
        "Function",
        "Infinity",
        "Int16Array",
        "Int32Array",
        "Int8Array",
        "InternalError",
        "Iterator",
        "JSON",
        "Map",
        "Math",
        "NaN",
        "Number",
        "Object",
        "Promise",
        "Proxy",
        "RangeError",
        "ReferenceError",
        "Reflect",
        "RegExp",
        "Set",
        "SharedArrayBuffer",
        "String",
        "SuppressedError",
        "Symbol",
        "SyntaxError",
        "TypeError",
        "URIError",
        "Uint16Array",
        "Uint32Array",
        "Uint8Array",
        "Uint8ClampedArray",
        "WeakMap",
        "WeakRef",
        "WeakSet",
        "console",
        "decodeURI",
        "decodeURIComponent",
        "decodeUplink",
        "encodeURI",
        "encodeURIComponent",
        "escape",
        "eval",
        "globalThis",
        "isFinite",
        "isNaN",
        "parseFloat",
        "parseInt",
        "queueMicrotask",
        "undefined",
        "unescape",
    ];
    let list: Vec<String> = standard.iter().map(|n| format!("\"{n}\"")).collect();
    assert_eq!(
        decode_port(&c, 1, &[]),
        format!(r#"{{"data":{{"own":[{}],"proto":true}}}}"#, list.join(","))
    );
}

#[test]
fn es_modules_are_refused_with_the_line_of_their_first_export() {
    let text = std::fs::read_to_string(fixtures().join("js/module.js")).unwrap();
    let e = JsCodec::new(Script::new("module.js", text), JsOptions::default()).unwrap_err();
    assert_eq!(
        e,
        LoadError::Module {
            script: "module.js".into(),
            line: 5
        }
    );
    assert_eq!(
        e.to_string(),
        "script module.js is an ES module (import/export at line 5); codecs run as classic scripts: remove the import/export statements"
    );
    let e = JsCodec::new(
        Script::new(
            "imports.js",
            "/* a codec */\n\nimport { x } from './x.js';\n",
        ),
        JsOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, LoadError::Module { line: 3, .. }), "{e}");
}

#[test]
fn dynamic_import_fails() {
    // The rejection arrives in a promise job after the call; an object kept across calls
    // carries it to the next one.
    let c = inline(
        "var seen = {};
         function decodeUplink(input) {
           if (input.fPort === 1) {
             import('./other.js').then(function () { seen.result = 'loaded'; },
                                       function (e) { seen.result = String(e); });
           }
           return { data: { result: seen.result === undefined ? null : seen.result } };
         }",
    );
    assert_eq!(decode_port(&c, 1, &[]), r#"{"data":{"result":null}}"#);
    assert_eq!(
        decode_port(&c, 2, &[]),
        r#"{"data":{"result":"ReferenceError: could not load module 'other.js'"}}"#
    );
    // Awaited, the script's result is a promise: no data.
    let awaited =
        inline("async function decodeUplink() { await import('x'); return { data: {} }; }");
    assert_eq!(
        decode_port(&awaited, 1, &[]),
        r#"{"errors":[{"kind":"invalid_result","message":"the result's data is undefined, not an object"}]}"#
    );
}

#[test]
fn console_goes_to_the_debug_log_never_to_the_output() {
    let c = inline(
        "function decodeUplink(input) {
           console.log('decoding', { port: input.fPort, bytes: input.bytes }, 2);
           console.warn('careful');
           console.error(undefined);
           return { data: { ok: true } };
         }",
    );
    let (out, logs) = capture_logs(|| decode_port(&c, 7, &[1, 2]));
    assert_eq!(out, r#"{"data":{"ok":true}}"#);
    let logs: Vec<&String> = logs
        .iter()
        .filter(|l| l.starts_with("lorafield::js:"))
        .collect();
    assert_eq!(
        logs,
        [
            r#"lorafield::js: decoding {"port":7,"bytes":[1,2]} 2 level=log"#,
            "lorafield::js: careful level=warn",
            "lorafield::js: undefined level=error",
        ]
    );
}

#[test]
fn atomics_cannot_block_the_thread() {
    let c = inline(
        "function decodeUplink() {
           var r = Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
           return { data: { r: r } };
         }",
    );
    assert_eq!(
        decode_port(&c, 1, &[]),
        r#"{"errors":[{"kind":"script_error","line":2,"message":"TypeError: cannot block in this thread"}]}"#
    );
}
