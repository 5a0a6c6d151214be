//! A fixed-capacity sink that never allocates.

use core::marker::PhantomData;

use crate::dynamic::{DynValue, Note, Severity, Span, Stored, StoredNote};
use crate::{Codec, Container, DecodeError, Decoded, ErrorKind, Event, Field, Sink, Uplink, Value};

/// How deeply a [`FieldBuf`] lets containers nest.
pub const MAX_DEPTH: usize = 8;
/// How many warnings a [`FieldBuf`] keeps for one frame.
pub const MAX_WARNINGS: usize = 8;
/// How many notes (run-time errors and warnings with text) a [`FieldBuf`] keeps for one frame.
pub const MAX_NOTES: usize = 8;
/// The default size in bytes of a [`FieldBuf`]'s text area, where run-time keys, strings and
/// messages are copied ([`crate::dynamic`]); native codecs leave it empty.
pub const TEXT_CAPACITY: usize = 2048;

const NO_NOTE: StoredNote = StoredNote {
    severity: Severity::Warning,
    kind: ErrorKind::SinkFull,
    message: Span { start: 0, len: 0 },
    line: None,
};

const EMPTY: Event<'static> = Event::Field(Field::new("", None, Value::Null));

/// Everything of a [`FieldBuf`] but its events.
#[derive(Debug, Clone)]
struct State {
    len: usize,
    open: [u32; MAX_DEPTH],
    depth: usize,
    warnings: [DecodeError; MAX_WARNINGS],
    n_warnings: usize,
    text_len: usize,
    notes: [StoredNote; MAX_NOTES],
    n_notes: usize,
    normalized: Option<Span>,
    /// The error of the last decode ([`FieldCore::run`]), read only when it says it failed.
    error: Option<DecodeError>,
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
/// Run-time output ([`Sink::dyn_field`], a script's keys and strings) is copied into a text area
/// of `T` bytes ([`TEXT_CAPACITY`] by default); [`ErrorKind::SinkFull`] when it is full.
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
pub struct FieldBuf<'a, const N: usize, const T: usize = TEXT_CAPACITY> {
    core: FieldCore<'a, [Event<'a>; N], T>,
}

/// A [`FieldBuf`]'s state, text area and events, the events' capacity erased (`E` is
/// `[Event<'a>]` behind a reference): what [`Codec::decode_frame`] receives, in two registers,
/// to clear the buffer, decode a frame into it and finish it ([`FieldCore::run`]). The text
/// area is held here, not beside it, so that it is reached from the same pointer: passed apart
/// it took two more arguments, on the stack. Nothing of it is public but that.
#[derive(Debug, Clone)]
pub struct FieldCore<'a, E: ?Sized = [Event<'a>], const T: usize = TEXT_CAPACITY> {
    state: State,
    events_of: PhantomData<Event<'a>>,
    text: [u8; T],
    events: E,
}

/// How a decode into a [`FieldBuf`] went, returned in registers by [`Codec::decode_frame`]
/// ([`FieldCore::run`] makes it): how many events the result's data holds (none when the frame
/// was rejected as a whole) and whether the frame failed (its error then kept in the buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ran {
    /// The events stored, or [`REJECTED`] (more than any buffer holds, so that the result's
    /// data is `events.get(..data_len)`, one test).
    data_len: usize,
    failed: bool,
}

/// [`Ran::data_len`] of a frame rejected as a whole.
const REJECTED: usize = usize::MAX;

impl Ran {
    /// How many events the result's data holds; `None` when the frame was rejected as a whole.
    pub const fn data_len(self) -> Option<usize> {
        if self.data_len == REJECTED {
            None
        } else {
            Some(self.data_len)
        }
    }

    /// Whether decoding stopped at an error.
    pub const fn failed(self) -> bool {
        self.failed
    }
}

impl<'a, const T: usize> FieldCore<'a, [Event<'a>], T> {
    /// The buffer, cleared, as a [`FieldStore`]: what a codec's [`Codec::decode_frame`]
    /// decodes into before [`FieldStore::finish`].
    #[inline(always)]
    pub fn start(&mut self) -> FieldStore<'a, '_> {
        let mut store = FieldStore {
            events: &mut self.events,
            len: 0,
            state: &mut self.state,
            text: &mut self.text,
        };
        store.clear();
        store
    }

    /// Clears the buffer, runs `decode` into it and finishes it: [`FieldCore::start`], then
    /// [`FieldStore::finish`] with `codec`'s [`Codec::keeps_partial`].
    #[inline(always)]
    pub fn run<C: Codec + ?Sized>(
        &mut self,
        codec: &C,
        decode: impl FnOnce(&mut FieldStore<'a, '_>) -> Result<(), DecodeError>,
    ) -> Ran {
        let mut store = self.start();
        let result = decode(&mut store);
        store.finish(result, codec)
    }
}

impl FieldStore<'_, '_> {
    /// Ends a frame decoded since [`FieldCore::start`], whose decoder returned `result`:
    /// containers a failing decode left open are removed ([`FieldStore::abandon_open`]), those
    /// a succeeding one left open closed; the error is kept for the buffer's result, and the
    /// frame rejected as a whole when the error's kind says so ([`ErrorKind::rejects_frame`])
    /// or `codec` keeps no partial results ([`Codec::keeps_partial`]).
    #[inline(always)]
    pub fn finish<C: Codec + ?Sized>(mut self, result: Result<(), DecodeError>, codec: &C) -> Ran {
        let (rejected, failed) = match result {
            Ok(()) => {
                if self.state.depth > 0 {
                    self.close_all();
                }
                (false, false)
            }
            Err(e) => {
                self.abandon_open();
                self.state.error = Some(e);
                (e.kind.rejects_frame() || !codec.keeps_partial(), true)
            }
        };
        // The count is written back as the store is dropped.
        Ran {
            data_len: if rejected { REJECTED } else { self.len },
            failed,
        }
    }
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
    text: &'b mut [u8],
}

impl Drop for FieldStore<'_, '_> {
    #[inline]
    fn drop(&mut self) {
        self.state.len = self.len;
    }
}

impl<const N: usize, const T: usize> Default for FieldBuf<'_, N, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, const N: usize, const T: usize> FieldBuf<'a, N, T> {
    /// An empty buffer.
    pub const fn new() -> Self {
        FieldBuf {
            core: FieldCore {
                state: State {
                    len: 0,
                    open: [0; MAX_DEPTH],
                    depth: 0,
                    warnings: [DecodeError::new(0, ErrorKind::SinkFull); MAX_WARNINGS],
                    n_warnings: 0,
                    text_len: 0,
                    notes: [NO_NOTE; MAX_NOTES],
                    n_notes: 0,
                    normalized: None,
                    error: None,
                },
                events_of: PhantomData,
                text: [0; T],
                events: [EMPTY; N],
            },
        }
    }

    /// The buffer as a [`FieldStore`].
    #[inline]
    pub fn store(&mut self) -> FieldStore<'a, '_> {
        FieldStore {
            events: &mut self.core.events,
            len: self.core.state.len,
            state: &mut self.core.state,
            text: &mut self.core.text,
        }
    }

    /// The text area's used part: run-time keys, strings and messages, which events and notes
    /// refer to by [`Span`].
    pub fn text(&self) -> &[u8] {
        self.core
            .text
            .get(..self.core.state.text_len)
            .unwrap_or_default()
    }

    /// What the buffer holds as a result without an error: for fields pushed by hand (a
    /// decode returns its result itself).
    pub fn result(&self) -> Decoded<'_, 'a> {
        Decoded {
            data: Some(self.events()),
            error: None,
            warnings: self.warnings(),
            text: self.text(),
            notes: self.notes(),
            normalized: self.core.state.normalized,
        }
    }

    /// The notes stored (run-time errors and warnings with text).
    pub fn notes(&self) -> &[StoredNote] {
        self.core
            .state
            .notes
            .get(..self.core.state.n_notes)
            .unwrap_or_default()
    }

    /// Forgets everything stored.
    #[inline]
    pub fn clear(&mut self) {
        self.store().clear();
    }

    /// The events stored, in the order they came: fields and container openings, each
    /// opening followed by its subtree ([`Event::subtree_len`]).
    pub fn events(&self) -> &[Event<'a>] {
        self.core
            .events
            .get(..self.core.state.len)
            .unwrap_or_default()
    }

    /// The warnings stored.
    pub fn warnings(&self) -> &[DecodeError] {
        self.core
            .state
            .warnings
            .get(..self.core.state.n_warnings)
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
    #[inline(always)]
    pub fn decode<'s, C: Codec + ?Sized>(
        &'s mut self,
        codec: &C,
        uplink: Uplink<'a>,
    ) -> Decoded<'s, 'a> {
        self.run(codec, |store| codec.decode_store(uplink, store))
    }
}

/// With the default text area only: [`Codec::decode_frame`] receives the buffer as a
/// [`FieldCore`] of [`TEXT_CAPACITY`] bytes of text.
impl<'a, const N: usize> FieldBuf<'a, N> {
    /// [`FieldBuf::decode`] of `Uplink::new(f_port, payload)` (no receive time, seed 0), through
    /// [`Codec::decode_frame`]: the port, the payload and the buffer reach the codec in
    /// registers, and the codec clears and finishes the buffer itself (what `lorafield::decode`
    /// calls).
    ///
    /// ```
    /// use lorafield_core::{DecodeError, Field, FieldBuf, GenericCodec, Sink, Uplink, Value};
    ///
    /// struct Port;
    ///
    /// impl GenericCodec for Port {
    ///     const ID: &'static str = "port";
    ///     fn decode_generic<'a, S: Sink<'a> + ?Sized>(
    ///         &self,
    ///         uplink: Uplink<'a>,
    ///         sink: &mut S,
    ///     ) -> Result<(), DecodeError> {
    ///         let port = Field::new("port", None, Value::U64(uplink.f_port.into()));
    ///         sink.field(port).map_err(|kind| DecodeError::new(0, kind))
    ///     }
    /// }
    ///
    /// let mut buf = FieldBuf::<4>::new();
    /// let decoded = buf.decode_payload(&Port, 7, &[]);
    /// assert_eq!(decoded.get("port").and_then(|n| n.value()), Some(Value::U64(7)));
    /// ```
    #[inline(always)]
    pub fn decode_payload<'s, C: Codec + ?Sized>(
        &'s mut self,
        codec: &C,
        f_port: u8,
        payload: &'a [u8],
    ) -> Decoded<'s, 'a> {
        let ran = codec.decode_frame(f_port, payload, &mut self.core);
        self.decoded(ran)
    }
}

impl<'a, const N: usize, const T: usize> FieldBuf<'a, N, T> {
    /// Clears the buffer, runs `decode` into it and returns the result (see
    /// [`FieldBuf::decode`]).
    #[inline(always)]
    fn run<'s, C: Codec + ?Sized>(
        &'s mut self,
        codec: &C,
        decode: impl FnOnce(&mut FieldStore<'a, '_>) -> Result<(), DecodeError>,
    ) -> Decoded<'s, 'a> {
        let core: &mut FieldCore<'a, [Event<'a>], T> = &mut self.core;
        let ran = core.run(codec, decode);
        self.decoded(ran)
    }

    /// The result of the decode that `ran` tells of.
    #[inline(always)]
    fn decoded(&self, ran: Ran) -> Decoded<'_, 'a> {
        let state = &self.core.state;
        Decoded {
            // `REJECTED` is past the end of any buffer.
            data: self.core.events.get(..ran.data_len),
            error: if ran.failed { state.error } else { None },
            warnings: state.warnings.get(..state.n_warnings).unwrap_or_default(),
            text: self.core.text.get(..state.text_len).unwrap_or_default(),
            notes: state.notes.get(..state.n_notes).unwrap_or_default(),
            normalized: state.normalized,
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
        self.state.text_len = 0;
        self.state.n_notes = 0;
        self.state.normalized = None;
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

    /// Copies `s` into the text area.
    fn copy_text(&mut self, s: &str) -> Result<Span, ErrorKind> {
        let start = self.state.text_len;
        let end = start.checked_add(s.len()).ok_or(ErrorKind::SinkFull)?;
        let dst = self.text.get_mut(start..end).ok_or(ErrorKind::SinkFull)?;
        dst.copy_from_slice(s.as_bytes());
        self.state.text_len = end;
        Ok(Span {
            start: u32::try_from(start).map_err(|_| ErrorKind::SinkFull)?,
            len: u32::try_from(s.len()).map_err(|_| ErrorKind::SinkFull)?,
        })
    }

    /// Records where the container opened by the event about to be pushed starts.
    fn open_at(&mut self) -> Result<(), ErrorKind> {
        let at = u32::try_from(self.len).map_err(|_| ErrorKind::SinkFull)?;
        let slot = self
            .state
            .open
            .get_mut(self.state.depth)
            .ok_or(ErrorKind::Nesting)?;
        *slot = at;
        Ok(())
    }
}

/// Opens an object of `n` leaf members at `*len` in `events` (one depth and capacity check:
/// the opening already knows its subtree's length, and no container stays open) and returns
/// the members' slots.
#[inline(always)]
fn open_object<'e, 'a>(
    events: &'e mut [Event<'a>],
    len: &mut usize,
    depth: usize,
    name: &'static str,
    channel: Option<u8>,
    n: usize,
) -> Result<&'e mut [Event<'a>], ErrorKind> {
    if depth >= MAX_DEPTH {
        return Err(ErrorKind::Nesting);
    }
    let start = *len;
    let Some((open, rest)) = events.get_mut(start..).and_then(|s| s.split_first_mut()) else {
        return Err(ErrorKind::SinkFull);
    };
    let slots = rest.get_mut(..n).ok_or(ErrorKind::SinkFull)?;
    *open = Event::Open {
        name,
        channel,
        container: Container::Object,
        len: n as u32,
    };
    *len = start + 1 + n;
    Ok(slots)
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
        self.open_at()?;
        self.push(Event::Open {
            name,
            channel,
            container,
            len: 0,
        })?;
        self.state.depth += 1;
        Ok(())
    }

    /// One capacity check and the events written at once: the opening already knows its
    /// subtree's length, and no container stays open.
    #[inline(always)]
    fn object(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        members: &[Field<'a>],
    ) -> Result<(), ErrorKind> {
        if self.state.depth >= MAX_DEPTH {
            return Err(ErrorKind::Nesting);
        }
        let end = self.len + 1 + members.len();
        let Some((open, slots)) = self
            .events
            .get_mut(self.len..end)
            .and_then(|s| s.split_first_mut())
        else {
            return Err(ErrorKind::SinkFull);
        };
        *open = Event::Open {
            name,
            channel,
            container: Container::Object,
            len: members.len() as u32,
        };
        for (slot, &member) in slots.iter_mut().zip(members) {
            *slot = Event::Field(member);
        }
        self.len = end;
        Ok(())
    }

    /// The slots right after the opening, as [`FieldStore::object`] fills them.
    #[inline(always)]
    fn object_slots(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        n: usize,
    ) -> Result<Option<&mut [Event<'a>]>, ErrorKind> {
        open_object(
            self.events,
            &mut self.len,
            self.state.depth,
            name,
            channel,
            n,
        )
        .map(Some)
    }

    #[inline]
    fn close(&mut self) -> Result<(), ErrorKind> {
        let depth = self.state.depth.checked_sub(1).ok_or(ErrorKind::Nesting)?;
        let start = *self.state.open.get(depth).ok_or(ErrorKind::Nesting)? as usize;
        let inner = self.len - start - 1;
        if let Some(Event::Open { len, .. } | Event::DynOpen { len, .. }) =
            self.events.get_mut(start)
        {
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

    fn dyn_field(&mut self, key: &str, value: DynValue<'_>) -> Result<(), ErrorKind> {
        if self.len >= self.events.len() {
            return Err(ErrorKind::SinkFull);
        }
        let key = self.copy_text(key)?;
        let value = match value {
            DynValue::Null => Stored::Null,
            DynValue::Bool(b) => Stored::Bool(b),
            DynValue::Number(n) => Stored::Number(n),
            DynValue::Text(s) => Stored::Text(self.copy_text(s)?),
        };
        self.push(Event::Dyn { key, value })
    }

    fn dyn_open(&mut self, key: &str, container: Container) -> Result<(), ErrorKind> {
        if self.len >= self.events.len() {
            return Err(ErrorKind::SinkFull);
        }
        self.open_at()?;
        let key = self.copy_text(key)?;
        self.push(Event::DynOpen {
            key,
            container,
            len: 0,
        })?;
        self.state.depth += 1;
        Ok(())
    }

    fn normalized(&mut self, json: &str) -> Result<(), ErrorKind> {
        self.state.normalized = Some(self.copy_text(json)?);
        Ok(())
    }

    fn note(&mut self, note: Note<'_>) -> Result<(), ErrorKind> {
        if self.state.n_notes >= MAX_NOTES {
            return Err(ErrorKind::SinkFull);
        }
        let message = self.copy_text(note.message)?;
        if let Some(slot) = self.state.notes.get_mut(self.state.n_notes) {
            *slot = StoredNote {
                severity: note.severity,
                kind: note.kind,
                message,
                line: note.line,
            };
            self.state.n_notes += 1;
        }
        Ok(())
    }
}

impl<'a, const N: usize, const T: usize> Sink<'a> for FieldBuf<'a, N, T> {
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

    fn object(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        members: &[Field<'a>],
    ) -> Result<(), ErrorKind> {
        self.store().object(name, channel, members)
    }

    fn object_slots(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        n: usize,
    ) -> Result<Option<&mut [Event<'a>]>, ErrorKind> {
        let depth = self.core.state.depth;
        open_object(
            &mut self.core.events,
            &mut self.core.state.len,
            depth,
            name,
            channel,
            n,
        )
        .map(Some)
    }

    fn warning(&mut self, warning: DecodeError) -> Result<(), ErrorKind> {
        self.store().warning(warning)
    }

    fn dyn_field(&mut self, key: &str, value: DynValue<'_>) -> Result<(), ErrorKind> {
        self.store().dyn_field(key, value)
    }

    fn dyn_open(&mut self, key: &str, container: Container) -> Result<(), ErrorKind> {
        self.store().dyn_open(key, container)
    }

    fn note(&mut self, note: Note<'_>) -> Result<(), ErrorKind> {
        self.store().note(note)
    }

    fn normalized(&mut self, json: &str) -> Result<(), ErrorKind> {
        self.store().normalized(json)
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

    #[test]
    fn run_time_text_is_copied_into_the_text_area() {
        use crate::dynamic::{DynValue, Note, Severity, Stored};
        let mut b = FieldBuf::<8, 16>::new();
        let key = alloc_free_text("temp");
        b.dyn_field(key.as_str(), DynValue::Text("ok")).unwrap();
        b.dyn_open("o", Container::Array).unwrap();
        b.dyn_field("", DynValue::Number(1.5)).unwrap();
        b.close().unwrap();
        let text = b.text();
        assert_eq!(text, b"tempoko");
        match b.events() {
            [
                Event::Dyn { key, value },
                open @ Event::DynOpen { .. },
                Event::Dyn { value: v2, .. },
            ] => {
                assert_eq!(key.resolve(text), "temp");
                assert_eq!(value.resolve(text), DynValue::Text("ok"));
                assert_eq!(open.dyn_key(text), Some("o"));
                assert_eq!(open.subtree_len(), 1);
                assert_eq!(*v2, Stored::Number(1.5));
            }
            other => panic!("{other:?}"),
        }
        // The text area is full: an error, nothing half stored.
        assert_eq!(
            b.dyn_field("a-much-longer-key", DynValue::Null),
            Err(ErrorKind::SinkFull)
        );
        assert_eq!(b.events().len(), 3);
        b.note(Note {
            severity: Severity::Error,
            kind: ErrorKind::CodecError,
            message: "bad",
            line: Some(3),
        })
        .unwrap();
        assert_eq!(b.notes().len(), 1);
        assert_eq!(b.notes()[0].resolve(b.text()).message, "bad");
        b.clear();
        assert!(b.text().is_empty() && b.notes().is_empty() && b.events().is_empty());
    }

    /// A key that is not `'static`.
    fn alloc_free_text(s: &str) -> ArrayStr {
        let mut a = ArrayStr([0; 16], 0);
        a.0[..s.len()].copy_from_slice(s.as_bytes());
        a.1 = s.len();
        a
    }

    struct ArrayStr([u8; 16], usize);

    impl ArrayStr {
        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.0[..self.1]).unwrap()
        }
    }

    #[test]
    fn object_slots_take_the_object_or_nothing() {
        let fill = |slots: &mut [Event<'static>]| {
            for (slot, (name, v)) in slots.iter_mut().zip([("a", 1), ("b", 2)]) {
                *slot = Event::Field(u(name, v));
            }
        };
        // The same events as `object`, through the store and through the buffer itself.
        let mut by_object = FieldBuf::<8>::new();
        by_object
            .object("o", Some(2), &[u("a", 1), u("b", 2)])
            .unwrap();
        let mut by_store = FieldBuf::<8>::new();
        fill(
            by_store
                .store()
                .object_slots("o", Some(2), 2)
                .unwrap()
                .unwrap(),
        );
        let mut by_buf = FieldBuf::<8>::new();
        fill(by_buf.object_slots("o", Some(2), 2).unwrap().unwrap());
        assert_eq!(by_store.events(), by_object.events());
        assert_eq!(by_buf.events(), by_object.events());
        assert_eq!(by_object.events()[0].subtree_len(), 2);

        // No room for the opening and its members: nothing taken.
        let mut full = FieldBuf::<3>::new();
        full.field(u("x", 0)).unwrap();
        assert_eq!(
            full.object_slots("o", None, 2).err(),
            Some(ErrorKind::SinkFull)
        );
        assert_eq!(
            full.store().object_slots("o", None, 2).err(),
            Some(ErrorKind::SinkFull)
        );
        assert_eq!(full.events().len(), 1);
        assert_eq!(
            full.object_slots("o", None, 1).map(|s| s.map(|s| s.len())),
            Ok(Some(1))
        );

        // Too deep: nothing taken.
        let mut deep = FieldBuf::<32>::new();
        for _ in 0..MAX_DEPTH {
            deep.open("o", None, Container::Object).unwrap();
        }
        assert_eq!(
            deep.object_slots("o", None, 1).err(),
            Some(ErrorKind::Nesting)
        );
        assert_eq!(deep.events().len(), MAX_DEPTH);
    }

    #[test]
    fn decode_payload_is_decode_of_the_plain_uplink() {
        /// The port, the payload's length and whether anything beyond them was set: a codec
        /// with `Codec`'s default `decode_frame`.
        struct Plain;
        impl Codec for Plain {
            fn id(&self) -> &'static str {
                "plain"
            }
            fn decode<'a>(
                &self,
                uplink: Uplink<'a>,
                sink: &mut dyn Sink<'a>,
            ) -> Result<(), DecodeError> {
                let extra = uplink.received_ms.is_some() || uplink.seed != 0;
                for (name, v) in [
                    ("port", u64::from(uplink.f_port)),
                    ("len", uplink.payload.len() as u64),
                    ("extra", u64::from(extra)),
                ] {
                    sink.field(u(name, v)).map_err(|k| DecodeError::new(0, k))?;
                }
                Err(DecodeError::new(
                    uplink.payload.len(),
                    ErrorKind::CodecError,
                ))
            }
        }
        let payload = [1, 2, 3];
        let mut a = FieldBuf::<8>::new();
        let mut b = FieldBuf::<8>::new();
        let by_payload = a.decode_payload(&Plain, 9, &payload);
        let by_uplink = b.decode(&Plain, Uplink::new(9, &payload));
        assert_eq!(by_payload, by_uplink);
        assert_eq!(by_payload.data.map(<[_]>::len), Some(3));
        assert_eq!(
            by_payload.get("port").and_then(|n| n.value()),
            Some(Value::U64(9))
        );
        assert_eq!(
            by_payload.get("extra").and_then(|n| n.value()),
            Some(Value::U64(0))
        );
        assert_eq!(
            by_payload.error,
            Some(DecodeError::new(3, ErrorKind::CodecError))
        );
    }

    #[test]
    fn decode_frame_rejects_clears_and_keeps_the_error() {
        /// Two fields, then an error at the payload's length; keeps nothing when `keep` is off.
        struct Fails {
            keep: bool,
        }
        impl crate::GenericCodec for Fails {
            const ID: &'static str = "fails";
            fn decode_generic<'a, S: Sink<'a> + ?Sized>(
                &self,
                uplink: Uplink<'a>,
                sink: &mut S,
            ) -> Result<(), DecodeError> {
                let e = |k| DecodeError::new(uplink.payload.len(), k);
                sink.field(u("a", 1)).map_err(e)?;
                sink.open("o", None, Container::Object).map_err(e)?;
                sink.field(u("b", 2)).map_err(e)?;
                if uplink.payload.is_empty() {
                    return sink.close().map_err(e);
                }
                Err(e(ErrorKind::OutOfRange))
            }
            fn keeps_partial(&self) -> bool {
                self.keep
            }
        }
        let mut b = FieldBuf::<8>::new();
        let error = Some(DecodeError::new(2, ErrorKind::OutOfRange));
        // Kept: the open object is removed, the field before it stays.
        let d = b.decode_payload(&Fails { keep: true }, 1, &[0, 0]);
        assert_eq!((d.data.map(<[_]>::len), d.error), (Some(1), error));
        // Rejected: no data, the same error.
        let d = b.decode_payload(&Fails { keep: false }, 1, &[0, 0]);
        assert_eq!((d.data, d.error), (None, error));
        // The next frame starts clean: no error left from the last one.
        let d = b.decode_payload(&Fails { keep: false }, 1, &[]);
        assert_eq!((d.data.map(<[_]>::len), d.error), (Some(3), None));
        assert_eq!(b.events()[1].subtree_len(), 1);
    }

    #[test]
    fn sinks_refuse_run_time_output_by_default() {
        struct Leaves;
        impl<'a> Sink<'a> for Leaves {
            fn field(&mut self, _: Field<'a>) -> Result<(), ErrorKind> {
                Ok(())
            }
        }
        use crate::dynamic::DynValue;
        assert_eq!(
            Leaves.dyn_field("k", DynValue::Null),
            Err(ErrorKind::Unsupported)
        );
        assert_eq!(
            Leaves.dyn_open("k", Container::Object),
            Err(ErrorKind::Unsupported)
        );
    }
}
