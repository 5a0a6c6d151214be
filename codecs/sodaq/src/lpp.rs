//! The Cayenne LPP mode (`cay=1`): 19 bytes of three fixed LPP records, big-endian, decoded
//! with LPP's semantics and The Things Stack's key names (this crate reads them itself; codecs
//! do not depend on each other).

use lorafield_core::{Container, DecodeError, ErrorKind, Field, Sink, Value};

/// A big-endian number inside an LPP record: `raw / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Num {
    name: &'static str,
    /// Its first byte in the frame.
    at: u8,
    size: u8,
    scale: u8,
}

/// One of the frame's three records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    /// Its first byte (the channel) in the frame.
    at: u8,
    channel: u8,
    /// The LPP type byte.
    ty: u8,
    /// The key's name (`<name>_<channel>`).
    name: &'static str,
    /// One member: a number; several: an object of them (in key order).
    members: &'static [Num],
}

const fn num(name: &'static str, at: u8, size: u8, scale: u8) -> Num {
    Num {
        name,
        at,
        size,
        scale,
    }
}

/// The frame, in key order (`analog_in_2`, `gps_1`, `temperature_3`). Every number is signed.
const RECORDS: [Record; 3] = [
    Record {
        at: 11,
        channel: 2,
        ty: 0x02, // analog input: i16 / 100 (battery volts)
        name: "analog_in",
        members: &[num("", 13, 2, 2)],
    },
    Record {
        at: 0,
        channel: 1,
        ty: 0x88, // GPS: lat, lon i24 / 10^4 degrees, alt i24 / 100 m
        name: "gps",
        members: &[
            num("altitude", 8, 3, 2),
            num("latitude", 2, 3, 4),
            num("longitude", 5, 3, 4),
        ],
    },
    Record {
        at: 15,
        channel: 3,
        ty: 0x67, // temperature: i16 / 10 C
        name: "temperature",
        members: &[num("", 17, 2, 1)],
    },
];

/// Whether a 19-byte frame is in the LPP mode: it starts with the GPS record's header.
pub(crate) fn is_lpp(payload: &[u8]) -> bool {
    payload.len() == crate::model::LPP_LEN && payload.starts_with(&[0x01, 0x88])
}

fn value(payload: &[u8], n: &Num) -> Value<'static> {
    let start = usize::from(n.at);
    let bytes = payload
        .get(start..start + usize::from(n.size))
        .unwrap_or_default();
    let raw = bytes.iter().fold(0u64, |w, &b| (w << 8) | u64::from(b));
    let shift = 64 - 8 * u32::from(n.size);
    Value::Decimal {
        digits: ((raw << shift) as i64) >> shift,
        scale: n.scale,
    }
}

/// Decodes a frame for which [`is_lpp`] holds. A record whose header is not the expected one
/// stops decoding there: an `unknown_pair` error at its first byte, the records before it kept.
pub(crate) fn decode<'a, S: Sink<'a> + ?Sized>(
    payload: &'a [u8],
    sink: &mut S,
) -> Result<(), DecodeError> {
    // Check the headers in frame order first, then emit what precedes the first bad one in
    // key order.
    let mut by_offset = RECORDS;
    by_offset.sort_unstable_by_key(|r| r.at);
    let bad = by_offset.iter().find_map(|r| {
        let header = payload.get(usize::from(r.at)..usize::from(r.at) + 2);
        (header != Some(&[r.channel, r.ty][..])).then(|| {
            let [channel, ty] = header.and_then(|h| h.try_into().ok()).unwrap_or([0, 0]);
            DecodeError::new(usize::from(r.at), ErrorKind::UnknownPair { channel, ty })
        })
    });
    let stop = bad.map_or(usize::MAX, |e| e.offset);
    for r in RECORDS.iter().filter(|r| usize::from(r.at) < stop) {
        (|| match r.members {
            [n] => sink.field(Field::new(r.name, Some(r.channel), value(payload, n))),
            members => {
                sink.open(r.name, Some(r.channel), Container::Object)?;
                for n in members {
                    sink.field(Field::new(n.name, None, value(payload, n)))?;
                }
                sink.close()
            }
        })()
        .map_err(|kind| DecodeError::new(usize::from(r.at), kind))?;
    }
    bad.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_tile_the_frame_and_are_in_key_order() {
        let mut owner = [0u8; crate::model::LPP_LEN];
        for r in RECORDS {
            owner[usize::from(r.at)] += 1;
            owner[usize::from(r.at) + 1] += 1;
            for n in r.members {
                for b in n.at..n.at + n.size {
                    owner[usize::from(b)] += 1;
                }
            }
        }
        assert_eq!(owner, [1; crate::model::LPP_LEN]);
        assert!(RECORDS.windows(2).all(|w| w[0].name < w[1].name));
        let gps = RECORDS[1].members;
        assert!(gps.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn only_19_bytes_starting_01_88() {
        let mut f = [0u8; 19];
        assert!(!is_lpp(&f));
        f[..2].copy_from_slice(&[1, 0x88]);
        assert!(is_lpp(&f));
        assert!(!is_lpp(&f[..18]));
        assert!(!is_lpp(&[1, 0x88]));
    }
}
