//! `lorafield serve` for operators, end to end over real HTTP(S) on loopback: what The Things
//! Stack's webhooks get for events that are not uplinks and for retries, `/healthz`, the
//! `outbox` commands beside a running bridge, one bridge per outbox, the rule against
//! listening beyond loopback without a secret, HTTPS, and the logs.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lorafield_microshare::sim::Simulator;
use serde_json::Value;

/// A TTS v3 message of `member` (`join_accept`, `downlink_queued`, ...) for device 1.
fn tts_event(member: &str, body: &str) -> String {
    format!(
        r#"{{"end_device_ids":{{"device_id":"dev-1","application_ids":{{"application_id":"app"}},"dev_eui":"70B3D57ED0000001"}},"correlation_ids":["as:up:01"],"received_at":"2026-03-02T08:00:00Z","{member}":{body}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_downlink_events_and_port_0_are_ignored_with_200_and_counted_by_kind() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    let client = http();
    let port_zero = uplink(1, 9).replace("\"f_port\":3", "\"f_port\":0");
    let no_port = uplink(1, 10).replace("\"f_port\":3,", "");
    let cases = [
        (
            tts_event(
                "join_accept",
                r#"{"session_key_id":"AYZ=","received_at":"2026-03-02T08:00:00Z"}"#,
            ),
            "join",
        ),
        (
            tts_event(
                "downlink_queued",
                r#"{"f_port":1,"frm_payload":"AQ==","priority":"NORMAL"}"#,
            ),
            "downlink_queued",
        ),
        (
            tts_event("downlink_sent", r#"{"f_port":1,"frm_payload":"AQ=="}"#),
            "downlink_sent",
        ),
        (
            tts_event("downlink_ack", r#"{"f_port":1,"frm_payload":"AQ=="}"#),
            "downlink_ack",
        ),
        (port_zero, "port_zero"),
        (no_port, "port_zero"),
    ];
    for (body, kind) in &cases {
        let (status, answer) = post(&client, &bridge.url, body.clone()).await;
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(answer, serde_json::json!({ "ignored": kind }), "{body}");
    }
    // ChirpStack's other events, on the same URL with ?event=.
    let r = client
        .post(format!("{}/uplink?event=join", bridge.url))
        .body(r#"{"deviceInfo":{"devEui":"0101010101010101"},"devAddr":"00000001"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["ignored"], "join");
    let (_, metrics) = get(&bridge.url, "/metrics").await;
    for (kind, want) in [
        ("join", 2.0),
        ("downlink_queued", 1.0),
        ("downlink_sent", 1.0),
        ("downlink_ack", 1.0),
        ("port_zero", 2.0),
        ("location_solved", 0.0),
    ] {
        let line = format!("lorafield_uplinks_ignored_total{{kind=\"{kind}\"}} ");
        assert_eq!(metric(&metrics, &line), want, "{kind}");
    }
    assert_eq!(metric(&metrics, "lorafield_uplinks_rejected_total "), 0.0);
    assert_eq!(metric(&metrics, "lorafield_uplinks_enqueued_total "), 0.0);
    bridge.stop();
    let status = lorafield_microshare::outbox::status(dir.path()).unwrap();
    assert_eq!(status.pending + status.in_flight + status.delivered, 0);
    assert_eq!(sim.stats().stored, 0);
    sim.shutdown().await;
}

/// The Things Stack retries a webhook it got no 2xx for in time: the second copy is answered
/// 200 duplicate and not stored, before and after delivery, until purge-delivered forgets the
/// key; `lorafield outbox` does that beside the running bridge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_retried_is_a_duplicate_until_purged_and_outbox_commands_run_beside_serve() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    let client = http();
    let body = uplink(3, 42);
    let (status, first) = post(&client, &bridge.url, body.clone()).await;
    assert_eq!(status, 202, "{first}");
    let key = first["key"].as_str().unwrap().to_string();
    let (status, again) = post(&client, &bridge.url, body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(again, serde_json::json!({ "key": key, "duplicate": true }));
    let keys = [key.clone()].into_iter().collect();
    wait_for(&sim, &keys, Duration::from_secs(20)).await;
    // Delivered, and still remembered.
    let (status, _) = post(&client, &bridge.url, body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(sim.stats().stored, 1);
    let (_, metrics) = get(&bridge.url, "/metrics").await;
    assert_eq!(metric(&metrics, "lorafield_uplinks_duplicate_total "), 2.0);
    assert_eq!(metric(&metrics, "lorafield_uplinks_enqueued_total "), 1.0);
    // The outbox commands, beside the bridge.
    let (code, stdout, stderr) = lorafield(&["outbox", "status"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    let status: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["delivered"], 1, "{status}");
    let (code, _, stderr) = lorafield(&["outbox", "purge-delivered"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("1 delivered record forgotten"), "{stderr}");
    // Forgotten: taken (and sent) again.
    let (status, answer) = post(&client, &bridge.url, body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["key"], key.as_str());
    let deadline = Instant::now() + Duration::from_secs(20);
    while sim.stats().stored < 2 {
        assert!(
            Instant::now() < deadline,
            "the uplink taken again never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bridge.stop();
    sim.shutdown().await;
}

/// Delivered keys are kept for --keep-delivered-hours, then forgotten (at start and every
/// hour): the same uplink is a duplicate while kept, taken again once forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_keys_are_forgotten_once_older_than_they_are_kept() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // 0.001 h = 3.6 s. The first bridge forgets at its start only (nothing is old then).
    let keep = ["--keep-delivered-hours", "0.001"];
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &keep);
    let client = http();
    let body = uplink(4, 7);
    let (status, first) = post(&client, &bridge.url, body.clone()).await;
    assert_eq!(status, 202, "{first}");
    let keys = [first["key"].as_str().unwrap().to_string()]
        .into_iter()
        .collect();
    wait_for(&sim, &keys, Duration::from_secs(20)).await;
    wait_drained(dir.path(), Duration::from_secs(20)).await;
    let (status, _) = post(&client, &bridge.url, body.clone()).await;
    assert_eq!(status, 200, "a delivered key kept is a duplicate");
    let log = bridge.stop();
    assert!(!log.contains("forgot"), "{log}");
    // Past the keep, a bridge started on the outbox forgets the record at once.
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &keep);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !bridge
        .log()
        .contains("forgot 1 delivered record older than 0.001 h")
    {
        assert!(
            Instant::now() < deadline,
            "nothing forgotten: {}",
            bridge.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = lorafield_microshare::outbox::status(dir.path()).unwrap();
    assert_eq!(status.delivered, 0, "{status:?}");
    let (status, again) = post(&client, &bridge.url, body).await;
    assert_eq!(status, 202, "a forgotten key is taken again: {again}");
    bridge.stop();
    // A keep that is no time at all is refused.
    let (code, _, stderr) = lorafield(
        &[
            "serve",
            "--rec-type",
            "x",
            "--pipe-token",
            "t",
            "--keep-delivered-hours",
            "0",
        ],
        dir.path(),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--keep-delivered-hours must be a positive number"),
        "{stderr}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_names_its_checks_and_says_why_delivery_fails() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config("status500=1"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    let (status, text) = get(&bridge.url, "/healthz").await;
    assert_eq!(status, 200, "{text}");
    let health: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    for check in ["outbox", "delivery"] {
        assert_eq!(health["checks"][check]["ok"], true, "{health}");
        assert!(health["checks"][check]["detail"].is_string(), "{health}");
    }
    let (status, _) = post(&http(), &bridge.url, uplink(4, 1)).await;
    assert_eq!(status, 202);
    // Every token request fails with 500: the check says so, with the status and the reason.
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        let (status, text) = get(&bridge.url, "/healthz").await;
        assert_eq!(status, 200, "uplinks are still accepted: {text}");
        let health: Value = serde_json::from_str(&text).unwrap();
        let detail = health["checks"]["delivery"]["detail"].as_str().unwrap();
        if detail.contains("failing for") {
            break health;
        }
        assert!(Instant::now() < deadline, "delivery never failed: {health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let detail = health["checks"]["delivery"]["detail"].as_str().unwrap();
    assert!(detail.contains("HTTP 500"), "{health}");
    // Degraded only after a minute of failing; the test may or may not have taken that long.
    let degraded = health["status"] == "degraded";
    assert_eq!(health["checks"]["delivery"]["ok"], !degraded, "{health}");
    assert!(
        health["checks"]["outbox"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("depth 1"),
        "{health}"
    );
    let log = bridge.stop();
    // Failed deliveries are logged at warn with the status, not once per attempt.
    let warned = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("delivery failed (HTTP 500)"))
        .count();
    let attempts = log.lines().filter(|l| l.contains("retry in")).count();
    assert!(warned >= 1, "{log}");
    assert!(
        warned < attempts.max(2),
        "{warned} warn lines for {attempts} attempts"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_with_their_status_and_reason() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config("status503=1"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(
        dir.path(),
        &sim.base_url(),
        &["--pipe-token", "a-pipe-token"],
        &["--max-attempts", "1"],
    );
    let client = http();
    let mut keys = Vec::new();
    for f_cnt in 1..=3 {
        let (status, answer) = post(&client, &bridge.url, uplink(5, f_cnt)).await;
        assert_eq!(status, 202);
        keys.push(answer["key"].as_str().unwrap().to_string());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while lorafield_microshare::outbox::status(dir.path())
        .unwrap()
        .dead
        < 3
    {
        assert!(Instant::now() < deadline, "nothing died");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A table, beside the running bridge.
    let (code, stdout, stderr) = lorafield(&["outbox", "dead"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines[0].starts_with("KEY") && lines[0].contains("REASON"),
        "{stdout}"
    );
    for line in &lines[1..] {
        assert!(line.contains(REC_TYPE) && line.contains(" 503 "), "{line}");
        assert!(line.contains("Microshare answered HTTP 503"), "{line}");
    }
    for key in &keys {
        assert!(stdout.contains(key.as_str()), "{key}");
    }
    // JSON Lines, with a limit and a word on the rest.
    let (code, stdout, stderr) =
        lorafield(&["outbox", "dead", "--limit", "2", "--json"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    let letters: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 2);
    for l in &letters {
        assert_eq!(
            (l["recType"].as_str(), l["attempts"].as_u64()),
            (Some(REC_TYPE), Some(1))
        );
        assert_eq!(l["last_status"], 503);
        assert!(keys.contains(&l["key"].as_str().unwrap().to_string()));
    }
    assert!(stderr.contains("1 more dead letter;"), "{stderr}");
    bridge.stop();
    let (code, _, stderr) = lorafield(&["outbox", "retry-dead"], dir.path());
    assert_eq!(code, Some(0));
    assert!(
        stderr.contains("3 dead records are pending again"),
        "{stderr}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_the_same_outbox_is_refused() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rec-type",
        REC_TYPE,
        "--microshare-url",
    ];
    let url = sim.base_url();
    args.push(&url);
    args.extend(password_creds());
    let (code, _, stderr) = lorafield(&args, dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is in use by another lorafield serve") && stderr.contains("process "),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
    // The first one goes on.
    let (status, _) = post(&http(), &bridge.url, uplink(6, 1)).await;
    assert_eq!(status, 202);
    bridge.stop();
    // Once it is gone, the outbox is free again.
    let restarted = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    restarted.stop();
    sim.shutdown().await;
}

/// Beyond loopback without a secret: refused before anything is bound. The address is one of
/// the documentation's (192.0.2.0/24), on no interface: even a serve that did not refuse could
/// not listen there.
#[test]
fn beyond_loopback_serve_needs_a_secret_or_says_it_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "serve",
        "--listen",
        "192.0.2.1:8080",
        "--rec-type",
        REC_TYPE,
        "--pipe-token",
        "t",
    ];
    let (code, _, stderr) = lorafield(&base, dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on 192.0.2.1:8080 without a webhook secret")
            && stderr.contains("--secret")
            && stderr.contains("--allow-unauthenticated"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("outbox.sqlite3").exists(),
        "nothing opened"
    );
    // Allowed: it warns, then goes on (and fails to bind an address this machine lacks).
    let allowed: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--allow-unauthenticated"])
        .collect();
    let (code, _, stderr) = lorafield(&allowed, dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("WARN") && stderr.contains("no webhook secret on 192.0.2.1:8080"),
        "{stderr}"
    );
    assert!(
        stderr.contains("listening on 192.0.2.1:8080"),
        "the bind was tried: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_speaks_https_with_a_certificate_made_here() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, &cert_pem).unwrap();
    std::fs::write(&key_file, &key_pem).unwrap();
    let outbox = dir.path().join("outbox");
    let bridge = Bridge::start(
        &outbox,
        &sim.base_url(),
        &password_creds(),
        &[
            "--tls-cert",
            cert_file.to_str().unwrap(),
            "--tls-key",
            key_file.to_str().unwrap(),
        ],
    );
    assert!(
        bridge.url.starts_with("https://127.0.0.1:"),
        "{}",
        bridge.url
    );
    let trusting = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let (status, answer) = post(&trusting, &bridge.url, uplink(7, 1)).await;
    assert_eq!(status, 202, "{answer}");
    let keys = [answer["key"].as_str().unwrap().to_string()]
        .into_iter()
        .collect();
    wait_for(&sim, &keys, Duration::from_secs(20)).await;
    // A client that does not trust the certificate, or speaks plain HTTP, gets nothing.
    let (status, _) = post_fails(&http(), &bridge.url).await;
    assert!(status.is_none());
    let plain = bridge.url.replace("https://", "http://");
    let (status, _) = post_fails(&http(), &plain).await;
    assert!(status.is_none() || status == Some(400), "{status:?}");
    bridge.stop();
    sim.shutdown().await;
}

/// Posts an uplink expecting the request to fail: its status if one came back, or the error.
async fn post_fails(client: &reqwest::Client, url: &str) -> (Option<u16>, String) {
    match client
        .post(format!("{url}/uplink"))
        .body(uplink(8, 1))
        .send()
        .await
    {
        Ok(r) => (Some(r.status().as_u16()), String::new()),
        Err(e) => (None, e.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_startup_lines_say_where_and_how_in_words() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(
        dir.path(),
        &sim.base_url(),
        &password_creds(),
        &["--secret", "hook-secret-123"],
    );
    let log = bridge.stop();
    let url = sim.base_url();
    assert!(
        log.contains(&format!(
            "forwarding to Microshare at {url} (tokens from {url}) with a password token for {USER}, as recType {REC_TYPE} (0 selection rules)"
        )),
        "{log}"
    );
    assert!(
        log.contains("POST /uplink, GET /healthz, GET /metrics; a webhook must send the secret in x-lorafield-secret"),
        "{log}"
    );
    assert!(
        log.contains("delivering with an adaptive limit: 8 requests in flight to start with, up to 512 (--concurrency)"),
        "{log}"
    );
    let bridge = Bridge::start(
        dir.path(),
        &sim.base_url(),
        &password_creds(),
        &["--adaptive", "off"],
    );
    let log = bridge.stop();
    assert!(
        log.contains("delivering with a fixed limit of 8 requests in flight (--adaptive off)"),
        "{log}"
    );
    // No Debug structs, no secrets.
    for debug in ["Client {", "Endpoints {", "Secret(", "{ "] {
        assert!(!log.contains(debug), "{debug} in {log}");
    }
    for secret in [PASSWORD, API_KEY, "hook-secret-123"] {
        assert!(!log.contains(secret), "a secret in {log}");
    }
    sim.shutdown().await;
}

/// `lorafield microshare-sim` as a process: it logs under its own name, and says each fault
/// it injects at debug.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_logs_under_its_own_name() {
    use std::process::{Command, Stdio};
    let mut command = Command::new(env!("CARGO_BIN_EXE_lorafield"));
    command
        .args([
            "microshare-sim",
            "--listen",
            "127.0.0.1:0",
            "--faults",
            "status500=1",
        ])
        .env("LORAFIELD_LOG", "microshare_sim=debug")
        .stdout(Stdio::null());
    let mut sim = Watched::spawn(command, "microshare-sim");
    let url = sim.url.clone();
    let r = http()
        .post(format!("{url}/oauth2/token?grant_type=password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let log = sim.stop(Duration::from_secs(10));
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("DEBUG") && l.contains("microshare_sim: fault injected: status500")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("lorafield_microshare::sim")),
        "{lines:#?}"
    );
}

/// `microshare-sim` as a remote service from its flags: a rate limit of 2 shares a second
/// answers the third of three quick posts 429 (and counts it), a bad latency is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_takes_latency_rate_limit_and_cap_from_its_flags() {
    use std::process::{Command, Stdio};
    let refused = Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .args(["microshare-sim", "--latency", "10,20"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("the jitter at most the mean"), "{stderr}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_lorafield"));
    command
        .args(["microshare-sim", "--listen", "127.0.0.1:0"])
        .args([
            "--latency",
            "30,10",
            "--rate-limit",
            "2",
            "--max-in-flight",
            "50",
        ])
        .stdout(Stdio::null());
    let mut sim = Watched::spawn(command, "microshare-sim");
    let url = sim.url.clone();
    let token: Value = http()
        .post(format!(
            "{url}/oauth2/token?username=user@example.org&password=secret&client_id=apikey&grant_type=pipe"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let start = Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = http()
            .post(format!("{url}/share/io.example"))
            .bearer_auth(token)
            .body("{}")
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    // Three posts, each at least 20 ms (the latency): the bucket held 2 and refilled 2 a second.
    assert!(start.elapsed() >= Duration::from_millis(60));
    if start.elapsed() < Duration::from_millis(500) {
        assert_eq!(statuses, [200, 200, 429]);
    }
    let stats: Value = http()
        .get(format!("{url}/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(stats["rate_limited"], limited);
    assert_eq!(stats["stored"], 3 - limited);
    assert_eq!(stats["peak_in_flight"], 1);
    let log = sim.stop(Duration::from_secs(10));
    let lines: Vec<&str> = log.lines().collect();
    let last = lines.last().unwrap();
    assert!(last.contains("\"rate_limited\":"), "{lines:#?}");
}
