//! What `lorafield outbox` does: counts, dead letters, retrying them, purging delivered
//! records. Each opens the database on its own connection, so it works beside a running
//! `serve` (SQLite in WAL mode takes readers and a writer at once).

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;

use super::schema::open_connection;
use super::{FILE, OutboxError, now_ms};

/// Counts of the outbox, as `lorafield outbox status` prints them.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Status {
    /// Records waiting to be sent (not in flight).
    pub pending: u64,
    /// Records claimed by a worker whose lease has not run out.
    pub in_flight: u64,
    /// Records delivered (until purged, or forgotten once older than they are kept for).
    pub delivered: u64,
    /// Records in the dead-letter table.
    pub dead: u64,
    /// How long the oldest record not yet delivered has waited, in seconds.
    pub oldest_pending_age_s: Option<f64>,
}

/// A record in the dead-letter table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// Its row id.
    pub id: i64,
    /// Its key (`lfk-...`).
    pub key: String,
    /// The recType it was to be posted to.
    #[serde(rename = "recType")]
    pub rec_type: String,
    /// Attempts made.
    pub attempts: u32,
    /// The HTTP status of the last attempt, when there was an answer.
    pub last_status: Option<u16>,
    /// Why it was given up.
    pub reason: String,
    /// When it was enqueued (ms since the Unix epoch).
    pub created_ms: i64,
    /// When it was given up (ms since the Unix epoch).
    pub died_ms: i64,
}

/// Some dead letters, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetters {
    /// The newest first.
    pub letters: Vec<DeadLetter>,
    /// Dead letters in the table (listed or not).
    pub total: u64,
}

/// The counts of the outbox in `dir` (another process may be using it).
pub fn status(dir: &Path) -> Result<Status, OutboxError> {
    status_of(&open_existing(dir)?)
}

pub(super) fn status_of(conn: &Connection) -> Result<Status, OutboxError> {
    let now = now_ms();
    let count = |sql: &str| -> Result<u64, OutboxError> {
        Ok(conn.query_row(sql, params![now], |r| r.get::<_, i64>(0))? as u64)
    };
    let pending = count("SELECT COUNT(*) FROM pending WHERE lease_ms <= ?1")?;
    let in_flight = count("SELECT COUNT(*) FROM pending WHERE lease_ms > ?1")?;
    let delivered = count("SELECT COUNT(*) FROM delivered WHERE ?1 = ?1")?;
    let dead = count("SELECT COUNT(*) FROM dead WHERE ?1 = ?1")?;
    let oldest: Option<i64> =
        conn.query_row("SELECT MIN(created_ms) FROM pending", [], |r| r.get(0))?;
    Ok(Status {
        pending,
        in_flight,
        delivered,
        dead,
        oldest_pending_age_s: oldest.map(|c| (now - c).max(0) as f64 / 1000.0),
    })
}

/// The newest `limit` dead letters of the outbox in `dir`, and how many there are.
pub fn dead_letters(dir: &Path, limit: usize) -> Result<DeadLetters, OutboxError> {
    let conn = open_existing(dir)?;
    let total = conn.query_row("SELECT COUNT(*) FROM dead", [], |r| r.get::<_, i64>(0))? as u64;
    let letters = conn
        .prepare(
            "SELECT id, key, rec_type, attempts, last_status, reason, created_ms, died_ms
             FROM dead ORDER BY died_ms DESC, id DESC LIMIT ?1",
        )?
        .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(DeadLetter {
                id: r.get(0)?,
                key: r.get(1)?,
                rec_type: r.get(2)?,
                attempts: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX),
                last_status: r
                    .get::<_, Option<i64>>(4)?
                    .and_then(|s| u16::try_from(s).ok()),
                reason: r.get(5)?,
                created_ms: r.get(6)?,
                died_ms: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(DeadLetters { letters, total })
}

/// Moves every dead record back to `pending`, due now, with its attempts and age reset;
/// returns how many. A record keeps its id (and so its place in the key index) and its count
/// of attempts that may have stored it (so that it is looked up before it is posted again).
pub fn retry_dead(dir: &Path) -> Result<u64, OutboxError> {
    let mut conn = open_existing(dir)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "INSERT INTO pending (id, key, rec_type, body, created_ms, attempts, next_ms, lease_ms,
                              last_error, last_status, unknown_outcomes)
         SELECT id, key, rec_type, body, ?1, 0, ?1, 0, reason, last_status, unknown_outcomes
         FROM dead ORDER BY id",
        params![now_ms()],
    )?;
    tx.execute("DELETE FROM dead", [])?;
    tx.commit()?;
    Ok(n as u64)
}

/// Forgets the delivered records and their keys (an uplink with one of those keys is taken
/// again afterwards); returns how many.
pub fn purge_delivered(dir: &Path) -> Result<u64, OutboxError> {
    let mut conn = open_existing(dir)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "DELETE FROM keys WHERE id IN (SELECT id FROM delivered)",
        [],
    )?;
    let n = tx.execute("DELETE FROM delivered", [])?;
    tx.commit()?;
    Ok(n as u64)
}

fn open_existing(dir: &Path) -> Result<Connection, OutboxError> {
    let path = dir.join(FILE);
    if !path.is_file() {
        return Err(OutboxError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no outbox at {} (no {FILE})", dir.display()),
        )));
    }
    open_connection(&path)
}
