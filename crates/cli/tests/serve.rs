//! `lorafield serve` end to end, over real HTTP on loopback: the bridge as a process, the
//! Microshare simulator in the test. Every wait is bounded.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use lorafield_microshare::sim::{Faults, Simulator};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_uplink_arrives_once_on_the_happy_path() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    let bodies: Vec<String> = (0..200).map(|i| uplink(i % 20, i)).collect();
    let keys: BTreeSet<String> = post_all(&bridge.url, bodies, 8).await.into_iter().collect();
    assert_eq!(keys.len(), 200);
    let stats = wait_for(&sim, &keys, Duration::from_secs(30)).await;
    assert_eq!((stats.stored, stats.distinct_keys), (200, 200));
    let stored: BTreeSet<String> = stored_keys(&sim).await.into_iter().collect();
    assert_eq!(stored, keys);
    // The metrics add up, and say so in Prometheus text.
    let metrics = http()
        .get(format!("{}/metrics", bridge.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "lorafield_uplinks_received_total 200",
        "lorafield_uplinks_enqueued_total 200",
        "lorafield_uplinks_decoded_total 200",
        "lorafield_deliveries_total 200",
        "lorafield_outbox_depth 0",
        "lorafield_delivery_concurrency_ceiling 512",
        "lorafield_delivery_unknown_outcomes_total 0",
        "lorafield_delivery_lookups_total{result=\"found\"} 0",
        "lorafield_delivery_falling_behind 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    // The adaptive limit, what is in flight and the round trips are there as gauges.
    let limit = metric(&metrics, "lorafield_delivery_concurrency_limit ");
    // It starts at 8 and may fall below it: on a busy test machine loopback round trips rise,
    // which is a signal to cut (at least 1, at most the ceiling).
    assert!((1.0..=512.0).contains(&limit), "{metrics}");
    assert!(metric(&metrics, "lorafield_delivery_rtt_baseline_seconds ") > 0.0);
    assert!(metric(&metrics, "lorafield_delivery_in_flight ") >= 0.0);
    let health = http()
        .get(format!("{}/healthz", bridge.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let log = bridge.stop();
    assert!(
        !log.contains(PASSWORD) && !log.contains(API_KEY),
        "a secret in the logs"
    );
    let status = lorafield_microshare::outbox::status(dir.path()).unwrap();
    assert_eq!(
        (status.pending, status.in_flight, status.delivered),
        (0, 0, 200)
    );
    sim.shutdown().await;
}

/// Each fault class at a high rate, and the mix: every acknowledged uplink arrives, and none
/// twice. Drops after storing and slow answers (stored at once, answered past the client's
/// timeout) leave the bridge without an answer; with password credentials it asks Microshare
/// for the record's tag before posting again, and finds it. No fault of the simulator leaves
/// it no way to know: a share is stored before its answer is cut or delayed, so a look-up
/// made after the cut always sees it (a real Microshare that stored a share after the
/// bridge's look-up, or a look-up it could not answer for good, would; neither happens here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_class_delivers_everything_once() {
    for faults in [
        "status500=0.3",
        "status503=0.3",
        "status429=0.2",
        "status401=0.2",
        "drop-before=0.3",
        "drop-after=0.3",
        "slow=0.2",
        "status500=0.1,status429=0.05,drop-after=0.05,slow=0.02",
    ] {
        let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(faults))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
        let bodies: Vec<String> = (0..60).map(|i| uplink(i % 7, 1000 + i)).collect();
        let keys: BTreeSet<String> = post_all(&bridge.url, bodies, 8).await.into_iter().collect();
        assert_eq!(keys.len(), 60, "{faults}");
        wait_for(&sim, &keys, Duration::from_secs(60)).await;
        // Until every record is settled: a record stored but unanswered is still pending.
        wait_drained(dir.path(), Duration::from_secs(60)).await;
        let stats = sim.stats();
        // Read back without faults.
        sim.set_faults(Faults::default()).unwrap();
        let stored: BTreeSet<String> = stored_keys(&sim).await.into_iter().collect();
        assert_eq!(stored, keys, "{faults}");
        assert_eq!(stats.duplicates, 0, "{faults}: {stats:?}");
        assert_eq!(stats.stored, 60, "{faults}: {stats:?}");
        assert!(
            stats.faults.values().sum::<u64>() > 0,
            "{faults}: no fault injected"
        );
        let (_, metrics) = get(&bridge.url, "/metrics").await;
        let found = metric(
            &metrics,
            "lorafield_delivery_lookups_total{result=\"found\"} ",
        );
        let absent = metric(
            &metrics,
            "lorafield_delivery_lookups_total{result=\"absent\"} ",
        );
        if faults.starts_with("drop-after") || faults.starts_with("slow") {
            // At these rates some post was stored and went unanswered (all 60 escaping a
            // 20% fault: about 1 in a million): found by its tag, not posted again. Not
            // asserted for the mix, whose 7% of such faults miss 60 posts about once in 80.
            assert!(found > 0.0, "{faults}: {metrics}");
        }
        assert_eq!(
            metric(&metrics, "lorafield_delivery_unknown_outcomes_total "),
            0.0,
            "{faults}"
        );
        eprintln!(
            "{faults}: stored {}, distinct {}, look-ups found {found}, absent {absent}",
            stats.stored, stats.distinct_keys
        );
        bridge.stop();
        sim.shutdown().await;
    }
}

/// The same faults with a pipe token, which can only post: the bridge cannot ask, posts again
/// what may have been stored, and counts each such attempt; every duplicate stored is one of
/// those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_pipe_token_possible_duplicates_are_counted() {
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        sim_config("status500=0.1,status429=0.05,drop-after=0.2,slow=0.05"),
    )
    .await
    .unwrap();
    let pipe = pipe_token(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &["--pipe-token", &pipe], &[]);
    let bodies: Vec<String> = (0..100).map(|i| uplink(i % 9, 7000 + i)).collect();
    let keys: BTreeSet<String> = post_all(&bridge.url, bodies, 8).await.into_iter().collect();
    assert_eq!(keys.len(), 100);
    wait_for(&sim, &keys, Duration::from_secs(60)).await;
    // Until the outbox is empty: the last duplicates may come after the last new key.
    wait_drained(dir.path(), Duration::from_secs(60)).await;
    let stats = sim.stats();
    let (_, metrics) = get(&bridge.url, "/metrics").await;
    let unknown = metric(&metrics, "lorafield_delivery_unknown_outcomes_total ");
    eprintln!("pipe: {stats:?}, unknown outcomes {unknown}");
    assert!(stats.faults["drop-after"] > 0, "{stats:?}");
    assert!(unknown > 0.0, "{metrics}");
    assert!(unknown >= stats.duplicates as f64, "{unknown} < {stats:?}");
    assert_eq!(stats.tag_queries, 0, "a pipe token cannot ask");
    let log = bridge.stop();
    assert!(log.contains("possibly a duplicate share"), "{log}");
    assert!(!log.contains(&pipe));
    sim.shutdown().await;
}

/// SIGKILL in the middle of a stream: every uplink acknowledged before the kill arrives once
/// the bridge is started again on the same outbox, and none twice: the records whose leases
/// ran out (in flight at the kill) are looked up before they are posted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_killed_mid_stream_delivers_every_acknowledged_uplink_after_restart() {
    // Slow answers keep deliveries in flight when the kill comes.
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config("slow=0.3"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    let url = bridge.url.clone();
    let bodies: Vec<String> = (0..3000).map(|i| uplink(i % 50, 5000 + i)).collect();
    let sender = tokio::spawn(async move { post_all(&url, bodies, 8).await });
    // Kill once some hundreds are acknowledged.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = lorafield_microshare::outbox::status(dir.path());
        if s.is_ok_and(|s| s.pending + s.in_flight + s.delivered >= 300) {
            break;
        }
        assert!(Instant::now() < deadline, "nothing acknowledged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bridge.kill();
    let acked: BTreeSet<String> = sender.await.unwrap().into_iter().collect();
    let leased = lorafield_microshare::outbox::status(dir.path())
        .unwrap()
        .in_flight;
    // At least 300 were committed when the kill came; a few of those may not have had their
    // 202 read by the senders yet, so the acknowledged count can fall just under 300.
    assert!(acked.len() >= 200 && acked.len() < 3000, "{}", acked.len());
    let before = sim.stats();
    assert!(
        (before.distinct_keys as usize) < acked.len(),
        "all delivered before the kill: {before:?}"
    );
    // No more faults: what follows is the restart's doing alone. (With slow answers still
    // drawn, a record whose look-ups and posts kept timing out backed off for a minute or more
    // past its lease, now and then beyond the waits below.)
    sim.set_faults(Faults::default()).unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    // Until every acknowledged key is stored: a count would not do, since records committed
    // but not yet acknowledged when the kill came are delivered too. A record whose request
    // was cut before it reached the simulator is sent again once its lease (2 min) runs out.
    let deadline = Instant::now() + Duration::from_secs(180);
    let stored = loop {
        let stored: BTreeSet<String> = stored_keys(&sim).await.into_iter().collect();
        if acked.is_subset(&stored) || Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        acked.is_subset(&stored),
        "{} acknowledged uplinks lost",
        acked.difference(&stored).count()
    );
    // Then until the outbox is empty: the records in flight at the kill are sent again once
    // their leases (2 min) run out, each looked up first.
    wait_drained(dir.path(), Duration::from_secs(200)).await;
    let stats = sim.stats();
    let (_, metrics) = get(&bridge.url, "/metrics").await;
    let lookups = metric(
        &metrics,
        "lorafield_delivery_lookups_total{result=\"found\"} ",
    ) + metric(
        &metrics,
        "lorafield_delivery_lookups_total{result=\"absent\"} ",
    );
    eprintln!(
        "acknowledged {}, leased at the kill {leased}, stored {}, distinct {}, duplicates {}, \
         look-ups {lookups}",
        acked.len(),
        stats.stored,
        stats.distinct_keys,
        stats.duplicates
    );
    assert_eq!(stats.duplicates, 0, "{stats:?}");
    assert!(leased > 0, "nothing was in flight at the kill");
    assert!(
        lookups >= leased as f64,
        "{lookups} look-ups for {leased} leases"
    );
    bridge.stop();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_password_token_is_fetched_again() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    let first: BTreeSet<String> = post_all(&bridge.url, (0..20).map(|i| uplink(1, i)).collect(), 4)
        .await
        .into_iter()
        .collect();
    wait_for(&sim, &first, Duration::from_secs(20)).await;
    sim.expire_password_tokens();
    let mut all = first.clone();
    all.extend(post_all(&bridge.url, (20..40).map(|i| uplink(1, i)).collect(), 4).await);
    let stats = wait_for(&sim, &all, Duration::from_secs(20)).await;
    assert_eq!(stats.stored, 40);
    let metrics = http()
        .get(format!("{}/metrics", bridge.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("lorafield_dead_letters_total 0"),
        "{metrics}"
    );
    bridge.stop();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_pipe_token_stops_delivery_and_keeps_the_outbox() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let pipe = pipe_token(&sim).await;
    sim.revoke_pipe_tokens();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &["--pipe-token", &pipe], &[]);
    let keys = post_all(&bridge.url, (0..10).map(|i| uplink(2, i)).collect(), 2).await;
    assert_eq!(keys.len(), 10, "uplinks are still taken in");
    // Degraded, not down: uplinks are still taken in (200), and the reason is given.
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        let r = http()
            .get(format!("{}/healthz", bridge.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        if v["status"] == "degraded" {
            break v;
        }
        assert!(Instant::now() < deadline, "delivery never stopped: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(health["checks"]["delivery"]["ok"], false, "{health}");
    assert_eq!(health["checks"]["outbox"]["ok"], true, "{health}");
    let detail = health["checks"]["delivery"]["detail"].as_str().unwrap();
    assert!(detail.contains("revoked"), "{health}");
    let log = bridge.stop();
    assert!(
        log.contains("delivery stopped") && log.contains("revoked"),
        "{log}"
    );
    assert!(!log.contains(&pipe), "the pipe token is in the logs");
    assert!(log.contains("with a pipe token"), "{log}");
    let status = lorafield_microshare::outbox::status(dir.path()).unwrap();
    assert_eq!(status.pending + status.in_flight, 10, "{status:?}");
    assert_eq!((status.delivered, status.dead), (0, 0));
    assert_eq!(sim.stats().stored, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_400_wrong_secrets_401_oversized_ones_413_and_nothing_is_enqueued() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(
        dir.path(),
        &sim.base_url(),
        &password_creds(),
        &["--body-limit", "4096", "--secret", "s3cr3t-hook"],
    );
    let client = http();
    let post = |body: String, secret: Option<&str>, query: &str| {
        let mut r = client
            .post(format!("{}/uplink{query}", bridge.url))
            .body(body);
        if let Some(s) = secret {
            r = r.header("x-lorafield-secret", s);
        }
        r.send()
    };
    let ok = Some("s3cr3t-hook");
    let cases: Vec<(String, Option<&str>, &str, u16)> = vec![
        ("not json".into(), ok, "", 400),
        ("[1,2]".into(), ok, "", 400),
        ("{\"foo\":1}".into(), ok, "", 400),
        (uplink(1, 1), ok, "?event=bogus", 400),
        (uplink(1, 1), None, "", 401),
        (uplink(1, 1), Some("wrong"), "", 401),
        (format!("{{\"pad\":\"{}\"}}", "x".repeat(5000)), ok, "", 413),
    ];
    for (body, secret, query, want) in cases {
        let r = post(body.clone(), secret, query).await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, want, "{body:.80}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(!v["error"].as_str().unwrap().is_empty());
    }
    // A payload that does not decode is still an uplink: forwarded, with its errors.
    let r = post(uplink(1, 2).replace("A2cA+A==", "/w=="), ok, "?event=up")
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["decoded"], false);
    let metrics = client
        .get(format!("{}/metrics", bridge.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("lorafield_uplinks_rejected_total 7"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lorafield_uplinks_enqueued_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lorafield_decode_failures_total 1"),
        "{metrics}"
    );
    let log = bridge.stop();
    assert!(!log.contains("s3cr3t-hook"));
    // Refusals are logged at warn, with the status and the reason, not one line each.
    let warned = |status: &str| {
        log.lines()
            .filter(|l| l.contains("WARN") && l.contains(&format!("rejected ({status}")))
            .count()
    };
    assert!((1..4).contains(&warned("400")), "{log}");
    assert!((1..=2).contains(&warned("401")), "{log}");
    assert!(
        log.contains("missing or wrong x-lorafield-secret header"),
        "{log}"
    );
    assert_eq!(warned("413"), 1, "{log}");
    sim.shutdown().await;
}

/// `redecode --to-microshare` sends re-decoded records through the outbox (faults and all);
/// `redecode --from-microshare` reads them back page by page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redecode_to_and_from_microshare() {
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        sim_config("status500=0.2,drop-after=0.1"),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shares = dir.path().join("shares.jsonl");
    let generated = Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .args(["gen-shares", "--count", "300", "-o"])
        .arg(&shares)
        .output()
        .unwrap();
    assert!(generated.status.success());
    let creds = password_creds();
    let url = sim.base_url();
    let run = |args: Vec<String>| {
        let out = Command::new(env!("CARGO_BIN_EXE_lorafield"))
            .arg("redecode")
            .args(&args)
            .args(["--microshare-url", &url, "--timeout", "2"])
            .args(&creds)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let outbox = dir.path().join("outbox");
    // Blocking this worker thread is fine: the simulator runs on the other one.
    let (code, stdout, stderr) = run(vec![
        "-q".into(),
        shares.display().to_string(),
        "--to-microshare".into(),
        "io.example.redecoded".into(),
        "--outbox".into(),
        outbox.display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("delivered 300"), "{stderr}");
    assert!(!stderr.contains(PASSWORD) && !stderr.contains(API_KEY));
    let stats = sim.stats();
    assert_eq!(stats.distinct_keys, 300, "{stats:?}");
    assert_eq!(
        stats.by_rec_type.get("io.example.redecoded"),
        Some(&stats.stored)
    );
    // The same delivery path as serve's: posts cut after storing are looked up, not posted
    // again.
    assert_eq!(stats.duplicates, 0, "{stats:?}");
    assert!(stats.faults["drop-after"] > 0, "{stats:?}");
    assert!(
        stderr.contains("found stored by an earlier attempt, not posted again"),
        "{stderr}"
    );
    sim.set_faults(Faults::default()).unwrap();
    // Read back: every stored share is a re-decoded envelope: nothing changes.
    let (code, stdout, stderr) = run(vec![
        "-q".into(),
        "--diff".into(),
        "--from-microshare".into(),
        "io.example.redecoded".into(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let summary = format!(
        "read {}: decoded {} (changed 0, unchanged {})",
        stats.stored, stats.stored, stats.stored
    );
    assert!(stderr.contains(&summary), "{stderr}");
    sim.shutdown().await;
}

/// A bridge whose lorafield.toml resolves each uplink's device from its `version_ids`: the
/// script of lorafield's own tree decodes it (on the bridge's script threads), and the stored
/// share carries the script's decoded payload and a stamp naming the script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_chosen_by_version_ids_decode_what_the_bridge_forwards() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim_config(""))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/device-repo");
    let config = dir.path().join("lorafield.toml");
    std::fs::write(
        &config,
        format!(
            "device_repo = {:?}\n[[rule]]\ncodec = \"device-repo\"\n",
            repo.display().to_string()
        ),
    )
    .unwrap();
    let outbox = dir.path().join("outbox");
    let bridge = Bridge::start(
        &outbox,
        &sim.base_url(),
        &password_creds(),
        &["--config", config.to_str().unwrap()],
    );
    // acme/th-sensor firmware 1.10: 23.1 degC, 40.5 %RH, 3.3 V.
    let body = r#"{"end_device_ids":{"device_id":"th-1","application_ids":{"application_id":"app"},"dev_eui":"70B3D57ED0000001"},"received_at":"2026-03-02T08:00:00Z","uplink_message":{"f_port":1,"f_cnt":1,"frm_payload":"AOdRtA==","received_at":"2026-03-02T08:00:00Z","version_ids":{"brand_id":"acme","model_id":"th-sensor","band_id":"EU_863_870"}}}"#;
    let keys: BTreeSet<String> = post_all(&bridge.url, vec![body.to_string()], 1)
        .await
        .into_iter()
        .collect();
    assert_eq!(keys.len(), 1, "{}", bridge.log());
    wait_for(&sim, &keys, Duration::from_secs(30)).await;
    let shares = shares(&sim).await;
    assert_eq!(shares.len(), 1);
    let share = &shares[0];
    let data = &share["data"];
    assert_eq!(
        data["uplink_message"]["decoded_payload"]["temperature"],
        23.1
    );
    assert_eq!(data["uplink_message"]["decoded_payload"]["humidity"], 40.5);
    assert_eq!(data["lorafield"]["codec"], "js");
    assert_eq!(data["lorafield"]["script"], "acme/th-sensor-v2-codec");
    bridge.stop();
    sim.shutdown().await;
}
