//! The codec contract.

use crate::{DecodeError, FieldCore, FieldStore, Ran, Sink};

/// The most application payload a LoRaWAN uplink carries: 242 bytes, at the fastest data
/// rates of the Regional Parameters (a MAC payload of at most 250 bytes, less the 7-byte frame
/// header and the port). Longer payloads come from elsewhere (a paste, a test); the facade decodes them with
/// an [`crate::ErrorKind::PayloadTooLong`] warning.
pub const MAX_PAYLOAD: usize = 242;

/// One uplink's application payload and the port it came on, and what is known of the record
/// it came in (for run-time codecs: native codecs read only the port and the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uplink<'a> {
    /// The LoRaWAN FPort (1-223 for applications; 0 is MAC commands).
    pub f_port: u8,
    /// The decrypted application payload (`frm_payload`).
    pub payload: &'a [u8],
    /// When the network received it, in milliseconds since the Unix epoch, if known: a
    /// script's `recvTime`, and its clock under a reproducible clock.
    pub received_ms: Option<i64>,
    /// A number that stands for the record (a hash of its key): what a run-time codec draws
    /// "at random" under a reproducible clock is seeded from it, so that decoding the same
    /// record again gives the same result. 0 when unknown.
    pub seed: u64,
}

impl<'a> Uplink<'a> {
    /// An uplink on `f_port` carrying `payload`.
    pub const fn new(f_port: u8, payload: &'a [u8]) -> Self {
        Uplink {
            f_port,
            payload,
            received_ms: None,
            seed: 0,
        }
    }

    /// This uplink, received at `ms` milliseconds since the Unix epoch.
    pub const fn received_at(mut self, ms: i64) -> Self {
        self.received_ms = Some(ms);
        self
    }

    /// This uplink with the record's seed (see [`Uplink::seed`]).
    pub const fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// A payload decoder.
///
/// A codec is a pure function of the uplink and its own configuration (profile, model): it reads
/// no clock and no time zone, keeps no global state, allocates nothing and never panics. It pushes
/// fields into the sink as it reads them and stops at the first record it cannot read, returning
/// a [`DecodeError`] whose offset is that record's first byte.
pub trait Codec: Send + Sync {
    /// The codec's id (`cayenne-lpp`).
    fn id(&self) -> &'static str;

    /// Decodes `uplink` into `sink`.
    fn decode<'a>(&self, uplink: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError>;

    /// Decodes `uplink` into the core's own store ([`crate::FieldBuf`] behind
    /// [`crate::FieldBuf::decode`]). The default calls [`Codec::decode`]; a codec with a generic
    /// decoder overrides it with a call monomorphised for [`FieldStore`], so that pushing a
    /// field is an inlined store rather than a virtual call.
    fn decode_store<'a>(
        &self,
        uplink: Uplink<'a>,
        store: &mut FieldStore<'a, '_>,
    ) -> Result<(), DecodeError> {
        self.decode(uplink, store)
    }

    /// [`Codec::decode_store`] of `Uplink::new(f_port, payload)` (no receive time, seed 0) into
    /// a [`crate::FieldBuf`] with the default text area, given as its state, text area and
    /// events (`core`: one fat pointer), with the buffer cleared before and finished after ([`FieldCore::run`]): what
    /// [`crate::FieldBuf::decode_payload`] calls. The port, the payload and the buffer are
    /// passed in registers and the outcome comes back in registers ([`Ran`]), so that a call
    /// through `dyn Codec` builds nothing in memory for each frame. The default runs
    /// [`Codec::decode_store`]; a codec with a generic decoder overrides it as it does
    /// [`Codec::decode_store`].
    #[inline]
    fn decode_frame<'a>(&self, f_port: u8, payload: &'a [u8], core: &mut FieldCore<'a>) -> Ran {
        core.run(self, |store| {
            self.decode_store(Uplink::new(f_port, payload), store)
        })
    }

    /// Decodes `uplink` into the JSON writer's sink ([`crate::json::JsonWriter::decode`]). The
    /// default calls [`Codec::decode`]; a codec with a generic decoder overrides it as it does
    /// [`Codec::decode_store`].
    #[cfg(feature = "alloc")]
    fn decode_json<'a>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut crate::json::JsonSink<'_>,
    ) -> Result<(), DecodeError> {
        self.decode(uplink, sink)
    }

    /// Decodes `uplink` with `json` ([`crate::json::JsonWriter::decode`]), its result appended
    /// to `out`: the whole frame in one call. Through `dyn Codec` this is the one virtual call
    /// a frame, into the writer's decode monomorphised for the codec, so that the writer's
    /// sink is a local of the function the codec's loop is inlined into (called through
    /// [`Codec::decode_json`] instead, the sink is behind a pointer the codec receives, and
    /// every field reloads the writer's state through it). Implementations need not override
    /// it; an enum of codecs dispatches it to each codec's own.
    #[cfg(feature = "alloc")]
    #[inline]
    fn write_json(
        &self,
        json: &mut crate::json::JsonWriter,
        uplink: Uplink<'_>,
        out: &mut alloc::vec::Vec<u8>,
    ) -> crate::json::JsonOutcome {
        json.decode(self, uplink, out)
    }

    /// Whether the fields decoded before an error are kept (partial decode). The default is
    /// yes; a profile that mimics a network server which drops them says no.
    fn keeps_partial(&self) -> bool {
        true
    }

    /// For a run-time codec: the script it runs, as `(name, the first 16 hex digits of the
    /// sha256 of its text)`, which decode stamps print. `None` for native codecs.
    fn script(&self) -> Option<(&str, &str)> {
        None
    }

    /// The codec as [`core::any::Any`], for callers that need its own API beyond decoding
    /// uplinks (a script codec's downlinks). `None` by default.
    fn as_any(&self) -> Option<&dyn core::any::Any> {
        None
    }
}

/// A codec written once, generic over the sink: [`Codec`] follows from it, with every path (a
/// `dyn Sink`, the [`FieldStore`] of [`crate::FieldBuf::decode`], the JSON writer's sink)
/// monomorphised, so that pushing a field is an inlined store rather than a virtual call. The
/// built-in codecs are written this way; implement [`Codec`] directly only for a decoder that
/// cannot be generic.
///
/// ```
/// use lorafield_core::{DecodeError, Field, FieldBuf, GenericCodec, Sink, Uplink, Value};
///
/// /// Every byte a percentage on its own channel.
/// struct Percent;
///
/// impl GenericCodec for Percent {
///     const ID: &'static str = "percent";
///
///     fn decode_generic<'a, S: Sink<'a> + ?Sized>(
///         &self,
///         uplink: Uplink<'a>,
///         sink: &mut S,
///     ) -> Result<(), DecodeError> {
///         for (i, &b) in uplink.payload.iter().enumerate() {
///             let field = Field::new("percentage", Some(i as u8), Value::U64(b.into()));
///             sink.field(field).map_err(|kind| DecodeError::new(i, kind))?;
///         }
///         Ok(())
///     }
/// }
///
/// let mut buf = FieldBuf::<4>::new();
/// assert_eq!(buf.decode(&Percent, Uplink::new(1, &[50])).data.map(<[_]>::len), Some(1));
/// ```
pub trait GenericCodec: Send + Sync {
    /// The codec's id (`cayenne-lpp`).
    const ID: &'static str;

    /// Decodes `uplink` into any sink (see [`Codec::decode`]).
    fn decode_generic<'a, S: Sink<'a> + ?Sized>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut S,
    ) -> Result<(), DecodeError>;

    /// See [`Codec::keeps_partial`].
    fn keeps_partial(&self) -> bool {
        true
    }
}

impl<T: GenericCodec> Codec for T {
    fn id(&self) -> &'static str {
        T::ID
    }

    fn decode<'a>(&self, uplink: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError> {
        self.decode_generic(uplink, sink)
    }

    #[inline]
    fn decode_store<'a>(
        &self,
        uplink: Uplink<'a>,
        store: &mut FieldStore<'a, '_>,
    ) -> Result<(), DecodeError> {
        self.decode_generic(uplink, store)
    }

    #[inline]
    fn decode_frame<'a>(&self, f_port: u8, payload: &'a [u8], core: &mut FieldCore<'a>) -> Ran {
        let mut store = core.start();
        let result = self.decode_generic(Uplink::new(f_port, payload), &mut store);
        store.finish(result, self)
    }

    // Always: inlined into the writer's decode monomorphised for the codec ([`Codec::write_json`]),
    // whose sink is then a local of the function the loop runs in (with `#[inline]` alone it
    // stayed a call, the sink behind a pointer).
    #[cfg(feature = "alloc")]
    #[inline(always)]
    fn decode_json<'a>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut crate::json::JsonSink<'_>,
    ) -> Result<(), DecodeError> {
        self.decode_generic(uplink, sink)
    }

    fn keeps_partial(&self) -> bool {
        GenericCodec::keeps_partial(self)
    }
}
