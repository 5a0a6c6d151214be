//! The delivery worker: leases due records from a [queue](crate::queue) (the outbox, or
//! JetStream), sends them with as many in flight as the [adaptive limit](crate::adaptive)
//! allows, and reschedules, retires or dead-letters each by how its attempt ended.
//!
//! - `attempt.rs`: one attempt at one record, wherever it waits: a look-up first when an
//!   earlier attempt may have stored it, then the post; every round trip timed for the limit.
//! - `keys.rs`: one delivery at a time per record key (a queue may hand a record out twice).
//! - `settle.rs`: what a failed attempt means for the record (backoff, dead letters) and the
//!   log lines about it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::adaptive::{AdaptiveConfig, Signal};
use crate::outbox::{Settle, now_ms};
use crate::queue::{Queue, QueueError, QueueErrorKind};
use crate::throttle::{Held, LogThrottle};

mod attempt;
mod keys;
mod settle;

pub use attempt::{Attempted, Pace, Record, attempt};
pub use settle::{backoff, settle_failure};

/// How a request that brought no success ended, as far as the client can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Microshare answered; the status is in the error.
    Answer,
    /// Nothing was sent: no connection could be made.
    NotSent,
    /// The request went out and no answer came in time: it may have been carried out.
    Timeout,
    /// The request went out and the connection closed before the whole answer came: it may
    /// have been carried out.
    Cut,
}

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
        /// Whether there was an answer, and if not, whether the request went out.
        cause: Cause,
    },
    /// Refused for good (other 4xx): dead-letter it now.
    Reject {
        /// What happened.
        reason: String,
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
    },
    /// Stop sending (a revoked pipe token, wrong credentials): keep the queue as it is.
    Stop {
        /// What happened and what to do about it.
        reason: String,
    },
}

impl DeliveryError {
    /// A retry after an answer with `status` (and its `Retry-After`).
    pub fn answered(reason: String, status: u16, after: Option<Duration>) -> Self {
        DeliveryError::Retry {
            reason,
            status: Some(status),
            after,
            cause: Cause::Answer,
        }
    }

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

    /// Whether the request may have been carried out all the same: it went out and no answer
    /// came (a timeout, a connection cut after sending), or a gateway answered that it got none
    /// in time from behind it (502, 504).
    pub fn may_have_stored(&self) -> bool {
        match self {
            DeliveryError::Retry { cause, status, .. } => {
                matches!(cause, Cause::Timeout | Cause::Cut) || matches!(status, Some(502 | 504))
            }
            _ => false,
        }
    }

    /// What it says about the load ([`Signal::Overload`]: 429, 503, a timeout).
    pub fn signal(&self) -> Signal {
        match self {
            DeliveryError::Retry {
                cause: Cause::Timeout,
                ..
            } => Signal::Overload,
            e if matches!(e.status(), Some(429 | 503)) => Signal::Overload,
            _ => Signal::Other,
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

/// What Microshare said when asked whether it holds a record already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A share carrying the record's key is stored.
    Found,
    /// None is.
    Absent,
    /// It cannot be asked (a pipe token can only post).
    Unavailable,
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

    /// Whether a share of `rec_type` carrying `tag` is stored. By default it cannot be asked.
    fn look_up(
        &self,
        rec_type: &str,
        tag: &str,
    ) -> impl Future<Output = Result<Lookup, DeliveryError>> + Send {
        let _ = (rec_type, tag);
        std::future::ready(Ok(Lookup::Unavailable))
    }
}

/// The worker's settings.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Deliveries in flight at most: the ceiling of the adaptive limit, or the fixed limit.
    pub concurrency: usize,
    /// How the limit adapts below `concurrency`; `None` keeps it at `concurrency`.
    pub adaptive: Option<AdaptiveConfig>,
    /// The first retry waits up to this long (full jitter: a random time from zero).
    pub base_delay: Duration,
    /// No retry waits longer than this (unless the server's `Retry-After` says so).
    pub max_delay: Duration,
    /// After this many attempts a record goes to the dead-letter table.
    pub max_attempts: u32,
    /// A record older than this goes to the dead-letter table at its next failure.
    pub max_age: Duration,
    /// How long a claimed record stays claimed: past it (a crash), it is sent again, after a
    /// look-up where the credentials can read.
    pub lease: Duration,
    /// How long to wait for new records when nothing is due, at most.
    pub idle: Duration,
    /// Failed attempts are logged at warn at most once per this interval for retries, and
    /// once for dead letters; the next line says how many were held back.
    pub log_interval: Duration,
}

/// The ceiling of [`WorkerConfig::default`]'s adaptive limit.
pub const DEFAULT_CEILING: usize = 512;

/// The limit of `--adaptive off` when no `--concurrency` is given.
pub const DEFAULT_FIXED: usize = 8;

impl Default for WorkerConfig {
    /// An adaptive limit from 8 up to 512 in flight; retries from 0.5 s doubling to 5 min;
    /// dead after 20 attempts or 7 days; a 2-minute lease.
    fn default() -> Self {
        WorkerConfig {
            concurrency: DEFAULT_CEILING,
            adaptive: Some(AdaptiveConfig::default()),
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

/// The concurrency limit and what it is based on, as `/metrics` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Concurrency {
    /// Deliveries that may be in flight now.
    pub limit: usize,
    /// The limit's ceiling.
    pub ceiling: usize,
    /// Whether the limit adapts.
    pub adaptive: bool,
    /// Deliveries in flight.
    pub in_flight: usize,
    /// The long-term round-trip baseline, once measured.
    pub rtt_baseline: Option<Duration>,
    /// The mean round trip of the last window.
    pub rtt_recent: Option<Duration>,
    /// How many times the limit went up.
    pub increases: u64,
    /// How many times it went down.
    pub decreases: u64,
}

/// What the worker did, as counters (read them at any time; `/metrics` does).
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Records delivered (posted, or found stored by an earlier attempt).
    pub delivered: AtomicU64,
    /// Attempts that failed and were rescheduled.
    pub retried: AtomicU64,
    /// Records moved to the dead-letter table.
    pub dead: AtomicU64,
    /// Look-ups that found the record stored by an earlier attempt (not posted again).
    pub found: AtomicU64,
    /// Look-ups that found nothing (the record was posted).
    pub absent: AtomicU64,
    /// Attempts that may have stored a record and could not be checked (a pipe token) before
    /// the record was posted again and stored: each may be a duplicate share.
    pub unknown_outcomes: AtomicU64,
    /// Why delivery stopped, if it did.
    pub stopped: Mutex<Option<String>>,
    /// The concurrency limit, as the worker last set it.
    concurrency: Mutex<Concurrency>,
    /// Whether deliveries are failing: since the first failure after the last success.
    failing: Mutex<Option<Failing>>,
    /// Why leasing from the queue fails, since when (ms), while it does.
    queue_failing: Mutex<Option<(i64, String)>>,
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

    /// The concurrency limit and its figures.
    pub fn concurrency(&self) -> Concurrency {
        self.concurrency
            .lock()
            .map_or(Concurrency::default(), |c| *c)
    }

    fn set_concurrency(&self, update: impl FnOnce(&mut Concurrency)) {
        if let Ok(mut c) = self.concurrency.lock() {
            update(&mut c);
        }
    }

    /// Why leasing records from the queue fails and since when (ms since the Unix epoch),
    /// while it does (a NATS server out of reach).
    pub fn queue_failing(&self) -> Option<(i64, String)> {
        self.queue_failing.lock().map_or(None, |f| f.clone())
    }

    /// Records how the last lease ended: `None` when it worked.
    pub fn record_queue(&self, error: Option<&str>) {
        if let Ok(mut f) = self.queue_failing.lock() {
            match error {
                None => *f = None,
                Some(e) => {
                    let since = f.as_ref().map_or_else(now_ms, |(since, _)| *since);
                    *f = Some((since, e.to_string()));
                }
            }
        }
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

/// Delivers from `queue` with `deliver` until `shutdown` turns true or delivery must stop;
/// then lets the deliveries in flight finish (and settles them) and returns. A stop is
/// recorded in `stats.stopped` and leaves every record in the queue.
///
/// At most [`Pace::limit`] deliveries are in flight: the tasks running are counted against
/// the limit the controller sets after every answer (a semaphore whose size follows it), so a
/// lower limit takes effect as deliveries end and a higher one at once. While an attempt
/// runs, its lease is kept with [`Queue::progress`] every third of `config.lease`.
///
/// The queue being out of reach ([`QueueErrorKind::Unavailable`]: a NATS server down) does
/// not end the worker: it is recorded in `stats` (see [`WorkerStats::queue_failing`]) and
/// leasing is tried again; a settlement it could not record leaves the record to be leased
/// again when its lease runs out (looked up first, where the credentials can ask). Any other
/// queue error (the outbox's) ends it.
pub async fn run<Q: Queue, D: Deliver>(
    queue: Arc<Q>,
    deliver: Arc<D>,
    config: WorkerConfig,
    stats: Arc<WorkerStats>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), QueueError> {
    let mut tasks: JoinSet<Result<(), QueueError>> = JoinSet::new();
    let mut seed = fastrand::Rng::new();
    let throttle = Arc::new(LogThrottle::new(config.log_interval));
    let pace = Arc::new(Pace::new(&config, stats.clone()));
    let keys = Arc::new(keys::Keys::default());
    let joined = |done: Result<Result<(), QueueError>, tokio::task::JoinError>| match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.kind() == QueueErrorKind::Unavailable => {
            if let Some(held) = throttle.admit("settle", Instant::now()) {
                tracing::warn!(
                    "a delivery's outcome could not be recorded: {e}; the record is leased again when its lease runs out{}",
                    Held(held)
                );
            }
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(e) => Err(QueueError::new(QueueErrorKind::Refused, e.to_string())),
    };
    loop {
        while let Some(done) = tasks.try_join_next() {
            joined(done)?;
        }
        pace.set_in_flight(tasks.len());
        if *shutdown.borrow() || stats.stopped().is_some() {
            break;
        }
        let free = pace.limit().saturating_sub(tasks.len());
        if free == 0 {
            if let Some(done) = tasks.join_next().await {
                joined(done)?;
            }
            continue;
        }
        let due = match queue.lease(free, config.idle).await {
            Ok(due) => {
                stats.record_queue(None);
                due
            }
            Err(e) if e.kind() == QueueErrorKind::Unavailable => {
                if stats.queue_failing().is_none() {
                    tracing::warn!("cannot lease records: {e}; trying again");
                }
                stats.record_queue(Some(&e.to_string()));
                tokio::select! {
                    () = tokio::time::sleep(config.idle) => {}
                    Some(done) = tasks.join_next(), if !tasks.is_empty() => joined(done)?,
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        for leased in due {
            let queue = queue.clone();
            let deliver = deliver.clone();
            let stats = stats.clone();
            let throttle = throttle.clone();
            let task_pace = pace.clone();
            let keys = keys.clone();
            let mut rng = fastrand::Rng::with_seed(seed.u64(..));
            tasks.spawn(async move {
                let record = &leased.record;
                let (attempted, held) = with_progress(
                    &*queue,
                    &leased.ticket,
                    config.lease / 3,
                    async {
                        // Held until settled; a second delivery of the key waits, then looks
                        // the record up before posting it.
                        let (held, waited) = keys.hold(&record.key).await;
                        if waited {
                            tracing::debug!(
                                "{} was handed out again while its delivery was under way: delivered after it, looked up first",
                                record.key
                            );
                        }
                        let unknown_outcomes = if waited {
                            record.unknown_outcomes.max(1)
                        } else {
                            record.unknown_outcomes
                        };
                        let record = Record {
                            rec_type: &record.rec_type,
                            key: &record.key,
                            body: &record.body,
                            unknown_outcomes,
                        };
                        (attempt(&*deliver, &task_pace, record).await, held)
                    },
                )
                .await;
                let settle = match attempted {
                    Attempted::Posted { unchecked } => {
                        stats.delivered.fetch_add(1, Ordering::Relaxed);
                        stats.record_success();
                        if unchecked > 0 {
                            settle::report_unchecked(&stats, &throttle, record, unchecked);
                        }
                        Settle::Delivered
                    }
                    Attempted::Found => {
                        stats.delivered.fetch_add(1, Ordering::Relaxed);
                        stats.record_success();
                        tracing::debug!(
                            "{} was stored by an earlier attempt: not posted again",
                            record.key
                        );
                        Settle::Delivered
                    }
                    Attempted::Failed {
                        error,
                        unknown_outcomes,
                    } => {
                        let now = now_ms();
                        let s = settle_failure(
                            &config,
                            record,
                            &error,
                            unknown_outcomes,
                            now,
                            &mut rng,
                        );
                        settle::report_failure(&stats, &throttle, record, &error, &s, now);
                        s
                    }
                };
                let settled = queue.settle(&leased, settle).await;
                drop(held);
                settled
            });
            pace.started(tasks.len());
        }
        pace.set_in_flight(tasks.len());
    }
    while let Some(done) = tasks.join_next().await {
        joined(done)?;
    }
    pace.set_in_flight(0);
    Ok(())
}

/// Runs `attempt`, saying every `period` that it is still under way so that the lease of
/// `ticket` does not run out meanwhile.
async fn with_progress<Q: Queue, T>(
    queue: &Q,
    ticket: &Q::Ticket,
    period: Duration,
    attempt: impl Future<Output = T>,
) -> T {
    let period = period.max(Duration::from_millis(100));
    let mut attempt = std::pin::pin!(attempt);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            done = &mut attempt => return done,
            _ = tick.tick() => {
                if let Err(e) = queue.progress(ticket).await {
                    tracing::debug!("progress: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
