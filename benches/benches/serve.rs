//! `lorafield serve` on loopback against the Microshare simulator: uplinks accepted per second
//! (each durably committed before its 202), the time to acknowledge one (p50, p99) with 8
//! concurrent senders, and uplinks delivered per second.
//!
//! - `serve/accept`: criterion times 2,000 webhook posts by 8 concurrent senders (keep-alive
//!   connections), the bridge delivering to the simulator at the same time.
//! - Then one longer run of 20,000 posts is timed request by request and printed: accepted/s,
//!   p50/p99/max acknowledgement time, and delivered/s (until the simulator holds every key).
//!
//! Bridge, simulator, delivery worker and senders share the machine's cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lorafield::{Registry, Selection};
use lorafield_cli::serve::{ServeOptions, serve};
use lorafield_microshare::Secret;
use lorafield_microshare::client::{Client, ClientConfig, Credentials, Endpoints};
use lorafield_microshare::sim::{SimConfig, Simulator};

const SENDERS: usize = 8;

/// TTS v3 webhook bodies: the `data` of generated shares.
fn bodies(count: usize, seed: u64) -> Vec<String> {
    lorafield_benches::webhook_bodies(count, seed)
}

/// Posts every body with `SENDERS` senders; returns each request's acknowledgement time.
async fn post_all(url: &str, bodies: Arc<Vec<String>>, http: &reqwest::Client) -> Vec<Duration> {
    lorafield_benches::post_all(http, url, bodies, SENDERS).await
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (sim, url) = runtime.block_on(async {
        let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), SimConfig::default())
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
        let options = ServeOptions::new(
            "127.0.0.1:0".parse().unwrap(),
            "io.example.bench",
            dir.path().to_path_buf(),
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        let selection = Selection::builtin_default(&Registry::builtin());
        tokio::spawn(serve(
            options,
            selection,
            Some(Arc::new(client)),
            std::future::pending(),
            move |addr| {
                let _ = tx.send(addr);
            },
        ));
        let addr = rx.await.unwrap();
        (sim, format!("http://{addr}"))
    });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(SENDERS)
        .build()
        .unwrap();

    // Fresh uplinks for every batch: the outbox answers an uplink it holds already as a
    // duplicate (200, nothing stored), which is not the path measured here.
    let mut seed = 100;
    let mut g = c.benchmark_group("serve");
    g.throughput(Throughput::Elements(2000));
    g.sample_size(10);
    g.bench_function("accept (8 senders)", |b| {
        b.iter_batched(
            || {
                seed += 1;
                Arc::new(bodies(2000, seed))
            },
            |batch| runtime.block_on(post_all(&url, batch, &http)),
            BatchSize::PerIteration,
        )
    });
    g.finish();

    // One long run, timed request by request, of uplinks not posted before.
    let long = Arc::new(bodies(20_000, 4));
    runtime.block_on(async {
        let stored_before = wait_quiet(&sim).await;
        let start = Instant::now();
        let mut times = post_all(&url, long.clone(), &http).await;
        let accepted = start.elapsed();
        let want = stored_before + long.len() as u64;
        let deadline = Instant::now() + Duration::from_secs(300);
        while sim.stats().stored < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let delivered = start.elapsed();
        let stats = sim.stats();
        let before = stored_before;
        let metrics = http.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
        let counter = |name: &str| -> f64 {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or(0.0)
        };
        let per_commit = counter("lorafield_uplinks_enqueued_total ")
            / counter("lorafield_outbox_enqueue_commits_total ").max(1.0);
        times.sort_unstable();
        let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
        eprintln!(
            "serve: {} uplinks, {SENDERS} senders: accepted in {:.2} s = {:.0}/s; ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; delivered in {:.2} s = {:.0}/s (stored {} in this run); {:.1} uplinks per commit that added some, over the whole bench",
            long.len(),
            accepted.as_secs_f64(),
            long.len() as f64 / accepted.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            times.last().unwrap().as_secs_f64() * 1e3,
            delivered.as_secs_f64(),
            long.len() as f64 / delivered.as_secs_f64(),
            stats.stored - before,
            per_commit,
        );
    });
}

/// Waits until the simulator's store stops growing (earlier deliveries done); returns it.
async fn wait_quiet(sim: &Simulator) -> u64 {
    let mut last = sim.stats().stored;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = sim.stats().stored;
        if now == last {
            return now;
        }
        last = now;
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
