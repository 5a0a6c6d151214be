//! `GET /metrics` of `ingest-mqtt`: Prometheus text from one table of counters and gauges.
//! The names `serve` uses too mean the same here (uplinks decoded, enqueued, duplicates,
//! ignored by kind, deliveries, the outbox's depth), so that one dashboard reads both.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use lorafield_microshare::queue::Queue;

use super::Service;
use super::message::REJECT_REASONS;
use crate::intake::IGNORED_KINDS;

/// The text of `/metrics`.
pub(super) fn render(service: &Service) -> String {
    let (c, link) = (&service.intake.counters, &service.link);
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let counters = [
        (
            "lorafield_mqtt_messages_total",
            "Messages received from the broker.",
            load(&c.messages),
        ),
        (
            "lorafield_uplinks_decoded_total",
            "Uplinks decoded without errors.",
            load(&c.decoded),
        ),
        (
            "lorafield_decode_failures_total",
            "Uplinks whose payload could not be decoded (stored with the errors in the stamp).",
            load(&c.decode_failures),
        ),
        (
            "lorafield_uplinks_enqueued_total",
            "Uplinks stored in the outbox.",
            load(&c.enqueued),
        ),
        (
            "lorafield_uplinks_duplicate_total",
            "Uplinks whose key the outbox held already (received by another ingest-mqtt too, or twice): dropped, not stored again.",
            load(&c.duplicates),
        ),
        (
            "lorafield_mqtt_connections_total",
            "Connections the broker accepted.",
            load(&link.connections),
        ),
        (
            "lorafield_mqtt_reconnects_total",
            "Connections after the first that the broker accepted.",
            link.reconnects(),
        ),
        (
            "lorafield_mqtt_connection_errors_total",
            "Connections lost and tries to connect that failed.",
            load(&link.errors),
        ),
    ];
    let gauges = [(
        "lorafield_mqtt_connected",
        "1 while connected and subscribed to every topic filter: see /healthz.",
        if link.is_up() { 1.0 } else { 0.0 },
    )];
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
        "# HELP {name} Messages that are not uplinks to forward (joins, downlink events, port-0 uplinks, ChirpStack's other events), by kind.\n# TYPE {name} counter"
    );
    for (kind, count) in IGNORED_KINDS.iter().zip(&c.ignored) {
        let _ = writeln!(text, "{name}{{kind=\"{kind}\"}} {}", load(count));
    }
    let name = "lorafield_mqtt_rejected_total";
    let reasons: Vec<String> = REJECT_REASONS
        .iter()
        .map(|(r, what)| format!("{r}: {what}"))
        .collect();
    let _ = writeln!(
        text,
        "# HELP {name} Messages refused and kept in the rejected file, by reason ({}).\n# TYPE {name} counter",
        reasons.join("; ")
    );
    for ((reason, _), count) in REJECT_REASONS.iter().zip(&c.rejected) {
        let _ = writeln!(text, "{name}{{reason=\"{reason}\"}} {}", load(count));
    }
    for (name, help, value) in gauges {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    match &service.intake.outbox {
        Some(outbox) => crate::serve::metrics::outbox(&mut text, outbox),
        None => {
            let available = service.intake.queue.unavailable().is_none();
            crate::serve::metrics::write_all(
                &mut text,
                "gauge",
                &[(
                    "lorafield_queue_available",
                    "1 while uplinks can be stored in the JetStream queue (see /healthz).",
                    if available { 1.0 } else { 0.0 },
                )],
            );
        }
    }
    if let Some((stats, backlog)) = &service.delivery {
        crate::serve::metrics::delivery(&mut text, stats, Some(backlog));
    }
    text
}
