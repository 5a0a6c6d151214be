//! The outbox's own tests: records through their tables, leases, the key index.

use super::writer::CLAIM;
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

/// Delivered records are kept for a while (their keys make a retried uplink a duplicate),
/// then forgotten oldest first, in transactions of [`FORGET_BATCH`], with their keys only.
#[tokio::test]
async fn delivered_records_older_than_their_keep_are_forgotten_with_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let n = FORGET_BATCH as u32 + 10;
    let records: Vec<NewRecord> = (0..n).map(rec).collect();
    let both = outbox.clone();
    tokio::task::spawn_blocking(move || both.enqueue_many_blocking(records).unwrap())
        .await
        .unwrap();
    let claimed = outbox
        .claim(n as usize, Duration::from_secs(60))
        .await
        .unwrap();
    for c in &claimed {
        outbox.settle(c.id, Settle::Delivered).await.unwrap();
    }
    // All but the last 5 delivered two days ago (a millisecond apart, in order); those 5 now.
    let conn = Connection::open(dir.path().join(FILE)).unwrap();
    let day = 86_400_000_i64;
    conn.execute(
        "UPDATE delivered SET delivered_ms = ?1 + id WHERE id <= ?2",
        rusqlite::params![now_ms() - 2 * day, claimed[n as usize - 6].id],
    )
    .unwrap();
    // A kept record is not forgotten; a week is longer than two days.
    assert_eq!(
        outbox
            .forget_delivered(Duration::from_secs(7 * 86_400))
            .await
            .unwrap(),
        0
    );
    assert_eq!(status(dir.path()).unwrap().delivered, u64::from(n));
    // A day: every old one, over two transactions; the recent five stay.
    let forgotten = outbox
        .forget_delivered(Duration::from_secs(86_400))
        .await
        .unwrap();
    assert_eq!(forgotten, u64::from(n) - 5);
    let s = status(dir.path()).unwrap();
    assert_eq!((s.delivered, s.pending), (5, 0));
    // A forgotten key is taken again; a kept one is still a duplicate.
    assert!(!outbox.enqueue(rec(0)).await.unwrap().is_duplicate());
    assert!(!outbox.enqueue(rec(n - 6)).await.unwrap().is_duplicate());
    for i in n - 5..n {
        assert!(outbox.enqueue(rec(i)).await.unwrap().is_duplicate(), "{i}");
    }
    let keys: i64 = conn
        .query_row("SELECT COUNT(*) FROM keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys, 7);
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
