//! Telling when delivery falls behind: the outbox's depth, the records that arrived and the
//! records delivered, sampled now and then (every second in `serve`), give the arrival and
//! delivery rates over the last window (a minute) and say when a backlog keeps growing.
//!
//! ```
//! use std::time::Duration;
//! use lorafield_microshare::backlog::{BacklogWatch, Change};
//!
//! let mut watch = BacklogWatch::new(Duration::from_secs(60));
//! let s = Duration::from_secs;
//! // 100 records/s arrive, 60/s are delivered: the depth grows by 40 a second.
//! let mut change = None;
//! for t in 0..=60 {
//!     change = watch.sample(s(t), 40 * t, 100 * t, 60 * t).or(change);
//! }
//! let Some(Change::Behind(behind)) = change else { panic!("{change:?}") };
//! assert_eq!((behind.depth, behind.grew_by), (2400, 2400));
//! assert_eq!((behind.arrival_rate, behind.delivery_rate), (100.0, 60.0));
//! // Said once: the episode goes on while the backlog has not fallen back.
//! assert_eq!(watch.sample(s(61), 2440, 6100, 3660), None);
//! assert!(watch.behind().is_some());
//! ```
//!
//! **Growing** means rising across the whole window: the depth now exceeds the depth a window
//! ago by at least 10 records and 1% of the window's arrivals, and at each quarter of the
//! window it was higher than at the quarter before. A burst that is drained within the window
//! is not a backlog; a steady shortfall is, however small. An **episode** starts when the
//! depth is found growing and ends when the depth falls under what it was a window earlier (or
//! to zero); [`BacklogWatch::sample`] reports both changes, once each, so that the caller
//! warns once per episode.

use std::collections::VecDeque;
use std::time::Duration;

/// The smallest rise across a window that counts as growing.
const MIN_GROWTH: u64 = 10;

/// A backlog found growing.
#[derive(Debug, Clone, PartialEq)]
pub struct Behind {
    /// Records in the outbox (waiting and in flight) when it was found.
    pub depth: u64,
    /// How much the depth rose over the window.
    pub grew_by: u64,
    /// Records that arrived per second over the window.
    pub arrival_rate: f64,
    /// Records delivered per second over the window.
    pub delivery_rate: f64,
    /// The window.
    pub window: Duration,
}

/// A change of episode.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The depth is growing: an episode starts.
    Behind(Behind),
    /// The depth fell back: the episode is over.
    CaughtUp,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    depth: u64,
    arrived: u64,
    delivered: u64,
}

/// Rates over the last window (or what the samples cover of it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Records that arrived per second.
    pub arrival: f64,
    /// Records delivered per second.
    pub delivery: f64,
}

/// The samples of the last window and the episode under way. See the
/// [module documentation](self).
#[derive(Debug, Clone)]
pub struct BacklogWatch {
    window: Duration,
    samples: VecDeque<Sample>,
    behind: Option<Behind>,
}

impl BacklogWatch {
    /// A watch over `window` (at least a second).
    pub fn new(window: Duration) -> Self {
        BacklogWatch {
            window: window.max(Duration::from_secs(1)),
            samples: VecDeque::new(),
            behind: None,
        }
    }

    /// The episode under way, if the backlog is growing.
    pub fn behind(&self) -> Option<&Behind> {
        self.behind.as_ref()
    }

    /// Arrival and delivery rates over the last window, once two samples are in.
    pub fn rates(&self) -> Option<Rates> {
        let (first, last) = (self.samples.front()?, self.samples.back()?);
        let seconds = (last.at - first.at).as_secs_f64();
        (seconds > 0.0).then(|| Rates {
            arrival: last.arrived.saturating_sub(first.arrived) as f64 / seconds,
            delivery: last.delivered.saturating_sub(first.delivered) as f64 / seconds,
        })
    }

    /// Takes a sample at `at` (any monotonic origin, increasing): the outbox's `depth`, and
    /// the counts of records that ever `arrived` and were `delivered`. Returns the change of
    /// episode this sample makes, if any.
    pub fn sample(
        &mut self,
        at: Duration,
        depth: u64,
        arrived: u64,
        delivered: u64,
    ) -> Option<Change> {
        if self.samples.back().is_some_and(|s| s.at >= at) {
            return None;
        }
        self.samples.push_back(Sample {
            at,
            depth,
            arrived,
            delivered,
        });
        // Keep the newest sample at or before a window ago, and what came after it.
        while self.samples.len() > 2 && self.samples[1].at + self.window <= at {
            self.samples.pop_front();
        }
        let old = *self.samples.front()?;
        if old.at + self.window > at {
            return None; // not a whole window yet
        }
        match self.behind {
            None if self.growing(at) => {
                let rates = self.rates()?;
                let behind = Behind {
                    depth,
                    grew_by: depth - old.depth,
                    arrival_rate: rates.arrival,
                    delivery_rate: rates.delivery,
                    window: self.window,
                };
                self.behind = Some(behind.clone());
                Some(Change::Behind(behind))
            }
            Some(_) if depth < old.depth || depth == 0 => {
                self.behind = None;
                Some(Change::CaughtUp)
            }
            _ => None,
        }
    }

    /// Whether the depth rose across the window ending at `at`, quarter by quarter.
    fn growing(&self, at: Duration) -> bool {
        let depth_at = |t: Duration| {
            self.samples
                .iter()
                .take_while(|s| s.at <= t)
                .last()
                .map(|s| s.depth)
        };
        let (Some(old), Some(last)) = (self.samples.front(), self.samples.back()) else {
            return false;
        };
        let arrived = last.arrived.saturating_sub(old.arrived);
        if last.depth < old.depth + MIN_GROWTH.max(arrived / 100) {
            return false;
        }
        let quarter = self.window / 4;
        let points = [4u32, 3, 2, 1, 0].map(|q| depth_at(at - quarter * q));
        points
            .windows(2)
            .all(|w| matches!((w[0], w[1]), (Some(a), Some(b)) if b > a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_steady_shortfall_starts_one_episode_and_draining_ends_it() {
        let mut w = BacklogWatch::new(s(60));
        let mut changes = Vec::new();
        // 50/s arrive, 45/s delivered, for three minutes.
        for t in 0..=180 {
            if let Some(c) = w.sample(s(t), 5 * t, 50 * t, 45 * t) {
                changes.push((t, c));
            }
        }
        assert_eq!(changes.len(), 1, "{changes:?}");
        let (t, Change::Behind(b)) = &changes[0] else {
            panic!("{changes:?}")
        };
        assert_eq!(*t, 60, "found once a whole window grew");
        assert_eq!((b.depth, b.grew_by, b.window), (300, 300, s(60)));
        assert_eq!((b.arrival_rate, b.delivery_rate), (50.0, 45.0));
        assert_eq!(w.behind(), Some(b));
        // Delivery catches up: 50/s arrive, 60/s delivered from depth 900.
        let mut ended = None;
        for t in 181..=400 {
            let depth = 900u64.saturating_sub(10 * (t - 180));
            let arrived = 9000 + 50 * (t - 180);
            if let Some(c) = w.sample(s(t), depth, arrived, arrived - depth) {
                assert!(ended.is_none(), "a second change at {t}: {c:?}");
                ended = Some((t, c));
            }
        }
        // At 201 s the depth (690) is under what it was a minute before (705).
        assert_eq!(ended, Some((201, Change::CaughtUp)));
        assert_eq!(w.behind(), None);
        let rates = w.rates().unwrap();
        assert_eq!((rates.arrival, rates.delivery), (50.0, 50.0));
    }

    #[test]
    fn a_burst_drained_within_the_window_is_not_a_backlog() {
        let mut w = BacklogWatch::new(s(60));
        // 3000 records at once at t=10, drained at 100/s over 30 s, then nothing.
        for t in 0..=200 {
            let depth = match t {
                0..10 => 0,
                10..40 => 3000 - 100 * (t - 10),
                _ => 0,
            };
            let arrived = if t < 10 { 0 } else { 3000 };
            assert_eq!(
                w.sample(s(t), depth, arrived, arrived - depth),
                None,
                "at {t}"
            );
        }
    }

    #[test]
    fn small_noise_and_a_flat_backlog_are_not_growth() {
        let mut w = BacklogWatch::new(s(60));
        let mut rng = fastrand::Rng::with_seed(5);
        for t in 0..=600 {
            // 1000/s in and out, depth wandering between 100 and 108.
            let depth = 100 + rng.u64(0..8);
            assert_eq!(w.sample(s(t), depth, 1000 * t, 1000 * t), None, "at {t}");
        }
    }

    #[test]
    fn samples_out_of_order_or_too_few_say_nothing() {
        let mut w = BacklogWatch::new(s(60));
        assert_eq!(w.rates(), None);
        assert_eq!(w.sample(s(5), 0, 0, 0), None);
        assert_eq!(w.sample(s(5), 100, 100, 0), None);
        assert_eq!(w.sample(s(4), 100, 100, 0), None);
        assert_eq!(w.rates(), None);
        assert_eq!(w.sample(s(7), 1000, 1000, 0), None, "not a whole window");
        assert_eq!(w.rates().map(|r| r.arrival), Some(500.0));
    }
}
