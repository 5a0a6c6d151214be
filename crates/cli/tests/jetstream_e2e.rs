//! lorafield past one machine, end to end: `serve --queue` and `forward` processes, real
//! `nats-server` processes (one, or a cluster of three) and the simulator, all on loopback.
//! Processes and servers are killed mid-stream; nothing acknowledged may be lost, and with a
//! password token nothing may be stored twice. Every wait is bounded; nothing asserts speed.

mod common;
mod js;
#[path = "../../microshare/tests/support/nats_server.rs"]
mod nats_server;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{http, stored_keys, uplink};
use js::{forward, leader, metric, post, serve, sim, until_stored};
use nats_server::{Cluster, NatsServer, Stop};

/// Posts `bodies` with `senders` concurrent senders spread over `urls`; returns the keys
/// acknowledged (202) and the other statuses seen.
async fn post_spread(
    urls: &[String],
    bodies: Vec<String>,
    senders: usize,
) -> (BTreeSet<String>, Vec<u16>) {
    let queue = Arc::new(Mutex::new(bodies));
    let mut tasks = Vec::new();
    for s in 0..senders {
        let (queue, url) = (queue.clone(), urls[s % urls.len()].clone());
        tasks.push(tokio::spawn(async move {
            let client = http();
            let (mut keys, mut other) = (Vec::new(), Vec::new());
            loop {
                let Some(body) = queue.lock().unwrap().pop() else {
                    break;
                };
                match post(&client, &url, body).await {
                    (202, Some(key)) => keys.push(key),
                    (status, _) => other.push(status),
                }
            }
            (keys, other)
        }));
    }
    let (mut keys, mut other) = (BTreeSet::new(), Vec::new());
    for t in tasks {
        let (k, o) = t.await.unwrap();
        keys.extend(k);
        other.extend(o);
    }
    (keys, other)
}

fn assert_once(stored: &[String], acknowledged: &BTreeSet<String>) {
    let distinct: BTreeSet<&String> = stored.iter().collect();
    assert_eq!(
        distinct.len(),
        stored.len(),
        "{} keys stored twice",
        stored.len() - distinct.len()
    );
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|k| !distinct.contains(k))
        .collect();
    assert!(missing.is_empty(), "acknowledged and lost: {missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serves_and_two_forwards_store_every_uplink_once() {
    let server = NatsServer::start();
    let sim = sim(20).await;
    let serves = [serve(&server.url(), &[]), serve(&server.url(), &[])];
    let forwards = [
        forward(&server.url(), &sim.base_url(), &["--concurrency", "16"]),
        forward(&server.url(), &sim.base_url(), &["--concurrency", "16"]),
    ];
    let urls: Vec<String> = serves.iter().map(|s| s.url.clone()).collect();
    let bodies: Vec<String> = (0..600).map(|i| uplink(i % 40, 100 + i)).collect();
    // Every body twice: as a webhook retried on the other bridge, a duplicate.
    let mut twice = bodies.clone();
    twice.extend(bodies);
    let (keys, other) = post_spread(&urls, twice, 8).await;
    assert_eq!(keys.len(), 600, "each uplink acknowledged once");
    assert!(
        other.iter().all(|s| *s == 200),
        "the rest duplicates: {other:?}"
    );
    assert_eq!(other.len(), 600);
    until_stored(&sim, &keys, Duration::from_secs(120)).await;
    let stored = stored_keys(&sim).await;
    assert_once(&stored, &keys);
    assert_eq!(stored.len(), 600);
    assert_eq!(sim.stats().duplicates, 0, "{:?}", sim.stats());
    // Both forwards delivered, through the one consumer.
    let mut delivered = Vec::new();
    for f in &forwards {
        delivered.push(metric(&f.metrics().await, "lorafield_deliveries_total "));
    }
    assert_eq!(delivered.iter().sum::<f64>(), 600.0, "{delivered:?}");
    assert!(delivered.iter().all(|d| *d > 0.0), "{delivered:?}");
    for s in &serves {
        let m = s.metrics().await;
        assert!(metric(&m, "lorafield_uplinks_enqueued_total ") > 0.0);
        assert_eq!(metric(&m, "lorafield_queue_available "), 1.0);
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_killed_mid_stream_loses_nothing_and_its_records_come_back() {
    let server = NatsServer::start();
    let sim = sim(300).await;
    let bridge = serve(&server.url(), &[]);
    let lease = ["--lease", "3s", "--concurrency", "32"];
    let mut first = forward(&server.url(), &sim.base_url(), &lease);
    let bodies: Vec<String> = (0..300).map(|i| uplink(i % 30, 500 + i)).collect();
    let (keys, other) = post_spread(std::slice::from_ref(&bridge.url), bodies, 8).await;
    assert_eq!((keys.len(), other.len()), (300, 0));
    // Mid-stream: some stored, more in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.stats().distinct_keys < 20 {
        assert!(Instant::now() < deadline, "{:?}", sim.stats());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    let at_kill = sim.stats().distinct_keys;
    assert!(at_kill < 300, "killed mid-stream, not after: {at_kill}");
    let second = forward(&server.url(), &sim.base_url(), &lease);
    until_stored(&sim, &keys, Duration::from_secs(120)).await;
    let stored = stored_keys(&sim).await;
    assert_once(&stored, &keys);
    // What the first had leased came back to the second after its lease, and was looked up
    // before it was posted again.
    let m = second.metrics().await;
    let lookups = metric(&m, "lorafield_delivery_lookups_total{result=\"found\"}")
        + metric(&m, "lorafield_delivery_lookups_total{result=\"absent\"}");
    assert!(lookups > 0.0, "no redelivered record was looked up:\n{m}");
    assert_eq!(sim.stats().duplicates, 0, "{:?}", sim.stats());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serve_killed_mid_stream_loses_nothing_its_sender_retries_elsewhere() {
    let server = NatsServer::start();
    let sim = sim(10).await;
    let mut doomed = serve(&server.url(), &[]);
    let other = serve(&server.url(), &[]);
    let _forward = forward(&server.url(), &sim.base_url(), &[]);
    let client = http();
    let mut keys = BTreeSet::new();
    let mut retried = 0;
    for i in 0..300u32 {
        let body = uplink(i % 25, 6000 + i);
        if i == 150 {
            doomed.kill();
        }
        // The Things Stack sends an uplink again when it got no 2xx; the load balancer
        // sends it to a bridge that is up.
        match post(&client, &doomed.url, body.clone()).await {
            (202, Some(key)) => {
                keys.insert(key);
            }
            _ => {
                retried += 1;
                let (status, key) = post(&client, &other.url, body).await;
                assert_eq!(status, 202, "{}", other.log());
                keys.insert(key.unwrap());
            }
        }
    }
    assert_eq!((keys.len(), retried), (300, 150));
    // Uplinks the dead bridge had stored but, say, not answered, sent again: duplicates.
    for i in 140..150u32 {
        let r = client
            .post(format!("{}/uplink", other.url))
            .body(uplink(i % 25, 6000 + i))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["duplicate"], true, "{v}");
    }
    until_stored(&sim, &keys, Duration::from_secs(120)).await;
    assert_once(&stored_keys(&sim).await, &keys);
    assert_eq!(sim.stats().duplicates, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_killed_mid_stream_loses_nothing_acknowledged() {
    let mut cluster = Cluster::start(3);
    let urls = cluster.urls();
    let replicated = ["--stream-replicas", "3"];
    let sim = sim(20).await;
    let bridge = serve(&urls, &replicated);
    let mut with_lease = replicated.to_vec();
    with_lease.extend(["--lease", "5s"]);
    let _forward = forward(&urls, &sim.base_url(), &with_lease);
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let sender = {
        let (url, acknowledged) = (bridge.url.clone(), acknowledged.clone());
        tokio::spawn(async move {
            let client = http();
            for i in 0..600u32 {
                // A refused uplink (while a new leader is elected) is sent again, as The
                // Things Stack does, a few times.
                for _ in 0..50 {
                    if let (202, Some(key)) = post(&client, &url, uplink(i % 50, 900 + i)).await {
                        acknowledged.lock().unwrap().insert(key);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    // Mid-stream, the node that leads the stream dies.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 150 {
        assert!(Instant::now() < deadline, "{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let leader = leader(cluster.nodes[0].http_port, "LORAFIELD").expect("a leader");
    let node = cluster
        .nodes
        .iter_mut()
        .find(|n| n.name() == leader)
        .expect("the leader is a node");
    node.stop(Stop::Kill);
    let before = acknowledged.lock().unwrap().len();
    tokio::time::timeout(Duration::from_secs(180), sender)
        .await
        .expect("bounded")
        .unwrap();
    let keys = acknowledged.lock().unwrap().clone();
    assert!(
        keys.len() > before,
        "uplinks are acknowledged after the loss"
    );
    until_stored(&sim, &keys, Duration::from_secs(180)).await;
    let stored = stored_keys(&sim).await;
    assert_once(&stored, &keys);
    sim.shutdown().await;
}

/// The single server stopped (`how`) mid-stream and started again: serve answers 503 while
/// it is down and takes uplinks again by itself afterwards; nothing acknowledged is lost.
async fn a_server_stopped_mid_stream(how: Stop) {
    let mut server = NatsServer::start();
    let sim = sim(50).await;
    let bridge = serve(&server.url(), &[]);
    let _forward = forward(&server.url(), &sim.base_url(), &["--lease", "3s"]);
    let client = http();
    let mut keys = BTreeSet::new();
    for i in 0..150 {
        let (status, key) = post(&client, &bridge.url, uplink(i % 20, 2000 + i)).await;
        assert_eq!(status, 202);
        keys.insert(key.unwrap());
    }
    server.stop(how);
    // While it is down: 503, never 202, and /healthz says why.
    for i in 0..10 {
        let (status, _) = post(&client, &bridge.url, uplink(99, 9000 + i)).await;
        assert_eq!(status, 503, "{}", bridge.log());
    }
    let (status, health) = bridge.health().await;
    assert_eq!(status, 503, "{health}");
    let detail = health["checks"]["queue"]["detail"].as_str().unwrap();
    assert!(detail.starts_with("uplinks cannot be stored: "), "{detail}");
    server.restart();
    server.wait_ready(Duration::from_secs(30));
    // Back by itself: no restart of serve or forward.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 0;
    while keys.len() < 300 {
        match post(&client, &bridge.url, uplink(i % 20, 4000 + i)).await {
            (202, Some(key)) => {
                keys.insert(key);
            }
            (status, _) => {
                assert_eq!(status, 503);
                assert!(Instant::now() < deadline, "not back: {}", bridge.log());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        i += 1;
    }
    assert_eq!(bridge.health().await.0, 200);
    until_stored(&sim, &keys, Duration::from_secs(120)).await;
    assert_once(&stored_keys(&sim).await, &keys);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_with_sigterm_mid_stream_loses_nothing_acknowledged() {
    a_server_stopped_mid_stream(Stop::Term).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_stream_loses_nothing_acknowledged() {
    a_server_stopped_mid_stream(Stop::Kill).await;
}
