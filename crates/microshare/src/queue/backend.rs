//! Either backend, chosen at run time (`--queue` or not), as one [`Queue`].

use std::time::Duration;

use super::{
    DeadLetters, Enqueued, JetStream, Leased, NewRecord, OutboxQueue, Queue, QueueError, Settle,
    Status,
};

/// The SQLite outbox or JetStream: what `serve`, `forward` and `ingest-mqtt` hold.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The SQLite outbox of one machine.
    Outbox(OutboxQueue),
    /// NATS JetStream.
    JetStream(JetStream),
}

/// A lease of either backend.
#[derive(Debug)]
pub enum Ticket {
    /// An outbox row id.
    Outbox(i64),
    /// A JetStream message.
    JetStream(Box<async_nats::jetstream::Message>),
}

impl Backend {
    /// `"outbox"` or `"jetstream"`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Outbox(_) => "outbox",
            Backend::JetStream(_) => "jetstream",
        }
    }
}

/// Re-wraps a lease of one backend as a lease of [`Backend`].
fn wrap<T>(leased: Vec<Leased<T>>, ticket: impl Fn(T) -> Ticket) -> Vec<Leased<Ticket>> {
    leased
        .into_iter()
        .map(|l| Leased {
            record: l.record,
            ticket: ticket(l.ticket),
        })
        .collect()
}

/// A ticket of the other backend: a lease is settled where it was taken.
fn foreign() -> QueueError {
    QueueError::new(
        super::QueueErrorKind::Refused,
        "a lease settled on another queue than the one it came from",
    )
}

impl Queue for Backend {
    type Ticket = Ticket;

    async fn enqueue(&self, record: NewRecord) -> Result<Enqueued, QueueError> {
        match self {
            Backend::Outbox(q) => q.enqueue(record).await,
            Backend::JetStream(q) => q.enqueue(record).await,
        }
    }

    async fn lease(&self, limit: usize, wait: Duration) -> Result<Vec<Leased<Ticket>>, QueueError> {
        Ok(match self {
            Backend::Outbox(q) => wrap(q.lease(limit, wait).await?, Ticket::Outbox),
            Backend::JetStream(q) => wrap(q.lease(limit, wait).await?, |m| {
                Ticket::JetStream(Box::new(m))
            }),
        })
    }

    async fn progress(&self, ticket: &Ticket) -> Result<(), QueueError> {
        match (self, ticket) {
            (Backend::Outbox(q), Ticket::Outbox(id)) => q.progress(id).await,
            (Backend::JetStream(q), Ticket::JetStream(m)) => q.progress(m).await,
            _ => Err(foreign()),
        }
    }

    async fn settle(&self, leased: &Leased<Ticket>, settle: Settle) -> Result<(), QueueError> {
        match (self, &leased.ticket) {
            (Backend::Outbox(q), Ticket::Outbox(id)) => Ok(q.outbox().settle(*id, settle).await?),
            (Backend::JetStream(q), Ticket::JetStream(m)) => {
                q.settle_message(m, &leased.record, settle).await
            }
            _ => Err(foreign()),
        }
    }

    async fn status(&self) -> Result<Status, QueueError> {
        match self {
            Backend::Outbox(q) => q.status().await,
            Backend::JetStream(q) => q.status().await,
        }
    }

    async fn dead_letters(&self, limit: usize) -> Result<DeadLetters, QueueError> {
        match self {
            Backend::Outbox(q) => q.dead_letters(limit).await,
            Backend::JetStream(q) => q.dead_letters(limit).await,
        }
    }

    async fn retry_dead(&self) -> Result<u64, QueueError> {
        match self {
            Backend::Outbox(q) => q.retry_dead().await,
            Backend::JetStream(q) => q.retry_dead().await,
        }
    }

    fn unavailable(&self) -> Option<String> {
        match self {
            Backend::Outbox(q) => q.unavailable(),
            Backend::JetStream(q) => q.unavailable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Outbox;

    #[tokio::test]
    async fn the_outbox_as_a_backend_and_a_lease_settled_where_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let q = Backend::Outbox(OutboxQueue::new(outbox, Duration::from_secs(60)));
        assert_eq!(q.name(), "outbox");
        let record = NewRecord {
            key: "lfk-0000000000000001".into(),
            rec_type: "r".into(),
            body: b"{}".to_vec(),
        };
        assert!(!q.enqueue(record.clone()).await.unwrap().is_duplicate());
        assert!(q.enqueue(record).await.unwrap().is_duplicate());
        let leased = q.lease(5, Duration::ZERO).await.unwrap();
        assert!(matches!(leased[0].ticket, Ticket::Outbox(id) if id == leased[0].record.id));
        q.progress(&leased[0].ticket).await.unwrap();
        q.settle(&leased[0], Settle::Delivered).await.unwrap();
        let s = q.status().await.unwrap();
        assert_eq!((s.pending, s.in_flight, s.delivered), (0, 0, Some(1)));
        assert_eq!(q.unavailable(), None);
    }
}
