//! The writer thread: the one connection that writes, taking every operation queued while a
//! commit runs into the next commit (group commits: concurrent webhooks share an fsync), and
//! the SQL of each operation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::{Claimed, Enqueued, MAX_BATCH, NewRecord, OutboxError, Settle, now_ms};

/// What the outbox asks of its writer thread, with where the answer goes.
pub(super) enum Op {
    Enqueue(NewRecord, oneshot::Sender<Result<Enqueued, OutboxError>>),
    Claim {
        limit: usize,
        lease: Duration,
        reply: oneshot::Sender<Result<Vec<Claimed>, OutboxError>>,
    },
    Settle(i64, Settle, oneshot::Sender<Result<(), OutboxError>>),
    /// Forget at most `limit` delivered records delivered before `before_ms`, oldest first.
    Forget {
        before_ms: i64,
        limit: usize,
        reply: oneshot::Sender<Result<u64, OutboxError>>,
    },
}

/// What the writer thread reports: commits that added records, and the last commit's error.
pub(super) struct WriterHealth {
    pub(super) commits: Arc<AtomicU64>,
    pub(super) added: Arc<AtomicU64>,
    pub(super) error: Arc<Mutex<Option<String>>>,
}

impl WriterHealth {
    fn record(&self, error: Option<&str>) {
        if let Ok(mut e) = self.error.lock() {
            *e = error.map(str::to_string);
        }
    }
}

/// The writer thread: every operation queued while a commit runs goes into the next one.
pub(super) fn writer(mut conn: Connection, rx: &mpsc::Receiver<Op>, health: &WriterHealth) {
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
    Forget(
        oneshot::Sender<Result<u64, OutboxError>>,
        Result<u64, OutboxError>,
    ),
}

impl Reply {
    fn send(self) {
        // A requester that went away (a dropped webhook) does not matter: the commit stands.
        match self {
            Reply::Enqueue(s, r) => drop(s.send(r)),
            Reply::Claim(s, r) => drop(s.send(r)),
            Reply::Settle(s, r) => drop(s.send(r)),
            Reply::Forget(s, r) => drop(s.send(r)),
        }
    }

    fn fail(self, msg: &str) {
        let e = || OutboxError::Commit(msg.to_string());
        match self {
            Reply::Enqueue(s, _) => drop(s.send(Err(e()))),
            Reply::Claim(s, _) => drop(s.send(Err(e()))),
            Reply::Settle(s, _) => drop(s.send(Err(e()))),
            Reply::Forget(s, _) => drop(s.send(Err(e()))),
        }
    }
}

fn fail(op: Op, msg: &str) {
    let e = || OutboxError::Commit(msg.to_string());
    match op {
        Op::Enqueue(_, s) => drop(s.send(Err(e()))),
        Op::Claim { reply, .. } => drop(reply.send(Err(e()))),
        Op::Settle(_, _, s) => drop(s.send(Err(e()))),
        Op::Forget { reply, .. } => drop(reply.send(Err(e()))),
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
        Op::Forget {
            before_ms,
            limit,
            reply,
        } => Reply::Forget(reply, forget(tx, before_ms, limit)),
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
pub(super) const CLAIM: &str = "SELECT id, key, rec_type, body, attempts, created_ms,
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

/// Forgets at most `limit` delivered records delivered before `before_ms`, the oldest first,
/// with their keys (from the `delivered_time` index); returns how many. A key is let go only
/// if it still names the record forgotten.
fn forget(tx: &Transaction<'_>, before_ms: i64, limit: usize) -> Result<u64, OutboxError> {
    let old: Vec<(i64, String, String)> = tx
        .prepare_cached(
            "SELECT id, key, rec_type FROM delivered WHERE delivered_ms < ?1
             ORDER BY delivered_ms LIMIT ?2",
        )?
        .query_map(
            params![before_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?
        .collect::<Result<_, _>>()?;
    let mut key =
        tx.prepare_cached("DELETE FROM keys WHERE key = ?1 AND rec_type = ?2 AND id = ?3")?;
    let mut row = tx.prepare_cached("DELETE FROM delivered WHERE id = ?1")?;
    for (id, k, rec_type) in &old {
        key.execute(params![k, rec_type, id])?;
        row.execute(params![id])?;
    }
    Ok(old.len() as u64)
}
