//! What a failed attempt means for its record (retry with backoff, or the dead-letter table),
//! and the log lines about failures.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{DeliveryError, WorkerConfig, WorkerStats};
use crate::outbox::{Claimed, Settle};
use crate::throttle::{Held, LogThrottle};

/// The wait before retry number `attempt` (1 for the first retry): a random time in
/// `[0, min(max, base * 2^(attempt-1))]` (full jitter), or the server's `Retry-After` when
/// that is longer.
pub fn backoff(
    config: &WorkerConfig,
    attempt: u32,
    retry_after: Option<Duration>,
    rng: &mut fastrand::Rng,
) -> Duration {
    let exp = config
        .base_delay
        .saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(config.max_delay);
    let jitter =
        Duration::from_millis(rng.u64(0..=u64::try_from(exp.as_millis()).unwrap_or(u64::MAX)));
    match retry_after {
        Some(after) if after > jitter => after,
        _ => jitter,
    }
}

/// What to do with a record after a failed attempt; `unknown_outcomes` is the count of its
/// attempts that may have stored it, unsettled by a look-up, after this one (kept on the row).
pub fn settle_failure(
    config: &WorkerConfig,
    record: &Claimed,
    error: &DeliveryError,
    unknown_outcomes: u32,
    now: i64,
    rng: &mut fastrand::Rng,
) -> Settle {
    let attempts = record.attempts + 1;
    let age = Duration::from_millis(u64::try_from(now - record.created_ms).unwrap_or(0));
    let dead = |reason: String, status: Option<u16>| Settle::Dead {
        reason,
        status,
        unknown_outcomes,
    };
    match error {
        DeliveryError::Stop { reason } => Settle::Retry {
            next_ms: now,
            error: reason.clone(),
            status: None,
            counted: false,
            unknown_outcomes,
        },
        DeliveryError::Reject { reason, status } => dead(reason.clone(), *status),
        DeliveryError::Retry { reason, status, .. } if attempts >= config.max_attempts => dead(
            match attempts {
                1 => format!("{reason} (after 1 attempt)"),
                n => format!("{reason} (after {n} attempts)"),
            },
            *status,
        ),
        DeliveryError::Retry { reason, status, .. } if age >= config.max_age => {
            dead(format!("{reason} (after {} s)", age.as_secs()), *status)
        }
        DeliveryError::Retry {
            reason,
            status,
            after,
            ..
        } => {
            let wait = backoff(config, attempts, *after, rng);
            Settle::Retry {
                next_ms: now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 4),
                error: reason.clone(),
                status: *status,
                counted: true,
                unknown_outcomes,
            }
        }
    }
}

/// Counts a failed attempt, records it in `stats`, and logs it: a stop at error, always;
/// a retry or a dead letter at warn, rate-limited by `throttle`, with the HTTP status and
/// the reason.
pub(super) fn report_failure(
    stats: &WorkerStats,
    throttle: &LogThrottle,
    record: &Claimed,
    error: &DeliveryError,
    settle: &Settle,
    now: i64,
) {
    stats.record_failure(now, error);
    let status = match error.status() {
        Some(s) => format!("HTTP {s}"),
        None => "no answer".to_string(),
    };
    match (error, settle) {
        (DeliveryError::Stop { reason }, _) => {
            tracing::error!("delivery stopped: {reason}");
            if let Ok(mut stopped) = stats.stopped.lock() {
                stopped.get_or_insert_with(|| reason.clone());
            }
        }
        (_, Settle::Dead { reason, .. }) => {
            stats.dead.fetch_add(1, Ordering::Relaxed);
            if let Some(held) = throttle.admit("dead", Instant::now()) {
                tracing::warn!(
                    "delivery failed ({status}), record {} dead-lettered: {reason}{}",
                    record.key,
                    Held(held)
                );
            }
        }
        (_, Settle::Retry { next_ms, .. }) => {
            stats.retried.fetch_add(1, Ordering::Relaxed);
            let wait = (next_ms - now).max(0) as f64 / 1000.0;
            tracing::debug!(
                "delivery of {} failed ({status}), retry in {wait:.1} s: {error}",
                record.key
            );
            if let Some(held) = throttle.admit("retry", Instant::now()) {
                tracing::warn!(
                    "delivery failed ({status}), retrying with backoff: {error}{}",
                    Held(held)
                );
            }
        }
        (_, Settle::Delivered) => {}
    }
}

/// Counts and logs (rate-limited) a record posted again after `unchecked` attempts that may
/// have stored it, which the credentials could not ask about.
pub(super) fn report_unchecked(
    stats: &WorkerStats,
    throttle: &LogThrottle,
    record: &Claimed,
    unchecked: u32,
) {
    stats
        .unknown_outcomes
        .fetch_add(u64::from(unchecked), Ordering::Relaxed);
    tracing::debug!(
        "{} posted again after {unchecked} attempt(s) that may have stored it",
        record.key
    );
    if let Some(held) = throttle.admit("unchecked", Instant::now()) {
        tracing::warn!(
            "record {} posted again after an attempt that may have stored it (a timeout or a \
             cut connection): possibly a duplicate share; a pipe token cannot ask Microshare \
             (password credentials can, and then nothing is posted twice){}",
            record.key,
            Held(held)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::Cause;

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_cap_and_honours_retry_after() {
        let config = WorkerConfig::default();
        let mut rng = fastrand::Rng::with_seed(7);
        for attempt in 1..30 {
            let cap = config
                .base_delay
                .saturating_mul(1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX))
                .min(config.max_delay);
            let waits: Vec<Duration> = (0..200)
                .map(|_| backoff(&config, attempt, None, &mut rng))
                .collect();
            assert!(waits.iter().all(|w| *w <= cap), "attempt {attempt}");
            // Spread over the range, not stuck at the cap.
            assert!(waits.iter().any(|w| *w < cap / 2), "attempt {attempt}");
        }
        assert_eq!(
            backoff(&config, 1, Some(Duration::from_secs(30)), &mut rng),
            Duration::from_secs(30)
        );
    }

    fn claimed(attempts: u32, created_ms: i64) -> Claimed {
        Claimed {
            id: 1,
            key: "lfk-0000000000000001".into(),
            rec_type: "r".into(),
            body: b"{}".to_vec(),
            attempts,
            created_ms,
            unknown_outcomes: 0,
        }
    }

    #[test]
    fn failures_settle_by_kind_attempts_and_age() {
        let config = WorkerConfig::default();
        let mut rng = fastrand::Rng::with_seed(1);
        let now = 1_000_000_000;
        let retry = DeliveryError::Retry {
            reason: "503".into(),
            status: Some(503),
            after: None,
            cause: Cause::Answer,
        };
        assert!(matches!(
            settle_failure(&config, &claimed(0, now), &retry, 0, now, &mut rng),
            Settle::Retry { counted: true, .. }
        ));
        assert_eq!(
            settle_failure(&config, &claimed(19, now), &retry, 2, now, &mut rng),
            Settle::Dead {
                reason: "503 (after 20 attempts)".into(),
                status: Some(503),
                unknown_outcomes: 2,
            }
        );
        let old = now - 8 * 24 * 3600 * 1000;
        assert!(matches!(
            settle_failure(&config, &claimed(0, old), &retry, 0, now, &mut rng),
            Settle::Dead { .. }
        ));
        let reject = DeliveryError::Reject {
            reason: "400".into(),
            status: Some(400),
        };
        assert!(matches!(
            settle_failure(&config, &claimed(0, now), &reject, 0, now, &mut rng),
            Settle::Dead { .. }
        ));
        let stop = DeliveryError::Stop {
            reason: "revoked".into(),
        };
        assert_eq!(
            settle_failure(&config, &claimed(3, now), &stop, 1, now, &mut rng),
            Settle::Retry {
                next_ms: now,
                error: "revoked".into(),
                status: None,
                counted: false,
                unknown_outcomes: 1,
            }
        );
        // The count of attempts that may have stored it is kept on a retry.
        assert!(matches!(
            settle_failure(&config, &claimed(0, now), &retry, 3, now, &mut rng),
            Settle::Retry {
                unknown_outcomes: 3,
                ..
            }
        ));
    }
}
