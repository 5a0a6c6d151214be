//! Decoded values and fields.

/// A decoded scalar. Borrowed variants point into the payload.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// JSON `null`: a reading the device marks as absent.
    Null,
    /// A flag.
    Bool(bool),
    /// An unsigned integer.
    U64(u64),
    /// A signed integer.
    I64(i64),
    /// A floating-point number; non-finite values print as `null`.
    F64(f64),
    /// A fixed-point reading: `digits / 10^scale`, as a device sends it (`272` with scale 1 is
    /// `27.2`). Kept exact so that the JSON text is the reading's own decimal digits, which is
    /// the shortest text that round-trips through the `f64` that [`Value::as_f64`] computes by
    /// division.
    Decimal {
        /// The raw reading, sign included.
        digits: i64,
        /// The power of ten it is divided by.
        scale: u8,
    },
    /// A fixed name from the codec's tables (an enumeration's label).
    Str(&'static str),
    /// Bytes from the payload, printed as lower-case hex.
    Bytes(&'a [u8]),
    /// Text from the payload.
    Text(&'a str),
    /// An unsigned integer printed as a JSON string of its decimal digits (an IMEI:
    /// `"357518080211964"`).
    DecimalText(u64),
    /// A version printed as a string, `"v<major>.<minor>"`.
    Version {
        /// The part before the point.
        major: u32,
        /// The part after the point.
        minor: u32,
    },
    /// An integer and a unit printed together as a string (`"120s"`).
    Suffixed {
        /// The number.
        value: i64,
        /// What follows it.
        suffix: &'static str,
    },
}

/// Powers of ten exactly representable as `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl Value<'_> {
    /// The value as a number, if it is one (`Decimal` is divided, not multiplied by a
    /// reciprocal, so `272 / 10` is `27.2` exactly as the spec prints it).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::U64(v) => Some(v as f64),
            Value::I64(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            Value::Decimal { digits, scale } => Some(decimal_to_f64(digits, scale)),
            _ => None,
        }
    }
}

/// `digits / 10^scale` as the nearest `f64` (exact division for scales up to 22).
pub(crate) fn decimal_to_f64(digits: i64, scale: u8) -> f64 {
    let mut v = digits as f64;
    let mut s = usize::from(scale);
    while s > 22 {
        v /= 1e22;
        s -= 22;
    }
    v / POW10.get(s).copied().unwrap_or(1.0)
}

/// One decoded measurement: a stable snake_case name, an optional channel and a value.
///
/// The key it is printed under is `name`, or `name_<channel>` when it has a channel
/// (`temperature_3`). Inside an array the key is not printed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field<'a> {
    /// The field's name, from the codec's tables.
    pub name: &'static str,
    /// The channel appended to the name (`_3`), if any.
    pub channel: Option<u8>,
    /// The value.
    pub value: Value<'a>,
}

impl<'a> Field<'a> {
    /// A field.
    pub const fn new(name: &'static str, channel: Option<u8>, value: Value<'a>) -> Self {
        Field {
            name,
            channel,
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_divides() {
        assert_eq!(decimal_to_f64(272, 1), 27.2);
        assert_eq!(decimal_to_f64(-31236, 2), -312.36);
        assert_eq!(decimal_to_f64(8388607, 4), 838.8607);
        assert_eq!(decimal_to_f64(5, 0), 5.0);
        assert_eq!(decimal_to_f64(3, 22), 3e-22);
    }

    #[test]
    fn as_f64_of_each_variant() {
        assert_eq!(Value::U64(7).as_f64(), Some(7.0));
        assert_eq!(Value::I64(-7).as_f64(), Some(-7.0));
        assert_eq!(Value::F64(0.5).as_f64(), Some(0.5));
        assert_eq!(Value::Str("on").as_f64(), None);
        assert_eq!(Value::Bool(true).as_f64(), None);
    }
}
