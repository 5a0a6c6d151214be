//! Adaptive concurrency: how many deliveries may be in flight, from what Microshare's answers
//! say. A small state machine, fed after every request; it reads no clock (the caller gives the
//! time) and sleeps nowhere.
//!
//! ```
//! use std::time::Duration;
//! use lorafield_microshare::adaptive::{AdaptiveConfig, Controller, Signal};
//!
//! let ms = Duration::from_millis;
//! let mut limit = Controller::adaptive(AdaptiveConfig::default(), 512);
//! assert_eq!(limit.limit(), 8);
//! // One round trip of 100 ms with every slot in use: `limit` answers spread over it, the
//! // first `taken` of them successes, the rest 429s.
//! let mut now = Duration::ZERO;
//! let mut round_trip = |limit: &mut Controller, taken: usize| {
//!     let n = limit.limit();
//!     let start = now;
//!     for i in 0..n {
//!         limit.started(limit.limit());
//!         now = start + ms(100) * (i as u32 + 1) / n as u32;
//!         let signal = if i < taken { Signal::Success } else { Signal::Overload };
//!         limit.answered(now, ms(100), signal);
//!     }
//! };
//! // The first sets the baseline; then the limit grows by half each round trip: 12, 18, 27, 40.
//! for _ in 0..5 {
//!     round_trip(&mut limit, usize::MAX);
//! }
//! assert_eq!(limit.limit(), 40);
//! // A 429 (or a 503, or a timeout) in a round trip: cut by a tenth when its window closes.
//! round_trip(&mut limit, 39);
//! assert_eq!(limit.limit(), 36);
//! ```
//!
//! The algorithm, in the spirit of Vector's adaptive request concurrency (AIMD on the limit,
//! round-trip times against their own history):
//!
//! - Time is cut into **windows** of one RTT baseline (clamped to 10 ms..1 s). A window
//!   closes at the first answer after its end; it is judged on the mean RTT of its successful
//!   requests (the short-term RTT).
//! - The **baseline** is a long-term exponentially weighted average of the windows' means: it
//!   moves a tenth of the way towards a window's mean above it and half the way towards one
//!   below it, so that it tracks the uncongested round trip (a path that got slower for good
//!   is followed within a few windows; queueing that the bridge causes itself is cut before
//!   it is learnt).
//! - **Increase**: a window whose every slot was in use at some point (the limit was what held
//!   deliveries back), with no overload and a short-term RTT near the baseline, raises the
//!   limit by 1. Until the first decrease the limit rises by half instead (a slow start, as
//!   TCP's): from 8 to 150 in 8 windows rather than 142, so that a bridge started on a
//!   backlog over a 100 ms path is at speed within a second.
//! - **Decrease**: a window with a 429, a 503 or a timeout in it ([`Signal::Overload`]) cuts
//!   the limit to 0.9 of itself when it closes, or to the number of requests that succeeded in
//!   it (what Microshare took in one round trip) when that is fewer: a limit far above what a
//!   rate limit allows comes down in one step rather than twenty. A window whose short-term
//!   RTT exceeds the baseline by half plus 5 ms (rising latency: requests queue somewhere)
//!   cuts it to 0.9. So at most one decrease per window: the answers of one window all report
//!   the same overload.
//! - Other failures ([`Signal::Other`]: 500, other 5xx and 4xx, refused connections, cut
//!   connections) leave the limit as it is and give no RTT sample: they say something is
//!   wrong, not that there is too much in flight; backoff and the dead-letter table deal
//!   with them.
//! - The limit stays between 1 and the ceiling (`--concurrency`). A [fixed](Controller::fixed)
//!   controller keeps its limit and still measures the RTTs, for `/metrics`.

use std::time::Duration;

/// The controller's parameters; [`Default`] gives the ones the [module documentation](self)
/// describes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveConfig {
    /// The limit to start at (at most the ceiling).
    pub initial: usize,
    /// The limit never goes below this.
    pub floor: usize,
    /// A decrease multiplies the limit by this (then rounds down).
    pub decrease: f64,
    /// A window whose mean RTT exceeds `baseline * rtt_factor + rtt_slack` is rising latency.
    pub rtt_factor: f64,
    /// See `rtt_factor`: differences this small are scheduling noise, not queueing.
    pub rtt_slack: Duration,
    /// How far the baseline moves towards a window's mean RTT above it (0..1).
    pub baseline_up: f64,
    /// How far the baseline moves towards a window's mean RTT below it (0..1).
    pub baseline_down: f64,
    /// Windows last one baseline RTT, but at least this long...
    pub min_window: Duration,
    /// ...and at most this long.
    pub max_window: Duration,
}

impl Default for AdaptiveConfig {
    /// Start at 8, floor 1, decrease to 0.9, rising latency past 1.5 times the baseline plus
    /// 5 ms, the baseline moving 0.1 up and 0.5 down, windows of 10 ms to 1 s.
    fn default() -> Self {
        AdaptiveConfig {
            initial: 8,
            floor: 1,
            decrease: 0.9,
            rtt_factor: 1.5,
            rtt_slack: Duration::from_millis(5),
            baseline_up: 0.1,
            baseline_down: 0.5,
            min_window: Duration::from_millis(10),
            max_window: Duration::from_secs(1),
        }
    }
}

/// What an answer says about the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A success: its round trip is a sample.
    Success,
    /// 429, 503 or a timeout: too much in flight, or too fast.
    Overload,
    /// Any other failure: no sample, no change.
    Other,
}

/// Why the limit last went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decrease {
    /// A 429, a 503 or a timeout.
    Overload,
    /// The short-term RTT rose past the baseline.
    Latency,
}

/// The window being observed.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    start: Duration,
    /// Seconds, summed over the successes.
    sum: f64,
    count: u32,
    /// Every slot was in use at some point.
    full: bool,
    /// An overload answer came.
    overload: bool,
}

/// The concurrency limit and what it is based on. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Controller {
    config: AdaptiveConfig,
    ceiling: usize,
    fixed: bool,
    limit: usize,
    /// Seconds.
    baseline: Option<f64>,
    /// The last closed window's mean RTT, seconds.
    recent: Option<f64>,
    window: Window,
    last_decrease: Option<Duration>,
    slow_start: bool,
    increases: u64,
    decreases: u64,
    last_cause: Option<Decrease>,
}

impl Controller {
    /// A limit that adapts, from `config.initial` up to `ceiling` at most.
    pub fn adaptive(config: AdaptiveConfig, ceiling: usize) -> Self {
        let ceiling = ceiling.max(1);
        let floor = config.floor.clamp(1, ceiling);
        Controller {
            config: AdaptiveConfig { floor, ..config },
            ceiling,
            fixed: false,
            limit: config.initial.clamp(floor, ceiling),
            baseline: None,
            recent: None,
            window: Window::default(),
            last_decrease: None,
            slow_start: true,
            increases: 0,
            decreases: 0,
            last_cause: None,
        }
    }

    /// A limit that stays at `limit` (at least 1); RTTs are still measured.
    pub fn fixed(limit: usize) -> Self {
        let limit = limit.max(1);
        Controller {
            fixed: true,
            ..Controller::adaptive(
                AdaptiveConfig {
                    initial: limit,
                    ..AdaptiveConfig::default()
                },
                limit,
            )
        }
    }

    /// How many deliveries may be in flight now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The limit's ceiling.
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    /// Whether the limit adapts.
    pub fn is_adaptive(&self) -> bool {
        !self.fixed
    }

    /// The long-term RTT baseline, once a window has closed.
    pub fn baseline(&self) -> Option<Duration> {
        self.baseline.map(Duration::from_secs_f64)
    }

    /// The mean RTT of the last window that had successes.
    pub fn recent(&self) -> Option<Duration> {
        self.recent.map(Duration::from_secs_f64)
    }

    /// How many times the limit went up.
    pub fn increases(&self) -> u64 {
        self.increases
    }

    /// How many times the limit went down.
    pub fn decreases(&self) -> u64 {
        self.decreases
    }

    /// Why the limit last went down, if it did.
    pub fn last_decrease(&self) -> Option<Decrease> {
        self.last_cause
    }

    /// A request was started with `in_flight` requests in flight, itself included: when that
    /// is the limit, the window counts as full (the limit held deliveries back).
    pub fn started(&mut self, in_flight: usize) {
        if in_flight >= self.limit {
            self.window.full = true;
        }
    }

    /// A request started `rtt` ago was answered at `now` (any monotonic origin) with `signal`.
    pub fn answered(&mut self, now: Duration, rtt: Duration, signal: Signal) {
        match signal {
            Signal::Success => {
                self.window.sum += rtt.as_secs_f64();
                self.window.count += 1;
            }
            Signal::Overload => self.window.overload = true,
            Signal::Other => {}
        }
        if now >= self.window.start + self.window_len() {
            self.close(now);
        }
    }

    /// One baseline RTT (before there is one: the mean of this window's samples), clamped.
    fn window_len(&self) -> Duration {
        let seconds = match (self.baseline, self.window.count) {
            (Some(b), _) => b,
            (None, 0) => 0.0,
            (None, n) => self.window.sum / f64::from(n),
        };
        Duration::from_secs_f64(seconds).clamp(self.config.min_window, self.config.max_window)
    }

    fn close(&mut self, now: Duration) {
        let window = std::mem::replace(
            &mut self.window,
            Window {
                start: now,
                ..Window::default()
            },
        );
        let successes = usize::try_from(window.count).unwrap_or(usize::MAX);
        if window.overload {
            self.decrease(now, Decrease::Overload, successes);
        }
        if window.count == 0 {
            return;
        }
        let mean = window.sum / f64::from(window.count);
        self.recent = Some(mean);
        let Some(baseline) = self.baseline else {
            self.baseline = Some(mean);
            return;
        };
        let threshold = baseline * self.config.rtt_factor + self.config.rtt_slack.as_secs_f64();
        let decreased_within = self.last_decrease.is_some_and(|t| t >= window.start);
        if mean > threshold && !window.overload {
            self.decrease(now, Decrease::Latency, usize::MAX);
        } else if window.full && !window.overload && !decreased_within {
            self.increase();
        }
        let alpha = if mean < baseline {
            self.config.baseline_down
        } else {
            self.config.baseline_up
        };
        self.baseline = Some(baseline + alpha * (mean - baseline));
    }

    fn increase(&mut self) {
        if self.fixed || self.limit >= self.ceiling {
            return;
        }
        let step = if self.slow_start {
            (self.limit / 2).max(1)
        } else {
            1
        };
        self.limit = (self.limit + step).min(self.ceiling);
        self.increases += 1;
    }

    /// Cuts the limit to 0.9 of itself, or to `taken` when that is less (never under the
    /// floor), unless it was cut less than a window ago.
    fn decrease(&mut self, now: Duration, cause: Decrease, taken: usize) {
        if self.fixed {
            return;
        }
        if self
            .last_decrease
            .is_some_and(|t| now < t + self.window_len())
        {
            return;
        }
        let cut = ((self.limit as f64 * self.config.decrease).floor() as usize).min(taken);
        let limit = cut.clamp(self.config.floor, self.limit);
        self.slow_start = false;
        self.last_decrease = Some(now);
        if limit < self.limit {
            self.limit = limit;
            self.decreases += 1;
            self.last_cause = Some(cause);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A service answering in `rtt`, taking `capacity` requests a round trip (the rest get
    /// 429): `windows` round trips with every slot busy, the answers spread over each.
    fn serve(c: &mut Controller, now: &mut Duration, rtt: Duration, windows: u32, capacity: usize) {
        for _ in 0..windows {
            let n = c.limit();
            let start = *now;
            for i in 0..n {
                c.started(c.limit());
                // The last answer exactly one round trip after the first request.
                *now = start + rtt * u32::try_from(i + 1).unwrap() / u32::try_from(n).unwrap();
                let signal = if i < capacity {
                    Signal::Success
                } else {
                    Signal::Overload
                };
                c.answered(*now, rtt, signal);
            }
        }
    }

    #[test]
    fn slow_start_then_additive_while_rtts_hold() {
        let mut c = Controller::adaptive(AdaptiveConfig::default(), 512);
        let mut now = Duration::ZERO;
        // The first window sets the baseline, no change.
        serve(&mut c, &mut now, ms(100), 1, usize::MAX);
        assert_eq!(c.limit(), 8);
        assert_eq!(c.baseline(), Some(ms(100)));
        // Then +half a window: 8, 12, 18, 27, 40, 60, 90, 135, 202.
        let mut seen = vec![c.limit()];
        for _ in 0..8 {
            serve(&mut c, &mut now, ms(100), 1, usize::MAX);
            seen.push(c.limit());
        }
        assert_eq!(seen, [8, 12, 18, 27, 40, 60, 90, 135, 202]);
        // A window with 429s ends the slow start: 0.9 of the limit, then +1 a window (but for
        // the window right after the cut, whose answers are of requests sent before it).
        serve(&mut c, &mut now, ms(100), 1, 190);
        assert_eq!(c.limit(), 181);
        assert_eq!(c.last_decrease(), Some(Decrease::Overload));
        serve(&mut c, &mut now, ms(100), 1, usize::MAX);
        assert_eq!(c.limit(), 181);
        serve(&mut c, &mut now, ms(100), 5, usize::MAX);
        assert_eq!(c.limit(), 186);
        assert_eq!((c.decreases(), c.increases()), (1, 13));
    }

    #[test]
    fn it_never_grows_past_the_ceiling_nor_when_slots_are_idle() {
        let mut c = Controller::adaptive(AdaptiveConfig::default(), 20);
        let mut now = Duration::ZERO;
        serve(&mut c, &mut now, ms(50), 50, usize::MAX);
        assert_eq!(c.limit(), 20);
        // Fewer in flight than the limit: the limit did not hold anything back.
        let mut c = Controller::adaptive(AdaptiveConfig::default(), 512);
        for _ in 0..200 {
            c.started(3);
            now += ms(10);
            c.answered(now, ms(50), Signal::Success);
        }
        assert_eq!(c.limit(), 8);
        assert_eq!(c.increases(), 0);
        // A ceiling under the initial limit is the limit.
        assert_eq!(
            Controller::adaptive(AdaptiveConfig::default(), 4).limit(),
            4
        );
    }

    #[test]
    fn overload_cuts_once_per_window_to_what_was_taken_and_never_under_the_floor() {
        let mut c = Controller::adaptive(AdaptiveConfig::default(), 512);
        let mut now = Duration::ZERO;
        serve(&mut c, &mut now, ms(100), 6, usize::MAX);
        let before = c.limit();
        assert_eq!(before, 60);
        // One 429 in a window: a tenth off, once.
        serve(&mut c, &mut now, ms(100), 1, before - 1);
        assert_eq!((c.limit(), c.decreases()), (54, 1));
        // A rate limit far below the limit: down to what it took, in one step.
        let mut c = Controller::adaptive(AdaptiveConfig::default(), 512);
        let mut now = Duration::ZERO;
        serve(&mut c, &mut now, ms(100), 12, usize::MAX);
        assert_eq!(c.limit(), 512);
        serve(&mut c, &mut now, ms(100), 1, 50);
        assert_eq!((c.limit(), c.decreases()), (50, 1));
        // Then it settles around what is taken: 429s a tenth off, +1 a window between them.
        serve(&mut c, &mut now, ms(100), 100, 50);
        assert!((40..=51).contains(&c.limit()), "{}", c.limit());
        // Nothing taken: down to the floor, and no lower.
        serve(&mut c, &mut now, ms(100), 3, 0);
        assert_eq!(c.limit(), 1);
        serve(&mut c, &mut now, ms(100), 3, 0);
        assert_eq!(c.limit(), 1);
        // Other failures change nothing.
        let mut c = Controller::adaptive(AdaptiveConfig::default(), 512);
        for _ in 0..100 {
            c.started(c.limit());
            now += ms(30);
            c.answered(now, ms(100), Signal::Other);
        }
        assert_eq!((c.limit(), c.baseline()), (8, None));
    }

    #[test]
    fn rising_latency_cuts_and_a_path_that_got_slower_is_learnt() {
        let mut c = Controller::adaptive(AdaptiveConfig::default(), 512);
        let mut now = Duration::ZERO;
        serve(&mut c, &mut now, ms(100), 5, usize::MAX);
        let grown = c.limit();
        // 140 ms is within 1.5 x 100 + 5: still growing.
        serve(&mut c, &mut now, ms(140), 1, usize::MAX);
        assert!(c.limit() > grown);
        let before = c.limit();
        // 300 ms: rising latency, found when the window closes.
        while c.decreases() == 0 {
            c.started(c.limit());
            now += ms(10);
            c.answered(now, ms(300), Signal::Success);
        }
        assert_eq!(c.limit(), before * 9 / 10);
        assert_eq!(c.last_decrease(), Some(Decrease::Latency));
        // The path stays at 300 ms: a few more cuts while the baseline catches up, then
        // growth again.
        serve(&mut c, &mut now, ms(300), 30, usize::MAX);
        let baseline = c.baseline().unwrap();
        assert!(baseline > ms(250), "{baseline:?}");
        let settled = c.limit();
        let cuts = c.decreases();
        serve(&mut c, &mut now, ms(300), 5, usize::MAX);
        assert!(c.limit() > settled, "{} after {settled}", c.limit());
        assert_eq!(c.decreases(), cuts);
        // Back to 100 ms: the baseline follows fast.
        serve(&mut c, &mut now, ms(100), 10, usize::MAX);
        assert!(c.baseline().unwrap() < ms(130), "{:?}", c.baseline());
    }

    #[test]
    fn jitter_within_the_slack_is_not_rising_latency() {
        let mut c = Controller::adaptive(AdaptiveConfig::default(), 512);
        let mut now = Duration::ZERO;
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..600 {
            c.started(c.limit());
            now += ms(10);
            c.answered(now, ms(rng.u64(80..=120)), Signal::Success);
        }
        assert_eq!(c.decreases(), 0);
        assert!(c.limit() > 100);
        // On loopback (sub-millisecond round trips), a few ms of scheduling noise is not
        // queueing either.
        let mut c = Controller::adaptive(AdaptiveConfig::default(), 512);
        for _ in 0..300 {
            c.started(c.limit());
            now += ms(1);
            c.answered(
                now,
                Duration::from_micros(rng.u64(300..=4000)),
                Signal::Success,
            );
        }
        assert_eq!(c.decreases(), 0);
    }

    #[test]
    fn a_fixed_limit_stays_and_measures() {
        let mut c = Controller::fixed(8);
        let mut now = Duration::ZERO;
        serve(&mut c, &mut now, ms(100), 10, usize::MAX);
        serve(&mut c, &mut now, ms(100), 3, 2);
        serve(&mut c, &mut now, ms(500), 10, usize::MAX);
        assert_eq!((c.limit(), c.ceiling(), c.is_adaptive()), (8, 8, false));
        assert_eq!((c.increases(), c.decreases()), (0, 0));
        assert!(c.baseline().is_some() && c.recent() == Some(ms(500)));
        assert_eq!(Controller::fixed(0).limit(), 1);
    }
}
