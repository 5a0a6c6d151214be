//! The clock a script sees: `Clock::RecvTime` gives `Date.now()` and `new Date()` the
//! uplink's receive time and seeds `Math.random` from the record; local-time `Date` methods
//! behave as UTC whatever the host's time zone (checked in child processes of this test
//! binary under other zones).

mod common;

use std::process::Command;

use common::{decode, decode_port, js_with};
use lorafield_codec_js::{Clock, JsCodec, JsOptions};
use lorafield_core::Uplink;

/// 2023-11-14T22:13:20.123Z.
const RECEIVED: i64 = 1_700_000_000_123;

fn recv_time() -> JsCodec {
    js_with(
        "clock.js",
        JsOptions {
            clock: Clock::RecvTime,
            ..JsOptions::default()
        },
    )
}

fn result(uplink: Uplink<'_>) -> serde_json::Value {
    let text = decode(&recv_time(), uplink);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["data"].clone()
}

/// The members of `clock.js`'s result that do not depend on the clock: local-time methods,
/// which behave as UTC. Worked out by hand: 2020-01-01T10:30:00Z is a Wednesday; 10:00 on
/// 2020-01-01 UTC is 1577872800000 ms after the epoch, midnight 1577836800000.
const LOCAL_TIME: [&str; 2] = [
    r#""date_only":1577836800000,"hours":10,"local_new_year":"2020-01-01T00:00:00.000Z","#,
    r#""offset":0,"parsed_local":1577872800000,"parsed_words":1577872800000,"#,
];

/// The whole result of `clock.js` under `recv-time` at [`RECEIVED`] with seed 7, but for the
/// random numbers.
fn checks() {
    let uplink = Uplink::new(1, &[]).received_at(RECEIVED).with_seed(7);
    let text = decode(&recv_time(), uplink);
    let random_at = text.find(r#""random":["#).unwrap();
    let random_end = random_at + text[random_at..].find(']').unwrap() + 2;
    let without_random = format!("{}{}", &text[..random_at], &text[random_end..]);
    assert_eq!(
        without_random,
        format!(
            concat!(
                r#"{{"data":{{"date":"2023-11-14T22:13:20.123Z",{}"now":1700000000123,{}"#,
                r#""recv_time":"2023-11-14T22:13:20.123Z","set_hours":"1970-01-01T05:00:00.000Z","#,
                r#""text":"Wed Jan 01 2020 10:30:00 GMT+0000 (Coordinated Universal Time)"}}}}"#
            ),
            LOCAL_TIME[0], LOCAL_TIME[1]
        )
    );
}

#[test]
fn recv_time_is_now() {
    checks();
    // Without a receive time the clock stands at the epoch; input.recvTime is absent.
    let data = result(Uplink::new(1, &[]));
    assert_eq!(data["now"], 0);
    assert_eq!(data["date"], "1970-01-01T00:00:00.000Z");
    assert_eq!(data["recv_time"], serde_json::Value::Null);
}

#[test]
fn random_numbers_follow_the_record() {
    let at = |seed: u64, ms: i64| {
        result(Uplink::new(1, &[]).received_at(ms).with_seed(seed))["random"].clone()
    };
    let first = at(7, RECEIVED);
    let numbers = first.as_array().unwrap();
    assert_eq!(numbers.len(), 3);
    for n in numbers {
        let n = n.as_f64().unwrap();
        assert!((0.0..1.0).contains(&n), "{n}");
    }
    assert_ne!(numbers[0], numbers[1]);
    // The same record, the same numbers (in a context that has run other calls meanwhile).
    assert_eq!(at(7, RECEIVED), first);
    assert_ne!(at(8, RECEIVED), first);
    assert_ne!(at(7, RECEIVED + 1), first);
    assert_eq!(at(7, RECEIVED), first);
}

#[test]
fn the_real_clock_is_the_host_s() {
    let c = js_with("clock.js", JsOptions::default());
    let text = decode_port(&c, 1, &[]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let now = v["data"]["now"].as_f64().unwrap();
    let host = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    assert!((now - host).abs() < 600_000.0, "{now} vs {host}");
    let again: serde_json::Value = serde_json::from_str(&decode_port(&c, 1, &[])).unwrap();
    assert_ne!(v["data"]["random"], again["data"]["random"]);
    // Local time is UTC under the real clock too.
    assert!(text.contains(LOCAL_TIME[0]), "{text}");
    assert!(text.contains(LOCAL_TIME[1]), "{text}");
}

/// The environment variable that makes [`local_time_is_utc`] check the zone it runs in.
const ZONE_VAR: &str = "LORAFIELD_TEST_TZ";

/// Runs the checks in this process's zone. Under [`ZONE_VAR`] (set by
/// [`local_time_is_utc_in_other_time_zones`], which runs this test in child processes) it
/// first checks that the engine itself sees that zone, so that the checks are not passing in
/// UTC by accident.
#[test]
fn local_time_is_utc() {
    if let Ok(offset) = std::env::var(ZONE_VAR) {
        let rt = rquickjs::Runtime::new().unwrap();
        let ctx = rquickjs::Context::full(&rt).unwrap();
        let seen: i32 = ctx
            .with(|ctx| ctx.eval("new Date(2020, 0, 1).getTimezoneOffset()"))
            .unwrap();
        assert_eq!(seen.to_string(), offset, "the engine's zone");
    }
    checks();
}

#[test]
fn local_time_is_utc_in_other_time_zones() {
    let exe = std::env::current_exe().unwrap();
    // getTimezoneOffset() on 2020-01-01 in each zone (minutes behind UTC).
    for (zone, offset) in [("Asia/Kolkata", "-330"), ("America/New_York", "300")] {
        let out = Command::new(&exe)
            .args(["--exact", "local_time_is_utc", "--test-threads=1"])
            .env("TZ", zone)
            .env(ZONE_VAR, offset)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{zone}: {stdout}\n{stderr}");
        assert!(stdout.contains("1 passed"), "{zone}: {stdout}");
    }
}
