//! `serde::Serialize` for decoded results: the same shape, order and deduplication as the JSON
//! writer. Integral numbers serialize as integers (`10`, not `10.0`), as the JSON text prints
//! them.

use alloc::vec::Vec;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::error::{Member, sorted_members};
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

/// A slice of events as a JSON object.
struct Object<'s, 'a>(&'s [Event<'a>]);
/// A slice of events as a JSON array.
struct Array<'s, 'a>(&'s [Event<'a>]);
/// One event's value.
struct Item<'s, 'a>(&'s [Event<'a>], usize);

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
        let key = |i: usize| self.0.get(i).map_or(("", None), Event::key);
        let mut idx = members(self.0);
        idx.sort_by(|&a, &b| key_cmp(key(a), key(b)));
        // Stable sort: equal keys stay in input order; keep the last of each run.
        idx.dedup_by(|later, earlier| {
            let same = key_cmp(key(*later), key(*earlier)).is_eq();
            if same {
                *earlier = *later;
            }
            same
        });
        let mut map = s.serialize_map(Some(idx.len()))?;
        for i in idx {
            let (name, channel) = key(i);
            match channel {
                Some(c) => map.serialize_key(&format_args!("{name}_{c}"))?,
                None => map.serialize_key(name)?,
            }
            map.serialize_value(&Item(self.0, i))?;
        }
        map.end()
    }
}

impl Serialize for Array<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let idx = members(self.0);
        let mut seq = s.serialize_seq(Some(idx.len()))?;
        for i in idx {
            seq.serialize_element(&Item(self.0, i))?;
        }
        seq.end()
    }
}

impl Serialize for Item<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Item(events, i) = *self;
        match events.get(i) {
            Some(Event::Field(f)) => f.value.serialize(s),
            Some(&Event::Open { container, len, .. }) => {
                let end = (i + 1).saturating_add(len as usize).min(events.len());
                let inner = events.get(i + 1..end).unwrap_or_default();
                match container {
                    Container::Object => Object(inner).serialize(s),
                    Container::Array => Array(inner).serialize(s),
                }
            }
            None => s.serialize_unit(),
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
            }
        }
        map.end()
    }
}

impl Serialize for Decoded<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = usize::from(self.data.is_some())
            + usize::from(self.error.is_some())
            + usize::from(!self.warnings.is_empty());
        let mut map = s.serialize_map(Some(len))?;
        if let Some(events) = self.data {
            map.serialize_entry("data", &Object(events))?;
        }
        if let Some(error) = &self.error {
            map.serialize_entry("errors", core::slice::from_ref(error))?;
        }
        if !self.warnings.is_empty() {
            map.serialize_entry("warnings", self.warnings)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Container, DecodeError, Decoded, ErrorKind, Field, FieldBuf, Sink, Value};

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
        };
        let mut ours = alloc::vec::Vec::new();
        d.write_json(&mut ours);
        assert_eq!(serde_json::to_vec(&d).unwrap(), ours);
    }
}
