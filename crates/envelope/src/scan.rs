//! One pass of serde_json over a record, keeping where the members that matter are.
//!
//! Every member value is read as a borrowed [`RawValue`] (validated, not built) except the two
//! that hold the rest of the record, a share's `data` and TTS's `uplink_message`, which are
//! scanned in place by nested visitors. Spans are byte ranges into the record text, found by
//! pointer arithmetic on the borrowed slices. The closing brace of an object is found after
//! its last member's value; when that cannot be known (an empty object last, a string with
//! escapes where a span is needed) the scan says so and the caller takes the slow path, which
//! reads `data` as one raw value and scans it on its own.

use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A byte range into the record text.
pub(crate) type Span = Range<usize>;

/// Where a borrowed slice of the text starts, as an offset.
fn offset(text: &str, part: &str) -> usize {
    part.as_ptr().addr() - text.as_ptr().addr()
}

fn span_of(text: &str, raw: &RawValue) -> Span {
    let s = raw.get();
    let start = offset(text, s);
    start..start + s.len()
}

/// The index of the `}` that closes an object whose last member's value ended at `from`.
fn close_after(text: &str, from: usize) -> Option<usize> {
    let rest = text.as_bytes().get(from..)?;
    let i = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    (rest[i] == b'}').then_some(from + i)
}

/// A member value kept as a span of the record text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// The value's text, quotes and brackets included.
    pub(crate) span: Span,
}

impl Member {
    pub(crate) fn text<'t>(&self, text: &'t str) -> &'t str {
        &text[self.span.clone()]
    }
}

/// `data`: a share's envelope, or ChirpStack's base64 payload.
#[derive(Debug)]
pub(crate) enum Data {
    /// An object: a share's envelope, scanned into [`Scan::envelope`].
    Object,
    /// Any other value (a string).
    Raw(Member),
}

/// A record scanned: its top level and, for a share, the envelope in its `data`.
#[derive(Debug)]
pub(crate) struct Scan {
    pub(crate) top: Scanned,
    pub(crate) envelope: Option<Scanned>,
}

/// What the visitor of `data` found.
// Returned once per record on the stack; boxing the envelope would allocate per share.
#[allow(clippy::large_enum_variant)]
enum DataValue {
    Object(Scanned),
    Raw(Member),
}

/// The members of TTS v3's `uplink_message` that lorafield reads or writes.
#[derive(Debug, Default)]
pub(crate) struct UplinkMessage {
    pub(crate) f_port: Option<Member>,
    pub(crate) f_cnt: Option<Member>,
    pub(crate) frm_payload: Option<Member>,
    pub(crate) decoded_payload: Option<Member>,
    pub(crate) decoded_payload_warnings: Option<Member>,
    pub(crate) normalized_payload: Option<Member>,
    pub(crate) version_ids: Option<Member>,
    pub(crate) received_at: Option<Member>,
    /// Where the object's last member value ends; `None` for `{}`.
    last_end: Option<usize>,
}

/// An envelope or share object: the members of every known shape.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    // The Things Stack v3.
    pub(crate) end_device_ids: Option<Member>,
    pub(crate) uplink_message: Option<UplinkMessage>,
    pub(crate) received_at: Option<Member>,
    /// A TTS message kind other than `uplink_message` (`join_accept`, `downlink_ack`, ...).
    pub(crate) other_message: Option<&'static str>,
    // TTN v2.
    pub(crate) app_id: Option<Member>,
    pub(crate) dev_id: Option<Member>,
    pub(crate) hardware_serial: Option<Member>,
    pub(crate) port: Option<Member>,
    pub(crate) counter: Option<Member>,
    pub(crate) payload_raw: Option<Member>,
    pub(crate) payload_fields: Option<Member>,
    pub(crate) metadata: Option<Member>,
    // ChirpStack v4.
    pub(crate) device_info: Option<Member>,
    pub(crate) f_port: Option<Member>,
    pub(crate) f_cnt: Option<Member>,
    pub(crate) object: Option<Member>,
    pub(crate) time: Option<Member>,
    // ChirpStack's payload or a share's envelope.
    pub(crate) data: Option<Data>,
    // Microshare shares and pages.
    pub(crate) rec_type: Option<Member>,
    pub(crate) id: Option<Member>,
    pub(crate) oid: Option<Member>,
    pub(crate) objs: Option<Member>,
    pub(crate) meta: Option<Member>,
    // Ours.
    pub(crate) stamp: Option<Member>,
    /// The index of the object's closing `}`, when known.
    pub(crate) close: Option<usize>,
    /// Whether the caller must take the slow path (see the module docs).
    pub(crate) slow: bool,
    last_end: Option<usize>,
}

/// Scans `text`, one JSON object, in one pass (`data` scanned in place), or on the slow path
/// when the fast one cannot place everything.
pub(crate) fn scan(text: &str) -> Result<Scan, serde_json::Error> {
    let (mut top, envelope) = scan_with(text, text, Mode::Fast)?;
    if top.slow {
        return scan_slow(text);
    }
    top.close = Some(text.trim_end().len() - 1);
    Ok(Scan { top, envelope })
}

/// The slow path: `data` read as one raw value, then scanned on its own when it is an object.
fn scan_slow(text: &str) -> Result<Scan, serde_json::Error> {
    let (mut top, _) = scan_with(text, text, Mode::DataRaw)?;
    let mut envelope = None;
    if let Some(Data::Raw(m)) = &top.data {
        let inner = &text[m.span.clone()];
        if inner.starts_with('{') {
            let (mut env, _) = scan_with(text, inner, Mode::Nested)?;
            env.close = Some(m.span.end - 1);
            top.data = Some(Data::Object);
            envelope = Some(env);
        }
    }
    top.close = Some(text.trim_end().len() - 1);
    Ok(Scan { top, envelope })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The record's top level, `data` scanned in place.
    Fast,
    /// The record's top level, `data` read whole.
    DataRaw,
    /// A share's envelope scanned on its own: a `data` in it is a plain member.
    Nested,
}

fn scan_with(
    text: &str,
    part: &str,
    mode: Mode,
) -> Result<(Scanned, Option<Scanned>), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(part);
    let scanned = EnvelopeSeed { text, mode }.deserialize(&mut de)?;
    de.end()?;
    Ok(scanned)
}

/// The member names lorafield reads; anything else is read as a raw value and left alone.
#[derive(Debug, Clone, Copy)]
enum Key {
    EndDeviceIds,
    UplinkMessage,
    ReceivedAt,
    OtherMessage(&'static str),
    AppId,
    DevId,
    HardwareSerial,
    Port,
    Counter,
    PayloadRaw,
    PayloadFields,
    Metadata,
    DeviceInfo,
    FPortCs,
    FCntCs,
    Object,
    Time,
    Data,
    RecType,
    Id,
    Oid,
    Objs,
    Meta,
    Stamp,
    // uplink_message's own.
    FPort,
    FCnt,
    FrmPayload,
    DecodedPayload,
    DecodedPayloadWarnings,
    NormalizedPayload,
    VersionIds,
    Other,
}

/// TTS v3 message kinds besides `uplink_message` (`ApplicationUp`'s oneof).
const OTHER_MESSAGES: &[&str] = &[
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
];

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match v {
            "end_device_ids" => Key::EndDeviceIds,
            "uplink_message" => Key::UplinkMessage,
            "received_at" => Key::ReceivedAt,
            "app_id" => Key::AppId,
            "dev_id" => Key::DevId,
            "hardware_serial" => Key::HardwareSerial,
            "port" => Key::Port,
            "counter" => Key::Counter,
            "payload_raw" => Key::PayloadRaw,
            "payload_fields" => Key::PayloadFields,
            "metadata" => Key::Metadata,
            "deviceInfo" => Key::DeviceInfo,
            "fPort" => Key::FPortCs,
            "fCnt" => Key::FCntCs,
            "object" => Key::Object,
            "time" => Key::Time,
            "data" => Key::Data,
            "recType" => Key::RecType,
            "id" => Key::Id,
            "_id" => Key::Oid,
            "objs" => Key::Objs,
            "meta" => Key::Meta,
            "lorafield" => Key::Stamp,
            "f_port" => Key::FPort,
            "f_cnt" => Key::FCnt,
            "frm_payload" => Key::FrmPayload,
            "decoded_payload" => Key::DecodedPayload,
            "decoded_payload_warnings" => Key::DecodedPayloadWarnings,
            "normalized_payload" => Key::NormalizedPayload,
            "version_ids" => Key::VersionIds,
            other => match OTHER_MESSAGES.iter().find(|m| **m == other) {
                Some(m) => Key::OtherMessage(m),
                None => Key::Other,
            },
        })
    }
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(KeyVisitor)
    }
}

struct EnvelopeSeed<'t> {
    text: &'t str,
    mode: Mode,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'de> {
    type Value = (Scanned, Option<Scanned>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

/// The object and, in the fast mode, the envelope of its `data` when that is an object.
impl<'de> Visitor<'de> for EnvelopeSeed<'de> {
    type Value = (Scanned, Option<Scanned>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let text = self.text;
        let mut s = Scanned::default();
        let mut nested = None;
        while let Some(key) = map.next_key::<Key>()? {
            let raw = |map: &mut A| -> Result<Member, A::Error> {
                let v: &'de RawValue = map.next_value()?;
                Ok(Member {
                    span: span_of(text, v),
                })
            };
            let member = match key {
                Key::UplinkMessage => {
                    let u = map.next_value_seed(UplinkSeed { text })?;
                    s.last_end = u.last_end.and_then(|e| close_after(text, e)).map(|c| c + 1);
                    s.uplink_message = Some(u);
                    continue;
                }
                Key::Data if self.mode == Mode::Fast => {
                    match map.next_value_seed(DataSeed { text })? {
                        Some(DataValue::Object(env)) => {
                            s.slow |= env.close.is_none();
                            s.last_end = env.close.map(|c| c + 1);
                            s.data = Some(Data::Object);
                            nested = Some(env);
                        }
                        Some(DataValue::Raw(m)) => {
                            s.last_end = Some(m.span.end);
                            s.data = Some(Data::Raw(m));
                        }
                        None => {
                            s.slow = true;
                            s.last_end = None;
                        }
                    }
                    continue;
                }
                Key::Data => {
                    let m = raw(&mut map)?;
                    s.last_end = Some(m.span.end);
                    s.data = Some(Data::Raw(m));
                    continue;
                }
                _ => raw(&mut map)?,
            };
            s.last_end = Some(member.span.end);
            let slot = match key {
                Key::EndDeviceIds => &mut s.end_device_ids,
                Key::ReceivedAt => &mut s.received_at,
                Key::OtherMessage(name) => {
                    s.other_message = Some(name);
                    continue;
                }
                Key::AppId => &mut s.app_id,
                Key::DevId => &mut s.dev_id,
                Key::HardwareSerial => &mut s.hardware_serial,
                Key::Port => &mut s.port,
                Key::Counter => &mut s.counter,
                Key::PayloadRaw => &mut s.payload_raw,
                Key::PayloadFields => &mut s.payload_fields,
                Key::Metadata => &mut s.metadata,
                Key::DeviceInfo => &mut s.device_info,
                Key::FPortCs => &mut s.f_port,
                Key::FCntCs => &mut s.f_cnt,
                Key::Object => &mut s.object,
                Key::Time => &mut s.time,
                Key::RecType => &mut s.rec_type,
                Key::Id => &mut s.id,
                Key::Oid => &mut s.oid,
                Key::Objs => &mut s.objs,
                Key::Meta => &mut s.meta,
                Key::Stamp => &mut s.stamp,
                _ => continue,
            };
            *slot = Some(member);
        }
        s.close = s.last_end.and_then(|e| close_after(text, e));
        Ok((s, nested))
    }
}

struct UplinkSeed<'t> {
    text: &'t str,
}

impl<'de> DeserializeSeed<'de> for UplinkSeed<'de> {
    type Value = UplinkMessage;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<UplinkMessage, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UplinkSeed<'de> {
    type Value = UplinkMessage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an uplink_message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UplinkMessage, A::Error> {
        let mut u = UplinkMessage::default();
        while let Some(key) = map.next_key::<Key>()? {
            let v: &'de RawValue = map.next_value()?;
            let member = Member {
                span: span_of(self.text, v),
            };
            u.last_end = Some(member.span.end);
            let slot = match key {
                Key::FPort => &mut u.f_port,
                Key::FCnt => &mut u.f_cnt,
                Key::FrmPayload => &mut u.frm_payload,
                Key::DecodedPayload => &mut u.decoded_payload,
                Key::DecodedPayloadWarnings => &mut u.decoded_payload_warnings,
                Key::NormalizedPayload => &mut u.normalized_payload,
                Key::VersionIds => &mut u.version_ids,
                Key::ReceivedAt => &mut u.received_at,
                _ => continue,
            };
            *slot = Some(member);
        }
        Ok(u)
    }
}

struct DataSeed<'t> {
    text: &'t str,
}

impl<'de> DeserializeSeed<'de> for DataSeed<'de> {
    type Value = Option<DataValue>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<DataValue>, D::Error> {
        d.deserialize_any(self)
    }
}

/// `None`: a value whose span is not known here (a string with escapes, or another type);
/// the slow path reads it whole.
impl<'de> Visitor<'de> for DataSeed<'de> {
    type Value = Option<DataValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a share's envelope object or a base64 string")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<DataValue>, A::Error> {
        let (env, _) = EnvelopeSeed {
            text: self.text,
            mode: Mode::Nested,
        }
        .visit_map(map)?;
        Ok(Some(DataValue::Object(env)))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Option<DataValue>, E> {
        // Borrowed means no escapes: the quotes sit right around it.
        let start = offset(self.text, v) - 1;
        Ok(Some(DataValue::Raw(Member {
            span: start..start + v.len() + 2,
        })))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<DataValue>, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<DataValue>, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<DataValue>, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<DataValue>, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<DataValue>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<DataValue>, E> {
        Ok(None)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Option<DataValue>, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}
