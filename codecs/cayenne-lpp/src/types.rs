//! The Cayenne LPP type table.

use core::fmt;
use core::str::FromStr;

/// How a number is stored: its size, signedness and divisor (`value = raw / divisor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Num {
    /// Size in bytes (1-4), big-endian.
    pub size: u8,
    /// Two's complement if true.
    pub signed: bool,
    /// `value = raw / divisor`.
    pub divisor: u32,
    /// `divisor` as `10^scale / mul`: the raw value times `mul` is the decimal's digits.
    /// A full word, so that the multiplication reads it from the table as its operand (x86's
    /// `imul` takes one from memory) rather than loading it into a register first.
    pub(crate) mul: i64,
    pub(crate) scale: u8,
    /// The low `size` bytes of a word: `raw = ((word & mask) ^ sign) - sign_wide`.
    pub(crate) mask: u32,
    /// The sign bit of a signed number's `size` bytes, 0 if unsigned: with `mask`, the value
    /// sign-extended in three operations, the same for every type.
    pub(crate) sign: u32,
    /// `sign` again, as the 64-bit word subtracted: each of the two operations then reads
    /// its own operand from the table (a value read once and used twice is loaded into a
    /// register, one instruction and one register more in the record loop).
    pub(crate) sign_wide: u64,
}

impl Num {
    pub(crate) const fn new(size: u8, signed: bool, divisor: u32) -> Num {
        // Divisors are powers of ten, or 2 (0.5 steps: raw * 5 tenths).
        let (mul, scale) = match divisor {
            2 => (5, 1),
            _ => {
                let mut d = divisor;
                let mut scale = 0;
                while d > 1 {
                    assert!(d.is_multiple_of(10), "divisor must be 2 or a power of ten");
                    d /= 10;
                    scale += 1;
                }
                (1, scale)
            }
        };
        Num {
            size,
            signed,
            divisor,
            mul,
            scale,
            mask: u32::MAX >> (32 - 8 * size as u32),
            sign: Num::sign_bit(size, signed),
            sign_wide: Num::sign_bit(size, signed) as u64,
        }
    }

    /// The sign bit of a number of `size` bytes, 0 if unsigned.
    const fn sign_bit(size: u8, signed: bool) -> u32 {
        if signed {
            1 << (8 * size as u32 - 1)
        } else {
            0
        }
    }

    /// The smallest and largest raw value the size holds.
    pub const fn raw_range(&self) -> (i64, i64) {
        let bits = self.size as u32 * 8;
        if self.signed {
            (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
        } else {
            (0, (1i64 << bits) - 1)
        }
    }
}

/// One member of an object-valued type (`x`, `latitude`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its key inside the object.
    pub name: &'static str,
    /// How it is stored.
    pub num: Num,
}

/// The shape of a type's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One number.
    Scalar(Num),
    /// Several numbers, printed as an object with these members (in wire order).
    Object(&'static [Member]),
}

/// One Cayenne LPP type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Type {
    /// The type byte (IPSO object id - 3200).
    pub id: u8,
    /// The key's name; the key is `<name>_<channel>`.
    pub name: &'static str,
    /// The value's shape.
    pub layout: Layout,
    /// One of the 12 types of LPP v1 (both profiles); otherwise `extended` only.
    pub v1: bool,
    /// The value's size in bytes.
    pub size: u8,
    /// The record's size in bytes: channel, type and value ([`NOT_A_TYPE`] for a type byte
    /// the profile does not know, so that the decoder's bound test catches it).
    pub(crate) record_len: usize,
    /// For objects: the members in key order, so that they are emitted sorted and a JSON
    /// writer need not sort them, each with where its bytes end.
    pub(crate) sorted: [Sorted; 3],
}

/// An object's member as the decoder reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sorted {
    pub(crate) name: &'static str,
    pub(crate) num: Num,
    /// One past its last byte, counted from the record's first byte (the channel).
    pub(crate) end: u8,
    /// How many bytes of the record follow it.
    pub(crate) back: u8,
}

impl Type {
    const fn new(id: u8, name: &'static str, v1: bool, layout: Layout) -> Type {
        let size = match layout {
            Layout::Scalar(n) => n.size,
            Layout::Object(mut members) => {
                let mut size = 0;
                while let [first, rest @ ..] = members {
                    size += first.num.size;
                    members = rest;
                }
                size
            }
        };
        let sorted = match layout {
            Layout::Scalar(num) => {
                let none = Sorted {
                    name: "",
                    num,
                    end: 0,
                    back: 0,
                };
                [none; 3]
            }
            Layout::Object(members) => sorted(members),
        };
        Type {
            id,
            name,
            layout,
            v1,
            size,
            record_len: size as usize + 2,
            sorted,
        }
    }

    /// The type called `name` in `profile`.
    pub fn by_name(name: &str, profile: Profile) -> Option<&'static Type> {
        let t = TYPES.iter().find(|t| t.name == name)?;
        profile.lookup(t.id)
    }
}

/// Whether `a < b` bytewise.
const fn str_lt(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a, b) {
            ([x, ra @ ..], [y, rb @ ..]) => {
                if *x != *y {
                    return *x < *y;
                }
                a = ra;
                b = rb;
            }
            ([], [_, ..]) => return true,
            _ => return false,
        }
    }
}

/// The three members of an object in key order, each with where it ends.
// Evaluated at compile time only: an index out of range would fail the build.
#[allow(clippy::indexing_slicing)]
const fn sorted(members: &[Member]) -> [Sorted; 3] {
    assert!(members.len() == 3, "objects have three members");
    let mut order = [0usize, 1, 2];
    // Insertion sort of the positions by name.
    let mut i = 1;
    while i < 3 {
        let mut j = i;
        while j > 0 && str_lt(members[order[j]].name, members[order[j - 1]].name) {
            let t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    // The header (channel, type), then the members in wire order.
    let mut ends = [0u8; 3];
    let mut end = 2;
    let mut i = 0;
    while i < 3 {
        end += members[i].num.size;
        ends[i] = end;
        i += 1;
    }
    let (a, b, c) = (order[0], order[1], order[2]);
    [
        Sorted {
            name: members[a].name,
            num: members[a].num,
            end: ends[a],
            back: end - ends[a],
        },
        Sorted {
            name: members[b].name,
            num: members[b].num,
            end: ends[b],
            back: end - ends[b],
        },
        Sorted {
            name: members[c].name,
            num: members[c].num,
            end: ends[c],
            back: end - ends[c],
        },
    ]
}

const U: bool = false;
const S: bool = true;

const fn scalar(id: u8, name: &'static str, v1: bool, size: u8, signed: bool, div: u32) -> Type {
    Type::new(id, name, v1, Layout::Scalar(Num::new(size, signed, div)))
}

const fn object(id: u8, name: &'static str, v1: bool, members: &'static [Member]) -> Type {
    Type::new(id, name, v1, Layout::Object(members))
}

const fn member(name: &'static str, size: u8, signed: bool, div: u32) -> Member {
    Member {
        name,
        num: Num::new(size, signed, div),
    }
}

const XYZ_1000: &[Member] = &[
    member("x", 2, S, 1000),
    member("y", 2, S, 1000),
    member("z", 2, S, 1000),
];
const XYZ_100: &[Member] = &[
    member("x", 2, S, 100),
    member("y", 2, S, 100),
    member("z", 2, S, 100),
];
const GPS: &[Member] = &[
    member("latitude", 3, S, 10000),
    member("longitude", 3, S, 10000),
    member("altitude", 3, S, 100),
];
const RGB: &[Member] = &[
    member("r", 1, U, 1),
    member("g", 1, U, 1),
    member("b", 1, U, 1),
];

const V1: bool = true;
const EXT: bool = false;

/// Every type, as the spec's tables list them: id, key name, profile, and the value's size,
/// signedness and divisor.
#[rustfmt::skip]
pub static TYPES: [Type; 26] = [
    //     id   name                   profile  bytes sign divisor
    scalar(0,   "digital_in",          V1,      1,    U,   1),
    scalar(1,   "digital_out",         V1,      1,    U,   1),
    scalar(2,   "analog_in",           V1,      2,    S,   100),
    scalar(3,   "analog_out",          V1,      2,    S,   100),
    scalar(101, "luminosity",          V1,      2,    U,   1),
    scalar(102, "presence",            V1,      1,    U,   1),
    scalar(103, "temperature",         V1,      2,    S,   10),
    scalar(104, "relative_humidity",   V1,      1,    U,   2),
    object(113, "accelerometer",       V1,      XYZ_1000),
    scalar(115, "barometric_pressure", V1,      2,    U,   10),
    object(134, "gyrometer",           V1,      XYZ_100),
    object(136, "gps",                 V1,      GPS),
    scalar(100, "generic_sensor",      EXT,     4,    U,   1),
    scalar(116, "voltage",             EXT,     2,    U,   100),
    scalar(117, "current",             EXT,     2,    U,   1000),
    scalar(118, "frequency",           EXT,     4,    U,   1),
    scalar(120, "percentage",          EXT,     1,    U,   1),
    scalar(121, "altitude",            EXT,     2,    S,   1),
    scalar(125, "concentration",       EXT,     2,    U,   1),
    scalar(128, "power",               EXT,     2,    U,   1),
    scalar(130, "distance",            EXT,     4,    U,   1000),
    scalar(131, "energy",              EXT,     4,    U,   1000),
    scalar(132, "direction",           EXT,     2,    U,   1),
    scalar(133, "unix_time",           EXT,     4,    U,   1),
    object(135, "colour",              EXT,     RGB),
    scalar(142, "switch",              EXT,     1,    U,   1),
];

/// Where The Things Stack departs from the table: it reads the barometer as int16
/// (`73 FFFF` is -0.1).
#[rustfmt::skip]
static TTS_QUIRKS: [Type; 1] = [
    scalar(115, "barometric_pressure", V1,      2,    S,   10),
];

/// Which types a frame may hold and how they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// The Things Stack's built-in formatter: v1 types only, the barometer read as signed, and
    /// nothing kept when a frame has an error.
    Tts,
    /// v1 plus the extended types, values as the spec says, partial results kept.
    #[default]
    Extended,
}

/// The record length of [`UNKNOWN`]: past the end of any payload from any position (a
/// slice's length and a position in it are at most `isize::MAX`), and no overflow added to one.
pub(crate) const NOT_A_TYPE: usize = 1 << (usize::BITS - 1);

/// What a profile's table holds for a type byte it does not know: a record longer than any
/// payload, so that the decoder's loop needs no test of its own for it.
static UNKNOWN: Type = {
    let mut t = scalar(0, "", U, 1, U, 1);
    t.record_len = NOT_A_TYPE;
    t
};

/// A profile's lookup by type byte.
///
/// Each record's length has a column of its own, read apart from the type: the next record's
/// position waits on the type byte and one load after it, not on the type's address and then
/// its length (two dependent loads). The LPP loop is bound by that chain, record after record:
/// measured in `benches/README.md` ("Ninth round": the record length in a column of its own).
pub(crate) struct Table {
    /// Each type byte's record length: its type's `record_len`, [`NOT_A_TYPE`] where there is
    /// none.
    pub(crate) lens: [usize; 256],
    /// Each type byte's type ([`UNKNOWN`] where there is none).
    pub(crate) types: [&'static Type; 256],
}

/// The type of each type byte in a profile ([`UNKNOWN`] where there is none).
// Evaluated at compile time only: an index out of range would fail the build.
#[allow(clippy::indexing_slicing)]
const fn table(profile: Profile, types: &'static [Type], quirks: &'static [Type]) -> Table {
    let mut table = Table {
        lens: [NOT_A_TYPE; 256],
        types: [&UNKNOWN; 256],
    };
    let mut i = 0;
    while i < types.len() {
        let t = &types[i];
        if t.v1 || matches!(profile, Profile::Extended) {
            table.types[t.id as usize] = t;
            table.lens[t.id as usize] = t.record_len;
        }
        i += 1;
    }
    let mut i = 0;
    while i < quirks.len() {
        table.types[quirks[i].id as usize] = &quirks[i];
        table.lens[quirks[i].id as usize] = quirks[i].record_len;
        i += 1;
    }
    table
}

static TTS_TABLE: Table = table(Profile::Tts, &TYPES, &TTS_QUIRKS);
static EXTENDED_TABLE: Table = table(Profile::Extended, &TYPES, &[]);

impl Profile {
    /// Every profile, the default last.
    pub const ALL: [Profile; 2] = [Profile::Tts, Profile::Extended];

    /// The profile's name as given on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Tts => "tts",
            Profile::Extended => "extended",
        }
    }

    /// The type a type byte denotes in this profile.
    #[inline]
    pub fn lookup(self, ty: u8) -> Option<&'static Type> {
        let t = self.entry(ty);
        (t.record_len != NOT_A_TYPE).then_some(t)
    }

    /// The table's entry for a type byte: its type, or one whose record length is
    /// [`NOT_A_TYPE`].
    #[inline(always)]
    pub(crate) fn entry(self, ty: u8) -> &'static Type {
        entry(self.table(), ty)
    }

    /// The profile's table: its type for each type byte.
    pub(crate) const fn table(self) -> &'static Table {
        match self {
            Profile::Tts => &TTS_TABLE,
            Profile::Extended => &EXTENDED_TABLE,
        }
    }
}

/// `table`'s record length for a type byte: its type's, or [`NOT_A_TYPE`].
#[inline(always)]
pub(crate) fn record_len(table: &'static Table, ty: u8) -> usize {
    // A table has a length for every byte.
    table
        .lens
        .get(usize::from(ty))
        .copied()
        .unwrap_or(NOT_A_TYPE)
}

/// `table`'s entry for a type byte: its type, or one whose record length is [`NOT_A_TYPE`].
#[inline(always)]
pub(crate) fn entry(table: &'static Table, ty: u8) -> &'static Type {
    // A table has an entry for every byte.
    table
        .types
        .get(usize::from(ty))
        .copied()
        .unwrap_or(&UNKNOWN)
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A profile name that is not `tts` or `extended`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownProfile;

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown Cayenne LPP profile (known: tts, extended)")
    }
}

impl core::error::Error for UnknownProfile {}

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tts" => Ok(Profile::Tts),
            "extended" => Ok(Profile::Extended),
            _ => Err(UnknownProfile),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use alloc::vec::Vec;

    /// The length column agrees with the types, byte by byte: the decoder's bound test
    /// reads one and the record's layout the other.
    #[test]
    fn each_record_length_is_its_types() {
        for profile in Profile::ALL {
            let table = profile.table();
            for ty in 0..=255u8 {
                let t = entry(table, ty);
                assert_eq!(record_len(table, ty), t.record_len, "{profile} {ty}");
                let known = profile.lookup(ty).map(|t| t.record_len);
                assert_eq!(known.unwrap_or(NOT_A_TYPE), t.record_len, "{profile} {ty}");
            }
        }
    }

    #[test]
    fn table_has_12_v1_and_14_extended_types() {
        assert_eq!(TYPES.iter().filter(|t| t.v1).count(), 12);
        assert_eq!(TYPES.iter().filter(|t| !t.v1).count(), 14);
        for (i, a) in TYPES.iter().enumerate() {
            for b in TYPES.get(i + 1..).unwrap_or_default() {
                assert_ne!(a.id, b.id);
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn sizes_follow_the_spec() {
        let size = |id| Profile::Extended.lookup(id).map(|t| t.size);
        assert_eq!(size(113), Some(6));
        assert_eq!(size(134), Some(6));
        assert_eq!(size(136), Some(9));
        assert_eq!(size(135), Some(3));
        assert_eq!(size(100), Some(4));
        assert_eq!(size(104), Some(1));
        assert_eq!(size(0x77), None);
    }

    #[test]
    fn profiles_know_their_types() {
        for t in &TYPES {
            assert_eq!(Profile::Extended.lookup(t.id), Some(t));
            assert_eq!(Profile::Tts.lookup(t.id).is_some(), t.v1, "{}", t.name);
        }
        let baro = |p: Profile| match p.lookup(115).map(|t| t.layout) {
            Some(Layout::Scalar(n)) => n.signed,
            _ => panic!("no barometer"),
        };
        assert!(baro(Profile::Tts));
        assert!(!baro(Profile::Extended));
        assert_eq!(Profile::Tts.lookup(240), None);
        assert_eq!("tts".parse(), Ok(Profile::Tts));
        assert_eq!("extended".parse(), Ok(Profile::Extended));
        assert_eq!("v2".parse::<Profile>(), Err(UnknownProfile));
    }

    #[test]
    fn object_members_in_key_order() {
        let names = |id| {
            let t = Profile::Extended.lookup(id).unwrap();
            let Layout::Object(m) = t.layout else {
                panic!()
            };
            assert_eq!(m.len(), 3);
            t.sorted.iter().map(|s| (s.name, s.end)).collect::<Vec<_>>()
        };
        // GPS: latitude (bytes 2-4), longitude (5-7), altitude (8-10) after the header.
        assert_eq!(
            names(136),
            [("altitude", 11), ("latitude", 5), ("longitude", 8)]
        );
        // The same ends counted back from the record's end (11 bytes).
        let backs = Profile::Extended
            .lookup(136)
            .unwrap()
            .sorted
            .map(|s| s.back);
        assert_eq!(backs, [0, 6, 3]);
        let names = |id| names(id).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        assert_eq!(names(135), ["b", "g", "r"]);
        assert_eq!(names(113), ["x", "y", "z"]);
    }

    #[test]
    fn decimal_parts_of_divisors() {
        let n = Num::new(1, U, 2);
        assert_eq!((n.mul, n.scale), (5, 1));
        let n = Num::new(2, S, 10000);
        assert_eq!((n.mul, n.scale), (1, 4));
        assert_eq!((n.mask, n.sign), (0xffff, 0x8000));
        let n = Num::new(4, U, 1);
        assert_eq!((n.mask, n.sign), (u32::MAX, 0));
        let n = Num::new(1, U, 1);
        assert_eq!((n.mask, n.sign), (0xff, 0));
        assert_eq!(Num::new(3, S, 1).raw_range(), (-8388608, 8388607));
        assert_eq!(Num::new(4, U, 1).raw_range(), (0, 4294967295));
    }

    /// The decoder subtracts `sign_wide` where it flipped `sign`: they must be one value.
    #[test]
    fn the_wide_sign_is_the_sign() {
        for size in 1..=4 {
            for signed in [U, S] {
                let n = Num::new(size, signed, 1);
                assert_eq!(n.sign_wide, u64::from(n.sign), "{size} {signed}");
                let bit = if signed { 1u64 << (8 * size - 1) } else { 0 };
                assert_eq!(n.sign_wide, bit, "{size} {signed}");
            }
        }
    }
}
