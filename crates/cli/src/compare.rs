//! `lorafield compare`: the same payloads through a native codec and a device's script, every
//! difference reported.
//!
//! Payloads come from the script's codec file (its uplink examples) and any other payloads the
//! caller starts from, then mutations of them (a byte changed, a bit flipped, a byte added at
//! the end, the payload cut short, two spliced) and random ones, all from a seed so that a run
//! can be repeated.
//!
//! Each difference gets a [`Class`]: most differences between a native codec and a script are
//! the same few things (the script reads past the end of a cut payload where the native codec
//! reports `unexpected_eof`; it reads on over a type the native codec stops at), and a class
//! says which, so that the genuine ones stand out.

use std::collections::BTreeMap;
use std::fmt;

use lorafield::Codec;
use serde_json::Value;

use crate::vectors::first_difference;

/// A payload and its port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Where it came from (`example #2`, `mutation of example #2`, `random`).
    pub origin: String,
    /// The port.
    pub f_port: u8,
    /// The payload.
    pub bytes: Vec<u8>,
}

/// How two results differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The payload.
    pub case: Case,
    /// The native codec's result.
    pub native: Value,
    /// The script's result.
    pub script: Value,
    /// The first place they differ, in words.
    pub why: String,
    /// What kind of difference it is.
    pub class: Class,
}

/// What kind of difference a payload shows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// The native codec reports this kind of error or warning at a byte before which both
    /// agree, and what it decoded from that byte on the script decoded alike: the script reads
    /// on where the native codec stops or warns (past the end of a cut payload, over a record
    /// it does not know), and only the script's extra reading differs.
    Reported(String),
    /// Both decode without errors, to different data, and no report of the native codec
    /// explains it: a genuine difference.
    Data,
    /// The native codec reports errors, the script decodes, and no report explains it.
    NativeFails,
    /// The script reports errors, the native codec decodes.
    ScriptFails,
}

impl Class {
    /// Whether the difference is one a report of the native codec accounts for.
    pub fn is_reported(&self) -> bool {
        matches!(self, Class::Reported(_))
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Class::Reported(kind) => write!(f, "native {kind}"),
            Class::Data => f.write_str("data"),
            Class::NativeFails => f.write_str("native fails"),
            Class::ScriptFails => f.write_str("script fails"),
        }
    }
}

/// A small generator (xorshift64*), seeded.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.bits() % n.max(1) as u64) as usize
    }
}

/// The payloads of JSON Lines `text` (the file `name`): each line's `fPort` and `hex` (the
/// vector format; other members are ignored), its origin `name:line`. Empty lines are passed
/// over; any other line without both is an error naming it.
pub fn payloads(text: &str, name: &str) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{name}:{}", i + 1);
        let value: Value =
            serde_json::from_str(line).map_err(|e| format!("{at}: not JSON: {e}"))?;
        let f_port = value
            .get("fPort")
            .and_then(Value::as_u64)
            .and_then(|p| u8::try_from(p).ok())
            .ok_or_else(|| format!("{at}: no \"fPort\" of 0-255"))?;
        let hex_text = value
            .get("hex")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}: no \"hex\""))?;
        let bytes = hex::decode(hex_text).map_err(|e| format!("{at}: \"hex\" is not hex: {e}"))?;
        out.push(Case {
            origin: at,
            f_port,
            bytes,
        });
    }
    Ok(out)
}

/// LoRaWAN's largest application payload, the longest case made.
const MAX_PAYLOAD: usize = 242;

/// The cases: `seeds` first (the examples, and any other payloads to start from), then `count`
/// more, mutations of the seeds and random payloads (up to 24 bytes) on the seeds' ports. No
/// case made is longer than 242 bytes (LoRaWAN's largest payload).
pub fn cases(seeds: &[Case], count: usize, seed: u64) -> Vec<Case> {
    let mut out = seeds.to_vec();
    let mut rng = Rng::new(seed);
    let ports: Vec<u8> = if seeds.is_empty() {
        vec![1]
    } else {
        seeds.iter().map(|c| c.f_port).collect()
    };
    for i in 0..count {
        let mutate = !seeds.is_empty() && i % 4 != 3;
        let case = if mutate {
            let base = &seeds[rng.below(seeds.len())];
            let mut bytes = base.bytes.clone();
            bytes.truncate(MAX_PAYLOAD);
            let what = match rng.below(5) {
                0 if !bytes.is_empty() => {
                    let at = rng.below(bytes.len());
                    bytes[at] = rng.bits() as u8;
                    "a byte changed".to_string()
                }
                1 if !bytes.is_empty() => {
                    let keep = rng.below(bytes.len());
                    bytes.truncate(keep);
                    "cut short".to_string()
                }
                2 if bytes.len() < MAX_PAYLOAD => {
                    bytes.push(rng.bits() as u8);
                    "a byte added".to_string()
                }
                4 => {
                    // The head of this payload, the tail of another (or of itself): records
                    // in orders and combinations no single example has.
                    let other = &seeds[rng.below(seeds.len())];
                    bytes.truncate(rng.below(bytes.len() + 1));
                    let from = rng.below(other.bytes.len() + 1);
                    let tail = other.bytes.get(from..).unwrap_or_default();
                    let room = MAX_PAYLOAD - bytes.len();
                    bytes.extend_from_slice(&tail[..tail.len().min(room)]);
                    format!("spliced with {}", other.origin)
                }
                _ => {
                    let at = rng.below(bytes.len().max(1));
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= 1 << rng.below(8);
                    }
                    "a bit flipped".to_string()
                }
            };
            Case {
                origin: format!("{} ({what})", base.origin),
                f_port: base.f_port,
                bytes,
            }
        } else {
            let len = rng.below(24);
            Case {
                origin: "random".into(),
                f_port: ports[rng.below(ports.len())],
                bytes: (0..len).map(|_| rng.bits() as u8).collect(),
            }
        };
        out.push(case);
    }
    out
}

/// A codec's result for a case, as JSON.
pub fn result(codec: &dyn Codec, case: &Case) -> Value {
    let mut out = Vec::new();
    lorafield::decode_to_json(codec, case.f_port, &case.bytes, &mut out);
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

/// How the results of `native` and `script` differ for `case`, if they do: where both have
/// data, the data compared by deep equality (numbers as doubles); else whether each has
/// errors. Warnings are not compared (the script's are its own words).
pub fn compare(native: &Value, script: &Value) -> Option<String> {
    match (native.get("data"), script.get("data")) {
        (Some(n), Some(s)) if !errors(native) && !errors(script) => {
            first_difference("data", s, n).map(|why| format!("{why} (expected: the script's)"))
        }
        _ => match (errors(native), errors(script)) {
            (true, true) => None,
            (true, false) => Some("the native codec fails, the script decodes".into()),
            (false, true) => Some("the script fails, the native codec decodes".into()),
            (false, false) => Some("one result has no data".into()),
        },
    }
}

fn errors(v: &Value) -> bool {
    v.get("errors")
        .and_then(Value::as_array)
        .is_some_and(|e| !e.is_empty())
}

/// What running the cases found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// The cases run.
    pub cases: usize,
    /// The cases whose results differ, each classified.
    pub differences: Vec<Difference>,
    /// Of the cases whose results agree, how many carry a report of the native codec (a
    /// warning, or an error where the script fails too), by kind; a case with reports of two
    /// kinds counts under both. Mostly where the native codec warns of a record it passes
    /// over or stops at and the script, with the same data, says nothing.
    pub reported: BTreeMap<String, usize>,
}

impl Comparison {
    /// How many differences of each class.
    pub fn by_class(&self) -> BTreeMap<Class, usize> {
        let mut out = BTreeMap::new();
        for d in &self.differences {
            *out.entry(d.class.clone()).or_insert(0) += 1;
        }
        out
    }
}

/// Runs every case through both codecs.
pub fn run(native: &dyn Codec, script: &dyn Codec, cases: &[Case]) -> Comparison {
    let mut out = Comparison {
        cases: cases.len(),
        ..Comparison::default()
    };
    for case in cases {
        let n = result(native, case);
        let s = result(script, case);
        let Some(why) = compare(&n, &s) else {
            let mut kinds: Vec<String> = reports(&n).into_iter().map(|r| r.1).collect();
            kinds.sort_unstable();
            kinds.dedup();
            for kind in kinds {
                *out.reported.entry(kind).or_insert(0) += 1;
            }
            continue;
        };
        let class = classify(native, script, case, &n, &s);
        out.differences.push(Difference {
            case: case.clone(),
            native: n,
            script: s,
            why,
            class,
        });
    }
    out
}

/// What the native result reports (errors and warnings): offset, kind, and whether it is an
/// error; latest first, and at one offset errors first.
fn reports(native: &Value) -> Vec<(usize, String, bool)> {
    let mut out = Vec::new();
    for (error, key) in [(true, "errors"), (false, "warnings")] {
        for r in native
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let offset = r.get("offset").and_then(Value::as_u64);
            let kind = r.get("kind").and_then(Value::as_str);
            if let (Some(offset), Some(kind)) = (offset, kind) {
                let offset = usize::try_from(offset).unwrap_or(usize::MAX);
                out.push((offset, kind.to_string(), error));
            }
        }
    }
    out.sort_by(|a, b| b.0.cmp(&a.0).then(b.2.cmp(&a.2)));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// The class of a difference between `native` and `script`, the results of `case`.
///
/// A report of the native codec at byte `at` explains the difference when both agree on the
/// payload's first `at` bytes (or differ there only in a way an earlier report explains), and,
/// for a warning (after which the native codec may go on), every member the native codec
/// decoded from `at` on (a member of its result that its result for those first bytes lacks
/// or has otherwise) the script decoded alike. An error stops the native codec at its record:
/// what it made of that record is what failed. All that differs is then what the script made
/// of the bytes the native codec reported. Reports are tried from the last; the first that
/// explains gives the class.
pub fn classify(
    native: &dyn Codec,
    script: &dyn Codec,
    case: &Case,
    n: &Value,
    s: &Value,
) -> Class {
    for (at, kind, error) in reports(n) {
        // A report at the end (or past it) has no shorter head to compare.
        let Some(head) = case.bytes.get(..at).filter(|_| at < case.bytes.len()) else {
            continue;
        };
        let head = Case {
            origin: String::new(),
            f_port: case.f_port,
            bytes: head.to_vec(),
        };
        let (n_head, s_head) = (result(native, &head), result(script, &head));
        let head_agrees = compare(&n_head, &s_head).is_none()
            || classify(native, script, &head, &n_head, &s_head).is_reported();
        if head_agrees && (error || decoded_alike(n, &n_head, s)) {
            return Class::Reported(kind);
        }
    }
    match (errors(n), errors(s)) {
        (_, true) => Class::ScriptFails,
        (true, false) => Class::NativeFails,
        (false, false) => Class::Data,
    }
}

/// Whether every member of `native`'s data that `head`'s data lacks or has otherwise is in
/// `script`'s data, alike (numbers as doubles).
fn decoded_alike(native: &Value, head: &Value, script: &Value) -> bool {
    fn data(v: &Value) -> Option<&serde_json::Map<String, Value>> {
        v.get("data").and_then(Value::as_object)
    }
    let same =
        |a: Option<&Value>, b: &Value| a.is_some_and(|a| first_difference("", a, b).is_none());
    fn member<'v>(v: &'v Value, k: &str) -> Option<&'v Value> {
        data(v).and_then(|d| d.get(k))
    }
    data(native)
        .into_iter()
        .flatten()
        .all(|(k, v)| same(member(head, k), v) || same(member(script, k), v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_compares_as_numbers_and_errors_by_presence() {
        assert_eq!(
            compare(&json!({"data": {"t": 27.2}}), &json!({"data": {"t": 27.2}})),
            None
        );
        assert_eq!(
            compare(&json!({"data": {"t": 80}}), &json!({"data": {"t": 80.0}})),
            None
        );
        assert!(
            compare(&json!({"data": {"t": 27.2}}), &json!({"data": {"t": 27.3}}))
                .unwrap()
                .starts_with("data.t:")
        );
        assert_eq!(
            compare(&json!({"errors": [{}]}), &json!({"errors": ["x"]})),
            None
        );
        assert_eq!(
            compare(
                &json!({"data": {}, "errors": [{}]}),
                &json!({"data": {"a": 1}})
            )
            .unwrap(),
            "the native codec fails, the script decodes"
        );
    }

    #[test]
    fn cases_repeat_from_their_seed() {
        let ex = [Case {
            origin: "example #1".into(),
            f_port: 85,
            bytes: vec![1, 0x75, 0x5c],
        }];
        let a = cases(&ex, 50, 7);
        assert_eq!(a, cases(&ex, 50, 7));
        assert_ne!(a, cases(&ex, 50, 8));
        assert_eq!(a.len(), 51);
        assert_eq!(a[0], ex[0]);
        assert!(a.iter().all(|c| c.bytes.len() <= 242 && c.f_port == 85));
        assert!(a.iter().any(|c| c.origin == "random"));
        assert!(
            a.iter()
                .any(|c| c.origin.contains("(spliced with example #1)"))
        );
    }

    #[test]
    fn splices_stay_within_a_lorawan_payload() {
        let long = |n: u8| Case {
            origin: format!("long #{n}"),
            f_port: 5,
            bytes: vec![n; 240],
        };
        let made = cases(&[long(1), long(2)], 2000, 3);
        assert!(made.iter().all(|c| c.bytes.len() <= 242));
        // Some splices join the head of one to the tail of the other.
        assert!(
            made.iter()
                .any(|c| c.bytes.contains(&1) && c.bytes.contains(&2))
        );
    }

    #[test]
    fn payload_files_give_port_and_bytes_and_name_bad_lines() {
        let text =
            "{\"fPort\":85,\"hex\":\"0175\",\"model\":\"am103\"}\n\n{\"fPort\":5,\"hex\":\"\"}\n";
        let got = payloads(text, "f.jsonl").unwrap();
        assert_eq!(
            got,
            [
                Case {
                    origin: "f.jsonl:1".into(),
                    f_port: 85,
                    bytes: vec![1, 0x75]
                },
                Case {
                    origin: "f.jsonl:3".into(),
                    f_port: 5,
                    bytes: vec![]
                },
            ]
        );
        let bad = |t: &str| payloads(t, "f.jsonl").unwrap_err();
        assert!(bad("{}").starts_with("f.jsonl:1: no \"fPort\""));
        assert!(bad("\n{\"fPort\":256,\"hex\":\"\"}").starts_with("f.jsonl:2: no \"fPort\""));
        assert!(bad("{\"fPort\":1}").starts_with("f.jsonl:1: no \"hex\""));
        assert!(bad("{\"fPort\":1,\"hex\":\"0g\"}").starts_with("f.jsonl:1: \"hex\" is not hex"));
        assert!(bad("[").starts_with("f.jsonl:1: not JSON"));
    }

    /// Records `[key][value]`: key 1 is `a`, key 2 is `b` (times `scale_b`), key 5 takes its
    /// value byte only when it is 0 (`c`), as a decoder that reads a byte to learn a record's
    /// size. The native codec warns of other keys and passes over them, and reports a record
    /// cut short; the script passes over them silently and reads a missing byte as 0.
    struct Pairs {
        script: bool,
        scale_b: u64,
        fail_on: Option<u8>,
    }

    const NATIVE: Pairs = Pairs {
        script: false,
        scale_b: 1,
        fail_on: None,
    };

    const SCRIPT: Pairs = Pairs {
        script: true,
        scale_b: 1,
        fail_on: None,
    };

    impl Codec for Pairs {
        fn id(&self) -> &'static str {
            "pairs"
        }

        fn decode<'a>(
            &self,
            uplink: lorafield::Uplink<'a>,
            sink: &mut dyn lorafield::Sink<'a>,
        ) -> Result<(), lorafield::DecodeError> {
            use lorafield::{DecodeError, ErrorKind, Field};
            let p = uplink.payload;
            let mut pos = 0;
            while let Some(&key) = p.get(pos) {
                let at = |kind| DecodeError::new(pos, kind);
                if Some(key) == self.fail_on {
                    return Err(at(ErrorKind::CodecError));
                }
                let value = p.get(pos + 1).copied();
                let field = |name, v| Field::new(name, None, lorafield::Value::U64(v));
                pos += match (key, value) {
                    (5, Some(0)) => {
                        sink.field(field("c", 0)).map_err(at)?;
                        2
                    }
                    (5, Some(_)) => 1,
                    (1 | 2 | 5, None) if !self.script => return Err(at(ErrorKind::UnexpectedEof)),
                    (5, None) => 1,
                    (1, v) => {
                        sink.field(field("a", v.unwrap_or(0).into())).map_err(at)?;
                        2
                    }
                    (2, v) => {
                        let v = u64::from(v.unwrap_or(0)) * self.scale_b;
                        sink.field(field("b", v)).map_err(at)?;
                        2
                    }
                    _ => {
                        if !self.script {
                            sink.warning(at(ErrorKind::UnknownType(key))).map_err(at)?;
                        }
                        2
                    }
                };
            }
            Ok(())
        }
    }

    fn class_of(native: &Pairs, script: &Pairs, bytes: &[u8]) -> Option<Class> {
        let case = Case {
            origin: "test".into(),
            f_port: 1,
            bytes: bytes.to_vec(),
        };
        let found = run(native, script, std::slice::from_ref(&case));
        found.differences.first().map(|d| d.class.clone())
    }

    #[test]
    fn the_script_reading_past_the_end_is_the_native_codecs_report() {
        let eof = Some(Class::Reported("unexpected_eof".into()));
        // `01 05 02`: the native codec reports the cut record at byte 2, the script reads
        // `b: 0`; before byte 2 both agree.
        assert_eq!(class_of(&NATIVE, &SCRIPT, &[1, 5, 2]), eof);
        // `05 01`: byte 0 is not enough to read key 5's size (the native codec reports it,
        // the script stops silently), so the first byte agrees only by that earlier report:
        // still the script reading on.
        assert_eq!(class_of(&NATIVE, &SCRIPT, &[5, 1]), eof);
        assert_eq!(class_of(&NATIVE, &SCRIPT, &[5, 0, 1, 7]), None);
    }

    #[test]
    fn a_value_read_otherwise_is_data_wherever_the_reports_are() {
        let scaled = Pairs {
            scale_b: 10,
            ..SCRIPT
        };
        assert_eq!(class_of(&NATIVE, &scaled, &[1, 5, 2, 5]), Some(Class::Data));
        // A report after the difference does not hide it ...
        assert_eq!(
            class_of(&NATIVE, &scaled, &[2, 5, 1]),
            Some(Class::NativeFails)
        );
        // ... nor does a warning before it, after which the native codec went on.
        assert_eq!(class_of(&NATIVE, &scaled, &[9, 9, 2, 5]), Some(Class::Data));
    }

    #[test]
    fn warnings_alone_are_no_difference_but_are_counted() {
        let case = |bytes: &[u8]| Case {
            origin: "test".into(),
            f_port: 1,
            bytes: bytes.to_vec(),
        };
        let found = run(
            &NATIVE,
            &SCRIPT,
            &[case(&[9, 9, 1, 5]), case(&[1, 5]), case(&[1])],
        );
        assert_eq!(found.cases, 3);
        assert_eq!(found.differences.len(), 1);
        assert_eq!(
            found.reported.into_iter().collect::<Vec<_>>(),
            [("unknown_type".to_string(), 1)]
        );
        assert_eq!(
            found.differences[0].class.to_string(),
            "native unexpected_eof"
        );
    }

    #[test]
    fn the_script_failing_is_its_own_class() {
        let failing = Pairs {
            fail_on: Some(1),
            ..SCRIPT
        };
        assert_eq!(
            class_of(&NATIVE, &failing, &[1, 5]),
            Some(Class::ScriptFails)
        );
    }
}
