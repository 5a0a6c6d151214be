//! Keys: `"<name>_<channel>":` written in one step, and their bytewise order (the text's order
//! without rendering it).

use core::cmp::Ordering;

use super::text::{put_byte, put_escaped, put_word};

/// The `_<channel>` suffix of a key, as bytes.
pub(super) fn suffix(channel: Option<u8>) -> ([u8; 4], usize) {
    let mut s = [b'_', 0, 0, 0];
    match channel {
        None => (s, 0),
        Some(c) if c >= 100 => {
            s[1] = b'0' + c / 100;
            s[2] = b'0' + c / 10 % 10;
            s[3] = b'0' + c % 10;
            (s, 4)
        }
        Some(c) if c >= 10 => {
            s[1] = b'0' + c / 10;
            s[2] = b'0' + c % 10;
            (s, 3)
        }
        Some(c) => {
            s[1] = b'0' + c;
            (s, 2)
        }
    }
}

/// The first 8 bytes of a key's text, big-endian, zero-padded: keys whose prefixes differ
/// compare as their prefixes do.
#[inline(always)]
pub(super) fn key_prefix(name: &str, channel: Option<u8>) -> u64 {
    match name.as_bytes().first_chunk::<8>() {
        Some(&head) => u64::from_be_bytes(head),
        None => {
            // Shifted in, in registers (bytes stored into an array and loaded as a word would
            // stall the load).
            let (s, l) = suffix(channel);
            let mut prefix = 0u64;
            let mut n = 0;
            for b in name.bytes().chain(s.into_iter().take(l)).take(8) {
                prefix = (prefix << 8) | u64::from(b);
                n += 1;
            }
            prefix.checked_shl(8 * (8 - n)).unwrap_or(0)
        }
    }
}

/// Compares two keys (`name` + `_<channel>`) bytewise, as their printed text.
///
/// Out of line: inlined into [`JsonWriter`](super::JsonWriter)'s sort of members (their keys'
/// 8-byte prefixes decide most comparisons), it makes the comparison too large to be inlined
/// into the sort.
#[inline(never)]
pub fn key_cmp(a: (&str, Option<u8>), b: (&str, Option<u8>)) -> Ordering {
    let (na, nb) = (a.0.as_bytes(), b.0.as_bytes());
    if core::ptr::eq(na, nb) {
        // The same name from a codec's table: only the channels differ. Zero padding sorts
        // like the end of the text.
        let block = |c: Option<u8>| c.map_or([0; 4], |c| suffix(Some(c)).0);
        return block(a.1).cmp(&block(b.1));
    }
    // Most keys of an object differ in their first byte.
    if let (Some(x), Some(y)) = (na.first(), nb.first())
        && x != y
    {
        return x.cmp(y);
    }
    let (sa, la) = suffix(a.1);
    let (sb, lb) = suffix(b.1);
    let sa = sa.get(..la).unwrap_or_default();
    let sb = sb.get(..lb).unwrap_or_default();
    if na == nb {
        return sa.cmp(sb);
    }
    let common = na.len().min(nb.len());
    match na.get(..common).cmp(&nb.get(..common)) {
        Ordering::Equal => na.iter().chain(sa).cmp(nb.iter().chain(sb)),
        unequal => unequal,
    }
}

/// Writes `"<name>_<channel>":`.
#[inline(always)]
pub(super) fn put_key(buf: &mut [u8], pos: usize, name: &str, channel: Option<u8>) -> usize {
    let pos = put_byte(buf, pos, b'"');
    let pos = put_escaped(buf, pos, name);
    // The suffix and the closing `":` in one word, shifted together in a register (computed
    // bytes stored into an array and loaded as a word would stall the load).
    const Q: u64 = b'"' as u64;
    const C: u64 = b':' as u64;
    const U: u64 = b'_' as u64;
    let digit = |d: u8| u64::from(b'0' + d);
    let (tail, len) = match channel {
        None => (Q | C << 8, 2),
        Some(c) if c < 10 => (U | digit(c) << 8 | Q << 16 | C << 24, 4),
        Some(c) if c < 100 => (
            U | digit(c / 10) << 8 | digit(c % 10) << 16 | Q << 24 | C << 32,
            5,
        ),
        Some(c) => (
            U | digit(c / 100) << 8
                | digit(c / 10 % 10) << 16
                | digit(c % 10) << 24
                | Q << 32
                | C << 40,
            6,
        ),
    };
    put_word(buf, pos, tail, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_text() {
        assert_eq!(
            key_cmp(("temperature", Some(10)), ("temperature", Some(2))),
            Ordering::Less
        );
        assert_eq!(key_cmp(("gps", Some(1)), ("gps_x", None)), Ordering::Less);
        assert_eq!(key_cmp(("a_1", None), ("a", Some(1))), Ordering::Equal);
        assert_eq!(
            key_cmp(("a", Some(255)), ("a", Some(25))),
            Ordering::Greater
        );
        assert_eq!(key_cmp(("ab", None), ("a", Some(0))), Ordering::Greater);
        let names = [
            "",
            "a",
            "a_",
            "a_1",
            "a_10",
            "ab",
            "a1",
            "b",
            "_",
            "temperature",
        ];
        let channels = [None, Some(0), Some(1), Some(10), Some(2), Some(255)];
        let text = |n: &str, c: Option<u8>| match c {
            Some(c) => alloc::format!("{n}_{c}"),
            None => n.into(),
        };
        for a in names {
            for b in names {
                for ca in channels {
                    for cb in channels {
                        assert_eq!(
                            key_cmp((a, ca), (b, cb)),
                            text(a, ca).cmp(&text(b, cb)),
                            "{a:?} {ca:?} {b:?} {cb:?}"
                        );
                    }
                }
            }
        }
    }
}
