//! The worker against the outbox and against queues and deliveries made for a case.

use super::*;
use crate::outbox::{NewRecord, Outbox};
use crate::queue::OutboxQueue;

/// Fails every record's first `fail` attempts with `error`, then accepts; counts calls.
struct Flaky {
    fail: u32,
    error: DeliveryError,
    calls: Mutex<std::collections::HashMap<String, u32>>,
}

impl Deliver for Flaky {
    async fn deliver(&self, _: &str, tags: &[String], _: &[u8]) -> Result<(), DeliveryError> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(tags[0].clone()).or_default();
            *n += 1;
            *n
        };
        if n <= self.fail {
            Err(self.error.clone())
        } else {
            Ok(())
        }
    }
}

async fn run_flaky(
    fail: u32,
    error: DeliveryError,
    records: u32,
) -> (crate::outbox::Status, Arc<WorkerStats>) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    for i in 0..records {
        outbox
            .enqueue(NewRecord {
                key: format!("lfk-{i:016x}"),
                rec_type: "r".into(),
                body: b"{}".to_vec(),
            })
            .await
            .unwrap();
    }
    let config = WorkerConfig {
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
        max_attempts: 4,
        idle: Duration::from_millis(20),
        ..WorkerConfig::default()
    };
    let stats = Arc::new(WorkerStats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let flaky = Arc::new(Flaky {
        fail,
        error,
        calls: Mutex::default(),
    });
    let queue = Arc::new(OutboxQueue::new(outbox.clone(), config.lease));
    let worker = tokio::spawn(run(queue, flaky, config, stats.clone(), stop_rx));
    // Until nothing is pending or in flight, or delivery stopped; 10 s at most.
    for _ in 0..1000 {
        let s = outbox.status().unwrap();
        if s.pending + s.in_flight == 0 || stats.stopped().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop_tx.send(true); // a stopped worker has gone already
    tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    (outbox.status().unwrap(), stats)
}

fn retry_503() -> DeliveryError {
    DeliveryError::answered("503".into(), 503, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_records_arrive_and_hopeless_ones_die() {
    let (s, stats) = run_flaky(2, retry_503(), 30).await;
    assert_eq!(stats.failing(), None, "the last attempts succeeded");
    assert_eq!((s.pending, s.in_flight, s.delivered, s.dead), (0, 0, 30, 0));
    assert_eq!(stats.delivered.load(Ordering::Relaxed), 30);
    assert_eq!(stats.retried.load(Ordering::Relaxed), 60);
    assert_eq!(stats.concurrency().in_flight, 0);
    let (s, stats) = run_flaky(10, retry_503(), 5).await;
    assert_eq!((s.delivered, s.dead), (0, 5));
    assert_eq!(stats.dead.load(Ordering::Relaxed), 5);
    let failing = stats.failing().expect("every attempt failed");
    assert_eq!(failing.attempts, 20);
    assert_eq!(
        (failing.status, failing.reason.as_str()),
        (Some(503), "503")
    );
    let (s, _) = run_flaky(
        1,
        DeliveryError::Reject {
            reason: "400".into(),
            status: Some(400),
        },
        5,
    )
    .await;
    assert_eq!((s.delivered, s.dead), (0, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_keeps_every_record() {
    let stop = DeliveryError::Stop {
        reason: "pipe token revoked".into(),
    };
    let (s, stats) = run_flaky(u32::MAX, stop, 12).await;
    assert_eq!(stats.stopped().as_deref(), Some("pipe token revoked"));
    assert_eq!(s.pending + s.in_flight, 12);
    assert_eq!((s.delivered, s.dead), (0, 0));
}

#[test]
fn errors_say_whether_the_record_may_be_stored_and_whether_it_is_overload() {
    let retry = |cause, status| DeliveryError::Retry {
        reason: String::new(),
        status,
        after: None,
        cause,
    };
    let cases = [
        (retry(Cause::Timeout, None), true, Signal::Overload),
        (retry(Cause::Cut, None), true, Signal::Other),
        (retry(Cause::NotSent, None), false, Signal::Other),
        (retry(Cause::Answer, Some(429)), false, Signal::Overload),
        (retry(Cause::Answer, Some(503)), false, Signal::Overload),
        (retry(Cause::Answer, Some(500)), false, Signal::Other),
        (retry(Cause::Answer, Some(504)), true, Signal::Other),
        (retry(Cause::Answer, Some(502)), true, Signal::Other),
    ];
    for (error, stored, signal) in cases {
        assert_eq!(
            (error.may_have_stored(), error.signal()),
            (stored, signal),
            "{error:?}"
        );
    }
    let reject = DeliveryError::Reject {
        reason: String::new(),
        status: Some(400),
    };
    assert_eq!(
        (reject.may_have_stored(), reject.signal()),
        (false, Signal::Other)
    );
}

/// A queue that hands its one record out twice in its first lease (as JetStream may after
/// a server was killed), then nothing; it records how each lease was settled.
#[derive(Default)]
struct Twice {
    leased: Mutex<bool>,
    settled: Mutex<Vec<(u8, Settle)>>,
}

impl Queue for Twice {
    type Ticket = u8;

    async fn enqueue(&self, _: NewRecord) -> Result<crate::queue::Enqueued, QueueError> {
        Err(QueueError::new(QueueErrorKind::Refused, "read-only"))
    }

    async fn lease(
        &self,
        _: usize,
        wait: Duration,
    ) -> Result<Vec<crate::queue::Leased<u8>>, QueueError> {
        if std::mem::replace(&mut *self.leased.lock().unwrap(), true) {
            tokio::time::sleep(wait).await;
            return Ok(Vec::new());
        }
        let claimed = crate::queue::Claimed {
            id: 1,
            key: "lfk-0000000000000001".into(),
            rec_type: "r".into(),
            body: b"{}".to_vec(),
            attempts: 0,
            created_ms: 0,
            unknown_outcomes: 0,
        };
        Ok([1, 2]
            .map(|ticket| crate::queue::Leased {
                record: claimed.clone(),
                ticket,
            })
            .into())
    }

    async fn progress(&self, _: &u8) -> Result<(), QueueError> {
        Ok(())
    }

    async fn settle(
        &self,
        leased: &crate::queue::Leased<u8>,
        settle: Settle,
    ) -> Result<(), QueueError> {
        self.settled.lock().unwrap().push((leased.ticket, settle));
        Ok(())
    }

    async fn status(&self) -> Result<crate::queue::Status, QueueError> {
        Ok(crate::queue::Status::default())
    }

    async fn dead_letters(&self, _: usize) -> Result<crate::queue::DeadLetters, QueueError> {
        Err(QueueError::new(QueueErrorKind::Refused, "none kept"))
    }

    async fn retry_dead(&self) -> Result<u64, QueueError> {
        Ok(0)
    }

    fn unavailable(&self) -> Option<String> {
        None
    }
}

/// Microshare with a look-up: a post takes a while, then the tag is stored.
#[derive(Default)]
struct Stored {
    posts: Mutex<Vec<String>>,
}

impl Deliver for Stored {
    async fn deliver(&self, _: &str, tags: &[String], _: &[u8]) -> Result<(), DeliveryError> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.posts.lock().unwrap().push(tags[0].clone());
        Ok(())
    }

    async fn look_up(&self, _: &str, tag: &str) -> Result<Lookup, DeliveryError> {
        let found = self.posts.lock().unwrap().iter().any(|t| t == tag);
        Ok(if found { Lookup::Found } else { Lookup::Absent })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_handed_out_twice_at_once_is_posted_once() {
    let queue = Arc::new(Twice::default());
    let microshare = Arc::new(Stored::default());
    let stats = Arc::new(WorkerStats::default());
    let (stop, stopped) = watch::channel(false);
    let config = WorkerConfig {
        idle: Duration::from_millis(20),
        ..WorkerConfig::default()
    };
    let worker = tokio::spawn(run(
        queue.clone(),
        microshare.clone(),
        config,
        stats.clone(),
        stopped,
    ));
    for _ in 0..500 {
        if queue.settled.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    assert_eq!(
        *microshare.posts.lock().unwrap(),
        ["lfk-0000000000000001"],
        "posted once"
    );
    let mut settled = queue.settled.lock().unwrap().clone();
    settled.sort_by_key(|(ticket, _)| *ticket);
    assert_eq!(
        settled,
        [(1, Settle::Delivered), (2, Settle::Delivered)],
        "both leases settled as delivered"
    );
    assert_eq!(
        stats.found.load(Ordering::Relaxed),
        1,
        "the second looked up and found"
    );
}
