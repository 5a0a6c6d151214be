//! The encoder: values to records, for downlinks, test frames and round trips.

use core::fmt;

use lorafield_core::{Container, Event};

use crate::types::{Layout, Num, Profile, Type};

/// Why values could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum EncodeError {
    /// No type has this id in the profile.
    UnknownType(u8),
    /// No type has this key name in the profile.
    UnknownName,
    /// A value is not a number (or not finite).
    NotANumber,
    /// A value does not fit its type: it is too large, too small, or negative where the type is
    /// unsigned.
    OutOfRange {
        /// The type byte.
        ty: u8,
        /// The value given.
        value: f64,
    },
    /// The number of values does not match the type (three for an accelerometer, ...).
    WrongArity {
        /// The type byte.
        ty: u8,
        /// How many the type takes.
        expected: u8,
    },
    /// A field has no channel.
    MissingChannel,
    /// An object lacks one of its type's members.
    MissingMember(&'static str),
    /// The output buffer is full.
    BufferFull,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::UnknownType(ty) => write!(f, "unknown type 0x{ty:02x}"),
            EncodeError::UnknownName => f.write_str("no Cayenne LPP type has this name"),
            EncodeError::NotANumber => f.write_str("value is not a finite number"),
            EncodeError::OutOfRange { ty, value } => {
                write!(f, "value {value} is out of range for type 0x{ty:02x}")
            }
            EncodeError::WrongArity { ty, expected } => {
                write!(f, "type 0x{ty:02x} takes {expected} values")
            }
            EncodeError::MissingChannel => f.write_str("field has no channel"),
            EncodeError::MissingMember(m) => write!(f, "object lacks member {m:?}"),
            EncodeError::BufferFull => f.write_str("output buffer is full"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Writes Cayenne LPP records into a caller's buffer.
///
/// ```
/// use lorafield_codec_lpp::{Encoder, Profile};
///
/// let mut buf = [0u8; 16];
/// let mut enc = Encoder::new(&mut buf, Profile::Tts);
/// enc.push(3, 103, &[24.8]).unwrap();
/// enc.push(4, 2, &[-312.36]).unwrap();
/// assert_eq!(enc.encoded(), [0x03, 0x67, 0x00, 0xf8, 0x04, 0x02, 0x85, 0xfc]);
/// assert!(enc.push(1, 103, &[3276.8]).is_err()); // does not fit an int16 of tenths
/// ```
#[derive(Debug)]
pub struct Encoder<'b> {
    buf: &'b mut [u8],
    len: usize,
    profile: Profile,
}

impl<'b> Encoder<'b> {
    /// An encoder writing into `buf` with the types of `profile`.
    pub fn new(buf: &'b mut [u8], profile: Profile) -> Self {
        Encoder {
            buf,
            len: 0,
            profile,
        }
    }

    /// The bytes written so far.
    pub fn encoded(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Appends one record of type `ty` on `channel`; `values` holds one value, or one per member
    /// for object types, in wire order (`x, y, z`; `latitude, longitude, altitude`). Values are
    /// multiplied by the divisor and rounded half away from zero; a value that does not fit is
    /// an error and nothing is written.
    pub fn push(&mut self, channel: u8, ty: u8, values: &[f64]) -> Result<(), EncodeError> {
        let t = self
            .profile
            .lookup(ty)
            .ok_or(EncodeError::UnknownType(ty))?;
        let mut nums = [None; 3];
        match t.layout {
            Layout::Scalar(num) => nums[0] = Some(num),
            Layout::Object(members) => {
                for (slot, m) in nums.iter_mut().zip(members) {
                    *slot = Some(m.num);
                }
            }
        }
        let arity = nums.iter().flatten().count();
        if values.len() != arity {
            return Err(EncodeError::WrongArity {
                ty,
                expected: arity as u8,
            });
        }
        let end = self.len + 2 + usize::from(t.size);
        let out = self
            .buf
            .get_mut(self.len..end)
            .ok_or(EncodeError::BufferFull)?;
        let (header, mut rest) = out.split_at_mut(2);
        header.copy_from_slice(&[channel, ty]);
        // Check every value before writing any, so a failed push leaves no partial record.
        let mut raws = [0i64; 3];
        for ((raw, num), &v) in raws.iter_mut().zip(nums.iter().flatten()).zip(values) {
            *raw = to_raw(*num, v).ok_or(EncodeError::OutOfRange { ty, value: v })?;
        }
        for (raw, num) in raws.iter().zip(nums.iter().flatten()) {
            let size = usize::from(num.size);
            let bytes = raw.to_be_bytes();
            let (dst, tail) = rest.split_at_mut(size);
            dst.copy_from_slice(bytes.get(8 - size..).unwrap_or_default());
            rest = tail;
        }
        self.len = end;
        Ok(())
    }
}

/// `value * divisor`, rounded half away from zero, if it fits `num`.
fn to_raw(num: Num, value: f64) -> Option<i64> {
    let scaled = value * f64::from(num.divisor);
    // Beyond this every LPP size has long overflowed, and the cast below stays exact.
    if !scaled.is_finite() || scaled.abs() >= 1e15 {
        return None;
    }
    let trunc = scaled as i64;
    let frac = scaled - trunc as f64;
    let raw = if frac >= 0.5 {
        trunc + 1
    } else if frac <= -0.5 {
        trunc - 1
    } else {
        trunc
    };
    let (min, max) = num.raw_range();
    (min..=max).contains(&raw).then_some(raw)
}

/// Encodes decoded events (a `FieldBuf`'s contents, fields `<name>` with a channel and
/// objects of members) back into records. Returns the number of bytes written to `out`.
///
/// ```
/// use lorafield_codec_lpp::{CayenneLpp, Profile, encode_events};
/// use lorafield_core::{FieldBuf, Uplink};
///
/// let frame = [0x01, 0x88, 0x06, 0x76, 0x5f, 0xf2, 0x96, 0x0a, 0x00, 0x03, 0xe8];
/// let mut buf = FieldBuf::<16>::new();
/// let decoded = buf.decode(&CayenneLpp::default(), Uplink::new(1, &frame));
/// let mut out = [0u8; 32];
/// let n = encode_events(decoded.data.unwrap(), Profile::Extended, &mut out).unwrap();
/// assert_eq!(out[..n], frame);
/// ```
pub fn encode_events(
    events: &[Event<'_>],
    profile: Profile,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let mut enc = Encoder::new(out, profile);
    let mut i = 0;
    while let Some(event) = events.get(i) {
        let (name, channel) = event.key();
        let channel = channel.ok_or(EncodeError::MissingChannel)?;
        let t = Type::by_name(name, profile).ok_or(EncodeError::UnknownName)?;
        let mut values = [0f64; 3];
        let n = match (event, t.layout) {
            (Event::Field(f), Layout::Scalar(_)) => {
                values[0] = f.value.as_f64().ok_or(EncodeError::NotANumber)?;
                1
            }
            (
                Event::Open {
                    container: Container::Object,
                    len,
                    ..
                },
                Layout::Object(members),
            ) => {
                let inner = events.get(i + 1..i + 1 + *len as usize).unwrap_or_default();
                for (slot, m) in values.iter_mut().zip(members) {
                    let field = inner.iter().rev().find_map(|e| match e {
                        Event::Field(f) if f.name == m.name => Some(f),
                        _ => None,
                    });
                    let field = field.ok_or(EncodeError::MissingMember(m.name))?;
                    *slot = field.value.as_f64().ok_or(EncodeError::NotANumber)?;
                }
                members.len()
            }
            _ => return Err(EncodeError::UnknownName),
        };
        enc.push(channel, t.id, values.get(..n).unwrap_or_default())?;
        i += 1 + event.subtree_len();
    }
    Ok(enc.len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(
        profile: Profile,
        channel: u8,
        ty: u8,
        values: &[f64],
    ) -> Result<[u8; 16], EncodeError> {
        let mut buf = [0u8; 16];
        Encoder::new(&mut buf, profile).push(channel, ty, values)?;
        Ok(buf)
    }

    #[test]
    fn rounds_half_away_from_zero() {
        let n = Num::new(2, true, 10);
        assert_eq!(to_raw(n, 0.05), Some(1));
        assert_eq!(to_raw(n, -0.05), Some(-1));
        assert_eq!(to_raw(n, 0.04), Some(0));
        assert_eq!(to_raw(n, 27.2), Some(272));
        assert_eq!(to_raw(n, 0.25), Some(3));
        assert_eq!(to_raw(n, -0.25), Some(-3));
    }

    #[test]
    fn ranges_are_enforced() {
        let t = |v| encode(Profile::Extended, 1, 103, &[v]).map(|b| [b[2], b[3]]);
        assert_eq!(t(3276.7), Ok([0x7f, 0xff]));
        assert_eq!(t(-3276.8), Ok([0x80, 0x00]));
        assert!(matches!(
            t(3276.8),
            Err(EncodeError::OutOfRange { ty: 103, .. })
        ));
        assert!(matches!(t(-3276.9), Err(EncodeError::OutOfRange { .. })));
        assert!(t(f64::NAN).is_err());
        assert!(t(f64::INFINITY).is_err());
        // Unsigned types refuse negatives, except the barometer under TTS.
        assert!(encode(Profile::Extended, 1, 101, &[-1.0]).is_err());
        assert!(encode(Profile::Extended, 1, 115, &[-0.1]).is_err());
        assert_eq!(
            encode(Profile::Tts, 1, 115, &[-0.1]).map(|b| [b[2], b[3]]),
            Ok([0xff, 0xff])
        );
        assert_eq!(
            encode(Profile::Extended, 1, 104, &[127.5]).map(|b| b[2]),
            Ok(255)
        );
        assert!(encode(Profile::Extended, 1, 104, &[128.0]).is_err());
    }

    #[test]
    fn type_and_arity_checks() {
        assert_eq!(
            encode(Profile::Tts, 1, 116, &[1.0]),
            Err(EncodeError::UnknownType(116))
        );
        assert_eq!(
            encode(Profile::Tts, 1, 136, &[1.0]),
            Err(EncodeError::WrongArity {
                ty: 136,
                expected: 3
            })
        );
        let mut small = [0u8; 3];
        assert_eq!(
            Encoder::new(&mut small, Profile::Tts).push(1, 103, &[1.0]),
            Err(EncodeError::BufferFull)
        );
    }

    #[test]
    fn a_failed_push_writes_nothing() {
        let mut buf = [0u8; 32];
        let mut enc = Encoder::new(&mut buf, Profile::Extended);
        enc.push(1, 103, &[1.0]).unwrap();
        assert!(enc.push(2, 136, &[1.0, 1e9, 1.0]).is_err());
        assert_eq!(enc.encoded(), [1, 103, 0, 10]);
    }

    #[test]
    fn objects_encode_in_wire_order() {
        #[rustfmt::skip]
        let expect = [
            1, 136,
            0x06, 0x76, 0x5f, // 42.3519
            0xf2, 0x96, 0x0a, // -87.9094
            0x00, 0x03, 0xe8, // 10
        ];
        let b = encode(Profile::Tts, 1, 136, &[42.3519, -87.9094, 10.0]).unwrap();
        assert_eq!(b[..11], expect);
        let b = encode(Profile::Extended, 7, 135, &[255.0, 128.0, 0.0]).unwrap();
        assert_eq!(b[..5], [7, 135, 255, 128, 0]);
    }
}
