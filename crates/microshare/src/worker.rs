//! The delivery worker: takes due records from the outbox, sends them with bounded
//! concurrency, and reschedules, retires or dead-letters each by how its attempt ended.

use std::future::Future;
use std::time::Duration;

/// How a delivery attempt ended badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// Worth retrying later: transport errors, timeouts, 408, 425, 429, 5xx. `after`: the
    /// server's `Retry-After`.
    Retry {
        /// What happened.
        reason: String,
        /// The server's `Retry-After`, if it sent one.
        after: Option<Duration>,
    },
    /// Refused for good (other 4xx): dead-letter it now.
    Reject {
        /// What happened.
        reason: String,
    },
    /// Stop sending (a revoked pipe token, wrong credentials): keep the outbox as it is.
    Stop {
        /// What happened and what to do about it.
        reason: String,
    },
}

/// Something that delivers one record: the Microshare client, or a stand-in in tests.
pub trait Deliver: Send + Sync + 'static {
    /// Sends `body` as a share of `rec_type` with `tags`.
    fn deliver(
        &self,
        rec_type: &str,
        tags: &[String],
        body: &[u8],
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::outbox::{Claimed, Outbox, OutboxError, Settle, now_ms};

/// The worker's settings.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Deliveries in flight at most.
    pub concurrency: usize,
    /// The first retry waits up to this long (full jitter: a random time from zero).
    pub base_delay: Duration,
    /// No retry waits longer than this (unless the server's `Retry-After` says so).
    pub max_delay: Duration,
    /// After this many attempts a record goes to the dead-letter table.
    pub max_attempts: u32,
    /// A record older than this goes to the dead-letter table at its next failure.
    pub max_age: Duration,
    /// How long a claimed record stays claimed: past it (a crash), it is sent again.
    pub lease: Duration,
    /// How long to wait for new records when nothing is due, at most.
    pub idle: Duration,
}

impl Default for WorkerConfig {
    /// 8 in flight; retries from 0.5 s doubling to 5 min; dead after 20 attempts or 7 days;
    /// a 2-minute lease.
    fn default() -> Self {
        WorkerConfig {
            concurrency: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(300),
            max_attempts: 20,
            max_age: Duration::from_secs(7 * 24 * 3600),
            lease: Duration::from_secs(120),
            idle: Duration::from_secs(1),
        }
    }
}

/// What the worker did, as counters (read them at any time; `/metrics` does).
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Records delivered.
    pub delivered: AtomicU64,
    /// Attempts that failed and were rescheduled.
    pub retried: AtomicU64,
    /// Records moved to the dead-letter table.
    pub dead: AtomicU64,
    /// Why delivery stopped, if it did.
    pub stopped: Mutex<Option<String>>,
}

impl WorkerStats {
    /// Why delivery stopped, if it did.
    pub fn stopped(&self) -> Option<String> {
        self.stopped.lock().map_or(None, |s| s.clone())
    }
}

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

/// What to do with a record after a failed attempt.
pub fn settle_failure(
    config: &WorkerConfig,
    record: &Claimed,
    error: &DeliveryError,
    now: i64,
    rng: &mut fastrand::Rng,
) -> Settle {
    let attempts = record.attempts + 1;
    let age = Duration::from_millis(u64::try_from(now - record.created_ms).unwrap_or(0));
    match error {
        DeliveryError::Stop { reason } => Settle::Retry {
            next_ms: now,
            error: reason.clone(),
            counted: false,
        },
        DeliveryError::Reject { reason } => Settle::Dead {
            reason: reason.clone(),
        },
        DeliveryError::Retry { reason, .. } if attempts >= config.max_attempts => Settle::Dead {
            reason: format!("{reason} (after {attempts} attempts)"),
        },
        DeliveryError::Retry { reason, .. } if age >= config.max_age => Settle::Dead {
            reason: format!("{reason} (after {} s)", age.as_secs()),
        },
        DeliveryError::Retry { reason, after } => {
            let wait = backoff(config, attempts, *after, rng);
            Settle::Retry {
                next_ms: now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 4),
                error: reason.clone(),
                counted: true,
            }
        }
    }
}

/// Delivers from `outbox` with `deliver` until `shutdown` turns true or delivery must stop;
/// then lets the deliveries in flight finish (and settles them) and returns. A stop is
/// recorded in `stats.stopped` and leaves every record in the outbox.
pub async fn run<D: Deliver>(
    outbox: Outbox,
    deliver: Arc<D>,
    config: WorkerConfig,
    stats: Arc<WorkerStats>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), OutboxError> {
    let mut tasks: JoinSet<Result<(), OutboxError>> = JoinSet::new();
    let mut seed = fastrand::Rng::new();
    let notify = outbox.notify().clone();
    loop {
        if *shutdown.borrow() || stats.stopped().is_some() {
            break;
        }
        let free = config.concurrency.saturating_sub(tasks.len());
        if free == 0 {
            if let Some(done) = tasks.join_next().await {
                done.map_err(|e| OutboxError::Commit(e.to_string()))??;
            }
            continue;
        }
        let due = outbox.claim(free, config.lease).await?;
        if due.is_empty() {
            let wait = match outbox.next_due_ms()? {
                Some(at) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0).max(1)),
                None => config.idle,
            }
            .min(config.idle);
            tokio::select! {
                () = notify.notified() => {}
                () = tokio::time::sleep(wait) => {}
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    done.map_err(|e| OutboxError::Commit(e.to_string()))??;
                }
                _ = shutdown.changed() => {}
            }
            continue;
        }
        for record in due {
            let outbox = outbox.clone();
            let deliver = deliver.clone();
            let stats = stats.clone();
            let mut rng = fastrand::Rng::with_seed(seed.u64(..));
            tasks.spawn(async move {
                let result = deliver
                    .deliver(
                        &record.rec_type,
                        std::slice::from_ref(&record.key),
                        &record.body,
                    )
                    .await;
                let settle = match result {
                    Ok(()) => {
                        stats.delivered.fetch_add(1, Ordering::Relaxed);
                        Settle::Delivered
                    }
                    Err(e) => {
                        let s = settle_failure(&config, &record, &e, now_ms(), &mut rng);
                        match (&e, &s) {
                            (DeliveryError::Stop { reason }, _) => {
                                tracing::error!("delivery stopped: {reason}");
                                if let Ok(mut stopped) = stats.stopped.lock() {
                                    stopped.get_or_insert_with(|| reason.clone());
                                }
                            }
                            (_, Settle::Dead { reason }) => {
                                tracing::warn!(key = %record.key, "dead-lettered: {reason}");
                                stats.dead.fetch_add(1, Ordering::Relaxed);
                            }
                            (_, _) => {
                                tracing::debug!(key = %record.key, "retry: {e:?}");
                                stats.retried.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        s
                    }
                };
                outbox.settle(record.id, settle).await
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| OutboxError::Commit(e.to_string()))??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::NewRecord;

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
        }
    }

    #[test]
    fn failures_settle_by_kind_attempts_and_age() {
        let config = WorkerConfig::default();
        let mut rng = fastrand::Rng::with_seed(1);
        let now = 1_000_000_000;
        let retry = DeliveryError::Retry {
            reason: "503".into(),
            after: None,
        };
        assert!(matches!(
            settle_failure(&config, &claimed(0, now), &retry, now, &mut rng),
            Settle::Retry { counted: true, .. }
        ));
        assert!(matches!(
            settle_failure(&config, &claimed(19, now), &retry, now, &mut rng),
            Settle::Dead { .. }
        ));
        let old = now - 8 * 24 * 3600 * 1000;
        assert!(matches!(
            settle_failure(&config, &claimed(0, old), &retry, now, &mut rng),
            Settle::Dead { .. }
        ));
        let reject = DeliveryError::Reject {
            reason: "400".into(),
        };
        assert!(matches!(
            settle_failure(&config, &claimed(0, now), &reject, now, &mut rng),
            Settle::Dead { .. }
        ));
        let stop = DeliveryError::Stop {
            reason: "revoked".into(),
        };
        assert_eq!(
            settle_failure(&config, &claimed(3, now), &stop, now, &mut rng),
            Settle::Retry {
                next_ms: now,
                error: "revoked".into(),
                counted: false
            }
        );
    }

    /// Fails every record's first `fail` attempts with `error`, then accepts; counts calls.
    struct Flaky {
        fail: u32,
        error: DeliveryError,
        calls: Mutex<std::collections::HashMap<String, u32>>,
    }

    impl Deliver for Flaky {
        async fn deliver(&self, _: &str, tags: &[String], _: &[u8]) -> Result<(), DeliveryError> {
            let n = {
                let mut calls = self.calls.lock().unwrap();
                let n = calls.entry(tags[0].clone()).or_default();
                *n += 1;
                *n
            };
            if n <= self.fail {
                Err(self.error.clone())
            } else {
                Ok(())
            }
        }
    }

    async fn run_flaky(
        fail: u32,
        error: DeliveryError,
        records: u32,
    ) -> (crate::outbox::Status, Arc<WorkerStats>) {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        for i in 0..records {
            outbox
                .enqueue(NewRecord {
                    key: format!("lfk-{i:016x}"),
                    rec_type: "r".into(),
                    body: b"{}".to_vec(),
                })
                .await
                .unwrap();
        }
        let config = WorkerConfig {
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            max_attempts: 4,
            idle: Duration::from_millis(20),
            ..WorkerConfig::default()
        };
        let stats = Arc::new(WorkerStats::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let flaky = Arc::new(Flaky {
            fail,
            error,
            calls: Mutex::default(),
        });
        let worker = tokio::spawn(run(outbox.clone(), flaky, config, stats.clone(), stop_rx));
        // Until nothing is pending or in flight, or delivery stopped; 10 s at most.
        for _ in 0..1000 {
            let s = outbox.status().unwrap();
            if s.pending + s.in_flight == 0 || stats.stopped().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop_tx.send(true); // a stopped worker has gone already
        tokio::time::timeout(Duration::from_secs(10), worker)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        (outbox.status().unwrap(), stats)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retried_records_arrive_and_hopeless_ones_die() {
        let retry = DeliveryError::Retry {
            reason: "503".into(),
            after: None,
        };
        let (s, stats) = run_flaky(2, retry.clone(), 30).await;
        assert_eq!((s.pending, s.in_flight, s.delivered, s.dead), (0, 0, 30, 0));
        assert_eq!(stats.delivered.load(Ordering::Relaxed), 30);
        assert_eq!(stats.retried.load(Ordering::Relaxed), 60);
        let (s, stats) = run_flaky(10, retry, 5).await;
        assert_eq!((s.delivered, s.dead), (0, 5));
        assert_eq!(stats.dead.load(Ordering::Relaxed), 5);
        let (s, _) = run_flaky(
            1,
            DeliveryError::Reject {
                reason: "400".into(),
            },
            5,
        )
        .await;
        assert_eq!((s.delivered, s.dead), (0, 5));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stop_keeps_every_record() {
        let stop = DeliveryError::Stop {
            reason: "pipe token revoked".into(),
        };
        let (s, stats) = run_flaky(u32::MAX, stop, 12).await;
        assert_eq!(stats.stopped().as_deref(), Some("pipe token revoked"));
        assert_eq!(s.pending + s.in_flight, 12);
        assert_eq!((s.delivered, s.dead), (0, 0));
    }
}
