//! What every way in shares (`serve`'s webhook, `ingest-mqtt`'s subscriptions): one message
//! of The Things Stack, TTN v2 or ChirpStack decoded into the record to enqueue, or the reason
//! it is not one.
//!
//! ```
//! use lorafield::{Registry, Selection};
//! use lorafield_cli::intake::{Skipped, decode};
//!
//! let selection = Selection::builtin_default(&Registry::builtin());
//! let uplink = r#"{"end_device_ids":{"device_id":"d","dev_eui":"0004A30B001C0530"},"uplink_message":{"f_port":3,"f_cnt":7,"frm_payload":"A2cA+A==","received_at":"2026-03-02T08:00:00Z"}}"#;
//! let record = decode(&selection, "io.example.decoded", uplink).unwrap();
//! assert!(record.decoded && record.key.starts_with("lfk-"));
//! let join = r#"{"end_device_ids":{"device_id":"d"},"join_accept":{"session_key_id":"AQ=="}}"#;
//! assert!(matches!(decode(&selection, "r", join), Err(Skipped::Ignored("join"))));
//! assert!(matches!(decode(&selection, "r", "{not json"), Err(Skipped::NotJson(_))));
//! ```
//!
//! The record is the message as it came, with its decoded payload and the `lorafield` stamp
//! spliced in; its key (`lfk-...`) comes from what identifies the uplink (DevEUI, frame
//! counter, receive time, payload), so that the same uplink, however often it arrives and
//! through whichever way in, gets the same key and the queue keeps it once.

use lorafield::Selection;
use lorafield_envelope::{Redecoder, Status};
use lorafield_microshare::outbox::uplink_key;

/// The kinds of message that are not forwarded, and are counted by kind: The Things Stack's
/// messages other than uplinks (`join` for `join_accept`, the rest by their member's name),
/// uplinks without application data (`port_zero`: port 0, MAC commands only, or no port), and
/// ChirpStack's events other than `up` (`?event=join`, `event/join`, ...).
pub const IGNORED_KINDS: [&str; 17] = [
    "join",
    "downlink_ack",
    "downlink_nack",
    "downlink_sent",
    "downlink_failed",
    "downlink_queued",
    "downlink_queue_invalidated",
    "location_solved",
    "service_data",
    "uplink_normalized",
    "port_zero",
    "ack",
    "txack",
    "status",
    "log",
    "location",
    "integration",
];

/// ChirpStack's events other than `up` (its HTTP integration's `?event=`, the last level of
/// its MQTT topics), and the kind each is counted as.
const CHIRPSTACK_EVENTS: [(&str, &str); 7] = [
    ("join", "join"),
    ("ack", "ack"),
    ("txack", "txack"),
    ("status", "status"),
    ("log", "log"),
    ("location", "location"),
    ("integration", "integration"),
];

/// The kind a ChirpStack event other than `up` is counted as, or `None` for an event
/// ChirpStack does not send.
pub fn chirpstack_event(event: &str) -> Option<&'static str> {
    CHIRPSTACK_EVENTS
        .iter()
        .find(|(e, _)| *e == event)
        .map(|(_, kind)| *kind)
}

/// The kind a TTS message member is counted as.
fn tts_kind(member: &str) -> &str {
    match member {
        "join_accept" => "join",
        other => other,
    }
}

/// An uplink decoded, ready to be enqueued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The record: the message with its decoded payload and stamp.
    pub out: Vec<u8>,
    /// Whether it decoded without errors (one that did not is forwarded all the same, with the
    /// errors in its stamp).
    pub decoded: bool,
    /// Its record key.
    pub key: String,
    /// The recType it goes to: its rule's `forward_to`, else the default given.
    pub rec_type: String,
    /// Why it did not decode.
    pub reason: Option<String>,
}

/// Why a message is not a record to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// A message that is not an uplink to forward (a join, a downlink event, a port-0
    /// uplink, ...): ignored, counted under this kind (one of [`IGNORED_KINDS`]).
    Ignored(&'static str),
    /// The text is not a JSON object; why.
    NotJson(String),
    /// JSON, but not an uplink or any known event; why.
    NotAnUplink(String),
}

/// What [`Skipped::NotAnUplink`] says when nothing more precise is known.
pub const NOT_AN_UPLINK: &str = "not an uplink or a known event: a TTS v3 uplink_message (or \
    another ApplicationUp message), a TTN v2 uplink or a ChirpStack v4 event was expected";

/// Decodes one message (a webhook body, an MQTT message) with the rules of `selection`;
/// `rec_type` is where a record goes unless its rule says `forward_to`.
pub fn decode(selection: &Selection, rec_type: &str, text: &str) -> Result<Decoded, Skipped> {
    let mut out = Vec::with_capacity(text.len() + 256);
    let mut redecoder = Redecoder::new(selection).with_ids(true);
    let outcome = redecoder.redecode(text, &mut out);
    let decoded = match outcome.status {
        Status::Changed | Status::Unchanged => true,
        Status::Failed if outcome.shape.is_some() && !outcome.unreadable => false,
        Status::Failed => {
            let reason = outcome
                .reason
                .clone()
                .unwrap_or_else(|| NOT_AN_UPLINK.into());
            return Err(match outcome.unreadable {
                true => Skipped::NotJson(reason),
                false => Skipped::NotAnUplink(reason),
            });
        }
        Status::PassedThrough if outcome.shape.is_some() => {
            return Err(Skipped::Ignored("port_zero"));
        }
        Status::PassedThrough => {
            let kind = outcome
                .event
                .map(tts_kind)
                .and_then(|k| IGNORED_KINDS.iter().find(|i| **i == k));
            return Err(match kind {
                Some(kind) => Skipped::Ignored(kind),
                None => Skipped::NotAnUplink(NOT_AN_UPLINK.into()),
            });
        }
        Status::Page => return Err(Skipped::NotAnUplink(NOT_AN_UPLINK.into())),
    };
    let key = uplink_key(outcome.ids.as_ref(), text);
    let rec_type = redecoder
        .last_choice()
        .and_then(|c| c.forward_to())
        .unwrap_or(rec_type)
        .to_string();
    Ok(Decoded {
        out,
        decoded,
        key,
        rec_type,
        reason: outcome.reason.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tts_message_and_chirpstack_event_has_a_kind() {
        // The Things Stack's ApplicationUp messages besides uplink_message.
        for member in [
            "join_accept",
            "downlink_ack",
            "downlink_nack",
            "downlink_sent",
            "downlink_failed",
            "downlink_queued",
            "downlink_queue_invalidated",
            "location_solved",
            "service_data",
            "uplink_normalized",
        ] {
            assert!(IGNORED_KINDS.contains(&tts_kind(member)), "{member}");
        }
        for (event, kind) in CHIRPSTACK_EVENTS {
            assert!(IGNORED_KINDS.contains(&kind), "{kind}");
            assert_eq!(chirpstack_event(event), Some(kind));
        }
        assert_eq!(chirpstack_event("up"), None, "up is not ignored");
        assert_eq!(chirpstack_event("uplink"), None);
        let mut kinds = IGNORED_KINDS.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), IGNORED_KINDS.len(), "no kind twice");
    }
}
