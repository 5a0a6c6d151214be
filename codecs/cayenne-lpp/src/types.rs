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
    pub(crate) mul: u8,
    pub(crate) scale: u8,
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
                    assert!(d % 10 == 0, "divisor must be 2 or a power of ten");
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

    pub(crate) const fn with_sign(self, signed: bool) -> Num {
        Num { signed, ..self }
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
    /// The Things Stack reads this unsigned value as signed (its barometer quirk).
    pub tts_signed: bool,
}

impl Type {
    /// The value's size in bytes.
    pub const fn size(&self) -> usize {
        match self.layout {
            Layout::Scalar(n) => n.size as usize,
            Layout::Object(mut members) => {
                let mut size = 0;
                while let [first, rest @ ..] = members {
                    size += first.num.size as usize;
                    members = rest;
                }
                size
            }
        }
    }

    /// The type called `name` in `profile`.
    pub fn by_name(name: &str, profile: Profile) -> Option<&'static Type> {
        TYPES
            .iter()
            .find(|t| t.name == name && (t.v1 || profile == Profile::Extended))
    }
}

const U: bool = false;
const S: bool = true;

const fn scalar(id: u8, name: &'static str, v1: bool, size: u8, signed: bool, div: u32) -> Type {
    Type {
        id,
        name,
        layout: Layout::Scalar(Num::new(size, signed, div)),
        v1,
        tts_signed: false,
    }
}

const fn object(id: u8, name: &'static str, v1: bool, members: &'static [Member]) -> Type {
    Type {
        id,
        name,
        layout: Layout::Object(members),
        v1,
        tts_signed: false,
    }
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
pub const TYPES: &[Type] = &[
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
    Type { tts_signed: true, ..scalar(115, "barometric_pressure", V1, 2, U, 10) },
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

/// Position + 1 in [`TYPES`] of each type byte a profile knows; 0 for unknown.
// Evaluated at compile time only: an index out of range would fail the build.
#[allow(clippy::indexing_slicing)]
const fn index(profile: Profile) -> [u8; 256] {
    let mut idx = [0u8; 256];
    let mut i = 0;
    while i < TYPES.len() {
        let t = &TYPES[i];
        if t.v1 || matches!(profile, Profile::Extended) {
            idx[t.id as usize] = i as u8 + 1;
        }
        i += 1;
    }
    idx
}

static TTS_INDEX: [u8; 256] = index(Profile::Tts);
static EXTENDED_INDEX: [u8; 256] = index(Profile::Extended);

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
        let idx = match self {
            Profile::Tts => &TTS_INDEX,
            Profile::Extended => &EXTENDED_INDEX,
        };
        let pos = usize::from(*idx.get(usize::from(ty))?);
        TYPES.get(pos.checked_sub(1)?)
    }

    /// How this profile reads a number of type `t`.
    #[inline]
    pub(crate) fn num(self, t: &Type, num: Num) -> Num {
        if t.tts_signed && self == Profile::Tts {
            num.with_sign(true)
        } else {
            num
        }
    }
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
    use super::*;

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
        let size = |id| Profile::Extended.lookup(id).map(Type::size);
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
        for t in TYPES {
            assert_eq!(Profile::Extended.lookup(t.id), Some(t));
            assert_eq!(Profile::Tts.lookup(t.id).is_some(), t.v1, "{}", t.name);
        }
        assert_eq!(Profile::Tts.lookup(240), None);
        assert_eq!("tts".parse(), Ok(Profile::Tts));
        assert_eq!("extended".parse(), Ok(Profile::Extended));
        assert_eq!("v2".parse::<Profile>(), Err(UnknownProfile));
    }

    #[test]
    fn decimal_parts_of_divisors() {
        let n = Num::new(1, U, 2);
        assert_eq!((n.mul, n.scale), (5, 1));
        let n = Num::new(2, S, 10000);
        assert_eq!((n.mul, n.scale), (1, 4));
        assert_eq!(Num::new(3, S, 1).raw_range(), (-8388608, 8388607));
        assert_eq!(Num::new(4, U, 1).raw_range(), (0, 4294967295));
    }
}
