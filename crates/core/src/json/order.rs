//! An object's members put in key order: the fragment records the JSON sink keeps of its
//! rendered members, and their sort.
//!
//! A fragment is its key's rank (see [`super::rank`]: ranks order as the keys' text, and
//! equal ranks are equal keys) and where its text starts, in one word, so that a member is
//! recorded with one store of it and compared with one comparison.
//!
//! Measured (instructions a frame, LPP decode + JSON through the registry): ranks in place of
//! 16-byte key prefixes (three stores a member, a network on 128-bit values, keys tied on 16
//! bytes compared as rendered text), 1,800.0 to 1,703.5. Not kept: objects of 5 to 16 members
//! sorted by the comparators of Batcher's network for 8 or 16 that touch them (a loop over a
//! table, the values on the stack) instead of by insertion, 1,703.5 to 1,714.2 (the TTS frames
//! with more than four top-level members have 5 or 12, the twelve 28 insertion steps).
//! The top-level members' order remembered from frame to frame ([`Orders`]): 1,432.8 to
//! 1,384.6.

use core::cmp::Ordering;

/// A rendered object member: its key's rank and where its text starts, in one word.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frag {
    /// The rank in the high half, where its text starts in the buffer (at its leading comma)
    /// in the low half: ordered as (key, input order).
    word: u64,
    /// Where its text ends, set only when an object of more than 16 members is sorted (its
    /// fragments are moved, so the next one's start no longer says).
    end: u64,
}

impl Frag {
    #[inline(always)]
    pub(super) fn new(rank: u32, start: usize) -> Frag {
        Frag {
            word: (u64::from(rank) << 32) | start as u32 as u64,
            end: 0,
        }
    }

    #[inline(always)]
    fn start(&self) -> usize {
        self.word as u32 as usize
    }

    #[inline(always)]
    fn end(&self) -> usize {
        self.end as usize
    }

    #[inline(always)]
    pub(super) fn rank(&self) -> u32 {
        (self.word >> 32) as u32
    }

    /// The same member with its key's rank changed (the ranks were spread out again).
    pub(super) fn set_rank(&mut self, rank: u32) {
        self.word = (u64::from(rank) << 32) | (self.word & 0xffff_ffff);
    }
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

/// Sorts an object's members by their keys' ranks, equal keys in input order: up to 16 as
/// positions into `frags`, in `small`; more by sorting `frags` itself, each fragment's end set
/// first.
#[inline(always)]
pub(super) fn sort_order<'o>(
    small: &'o mut [u8; 16],
    frags: &mut [Frag],
    end: usize,
) -> Sorted<'o> {
    match small.get_mut(..frags.len()) {
        Some(order) => {
            let repeated = sort_positions(order, frags);
            Sorted::Small(order, repeated)
        }
        None => sort_large(frags, end),
    }
}

/// How many orders [`Orders`] remembers, a power of two.
const REMEMBERED: usize = 64;

/// Orders of objects' members remembered from earlier frames: devices send the same records
/// in the same order, so the order that sorted the last object whose first two keys and
/// member count were these is tried first. It is used only when the members' ranks strictly
/// increase along it, which makes it the sorted order (and says no key repeats); otherwise
/// the members are sorted and their order remembered. Ranks spread out meanwhile need no
/// care: the test reads the ranks the members have now.
#[derive(Debug, Clone)]
pub(super) struct Orders {
    orders: [[u8; 16]; REMEMBERED],
}

impl Orders {
    pub(super) const fn new() -> Orders {
        Orders {
            orders: [[0; 16]; REMEMBERED],
        }
    }

    /// [`sort_order`], trying the order remembered for objects like this one first.
    #[inline(always)]
    pub(super) fn sort<'o>(
        &mut self,
        small: &'o mut [u8; 16],
        frags: &mut [Frag],
        end: usize,
    ) -> Sorted<'o> {
        let n = frags.len();
        if n > 16 {
            return sort_large(frags, end);
        }
        let rank = |i: usize| frags.get(i).map_or(0, |f| u64::from(f.rank()));
        let hash = ((rank(0) << 32) | rank(1)) ^ n as u64;
        let slot = (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - REMEMBERED.trailing_zeros()))
            as usize;
        let Some(remembered) = self.orders.get_mut(slot) else {
            return sort_order(small, frags, end);
        };
        if ascends(remembered, frags) {
            *small = *remembered;
            return Sorted::Small(small.get(..n).unwrap_or_default(), false);
        }
        let sorted = sort_order(small, frags, end);
        if let Sorted::Small(order, false) = sorted
            && let Some(to) = remembered.get_mut(..n)
        {
            to.copy_from_slice(order);
        }
        sorted
    }
}

/// Whether the first `frags.len()` positions of `order` are positions into `frags` along
/// which the ranks strictly increase: then they are every position once, in key order.
#[inline(always)]
fn ascends(order: &[u8; 16], frags: &[Frag]) -> bool {
    // No rank is 0.
    let mut last = 0;
    let mut ascending = true;
    for &i in order.iter().take(frags.len()) {
        let Some(f) = frags.get(usize::from(i)) else {
            return false;
        };
        let rank = f.rank();
        ascending &= rank > last;
        last = rank;
    }
    ascending
}

/// [`sort_order`] for more than 16 members.
#[cold]
#[inline(never)]
fn sort_large(frags: &mut [Frag], end: usize) -> Sorted<'static> {
    let mut next = end as u64;
    for f in frags.iter_mut().rev() {
        f.end = next;
        next = f.start() as u64;
    }
    // By rank, then start: equal keys in input order.
    frags.sort_unstable_by_key(|f| f.word);
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
                && next.rank() == f.rank()
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
/// Up to four members (most objects) go through a branch-free sorting network on the ranks
/// (the low byte of each value holds the position): random member order makes a comparison's
/// branch a coin toss. A repeated key falls back to the insertion sort.
#[inline(always)]
fn sort_positions(order: &mut [u8], frags: &[Frag]) -> bool {
    let n = order.len();
    if (2..=4).contains(&n) {
        let mut v = [u64::MAX; 4];
        for (i, slot) in v.iter_mut().enumerate().take(n) {
            let rank = frags
                .get(i)
                .map_or(u64::from(u32::MAX), |f| u64::from(f.rank()));
            *slot = (rank << 8) | i as u64;
        }
        let exchange = |v: &mut [u64; 4], i: usize, j: usize| {
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
    let rank = |i: u8| frags.get(usize::from(i)).map_or(0, Frag::rank);
    let mut repeated = false;
    for i in 1..order.len() {
        let mut j = i;
        while j > 0 {
            let (Some(&a), Some(&b)) = (order.get(j - 1), order.get(j)) else {
                break;
            };
            match rank(a).cmp(&rank(b)) {
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
