//! What the end-to-end tests of `lorafield serve` share: the bridge as a process, the
//! simulator's configuration, uplinks, senders. Every wait is bounded.
#![allow(dead_code)] // each test file uses some of it

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lorafield_microshare::sim::{Faults, SimConfig, Simulator};
use serde_json::Value;

pub(crate) const USER: &str = "user@example.org";
pub(crate) const PASSWORD: &str = "secret-password-4711";
pub(crate) const API_KEY: &str = "apikey-0815";
pub(crate) const REC_TYPE: &str = "io.example.decoded";

pub(crate) fn sim_config(faults: &str) -> SimConfig {
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

/// A `lorafield` process watched through its stderr: the address of its `lorafield NAME:
/// listening on ADDR` line and every line it wrote, collected by a thread of its own.
pub(crate) struct Watched {
    child: Option<Child>,
    pub(crate) url: String,
    log: Arc<Mutex<String>>,
    name: String,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Watched {
    /// Spawns `command` (its stderr piped here) and waits (20 s at most) for the line that
    /// says where `lorafield NAME` listens.
    pub(crate) fn spawn(mut command: Command, name: &str) -> Watched {
        let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        let prefix = format!("lorafield {name}: listening on ");
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix(&prefix) {
                    let _ = tx.send(addr.to_string());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("lorafield {name} did not start: {}", log.lock().unwrap()));
        Watched {
            child: Some(child),
            url,
            log,
            name: name.to_string(),
            reader: Some(reader),
        }
    }

    /// Everything it wrote on stderr so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGKILL.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (`within` at most) for a clean exit; returns everything it logged,
    /// to its last line (the reader is joined once the pipe closes).
    pub(crate) fn stop(&mut self, within: Duration) -> String {
        let Some(mut child) = self.child.take() else {
            return self.log();
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(
                    status.success(),
                    "{}: exit {status}: {}",
                    self.name,
                    self.log()
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no exit after SIGTERM: {}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running bridge (`lorafield serve`): the process, its address, and what it wrote on
/// stderr.
pub(crate) struct Bridge {
    proc: Watched,
    pub(crate) url: String,
}

impl Bridge {
    pub(crate) fn start(outbox: &Path, sim: &str, creds: &[&str], extra: &[&str]) -> Bridge {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lorafield"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--rec-type", REC_TYPE])
            .arg("--outbox")
            .arg(outbox)
            .args(["--microshare-url", sim, "--timeout", "1"])
            .args(creds)
            .args(extra)
            .env("LORAFIELD_LOG", "debug")
            .env_remove("LORAFIELD_PIPE_TOKEN")
            .stdout(Stdio::null());
        let proc = Watched::spawn(command, "serve");
        Bridge {
            url: proc.url.clone(),
            proc,
        }
    }

    pub(crate) fn log(&self) -> String {
        self.proc.log()
    }

    pub(crate) fn kill(mut self) {
        self.proc.kill(); // SIGKILL
    }

    /// SIGTERM, then waits (10 s at most) for a clean exit.
    pub(crate) fn stop(mut self) -> String {
        self.proc.stop(Duration::from_secs(10))
    }
}

pub(crate) fn password_creds() -> Vec<&'static str> {
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
pub(crate) fn uplink(n: u32, f_cnt: u32) -> String {
    format!(
        r#"{{"end_device_ids":{{"device_id":"dev-{n}","application_ids":{{"application_id":"app"}},"dev_eui":"70B3D57ED00{n:05X}"}},"received_at":"2026-03-02T08:00:00Z","uplink_message":{{"f_port":3,"f_cnt":{f_cnt},"frm_payload":"A2cA+A==","rx_metadata":[],"received_at":"2026-03-02T08:00:{:02}.{f_cnt:06}Z"}}}}"#,
        f_cnt % 60
    )
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Posts `bodies` with `senders` concurrent senders; returns the keys acknowledged (202).
pub(crate) async fn post_all(url: &str, bodies: Vec<String>, senders: usize) -> Vec<String> {
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
pub(crate) async fn wait_for(
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

/// Waits (bounded) until the outbox in `dir` holds nothing pending or in flight.
pub(crate) async fn wait_drained(dir: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let status = lorafield_microshare::outbox::status(dir).unwrap();
        if status.pending + status.in_flight == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox never emptied: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every share the simulator holds under [`REC_TYPE`], as JSON, read back through the Share
/// API with the tests' password credentials.
pub(crate) async fn shares(sim: &Simulator) -> Vec<Value> {
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
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        for share in page.unwrap().objs {
            out.push(serde_json::from_str(share.get()).unwrap());
        }
    }
    out
}

/// Every stored share's key tag, read back through the Share API; each share checked to be
/// the decoded envelope of [`uplink`] with its stamp.
pub(crate) async fn stored_keys(sim: &Simulator) -> Vec<String> {
    let mut keys = Vec::new();
    for v in shares(sim).await {
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
    keys
}

/// Runs `lorafield ARGS` to its end (60 s at most); returns its exit code, stdout and stderr.
pub(crate) fn lorafield(args: &[&str], outbox: &Path) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lorafield"))
        .args(args)
        .arg("--outbox")
        .arg(outbox)
        .env_remove("LORAFIELD_PIPE_TOKEN")
        .env_remove("LORAFIELD_WEBHOOK_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lorafield {args:?} did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Posts `body` to the bridge's /uplink; returns the status and the JSON answer.
pub(crate) async fn post(client: &reqwest::Client, url: &str, body: String) -> (u16, Value) {
    let r = client
        .post(format!("{url}/uplink"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// The value of the metric line starting with `line_start` (its name, labels and a space).
pub(crate) fn metric(metrics: &str, line_start: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line_start))
        .unwrap_or_else(|| panic!("no {line_start}in\n{metrics}"))
        .trim()
        .parse()
        .unwrap()
}

/// A pipe token from the simulator's token endpoint.
pub(crate) async fn pipe_token(sim: &Simulator) -> String {
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
    token["access_token"].as_str().unwrap().to_string()
}

/// GET `path` of the bridge, as text.
pub(crate) async fn get(url: &str, path: &str) -> (u16, String) {
    let r = http().get(format!("{url}{path}")).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}
