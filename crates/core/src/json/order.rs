//! An object's members put in key order: the fragment records the JSON sink keeps of its
//! rendered members, and their sort.
//!
//! A fragment is 24 bytes: the first 16 bytes of its key's text (which decide nearly every
//! comparison: `temperature_1` and `temperature_2` differ within them) and where its text
//! starts. Keys that tie on 16 bytes are compared as rendered, escapes undone, so that the
//! record needs neither the name nor the channel.

use core::cmp::Ordering;

use super::suffix;

/// A rendered object member: 16 bytes of key and where its text starts, stored with three
/// moves. Its name and channel are not kept: keys that tie on their prefix (rare: `name_`
/// and a channel fit in 16 bytes for names of up to 12 bytes) are compared as rendered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frag {
    /// The first 16 bytes of the key's text, big-endian, zero-padded, in two halves (a `u128`
    /// field would align the record to 32 bytes).
    high: u64,
    low: u64,
    /// Where its text starts in the buffer (at its leading comma), in the low half; where it
    /// ends in the high half, set only when an object of more than 16 members is sorted (its
    /// fragments are moved, so the next one's start no longer says). One word: one move.
    span: u64,
}

impl Frag {
    #[inline(always)]
    pub(super) fn new(prefix: u128, start: usize) -> Frag {
        Frag {
            high: (prefix >> 64) as u64,
            low: prefix as u64,
            span: start as u64,
        }
    }

    #[inline(always)]
    fn start(&self) -> usize {
        self.span as u32 as usize
    }

    #[inline(always)]
    fn end(&self) -> usize {
        (self.span >> 32) as usize
    }

    #[inline(always)]
    pub(super) fn prefix(&self) -> u128 {
        (u128::from(self.high) << 64) | u128::from(self.low)
    }

    /// Compares two members' keys as their text; their rendered text is in `buf` at their
    /// starts less `base`.
    #[inline]
    fn cmp_key(&self, other: &Frag, buf: &[u8], base: usize) -> Ordering {
        self.prefix().cmp(&other.prefix()).then_with(|| {
            let at = |f: &Frag| (f.start() + 2).saturating_sub(base);
            rendered_key_cmp(buf, at(self), at(other))
        })
    }
}

/// The first 16 bytes of a key's text (`name` + `_<channel>`), big-endian, zero-padded: keys
/// whose prefixes differ compare as their prefixes do.
pub(super) fn key_prefix16(name: &str, channel: Option<u8>) -> u128 {
    let (s, l) = suffix(channel);
    let mut prefix = [0u8; 16];
    let text = name.bytes().chain(s.into_iter().take(l));
    for (slot, b) in prefix.iter_mut().zip(text) {
        *slot = b;
    }
    u128::from_be_bytes(prefix)
}

/// Compares two keys rendered as JSON string bodies at `a` and `b` in `buf` (each ends at its
/// unescaped closing quote) as the text they stand for: bytewise, after undoing the escapes
/// that [`super::text::put_escaped`] writes. Rendered text without escapes is the key's text
/// itself, compared as it is read (a repeated key is equal at its closing quote).
#[inline(never)]
fn rendered_key_cmp(buf: &[u8], a: usize, b: usize) -> Ordering {
    // Eight bytes at a time while they are equal and hold neither a quote nor a backslash.
    let word = |at: usize| {
        buf.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
    };
    let mut k = 0;
    while let (Some(x), Some(y)) = (word(a + k), word(b + k)) {
        if x != y || special(x) {
            break;
        }
        k += 8;
    }
    while let (Some(&x), Some(&y)) = (buf.get(a + k), buf.get(b + k)) {
        if x == b'\\' || y == b'\\' {
            break;
        }
        match (x == b'"', y == b'"') {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) if x != y => return x.cmp(&y),
            _ => k += 1,
        }
    }
    unescaped(buf, a).cmp(unescaped(buf, b))
}

/// Whether some byte of `w` is a quote or a backslash.
#[inline(always)]
fn special(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    (zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')))) != 0
}

/// The bytes of the JSON string body at `at` in `buf`, unescaped, up to its closing quote.
fn unescaped(buf: &[u8], at: usize) -> impl Iterator<Item = u8> + '_ {
    let mut i = at;
    core::iter::from_fn(move || {
        let b = *buf.get(i)?;
        match b {
            b'"' => None,
            b'\\' => {
                let e = *buf.get(i + 1)?;
                i += 2;
                Some(match e {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        // `\u00XX`: a control character.
                        let hex = |k: usize| buf.get(k).and_then(|&h| char::from(h).to_digit(16));
                        let (hi, lo) = (hex(i + 2)?, hex(i + 3)?);
                        i += 4;
                        (hi * 16 + lo) as u8
                    }
                    other => other,
                })
            }
            _ => {
                i += 1;
                Some(b)
            }
        }
    })
}

/// An object's members in key order: positions into its fragments, and whether some key is
/// repeated.
pub(super) enum Sorted<'o> {
    /// Up to 16 members.
    Small(&'o [u8], bool),
    /// More: the fragments themselves are sorted, with their ends; repeated keys are checked
    /// as they are copied.
    Large,
}

/// Sorts an object's members by their keys (rendered in `buf`), equal keys in input order: up
/// to 16 as positions into `frags`, in `small`; more by sorting `frags` itself, each
/// fragment's end set first.
#[inline(always)]
pub(super) fn sort_order<'o>(
    small: &'o mut [u8; 16],
    frags: &mut [Frag],
    buf: &[u8],
    end: usize,
) -> Sorted<'o> {
    match small.get_mut(..frags.len()) {
        Some(order) => {
            let repeated = sort_positions(order, frags, buf);
            Sorted::Small(order, repeated)
        }
        None => sort_large(frags, buf, end),
    }
}

/// [`sort_order`] for more than 16 members.
#[cold]
#[inline(never)]
fn sort_large(frags: &mut [Frag], buf: &[u8], end: usize) -> Sorted<'static> {
    let mut next = end as u64;
    for f in frags.iter_mut().rev() {
        let start = f.span & 0xffff_ffff;
        f.span = start | (next << 32);
        next = start;
    }
    // By prefix and start, then the runs of tied prefixes (rare) by whole keys.
    frags.sort_unstable_by_key(|f| (f.high, f.low, f.start()));
    let mut rest = &mut *frags;
    while let Some((first, _)) = rest.split_first() {
        let run = rest
            .iter()
            .position(|f| f.prefix() != first.prefix())
            .unwrap_or(rest.len());
        let (tied, after) = rest.split_at_mut(run);
        if tied.len() > 1 {
            tied.sort_by(|a, b| a.cmp_key(b, buf, 0).then(a.start().cmp(&b.start())));
        }
        rest = after;
    }
    Sorted::Large
}

/// An object's members' text: fragment `i` is `src[frags[i].start - base..]` up to the next
/// fragment's start, the last up to `end`.
pub(super) struct Text<'t> {
    pub(super) src: &'t [u8],
    pub(super) base: usize,
    pub(super) frags: &'t [Frag],
    pub(super) end: usize,
}

impl Text<'_> {
    /// Copies the fragments to `dst` at `pos` in `sorted` order, leading commas included, the
    /// last of a repeated key only; returns the new position.
    #[inline(always)]
    pub(super) fn copy_sorted(&self, dst: &mut [u8], pos: usize, sorted: Sorted<'_>) -> usize {
        let mut pos = pos;
        match sorted {
            Sorted::Small(order, false) => {
                for &i in order {
                    pos = self.copy(dst, pos, usize::from(i));
                }
            }
            Sorted::Small(order, true) => {
                let nth = |k: usize| order.get(k).map(|&i| usize::from(i));
                pos = self.copy_unique(dst, pos, order.len(), nth, false);
            }
            Sorted::Large => {
                pos = self.copy_unique(dst, pos, self.frags.len(), Some, true);
            }
        }
        pos
    }

    /// Copies the `n` fragments `nth` gives, skipping any whose key the next one repeats; the
    /// fragments carry their ends if `ended`.
    #[inline(always)]
    fn copy_unique(
        &self,
        dst: &mut [u8],
        mut pos: usize,
        n: usize,
        nth: impl Fn(usize) -> Option<usize>,
        ended: bool,
    ) -> usize {
        let frag = |k: usize| nth(k).and_then(|i| self.frags.get(i).map(|f| (i, f)));
        for k in 0..n {
            let Some((i, f)) = frag(k) else { break };
            if let Some((_, next)) = frag(k + 1)
                && next.cmp_key(f, self.src, self.base) == Ordering::Equal
            {
                continue;
            }
            pos = match ended {
                true => self.copy_ended(dst, pos, i),
                false => self.copy(dst, pos, i),
            };
        }
        pos
    }

    /// Copies fragment `i`.
    #[inline(always)]
    fn copy(&self, dst: &mut [u8], pos: usize, i: usize) -> usize {
        let start = self.frags.get(i).map_or(0, Frag::start);
        let end = self.frags.get(i + 1).map_or(self.end, Frag::start);
        copy_within(dst, pos, self.src, start - self.base, end - self.base)
    }

    /// Copies fragment `i` of fragments sorted with their ends.
    #[inline(always)]
    fn copy_ended(&self, dst: &mut [u8], pos: usize, i: usize) -> usize {
        let (start, end) = self.frags.get(i).map_or((0, 0), |f| (f.start(), f.end()));
        copy_within(dst, pos, self.src, start - self.base, end - self.base)
    }
}

/// Sorts positions into `frags` by the fragments' keys, equal keys in input order (their
/// starts grow with it). Returns whether some key is repeated.
///
/// Up to four members (most objects) go through a branch-free sorting network on the first 15
/// bytes of the keys (the last byte of the 16 holds the position): random member order makes a
/// comparison's branch a coin toss. Prefixes that tie fall back to the insertion sort on whole
/// keys.
#[inline(always)]
fn sort_positions(order: &mut [u8], frags: &[Frag], buf: &[u8]) -> bool {
    let n = order.len();
    if (2..=4).contains(&n) {
        let mut v = [u128::MAX; 4];
        for (i, slot) in v.iter_mut().enumerate().take(n) {
            let prefix = frags.get(i).map_or(u128::MAX, Frag::prefix);
            *slot = (prefix & !0xff) | i as u128;
        }
        let exchange = |v: &mut [u128; 4], i: usize, j: usize| {
            if let (Some(&a), Some(&b)) = (v.get(i), v.get(j)) {
                if let Some(x) = v.get_mut(i) {
                    *x = a.min(b);
                }
                if let Some(y) = v.get_mut(j) {
                    *y = a.max(b);
                }
            }
        };
        for (i, j) in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)] {
            exchange(&mut v, i, j);
        }
        let tie = v
            .windows(2)
            .take(n - 1)
            .any(|w| matches!(w, [a, b] if a >> 8 == b >> 8));
        if !tie {
            for (slot, key) in order.iter_mut().zip(v) {
                *slot = key as u8;
            }
            return false;
        }
    }
    // Positions in input order, then sorted by insertion.
    for (i, slot) in order.iter_mut().enumerate() {
        *slot = i as u8;
    }
    let frag = |i: u8| frags.get(usize::from(i));
    let mut repeated = false;
    for i in 1..order.len() {
        let mut j = i;
        while j > 0 {
            let (Some(&a), Some(&b)) = (order.get(j - 1), order.get(j)) else {
                break;
            };
            let (Some(fa), Some(fb)) = (frag(a), frag(b)) else {
                break;
            };
            match fa.cmp_key(fb, buf, 0) {
                Ordering::Less => break,
                Ordering::Equal => {
                    repeated = true;
                    break;
                }
                Ordering::Greater => {}
            }
            order.swap(j - 1, j);
            j -= 1;
        }
    }
    repeated
}

/// Copies `src[start..end]` to `dst` at `pos` (up to 32 bytes with one fixed-size move, up to
/// 64 with two, reading into the slack after the text); returns the new position.
#[inline(always)]
fn copy_within(dst: &mut [u8], pos: usize, src: &[u8], start: usize, end: usize) -> usize {
    let n = end.saturating_sub(start);
    let block = |at: usize| {
        src.get(at..at + 32)
            .and_then(|b| <&[u8; 32]>::try_from(b).ok())
    };
    match (block(start), dst.get_mut(pos..pos + 32)) {
        (Some(head), Some(to)) if n <= 32 => to.copy_from_slice(head),
        _ => match (block(start), block(start + 32), dst.get_mut(pos..pos + 64)) {
            // An object member (`,"gps_1":{"altitude":..}`).
            (Some(head), Some(tail), Some(to)) if n <= 64 => {
                let (a, b) = to.split_at_mut(32);
                a.copy_from_slice(head);
                b.copy_from_slice(tail);
            }
            _ => {
                if let (Some(from), Some(to)) = (src.get(start..end), dst.get_mut(pos..pos + n)) {
                    to.copy_from_slice(from);
                }
            }
        },
    }
    pos + n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::key_cmp;
    use crate::json::put_key;
    use alloc::vec;

    /// Names that tie on 16 bytes with and without channels, and names that need escapes
    /// (sorting as their text, not as their escaped text).
    const NAMES: [&str; 14] = [
        "",
        "a",
        "a\"",
        "a\\",
        "a\n",
        "a\u{1}",
        "a\u{1f}b",
        "a#",
        "a]",
        "relative_humidity",
        "relative_humidity_",
        "relative_humidit\"y",
        "relative_humidit\u{0}",
        "relative_humidit",
    ];
    const CHANNELS: [Option<u8>; 6] = [None, Some(0), Some(1), Some(10), Some(2), Some(255)];

    /// Renders `,"<key>":` at `at` in `buf`, as the sink does; where the key's body starts.
    fn render(buf: &mut [u8], at: usize, name: &str, channel: Option<u8>) -> usize {
        let end = put_key(buf, at + 1, name, channel);
        buf[at] = b',';
        assert!(end < at + 200);
        at + 2
    }

    #[test]
    fn rendered_keys_compare_as_their_text() {
        let mut buf = vec![0u8; 512];
        for a in NAMES {
            for b in NAMES {
                for ca in CHANNELS {
                    for cb in CHANNELS {
                        let x = render(&mut buf, 0, a, ca);
                        let y = render(&mut buf, 256, b, cb);
                        assert_eq!(
                            rendered_key_cmp(&buf, x, y),
                            key_cmp((a, ca), (b, cb)),
                            "{a:?} {ca:?} {b:?} {cb:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn prefixes_order_as_the_keys_unless_they_tie() {
        for a in NAMES {
            for b in NAMES {
                for ca in CHANNELS {
                    for cb in CHANNELS {
                        let (x, y) = (key_prefix16(a, ca), key_prefix16(b, cb));
                        if x != y {
                            assert_eq!(x.cmp(&y), key_cmp((a, ca), (b, cb)), "{a:?} {b:?}");
                        }
                    }
                }
            }
        }
        // `name_` and a channel: 16 bytes tell `temperature_1` from `temperature_2`.
        assert!(key_prefix16("temperature", Some(1)) < key_prefix16("temperature", Some(2)));
        assert!(key_prefix16("temperature", Some(10)) < key_prefix16("temperature", Some(2)));
        assert_eq!(
            key_prefix16("relative_humidity", Some(2)),
            key_prefix16("relative_humidity", Some(3))
        );
    }
}
