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
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// The server's `Retry-After`, if it sent one.
        after: Option<Duration>,
    },
    /// Refused for good (other 4xx): dead-letter it now.
    Reject {
        /// What happened.
        reason: String,
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
    },
    /// Stop sending (a revoked pipe token, wrong credentials): keep the outbox as it is.
    Stop {
        /// What happened and what to do about it.
        reason: String,
    },
}

impl DeliveryError {
    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            DeliveryError::Retry { status, .. } | DeliveryError::Reject { status, .. } => *status,
            DeliveryError::Stop { .. } => None,
        }
    }

    /// What happened.
    pub fn reason(&self) -> &str {
        match self {
            DeliveryError::Retry { reason, .. }
            | DeliveryError::Reject { reason, .. }
            | DeliveryError::Stop { reason } => reason,
        }
    }
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())?;
        if let DeliveryError::Retry {
            after: Some(after), ..
        } = self
        {
            write!(f, " (retry after {} s)", after.as_secs())?;
        }
        Ok(())
    }
}

impl std::error::Error for DeliveryError {}

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
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::outbox::{Claimed, Outbox, OutboxError, Settle, now_ms};
use crate::throttle::{Held, LogThrottle};

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
    /// Failed attempts are logged at warn at most once per this interval for retries, and
    /// once for dead letters; the next line says how many were held back.
    pub log_interval: Duration,
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
            log_interval: crate::throttle::DEFAULT_INTERVAL,
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
    /// Whether deliveries are failing: since the first failure after the last success.
    failing: Mutex<Option<Failing>>,
}

/// Deliveries failing: every attempt settled since `since_ms` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    /// When the first of these failures was settled (ms since the Unix epoch).
    pub since_ms: i64,
    /// Failed attempts since.
    pub attempts: u64,
    /// The last failure's HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The last failure's reason.
    pub reason: String,
}

impl WorkerStats {
    /// Why delivery stopped, if it did.
    pub fn stopped(&self) -> Option<String> {
        self.stopped.lock().map_or(None, |s| s.clone())
    }

    /// Since when deliveries fail and why, when the last attempt settled failed.
    pub fn failing(&self) -> Option<Failing> {
        self.failing.lock().map_or(None, |f| f.clone())
    }

    /// Records a delivery: nothing is failing any more.
    pub fn record_success(&self) {
        if let Ok(mut f) = self.failing.lock() {
            *f = None;
        }
    }

    /// Records a failed attempt settled at `now_ms`.
    pub fn record_failure(&self, now_ms: i64, error: &DeliveryError) {
        if let Ok(mut f) = self.failing.lock() {
            let f = f.get_or_insert_with(|| Failing {
                since_ms: now_ms,
                attempts: 0,
                status: None,
                reason: String::new(),
            });
            f.attempts += 1;
            f.status = error.status();
            error.reason().clone_into(&mut f.reason);
        }
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
            status: None,
            counted: false,
        },
        DeliveryError::Reject { reason, status } => Settle::Dead {
            reason: reason.clone(),
            status: *status,
        },
        DeliveryError::Retry { reason, status, .. } if attempts >= config.max_attempts => {
            Settle::Dead {
                reason: match attempts {
                    1 => format!("{reason} (after 1 attempt)"),
                    n => format!("{reason} (after {n} attempts)"),
                },
                status: *status,
            }
        }
        DeliveryError::Retry { reason, status, .. } if age >= config.max_age => Settle::Dead {
            reason: format!("{reason} (after {} s)", age.as_secs()),
            status: *status,
        },
        DeliveryError::Retry {
            reason,
            status,
            after,
        } => {
            let wait = backoff(config, attempts, *after, rng);
            Settle::Retry {
                next_ms: now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 4),
                error: reason.clone(),
                status: *status,
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
    let throttle = Arc::new(LogThrottle::new(config.log_interval));
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
            let throttle = throttle.clone();
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
                        stats.record_success();
                        Settle::Delivered
                    }
                    Err(e) => {
                        let now = now_ms();
                        let s = settle_failure(&config, &record, &e, now, &mut rng);
                        report_failure(&stats, &throttle, &record, &e, &s, now);
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

/// Counts a failed attempt, records it in `stats`, and logs it: a stop at error, always;
/// a retry or a dead letter at warn, rate-limited by `throttle`, with the HTTP status and
/// the reason.
fn report_failure(
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
            status: Some(503),
            after: None,
        };
        assert!(matches!(
            settle_failure(&config, &claimed(0, now), &retry, now, &mut rng),
            Settle::Retry { counted: true, .. }
        ));
        assert_eq!(
            settle_failure(&config, &claimed(19, now), &retry, now, &mut rng),
            Settle::Dead {
                reason: "503 (after 20 attempts)".into(),
                status: Some(503)
            }
        );
        let old = now - 8 * 24 * 3600 * 1000;
        assert!(matches!(
            settle_failure(&config, &claimed(0, old), &retry, now, &mut rng),
            Settle::Dead { .. }
        ));
        let reject = DeliveryError::Reject {
            reason: "400".into(),
            status: Some(400),
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
                status: None,
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
            status: Some(503),
            after: None,
        };
        let (s, stats) = run_flaky(2, retry.clone(), 30).await;
        assert_eq!(stats.failing(), None, "the last attempts succeeded");
        assert_eq!((s.pending, s.in_flight, s.delivered, s.dead), (0, 0, 30, 0));
        assert_eq!(stats.delivered.load(Ordering::Relaxed), 30);
        assert_eq!(stats.retried.load(Ordering::Relaxed), 60);
        let (s, stats) = run_flaky(10, retry, 5).await;
        assert_eq!((s.delivered, s.dead), (0, 5));
        assert_eq!(stats.dead.load(Ordering::Relaxed), 5);
        let failing = stats.failing().expect("every attempt failed");
        assert_eq!(failing.attempts, 20);
        assert_eq!(
            (failing.status, failing.reason.as_str()),
            (Some(503), "503")
        );
        let (s, _) = run_flaky(
            1,
            DeliveryError::Reject {
                reason: "400".into(),
                status: Some(400),
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
