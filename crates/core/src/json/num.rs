//! Numbers as JSON text: the shortest text that round-trips, in fixed notation, integral values
//! without `.0`.
//!
//! Decimal readings (`digits / 10^scale`) print their own digits: a decimal of at most 15
//! significant digits is the only one of that length that parses to its `f64`, so its digits
//! are the shortest round-trip text. Up to 16 characters are formatted in registers without a
//! loop over digits: all digits at once (SWAR: 8-digit halves split into 4-, 2- and 1-digit
//! lanes by multiplications), the point spliced in by shifts, one store.
//!
//! Most sensors' readings (scales 0 to 4, an integer part below 1,000) take no digit loop nor
//! SWAR: the integer part's text and the fraction's come from 1,000-entry tables (LPP decode +
//! JSON through the registry 1,653.6 to 1,432.8 instructions a frame over four steps: see the
//! bench README). Integers keep their own branch: through the thousandths they cost Sodaq
//! (mostly integers) 124 a frame. A reading below 10^4 on the register path takes two
//! digit-pair lookups, not four: 1,703.5 to 1,659.4.

use core::fmt::Write as _;

use super::text::{Cursor, NUMBER_BOUND, SLACK, put_bytes, put_wide, put_word};
use crate::value::decimal_to_f64;

/// Decimals with at most this many digits are unique among doubles.
const EXACT_DIGITS_LIMIT: u64 = 1_000_000_000_000_000;

/// Writes an integer.
#[inline]
pub(super) fn put_u64(buf: &mut [u8], pos: usize, v: u64) -> usize {
    match i64::try_from(v) {
        Ok(v) => put_decimal(buf, pos, v, 0),
        Err(_) => put_bytes(buf, pos, itoa::Buffer::new().format(v).as_bytes()),
    }
}

/// Writes an `f64` as Rust's `{}` prints it (shortest round-trip, fixed notation, no `.0`);
/// non-finite values as `null`.
pub(super) fn put_f64(buf: &mut [u8], pos: usize, v: f64) -> usize {
    if !v.is_finite() {
        return put_bytes(buf, pos, b"null");
    }
    if v == (v as i64) as f64 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        return put_decimal(buf, pos, v as i64, 0);
    }
    let end = (pos + NUMBER_BOUND + SLACK).min(buf.len());
    let mut cursor = Cursor {
        buf: buf.get_mut(..end).unwrap_or_default(),
        pos,
        escape: false,
    };
    let _ = write!(cursor, "{v}");
    cursor.pos
}

/// Writes an `f64` as ECMAScript's `Number.prototype.toString` prints it, which is how
/// The Things Stack prints a script's numbers: the shortest digits that round-trip, fixed
/// notation for exponents from -7 to 20 (`0.000001`, `100000000000000000000`), exponent
/// notation beyond (`1e-7`, `1e+21`, `1.5e+300`); `-0` as `0`; not finite as `null`.
pub(super) fn put_js_number(buf: &mut [u8], pos: usize, v: f64) -> usize {
    if !v.is_finite() {
        return put_bytes(buf, pos, b"null");
    }
    if v == 0.0 {
        return put_bytes(buf, pos, b"0");
    }
    if v == (v as i64) as f64 && v.abs() < 1e15 {
        return put_decimal(buf, pos, v as i64, 0);
    }
    // The shortest round-trip digits and where the point goes, from ryu's text of the
    // magnitude (`27.2`, `0.001`, `1e21`, `1.5e-7`, `100.0`).
    let mut ryu = ryu::Buffer::new();
    let text = ryu.format_finite(v.abs()).as_bytes();
    let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let exponent: i32 = text
        .get(e_at + 1..)
        .and_then(|e| core::str::from_utf8(e).ok())
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let mantissa = text.get(..e_at).unwrap_or_default();
    // Digits before the point in the mantissa's text.
    let mut point = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len()) as i32;
    let mut digits = [0u8; 24];
    let mut k = 0;
    for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        if k == 0 && b == b'0' {
            // A leading zero moves the first digit right of the point.
            point -= 1;
            continue;
        }
        if let Some(slot) = digits.get_mut(k) {
            *slot = b;
            k += 1;
        }
    }
    while k > 1 && digits.get(k - 1) == Some(&b'0') {
        k -= 1;
    }
    // The text is `0.d1d2...dk * 10^(point + exponent)`, as ECMAScript's n.
    let exponent = point + exponent - 1;
    let digits = digits.get(..k).unwrap_or_default();
    // ECMAScript's n: the value is 0.d1d2...dk * 10^n.
    let n = exponent + 1;
    let k = k as i32;
    let mut pos = pos;
    if v < 0.0 {
        pos = put_bytes(buf, pos, b"-");
    }
    if k <= n && n <= 21 {
        pos = put_bytes(buf, pos, digits);
        for _ in 0..n - k {
            pos = put_bytes(buf, pos, b"0");
        }
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        pos = put_bytes(buf, pos, int);
        pos = put_bytes(buf, pos, b".");
        pos = put_bytes(buf, pos, frac);
    } else if -6 < n && n <= 0 {
        pos = put_bytes(buf, pos, b"0.");
        for _ in 0..-n {
            pos = put_bytes(buf, pos, b"0");
        }
        pos = put_bytes(buf, pos, digits);
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        pos = put_bytes(buf, pos, first);
        if !rest.is_empty() {
            pos = put_bytes(buf, pos, b".");
            pos = put_bytes(buf, pos, rest);
        }
        pos = put_bytes(buf, pos, if n - 1 < 0 { b"e-" } else { b"e+" });
        pos = put_u64(buf, pos, u64::from((n - 1).unsigned_abs()));
    }
    pos
}

/// Writes `digits / 10^scale`: the digits with a point inserted and the fraction's trailing
/// zeros dropped (`272, 1` is `27.2`; `-1, 2` is `-0.01`; `250, 1` is `25`).
///
/// The common case (at most 8 characters) is inlined into the caller; the rest is not.
#[inline(always)]
pub(super) fn put_decimal(buf: &mut [u8], pos: usize, digits: i64, scale: u8) -> usize {
    let magnitude = digits.unsigned_abs();
    if scale <= 3
        && let Some(end) = put_small(buf, pos, magnitude, scale, digits < 0)
    {
        return end;
    }
    if scale == 4
        && let Some(end) = put_scale4(buf, pos, magnitude, digits < 0)
    {
        return end;
    }
    if (1..100_000_000).contains(&magnitude)
        && scale <= 7
        && let Some(end) = put_short(buf, pos, magnitude, scale, digits < 0)
    {
        return end;
    }
    put_decimal_other(buf, pos, digits, scale)
}

/// [`put_decimal`] beyond 8 characters, for zero, and for scales above 7.
#[inline(never)]
fn put_decimal_other(buf: &mut [u8], pos: usize, digits: i64, scale: u8) -> usize {
    let magnitude = digits.unsigned_abs();
    if scale == 0 && magnitude >= EXACT_DIGITS_LIMIT {
        return put_bytes(buf, pos, itoa::Buffer::new().format(digits).as_bytes());
    }
    if magnitude >= EXACT_DIGITS_LIMIT || scale > 22 {
        // As many digits as an f64 holds, or a divisor beyond exact powers of ten: the value
        // is what `Value::as_f64` computes.
        return put_f64(buf, pos, decimal_to_f64(digits, scale));
    }
    if magnitude == 0 {
        return put_bytes(buf, pos, b"0");
    }
    let negative = digits < 0;
    if scale > 15 {
        return put_long(buf, pos, magnitude, scale.into(), negative);
    }
    let ascii = ascii16(magnitude);
    // Zero bytes where the digit is '0': leading zeros are the low bytes, trailing zeros the
    // high ones (`magnitude` is not 0, so some byte is not).
    let zeros = ascii ^ 0x3030_3030_3030_3030_3030_3030_3030_3030;
    let frac = u32::from(scale);
    // Trailing zeros of the fraction are not printed (nor is a point with nothing after it).
    let strip = (zeros.leading_zeros() / 8).min(frac);
    let frac = frac - strip;
    let significant = 16 - zeros.trailing_zeros() / 8 - strip;
    // Digits printed: the integer part has at least one ("0.05").
    let k = significant.max(frac + 1);
    let len = u32::from(negative) + k + u32::from(frac > 0);
    if len > 16 {
        return put_long(buf, pos, magnitude, scale.into(), negative);
    }
    // Byte i of `text` is character i: the k digits that end where the stripped zeros begin
    // (scale <= 15 keeps k + strip <= 16).
    let mut text = ascii >> (8 * (16 - strip - k));
    if k < 16 {
        text &= (1u128 << (8 * k)) - 1;
    }
    if frac > 0 {
        // Here k <= 15, so no shift reaches 128 bits.
        let int = k - frac;
        let low = text & ((1u128 << (8 * int)) - 1);
        let high = (text >> (8 * int)) << (8 * (int + 1));
        text = low | (u128::from(b'.') << (8 * int)) | high;
    }
    if negative {
        text = (text << 8) | u128::from(b'-');
    }
    put_wide(buf, pos, text, len as usize)
}

/// [`put_decimal`] for text of at most 8 characters, in one 64-bit register (variable 128-bit
/// shifts are slow on some CPUs). `m` is in 1..10^8, `scale` at most 7. `None` when the text
/// is longer.
#[inline(always)]
fn put_short(buf: &mut [u8], pos: usize, m: u64, scale: u8, negative: bool) -> Option<usize> {
    let ascii = ascii8_short(m);
    let frac = u32::from(scale);
    // Trailing zeros of the fraction are not printed. Most readings have none: one test.
    let mut strip = 0;
    if frac > 0 && m.is_multiple_of(10) {
        strip = (((ascii ^ 0x3030_3030_3030_3030).leading_zeros()) / 8).min(frac);
    }
    let frac = frac - strip;
    // The number of digits from the bit length, off the chain of the digits' computation: the
    // next field's position waits on this length, not on the digits.
    let significant = digit_count(m) - strip;
    let k = significant.max(frac + 1);
    let len = u32::from(negative) + k + u32::from(frac > 0);
    if len > 8 {
        return None;
    }
    // scale <= 7 keeps k + strip <= 8; len <= 8 keeps every shift below 64. Bytes past the k
    // digits are not masked: they lie past `len`, where the next text is stored.
    let mut text = ascii >> (8 * (8 - strip - k));
    if frac > 0 {
        let int = k - frac;
        let low = text & ((1u64 << (8 * int)) - 1);
        let high = (text >> (8 * int)) << (8 * (int + 1));
        text = low | (u64::from(b'.') << (8 * int)) | high;
    }
    if negative {
        text = (text << 8) | u64::from(b'-');
    }
    Some(put_word(buf, pos, text, len as usize))
}

/// [`put_decimal`] for scales up to 3 with an integer part below 1,000,000: the value in
/// thousandths (`m` times `10^(3 - scale)`, so that one division by a constant serves every
/// scale), the integer part's text from one table and the fraction's (its point, up to three
/// digits, trailing zeros dropped) from another. `None` when the integer part is larger.
#[inline(always)]
fn put_small(buf: &mut [u8], pos: usize, m: u64, scale: u8, negative: bool) -> Option<usize> {
    if scale == 0 {
        // Integers (most of some codecs' numbers) skip the division and the fraction.
        if m < 1000 {
            let entry = SMALL.get(m as usize).copied().unwrap_or(0);
            return Some(put_int(
                buf,
                pos,
                u64::from(entry & 0x00ff_ffff),
                entry >> 24,
                negative,
            ));
        }
        return put_thousands(buf, pos, m, 0, negative);
    }
    let to_thousandths = THOUSANDTHS.get(usize::from(scale)).copied()?;
    let thousandths = m.checked_mul(to_thousandths)?;
    let (q, r) = (thousandths / 1000, thousandths % 1000);
    let frac = FRACTIONS.get(r as usize).copied().unwrap_or(0);
    if q >= 1000 {
        return put_thousands(buf, pos, q, frac, negative);
    }
    let entry = SMALL.get(q as usize).copied().unwrap_or(0);
    let int_len = entry >> 24;
    // The fraction's bytes past its last digit are zero, and all of it is for a whole value.
    let len = int_len + 4 - frac.leading_zeros() / 8;
    let text = u64::from(entry & 0x00ff_ffff) | (u64::from(frac) << (8 * int_len));
    Some(put_int(buf, pos, text, len, negative))
}

/// Stores `len` characters of `text`, after a minus sign if `negative`.
#[inline(always)]
fn put_int(buf: &mut [u8], pos: usize, text: u64, len: u32, negative: bool) -> usize {
    let (mut text, mut len) = (text, len);
    if negative {
        text = (text << 8) | u64::from(b'-');
        len += 1;
    }
    put_word(buf, pos, text, len as usize)
}

/// [`put_decimal`] at scale 4 (GPS coordinates) with an integer part below 1,000: the integer
/// part from [`SMALL`], the fraction's first three digits from [`FRACTIONS`], the fourth
/// appended when it is not zero (then the first three are all printed). `None` when the
/// integer part is larger or the text longer than 8 characters.
#[inline(always)]
fn put_scale4(buf: &mut [u8], pos: usize, m: u64, negative: bool) -> Option<usize> {
    if m >= 10_000_000 {
        return None;
    }
    let (q, r) = (m / 10_000, m % 10_000);
    let (thousandths, last) = (r / 10, r % 10);
    let entry = SMALL.get(q as usize).copied().unwrap_or(0);
    let mut frac = u64::from(FRACTIONS.get(thousandths as usize).copied().unwrap_or(0));
    let mut frac_len = 4 - (frac as u32).leading_zeros() / 8;
    if last != 0 {
        // The point and three digits, their zeros restored, then the fourth.
        frac |= 0x3030_302e | ((u64::from(b'0') + last) << 32);
        frac_len = 5;
    }
    let int_len = entry >> 24;
    let len = int_len + frac_len + u32::from(negative);
    if len > 8 {
        return None;
    }
    let mut text = u64::from(entry & 0x00ff_ffff) | (frac << (8 * int_len));
    if negative {
        text = (text << 8) | u64::from(b'-');
    }
    Some(put_word(buf, pos, text, len as usize))
}

/// [`put_small`] for an integer part `q` of 1,000 to 999,999: its thousands from the table
/// of [`SMALL`], the three digits below them from [`PADDED`], then the fraction's text
/// (`frac`, from [`FRACTIONS`]). `None` when `q` is larger or the text longer than 8
/// characters.
#[inline(always)]
fn put_thousands(buf: &mut [u8], pos: usize, q: u64, frac: u32, negative: bool) -> Option<usize> {
    if q >= 1_000_000 {
        return None;
    }
    let (high, low) = (q / 1000, q % 1000);
    let entry = SMALL.get(high as usize).copied().unwrap_or(0);
    let low = PADDED.get(low as usize).copied().unwrap_or(0);
    let high_len = entry >> 24;
    let len = high_len + 3 + 4 - frac.leading_zeros() / 8;
    if len + u32::from(negative) > 8 {
        return None;
    }
    let text = u64::from(entry & 0x00ff_ffff)
        | (u64::from(low) << (8 * high_len))
        | (u64::from(frac) << (8 * (high_len + 3)));
    Some(put_int(buf, pos, text, len, negative))
}

/// 0 to 999 as three digits, zero-padded (little-endian, first character in the low byte).
static PADDED: [u32; 1000] = {
    let mut t = [0u32; 1000];
    let mut i = 0;
    while i < 1000 {
        let zero = b'0' as u32;
        t[i] = (zero + (i / 100) as u32)
            | ((zero + ((i / 10) % 10) as u32) << 8)
            | ((zero + (i % 10) as u32) << 16);
        i += 1;
    }
    t
};

/// `10^(3 - scale)` for scales 0 to 3: a value's digits in thousandths. A `const`, so that a
/// codec's constant scale folds it (a `static` was loaded, and multiplied with an overflow
/// test, for each of Elsys's GridEYE readings: its registry decode + JSON 1,487.4 to 1,455.7
/// instructions a frame).
const THOUSANDTHS: [u64; 4] = [1000, 100, 10, 1];

/// 0 to 999 thousandths as a fraction's text (little-endian): the point and up to three
/// digits, the trailing zeros dropped and their bytes zero (`500` is `.5`); 0 for 0.
static FRACTIONS: [u32; 1000] = {
    let mut t = [0u32; 1000];
    let mut i = 1;
    while i < 1000 {
        let digits = [(i / 100) as u32, ((i / 10) % 10) as u32, (i % 10) as u32];
        let mut n = 3;
        while digits[n - 1] == 0 {
            n -= 1;
        }
        let mut entry = b'.' as u32;
        let mut k = 0;
        while k < n {
            entry |= (b'0' as u32 + digits[k]) << (8 * (k + 1));
            k += 1;
        }
        t[i] = entry;
        i += 1;
    }
    t
};

/// 0 to 999 as text (little-endian, first character in the low byte) with its length in the
/// high byte.
static SMALL: [u32; 1000] = {
    let mut t = [0u32; 1000];
    let mut i = 0;
    while i < 1000 {
        let (a, b, c) = ((i / 100) as u32, ((i / 10) % 10) as u32, (i % 10) as u32);
        let zero = b'0' as u32;
        t[i] = if i >= 100 {
            (3 << 24) | (zero + a) | ((zero + b) << 8) | ((zero + c) << 16)
        } else if i >= 10 {
            (2 << 24) | (zero + b) | ((zero + c) << 8)
        } else {
            (1 << 24) | (zero + c)
        };
        i += 1;
    }
    t
};

/// `10^i` for `i` up to 19; beyond, more than any `u64`.
static POWERS_OF_TEN: [u64; 32] = {
    let mut t = [u64::MAX; 32];
    let mut i = 0;
    let mut p = 1u64;
    while i < 20 {
        t[i] = p;
        p = p.wrapping_mul(10);
        i += 1;
    }
    t
};

/// The number of decimal digits of `m` (none for 0): `floor(log10(2^bits))` from the bit length
/// (1233 / 4096 is just above log10(2)), plus one when `m` reaches the next power of ten.
#[inline(always)]
fn digit_count(m: u64) -> u32 {
    let bits = 64 - (m | 1).leading_zeros();
    let t = (bits * 1233) >> 12;
    let power = POWERS_OF_TEN
        .get(t as usize & 31)
        .copied()
        .unwrap_or(u64::MAX);
    t + u32::from(m >= power)
}

/// The 16 decimal digits of `m` (< 10^16, zero-padded) as ASCII, most significant in byte 0.
#[inline(always)]
fn ascii16(m: u64) -> u128 {
    let (hi, lo) = (m / 100_000_000, m % 100_000_000);
    (u128::from(ascii8(lo)) << 64) | u128::from(ascii8(hi))
}

/// "00" to "99" as little-endian pairs of ASCII digits (the tens digit in the low byte).
static PAIRS: [u16; 100] = {
    let mut t = [0u16; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = (b'0' as u16 + (i % 10) as u16) << 8 | (b'0' as u16 + (i / 10) as u16);
        i += 1;
    }
    t
};

/// The 8 decimal digits of `x` (< 10^8, zero-padded) as ASCII, most significant in byte 0:
/// four independent table lookups of digit pairs.
#[inline(always)]
fn ascii8(x: u64) -> u64 {
    let (hi, lo) = ((x / 10_000) as usize, (x % 10_000) as usize);
    let pair = |i: usize| u64::from(PAIRS.get(i).copied().unwrap_or(0x3030));
    pair(hi / 100) | (pair(hi % 100) << 16) | (pair(lo / 100) << 32) | (pair(lo % 100) << 48)
}

/// [`ascii8`] for the readings of most sensors: below 10^4, two lookups, the first four
/// digits `0000`.
#[inline(always)]
fn ascii8_short(x: u64) -> u64 {
    if x < 10_000 {
        let pair = |i: usize| u64::from(PAIRS.get(i).copied().unwrap_or(0x3030));
        let x = x as usize;
        return 0x3030_3030 | (pair(x / 100) << 32) | (pair(x % 100) << 48);
    }
    ascii8(x)
}

/// `m / 10^frac` with a sign, digit by digit: text longer than 16 characters or a fraction of
/// more than 15 digits.
fn put_long(buf: &mut [u8], pos: usize, mut m: u64, mut frac: u32, negative: bool) -> usize {
    while frac > 0 && m.is_multiple_of(10) {
        m /= 10;
        frac -= 1;
    }
    let mut text = [0u8; 48];
    let mut at = text.len();
    let mut put = |b: u8| {
        at -= 1;
        if let Some(slot) = text.get_mut(at) {
            *slot = b;
        }
    };
    if frac > 0 {
        for _ in 0..frac {
            put(b'0' + (m % 10) as u8);
            m /= 10;
        }
        put(b'.');
    }
    loop {
        put(b'0' + (m % 10) as u8);
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if negative {
        put(b'-');
    }
    put_bytes(buf, pos, text.get(at..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use alloc::string::String;

    fn text(f: impl FnOnce(&mut [u8]) -> usize) -> String {
        let mut buf = [0u8; 512];
        let n = f(&mut buf);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn d(digits: i64, scale: u8) -> String {
        text(|b| put_decimal(b, 0, digits, scale))
    }

    #[test]
    fn small_scales_print_as_rust_prints_the_value() {
        // Scales 0 to 4 around the tables' edge (integer parts 999 and 1,000), both signs:
        // the quotient by a power of ten is the nearest double to the decimal, whose
        // shortest text is the decimal's.
        for scale in 0..=4u8 {
            let divisor = [1.0, 10.0, 100.0, 1000.0, 10_000.0][usize::from(scale)];
            for digits in -1_200_000..=1_200_000i64 {
                let expected = alloc::format!("{}", digits as f64 / divisor);
                assert_eq!(d(digits, scale), expected, "{digits} / 10^{scale}");
            }
            // Integer parts of 1,000 to 999,999 (thousands and three digits from two tables)
            // and past them, the text up to 8 characters and longer.
            for digits in (-2_000_000_003..=2_000_000_003i64).step_by(997) {
                let expected = alloc::format!("{}", digits as f64 / divisor);
                assert_eq!(d(digits, scale), expected, "{digits} / 10^{scale}");
            }
        }
    }

    #[test]
    fn decimals_print_their_digits() {
        assert_eq!(d(272, 1), "27.2");
        assert_eq!(d(250, 1), "25");
        assert_eq!(d(-1, 2), "-0.01");
        assert_eq!(d(0, 3), "0");
        assert_eq!(d(-31236, 2), "-312.36");
        assert_eq!(d(5, 4), "0.0005");
        assert_eq!(d(-8388608, 4), "-838.8608");
        assert_eq!(d(10735, 1), "1073.5");
        assert_eq!(d(i64::MIN, 0), "-9223372036854775808");
        assert_eq!(d(i64::MAX, 0), "9223372036854775807");
        assert_eq!(d(1_000_000_000_000_001, 1), "100000000000000.1");
        assert_eq!(d(-123_456_789_012_345, 20), "-0.00000123456789012345");
        assert_eq!(d(7, 22), "0.0000000000000000000007");
        assert_eq!(text(|b| put_u64(b, 0, u64::MAX)), "18446744073709551615");
    }

    #[test]
    fn decimals_match_rust_display_of_the_division() {
        for digits in (-70_000i64..70_000).step_by(7) {
            for scale in 0..6u8 {
                let expect = alloc::format!("{}", decimal_to_f64(digits, scale));
                assert_eq!(d(digits, scale), expect, "{digits} {scale}");
            }
        }
        for digits in [i64::from(i32::MAX), u32::MAX.into(), 999_999_999_999_999] {
            for scale in 0..23u8 {
                let expect = alloc::format!("{}", decimal_to_f64(digits, scale));
                assert_eq!(d(digits, scale), expect, "{digits} {scale}");
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 2_000_000_000_000_000) as i64 - 1_000_000_000_000_000;
            let digits = digits >> (x % 50);
            let scale = (x >> 58) as u8 % 24;
            let expect = if scale == 0 {
                alloc::format!("{digits}")
            } else {
                alloc::format!("{}", decimal_to_f64(digits, scale))
            };
            assert_eq!(d(digits, scale), expect, "{digits} {scale}");
        }
    }

    /// Rust's `{}` of the `f64` the decimal stands for: what the writer printed before it
    /// formatted decimals itself, and what The Things Stack prints (the conformance vectors).
    fn reference(digits: i64, scale: u8) -> String {
        if scale == 0 {
            alloc::format!("{digits}")
        } else {
            alloc::format!("{}", decimal_to_f64(digits, scale))
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8192))]

        /// The register path's whole domain: up to 8 digits, scales up to 7 (every Cayenne LPP
        /// reading is one), and the text longer than 8 characters it hands on.
        #[test]
        fn short_decimals_print_as_the_division(
            digits in -99_999_999i64..=99_999_999,
            scale in 0u8..=7,
        ) {
            proptest::prop_assert_eq!(d(digits, scale), reference(digits, scale));
        }

        /// Every decimal a double holds exactly (at most 15 digits), at every scale.
        #[test]
        fn decimals_print_as_the_division(
            digits in -999_999_999_999_999i64..=999_999_999_999_999,
            scale in 0u8..=22,
        ) {
            proptest::prop_assert_eq!(d(digits, scale), reference(digits, scale));
        }

        #[test]
        fn digit_count_is_the_length_of_the_text(m: u64) {
            let len = if m == 0 { 0 } else { alloc::format!("{m}").len() as u32 };
            proptest::prop_assert_eq!(digit_count(m), len);
        }
    }

    #[test]
    fn digit_count_at_powers_of_ten() {
        let mut p = 1u64;
        for digits in 1..=20u32 {
            assert_eq!(digit_count(p), digits, "{p}");
            assert_eq!(digit_count(p - 1), digits - 1, "{p}");
            assert_eq!(digit_count(p + 1), digits, "{p}");
            p = p.saturating_mul(10);
        }
        assert_eq!(digit_count(u64::MAX), 20);
    }

    #[test]
    fn digits_in_registers() {
        for m in [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345_678,
            99_999_999,
            100_000_000,
            1_234_567_890_123_456,
        ] {
            let bytes = ascii16(m).to_le_bytes();
            assert_eq!(
                core::str::from_utf8(&bytes).unwrap(),
                alloc::format!("{m:016}")
            );
        }
    }

    #[test]
    fn short_readings_take_two_lookups_and_the_same_digits() {
        for m in (0..20_000).chain([99_999_999, 12_345_678]) {
            assert_eq!(ascii8_short(m), ascii8(m), "{m}");
            assert_eq!(
                core::str::from_utf8(&ascii8_short(m).to_le_bytes()).unwrap(),
                alloc::format!("{m:08}")
            );
        }
    }

    #[test]
    fn floats() {
        let f = |v| text(|b| put_f64(b, 0, v));
        assert_eq!(f(255.0), "255");
        assert_eq!(f(27.2), "27.2");
        assert_eq!(f(1e21), "1000000000000000000000");
        assert_eq!(f(1e-7), "0.0000001");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(f64::MAX), alloc::format!("{}", f64::MAX));
        assert_eq!(
            f(f64::MIN_POSITIVE),
            alloc::format!("{}", f64::MIN_POSITIVE)
        );
        assert_eq!(f(5e-324), alloc::format!("{}", 5e-324));
        assert_eq!(f(-5e-324), alloc::format!("{}", -5e-324));
        assert_eq!(f(f64::NAN), "null");
        assert_eq!(f(f64::INFINITY), "null");
    }

    #[test]
    fn numbers_as_ecmascript_prints_them() {
        let js = |v: f64| text(|b| put_js_number(b, 0, v));
        for (v, want) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-7.0, "-7"),
            (27.2, "27.2"),
            (-0.01, "-0.01"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (123e-20, "1.23e-18"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (2e21, "2e+21"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (9007199254740993.0, "9007199254740992"),
            (1e15, "1000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1.25e16, "12500000000000000"),
            (-1234.5678, "-1234.5678"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ] {
            assert_eq!(js(v), want, "{v:e}");
        }
    }
}
