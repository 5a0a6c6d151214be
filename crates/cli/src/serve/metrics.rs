//! `GET /metrics`: Prometheus text from one table of counters and gauges.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::App;
use super::uplink::IGNORED_KINDS;

/// The counters of `/uplink`.
#[derive(Debug, Default)]
pub(super) struct Metrics {
    pub(super) received: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) decoded: AtomicU64,
    pub(super) decode_failures: AtomicU64,
    pub(super) enqueued: AtomicU64,
    pub(super) duplicates: AtomicU64,
    /// By kind, in the order of [`IGNORED_KINDS`].
    ignored: [AtomicU64; IGNORED_KINDS.len()],
}

impl Metrics {
    /// Counts an event answered `{"ignored":kind}`.
    pub(super) fn ignore(&self, kind: &str) {
        if let Some(i) = IGNORED_KINDS.iter().position(|k| *k == kind) {
            self.ignored[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub(super) async fn metrics(State(app): State<Arc<App>>) -> Response {
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
            "lorafield_uplinks_duplicate_total",
            "Uplinks whose key the outbox held already (a webhook retried): answered 200, not stored again.",
            load(&m.duplicates),
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
    let name = "lorafield_uplinks_ignored_total";
    let _ = writeln!(
        text,
        "# HELP {name} Events answered 200 {{\"ignored\":kind}} and not forwarded (joins, downlink events, port-0 uplinks), by kind.\n# TYPE {name} counter"
    );
    for (kind, count) in IGNORED_KINDS.iter().zip(&m.ignored) {
        let _ = writeln!(text, "{name}{{kind=\"{kind}\"}} {}", load(count));
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
