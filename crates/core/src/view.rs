//! Reading decoded values by key: borrowed views of the events a sink stored.

use crate::dynamic::DynValue;
use crate::{Container, Event, Value};

/// A decoded value found by key ([`crate::Decoded::get`]): a scalar, or a nested object or
/// array whose members can be read in turn. A view of the stored events: nothing is copied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node<'s, 'a> {
    /// A scalar.
    Value(Value<'a>),
    /// A nested object (`gps_1`): its members.
    Object(Members<'s, 'a>),
    /// A nested array (`previous_fixes`): its elements.
    Array(Members<'s, 'a>),
    /// A run-time codec's scalar (a script's), its text in the sink's text area.
    Dyn(DynValue<'s>),
}

impl<'s, 'a> Node<'s, 'a> {
    /// The scalar, if this is one.
    pub fn value(&self) -> Option<Value<'a>> {
        match *self {
            Node::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The scalar as a number, if this is a number ([`Value::as_f64`]).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Node::Dyn(DynValue::Number(n)) => Some(n),
            _ => self.value()?.as_f64(),
        }
    }

    /// The scalar as text, if it is a string (a table's name, payload text, a script's
    /// string).
    pub fn as_str(&self) -> Option<&'s str>
    where
        'a: 's,
    {
        match *self {
            Node::Value(Value::Str(s)) | Node::Value(Value::Text(s)) => Some(s),
            Node::Dyn(DynValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// The members of an object or the elements of an array.
    pub fn members(&self) -> Option<Members<'s, 'a>> {
        match *self {
            Node::Object(m) | Node::Array(m) => Some(m),
            Node::Value(_) | Node::Dyn(_) => None,
        }
    }

    /// The node at `path` under this one (see [`Members::get`]); `None` for a scalar.
    pub fn get(&self, path: &str) -> Option<Node<'s, 'a>> {
        self.members()?.get(path)
    }

    /// The node an event starts: a field's value, or the container with the `len` events
    /// that follow it.
    fn of(events: &'s [Event<'a>], at: usize, text: &'s [u8]) -> Option<Node<'s, 'a>> {
        match *events.get(at)? {
            Event::Field(f) => Some(Node::Value(f.value)),
            Event::Dyn { value, .. } => Some(Node::Dyn(value.resolve(text))),
            Event::Open { container, len, .. } | Event::DynOpen { container, len, .. } => {
                let inner = events.get(at + 1..at + 1 + len as usize)?;
                let members = Members::with_text(inner, container, text);
                Some(match container {
                    Container::Object => Node::Object(members),
                    Container::Array => Node::Array(members),
                })
            }
        }
    }
}

/// The members of a decoded object, or the elements of an array: a view of the events
/// inside it, each nested container followed by its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Members<'s, 'a> {
    events: &'s [Event<'a>],
    container: Container,
    text: &'s [u8],
}

impl<'s, 'a> Members<'s, 'a> {
    /// The members stored as `events` in a container of kind `container`.
    pub fn new(events: &'s [Event<'a>], container: Container) -> Self {
        Members::with_text(events, container, &[])
    }

    /// The same for events that may hold run-time members, whose keys and strings are in
    /// `text` (a [`crate::Decoded`]'s `text`).
    pub fn with_text(events: &'s [Event<'a>], container: Container, text: &'s [u8]) -> Self {
        Members {
            events,
            container,
            text,
        }
    }

    /// Whether these are an object's members or an array's elements.
    pub fn container(&self) -> Container {
        self.container
    }

    /// The node at `path`: segments separated by dots, each the key of an object member as the
    /// JSON prints it (`temperature_3`, name and channel) or the index of an array element
    /// (`previous_fixes.0.latitude`). Of members with the same key, the last counts, as in the
    /// JSON. Allocates nothing.
    pub fn get(&self, path: &str) -> Option<Node<'s, 'a>> {
        let mut segments = path.split('.');
        let first = segments.next()?;
        let mut node = self.child(first)?;
        for segment in segments {
            node = node.members()?.child(segment)?;
        }
        Some(node)
    }

    /// The member whose key is `key` (the last of several), or for an array the element at
    /// the index `key` spells.
    fn child(&self, key: &str) -> Option<Node<'s, 'a>> {
        match self.container {
            Container::Array => {
                let index = key
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| key.parse().ok())??;
                self.starts()
                    .nth(index)
                    .and_then(|at| Node::of(self.events, at, self.text))
            }
            Container::Object => {
                let at = self
                    .starts()
                    .filter(|&at| {
                        self.events
                            .get(at)
                            .is_some_and(|e| match e.dyn_key(self.text) {
                                Some(k) => k == key,
                                None => {
                                    let (name, channel) = e.key();
                                    key_is(name, channel, key)
                                }
                            })
                    })
                    .last()?;
                Node::of(self.events, at, self.text)
            }
        }
    }

    /// Every member in stored order, with its name and channel (ignored for array elements;
    /// `("", None)` for a run-time member, whose key [`Event::dyn_key`] reads).
    pub fn iter(&self) -> impl Iterator<Item = ((&'static str, Option<u8>), Node<'s, 'a>)> + '_ {
        self.starts().filter_map(|at| {
            let key = self.events.get(at)?.key();
            Some((key, Node::of(self.events, at, self.text)?))
        })
    }

    /// How many members (or elements) are stored, repeated keys counted each time.
    pub fn len(&self) -> usize {
        self.starts().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The index of each member's first event.
    fn starts(&self) -> impl Iterator<Item = usize> + '_ {
        let mut next = 0;
        core::iter::from_fn(move || {
            let at = next;
            next = at + 1 + self.events.get(at)?.subtree_len();
            Some(at)
        })
    }
}

/// Whether a member named `name` on `channel` prints under `key` (`name` or `name_<channel>`).
fn key_is(name: &str, channel: Option<u8>, key: &str) -> bool {
    let Some(channel) = channel else {
        return key == name;
    };
    let Some(digits) = key
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('_'))
    else {
        return false;
    };
    // The channel as decimal digits, without a sign or leading zeros.
    let mut buf = [0u8; 3];
    let mut n = channel;
    let mut start = buf.len();
    loop {
        start -= 1;
        if let Some(d) = buf.get_mut(start) {
            *d = b'0' + n % 10;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.get(start..) == Some(digits.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Field, FieldBuf, Sink};

    fn f(name: &'static str, channel: Option<u8>, v: u64) -> Field<'static> {
        Field::new(name, channel, Value::U64(v))
    }

    #[test]
    fn keys_are_name_and_channel() {
        assert!(key_is("temperature", Some(3), "temperature_3"));
        assert!(key_is("temperature", Some(0), "temperature_0"));
        assert!(key_is("t", Some(255), "t_255"));
        assert!(key_is("temperature", None, "temperature"));
        assert!(!key_is("temperature", Some(3), "temperature"));
        assert!(!key_is("temperature", Some(3), "temperature_03"));
        assert!(!key_is("temperature", Some(3), "temperature_+3"));
        assert!(!key_is("temperature", Some(3), "temperature3"));
        assert!(!key_is("temperature", Some(13), "temperature_3"));
        assert!(!key_is("temperature", None, "temperature_3"));
        assert!(!key_is("t", Some(25), "t_255"));
    }

    #[test]
    fn paths_reach_nested_members_and_elements() {
        let mut b = FieldBuf::<16>::new();
        b.field(f("battery", None, 90)).unwrap();
        b.open("gps", Some(1), Container::Object).unwrap();
        b.field(f("latitude", None, 52)).unwrap();
        b.open("fixes", None, Container::Array).unwrap();
        b.open("", None, Container::Object).unwrap();
        b.field(f("seconds_ago", None, 900)).unwrap();
        b.close().unwrap();
        b.field(f("", None, 7)).unwrap();
        b.close().unwrap();
        b.close().unwrap();
        b.field(f("battery", None, 80)).unwrap();
        let root = Members::new(b.events(), Container::Object);
        assert_eq!(root.len(), 3);
        // The last of a repeated key, as the JSON prints it.
        assert_eq!(root.get("battery").and_then(|n| n.as_f64()), Some(80.0));
        assert_eq!(
            root.get("gps_1.latitude").and_then(|n| n.value()),
            Some(Value::U64(52))
        );
        assert_eq!(
            root.get("gps_1.fixes.0.seconds_ago")
                .and_then(|n| n.value()),
            Some(Value::U64(900))
        );
        assert_eq!(
            root.get("gps_1.fixes.1").and_then(|n| n.value()),
            Some(Value::U64(7))
        );
        let fixes = root.get("gps_1.fixes").unwrap();
        assert!(matches!(fixes, Node::Array(m) if m.len() == 2));
        assert_eq!(fixes.get("1").and_then(|n| n.as_f64()), Some(7.0));
        let gps = root.get("gps_1").unwrap();
        assert!(matches!(gps, Node::Object(_)));
        let keys: [_; 2] =
            core::array::from_fn(|i| gps.members().unwrap().iter().nth(i).unwrap().0);
        assert_eq!(keys, [("latitude", None), ("fixes", None)]);
        for missing in [
            "gps",
            "gps_1.fixes.2",
            "gps_1.fixes.+1",
            "gps_1.fixes.x",
            "gps_1.latitude.x",
            "battery.x",
            "",
            "gps_1.",
            "nothing",
        ] {
            assert_eq!(root.get(missing), None, "{missing}");
        }
        assert!(root.get("gps_1").unwrap().value().is_none());
        assert!(Members::new(&[], Container::Object).is_empty());
    }

    #[test]
    fn run_time_members_are_found_by_key() {
        use crate::dynamic::DynValue;
        use crate::{FieldBuf, Sink};
        let mut b = FieldBuf::<8>::new();
        b.dyn_field("battery", DynValue::Number(3.6)).unwrap();
        b.dyn_open("gps", Container::Object).unwrap();
        b.dyn_field("lat", DynValue::Number(52.1)).unwrap();
        b.dyn_field("fix", DynValue::Text("3d")).unwrap();
        b.close().unwrap();
        let members = Members::with_text(b.events(), Container::Object, b.text());
        assert_eq!(members.get("battery").and_then(|n| n.as_f64()), Some(3.6));
        assert_eq!(members.get("gps.lat").and_then(|n| n.as_f64()), Some(52.1));
        assert_eq!(members.get("gps.fix").and_then(|n| n.as_str()), Some("3d"));
        assert!(members.get("gps.lon").is_none());
        assert_eq!(members.len(), 2);
    }
}
