//! The key cache: each key rendered once (`,"temperature_3":`), kept with its rank, and copied
//! into the buffer with one 32-byte move on every later use.

use alloc::boxed::Box;

use super::JsonSink;
use crate::json::key::put_key;
use crate::json::text::put_byte;

/// A rendered key, remembered: `,"temperature_3":` for one name (by address: names are
/// `'static`) and channel. Codecs use a handful of keys over and over.
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::json) struct CachedKey {
    name: usize,
    /// The name's length and the channel (`0x100` for none): [`tag`].
    tag: u64,
    /// The key's rank ([`super::rank`]).
    rank: u32,
    len: u8,
    text: [u8; 32],
}

/// A key's name length and channel as one word, compared at once.
#[inline(always)]
fn tag(name: &str, channel: Option<u8>) -> u64 {
    ((name.len() as u64) << 16) | u64::from(channel.map_or(0x100, u16::from))
}

/// Sets of the key cache, a power of two; each holds two keys, the one rendered last first.
/// Two ways, because a direct-mapped cache makes the writer's speed a matter of where the
/// linker put the names: two frequent keys of a codec in one slot evict each other on every
/// frame (with 128 direct-mapped slots, one build of the LPP bench rendered 0.43 keys a frame
/// again, another 0.11). 256 sets, not 128: Milesight's 61 models use more keys than 256
/// slots hold (0.45 misses a frame); with 512 slots its decode + JSON through the registry
/// went from 2,954.6 to 2,873.7 instructions a frame, LPP's from 1,658.0 to 1,655.6.
const SETS: usize = 256;

/// The key cache.
pub(in crate::json) type KeyCache = [[CachedKey; 2]; SETS];

/// An empty key cache, made once per writer (built out of line: the array is 28 KiB).
#[cold]
#[inline(never)]
pub(super) fn new_key_cache() -> Box<KeyCache> {
    Box::new([[CachedKey::default(); 2]; SETS])
}

impl JsonSink<'_> {
    /// Writes `,"<name>_<channel>":` at `start`, from the key cache when it holds the key;
    /// returns the end and the key's rank.
    #[inline(always)]
    pub(super) fn put_member_key(
        &mut self,
        start: usize,
        name: &'static str,
        channel: Option<u8>,
    ) -> (usize, u32) {
        let address = name.as_ptr() as usize;
        let tag = tag(name, channel);
        // Multiplicative hashing of name and channel: the top bits of the product.
        let hash = ((address as u64) ^ (tag << 48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let set = (hash >> (64 - SETS.trailing_zeros())) as usize;
        if let Some([first, second]) = self.keys.get(set) {
            let hit = if first.name == address && first.tag == tag {
                Some(first)
            } else if second.name == address && second.tag == tag {
                Some(second)
            } else {
                None
            };
            if let Some(key) = hit {
                let (text, len, rank) = (key.text, key.len, key.rank);
                if let Some(dst) = self.buf.get_mut(start..start + 32) {
                    dst.copy_from_slice(&text);
                }
                return (start + usize::from(len), rank);
            }
        }
        self.put_new_key(start, name, channel, set)
    }

    /// [`JsonSink::put_member_key`] for a key the cache does not hold: rendered, and kept in
    /// `set` if it fits. Out of line: the hit is the hot path of every codec, and a miss
    /// inlined into it makes the codec's loop larger (rare for most codecs, every time for
    /// keys longer than a slot).
    #[inline(never)]
    fn put_new_key(
        &mut self,
        start: usize,
        name: &'static str,
        channel: Option<u8>,
        set: usize,
    ) -> (usize, u32) {
        let (frags, keys) = (&mut *self.frags, &mut *self.keys);
        // When the ranks are spread out, the cached keys and the members recorded so far take
        // their new ranks (in the same order).
        let rank = self.ranks.rank(name, channel, |ranks| {
            for f in frags.iter_mut() {
                f.set_rank(ranks.renumbered(f.rank()));
            }
            for key in keys.iter_mut().flatten() {
                key.rank = ranks.renumbered(key.rank);
            }
        });
        let buf: &mut [u8] = &mut self.buf[..];
        let after_comma = put_byte(buf, start, b',');
        let end = put_key(buf, after_comma, name, channel);
        if let (Some(text), Some([first, second])) = (
            buf.get(start..start + 32).filter(|_| end - start <= 32),
            self.keys.get_mut(set),
        ) {
            // The older key makes room; the new one goes first.
            *second = *first;
            first.text.copy_from_slice(text);
            first.len = (end - start) as u8;
            first.name = name.as_ptr() as usize;
            first.tag = tag(name, channel);
            first.rank = rank;
        }
        (end, rank)
    }
}
