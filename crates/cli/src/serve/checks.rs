//! The checks `serve` registers for `/healthz`:
//!
//! - `outbox`: uplinks can be stored. Not ok (down: uplinks are answered 503) when the last
//!   commit failed or the outbox cannot be read; the detail gives its depth otherwise.
//! - `delivery`: records reach Microshare. Failing (every attempt since some time failed):
//!   still ok for the grace period (60 s), then degraded with the last status and reason;
//!   stopped (a revoked pipe token, refused credentials): degraded at once; falling behind
//!   (the outbox growing across a minute): degraded with the words of the warning, until the
//!   backlog falls back. Uplinks are still taken into the outbox in each case, so none is
//!   `down`. When ok, the detail gives the concurrency limit, the requests in flight and the
//!   round trips.
//! - `queue` (on JetStream, instead of both): uplinks can be published. Down (503) while the
//!   server cannot be reached or the last publish failed, with why.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lorafield_microshare::outbox::{Outbox, OutboxError, Status, now_ms};
use lorafield_microshare::queue::{Backend, Queue};
use lorafield_microshare::worker::{Concurrency, Failing, WorkerStats};

use super::backlog::Backlog;
use crate::health::{Health, Verdict};

/// What the `delivery` check looks at.
#[derive(Debug, Clone, Default)]
pub(crate) struct Delivery {
    /// Why delivery stopped, if it did.
    pub(crate) stopped: Option<String>,
    /// Since when and why deliveries fail, if they do.
    pub(crate) failing: Option<Failing>,
    /// The words of the backlog warning, while the episode lasts.
    pub(crate) behind: Option<String>,
    /// Records delivered since the start.
    pub(crate) delivered: u64,
    /// The concurrency limit.
    pub(crate) concurrency: Concurrency,
}

/// The checks of a bridge with this outbox, delivery worker and backlog watch.
pub(crate) fn registry(
    outbox: &Outbox,
    stats: &Arc<WorkerStats>,
    backlog: &Arc<Backlog>,
    grace: Duration,
) -> Health {
    let mut health = Health::new();
    let outbox = outbox.clone();
    health.add("outbox", move || {
        outbox_verdict(outbox.write_error(), outbox.status())
    });
    let stats = stats.clone();
    let backlog = backlog.clone();
    health.add("delivery", move || {
        let seen = Delivery {
            stopped: stats.stopped(),
            failing: stats.failing(),
            behind: backlog.behind(),
            delivered: stats.delivered.load(Ordering::Relaxed),
            concurrency: stats.concurrency(),
        };
        delivery_verdict(seen, now_ms(), grace)
    });
    health
}

/// The check of a bridge that publishes to a JetStream queue.
pub(crate) fn queue_registry(queue: &Backend) -> Health {
    let mut health = Health::new();
    let queue = queue.clone();
    health.add("queue", move || queue_verdict(queue.unavailable()));
    health
}

/// The `queue` check from why records cannot be stored, if they cannot.
pub(crate) fn queue_verdict(unavailable: Option<String>) -> Verdict {
    match unavailable {
        Some(why) => Verdict::Down(format!("uplinks cannot be stored: {why}")),
        None => Verdict::Ok("connected; publishes acknowledged".into()),
    }
}

/// The `outbox` check from the last commit's error and the counts.
pub(crate) fn outbox_verdict(
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
pub(crate) fn delivery_verdict(seen: Delivery, now_ms: i64, grace: Duration) -> Verdict {
    let Delivery {
        stopped,
        failing,
        behind,
        delivered,
        concurrency: c,
    } = seen;
    if let Some(reason) = stopped {
        return Verdict::Degraded(format!(
            "stopped: {reason}; uplinks are still taken into the outbox"
        ));
    }
    let Some(f) = failing else {
        if let Some(words) = behind {
            return Verdict::Degraded(words);
        }
        let mut detail = format!(
            "delivering ({delivered} delivered since start); {} in flight, limit {} ({}, \
             ceiling {})",
            c.in_flight,
            c.limit,
            if c.adaptive { "adaptive" } else { "fixed" },
            c.ceiling
        );
        if let (Some(recent), Some(baseline)) = (c.rtt_recent, c.rtt_baseline) {
            detail += &format!(
                ", round trips {} ms (baseline {} ms)",
                recent.as_millis(),
                baseline.as_millis()
            );
        }
        return Verdict::Ok(detail);
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
    if let Some(words) = behind {
        // Falling behind is said first, whether or not the failures are past the grace.
        Verdict::Degraded(format!("{words}; {failing}"))
    } else if Duration::from_secs(u64::try_from(for_s).unwrap_or(0)) > grace {
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

    fn seen(failing: Option<Failing>) -> Delivery {
        Delivery {
            failing,
            delivered: 7,
            concurrency: Concurrency {
                limit: 40,
                ceiling: 512,
                adaptive: true,
                in_flight: 38,
                rtt_baseline: Some(Duration::from_millis(101)),
                rtt_recent: Some(Duration::from_millis(104)),
                ..Concurrency::default()
            },
            ..Delivery::default()
        }
    }

    #[test]
    fn delivery_failing_past_the_grace_period_is_degraded() {
        let grace = Duration::from_secs(60);
        let t = 1_000_000_000;
        assert_eq!(
            delivery_verdict(seen(None), t, grace),
            Verdict::Ok(
                "delivering (7 delivered since start); 38 in flight, limit 40 (adaptive, \
                 ceiling 512), round trips 104 ms (baseline 101 ms)"
                    .into()
            )
        );
        let young = delivery_verdict(seen(Some(failing(t - 59_000))), t, grace);
        assert!(young.is_ok(), "{young:?}");
        assert!(young.detail().contains("failing for 59 s"), "{young:?}");
        let old = delivery_verdict(seen(Some(failing(t - 61_000))), t, grace);
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
        let v = delivery_verdict(seen(Some(transport)), t, grace);
        assert_eq!(
            v.detail(),
            "failing for 120 s (1 attempt); the last: no answer: transport: connection refused"
        );
        // Stopped: degraded at once, not down: uplinks are still taken in.
        let stopped = Delivery {
            stopped: Some("the pipe token was revoked".into()),
            ..seen(None)
        };
        let stopped = delivery_verdict(stopped, t, grace);
        assert!(
            matches!(&stopped, Verdict::Degraded(d) if d.contains("revoked")),
            "{stopped:?}"
        );
    }

    #[test]
    fn falling_behind_is_degraded_with_the_words_of_the_warning() {
        let grace = Duration::from_secs(60);
        let t = 1_000_000_000;
        let words = "delivery is falling behind: the outbox grew by 2412 records in 60 s";
        let behind = Delivery {
            behind: Some(words.into()),
            ..seen(None)
        };
        assert_eq!(
            delivery_verdict(behind.clone(), t, grace),
            Verdict::Degraded(words.into())
        );
        // Failing as well, within the grace period or past it: both are said.
        for (ago, said) in [(10_000, "failing for 10 s"), (90_000, "failing for 90 s")] {
            let v = delivery_verdict(
                Delivery {
                    failing: Some(failing(t - ago)),
                    ..behind.clone()
                },
                t,
                grace,
            );
            assert!(
                matches!(&v, Verdict::Degraded(d) if d.starts_with(words) && d.contains(said)),
                "{v:?}"
            );
        }
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
