//! The push-model output of codecs.

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

    /// Takes a warning: something the codec skipped or doubts, with its offset.
    fn warning(&mut self, warning: DecodeError) -> Result<(), ErrorKind> {
        let _ = warning;
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
}

impl Event<'_> {
    /// The event's name and channel.
    pub fn key(&self) -> (&'static str, Option<u8>) {
        match *self {
            Event::Field(f) => (f.name, f.channel),
            Event::Open { name, channel, .. } => (name, channel),
        }
    }

    /// How many events after this one belong to it (0 for a field).
    pub fn subtree_len(&self) -> usize {
        match *self {
            Event::Field(_) => 0,
            Event::Open { len, .. } => len as usize,
        }
    }
}
