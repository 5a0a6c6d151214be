//! `lorafield ingest-mqtt`: uplinks from an MQTT broker (The Things Stack's MQTT server,
//! ChirpStack's MQTT integration) into the outbox, with no public endpoint.
//!
//! - `broker.rs`: the broker's URL, TLS (the system's roots or a CA file), client options.
//! - `session.rs`: the connection: subscriptions made on every connection, reconnects with
//!   backoff, and the state `/healthz` reports.
//! - `message.rs`: one message: decoded as `serve` decodes a webhook, then stored, ignored
//!   or refused (counted by reason and kept in the rejected file).
//! - `metrics.rs`: `GET /metrics`.
//!
//! The Things Stack publishes at QoS 0: a message sent while this client is not connected is
//! not sent again. Several ingesters may subscribe to the same topics and share one outbox
//! directory (on one machine): the outbox's key index stores each uplink once, and their
//! delivery workers lease each record to one of them. With a JetStream queue
//! ([`IngestOptions::queue`]), ingesters on any machines publish to the stream, whose duplicate
//! window stores each uplink once, and `lorafield forward` delivers.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lorafield::Selection;
use lorafield_microshare::Secret;
use lorafield_microshare::outbox::{Outbox, now_ms};
use lorafield_microshare::queue::{Backend, JetStream, OutboxQueue};
use lorafield_microshare::throttle::LogThrottle;
use lorafield_microshare::worker::{self, Deliver, WorkerConfig, WorkerStats};
use tokio::sync::{Semaphore, watch};

use crate::health::Health;
use crate::serve::JetStreamOptions;
use crate::serve::backlog::{self, Backlog};
use crate::serve::checks::{outbox_verdict, queue_registry, registry};
use crate::serve::scripts::ScriptPool;

mod broker;
mod message;
mod metrics;
mod session;

pub use broker::{BadBroker, Broker, tls_config};
pub use message::REJECT_REASONS;

/// The file refused messages are kept in, in the outbox directory unless told otherwise.
pub const REJECTED_FILE: &str = "mqtt-rejected.jsonl";

/// How to run the ingester.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The broker.
    pub broker: Broker,
    /// The topic filters to subscribe to.
    pub topics: Vec<String>,
    /// The client id (unique: a broker drops an older connection with the same id).
    pub client_id: String,
    /// The user name (The Things Stack: `{application id}@{tenant id}`).
    pub username: Option<String>,
    /// The password (The Things Stack: an API key).
    pub password: Option<Secret>,
    /// The certificate authorities for `mqtts://`, instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// The recType records go to unless their rule says `forward_to`.
    pub rec_type: String,
    /// The outbox directory.
    pub outbox: PathBuf,
    /// NATS JetStream instead of the outbox: uplinks are published there, and `lorafield
    /// forward` delivers them (no delivery here: `worker` is not used).
    pub queue: Option<JetStreamOptions>,
    /// The file refused messages are kept in.
    pub rejected: PathBuf,
    /// Its size at most, in bytes: once full it is moved to `FILE.1` (replacing the one
    /// before) and a new one begun.
    pub rejected_max_bytes: u64,
    /// Where `/metrics` and `/healthz` are served.
    pub listen: SocketAddr,
    /// Serve them beyond loopback (nothing there asks who is asking).
    pub allow_unauthenticated: bool,
    /// The largest message taken, in bytes.
    pub max_message_size: usize,
    /// Messages decoded and stored at once, at most.
    pub in_flight: usize,
    /// The delivery worker's settings; `None`: only store (another process delivers).
    pub worker: Option<WorkerConfig>,
    /// How long deliveries may keep failing before `/healthz` says `degraded`.
    pub delivery_grace: Duration,
    /// How long the outbox must keep growing before delivery is said to fall behind.
    pub backlog_window: Duration,
    /// How often the outbox's depth is sampled for that.
    pub backlog_interval: Duration,
    /// How long delivered records, and so their keys, are kept before they are forgotten
    /// (checked every hour).
    pub keep_delivered: Duration,
    /// The keep-alive interval of the connection.
    pub keep_alive: Duration,
    /// Warn lines (refused messages, connection errors): at most one per kind per interval.
    pub log_interval: Duration,
}

impl IngestOptions {
    /// Plain MQTT to `broker`, anonymous, `/metrics` on `listen`, the refused messages in
    /// the outbox directory, 256 KiB messages, 64 at once, delivering with the worker's
    /// defaults.
    pub fn new(
        broker: Broker,
        topics: Vec<String>,
        rec_type: &str,
        outbox: PathBuf,
        listen: SocketAddr,
    ) -> Self {
        IngestOptions {
            broker,
            topics,
            client_id: format!("lorafield-{:016x}", fastrand::u64(..)),
            username: None,
            password: None,
            ca_file: None,
            rec_type: rec_type.into(),
            rejected: outbox.join(REJECTED_FILE),
            rejected_max_bytes: 64 << 20,
            outbox,
            queue: None,
            listen,
            allow_unauthenticated: false,
            max_message_size: 256 * 1024,
            in_flight: 64,
            worker: Some(WorkerConfig::default()),
            delivery_grace: Duration::from_secs(60),
            backlog_window: Duration::from_secs(60),
            backlog_interval: Duration::from_secs(1),
            keep_delivered: lorafield_microshare::outbox::DEFAULT_KEEP_DELIVERED,
            keep_alive: Duration::from_secs(30),
            log_interval: lorafield_microshare::throttle::DEFAULT_INTERVAL,
        }
    }
}

/// `1 topic filter`, `2 topic filters`.
pub(crate) fn counted(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// What `/metrics` and `/healthz` read.
struct Service {
    intake: Arc<message::Intake>,
    link: Arc<session::Link>,
    /// The delivery worker's counters and the backlog watch, when delivering.
    delivery: Option<(Arc<WorkerStats>, Arc<Backlog>)>,
    health: Health,
}

/// Runs the ingester until `shutdown` resolves: then it disconnects, lets the messages in
/// hand be stored and the deliveries in flight finish, and returns. `deliver` sends records
/// when `options.worker` is set; `ready` gets the address `/metrics` is served on.
pub async fn ingest<D: Deliver>(
    options: IngestOptions,
    selection: Selection,
    deliver: Option<Arc<D>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    if !options.listen.ip().to_canonical().is_loopback() && !options.allow_unauthenticated {
        bail!(
            "refusing to serve /metrics and /healthz on {} without --allow-unauthenticated: \
             nothing there asks who is asking (keep 127.0.0.1, or put an authenticating proxy \
             in front)",
            options.listen
        );
    }
    if options.topics.is_empty() {
        bail!("no topic to subscribe to: give --topic");
    }
    for t in &options.topics {
        if !rumqttc::valid_filter(t) {
            bail!(
                "--topic {t:?} is not an MQTT topic filter (+ stands for one whole level, # for \
                 the rest and comes last)"
            );
        }
    }
    let tls = match options.broker.tls {
        true => Some(tls_config(options.ca_file.as_deref())?),
        false if options.ca_file.is_some() => {
            bail!("--ca-file is for mqtts:// brokers")
        }
        false => None,
    };
    let (queue, outbox) = match &options.queue {
        None => {
            let outbox = Outbox::open(&options.outbox)
                .with_context(|| format!("opening the outbox in {}", options.outbox.display()))?;
            let lease = options
                .worker
                .map_or(WorkerConfig::default().lease, |w| w.lease);
            (
                Backend::Outbox(OutboxQueue::new(outbox.clone(), lease)),
                Some(outbox),
            )
        }
        Some(js) => {
            let queue = JetStream::open(&js.nats, js.streams.clone(), None)
                .await
                .context("opening the JetStream queue")?;
            (Backend::JetStream(queue), None)
        }
    };
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stats = Arc::new(WorkerStats::default());
    let backlog = Arc::new(Backlog::default());
    let worker = match (options.worker, deliver, &outbox) {
        (Some(config), Some(deliver), Some(outbox)) => Some((
            tokio::spawn(worker::run(
                Arc::new(queue.clone()),
                deliver,
                config,
                stats.clone(),
                stop_rx.clone(),
            )),
            tokio::spawn(backlog::run(
                backlog.clone(),
                outbox.clone(),
                stats.clone(),
                options.backlog_window,
                options.backlog_interval,
                stop_rx.clone(),
            )),
        )),
        (Some(_), None, Some(_)) => bail!("delivering needs a deliverer"),
        _ => None,
    };
    if let Some(outbox) = &outbox {
        tokio::spawn(lorafield_microshare::outbox::forget_old(
            outbox.clone(),
            options.keep_delivered,
            lorafield_microshare::outbox::FORGET_EVERY,
            stop_rx.clone(),
        ));
    }
    let delivery = worker.is_some().then(|| (stats.clone(), backlog.clone()));
    let scripts = match selection.has_runtime() {
        true => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            Some(ScriptPool::new(threads).context("starting the script threads")?)
        }
        false => None,
    };
    let intake = Arc::new(message::Intake {
        selection,
        scripts,
        rec_type: options.rec_type.clone(),
        queue: queue.clone(),
        outbox: outbox.clone(),
        counters: message::Counters::default(),
        rejected: message::RejectedFile::new(&options.rejected, options.rejected_max_bytes),
        throttle: LogThrottle::new(options.log_interval),
    });
    let link = Arc::new(session::Link::default());
    let broker_name = options.broker.to_string();
    let service = Arc::new(Service {
        health: health(&options, &broker_name, &link, &queue, delivery.as_ref()),
        intake: intake.clone(),
        link: link.clone(),
        delivery,
    });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(service);
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    tracing::info!(
        "ingesting from {broker_name} as {} ({}), topics {}; storing in {}{}; refused messages \
         kept in {}; GET /healthz and /metrics on http://{addr}",
        options.client_id,
        match &options.username {
            Some(user) => format!("user {user}"),
            None => "anonymous".into(),
        },
        options.topics.join(", "),
        match &options.queue {
            None => options.outbox.display().to_string(),
            Some(js) => format!(
                "JetStream at {}, stream {}",
                js.nats.servers_shown(),
                js.streams.stream
            ),
        },
        if worker.is_some() {
            ", delivering to Microshare"
        } else {
            " (delivered by another process)"
        },
        options.rejected.display(),
    );
    ready(addr);

    let connect = broker::Connect {
        broker: &options.broker,
        client_id: &options.client_id,
        username: options.username.as_deref(),
        password: options.password.as_ref(),
        tls,
        max_message_size: options.max_message_size,
        keep_alive: options.keep_alive,
    };
    let in_flight = Arc::new(Semaphore::new(options.in_flight.max(1)));
    let (session_stop_tx, session_stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = session_stop_tx.send(true);
    });
    let throttle = LogThrottle::new(options.log_interval);
    let session = session::Session {
        options: connect.options(),
        filters: &options.topics,
        link: &link,
        broker: &broker_name,
        throttle: &throttle,
    };
    session::run(
        session,
        session_stop_rx,
        |publish| {
            let (intake, in_flight) = (intake.clone(), in_flight.clone());
            async move {
                // Waits while as many messages as allowed are in hand: the broker's messages
                // then wait in the connection.
                let Ok(permit) = in_flight.acquire_owned().await else {
                    return;
                };
                tokio::spawn(async move {
                    intake.take(publish.topic, &publish.payload).await;
                    drop(permit);
                });
            }
        },
        |size| intake.oversize(size, options.max_message_size),
    )
    .await;
    tracing::info!("disconnected; storing the messages in hand, finishing deliveries in flight");
    let all = u32::try_from(options.in_flight.max(1)).unwrap_or(u32::MAX);
    let _ = in_flight.acquire_many(all).await;
    let _ = stop_tx.send(true);
    if let Some((worker, sampler)) = worker {
        let _ = sampler.await;
        worker
            .await
            .context("the delivery worker panicked")?
            .context("the delivery worker")?;
    }
    http.await.context("the metrics server panicked")??;
    Ok(())
}

/// The checks of `/healthz`: `mqtt` (connected and subscribed), `outbox` (uplinks can be
/// stored) and, when delivering, `delivery`, as `serve` has them; on JetStream, `queue`
/// instead of both.
fn health(
    options: &IngestOptions,
    broker: &str,
    link: &Arc<session::Link>,
    queue: &Backend,
    delivery: Option<&(Arc<WorkerStats>, Arc<Backlog>)>,
) -> Health {
    let mut health = match (queue, delivery) {
        (Backend::JetStream(_), _) => queue_registry(queue),
        (Backend::Outbox(q), Some((stats, backlog))) => {
            registry(q.outbox(), stats, backlog, options.delivery_grace)
        }
        (Backend::Outbox(q), None) => {
            let outbox = q.outbox().clone();
            let mut health = Health::new();
            health.add("outbox", move || {
                outbox_verdict(outbox.write_error(), outbox.status())
            });
            health
        }
    };
    let (link, broker, filters) = (link.clone(), broker.to_string(), options.topics.len());
    health.add("mqtt", move || link.verdict(&broker, filters, now_ms()));
    health
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn healthz(State(service): State<Arc<Service>>) -> Response {
    let report = service.health.report();
    let status =
        StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    reply(status, "application/json", report.to_json() + "\n")
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    reply(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        metrics::render(&service),
    )
}
