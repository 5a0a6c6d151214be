//! NATS JetStream behind [`Queue`]: the delivery path past one machine.
//!
//! - A **work-queue stream** (`LORAFIELD`, subject `lorafield.records`, file storage) holds the
//!   decoded records. `serve` (and `ingest-mqtt`) publish each with `Nats-Msg-Id` = its record
//!   key and answer the sender only after the server's acknowledgement: within the stream's
//!   duplicate window, the same uplink accepted twice (a retried webhook, two MQTT subscribers)
//!   is stored once.
//! - A **durable pull consumer** (`lorafield-forward`, explicit acks) is shared by every
//!   `forward`: each record goes to one of them at a time. A record is acknowledged after
//!   Microshare's 2xx, nak'ed with a delay on a retryable failure, and terminated after a copy
//!   went to the **dead-letter stream** (`LORAFIELD_DEAD`, subject `lorafield.dead`) on a
//!   permanent one. While a delivery is slow, progress acks keep its lease; a forward that dies
//!   leaves its records unacknowledged, and the server redelivers them after `ack_wait`.
//! - The recType travels in a header with the record, so `forward` needs only Microshare's
//!   URL and credentials.
//!
//! Streams and the consumer are created when missing; an existing one with other settings is
//! an error that says which differ (see `setup.rs`). The stream's `max_age` must exceed the
//! dead-letter age (checked when a `forward` starts), so that no record expires unseen.
//! Records made pending again by `retry-dead` get a new message id (`<key>.retry.<dead
//! sequence>`), so the duplicate window never swallows them.
//!
//! The client is `async-nats`, built without its `server_2_10` features: what it sends is the
//! JetStream API of nats-server 2.9.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::connection::State;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self as js, AckKind, stream};
use futures_util::StreamExt;

use super::{
    Claimed, DeadLetters, Enqueued, Leased, NewRecord, Queue, QueueError, QueueErrorKind, Settle,
    Status,
};
use crate::outbox::now_ms;

mod admin;
mod connect;
mod setup;

use connect::Health;
pub use connect::NatsOptions;
use setup::human;

/// Header: the record key (`lfk-...`); the message id may say more (`<key>.retry.<n>`).
pub const KEY: &str = "Lorafield-Key";
/// Header: the Microshare recType to post the record to.
pub const REC_TYPE: &str = "Lorafield-Rec-Type";
/// Header: when the record was accepted (ms since the Unix epoch).
pub const CREATED: &str = "Lorafield-Created";
/// Header: earlier attempts that may have stored the record in Microshare without an answer
/// saying so (kept through the dead-letter stream and `retry-dead`).
pub const UNKNOWN_OUTCOMES: &str = "Lorafield-Unknown-Outcomes";
/// Header of a dead letter: attempts made.
pub const ATTEMPTS: &str = "Lorafield-Attempts";
/// Header of a dead letter: the HTTP status of the last answer, when there was one.
pub const STATUS: &str = "Lorafield-Status";
/// Header of a dead letter: why it was given up.
pub const REASON: &str = "Lorafield-Reason";

/// The streams: names, subjects and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// The work-queue stream's name.
    pub stream: String,
    /// Its subject: records are published there, and it takes no other.
    pub subject: String,
    /// Replicas of both streams (1, or 3 on a cluster of three servers).
    pub replicas: usize,
    /// How long the work-queue stream keeps a record at most (zero: no limit). Must exceed
    /// the dead-letter age.
    pub max_age: Duration,
    /// How long the server remembers a message id to drop a duplicate.
    pub duplicate_window: Duration,
    /// The dead-letter stream's name.
    pub dead_stream: String,
    /// Its subject.
    pub dead_subject: String,
}

impl Default for StreamSettings {
    /// `LORAFIELD` on `lorafield.records`, one replica, 14 days, a 2-minute duplicate window;
    /// `LORAFIELD_DEAD` on `lorafield.dead`.
    fn default() -> Self {
        StreamSettings {
            stream: "LORAFIELD".into(),
            subject: "lorafield.records".into(),
            replicas: 1,
            max_age: Duration::from_secs(14 * 86_400),
            duplicate_window: Duration::from_secs(120),
            dead_stream: "LORAFIELD_DEAD".into(),
            dead_subject: "lorafield.dead".into(),
        }
    }
}

/// The durable consumer `forward` delivers from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// Its durable name.
    pub name: String,
    /// How long a record stays leased without an acknowledgement or a progress ack (its
    /// `ack_wait`): after a forward dies, its records are delivered again after this long.
    pub ack_wait: Duration,
    /// Records leased and unacknowledged at most, over every forward.
    pub max_ack_pending: i64,
    /// The age past which the forward dead-letters a record at the latest (its `--max-age`,
    /// the longest retry wait and a lease): the stream's `max_age` must exceed it.
    pub dead_after: Duration,
}

impl Default for ConsumerSettings {
    /// `lorafield-forward`, 30-second leases, 10,000 leased at most, dead after 7 days.
    fn default() -> Self {
        ConsumerSettings {
            name: "lorafield-forward".into(),
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 10_000,
            dead_after: Duration::from_secs(7 * 86_400 + 300 + 30),
        }
    }
}

/// A JetStream queue: a connection, the streams, and (for a `forward`) the consumer. Cheap
/// to clone.
#[derive(Clone)]
pub struct JetStream {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    js: js::Context,
    settings: StreamSettings,
    work: stream::Stream,
    dead: stream::Stream,
    consumer: Option<PullConsumer>,
    consumer_name: String,
    servers: String,
    timeout: Duration,
    health: Health,
}

impl std::fmt::Debug for JetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStream")
            .field("servers", &self.inner.servers)
            .field("stream", &self.inner.settings.stream)
            .finish_non_exhaustive()
    }
}

impl JetStream {
    /// Connects and makes sure of the streams (created when missing, compared when present);
    /// with `consumer` (a `forward`), of the consumer too, after checking that the stream keeps
    /// records longer than the consumer's dead-letter age.
    pub async fn open(
        options: &NatsOptions,
        settings: StreamSettings,
        consumer: Option<ConsumerSettings>,
    ) -> Result<JetStream, QueueError> {
        let health = Health::default();
        let client = options.connect(&health).await?;
        let js = js::ContextBuilder::new()
            .timeout(options.timeout)
            .build(client.clone());
        if let Some(c) = &consumer {
            setup::check_ages(&settings.stream, settings.max_age, c.dead_after)?;
        }
        let hint = format!(
            "--stream-replicas {}, --stream-max-age {}, --duplicate-window {}",
            settings.replicas,
            human(settings.max_age),
            human(settings.duplicate_window)
        );
        let work = setup::ensure_stream(&js, setup::work_stream(&settings), &hint).await?;
        let dead = setup::ensure_stream(&js, setup::dead_stream(&settings), &hint).await?;
        let (pull, consumer_name) = match consumer {
            Some(c) => (
                Some(setup::ensure_consumer(&work, setup::consumer(&c)).await?),
                c.name,
            ),
            None => (None, ConsumerSettings::default().name),
        };
        Ok(JetStream {
            inner: Arc::new(Inner {
                client,
                js,
                settings,
                work,
                dead,
                consumer: pull,
                consumer_name,
                servers: options.servers_shown(),
                timeout: options.timeout,
                health,
            }),
        })
    }

    /// Connects to streams that exist already, for `lorafield outbox` (which creates nothing
    /// and compares nothing but names); `consumer` is the consumer to report on.
    pub async fn attach(
        options: &NatsOptions,
        settings: StreamSettings,
        consumer: &str,
    ) -> Result<JetStream, QueueError> {
        let health = Health::default();
        let client = options.connect(&health).await?;
        let js = js::ContextBuilder::new()
            .timeout(options.timeout)
            .build(client.clone());
        let get = |name: String| {
            let js = js.clone();
            async move {
                js.get_stream(&name).await.map_err(|e| {
                    unavailable(&format!("the stream {name} (is this the right server?)"), e)
                })
            }
        };
        let work = get(settings.stream.clone()).await?;
        let dead = get(settings.dead_stream.clone()).await?;
        Ok(JetStream {
            inner: Arc::new(Inner {
                client,
                js,
                settings,
                work,
                dead,
                consumer: None,
                consumer_name: consumer.to_string(),
                servers: options.servers_shown(),
                timeout: options.timeout,
                health,
            }),
        })
    }

    /// The stream settings.
    pub fn settings(&self) -> &StreamSettings {
        &self.inner.settings
    }

    /// The NATS client (tests and benches read the server's state with it).
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    fn consumer(&self) -> Result<&PullConsumer, QueueError> {
        self.inner.consumer.as_ref().ok_or_else(|| {
            QueueError::new(
                QueueErrorKind::Settings,
                "this JetStream queue was opened without a consumer: it enqueues, it does not deliver",
            )
        })
    }

    fn not_connected(&self) -> Option<String> {
        if self.inner.client.connection_state() == State::Connected {
            return None;
        }
        let since = self
            .inner
            .health
            .disconnected_ms()
            .map(|at| format!(" for {:.0} s", (now_ms() - at).max(0) as f64 / 1000.0))
            .unwrap_or_default();
        Some(format!(
            "not connected to NATS at {}{since}; reconnecting",
            self.inner.servers
        ))
    }

    /// Publishes `publish` on `subject` and waits for the server's acknowledgement.
    async fn publish(
        &self,
        subject: &str,
        publish: Publish,
    ) -> Result<js::publish::PublishAck, QueueError> {
        if let Some(why) = self.not_connected() {
            return Err(QueueError::new(QueueErrorKind::Unavailable, why));
        }
        let acked = tokio::time::timeout(self.inner.timeout, async {
            self.inner
                .js
                .send_publish(subject.to_string(), publish)
                .await?
                .await
        })
        .await;
        match acked {
            Ok(Ok(ack)) => Ok(ack),
            Ok(Err(e)) => {
                let kind = match e.kind() {
                    js::context::PublishErrorKind::MaxPayloadExceeded => QueueErrorKind::Refused,
                    _ => QueueErrorKind::Unavailable,
                };
                Err(QueueError::new(
                    kind,
                    format!(
                        "publishing to {subject} on NATS at {}: {e}",
                        self.inner.servers
                    ),
                ))
            }
            Err(_) => Err(QueueError::new(
                QueueErrorKind::Unavailable,
                format!(
                    "no acknowledgement from NATS at {} within {} for a publish to {subject}",
                    self.inner.servers,
                    human(self.inner.timeout)
                ),
            )),
        }
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

    async fn ack(&self, message: &js::Message, kind: AckKind) -> Result<(), QueueError> {
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

impl Queue for JetStream {
    /// The message: it is acknowledged, nak'ed or terminated through it.
    type Ticket = js::Message;

    async fn enqueue(&self, record: NewRecord) -> Result<Enqueued, QueueError> {
        let mut headers = HeaderMap::new();
        headers.insert(KEY, header_value(&record.key));
        headers.insert(REC_TYPE, header_value(&record.rec_type));
        headers.insert(CREATED, now_ms().to_string().as_str());
        let publish = Publish::build()
            .payload(record.body.into())
            .headers(headers)
            .message_id(&record.key);
        let result = self.publish(&self.inner.settings.subject, publish).await;
        self.inner
            .health
            .published(result.as_ref().err().map(ToString::to_string).as_deref());
        let ack = result?;
        let seq = i64::try_from(ack.sequence).unwrap_or(i64::MAX);
        Ok(if ack.duplicate {
            Enqueued::Duplicate(seq)
        } else {
            Enqueued::Added(seq)
        })
    }

    async fn lease(
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

    async fn progress(&self, ticket: &js::Message) -> Result<(), QueueError> {
        self.ack(ticket, AckKind::Progress).await
    }

    async fn settle(&self, leased: &Leased<js::Message>, settle: Settle) -> Result<(), QueueError> {
        self.settle_message(&leased.ticket, &leased.record, settle)
            .await
    }

    async fn status(&self) -> Result<Status, QueueError> {
        admin::status(self).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<DeadLetters, QueueError> {
        admin::dead_letters(self, limit).await
    }

    async fn retry_dead(&self) -> Result<u64, QueueError> {
        admin::retry_dead(self).await
    }

    fn unavailable(&self) -> Option<String> {
        self.not_connected().or_else(|| {
            self.inner
                .health
                .publish_error()
                .map(|e| format!("the last publish failed: {e}"))
        })
    }
}

/// A header value without line breaks or other control characters (they would end the
/// header).
fn header_value(text: &str) -> async_nats::HeaderValue {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    clean.as_str().into()
}

/// An error of a request to the server: it cannot be reached, or did not answer in time, or
/// said no; in words, with what was asked.
pub(super) fn unavailable(what: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError::new(
        QueueErrorKind::Unavailable,
        format!("JetStream, {what}: {e}"),
    )
}
