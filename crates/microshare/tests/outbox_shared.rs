//! One outbox file, two owners (as two `lorafield ingest-mqtt` on one machine share it): each
//! opens it with its own connection and writer thread. Every record both enqueue is stored
//! once, every enqueue is answered (none fails because the other holds the write lock), and
//! the two claim each record once.

use std::collections::BTreeSet;
use std::time::Duration;

use lorafield_microshare::outbox::{Enqueued, NewRecord, Outbox, Settle, status};

fn rec(i: u32) -> NewRecord {
    NewRecord {
        key: format!("lfk-{i:016x}"),
        rec_type: "io.example.decoded".into(),
        body: format!("{{\"n\":{i}}}").into_bytes(),
    }
}

/// Enqueues records `0..n` from `senders` tasks on `outbox`, in an order of its own.
async fn enqueue_all(outbox: Outbox, n: u32, senders: u32, reversed: bool) -> Vec<Enqueued> {
    let mut tasks = Vec::new();
    for s in 0..senders {
        let outbox = outbox.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (0..n).filter(|i| i % senders == s) {
                let i = if reversed { n - 1 - i } else { i };
                out.push(
                    outbox
                        .enqueue(rec(i))
                        .await
                        .expect("every enqueue is answered"),
                );
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_owners_store_each_record_once_and_claim_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = Outbox::open(dir.path()).unwrap();
    let b = Outbox::open(dir.path()).unwrap();
    let n = 400;
    let (from_a, from_b) = tokio::join!(
        enqueue_all(a.clone(), n, 8, false),
        enqueue_all(b.clone(), n, 8, true)
    );
    let added = |r: &[Enqueued]| r.iter().filter(|e| !e.is_duplicate()).count();
    assert_eq!((from_a.len(), from_b.len()), (n as usize, n as usize));
    assert_eq!(
        added(&from_a) + added(&from_b),
        n as usize,
        "each stored once"
    );
    // Both answers name the same row for a record.
    let ids: BTreeSet<i64> = from_a.iter().chain(&from_b).map(|e| e.id()).collect();
    assert_eq!(ids.len(), n as usize);
    let s = status(dir.path()).unwrap();
    assert_eq!((s.pending, s.in_flight), (u64::from(n), 0));

    // Both claim at once until nothing is left: no record goes to both.
    let claim_all = |outbox: Outbox| async move {
        let mut got = Vec::new();
        loop {
            let batch = outbox.claim(7, Duration::from_secs(60)).await.unwrap();
            if batch.is_empty() {
                return got;
            }
            for r in batch {
                outbox.settle(r.id, Settle::Delivered).await.unwrap();
                got.push(r.id);
            }
        }
    };
    let (got_a, got_b) = tokio::join!(claim_all(a.clone()), claim_all(b.clone()));
    let both: BTreeSet<i64> = got_a.iter().chain(&got_b).copied().collect();
    assert_eq!(
        got_a.len() + got_b.len(),
        n as usize,
        "no record claimed twice"
    );
    assert_eq!(both, ids);
    let s = status(dir.path()).unwrap();
    assert_eq!((s.pending, s.delivered), (0, u64::from(n)));
    // Delivered keys are still held: a late copy is a duplicate in either.
    assert!(a.enqueue(rec(5)).await.unwrap().is_duplicate());
    assert!(b.enqueue(rec(5)).await.unwrap().is_duplicate());
}
