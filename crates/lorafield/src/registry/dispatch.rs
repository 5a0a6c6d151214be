//! [`Builtin`]: the built-in codecs as one enum, so that a caller's decode loop dispatches by
//! a `match` the compiler inlines (one predictable branch a frame), not by a virtual call.

use lorafield_core::json::{JsonOutcome, JsonSink, JsonWriter};
use lorafield_core::{Codec, DecodeError, FieldCore, FieldStore, Ran, Sink, Uplink};

use super::Options;

/// A built-in codec, by value ([`super::Registry::build_builtin`]). It implements [`Codec`]
/// like the `Arc<dyn Codec>` that [`super::Registry::build`] gives, and decodes the same; given
/// to [`crate::decode`] or [`crate::decode_json`] by reference, each frame goes to the codec
/// through a `match` inlined into the caller instead of a virtual call. One variant per codec
/// feature compiled in.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Builtin {
    /// Cayenne LPP.
    #[cfg(feature = "cayenne-lpp")]
    CayenneLpp(lorafield_codec_lpp::CayenneLpp),
    /// The Sodaq trackers.
    #[cfg(feature = "sodaq")]
    Sodaq(lorafield_codec_sodaq::SodaqTracker),
    /// Elsys.
    #[cfg(feature = "elsys")]
    Elsys(lorafield_codec_elsys::Elsys),
    /// Milesight, one model.
    #[cfg(feature = "milesight")]
    Milesight(lorafield_codec_milesight::Milesight),
}

/// `$body` with `$c` bound to the codec inside `$self`, whichever it is.
macro_rules! each {
    ($self:expr, $c:ident => $body:expr) => {
        match *$self {
            #[cfg(feature = "cayenne-lpp")]
            Builtin::CayenneLpp(ref $c) => $body,
            #[cfg(feature = "sodaq")]
            Builtin::Sodaq(ref $c) => $body,
            #[cfg(feature = "elsys")]
            Builtin::Elsys(ref $c) => $body,
            #[cfg(feature = "milesight")]
            Builtin::Milesight(ref $c) => $body,
        }
    };
}

impl Builtin {
    /// The built-in codec `id` with checked `options` (the registry's), if `id` is built in.
    #[allow(unused_variables)] // with no codec feature, no arm reads them
    pub(super) fn make(id: &str, options: &Options) -> Option<Builtin> {
        match id {
            #[cfg(feature = "cayenne-lpp")]
            lorafield_codec_lpp::ID => {
                Some(Builtin::CayenneLpp(super::builtin::lpp::make(options)))
            }
            #[cfg(feature = "sodaq")]
            lorafield_codec_sodaq::ID => Some(Builtin::Sodaq(super::builtin::sodaq::make(options))),
            #[cfg(feature = "elsys")]
            lorafield_codec_elsys::ID => Some(Builtin::Elsys(super::builtin::elsys::make(options))),
            #[cfg(feature = "milesight")]
            lorafield_codec_milesight::ID => {
                Some(Builtin::Milesight(super::builtin::milesight::make(options)))
            }
            _ => None,
        }
    }
}

#[allow(unused_variables)] // with no codec feature, no arm reads them
impl Codec for Builtin {
    fn id(&self) -> &'static str {
        each!(self, c => c.id())
    }

    #[inline]
    fn decode<'a>(&self, uplink: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError> {
        each!(self, c => lorafield_core::GenericCodec::decode_generic(c, uplink, sink))
    }

    #[inline]
    fn decode_store<'a>(
        &self,
        uplink: Uplink<'a>,
        store: &mut FieldStore<'a, '_>,
    ) -> Result<(), DecodeError> {
        each!(self, c => lorafield_core::GenericCodec::decode_generic(c, uplink, store))
    }

    // Always: the `match` inlined into the caller's loop (with `#[inline]` alone it stayed out
    // of line, a call a frame: LPP's Builtin path 280.2 instructions a frame against 274.9).
    // Each arm the codec's own `decode_frame`, its clear and finish with it, rather than one
    // clear and finish around the `match` with four codecs' loops between: decode-only
    // (`benches/icount.sh`) LPP 258.0 to 246.8 instructions a frame and 18.05 to 16.8 µs for
    // the 1,000 frames, Elsys 457.1 to 451.4, Milesight 502.5 to 497.5. Sodaq's arm is written
    // out: called as `decode_frame`, its loop stayed out of line (435.9, against 424.4 before
    // and 419.6 written out; its concrete path 406.4).
    #[inline(always)]
    fn decode_frame<'a>(&self, f_port: u8, payload: &'a [u8], core: &mut FieldCore<'a>) -> Ran {
        // No closure in Sodaq's arm (one shared by every caller is not inlined into them).
        match *self {
            #[cfg(feature = "cayenne-lpp")]
            Builtin::CayenneLpp(ref c) => c.decode_frame(f_port, payload, core),
            #[cfg(feature = "sodaq")]
            Builtin::Sodaq(ref c) => {
                let mut store = core.start();
                let uplink = Uplink::new(f_port, payload);
                let result = lorafield_core::GenericCodec::decode_generic(c, uplink, &mut store);
                store.finish(result, c)
            }
            #[cfg(feature = "elsys")]
            Builtin::Elsys(ref c) => c.decode_frame(f_port, payload, core),
            #[cfg(feature = "milesight")]
            Builtin::Milesight(ref c) => c.decode_frame(f_port, payload, core),
        }
    }

    #[inline]
    fn decode_json<'a>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut JsonSink<'_>,
    ) -> Result<(), DecodeError> {
        each!(self, c => lorafield_core::GenericCodec::decode_generic(c, uplink, sink))
    }

    // Each arm the writer's decode monomorphised for its codec: the `match` outside the frame's
    // loop, not inside it with four codecs' loops inlined into one function.
    #[inline]
    fn write_json(
        &self,
        json: &mut JsonWriter,
        uplink: Uplink<'_>,
        out: &mut Vec<u8>,
    ) -> JsonOutcome {
        each!(self, c => json.decode(c, uplink, out))
    }

    fn keeps_partial(&self) -> bool {
        each!(self, c => lorafield_core::GenericCodec::keeps_partial(c))
    }
}
