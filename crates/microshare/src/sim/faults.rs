//! The fault fractions: the spec they parse from, and the draw that picks a request's fault.

use std::fmt;
use std::str::FromStr;

/// The fraction (0 to 1) of token and share requests that get each fault; at most 1 in all.
///
/// Parsed from a spec such as `status500=0.1,status429=0.05,drop-after=0.05,slow=0.02`; the
/// [module documentation](super) says what each fault does.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Answer 500.
    pub status500: f64,
    /// Answer 503.
    pub status503: f64,
    /// Answer 429 with `Retry-After: 1`.
    pub status429: f64,
    /// Answer 401, as for an expired token.
    pub status401: f64,
    /// Close the connection before the request's body is read.
    pub drop_before: f64,
    /// Carry the request out, then close the connection without an answer.
    pub drop_after: f64,
    /// Carry the request out, then wait [`SimConfig::slow`](super::SimConfig::slow) before
    /// answering.
    pub slow: f64,
}

/// A kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fault {
    Status500,
    Status503,
    Status429,
    Status401,
    DropBefore,
    DropAfter,
    Slow,
}

impl Fault {
    const ALL: [Fault; 7] = [
        Fault::Status500,
        Fault::Status503,
        Fault::Status429,
        Fault::Status401,
        Fault::DropBefore,
        Fault::DropAfter,
        Fault::Slow,
    ];

    /// Its key in a fault spec and in [`SimStats::faults`](super::SimStats::faults).
    pub(super) fn key(self) -> &'static str {
        match self {
            Fault::Status500 => "status500",
            Fault::Status503 => "status503",
            Fault::Status429 => "status429",
            Fault::Status401 => "status401",
            Fault::DropBefore => "drop-before",
            Fault::DropAfter => "drop-after",
            Fault::Slow => "slow",
        }
    }
}

impl Faults {
    fn fraction(&mut self, fault: Fault) -> &mut f64 {
        match fault {
            Fault::Status500 => &mut self.status500,
            Fault::Status503 => &mut self.status503,
            Fault::Status429 => &mut self.status429,
            Fault::Status401 => &mut self.status401,
            Fault::DropBefore => &mut self.drop_before,
            Fault::DropAfter => &mut self.drop_after,
            Fault::Slow => &mut self.slow,
        }
    }

    fn fractions(mut self) -> [(Fault, f64); 7] {
        Fault::ALL.map(|fault| (fault, *self.fraction(fault)))
    }

    /// The sum of the fractions.
    pub fn total(&self) -> f64 {
        self.fractions().iter().map(|&(_, p)| p).sum()
    }

    /// Checks that each fraction is between 0 and 1 and that they add up to 1 at most.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        for (fault, p) in self.fractions() {
            if !(0.0..=1.0).contains(&p) {
                return Err(SimConfigError::InvalidValue {
                    key: fault.key(),
                    value: p.to_string(),
                });
            }
        }
        match self.total() {
            sum if sum > 1.0 + 1e-9 => Err(SimConfigError::SumAboveOne { sum }),
            _ => Ok(()),
        }
    }

    /// The fault for this request, if any.
    pub(super) fn draw(&self, rng: &mut fastrand::Rng) -> Option<Fault> {
        if self.total() <= 0.0 {
            return None;
        }
        let x = rng.f64();
        let mut below = 0.0;
        self.fractions().into_iter().find_map(|(fault, p)| {
            below += p;
            (p > 0.0 && x < below).then_some(fault)
        })
    }
}

impl FromStr for Faults {
    type Err = SimConfigError;

    fn from_str(spec: &str) -> Result<Self, SimConfigError> {
        let mut faults = Faults::default();
        let spec = spec.trim();
        if spec.is_empty() || spec.eq_ignore_ascii_case("none") {
            return Ok(faults);
        }
        let mut seen = [false; Fault::ALL.len()];
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((key, value)) = entry.split_once('=') else {
                return Err(SimConfigError::MissingValue {
                    entry: entry.to_owned(),
                });
            };
            let (key, value) = (key.trim(), value.trim());
            let Some(i) = Fault::ALL
                .iter()
                .position(|f| f.key() == key.replace('_', "-"))
            else {
                return Err(SimConfigError::UnknownKey {
                    key: key.to_owned(),
                });
            };
            let fault = Fault::ALL[i];
            if std::mem::replace(&mut seen[i], true) {
                return Err(SimConfigError::DuplicateKey { key: fault.key() });
            }
            match value.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => *faults.fraction(fault) = p,
                _ => {
                    let value = value.to_owned();
                    return Err(SimConfigError::InvalidValue {
                        key: fault.key(),
                        value,
                    });
                }
            }
        }
        faults.validate()?;
        Ok(faults)
    }
}

impl fmt::Display for Faults {
    /// The spec that parses back to these faults (`none` when there are none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for (fault, p) in self.fractions().into_iter().filter(|&(_, p)| p != 0.0) {
            write!(f, "{sep}{}={p}", fault.key())?;
            sep = ",";
        }
        if sep.is_empty() {
            f.write_str("none")
        } else {
            Ok(())
        }
    }
}

/// A fault spec, fault fractions or a date encoding that cannot be used.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SimConfigError {
    /// An entry without `=`.
    MissingValue {
        /// The entry.
        entry: String,
    },
    /// A key that names no fault.
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A fraction that is not a number from 0 to 1.
    InvalidValue {
        /// The fault.
        key: &'static str,
        /// The value given.
        value: String,
    },
    /// The same fault given twice.
    DuplicateKey {
        /// The fault.
        key: &'static str,
    },
    /// Fractions that add up to more than 1.
    SumAboveOne {
        /// Their sum.
        sum: f64,
    },
    /// A date encoding other than 2017 and 2020.
    UnknownEncoding {
        /// The value given.
        value: String,
    },
    /// A latency that is not `MS` or `MS,JITTER_MS` with the jitter at most the mean.
    InvalidLatency {
        /// The value given.
        value: String,
    },
}

impl fmt::Display for SimConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimConfigError::MissingValue { entry } => {
                write!(f, "fault entry `{entry}` is not key=fraction")
            }
            SimConfigError::UnknownKey { key } => write!(
                f,
                "unknown fault `{key}` (expected status500, status503, status429, status401, \
                 drop-before, drop-after or slow)"
            ),
            SimConfigError::InvalidValue { key, value } => {
                write!(f, "fault `{key}`: `{value}` is not a fraction from 0 to 1")
            }
            SimConfigError::DuplicateKey { key } => write!(f, "fault `{key}` is given twice"),
            SimConfigError::SumAboveOne { sum } => {
                write!(f, "fault fractions add up to {sum}, more than 1")
            }
            SimConfigError::UnknownEncoding { value } => {
                write!(f, "unknown date encoding `{value}` (expected 2017 or 2020)")
            }
            SimConfigError::InvalidLatency { value } => write!(
                f,
                "latency `{value}` is not MS or MS,JITTER_MS (whole milliseconds, the jitter at \
                 most the mean)"
            ),
        }
    }
}

impl std::error::Error for SimConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_fractions() {
        let faults = Faults {
            status500: 0.25,
            slow: 0.5,
            ..Faults::default()
        };
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            match faults.draw(&mut rng) {
                Some(Fault::Status500) => counts[0] += 1,
                Some(Fault::Slow) => counts[1] += 1,
                None => counts[2] += 1,
                Some(other) => panic!("{other:?}"),
            }
        }
        assert!((2300..2700).contains(&counts[0]), "{counts:?}");
        assert!((4700..5300).contains(&counts[1]), "{counts:?}");
    }
}
