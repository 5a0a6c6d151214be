//! A local Microshare simulator with fault injection, for tests and for trying the bridge
//! without an account.
//!
//! It listens on one base URL, which serves as both the API and the auth host:
//!
//! - `POST /oauth2/token?username=U&password=P&client_id=APIKEY&grant_type=password&scope=ALL:ALL`
//!   grants a password token (`Bearer`, scope `ALL:ALL`); `grant_type=pipe` grants a pipe token
//!   (`Pipe`, scope `SHARE:WRITE`). Wrong credentials get 401.
//! - `POST /share/{recType}` and `POST /share/{recType}/tags/{tag1}/{tag2}...` (tags
//!   percent-decoded), with `Authorization: Bearer <token>` (either kind) and a JSON object as the
//!   body, store the body verbatim as the share's `data` and answer 200 with the share's id.
//! - `GET /share/{recType}?details=true&page=N&perPage=M` lists the shares of a recType, oldest
//!   first, page by page (pages count from 1, `perPage` is 999 by default, a page past the last
//!   has no `objs`); without `details=true`, each `data` is `{}`.
//! - `GET /share/{recType}/tags/{tag1}/{tag2}...?details=true&page=N&perPage=M` lists the
//!   shares of a recType carrying all the given tags (percent-decoded), paged like the above;
//!   `.../tags/latest` alone is the newest share of the recType.
//! - `GET /share/{recType}/{id}` reads one share and `DELETE /share/{recType}/{id}` deletes it
//!   (404 when absent). Reading (by recType, by tags, by id) and deleting need a password token:
//!   a pipe token gets 401.
//! - `GET /_sim/stats` answers the counters below as JSON (no token, never faulted, never
//!   delayed).
//!
//! A remote service, if asked (each off by default, each across all clients):
//!
//! - **Latency** ([`SimConfig::latency`], `--latency MS[,JITTER_MS]`): every request waits that
//!   long (a uniform draw within `MS ± JITTER_MS`, seeded) before it is handled, as if it had
//!   crossed a network; the wait is a timer, so a thousand waiting requests hold no thread.
//! - **A rate limit** ([`SimConfig::rate_limit`], `--rate-limit N`): share requests (`/share/...`,
//!   any method) take a token from a bucket that refills at N a second and holds one second's
//!   worth (N); with the bucket empty the answer is 429 with `Retry-After` (whole seconds until
//!   a token, at least 1), after the latency. Token requests are not limited.
//! - **A cap on requests in flight** ([`SimConfig::max_in_flight`], `--max-in-flight N`): a
//!   request that arrives while N are being served (their latency included) gets 503 after the
//!   latency, and does not count as in flight.
//!
//! These come before the faults below: a refused request draws no fault.
//!
//! Shares read back in one of two date encodings: 2017 (`_id: {"$oid"}`, `createDate:
//! {"$date": ms}`, `tstamp: {"$numberLong": "ms"}`) or 2020 (`_id` a plain string, ISO 8601
//! dates, `tstamp` a number). Dates come from a logical clock, a fixed base plus 1 ms per stored
//! share, so that runs are reproducible.
//!
//! Faults are given as a spec such as `status500=0.1,status429=0.05,drop-after=0.05,slow=0.02`:
//! the fraction of token and share requests that get each fault, drawn from a seeded generator
//! (the same seed and the same order of requests give the same faults). The keys:
//!
//! - `status500`, `status503`: that status with a small JSON body; nothing done.
//! - `status429`: 429 with `Retry-After: 1`; nothing done.
//! - `status401`: 401 as for an expired token; nothing done.
//! - `drop-before`: the connection closes once the request's head is read, before its body;
//!   nothing stored.
//! - `drop-after`: the request is carried out (the share stored), then the connection closes
//!   without an answer: the client cannot tell, retries, and makes a duplicate.
//! - `slow`: the request is carried out at once, but the answer waits (10 s by default, past a
//!   client's timeout).
//!
//! Each fraction is between 0 and 1 and they add up to 1 at most; `none` or an empty spec means
//! no faults.
//!
//! The stats: `requests` counts token and share requests (the faulted and refused ones too);
//! `faults` how many of each kind were injected; `rate_limited` the 429s of the rate limit and
//! `over_capacity` the 503s of the cap; `peak_in_flight` the most requests served at once;
//! `tag_queries` the queries by tags answered; `stored` the shares stored since the start (a delete does not lower
//! it) and `by_rec_type` the same per recType; `distinct_keys` the distinct record keys (tags of
//! the form `lfk-<16 hex digits>`, as the bridge sets them) among the stored shares; `duplicates`
//! the stored shares carrying a record key, less `distinct_keys`.

mod conn;
mod faults;
mod handlers;
mod remote;
mod state;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use conn::{Conn, SimListener};
pub use faults::{Faults, SimConfigError};
use handlers::router;
pub use remote::Latency;
use state::{Shared, TokenKind};

/// Seconds a token is said to last (`expires_in`): 48 hours, as Microshare says.
const EXPIRES_IN: u64 = 172_800;
/// The logical clock's base: 2025-06-15T15:06:40Z, in milliseconds since the Unix epoch.
const SIM_EPOCH_MS: u64 = 1_750_000_000_000;
/// The largest request body read; larger ones get 413.
const MAX_BODY: usize = 4 << 20;
/// The name the simulator logs under (`LORAFIELD_LOG=microshare_sim=debug` shows each fault
/// injected).
pub const LOG_TARGET: &str = "microshare_sim";
/// How long [`Simulator::shutdown`] waits for open connections before it gives up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// The `owner.appid` and `owner.org` of every share.
const SIM_APPID: &str = "5A1B0C2D-0000-4000-8000-00000000CAFE";
const SIM_ORG: &str = "io.lorafield.sim";

/// A user that may get tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimUser {
    /// The `username` parameter.
    pub username: String,
    /// The `password` parameter.
    pub password: String,
    /// The `client_id` parameter (Microshare's API key).
    pub api_key: String,
}

impl SimUser {
    /// A user with these credentials.
    pub fn new(
        username: impl Into<String>,
        password: impl Into<String>,
        api_key: impl Into<String>,
    ) -> Self {
        SimUser {
            username: username.into(),
            password: password.into(),
            api_key: api_key.into(),
        }
    }
}

impl Default for SimUser {
    /// `user@example.org`, password `secret`, API key `apikey`.
    fn default() -> Self {
        SimUser::new("user@example.org", "secret", "apikey")
    }
}

/// How read shares show their id and dates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DateEncoding {
    /// The 2017 API: MongoDB extended JSON (`{"$oid"}`, `{"$date": ms}`, `{"$numberLong"}`).
    V2017,
    /// The 2020 API: plain id strings, ISO 8601 dates, `tstamp` a number.
    #[default]
    V2020,
}

impl FromStr for DateEncoding {
    type Err = SimConfigError;

    /// `2017` or `v2017`, `2020` or `v2020`.
    fn from_str(s: &str) -> Result<Self, SimConfigError> {
        match s.trim().trim_start_matches(['v', 'V']) {
            "2017" => Ok(DateEncoding::V2017),
            "2020" => Ok(DateEncoding::V2020),
            _ => Err(SimConfigError::UnknownEncoding {
                value: s.to_owned(),
            }),
        }
    }
}

/// The simulator's settings.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The users that may get tokens.
    pub users: Vec<SimUser>,
    /// The fraction of requests that get each fault.
    pub faults: Faults,
    /// How read shares show their id and dates.
    pub encoding: DateEncoding,
    /// How long a `slow` answer waits.
    pub slow: Duration,
    /// Seeds the fault draws, the tokens and the ids.
    pub seed: u64,
    /// When set, a password token expires this long after it was granted (401).
    pub password_token_ttl: Option<Duration>,
    /// How long each request waits before it is handled.
    pub latency: Latency,
    /// Share requests per second across all clients, with one second of burst; beyond it, 429.
    pub rate_limit: Option<u32>,
    /// Requests served at once at most; beyond it, 503.
    pub max_in_flight: Option<usize>,
}

impl Default for SimConfig {
    /// One default [`SimUser`], no faults, 2020 dates, 10 s slow answers, seed 0, no expiry,
    /// no latency, no rate limit, no cap on requests in flight.
    fn default() -> Self {
        SimConfig {
            users: vec![SimUser::default()],
            faults: Faults::default(),
            encoding: DateEncoding::default(),
            slow: Duration::from_secs(10),
            seed: 0,
            password_token_ttl: None,
            latency: Latency::default(),
            rate_limit: None,
            max_in_flight: None,
        }
    }
}

/// What the simulator counted; the [module documentation](self) says what each counter means.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Shares stored since the start.
    pub stored: u64,
    /// Distinct record keys (`lfk-<16 hex digits>` tags) among the stored shares.
    pub distinct_keys: u64,
    /// Token and share requests, the faulted ones included.
    pub requests: u64,
    /// Faults injected, by kind (`status500`, `drop-after`, ...).
    pub faults: BTreeMap<String, u64>,
    /// Shares stored since the start, by recType.
    pub by_rec_type: BTreeMap<String, u64>,
    /// Stored shares carrying a record key, less `distinct_keys`.
    pub duplicates: u64,
    /// Share requests answered 429 by the rate limit.
    #[serde(default)]
    pub rate_limited: u64,
    /// Requests answered 503 by the cap on requests in flight.
    #[serde(default)]
    pub over_capacity: u64,
    /// The most requests served at once (waiting out their latency included).
    #[serde(default)]
    pub peak_in_flight: u64,
    /// Queries by tags answered.
    #[serde(default)]
    pub tag_queries: u64,
}

/// A running simulator. Dropping it stops it too, without waiting.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use lorafield_microshare::sim::{SimConfig, Simulator};
///
/// let config = SimConfig { faults: "status503=0.1".parse().unwrap(), ..SimConfig::default() };
/// let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), config).await?;
/// assert!(sim.base_url().starts_with("http://127.0.0.1:"));
/// assert_eq!(sim.stats().stored, 0);
/// sim.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Binds `addr` (`127.0.0.1:0` for any free port) and serves in a spawned task.
    ///
    /// Fails on invalid faults (`InvalidInput`) or when binding fails.
    pub async fn start(addr: SocketAddr, config: SimConfig) -> io::Result<Simulator> {
        config
            .faults
            .validate()
            .and_then(|()| config.latency.validate())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if config.rate_limit == Some(0) || config.max_in_flight == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a rate limit or a cap on requests in flight of 0 would refuse everything",
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(config, stopped.clone()));
        let app = router(Arc::clone(&shared)).into_make_service_with_connect_info::<Conn>();
        let serve =
            axum::serve(SimListener(listener), app).with_graceful_shutdown(wait_stop(stopped));
        let task = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::warn!(target: LOG_TARGET, "{e}");
            }
        });
        Ok(Simulator {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`: both the API and the auth base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counters so far.
    pub fn stats(&self) -> SimStats {
        self.shared.stats()
    }

    /// When each record key (`lfk-...` tag) was first stored, by the clock of this process:
    /// for measuring how long records take to arrive.
    pub fn first_stored(&self) -> HashMap<String, Instant> {
        self.shared.first_stored()
    }

    /// Replaces the fault fractions from the next request on (an outage, then a recovery).
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimConfigError> {
        faults.validate()?;
        self.shared.lock().faults = faults;
        Ok(())
    }

    /// Every pipe token granted so far gets 401 from now on.
    pub fn revoke_pipe_tokens(&self) {
        self.shared.invalidate(TokenKind::Pipe);
    }

    /// Every password token granted so far gets 401 from now on, as if it had expired.
    pub fn expire_password_tokens(&self) {
        self.shared.invalidate(TokenKind::Password);
    }

    /// Stops accepting connections, cuts slow answers short and waits (3 s at most) for the
    /// open connections to finish.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Serves on `addr` until `shutdown` resolves, then stops and returns the final counters.
/// Prints nothing.
pub async fn run(
    addr: SocketAddr,
    config: SimConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<SimStats> {
    let sim = Simulator::start(addr, config).await?;
    let shared = Arc::clone(&sim.shared);
    shutdown.await;
    sim.shutdown().await;
    Ok(shared.stats())
}

/// [`run`] until Ctrl-C; logs the address it listens on (`tracing`, info).
pub async fn run_until_ctrl_c(addr: SocketAddr, config: SimConfig) -> io::Result<SimStats> {
    let sim = Simulator::start(addr, config).await?;
    tracing::info!(target: LOG_TARGET, "listening on {}", sim.base_url());
    let shared = Arc::clone(&sim.shared);
    let signal = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    signal?;
    Ok(shared.stats())
}

async fn wait_stop(mut stopped: watch::Receiver<bool>) {
    // An error means the sender is gone: the simulator was dropped, so stop too.
    let _ = stopped.wait_for(|&stop| stop).await;
}
