//! `lorafield serve`: the webhook bridge. An uplink comes in, is decoded, is committed to the
//! durable outbox, and only then answered; the delivery worker sends the outbox on to
//! Microshare. With a JetStream queue ([`ServeOptions::queue`]), an uplink is published to the
//! stream and answered after the server's acknowledgement; `lorafield forward` delivers.
//!
//! - `uplink.rs`: `POST /uplink`: what is forwarded, ignored (200), a duplicate (200) or
//!   refused (4xx), and the warn lines about refusals (rate-limited).
//! - `metrics.rs`: `GET /metrics`, one table of counters and gauges.
//! - `checks.rs`: the checks of `GET /healthz` ([`crate::health`]): `outbox` and `delivery`,
//!   or `queue` on JetStream.
//! - `backlog.rs`: the warning when the outbox keeps growing (once per episode), which the
//!   `delivery` check repeats while it lasts.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lorafield::Selection;
use lorafield_microshare::Secret;
use lorafield_microshare::outbox::{self, Outbox};
use lorafield_microshare::queue::jetstream::{NatsOptions, StreamSettings};
use lorafield_microshare::queue::{Backend, JetStream, OutboxQueue};
use lorafield_microshare::throttle::LogThrottle;
use lorafield_microshare::worker::{self, Deliver, WorkerConfig, WorkerStats};
use tokio::sync::watch;

use crate::health::Health;

pub(crate) mod backlog;
pub(crate) mod checks;
pub(crate) mod metrics;
pub(crate) mod scripts;
mod uplink;

pub use crate::intake::IGNORED_KINDS;

/// How to run the bridge.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The recType records go to unless their rule says `forward_to`.
    pub rec_type: String,
    /// The shared secret a webhook must send, and the header it comes in.
    pub secret: Option<(HeaderName, Secret)>,
    /// Listen beyond loopback without a secret (see [`exposure`]).
    pub allow_unauthenticated: bool,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// The largest body taken; a larger one is answered 413.
    pub body_limit: usize,
    /// The outbox directory.
    pub outbox: PathBuf,
    /// NATS JetStream instead of the outbox: uplinks are published there, and `lorafield
    /// forward` delivers them (this bridge runs no delivery worker).
    pub queue: Option<JetStreamOptions>,
    /// The delivery worker's settings.
    pub worker: WorkerConfig,
    /// How long deliveries may keep failing before `/healthz` says `degraded`.
    pub delivery_grace: Duration,
    /// Warn lines about refused webhooks: at most one per status per this interval.
    pub log_interval: Duration,
    /// The outbox growing across this window is a backlog worth a warning. `lorafield serve`
    /// always uses the default, a minute; a shorter one lets a test see an episode start and
    /// end in seconds.
    pub backlog_window: Duration,
    /// How often the outbox's depth and the rates are sampled for that (a second; shorter in
    /// tests, with a shorter window).
    pub backlog_interval: Duration,
    /// How long delivered records, and so their keys, are kept before they are forgotten
    /// (checked every hour).
    pub keep_delivered: Duration,
}

impl ServeOptions {
    /// Plain HTTP on `listen`, no secret, a 256 KiB body limit, the worker's defaults, a
    /// 60 s delivery grace, warn lines at most every 10 s, a backlog window of 60 s sampled
    /// every second.
    pub fn new(listen: SocketAddr, rec_type: &str, outbox: PathBuf) -> Self {
        ServeOptions {
            listen,
            rec_type: rec_type.to_string(),
            secret: None,
            allow_unauthenticated: false,
            tls: None,
            body_limit: 256 * 1024,
            outbox,
            queue: None,
            worker: WorkerConfig::default(),
            delivery_grace: Duration::from_secs(60),
            log_interval: lorafield_microshare::throttle::DEFAULT_INTERVAL,
            backlog_window: Duration::from_secs(60),
            backlog_interval: Duration::from_secs(1),
            keep_delivered: lorafield_microshare::outbox::DEFAULT_KEEP_DELIVERED,
        }
    }
}

/// Where the JetStream queue is and what its streams are.
#[derive(Debug, Clone)]
pub struct JetStreamOptions {
    /// The servers and how to sign in.
    pub nats: NatsOptions,
    /// The streams.
    pub streams: StreamSettings,
}

/// A PEM certificate chain and its private key, for HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain (PEM), the server's own first.
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Who can post uplinks, as far as the address and the secret tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// A loopback address: only this machine can post.
    Loopback,
    /// Beyond loopback, and a webhook must send the secret.
    Secret,
    /// Beyond loopback with no secret, as `--allow-unauthenticated` asked: anyone who reaches
    /// the port can post.
    Open,
}

/// Listening beyond loopback without a secret, not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unauthenticated {
    /// The address asked for.
    pub listen: SocketAddr,
}

impl fmt::Display for Unauthenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refusing to listen on {} without a webhook secret: anyone who reaches the port could \
             write records into your Microshare account. Give --secret (or LORAFIELD_WEBHOOK_SECRET) \
             and configure the webhook to send it, listen on 127.0.0.1 behind a proxy that \
             authenticates, or give --allow-unauthenticated if the network is yours alone",
            self.listen
        )
    }
}

impl std::error::Error for Unauthenticated {}

/// Whether `serve` may listen on `listen`: on loopback always; beyond it only with a secret,
/// or when `allow_unauthenticated` says so.
pub fn exposure(
    listen: SocketAddr,
    secret: bool,
    allow_unauthenticated: bool,
) -> Result<Exposure, Unauthenticated> {
    if listen.ip().to_canonical().is_loopback() {
        Ok(Exposure::Loopback)
    } else if secret {
        Ok(Exposure::Secret)
    } else if allow_unauthenticated {
        Ok(Exposure::Open)
    } else {
        Err(Unauthenticated { listen })
    }
}

struct App {
    selection: Selection,
    /// Threads for scripts, when the selection runs any.
    scripts: Option<scripts::ScriptPool>,
    /// Where uplinks are stored.
    queue: Backend,
    /// The outbox, when this bridge delivers it (no JetStream queue).
    outbox: Option<Outbox>,
    options: ServeOptions,
    metrics: metrics::Metrics,
    worker: Arc<WorkerStats>,
    backlog: Arc<backlog::Backlog>,
    health: Health,
    throttle: LogThrottle,
}

/// Runs the bridge until `shutdown` resolves: stops accepting, answers the requests in
/// flight, lets the deliveries in flight finish, and returns. `ready` gets the address bound
/// (useful with port 0). `deliver` delivers the outbox; with a JetStream queue, none is
/// needed.
///
/// It holds the outbox's lock ([`outbox::lock`]) while it runs: a second bridge on the same
/// outbox directory is refused. With [`ServeOptions::queue`], it opens no outbox and runs no
/// delivery worker: it publishes to the stream (created when missing) and any number of
/// bridges may share it.
pub async fn serve<D: Deliver>(
    options: ServeOptions,
    selection: Selection,
    deliver: Option<Arc<D>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    let exposure = exposure(
        options.listen,
        options.secret.is_some(),
        options.allow_unauthenticated,
    )?;
    if exposure == Exposure::Open {
        tracing::warn!(
            "no webhook secret on {}, as --allow-unauthenticated asked: anyone who reaches the \
             port can write records into the Microshare account",
            options.listen
        );
    }
    let (_lock, queue, outbox) = match &options.queue {
        None => {
            let lock = outbox::lock(&options.outbox)?;
            let outbox = Outbox::open(&options.outbox)
                .with_context(|| format!("opening the outbox in {}", options.outbox.display()))?;
            let queue = Backend::Outbox(OutboxQueue::new(outbox.clone(), options.worker.lease));
            (Some(lock), queue, Some(outbox))
        }
        Some(js) => {
            let queue = JetStream::open(&js.nats, js.streams.clone(), None)
                .await
                .context("opening the JetStream queue")?;
            (None, Backend::JetStream(queue), None)
        }
    };
    let tls = match &options.tls {
        Some(files) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                .await
                .with_context(|| {
                    format!(
                        "reading the TLS certificate {} and key {}",
                        files.cert.display(),
                        files.key.display()
                    )
                })?,
        ),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let url = format!("{}://{addr}", if tls.is_some() { "https" } else { "http" });
    let stats = Arc::new(WorkerStats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let backlog = Arc::new(backlog::Backlog::default());
    let (worker, sampler, health) = match &outbox {
        Some(outbox) => {
            let deliver = deliver.context(
                "delivering the outbox needs Microshare's credentials (--pipe-token, or \
                 --username, --password and --api-key)",
            )?;
            let worker = tokio::spawn(worker::run(
                Arc::new(queue.clone()),
                deliver,
                options.worker,
                stats.clone(),
                stop_rx,
            ));
            let sampler = tokio::spawn(backlog::run(
                backlog.clone(),
                outbox.clone(),
                stats.clone(),
                options.backlog_window,
                options.backlog_interval,
                stop_tx.subscribe(),
            ));
            tokio::spawn(lorafield_microshare::outbox::forget_old(
                outbox.clone(),
                options.keep_delivered,
                lorafield_microshare::outbox::FORGET_EVERY,
                stop_tx.subscribe(),
            ));
            let health = checks::registry(outbox, &stats, &backlog, options.delivery_grace);
            (Some(worker), Some(sampler), health)
        }
        None => (None, None, checks::queue_registry(&queue)),
    };
    let access = match (&options.secret, exposure) {
        (Some((header, _)), _) => format!("a webhook must send the secret in {header}"),
        (None, Exposure::Open) => "no webhook secret".into(),
        (None, _) => "no webhook secret (loopback only)".into(),
    };
    let stored = match &options.queue {
        None => format!("outbox {}", options.outbox.display()),
        Some(js) => format!(
            "JetStream at {}, stream {} (lorafield forward delivers)",
            js.nats.servers_shown(),
            js.streams.stream
        ),
    };
    tracing::info!(
        "listening on {url}: POST /uplink, GET /healthz, GET /metrics; {access}; {stored}"
    );
    if outbox.is_some() {
        let ceiling = options.worker.concurrency.max(1);
        match options.worker.adaptive {
            Some(adaptive) => tracing::info!(
                "delivering with an adaptive limit: {} requests in flight to start with, up to \
                 {ceiling} (--concurrency), following what Microshare sustains",
                adaptive.initial.clamp(1, ceiling),
            ),
            None => tracing::info!(
                "delivering with a fixed limit of {ceiling} requests in flight (--adaptive off)"
            ),
        }
    }
    let scripts = match selection.has_runtime() {
        true => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            Some(scripts::ScriptPool::new(threads).context("starting the script threads")?)
        }
        false => None,
    };
    let app = Arc::new(App {
        selection,
        scripts,
        queue,
        outbox,
        throttle: LogThrottle::new(options.log_interval),
        options,
        metrics: metrics::Metrics::default(),
        worker: stats,
        backlog,
        health,
    });
    let router = Router::new()
        .route("/uplink", post(uplink::uplink))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .layer(DefaultBodyLimit::disable())
        .with_state(app)
        .into_make_service_with_connect_info::<SocketAddr>();
    ready(addr);
    match tls {
        None => axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving")?,
        Some(config) => {
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopper.graceful_shutdown(None);
            });
            axum_server::from_tcp_rustls(listener.into_std()?, config)?
                .handle(handle)
                .serve(router)
                .await
                .context("serving")?;
        }
    }
    let _ = stop_tx.send(true);
    if let Some(sampler) = sampler {
        let _ = sampler.await;
    }
    if let Some(worker) = worker {
        tracing::info!("no longer accepting; finishing the deliveries in flight");
        worker
            .await
            .context("the delivery worker panicked")?
            .context("the delivery worker")?;
    } else {
        tracing::info!("no longer accepting");
    }
    Ok(())
}

fn reply(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body + "\n",
    )
        .into_response()
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let report = app.health.report();
    let status =
        StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    reply(status, report.to_json())
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT). The handlers are installed when this is called
/// (within a runtime), not when the future is first polled: a signal that comes while the
/// server is still starting, after it said where it listens, is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::terminate()).and_then(|t| Ok((t, signal(SignalKind::interrupt())?)))
    };
    async move {
        #[cfg(unix)]
        match signals {
            Ok((mut term, mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_loopback_needs_a_secret_or_an_explicit_allowance() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        for loopback in [
            "127.0.0.1:8080",
            "127.8.9.1:1",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert_eq!(
                exposure(at(loopback), false, false),
                Ok(Exposure::Loopback),
                "{loopback}"
            );
        }
        for beyond in [
            "0.0.0.0:8080",
            "192.0.2.7:8080",
            "[::]:8080",
            "[2001:db8::1]:443",
        ] {
            let refused = exposure(at(beyond), false, false).unwrap_err();
            let text = refused.to_string();
            assert!(
                text.contains(&at(beyond).to_string())
                    && text.contains("--secret")
                    && text.contains("--allow-unauthenticated"),
                "{text}"
            );
            assert_eq!(exposure(at(beyond), true, false), Ok(Exposure::Secret));
            assert_eq!(exposure(at(beyond), true, true), Ok(Exposure::Secret));
            assert_eq!(exposure(at(beyond), false, true), Ok(Exposure::Open));
        }
    }
}
