//! The durable outbox: SQLite in WAL mode, one writer thread, group commits.
//!
//! A record is in the outbox once [`Outbox::enqueue`] returns: its transaction is committed
//! and, with `synchronous=FULL`, the WAL is on disk. Requests that arrive while a commit is
//! under way queue up and share the next one, so concurrent webhooks share an fsync.
//!
//! Three tables: `pending` (waiting or in flight: a claimed record carries a lease; a record
//! whose lease ran out, after a crash for instance, is claimed again, and that lease counts as
//! an attempt that may have stored it), `delivered` (what was sent, without the body), `dead`
//! (what will not be sent without `retry-dead`, with the reason and the last HTTP status); and
//! the key index, `keys`: every record key (per recType) the outbox holds, in whichever table,
//! until its delivered record is purged or forgotten ([`Outbox::forget_delivered`]). Each
//! record counts its attempts that may have stored it in Microshare without an answer saying
//! so (`unknown_outcomes`; see [`crate::worker::Record`]). A record whose key is held already
//! is not added again ([`Enqueued::Duplicate`]). Times are wall-clock milliseconds since the
//! Unix epoch. The schema carries a version (`PRAGMA user_version`); a file from an older
//! lorafield is migrated when it is opened (see `schema.rs`).
//!
//! Several processes on one machine may share an outbox file (`lorafield ingest-mqtt` run
//! twice on the same topics, for redundancy): every transaction that writes takes SQLite's
//! write lock as it begins (`BEGIN IMMEDIATE`), waiting up to the busy timeout while another
//! process holds it, so that the key index is checked and added to under one lock (an uplink
//! both receive is stored once) and a claim leases each record to one worker.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, oneshot};

mod admin;
mod lock;
mod schema;
mod writer;

pub use admin::{
    DeadLetter, DeadLetters, Status, dead_letters, purge_delivered, retry_dead, status,
};
pub use lock::{LOCK_FILE, Lock, lock};
pub use schema::VERSION;
use schema::open_connection;
use writer::{Op, WriterHealth, writer};

/// The database file in the outbox directory.
pub const FILE: &str = "outbox.sqlite3";

/// The most operations one commit takes.
const MAX_BATCH: usize = 1024;

/// The most delivered records one transaction of [`Outbox::forget_delivered`] forgets.
pub const FORGET_BATCH: usize = 2_000;

/// How long `serve` and `ingest-mqtt` keep delivered records (and so their keys) by default: a
/// week, far past any retry of a webhook or an MQTT message.
pub const DEFAULT_KEEP_DELIVERED: Duration = Duration::from_secs(7 * 86_400);

/// How often [`forget_old`] looks for delivered records past their keep.
pub const FORGET_EVERY: Duration = Duration::from_secs(3_600);

/// The record key: the first 8 bytes of SHA-256 over the DevEUI (upper-cased), the frame
/// counter, the receive time and the raw payload text, each followed by a NUL, as
/// `lfk-<16 hex digits>`. The same uplink always gets the same key, so duplicates made by
/// retries can be found among the shares by their tag.
pub fn record_key(dev_eui: &str, f_cnt: u64, received_at: &str, payload: &str) -> String {
    let mut h = Sha256::new();
    h.update(dev_eui.to_ascii_uppercase().as_bytes());
    h.update([0]);
    h.update(f_cnt.to_string().as_bytes());
    h.update([0]);
    h.update(received_at.as_bytes());
    h.update([0]);
    h.update(payload.as_bytes());
    h.update([0]);
    format!("lfk-{}", hex::encode(&h.finalize()[..8]))
}

/// The record key of an uplink from what identifies it ([`record_key`]), or, for a record
/// without them, of its whole text.
pub fn uplink_key(ids: Option<&lorafield_envelope::UplinkIds<'_>>, text: &str) -> String {
    match ids {
        Some(ids) => record_key(
            ids.dev_eui.as_deref().unwrap_or_default(),
            ids.f_cnt,
            ids.received_at.as_deref().unwrap_or_default(),
            &ids.payload,
        ),
        None => record_key("", 0, "", text),
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What went wrong with the outbox.
#[derive(Debug)]
#[non_exhaustive]
pub enum OutboxError {
    /// SQLite said no.
    Sqlite(rusqlite::Error),
    /// The directory could not be created or read.
    Io(std::io::Error),
    /// The transaction holding the operation could not be committed.
    Commit(String),
    /// The writer thread is gone (the outbox was closed).
    Closed,
    /// The file carries a schema version this lorafield does not know (a newer one made it).
    Schema {
        /// The file's version.
        found: u32,
    },
    /// Another process holds the outbox's [`Lock`] (another `lorafield serve`).
    InUse {
        /// The outbox directory.
        dir: PathBuf,
        /// The holder's process id, as it wrote it in the lock file.
        holder: Option<u32>,
    },
}

impl fmt::Display for OutboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutboxError::Sqlite(e) => write!(f, "outbox database: {e}"),
            OutboxError::Io(e) => write!(f, "outbox directory: {e}"),
            OutboxError::Commit(e) => write!(f, "outbox commit failed: {e}"),
            OutboxError::Closed => f.write_str("the outbox is closed"),
            OutboxError::Schema { found } => write!(
                f,
                "the outbox has schema version {found}; this lorafield knows versions up to {VERSION} (a newer lorafield made it)"
            ),
            OutboxError::InUse { dir, holder } => {
                write!(
                    f,
                    "the outbox in {} is in use by another lorafield serve",
                    dir.display()
                )?;
                if let Some(pid) = holder {
                    write!(f, " (process {pid})")?;
                }
                write!(
                    f,
                    "; give each serve its own --outbox directory (the lorafield outbox commands work beside it)"
                )
            }
        }
    }
}

impl std::error::Error for OutboxError {}

impl From<rusqlite::Error> for OutboxError {
    fn from(e: rusqlite::Error) -> Self {
        OutboxError::Sqlite(e)
    }
}

/// A record to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// Its key (`lfk-...`, see [`record_key`]), sent as a tag.
    pub key: String,
    /// The Microshare recType to post it to.
    pub rec_type: String,
    /// The JSON to post.
    pub body: Vec<u8>,
}

/// What became of a record given to [`Outbox::enqueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Added, with this row id.
    Added(i64),
    /// Not added: the outbox holds a record with the same key and recType already (pending,
    /// delivered and not yet purged or forgotten, or dead), with this row id.
    Duplicate(i64),
}

impl Enqueued {
    /// The row id of the record (the one added, or the one held).
    pub fn id(self) -> i64 {
        match self {
            Enqueued::Added(id) | Enqueued::Duplicate(id) => id,
        }
    }

    /// Whether the record was held already.
    pub fn is_duplicate(self) -> bool {
        matches!(self, Enqueued::Duplicate(_))
    }
}

/// A record claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// Its row id.
    pub id: i64,
    /// Its key.
    pub key: String,
    /// Its recType.
    pub rec_type: String,
    /// The JSON to post.
    pub body: Vec<u8>,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When it was enqueued (ms).
    pub created_ms: i64,
    /// Attempts that may have stored it without an answer saying so, not settled by a
    /// look-up: those settled so, and the lease of this claim's predecessor if it ran out.
    pub unknown_outcomes: u32,
}

/// How an attempt ended, for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Sent: move it to `delivered`.
    Delivered,
    /// Try again at `next_ms`, after this error.
    Retry {
        /// Not before (ms).
        next_ms: i64,
        /// Why it failed.
        error: String,
        /// The HTTP status of the answer, if there was one.
        status: Option<u16>,
        /// Whether the attempt counts (a stop hands the record back without counting).
        counted: bool,
        /// Attempts that may have stored it, from now on.
        unknown_outcomes: u32,
    },
    /// Give up: move it to `dead` with the reason.
    Dead {
        /// Why.
        reason: String,
        /// The HTTP status of the last answer, if there was one.
        status: Option<u16>,
        /// Attempts that may have stored it (kept, for `retry-dead`).
        unknown_outcomes: u32,
    },
}

/// The outbox of one directory. Cheap to clone; the writer thread ends when the last clone
/// is dropped.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Op>,
    path: Arc<PathBuf>,
    notify: Arc<Notify>,
    commits: Arc<AtomicU64>,
    added: Arc<AtomicU64>,
    write_error: Arc<Mutex<Option<String>>>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox").field("path", &self.path).finish()
    }
}

impl Outbox {
    /// Opens (creating if need be) the outbox in `dir` and starts its writer thread.
    pub fn open(dir: &Path) -> Result<Outbox, OutboxError> {
        std::fs::create_dir_all(dir).map_err(OutboxError::Io)?;
        let path = dir.join(FILE);
        let conn = open_connection(&path)?;
        let (tx, rx) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let added = Arc::new(AtomicU64::new(0));
        let write_error = Arc::new(Mutex::new(None));
        let health = WriterHealth {
            commits: commits.clone(),
            added: added.clone(),
            error: write_error.clone(),
        };
        std::thread::Builder::new()
            .name("outbox-writer".into())
            .spawn(move || writer(conn, &rx, &health))
            .map_err(OutboxError::Io)?;
        Ok(Outbox {
            tx,
            path: Arc::new(path),
            notify: Arc::new(Notify::new()),
            commits,
            added,
            write_error,
        })
    }

    /// Why the last commit failed, if it did (the next one that succeeds clears it): when this
    /// says something, uplinks are not being stored.
    pub fn write_error(&self) -> Option<String> {
        self.write_error.lock().map_or(None, |e| e.clone())
    }

    /// Commits that added records, since it was opened: with concurrent enqueues, fewer than
    /// the records (group commits: they share a transaction and its fsync).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Records added since it was opened (duplicates not counted).
    pub fn added(&self) -> u64 {
        self.added.load(Ordering::Relaxed)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Woken after every commit that added records (the delivery worker waits on it).
    pub fn notify(&self) -> &Arc<Notify> {
        &self.notify
    }

    /// Adds a record unless its key is held already; returns its row id once it is committed
    /// to disk, or the id of the record held.
    pub async fn enqueue(&self, record: NewRecord) -> Result<Enqueued, OutboxError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Op::Enqueue(record, reply))
            .map_err(|_| OutboxError::Closed)?;
        let id = rx.await.map_err(|_| OutboxError::Closed)??;
        self.notify.notify_one();
        Ok(id)
    }

    /// [`Outbox::enqueue`] for code outside an async runtime.
    pub fn enqueue_blocking(&self, record: NewRecord) -> Result<Enqueued, OutboxError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Op::Enqueue(record, reply))
            .map_err(|_| OutboxError::Closed)?;
        let id = rx.blocking_recv().map_err(|_| OutboxError::Closed)??;
        self.notify.notify_one();
        Ok(id)
    }

    /// Adds records, sharing commits; returns what became of each once all are committed. For
    /// code outside an async runtime.
    pub fn enqueue_many_blocking(
        &self,
        records: Vec<NewRecord>,
    ) -> Result<Vec<Enqueued>, OutboxError> {
        let mut waiting = Vec::with_capacity(records.len());
        for record in records {
            let (reply, rx) = oneshot::channel();
            self.tx
                .send(Op::Enqueue(record, reply))
                .map_err(|_| OutboxError::Closed)?;
            waiting.push(rx);
        }
        let ids = waiting
            .into_iter()
            .map(|rx| rx.blocking_recv().map_err(|_| OutboxError::Closed)?)
            .collect::<Result<Vec<_>, _>>()?;
        self.notify.notify_one();
        Ok(ids)
    }

    /// Claims up to `limit` records that are due and not in flight, leasing them for `lease`.
    pub async fn claim(&self, limit: usize, lease: Duration) -> Result<Vec<Claimed>, OutboxError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Op::Claim {
                limit,
                lease,
                reply,
            })
            .map_err(|_| OutboxError::Closed)?;
        rx.await.map_err(|_| OutboxError::Closed)?
    }

    /// Records how the attempt on record `id` ended.
    pub async fn settle(&self, id: i64, settle: Settle) -> Result<(), OutboxError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Op::Settle(id, settle, reply))
            .map_err(|_| OutboxError::Closed)?;
        rx.await.map_err(|_| OutboxError::Closed)?
    }

    /// Forgets the delivered records delivered more than `older_than` ago, and their keys (an
    /// uplink with one of those keys is taken again afterwards: keep them longer than a
    /// network would send an uplink again); returns how many. Works in transactions of
    /// [`FORGET_BATCH`] records, so that uplinks arriving meanwhile wait for one of those at
    /// most, not for all.
    pub async fn forget_delivered(&self, older_than: Duration) -> Result<u64, OutboxError> {
        let keep = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let before_ms = now_ms().saturating_sub(keep);
        let mut forgotten = 0;
        loop {
            let (reply, rx) = oneshot::channel();
            self.tx
                .send(Op::Forget {
                    before_ms,
                    limit: FORGET_BATCH,
                    reply,
                })
                .map_err(|_| OutboxError::Closed)?;
            let n = rx.await.map_err(|_| OutboxError::Closed)??;
            forgotten += n;
            if n < FORGET_BATCH as u64 {
                return Ok(forgotten);
            }
        }
    }

    /// When the next pending record is due (ms), if there is one.
    pub fn next_due_ms(&self) -> Result<Option<i64>, OutboxError> {
        let conn = Connection::open(self.path.as_path())?;
        conn.busy_timeout(Duration::from_secs(10))?;
        Ok(conn
            // `next_ms >= lease_ms` for every row: the earliest `next_ms` is when the next
            // record is due, leases included (read from the index).
            .query_row("SELECT MIN(next_ms) FROM pending", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()?
            .flatten())
    }

    /// Records waiting or in flight: [`Status::pending`] plus [`Status::in_flight`], without
    /// counting the delivered and dead ones (read from an index; cheap enough to ask every
    /// second).
    pub fn depth(&self) -> Result<u64, OutboxError> {
        let conn = Connection::open(self.path.as_path())?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM pending", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The outbox's counts.
    pub fn status(&self) -> Result<Status, OutboxError> {
        status(self.path.parent().unwrap_or(Path::new(".")))
    }
}

/// Forgets the delivered records older than `keep` at once and then every `every`, until
/// `stop` turns true (or its sender goes), so that an outbox that runs for years holds a
/// bounded number of them; says how many at info, and a failure at warn (tried again at the
/// next turn).
pub async fn forget_old(
    outbox: Outbox,
    keep: Duration,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        match outbox.forget_delivered(keep).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "forgot {n} delivered record{} older than {} h, and their keys (an uplink \
                 sent again now is taken again)",
                if n == 1 { "" } else { "s" },
                hours(keep)
            ),
            Err(e) => tracing::warn!("forgetting delivered records: {e}"),
        }
    }
}

/// `d` in hours, as few decimals as it needs (at most three).
fn hours(d: Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64() / 3600.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests;
