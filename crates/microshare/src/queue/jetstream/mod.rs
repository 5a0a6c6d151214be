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

use super::{
    DeadLetters, Enqueued, Leased, NewRecord, Queue, QueueError, QueueErrorKind, Settle, Status,
};
use crate::outbox::now_ms;

mod admin;
mod connect;
mod consume;
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
        self.lease_messages(limit, wait).await
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
