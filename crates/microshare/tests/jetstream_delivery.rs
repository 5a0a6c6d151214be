//! The delivery worker on JetStream: real `nats-server` and the simulator on loopback. Two
//! workers share the consumer and store every record once; a record a dead forwarder posted
//! and never acknowledged comes back, is looked up, and is not posted again; the server
//! killed under a running worker does not end it.

#[path = "support/nats_server.rs"]
mod nats_server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lorafield_microshare::Secret;
use lorafield_microshare::client::{Client, ClientConfig, Credentials, Endpoints};
use lorafield_microshare::outbox::NewRecord;
use lorafield_microshare::queue::jetstream::{
    ConsumerSettings, JetStream, NatsOptions, StreamSettings,
};
use lorafield_microshare::queue::{Queue, QueueError};
use lorafield_microshare::sim::{Latency, SimConfig, Simulator};
use lorafield_microshare::worker::{self, WorkerConfig, WorkerStats};
use nats_server::{NatsServer, Stop};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const REC_TYPE: &str = "io.example.delivery";
const ACK_WAIT: Duration = Duration::from_secs(2);

fn rec(i: u32) -> NewRecord {
    NewRecord {
        key: format!("lfk-{i:016x}"),
        rec_type: REC_TYPE.into(),
        body: format!("{{\"n\":{i}}}").into_bytes(),
    }
}

fn client(sim: &Simulator) -> Arc<Client> {
    let mut config = ClientConfig::new(
        Endpoints::same(&sim.base_url()),
        Credentials::Password {
            username: "user@example.org".into(),
            password: Secret::new("secret"),
            api_key: Secret::new("apikey"),
        },
    );
    config.timeout = Duration::from_secs(5);
    Arc::new(Client::new(config).unwrap())
}

async fn queue(url: &str) -> JetStream {
    JetStream::open(
        &NatsOptions {
            timeout: Duration::from_secs(2),
            ..NatsOptions::new(url)
        },
        StreamSettings::default(),
        Some(ConsumerSettings {
            ack_wait: ACK_WAIT,
            ..ConsumerSettings::default()
        }),
    )
    .await
    .unwrap()
}

struct Forward {
    stats: Arc<WorkerStats>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), QueueError>>,
}

fn forward(queue: JetStream, sim: &Simulator) -> Forward {
    let config = WorkerConfig {
        concurrency: 16,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(1),
        lease: ACK_WAIT,
        idle: Duration::from_millis(200),
        ..WorkerConfig::default()
    };
    let stats = Arc::new(WorkerStats::default());
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(worker::run(
        Arc::new(queue),
        client(sim),
        config,
        stats.clone(),
        stopped,
    ));
    Forward { stats, stop, task }
}

impl Forward {
    async fn stop(self) -> Arc<WorkerStats> {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the worker stops")
            .unwrap()
            .unwrap();
        self.stats
    }
}

/// Waits (bounded) until the simulator holds `n` distinct keys.
async fn until_stored(sim: &Simulator, n: u64, within: Duration) {
    let deadline = Instant::now() + within;
    while sim.stats().distinct_keys < n {
        assert!(Instant::now() < deadline, "only {:?}", sim.stats());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_consumer_and_store_every_record_once() {
    let server = NatsServer::start();
    let sim = Simulator::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        SimConfig {
            latency: Latency::new(Duration::from_millis(20), Duration::ZERO),
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let enqueuer = queue(&server.url()).await;
    let a = forward(queue(&server.url()).await, &sim);
    let b = forward(queue(&server.url()).await, &sim);
    for i in 0..400 {
        enqueuer.enqueue(rec(i)).await.unwrap();
    }
    until_stored(&sim, 400, Duration::from_secs(90)).await;
    let (a, b) = (a.stop().await, b.stop().await);
    let stats = sim.stats();
    assert_eq!(
        (stats.distinct_keys, stats.duplicates),
        (400, 0),
        "{stats:?}"
    );
    let (da, db) = (
        a.delivered.load(Ordering::Relaxed),
        b.delivered.load(Ordering::Relaxed),
    );
    assert_eq!(da + db, 400);
    assert!(da > 0 && db > 0, "both delivered: {da} + {db}");
    let s = enqueuer.status().await.unwrap();
    assert_eq!((s.pending, s.in_flight, s.dead), (0, 0, 0));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_a_dead_forward_posted_comes_back_is_looked_up_and_not_posted_again() {
    let server = NatsServer::start();
    let sim = Simulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), SimConfig::default())
        .await
        .unwrap();
    let q = queue(&server.url()).await;
    for i in 0..5 {
        q.enqueue(rec(i)).await.unwrap();
    }
    // A forward leases three, posts them, and dies before acknowledging any.
    let dead = queue(&server.url()).await;
    let mut leased = Vec::new();
    while leased.len() < 3 {
        leased.extend(
            dead.lease(3 - leased.len(), Duration::from_secs(1))
                .await
                .unwrap(),
        );
    }
    let c = client(&sim);
    for l in &leased {
        c.post_share(
            REC_TYPE,
            std::slice::from_ref(&l.record.key),
            &l.record.body,
        )
        .await
        .unwrap();
    }
    drop(leased);
    drop(dead);
    assert_eq!(sim.stats().distinct_keys, 3);
    // The next forward gets the two at once and the three when their leases run out.
    let f = forward(q.clone(), &sim);
    until_stored(&sim, 5, Duration::from_secs(60)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while f.stats.found.load(Ordering::Relaxed) < 3 {
        assert!(Instant::now() < deadline, "the three were not looked up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = f.stop().await;
    let sim_stats = sim.stats();
    assert_eq!(
        (sim_stats.distinct_keys, sim_stats.duplicates),
        (5, 0),
        "{sim_stats:?}"
    );
    assert_eq!(stats.found.load(Ordering::Relaxed), 3);
    assert_eq!(stats.delivered.load(Ordering::Relaxed), 5);
    let s = q.status().await.unwrap();
    assert_eq!((s.pending, s.in_flight), (0, 0));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_outlives_its_server_and_goes_on_when_it_is_back() {
    let mut server = NatsServer::start();
    let sim = Simulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), SimConfig::default())
        .await
        .unwrap();
    let q = queue(&server.url()).await;
    let f = forward(q.clone(), &sim);
    for i in 0..20 {
        q.enqueue(rec(i)).await.unwrap();
    }
    until_stored(&sim, 20, Duration::from_secs(30)).await;
    server.stop(Stop::Kill);
    let deadline = Instant::now() + Duration::from_secs(30);
    while f.stats.queue_failing().is_none() {
        assert!(Instant::now() < deadline, "the lost server went unnoticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!f.task.is_finished(), "the worker goes on");
    server.restart();
    server.wait_ready(Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = 20;
    while n < 30 {
        if q.enqueue(rec(n)).await.is_ok() {
            n += 1;
        } else {
            assert!(Instant::now() < deadline, "not reconnected");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    until_stored(&sim, 30, Duration::from_secs(60)).await;
    let stats = f.stop().await;
    assert_eq!(stats.queue_failing(), None);
    assert_eq!(sim.stats().duplicates, 0);
    sim.shutdown().await;
}
