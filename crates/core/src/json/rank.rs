//! Keys' ranks: a number per distinct key, ordered as the keys' text, so that the JSON sink
//! orders an object's members by comparing one word each.
//!
//! The writer keeps every key it has rendered, sorted, with its rank; a key seen for the first
//! time takes a rank halfway between its neighbours'. When two neighbours leave no room, the
//! ranks are spread out evenly again ([`Ranks::renumbered`] maps an old rank to its new one, so
//! that the key cache and the members recorded so far are updated with them). Equal keys (the
//! same text from two names) share a rank. Only the key cache's misses come here, and they
//! find a key they have ranked before by its name's address and channel in a hash index
//! (open addressing, at most half full): the sorted keys are searched only for a name not
//! seen before. Without the index, Milesight's 61 models (more keys than the key cache holds,
//! 0.45 misses a frame) went from 3,177.1 to 3,404.1 instructions a frame to JSON through the
//! registry: each miss searched the sorted keys, about 9 text comparisons.

use alloc::vec::Vec;

use super::key::key_cmp;
use super::order::Orders;

/// A key and its rank.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    name: &'static str,
    channel: Option<u8>,
    rank: u32,
}

/// A name (by address) and channel with its key's rank, in the hash index; address 0 is an
/// empty slot.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    name: usize,
    /// The name's length and the channel (`0x100` for none).
    tag: u64,
    rank: u32,
}

/// Where a name and channel's search of the index starts.
fn home(name: usize, tag: u64, mask: usize) -> usize {
    let hash = (name as u64 ^ (tag << 48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (hash >> 32) as usize & mask
}

/// Every key rendered so far, in key order, with ranks increasing from 1 (0 and `u32::MAX` are
/// never ranks).
#[derive(Debug, Clone)]
pub(super) struct Ranks {
    keys: Vec<Ranked>,
    /// The names seen, by address and channel: a power of two of slots, or none.
    index: Vec<Slot>,
    /// Slots of `index` in use.
    used: usize,
    /// How many times the ranks were spread out: a rank taken before a change of this is stale.
    pub(super) generation: u32,
    /// Top-level member orders remembered from frame to frame (here because the JSON sink
    /// reaches the ranks already).
    pub(super) orders: Orders,
}

impl Ranks {
    /// No keys yet.
    pub(super) const fn new() -> Ranks {
        Ranks {
            keys: Vec::new(),
            index: Vec::new(),
            used: 0,
            generation: 0,
            orders: Orders::new(),
        }
    }

    /// The rank of a known key, or where a new one goes.
    pub(super) fn find(&self, name: &str, channel: Option<u8>) -> Result<u32, usize> {
        self.keys
            .binary_search_by(|k| key_cmp((k.name, k.channel), (name, channel)))
            .map(|i| self.keys.get(i).map_or(0, |k| k.rank))
    }

    /// A free rank between the keys around `at`, if they leave one.
    pub(super) fn between(&self, at: usize) -> Option<u32> {
        let low = at
            .checked_sub(1)
            .and_then(|i| self.keys.get(i))
            .map_or(0, |k| k.rank);
        let high = self.keys.get(at).map_or(u32::MAX, |k| k.rank);
        (high - low >= 2).then(|| low + (high - low) / 2)
    }

    /// The gap between ranks once they are spread out, with room for one more key.
    fn step(&self) -> u32 {
        let n = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        u32::MAX / n.saturating_add(2)
    }

    /// What `old` becomes when the ranks are spread out ([`Ranks::spread`]); 0 (not a rank)
    /// stays 0.
    pub(super) fn renumbered(&self, old: u32) -> u32 {
        match self.keys.binary_search_by_key(&old, |k| k.rank) {
            Ok(i) => (i as u32 + 1) * self.step(),
            Err(_) => 0,
        }
    }

    /// Spreads the ranks out evenly, in the same order.
    pub(super) fn spread(&mut self) {
        let mut index = core::mem::take(&mut self.index);
        for slot in index.iter_mut().filter(|s| s.name != 0) {
            slot.rank = self.renumbered(slot.rank);
        }
        self.index = index;
        let step = self.step();
        for (i, k) in self.keys.iter_mut().enumerate() {
            k.rank = (i as u32 + 1) * step;
        }
        self.generation = self.generation.wrapping_add(1);
    }

    /// Inserts a new key at `at` (from [`Ranks::find`]) with `rank` (from [`Ranks::between`]).
    pub(super) fn insert(&mut self, at: usize, name: &'static str, channel: Option<u8>, rank: u32) {
        self.keys.insert(
            at,
            Ranked {
                name,
                channel,
                rank,
            },
        );
    }

    /// The rank of a key, inserting it if new; `spread` is called with the table before the
    /// ranks are spread out, if they must be.
    pub(super) fn rank(
        &mut self,
        name: &'static str,
        channel: Option<u8>,
        spread: impl FnOnce(&Ranks),
    ) -> u32 {
        let address = name.as_ptr() as usize;
        let tag = ((name.len() as u64) << 16) | u64::from(channel.map_or(0x100, u16::from));
        if let Some(rank) = self.indexed(address, tag) {
            return rank;
        }
        let at = match self.find(name, channel) {
            Ok(rank) => {
                self.remember(address, tag, rank);
                return rank;
            }
            Err(at) => at,
        };
        let rank = match self.between(at) {
            Some(rank) => rank,
            None => {
                spread(self);
                self.spread();
                self.between(at).unwrap_or(0)
            }
        };
        self.insert(at, name, channel, rank);
        self.remember(address, tag, rank);
        rank
    }

    /// The rank of a name and channel seen before.
    fn indexed(&self, name: usize, tag: u64) -> Option<u32> {
        let mask = self.index.len().checked_sub(1)?;
        let mut i = home(name, tag, mask);
        // At most half the slots are used: the search meets an empty one.
        loop {
            let slot = self.index.get(i)?;
            if slot.name == name && slot.tag == tag {
                return Some(slot.rank);
            }
            if slot.name == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Enters a name and channel into the index (not there yet), growing it to stay at most
    /// half full.
    fn remember(&mut self, name: usize, tag: u64, rank: u32) {
        if 2 * (self.used + 1) > self.index.len() {
            let old = core::mem::take(&mut self.index);
            self.index = alloc::vec![Slot::default(); (2 * old.len()).max(64)];
            self.used = 0;
            for slot in old.into_iter().filter(|s| s.name != 0) {
                self.place(slot);
            }
        }
        self.place(Slot { name, tag, rank });
    }

    /// Puts `slot` in the first empty slot from its home (the index has one).
    fn place(&mut self, slot: Slot) {
        let mask = self.index.len().wrapping_sub(1);
        let mut i = home(slot.name, slot.tag, mask);
        while let Some(s) = self.index.get_mut(i) {
            if s.name == 0 {
                *s = slot;
                self.used += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;
    use core::cmp::Ordering;

    impl Ranks {
        /// Compares two keys by rank, ranking them first.
        fn cmp(
            &mut self,
            a: (&'static str, Option<u8>),
            b: (&'static str, Option<u8>),
        ) -> Ordering {
            let x = self.rank(a.0, a.1, |_| {});
            let y = self.rank(b.0, b.1, |_| {});
            x.cmp(&y)
        }
    }

    /// Names that tie on 16 bytes with and without channels, and names that need escapes.
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

    /// The key's text, as it orders.
    fn text(name: &str, channel: Option<u8>) -> String {
        match channel {
            Some(c) => format!("{name}_{c}"),
            None => String::from(name),
        }
    }

    #[test]
    fn ranks_order_as_the_keys_text() {
        let mut ranks = Ranks::new();
        for a in NAMES {
            for b in NAMES {
                for ca in CHANNELS {
                    for cb in CHANNELS {
                        assert_eq!(
                            ranks.cmp((a, ca), (b, cb)),
                            text(a, ca).cmp(&text(b, cb)),
                            "{a:?} {ca:?} {b:?} {cb:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_same_text_from_two_names_has_one_rank() {
        let owned: &'static str = String::from("temperature").leak();
        let mut ranks = Ranks::new();
        assert_eq!(
            ranks.cmp(("temperature", Some(3)), (owned, Some(3))),
            Ordering::Equal
        );
        // `a_1` is the text of the name `a_1` without a channel, and of `a` on channel 1.
        assert_eq!(ranks.cmp(("a_1", None), ("a", Some(1))), Ordering::Equal);
    }

    #[test]
    fn ranks_spread_out_when_neighbours_leave_no_room() {
        let mut ranks = Ranks::new();
        let a = ranks.rank("a", None, |_| {});
        let c = ranks.rank("c", None, |_| {});
        assert!(a < c);
        let (mut spreads, mut last) = (0, a);
        // "b", "bb", "bbb", ...: each between the one before and "c", so that the gap halves
        // each time; the one before's rank, mapped when the ranks are spread, stays below.
        for i in 1..=40 {
            let name: &'static str = "b".repeat(i).leak();
            let before = ranks.generation;
            let mut mapped = last;
            let rank = ranks.rank(name, None, |r| mapped = r.renumbered(last));
            if ranks.generation != before {
                spreads += 1;
                last = mapped;
            }
            assert!(last < rank, "{i}");
            assert!(rank < ranks.rank("c", None, |_| {}), "{i}");
            last = rank;
        }
        assert!(spreads > 0, "40 halvings of the gap spread the ranks");
        assert!(ranks.find("bbb", None).is_ok());
        assert_eq!(ranks.renumbered(0), 0);
    }
}
