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

pub use lorafield_core::json::JsonWriter;
pub use lorafield_core::{
    Codec, Container, DecodeError, Decoded, ErrorKind, Event, Field, FieldBuf, Sink, Uplink, Value,
};
pub use registry::{CodecInfo, OptionSpec, Options, Registry, RegistryError};

/// The core crate, for codec authors.
pub use lorafield_core as core;

/// Events enough for any frame of the built-in codecs (a full 242-byte LoRaWAN payload).
pub const MAX_EVENTS: usize = 256;

/// Decodes one uplink with `codec` into `buf` (cleared first).
///
/// Port 0 carries MAC commands: it is refused for every codec with an
/// [`ErrorKind::PortZero`] error and no data.
pub fn decode<'s, 'a, const N: usize>(
    codec: &dyn Codec,
    f_port: u8,
    payload: &'a [u8],
    buf: &'s mut FieldBuf<'a, N>,
) -> Decoded<'s, 'a> {
    if f_port == 0 {
        buf.clear();
        return Decoded::rejected(DecodeError::new(0, ErrorKind::PortZero));
    }
    buf.decode(codec, Uplink::new(f_port, payload))
}

/// Decodes one uplink and appends its JSON result to `out`. Convenient for one-off frames; to
/// decode many, reuse a [`FieldBuf`] and a [`JsonWriter`] instead.
pub fn decode_to_json(codec: &dyn Codec, f_port: u8, payload: &[u8], out: &mut Vec<u8>) {
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    decode(codec, f_port, payload, &mut buf).write_json(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_is_refused_for_every_codec() {
        let registry = Registry::builtin();
        for info in registry.codecs() {
            let codec = registry.build(info.id, &Options::default()).unwrap();
            let mut out = Vec::new();
            decode_to_json(&*codec, 0, &[1, 103, 0, 1], &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                r#"{"errors":[{"kind":"port_zero","message":"port 0 carries MAC commands, not application data","offset":0}]}"#
            );
        }
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
