//! The consuming side of the queue: pulls, the record a message carries, leases, and how a
//! lease is settled (acknowledged, nak'ed with a delay, or dead-lettered).

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self as js, AckKind};
use futures_util::StreamExt;

use super::setup::human;
use super::{
    ATTEMPTS, CREATED, JetStream, KEY, REASON, REC_TYPE, STATUS, UNKNOWN_OUTCOMES, header_value,
    unavailable,
};
use crate::outbox::now_ms;
use crate::queue::{Claimed, Leased, QueueError, QueueErrorKind, Settle};

impl JetStream {
    /// Leases up to `limit` records: those there now, or, with a `wait`, the first to come
    /// within it and what else is there then ([`crate::queue::Queue::lease`]).
    pub(super) async fn lease_messages(
        &self,
        limit: usize,
        wait: Duration,
    ) -> Result<Vec<Leased<js::Message>>, QueueError> {
        let limit = limit.max(1);
        let mut messages = self.pull(limit, None).await?;
        if messages.is_empty() && !wait.is_zero() {
            // Nothing now: wait for one, then take what else is there (a request that is
            // answered in full, so that no message goes to a request nobody reads).
            messages = self.pull(1, Some(wait)).await?;
            if !messages.is_empty() && limit > 1 {
                // What came is leased even when asking for more fails.
                match self.pull(limit - 1, None).await {
                    Ok(more) => messages.extend(more),
                    Err(e) => tracing::debug!("pulling more after one came: {e}"),
                }
            }
        }
        let mut leased = Vec::with_capacity(messages.len());
        for message in messages {
            match self.claimed(&message) {
                Ok(record) => leased.push(Leased {
                    record,
                    ticket: message,
                }),
                Err(why) => {
                    // Not a lorafield record (published by hand?): dead-letter it as it is.
                    tracing::warn!(
                        "a message on {} is not a lorafield record ({why}): dead-lettered",
                        message.subject
                    );
                    let seq = message.info().map_or(0, |i| i.stream_sequence);
                    let record = Claimed {
                        id: i64::try_from(seq).unwrap_or(i64::MAX),
                        key: format!("unreadable-{seq}"),
                        rec_type: String::new(),
                        body: message.payload.to_vec(),
                        attempts: 0,
                        created_ms: now_ms(),
                        unknown_outcomes: 0,
                    };
                    self.dead_letter(&message, &record, &why, None, 0).await?;
                }
            }
        }
        Ok(leased)
    }

    /// Pulls up to `limit` records: those there now, or, with `wait`, the first to come
    /// within `wait`.
    ///
    /// A pull for what is there now (no `wait`) carries no expiry, and a server may hold it
    /// unanswered: nats-server queues a no-wait request when it counts a message pending
    /// (one due for redelivery, say) and answers it only when it delivers one, which may be
    /// never once that message is acknowledged meanwhile (seen on 2.9 after a restart: no
    /// message pending, no acknowledgement pending, and our request waiting). Unanswered
    /// within the timeout while the connection is up, it is taken as nothing there now: the
    /// request ends with our subscription (the server drops a request nobody listens to),
    /// and a server that really stopped answering is found by the pull that waits, which
    /// carries an expiry the server must answer by.
    async fn pull(
        &self,
        limit: usize,
        wait: Option<Duration>,
    ) -> Result<Vec<js::Message>, QueueError> {
        let consumer = self.consumer()?;
        if let Some(why) = self.not_connected() {
            return Err(QueueError::new(QueueErrorKind::Unavailable, why));
        }
        let batch = match wait {
            None => consumer.fetch().max_messages(limit).messages().await,
            Some(wait) => {
                consumer
                    .batch()
                    .max_messages(limit)
                    .expires(wait)
                    .messages()
                    .await
            }
        }
        .map_err(|e| unavailable("pulling from the consumer", e))?;
        let deadline = wait.unwrap_or_default() + self.inner.timeout;
        let mut got = Vec::new();
        let answered = tokio::time::timeout(deadline, async {
            let mut batch = std::pin::pin!(batch);
            while let Some(next) = batch.next().await {
                match next {
                    Ok(m) => got.push(m),
                    // A 409 (max ack pending reached, a leader change), or the connection
                    // lost: what came before it is leased all the same.
                    Err(e) => {
                        tracing::debug!("pull from {}: {e}", self.inner.consumer_name);
                        break;
                    }
                }
            }
        })
        .await;
        if answered.is_err() && got.is_empty() {
            if wait.is_none() && self.not_connected().is_none() {
                tracing::debug!(
                    "a pull for what is there now went unanswered within {}: taken as nothing there",
                    human(deadline)
                );
                return Ok(got);
            }
            return Err(QueueError::new(
                QueueErrorKind::Unavailable,
                format!(
                    "no answer from NATS at {} to a pull within {}",
                    self.inner.servers,
                    human(deadline)
                ),
            ));
        }
        Ok(got)
    }

    /// The record a message carries, or why it carries none.
    fn claimed(&self, message: &js::Message) -> Result<Claimed, String> {
        let info = message
            .info()
            .map_err(|e| format!("no JetStream metadata: {e}"))?;
        let headers = message.headers.as_ref();
        let header = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
        let key = header(KEY).ok_or("no Lorafield-Key header: not published by lorafield")?;
        let rec_type = header(REC_TYPE).ok_or("no Lorafield-Rec-Type header")?;
        let published_ms =
            i64::try_from(info.published.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        Ok(Claimed {
            id: i64::try_from(info.stream_sequence).unwrap_or(i64::MAX),
            key: key.to_string(),
            rec_type: rec_type.to_string(),
            body: message.payload.to_vec(),
            attempts: u32::try_from(info.delivered.saturating_sub(1)).unwrap_or(u32::MAX),
            created_ms: header(CREATED)
                .and_then(|c| c.parse().ok())
                .unwrap_or(published_ms),
            unknown_outcomes: self.unknown_outcomes(message),
        })
    }

    /// Attempts that may have stored the record a message carries: those its headers count
    /// (from before a dead letter was retried), and one if this is a redelivery, since a
    /// delivery whose acknowledgement never came (a forward killed) may have posted it.
    ///
    /// A record published before the connection was last made again counts one as well: a
    /// server that was killed may have lost the consumer's latest state (which records were
    /// delivered, not which were acknowledged: those stay acknowledged), and then delivers a
    /// record as if for the first time although a forward posted it before the crash.
    pub fn unknown_outcomes(&self, message: &js::Message) -> u32 {
        let carried: u32 = message
            .headers
            .as_ref()
            .and_then(|h| h.get(UNKNOWN_OUTCOMES))
            .and_then(|v| v.as_str().parse().ok())
            .unwrap_or(0);
        let Ok(info) = message.info() else {
            return carried;
        };
        let published_ms = info.published.unix_timestamp_nanos() / 1_000_000;
        let before_reconnect = self
            .inner
            .health
            .reconnected_ms()
            .is_some_and(|at| published_ms <= i128::from(at));
        carried.saturating_add(u32::from(info.delivered > 1 || before_reconnect))
    }

    /// Copies `record` to the dead-letter stream (its message id is its place in the work
    /// stream, so doing it twice stores it once), then terminates its message.
    async fn dead_letter(
        &self,
        message: &js::Message,
        record: &Claimed,
        reason: &str,
        status: Option<u16>,
        unknown_outcomes: u32,
    ) -> Result<(), QueueError> {
        let mut headers = HeaderMap::new();
        headers.insert(KEY, header_value(&record.key));
        headers.insert(REC_TYPE, header_value(&record.rec_type));
        headers.insert(CREATED, record.created_ms.to_string().as_str());
        headers.insert(ATTEMPTS, (record.attempts + 1).to_string().as_str());
        headers.insert(REASON, header_value(reason));
        if let Some(s) = status {
            headers.insert(STATUS, s.to_string().as_str());
        }
        headers.insert(UNKNOWN_OUTCOMES, unknown_outcomes.to_string().as_str());
        let publish = Publish::build()
            .payload(record.body.clone().into())
            .headers(headers)
            .message_id(format!("{}.dead.{}", record.key, record.id));
        self.publish(&self.inner.settings.dead_subject, publish)
            .await?;
        self.ack(message, AckKind::Term).await
    }

    /// Settles the lease of `message`, which carries `record`: acknowledged, nak'ed with the
    /// retry's delay, or copied to the dead-letter stream and terminated.
    pub async fn settle_message(
        &self,
        message: &js::Message,
        record: &Claimed,
        settle: Settle,
    ) -> Result<(), QueueError> {
        match settle {
            Settle::Delivered => self.ack(message, AckKind::Ack).await,
            Settle::Retry { next_ms, .. } => {
                let wait = u64::try_from(next_ms - now_ms()).unwrap_or(0);
                let delay = (wait > 0).then(|| Duration::from_millis(wait));
                self.ack(message, AckKind::Nak(delay)).await
            }
            Settle::Dead {
                reason,
                status,
                unknown_outcomes,
            } => {
                self.dead_letter(message, record, &reason, status, unknown_outcomes)
                    .await
            }
        }
    }

    pub(super) async fn ack(&self, message: &js::Message, kind: AckKind) -> Result<(), QueueError> {
        let what = match kind {
            AckKind::Ack => "acknowledging",
            AckKind::Nak(_) => "handing back",
            AckKind::Term => "terminating",
            AckKind::Progress => "extending the lease of",
            AckKind::Next => "acknowledging",
        };
        let acked = match kind {
            // Acknowledgements that end a lease wait for the server's confirmation.
            AckKind::Ack | AckKind::Term => {
                tokio::time::timeout(self.inner.timeout, message.double_ack_with(kind)).await
            }
            _ => tokio::time::timeout(self.inner.timeout, message.ack_with(kind)).await,
        };
        match acked {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(QueueError::new(
                QueueErrorKind::Unavailable,
                format!("{what} a record on NATS at {}: {e}", self.inner.servers),
            )),
            Err(_) => Err(QueueError::new(
                QueueErrorKind::Unavailable,
                format!(
                    "{what} a record on NATS at {}: no answer within {}",
                    self.inner.servers,
                    human(self.inner.timeout)
                ),
            )),
        }
    }
}
