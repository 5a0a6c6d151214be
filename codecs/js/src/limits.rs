//! What a script may use, and how it is run.

use std::str::FromStr;
use std::time::Duration;

/// The bounds of one call (one uplink decoded, one downlink encoded).
///
/// A call that exceeds one fails with `script_limit` and the limit's name; the context it ran
/// in is thrown away, and the next uplink decodes as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Work, in the engine's interrupt checks (one about every 10,000 operations of its
    /// interpreter loop): a runaway script stops after the same amount of work, give or take
    /// one check, whatever the machine's load. See [`DEFAULT_FUEL`].
    pub fuel: u64,
    /// The wall-clock backstop (for work the checks do not count, such as a huge allocation).
    pub time: Duration,
    /// Bytes a call may allocate beyond what the cached contexts hold.
    pub memory: usize,
    /// Bytes of stack a call may use (deep recursion stops here).
    pub stack: usize,
    /// The largest script, in bytes (The Things Stack takes 40 KB; 31 files of the device
    /// repository are larger).
    pub script_size: usize,
    /// The largest result, in bytes of JSON text.
    pub output_size: usize,
    /// Evaluated contexts kept per thread (least recently used ones are dropped beyond it).
    pub contexts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: DEFAULT_FUEL,
            time: Duration::from_millis(1000),
            memory: 32 << 20,
            stack: 256 << 10,
            script_size: 1 << 20,
            output_size: 256 << 10,
            contexts: 64,
        }
    }
}

/// The default fuel (see [`Limits::fuel`]): a loop of arithmetic runs out of it after about
/// 50 ms on a 2-core server of 2024 (an empty loop after about 2 ms, one that allocates after
/// about 100 ms: the checks count the interpreter's loop iterations and calls, not what each
/// does). Every example of the device repository's codecs decodes with a fuel of 1: the
/// default leaves room for scripts 80 times heavier.
pub const DEFAULT_FUEL: u64 = 80;

/// Whether an uplink's call may see state a previous call left in the script's context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// The evaluated context is cached and reused. After each call the globals it created
    /// are removed and top-level `var`s holding a primitive get their values back; `let` and
    /// `const` bindings and objects changed in place keep their changes. Fast.
    #[default]
    Cached,
    /// A new context per uplink, the script evaluated each time, as The Things Stack does.
    Fresh,
}

impl Isolation {
    /// The option value's name.
    pub const fn name(&self) -> &'static str {
        match self {
            Isolation::Cached => "cached",
            Isolation::Fresh => "fresh",
        }
    }
}

impl FromStr for Isolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cached" => Ok(Isolation::Cached),
            "fresh" => Ok(Isolation::Fresh),
            _ => Err(format!("unknown isolation {s:?} (known: cached, fresh)")),
        }
    }
}

/// What `Date.now()`, `new Date()` and `Math.random` give a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The host's clock and the engine's own random numbers, as The Things Stack gives them.
    #[default]
    Real,
    /// The uplink's receive time (the Unix epoch when it is not known), and random numbers
    /// seeded from the record: decoding the same record again gives the same result.
    RecvTime,
}

impl Clock {
    /// The option value's name.
    pub const fn name(&self) -> &'static str {
        match self {
            Clock::Real => "real",
            Clock::RecvTime => "recv-time",
        }
    }
}

impl FromStr for Clock {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "real" => Ok(Clock::Real),
            "recv-time" => Ok(Clock::RecvTime),
            _ => Err(format!("unknown clock {s:?} (known: real, recv-time)")),
        }
    }
}

/// How a script codec runs: its variables, limits, isolation and clock.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsOptions {
    /// The `variables` given to the script (TS013 `input.variables`, ChirpStack's third
    /// argument), as JSON text of an object; none: the member is absent.
    pub variables: Option<String>,
    /// The bounds of each call.
    pub limits: Limits,
    /// Cached or fresh contexts.
    pub isolation: Isolation,
    /// The script's clock.
    pub clock: Clock,
}
