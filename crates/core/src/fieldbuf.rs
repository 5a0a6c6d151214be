//! A fixed-capacity sink that never allocates.

use crate::{Codec, Container, DecodeError, Decoded, ErrorKind, Event, Field, Sink, Uplink, Value};

/// How deeply a [`FieldBuf`] lets containers nest.
pub const MAX_DEPTH: usize = 8;
/// How many warnings a [`FieldBuf`] keeps for one frame.
pub const MAX_WARNINGS: usize = 8;

const EMPTY: Event<'static> = Event::Field(Field::new("", None, Value::Null));

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
#[derive(Debug, Clone)]
pub struct FieldBuf<'a, const N: usize> {
    events: [Event<'a>; N],
    len: usize,
    open: [u32; MAX_DEPTH],
    depth: usize,
    warnings: [DecodeError; MAX_WARNINGS],
    n_warnings: usize,
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
            len: 0,
            open: [0; MAX_DEPTH],
            depth: 0,
            warnings: [DecodeError::new(0, ErrorKind::SinkFull); MAX_WARNINGS],
            n_warnings: 0,
        }
    }

    /// Forgets everything stored.
    pub fn clear(&mut self) {
        self.len = 0;
        self.depth = 0;
        self.n_warnings = 0;
    }

    /// The events stored, in the order they came: fields and container openings, each
    /// opening followed by its subtree ([`Event::subtree_len`]).
    pub fn events(&self) -> &[Event<'a>] {
        self.events.get(..self.len).unwrap_or_default()
    }

    /// The warnings stored.
    pub fn warnings(&self) -> &[DecodeError] {
        self.warnings.get(..self.n_warnings).unwrap_or_default()
    }

    /// Closes every container still open (a codec stopped inside one).
    pub fn close_all(&mut self) {
        while self.depth > 0 {
            // Cannot fail while depth > 0.
            let _ = self.close();
        }
    }

    /// Clears the buffer, runs `codec` on `uplink` into it and returns the result: the data
    /// (absent when the frame is rejected as a whole), the error if any, and the warnings.
    ///
    /// A frame is rejected as a whole when the error's kind says so
    /// ([`ErrorKind::rejects_frame`]) or the codec keeps no partial results
    /// ([`Codec::keeps_partial`]).
    pub fn decode<'s>(&'s mut self, codec: &dyn Codec, uplink: Uplink<'a>) -> Decoded<'s, 'a> {
        self.clear();
        let result = codec.decode(uplink, self);
        self.close_all();
        let error = result.err();
        let rejected = error.is_some_and(|e| e.kind.rejects_frame() || !codec.keeps_partial());
        let events = self.events.get(..self.len).unwrap_or_default();
        Decoded {
            data: if rejected { None } else { Some(events) },
            error,
            warnings: self.warnings.get(..self.n_warnings).unwrap_or_default(),
        }
    }

    fn push(&mut self, event: Event<'a>) -> Result<(), ErrorKind> {
        let slot = self.events.get_mut(self.len).ok_or(ErrorKind::SinkFull)?;
        *slot = event;
        self.len += 1;
        Ok(())
    }
}

impl<'a, const N: usize> Sink<'a> for FieldBuf<'a, N> {
    #[inline]
    fn field(&mut self, field: Field<'a>) -> Result<(), ErrorKind> {
        self.push(Event::Field(field))
    }

    fn open(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        container: Container,
    ) -> Result<(), ErrorKind> {
        let slot = self.open.get_mut(self.depth).ok_or(ErrorKind::Nesting)?;
        *slot = u32::try_from(self.len).map_err(|_| ErrorKind::SinkFull)?;
        self.push(Event::Open {
            name,
            channel,
            container,
            len: 0,
        })?;
        self.depth += 1;
        Ok(())
    }

    fn close(&mut self) -> Result<(), ErrorKind> {
        let depth = self.depth.checked_sub(1).ok_or(ErrorKind::Nesting)?;
        let start = *self.open.get(depth).ok_or(ErrorKind::Nesting)? as usize;
        let inner = self.len - start - 1;
        if let Some(Event::Open { len, .. }) = self.events.get_mut(start) {
            *len = u32::try_from(inner).map_err(|_| ErrorKind::SinkFull)?;
        }
        self.depth = depth;
        Ok(())
    }

    fn warning(&mut self, warning: DecodeError) -> Result<(), ErrorKind> {
        let slot = self
            .warnings
            .get_mut(self.n_warnings)
            .ok_or(ErrorKind::SinkFull)?;
        *slot = warning;
        self.n_warnings += 1;
        Ok(())
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
