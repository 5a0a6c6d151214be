//! `GET /metrics`: Prometheus text from one table of counters and gauges.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use lorafield_microshare::outbox::Outbox;
use lorafield_microshare::queue::Queue;
use lorafield_microshare::worker::WorkerStats;

use super::App;
use super::backlog::Backlog;
use crate::intake::IGNORED_KINDS;

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
    let m = &app.metrics;
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
            "Uplinks stored (committed to the outbox, or acknowledged by JetStream) and answered 202.",
            load(&m.enqueued),
        ),
        (
            "lorafield_uplinks_duplicate_total",
            "Uplinks whose key the outbox held already (a webhook retried): answered 200, not stored again.",
            load(&m.duplicates),
        ),
    ];
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
    match &app.outbox {
        Some(o) => {
            outbox(&mut text, o);
            delivery(&mut text, &app.worker, Some(&app.backlog));
        }
        // With a JetStream queue: no outbox, no delivery here (forward delivers).
        None => write_all(
            &mut text,
            "gauge",
            &[(
                "lorafield_queue_available",
                "1 while uplinks can be stored in the JetStream queue, 0 while they are answered 503 (see /healthz).",
                if app.queue.unavailable().is_none() {
                    1.0
                } else {
                    0.0
                },
            )],
        ),
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}

/// Writes `# HELP`, `# TYPE` and the value of each metric of `kind` (counter, gauge).
pub(crate) fn write_all<V: std::fmt::Display>(
    text: &mut String,
    kind: &str,
    metrics: &[(&str, &str, V)],
) {
    for (name, help, value) in metrics {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}

/// The outbox's metrics (commits, depth, dead letters, oldest age), as every process that
/// stores into it serves them.
pub(crate) fn outbox(text: &mut String, outbox: &Outbox) {
    write_all(
        text,
        "counter",
        &[(
            "lorafield_outbox_enqueue_commits_total",
            "Outbox commits that added uplinks (concurrent uplinks share one, and its fsync).",
            outbox.commits(),
        )],
    );
    match outbox.status() {
        Ok(s) => write_all(
            text,
            "gauge",
            &[
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
            ],
        ),
        Err(e) => tracing::warn!("outbox status: {e}"),
    }
}

/// The delivery worker's metrics (deliveries, retries, dead letters, look-ups, the adaptive
/// limit, and the backlog watch of a process that delivers an outbox), as every process that
/// delivers serves them.
pub(crate) fn delivery(text: &mut String, w: &WorkerStats, backlog: Option<&Backlog>) {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let concurrency = w.concurrency();
    let counters = [
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
            "lorafield_delivery_unknown_outcomes_total",
            "Attempts that may have stored a record (a timeout, a connection cut after sending, a lease that ran out) and could not be checked before the record was posted again (a pipe token cannot ask): each may be a duplicate share.",
            load(&w.unknown_outcomes),
        ),
        (
            "lorafield_delivery_limit_increases_total",
            "Times the adaptive concurrency limit went up.",
            concurrency.increases,
        ),
        (
            "lorafield_delivery_limit_decreases_total",
            "Times the adaptive concurrency limit went down (429, 503, timeouts, rising round trips).",
            concurrency.decreases,
        ),
    ];
    write_all(text, "counter", &counters);
    if let Some(backlog) = backlog {
        write_all(
            text,
            "counter",
            &[(
                "lorafield_delivery_backlog_warnings_total",
                "Times delivery was found falling behind (the outbox growing across a minute); warned once each.",
                backlog.episodes(),
            )],
        );
    }
    let name = "lorafield_delivery_lookups_total";
    let _ = writeln!(
        text,
        "# HELP {name} Look-ups by tag before posting again a record an earlier attempt may have stored: found (delivered, not posted again) or absent (posted).\n# TYPE {name} counter"
    );
    for (result, count) in [("found", &w.found), ("absent", &w.absent)] {
        let _ = writeln!(text, "{name}{{result=\"{result}\"}} {}", load(count));
    }
    let mut gauges = Vec::with_capacity(9);
    gauges.push((
        "lorafield_delivery_stopped",
        "1 when delivery stopped (a revoked pipe token): see /healthz.",
        if w.stopped().is_some() { 1.0 } else { 0.0 },
    ));
    let seconds = |d: Option<std::time::Duration>| d.map_or(0.0, |d| d.as_secs_f64());
    gauges.extend([
        (
            "lorafield_delivery_concurrency_limit",
            "Deliveries that may be in flight now (the adaptive limit, or the fixed one).",
            concurrency.limit as f64,
        ),
        (
            "lorafield_delivery_concurrency_ceiling",
            "The ceiling of the concurrency limit (--concurrency).",
            concurrency.ceiling as f64,
        ),
        (
            "lorafield_delivery_in_flight",
            "Deliveries in flight.",
            concurrency.in_flight as f64,
        ),
        (
            "lorafield_delivery_rtt_baseline_seconds",
            "The long-term round-trip baseline the limit is judged against (0 until measured).",
            seconds(concurrency.rtt_baseline),
        ),
        (
            "lorafield_delivery_rtt_seconds",
            "The mean round trip of the last window of successful requests (0 until measured).",
            seconds(concurrency.rtt_recent),
        ),
    ]);
    let Some(backlog) = backlog else {
        write_all(text, "gauge", &gauges);
        return;
    };
    gauges.push((
        "lorafield_delivery_falling_behind",
        "1 while the outbox keeps growing (see /healthz).",
        if backlog.behind().is_some() { 1.0 } else { 0.0 },
    ));
    if let Some(rates) = backlog.rates() {
        gauges.extend([
            (
                "lorafield_outbox_arrival_rate",
                "Records added to the outbox per second, over the last minute.",
                rates.arrival,
            ),
            (
                "lorafield_delivery_rate",
                "Records delivered per second, over the last minute.",
                rates.delivery,
            ),
        ]);
    }
    write_all(text, "gauge", &gauges);
}
