//! What became of a record: its status, shape, id and what identifies the uplink.

use std::borrow::Cow;
use std::ops::Range;

use lorafield::Value;
use lorafield::core::json::{write_str, write_value};

/// The envelope shapes lorafield reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// The Things Stack v3 `ApplicationUp` (webhook, MQTT, storage integration).
    TtsV3,
    /// TTN v2 HTTP integration.
    TtnV2,
    /// ChirpStack v4 HTTP integration (`?event=up`).
    ChirpStackV4,
}

impl Shape {
    /// The shape's name: `tts-v3`, `ttn-v2`, `chirpstack-v4`.
    pub const fn name(self) -> &'static str {
        match self {
            Shape::TtsV3 => "tts-v3",
            Shape::TtnV2 => "ttn-v2",
            Shape::ChirpStackV4 => "chirpstack-v4",
        }
    }

    /// The member that holds the decoded payload in this shape.
    pub const fn decoded_key(self) -> &'static str {
        match self {
            Shape::TtsV3 => "decoded_payload",
            Shape::TtnV2 => "payload_fields",
            Shape::ChirpStackV4 => "object",
        }
    }

    /// The member that holds the raw payload in this shape, as a path.
    pub const fn payload_path(self) -> &'static str {
        match self {
            Shape::TtsV3 => "uplink_message.frm_payload",
            Shape::TtnV2 => "payload_raw",
            Shape::ChirpStackV4 => "data",
        }
    }
}

/// What became of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Decoded without errors; the decoded payload differs from the one the record held.
    Changed,
    /// Decoded without errors; the decoded payload is the one the record held (only the stamp
    /// was written).
    Unchanged,
    /// Could not be read or decoded; see [`Outcome::reason`].
    Failed,
    /// Not an uplink with application data (a join, a downlink event, a port-0 MAC frame, a
    /// share holding something else): written as it was.
    PassedThrough,
    /// A Microshare page (`{"meta":..,"objs":[..]}`): nothing was written; its shares are
    /// records of their own ([`page_objects`](super::page_objects)).
    Page,
}

/// Who a record is about, for `--diff` and error reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RecordId<'r> {
    /// A Microshare share's id.
    Share(Cow<'r, str>),
    /// A bare envelope's device id and frame counter.
    Uplink {
        /// The device id (TTS `device_id`, TTN v2 `dev_id`, ChirpStack `deviceName`).
        device_id: Option<Cow<'r, str>>,
        /// The frame counter (absent means 0 in TTS).
        f_cnt: Option<u64>,
    },
    /// Nothing to name it by.
    #[default]
    None,
}

impl RecordId<'_> {
    /// Appends the id as JSON: the share id as a string, an uplink as
    /// `{"device_id":..,"f_cnt":..}`, or `null`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            RecordId::Share(id) => write_str(id, out),
            RecordId::Uplink { device_id, f_cnt } => {
                out.extend_from_slice(b"{\"device_id\":");
                match device_id {
                    Some(d) => write_str(d, out),
                    None => out.extend_from_slice(b"null"),
                }
                out.extend_from_slice(b",\"f_cnt\":");
                write_value(&Value::U64(f_cnt.unwrap_or(0)), out);
                out.push(b'}');
            }
            RecordId::None => out.extend_from_slice(b"null"),
        }
    }
}

/// What [`Redecoder::redecode`](super::Redecoder::redecode) did with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<'r> {
    /// What became of it.
    pub status: Status,
    /// The envelope's shape, when it is an uplink.
    pub shape: Option<Shape>,
    /// Whether the envelope sat in a Microshare share's `data`.
    pub in_share: bool,
    /// The share id, or the device id and frame counter.
    pub id: RecordId<'r>,
    /// The decoded payload the record held (its text in the record), if any.
    pub before: Option<&'r str>,
    /// The decoded payload now, as a range of `out`, when the decode produced data.
    pub after: Option<Range<usize>>,
    /// Why the record failed.
    pub reason: Option<String>,
    /// Whether it failed because its text is not a JSON object.
    pub unreadable: bool,
    /// The Things Stack message a record passed through holds instead of an uplink
    /// (`join_accept`, `downlink_queued`, `location_solved`, ...: the member's name).
    pub event: Option<&'static str>,
    /// What identifies the uplink (for a record key), when the re-decoder was asked for it
    /// ([`Redecoder::with_ids`](super::Redecoder::with_ids)) and the record is an uplink with a port.
    pub ids: Option<UplinkIds<'r>>,
}

/// What identifies an uplink: its DevEUI, frame counter, receive time and raw payload text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkIds<'r> {
    /// TTS `end_device_ids.dev_eui`, TTN v2 `hardware_serial`, ChirpStack `deviceInfo.devEui`.
    pub dev_eui: Option<Cow<'r, str>>,
    /// The frame counter (0 when absent).
    pub f_cnt: u64,
    /// TTS `uplink_message.received_at` (else `received_at`), TTN v2 `metadata.time`,
    /// ChirpStack `time`.
    pub received_at: Option<Cow<'r, str>>,
    /// The payload's base64 text as the record has it (empty when absent).
    pub payload: Cow<'r, str>,
}

impl<'r> Outcome<'r> {
    pub(super) fn new(status: Status) -> Self {
        Outcome {
            status,
            shape: None,
            in_share: false,
            id: RecordId::None,
            before: None,
            after: None,
            reason: None,
            unreadable: false,
            event: None,
            ids: None,
        }
    }

    pub(super) fn failed(reason: String) -> Self {
        Outcome {
            reason: Some(reason),
            ..Outcome::new(Status::Failed)
        }
    }
}
