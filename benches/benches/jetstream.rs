//! lorafield on NATS JetStream: uplinks accepted per second by `serve --queue`, and records
//! delivered per second by one and by two forwards against the simulator at 100 ms latency.
//!
//! ```sh
//! cargo bench -p lorafield-benches --bench jetstream
//! ```
//!
//! It starts a `nats-server` (JetStream, loopback, its own storage) for each part, and runs
//! `serve` and `forward` in this process (their real HTTP servers, NATS clients and delivery
//! workers), so that their figures are those of the code, not of process start-up.
//!
//! - **accept**: 20,000 TTS v3 webhook bodies posted by 32 concurrent senders (keep-alive) to
//!   one `serve --queue`; each answered 202 only after the server's acknowledgement of its
//!   publish. Printed: accepted/s, acknowledgement time p50/p99/max.
//! - **deliver**: 4,000 records already in the stream, delivered by one forward, then (on a
//!   fresh server) by two, each with `--concurrency 32` (its adaptive limit's ceiling), to the
//!   simulator answering every request after 100 ms. A forward's rate is bound by its ceiling
//!   and the latency (32 in flight / 0.1 s = 320/s at most), not by this machine's cores: the
//!   ratio of two to one measures how delivery scales across forwards. The rate is taken over
//!   the steady part (from 20% to 90% of the records stored), past the limit's ramp from 8.
//!
//! Everything shares the machine's cores (two here) with the senders and the simulator.

#[path = "../../crates/microshare/tests/support/nats_server.rs"]
mod nats_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lorafield::{Registry, Selection};
use lorafield_cli::forward::{ForwardOptions, forward};
use lorafield_cli::serve::{JetStreamOptions, ServeOptions, serve};
use lorafield_microshare::Secret;
use lorafield_microshare::client::{Client, ClientConfig, Credentials, Endpoints};
use lorafield_microshare::outbox::NewRecord;
use lorafield_microshare::queue::jetstream::{NatsOptions, StreamSettings};
use lorafield_microshare::queue::{JetStream, Queue};
use lorafield_microshare::sim::{Latency, SimConfig, Simulator};
use lorafield_microshare::worker::WorkerConfig;
use nats_server::NatsServer;

const SENDERS: usize = 32;
const ACCEPTED: usize = 20_000;
const DELIVERED: u32 = 4_000;
const CEILING: usize = 32;
const REC_TYPE: &str = "io.example.bench";

/// TTS v3 webhook bodies: the `data` of generated shares.
fn bodies(count: usize, seed: u64) -> Vec<String> {
    lorafield_benches::webhook_bodies(count, seed)
}

fn nats(server: &NatsServer) -> NatsOptions {
    NatsOptions::new(server.url())
}

/// `serve --queue` in this process: its address.
async fn start_serve(server: &NatsServer) -> String {
    let mut options = ServeOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        REC_TYPE,
        std::env::temp_dir().join("unused-outbox"),
    );
    options.queue = Some(JetStreamOptions {
        nats: nats(server),
        streams: StreamSettings::default(),
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(serve::<Client>(
        options,
        Selection::builtin_default(&Registry::builtin()),
        None,
        std::future::pending(),
        move |addr| {
            let _ = tx.send(addr);
        },
    ));
    format!("http://{}", rx.await.unwrap())
}

/// Posts every body with `SENDERS` senders; each request's acknowledgement time.
async fn post_all(url: &str, bodies: Arc<Vec<String>>) -> Vec<Duration> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(SENDERS)
        .build()
        .unwrap();
    lorafield_benches::post_all(&http, url, bodies, SENDERS).await
}

async fn accept() {
    let server = NatsServer::start();
    let url = start_serve(&server).await;
    // A warm-up: connections, the stream, the allocator.
    post_all(&url, Arc::new(bodies(2_000, 1))).await;
    let long = Arc::new(bodies(ACCEPTED, 2));
    let start = Instant::now();
    let mut times = post_all(&url, long.clone()).await;
    let elapsed = start.elapsed();
    times.sort_unstable();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "jetstream/accept: {} uplinks, {SENDERS} senders, one serve --queue: {:.2} s = {:.0} accepted/s; ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        long.len(),
        elapsed.as_secs_f64(),
        long.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );
}

/// Delivers `DELIVERED` records with `forwards` forwards; records/s over the steady part.
async fn deliver(forwards: usize) -> f64 {
    let server = NatsServer::start();
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimConfig {
            latency: Latency::new(Duration::from_millis(100), Duration::ZERO),
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let queue = JetStream::open(&nats(&server), StreamSettings::default(), None)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for chunk in 0..8u32 {
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            for i in (chunk..DELIVERED).step_by(8) {
                queue
                    .enqueue(NewRecord {
                        key: format!("lfk-{i:016x}"),
                        rec_type: REC_TYPE.into(),
                        body: format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(400)).into_bytes(),
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let user = &SimConfig::default().users[0];
    for _ in 0..forwards {
        let mut client = ClientConfig::new(
            Endpoints::same(&sim.base_url()),
            Credentials::Password {
                username: user.username.clone(),
                password: Secret::new(user.password.clone()),
                api_key: Secret::new(user.api_key.clone()),
            },
        );
        client.pool = CEILING;
        let client = Arc::new(Client::new(client).unwrap());
        let mut options = ForwardOptions::new(
            "127.0.0.1:0".parse().unwrap(),
            nats(&server),
            StreamSettings::default(),
        );
        options.worker = WorkerConfig {
            concurrency: CEILING,
            lease: options.worker.lease,
            ..WorkerConfig::default()
        };
        tokio::spawn(forward(options, client, std::future::pending(), |_| {}));
    }
    let total = u64::from(DELIVERED);
    let (low, high) = (total / 5, total * 9 / 10);
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut from = None;
    loop {
        let stored = sim.stats().distinct_keys;
        if from.is_none() && stored >= low {
            from = Some((Instant::now(), stored));
        }
        if stored >= high {
            let (at, count) = from.unwrap();
            let rate = (stored - count) as f64 / at.elapsed().as_secs_f64();
            let peak = sim.stats().peak_in_flight;
            println!(
                "jetstream/deliver: {forwards} forward(s), ceiling {CEILING} each, 100 ms latency: {rate:.0} delivered/s (steady part, {} records; at most {} in flight at once)",
                stored - count,
                peak
            );
            return rate;
        }
        assert!(Instant::now() < deadline, "{:?}", sim.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        accept().await;
        let one = deliver(1).await;
        let two = deliver(2).await;
        println!(
            "jetstream/deliver: two forwards deliver {:.2}x what one does",
            two / one
        );
    });
}
