//! Numbers print as ECMAScript's `Number.prototype.toString` prints them: lorafield's own
//! formatting against the engine's `String(n)`, on doubles of every magnitude.

use lorafield_codec_js::{JsCodec, JsOptions, Script};
use lorafield_core::Uplink;
use lorafield_core::json::JsonWriter;

/// A codec that reads 8 bytes as a double (big-endian) and returns it beside the engine's
/// text of it.
fn codec() -> JsCodec {
    let script = Script::new(
        "numbers.js",
        "function decodeUplink(input) {
           var view = new DataView(new Uint8Array(input.bytes).buffer);
           var n = view.getFloat64(0);
           return { data: { n: n, s: String(n) } };
         }",
    );
    JsCodec::new(script, JsOptions::default()).unwrap()
}

#[test]
fn every_magnitude_prints_as_the_engine_prints_it() {
    let codec = codec();
    let mut json = JsonWriter::new();
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut checked = 0;
    let mut values: Vec<f64> = vec![
        1e21,
        1e20,
        123456789012345680000.0,
        1e-6,
        1e-7,
        0.1 + 0.2,
        5e-324,
        f64::MAX,
        1.5e16,
        2.0f64.powi(53),
        2.0f64.powi(53) + 2.0,
        -1e-7,
        0.000001234,
        1234.5678e10,
    ];
    for _ in 0..20_000 {
        // xorshift64*: doubles of random bits (every exponent), and decimals of 1-4 digits
        // at random scales (the readings sensors send).
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        values.push(f64::from_bits(r));
        let digits = (r >> 8) % 10_000;
        let scale = (r % 30) as i32 - 10;
        values.push(digits as f64 / 10f64.powi(scale));
    }
    for v in values.into_iter().filter(|v| v.is_finite()) {
        out.clear();
        json.decode(&codec, Uplink::new(1, &v.to_be_bytes()), &mut out);
        let result: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let engine = result["data"]["s"].as_str().unwrap();
        // Our text of n: between `"n":` and the next member.
        let text = std::str::from_utf8(&out).unwrap();
        let ours = text
            .split_once("\"n\":")
            .and_then(|(_, rest)| rest.split_once(",\"s\":"))
            .map(|(n, _)| n)
            .unwrap();
        // -0 prints as 0, as JSON.stringify and String both print it.
        assert_eq!(ours, engine, "{v:e} ({:#x})", v.to_bits());
        checked += 1;
    }
    assert!(checked > 30_000, "{checked}");
}
