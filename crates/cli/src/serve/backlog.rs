//! Telling the operator when delivery falls behind: the outbox's depth, the records added and
//! the records delivered, sampled every second into a [`BacklogWatch`]; a warn line once per
//! episode, and the same words in `/healthz`'s `delivery` check while it lasts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lorafield_microshare::backlog::{BacklogWatch, Behind, Change, Rates};
use lorafield_microshare::outbox::Outbox;
use lorafield_microshare::worker::{Concurrency, WorkerStats};
use tokio::sync::watch;
use tokio::time::Instant;

/// What the watch found, for `/healthz` and `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The words of the episode under way.
    behind: Option<String>,
    rates: Option<Rates>,
    episodes: u64,
}

impl Backlog {
    /// The words of the episode under way, if delivery is falling behind.
    pub(crate) fn behind(&self) -> Option<String> {
        self.state.lock().ok()?.behind.clone()
    }

    /// Arrival and delivery rates over the last window.
    pub(crate) fn rates(&self) -> Option<Rates> {
        self.state.lock().ok()?.rates
    }

    /// Episodes warned about since the start.
    pub(crate) fn episodes(&self) -> u64 {
        self.state.lock().map_or(0, |s| s.episodes)
    }
}

/// Samples every `interval` until `stop` turns true.
pub(crate) async fn run(
    backlog: Arc<Backlog>,
    outbox: Outbox,
    stats: Arc<WorkerStats>,
    window: Duration,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut watch = BacklogWatch::new(window);
    let origin = Instant::now();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        let depth = match outbox.depth() {
            Ok(depth) => depth,
            Err(e) => {
                tracing::debug!("backlog sample: {e}");
                continue;
            }
        };
        let delivered = stats.delivered.load(std::sync::atomic::Ordering::Relaxed);
        let change = watch.sample(origin.elapsed(), depth, outbox.added(), delivered);
        let Ok(mut state) = backlog.state.lock() else {
            return;
        };
        state.rates = watch.rates();
        match change {
            Some(Change::Behind(behind)) => {
                let words = describe(&behind, &stats.concurrency());
                tracing::warn!("{words}");
                state.behind = Some(words);
                state.episodes += 1;
            }
            Some(Change::CaughtUp) => {
                tracing::info!("delivery is catching up: the outbox is down to {depth} records");
                state.behind = None;
            }
            None => {}
        }
    }
}

/// The warning: how the backlog grew, the rates, the limit, and what may help.
pub(crate) fn describe(behind: &Behind, c: &Concurrency) -> String {
    let hint = match (c.adaptive, c.limit >= c.ceiling) {
        (true, true) => "the limit is at its ceiling: raise --concurrency".to_string(),
        (true, false) => "Microshare answers no faster at the moment (the limit follows its 429s, \
             503s, timeouts and round trips: see /metrics)"
            .to_string(),
        (false, _) => "the limit is fixed (--adaptive off): --adaptive on lets it follow \
             what Microshare sustains"
            .to_string(),
    };
    format!(
        "delivery is falling behind: the outbox grew by {} records in {} s, to {}; uplinks \
         arrive at {:.1}/s and are delivered at {:.1}/s, with {} deliveries in flight at most \
         (the concurrency limit; ceiling {}); {hint}",
        behind.grew_by,
        behind.window.as_secs(),
        behind.depth,
        behind.arrival_rate,
        behind.delivery_rate,
        c.limit,
        c.ceiling,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_give_the_rates_the_limit_and_a_hint() {
        let behind = Behind {
            depth: 9003,
            grew_by: 2412,
            arrival_rate: 812.34,
            delivery_rate: 604.5,
            window: Duration::from_secs(60),
        };
        let mut c = Concurrency {
            limit: 61,
            ceiling: 512,
            adaptive: true,
            ..Concurrency::default()
        };
        assert_eq!(
            describe(&behind, &c),
            "delivery is falling behind: the outbox grew by 2412 records in 60 s, to 9003; \
             uplinks arrive at 812.3/s and are delivered at 604.5/s, with 61 deliveries in flight \
             at most (the concurrency limit; ceiling 512); Microshare answers no faster at the \
             moment (the limit follows its 429s, 503s, timeouts and round trips: see /metrics)"
        );
        c.limit = 512;
        assert!(describe(&behind, &c).ends_with("raise --concurrency"));
        c.adaptive = false;
        assert!(describe(&behind, &c).contains("--adaptive on"));
    }
}
