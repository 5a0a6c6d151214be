//! The connection to the broker: connect, subscribe on every connection (clean sessions), hand
//! each message on, and after a loss connect again with backoff, for as long as it runs.
//! [`Link`] keeps what `/healthz` and `/metrics` say about it.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lorafield_microshare::outbox::now_ms;
use lorafield_microshare::throttle::{Held, LogThrottle};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS, StateError,
    SubscribeFilter, SubscribeReasonCode,
};
use tokio::sync::watch;

use crate::health::Verdict;

/// The first wait after a failed connection; each further one doubles, up to [`MAX_WAIT`].
pub(crate) const FIRST_WAIT: Duration = Duration::from_millis(500);
/// The longest wait between two tries.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(30);

/// The wait before try number `failures + 1` after `failures` failed ones in a row (1 for the
/// first): half of `min(MAX_WAIT, FIRST_WAIT * 2^(failures-1))`, plus a random part up to the
/// other half, so that many clients that lost the same broker do not all come back at once.
pub(crate) fn backoff(failures: u32, rng: &mut fastrand::Rng) -> Duration {
    let cap = FIRST_WAIT
        .saturating_mul(
            1u32.checked_shl(failures.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(MAX_WAIT);
    let half = u64::try_from(cap.as_millis() / 2).unwrap_or(u64::MAX);
    Duration::from_millis(half + rng.u64(0..=half))
}

/// The connection's state, as `/healthz` and `/metrics` read it.
#[derive(Debug, Default)]
pub(crate) struct Link {
    state: Mutex<State>,
    /// Connections the broker accepted.
    pub(crate) connections: AtomicU64,
    /// Connections lost, and tries that failed.
    pub(crate) errors: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// Since when it is connected (ms), while it is.
    connected_ms: Option<i64>,
    /// The filters the broker granted and refused on this connection, once it answered.
    subscribed: Option<(usize, Vec<String>)>,
    /// Since when it is not connected (ms), while it is not.
    down_ms: Option<i64>,
    /// Tries that failed since the last connection.
    failures: u32,
    /// Why the last try failed, or the connection was lost.
    error: Option<String>,
}

impl Link {
    fn update(&self, f: impl FnOnce(&mut State)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }

    fn connected(&self, now: i64) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.update(|s| {
            *s = State {
                connected_ms: Some(now),
                ..State::default()
            };
        });
    }

    fn subscribed(&self, granted: usize, refused: Vec<String>) {
        self.update(|s| s.subscribed = Some((granted, refused)));
    }

    fn lost(&self, now: i64, error: String) -> u32 {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut failures = 0;
        self.update(|s| {
            s.down_ms = s.down_ms.or(Some(now));
            s.connected_ms = None;
            s.subscribed = None;
            s.failures += 1;
            s.error = Some(error);
            failures = s.failures;
        });
        failures
    }

    /// Connections after the first that the broker accepted.
    pub(crate) fn reconnects(&self) -> u64 {
        self.connections.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// Whether it is connected and subscribed to every filter.
    pub(crate) fn is_up(&self) -> bool {
        self.verdict("", 0, now_ms()).is_ok()
    }

    /// The `mqtt` check at `now` (ms): ok while connected with every subscription granted;
    /// degraded when the broker refused some; down while not connected or subscribed, since
    /// nothing comes in then.
    pub(crate) fn verdict(&self, broker: &str, filters: usize, now: i64) -> Verdict {
        let Ok(s) = self.state.lock() else {
            return Verdict::Down("the connection's state cannot be read".into());
        };
        let secs = |since: i64| (now - since).max(0) / 1000;
        match (s.connected_ms, &s.subscribed) {
            (Some(since), Some((granted, refused))) if refused.is_empty() => Verdict::Ok(format!(
                "connected to {broker} for {} s, subscribed to {}",
                secs(since),
                crate::mqtt::counted(*granted as u64, "topic filter"),
            )),
            (Some(_), Some((0, refused))) => Verdict::Down(format!(
                "connected to {broker}, but it refused every subscription ({}): check the topics \
                 and what the user may read",
                refused.join(", ")
            )),
            (Some(_), Some((_, refused))) => Verdict::Degraded(format!(
                "connected to {broker}, but it refused the subscription to {}",
                refused.join(", ")
            )),
            (Some(_), None) => Verdict::Down(format!(
                "connected to {broker}, subscribing to {}",
                crate::mqtt::counted(filters as u64, "topic filter")
            )),
            (None, _) => match (&s.error, s.down_ms) {
                (Some(error), Some(down)) => Verdict::Down(format!(
                    "not connected to {broker} for {} s ({}): {error}; trying again with backoff",
                    secs(down),
                    crate::mqtt::counted(u64::from(s.failures), "failed attempt"),
                )),
                _ => Verdict::Down(format!("connecting to {broker}")),
            },
        }
    }
}

/// What a failed connection says, in words: the broker's refusal by its reason.
fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            let why = match code {
                ConnectReturnCode::BadUserNamePassword => "bad user name or password",
                ConnectReturnCode::NotAuthorized => "not authorized",
                ConnectReturnCode::BadClientId => "client id rejected",
                ConnectReturnCode::RefusedProtocolVersion => "MQTT 3.1.1 not spoken",
                ConnectReturnCode::ServiceUnavailable => "service unavailable",
                ConnectReturnCode::Success => "no reason given",
            };
            format!("the broker refused the connection: {why}")
        }
        e => match too_large(e) {
            Some(size) => format!(
                "a message of {size} bytes, larger than the largest taken (--max-message-size), \
                 ended the connection"
            ),
            None => e.to_string(),
        },
    }
}

/// What a connection is made with, and where it reports.
pub(crate) struct Session<'a> {
    /// The client's options.
    pub(crate) options: MqttOptions,
    /// The topic filters to subscribe to.
    pub(crate) filters: &'a [String],
    /// Where the connection's state is kept.
    pub(crate) link: &'a Link,
    /// The broker, as logs and `/healthz` name it.
    pub(crate) broker: &'a str,
    /// Rate limits the warn lines about connection errors.
    pub(crate) throttle: &'a LogThrottle,
}

/// The size of a message that ended the connection because it was larger than allowed.
fn too_large(e: &ConnectionError) -> Option<usize> {
    match e {
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(size),
        )) => Some(*size),
        _ => None,
    }
}

/// Runs the connection until `shutdown` turns true: subscribes to `filters` (QoS 0, as The
/// Things Stack publishes) on every connection, and gives each message to `handle` (which
/// should hand the work on and return soon: the connection is served between messages).
/// `oversize` hears of a message larger than allowed (its size), which ends the connection.
pub(crate) async fn run<F, Fut>(
    session: Session<'_>,
    mut shutdown: watch::Receiver<bool>,
    mut handle: F,
    oversize: impl Fn(usize),
) where
    F: FnMut(rumqttc::Publish) -> Fut,
    Fut: Future<Output = ()>,
{
    let Session {
        options,
        filters,
        link,
        broker,
        throttle,
    } = session;
    let (client, mut events) = AsyncClient::new(options, 16);
    let mut rng = fastrand::Rng::new();
    loop {
        let event = tokio::select! {
            event = events.poll() => event,
            _ = shutdown.changed() => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let again = link.connections.load(Ordering::Relaxed) > 0;
                link.connected(now_ms());
                tracing::info!(
                    "{} {broker}; subscribing to {}",
                    if again {
                        "connected again to"
                    } else {
                        "connected to"
                    },
                    filters.join(", ")
                );
                let subs = filters
                    .iter()
                    .map(|f| SubscribeFilter::new(f.clone(), QoS::AtMostOnce));
                if let Err(e) = client.try_subscribe_many(subs) {
                    tracing::error!("subscribing: {e}");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let refused: Vec<String> = filters
                    .iter()
                    .zip(&ack.return_codes)
                    .filter(|(_, code)| matches!(code, SubscribeReasonCode::Failure))
                    .map(|(f, _)| f.clone())
                    .collect();
                let granted = filters.len() - refused.len();
                if refused.is_empty() {
                    tracing::info!("subscribed to {}", filters.join(", "));
                } else {
                    tracing::error!(
                        "the broker refused the subscription to {}",
                        refused.join(", ")
                    );
                }
                link.subscribed(granted, refused);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => handle(p).await,
            Ok(_) => {}
            Err(e) => {
                if let Some(size) = too_large(&e) {
                    oversize(size);
                }
                let why = describe(&e);
                let failures = link.lost(now_ms(), why.clone());
                let wait = backoff(failures, &mut rng);
                if let Some(held) = throttle.admit("connection", Instant::now()) {
                    tracing::warn!(
                        "{broker}: {why}; trying again in {:.1} s{}",
                        wait.as_secs_f64(),
                        Held(held)
                    );
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => break,
                }
            }
        }
    }
    // Say goodbye when connected: a DISCONNECT, sent within a second.
    if link.state.lock().is_ok_and(|s| s.connected_ms.is_some()) && client.try_disconnect().is_ok()
    {
        let bye = async {
            while let Ok(event) = events.poll().await {
                if matches!(
                    event,
                    rumqttc::Event::Outgoing(rumqttc::Outgoing::Disconnect)
                ) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_with_a_random_half() {
        let mut rng = fastrand::Rng::with_seed(3);
        for failures in 1..40 {
            let cap = FIRST_WAIT
                .saturating_mul(1u32.checked_shl(failures - 1).unwrap_or(u32::MAX))
                .min(MAX_WAIT);
            let waits: Vec<Duration> = (0..100).map(|_| backoff(failures, &mut rng)).collect();
            assert!(
                waits.iter().all(|w| *w >= cap / 2 && *w <= cap),
                "{failures}: {waits:?}"
            );
            assert!(waits.iter().any(|w| *w < cap * 3 / 4), "{failures}: spread");
        }
        assert!(backoff(0, &mut rng) <= FIRST_WAIT);
    }

    #[test]
    fn the_check_says_what_the_connection_is_doing() {
        let link = Link::default();
        let b = "mqtt://127.0.0.1:1883";
        let t = 1_000_000;
        assert_eq!(
            link.verdict(b, 2, t),
            Verdict::Down(format!("connecting to {b}"))
        );
        link.lost(t, "I/O: connection refused".into());
        link.lost(t + 500, "I/O: connection refused".into());
        assert_eq!(
            link.verdict(b, 2, t + 3_000),
            Verdict::Down(format!(
                "not connected to {b} for 3 s (2 failed attempts): I/O: connection refused; trying \
                 again with backoff"
            ))
        );
        link.connected(t + 4_000);
        assert!(
            matches!(link.verdict(b, 2, t + 4_000), Verdict::Down(d) if d.contains("subscribing to 2 topic filters"))
        );
        link.subscribed(2, Vec::new());
        assert_eq!(
            link.verdict(b, 2, t + 6_000),
            Verdict::Ok(format!(
                "connected to {b} for 2 s, subscribed to 2 topic filters"
            ))
        );
        link.subscribed(1, vec!["v3/x/devices/+/up".into()]);
        assert!(
            matches!(link.verdict(b, 2, t), Verdict::Degraded(d) if d.contains("v3/x/devices/+/up"))
        );
        link.subscribed(0, vec!["a".into(), "b".into()]);
        assert!(matches!(link.verdict(b, 2, t), Verdict::Down(d) if d.contains("refused every")));
        // Lost again: down, counting from the loss; a reconnect is counted as such.
        link.lost(t + 10_000, "I/O: connection reset by peer".into());
        assert!(
            matches!(link.verdict(b, 2, t + 11_000), Verdict::Down(d) if d.contains("for 1 s (1 failed attempt)"))
        );
        link.connected(t + 12_000);
        assert_eq!(
            (link.reconnects(), link.errors.load(Ordering::Relaxed)),
            (1, 3)
        );
    }

    #[test]
    fn a_refusal_says_why_in_words() {
        let e = ConnectionError::ConnectionRefused(ConnectReturnCode::BadUserNamePassword);
        assert_eq!(
            describe(&e),
            "the broker refused the connection: bad user name or password"
        );
    }
}
