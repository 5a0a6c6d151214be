//! The push-model output of codecs.

use crate::dynamic::{DynValue, Note, Span, Stored};
use crate::{DecodeError, ErrorKind, Field};

/// The shape of a nested value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Container {
    /// Named members, printed with their keys sorted.
    Object,
    /// Elements in order; their names are not printed.
    Array,
}

/// Where a codec pushes what it decodes.
///
/// Only [`Sink::field`] is required. A sink that only wants leaf values may ignore structure:
/// [`Sink::open`] and [`Sink::close`] default to doing nothing, so nested members arrive as
/// plain fields. Warnings are dropped unless a sink keeps them. The trait is object safe, so
/// codecs take `&mut dyn Sink<'a>`.
///
/// Inside an object every member has a name; inside an array the names of elements are ignored
/// (codecs use `""`).
pub trait Sink<'a> {
    /// Takes one decoded field.
    fn field(&mut self, field: Field<'a>) -> Result<(), ErrorKind>;

    /// Opens a nested object or array under the key `name` (`name_<channel>`); the fields and
    /// containers that follow belong to it until the matching [`Sink::close`].
    fn open(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        container: Container,
    ) -> Result<(), ErrorKind> {
        let _ = (name, channel, container);
        Ok(())
    }

    /// Closes the innermost open container.
    fn close(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }

    /// Takes a whole object of leaf members under the key `name` (`name_<channel>`): the same
    /// as [`Sink::open`] with [`Container::Object`], [`Sink::field`] for each member, then
    /// [`Sink::close`], which is what the default does. A sink may take it in one step (the
    /// core's store and JSON writer do: one capacity check, no container bookkeeping); on an
    /// error it may have taken part of it, as the three calls would have, and the caller treats
    /// the error as it would theirs.
    ///
    /// Members in key order (as codecs push an object's members) are the fast case; any order
    /// and repeated keys are taken as the three calls would take them.
    #[inline]
    fn object(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        members: &[Field<'a>],
    ) -> Result<(), ErrorKind> {
        self.open(name, channel, Container::Object)?;
        for &member in members {
            self.field(member)?;
        }
        self.close()
    }

    /// Opens an object of `n` leaf members under the key `name` (`name_<channel>`) and hands
    /// back the `n` slots its members go in, for a sink that stores events (the core's store):
    /// the caller fills each slot at once with an [`Event::Field`] (until then they hold
    /// whatever was there), and the object is then what [`Sink::object`] with those members
    /// would have taken. On an error nothing is taken. The default takes nothing and returns
    /// `None`: the caller then pushes the object with [`Sink::object`].
    ///
    /// It lets a codec check the sink's depth and room before it reads the members, and write
    /// each member where it goes as soon as it is read.
    ///
    /// ```
    /// use lorafield_core::{Event, Field, FieldBuf, Sink, Value};
    ///
    /// let mut buf = FieldBuf::<4>::new();
    /// let members = [("x", 1), ("y", 2)];
    /// match buf.object_slots("acceleration", Some(3), members.len())? {
    ///     Some(slots) => {
    ///         for (slot, &(name, v)) in slots.iter_mut().zip(&members) {
    ///             *slot = Event::Field(Field::new(name, None, Value::U64(v)));
    ///         }
    ///     }
    ///     None => unreachable!("a FieldBuf stores events"),
    /// }
    /// assert_eq!(buf.events().len(), 3);
    /// assert_eq!(buf.events()[0].subtree_len(), 2);
    /// assert_eq!(buf.object_slots("gps", None, 3).err(), Some(lorafield_core::ErrorKind::SinkFull));
    /// # Ok::<(), lorafield_core::ErrorKind>(())
    /// ```
    #[inline]
    fn object_slots(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        n: usize,
    ) -> Result<Option<&mut [Event<'a>]>, ErrorKind> {
        let _ = (name, channel, n);
        Ok(None)
    }

    /// Takes a warning: something the codec skipped or doubts, with its offset.
    fn warning(&mut self, warning: DecodeError) -> Result<(), ErrorKind> {
        let _ = warning;
        Ok(())
    }

    /// Takes a member whose key and value are run-time text (a script's result), copying
    /// both: see [`crate::dynamic`]. Inside an array the key is ignored (use `""`). The
    /// default refuses it with [`ErrorKind::Unsupported`].
    fn dyn_field(&mut self, key: &str, value: DynValue<'_>) -> Result<(), ErrorKind> {
        let _ = (key, value);
        Err(ErrorKind::Unsupported)
    }

    /// Opens a nested object or array under a run-time key, copying it; closed by
    /// [`Sink::close`]. The default refuses it with [`ErrorKind::Unsupported`].
    fn dyn_open(&mut self, key: &str, container: Container) -> Result<(), ErrorKind> {
        let _ = (key, container);
        Err(ErrorKind::Unsupported)
    }

    /// Takes an error or warning with run-time text, copying it. Error notes are what the
    /// result lists as its `errors` (the [`DecodeError`] the codec returns then only says that
    /// the frame failed). The default drops it, as it drops warnings.
    fn note(&mut self, note: Note<'_>) -> Result<(), ErrorKind> {
        let _ = note;
        Ok(())
    }

    /// Takes the normalized payload (TS013 `normalizeUplink`'s data) as compact JSON text,
    /// keys sorted, copying it: results print it as `normalized`. The default drops it.
    fn normalized(&mut self, json: &str) -> Result<(), ErrorKind> {
        let _ = json;
        Ok(())
    }
}

/// One step of a decoded stream as a sink stores it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// A leaf value.
    Field(Field<'a>),
    /// The start of a container.
    Open {
        /// The container's name.
        name: &'static str,
        /// The container's channel, if any.
        channel: Option<u8>,
        /// Object or array.
        container: Container,
        /// How many events follow inside it (its subtree), so readers can skip it.
        len: u32,
    },
    /// A run-time member ([`Sink::dyn_field`]): its key and text are in the sink's text area.
    Dyn {
        /// The key (empty inside an array).
        key: Span,
        /// The value.
        value: Stored,
    },
    /// The start of a container under a run-time key ([`Sink::dyn_open`]).
    DynOpen {
        /// The key (empty inside an array).
        key: Span,
        /// Object or array.
        container: Container,
        /// How many events follow inside it.
        len: u32,
    },
}

impl Event<'_> {
    /// The event's name and channel; `("", None)` for a run-time member, whose key is in the
    /// text area ([`Event::dyn_key`]).
    pub fn key(&self) -> (&'static str, Option<u8>) {
        match *self {
            Event::Field(f) => (f.name, f.channel),
            Event::Open { name, channel, .. } => (name, channel),
            Event::Dyn { .. } | Event::DynOpen { .. } => ("", None),
        }
    }

    /// A run-time member's key, taken from `text` (a [`crate::Decoded`]'s `text`).
    pub fn dyn_key<'t>(&self, text: &'t [u8]) -> Option<&'t str> {
        match self {
            Event::Dyn { key, .. } | Event::DynOpen { key, .. } => Some(key.resolve(text)),
            _ => None,
        }
    }

    /// Whether the event is a run-time member.
    pub const fn is_dyn(&self) -> bool {
        matches!(self, Event::Dyn { .. } | Event::DynOpen { .. })
    }

    /// How many events after this one belong to it (0 for a field).
    pub fn subtree_len(&self) -> usize {
        match *self {
            Event::Field(_) | Event::Dyn { .. } => 0,
            Event::Open { len, .. } | Event::DynOpen { len, .. } => len as usize,
        }
    }
}
