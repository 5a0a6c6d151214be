//! A model's rules with their lookup, built at compile time: the rule of a pair is an index by
//! channel id and a test or two of the type byte, not a search of the chain.
//!
//! For each channel id, the table lists the type tests of the rules whose channel test it
//! passes, in the chain's order (wildcards and sets expanded), ending with a test every type
//! passes; channel ids with the same rules share one list. The first test a pair's type passes
//! names its rule, as the chain's first match would. Each test carries its rule's value size,
//! where a list of items says it, so that a value is checked against it once, and the rule
//! itself by reference (an index into the chain cost a bounds check and a multiply per pair:
//! 581.6 against 566.7 instructions a frame on the codecs bench's mix). A rule whose value is one
//! integer printed as a decimal has that number's name, type and scaling in its tests, so that
//! its pairs read no rule at all (550.8 to 511.1).
//!
//! No hash is needed, so no crate for one: a channel id indexes 256 entries directly, and a
//! channel has one to three tests in every model.

use super::items::items_size;
use super::{Gather, Id, Int, Item, Read, Rule};

/// No gathered container: a test's rule gathers nothing.
const NONE: u8 = u8::MAX;

/// The `ty` of a test that every byte, and a missing one, passes (with `negate`).
const ANY: u16 = 0x100;

/// What the type of the payload's lone last byte is looked up as: equal to no test's byte, so
/// that only the negated tests (`Not`, `Any`) pass, as in the decoders, where `channel_type` is
/// then `undefined`.
pub(super) const ABSENT: u16 = 0x200;

/// Tests a table holds at most (a compile-time check); a power of 2, so that a list's first
/// index is masked into range rather than checked (505.5 against 508.9 instructions a frame).
const CAPACITY: usize = 64;
const _: () = assert!(CAPACITY.is_power_of_two());

/// One type test: the type passes when it equals `ty`, or, with `negate`, when it does not.
#[derive(Debug, Clone, Copy)]
pub(super) struct Test {
    ty: u16,
    negate: bool,
    /// Where the rule's value is one integer printed as a decimal (`[Item::Num]` of an integer
    /// type, a divisor of 2 or a power of ten): its type, with [`Test::name`], [`Test::mul`]
    /// and [`Test::scale`], so that the commonest pair reads its test only, not its rule, its
    /// items and its item.
    pub(super) num: Option<Int>,
    /// What the number is multiplied by (`Div`'s), where `num` is set.
    pub(super) mul: u8,
    /// The decimal's scale, where `num` is set.
    pub(super) scale: u8,
    /// The number's name, where `num` is set.
    pub(super) name: &'static str,
    /// The rule, none for a list's last test where no rule matches: a reference, not an
    /// index into the chain, so that a pair's rule is one load with no bounds check.
    rule: Option<&'static Rule>,
    /// The bytes of the rule's value where its items say ([`Read::Items`], [`Read::Into`]);
    /// else 0.
    size: u8,
    /// The rule's gathered container, numbered per table (rules naming the same container
    /// share its number), or [`NONE`].
    container: u8,
}

impl Test {
    const fn new(
        ty: u16,
        negate: bool,
        rule: Option<&'static Rule>,
        size: u8,
        container: u8,
    ) -> Test {
        let (num, mul, scale, name) = match rule {
            Some(&Rule {
                read: Read::Items(&[Item::Num(name, int, div)]),
                ..
            }) if !matches!(int, Int::F32) && div.mul() != 0 => {
                (Some(int), div.mul(), div.scale(), name)
            }
            _ => (None, 0, 0, ""),
        };
        Test {
            ty,
            negate,
            num,
            mul,
            scale,
            name,
            rule,
            size,
            container,
        }
    }

    /// The rule, none where no rule matches.
    #[inline(always)]
    pub(super) fn rule(&self) -> Option<&'static Rule> {
        self.rule
    }

    /// The value's size where its items say it, else 0.
    #[inline(always)]
    pub(super) fn size(&self) -> usize {
        usize::from(self.size)
    }

    /// The gathered container's number in the table, the same for every rule naming it.
    #[inline(always)]
    pub(super) fn container(&self) -> u8 {
        self.container
    }
}

const END: Test = Test::new(ANY, true, None, 0, NONE);

/// What [`Table::find`] finds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    pub(super) rule: &'static Rule,
    /// The value's size where its items say it, else 0.
    pub(super) size: usize,
    /// The gathered container's number in the table, the same for every rule naming it.
    pub(super) container: u8,
}

/// A model's chain of [`Rule`]s and its lookup (see the module doc).
///
/// ```
/// use lorafield_codec_milesight::engine::{Int, Item, ONE, Table, rule};
///
/// static TABLE: Table = Table::new(&[rule(0x01, 0x75, &[Item::Num("battery", Int::U8, ONE)])]);
/// assert_eq!(TABLE.rules().len(), 1);
/// ```
#[derive(Debug)]
pub struct Table {
    rules: &'static [Rule],
    /// Per channel id, its first test in `tests`.
    first: [u8; 256],
    tests: [Test; CAPACITY],
}

impl Table {
    /// The table of `rules`. At most 64 rules whose tests, expanded per channel id, fit in 64
    /// entries; a larger table fails to compile.
    // Evaluated at compile time: an index out of range fails the build.
    #[allow(clippy::indexing_slicing)]
    pub const fn new(rules: &'static [Rule]) -> Table {
        assert!(rules.len() <= 64, "a table holds at most 64 rules");
        let mut table = Table {
            rules,
            first: [0; 256],
            tests: [END; CAPACITY],
        };
        // The rules each list stands for, as a bit set, and where the list starts.
        let mut lists = [(0u64, 0u8); 256];
        let mut n_lists = 0;
        let mut len = 0;
        let mut channel = 0;
        while channel < 256 {
            let mut set = 0u64;
            let mut r = 0;
            while r < rules.len() {
                if id_matches(rules[r].channel, channel as u8) {
                    set |= 1 << r;
                }
                r += 1;
            }
            let mut k = 0;
            while k < n_lists && lists[k].0 != set {
                k += 1;
            }
            if k == n_lists {
                lists[k] = (set, len as u8);
                n_lists += 1;
                len = push_list(&mut table.tests, len, rules, set);
            }
            table.first[channel] = lists[k].1;
            channel += 1;
        }
        table
    }

    /// The chain of rules.
    pub const fn rules(&self) -> &'static [Rule] {
        self.rules
    }

    /// The first rule matching channel id `channel` and type `ty` (a byte, or [`ABSENT`]).
    #[inline(always)]
    pub(super) fn find(&self, channel: u8, ty: u16) -> Option<Found> {
        let test = self.test(channel, ty)?;
        Some(Found {
            rule: test.rule?,
            size: usize::from(test.size),
            container: test.container,
        })
    }

    /// The test of the first rule matching channel id `channel` and type `ty` (a byte, or
    /// [`ABSENT`]), or the list's last, which has no rule.
    #[inline(always)]
    pub(super) fn test(&self, channel: u8, ty: u16) -> Option<&Test> {
        // Masked, not checked: every list starts inside the table.
        let mut i = usize::from(*self.first.get(usize::from(channel))?) & (CAPACITY - 1);
        loop {
            let test = self.tests.get(i)?;
            if (test.ty == ty) != test.negate {
                return Some(test);
            }
            i += 1;
        }
    }
}

/// Whether `b` passes `id` (`Id::matches`, for compile time).
#[allow(clippy::indexing_slicing)]
const fn id_matches(id: Id, b: u8) -> bool {
    match id {
        Id::Is(x) => b == x,
        Id::Not(x) => b != x,
        Id::Any => true,
        Id::In(set) => {
            let mut i = 0;
            while i < set.len() {
                if set[i] == b {
                    return true;
                }
                i += 1;
            }
            false
        }
    }
}

/// Appends to `tests` from `len` the type tests of the rules in `set`, in order, up to one
/// every type passes; returns the new length.
#[allow(clippy::indexing_slicing)]
const fn push_list(
    tests: &mut [Test; CAPACITY],
    mut len: usize,
    rules: &'static [Rule],
    set: u64,
) -> usize {
    let mut r = 0;
    while r < rules.len() {
        if set & (1 << r) != 0 {
            let size = match rules[r].read {
                Read::Items(items) | Read::Into(_, items) => {
                    check_items(items);
                    items_size(items)
                }
                _ => 0,
            };
            assert!(size <= u8::MAX as usize, "a value of more than 255 bytes");
            let (rule, size, c) = (Some(&rules[r]), size as u8, container(rules, r));
            match rules[r].ty {
                Id::Is(x) => len = push(tests, len, Test::new(x as u16, false, rule, size, c)),
                Id::Not(x) => len = push(tests, len, Test::new(x as u16, true, rule, size, c)),
                Id::Any => return push(tests, len, Test::new(ANY, true, rule, size, c)),
                Id::In(set) => {
                    let mut i = 0;
                    while i < set.len() {
                        let test = Test::new(set[i] as u16, false, rule, size, c);
                        len = push(tests, len, test);
                        i += 1;
                    }
                }
            }
        }
        r += 1;
    }
    push(tests, len, END)
}

/// The number of rule `r`'s gathered container: the index of the first rule naming the same
/// container (name and shape), or [`NONE`] for a rule that gathers nothing.
#[allow(clippy::indexing_slicing)]
const fn container(rules: &[Rule], r: usize) -> u8 {
    let Some(g) = gathers(&rules[r]) else {
        return NONE;
    };
    let mut first = 0;
    while first < r {
        if let Some(other) = gathers(&rules[first])
            && str_eq(g.name, other.name)
            && g.shape as u8 == other.shape as u8
        {
            break;
        }
        first += 1;
    }
    first as u8
}

const fn gathers(rule: &Rule) -> Option<Gather> {
    match rule.read {
        Read::Into(g, _) | Read::IntoCustom(g, _) => Some(g),
        _ => None,
    }
}

#[allow(clippy::indexing_slicing)]
const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Fails the build where an item would fail at run time whatever the bytes: a label, bits or
/// a suffix of a float. Items can then fail only when short, so a value of the right size
/// ([`items_size`]) reads.
#[allow(clippy::indexing_slicing)]
const fn check_items(items: &[Item]) {
    let mut i = 0;
    while i < items.len() {
        match items[i] {
            Item::Enum(_, Int::F32, ..)
            | Item::Bits(Int::F32, _)
            | Item::Suffixed(_, Int::F32, _) => {
                panic!("a label, bits or a suffix of a float")
            }
            Item::Object(_, inner) => check_items(inner),
            _ => {}
        }
        i += 1;
    }
}

#[allow(clippy::indexing_slicing)]
const fn push(tests: &mut [Test; CAPACITY], len: usize, test: Test) -> usize {
    assert!(len < CAPACITY, "a table of more than 64 tests");
    tests[len] = test;
    len + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{KeyChannel, ONE, Shape, rule};
    use crate::models;
    use alloc::vec::Vec;

    /// The chain's first match, as the decoders test: `None` for a missing type byte passes
    /// only `Not` and `Any`.
    fn chain(rules: &'static [Rule], channel: u8, ty: Option<u8>) -> Option<&'static Rule> {
        let passes = |id: Id, b: Option<u8>| match (id, b) {
            (Id::Is(x), Some(b)) => b == x,
            (Id::Not(x), Some(b)) => b != x,
            (Id::In(set), Some(b)) => set.contains(&b),
            (Id::Any, _) | (Id::Not(_), None) => true,
            (Id::Is(_) | Id::In(_), None) => false,
        };
        rules
            .iter()
            .find(|r| passes(r.channel, Some(channel)) && passes(r.ty, ty))
    }

    /// A one-number test's number: name, type, multiplier and scale.
    fn test_num(test: &Test) -> Option<(&'static str, Int, u8, u8)> {
        test.num.map(|int| (test.name, int, test.mul, test.scale))
    }

    /// The same from the rule: one item, a number of an integer type printed as a decimal.
    fn rule_num(rule: Option<&Rule>) -> Option<(&'static str, Int, u8, u8)> {
        match rule?.read {
            Read::Items(&[Item::Num(name, int, div)]) if int != Int::F32 && div.mul() != 0 => {
                Some((name, int, div.mul(), div.scale()))
            }
            _ => None,
        }
    }

    #[test]
    fn every_pair_of_every_model_finds_the_chains_first_match() {
        let types = (0..=255).map(Some).chain([None]);
        let mut numbers = 0;
        for model in models() {
            let table = &model.table;
            for channel in 0..=255u8 {
                for ty in types.clone() {
                    let want = chain(table.rules(), channel, ty);
                    let got = table.find(channel, ty.map_or(ABSENT, u16::from));
                    let same = match (want, got.map(|f| (f.rule, f.size))) {
                        (None, None) => true,
                        (Some(w), Some((g, size))) => {
                            let items = match w.read {
                                Read::Items(items) | Read::Into(_, items) => items_size(items),
                                _ => 0,
                            };
                            core::ptr::eq(w, g) && size == items
                        }
                        _ => false,
                    };
                    assert!(same, "{}: {channel:02x} {ty:02x?}", model.id);
                    let test = table.test(channel, ty.map_or(ABSENT, u16::from)).unwrap();
                    numbers += usize::from(test.num.is_some());
                    assert_eq!(
                        test_num(test),
                        rule_num(want),
                        "{}: {channel:02x} {ty:02x?}",
                        model.id
                    );
                }
            }
        }
        // Many pairs are single numbers: the fast path is taken (210 pairs over the 61 models).
        assert!(numbers >= 200, "{numbers}");
    }

    static WILD: Table = Table::new(&[
        Rule {
            channel: Id::In(&[1, 2]),
            ty: Id::In(&[7, 8]),
            read: Read::Items(&[Item::Num("a", crate::engine::Int::U16, ONE)]),
        },
        Rule {
            channel: Id::Not(1),
            ty: Id::Not(7),
            read: Read::Items(&[Item::Num("b", crate::engine::Int::U32, ONE)]),
        },
        rule(1, 9, &[]),
        Rule {
            channel: Id::Any,
            ty: Id::Any,
            read: Read::SkipPair,
        },
        // Never reached: the rule above takes every pair.
        rule(5, 5, &[]),
    ]);

    #[test]
    fn wildcards_and_sets_keep_the_chains_order() {
        let rules = WILD.rules();
        for channel in 0..=255u8 {
            for ty in (0..=255).map(Some).chain([None]) {
                let want = chain(rules, channel, ty).map(|r| r as *const Rule);
                let got = WILD.find(channel, ty.map_or(ABSENT, u16::from));
                assert_eq!(got.map(|f| f.rule as *const Rule), want, "{channel} {ty:?}");
            }
        }
        let index = |c, t| {
            let f = WILD.find(c, t).unwrap();
            (
                rules.iter().position(|x| core::ptr::eq(x, f.rule)).unwrap(),
                f.size,
            )
        };
        assert_eq!(index(2, 8), (0, 2));
        assert_eq!(index(2, 9), (1, 4));
        assert_eq!(index(1, 9), (2, 0));
        assert_eq!(index(1, 7), (0, 2));
        assert_eq!(index(1, ABSENT), (3, 0));
        assert_eq!(index(5, 5), (1, 4));
        assert_eq!(index(5, 7), (3, 0));
    }

    const fn gathered(c: u8, name: &'static str, shape: Shape) -> Rule {
        Rule {
            channel: Id::Is(c),
            ty: Id::Is(1),
            read: Read::Into(
                Gather {
                    name,
                    channel: KeyChannel::None,
                    shape,
                },
                &[],
            ),
        }
    }

    static GATHERING: Table = Table::new(&[
        rule(0, 1, &[]),
        gathered(1, "history", Shape::Array),
        gathered(2, "line", Shape::Object),
        gathered(3, "history", Shape::Array),
        gathered(4, "history", Shape::Object),
        gathered(5, "line", Shape::Object),
    ]);

    #[test]
    fn rules_naming_one_container_share_its_number() {
        let numbers: Vec<u8> = (0..6)
            .map(|c| GATHERING.find(c, 1).unwrap().container)
            .collect();
        assert_eq!(numbers, [NONE, 1, 2, 1, 4, 2]);
        // The VS133's three rules per line fill the same `line_<n>` objects.
        let vs133 = &crate::model("vs133").unwrap().table;
        let line = |c| {
            vs133
                .find(c, 0xd2)
                .or(vs133.find(c, 0xcc))
                .unwrap()
                .container
        };
        assert_eq!([line(3), line(4), line(5), line(0x0e)], [0; 4]);
    }
}
