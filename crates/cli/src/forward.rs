//! `lorafield forward`: delivers the records of a JetStream queue to Microshare, from the
//! durable consumer every forward shares, with the delivery worker of `serve` (the adaptive
//! limit, backoff, dead letters, a look-up before posting again a record that was delivered
//! before, a redelivery included). `/healthz` and `/metrics` on its own address.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lorafield_microshare::outbox::now_ms;
use lorafield_microshare::queue::jetstream::{ConsumerSettings, NatsOptions, StreamSettings};
use lorafield_microshare::queue::{JetStream, Queue};
use lorafield_microshare::worker::{self, Deliver, WorkerConfig, WorkerStats};
use tokio::sync::watch;

use crate::health::{Health, Verdict};
use crate::serve::checks::{Delivery, delivery_verdict, queue_verdict};
use crate::serve::metrics::{delivery, write_all};

/// How to run a forward.
#[derive(Debug, Clone)]
pub struct ForwardOptions {
    /// Where `/healthz` and `/metrics` are served.
    pub listen: SocketAddr,
    /// Serve them beyond loopback (they need no secret; nothing listens beyond loopback
    /// unless asked).
    pub allow_unauthenticated: bool,
    /// The NATS servers and how to sign in.
    pub nats: NatsOptions,
    /// The streams (created when missing, as `serve --queue` does).
    pub streams: StreamSettings,
    /// The durable consumer's name.
    pub consumer: String,
    /// Records leased and unacknowledged at most, over every forward.
    pub max_ack_pending: i64,
    /// The delivery worker's settings; its `lease` is the consumer's `ack_wait`.
    pub worker: WorkerConfig,
    /// How long deliveries may keep failing before `/healthz` says `degraded`.
    pub delivery_grace: Duration,
}

impl ForwardOptions {
    /// `/healthz` and `/metrics` on `listen`, the default consumer, the worker's defaults
    /// with a 30-second lease, a 60 s delivery grace.
    pub fn new(listen: SocketAddr, nats: NatsOptions, streams: StreamSettings) -> Self {
        let consumer = ConsumerSettings::default();
        ForwardOptions {
            listen,
            allow_unauthenticated: false,
            nats,
            streams,
            consumer: consumer.name,
            max_ack_pending: consumer.max_ack_pending,
            worker: WorkerConfig {
                lease: consumer.ack_wait,
                ..WorkerConfig::default()
            },
            delivery_grace: Duration::from_secs(60),
        }
    }

    /// The consumer these options ask for: `ack_wait` is the lease; a record is dead-lettered
    /// at the latest after `max_age`, the longest retry wait and a lease.
    pub fn consumer(&self) -> ConsumerSettings {
        ConsumerSettings {
            name: self.consumer.clone(),
            ack_wait: self.worker.lease,
            max_ack_pending: self.max_ack_pending,
            dead_after: self.worker.max_age + self.worker.max_delay + self.worker.lease,
        }
    }
}

struct App {
    queue: JetStream,
    stats: Arc<WorkerStats>,
    health: Health,
}

/// Delivers until `shutdown` resolves, then lets the deliveries in flight finish (and settles
/// them) and returns. `ready` gets the address `/healthz` and `/metrics` are served on.
pub async fn forward<D: Deliver>(
    options: ForwardOptions,
    deliver: Arc<D>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    if !options.listen.ip().to_canonical().is_loopback() && !options.allow_unauthenticated {
        bail!(
            "refusing to serve /healthz and /metrics on {} beyond loopback: they take no \
             secret; give --allow-unauthenticated if the network is yours alone, or keep \
             127.0.0.1 behind a proxy that authenticates",
            options.listen
        );
    }
    let queue = JetStream::open(
        &options.nats,
        options.streams.clone(),
        Some(options.consumer()),
    )
    .await
    .context("opening the JetStream queue")?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(WorkerStats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(worker::run(
        Arc::new(queue.clone()),
        deliver,
        options.worker,
        stats.clone(),
        stop_rx,
    ));
    let app = Arc::new(App {
        health: registry(&queue, &stats, options.delivery_grace),
        queue,
        stats,
    });
    tracing::info!(
        "delivering from JetStream at {}, stream {}, consumer {} (leases of {} s); GET /healthz, \
         GET /metrics on http://{addr}",
        options.nats.servers_shown(),
        options.streams.stream,
        options.consumer,
        options.worker.lease.as_secs_f64()
    );
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(app);
    ready(addr);
    let (http_stop, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = http_stopped.await;
            })
            .await
    });
    shutdown.await;
    tracing::info!("finishing the deliveries in flight");
    let _ = stop_tx.send(true);
    let delivered = worker.await.context("the delivery worker panicked")?;
    let _ = http_stop.send(());
    let _ = http.await;
    delivered.context("the delivery worker")?;
    Ok(())
}

/// The checks: `queue` (records can be leased: down while the server cannot be reached) and
/// `delivery` (as `serve`'s).
fn registry(queue: &JetStream, stats: &Arc<WorkerStats>, grace: Duration) -> Health {
    let mut health = Health::new();
    let (q, s) = (queue.clone(), stats.clone());
    health.add("queue", move || {
        let leasing = s.queue_failing().map(|(since, why)| {
            format!(
                "leasing fails for {} s: {why}",
                (now_ms() - since).max(0) / 1000
            )
        });
        match queue_verdict(q.unavailable().or(leasing)) {
            Verdict::Down(why) => {
                Verdict::Down(why.replace("uplinks cannot be stored", "records cannot be leased"))
            }
            ok => ok,
        }
    });
    let stats = stats.clone();
    health.add("delivery", move || {
        let seen = Delivery {
            stopped: stats.stopped(),
            failing: stats.failing(),
            behind: None,
            delivered: stats.delivered.load(Ordering::Relaxed),
            concurrency: stats.concurrency(),
        };
        delivery_verdict(seen, now_ms(), grace)
    });
    health
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let report = app.health.report();
    let status =
        StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        report.to_json() + "\n",
    )
        .into_response()
}

/// The worker's figures, and the queue's counts when the server answers within 2 s.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let mut text = String::new();
    delivery(&mut text, &app.stats, None);
    let available = app.queue.unavailable().is_none() && app.stats.queue_failing().is_none();
    let mut gauges = vec![(
        "lorafield_queue_available",
        "1 while records can be leased from the JetStream queue (see /healthz).",
        if available { 1.0 } else { 0.0 },
    )];
    match tokio::time::timeout(Duration::from_secs(2), app.queue.status()).await {
        Ok(Ok(s)) => gauges.extend([
            (
                "lorafield_queue_pending",
                "Records in the stream not leased by any forward.",
                s.pending as f64,
            ),
            (
                "lorafield_queue_in_flight",
                "Records leased by a forward and not yet acknowledged (every forward).",
                s.in_flight as f64,
            ),
            (
                "lorafield_queue_dead",
                "Records in the dead-letter stream.",
                s.dead as f64,
            ),
            (
                "lorafield_queue_oldest_age_seconds",
                "How long the oldest record in the stream has waited.",
                s.oldest_pending_age_s.unwrap_or(0.0),
            ),
        ]),
        Ok(Err(e)) => tracing::debug!("queue status: {e}"),
        Err(_) => tracing::debug!("queue status: no answer within 2 s"),
    }
    write_all(&mut text, "gauge", &gauges);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}
