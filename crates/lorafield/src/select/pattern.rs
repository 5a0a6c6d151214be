//! A rule's match keys: text patterns in which `*` matches any run of characters, and port
//! sets.

use super::Meta;

/// One match key of a rule.
#[derive(Debug, Clone)]
pub(super) enum Test {
    /// The text `key` must match one of the patterns.
    Text(Key, Box<[Pattern]>),
    /// The port must be one of these.
    Port(PortSet),
}

impl Test {
    pub(super) fn matches(&self, meta: &Meta<'_>) -> bool {
        match self {
            Test::Text(key, patterns) => key.of(meta).is_some_and(|text| {
                let fold = matches!(key, Key::DevEui);
                patterns.iter().any(|p| p.matches(text, fold))
            }),
            Test::Port(ports) => meta.f_port.is_some_and(|p| ports.contains(p)),
        }
    }
}

/// The text fields of [`Meta`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Key {
    ApplicationId,
    DeviceId,
    DevEui,
    BrandId,
    ModelId,
    RecType,
}

impl Key {
    fn of<'a>(self, meta: &Meta<'a>) -> Option<&'a str> {
        match self {
            Key::ApplicationId => meta.application_id,
            Key::DeviceId => meta.device_id,
            Key::DevEui => meta.dev_eui,
            Key::BrandId => meta.brand_id,
            Key::ModelId => meta.model_id,
            Key::RecType => meta.rec_type,
        }
    }
}

/// Ports 0 to 255, one bit each.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PortSet([u64; 4]);

impl PortSet {
    pub(super) fn insert(&mut self, port: u8) {
        self.0[usize::from(port >> 6)] |= 1 << (port & 63);
    }

    pub(super) fn contains(&self, port: u8) -> bool {
        self.0[usize::from(port >> 6)] >> (port & 63) & 1 == 1
    }
}

/// A text pattern in which only `*` is special.
#[derive(Debug, Clone)]
pub(super) enum Pattern {
    /// No `*`: the whole text.
    Exact(Box<str>),
    /// `prefix*middle*...*suffix`, the pieces between stars, empty ones left out.
    Glob {
        prefix: Box<str>,
        middle: Box<[Box<str>]>,
        suffix: Box<str>,
    },
}

impl Pattern {
    pub(super) fn new(pattern: &str) -> Pattern {
        let mut pieces = pattern.split('*');
        let prefix = pieces.next().unwrap_or_default();
        let Some(last) = pieces.next_back() else {
            return Pattern::Exact(prefix.into());
        };
        Pattern::Glob {
            prefix: prefix.into(),
            middle: pieces.filter(|p| !p.is_empty()).map(Box::from).collect(),
            suffix: last.into(),
        }
    }

    /// Whether `text` matches; `fold`: ignoring ASCII case.
    pub(super) fn matches(&self, text: &str, fold: bool) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            if fold {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        match self {
            Pattern::Exact(p) => eq(text.as_bytes(), p.as_bytes()),
            Pattern::Glob {
                prefix,
                middle,
                suffix,
            } => {
                let (text, prefix, suffix) =
                    (text.as_bytes(), prefix.as_bytes(), suffix.as_bytes());
                let Some(inner) = text.len().checked_sub(prefix.len() + suffix.len()) else {
                    return false;
                };
                let (head, rest) = text.split_at(prefix.len());
                let (mut rest, tail) = rest.split_at(inner);
                if !eq(head, prefix) || !eq(tail, suffix) {
                    return false;
                }
                // Leftmost matches leave the most room for the pieces after.
                for piece in middle.iter().map(|p| p.as_bytes()) {
                    match rest.windows(piece.len()).position(|w| eq(w, piece)) {
                        Some(at) => rest = &rest[at + piece.len()..],
                        None => return false,
                    }
                }
                true
            }
        }
    }
}
