//! The SQLite outbox behind [`Queue`]: a thin adapter over [`Outbox`] and its admin
//! functions.

use std::path::PathBuf;
use std::time::Duration;

use super::{DeadLetters, Enqueued, Leased, NewRecord, Queue, QueueError, Settle, Status};
use crate::outbox::{self, Outbox, OutboxError, now_ms};

/// The outbox of one directory as a [`Queue`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OutboxQueue {
    outbox: Outbox,
    lease: Duration,
}

impl OutboxQueue {
    /// `outbox` as a queue whose leases last `lease`.
    pub fn new(outbox: Outbox, lease: Duration) -> Self {
        OutboxQueue { outbox, lease }
    }

    /// The outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    fn dir(&self) -> PathBuf {
        self.outbox
            .path()
            .parent()
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
    }

    /// Runs `f` on the outbox directory on a blocking thread (the admin functions open their
    /// own connection).
    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&std::path::Path) -> Result<R, OutboxError> + Send + 'static,
    ) -> Result<R, QueueError> {
        let dir = self.dir();
        tokio::task::spawn_blocking(move || f(&dir))
            .await
            .map_err(|e| OutboxError::Commit(e.to_string()))?
            .map_err(QueueError::from)
    }
}

impl Queue for OutboxQueue {
    /// The record's row id.
    type Ticket = i64;

    async fn enqueue(&self, record: NewRecord) -> Result<Enqueued, QueueError> {
        Ok(self.outbox.enqueue(record).await?)
    }

    async fn lease(&self, limit: usize, wait: Duration) -> Result<Vec<Leased<i64>>, QueueError> {
        let leased = |claimed: Vec<outbox::Claimed>| {
            claimed
                .into_iter()
                .map(|record| Leased {
                    ticket: record.id,
                    record,
                })
                .collect::<Vec<_>>()
        };
        let due = self.outbox.claim(limit, self.lease).await?;
        if !due.is_empty() || wait.is_zero() {
            return Ok(leased(due));
        }
        // Nothing due: wait for a commit that adds records, or for the next record to fall
        // due, whichever comes first, but no longer than `wait`.
        let until_due = match self.outbox.next_due_ms()? {
            Some(at) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0).max(1)),
            None => wait,
        };
        tokio::select! {
            () = self.outbox.notify().notified() => {}
            () = tokio::time::sleep(until_due.min(wait)) => {}
        }
        Ok(leased(self.outbox.claim(limit, self.lease).await?))
    }

    /// Nothing to do: an outbox lease outlasts any attempt (the client's timeouts are far
    /// shorter than the lease).
    async fn progress(&self, _ticket: &i64) -> Result<(), QueueError> {
        Ok(())
    }

    async fn settle(&self, leased: &Leased<i64>, settle: Settle) -> Result<(), QueueError> {
        Ok(self.outbox.settle(leased.ticket, settle).await?)
    }

    async fn status(&self) -> Result<Status, QueueError> {
        self.blocking(|dir| outbox::status(dir).map(Status::from))
            .await
    }

    async fn dead_letters(&self, limit: usize) -> Result<DeadLetters, QueueError> {
        self.blocking(move |dir| outbox::dead_letters(dir, limit))
            .await
    }

    async fn retry_dead(&self) -> Result<u64, QueueError> {
        let n = self.blocking(outbox::retry_dead).await?;
        self.outbox.notify().notify_one();
        Ok(n)
    }

    fn unavailable(&self) -> Option<String> {
        self.outbox
            .write_error()
            .map(|e| format!("the outbox cannot commit: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::QueueErrorKind;

    fn rec(i: u32) -> NewRecord {
        NewRecord {
            key: format!("lfk-{i:016x}"),
            rec_type: "io.example.decoded".into(),
            body: format!("{{\"n\":{i}}}").into_bytes(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_outbox_behind_the_trait_leases_settles_and_lists() {
        let dir = tempfile::tempdir().unwrap();
        let queue = OutboxQueue::new(Outbox::open(dir.path()).unwrap(), Duration::from_secs(60));
        for i in 0..3 {
            assert!(!queue.enqueue(rec(i)).await.unwrap().is_duplicate());
        }
        assert!(queue.enqueue(rec(1)).await.unwrap().is_duplicate());
        let s = queue.status().await.unwrap();
        assert_eq!(
            (s.pending, s.in_flight, s.delivered, s.dead),
            (3, 0, Some(0), 0)
        );

        let leased = queue.lease(10, Duration::ZERO).await.unwrap();
        assert_eq!(leased.len(), 3);
        assert_eq!(leased[0].ticket, leased[0].record.id);
        assert_eq!(leased[0].record.key, rec(0).key);
        queue.progress(&leased[0].ticket).await.unwrap();
        queue.settle(&leased[0], Settle::Delivered).await.unwrap();
        queue
            .settle(
                &leased[1],
                Settle::Dead {
                    reason: "400 bad".into(),
                    status: Some(400),
                    unknown_outcomes: 0,
                },
            )
            .await
            .unwrap();
        let s = queue.status().await.unwrap();
        assert_eq!((s.in_flight, s.delivered, s.dead), (1, Some(1), 1));
        let dead = queue.dead_letters(10).await.unwrap();
        assert_eq!(
            (dead.total, dead.letters[0].key.as_str()),
            (1, "lfk-0000000000000001")
        );
        assert_eq!(queue.retry_dead().await.unwrap(), 1);
        // The retried record is due now; the third is still leased.
        let again = queue.lease(10, Duration::from_secs(5)).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].record.key, rec(1).key);
        assert_eq!(queue.unavailable(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lease_waits_for_a_record_enqueued_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let queue = OutboxQueue::new(Outbox::open(dir.path()).unwrap(), Duration::from_secs(60));
        assert!(
            queue
                .lease(5, Duration::from_millis(20))
                .await
                .unwrap()
                .is_empty()
        );
        let q = queue.clone();
        let waiting = tokio::spawn(async move { q.lease(5, Duration::from_secs(30)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        queue.enqueue(rec(9)).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(20), waiting)
            .await
            .expect("woken by the commit, not after 30 s")
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn outbox_errors_are_of_the_outbox_kind() {
        let e = QueueError::from(OutboxError::Closed);
        assert_eq!(e.kind(), QueueErrorKind::Outbox);
        assert_eq!(e.to_string(), "the outbox is closed");
    }
}
