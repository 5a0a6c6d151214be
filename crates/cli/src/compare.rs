//! `lorafield compare`: the same payloads through a native codec and a device's script, every
//! difference reported.
//!
//! Payloads come from the script's codec file (its uplink examples), then mutations of them
//! (a byte changed, a byte dropped or added at the end, the payload cut short) and random ones,
//! all from a seed so that a run can be repeated.

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

/// The cases: `examples` first, then `count` more, mutations of the examples and random
/// payloads (up to 242 bytes) on the examples' ports.
pub fn cases(examples: &[Case], count: usize, seed: u64) -> Vec<Case> {
    let mut out = examples.to_vec();
    let mut rng = Rng::new(seed);
    let ports: Vec<u8> = if examples.is_empty() {
        vec![1]
    } else {
        examples.iter().map(|c| c.f_port).collect()
    };
    for i in 0..count {
        let mutate = !examples.is_empty() && i % 4 != 3;
        let case = if mutate {
            let base = &examples[rng.below(examples.len())];
            let mut bytes = base.bytes.clone();
            let what = match rng.below(4) {
                0 if !bytes.is_empty() => {
                    let at = rng.below(bytes.len());
                    bytes[at] = rng.bits() as u8;
                    "a byte changed"
                }
                1 if !bytes.is_empty() => {
                    let keep = rng.below(bytes.len());
                    bytes.truncate(keep);
                    "cut short"
                }
                2 if bytes.len() < 242 => {
                    bytes.push(rng.bits() as u8);
                    "a byte added"
                }
                _ => {
                    let at = rng.below(bytes.len().max(1));
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= 1 << rng.below(8);
                    }
                    "a bit flipped"
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
    let errors = |v: &Value| {
        v.get("errors")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty())
    };
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

/// Runs every case through both codecs; the differences.
pub fn run(native: &dyn Codec, script: &dyn Codec, cases: &[Case]) -> Vec<Difference> {
    cases
        .iter()
        .filter_map(|case| {
            let n = result(native, case);
            let s = result(script, case);
            compare(&n, &s).map(|why| Difference {
                case: case.clone(),
                native: n,
                script: s,
                why,
            })
        })
        .collect()
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
    }
}
