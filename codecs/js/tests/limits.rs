//! Every limit of a call (fuel, time, memory, stack, script size, output size, cached
//! contexts): a call that hits one fails that uplink only with `script_limit` and the limit's
//! name, its context is thrown away, and the next uplink decodes as usual.

mod common;

use std::time::Duration;

use common::{capture_logs, decode_both, decode_port, inline, js_with};
use lorafield_codec_js::{JsCodec, JsOptions, Limits, LoadError, Script};
use lorafield_core::{Limit, Uplink};

const FUEL: &str = r#"{"errors":[{"kind":"script_limit","limit":"fuel","message":"the script ran out of fuel (an endless loop?)"}]}"#;
const TIME: &str = r#"{"errors":[{"kind":"script_limit","limit":"time","message":"the script ran past its time limit"}]}"#;
const MEMORY: &str = r#"{"errors":[{"kind":"script_limit","limit":"memory","message":"the script ran out of memory"}]}"#;
const STACK: &str = r#"{"errors":[{"kind":"script_limit","limit":"stack","message":"the script overflowed its stack (endless recursion?)"}]}"#;
const OUTPUT: &str = r#"{"errors":[{"kind":"script_limit","limit":"output_size","message":"the result is larger than its size limit"}]}"#;

/// Options with `limits` changed by `f`; the time backstop is far away unless `f` sets it, so
/// that a slow machine never turns a fuel limit into a time limit.
fn options(f: impl FnOnce(&mut Limits)) -> JsOptions {
    let mut o = JsOptions::default();
    o.limits.time = Duration::from_secs(60);
    f(&mut o.limits);
    o
}

/// Runs `f` on a thread of its own: a new engine, with no contexts of other tests.
fn on_new_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

/// A runaway call of `script` on port 2 gives `error`, and the next uplink decodes.
fn fails_then_decodes(script: &str, options: JsOptions, error: &str) {
    let codec = js_with(script, options);
    assert_eq!(decode_port(&codec, 1, &[]), r#"{"data":{"port":1}}"#);
    for _ in 0..2 {
        assert_eq!(decode_both(&codec, Uplink::new(2, &[])), error, "{script}");
        assert_eq!(decode_port(&codec, 1, &[]), r#"{"data":{"port":1}}"#);
    }
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    fails_then_decodes("limits/loop.js", options(|l| l.fuel = 20), FUEL);
    // With the default fuel too (the default time backstop, 20 times the default fuel's work
    // on an idle machine, is kept away: a test machine busy enough can stretch any work past
    // a wall clock, which is why fuel exists).
    fails_then_decodes("limits/loop.js", options(|_| {}), FUEL);
}

#[test]
fn the_time_limit_stops_what_fuel_does_not() {
    let o = options(|l| {
        l.fuel = u64::MAX;
        // Long enough that evaluating the script again (its context is thrown away after
        // each limit) stays well inside it on a busy machine.
        l.time = Duration::from_millis(500);
    });
    fails_then_decodes("limits/loop.js", o, TIME);
}

#[test]
fn endless_allocation_runs_out_of_memory() {
    fails_then_decodes("limits/alloc.js", options(|l| l.memory = 4 << 20), MEMORY);
    fails_then_decodes("limits/alloc.js", JsOptions::default(), MEMORY);
}

#[test]
fn endless_recursion_overflows_the_stack() {
    fails_then_decodes("limits/recursion.js", JsOptions::default(), STACK);
}

#[test]
fn a_context_that_hit_a_limit_is_thrown_away() {
    // A top-level `let` keeps its value from call to call in a cached context, until a limit
    // throws the context away.
    let c = inline(
        "let calls = 0;
         function decodeUplink(input) {
           calls++;
           if (input.fPort === 2) for (;;) {}
           return { data: { calls: calls } };
         }",
    );
    assert_eq!(decode_port(&c, 1, &[]), r#"{"data":{"calls":1}}"#);
    assert_eq!(decode_port(&c, 1, &[]), r#"{"data":{"calls":2}}"#);
    assert_eq!(decode_port(&c, 2, &[]), FUEL);
    assert_eq!(decode_port(&c, 1, &[]), r#"{"data":{"calls":1}}"#);
    // An exception is no limit: the context stays.
    let t = inline(
        "let calls = 0;
         function decodeUplink(input) {
           calls++;
           if (input.fPort === 2) throw new Error('no');
           return { data: { calls: calls } };
         }",
    );
    assert_eq!(decode_port(&t, 1, &[]), r#"{"data":{"calls":1}}"#);
    assert!(decode_port(&t, 2, &[]).contains("Error: no"));
    assert_eq!(decode_port(&t, 1, &[]), r#"{"data":{"calls":3}}"#);
}

/// The iterations `limits/loop.js` logged before its fuel ran out.
fn iterations_before_the_fuel_ran_out(codec: &JsCodec) -> u64 {
    let (out, logs) = capture_logs(|| decode_port(codec, 2, &[]));
    assert_eq!(out, FUEL);
    let last = logs.last().expect("the loop logged");
    let n = last
        .strip_prefix("lorafield::js: iterations ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{last}"));
    assert_eq!(logs.len() as u64, n / 1000, "{logs:?}");
    n
}

#[test]
fn fuel_stops_a_runaway_script_after_the_same_work_every_time() {
    on_new_thread(|| {
        // Each call runs in a newly loaded context (the one before hit the limit): the same
        // script, the same work, the same stop.
        let twenty = js_with("limits/loop.js", options(|l| l.fuel = 20));
        let first = iterations_before_the_fuel_ran_out(&twenty);
        let second = iterations_before_the_fuel_ran_out(&twenty);
        let third = iterations_before_the_fuel_ran_out(&twenty);
        assert_eq!(first, second);
        assert_eq!(second, third);
        assert!(first >= 10_000, "{first}");
        // Twice the fuel, about twice the work.
        let forty = js_with("limits/loop.js", options(|l| l.fuel = 40));
        let double = iterations_before_the_fuel_ran_out(&forty);
        assert_eq!(double, iterations_before_the_fuel_ran_out(&forty));
        let ratio = double as f64 / first as f64;
        assert!((1.8..=2.2).contains(&ratio), "{first} then {double}");
    });
}

#[test]
fn a_loop_well_under_the_fuel_passes_one_far_above_fails() {
    let counted = js_with("limits/counted.js", options(|l| l.fuel = 20));
    for _ in 0..3 {
        assert_eq!(
            decode_port(&counted, 1, &[0, 0, 0x03, 0xE8]),
            r#"{"data":{"iterations":1000,"sum":499500}}"#
        );
        assert_eq!(decode_port(&counted, 1, &[0x3B, 0x9A, 0xCA, 0x00]), FUEL);
    }
}

#[test]
fn promise_jobs_run_within_the_call_s_limits() {
    let jobs = js_with("limits/jobs.js", options(|l| l.fuel = 20));
    // A job the call queued runs after it: the next call sees what it did to an object, not
    // the global it made (removed after the jobs too).
    assert_eq!(
        decode_port(&jobs, 3, &[]),
        r#"{"data":{"global_from_job":false,"jobs":0,"port":3}}"#
    );
    assert_eq!(
        decode_port(&jobs, 1, &[]),
        r#"{"data":{"global_from_job":false,"jobs":1,"port":1}}"#
    );
    // Jobs that queue themselves without end stop as out of fuel; the next uplink of this
    // script and of any other decodes.
    let other = common::device("acme/th-sensor@1.9");
    for _ in 0..2 {
        assert_eq!(decode_port(&jobs, 2, &[]), FUEL);
        assert_eq!(
            decode_port(&jobs, 1, &[]),
            r#"{"data":{"global_from_job":false,"jobs":0,"port":1}}"#
        );
        assert_eq!(decode_port(&jobs, 2, &[]), FUEL);
        assert_eq!(
            decode_port(&other, 1, &[0x00, 0xE7, 0x51]),
            r#"{"data":{"humidity":40.5,"temperature":23.1}}"#
        );
    }
}

#[test]
fn an_oversized_output_fails() {
    let small = js_with("limits/output.js", options(|l| l.output_size = 10_000));
    // 9 KiB of text, its key and quotes fit in 10,000 bytes; 10 KiB does not.
    let fits = decode_port(&small, 1, &[0, 9]);
    assert_eq!(fits.len(), r#"{"data":{"text":""}}"#.len() + 9 * 1024);
    assert_eq!(decode_port(&small, 1, &[0, 10]), OUTPUT);
    assert_eq!(decode_port(&small, 1, &[0, 9]), fits);
    // The default limit is 256 KiB.
    let default = js_with("limits/output.js", JsOptions::default());
    assert_eq!(decode_port(&default, 1, &[0, 255]).len(), 20 + 255 * 1024);
    assert_eq!(decode_port(&default, 1, &[1, 0]), OUTPUT);
    // A FieldBuf's text area (2 KiB) fills as a sink: the output limit too.
    let mut buf = lorafield_core::FieldBuf::<16>::new();
    let d = buf.decode(&default, Uplink::new(1, &[0, 3]));
    assert!(d.data.is_none());
    assert_eq!(
        d.notes[0].resolve(d.text).kind,
        lorafield_core::ErrorKind::ScriptLimit(Limit::OutputSize)
    );
}

#[test]
fn an_oversized_script_is_refused() {
    let body = "function decodeUplink(input) { return { data: {} }; }\n";
    let padding = "// padding\n".repeat(200);
    let text = format!("{padding}{body}");
    let o = options(|l| l.script_size = 2000);
    let e = JsCodec::new(Script::new("big.js", text.clone()), o.clone()).unwrap_err();
    assert_eq!(
        e,
        LoadError::TooLarge {
            script: "big.js".into(),
            size: text.len(),
            limit: 2000
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "script big.js has {} bytes, over the script_size limit of 2000 (raise it in [js] of lorafield.toml or with --js-script-size)",
            text.len()
        )
    );
    // Just under the limit it loads.
    let under = format!("//{}\n{body}", "x".repeat(2000 - body.len() - 3));
    assert_eq!(under.len(), 2000);
    assert!(JsCodec::new(Script::new("under.js", under), o).is_ok());
    // The default limit is 1 MiB.
    let huge = format!("{body}{}", " ".repeat(1 << 20));
    let e = JsCodec::new(Script::new("huge.js", huge), JsOptions::default()).unwrap_err();
    assert!(
        matches!(e, LoadError::TooLarge { limit: 1048576, .. }),
        "{e}"
    );
}

#[test]
fn a_script_that_loops_while_it_loads_is_refused() {
    let text = std::fs::read_to_string(common::fixtures().join("js/limits/load-loop.js")).unwrap();
    let e = JsCodec::new(Script::new("load-loop.js", text), options(|l| l.fuel = 20)).unwrap_err();
    assert_eq!(
        e,
        LoadError::Limit {
            script: "load-loop.js".into(),
            limit: Limit::Fuel
        }
    );
    assert_eq!(
        e.to_string(),
        "script load-loop.js exceeded its fuel limit while it was evaluated"
    );
}

#[test]
fn a_thrown_null_without_throw_null_in_the_text_is_the_memory_limit() {
    // How QuickJS reports an allocation that failed at the limit: it throws null. A script
    // whose text has no `throw null` cannot have thrown it itself (the heuristic's blind
    // spot: one that throws a variable holding null).
    let c = inline(
        "var nothing = null;
         function decodeUplink(input) {
           if (input.fPort === 2) throw nothing;
           return { data: {} };
         }",
    );
    assert_eq!(decode_port(&c, 2, &[]), MEMORY);
    assert_eq!(decode_port(&c, 1, &[]), r#"{"data":{}}"#);
    let c = inline(
        "function decodeUplink(input) {
           if (input.fPort === 2) throw (null);
           return { data: {} };
         }",
    );
    assert_eq!(
        decode_port(&c, 2, &[]),
        r#"{"errors":[{"kind":"script_error","message":"uncaught null"}]}"#
    );
}

#[test]
fn limits_count_per_thread_of_cached_contexts_and_drop_the_least_recently_used() {
    on_new_thread(|| {
        let o = options(|l| l.contexts = 2);
        let counter = |name: &str| {
            let text = format!(
                "let calls = 0; // {name}
                 function decodeUplink() {{ calls++; return {{ data: {{ calls: calls }} }}; }}"
            );
            JsCodec::new(Script::new(name, text), o.clone()).unwrap()
        };
        // Made, so loaded and cached: a, then b.
        let (a, b) = (counter("a.js"), counter("b.js"));
        let calls = |c: &JsCodec| decode_port(c, 1, &[]);
        assert_eq!(calls(&a), r#"{"data":{"calls":1}}"#);
        assert_eq!(calls(&b), r#"{"data":{"calls":1}}"#);
        assert_eq!(calls(&a), r#"{"data":{"calls":2}}"#);
        // A third script: b, the least recently used, is dropped.
        let c = counter("c.js");
        assert_eq!(calls(&c), r#"{"data":{"calls":1}}"#);
        assert_eq!(calls(&a), r#"{"data":{"calls":3}}"#);
        // b is evaluated anew (and drops c).
        assert_eq!(calls(&b), r#"{"data":{"calls":1}}"#);
        assert_eq!(calls(&c), r#"{"data":{"calls":1}}"#);
        // c dropped a.
        assert_eq!(calls(&a), r#"{"data":{"calls":1}}"#);
    });
}

/// Calls `f` after using about `kib` KiB of this thread's stack.
fn deep<R>(kib: usize, f: &mut dyn FnMut() -> R) -> R {
    if kib == 0 {
        return f();
    }
    let frame = std::hint::black_box([0u8; 1024]);
    let r = deep(kib - 1, f);
    std::hint::black_box(&frame);
    r
}

#[test]
fn the_stack_is_counted_from_where_each_call_starts() {
    // The engine is made near the top of a thread's stack, then called 1 MiB deeper: the
    // call has its whole stack allowance (256 KiB) from there, and endless recursion still
    // stops at the limit, never at the end of the thread's stack.
    let thread = std::thread::Builder::new().stack_size(16 << 20);
    thread
        .spawn(|| {
            let recursion = js_with("limits/recursion.js", JsOptions::default());
            assert_eq!(decode_port(&recursion, 1, &[]), r#"{"data":{"port":1}}"#);
            deep(1024, &mut || {
                assert_eq!(decode_port(&recursion, 1, &[]), r#"{"data":{"port":1}}"#);
                assert_eq!(decode_port(&recursion, 2, &[]), STACK);
                // A script loaded down here, then called from the top again.
                let shapes = common::device("lorafield-test/shapes");
                assert_eq!(
                    decode_port(&shapes, 1, &[0, 2, 1, 1, 1, 6, 2, 0xFF, 0xFE]),
                    r#"{"data":{"a":true,"temperature":-2}}"#
                );
            });
            assert_eq!(decode_port(&recursion, 2, &[]), STACK);
            let shapes = common::device("lorafield-test/shapes");
            assert_eq!(decode_port(&shapes, 1, &[]), r#"{"data":{}}"#);
        })
        .unwrap()
        .join()
        .unwrap();
}
