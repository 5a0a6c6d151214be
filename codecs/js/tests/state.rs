//! State a call leaves behind: globals a call creates are removed after it, top-level `var`
//! primitives it changes are restored (not `let`/`const`, not objects changed in place), and
//! `Isolation::Fresh` evaluates the script anew for each uplink.

mod common;

use common::{decode_port, device, device_with, inline, js_with};
use lorafield_codec_js::{Isolation, JsOptions};

fn state(let_: u32) -> String {
    format!(r#"{{"data":{{"global_this":1,"implicit":1,"let":{let_},"object":{let_},"var":1}}}}"#)
}

#[test]
fn a_cached_context_keeps_lexical_and_object_state_only() {
    let c = js_with("state.js", JsOptions::default());
    for n in 1..=3 {
        assert_eq!(decode_port(&c, 1, &[]), state(n), "call {n}");
    }
}

#[test]
fn a_fresh_context_keeps_nothing() {
    let o = JsOptions {
        isolation: Isolation::Fresh,
        ..JsOptions::default()
    };
    let c = js_with("state.js", o);
    for n in 1..=3 {
        assert_eq!(decode_port(&c, 1, &[]), state(1), "call {n}");
    }
}

#[test]
fn implicit_globals_are_gone_by_the_next_call() {
    let g = device("lorafield-test/globals-node");
    for _ in 0..3 {
        assert_eq!(
            decode_port(&g, 1, &[1, 2, 250]),
            r#"{"data":{"calls":1,"count":3,"sum":253}}"#
        );
    }
    let fresh = device_with(
        "lorafield-test/globals-node",
        JsOptions {
            isolation: Isolation::Fresh,
            ..JsOptions::default()
        },
    );
    assert_eq!(
        decode_port(&fresh, 1, &[7]),
        r#"{"data":{"calls":1,"count":1,"sum":7}}"#
    );
}

#[test]
fn globals_the_script_made_while_loading_stay_and_get_their_values_back() {
    // `loaded` is an implicit global made at load time: it is the script's, not the call's.
    // A call that deletes it, or makes new ones in other ways, is undone.
    let c = inline(
        "loaded = 1;
         var pointer = 0;
         function decodeUplink(input) {
           var before = { loaded: typeof loaded, pointer: pointer, seven: typeof globalThis[7],
                          defined: typeof defined };
           pointer += 5;
           if (input.fPort === 1) delete globalThis.loaded;
           if (input.fPort === 2) globalThis[7] = 'seven';
           if (input.fPort === 3) Object.defineProperty(globalThis, 'defined', { value: 1, configurable: true });
           if (input.fPort === 4) (0, eval)('var viaEval = 1');
           return { data: before };
         }",
    );
    let clean =
        r#"{"data":{"defined":"undefined","loaded":"number","pointer":0,"seven":"undefined"}}"#;
    for port in [1, 2, 3, 4] {
        assert_eq!(decode_port(&c, port, &[]), clean, "port {port}");
        assert_eq!(decode_port(&c, 9, &[]), clean, "after port {port}");
    }
    let viaeval = inline(
        "function decodeUplink(input) {
           var seen = typeof viaEval;
           (0, eval)('var viaEval = 1');
           return { data: { seen: seen } };
         }",
    );
    for _ in 0..2 {
        assert_eq!(
            decode_port(&viaeval, 1, &[]),
            r#"{"data":{"seen":"undefined"}}"#
        );
    }
}
