//! `lorafield serve` delivering over a 100 ms path: the bridge in process (its HTTP server,
//! outbox, delivery worker and the real client), the Microshare simulator with `--latency 100`
//! in the same process, uplinks posted by 8 senders over keep-alive connections. A bench
//! binary (figures, not a criterion measurement: each scenario is one run of many thousand
//! records), printed to standard error:
//!
//! - `drain`: delivery alone: an outbox filled before the bridge starts, delivered from its
//!   start to the last record stored; adaptive (20,000 records) against `--adaptive off` at 8
//!   (1,000: at 80 a second, 20,000 would take four minutes).
//! - `burst`: uplinks posted as fast as the senders go while the bridge delivers (acceptance
//!   and delivery share the cores); records delivered per second (from the first post to the
//!   last record stored), how fast they were accepted, and accept-to-stored time (p50, p99; it
//!   includes any wait in the backlog), adaptive (20,000) against fixed at 8 (1,000).
//! - `paced`: 500 uplinks a second for 4 s, both ways: accept-to-stored when the bridge keeps
//!   up (adaptive) and when it does not (fixed at 8).
//! - `rate-limit`: adaptive against `--rate-limit 500` (and the 100 ms), a burst of 10,000
//!   records; the delivery rate over the whole run and over its second half, and the 429s
//!   drawn.
//!
//! For each: the concurrency limit's peak and last value, and its decreases, from `/metrics`
//! sampled every 100 ms; the simulator's counts; the CPU time the process used (bridge,
//! simulator and senders together), per record and as a share of the wall time. The load
//! average is printed before and after: on a shared machine a scenario is often bound by the
//! CPU time the neighbours leave it, which the CPU share shows.
//!
//! ```sh
//! cargo bench -p lorafield-benches --bench delivery            # every scenario, 2-3 minutes
//! cargo bench -p lorafield-benches --bench delivery -- drain   # the scenarios named
//! # on a busy machine, what the code does rather than what the neighbours leave it:
//! cargo bench -p lorafield-benches --bench delivery --no-run
//! chrt -f 50 target/release/deps/delivery-<hash> --bench
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lorafield::{Registry, Selection};
use lorafield_cli::serve::{ServeOptions, serve};
use lorafield_microshare::Secret;
use lorafield_microshare::client::{Client, ClientConfig, Credentials, Endpoints};
use lorafield_microshare::sim::{Latency, SimConfig, SimStats, Simulator};
use lorafield_microshare::worker::WorkerConfig;

const SENDERS: usize = 8;
const LATENCY: Duration = Duration::from_millis(100);

/// A bridge in process, delivering to its own simulator.
struct Bridge {
    sim: Simulator,
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// A simulator with `sim` and a bridge with `worker` delivering to it; `backlog` bodies are in
/// the outbox before the bridge starts (keys `lfk-<index>`).
async fn start(sim: SimConfig, worker: WorkerConfig, backlog: Vec<String>) -> (Bridge, Instant) {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), sim)
        .await
        .unwrap();
    let user = &SimConfig::default().users[0];
    let mut config = ClientConfig::new(
        Endpoints::same(&sim.base_url()),
        Credentials::Password {
            username: user.username.clone(),
            password: Secret::new(user.password.clone()),
            api_key: Secret::new(user.api_key.clone()),
        },
    );
    config.pool = worker.concurrency;
    let client = Client::new(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    if !backlog.is_empty() {
        let outbox = lorafield_microshare::outbox::Outbox::open(dir.path()).unwrap();
        let records = backlog
            .into_iter()
            .enumerate()
            .map(|(i, body)| lorafield_microshare::outbox::NewRecord {
                key: format!("lfk-{i:016x}"),
                rec_type: "io.example.bench".into(),
                body: body.into_bytes(),
            })
            .collect();
        tokio::task::spawn_blocking(move || outbox.enqueue_many_blocking(records).unwrap())
            .await
            .unwrap();
    }
    let mut options = ServeOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        "io.example.bench",
        dir.path().to_path_buf(),
    );
    options.worker = worker;
    let (ready, addr) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(
            options,
            Selection::builtin_default(&Registry::builtin()),
            Some(Arc::new(client)),
            async {
                let _ = stopped.await;
            },
            move |addr| {
                let _ = ready.send(addr);
            },
        )
        .await
        .expect("the bridge");
    });
    let url = format!("http://{}", addr.await.unwrap());
    let started = Instant::now();
    let bridge = Bridge {
        sim,
        url,
        stop,
        task,
        _dir: dir,
    };
    (bridge, started)
}

impl Bridge {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
        self.sim.shutdown().await;
    }
}

/// Posts every body with `SENDERS` senders, at `rate` a second if given; returns each key
/// acknowledged (202) and when.
async fn post_all(url: &str, bodies: Vec<String>, rate: Option<f64>) -> Vec<(String, Instant)> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(SENDERS)
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..SENDERS {
        let (next, bodies, http, url) = (
            next.clone(),
            bodies.clone(),
            http.clone(),
            format!("{url}/uplink"),
        );
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                if let Some(rate) = rate {
                    tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate))
                        .await;
                }
                let r = http.post(&url).body(body.clone()).send().await.unwrap();
                let status = r.status().as_u16();
                let v: serde_json::Value = r.json().await.unwrap();
                if status == 202 {
                    acked.push((v["key"].as_str().unwrap().to_string(), Instant::now()));
                }
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    acked
}

/// The concurrency limit as `/metrics` shows it, sampled every 100 ms until `done`.
#[derive(Debug, Default, Clone, Copy)]
struct Limits {
    peak: f64,
    last: f64,
    decreases: f64,
}

async fn sample_limits(url: String, done: Arc<tokio::sync::Notify>) -> Limits {
    let http = reqwest::Client::new();
    let mut limits = Limits::default();
    loop {
        let text = match http.get(format!("{url}/metrics")).send().await {
            Ok(r) => r.text().await.ok(),
            Err(_) => None,
        };
        if let Some(text) = text {
            let value = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            limits.last = value("lorafield_delivery_concurrency_limit ");
            limits.peak = limits.peak.max(limits.last);
            limits.decreases = value("lorafield_delivery_limit_decreases_total ");
        }
        tokio::select! {
            () = done.notified() => return limits,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Waits until the simulator holds every key; returns when each was first stored. Polls the
/// count of distinct keys (cheap), and takes the map of first-stored times once at the end.
async fn stored(sim: &Simulator, acked: &[(String, Instant)]) -> HashMap<String, Instant> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        if sim.stats().distinct_keys as usize >= acked.len() {
            let stored = sim.first_stored();
            if acked.iter().all(|(k, _)| stored.contains_key(k)) {
                return stored;
            }
        }
        assert!(Instant::now() < deadline, "not all stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What one scenario measured.
struct Figures {
    records: usize,
    seconds: f64,
    /// From the first post to the last 202 (zero for a backlog).
    accepted: Duration,
    /// CPU time of the whole process (bridge, simulator, senders) over the scenario.
    cpu: f64,
    p50: Duration,
    p99: Duration,
    limits: Limits,
    sim: SimStats,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.records as f64 / self.seconds
    }
}

/// How the records of a scenario come.
#[derive(Clone, Copy)]
enum Arrival {
    /// In the outbox before the bridge starts.
    Backlog,
    /// Posted as fast as the senders go.
    Burst,
    /// Posted at this many a second.
    Paced(f64),
}

/// Runs one scenario: a bridge with `worker` against a simulator with `sim`, `count`
/// records arriving as `arrival` says. For a backlog, "accepted" is the bridge's start.
async fn scenario(
    sim: SimConfig,
    worker: WorkerConfig,
    count: usize,
    seed: u64,
    arrival: Arrival,
) -> (Figures, Vec<(String, Instant)>, HashMap<String, Instant>) {
    let bodies = lorafield_benches::webhook_bodies(count, seed);
    let (bodies, backlog) = match arrival {
        Arrival::Backlog => (Vec::new(), bodies),
        _ => (bodies, Vec::new()),
    };
    let (bridge, started) = start(sim, worker, backlog).await;
    let done = Arc::new(tokio::sync::Notify::new());
    let sampler = tokio::spawn(sample_limits(bridge.url.clone(), done.clone()));
    let (first, cpu_at_first) = (Instant::now(), cpu_seconds());
    let acked = match arrival {
        Arrival::Backlog => (0..count)
            .map(|i| (format!("lfk-{i:016x}"), started))
            .collect(),
        Arrival::Burst => post_all(&bridge.url, bodies, None).await,
        Arrival::Paced(rate) => post_all(&bridge.url, bodies, Some(rate)).await,
    };
    let first = match arrival {
        Arrival::Backlog => started,
        Arrival::Burst | Arrival::Paced(_) => first,
    };
    let accepted = acked.iter().map(|(_, at)| *at).max().unwrap() - first;
    let stored = stored(&bridge.sim, &acked).await;
    let cpu = cpu_seconds() - cpu_at_first;
    let last = acked.iter().map(|(k, _)| stored[k]).max().unwrap();
    done.notify_one();
    let limits = sampler.await.unwrap();
    let mut waits: Vec<Duration> = acked.iter().map(|(k, at)| stored[k] - *at).collect();
    waits.sort_unstable();
    let pct = |p: f64| waits[((waits.len() as f64 * p) as usize).min(waits.len() - 1)];
    let figures = Figures {
        records: acked.len(),
        seconds: (last - first).as_secs_f64(),
        accepted,
        cpu,
        p50: pct(0.50),
        p99: pct(0.99),
        limits,
        sim: bridge.sim.stats(),
    };
    bridge.stop().await;
    (figures, acked, stored)
}

fn print(name: &str, f: &Figures) {
    let accepted = match f.accepted.as_secs_f64() {
        0.0 => String::new(),
        s => format!(
            " (all accepted in {s:.1} s = {:.0}/s)",
            f.records as f64 / s
        ),
    };
    eprintln!(
        "{name}: {} records in {:.1} s = {:.0} delivered/s{accepted}; accept-to-stored p50 {:.0} ms, \
         p99 {:.0} ms; limit peak {:.0}, last {:.0}, {:.0} decreases; simulator: {} requests, {} \
         429s, {} stored, {} duplicates, peak {} in flight; process CPU {:.1} s ({:.2} ms a record, \
         {:.2} of the CPUs on average)",
        f.records,
        f.seconds,
        f.rate(),
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.limits.peak,
        f.limits.last,
        f.limits.decreases,
        f.sim.requests,
        f.sim.rate_limited,
        f.sim.stored,
        f.sim.duplicates,
        f.sim.peak_in_flight,
        f.cpu,
        f.cpu * 1e3 / f.records as f64,
        f.cpu / f.seconds,
    );
}

/// The CPU time this process has used (user and system), from `/proc/self/stat` (in ticks of
/// 10 ms, Linux's USER_HZ); 0 where that cannot be read.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The fields after the command's closing parenthesis: state is the first, utime the 12th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    // `cargo bench` passes `--bench`; a filter word runs only the scenarios it names.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    eprintln!(
        "delivery bench: {} CPUs, load average {} at the start",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    let latency = SimConfig {
        latency: Latency::new(LATENCY, Duration::ZERO),
        ..SimConfig::default()
    };
    let adaptive = WorkerConfig::default();
    let fixed = WorkerConfig {
        concurrency: 8,
        adaptive: None,
        ..WorkerConfig::default()
    };
    runtime.block_on(async {
        for (name, arrival) in [("drain", Arrival::Backlog), ("burst", Arrival::Burst)] {
            if !wanted(name) {
                continue;
            }
            let (a, ..) = scenario(latency.clone(), adaptive, 20_000, 11, arrival).await;
            print(&format!("{name}, adaptive"), &a);
            let (f, ..) = scenario(latency.clone(), fixed, 1_000, 12, arrival).await;
            print(&format!("{name}, --adaptive off at 8"), &f);
            eprintln!(
                "{name}: adaptive delivers {:.1}x the fixed 8",
                a.rate() / f.rate()
            );
        }
        if wanted("paced") {
            let paced = Arrival::Paced(500.0);
            let (a, ..) = scenario(latency.clone(), adaptive, 2_000, 13, paced).await;
            print("paced 500/s, adaptive", &a);
            let (f, ..) = scenario(latency.clone(), fixed, 2_000, 14, paced).await;
            print("paced 500/s, --adaptive off at 8", &f);
        }
        if wanted("rate-limit") {
            let limited = SimConfig {
                rate_limit: Some(500),
                ..latency.clone()
            };
            let (r, acked, stored) = scenario(limited, adaptive, 10_000, 15, Arrival::Burst).await;
            print("rate-limit 500/s, adaptive", &r);
            // The second half of the records stored: the steady state.
            let mut times: Vec<Instant> = acked.iter().map(|(k, _)| stored[k]).collect();
            times.sort_unstable();
            let half = &times[times.len() / 2..];
            let steady = half.len() as f64 / (half[half.len() - 1] - half[0]).as_secs_f64();
            eprintln!(
                "rate-limit 500/s: {:.0} delivered/s over the whole drain, {steady:.0}/s over its second half; \
                 {} 429s = {:.1}% of {} share requests",
                r.rate(),
                r.sim.rate_limited,
                100.0 * r.sim.rate_limited as f64 / r.sim.requests as f64,
                r.sim.requests,
            );
        }
    });
    eprintln!("delivery bench: load average {} at the end", load_average());
}
