//! A fixed-capacity sink that never allocates.

use crate::{Codec, Container, DecodeError, Decoded, ErrorKind, Event, Field, Sink, Uplink, Value};

/// How deeply a [`FieldBuf`] lets containers nest.
pub const MAX_DEPTH: usize = 8;
/// How many warnings a [`FieldBuf`] keeps for one frame.
pub const MAX_WARNINGS: usize = 8;

const EMPTY: Event<'static> = Event::Field(Field::new("", None, Value::Null));

/// Everything of a [`FieldBuf`] but its events.
#[derive(Debug, Clone)]
struct State {
    len: usize,
    open: [u32; MAX_DEPTH],
    depth: usize,
    warnings: [DecodeError; MAX_WARNINGS],
    n_warnings: usize,
}

/// A sink that stores up to `N` events (fields and containers) in place, httparse-style: no
/// allocation, [`ErrorKind::SinkFull`] when full.
///
/// Create it once and reuse it: [`FieldBuf::decode`] clears it before each frame.
///
/// ```
/// use lorafield_core::{Field, FieldBuf, Sink, Value};
///
/// let mut buf = FieldBuf::<2>::new();
/// buf.field(Field::new("a", None, Value::U64(1))).unwrap();
/// buf.field(Field::new("b", None, Value::U64(2))).unwrap();
/// assert!(buf.field(Field::new("c", None, Value::U64(3))).is_err());
/// assert_eq!(buf.events().len(), 2);
/// ```
///
/// # Decoding many payloads
///
/// The buffer borrows the payload it decodes (a [`Value::Bytes`] or [`Value::Text`] points
/// into it), so a buffer lives no longer than its payloads. A payload read into a fresh `Vec`
/// each time round a loop is gone before a buffer made outside the loop; that loop does not
/// compile (`payload` does not live long enough):
///
/// ```compile_fail,E0597
/// # use lorafield_core::{DecodeError, FieldBuf, GenericCodec, Sink, Uplink};
/// # struct Raw;
/// # impl GenericCodec for Raw {
/// #     const ID: &'static str = "raw";
/// #     fn decode_generic<'a, S: Sink<'a> + ?Sized>(&self, _: Uplink<'a>, _: &mut S) -> Result<(), DecodeError> { Ok(()) }
/// # }
/// let mut buf = FieldBuf::<16>::new();
/// for line in ["0102", "0304"] {
///     let payload: Vec<u8> = line.bytes().collect(); // dropped at the end of each turn...
///     let decoded = buf.decode(&Raw, Uplink::new(1, &payload)); // ...but `buf` keeps it
///     assert!(decoded.error.is_none());
/// }
/// ```
///
/// What works: a buffer per payload (no allocation: making one fills `N` empty events), or
/// payloads that outlive one buffer, or, to JSON, no buffer at all: the JSON writer renders as
/// the codec reads and keeps nothing borrowed, so one writer serves every payload.
///
/// ```
/// use lorafield_core::json::JsonWriter;
/// use lorafield_core::{DecodeError, Field, FieldBuf, GenericCodec, Sink, Uplink, Value};
///
/// /// The payload itself, as bytes.
/// struct Raw;
///
/// impl GenericCodec for Raw {
///     const ID: &'static str = "raw";
///     fn decode_generic<'a, S: Sink<'a> + ?Sized>(
///         &self,
///         uplink: Uplink<'a>,
///         sink: &mut S,
///     ) -> Result<(), DecodeError> {
///         let raw = Field::new("raw", None, Value::Bytes(uplink.payload));
///         sink.field(raw).map_err(|kind| DecodeError::new(0, kind))
///     }
/// }
///
/// let lines = ["0102", "0304"];
///
/// // A buffer per payload.
/// for line in lines {
///     let payload: Vec<u8> = line.bytes().collect();
///     let mut buf = FieldBuf::<16>::new();
///     let decoded = buf.decode(&Raw, Uplink::new(1, &payload));
///     assert_eq!(decoded.get("raw").and_then(|n| n.value()), Some(Value::Bytes(&payload)));
/// }
///
/// // Payloads that outlive the buffer: one buffer, cleared by each decode.
/// let payloads: Vec<Vec<u8>> = lines.iter().map(|l| l.bytes().collect()).collect();
/// let mut buf = FieldBuf::<16>::new();
/// for payload in &payloads {
///     let decoded = buf.decode(&Raw, Uplink::new(1, payload));
///     assert_eq!(decoded.data.map(<[_]>::len), Some(1));
/// }
///
/// // To JSON: one writer and one output buffer, reused; steady state allocates nothing.
/// let mut json = JsonWriter::new();
/// let mut out = Vec::new();
/// for line in lines {
///     let payload: Vec<u8> = line.bytes().collect();
///     out.clear();
///     json.decode(&Raw, Uplink::new(1, &payload), &mut out);
///     assert_eq!(out, format!(r#"{{"data":{{"raw":"{}"}}}}"#, hex(&payload)).as_bytes());
/// }
/// # fn hex(b: &[u8]) -> String { b.iter().map(|b| format!("{b:02x}")).collect() }
/// ```
///
/// Through the `lorafield` facade the same loops read `lorafield::decode(&*codec, port,
/// &payload, &mut buf)` and `lorafield::decode_json(&*codec, port, &payload, &mut json, &mut
/// out)`.
#[derive(Debug, Clone)]
pub struct FieldBuf<'a, const N: usize> {
    events: [Event<'a>; N],
    state: State,
}

/// A [`FieldBuf`] seen without its capacity in the type: the concrete sink that
/// [`Codec::decode_store`] receives, so that codecs can be monomorphised for it and push
/// fields without a virtual call each.
#[derive(Debug)]
pub struct FieldStore<'a, 'b> {
    events: &'b mut [Event<'a>],
    /// The event count, held here (written back on drop) so that a codec's loop can keep it
    /// in a register: stores into `events` cannot be proven apart from `state`.
    len: usize,
    state: &'b mut State,
}

impl Drop for FieldStore<'_, '_> {
    #[inline]
    fn drop(&mut self) {
        self.state.len = self.len;
    }
}

impl<const N: usize> Default for FieldBuf<'_, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, const N: usize> FieldBuf<'a, N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        FieldBuf {
            events: [EMPTY; N],
            state: State {
                len: 0,
                open: [0; MAX_DEPTH],
                depth: 0,
                warnings: [DecodeError::new(0, ErrorKind::SinkFull); MAX_WARNINGS],
                n_warnings: 0,
            },
        }
    }

    /// The buffer as a [`FieldStore`].
    #[inline]
    pub fn store(&mut self) -> FieldStore<'a, '_> {
        FieldStore {
            events: &mut self.events,
            len: self.state.len,
            state: &mut self.state,
        }
    }

    /// Forgets everything stored.
    #[inline]
    pub fn clear(&mut self) {
        self.store().clear();
    }

    /// The events stored, in the order they came: fields and container openings, each
    /// opening followed by its subtree ([`Event::subtree_len`]).
    pub fn events(&self) -> &[Event<'a>] {
        self.events.get(..self.state.len).unwrap_or_default()
    }

    /// The warnings stored.
    pub fn warnings(&self) -> &[DecodeError] {
        self.state
            .warnings
            .get(..self.state.n_warnings)
            .unwrap_or_default()
    }

    /// Closes every container still open (a codec stopped inside one).
    pub fn close_all(&mut self) {
        self.store().close_all();
    }

    /// Clears the buffer, runs `codec` on `uplink` into it and returns the result: the data
    /// (absent when the frame is rejected as a whole), the error if any, and the warnings.
    ///
    /// A frame is rejected as a whole when the error's kind says so
    /// ([`ErrorKind::rejects_frame`]) or the codec keeps no partial results
    /// ([`Codec::keeps_partial`]). Containers a failing codec left open are removed
    /// ([`FieldStore::abandon_open`]); those a succeeding one left open are closed.
    ///
    /// Generic over the codec so that a concrete one is called directly (and inlined); a
    /// `&dyn Codec` works too.
    #[inline]
    pub fn decode<'s, C: Codec + ?Sized>(
        &'s mut self,
        codec: &C,
        uplink: Uplink<'a>,
    ) -> Decoded<'s, 'a> {
        let mut store = self.store();
        store.clear();
        let result = codec.decode_store(uplink, &mut store);
        let error = match result {
            Ok(()) => {
                if store.state.depth > 0 {
                    store.close_all();
                }
                None
            }
            Err(e) => {
                store.abandon_open();
                Some(e)
            }
        };
        let len = store.len;
        drop(store);
        let rejected = error.is_some_and(|e| e.kind.rejects_frame() || !codec.keeps_partial());
        Decoded {
            data: if rejected {
                None
            } else {
                self.events.get(..len)
            },
            error,
            warnings: self
                .state
                .warnings
                .get(..self.state.n_warnings)
                .unwrap_or_default(),
        }
    }
}

impl FieldStore<'_, '_> {
    /// Forgets everything stored.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
        self.state.depth = 0;
        self.state.n_warnings = 0;
    }

    /// Removes every container still open, with everything in it: a codec that fails inside a
    /// container leaves it incomplete, and an incomplete reading is not data.
    #[inline]
    pub fn abandon_open(&mut self) {
        if self.state.depth > 0 {
            self.len = self.state.open[0] as usize;
            self.state.depth = 0;
        }
    }

    /// Closes every container still open.
    #[inline]
    pub fn close_all(&mut self) {
        while self.state.depth > 0 {
            // Cannot fail while depth > 0.
            let _ = self.close();
        }
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<'a> FieldStore<'a, '_> {
    #[inline]
    fn push(&mut self, event: Event<'a>) -> Result<(), ErrorKind> {
        let slot = self.events.get_mut(self.len).ok_or(ErrorKind::SinkFull)?;
        *slot = event;
        self.len += 1;
        Ok(())
    }
}

impl<'a> Sink<'a> for FieldStore<'a, '_> {
    #[inline]
    fn field(&mut self, field: Field<'a>) -> Result<(), ErrorKind> {
        self.push(Event::Field(field))
    }

    #[inline]
    fn open(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        container: Container,
    ) -> Result<(), ErrorKind> {
        let at = u32::try_from(self.len).map_err(|_| ErrorKind::SinkFull)?;
        let slot = self
            .state
            .open
            .get_mut(self.state.depth)
            .ok_or(ErrorKind::Nesting)?;
        *slot = at;
        self.push(Event::Open {
            name,
            channel,
            container,
            len: 0,
        })?;
        self.state.depth += 1;
        Ok(())
    }

    #[inline]
    fn close(&mut self) -> Result<(), ErrorKind> {
        let depth = self.state.depth.checked_sub(1).ok_or(ErrorKind::Nesting)?;
        let start = *self.state.open.get(depth).ok_or(ErrorKind::Nesting)? as usize;
        let inner = self.len - start - 1;
        if let Some(Event::Open { len, .. }) = self.events.get_mut(start) {
            *len = u32::try_from(inner).map_err(|_| ErrorKind::SinkFull)?;
        }
        self.state.depth = depth;
        Ok(())
    }

    fn warning(&mut self, warning: DecodeError) -> Result<(), ErrorKind> {
        let slot = self
            .state
            .warnings
            .get_mut(self.state.n_warnings)
            .ok_or(ErrorKind::SinkFull)?;
        *slot = warning;
        self.state.n_warnings += 1;
        Ok(())
    }
}

impl<'a, const N: usize> Sink<'a> for FieldBuf<'a, N> {
    #[inline]
    fn field(&mut self, field: Field<'a>) -> Result<(), ErrorKind> {
        self.store().field(field)
    }

    fn open(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        container: Container,
    ) -> Result<(), ErrorKind> {
        self.store().open(name, channel, container)
    }

    fn close(&mut self) -> Result<(), ErrorKind> {
        self.store().close()
    }

    fn warning(&mut self, warning: DecodeError) -> Result<(), ErrorKind> {
        self.store().warning(warning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &'static str, v: u64) -> Field<'static> {
        Field::new(name, None, Value::U64(v))
    }

    #[test]
    fn nested_lengths_are_patched() {
        let mut b = FieldBuf::<8>::new();
        b.field(u("a", 1)).unwrap();
        b.open("o", Some(1), Container::Object).unwrap();
        b.field(u("x", 1)).unwrap();
        b.open("arr", None, Container::Array).unwrap();
        b.field(u("", 2)).unwrap();
        b.close().unwrap();
        b.close().unwrap();
        let ev = b.events();
        assert_eq!(ev.len(), 5);
        assert_eq!(ev[1].subtree_len(), 3);
        assert_eq!(ev[3].subtree_len(), 1);
        assert_eq!(b.close(), Err(ErrorKind::Nesting));
    }

    #[test]
    fn close_all_closes_what_a_codec_left_open() {
        let mut b = FieldBuf::<8>::new();
        b.open("o", None, Container::Object).unwrap();
        b.field(u("x", 1)).unwrap();
        b.close_all();
        assert_eq!(b.events()[0].subtree_len(), 1);
    }

    #[test]
    fn a_failing_codec_leaves_no_half_object() {
        struct HalfObject;
        impl Codec for HalfObject {
            fn id(&self) -> &'static str {
                "half"
            }
            fn decode<'a>(
                &self,
                _: Uplink<'a>,
                sink: &mut dyn Sink<'a>,
            ) -> Result<(), DecodeError> {
                let e = |k| DecodeError::new(3, k);
                sink.field(u("kept", 1)).map_err(e)?;
                sink.open("half", Some(2), Container::Object).map_err(e)?;
                sink.field(u("x", 1)).map_err(e)?;
                Err(e(ErrorKind::UnexpectedEof))
            }
        }
        let mut b = FieldBuf::<8>::new();
        let d = b.decode(&HalfObject, Uplink::new(1, &[]));
        assert_eq!(d.data.map(<[_]>::len), Some(1));
        assert_eq!(d.error, Some(DecodeError::new(3, ErrorKind::UnexpectedEof)));
    }

    #[test]
    fn limits_are_errors() {
        let mut b = FieldBuf::<1>::new();
        b.field(u("a", 1)).unwrap();
        assert_eq!(b.field(u("a", 1)), Err(ErrorKind::SinkFull));
        assert_eq!(
            b.open("o", None, Container::Object),
            Err(ErrorKind::SinkFull)
        );
        let mut b = FieldBuf::<64>::new();
        for _ in 0..MAX_DEPTH {
            b.open("o", None, Container::Object).unwrap();
        }
        assert_eq!(
            b.open("o", None, Container::Object),
            Err(ErrorKind::Nesting)
        );
        for i in 0..MAX_WARNINGS {
            b.warning(DecodeError::new(i, ErrorKind::OutOfRange))
                .unwrap();
        }
        assert_eq!(
            b.warning(DecodeError::new(9, ErrorKind::OutOfRange)),
            Err(ErrorKind::SinkFull)
        );
        assert_eq!(b.warnings().len(), MAX_WARNINGS);
    }
}
