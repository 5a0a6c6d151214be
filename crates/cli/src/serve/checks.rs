//! The checks `serve` registers for `/healthz`:
//!
//! - `outbox`: uplinks can be stored. Not ok (down: uplinks are answered 503) when the last
//!   commit failed or the outbox cannot be read; the detail gives its depth otherwise.
//! - `delivery`: records reach Microshare. Failing (every attempt since some time failed):
//!   still ok for the grace period (60 s), then degraded with the last status and reason;
//!   stopped (a revoked pipe token, refused credentials): degraded at once. Uplinks are still
//!   taken into the outbox in both cases, so neither is `down`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lorafield_microshare::outbox::{Outbox, OutboxError, Status, now_ms};
use lorafield_microshare::worker::{Failing, WorkerStats};

use crate::health::{Health, Verdict};

/// The checks of a bridge with this outbox and delivery worker.
pub(super) fn registry(outbox: &Outbox, stats: &Arc<WorkerStats>, grace: Duration) -> Health {
    let mut health = Health::new();
    let outbox = outbox.clone();
    health.add("outbox", move || {
        outbox_verdict(outbox.write_error(), outbox.status())
    });
    let stats = stats.clone();
    health.add("delivery", move || {
        delivery_verdict(
            stats.stopped(),
            stats.failing(),
            stats.delivered.load(Ordering::Relaxed),
            now_ms(),
            grace,
        )
    });
    health
}

/// The `outbox` check from the last commit's error and the counts.
pub(super) fn outbox_verdict(
    write_error: Option<String>,
    status: Result<Status, OutboxError>,
) -> Verdict {
    if let Some(e) = write_error {
        return Verdict::Down(format!(
            "uplinks cannot be stored: the last commit failed: {e}"
        ));
    }
    match status {
        Err(e) => Verdict::Down(format!("the outbox cannot be read: {e}")),
        Ok(s) => {
            let mut detail = format!(
                "depth {} ({} in flight), {} dead",
                s.pending + s.in_flight,
                s.in_flight,
                s.dead
            );
            if let Some(age) = s.oldest_pending_age_s {
                detail += &format!(", the oldest waiting {age:.1} s");
            }
            Verdict::Ok(detail)
        }
    }
}

/// The `delivery` check at `now_ms`.
pub(super) fn delivery_verdict(
    stopped: Option<String>,
    failing: Option<Failing>,
    delivered: u64,
    now_ms: i64,
    grace: Duration,
) -> Verdict {
    if let Some(reason) = stopped {
        return Verdict::Degraded(format!(
            "stopped: {reason}; uplinks are still taken into the outbox"
        ));
    }
    let Some(f) = failing else {
        return Verdict::Ok(format!("delivering ({delivered} delivered since start)"));
    };
    let for_s = (now_ms - f.since_ms).max(0) / 1000;
    let last = match f.status {
        Some(s) => format!("HTTP {s}: {}", f.reason),
        None => format!("no answer: {}", f.reason),
    };
    let attempts = match f.attempts {
        1 => "1 attempt".to_string(),
        n => format!("{n} attempts"),
    };
    let failing = format!("failing for {for_s} s ({attempts}); the last: {last}");
    if Duration::from_secs(u64::try_from(for_s).unwrap_or(0)) > grace {
        Verdict::Degraded(failing)
    } else {
        Verdict::Ok(format!(
            "{failing}; degraded if it goes on past {} s",
            grace.as_secs()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing(since_ms: i64) -> Failing {
        Failing {
            since_ms,
            attempts: 9,
            status: Some(503),
            reason: "Microshare answered HTTP 503".into(),
        }
    }

    #[test]
    fn delivery_failing_past_the_grace_period_is_degraded() {
        let grace = Duration::from_secs(60);
        let t = 1_000_000_000;
        assert_eq!(
            delivery_verdict(None, None, 7, t, grace),
            Verdict::Ok("delivering (7 delivered since start)".into())
        );
        let young = delivery_verdict(None, Some(failing(t - 59_000)), 7, t, grace);
        assert!(young.is_ok(), "{young:?}");
        assert!(young.detail().contains("failing for 59 s"), "{young:?}");
        let old = delivery_verdict(None, Some(failing(t - 61_000)), 7, t, grace);
        assert_eq!(
            old,
            Verdict::Degraded(
                "failing for 61 s (9 attempts); the last: HTTP 503: Microshare answered HTTP 503"
                    .into()
            )
        );
        let transport = Failing {
            status: None,
            attempts: 1,
            reason: "transport: connection refused".into(),
            ..failing(t - 120_000)
        };
        let v = delivery_verdict(None, Some(transport), 0, t, grace);
        assert_eq!(
            v.detail(),
            "failing for 120 s (1 attempt); the last: no answer: transport: connection refused"
        );
        // Stopped: degraded at once, not down: uplinks are still taken in.
        let stopped =
            delivery_verdict(Some("the pipe token was revoked".into()), None, 0, t, grace);
        assert!(
            matches!(&stopped, Verdict::Degraded(d) if d.contains("revoked")),
            "{stopped:?}"
        );
    }

    #[test]
    fn an_outbox_that_cannot_commit_is_down() {
        let status = Status {
            pending: 3,
            in_flight: 2,
            delivered: 10,
            dead: 1,
            oldest_pending_age_s: Some(1.31),
        };
        assert_eq!(
            outbox_verdict(None, Ok(status.clone())),
            Verdict::Ok("depth 5 (2 in flight), 1 dead, the oldest waiting 1.3 s".into())
        );
        let v = outbox_verdict(Some("disk I/O error".into()), Ok(status));
        assert!(
            matches!(&v, Verdict::Down(d) if d.contains("disk I/O error")),
            "{v:?}"
        );
        let v = outbox_verdict(None, Err(OutboxError::Closed));
        assert!(matches!(v, Verdict::Down(_)), "{v:?}");
    }
}
