//! The JetStream queue against real `nats-server` processes on loopback (each test starts its
//! own, with its own storage, and stops it): publish de-duplication, leases, naks with a delay,
//! progress, dead letters and `retry-dead`, settings checks, a server down and back, and a
//! replicated stream on a cluster of three that loses a node.

#[path = "support/nats_server.rs"]
mod nats_server;

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::Message;
use lorafield_microshare::outbox::{NewRecord, Settle, now_ms};
use lorafield_microshare::queue::jetstream::{
    ConsumerSettings, JetStream, NatsOptions, StreamSettings,
};
use lorafield_microshare::queue::{Leased, Queue, QueueErrorKind};
use nats_server::{Cluster, NatsServer, Stop};

/// Every test is bounded: none may take longer than this.
const LIMIT: Duration = Duration::from_secs(120);

fn rec(i: u32) -> NewRecord {
    NewRecord {
        key: format!("lfk-{i:016x}"),
        rec_type: "io.example.decoded".into(),
        body: format!("{{\"n\":{i}}}").into_bytes(),
    }
}

fn options(url: &str) -> NatsOptions {
    NatsOptions {
        timeout: Duration::from_secs(3),
        ..NatsOptions::new(url)
    }
}

fn consumer(ack_wait: Duration) -> Option<ConsumerSettings> {
    Some(ConsumerSettings {
        ack_wait,
        ..ConsumerSettings::default()
    })
}

async fn forward(url: &str, ack_wait: Duration) -> JetStream {
    JetStream::open(&options(url), StreamSettings::default(), consumer(ack_wait))
        .await
        .expect("the queue opens")
}

/// Leases until `n` records came or `rounds` leases returned nothing.
async fn lease_all(q: &JetStream, n: usize) -> Vec<Leased<Message>> {
    let mut got = Vec::new();
    let mut empty = 0;
    while got.len() < n && empty < 10 {
        let batch = q
            .lease(n - got.len(), Duration::from_secs(1))
            .await
            .unwrap();
        if batch.is_empty() {
            empty += 1;
        }
        got.extend(batch);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_stored_once_leased_and_acknowledged() {
    let server = NatsServer::start();
    tokio::time::timeout(LIMIT, async {
        let serve = JetStream::open(&options(&server.url()), StreamSettings::default(), None)
            .await
            .unwrap();
        let fwd = forward(&server.url(), Duration::from_secs(30)).await;
        let first = serve.enqueue(rec(1)).await.unwrap();
        assert!(!first.is_duplicate());
        // The same key within the duplicate window: the server's ack says duplicate, with
        // the sequence of the record held.
        let again = serve.enqueue(rec(1)).await.unwrap();
        assert!(again.is_duplicate());
        assert_eq!(again.id(), first.id());
        for i in 2..=5 {
            serve.enqueue(rec(i)).await.unwrap();
        }
        let s = serve.status().await.unwrap();
        assert_eq!(
            (s.pending, s.in_flight, s.dead, s.delivered),
            (5, 0, 0, None)
        );
        assert!(s.oldest_pending_age_s.is_some());

        let leased = lease_all(&fwd, 5).await;
        assert_eq!(leased.len(), 5);
        let first = &leased[0].record;
        assert_eq!(first.key, rec(1).key);
        assert_eq!(first.rec_type, "io.example.decoded");
        assert_eq!(first.body, rec(1).body);
        assert_eq!(first.attempts, 0);
        assert!(
            (now_ms() - first.created_ms).abs() < 60_000,
            "created when accepted"
        );
        assert_eq!(first.unknown_outcomes, 0);
        let s = fwd.status().await.unwrap();
        assert_eq!((s.pending, s.in_flight), (0, 5));
        for l in &leased {
            fwd.settle(l, Settle::Delivered).await.unwrap();
        }
        let s = fwd.status().await.unwrap();
        assert_eq!((s.pending, s.in_flight, s.dead), (0, 0, 0));
        assert!(fwd.lease(10, Duration::ZERO).await.unwrap().is_empty());
        assert_eq!(serve.unavailable(), None);
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nak_with_a_delay_holds_the_record_back_then_it_comes_again() {
    let server = NatsServer::start();
    tokio::time::timeout(LIMIT, async {
        let q = forward(&server.url(), Duration::from_secs(30)).await;
        q.enqueue(rec(7)).await.unwrap();
        let leased = lease_all(&q, 1).await;
        q.settle(
            &leased[0],
            Settle::Retry {
                next_ms: now_ms() + 1_500,
                error: "503".into(),
                status: Some(503),
                counted: true,
                unknown_outcomes: 0,
            },
        )
        .await
        .unwrap();
        // Held back: nothing to lease at once.
        assert!(q.lease(5, Duration::ZERO).await.unwrap().is_empty());
        // Then delivered again: one more attempt, and a redelivery is counted as an attempt
        // that may have stored it (so it is looked up before it is posted again).
        let again = lease_all(&q, 1).await;
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].record.key, rec(7).key);
        assert_eq!(again[0].record.attempts, 1);
        assert_eq!(again[0].record.unknown_outcomes, 1);
        q.settle(&again[0], Settle::Delivered).await.unwrap();
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_never_settled_runs_out_and_progress_keeps_one() {
    let server = NatsServer::start();
    tokio::time::timeout(LIMIT, async {
        let q = forward(&server.url(), Duration::from_secs(2)).await;
        q.enqueue(rec(1)).await.unwrap();
        q.enqueue(rec(2)).await.unwrap();
        let leased = lease_all(&q, 2).await;
        assert_eq!(leased.len(), 2);
        let (kept, dropped) = (&leased[0], &leased[1]);
        // The first is kept with progress acks for three times its ack_wait; the second is
        // left alone, as by a forward that died.
        let mut back: Vec<Leased<Message>> = Vec::new();
        for _ in 0..20 {
            q.progress(&kept.ticket).await.unwrap();
            // Once it is back, it is kept too.
            for l in &back {
                q.progress(&l.ticket).await.unwrap();
            }
            back.extend(q.lease(5, Duration::from_millis(300)).await.unwrap());
        }
        let keys: Vec<&str> = back.iter().map(|l| l.record.key.as_str()).collect();
        assert_eq!(
            keys,
            [dropped.record.key.as_str()],
            "only the dropped one came back"
        );
        assert_eq!(back[0].record.unknown_outcomes, 1);
        q.settle(kept, Settle::Delivered).await.unwrap();
        q.settle(&back[0], Settle::Delivered).await.unwrap();
        let s = q.status().await.unwrap();
        assert_eq!((s.pending, s.in_flight), (0, 0));
    })
    .await
    .expect("bounded");
}

/// A server may hold a pull for what is there now without answering it (nats-server queues
/// a no-wait request while it counts a message pending that it cannot deliver: here the one
/// past `max_ack_pending`; after a restart, one whose redelivery was acknowledged meanwhile).
/// That is nothing to lease, not a server out of reach: the worker's health would say
/// "cannot lease" of a server that works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_the_server_holds_unanswered_is_nothing_to_lease_not_a_failure() {
    let server = NatsServer::start();
    tokio::time::timeout(LIMIT, async {
        let q = JetStream::open(
            &NatsOptions {
                timeout: Duration::from_millis(500),
                ..NatsOptions::new(server.url())
            },
            StreamSettings::default(),
            Some(ConsumerSettings {
                ack_wait: Duration::from_secs(30),
                max_ack_pending: 1,
                ..ConsumerSettings::default()
            }),
        )
        .await
        .unwrap();
        q.enqueue(rec(1)).await.unwrap();
        q.enqueue(rec(2)).await.unwrap();
        let first = lease_all(&q, 1).await;
        assert_eq!(first.len(), 1);
        // The second is pending but past max_ack_pending: held back, and so is the pull.
        for wait in [Duration::ZERO, Duration::from_millis(200)] {
            let held = q.lease(5, wait).await;
            assert!(
                matches!(&held, Ok(l) if l.is_empty()),
                "wait {wait:?}: {:?}",
                held.map(|l| l.len())
            );
        }
        // Once the first is settled, the second comes.
        q.settle(&first[0], Settle::Delivered).await.unwrap();
        let second = lease_all(&q, 1).await;
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].record.key, rec(2).key);
        q.settle(&second[0], Settle::Delivered).await.unwrap();
        assert_eq!(q.unavailable(), None);
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_retried_past_the_duplicate_window() {
    let server = NatsServer::start();
    tokio::time::timeout(LIMIT, async {
        let q = forward(&server.url(), Duration::from_secs(30)).await;
        for i in 1..=3 {
            q.enqueue(rec(i)).await.unwrap();
        }
        let leased = lease_all(&q, 3).await;
        q.settle(
            &leased[0],
            Settle::Dead {
                reason: "400 Bad Request\r\nbody: no".into(),
                status: Some(400),
                unknown_outcomes: 0,
            },
        )
        .await
        .unwrap();
        q.settle(
            &leased[1],
            Settle::Dead {
                reason: "timed out (after 20 attempts)".into(),
                status: None,
                unknown_outcomes: 2,
            },
        )
        .await
        .unwrap();
        q.settle(&leased[2], Settle::Delivered).await.unwrap();
        let s = q.status().await.unwrap();
        assert_eq!((s.pending, s.in_flight, s.dead), (0, 0, 2));

        let dead = q.dead_letters(10).await.unwrap();
        assert_eq!(dead.total, 2);
        // Newest first.
        assert_eq!(dead.letters[0].key, leased[1].record.key);
        assert_eq!(dead.letters[0].last_status, None);
        assert_eq!(dead.letters[1].key, leased[0].record.key);
        assert_eq!(dead.letters[1].rec_type, "io.example.decoded");
        assert_eq!(dead.letters[1].last_status, Some(400));
        assert_eq!(dead.letters[1].attempts, 1);
        assert_eq!(dead.letters[1].reason, "400 Bad Request  body: no");
        assert!(dead.letters[1].died_ms >= dead.letters[1].created_ms);
        let one = q.dead_letters(1).await.unwrap();
        assert_eq!((one.total, one.letters.len()), (2, 1));

        // Still within the duplicate window: publishing the key again is dropped...
        assert!(q.enqueue(rec(1)).await.unwrap().is_duplicate());
        // ...but retry-dead is not.
        assert_eq!(q.retry_dead().await.unwrap(), 2);
        let s = q.status().await.unwrap();
        assert_eq!((s.pending, s.dead), (2, 0));
        let again = lease_all(&q, 2).await;
        let keys: BTreeSet<String> = again.iter().map(|l| l.record.key.clone()).collect();
        let expected: BTreeSet<String> = [rec(1).key, rec(2).key].into();
        assert_eq!(keys, expected);
        assert!(again.iter().all(|l| l.record.attempts == 0));
        // The one dead-lettered after two attempts that may have stored it keeps them: it is
        // looked up before it is posted again.
        let unknown: Vec<(String, u32)> = again
            .iter()
            .map(|l| (l.record.key.clone(), l.record.unknown_outcomes))
            .collect();
        assert!(
            unknown.contains(&(rec(2).key, 2)) && unknown.contains(&(rec(1).key, 0)),
            "{unknown:?}"
        );
        assert!(again.iter().all(|l| l.record.body.starts_with(b"{\"n\":")));
        for l in &again {
            q.settle(l, Settle::Delivered).await.unwrap();
        }
        assert_eq!(q.retry_dead().await.unwrap(), 0);
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_share_the_consumer_and_each_record_goes_to_one() {
    let server = NatsServer::start();
    tokio::time::timeout(LIMIT, async {
        let a = forward(&server.url(), Duration::from_secs(30)).await;
        let b = forward(&server.url(), Duration::from_secs(30)).await;
        for i in 0..200 {
            a.enqueue(rec(i)).await.unwrap();
        }
        let mut keys = Vec::new();
        let mut turns = 0;
        while keys.len() < 200 && turns < 200 {
            turns += 1;
            for q in [&a, &b] {
                for l in q.lease(7, Duration::from_millis(200)).await.unwrap() {
                    keys.push(l.record.key.clone());
                    q.settle(&l, Settle::Delivered).await.unwrap();
                }
            }
        }
        let distinct: BTreeSet<&String> = keys.iter().collect();
        assert_eq!((keys.len(), distinct.len()), (200, 200));
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_differ_and_ages_that_do_not_fit_are_refused() {
    let server = NatsServer::start();
    tokio::time::timeout(LIMIT, async {
        forward(&server.url(), Duration::from_secs(30)).await;
        let other = StreamSettings {
            max_age: Duration::from_secs(86_400 * 30),
            duplicate_window: Duration::from_secs(600),
            ..StreamSettings::default()
        };
        let e = JetStream::open(&options(&server.url()), other, None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), QueueErrorKind::Settings);
        let text = e.to_string();
        assert!(
            text.contains("the JetStream stream LORAFIELD exists with other settings: max_age 14d (asked 30d); duplicate_window 2m (asked 10m)"),
            "{text}"
        );
        // Another lease (ack_wait) than the consumer has.
        let e = JetStream::open(
            &options(&server.url()),
            StreamSettings::default(),
            consumer(Duration::from_secs(60)),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("ack_wait 30s (asked 1m)"), "{e}");
        // A dead-letter age the stream would not wait for.
        let e = JetStream::open(
            &options(&server.url()),
            StreamSettings::default(),
            Some(ConsumerSettings {
                dead_after: Duration::from_secs(20 * 86_400),
                ..ConsumerSettings::default()
            }),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), QueueErrorKind::Settings);
        assert!(e.to_string().contains("keeps records 14d (max_age)"), "{e}");
        // Nothing changed.
        let q = forward(&server.url(), Duration::from_secs(30)).await;
        q.enqueue(rec(1)).await.unwrap();
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_refuses_records_with_a_reason_and_one_back_takes_them() {
    let mut server = NatsServer::start();
    let url = server.url();
    let q = tokio::time::timeout(LIMIT, forward(&url, Duration::from_secs(30)))
        .await
        .expect("bounded");
    tokio::time::timeout(LIMIT, q.enqueue(rec(1)))
        .await
        .unwrap()
        .unwrap();
    server.stop(Stop::Kill);
    // Refused, never taken: until the client notices, a publish times out.
    let mut refused = 0;
    for i in 2..12 {
        let e = tokio::time::timeout(LIMIT, q.enqueue(rec(i)))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind(), QueueErrorKind::Unavailable, "{e}");
        refused += 1;
    }
    assert_eq!(refused, 10);
    let why = q.unavailable().expect("it says why");
    assert!(why.contains("NATS at nats://127.0.0.1:"), "{why}");
    server.restart();
    server.wait_ready(Duration::from_secs(20));
    // The client reconnects by itself; the next publishes are stored.
    let mut stored = false;
    for _ in 0..100 {
        if tokio::time::timeout(LIMIT, q.enqueue(rec(100)))
            .await
            .unwrap()
            .is_ok()
        {
            stored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(stored, "stored after the restart:\n{}", server.log());
    assert_eq!(q.unavailable(), None);
    let keys: BTreeSet<String> = lease_all(&q, 10)
        .await
        .into_iter()
        .map(|l| l.record.key)
        .collect();
    // What was acknowledged before the kill survived it; what was refused was not stored.
    assert!(
        keys.contains(&rec(1).key) && keys.contains(&rec(100).key),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicated_stream_loses_nothing_acknowledged_when_a_node_dies() {
    let mut cluster = Cluster::start(3);
    let urls = cluster.urls();
    let settings = StreamSettings {
        replicas: 3,
        ..StreamSettings::default()
    };
    let stored = tokio::time::timeout(LIMIT, async {
        let q = JetStream::open(
            &options(&urls),
            settings.clone(),
            consumer(Duration::from_secs(5)),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
        let mut stored = BTreeSet::new();
        for i in 0..300 {
            if q.enqueue(rec(i)).await.is_ok() {
                stored.insert(rec(i).key);
            }
        }
        assert_eq!(stored.len(), 300, "all stored while the three run");
        stored
    })
    .await
    .expect("bounded");
    // One node dies, whichever leads.
    cluster.nodes[0].stop(Stop::Kill);
    let got = tokio::time::timeout(LIMIT, async {
        let urls = format!("{},{}", cluster.nodes[1].url(), cluster.nodes[2].url());
        let mut q = None;
        for _ in 0..60 {
            match JetStream::open(
                &options(&urls),
                settings.clone(),
                consumer(Duration::from_secs(5)),
            )
            .await
            {
                Ok(opened) => {
                    q = Some(opened);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        let q = q.expect("the two left elect leaders and take requests");
        // Delivery goes on: more records are stored, and every record acknowledged before or
        // after the loss is leased.
        let mut stored = stored;
        for i in 300..350 {
            for _ in 0..50 {
                if q.enqueue(rec(i)).await.is_ok() {
                    stored.insert(rec(i).key);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        assert_eq!(stored.len(), 350);
        let mut got = BTreeSet::new();
        let mut idle = 0;
        while got.len() < stored.len() && idle < 30 {
            let batch = q
                .lease(64, Duration::from_secs(1))
                .await
                .unwrap_or_default();
            if batch.is_empty() {
                idle += 1;
            }
            for l in batch {
                if q.settle(&l, Settle::Delivered).await.is_ok() {
                    got.insert(l.record.key.clone());
                }
            }
        }
        (got, stored)
    })
    .await
    .expect("bounded");
    let (got, stored) = got;
    let lost: Vec<&String> = stored.difference(&got).collect();
    assert!(
        lost.is_empty(),
        "lost {} acknowledged records: {lost:?}",
        lost.len()
    );
}
