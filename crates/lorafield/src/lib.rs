//! LoRaWAN payload decoding: pick a codec by id, decode an uplink's bytes, get fields, serde or
//! The Things Stack's JSON.
//!
//! ```
//! use lorafield::{FieldBuf, Options, Registry};
//!
//! let registry = Registry::builtin();
//! let codec = registry.build("cayenne-lpp", &Options::default().profile("tts")).unwrap();
//! let mut buf = FieldBuf::<{ lorafield::MAX_EVENTS }>::new();
//! let payload = [0x03, 0x67, 0x00, 0xf8, 0x04, 0x02, 0x85, 0xfc];
//! let decoded = lorafield::decode(&*codec, 3, &payload, &mut buf);
//! let mut json = Vec::new();
//! decoded.write_json(&mut json);
//! assert_eq!(json, br#"{"data":{"analog_in_4":-312.36,"temperature_3":24.8}}"#);
//! // One value by its key, nested ones by their path (`gps_1.latitude`): no allocation.
//! assert_eq!(decoded.get("temperature_3").and_then(|v| v.as_f64()), Some(24.8));
//! ```
//!
//! The [`FieldBuf`] borrows the payload: to decode many, make a buffer per payload, or go
//! straight to JSON with [`decode_json`] and one reused [`JsonWriter`] (the [`FieldBuf`] docs
//! show both loops).
//!
//! ```
//! # #[cfg(feature = "sodaq")] {
//! use lorafield::{FieldBuf, Node, Options, Registry};
//!
//! let codec = Registry::builtin().build("sodaq-tracker", &Options::default().model("legacy")).unwrap();
//! let hex = "bf41835976193a540b1f824b0b03f1ff0f008c05840300c70a1fc0320a03ee";
//! let payload: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
//! let mut buf = FieldBuf::<{ lorafield::MAX_EVENTS }>::new();
//! let decoded = lorafield::decode(&*codec, 1, &payload, &mut buf);
//! assert_eq!(decoded.get("latitude").and_then(|v| v.as_f64()), Some(52.0836154));
//! assert_eq!(decoded.get("previous_fixes.0.seconds_ago").and_then(|v| v.as_f64()), Some(900.0));
//! assert!(matches!(decoded.get("previous_fixes"), Some(Node::Array(fixes)) if fixes.len() == 1));
//! # }
//! ```
//!
//! Codecs live in their own crates behind cargo features (`cayenne-lpp`, ...) and implement
//! [`Codec`]; the [`Registry`] maps ids to them and builds them from [`Options`] such as a
//! profile or a device model. A third party registers its own codec with
//! [`Registry::register`]. Decoding pushes fields into a [`FieldBuf`] without allocating; the
//! result is rendered by the core's JSON writer or serialized with serde (feature `serde`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod registry;
mod select;

pub use lorafield_core::json::{JsonOutcome, JsonWriter};
pub use lorafield_core::{
    Codec, Container, DecodeError, Decoded, ErrorKind, Event, Field, FieldBuf, GenericCodec,
    MAX_PAYLOAD, Members, Node, Sink, Uplink, Value,
};
#[cfg(feature = "js")]
pub use registry::js_options;
pub use registry::{
    Builtin, CodecInfo, OptionSpec, Options, Registry, RegistryError, Setting, SettingSpec,
};
#[cfg(feature = "js")]
pub use select::device::{DeviceCodecs, DeviceError, Prefer, native_for};
pub use select::{Choice, Environment, Meta, Section, Selected, Selection, SelectionError};

/// Run-time JavaScript codecs and The Things Network's device repository (feature `js`).
#[cfg(feature = "js")]
pub use lorafield_codec_js as js;

/// The core crate, for codec authors.
pub use lorafield_core as core;

/// Events enough for any frame of the built-in codecs (a full 242-byte LoRaWAN payload; the one
/// exception is Milesight's VS121 people counter with more than 169 regions): the `FieldBuf`
/// size to decode into, and the limit [`JsonWriter`] renders up to, so that both paths stop
/// with `sink_full` at the same field on a frame with more.
pub const MAX_EVENTS: usize = lorafield_core::MAX_EVENTS;

/// Decodes one uplink with `codec` into `buf` (cleared first). `codec` is the registry's
/// `&dyn Codec` (one virtual call a frame), a [`Builtin`] (a `match` inlined here) or a codec
/// type.
///
/// Port 0 carries MAC commands: it is refused for every codec with an
/// [`ErrorKind::PortZero`] error and no data. A payload longer than a LoRaWAN uplink carries
/// ([`MAX_PAYLOAD`]) is decoded with an [`ErrorKind::PayloadTooLong`] warning first.
#[inline(always)]
pub fn decode<'s, 'a, const N: usize, C: Codec + ?Sized>(
    codec: &C,
    f_port: u8,
    payload: &'a [u8],
    buf: &'s mut FieldBuf<'a, N>,
) -> Decoded<'s, 'a> {
    if f_port == 0 || payload.len() > MAX_PAYLOAD {
        return decode_unusual(codec, f_port, payload, buf);
    }
    buf.decode_payload(codec, f_port, payload)
}

/// [`decode`] on port 0 or of a payload over [`MAX_PAYLOAD`] bytes: off the inlined path.
#[cold]
#[inline(never)]
fn decode_unusual<'s, 'a, const N: usize, C: Codec + ?Sized>(
    codec: &C,
    f_port: u8,
    payload: &'a [u8],
    buf: &'s mut FieldBuf<'a, N>,
) -> Decoded<'s, 'a> {
    if f_port == 0 {
        buf.clear();
        return Decoded::rejected(DecodeError::new(0, ErrorKind::PortZero));
    }
    buf.decode(&TooLong(codec), Uplink::new(f_port, payload))
}

/// Decodes one uplink straight to its JSON result, appended to `out`: the fast path to JSON
/// (fields are rendered as the codec reads them, not stored first). Reuse the writer: steady
/// state allocates nothing.
///
/// Port 0 is refused and a payload over [`MAX_PAYLOAD`] bytes warned about as in [`decode`].
///
/// ```
/// let codec = lorafield::Registry::builtin()
///     .build("cayenne-lpp", &lorafield::Options::default())
///     .unwrap();
/// let mut json = lorafield::JsonWriter::new();
/// let mut out = Vec::new();
/// let outcome = lorafield::decode_json(&*codec, 3, &[3, 0x67, 0, 0xf8], &mut json, &mut out);
/// assert_eq!(out, br#"{"data":{"temperature_3":24.8}}"#);
/// assert_eq!(&out[outcome.data.unwrap()], br#"{"temperature_3":24.8}"#);
/// ```
#[inline(always)]
pub fn decode_json<C: Codec + ?Sized>(
    codec: &C,
    f_port: u8,
    payload: &[u8],
    json: &mut JsonWriter,
    out: &mut Vec<u8>,
) -> JsonOutcome {
    decode_uplink_json(codec, Uplink::new(f_port, payload), json, out)
}

/// [`decode_json`] for an uplink with what is known of its record: its receive time and
/// seed ([`Uplink::received_at`], [`Uplink::with_seed`]), which scripts read.
#[inline(always)]
pub fn decode_uplink_json<C: Codec + ?Sized>(
    codec: &C,
    uplink: Uplink<'_>,
    json: &mut JsonWriter,
    out: &mut Vec<u8>,
) -> JsonOutcome {
    if uplink.f_port == 0 || uplink.payload.len() > MAX_PAYLOAD {
        return decode_json_unusual(codec, uplink, json, out);
    }
    codec.write_json(json, uplink, out)
}

/// [`decode_uplink_json`] on port 0 or of a payload over [`MAX_PAYLOAD`] bytes.
#[cold]
#[inline(never)]
fn decode_json_unusual<C: Codec + ?Sized>(
    codec: &C,
    uplink: Uplink<'_>,
    json: &mut JsonWriter,
    out: &mut Vec<u8>,
) -> JsonOutcome {
    if uplink.f_port == 0 {
        return json.reject(DecodeError::new(0, ErrorKind::PortZero), out);
    }
    json.decode(&TooLong(codec), uplink, out)
}

/// A codec decoding a payload longer than [`MAX_PAYLOAD`]: the inner codec's result after a
/// [`ErrorKind::PayloadTooLong`] warning. Only such payloads take this path; the others go
/// to the codec as they are.
struct TooLong<'c, C: ?Sized>(&'c C);

impl<C: ?Sized> TooLong<'_, C> {
    fn warn<'a>(uplink: Uplink<'a>, sink: &mut (impl Sink<'a> + ?Sized)) {
        let length = u32::try_from(uplink.payload.len()).unwrap_or(u32::MAX);
        // The first warning of the frame: the sink has room for it.
        let _ = sink.warning(DecodeError::new(
            MAX_PAYLOAD,
            ErrorKind::PayloadTooLong { length },
        ));
    }
}

impl<C: Codec + ?Sized> Codec for TooLong<'_, C> {
    fn id(&self) -> &'static str {
        self.0.id()
    }

    fn decode<'a>(&self, uplink: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError> {
        Self::warn(uplink, sink);
        self.0.decode(uplink, sink)
    }

    fn decode_store<'a>(
        &self,
        uplink: Uplink<'a>,
        store: &mut lorafield_core::FieldStore<'a, '_>,
    ) -> Result<(), DecodeError> {
        Self::warn(uplink, store);
        self.0.decode_store(uplink, store)
    }

    fn decode_json<'a>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut lorafield_core::json::JsonSink<'_>,
    ) -> Result<(), DecodeError> {
        Self::warn(uplink, sink);
        self.0.decode_json(uplink, sink)
    }

    fn keeps_partial(&self) -> bool {
        self.0.keeps_partial()
    }
}

/// Decodes one uplink and appends its JSON result to `out`, with a writer of its own.
/// Convenient for one-off frames; to decode many, reuse a [`JsonWriter`] with
/// [`decode_json`].
pub fn decode_to_json(codec: &dyn Codec, f_port: u8, payload: &[u8], out: &mut Vec<u8>) {
    decode_json(codec, f_port, payload, &mut JsonWriter::new(), out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_is_refused_for_every_codec() {
        let registry = Registry::builtin();
        for info in registry.codecs() {
            // Every value of every option, required ones included.
            let mut all = vec![Options::default()];
            for o in info.options {
                for v in o.values {
                    let mut opts = Options::default();
                    match o.name {
                        "model" => opts.model = Some((*v).into()),
                        _ => opts.profile = Some((*v).into()),
                    }
                    all.push(opts);
                }
            }
            for options in all {
                let Ok(codec) = registry.build(info.id, &options) else {
                    assert!(
                        info.options.iter().any(|o| o.default.is_none())
                            || info.settings.iter().any(|s| s.required),
                        "{}",
                        info.id
                    );
                    continue;
                };
                let mut out = Vec::new();
                decode_to_json(&*codec, 0, &[1, 103, 0, 1], &mut out);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    r#"{"errors":[{"kind":"port_zero","message":"port 0 carries MAC commands, not application data","offset":0}]}"#
                );
            }
        }
    }

    #[cfg(feature = "js")]
    #[test]
    fn port_zero_is_refused_for_scripts() {
        let dir = std::env::temp_dir().join(format!("lorafield-port0-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("codec.js");
        std::fs::write(
            &script,
            "function decodeUplink(i) { return {data: {port: i.fPort}}; }",
        )
        .unwrap();
        let options =
            Options::default().setting("script", Setting::Text(script.display().to_string()));
        let codec = Registry::builtin().build("js", &options).unwrap();
        let mut out = Vec::new();
        decode_to_json(&*codec, 0, &[1], &mut out);
        assert!(out.starts_with(br#"{"errors":[{"kind":"port_zero""#));
        out.clear();
        decode_to_json(&*codec, 7, &[1], &mut out);
        assert_eq!(out, br#"{"data":{"port":7}}"#);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_fast_path_prints_what_the_fieldbuf_path_prints() {
        let registry = Registry::builtin();
        let frames: [&[u8]; 5] = [
            &[
                1, 136, 6, 118, 95, 242, 150, 10, 0, 3, 232, 1, 103, 0, 100, 9,
            ],
            &[5, 0x67, 1, 0x10, 7, 0x77, 0xaa],
            &[],
            &[2, 103, 0, 1, 1, 103, 0, 2, 2, 103, 0, 3],
            &[1, 135, 255, 128, 0, 1, 113, 0, 1, 0, 2, 0, 3],
        ];
        for profile in ["tts", "extended"] {
            let codec = registry
                .build("cayenne-lpp", &Options::default().profile(profile))
                .unwrap();
            let mut json = JsonWriter::new();
            for port in [0, 1] {
                for frame in frames {
                    let mut fast = Vec::new();
                    let outcome = decode_json(&*codec, port, frame, &mut json, &mut fast);
                    let mut buf = FieldBuf::<MAX_EVENTS>::new();
                    let mut slow = Vec::new();
                    let decoded = decode(&*codec, port, frame, &mut buf);
                    assert_eq!(outcome.has_errors, decoded.has_errors());
                    assert_eq!(outcome.has_warnings, !decoded.warnings.is_empty());
                    decoded.write_json(&mut slow);
                    assert_eq!(
                        String::from_utf8(fast).unwrap(),
                        String::from_utf8(slow).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn a_payload_longer_than_lorawan_carries_decodes_with_a_warning() {
        let registry = Registry::builtin();
        // 61 LPP temperature records: 244 bytes.
        let long: Vec<u8> = (0..61u8).flat_map(|c| [c, 0x67, 0, 0xf8]).collect();
        assert_eq!(long.len(), 244);
        let warning = r#""warnings":[{"kind":"payload_too_long","length":244,"message":"payload of 244 bytes is longer than the 242 a LoRaWAN uplink carries","offset":242}]"#;
        for profile in ["tts", "extended"] {
            let codec = registry
                .build("cayenne-lpp", &Options::default().profile(profile))
                .unwrap();
            let mut json = JsonWriter::new();
            let mut fast = Vec::new();
            let outcome = decode_json(&*codec, 1, &long, &mut json, &mut fast);
            assert!(!outcome.has_errors && outcome.has_warnings);
            let fast = String::from_utf8(fast).unwrap();
            assert!(
                fast.starts_with(r#"{"data":{"temperature_0":24.8,"#),
                "{fast}"
            );
            assert!(fast.ends_with(&format!("}},{warning}}}")), "{fast}");
            let mut buf = FieldBuf::<MAX_EVENTS>::new();
            let decoded = decode(&*codec, 1, &long, &mut buf);
            assert_eq!(decoded.data.map(<[_]>::len), Some(61));
            assert_eq!(decoded.warnings.len(), 1);
            let mut slow = Vec::new();
            decoded.write_json(&mut slow);
            assert_eq!(fast, String::from_utf8(slow).unwrap());

            // An error after the limit: the warning stays, rejected or not.
            let mut cut = long.clone();
            cut.push(0x01);
            let mut out = Vec::new();
            let outcome = decode_json(&*codec, 1, &cut, &mut json, &mut out);
            assert!(outcome.has_errors && outcome.has_warnings);
            let out = String::from_utf8(out).unwrap();
            assert!(
                out.contains(r#""kind":"payload_too_long","length":245"#),
                "{out}"
            );
            assert_eq!(
                out.starts_with(r#"{"data""#),
                profile == "extended",
                "{out}"
            );
        }
        // 242 bytes is within the limit.
        let codec = registry.build("cayenne-lpp", &Options::default()).unwrap();
        let mut out = Vec::new();
        decode_to_json(&*codec, 1, &long[..240], &mut out);
        assert!(!String::from_utf8(out).unwrap().contains("warnings"));
        let mut out = Vec::new();
        decode_to_json(&*codec, 1, &[0; MAX_PAYLOAD], &mut out);
        assert!(!String::from_utf8(out).unwrap().contains("warnings"));
        // Port 0 is refused before the length is looked at.
        let mut out = Vec::new();
        decode_to_json(&*codec, 0, &long, &mut out);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .starts_with(r#"{"errors":[{"kind":"port_zero""#)
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_gives_the_same_json() {
        let codec = Registry::builtin()
            .build("cayenne-lpp", &Options::default())
            .unwrap();
        let payload = [
            1, 136, 6, 118, 95, 242, 150, 10, 0, 3, 232, 1, 103, 0, 100, 9,
        ];
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let d = decode(&*codec, 1, &payload, &mut buf);
        let mut ours = Vec::new();
        d.write_json(&mut ours);
        assert_eq!(serde_json::to_vec(&d).unwrap(), ours);
    }
}
