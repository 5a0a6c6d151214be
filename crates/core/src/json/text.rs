//! Writing into a slice at a position: the primitives of the JSON writer.
//!
//! Every `put_*` function takes the output slice and a position and returns the new position;
//! the caller guarantees room (see the `*_BOUND` sizes and [`bound_of`]). Positions travel as
//! plain values so that they stay in registers: a byte stored through a `Vec<u8>` may alias the
//! `Vec`'s own length, which forces a reload after every push.

use core::fmt;

use crate::Value;

/// Slack every writer keeps past its bound: short text is stored 8 or 16 bytes at a time.
pub(super) const SLACK: usize = 16;

/// The most a number takes (`f64` in fixed notation: up to 326 characters for the smallest
/// subnormal).
pub(super) const NUMBER_BOUND: usize = 360;

/// The most `value` takes as JSON text.
#[inline]
pub(super) fn bound_of(value: &Value<'_>) -> usize {
    match *value {
        Value::Null | Value::Bool(_) => 5,
        Value::U64(_) | Value::I64(_) => 20,
        Value::Decimal { .. } | Value::F64(_) => NUMBER_BOUND,
        Value::Str(s) | Value::Text(s) => 2 + 6 * s.len(),
        Value::Bytes(b) => 2 + 2 * b.len(),
        Value::DecimalText(_) => 22,
        Value::Version { .. } => 24,
        Value::Suffixed { suffix, .. } => 22 + 6 * suffix.len(),
    }
}

/// Stores one byte.
#[inline(always)]
pub(super) fn put_byte(buf: &mut [u8], pos: usize, b: u8) -> usize {
    if let Some(slot) = buf.get_mut(pos) {
        *slot = b;
    }
    pos + 1
}

/// Stores the first `len` bytes of `text` (little-endian: byte 0 first) with one 8-byte store.
#[inline(always)]
pub(super) fn put_word(buf: &mut [u8], pos: usize, text: u64, len: usize) -> usize {
    if let Some(dst) = buf.get_mut(pos..pos + 8) {
        dst.copy_from_slice(&text.to_le_bytes());
    }
    pos + len
}

/// Stores the first `len` bytes of `text` (little-endian: byte 0 first) with one 16-byte store.
#[inline(always)]
pub(super) fn put_wide(buf: &mut [u8], pos: usize, text: u128, len: usize) -> usize {
    if let Some(dst) = buf.get_mut(pos..pos + 16) {
        dst.copy_from_slice(&text.to_le_bytes());
    }
    pos + len
}

/// Copies `src`. Short copies (the names of fields) are a few overlapping moves instead of a
/// call to `memcpy`.
#[inline(always)]
pub(super) fn put_bytes(buf: &mut [u8], pos: usize, src: &[u8]) -> usize {
    let n = src.len();
    if let (Some(head), Some(tail)) = (src.first_chunk::<16>(), src.last_chunk::<16>())
        && n <= 32
    {
        copy_at(buf, pos + n - 16, tail);
        copy_at(buf, pos, head);
    } else if let (Some(head), Some(tail)) = (src.first_chunk::<8>(), src.last_chunk::<8>())
        && n <= 16
    {
        copy_at(buf, pos + n - 8, tail);
        copy_at(buf, pos, head);
    } else if let (Some(head), Some(tail)) = (src.first_chunk::<4>(), src.last_chunk::<4>())
        && n < 8
    {
        copy_at(buf, pos + n - 4, tail);
        copy_at(buf, pos, head);
    } else if let Some(dst) = buf.get_mut(pos..pos + n) {
        dst.copy_from_slice(src);
    }
    pos + n
}

#[inline(always)]
fn copy_at<const N: usize>(buf: &mut [u8], pos: usize, src: &[u8; N]) {
    if let Some(dst) = buf.get_mut(pos..pos + N) {
        dst.copy_from_slice(src);
    }
}

/// Whether `s` needs no escaping inside a JSON string.
#[inline(always)]
fn plain(s: &[u8]) -> bool {
    // Up to 32 bytes (names of fields): overlapping words tested 8 bytes at a time.
    let word = |w: Option<&[u8; 8]>| w.is_some_and(|&w| plain_word(u64::from_le_bytes(w)));
    match (s.first_chunk::<16>(), s.last_chunk::<16>()) {
        (Some(head), Some(tail)) if s.len() <= 32 => {
            let (h0, h1) = (head.first_chunk::<8>(), head.last_chunk::<8>());
            let (t0, t1) = (tail.first_chunk::<8>(), tail.last_chunk::<8>());
            word(h0) & word(h1) & word(t0) & word(t1)
        }
        _ => match (s.first_chunk::<8>(), s.last_chunk::<8>()) {
            (Some(head), Some(tail)) if s.len() <= 16 => word(Some(head)) & word(Some(tail)),
            _ => s
                .iter()
                .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\')),
        },
    }
}

/// Whether none of 8 bytes is a control character, `"` or `\`.
#[inline(always)]
fn plain_word(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit set in a byte that is zero (or below the subtrahend): the classic SWAR tests,
    // exact when no byte has its high bit set, and bytes >= 0x80 need no escaping anyway.
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let quote = below(w ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(w ^ (ONES * u64::from(b'\\')), 1);
    let control = below(w, 0x20);
    (quote | backslash | control) == 0
}

/// Writes the body of a JSON string (no quotes), escaped. Takes at most `6 * s.len()`.
#[inline]
pub(super) fn put_escaped(buf: &mut [u8], pos: usize, s: &str) -> usize {
    let bytes = s.as_bytes();
    if plain(bytes) {
        return put_bytes(buf, pos, bytes);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pos = pos;
    for &b in bytes {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                pos = put_bytes(buf, pos, b"\\u00");
                pos = put_byte(buf, pos, HEX[usize::from(b >> 4)]);
                pos = put_byte(buf, pos, HEX[usize::from(b & 15)]);
                continue;
            }
            _ => {
                pos = put_byte(buf, pos, b);
                continue;
            }
        };
        pos = put_bytes(buf, pos, esc);
    }
    pos
}

/// Writes a JSON string literal.
#[inline]
pub(super) fn put_str(buf: &mut [u8], pos: usize, s: &str) -> usize {
    let pos = put_byte(buf, pos, b'"');
    let pos = put_escaped(buf, pos, s);
    put_byte(buf, pos, b'"')
}

/// Writes bytes as a string of lower-case hex.
pub(super) fn put_hex(buf: &mut [u8], pos: usize, bytes: &[u8]) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pos = put_byte(buf, pos, b'"');
    for &byte in bytes {
        pos = put_byte(buf, pos, HEX[usize::from(byte >> 4)]);
        pos = put_byte(buf, pos, HEX[usize::from(byte & 15)]);
    }
    put_byte(buf, pos, b'"')
}

/// `fmt::Write` into a slice from a position, escaping for a JSON string body if asked; text
/// beyond the slice is dropped (callers size the slice from a bound).
pub(super) struct Cursor<'b> {
    pub(super) buf: &'b mut [u8],
    pub(super) pos: usize,
    pub(super) escape: bool,
}

impl fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len().saturating_sub(self.pos + SLACK);
        let need = if self.escape { 6 * s.len() } else { s.len() };
        if need > room {
            return Err(fmt::Error);
        }
        self.pos = if self.escape {
            put_escaped(self.buf, self.pos, s)
        } else {
            put_bytes(self.buf, self.pos, s.as_bytes())
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_matches_the_byte_test() {
        let slow = |s: &[u8]| s.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\');
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            let y = x.rotate_left(29) ^ 0x5555_5555;
            let bytes: [u8; 40] = core::array::from_fn(|i| {
                let b = ((if i < 16 { x } else { y }) >> ((i % 16) * 4)) as u8;
                // Mostly name-like bytes, sometimes anything.
                if b.is_multiple_of(7) {
                    b
                } else {
                    b'a' + b % 26
                }
            });
            assert_eq!(
                plain(&bytes[..len]),
                slow(&bytes[..len]),
                "{:?}",
                &bytes[..len]
            );
        }
        for b in 0..=255u8 {
            for at in [0, 5, 12, 20, 27] {
                let mut s = [b'a'; 28];
                s[at] = b;
                assert_eq!(plain(&s), slow(&s), "{b} at {at}");
            }
        }
    }

    #[test]
    fn short_copies_of_every_length() {
        let src: [u8; 40] = core::array::from_fn(|i| b'a' + i as u8 % 26);
        for n in 0..=src.len() {
            let mut buf = [b'.'; 64];
            let end = put_bytes(&mut buf, 3, &src[..n]);
            assert_eq!(end, 3 + n);
            assert_eq!(&buf[3..3 + n], &src[..n]);
            assert_eq!(buf[..3], [b'.'; 3]);
            assert!(buf[3 + n..3 + n + 1].iter().all(|&b| b == b'.'), "n = {n}");
        }
    }
}
