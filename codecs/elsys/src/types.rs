//! The Elsys type table.

/// How a number is stored: size, signedness, byte order and divisor (`raw / 10^scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Num {
    /// Size in bytes (1-4).
    pub size: u8,
    /// Two's complement if true.
    pub signed: bool,
    /// Little-endian if true (only the GPS coordinates, as the reference decoder reads them);
    /// otherwise big-endian.
    pub little_endian: bool,
    /// The power of ten the raw number is divided by.
    pub scale: u8,
}

/// One number of a type's value and the key it is printed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The key (camelCase, as the reference decoder names it).
    pub name: &'static str,
    /// How it is stored.
    pub num: Num,
}

/// The shape of a type's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Numbers in wire order, each a top-level key (`x`, `y`, `z`); a repeated type keeps its
    /// last values.
    Fields(&'static [Member]),
    /// One number; when the type occurs more than once, all its occurrences become one array
    /// under the key, in payload order (`externalTemperature2`).
    List(Member),
    /// Grid-EYE: a u8 reference temperature, then 64 pixels of u8 tenths above it, printed as
    /// an array of 64 numbers `reference + pixel / 10` under `grideye` (the reference is not
    /// printed on its own).
    Grideye,
}

/// One Elsys type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Type {
    /// The type byte.
    pub id: u8,
    /// The value's size in bytes (after the type byte).
    pub size: u8,
    /// The value's shape.
    pub layout: Layout,
}

/// The Grid-EYE's size: the reference and 64 pixels.
pub const GRIDEYE_SIZE: u8 = 65;

impl Type {
    const fn new(id: u8, layout: Layout) -> Type {
        let size = match layout {
            Layout::Fields(mut members) => {
                let mut size = 0;
                while let [first, rest @ ..] = members {
                    size += first.num.size;
                    members = rest;
                }
                size
            }
            Layout::List(m) => m.num.size,
            Layout::Grideye => GRIDEYE_SIZE,
        };
        Type { id, size, layout }
    }

    /// The type a type byte denotes.
    #[inline]
    pub fn lookup(id: u8) -> Option<&'static Type> {
        *BY_ID.get(usize::from(id))?
    }
}

const U: bool = false;
const S: bool = true;
const BE: bool = false;
const LE: bool = true;

/// A member as a plain literal, so that `&[m!(..), ..]` is promoted to a `'static` slice.
macro_rules! m {
    ($name:literal, $size:literal, $sign:ident, $scale:literal) => {
        m!($name, $size, $sign, BE, $scale)
    };
    ($name:literal, $size:literal, $sign:ident, $order:ident, $scale:literal) => {
        Member {
            name: $name,
            num: Num {
                size: $size,
                signed: $sign,
                little_endian: $order,
                scale: $scale,
            },
        }
    };
}

/// Every type, as the spec's table lists them: id, key(s), and each number's size,
/// signedness, byte order and divisor (as a power of ten: 1 is /10, 3 is /1000).
#[rustfmt::skip]
pub static TYPES: [Type; 29] = [
    //                        key                        bytes sign       10^-n
    Type::new(0x01, Layout::Fields(&[m!("temperature",            2, S,     1)])), // C
    Type::new(0x02, Layout::Fields(&[m!("humidity",               1, U,     0)])), // %
    Type::new(0x03, Layout::Fields(&[m!("x",                      1, S,     0), // 63 = 1 g, not scaled
                                     m!("y",                      1, S,     0),
                                     m!("z",                      1, S,     0)])),
    Type::new(0x04, Layout::Fields(&[m!("light",                  2, U,     0)])), // lux
    Type::new(0x05, Layout::Fields(&[m!("motion",                 1, U,     0)])), // count
    Type::new(0x06, Layout::Fields(&[m!("co2",                    2, U,     0)])), // ppm
    Type::new(0x07, Layout::Fields(&[m!("vdd",                    2, U,     0)])), // mV
    Type::new(0x08, Layout::Fields(&[m!("analog1",                2, U,     0)])), // mV
    Type::new(0x09, Layout::Fields(&[m!("lat",                    3, S, LE, 4), // degrees
                                     m!("long",                   3, S, LE, 4)])),
    Type::new(0x0a, Layout::Fields(&[m!("pulse1",                 2, U,     0)])), // relative count
    Type::new(0x0b, Layout::Fields(&[m!("pulseAbs",               4, U,     0)])),
    Type::new(0x0c, Layout::Fields(&[m!("externalTemperature",    2, S,     1)])), // C
    Type::new(0x0d, Layout::Fields(&[m!("digital",                1, U,     0)])),
    Type::new(0x0e, Layout::Fields(&[m!("distance",               2, U,     0)])), // mm
    Type::new(0x0f, Layout::Fields(&[m!("accMotion",              1, U,     0)])), // count
    Type::new(0x10, Layout::Fields(&[m!("irInternalTemperature",  2, S,     1), // C
                                     m!("irExternalTemperature",  2, S,     1)])),
    Type::new(0x11, Layout::Fields(&[m!("occupancy",              1, U,     0)])),
    Type::new(0x12, Layout::Fields(&[m!("waterleak",              1, U,     0)])),
    Type::new(0x13, Layout::Grideye),                                               // 1 + 64 bytes
    Type::new(0x14, Layout::Fields(&[m!("pressure",               4, U,     3)])), // hPa
    Type::new(0x15, Layout::Fields(&[m!("soundPeak",              1, U,     0),
                                     m!("soundAvg",               1, U,     0)])),
    Type::new(0x16, Layout::Fields(&[m!("pulse2",                 2, U,     0)])), // relative count
    Type::new(0x17, Layout::Fields(&[m!("pulseAbs2",              4, U,     0)])),
    Type::new(0x18, Layout::Fields(&[m!("analog2",                2, U,     0)])), // mV
    Type::new(0x19, Layout::List(     m!("externalTemperature2",  2, S,     1))),  // C
    Type::new(0x1a, Layout::Fields(&[m!("digital2",               1, U,     0)])),
    Type::new(0x1b, Layout::Fields(&[m!("analogUv",               4, S,     0)])), // uV
    Type::new(0x1c, Layout::Fields(&[m!("tvoc",                   2, U,     0)])), // ppb
    Type::new(0x3d, Layout::Fields(&[m!("debug",                  4, U,     0)])),
];

type Table = [Option<&'static Type>; 256];

/// The type of each type byte.
// Evaluated at compile time only: an index out of range would fail the build.
#[allow(clippy::indexing_slicing)]
const fn by_id(types: &'static [Type]) -> Table {
    let mut table: Table = [None; 256];
    let mut i = 0;
    while i < types.len() {
        assert!(table[types[i].id as usize].is_none(), "type ids are unique");
        table[types[i].id as usize] = Some(&types[i]);
        i += 1;
    }
    table
}

static BY_ID: Table = by_id(&TYPES);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_the_spec_s() {
        #[rustfmt::skip]
        let spec: [(u8, u8); 29] = [
            (0x01, 2), (0x02, 1), (0x03, 3), (0x04, 2), (0x05, 1), (0x06, 2), (0x07, 2),
            (0x08, 2), (0x09, 6), (0x0a, 2), (0x0b, 4), (0x0c, 2), (0x0d, 1), (0x0e, 2),
            (0x0f, 1), (0x10, 4), (0x11, 1), (0x12, 1), (0x13, 65), (0x14, 4), (0x15, 2),
            (0x16, 2), (0x17, 4), (0x18, 2), (0x19, 2), (0x1a, 1), (0x1b, 4), (0x1c, 2),
            (0x3d, 4),
        ];
        for (id, size) in spec {
            assert_eq!(Type::lookup(id).map(|t| t.size), Some(size), "{id:#04x}");
        }
        let known = (0..=255u8).filter(|&id| Type::lookup(id).is_some()).count();
        assert_eq!(known, spec.len());
    }

    #[test]
    fn one_list_type() {
        // The decoder's pre-scan counts occurrences of "the" list type: there is one.
        let lists: usize = TYPES
            .iter()
            .filter(|t| matches!(t.layout, Layout::List(_)))
            .count();
        assert_eq!(lists, 1);
    }

    #[test]
    fn numbers_fit_an_i64_decimal() {
        for t in &TYPES {
            if let Layout::Fields(members) = t.layout {
                for m in members {
                    assert!((1..=4).contains(&m.num.size), "{}", m.name);
                    assert!(m.num.scale <= 4, "{}", m.name);
                }
            }
        }
    }
}
