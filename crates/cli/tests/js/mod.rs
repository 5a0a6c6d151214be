//! What the JetStream end-to-end tests share: `lorafield serve --queue` and `lorafield
//! forward` as processes, the simulator with latency, metrics, the stream's leader. Every wait
//! is bounded.
#![allow(dead_code)] // each test file uses some of it

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lorafield_microshare::sim::{Latency, Simulator};

use crate::common::{REC_TYPE, Watched, http, password_creds, sim_config};

/// A running `lorafield` process: its address (from its "listening on" line) and its log.
pub(crate) struct Proc {
    proc: Watched,
    pub(crate) url: String,
}

impl Proc {
    /// Starts `lorafield ARGS` and waits (20 s at most) for its "listening on" line.
    pub(crate) fn start(args: &[String]) -> Proc {
        Proc::start_logging(args, "debug")
    }

    /// [`Proc::start`] with `LORAFIELD_LOG=log`.
    pub(crate) fn start_logging(args: &[String], log: &str) -> Proc {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lorafield"));
        command
            .args(args)
            .env("LORAFIELD_LOG", log)
            .env_remove("LORAFIELD_PIPE_TOKEN")
            .env_remove("NATS_USER")
            .env_remove("NATS_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let proc = Watched::spawn(command, &args[0]);
        Proc {
            url: proc.url.clone(),
            proc,
        }
    }

    pub(crate) fn log(&self) -> String {
        self.proc.log()
    }

    /// SIGKILL.
    pub(crate) fn kill(&mut self) {
        self.proc.kill();
    }

    /// SIGTERM, then waits (30 s at most) for a clean exit.
    pub(crate) fn stop(&mut self) {
        self.proc.stop(Duration::from_secs(30));
    }

    /// `GET /metrics`.
    pub(crate) async fn metrics(&self) -> String {
        http()
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `GET /healthz`: the status code and the JSON.
    pub(crate) async fn health(&self) -> (u16, serde_json::Value) {
        let r = http()
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }
}

/// `lorafield serve --queue NATS` on a free loopback port, with `extra` arguments.
pub(crate) fn serve(nats: &str, extra: &[&str]) -> Proc {
    let mut args: Vec<String> = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rec-type",
        REC_TYPE,
        "--queue",
        nats,
        "--nats-timeout",
        "2s",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    Proc::start(&args)
}

/// `lorafield forward --queue NATS` to the simulator at `sim` with password credentials, its
/// `/metrics` on a free loopback port, with `extra` arguments.
pub(crate) fn forward(nats: &str, sim: &str, extra: &[&str]) -> Proc {
    let mut args: Vec<String> = [
        "forward",
        "--listen",
        "127.0.0.1:0",
        "--queue",
        nats,
        "--nats-timeout",
        "2s",
        "--microshare-url",
        sim,
        "--timeout",
        "5",
    ]
    .map(String::from)
    .to_vec();
    args.extend(password_creds().iter().map(|s| s.to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    Proc::start(&args)
}

/// The simulator with password credentials and `latency_ms` of latency per request.
pub(crate) async fn sim(latency_ms: u64) -> Simulator {
    let mut config = sim_config("");
    config.latency = Latency::new(Duration::from_millis(latency_ms), Duration::ZERO);
    Simulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

/// The value of the metric line that starts with `line_start`.
pub(crate) fn metric(metrics: &str, line_start: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in\n{metrics}"))
}

/// Posts `body` to `url`/uplink; the status (0 when no answer came) and the key of a 202.
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    body: String,
) -> (u16, Option<String>) {
    match client.post(format!("{url}/uplink")).body(body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let key = if status == 202 {
                let v: serde_json::Value = r.json().await.unwrap();
                v["key"].as_str().map(String::from)
            } else {
                None
            };
            (status, key)
        }
        Err(_) => (0, None),
    }
}

/// Waits (bounded) until the simulator holds every key of `keys`.
pub(crate) async fn until_stored(sim: &Simulator, keys: &BTreeSet<String>, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let stored: BTreeSet<String> = crate::common::stored_keys(sim).await.into_iter().collect();
        let missing = keys.difference(&stored).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} acknowledged keys not stored after {within:?}: {:?}",
            keys.len(),
            sim.stats()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The name of the node that leads `stream`, as the monitoring port at `http_port` says.
pub(crate) fn leader(http_port: u16, stream: &str) -> Option<String> {
    let mut conn = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], http_port))).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    conn.write_all(b"GET /jsz?accounts=true&streams=true HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).ok()?;
    let (_, body) = answer.split_once("\r\n\r\n")?;
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["account_details"]
        .as_array()?
        .iter()
        .flat_map(|a| a["stream_detail"].as_array().cloned().unwrap_or_default())
        .find(|s| s["name"] == stream)?["cluster"]["leader"]
        .as_str()
        .map(String::from)
}
