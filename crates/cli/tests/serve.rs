//! `lorafield serve` end to end, over real HTTP on loopback: the bridge as a process, the
//! Microshare simulator in the test. Every wait is bounded.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lorafield_microshare::sim::{Faults, SimConfig, Simulator};
use serde_json::Value;

const USER: &str = "user@example.org";
const PASSWORD: &str = "secret-password-4711";
const API_KEY: &str = "apikey-0815";
const REC_TYPE: &str = "io.example.decoded";

fn sim_config(faults: &str) -> SimConfig {
    SimConfig {
        users: vec![lorafield_microshare::sim::SimUser {
            username: USER.into(),
            password: PASSWORD.into(),
            api_key: API_KEY.into(),
        }],
        faults: faults.parse::<Faults>().unwrap(),
        slow: Duration::from_millis(1500),
        ..SimConfig::default()
    }
}

/// A running bridge: the process, its address, and what it wrote on stderr.
struct Bridge {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Bridge {
    fn start(outbox: &Path, sim: &str, creds: &[&str], extra: &[&str]) -> Bridge {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lorafield"))
            .args(["serve", "--listen", "127.0.0.1:0", "--rec-type", REC_TYPE])
            .arg("--outbox")
            .arg(outbox)
            .args(["--microshare-url", sim, "--timeout", "1"])
            .args(creds)
            .args(extra)
            .env("LORAFIELD_LOG", "debug")
            .env_remove("LORAFIELD_PIPE_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("lorafield serve: listening on ") {
                    let _ = tx.send(addr.to_string());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the bridge did not start: {}", log.lock().unwrap()));
        Bridge { child, url, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (10 s at most) for a clean exit.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "exit {status}: {}", self.log());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn password_creds() -> Vec<&'static str> {
    vec![
        "--username",
        USER,
        "--password",
        PASSWORD,
        "--api-key",
        API_KEY,
    ]
}

/// A TTS v3 uplink of device `n` with frame counter `f_cnt` (Cayenne LPP temperature).
fn uplink(n: u32, f_cnt: u32) -> String {
    format!(
        r#"{{"end_device_ids":{{"device_id":"dev-{n}","application_ids":{{"application_id":"app"}},"dev_eui":"70B3D57ED00{n:05X}"}},"received_at":"2026-03-02T08:00:00Z","uplink_message":{{"f_port":3,"f_cnt":{f_cnt},"frm_payload":"A2cA+A==","rx_metadata":[],"received_at":"2026-03-02T08:00:{:02}.{f_cnt:06}Z"}}}}"#,
        f_cnt % 60
    )
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Posts `bodies` with `senders` concurrent senders; returns the keys acknowledged (202).
async fn post_all(url: &str, bodies: Vec<String>, senders: usize) -> Vec<String> {
    let client = http();
    let queue = Arc::new(Mutex::new(bodies));
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (client, queue, url) = (client.clone(), queue.clone(), format!("{url}/uplink"));
        tasks.push(tokio::spawn(async move {
            let mut keys = Vec::new();
            loop {
                let Some(body) = queue.lock().unwrap().pop() else {
                    break;
                };
                let Ok(r) = client.post(&url).body(body).send().await else {
                    break;
                };
                if r.status() == 202 {
                    let v: Value = r.json().await.unwrap();
                    keys.push(v["key"].as_str().unwrap().to_string());
                }
            }
            keys
        }));
    }
    let mut keys = Vec::new();
    for t in tasks {
        keys.extend(t.await.unwrap());
    }
    keys
}

/// Waits (bounded) until the simulator holds every key; returns its stats.
async fn wait_for(
    sim: &Simulator,
    keys: &BTreeSet<String>,
    within: Duration,
) -> lorafield_microshare::sim::SimStats {
    let deadline = Instant::now() + within;
    loop {
        let stats = sim.stats();
        if stats.distinct_keys as usize >= keys.len() {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} keys arrived: {stats:?}",
            stats.distinct_keys,
            keys.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every stored share's key tag, read back through the Share API.
async fn stored_keys(sim: &Simulator) -> Vec<String> {
    use lorafield_microshare::client::{Client, ClientConfig, Credentials, Endpoints};
    let client = Client::new(ClientConfig::new(
        Endpoints::same(&sim.base_url()),
        Credentials::Password {
            username: USER.into(),
            password: lorafield_microshare::Secret::new(PASSWORD),
            api_key: lorafield_microshare::Secret::new(API_KEY),
        },
    ))
    .unwrap();
    let mut pages = client.pages(REC_TYPE, 100);
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        for share in page.unwrap().objs {
            let v: Value = serde_json::from_str(share.get()).unwrap();
            let tags = v["tags"].as_array().cloned().unwrap_or_default();
            let key = tags
                .iter()
                .filter_map(Value::as_str)
                .find(|t| t.starts_with("lfk-"));
            keys.push(key.expect("every share carries its key tag").to_string());
            // What was stored is the decoded envelope with its stamp.
            assert_eq!(
                v["data"]["uplink_message"]["decoded_payload"]["temperature_3"],
                24.8
            );
            assert_eq!(v["data"]["lorafield"]["codec"], "cayenne-lpp");
        }
    }
    keys
}

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
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
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

/// Each fault class at a high rate: every acknowledged uplink still arrives; duplicates are
/// counted (stored - distinct keys), and only drops after storing and slow answers make them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_class_still_delivers_everything() {
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
        let stats = wait_for(&sim, &keys, Duration::from_secs(60)).await;
        // Read back without faults.
        sim.set_faults(Faults::default()).unwrap();
        let stored: BTreeSet<String> = stored_keys(&sim).await.into_iter().collect();
        assert_eq!(stored, keys, "{faults}");
        let duplicates = stats.stored - stats.distinct_keys;
        if !faults.contains("drop-after") && !faults.contains("slow") {
            assert_eq!(duplicates, 0, "{faults}: {stats:?}");
        }
        assert!(
            stats.faults.values().sum::<u64>() > 0,
            "{faults}: no fault injected"
        );
        eprintln!(
            "{faults}: stored {}, distinct {}, duplicates {duplicates}",
            stats.stored, stats.distinct_keys
        );
        bridge.stop();
        sim.shutdown().await;
    }
}

/// SIGKILL in the middle of a stream: every uplink acknowledged before the kill arrives once
/// the bridge is started again on the same outbox.
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
    // At least 300 were committed when the kill came; a few of those may not have had their
    // 202 read by the senders yet, so the acknowledged count can fall just under 300.
    assert!(acked.len() >= 200 && acked.len() < 3000, "{}", acked.len());
    let before = sim.stats();
    assert!(
        (before.distinct_keys as usize) < acked.len(),
        "all delivered before the kill: {before:?}"
    );
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &password_creds(), &[]);
    let stats = wait_for(&sim, &acked, Duration::from_secs(90)).await;
    let stored: BTreeSet<String> = stored_keys(&sim).await.into_iter().collect();
    assert!(
        acked.is_subset(&stored),
        "{} acknowledged uplinks lost",
        acked.difference(&stored).count()
    );
    eprintln!(
        "acknowledged {}, stored {}, distinct {}, duplicates {}",
        acked.len(),
        stats.stored,
        stats.distinct_keys,
        stats.stored - stats.distinct_keys
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
    // A pipe token from the simulator's token endpoint.
    let token: Value = http()
        .post(format!(
            "{}/oauth2/token?username={USER}&password={PASSWORD}&client_id={API_KEY}&grant_type=pipe&scope=ALL:ALL",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pipe = token["access_token"].as_str().unwrap().to_string();
    sim.revoke_pipe_tokens();
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(dir.path(), &sim.base_url(), &["--pipe-token", &pipe], &[]);
    let keys = post_all(&bridge.url, (0..10).map(|i| uplink(2, i)).collect(), 2).await;
    assert_eq!(keys.len(), 10, "uplinks are still taken in");
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        let r = http()
            .get(format!("{}/healthz", bridge.url))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            break r.text().await.unwrap();
        }
        assert!(Instant::now() < deadline, "delivery never stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(health.contains("revoked"), "{health}");
    let log = bridge.stop();
    assert!(
        log.contains("delivery stopped") && log.contains("revoked"),
        "{log}"
    );
    assert!(!log.contains(&pipe), "the pipe token is in the logs");
    let status = lorafield_microshare::outbox::status(dir.path()).unwrap();
    assert_eq!(status.pending + status.in_flight, 10, "{status:?}");
    assert_eq!((status.delivered, status.dead), (0, 0));
    assert_eq!(sim.stats().stored, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_400_and_oversized_ones_413_and_nothing_is_enqueued() {
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
    let join = r#"{"end_device_ids":{"device_id":"d"},"join_accept":{"session_key_id":"AQ=="}}"#;
    let cases: Vec<(String, Option<&str>, &str, u16)> = vec![
        ("not json".into(), ok, "", 400),
        ("[1,2]".into(), ok, "", 400),
        (join.into(), ok, "", 400),
        ("{\"foo\":1}".into(), ok, "", 400),
        (uplink(1, 1).replace("\"f_port\":3,", ""), ok, "", 400),
        (uplink(1, 1), ok, "?event=join", 400),
        (uplink(1, 1), None, "", 401),
        (uplink(1, 1), Some("wrong"), "", 401),
        (format!("{{\"pad\":\"{}\"}}", "x".repeat(5000)), ok, "", 413),
    ];
    for (body, secret, query, want) in cases {
        let r = post(body.clone(), secret, query).await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, want, "{body:.80}: {text}");
        if want == 400 {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert!(!v["error"].as_str().unwrap().is_empty());
        }
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
        metrics.contains("lorafield_uplinks_rejected_total 9"),
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
