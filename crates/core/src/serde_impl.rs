//! `serde::Serialize` for decoded results: the same shape, order and deduplication as the JSON
//! writer. Integral numbers serialize as integers (`10`, not `10.0`), as the JSON text prints
//! them.

use alloc::vec::Vec;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::dynamic::{DynValue, Note, Severity};
use crate::error::{Member, sorted_members, sorted_note_members};
use crate::json::key_cmp;
use crate::value::decimal_to_f64;
use crate::{Container, DecodeError, Decoded, Event, Value};

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(b),
            Value::U64(v) => s.serialize_u64(v),
            Value::I64(v) => s.serialize_i64(v),
            Value::F64(v) => serialize_f64(v, s),
            Value::Decimal { digits, scale: 0 } => s.serialize_i64(digits),
            Value::Decimal { digits, scale } => serialize_f64(decimal_to_f64(digits, scale), s),
            Value::Str(v) => s.serialize_str(v),
            Value::Text(v) => s.serialize_str(v),
            Value::Bytes(b) => s.collect_str(&Hex(b)),
            Value::DecimalText(v) => s.collect_str(&v),
            Value::Version { major, minor } => s.collect_str(&format_args!("v{major}.{minor}")),
            Value::Suffixed { value, suffix } => s.collect_str(&format_args!("{value}{suffix}")),
        }
    }
}

fn serialize_f64<S: Serializer>(v: f64, s: S) -> Result<S::Ok, S::Error> {
    if !v.is_finite() {
        s.serialize_unit()
    } else if v == (v as i64) as f64 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        s.serialize_i64(v as i64)
    } else {
        s.serialize_f64(v)
    }
}

struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A slice of events as a JSON object; run-time keys and strings are in the text.
struct Object<'s, 'a>(&'s [Event<'a>], &'s [u8]);
/// A slice of events as a JSON array.
struct Array<'s, 'a>(&'s [Event<'a>], &'s [u8]);
/// One event's value.
struct Item<'s, 'a>(&'s [Event<'a>], usize, &'s [u8]);

fn members(events: &[Event<'_>]) -> Vec<usize> {
    let mut idx = Vec::new();
    let mut i = 0;
    while let Some(e) = events.get(i) {
        idx.push(i);
        i = i.saturating_add(1 + e.subtree_len());
    }
    idx
}

impl Serialize for Object<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Object(events, text) = *self;
        let key = |i: usize| events.get(i).map_or(("", None), Event::key);
        let mut idx = members(events);
        // Run-time members keep the order they came in (see `crate::dynamic`).
        if !idx
            .iter()
            .any(|&i| events.get(i).is_some_and(Event::is_dyn))
        {
            idx.sort_by(|&a, &b| key_cmp(key(a), key(b)));
            // Stable sort: equal keys stay in input order; keep the last of each run.
            idx.dedup_by(|later, earlier| {
                let same = key_cmp(key(*later), key(*earlier)).is_eq();
                if same {
                    *earlier = *later;
                }
                same
            });
        }
        let mut map = s.serialize_map(Some(idx.len()))?;
        for i in idx {
            let (name, channel) = key(i);
            match (events.get(i).and_then(|e| e.dyn_key(text)), channel) {
                (Some(k), _) => map.serialize_key(k)?,
                (None, Some(c)) => map.serialize_key(&format_args!("{name}_{c}"))?,
                (None, None) => map.serialize_key(name)?,
            }
            map.serialize_value(&Item(events, i, text))?;
        }
        map.end()
    }
}

impl Serialize for Array<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let idx = members(self.0);
        let mut seq = s.serialize_seq(Some(idx.len()))?;
        for i in idx {
            seq.serialize_element(&Item(self.0, i, self.1))?;
        }
        seq.end()
    }
}

impl Serialize for DynValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            DynValue::Null => s.serialize_unit(),
            DynValue::Bool(b) => s.serialize_bool(b),
            // `-0` prints as `0`, as ECMAScript prints it.
            DynValue::Number(0.0) => s.serialize_i64(0),
            DynValue::Number(n) => serialize_f64(n, s),
            DynValue::Text(t) => s.serialize_str(t),
        }
    }
}

impl Serialize for Item<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Item(events, i, text) = *self;
        match events.get(i) {
            Some(Event::Field(f)) => f.value.serialize(s),
            Some(Event::Dyn { value, .. }) => value.resolve(text).serialize(s),
            Some(&Event::Open { container, len, .. } | &Event::DynOpen { container, len, .. }) => {
                let end = (i + 1).saturating_add(len as usize).min(events.len());
                let inner = events.get(i + 1..end).unwrap_or_default();
                match container {
                    Container::Object => Object(inner, text).serialize(s),
                    Container::Array => Array(inner, text).serialize(s),
                }
            }
            None => s.serialize_unit(),
        }
    }
}

/// A note as a JSON object, as the writer prints it: keys sorted, `line` when known.
impl Serialize for Note<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let members = sorted_note_members(self);
        let mut map = s.serialize_map(Some(members.iter().flatten().count()))?;
        for (key, member) in members.iter().flatten() {
            match *member {
                Member::Kind => map.serialize_entry(key, self.kind.name())?,
                Member::Message => map.serialize_entry(key, self.message)?,
                Member::Number(n) => map.serialize_entry(key, &n)?,
                Member::Name(n) => map.serialize_entry(key, n)?,
            }
        }
        map.end()
    }
}

/// An error or warning of a result: the codec's own, or a note.
enum Problem<'t> {
    Error(DecodeError),
    Note(Note<'t>),
}

impl Serialize for Problem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Problem::Error(e) => e.serialize(s),
            Problem::Note(n) => n.serialize(s),
        }
    }
}

impl Serialize for DecodeError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let members = sorted_members(self);
        let mut map = s.serialize_map(Some(members.iter().flatten().count()))?;
        for (key, member) in members.iter().flatten() {
            match member {
                Member::Kind => map.serialize_entry(key, self.kind.name())?,
                Member::Message => map.serialize_entry(key, &format_args!("{self}"))?,
                Member::Number(n) => map.serialize_entry(key, n)?,
                Member::Name(s) => map.serialize_entry(key, s)?,
            }
        }
        map.end()
    }
}

impl Serialize for Decoded<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let notes = |sev: Severity| {
            self.notes
                .iter()
                .filter(move |n| n.severity == sev)
                .map(|n| Problem::Note(n.resolve(self.text)))
        };
        let mut errors: Vec<Problem<'_>> = notes(Severity::Error).collect();
        if errors.is_empty()
            && let Some(e) = self.error
        {
            errors.push(Problem::Error(e));
        }
        let warnings: Vec<Problem<'_>> = self
            .warnings
            .iter()
            .map(|w| Problem::Error(*w))
            .chain(notes(Severity::Warning))
            .collect();
        let len = usize::from(self.data.is_some())
            + usize::from(!errors.is_empty())
            + usize::from(!warnings.is_empty());
        let mut map = s.serialize_map(Some(len))?;
        if let Some(events) = self.data {
            map.serialize_entry("data", &Object(events, self.text))?;
        }
        if !errors.is_empty() {
            map.serialize_entry("errors", errors.as_slice())?;
        }
        if !warnings.is_empty() {
            map.serialize_entry("warnings", warnings.as_slice())?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use crate::dynamic::{Note, Severity};
    use crate::{Container, DecodeError, Decoded, ErrorKind, Field, FieldBuf, Limit, Sink, Value};

    /// A note's members (its line, its kind's context) in key order, the same both ways.
    #[test]
    fn notes_serialize_as_the_writer_writes_them() {
        let note = |line| Note {
            severity: Severity::Error,
            kind: ErrorKind::ScriptLimit(Limit::Fuel),
            message: "ran out of \"fuel\"",
            line,
        };
        for (line, expected) in [
            (
                Some(12),
                r#"{"kind":"script_limit","limit":"fuel","line":12,"message":"ran out of \"fuel\""}"#,
            ),
            (
                None,
                r#"{"kind":"script_limit","limit":"fuel","message":"ran out of \"fuel\""}"#,
            ),
        ] {
            let mut ours = alloc::vec::Vec::new();
            crate::json::write_note(&note(line), &mut ours);
            assert_eq!(core::str::from_utf8(&ours), Ok(expected));
            assert_eq!(serde_json::to_vec(&note(line)).unwrap(), ours);
        }
    }

    #[test]
    fn serde_json_matches_the_writer() {
        let mut b = FieldBuf::<16>::new();
        b.field(Field::new(
            "t",
            Some(3),
            Value::Decimal {
                digits: 250,
                scale: 1,
            },
        ))
        .unwrap();
        b.open("gps", Some(1), Container::Object).unwrap();
        b.field(Field::new("lon", None, Value::F64(4.5))).unwrap();
        b.field(Field::new("lat", None, Value::I64(-3))).unwrap();
        b.close().unwrap();
        b.field(Field::new(
            "t",
            Some(3),
            Value::Decimal {
                digits: 272,
                scale: 1,
            },
        ))
        .unwrap();
        b.open("a", None, Container::Array).unwrap();
        b.field(Field::new("", None, Value::Bytes(&[1, 255])))
            .unwrap();
        b.field(Field::new("", None, Value::Str("on"))).unwrap();
        b.field(Field::new("", None, Value::DecimalText(357518080211964)))
            .unwrap();
        b.field(Field::new("", None, Value::Version { major: 1, minor: 2 }))
            .unwrap();
        b.field(Field::new(
            "",
            None,
            Value::Suffixed {
                value: 9,
                suffix: "s",
            },
        ))
        .unwrap();
        b.close().unwrap();
        let warnings = [DecodeError::new(1, ErrorKind::UnknownType(9))];
        let d = Decoded {
            data: Some(b.events()),
            error: Some(DecodeError::new(7, ErrorKind::UnexpectedEof)),
            warnings: &warnings,
            text: &[],
            notes: &[],
            normalized: None,
        };
        let mut ours = alloc::vec::Vec::new();
        d.write_json(&mut ours);
        assert_eq!(serde_json::to_vec(&d).unwrap(), ours);
    }
}
