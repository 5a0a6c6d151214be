//! One attempt at one record, wherever it waits: a look-up first when an earlier attempt may
//! have stored it and the credentials can ask, then the post. Every round trip is timed and
//! fed to the concurrency controller.
//!
//! **May have reached Microshare** is a count on the record, [`Record::unknown_outcomes`]:
//! attempts whose request went out and whose answer never came (a timeout, a connection cut
//! after sending, a 502 or 504 from a gateway), and claims that were never settled (a lease
//! that ran out: the process died with the request in flight). The outbox keeps the count on
//! the record's row; JetStream counts a redelivery (a message whose acknowledgement never
//! came) as one, and a record published before the forward's connection was made again after
//! a loss (a server killed may forget what it delivered), and carries the count through the
//! dead-letter stream in a header. Before posting such a record, the
//! attempt asks Microshare for the record's key tag: found means delivered (not posted
//! again); absent clears the count. Credentials that cannot ask (a pipe token) post again, and
//! the count goes to [`WorkerStats::unknown_outcomes`](super::WorkerStats): each may be a
//! duplicate share.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{Concurrency, Deliver, DeliveryError, Lookup, WorkerConfig, WorkerStats};
use crate::adaptive::{Controller, Signal};

/// A record to deliver.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The recType to post it to.
    pub rec_type: &'a str,
    /// Its key (`lfk-...`), sent as its tag.
    pub key: &'a str,
    /// The JSON to post.
    pub body: &'a [u8],
    /// Earlier attempts that may have stored it without an answer saying so (a timeout, a
    /// connection cut after sending, a 502 or 504, a lease that ran out, a queue's
    /// redelivery), not settled by a look-up since. With any, [`attempt`] looks the record up
    /// before posting it.
    pub unknown_outcomes: u32,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    /// Posted, and stored. `unchecked`: earlier attempts that may have stored it too and that
    /// could not be asked about (each may be a duplicate share).
    Posted {
        /// Earlier attempts that may have stored it, unchecked.
        unchecked: u32,
    },
    /// A look-up found it stored by an earlier attempt: not posted again.
    Found,
    /// Failed (the look-up or the post).
    Failed {
        /// Why.
        error: DeliveryError,
        /// Attempts that may have stored it now, this one included.
        unknown_outcomes: u32,
    },
}

/// Makes one attempt at `record` with `deliver`, timing each request for `pace`.
pub async fn attempt<D: Deliver>(deliver: &D, pace: &Pace, record: Record<'_>) -> Attempted {
    let mut unknown = record.unknown_outcomes;
    if unknown > 0 {
        let start = Instant::now();
        match deliver.look_up(record.rec_type, record.key).await {
            Ok(Lookup::Found) => {
                pace.answered(start, Signal::Success);
                pace.stats.found.fetch_add(1, Ordering::Relaxed);
                return Attempted::Found;
            }
            Ok(Lookup::Absent) => {
                pace.answered(start, Signal::Success);
                pace.stats.absent.fetch_add(1, Ordering::Relaxed);
                unknown = 0;
            }
            Ok(Lookup::Unavailable) => {}
            Err(error) => {
                pace.answered(start, error.signal());
                return Attempted::Failed {
                    error,
                    unknown_outcomes: unknown,
                };
            }
        }
    }
    let start = Instant::now();
    let tags = [record.key.to_string()];
    match deliver.deliver(record.rec_type, &tags, record.body).await {
        Ok(()) => {
            pace.answered(start, Signal::Success);
            Attempted::Posted { unchecked: unknown }
        }
        Err(error) => {
            pace.answered(start, error.signal());
            if error.may_have_stored() {
                unknown += 1;
            }
            Attempted::Failed {
                error,
                unknown_outcomes: unknown,
            }
        }
    }
}

/// The concurrency controller the worker and its deliveries share; what it says is copied
/// to [`WorkerStats::concurrency`] after every change.
#[derive(Debug)]
pub struct Pace {
    controller: Mutex<Controller>,
    origin: Instant,
    stats: Arc<WorkerStats>,
}

impl Pace {
    /// The controller `config` asks for: adaptive up to `config.concurrency`, or fixed at it.
    pub fn new(config: &WorkerConfig, stats: Arc<WorkerStats>) -> Self {
        let controller = match config.adaptive {
            Some(adaptive) => Controller::adaptive(adaptive, config.concurrency),
            None => Controller::fixed(config.concurrency),
        };
        let pace = Pace {
            controller: Mutex::new(controller),
            origin: Instant::now(),
            stats,
        };
        if let Ok(c) = pace.controller.lock() {
            pace.publish(&c);
        }
        pace
    }

    /// Deliveries that may be in flight now.
    pub fn limit(&self) -> usize {
        self.controller.lock().map_or(1, |c| c.limit())
    }

    /// A delivery was started, `in_flight` with it.
    pub fn started(&self, in_flight: usize) {
        if let Ok(mut c) = self.controller.lock() {
            c.started(in_flight);
        }
    }

    /// A request sent at `start` was answered now with `signal`.
    pub fn answered(&self, start: Instant, signal: Signal) {
        let now = Instant::now();
        if let Ok(mut c) = self.controller.lock() {
            c.answered(now - self.origin, now - start, signal);
            self.publish(&c);
        }
    }

    /// `in_flight` deliveries are running.
    pub fn set_in_flight(&self, in_flight: usize) {
        self.stats.set_concurrency(|c| c.in_flight = in_flight);
    }

    fn publish(&self, c: &Controller) {
        self.stats.set_concurrency(|s| {
            *s = Concurrency {
                limit: c.limit(),
                ceiling: c.ceiling(),
                adaptive: c.is_adaptive(),
                in_flight: s.in_flight,
                rtt_baseline: c.baseline(),
                rtt_recent: c.recent(),
                increases: c.increases(),
                decreases: c.decreases(),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::Cause;

    /// Answers look-ups and posts from a script, and counts them.
    struct Scripted {
        lookup: Result<Lookup, DeliveryError>,
        post: Result<(), DeliveryError>,
        calls: Mutex<Vec<&'static str>>,
    }

    impl Deliver for Scripted {
        async fn deliver(&self, _: &str, tags: &[String], _: &[u8]) -> Result<(), DeliveryError> {
            assert_eq!(tags, ["lfk-00000000000000aa"]);
            self.calls.lock().unwrap().push("post");
            self.post.clone()
        }

        async fn look_up(&self, rec_type: &str, tag: &str) -> Result<Lookup, DeliveryError> {
            assert_eq!((rec_type, tag), ("r", "lfk-00000000000000aa"));
            self.calls.lock().unwrap().push("look-up");
            self.lookup.clone()
        }
    }

    fn run(
        lookup: Result<Lookup, DeliveryError>,
        post: Result<(), DeliveryError>,
        unknown_outcomes: u32,
    ) -> (Attempted, Vec<&'static str>, Arc<WorkerStats>) {
        let stats = Arc::new(WorkerStats::default());
        let pace = Pace::new(&WorkerConfig::default(), stats.clone());
        let d = Scripted {
            lookup,
            post,
            calls: Mutex::default(),
        };
        let record = Record {
            rec_type: "r",
            key: "lfk-00000000000000aa",
            body: b"{}",
            unknown_outcomes,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let attempted = runtime.block_on(attempt(&d, &pace, record));
        let calls = d.calls.into_inner().unwrap();
        (attempted, calls, stats)
    }

    fn cut() -> DeliveryError {
        DeliveryError::Retry {
            reason: "cut".into(),
            status: None,
            after: None,
            cause: Cause::Cut,
        }
    }

    #[test]
    fn a_record_no_attempt_may_have_stored_is_posted_without_asking() {
        let (a, calls, _) = run(Ok(Lookup::Found), Ok(()), 0);
        assert_eq!(
            (a, calls),
            (Attempted::Posted { unchecked: 0 }, vec!["post"])
        );
    }

    #[test]
    fn found_is_delivered_absent_is_posted() {
        let (a, calls, stats) = run(Ok(Lookup::Found), Ok(()), 2);
        assert_eq!((a, calls), (Attempted::Found, vec!["look-up"]));
        assert_eq!(stats.found.load(Ordering::Relaxed), 1);
        let (a, calls, stats) = run(Ok(Lookup::Absent), Ok(()), 2);
        assert_eq!(
            (a, calls),
            (Attempted::Posted { unchecked: 0 }, vec!["look-up", "post"])
        );
        assert_eq!(stats.absent.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn without_a_look_up_the_attempts_that_may_have_stored_it_are_counted() {
        let (a, calls, stats) = run(Ok(Lookup::Unavailable), Ok(()), 2);
        assert_eq!(
            (a, calls),
            (Attempted::Posted { unchecked: 2 }, vec!["look-up", "post"])
        );
        assert_eq!(stats.found.load(Ordering::Relaxed), 0);
        assert_eq!(stats.absent.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_failed_look_up_posts_nothing_and_keeps_the_count() {
        let error = DeliveryError::answered("503".into(), 503, None);
        let (a, calls, _) = run(Err(error.clone()), Ok(()), 1);
        assert_eq!(
            (a, calls),
            (
                Attempted::Failed {
                    error,
                    unknown_outcomes: 1
                },
                vec!["look-up"]
            )
        );
    }

    #[test]
    fn a_post_that_may_have_stored_adds_one() {
        let (a, _, _) = run(Ok(Lookup::Absent), Err(cut()), 3);
        // The look-up cleared the three; the cut post is one.
        assert_eq!(
            a,
            Attempted::Failed {
                error: cut(),
                unknown_outcomes: 1
            }
        );
        let (a, _, _) = run(Ok(Lookup::Unavailable), Err(cut()), 3);
        assert_eq!(
            a,
            Attempted::Failed {
                error: cut(),
                unknown_outcomes: 4
            }
        );
        let answered = DeliveryError::answered("500".into(), 500, None);
        let (a, _, _) = run(Ok(Lookup::Unavailable), Err(answered.clone()), 0);
        assert_eq!(
            a,
            Attempted::Failed {
                error: answered,
                unknown_outcomes: 0
            }
        );
    }
}
