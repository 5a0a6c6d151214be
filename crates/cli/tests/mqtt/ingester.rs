//! `lorafield ingest-mqtt` as a process for the tests, the messages they publish, and what
//! the simulator holds. Every wait is bounded.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lorafield_microshare::sim::Simulator;
use serde_json::Value;

use crate::common::{REC_TYPE, Watched, http, password_creds, uplink};

/// The topic filters of the tests: The Things Stack's uplinks and joins of one application,
/// every ChirpStack event.
pub(crate) const TOPICS: [&str; 3] = [
    "v3/app@ttn/devices/+/up",
    "v3/app@ttn/devices/+/join",
    "application/+/device/+/event/+",
];

/// A running `lorafield ingest-mqtt`: the process, its /metrics URL, what it logged.
pub(crate) struct Ingester {
    proc: Watched,
    url: String,
}

impl Ingester {
    /// Starts one on `broker` subscribed to [`TOPICS`], delivering to the simulator at `sim`
    /// (with `--no-deliver` in `extra`, not); returns once it serves /metrics.
    pub(crate) fn start(broker: &str, outbox: &Path, sim: &str, extra: &[&str]) -> Ingester {
        Ingester::start_with(broker, outbox, sim, extra, &[])
    }

    /// [`Ingester::start`] with these environment variables set.
    pub(crate) fn start_with(
        broker: &str,
        outbox: &Path,
        sim: &str,
        extra: &[&str],
        env: &[(&str, &Path)],
    ) -> Ingester {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lorafield"));
        command
            .args(["ingest-mqtt", "--broker", broker, "--rec-type", REC_TYPE])
            .args(["--listen", "127.0.0.1:0"])
            .arg("--outbox")
            .arg(outbox)
            .args(["--microshare-url", sim, "--timeout", "5"])
            .args(password_creds())
            .args(extra)
            .env("LORAFIELD_LOG", "debug")
            .env_remove("LORAFIELD_PIPE_TOKEN")
            .env_remove("LORAFIELD_MQTT_PASSWORD")
            .env_remove("LORAFIELD_MQTT_USERNAME")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for topic in TOPICS {
            command.args(["--topic", topic]);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        Ingester::spawn(command)
    }

    /// Spawns `command`, a `lorafield ingest-mqtt` with its options, and waits (20 s at most)
    /// until it says where it listens.
    pub(crate) fn spawn(command: Command) -> Ingester {
        let proc = Watched::spawn(command, "ingest-mqtt");
        Ingester {
            url: proc.url.clone(),
            proc,
        }
    }

    pub(crate) fn log(&self) -> String {
        self.proc.log()
    }

    /// GET /healthz: the status and the JSON.
    pub(crate) async fn health(&self) -> (u16, Value) {
        let r = http()
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// Waits (30 s at most) until /healthz answers `status`; returns its JSON.
    pub(crate) async fn wait_health(&self, status: u16) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (s, v) = self.health().await;
            if s == status {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "/healthz still {s}, not {status}: {v}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// /metrics, as `name{labels}` to value.
    pub(crate) async fn metrics(&self) -> BTreeMap<String, f64> {
        let text = http()
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                Some((name.to_string(), value.parse().ok()?))
            })
            .collect()
    }

    /// Waits (30 s at most) until metric `name` is at least `n`; returns every metric.
    pub(crate) async fn wait_metric(&self, name: &str, n: f64) -> BTreeMap<String, f64> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let m = self.metrics().await;
            if m.get(name).is_some_and(|v| *v >= n) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not reach {n}: {m:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (30 s at most) until `n` messages have been taken to the end: stored, found
    /// stored, ignored or refused; returns every metric.
    pub(crate) async fn wait_taken(&self, n: f64) -> BTreeMap<String, f64> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let m = self.metrics().await;
            let taken: f64 = m
                .iter()
                .filter(|(name, _)| {
                    name.starts_with("lorafield_uplinks_enqueued_total")
                        || name.starts_with("lorafield_uplinks_duplicate_total")
                        || name.starts_with("lorafield_uplinks_ignored_total{")
                        || name.starts_with("lorafield_mqtt_rejected_total{")
                })
                .map(|(_, v)| v)
                .sum();
            if taken >= n {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "{taken} of {n} messages taken: {m:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits (15 s at most) for a clean exit; returns what it logged.
    pub(crate) fn stop(mut self) -> String {
        self.proc.stop(Duration::from_secs(15))
    }
}

/// The Things Stack's uplink of device `n`, on its topic.
pub(crate) fn tts(n: u32, f_cnt: u32) -> (String, Vec<u8>) {
    (
        format!("v3/app@ttn/devices/dev-{n}/up"),
        uplink(n, f_cnt).into_bytes(),
    )
}

/// ChirpStack v4's uplink event of device `n` (JSON), on its topic.
pub(crate) fn chirpstack(n: u32, f_cnt: u32) -> (String, Vec<u8>) {
    let eui = format!("01010101{n:08X}");
    let body = format!(
        r#"{{"deduplicationId":"3ac7e3c4-4401-4b8d-9386-{f_cnt:012}","time":"2026-03-02T09:00:00.{f_cnt:06}+00:00","deviceInfo":{{"tenantId":"52f14cd4","tenantName":"ChirpStack","applicationId":"17c82e96","applicationName":"app","deviceName":"cs-{n}","devEui":"{eui}"}},"devAddr":"00189440","dr":1,"fCnt":{f_cnt},"fPort":3,"data":"A2cA+A==","rxInfo":[]}}"#
    );
    (
        format!(
            "application/17c82e96/device/{}/event/up",
            eui.to_lowercase()
        ),
        body.into_bytes(),
    )
}

/// Waits (30 s at most) until the simulator holds `n` distinct keys.
pub(crate) async fn wait_stored(sim: &Simulator, n: u64) -> lorafield_microshare::sim::SimStats {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = sim.stats();
        if stats.distinct_keys >= n {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} stored: {stats:?}",
            stats.distinct_keys
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
