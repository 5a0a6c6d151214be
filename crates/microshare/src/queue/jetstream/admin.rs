//! What `lorafield outbox` does on JetStream: the counts (pending, in flight, dead), the dead
//! letters, and making them pending again.

use async_nats::HeaderMap;
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{RawMessageError, RawMessageErrorKind};

use super::{
    CREATED, JetStream, KEY, REASON, REC_TYPE, STATUS, UNKNOWN_OUTCOMES, header_value, unavailable,
};
use crate::outbox::now_ms;
use crate::queue::{DeadLetter, DeadLetters, QueueError, Status};

/// Pending: in the work stream and not leased; in flight: leased and not yet settled (the
/// consumer's acks pending); dead: in the dead-letter stream.
pub(super) async fn status(queue: &JetStream) -> Result<Status, QueueError> {
    let inner = &queue.inner;
    let work = inner
        .work
        .get_info()
        .await
        .map_err(|e| unavailable(&format!("the stream {}", inner.settings.stream), e))?;
    let dead = inner
        .dead
        .get_info()
        .await
        .map_err(|e| unavailable(&format!("the stream {}", inner.settings.dead_stream), e))?;
    let (in_flight, redelivered) = match inner.work.consumer_info(&inner.consumer_name).await {
        Ok(c) => (c.num_ack_pending as u64, c.num_redelivered as u64),
        // No forward ever ran: nothing is in flight.
        Err(e) if super::setup::consumer_missing(e.kind()) => (0, 0),
        Err(e) => {
            return Err(unavailable(
                &format!("the consumer {}", inner.consumer_name),
                e,
            ));
        }
    };
    let held = work.state.messages;
    let oldest = (held > 0).then(|| {
        let first = work.state.first_timestamp.unix_timestamp_nanos() / 1_000_000;
        (now_ms() as i128 - first).max(0) as f64 / 1000.0
    });
    Ok(Status {
        pending: held.saturating_sub(in_flight),
        in_flight: in_flight.min(held),
        delivered: None,
        dead: dead.state.messages,
        oldest_pending_age_s: oldest,
        redelivered: Some(redelivered),
    })
}

/// The newest `limit` dead letters (read back from the stream's last message), and how many
/// there are.
pub(super) async fn dead_letters(
    queue: &JetStream,
    limit: usize,
) -> Result<DeadLetters, QueueError> {
    let inner = &queue.inner;
    let info = inner
        .dead
        .get_info()
        .await
        .map_err(|e| unavailable(&format!("the stream {}", inner.settings.dead_stream), e))?;
    let mut letters = Vec::new();
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    let mut seq = last;
    while letters.len() < limit && seq >= first.max(1) && info.state.messages > 0 {
        if let Some(m) = get(queue, seq).await? {
            letters.push(letter(&m));
        }
        seq -= 1;
    }
    Ok(DeadLetters {
        letters,
        total: info.state.messages,
    })
}

/// Publishes every dead letter to the work stream again (due now, its age reset, its count of
/// attempts that may have stored it kept) under a new message id, `<key>.retry.<dead
/// sequence>`, then deletes it from the dead-letter stream; returns how many. Interrupted and
/// run again, a letter published but not deleted is published again under the same id: the
/// duplicate window drops it.
pub(super) async fn retry_dead(queue: &JetStream) -> Result<u64, QueueError> {
    let inner = &queue.inner;
    let info = inner
        .dead
        .get_info()
        .await
        .map_err(|e| unavailable(&format!("the stream {}", inner.settings.dead_stream), e))?;
    let mut n = 0;
    if info.state.messages == 0 {
        return Ok(0);
    }
    for seq in info.state.first_sequence..=info.state.last_sequence {
        let Some(m) = get(queue, seq).await? else {
            continue;
        };
        let header = |name: &str| m.headers.get(name).map(|v| v.as_str().to_string());
        let key = header(KEY).unwrap_or_else(|| format!("unreadable-{seq}"));
        let mut headers = HeaderMap::new();
        headers.insert(KEY, header_value(&key));
        headers.insert(
            REC_TYPE,
            header_value(&header(REC_TYPE).unwrap_or_default()),
        );
        headers.insert(CREATED, now_ms().to_string().as_str());
        if let Some(u) = header(UNKNOWN_OUTCOMES) {
            headers.insert(UNKNOWN_OUTCOMES, header_value(&u));
        }
        let publish = Publish::build()
            .payload(m.payload.clone())
            .headers(headers)
            .message_id(format!("{key}.retry.{seq}"));
        queue.publish(&inner.settings.subject, publish).await?;
        inner
            .dead
            .delete_message(seq)
            .await
            .map_err(|e| unavailable(&format!("deleting dead letter {seq}"), e))?;
        n += 1;
    }
    Ok(n)
}

async fn get(queue: &JetStream, seq: u64) -> Result<Option<StreamMessage>, QueueError> {
    match queue.inner.dead.get_raw_message(seq).await {
        Ok(m) => Ok(Some(m)),
        Err(e) if missing(&e) => Ok(None),
        Err(e) => Err(unavailable(&format!("dead letter {seq}"), e)),
    }
}

fn missing(e: &RawMessageError) -> bool {
    matches!(e.kind(), RawMessageErrorKind::NoMessageFound)
        || matches!(e.kind(), RawMessageErrorKind::JetStream(j) if j.error_code() == ErrorCode::NO_MESSAGE_FOUND)
}

fn letter(m: &StreamMessage) -> DeadLetter {
    let header = |name: &str| m.headers.get(name).map(|v| v.as_str());
    let number = |name: &str| header(name).and_then(|v| v.parse::<i64>().ok());
    let died_ms = i64::try_from(m.time.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    DeadLetter {
        id: i64::try_from(m.sequence).unwrap_or(i64::MAX),
        key: header(KEY).unwrap_or("-").to_string(),
        rec_type: header(REC_TYPE).unwrap_or("-").to_string(),
        attempts: number(super::ATTEMPTS).map_or(0, |a| u32::try_from(a).unwrap_or(u32::MAX)),
        last_status: number(STATUS).and_then(|s| u16::try_from(s).ok()),
        reason: header(REASON).unwrap_or_default().to_string(),
        created_ms: number(CREATED).unwrap_or(died_ms),
        died_ms,
    }
}
