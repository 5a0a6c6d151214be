//! Several threads at once: each has its own engine, and every result is right, whether the
//! threads share one codec or each uplink takes another one.

mod common;

use common::{device, fixtures};
use lorafield_codec_js::{Isolation, JsCodec, JsOptions, Script};

const THREADS: usize = 4;
const UPLINKS: usize = 500;

/// A payload for the `i`-th uplink of thread `t`.
fn payload(t: usize, i: usize) -> [u8; 5] {
    let x = (t * 7919 + i * 104_729) as u32;
    let b = x.wrapping_mul(2_654_435_761).to_be_bytes();
    [b[0], b[1], b[2], b[3], (i % 256) as u8]
}

/// What `acme/th-sensor@1.9` gives for the first three bytes, worked out here.
fn th_sensor(p: &[u8]) -> String {
    let t = f64::from(i16::from_be_bytes([p[0], p[1]])) / 10.0;
    let h = f64::from(p[2]) / 2.0;
    format!(r#"{{"data":{{"humidity":{h},"temperature":{t}}}}}"#)
}

/// What `acme/meter:US902-928` gives for five bytes.
fn meter_us(p: &[u8]) -> String {
    let wh = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    format!(
        r#"{{"data":{{"energy_wh":{wh},"phase":{},"region":"US"}}}}"#,
        p[4]
    )
}

/// What `acme/pulse-counter` (TTN v2) gives on port 1.
fn pulse_counter(p: &[u8]) -> String {
    let count = u16::from_be_bytes([p[0], p[1]]);
    format!(
        r#"{{"data":{{"count":{count},"interval_s":{}}}}}"#,
        u32::from(p[2]) * 60
    )
}

/// What `lorafield-test/cs-node` (ChirpStack v3) gives on port 4 for two bytes.
fn cs_node(p: &[u8]) -> String {
    let level = u16::from_be_bytes([p[0], p[1]]);
    format!(r#"{{"data":{{"level":{level},"port":4,"unit":"cm","variables":0}}}}"#)
}

#[test]
fn four_threads_share_one_codec() {
    let codec = device("acme/th-sensor@1.9");
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let codec = &codec;
                s.spawn(move || {
                    for i in 0..UPLINKS {
                        let p = payload(t, i);
                        let out = common::decode_port(codec, 1, &p[..3]);
                        assert_eq!(out, th_sensor(&p), "thread {t}, uplink {i}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn four_threads_take_turns_over_four_codecs() {
    type Expect = fn(&[u8]) -> String;
    let codecs: Vec<(JsCodec, u8, usize, Expect)> = vec![
        (device("acme/th-sensor@1.9"), 1, 3, th_sensor),
        (device("acme/meter:US902-928"), 2, 5, meter_us),
        (device("acme/pulse-counter"), 1, 3, pulse_counter),
        (device("lorafield-test/cs-node"), 4, 2, cs_node),
    ];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let codecs = &codecs;
                s.spawn(move || {
                    for i in 0..UPLINKS {
                        let (codec, port, len, expect) = &codecs[(t + i) % codecs.len()];
                        let p = payload(t, i);
                        let out = common::decode_port(codec, *port, &p[..*len]);
                        assert_eq!(out, expect(&p), "thread {t}, uplink {i}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn threads_keep_their_own_state_and_limits() {
    // A `let` counter counts per thread (each thread has its own context), and a runaway
    // call on one thread does not disturb the others.
    let text = std::fs::read_to_string(fixtures().join("js/state.js")).unwrap();
    let state = JsCodec::new(Script::new("state.js", text), JsOptions::default()).unwrap();
    let fresh = JsCodec::new(
        state.script().clone(),
        JsOptions {
            isolation: Isolation::Fresh,
            ..JsOptions::default()
        },
    )
    .unwrap();
    let runaway = common::js_with("limits/loop.js", {
        let mut o = JsOptions::default();
        o.limits.fuel = 5;
        o
    });
    let counts = |n: u32| {
        format!(r#"{{"data":{{"global_this":1,"implicit":1,"let":{n},"object":{n},"var":1}}}}"#)
    };
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (state, fresh, runaway, counts) = (&state, &fresh, &runaway, &counts);
            s.spawn(move || {
                for n in 1..=50u32 {
                    assert_eq!(common::decode_port(state, 1, &[]), counts(n), "thread {t}");
                    assert_eq!(common::decode_port(fresh, 1, &[]), counts(1), "thread {t}");
                    if t % 2 == 0 {
                        assert!(common::decode_port(runaway, 2, &[]).contains(r#""limit":"fuel""#));
                    }
                }
            });
        }
    });
}
