//! Every kind of value a result holds, converted as the issue describes: numbers as
//! ECMAScript's `Number.prototype.toString` prints them, strings, booleans, null, nested
//! objects and arrays with keys sorted bytewise, `undefined` and functions left out (`null` in
//! arrays), typed arrays as arrays, dates as ISO 8601 text, BigInts as numbers when exact and
//! as text with a warning otherwise. Each expected text below was worked out by hand from
//! `fixtures/device-repo/vendor/lorafield-test/kinds.js` and the inline scripts.

mod common;

use common::{decode_both, decode_port, device, inline};
use lorafield_core::Uplink;

fn kinds(port: u8) -> String {
    decode_both(&device("lorafield-test/kinds"), Uplink::new(port, &[1, 2]))
}

#[test]
fn numbers_print_as_ecmascript_prints_them() {
    assert_eq!(
        kinds(1),
        concat!(
            r#"{"data":{"below_1e21":123456789012345680000,"e21":1e+21,"#,
            r#""fraction":0.30000000000000004,"integer":42,"max_safe":9007199254740991,"#,
            r#""max_value":1.7976931348623157e+308,"millionth":0.000001,"min_value":5e-324,"#,
            r#""negative":-7,"negative_small":-1.5e-10,"negative_zero":0,"quarter":0.25,"#,
            r#""ten_millionth":1e-7,"two_e21":2e+21,"zero":0}}"#
        )
    );
    let more = inline(
        "function decodeUplink() {
           return { data: { a: 999999999999999900000, b: 123e-20, c: -1e-7, d: 2 ** 53,
                            e: 4.35, f: 1 / 3, g: -0, h: 1e-5, i: 100, j: -1e21 } };
         }",
    );
    assert_eq!(
        decode_both(&more, Uplink::new(1, &[])),
        concat!(
            r#"{"data":{"a":999999999999999900000,"b":1.23e-18,"c":-1e-7,"d":9007199254740992,"#,
            r#""e":4.35,"f":0.3333333333333333,"g":0,"h":0.00001,"i":100,"j":-1e+21}}"#
        )
    );
}

#[test]
fn strings_are_escaped_where_json_needs_it() {
    assert_eq!(
        kinds(2),
        concat!(
            r#"{"data":{"astral":"😀","backslash":"a\\b","control":"\u0001","empty":"","#,
            r#""newline":"one\ntwo","nul":"a\u0000b","quote":"say \"hi\"","slash":"</script>","#,
            r#""tab":"\t","unicode":"Grüße ☃"}}"#
        )
    );
}

#[test]
fn booleans_null_and_what_json_leaves_out() {
    assert_eq!(
        kinds(3),
        r#"{"data":{"list":[null,null,null,true,null],"no":false,"nothing":null,"yes":true}}"#
    );
}

#[test]
fn keys_are_sorted_bytewise_at_every_level() {
    // "" < " " < "10" < "2" < "B" < "_" < "a" < "b" < "é" (0xC3 0xA9): bytes, not the
    // integer-like keys first as JavaScript orders them.
    assert_eq!(
        kinds(4),
        r#"{"data":{"":5," ":6,"10":3,"2":4,"B":0,"_":1,"a":[{"x":[],"y":1},[],{}],"b":{"a":2,"z":1},"é":2}}"#
    );
    // U+FF61 (EF BD A1) before U+1F600 (F0 9F 98 80) in UTF-8, the other way round in UTF-16;
    // keys that need escapes are escaped.
    let keys = inline(
        "function decodeUplink() {
           return { data: { '\\uff61': 1, '\\ud83d\\ude00': 2, 'a\"b': 3, 'c\\nd': 4, '\\u0007': 5 } };
         }",
    );
    assert_eq!(
        decode_both(&keys, Uplink::new(1, &[])),
        r#"{"data":{"\u0007":5,"a\"b":3,"c\nd":4,"｡":1,"😀":2}}"#
    );
}

#[test]
fn typed_arrays_dates_and_data_views() {
    assert_eq!(
        kinds(5),
        concat!(
            r#"{"data":{"before":"1969-12-31T23:59:59.999Z","big":[5],"bytes":[1,2],"#,
            r#""clamped":[255,0],"epoch":"1970-01-01T00:00:00.000Z","#,
            r#""far":"+275760-09-13T00:00:00.000Z","float32":[0.10000000149011612],"#,
            r#""floats":[0.5,0],"invalid":null,"moment":"2024-02-29T12:30:15.250Z","#,
            r#""signed":[-1,300],"view":{}}}"#
        )
    );
}

#[test]
fn bigints_are_numbers_when_exact_else_text_with_a_warning() {
    assert_eq!(
        kinds(6),
        concat!(
            r#"{"data":{"above":"9007199254740993","huge":"1000000000000000000000000000000","#,
            r#""negative":-42,"nested":{"list":[1,"1152921504606846977"]},"small":5,"#,
            r#""two_53":9007199254740992,"two_64":18446744073709552000},"warnings":["#,
            r#"{"kind":"codec_warning","message":"above is a BigInt no double holds exactly: written as text"},"#,
            r#"{"kind":"codec_warning","message":"huge is a BigInt no double holds exactly: written as text"},"#,
            r#"{"kind":"codec_warning","message":"nested.list.1 is a BigInt no double holds exactly: written as text"}]}"#
        )
    );
}

#[test]
fn objects_print_their_own_enumerable_members() {
    assert_eq!(
        kinds(7),
        concat!(
            r#"{"data":{"bare":{"x":1},"error":{},"getter":{"value":7},"hidden":{"shown":1},"#,
            r#""inherited":{},"instance":{"x":1},"keyed":{"kept":2},"map":{},"regexp":{},"set":{}}}"#
        )
    );
}

#[test]
fn arrays_holes_and_members_that_are_not_indices() {
    assert_eq!(
        kinds(8),
        r#"{"data":{"empty":[],"nested":[[1,[2,[3]]]],"sparse":[1,null,3],"squares":[0,1,4,9,16],"with_member":[1,2]}}"#
    );
    // The same array twice is no cycle.
    let shared = inline(
        "function decodeUplink() { var a = [1, 2]; return { data: { x: a, y: a, z: [a, a] } }; }",
    );
    assert_eq!(
        decode_both(&shared, Uplink::new(1, &[])),
        r#"{"data":{"x":[1,2],"y":[1,2],"z":[[1,2],[1,2]]}}"#
    );
}

#[test]
fn boxed_primitives_print_as_their_values() {
    let boxed = inline(
        "function decodeUplink() {
           return { data: { n: new Number(5), s: new String('x'), b: new Boolean(false),
                            big: Object(2n ** 70n), symbol: Object(Symbol('q')),
                            list: [Object(Symbol('q')), new Number(-0)],
                            fake_date: Object.create(Date.prototype),
                            fake_number: Object.create(Number.prototype) } };
         }",
    );
    assert_eq!(
        decode_both(&boxed, Uplink::new(1, &[])),
        r#"{"data":{"b":false,"big":1.1805916207174113e+21,"fake_date":{},"fake_number":{},"list":[null,0],"n":5,"s":"x"}}"#
    );
}

#[test]
fn results_nest_nine_levels_deep_at_most() {
    // data and 8 levels inside it pass; a 9th level inside it is invalid, in objects or arrays.
    let deep = inline(
        "function decodeUplink(input) {
           var top = {}, at = top;
           for (var i = 0; i < input.bytes[0]; i++) {
             var next = input.fPort === 1 ? {} : [];
             if (input.fPort === 1) at.n = next; else if (Array.isArray(at)) at.push(next); else at.n = next;
             at = next;
           }
           return { data: top };
         }",
    );
    assert_eq!(
        decode_both(&deep, Uplink::new(1, &[8])),
        r#"{"data":{"n":{"n":{"n":{"n":{"n":{"n":{"n":{"n":{}}}}}}}}}}"#
    );
    assert_eq!(
        decode_both(&deep, Uplink::new(1, &[9])),
        r#"{"errors":[{"kind":"invalid_result","message":"n.n.n.n.n.n.n.n.n is nested deeper than 8 levels"}]}"#
    );
    assert_eq!(
        decode_both(&deep, Uplink::new(2, &[8])),
        r#"{"data":{"n":[[[[[[[[]]]]]]]]}}"#
    );
    assert_eq!(
        decode_both(&deep, Uplink::new(2, &[9])),
        r#"{"errors":[{"kind":"invalid_result","message":"n.0.0.0.0.0.0.0.0 is nested deeper than 8 levels"}]}"#
    );
    // Far deeper than that: still an invalid result, not a host stack overflow.
    assert_eq!(
        decode_port(&deep, 1, &[200]),
        r#"{"errors":[{"kind":"invalid_result","message":"n.n.n.n.n.n.n.n.n is nested deeper than 8 levels"}]}"#
    );
}

#[test]
fn lone_surrogates_become_the_replacement_character() {
    let lone = inline(
        "function decodeUplink() {
           var o = { s: 'a\\ud800b', t: '\\udc00', pair: '\\ud83d\\ude00' };
           o['\\udbff'] = 1;
           return { data: o };
         }",
    );
    assert_eq!(
        decode_both(&lone, Uplink::new(1, &[])),
        r#"{"data":{"pair":"😀","s":"a\u{fffd}b","t":"\u{fffd}","\u{fffd}":1}}"#
            .replace("\\u{fffd}", "\u{fffd}")
    );
    // Keys that differ only in their lone surrogates read the same: the last one counts.
    let twice = inline(
        "function decodeUplink() {
           var o = {}; o['\\ud800'] = 1; o['\\udc00'] = 2; o['\\ufffd'] = 3; o.a = 0;
           return { data: o };
         }",
    );
    assert_eq!(
        decode_both(&twice, Uplink::new(1, &[])),
        "{\"data\":{\"a\":0,\"\u{fffd}\":3}}"
    );
}

#[test]
fn exceptions_while_the_result_is_read_are_the_script_s() {
    let c = inline(
        "function decodeUplink(input) {
           if (input.fPort === 1) return { data: { get x() {
             throw new Error('no'); } } };
           if (input.fPort === 2) return { data: { p: new Proxy({}, { getPrototypeOf() { throw new Error('trap'); } }) } };
           return { data: { get x() { for (;;) {} } } };
         }",
    );
    assert_eq!(
        decode_both(&c, Uplink::new(1, &[])),
        r#"{"errors":[{"kind":"script_error","line":3,"message":"reading the result: Error: no"}]}"#
    );
    assert_eq!(
        decode_both(&c, Uplink::new(2, &[])),
        r#"{"errors":[{"kind":"script_error","line":4,"message":"reading the result: Error: trap"}]}"#
    );
    assert_eq!(
        decode_port(&c, 3, &[]),
        r#"{"errors":[{"kind":"script_limit","limit":"fuel","message":"the script ran out of fuel (an endless loop?)"}]}"#
    );
}
