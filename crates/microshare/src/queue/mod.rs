//! One queue interface for the delivery path, two backends.
//!
//! A [`Queue`] takes decoded records ([`NewRecord`]: key, recType, body), leases them to a
//! delivery worker, and settles each lease by how its attempt ended ([`Settle`]): delivered,
//! retry later, or dead-lettered. It also answers `lorafield outbox status|dead|retry-dead`.
//!
//! - [`OutboxQueue`]: the SQLite outbox of one machine (the default): `serve` enqueues and its
//!   own worker delivers.
//! - [`JetStream`]: a NATS JetStream work-queue stream shared by any number of `serve` (and
//!   `ingest-mqtt`) processes that enqueue and `forward` processes that deliver, through one
//!   durable pull consumer.
//! - [`Backend`]: either, chosen at run time.
//!
//! ```no_run
//! use std::time::Duration;
//! use lorafield_microshare::outbox::{NewRecord, Outbox, Settle};
//! use lorafield_microshare::queue::{OutboxQueue, Queue, QueueError};
//!
//! # async fn run() -> Result<(), QueueError> {
//! let outbox = Outbox::open("lorafield-outbox".as_ref())?;
//! let queue = OutboxQueue::new(outbox, Duration::from_secs(120));
//! let record = NewRecord {
//!     key: "lfk-5c0b8f04d3e1a2b7".into(),
//!     rec_type: "io.example.decoded".into(),
//!     body: br#"{"t":21.5}"#.to_vec(),
//! };
//! queue.enqueue(record).await?; // stored: answer the webhook now
//! for leased in queue.lease(32, Duration::from_secs(1)).await? {
//!     // ... post leased.record.body to Microshare, then:
//!     queue.settle(&leased, Settle::Delivered).await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Both backends deliver at least once: a record is acknowledged to its sender only once it is
//! stored (committed to disk, or acknowledged by the JetStream server), and it leaves the queue
//! only when it is settled; a lease that is never settled (a worker killed mid-delivery) runs
//! out and the record is leased again.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::Serialize;

pub use crate::outbox::{Claimed, DeadLetter, DeadLetters, Enqueued, NewRecord, Settle};
use crate::outbox::{OutboxError, Status as OutboxStatus};

mod backend;
pub mod jetstream;
mod sqlite;

pub use backend::{Backend, Ticket};
pub use jetstream::JetStream;
pub use sqlite::OutboxQueue;

/// A record leased to a worker, and what the backend needs to settle it.
#[derive(Debug)]
pub struct Leased<T> {
    /// The record.
    pub record: Claimed,
    /// The backend's handle on the lease (a row id, a JetStream message).
    pub ticket: T,
}

/// The counts of a queue, as `lorafield outbox status` prints them (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Status {
    /// Records waiting to be leased.
    pub pending: u64,
    /// Records leased to a worker whose lease has not run out.
    pub in_flight: u64,
    /// Records delivered and still remembered (the outbox keeps them until purged; JetStream
    /// removes a record once it is acknowledged: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered: Option<u64>,
    /// Records in the dead-letter table or stream.
    pub dead: u64,
    /// How long the oldest record not yet delivered has waited, in seconds.
    pub oldest_pending_age_s: Option<f64>,
    /// Records leased more than once and not yet settled (JetStream only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redelivered: Option<u64>,
}

impl From<OutboxStatus> for Status {
    fn from(s: OutboxStatus) -> Self {
        Status {
            pending: s.pending,
            in_flight: s.in_flight,
            delivered: Some(s.delivered),
            dead: s.dead,
            oldest_pending_age_s: s.oldest_pending_age_s,
            redelivered: None,
        }
    }
}

/// The delivery path's queue: where accepted records wait until they are delivered.
///
/// Futures are `Send`: the methods are called from tasks of a multi-threaded runtime.
pub trait Queue: Send + Sync + 'static {
    /// The backend's handle on a lease.
    type Ticket: Send + Sync + 'static;

    /// Stores `record` unless a record with its key is held already; returns once it is stored
    /// (the webhook may be answered then). An error means it is not known to be stored.
    fn enqueue(
        &self,
        record: NewRecord,
    ) -> impl Future<Output = Result<Enqueued, QueueError>> + Send;

    /// Leases up to `limit` records that are due; when none is, waits up to `wait` for one.
    /// A lease that is not settled (nor kept with [`Queue::progress`]) in time runs out, and
    /// the record is leased again.
    fn lease(
        &self,
        limit: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Leased<Self::Ticket>>, QueueError>> + Send;

    /// Says that the attempt on a leased record is still under way, so that its lease does not
    /// run out while a slow delivery goes on.
    fn progress(
        &self,
        ticket: &Self::Ticket,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Settles a lease: the record is delivered, retried later, or dead-lettered.
    fn settle(
        &self,
        leased: &Leased<Self::Ticket>,
        settle: Settle,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// The counts.
    fn status(&self) -> impl Future<Output = Result<Status, QueueError>> + Send;

    /// The newest `limit` dead letters, and how many there are.
    fn dead_letters(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<DeadLetters, QueueError>> + Send;

    /// Makes every dead record pending again, due now; returns how many.
    fn retry_dead(&self) -> impl Future<Output = Result<u64, QueueError>> + Send;

    /// Why records cannot be stored now, if they cannot (for `/healthz`).
    fn unavailable(&self) -> Option<String>;
}

/// What kind of thing went wrong with a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueErrorKind {
    /// The queue cannot be reached or did not answer in time (a NATS server down, a cluster
    /// without a leader): try again later. `serve` answers 503.
    Unavailable,
    /// The queue's settings are not what this process was given (an existing stream or
    /// consumer with other settings, a dead-letter age past the stream's `max_age`).
    Settings,
    /// The queue refused the operation or answered something this lorafield cannot read.
    Refused,
    /// The SQLite outbox failed.
    Outbox,
}

impl fmt::Display for QueueErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueueErrorKind::Unavailable => "queue unavailable",
            QueueErrorKind::Settings => "queue settings",
            QueueErrorKind::Refused => "queue refused",
            QueueErrorKind::Outbox => "outbox",
        })
    }
}

/// A queue error: its [`kind`](QueueError::kind) and what happened, in words.
#[derive(Debug)]
pub struct QueueError {
    kind: QueueErrorKind,
    detail: String,
    outbox: Option<OutboxError>,
}

impl QueueError {
    /// An error of `kind`, described by `detail`.
    pub fn new(kind: QueueErrorKind, detail: impl Into<String>) -> Self {
        QueueError {
            kind,
            detail: detail.into(),
            outbox: None,
        }
    }

    /// What kind of error it is.
    pub fn kind(&self) -> QueueErrorKind {
        self.kind
    }

    /// The outbox's own error, when the SQLite outbox failed.
    pub fn outbox(&self) -> Option<&OutboxError> {
        self.outbox.as_ref()
    }
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outbox {
            Some(e) => write!(f, "{e}"),
            None => f.write_str(&self.detail),
        }
    }
}

impl std::error::Error for QueueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.outbox
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<OutboxError> for QueueError {
    fn from(e: OutboxError) -> Self {
        QueueError {
            kind: QueueErrorKind::Outbox,
            detail: String::new(),
            outbox: Some(e),
        }
    }
}
