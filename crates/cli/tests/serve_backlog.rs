//! A bridge that cannot deliver as fast as uplinks arrive says so: once per episode in its
//! log, and in `/healthz` while it lasts. In process (for a backlog window of 2 s rather than a
//! minute), over real HTTP on loopback; every wait is bounded.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{get, metric, uplink};
use lorafield::{Registry, Selection};
use lorafield_cli::serve::{ServeOptions, serve};
use lorafield_microshare::Secret;
use lorafield_microshare::client::{Client, ClientConfig, Credentials, Endpoints};
use lorafield_microshare::sim::{Latency, SimConfig, Simulator};
use serde_json::Value;

/// The log lines written, for the test to read.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

async fn delivery_check(url: &str) -> (String, bool, String) {
    let (status, text) = get(url, "/healthz").await;
    assert_eq!(status, 200, "uplinks are still taken: {text}");
    let health: Value = serde_json::from_str(&text).unwrap();
    let check = &health["checks"]["delivery"];
    (
        health["status"].as_str().unwrap().to_owned(),
        check["ok"].as_bool().unwrap(),
        check["detail"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falling_behind_is_warned_once_and_degrades_delivery_until_it_catches_up() {
    let log = Log::default();
    let writer = log.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    // Microshare takes 10 shares a second; uplinks come at about 30 a second.
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimConfig {
            latency: Latency::new(Duration::from_millis(20), Duration::ZERO),
            rate_limit: Some(10),
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let user = &SimConfig::default().users[0];
    let client = Client::new(ClientConfig::new(
        Endpoints::same(&sim.base_url()),
        Credentials::Password {
            username: user.username.clone(),
            password: Secret::new(user.password.clone()),
            api_key: Secret::new(user.api_key.clone()),
        },
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = ServeOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        "io.example.backlog",
        dir.path().to_path_buf(),
    );
    options.backlog_window = Duration::from_secs(2);
    options.backlog_interval = Duration::from_millis(100);
    options.worker.base_delay = Duration::from_millis(100);
    options.worker.max_delay = Duration::from_secs(1);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let bridge = tokio::spawn(serve(
        options,
        Selection::builtin_default(&Registry::builtin()),
        Some(Arc::new(client)),
        async {
            let _ = stop_rx.await;
        },
        move |addr| {
            let _ = ready_tx.send(addr);
        },
    ));
    let url = format!("http://{}", ready_rx.await.unwrap());
    let (status, ok, detail) = delivery_check(&url).await;
    assert_eq!((status.as_str(), ok), ("ok", true), "{detail}");

    // Posting at about 30 a second until the check says the bridge falls behind.
    let http = common::http();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = 0;
    let detail = loop {
        for _ in 0..3 {
            let r = http
                .post(format!("{url}/uplink"))
                .body(uplink(n % 20, 100 + n))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            n += 1;
        }
        let (status, ok, detail) = delivery_check(&url).await;
        if !ok {
            assert_eq!(status, "degraded", "{detail}");
            break detail;
        }
        assert!(Instant::now() < deadline, "never found behind: {detail}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        detail.starts_with("delivery is falling behind: the outbox grew by "),
        "{detail}"
    );
    for words in [
        "uplinks arrive at ",
        "are delivered at ",
        "the concurrency limit",
    ] {
        assert!(detail.contains(words), "{words}: {detail}");
    }
    let (_, metrics) = get(&url, "/metrics").await;
    assert_eq!(metric(&metrics, "lorafield_delivery_falling_behind "), 1.0);
    let arrival = metric(&metrics, "lorafield_outbox_arrival_rate ");
    let delivery = metric(&metrics, "lorafield_delivery_rate ");
    assert!(arrival > delivery, "{arrival} vs {delivery}");

    // Uplinks stop: the backlog drains, the episode ends, the check is ok again.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, ok, detail) = delivery_check(&url).await;
        let empty = lorafield_microshare::outbox::status(dir.path())
            .is_ok_and(|s| s.pending + s.in_flight == 0);
        if ok && empty {
            break;
        }
        assert!(Instant::now() < deadline, "never caught up: {detail}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, metrics) = get(&url, "/metrics").await;
    assert_eq!(metric(&metrics, "lorafield_delivery_falling_behind "), 0.0);
    assert_eq!(
        metric(&metrics, "lorafield_delivery_backlog_warnings_total "),
        1.0,
        "one episode, one warning"
    );
    let _ = stop_tx.send(());
    bridge.await.unwrap().unwrap();
    let log = log.text();
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("delivery is falling behind"))
        .collect();
    assert_eq!(warned.len(), 1, "{log}");
    assert!(warned[0].contains("uplinks arrive at"), "{log}");
    assert!(log.contains("delivery is catching up"), "{log}");
    assert_eq!(sim.stats().distinct_keys, u64::from(n));
    sim.shutdown().await;
}
