//! The durable outbox: SQLite in WAL mode, one writer thread, group commits.
//!
//! A record is in the outbox once [`Outbox::enqueue`] returns: its transaction is committed
//! and, with `synchronous=FULL`, the WAL is on disk. Requests that arrive while a commit is
//! under way queue up and share the next one, so concurrent webhooks share an fsync.
//!
//! Three tables: `pending` (waiting or in flight: a claimed record carries a lease; a record
//! whose lease ran out, after a crash for instance, is claimed again, and that lease counts as
//! an attempt that may have stored it), `delivered` (what was
//! sent, without the body), `dead` (what will not be sent without `retry-dead`, with the
//! reason and the last HTTP status); and the key index, `keys`: every record key (per recType)
//! the outbox holds, in whichever table, until its delivered record is purged. Each record
//! counts its attempts that may have stored it in Microshare without an answer saying so
//! (`unknown_outcomes`; see [`crate::worker::Record`]). A record whose
//! key is held already is not added again ([`Enqueued::Duplicate`]). Times are wall-clock
//! milliseconds since the Unix epoch. The schema carries a version (`PRAGMA user_version`);
//! a file from an older lorafield is migrated when it is opened (see `schema.rs`).
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

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, oneshot};

mod admin;
mod lock;
mod schema;

pub use admin::{
    DeadLetter, DeadLetters, Status, dead_letters, purge_delivered, retry_dead, status,
};
pub use lock::{LOCK_FILE, Lock, lock};
pub use schema::VERSION;
use schema::open_connection;

/// The database file in the outbox directory.
pub const FILE: &str = "outbox.sqlite3";

/// The most operations one commit takes.
const MAX_BATCH: usize = 1024;

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
    /// delivered and not yet purged, or dead), with this row id.
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

enum Op {
    Enqueue(NewRecord, oneshot::Sender<Result<Enqueued, OutboxError>>),
    Claim {
        limit: usize,
        lease: Duration,
        reply: oneshot::Sender<Result<Vec<Claimed>, OutboxError>>,
    },
    Settle(i64, Settle, oneshot::Sender<Result<(), OutboxError>>),
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

/// What the writer thread reports: commits that added records, and the last commit's error.
struct WriterHealth {
    commits: Arc<AtomicU64>,
    added: Arc<AtomicU64>,
    error: Arc<Mutex<Option<String>>>,
}

impl WriterHealth {
    fn record(&self, error: Option<&str>) {
        if let Ok(mut e) = self.error.lock() {
            *e = error.map(str::to_string);
        }
    }
}

/// The writer thread: every operation queued while a commit runs goes into the next one.
fn writer(mut conn: Connection, rx: &mpsc::Receiver<Op>, health: &WriterHealth) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let now = now_ms();
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                let msg = e.to_string();
                health.record(Some(&msg));
                for op in batch.drain(..) {
                    fail(op, &msg);
                }
                continue;
            }
        };
        let enqueues = batch.iter().any(|op| matches!(op, Op::Enqueue(..)));
        let results: Vec<Reply> = batch.drain(..).map(|op| apply(&tx, op, now)).collect();
        match tx.commit() {
            Ok(()) => {
                if enqueues {
                    health.commits.fetch_add(1, Ordering::Relaxed);
                    let added = results
                        .iter()
                        .filter(|r| matches!(r, Reply::Enqueue(_, Ok(Enqueued::Added(_)))))
                        .count();
                    health.added.fetch_add(added as u64, Ordering::Relaxed);
                }
                health.record(None);
                results.into_iter().for_each(Reply::send);
            }
            Err(e) => {
                let msg = e.to_string();
                health.record(Some(&msg));
                results.into_iter().for_each(|r| r.fail(&msg));
            }
        }
    }
}

/// An operation's result, held until its commit.
enum Reply {
    Enqueue(
        oneshot::Sender<Result<Enqueued, OutboxError>>,
        Result<Enqueued, OutboxError>,
    ),
    Claim(
        oneshot::Sender<Result<Vec<Claimed>, OutboxError>>,
        Result<Vec<Claimed>, OutboxError>,
    ),
    Settle(
        oneshot::Sender<Result<(), OutboxError>>,
        Result<(), OutboxError>,
    ),
}

impl Reply {
    fn send(self) {
        // A requester that went away (a dropped webhook) does not matter: the commit stands.
        match self {
            Reply::Enqueue(s, r) => drop(s.send(r)),
            Reply::Claim(s, r) => drop(s.send(r)),
            Reply::Settle(s, r) => drop(s.send(r)),
        }
    }

    fn fail(self, msg: &str) {
        let e = || OutboxError::Commit(msg.to_string());
        match self {
            Reply::Enqueue(s, _) => drop(s.send(Err(e()))),
            Reply::Claim(s, _) => drop(s.send(Err(e()))),
            Reply::Settle(s, _) => drop(s.send(Err(e()))),
        }
    }
}

fn fail(op: Op, msg: &str) {
    let e = || OutboxError::Commit(msg.to_string());
    match op {
        Op::Enqueue(_, s) => drop(s.send(Err(e()))),
        Op::Claim { reply, .. } => drop(reply.send(Err(e()))),
        Op::Settle(_, _, s) => drop(s.send(Err(e()))),
    }
}

fn apply(tx: &Transaction<'_>, op: Op, now: i64) -> Reply {
    match op {
        Op::Enqueue(r, reply) => Reply::Enqueue(reply, enqueue(tx, &r, now)),
        Op::Claim {
            limit,
            lease,
            reply,
        } => {
            let lease_ms = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
            let res = claim(tx, now, limit, lease_ms);
            Reply::Claim(reply, res)
        }
        Op::Settle(id, settle, reply) => {
            let res = settle_one(tx, id, &settle, now);
            Reply::Settle(reply, res)
        }
    }
}

/// Adds `r` unless the key index holds its key and recType already.
fn enqueue(tx: &Transaction<'_>, r: &NewRecord, now: i64) -> Result<Enqueued, OutboxError> {
    let held = tx
        .prepare_cached("SELECT id FROM keys WHERE key = ?1 AND rec_type = ?2")?
        .query_row(params![r.key, r.rec_type], |row| row.get::<_, i64>(0))
        .optional()?;
    if let Some(id) = held {
        return Ok(Enqueued::Duplicate(id));
    }
    tx.prepare_cached(
        "INSERT INTO pending (key, rec_type, body, created_ms, next_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![r.key, r.rec_type, r.body, now])?;
    let id = tx.last_insert_rowid();
    tx.prepare_cached("INSERT INTO keys (key, rec_type, id) VALUES (?1, ?2, ?3)")?
        .execute(params![r.key, r.rec_type, id])?;
    Ok(Enqueued::Added(id))
}

/// The records due at `?1`, the first `?2` of them, from the `pending_due` index (a record in
/// flight has `next_ms` at the end of its lease: out of the range).
const CLAIM: &str = "SELECT id, key, rec_type, body, attempts, created_ms,
                unknown_outcomes + (lease_ms > 0) FROM pending
         WHERE next_ms <= ?1 AND lease_ms <= ?1 ORDER BY next_ms, id LIMIT ?2";

fn claim(
    tx: &Transaction<'_>,
    now: i64,
    limit: usize,
    lease_ms: i64,
) -> Result<Vec<Claimed>, OutboxError> {
    // A record whose lease ran out (`lease_ms` set and past) was claimed and never settled:
    // its request may have gone out. That counts as an attempt that may have stored it.
    let mut st = tx.prepare_cached(CLAIM)?;
    let rows: Vec<Claimed> = st
        .query_map(params![now, limit as i64], |r| {
            Ok(Claimed {
                id: r.get(0)?,
                key: r.get(1)?,
                rec_type: r.get(2)?,
                body: r.get(3)?,
                attempts: r.get::<_, i64>(4)? as u32,
                created_ms: r.get(5)?,
                unknown_outcomes: u32::try_from(r.get::<_, i64>(6)?).unwrap_or(u32::MAX),
            })
        })?
        .collect::<Result<_, _>>()?;
    // Due again when the lease runs out: `next_ms >= lease_ms` for every row (see the
    // schema), so a record in flight is out of the due range of the index.
    let mut lease = tx.prepare_cached(
        "UPDATE pending SET lease_ms = ?1, next_ms = ?1, unknown_outcomes = ?3 WHERE id = ?2",
    )?;
    for r in &rows {
        lease.execute(params![lease_ms, r.id, r.unknown_outcomes])?;
    }
    Ok(rows)
}

fn settle_one(tx: &Transaction<'_>, id: i64, settle: &Settle, now: i64) -> Result<(), OutboxError> {
    match settle {
        Settle::Delivered => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO delivered (id, key, rec_type, created_ms, delivered_ms, attempts)
                 SELECT id, key, rec_type, created_ms, ?2, attempts + 1 FROM pending WHERE id = ?1",
            )?
            .execute(params![id, now])?;
            tx.prepare_cached("DELETE FROM pending WHERE id = ?1")?
                .execute(params![id])?;
        }
        Settle::Retry {
            next_ms,
            error,
            status,
            counted,
            unknown_outcomes,
        } => {
            tx.prepare_cached(
                "UPDATE pending SET attempts = attempts + ?4, next_ms = ?2, lease_ms = 0, last_error = ?3,
                 last_status = ?5, unknown_outcomes = ?6 WHERE id = ?1",
            )?
            .execute(params![
                id,
                next_ms,
                error,
                i64::from(*counted),
                status,
                unknown_outcomes
            ])?;
        }
        Settle::Dead {
            reason,
            status,
            unknown_outcomes,
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO dead (id, key, rec_type, body, created_ms, died_ms, attempts, reason,
                                              last_status, unknown_outcomes)
                 SELECT id, key, rec_type, body, created_ms, ?2, attempts + 1, ?3, ?4, ?5 FROM pending WHERE id = ?1",
            )?
            .execute(params![id, now, reason, status, unknown_outcomes])?;
            tx.prepare_cached("DELETE FROM pending WHERE id = ?1")?
                .execute(params![id])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u32) -> NewRecord {
        NewRecord {
            key: format!("lfk-{i:016x}"),
            rec_type: "io.example.decoded".into(),
            body: format!("{{\"n\":{i}}}").into_bytes(),
        }
    }

    #[test]
    fn the_key_is_stable_and_tells_uplinks_apart() {
        let k = record_key(
            "70b3d57ed005a1b2",
            312,
            "2026-03-02T08:15:12.447Z",
            "A2cA+AQChfw=",
        );
        assert_eq!(
            k,
            record_key(
                "70B3D57ED005A1B2",
                312,
                "2026-03-02T08:15:12.447Z",
                "A2cA+AQChfw="
            )
        );
        assert!(k.starts_with("lfk-") && k.len() == 20, "{k}");
        assert!(k[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            k,
            record_key(
                "70B3D57ED005A1B2",
                313,
                "2026-03-02T08:15:12.447Z",
                "A2cA+AQChfw="
            )
        );
        // Fields do not run into each other.
        assert_ne!(record_key("A", 1, "2", "x"), record_key("A", 12, "", "x"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_go_pending_then_delivered_retried_or_dead() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        // Concurrent enqueues share commits and all land.
        let mut tasks = Vec::new();
        for i in 0..50 {
            let o = outbox.clone();
            tasks.push(tokio::spawn(async move {
                o.enqueue(rec(i)).await.unwrap().id()
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 50);
        assert_eq!(outbox.added(), 50);
        assert!(outbox.enqueue(rec(3)).await.unwrap().is_duplicate());
        assert_eq!(outbox.added(), 50, "a duplicate is not added");
        // They shared commits (and so fsyncs): fewer transactions than records.
        let commits = outbox.commits();
        assert!(
            (1..50).contains(&commits),
            "{commits} commits for 50 records"
        );
        let s = outbox.status().unwrap();
        assert_eq!((s.pending, s.in_flight, s.delivered, s.dead), (50, 0, 0, 0));
        assert!(s.oldest_pending_age_s.is_some());

        let claimed = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
        assert_eq!(claimed.len(), 10);
        assert_eq!(claimed[0].id, ids[0], "the oldest first");
        let s = outbox.status().unwrap();
        assert_eq!((s.pending, s.in_flight), (40, 10));
        // Claimed records are not claimed twice while leased.
        let more = outbox.claim(100, Duration::from_secs(60)).await.unwrap();
        assert_eq!(more.len(), 40);
        assert!(more.iter().all(|m| claimed.iter().all(|c| c.id != m.id)));

        outbox
            .settle(claimed[0].id, Settle::Delivered)
            .await
            .unwrap();
        outbox
            .settle(
                claimed[1].id,
                Settle::Retry {
                    next_ms: now_ms() + 60_000,
                    error: "503".into(),
                    status: Some(503),
                    counted: true,
                    unknown_outcomes: 0,
                },
            )
            .await
            .unwrap();
        outbox
            .settle(
                claimed[2].id,
                Settle::Dead {
                    reason: "400 bad".into(),
                    status: Some(400),
                    unknown_outcomes: 0,
                },
            )
            .await
            .unwrap();
        let s = outbox.status().unwrap();
        assert_eq!((s.pending, s.in_flight, s.delivered, s.dead), (1, 47, 1, 1));
        assert_eq!(
            outbox
                .claim(10, Duration::from_secs(1))
                .await
                .unwrap()
                .len(),
            0,
            "not due"
        );

        let dead = dead_letters(dir.path(), 10).unwrap();
        assert_eq!(dead.total, 1);
        assert_eq!(dead.letters[0].key, claimed[2].key);
        assert_eq!(
            (dead.letters[0].attempts, dead.letters[0].last_status),
            (1, Some(400))
        );
        assert_eq!(retry_dead(dir.path()).unwrap(), 1);
        let again = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].key, claimed[2].key);
        assert_eq!(again[0].id, claimed[2].id, "a retried record keeps its id");
        assert_eq!(again[0].attempts, 0);
        assert_eq!(purge_delivered(dir.path()).unwrap(), 1);
        assert_eq!(status(dir.path()).unwrap().delivered, 0);
    }

    #[tokio::test]
    async fn a_lease_that_runs_out_makes_the_record_due_again() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox.enqueue(rec(1)).await.unwrap();
        assert_eq!(
            outbox
                .claim(5, Duration::from_millis(1))
                .await
                .unwrap()
                .len(),
            1
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        let again = outbox.claim(5, Duration::from_secs(60)).await.unwrap();
        assert_eq!(again.len(), 1);
        // Its first claim was never settled: its request may have gone out.
        assert_eq!(again[0].unknown_outcomes, 1);
        drop(outbox);
        // Reopened (as after a crash): still there, still leased, and due when the lease
        // runs out (not before: nothing to wake up for until then).
        let outbox = Outbox::open(dir.path()).unwrap();
        let s = outbox.status().unwrap();
        assert_eq!((s.pending, s.in_flight), (0, 1));
        assert_eq!(outbox.depth().unwrap(), 1);
        let due = outbox.next_due_ms().unwrap().unwrap();
        assert!(due > now_ms() + 50_000, "{due}");
        // The claim reads the due range of the index, which records in flight have left.
        let conn = Connection::open(outbox.path()).unwrap();
        let plan: String = conn
            .query_row(&format!("EXPLAIN QUERY PLAN {CLAIM}"), [1, 1], |r| r.get(3))
            .unwrap();
        assert!(plan.contains("USING INDEX pending_due"), "{plan}");
    }

    #[tokio::test]
    async fn a_key_held_is_a_duplicate_until_its_delivered_record_is_purged() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let first = outbox.enqueue(rec(1)).await.unwrap();
        assert!(matches!(first, Enqueued::Added(_)));
        assert_eq!(
            outbox.enqueue(rec(1)).await.unwrap(),
            Enqueued::Duplicate(first.id())
        );
        // The same key for another recType is another record.
        let elsewhere = NewRecord {
            rec_type: "io.example.other".into(),
            ..rec(1)
        };
        assert!(!outbox.enqueue(elsewhere).await.unwrap().is_duplicate());
        // Duplicates within one commit: the first is added, the second is not.
        let both = outbox.clone();
        let ids = tokio::task::spawn_blocking(move || {
            both.enqueue_many_blocking(vec![rec(2), rec(2)]).unwrap()
        })
        .await
        .unwrap();
        assert!(matches!(ids[0], Enqueued::Added(_)));
        assert_eq!(ids[1], Enqueued::Duplicate(ids[0].id()));
        // Delivered: still held.
        let claimed = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
        assert_eq!(claimed.len(), 3);
        for c in &claimed {
            outbox.settle(c.id, Settle::Delivered).await.unwrap();
        }
        assert!(outbox.enqueue(rec(1)).await.unwrap().is_duplicate());
        assert_eq!(status(dir.path()).unwrap().pending, 0);
        // Purged: forgotten, taken again.
        assert_eq!(purge_delivered(dir.path()).unwrap(), 3);
        assert!(!outbox.enqueue(rec(1)).await.unwrap().is_duplicate());
        assert!(outbox.enqueue(rec(1)).await.unwrap().is_duplicate());
        assert_eq!(outbox.write_error(), None);
    }

    #[tokio::test]
    async fn a_dead_record_holds_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let id = outbox.enqueue(rec(7)).await.unwrap().id();
        outbox.claim(1, Duration::from_secs(60)).await.unwrap();
        outbox
            .settle(
                id,
                Settle::Dead {
                    reason: "gone".into(),
                    status: None,
                    unknown_outcomes: 1,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            outbox.enqueue(rec(7)).await.unwrap(),
            Enqueued::Duplicate(id)
        );
        let dead = dead_letters(dir.path(), 0).unwrap();
        assert_eq!((dead.total, dead.letters.len()), (1, 0));
        // Retried: it keeps the attempt that may have stored it, to be looked up first.
        assert_eq!(retry_dead(dir.path()).unwrap(), 1);
        let again = outbox.claim(1, Duration::from_secs(60)).await.unwrap();
        assert_eq!((again[0].id, again[0].unknown_outcomes), (id, 1));
        outbox
            .settle(
                id,
                Settle::Retry {
                    next_ms: 0,
                    error: "timed out".into(),
                    status: None,
                    counted: true,
                    unknown_outcomes: 2,
                },
            )
            .await
            .unwrap();
        let again = outbox.claim(1, Duration::from_secs(60)).await.unwrap();
        assert_eq!((again[0].attempts, again[0].unknown_outcomes), (1, 2));
    }

    #[test]
    fn status_of_a_missing_outbox_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let e = status(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(e.contains("no outbox at"), "{e}");
    }
}
