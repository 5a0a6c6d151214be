//! Reading the members of an uplink, whatever its shape.

use std::borrow::Cow;
use std::ops::Range;

use serde::Deserialize;

use super::{RecordId, Shape};
use crate::scan::{Data, Member, Scanned};

/// always copies).
/// A string member's value, borrowed when it has no escapes (serde's `Cow<str>` on its own
pub(super) fn string<'r>(record: &'r str, m: &Member) -> Result<Cow<'r, str>, serde_json::Error> {
    let text = m.text(record);
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains(['\\', '"']) => Ok(Cow::Borrowed(inner)),
        _ => serde_json::from_str::<String>(text).map(Cow::Owned),
    }
}

/// A string member that must be a string when present (or null): its error names it.
pub(super) fn str_member<'r>(
    record: &'r str,
    m: Option<&Member>,
    name: &str,
) -> Result<Option<Cow<'r, str>>, String> {
    match m {
        Some(m) if m.text(record) != "null" => string(record, m)
            .map(Some)
            .map_err(|_| format!("{name}: expected a string: {}", clip(m.text(record)))),
        _ => Ok(None),
    }
}

pub(super) fn clip(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The span of member `key` whose value is `value`, with the comma that separates it, for
/// removing it; `None` when the text before the value is not `"key":` (an escaped key).
pub(super) fn member_span(record: &str, value: &Member, key: &str) -> Option<Range<usize>> {
    let before = record[..value.span.start].trim_end();
    let before = before.strip_suffix(':')?.trim_end();
    let before = before
        .strip_suffix('"')?
        .strip_suffix(key)?
        .strip_suffix('"')?;
    let key_start = before.len();
    let lead = before.trim_end();
    if let Some(l) = lead.strip_suffix(',') {
        return Some(l.len()..value.span.end);
    }
    // The first member: take the comma after it instead.
    let rest = &record[value.span.end..];
    let skip = rest.len() - rest.trim_start().len();
    rest.trim_start()
        .starts_with(',')
        .then(|| key_start..value.span.end + skip + 1)
}

/// The uplink's receive time (see [`UplinkIds::received_at`]).
pub(super) fn received_at<'r>(
    record: &'r str,
    env: &Scanned,
    shape: Shape,
) -> Option<Cow<'r, str>> {
    #[derive(Deserialize)]
    struct Metadata<'a> {
        #[serde(borrow, default)]
        time: Option<Text<'a>>,
    }
    let m = match shape {
        Shape::TtsV3 => env
            .uplink_message
            .as_ref()
            .and_then(|u| u.received_at.as_ref())
            .or(env.received_at.as_ref()),
        Shape::TtnV2 => {
            let meta = env.metadata.as_ref()?;
            let m: Metadata<'r> = serde_json::from_str(meta.text(record)).ok()?;
            return text(m.time);
        }
        Shape::ChirpStackV4 => env.time.as_ref(),
    };
    string(record, m?).ok()
}

pub(super) fn share_id<'r>(record: &'r str, share: Option<&Scanned>) -> RecordId<'r> {
    let Some(share) = share else {
        return RecordId::None;
    };
    if let Some(id) = share.id.as_ref().and_then(|m| string(record, m).ok()) {
        return RecordId::Share(id);
    }
    #[derive(Deserialize)]
    struct Oid<'a> {
        #[serde(borrow, rename = "$oid")]
        oid: Cow<'a, str>,
    }
    match &share.oid {
        Some(m) => string(record, m)
            .or_else(|_| serde_json::from_str::<Oid<'_>>(m.text(record)).map(|o| o.oid))
            .map_or(RecordId::None, RecordId::Share),
        None => RecordId::None,
    }
}

pub(super) fn shape_of(env: &Scanned) -> Option<Shape> {
    if env.uplink_message.is_some() {
        Some(Shape::TtsV3)
    } else if env.payload_raw.is_some() || env.app_id.is_some() && env.port.is_some() {
        Some(Shape::TtnV2)
    } else if env.device_info.is_some() && (env.data.is_some() || env.f_port.is_some()) {
        Some(Shape::ChirpStackV4)
    } else {
        None
    }
}

/// A TTS message other than an uplink, a TTN v2 or ChirpStack event without a payload.
pub(super) fn is_known_non_uplink(env: &Scanned) -> bool {
    env.end_device_ids.is_some() || env.app_id.is_some() || env.device_info.is_some()
}

/// The members of an uplink that lorafield reads, whatever its shape.
#[derive(Debug, Default)]
pub(super) struct Fields<'r> {
    pub(super) f_port: u64,
    pub(super) f_cnt: Option<u64>,
    pub(super) payload: Option<Member>,
    pub(super) decoded: Option<Member>,
    pub(super) warnings: Option<Member>,
    pub(super) application_id: Option<Cow<'r, str>>,
    pub(super) meta_device_id: Option<Cow<'r, str>>,
    pub(super) dev_eui: Option<Cow<'r, str>>,
    pub(super) brand_id: Option<Cow<'r, str>>,
    pub(super) model_id: Option<Cow<'r, str>>,
    pub(super) firmware_version: Option<Cow<'r, str>>,
    pub(super) band_id: Option<Cow<'r, str>>,
    /// TTS v3's `uplink_message.normalized_payload`.
    pub(super) normalized: Option<Member>,
}

/// A string borrowed from the record when it has no escapes. (serde's `Cow<str>` inside an
/// `Option` always copies, even with `#[serde(borrow)]`.)
#[derive(Debug)]
pub(super) struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Text<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

pub(super) fn text(t: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    t.map(|t| t.0)
}

#[derive(Deserialize)]
pub(super) struct EndDeviceIds<'a> {
    #[serde(borrow, default)]
    device_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    dev_eui: Option<Text<'a>>,
    #[serde(borrow, default)]
    application_ids: Option<ApplicationIds<'a>>,
}

#[derive(Deserialize)]
pub(super) struct ApplicationIds<'a> {
    #[serde(borrow, default)]
    application_id: Option<Text<'a>>,
}

#[derive(Deserialize)]
pub(super) struct VersionIds<'a> {
    #[serde(borrow, default)]
    brand_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    model_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    firmware_version: Option<Text<'a>>,
    #[serde(borrow, default)]
    band_id: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeviceInfo<'a> {
    #[serde(borrow, default)]
    application_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    application_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    device_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    dev_eui: Option<Text<'a>>,
}

/// A member that must be `T` when present: its error names the member.
pub(super) fn member<'r, T: Deserialize<'r>>(
    record: &'r str,
    m: Option<&Member>,
    name: &str,
) -> Result<Option<T>, String> {
    match m {
        None => Ok(None),
        Some(m) if m.text(record) == "null" => Ok(None),
        Some(m) => serde_json::from_str(m.text(record)).map(Some).map_err(|e| {
            // The position serde_json gives is within the member's own text: noise here.
            let e = e.to_string();
            let e = e.split(" at line ").next().unwrap_or_default();
            format!("{name}: {e}: {}", clip(m.text(record)))
        }),
    }
}

impl<'r> Fields<'r> {
    pub(super) fn read(record: &'r str, env: &Scanned, shape: Shape) -> Result<Self, String> {
        let mut f = Fields::default();
        match shape {
            Shape::TtsV3 => {
                let Some(u) = &env.uplink_message else {
                    return Err("no uplink_message".into());
                };
                if let Some(ids) = member::<EndDeviceIds<'r>>(
                    record,
                    env.end_device_ids.as_ref(),
                    "end_device_ids",
                )? {
                    f.meta_device_id = text(ids.device_id);
                    f.dev_eui = text(ids.dev_eui);
                    f.application_id = text(ids.application_ids.and_then(|a| a.application_id));
                }
                f.f_port = member(record, u.f_port.as_ref(), "uplink_message.f_port")?.unwrap_or(0);
                f.f_cnt = member(record, u.f_cnt.as_ref(), "uplink_message.f_cnt")?;
                if let Some(v) = member::<VersionIds<'r>>(
                    record,
                    u.version_ids.as_ref(),
                    "uplink_message.version_ids",
                )? {
                    f.brand_id = text(v.brand_id);
                    f.model_id = text(v.model_id);
                    f.firmware_version = text(v.firmware_version);
                    f.band_id = text(v.band_id);
                }
                f.payload = u.frm_payload.clone();
                f.normalized = u.normalized_payload.clone();
                f.decoded = u.decoded_payload.clone();
                f.warnings = u.decoded_payload_warnings.clone();
            }
            Shape::TtnV2 => {
                f.application_id = str_member(record, env.app_id.as_ref(), "app_id")?;
                f.meta_device_id = str_member(record, env.dev_id.as_ref(), "dev_id")?;
                f.dev_eui = str_member(record, env.hardware_serial.as_ref(), "hardware_serial")?;
                f.f_port = member(record, env.port.as_ref(), "port")?.unwrap_or(0);
                f.f_cnt = member(record, env.counter.as_ref(), "counter")?;
                f.payload = env.payload_raw.clone();
                f.decoded = env.payload_fields.clone();
            }
            Shape::ChirpStackV4 => {
                if let Some(d) =
                    member::<DeviceInfo<'r>>(record, env.device_info.as_ref(), "deviceInfo")?
                {
                    f.application_id = text(d.application_name.or(d.application_id));
                    f.meta_device_id = text(d.device_name);
                    f.dev_eui = text(d.dev_eui);
                }
                f.f_port = member(record, env.f_port.as_ref(), "fPort")?.unwrap_or(0);
                f.f_cnt = member(record, env.f_cnt.as_ref(), "fCnt")?;
                f.payload = match &env.data {
                    Some(Data::Raw(m)) => Some(m.clone()),
                    _ => None,
                };
                f.decoded = env.object.clone();
            }
        }
        if f.payload.as_ref().is_some_and(|m| m.text(record) == "null") {
            f.payload = None;
        }
        Ok(f)
    }
}
