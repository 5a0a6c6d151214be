//! `lorafield serve`: the webhook bridge. An uplink comes in, is decoded, is committed to the
//! durable outbox, and only then answered; the delivery worker sends the outbox on to
//! Microshare.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lorafield::Selection;
use lorafield_envelope::{Redecoder, Status};
use lorafield_microshare::Secret;
use lorafield_microshare::outbox::{NewRecord, Outbox, uplink_key};
use lorafield_microshare::worker::{self, Deliver, WorkerConfig, WorkerStats};
use subtle::ConstantTimeEq;
use tokio::sync::watch;

/// How to run the bridge.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The recType records go to unless their rule says `forward_to`.
    pub rec_type: String,
    /// The shared secret a webhook must send, and the header it comes in.
    pub secret: Option<(HeaderName, Secret)>,
    /// The largest body taken; a larger one is answered 413.
    pub body_limit: usize,
    /// The outbox directory.
    pub outbox: PathBuf,
    /// The delivery worker's settings.
    pub worker: WorkerConfig,
}

/// The counters behind `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    received: AtomicU64,
    rejected: AtomicU64,
    decoded: AtomicU64,
    decode_failures: AtomicU64,
    enqueued: AtomicU64,
}

struct App {
    selection: Selection,
    outbox: Outbox,
    options: ServeOptions,
    metrics: Metrics,
    worker: Arc<WorkerStats>,
}

/// Runs the bridge until `shutdown` resolves: stops accepting, answers the requests in
/// flight, lets the deliveries in flight finish, and returns. `ready` gets the address bound
/// (useful with port 0).
pub async fn serve<D: Deliver>(
    options: ServeOptions,
    selection: Selection,
    deliver: Arc<D>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    let outbox = Outbox::open(&options.outbox)
        .with_context(|| format!("opening the outbox in {}", options.outbox.display()))?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(WorkerStats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(worker::run(
        outbox.clone(),
        deliver,
        options.worker,
        stats.clone(),
        stop_rx,
    ));
    let app = Arc::new(App {
        selection,
        outbox,
        options,
        metrics: Metrics::default(),
        worker: stats,
    });
    let router = Router::new()
        .route("/uplink", post(uplink))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::disable())
        .with_state(app);
    tracing::info!("listening on http://{addr}");
    ready(addr);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")?;
    tracing::info!("no longer accepting; finishing the deliveries in flight");
    let _ = stop_tx.send(true);
    worker
        .await
        .context("the delivery worker panicked")?
        .context("the delivery worker")?;
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

fn error(status: StatusCode, reason: &str) -> Response {
    reply(status, serde_json::json!({ "error": reason }).to_string())
}

async fn uplink(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Body,
) -> Response {
    let m = &app.metrics;
    m.received.fetch_add(1, Ordering::Relaxed);
    let reject = |status: StatusCode, reason: &str| {
        m.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("rejected ({status}): {reason}");
        error(status, reason)
    };
    // The limit is applied here rather than by a layer, so that a 413 is counted too.
    let limit = app.options.body_limit;
    let body: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than {limit} bytes (--body-limit), or was cut off"),
            );
        }
    };
    if let Some((name, secret)) = &app.options.secret {
        let given = headers.get(name).map_or(&b""[..], |v| v.as_bytes());
        if !bool::from(given.ct_eq(secret.expose().as_bytes())) {
            return reject(
                StatusCode::UNAUTHORIZED,
                &format!("missing or wrong {name} header"),
            );
        }
    }
    if let Some(event) = query.get("event").filter(|e| *e != "up") {
        return reject(
            StatusCode::BAD_REQUEST,
            &format!("event {event:?} is not an uplink (ChirpStack sends uplinks with ?event=up)"),
        );
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return reject(StatusCode::BAD_REQUEST, "the body is not UTF-8 text");
    };
    let mut out = Vec::with_capacity(body.len() + 256);
    let mut redecoder = Redecoder::new(&app.selection).with_ids(true);
    let outcome = redecoder.redecode(text, &mut out);
    let decoded = match outcome.status {
        Status::Changed | Status::Unchanged => true,
        Status::Failed if outcome.shape.is_some() && !outcome.unreadable => false,
        Status::Failed => {
            let reason = outcome.reason.as_deref().unwrap_or("not an uplink");
            return reject(StatusCode::BAD_REQUEST, reason);
        }
        Status::PassedThrough if outcome.shape.is_some() => {
            return reject(
                StatusCode::BAD_REQUEST,
                "an uplink without application data (no f_port, or port 0: MAC commands)",
            );
        }
        Status::PassedThrough | Status::Page => {
            return reject(
                StatusCode::BAD_REQUEST,
                "not an uplink: a TTS v3 uplink_message, a TTN v2 uplink or a ChirpStack v4 up event was expected",
            );
        }
    };
    if decoded {
        m.decoded.fetch_add(1, Ordering::Relaxed);
    } else {
        m.decode_failures.fetch_add(1, Ordering::Relaxed);
    }
    let key = uplink_key(outcome.ids.as_ref(), text);
    let rec_type = redecoder
        .last_choice()
        .and_then(|c| c.forward_to())
        .unwrap_or(&app.options.rec_type)
        .to_string();
    let reason = outcome.reason.clone();
    match app
        .outbox
        .enqueue(NewRecord {
            key: key.clone(),
            rec_type,
            body: out,
        })
        .await
    {
        Ok(id) => {
            m.enqueued.fetch_add(1, Ordering::Relaxed);
            let mut answer = serde_json::json!({ "key": key, "outbox_id": id, "decoded": decoded });
            if let Some(reason) = reason {
                answer["decode_error"] = reason.into();
            }
            reply(StatusCode::ACCEPTED, answer.to_string())
        }
        Err(e) => {
            tracing::error!("outbox: {e}");
            reject(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the uplink could not be stored: {e}"),
            )
        }
    }
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    if let Some(reason) = app.worker.stopped() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("delivery stopped: {reason}; uplinks are still taken into the outbox"),
        );
    }
    match app.outbox.status() {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let (m, w) = (&app.metrics, &app.worker);
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let counters = [
        (
            "lorafield_uplinks_received_total",
            "Requests to /uplink.",
            load(&m.received),
        ),
        (
            "lorafield_uplinks_rejected_total",
            "Requests to /uplink answered 4xx or 5xx (nothing enqueued).",
            load(&m.rejected),
        ),
        (
            "lorafield_uplinks_decoded_total",
            "Uplinks decoded without errors.",
            load(&m.decoded),
        ),
        (
            "lorafield_decode_failures_total",
            "Uplinks whose payload could not be decoded (forwarded with the errors in the stamp).",
            load(&m.decode_failures),
        ),
        (
            "lorafield_uplinks_enqueued_total",
            "Uplinks committed to the outbox (and answered 202).",
            load(&m.enqueued),
        ),
        (
            "lorafield_deliveries_total",
            "Records delivered to Microshare.",
            load(&w.delivered),
        ),
        (
            "lorafield_delivery_retries_total",
            "Delivery attempts that failed and were rescheduled.",
            load(&w.retried),
        ),
        (
            "lorafield_dead_letters_total",
            "Records moved to the dead-letter table.",
            load(&w.dead),
        ),
        (
            "lorafield_outbox_enqueue_commits_total",
            "Outbox commits that added uplinks (concurrent uplinks share one, and its fsync).",
            app.outbox.commits(),
        ),
    ];
    let mut gauges = Vec::with_capacity(4);
    match app.outbox.status() {
        Ok(s) => gauges.extend([
            (
                "lorafield_outbox_depth",
                "Records in the outbox not yet delivered (pending and in flight).",
                (s.pending + s.in_flight) as f64,
            ),
            (
                "lorafield_outbox_dead",
                "Records in the dead-letter table.",
                s.dead as f64,
            ),
            (
                "lorafield_outbox_oldest_age_seconds",
                "How long the oldest record not yet delivered has waited.",
                s.oldest_pending_age_s.unwrap_or(0.0),
            ),
        ]),
        Err(e) => tracing::warn!("outbox status: {e}"),
    }
    gauges.push((
        "lorafield_delivery_stopped",
        "1 when delivery stopped (a revoked pipe token): see /healthz.",
        if w.stopped().is_some() { 1.0 } else { 0.0 },
    ));
    let mut text = String::new();
    for (name, help, value) in counters {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    for (name, help, value) in gauges {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
