//! The outbox's tables, their version (`PRAGMA user_version`) and the migrations between
//! versions. A file is brought to [`VERSION`] when it is opened, in one transaction: a file
//! left by an older lorafield is migrated, a new one is created as version 0 and migrated
//! like any other, so that every open runs the same path.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::OutboxError;

/// The schema version this code reads and writes.
pub const VERSION: u32 = 3;

/// Version 0: the tables as the first lorafield made them (no version set). `IF NOT EXISTS`:
/// on a version-0 file they are there already.
const V0: &str = "
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    rec_type TEXT NOT NULL,
    body BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,
    lease_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS pending_due ON pending (next_ms, id);
CREATE TABLE IF NOT EXISTS delivered (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    rec_type TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    delivered_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    rec_type TEXT NOT NULL,
    body BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    died_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL
);
";

/// Version 0 to 1: the key index, and the HTTP status of a record's last attempt.
///
/// `keys` holds one row per record key and recType the outbox knows, whatever table the
/// record is in (pending, delivered, dead), with the record's id (which a record keeps from
/// enqueue to purge); its primary key is the unique index that makes a second enqueue of the
/// same record a duplicate. A key is forgotten when its delivered record is purged. Records
/// already held twice (webhooks retried before the index existed) stay as they are; the index
/// names the one still to be sent, else the dead one, else the first delivered.
const V0_TO_V1: &str = "
ALTER TABLE pending ADD COLUMN last_status INTEGER;
ALTER TABLE dead ADD COLUMN last_status INTEGER;
CREATE TABLE keys (
    key TEXT NOT NULL,
    rec_type TEXT NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (key, rec_type)
) WITHOUT ROWID;
INSERT OR IGNORE INTO keys (key, rec_type, id) SELECT key, rec_type, id FROM pending ORDER BY id;
INSERT OR IGNORE INTO keys (key, rec_type, id) SELECT key, rec_type, id FROM dead ORDER BY id;
INSERT OR IGNORE INTO keys (key, rec_type, id) SELECT key, rec_type, id FROM delivered ORDER BY id;
";

/// Version 1 to 2: `unknown_outcomes`, per record, the attempts that may have stored it in
/// Microshare without an answer saying so (timeouts, connections cut after sending, leases
/// that ran out), not settled by a look-up since. Records already there have none known.
///
/// And what lets the counts and the claims read indexes rather than every row (a pending row
/// holds its body, so a scan of 100,000 of them reads 250 MB): an index on the lease (records
/// in flight) and one on the creation time (the oldest record); and a claim now moves
/// `next_ms` to the end of the lease, so that a record in flight leaves the due range of
/// `pending_due` and `next_ms >= lease_ms` holds for every row (rows leased by an older
/// lorafield are brought to it here).
const V1_TO_V2: &str = "
ALTER TABLE pending ADD COLUMN unknown_outcomes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dead ADD COLUMN unknown_outcomes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX pending_lease ON pending (lease_ms);
CREATE INDEX pending_created ON pending (created_ms);
UPDATE pending SET next_ms = lease_ms WHERE lease_ms > next_ms;
";

/// Version 2 to 3: an index on the delivery time, so that the delivered records older than
/// the time they are kept for are found, oldest first, without reading the others.
const V2_TO_V3: &str = "
CREATE INDEX delivered_time ON delivered (delivered_ms);
";

/// `MIGRATIONS[n]` brings a file from version `n` to `n + 1`.
const MIGRATIONS: [&str; VERSION as usize] = [V0_TO_V1, V1_TO_V2, V2_TO_V3];

/// Opens the database at `path`: WAL, `synchronous=FULL`, a busy timeout, the schema at
/// [`VERSION`].
pub(super) fn open_connection(path: &Path) -> Result<Connection, OutboxError> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn version(conn: &Connection) -> Result<u32, OutboxError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Brings the file to [`VERSION`] in one transaction (another process opening it at the same
/// time waits, then finds it done).
fn migrate(conn: &mut Connection) -> Result<(), OutboxError> {
    let found = version(conn)?;
    if found == VERSION {
        return Ok(());
    }
    if found > VERSION {
        return Err(OutboxError::Schema { found });
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    if found > VERSION {
        return Err(OutboxError::Schema { found });
    }
    if found == 0 {
        tx.execute_batch(V0)?;
    }
    for step in &MIGRATIONS[found as usize..] {
        tx.execute_batch(step)?;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

    /// An outbox file as the first lorafield left it: today's version-0 tables, some records
    /// in each, one key held twice.
    fn version_0_file(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(V0).unwrap();
        let pending = "INSERT INTO pending (key, rec_type, body, created_ms, next_ms) \
                       VALUES (?1, 'r', x'7b7d', 5, 5)";
        conn.execute(pending, params!["lfk-a"]).unwrap(); // id 1
        conn.execute(pending, params!["lfk-b"]).unwrap(); // id 2
        conn.execute(pending, params!["lfk-c"]).unwrap(); // id 3
        conn.execute("DELETE FROM pending WHERE id IN (2, 3)", [])
            .unwrap();
        conn.execute(
            "INSERT INTO delivered VALUES (2, 'lfk-b', 'r', 5, 6, 1), (4, 'lfk-a', 'r', 5, 6, 1)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO dead VALUES (3, 'lfk-c', 'r', x'7b7d', 5, 7, 20, 'Microshare answered HTTP 400')",
            [],
        )
        .unwrap();
        assert_eq!(version(&conn).unwrap(), 0);
    }

    #[test]
    fn a_version_0_file_is_migrated_with_its_records_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite3");
        version_0_file(&path);
        let conn = open_connection(&path).unwrap();
        assert_eq!(version(&conn).unwrap(), VERSION);
        let keys: Vec<(String, i64)> = conn
            .prepare("SELECT key, id FROM keys ORDER BY key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // lfk-a is pending (id 1) and was delivered once before (id 4): the pending one counts.
        assert_eq!(
            keys,
            [
                ("lfk-a".into(), 1),
                ("lfk-b".into(), 2),
                ("lfk-c".into(), 3)
            ]
        );
        let counts: (i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM pending), (SELECT COUNT(*) FROM delivered), \
                 (SELECT COUNT(*) FROM dead)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(counts, (1, 2, 1));
        let status: Option<i64> = conn
            .query_row("SELECT last_status FROM dead", [], |r| r.get(0))
            .unwrap();
        assert_eq!(status, None, "unknown for records dead before version 1");
        // The index refuses a second row for a key it holds.
        let again = conn.execute("INSERT INTO keys VALUES ('lfk-b', 'r', 9)", []);
        assert!(again.is_err());
        // Opening again does nothing more.
        drop(conn);
        let conn = open_connection(&path).unwrap();
        assert_eq!(version(&conn).unwrap(), VERSION);
    }

    #[test]
    fn a_version_1_file_is_migrated_with_nothing_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite3");
        version_0_file(&path);
        {
            // Version 1, as the lorafield before this one left it.
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute_batch(V0_TO_V1).unwrap();
            tx.pragma_update(None, "user_version", 1).unwrap();
            tx.commit().unwrap();
            conn.execute("UPDATE pending SET lease_ms = 99 WHERE id = 1", [])
                .unwrap();
        }
        let conn = open_connection(&path).unwrap();
        assert_eq!(version(&conn).unwrap(), VERSION);
        let pending: (i64, i64, i64, i64) = conn
            .query_row(
                "SELECT id, lease_ms, next_ms, unknown_outcomes FROM pending",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        // The lease is kept (a claim after it ran out counts it then), and the record is due
        // when it runs out.
        assert_eq!(pending, (1, 99, 99, 0));
        // The counts and the claims read the indexes.
        for (sql, index) in [
            (
                "SELECT COUNT(*) FROM pending WHERE lease_ms > 5",
                "pending_lease",
            ),
            ("SELECT MIN(created_ms) FROM pending", "pending_created"),
            ("SELECT MIN(next_ms) FROM pending", "pending_due"),
            (
                "SELECT id FROM delivered WHERE delivered_ms < 5 ORDER BY delivered_ms LIMIT 9",
                "delivered_time",
            ),
        ] {
            let plan: String = conn
                .query_row(&format!("EXPLAIN QUERY PLAN {sql}"), [], |r| r.get(3))
                .unwrap();
            assert!(plan.contains(index), "{sql}: {plan}");
        }
        let dead: i64 = conn
            .query_row("SELECT unknown_outcomes FROM dead", [], |r| r.get(0))
            .unwrap();
        assert_eq!(dead, 0);
        let keys: i64 = conn
            .query_row("SELECT COUNT(*) FROM keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(keys, 3);
    }

    #[test]
    fn a_file_from_a_newer_lorafield_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite3");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        drop(conn);
        let e = open_connection(&path).unwrap_err().to_string();
        assert!(
            e.contains(&format!("schema version {}", VERSION + 1)),
            "{e}"
        );
    }
}
