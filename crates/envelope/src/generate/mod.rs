//! A generator of realistic Microshare shares, one per line (JSON Lines), each holding a The
//! Things Stack v3 or TTN v2 uplink whose payload is a Cayenne LPP frame: data for benches,
//! tests and trying the tool.
//!
//! ```
//! use lorafield_envelope::generate::{GenOptions, Shape, write_shares};
//!
//! let options = GenOptions { count: 20, shape: Shape::TtsV3, ..GenOptions::default() };
//! let mut out = Vec::new();
//! let summary = write_shares(&options, &mut out).unwrap();
//! assert_eq!((summary.records, summary.tts_v3), (20, 20));
//! assert_eq!(summary.bytes, out.len() as u64);
//! let first = out.split(|&b| b == b'\n').next().unwrap();
//! let share: serde_json::Value = serde_json::from_slice(first).unwrap();
//! assert!(share["data"]["uplink_message"]["frm_payload"].is_string());
//! ```
//!
//! The seed first draws a fleet: five applications of ten devices, each device with its
//! sensors (one to four Cayenne LPP channels), envelope shape, data rate, port and frame counter,
//! each application with its gateways, Microshare owner and record type. Then come the records,
//! a second to half a minute apart from 2025-06-01T00:00:00Z: a device sends its next frame,
//! its readings walked on from the previous ones, heard by one to three gateways. The frame is
//! built with the LPP encoder; its stored decoded payload is what lorafield's decoder prints
//! for it (profile `tts`), except in a `stale` fraction of the records where it is left out or
//! outdated, as after a codec change. Records are written by hand in the key orders
//! Microshare and the network servers use, and nothing reads a clock or a global random
//! source: the same options always give the same bytes.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::str::FromStr;

use fastrand::Rng;

mod fleet;
mod json;
mod record;
mod share;
mod uplink;

use fleet::Fleet;
use record::RecordWriter;

/// How Microshare encodes a share's id and dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DateEncoding {
    /// The 2017 (MongoDB extended JSON) form: `"_id": {"$oid": ...}`,
    /// `"createDate": {"$date": ms}`, `"tstamp": {"$numberLong": "ms"}`.
    V2017,
    /// The 2020+ form: `"_id"` a plain string, ISO-8601 dates, `"tstamp"` epoch milliseconds.
    V2020,
    /// Either, drawn for each record.
    #[default]
    Mixed,
}

impl DateEncoding {
    /// Every encoding.
    pub const ALL: [DateEncoding; 3] = [
        DateEncoding::V2017,
        DateEncoding::V2020,
        DateEncoding::Mixed,
    ];

    /// The name given on the command line: `2017`, `2020` or `mixed`.
    pub const fn name(self) -> &'static str {
        match self {
            DateEncoding::V2017 => "2017",
            DateEncoding::V2020 => "2020",
            DateEncoding::Mixed => "mixed",
        }
    }
}

/// Which uplink envelope a share's `data` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Shape {
    /// The Things Stack v3 (`uplink_message.frm_payload`, `decoded_payload`).
    TtsV3,
    /// TTN v2 (`payload_raw`, `payload_fields`).
    TtnV2,
    /// Either, fixed for each device: two devices in five have moved to v3.
    #[default]
    Mixed,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 3] = [Shape::TtsV3, Shape::TtnV2, Shape::Mixed];

    /// The name given on the command line: `tts-v3`, `ttn-v2` or `mixed`.
    pub const fn name(self) -> &'static str {
        match self {
            Shape::TtsV3 => "tts-v3",
            Shape::TtnV2 => "ttn-v2",
            Shape::Mixed => "mixed",
        }
    }
}

/// A name that is none of a [`DateEncoding`]'s or [`Shape`]'s names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownName {
    what: &'static str,
    known: &'static str,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} (known: {})", self.what, self.known)
    }
}

impl std::error::Error for UnknownName {}

macro_rules! named {
    ($ty:ident, $what:literal, $known:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                let known = $ty::ALL.into_iter().find(|v| v.name() == s);
                known.ok_or(UnknownName {
                    what: $what,
                    known: $known,
                })
            }
        }
    };
}

named!(DateEncoding, "date encoding", "2017, 2020, mixed");
named!(Shape, "envelope shape", "tts-v3, ttn-v2, mixed");

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    /// How many shares.
    pub count: usize,
    /// The seed of every random draw.
    pub seed: u64,
    /// The shares' id and date encoding.
    pub encoding: DateEncoding,
    /// The uplinks' envelope.
    pub shape: Shape,
    /// The fraction (0 to 1) of records whose stored decoded payload is missing or outdated,
    /// so that a re-decode changes it.
    pub stale: f64,
}

impl Default for GenOptions {
    /// 1000 shares of seed 1, both encodings, both shapes, a tenth of them stale.
    fn default() -> Self {
        GenOptions {
            count: 1000,
            seed: 1,
            encoding: DateEncoding::Mixed,
            shape: Shape::Mixed,
            stale: 0.1,
        }
    }
}

/// What [`write_shares`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenSummary {
    /// Shares (lines) written.
    pub records: usize,
    /// Bytes written, newlines included.
    pub bytes: u64,
    /// Shares whose stored decoded payload is missing or differs from a re-decode.
    pub stale: usize,
    /// Shares holding a TTS v3 uplink.
    pub tts_v3: usize,
    /// Shares holding a TTN v2 uplink.
    pub ttn_v2: usize,
}

/// Writes `options.count` shares to `out`, one compact JSON object per line.
pub fn write_shares<W: Write>(options: &GenOptions, out: &mut W) -> io::Result<GenSummary> {
    let mut rng = Rng::with_seed(options.seed);
    let mut fleet = Fleet::new(&mut rng, options.shape);
    let mut writer = RecordWriter::default();
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut summary = GenSummary::default();
    let mut air_ns = BASE_MS * 1_000_000;
    for _ in 0..options.count {
        air_ns += rng.i64(1_000_000_000..30_000_000_000);
        let (v3, stale) = writer.record(&mut rng, &mut fleet, options, air_ns);
        writer.line.buf.push(b'\n');
        out.write_all(&writer.line.buf)?;
        summary.records += 1;
        summary.bytes += writer.line.buf.len() as u64;
        summary.stale += usize::from(stale);
        if v3 {
            summary.tts_v3 += 1;
        } else {
            summary.ttn_v2 += 1;
        }
    }
    out.flush()?;
    Ok(summary)
}

/// 2025-06-01T00:00:00Z, the first record's time, in epoch milliseconds.
const BASE_MS: i64 = 1_748_736_000_000;

/// What the tests of every part share: generating into a buffer and looking into its lines.
#[cfg(test)]
mod testing {
    use super::*;

    pub(super) fn generate(options: &GenOptions) -> (Vec<u8>, GenSummary) {
        let mut out = Vec::new();
        let summary = write_shares(options, &mut out).unwrap();
        (out, summary)
    }

    pub(super) fn lines(out: &[u8]) -> Vec<&[u8]> {
        assert_eq!(out.last(), Some(&b'\n'));
        out[..out.len() - 1].split(|&b| b == b'\n').collect()
    }

    pub(super) fn options(count: usize, seed: u64) -> GenOptions {
        GenOptions {
            count,
            seed,
            ..GenOptions::default()
        }
    }

    /// The text of the object after `"key":` in `line`.
    pub(super) fn object_after<'l>(line: &'l [u8], key: &str) -> Option<&'l [u8]> {
        let key = format!("\"{key}\":");
        let start = line.windows(key.len()).position(|w| w == key.as_bytes())? + key.len();
        let mut depth = 0;
        for (i, &b) in line[start..].iter().enumerate() {
            match b {
                b'{' => depth += 1,
                b'}' if depth == 1 => return Some(&line[start..=start + i]),
                b'}' => depth -= 1,
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{generate, lines, object_after, options};
    use super::*;

    #[test]
    fn same_seed_same_bytes() {
        for encoding in DateEncoding::ALL {
            for shape in Shape::ALL {
                let o = GenOptions {
                    encoding,
                    shape,
                    ..options(200, 7)
                };
                let (a, sa) = generate(&o);
                let (b, sb) = generate(&o);
                assert!(a == b && sa == sb, "{encoding} {shape}");
                let (c, _) = generate(&GenOptions { seed: 8, ..o });
                assert_ne!(a, c);
            }
        }
    }

    #[test]
    fn summary_adds_up() {
        for shape in Shape::ALL {
            let (out, s) = generate(&GenOptions {
                shape,
                ..options(500, 2)
            });
            let lines = lines(&out);
            assert_eq!(s.records, 500);
            assert_eq!(lines.len(), s.records);
            assert_eq!(s.bytes, out.len() as u64);
            assert_eq!(s.tts_v3 + s.ttn_v2, s.records);
            let v3 = lines
                .iter()
                .filter(|l| object_after(l, "uplink_message").is_some())
                .count();
            assert_eq!(v3, s.tts_v3);
            match shape {
                Shape::TtsV3 => assert_eq!(s.ttn_v2, 0),
                Shape::TtnV2 => assert_eq!(s.tts_v3, 0),
                Shape::Mixed => assert!(s.tts_v3 > 100 && s.ttn_v2 > 100),
            }
        }
        let (out, s) = generate(&options(0, 1));
        assert!(out.is_empty() && s == GenSummary::default());
    }

    #[test]
    fn records_average_1_2_to_2_kb() {
        let (_, s) = generate(&options(2000, 4));
        let average = s.bytes / s.records as u64;
        assert!((1200..=2000).contains(&average), "{average}");
    }

    #[test]
    fn names_round_trip() {
        for e in DateEncoding::ALL {
            assert_eq!(e.to_string().parse(), Ok(e));
        }
        for s in Shape::ALL {
            assert_eq!(s.to_string().parse(), Ok(s));
        }
        assert_eq!("2017".parse(), Ok(DateEncoding::V2017));
        assert_eq!("tts-v3".parse(), Ok(Shape::TtsV3));
        let err = "2019".parse::<DateEncoding>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown date encoding (known: 2017, 2020, mixed)"
        );
        assert!("v3".parse::<Shape>().is_err());
    }
}
