//! Rate-limited log lines: at most one line of a kind per interval, and the next one written
//! says how many were held back.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use lorafield_microshare::throttle::LogThrottle;
//!
//! let throttle = LogThrottle::new(Duration::from_secs(10));
//! let t0 = Instant::now();
//! assert_eq!(throttle.admit("rejected_401", t0), Some(0));
//! assert_eq!(throttle.admit("rejected_401", t0 + Duration::from_secs(1)), None);
//! assert_eq!(throttle.admit("rejected_400", t0 + Duration::from_secs(1)), Some(0));
//! let held = throttle.admit("rejected_401", t0 + Duration::from_secs(10));
//! assert_eq!(held, Some(1));
//! ```
//!
//! The clock is the caller's (`now`), so tests step it instead of sleeping.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The interval `serve` and the delivery worker use: one line per kind per 10 s.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// At most one line per kind per interval.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    kinds: Mutex<Vec<Slot>>,
}

#[derive(Debug)]
struct Slot {
    kind: &'static str,
    /// When the last line of this kind was written.
    written: Instant,
    /// Lines held back since.
    held: u64,
}

impl LogThrottle {
    /// One line per kind per `interval`.
    pub fn new(interval: Duration) -> Self {
        LogThrottle {
            interval,
            kinds: Mutex::new(Vec::new()),
        }
    }

    /// Whether a line of `kind` may be written at `now`: `Some(n)`, `n` lines of that kind
    /// having been held back since the last one written, or `None` to hold this one back.
    pub fn admit(&self, kind: &'static str, now: Instant) -> Option<u64> {
        let Ok(mut kinds) = self.kinds.lock() else {
            return Some(0);
        };
        match kinds.iter_mut().find(|s| s.kind == kind) {
            None => {
                kinds.push(Slot {
                    kind,
                    written: now,
                    held: 0,
                });
                Some(0)
            }
            Some(slot) if now.saturating_duration_since(slot.written) >= self.interval => {
                slot.written = now;
                Some(std::mem::take(&mut slot.held))
            }
            Some(slot) => {
                slot.held += 1;
                None
            }
        }
    }
}

impl Default for LogThrottle {
    /// [`DEFAULT_INTERVAL`].
    fn default() -> Self {
        LogThrottle::new(DEFAULT_INTERVAL)
    }
}

/// How many lines were held back, for the end of the next line: nothing for 0, else
/// ` (N more held back)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held(pub u64);

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            1 => f.write_str(" (1 more like it held back)"),
            n => write!(f, " ({n} more like it held back)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_per_interval_and_the_next_counts_the_rest() {
        let t = LogThrottle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(t.admit("a", at(0)), Some(0));
        for s in 1..10 {
            assert_eq!(t.admit("a", at(s)), None, "second {s}");
        }
        assert_eq!(t.admit("b", at(5)), Some(0), "kinds are counted apart");
        assert_eq!(t.admit("a", at(10)), Some(9));
        assert_eq!(t.admit("a", at(11)), None);
        assert_eq!(t.admit("a", at(30)), Some(1));
        // A clock that goes back (another thread's earlier `now`) holds the line back.
        assert_eq!(t.admit("a", at(29)), None);
    }

    #[test]
    fn held_lines_read_well() {
        assert_eq!(Held(0).to_string(), "");
        assert_eq!(Held(1).to_string(), " (1 more like it held back)");
        assert_eq!(Held(12).to_string(), " (12 more like it held back)");
    }
}
