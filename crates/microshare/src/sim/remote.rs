//! What makes the simulator behave like a remote service: latency, a rate limit, a cap on
//! requests in flight. One middleware in front of the API routes.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::SimConfigError;
use super::handlers::error;
use super::state::Shared;
use super::wait_stop;

/// How long each request waits before it is handled: `base`, give or take up to `jitter`
/// (a uniform draw from the seeded generator).
///
/// Parsed from `MS` or `MS,JITTER_MS` (milliseconds): `100,20` waits 80 to 120 ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// The mean wait.
    pub base: Duration,
    /// At most this much more or less (not more than `base`).
    pub jitter: Duration,
}

impl Latency {
    /// `base` give or take `jitter`.
    pub fn new(base: Duration, jitter: Duration) -> Self {
        Latency { base, jitter }
    }

    /// Whether it waits at all.
    pub fn is_zero(&self) -> bool {
        self.base.is_zero()
    }

    /// Checks that the jitter is not more than the base.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if self.jitter > self.base {
            return Err(SimConfigError::InvalidLatency {
                value: self.to_string(),
            });
        }
        Ok(())
    }

    /// One request's wait.
    pub(super) fn draw(&self, rng: &mut fastrand::Rng) -> Duration {
        let jitter = u64::try_from(self.jitter.as_micros()).unwrap_or(u64::MAX / 4);
        let offset = Duration::from_micros(rng.u64(0..=2 * jitter));
        (self.base + offset).saturating_sub(self.jitter)
    }
}

impl FromStr for Latency {
    type Err = SimConfigError;

    fn from_str(s: &str) -> Result<Self, SimConfigError> {
        let invalid = || SimConfigError::InvalidLatency {
            value: s.to_owned(),
        };
        let ms = |part: &str| part.trim().parse::<u64>().map_err(|_| invalid());
        let latency = match s.split_once(',') {
            None => Latency::new(Duration::from_millis(ms(s)?), Duration::ZERO),
            Some((base, jitter)) => Latency::new(
                Duration::from_millis(ms(base)?),
                Duration::from_millis(ms(jitter)?),
            ),
        };
        latency.validate().map_err(|_| invalid())?;
        Ok(latency)
    }
}

impl fmt::Display for Latency {
    /// `MS` or `MS,JITTER_MS`, which parses back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.base.as_millis())?;
        if !self.jitter.is_zero() {
            write!(f, ",{}", self.jitter.as_millis())?;
        }
        Ok(())
    }
}

/// A token bucket: `rate` tokens a second, at most `rate` held.
#[derive(Debug)]
pub(super) struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Full: one second's worth.
    pub(super) fn new(rate: u32, now: Instant) -> Self {
        Bucket {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            at: now,
        }
    }

    /// Takes a token, or says how long until there is one.
    pub(super) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// A request being served: counted in flight until dropped.
pub(super) struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// In front of the API routes: the cap on requests in flight, the latency, the rate limit.
pub(super) async fn gate(State(sim): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let share = request.uri().path().starts_with("/share/");
    let Some(slot) = sim.enter().then(|| InFlight(Arc::clone(&sim))) else {
        delay(&sim).await;
        return error(
            503,
            "service_unavailable",
            "too many requests in flight (simulated)",
        )
        .into_response();
    };
    delay(&sim).await;
    if let Err(wait) = if share { sim.take_token() } else { Ok(()) } {
        drop(slot);
        let mut response =
            error(429, "too_many_requests", "rate limit (simulated)").into_response();
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let response = next.run(request).await;
    drop(slot);
    response
}

/// Waits out one request's latency, cut short when the simulator stops.
async fn delay(sim: &Shared) {
    let wait = sim.latency_draw();
    if wait.is_zero() {
        return;
    }
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = wait_stop(sim.stopped()) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_parse_and_draw_within_their_jitter() {
        let l: Latency = "100,20".parse().unwrap();
        assert_eq!(
            l,
            Latency::new(Duration::from_millis(100), Duration::from_millis(20))
        );
        assert_eq!(l.to_string(), "100,20");
        assert_eq!("250".parse::<Latency>().unwrap().to_string(), "250");
        assert!("0".parse::<Latency>().unwrap().is_zero());
        for bad in ["", "x", "10,20", "-5", "10,", "1.5"] {
            let e = bad.parse::<Latency>().unwrap_err().to_string();
            assert!(e.contains("latency"), "{bad}: {e}");
        }
        let mut rng = fastrand::Rng::with_seed(9);
        let draws: Vec<Duration> = (0..1000).map(|_| l.draw(&mut rng)).collect();
        assert!(draws.iter().all(|d| (80..=120).contains(&d.as_millis())));
        assert!(draws.iter().any(|d| d.as_millis() < 90));
        assert!(draws.iter().any(|d| d.as_millis() >= 110));
    }

    #[test]
    fn latency_draws_follow_the_seed() {
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let draws = |seed| {
            let config = crate::sim::SimConfig {
                latency: "100,50".parse().unwrap(),
                seed,
                ..crate::sim::SimConfig::default()
            };
            let shared = Shared::new(config, stopped.clone());
            (0..20).map(|_| shared.latency_draw()).collect::<Vec<_>>()
        };
        assert_eq!(draws(1), draws(1));
        assert_ne!(draws(1), draws(2));
    }

    #[test]
    fn the_bucket_holds_one_second_and_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10, t0);
        assert!((0..10).all(|_| b.take(t0).is_ok()));
        let wait = b.take(t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        // 0.35 s later: three tokens, and half a token towards the fourth.
        let t1 = t0 + Duration::from_millis(350);
        assert!((0..3).all(|_| b.take(t1).is_ok()));
        let wait = b.take(t1).unwrap_err();
        assert!(wait > Duration::from_millis(40) && wait < Duration::from_millis(60));
        // Idle for a minute: still one second's worth, no more.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| b.take(t2).is_ok()).count(), 10);
    }
}
