//! Compact JSON written by hand, and the text forms the records hold: hex, ISO-8601 times,
//! ULIDs and UUIDs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fastrand::Rng;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// Compact JSON written by hand into a reused buffer. Strings are escaped; the generator's are
/// plain ASCII anyway.
#[derive(Debug, Default)]
pub(super) struct Json {
    pub(super) buf: Vec<u8>,
    /// Whether the next key or value needs a comma before it.
    comma: bool,
}

impl Json {
    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.comma = false;
    }

    pub(super) fn sep(&mut self) {
        if self.comma {
            self.buf.push(b',');
        }
    }

    pub(super) fn key(&mut self, key: &str) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.comma = false;
        self
    }

    pub(super) fn obj(&mut self) -> &mut Self {
        self.sep();
        self.buf.push(b'{');
        self.comma = false;
        self
    }

    pub(super) fn arr(&mut self) -> &mut Self {
        self.sep();
        self.buf.push(b'[');
        self.comma = false;
        self
    }

    pub(super) fn end(&mut self) -> &mut Self {
        self.buf.push(b'}');
        self.comma = true;
        self
    }

    pub(super) fn end_arr(&mut self) -> &mut Self {
        self.buf.push(b']');
        self.comma = true;
        self
    }

    pub(super) fn raw(&mut self, text: &[u8]) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(text);
        self.comma = true;
        self
    }

    pub(super) fn str(&mut self, s: &str) -> &mut Self {
        self.str_parts(s, b"")
    }

    /// A string of `prefix` then `tail`.
    pub(super) fn str_parts(&mut self, prefix: &str, tail: &[u8]) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        for &b in prefix.as_bytes().iter().chain(tail) {
            match b {
                b'"' | b'\\' => self.buf.extend_from_slice(&[b'\\', b]),
                0..0x20 => self.buf.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
                _ => self.buf.push(b),
            }
        }
        self.buf.push(b'"');
        self.comma = true;
        self
    }

    pub(super) fn u(&mut self, v: u64) -> &mut Self {
        self.sep();
        push_u64(&mut self.buf, v);
        self.comma = true;
        self
    }

    pub(super) fn i(&mut self, v: i64) -> &mut Self {
        self.dec(v, 0)
    }

    /// `v / 10^scale`, trailing zeros of the fraction dropped.
    pub(super) fn dec(&mut self, v: i64, scale: u32) -> &mut Self {
        self.sep();
        if v < 0 {
            self.buf.push(b'-');
        }
        let (abs, p) = (v.unsigned_abs(), 10u64.pow(scale));
        push_u64(&mut self.buf, abs / p);
        let mut frac = abs % p;
        if frac != 0 {
            let mut digits = scale;
            while frac % 10 == 0 {
                frac /= 10;
                digits -= 1;
            }
            self.buf.push(b'.');
            let start = self.buf.len();
            push_u64(&mut self.buf, frac);
            let pad = digits as usize - (self.buf.len() - start);
            self.buf
                .splice(start..start, std::iter::repeat_n(b'0', pad));
        }
        self.comma = true;
        self
    }

    /// An ISO-8601 UTC time with `digits` (3, 6 or 9) fraction digits.
    pub(super) fn iso(&mut self, ns: i64, digits: u32) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        iso8601(&mut self.buf, ns, digits);
        self.buf.push(b'"');
        self.comma = true;
        self
    }

    pub(super) fn b64(&mut self, bytes: &[u8]) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        let start = self.buf.len();
        self.buf.resize(start + bytes.len().div_ceil(3) * 4, 0);
        let written = STANDARD.encode_slice(bytes, &mut self.buf[start..]);
        debug_assert!(written.is_ok());
        self.buf.push(b'"');
        self.comma = true;
        self
    }

    /// Upper-case hex in a string.
    pub(super) fn hex(&mut self, bytes: &[u8]) -> &mut Self {
        let mut text = [0u8; 64];
        let text = &mut text[..bytes.len() * 2];
        hex(text, bytes, true);
        self.str_parts("", text)
    }
}

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Writes `bytes` as hex into `out` (twice as long).
pub(super) fn hex(out: &mut [u8], bytes: &[u8], upper: bool) {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = digits[usize::from(b >> 4)];
        pair[1] = digits[usize::from(b & 15)];
    }
}

/// `YYYY-MM-DDTHH:MM:SS.fffZ`: milliseconds.
const ISO_MS: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`: microseconds.
const ISO_US: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
/// `YYYY-MM-DDTHH:MM:SS.fffffffffZ`: nanoseconds.
const ISO_NS: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

/// Appends `ns` since the epoch as `YYYY-MM-DDTHH:MM:SS.fffZ` with `digits` (3, 6 or 9; anything
/// else is taken as 9) fraction digits, truncated.
pub(super) fn iso8601(out: &mut Vec<u8>, ns: i64, digits: u32) {
    let format = match digits {
        3 => ISO_MS,
        6 => ISO_US,
        _ => ISO_NS,
    };
    // i64 nanoseconds reach only years 1677 to 2262, well inside what `time` can write.
    let at = OffsetDateTime::from_unix_timestamp_nanos(ns.into())
        .expect("i64 nanoseconds are within time's range");
    let written = at.format_into(out, format);
    debug_assert!(written.is_ok());
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID of time `ms` and the first 10 bytes of `random`.
pub(super) fn ulid_from(out: &mut [u8; 26], ms: i64, random: &[u8]) {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&(ms as u64).to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random[..10]);
    let v = u128::from_be_bytes(bytes);
    for (i, c) in out.iter_mut().enumerate() {
        *c = CROCKFORD[((v >> (125 - 5 * i)) & 31) as usize];
    }
}

pub(super) fn ulid(out: &mut [u8; 26], ms: i64, rng: &mut Rng) {
    let mut random = [0u8; 10];
    rng.fill(&mut random);
    ulid_from(out, ms, &random);
}

pub(super) fn uuid(rng: &mut Rng, upper: bool) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    b[6] = 0x40 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
    let mut text = [0u8; 32];
    hex(&mut text, &b, upper);
    let t = std::str::from_utf8(&text).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        &t[..8],
        &t[8..12],
        &t[12..16],
        &t[16..20],
        &t[20..]
    )
}

pub(super) fn url_safe_char(rng: &mut Rng) -> char {
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char::from(URL_SAFE[rng.usize(..64)])
}

#[cfg(test)]
mod tests {
    use serde_json::Value as J;

    use super::*;

    #[test]
    fn json_numbers_and_strings() {
        let mut j = Json::default();
        j.arr()
            .dec(-65, 1)
            .dec(514141391, 7)
            .dec(8681, 1)
            .dec(-9412872, 7)
            .dec(5, 3);
        j.i(0).u(u64::MAX).str("a\"b\\c\n").end_arr();
        let text = std::str::from_utf8(&j.buf).unwrap();
        assert_eq!(
            text,
            r#"[-6.5,51.4141391,868.1,-0.9412872,0.005,0,18446744073709551615,"a\"b\\c\u000a"]"#
        );
        let parsed: J = serde_json::from_str(text).unwrap();
        assert_eq!(parsed[6], u64::MAX);
    }
}
