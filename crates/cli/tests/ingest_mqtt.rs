//! `lorafield ingest-mqtt` end to end: a real mosquitto on loopback (its own configuration
//! and directory, stopped at the end), messages shaped like The Things Stack's and
//! ChirpStack's published at QoS 0 by the test, the ingester as a process, the Microshare
//! simulator in the test. Every wait is bounded.

mod common;
mod mqtt;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{API_KEY, PASSWORD, REC_TYPE, password_creds, shares, sim_config, uplink};
use lorafield_microshare::sim::Simulator;
use mqtt::ingester::{Ingester, TOPICS, chirpstack, tts, wait_stored};
use mqtt::mosquitto::{Mosquitto, Setup, TestCa, publish};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tts_and_chirpstack_uplinks_at_qos_0_arrive_decoded_and_the_rest_is_counted() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let broker = Mosquitto::start(Setup::default());
    let dir = tempfile::tempdir().unwrap();
    let ingester = Ingester::start(&broker.url(), dir.path(), &sim.base_url(), &[]);
    let up = ingester.wait_health(200).await;
    assert_eq!(up["checks"]["mqtt"]["ok"], true, "{up}");

    let mut messages: Vec<(String, Vec<u8>)> = Vec::new();
    messages.extend((0..30).map(|i| tts(i % 5, 100 + i)));
    messages.extend((0..30).map(|i| chirpstack(i % 5, 200 + i)));
    let join = r#"{"end_device_ids":{"device_id":"dev-1","application_ids":{"application_id":"app"},"dev_eui":"70B3D57ED0000001"},"received_at":"2026-03-02T08:00:00Z","join_accept":{"session_key_id":"AYZ=","received_at":"2026-03-02T08:00:00Z"}}"#;
    let port_zero = uplink(1, 9).replace("\"f_port\":3", "\"f_port\":0");
    let cs_event = |event: &str| {
        (
            format!("application/17c82e96/device/0101010101010101/event/{event}"),
            br#"{"deviceInfo":{"devEui":"0101010101010101"},"devAddr":"00000001"}"#.to_vec(),
        )
    };
    messages.extend([
        (
            "v3/app@ttn/devices/dev-1/join".to_string(),
            join.as_bytes().to_vec(),
        ),
        (
            "v3/app@ttn/devices/dev-1/up".to_string(),
            port_zero.into_bytes(),
        ),
        cs_event("join"),
        cs_event("status"),
        cs_event("txack"),
        // Refused, each for its reason.
        (
            "v3/app@ttn/devices/dev-1/up".into(),
            b"{\"truncated\":".to_vec(),
        ),
        (
            "v3/app@ttn/devices/dev-1/up".into(),
            br#"{"hello":"world"}"#.to_vec(),
        ),
        ("v3/app@ttn/devices/dev-1/up".into(), vec![0xff, 0xfe, 0x00]),
        cs_event("uplink"),
    ]);
    publish(broker.port, None, &messages).await;
    let m = ingester.wait_taken(messages.len() as f64).await;
    let want = [
        ("lorafield_mqtt_messages_total", 69.0),
        ("lorafield_uplinks_enqueued_total", 60.0),
        ("lorafield_uplinks_decoded_total", 60.0),
        ("lorafield_uplinks_duplicate_total", 0.0),
        ("lorafield_uplinks_ignored_total{kind=\"join\"}", 2.0),
        ("lorafield_uplinks_ignored_total{kind=\"port_zero\"}", 1.0),
        ("lorafield_uplinks_ignored_total{kind=\"status\"}", 1.0),
        ("lorafield_uplinks_ignored_total{kind=\"txack\"}", 1.0),
        ("lorafield_mqtt_rejected_total{reason=\"not_json\"}", 1.0),
        (
            "lorafield_mqtt_rejected_total{reason=\"not_an_uplink\"}",
            1.0,
        ),
        ("lorafield_mqtt_rejected_total{reason=\"not_utf8\"}", 1.0),
        (
            "lorafield_mqtt_rejected_total{reason=\"unknown_event\"}",
            1.0,
        ),
        ("lorafield_mqtt_rejected_total{reason=\"not_stored\"}", 0.0),
        ("lorafield_mqtt_connections_total", 1.0),
        ("lorafield_mqtt_connected", 1.0),
    ];
    for (name, value) in want {
        assert_eq!(m.get(name), Some(&value), "{name} in {m:?}");
    }

    // Every uplink reaches Microshare once, decoded, in the shape it came in.
    let stats = wait_stored(&sim, 60).await;
    assert_eq!((stats.stored, stats.distinct_keys), (60, 60));
    let shares = shares(&sim).await;
    let tts_shares: Vec<&Value> = shares
        .iter()
        .filter(|s| s["data"]["uplink_message"].is_object())
        .collect();
    assert_eq!(tts_shares.len(), 30);
    for s in &tts_shares {
        assert_eq!(
            s["data"]["uplink_message"]["decoded_payload"]["temperature_3"],
            24.8
        );
    }
    let cs_shares: Vec<&Value> = shares
        .iter()
        .filter(|s| s["data"]["deviceInfo"].is_object())
        .collect();
    assert_eq!(cs_shares.len(), 30);
    for s in shares.iter() {
        assert_eq!(s["data"]["lorafield"]["codec"], "cayenne-lpp", "{s}");
    }
    for s in &cs_shares {
        assert_eq!(s["data"]["object"]["temperature_3"], 24.8, "{s}");
    }

    // The refused messages are kept, with their topic and reason.
    let kept = std::fs::read_to_string(dir.path().join("mqtt-rejected.jsonl")).unwrap();
    let kept: Vec<Value> = kept
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut reasons: Vec<&str> = kept.iter().map(|k| k["reason"].as_str().unwrap()).collect();
    reasons.sort_unstable();
    assert_eq!(
        reasons,
        ["not_an_uplink", "not_json", "not_utf8", "unknown_event"]
    );
    let not_json = kept.iter().find(|k| k["reason"] == "not_json").unwrap();
    assert_eq!(
        (&not_json["topic"], &not_json["payload"]),
        (
            &"v3/app@ttn/devices/dev-1/up".into(),
            &"{\"truncated\":".into()
        )
    );
    let not_utf8 = kept.iter().find(|k| k["reason"] == "not_utf8").unwrap();
    assert_eq!(not_utf8["payload_base64"], "//4A");

    let log = ingester.stop();
    assert!(log.contains("message refused (not_json)"), "{log}");
    assert!(
        !log.contains(PASSWORD) && !log.contains(API_KEY),
        "a secret in the logs"
    );
    sim.shutdown().await;
}

/// Two ingesters on the same topics and the same outbox, both delivering: each receives
/// every uplink, the outbox keeps each once, Microshare gets each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ingesters_on_the_same_topics_store_and_deliver_each_uplink_once() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let broker = Mosquitto::start(Setup::default());
    let dir = tempfile::tempdir().unwrap();
    let a = Ingester::start(&broker.url(), dir.path(), &sim.base_url(), &[]);
    let b = Ingester::start(&broker.url(), dir.path(), &sim.base_url(), &[]);
    a.wait_health(200).await;
    b.wait_health(200).await;
    let n = 200u32;
    let mut messages: Vec<(String, Vec<u8>)> = (0..n / 2).map(|i| tts(i % 7, i)).collect();
    messages.extend((0..n / 2).map(|i| chirpstack(i % 7, i)));
    publish(broker.port, None, &messages).await;
    let ma = a.wait_taken(f64::from(n)).await;
    let mb = b.wait_taken(f64::from(n)).await;
    let count = |m: &BTreeMap<String, f64>, name: &str| m.get(name).copied().unwrap_or(-1.0);
    assert_eq!(count(&ma, "lorafield_mqtt_messages_total"), f64::from(n));
    assert_eq!(count(&mb, "lorafield_mqtt_messages_total"), f64::from(n));
    let added = count(&ma, "lorafield_uplinks_enqueued_total")
        + count(&mb, "lorafield_uplinks_enqueued_total");
    let dropped = count(&ma, "lorafield_uplinks_duplicate_total")
        + count(&mb, "lorafield_uplinks_duplicate_total");
    assert_eq!(
        (added, dropped),
        (f64::from(n), f64::from(n)),
        "{ma:?}\n{mb:?}"
    );
    let stats = wait_stored(&sim, u64::from(n)).await;
    // Give a second delivery of any record time to show, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats_after = sim.stats();
    assert_eq!(stats.distinct_keys, u64::from(n));
    assert_eq!(
        (stats_after.stored, stats_after.duplicates),
        (u64::from(n), 0)
    );
    let delivered = count(&a.metrics().await, "lorafield_deliveries_total")
        + count(&b.metrics().await, "lorafield_deliveries_total");
    assert_eq!(
        delivered,
        f64::from(n),
        "each record delivered by one of them"
    );
    let status = lorafield_microshare::outbox::status(dir.path()).unwrap();
    assert_eq!(
        (status.pending, status.in_flight, status.delivered),
        (0, 0, u64::from(n))
    );
    a.stop();
    b.stop();
    sim.shutdown().await;
}

/// The broker stops and comes back: the ingester says so in /healthz, connects again with
/// backoff, subscribes again, and what is published afterwards arrives. A replay of the
/// window (the README's gap filling) adds only what was missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_broker_restart_uplinks_arrive_again_and_a_replay_adds_only_the_missed() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let mut broker = Mosquitto::start(Setup::default());
    let dir = tempfile::tempdir().unwrap();
    let ingester = Ingester::start(&broker.url(), dir.path(), &sim.base_url(), &[]);
    ingester.wait_health(200).await;
    let before: Vec<_> = (0..20).map(|i| tts(i % 3, i)).collect();
    publish(broker.port, None, &before).await;
    ingester
        .wait_metric("lorafield_uplinks_enqueued_total", 20.0)
        .await;

    broker.stop();
    let down = ingester.wait_health(503).await;
    let detail = down["checks"]["mqtt"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("not connected to mqtt://127.0.0.1"),
        "{down}"
    );
    assert_eq!(down["status"], "down");
    // Uplinks already taken go on to Microshare while the broker is away.
    wait_stored(&sim, 20).await;

    broker.restart();
    let up = ingester.wait_health(200).await;
    assert_eq!(up["checks"]["mqtt"]["ok"], true);
    let after: Vec<_> = (0..20).map(|i| chirpstack(i % 3, 1000 + i)).collect();
    publish(broker.port, None, &after).await;
    let m = ingester
        .wait_metric("lorafield_uplinks_enqueued_total", 40.0)
        .await;
    assert!(m["lorafield_mqtt_reconnects_total"] >= 1.0, "{m:?}");
    assert!(m["lorafield_mqtt_connection_errors_total"] >= 1.0, "{m:?}");
    let stats = wait_stored(&sim, 40).await;
    assert_eq!((stats.stored, stats.distinct_keys), (40, 40));
    let log = ingester.stop();
    assert!(log.contains("connected again to"), "{log}");

    // What was published while no client was connected is lost to MQTT (QoS 0); replayed
    // from The Things Stack's storage (its lines unwrapped) through the same outbox, the
    // uplinks that did arrive are dropped as duplicates and only the missed ones are sent.
    let missed: Vec<String> = (0..5).map(|i| uplink(9, 500 + i)).collect();
    let stored: Vec<String> = (0..20).map(|i| uplink(i % 3, i)).collect();
    let replay = dir.path().join("replay.jsonl");
    std::fs::write(&replay, [stored, missed].concat().join("\n") + "\n").unwrap();
    let mut args = vec![
        "redecode",
        replay.to_str().unwrap(),
        "--to-microshare",
        REC_TYPE,
    ];
    let sim_url = sim.base_url();
    args.extend(["--microshare-url", &sim_url]);
    args.extend(password_creds());
    let (code, _, err) = common::lorafield(&args, dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("in the outbox already"), "{err}");
    let stats = wait_stored(&sim, 45).await;
    assert_eq!(
        (stats.stored, stats.distinct_keys, stats.duplicates),
        (45, 45, 0)
    );
    sim.shutdown().await;
}

/// mqtts:// with a CA the test made: accepted with it in --ca-file, and with it as the
/// system's certificate authorities (SSL_CERT_FILE, as OpenSSL reads it: the system-roots
/// path); refused when the system's are another CA's, and /healthz says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_the_test_ca_in_a_file_or_the_system_roots_and_not_without_it() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let (ca, other) = (TestCa::new("lorafield test CA"), TestCa::new("another CA"));
    let broker = Mosquitto::start(Setup {
        tls: Some(&ca),
        ..Setup::default()
    });
    let tls_url = format!("mqtts://127.0.0.1:{}", broker.tls_port.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (ca_file, other_file) = (dir.path().join("ca.pem"), dir.path().join("other.pem"));
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    std::fs::write(&other_file, &other.ca_pem).unwrap();
    let sim_url = sim.base_url();
    let no_deliver = ["--no-deliver"];

    let untrusting = Ingester::start_with(
        &tls_url,
        &dir.path().join("o1"),
        &sim_url,
        &no_deliver,
        &[("SSL_CERT_FILE", &other_file)],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, health) = loop {
        let (s, v) = untrusting.health().await;
        if v["checks"]["mqtt"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not connected"))
        {
            break (s, v);
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 503);
    let detail = health["checks"]["mqtt"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("invalid peer certificate: UnknownIssuer"),
        "{detail}"
    );
    untrusting.stop();

    let ca_arg = ca_file.to_str().unwrap();
    let with_file = Ingester::start(
        &tls_url,
        &dir.path().join("o2"),
        &sim_url,
        &["--ca-file", ca_arg],
    );
    let with_system = Ingester::start_with(
        &tls_url,
        &dir.path().join("o3"),
        &sim_url,
        &no_deliver,
        &[("SSL_CERT_FILE", &ca_file)],
    );
    with_file.wait_health(200).await;
    with_system.wait_health(200).await;
    // Published on the plain listener; received over TLS.
    let messages: Vec<_> = (0..10).map(|i| tts(i, i)).collect();
    publish(broker.port, None, &messages).await;
    with_file
        .wait_metric("lorafield_uplinks_enqueued_total", 10.0)
        .await;
    with_system
        .wait_metric("lorafield_uplinks_enqueued_total", 10.0)
        .await;
    wait_stored(&sim, 10).await;
    with_file.stop();
    with_system.stop();
    sim.shutdown().await;
}

/// A broker that wants a user and password: the right ones connect (the password from
/// LORAFIELD_MQTT_PASSWORD), a wrong one is refused and /healthz says so; the password never
/// reaches a log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_connect_a_wrong_password_is_reported_and_never_logged() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let (user, key) = ("app@ttn", "NNSXS.TESTKEY4711");
    let broker = Mosquitto::start(Setup {
        user: Some((user, key)),
        ..Setup::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let start = |password: &str, outbox: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lorafield"));
        command
            .args([
                "ingest-mqtt",
                "--broker",
                &broker.url(),
                "--rec-type",
                REC_TYPE,
            ])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--topic",
                TOPICS[0],
                "--no-deliver",
            ])
            .args(["--mqtt-username", user])
            .arg("--outbox")
            .arg(dir.path().join(outbox))
            .env("LORAFIELD_MQTT_PASSWORD", password)
            .env("LORAFIELD_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        Ingester::spawn(command)
    };
    let wrong = start("NNSXS.WRONGKEY0815", "o1");
    let health = loop {
        let (_, v) = wrong.health().await;
        if v["checks"]["mqtt"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("refused"))
        {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let detail = health["checks"]["mqtt"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("bad user name or password") || detail.contains("not authorized"),
        "{detail}"
    );
    let log = wrong.stop();
    assert!(!log.contains("WRONGKEY0815"), "{log}");

    let right = start(key, "o2");
    right.wait_health(200).await;
    publish(broker.port, Some((user, key)), &[tts(1, 1)]).await;
    right
        .wait_metric("lorafield_uplinks_enqueued_total", 1.0)
        .await;
    let log = right.stop();
    assert!(log.contains("user app@ttn"), "{log}");
    assert!(!log.contains("TESTKEY4711"), "{log}");
    sim.shutdown().await;
}

/// A message larger than --max-message-size ends the connection (the client cannot skip it):
/// it is counted and noted in the rejected file, the ingester connects again, and what comes
/// next arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_too_large_is_counted_and_the_connection_made_again() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let broker = Mosquitto::start(Setup::default());
    let dir = tempfile::tempdir().unwrap();
    let ingester = Ingester::start(
        &broker.url(),
        dir.path(),
        &sim.base_url(),
        &["--no-deliver", "--max-message-size", "4096"],
    );
    ingester.wait_health(200).await;
    let (topic, body) = tts(1, 1);
    let mut large = body.clone();
    large.truncate(large.len() - 1);
    large.extend(format!(r#","padding":"{}"}}"#, "x".repeat(5000)).bytes());
    publish(broker.port, None, &[(topic.clone(), large)]).await;
    let m = ingester
        .wait_metric("lorafield_mqtt_rejected_total{reason=\"too_large\"}", 1.0)
        .await;
    assert_eq!(m["lorafield_uplinks_enqueued_total"], 0.0);
    ingester
        .wait_metric("lorafield_mqtt_reconnects_total", 1.0)
        .await;
    ingester.wait_health(200).await;
    publish(broker.port, None, &[(topic, body)]).await;
    ingester
        .wait_metric("lorafield_uplinks_enqueued_total", 1.0)
        .await;
    let kept = std::fs::read_to_string(dir.path().join("mqtt-rejected.jsonl")).unwrap();
    let kept: Value = serde_json::from_str(kept.trim()).unwrap();
    assert_eq!(kept["reason"], "too_large");
    assert!(
        kept["detail"].as_str().unwrap().contains("(4096)"),
        "{kept}"
    );
    let log = ingester.stop();
    assert!(log.contains("larger than --max-message-size"), "{log}");
    sim.shutdown().await;
}

/// `--no-deliver` beside a `serve` on the same outbox (the ChirpStack example of the help):
/// the ingester stores, serve's worker delivers what it stored, and serve's own webhook
/// uplinks share the key index (the same uplink by both ways is stored once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingester_that_only_stores_beside_a_serve_that_delivers() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let broker = Mosquitto::start(Setup::default());
    let dir = tempfile::tempdir().unwrap();
    let bridge = common::Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    let ingester = Ingester::start(
        &broker.url(),
        dir.path(),
        &sim.base_url(),
        &["--no-deliver"],
    );
    let health = ingester.wait_health(200).await;
    assert!(health["checks"].get("delivery").is_none(), "{health}");
    let messages: Vec<_> = (0..30).map(|i| chirpstack(i % 4, i)).collect();
    publish(broker.port, None, &messages).await;
    ingester.wait_taken(30.0).await;
    // The same TTS uplink through the webhook and through MQTT.
    let (status, _) = common::post(&common::http(), &bridge.url, uplink(2, 77)).await;
    assert_eq!(status, 202);
    publish(broker.port, None, &[tts(2, 77)]).await;
    let m = ingester.wait_taken(31.0).await;
    assert_eq!(
        (
            m["lorafield_uplinks_enqueued_total"],
            m["lorafield_uplinks_duplicate_total"]
        ),
        (30.0, 1.0)
    );
    assert!(
        !m.contains_key("lorafield_deliveries_total"),
        "it does not deliver"
    );
    let stats = wait_stored(&sim, 31).await;
    assert_eq!((stats.stored, stats.distinct_keys), (31, 31));
    ingester.stop();
    bridge.stop();
    sim.shutdown().await;
}
