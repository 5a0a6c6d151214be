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
//! - `GET /share/{recType}/{id}` reads one share and `DELETE /share/{recType}/{id}` deletes it
//!   (404 when absent). Reading and deleting need a password token: a pipe token gets 401.
//! - `GET /_sim/stats` answers the counters below as JSON (no token, never faulted).
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
//! The stats: `requests` counts token and share requests (the faulted ones too); `faults` how many
//! of each kind were injected; `stored` the shares stored since the start (a delete does not lower
//! it) and `by_rec_type` the same per recType; `distinct_keys` the distinct record keys (tags of
//! the form `lfk-<16 hex digits>`, as the bridge sets them) among the stored shares; `duplicates`
//! the stored shares carrying a record key, less `distinct_keys`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::{IncomingStream, Listener};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Seconds a token is said to last (`expires_in`): 48 hours, as Microshare says.
const EXPIRES_IN: u64 = 172_800;
/// The logical clock's base: 2025-06-15T15:06:40Z, in milliseconds since the Unix epoch.
const SIM_EPOCH_MS: u64 = 1_750_000_000_000;
/// The largest request body read; larger ones get 413.
const MAX_BODY: usize = 4 << 20;
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
}

impl Default for SimConfig {
    /// One default [`SimUser`], no faults, 2020 dates, 10 s slow answers, seed 0, no expiry.
    fn default() -> Self {
        SimConfig {
            users: vec![SimUser::default()],
            faults: Faults::default(),
            encoding: DateEncoding::default(),
            slow: Duration::from_secs(10),
            seed: 0,
            password_token_ttl: None,
        }
    }
}

/// The fraction (0 to 1) of token and share requests that get each fault; at most 1 in all.
///
/// Parsed from a spec such as `status500=0.1,status429=0.05,drop-after=0.05,slow=0.02`; the
/// [module documentation](self) says what each fault does.
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
    /// Carry the request out, then wait [`SimConfig::slow`] before answering.
    pub slow: f64,
}

/// A kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
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

    /// Its key in a fault spec and in [`SimStats::faults`].
    fn key(self) -> &'static str {
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
    fn draw(&self, rng: &mut fastrand::Rng) -> Option<Fault> {
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
        }
    }
}

impl std::error::Error for SimConfigError {}

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
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(config, stopped.clone()));
        let app = router(Arc::clone(&shared)).into_make_service_with_connect_info::<Conn>();
        let serve =
            axum::serve(SimListener(listener), app).with_graceful_shutdown(wait_stop(stopped));
        let task = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::warn!("microshare simulator: {e}");
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
    tracing::info!("microshare simulator listening on {}", sim.base_url());
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

// ---- Connections that a handler can cut ----

/// Per connection: set to close it without an answer.
#[derive(Clone, Debug, Default)]
struct Conn(Arc<AtomicBool>);

impl Conn {
    fn cut(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_cut(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl Connected<IncomingStream<'_, SimListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        stream.io().conn.clone()
    }
}

struct SimListener(TcpListener);

impl Listener for SimListener {
    type Io = SimIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SimIo, SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        SimIo {
                            stream,
                            conn: Conn::default(),
                        },
                        peer,
                    );
                }
                Err(e) => {
                    tracing::debug!("microshare simulator: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A TCP stream that fails every read and write once its connection is cut, so that hyper
/// drops it (closing the socket) before writing a byte of the answer.
struct SimIo {
    stream: TcpStream,
    conn: Conn,
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection cut by the simulator",
    )
}

impl AsyncRead for SimIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.conn.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.conn.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.conn.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.conn.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

// ---- State ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    Password,
    Pipe,
}

#[derive(Debug)]
struct Token {
    kind: TokenKind,
    user: String,
    granted: Instant,
    valid: bool,
}

#[derive(Debug)]
struct Share {
    id: String,
    tags: Vec<String>,
    data: Box<RawValue>,
    at_ms: u64,
    creator: String,
    checksum: String,
}

#[derive(Debug)]
struct Shared {
    users: Vec<SimUser>,
    encoding: DateEncoding,
    slow: Duration,
    password_token_ttl: Option<Duration>,
    stopped: watch::Receiver<bool>,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    faults: Faults,
    fault_rng: fastrand::Rng,
    rng: fastrand::Rng,
    /// The middle of every id, from the seed.
    machine: u32,
    tokens: HashMap<String, Token>,
    /// By recType, oldest first.
    shares: BTreeMap<String, Vec<Share>>,
    /// Shares stored so far: the logical clock.
    clock: u64,
    keys: HashSet<String>,
    keyed: u64,
    stats: SimStats,
}

/// What a request may go on to do after its fault draw.
type Begun = Result<Option<Fault>, Refusal>;

impl Shared {
    fn new(config: SimConfig, stopped: watch::Receiver<bool>) -> Self {
        let mut rng = fastrand::Rng::with_seed(config.seed ^ 0x9E37_79B9_7F4A_7C15);
        let inner = Inner {
            faults: config.faults,
            fault_rng: fastrand::Rng::with_seed(config.seed),
            machine: rng.u32(..0x100_0000),
            rng,
            tokens: HashMap::new(),
            shares: BTreeMap::new(),
            clock: 0,
            keys: HashSet::new(),
            keyed: 0,
            stats: SimStats::default(),
        };
        Shared {
            users: config.users,
            encoding: config.encoding,
            slow: config.slow,
            password_token_ttl: config.password_token_ttl,
            stopped,
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stats(&self) -> SimStats {
        let inner = self.lock();
        let mut stats = inner.stats.clone();
        stats.distinct_keys = inner.keys.len() as u64;
        stats.duplicates = inner.keyed.saturating_sub(stats.distinct_keys);
        stats
    }

    fn invalidate(&self, kind: TokenKind) {
        let mut inner = self.lock();
        inner
            .tokens
            .values_mut()
            .filter(|t| t.kind == kind)
            .for_each(|t| t.valid = false);
    }

    /// Counts the request and draws its fault: `Err` is the whole answer (or a cut connection).
    fn begin(&self, conn: &Conn) -> Begun {
        let fault = {
            let mut inner = self.lock();
            let inner = &mut *inner;
            inner.stats.requests += 1;
            let fault = inner.faults.draw(&mut inner.fault_rng);
            if let Some(fault) = fault {
                *inner
                    .stats
                    .faults
                    .entry(fault.key().to_owned())
                    .or_default() += 1;
            }
            fault
        };
        match fault {
            Some(Fault::DropBefore) => {
                conn.cut();
                Err(error(500, "dropped", "never sent"))
            }
            Some(Fault::Status500) => Err(error(500, "internal_error", "simulated fault")),
            Some(Fault::Status503) => Err(error(503, "service_unavailable", "simulated fault")),
            Some(Fault::Status429) => Err(error(429, "too_many_requests", "simulated fault")),
            Some(Fault::Status401) => Err(expired()),
            other => Ok(other),
        }
    }

    /// Applies a `drop-after` or `slow` fault to the answer of a request carried out.
    async fn finish(&self, fault: Option<Fault>, conn: &Conn, response: Response) -> Response {
        match fault {
            Some(Fault::DropAfter) => conn.cut(),
            Some(Fault::Slow) => {
                tokio::select! {
                    () = tokio::time::sleep(self.slow) => {}
                    () = wait_stop(self.stopped.clone()) => {}
                }
            }
            _ => {}
        }
        response
    }

    /// The user behind the `Authorization` header; a pipe token only if `pipe_ok`.
    fn authorize(&self, headers: &HeaderMap, pipe_ok: bool) -> Result<String, Refusal> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| error(401, "unauthorized", "missing bearer token"))?;
        let inner = self.lock();
        let token = inner
            .tokens
            .get(token)
            .ok_or_else(|| error(401, "invalid_token", "unknown token"))?;
        let ttl = self
            .password_token_ttl
            .filter(|_| token.kind == TokenKind::Password);
        if !token.valid || ttl.is_some_and(|ttl| token.granted.elapsed() >= ttl) {
            return Err(expired());
        }
        if token.kind == TokenKind::Pipe && !pipe_ok {
            return Err(error(
                401,
                "insufficient_scope",
                "a pipe token can only post shares",
            ));
        }
        Ok(token.user.clone())
    }

    fn grant(&self, query: &TokenQuery) -> Result<Response, Refusal> {
        let user = self.users.iter().find(|u| {
            query.username.as_deref() == Some(&u.username)
                && query.password.as_deref() == Some(&u.password)
                && query.client_id.as_deref() == Some(&u.api_key)
        });
        let (kind, token_type, scope) = match query.grant_type.as_deref() {
            Some("password") => (TokenKind::Password, "Bearer", "ALL:ALL"),
            Some("pipe") => (TokenKind::Pipe, "Pipe", "SHARE:WRITE"),
            _ => {
                let message = "grant_type is password or pipe";
                return Err(error(400, "unsupported_grant_type", message));
            }
        };
        let Some(user) = user else {
            let message = "wrong username, password or client_id";
            return Err(error(401, "invalid_grant", message));
        };
        let mut inner = self.lock();
        let token = format!("{:016x}{:016x}", inner.rng.u64(..), inner.rng.u64(..));
        let granted = Instant::now();
        let record = Token {
            kind,
            user: user.username.clone(),
            granted,
            valid: true,
        };
        inner.tokens.insert(token.clone(), record);
        drop(inner);
        let body = json!({
            "access_token": token,
            "token_type": token_type,
            "expires_in": EXPIRES_IN,
            "scope": scope,
        });
        Ok((StatusCode::OK, Json(body)).into_response())
    }

    fn store(
        &self,
        rec_type: String,
        tags: Vec<String>,
        data: Box<RawValue>,
        user: String,
    ) -> Response {
        let mut inner = self.lock();
        let inner = &mut *inner;
        inner.clock += 1;
        let at_ms = SIM_EPOCH_MS + inner.clock;
        let id = format!(
            "{:08x}{:06x}{:010x}",
            at_ms / 1000,
            inner.machine,
            inner.clock
        );
        let mut keyed = false;
        for tag in tags.iter().filter(|t| is_record_key(t)) {
            keyed = true;
            inner.keys.insert(tag.clone());
        }
        inner.keyed += u64::from(keyed);
        inner.stats.stored += 1;
        *inner.stats.by_rec_type.entry(rec_type.clone()).or_default() += 1;
        let (oid, tstamp) = match self.encoding {
            DateEncoding::V2017 => (json!({ "$oid": id }), json!(us_time(at_ms))),
            DateEncoding::V2020 => (json!(id), json!(at_ms)),
        };
        let body = json!({
            "meta": { "totalPages": 0, "currentPage": 1, "perPage": 0, "totalCount": 1, "currentCount": 1 },
            "objs": [{
                "name": "",
                "url": format!("/share/{rec_type}/{id}"),
                "_id": oid,
                "id": id,
                "tstamp": tstamp,
                "recType": rec_type,
            }],
        });
        let checksum = checksum(data.get());
        let share = Share {
            id,
            tags,
            data,
            at_ms,
            creator: user,
            checksum,
        };
        inner.shares.entry(rec_type).or_default().push(share);
        (StatusCode::OK, Json(body)).into_response()
    }

    /// A page of the shares of `rec_type`.
    fn page(
        &self,
        rec_type: &str,
        q: &ListQuery,
        headers: &HeaderMap,
    ) -> Result<Response, Refusal> {
        self.authorize(headers, false)?;
        let page = positive(q.page.as_deref(), 1, "page is a whole number from 1")?;
        let per_page = positive(
            q.per_page.as_deref(),
            999,
            "perPage is a whole number from 1",
        )?;
        let details = q
            .details
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case("true"));
        let inner = self.lock();
        let shares = inner.shares.get(rec_type).map_or(&[][..], Vec::as_slice);
        let total = shares.len() as u64;
        let skip = (page - 1).saturating_mul(per_page);
        let objs: Vec<_> = shares
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(per_page).unwrap_or(usize::MAX))
            .map(|share| share.out(rec_type, self.encoding, details))
            .collect();
        let meta = json!({
            "totalPages": total.div_ceil(per_page),
            "currentPage": page,
            "perPage": per_page,
            "totalCount": total,
            "currentCount": objs.len(),
        });
        Ok(json_response(&Page { meta, objs }))
    }

    /// One share, with its data.
    fn read(&self, rec_type: &str, id: &str, headers: &HeaderMap) -> Result<Response, Refusal> {
        self.authorize(headers, false)?;
        let inner = self.lock();
        let share = inner
            .shares
            .get(rec_type)
            .and_then(|shares| shares.iter().find(|s| s.id == id))
            .ok_or_else(|| error(404, "not_found", "no such share"))?;
        let objs = vec![share.out(rec_type, self.encoding, true)];
        Ok(json_response(&Page {
            meta: one_meta(),
            objs,
        }))
    }

    fn delete(&self, rec_type: &str, id: &str, headers: &HeaderMap) -> Result<Response, Refusal> {
        self.authorize(headers, false)?;
        let mut inner = self.lock();
        inner
            .shares
            .get_mut(rec_type)
            .and_then(|shares| {
                let i = shares.iter().position(|s| s.id == id)?;
                Some(shares.remove(i))
            })
            .ok_or_else(|| error(404, "not_found", "no such share"))?;
        let body = json!({ "meta": one_meta(), "objs": [{ "id": id, "recType": rec_type }] });
        Ok((StatusCode::OK, Json(body)).into_response())
    }
}

// ---- Handlers ----

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/share/{rec_type}", get(list).post(create))
        .route("/share/{rec_type}/tags/{*tags}", post(create_tagged))
        .route("/share/{rec_type}/{id}", get(get_one).delete(delete_one))
        .route("/_sim/stats", get(stats))
        .fallback(|| async { error(404, "not_found", "no such endpoint") })
        .with_state(shared)
}

type Sim = State<Arc<Shared>>;
type ConnInfo = ConnectInfo<Conn>;

#[derive(Deserialize)]
struct TokenQuery {
    username: Option<String>,
    password: Option<String>,
    client_id: Option<String>,
    grant_type: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    details: Option<String>,
    page: Option<String>,
    #[serde(rename = "perPage")]
    per_page: Option<String>,
}

async fn token(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Query(q): Query<TokenQuery>,
) -> Response {
    let fault = match sim.begin(&conn) {
        Ok(fault) => fault,
        Err(refusal) => return refusal.into_response(),
    };
    let response = sim.grant(&q).unwrap_or_else(IntoResponse::into_response);
    sim.finish(fault, &conn, response).await
}

async fn create(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path(rec_type): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let begun = sim.begin(&conn);
    create_share(
        &sim,
        &conn,
        begun,
        rec_type,
        Some(Vec::new()),
        &headers,
        body,
    )
    .await
}

async fn create_tagged(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path((rec_type, _)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let begun = sim.begin(&conn);
    let tags = path_tags(uri.path());
    create_share(&sim, &conn, begun, rec_type, tags, &headers, body).await
}

async fn create_share(
    sim: &Shared,
    conn: &Conn,
    begun: Begun,
    rec_type: String,
    tags: Option<Vec<String>>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let fault = match begun {
        Ok(fault) => fault,
        Err(refusal) => return refusal.into_response(),
    };
    let response = async {
        let user = sim.authorize(headers, true)?;
        let tags = tags.ok_or_else(|| {
            error(
                400,
                "bad_request",
                "a tag is not valid percent-encoded UTF-8",
            )
        })?;
        let bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| error(413, "payload_too_large", "the body is too large or broken"))?;
        let data = serde_json::from_slice::<Box<RawValue>>(&bytes)
            .ok()
            .filter(|raw| raw.get().starts_with('{'))
            .ok_or_else(|| error(400, "bad_request", "the body must be a JSON object"))?;
        Ok::<_, Refusal>(sim.store(rec_type, tags, data, user))
    }
    .await
    .unwrap_or_else(IntoResponse::into_response);
    sim.finish(fault, conn, response).await
}

async fn list(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path(rec_type): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let fault = match sim.begin(&conn) {
        Ok(fault) => fault,
        Err(refusal) => return refusal.into_response(),
    };
    let response = sim
        .page(&rec_type, &q, &headers)
        .unwrap_or_else(IntoResponse::into_response);
    sim.finish(fault, &conn, response).await
}

async fn get_one(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path((rec_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let fault = match sim.begin(&conn) {
        Ok(fault) => fault,
        Err(refusal) => return refusal.into_response(),
    };
    let response = sim
        .read(&rec_type, &id, &headers)
        .unwrap_or_else(IntoResponse::into_response);
    sim.finish(fault, &conn, response).await
}

async fn delete_one(
    State(sim): Sim,
    ConnectInfo(conn): ConnInfo,
    Path((rec_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let fault = match sim.begin(&conn) {
        Ok(fault) => fault,
        Err(refusal) => return refusal.into_response(),
    };
    let response = sim
        .delete(&rec_type, &id, &headers)
        .unwrap_or_else(IntoResponse::into_response);
    sim.finish(fault, &conn, response).await
}

async fn stats(State(sim): Sim) -> Json<SimStats> {
    Json(sim.stats())
}

// ---- Answers ----

/// An error answer: a status and a small JSON body (`Retry-After: 1` with 429).
#[derive(Clone, Copy, Debug)]
struct Refusal {
    status: u16,
    code: &'static str,
    message: &'static str,
}

fn error(status: u16, code: &'static str, message: &'static str) -> Refusal {
    Refusal {
        status,
        code,
        message,
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({ "error": self.code, "message": self.message, "status": self.status });
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = HeaderValue::from_static("1");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after);
        }
        response
    }
}

/// The `meta` of an answer about one share.
fn one_meta() -> Value {
    json!({ "totalPages": 1, "currentPage": 1, "perPage": 1, "totalCount": 1, "currentCount": 1 })
}

fn expired() -> Refusal {
    error(
        401,
        "invalid_token",
        "the access token expired or was revoked",
    )
}

fn json_response<T: Serialize>(body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => error(500, "internal_error", "cannot serialize the answer").into_response(),
    }
}

/// A query parameter that must be a whole number from 1, or `default` when absent; `message`
/// says so.
fn positive(value: Option<&str>, default: u64, message: &'static str) -> Result<u64, Refusal> {
    match value.map(|v| v.trim().parse::<u64>()) {
        None => Ok(default),
        Some(Ok(n)) if n > 0 => Ok(n),
        Some(_) => Err(error(400, "bad_request", message)),
    }
}

#[derive(Serialize)]
struct Page<'a> {
    meta: Value,
    objs: Vec<ShareOut<'a>>,
}

/// A share as `GET` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ShareOut<'a> {
    #[serde(rename = "_id")]
    oid: Value,
    id: &'a str,
    rec_type: &'a str,
    data: &'a RawValue,
    create_date: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_date: Option<Value>,
    tstamp: Value,
    creator_id: &'a str,
    updater_id: &'a str,
    name: &'static str,
    desc: &'static str,
    tags: &'a [String],
    checksum: &'a str,
    origin: Value,
    owner: Value,
}

impl Share {
    fn out<'a>(&'a self, rec_type: &'a str, encoding: DateEncoding, details: bool) -> ShareOut<'a> {
        let empty: &'static RawValue = serde_json::from_str("{}").expect("`{}` is JSON");
        let (oid, create_date, update_date, tstamp, origin_date, desc, owner) = match encoding {
            DateEncoding::V2017 => (
                json!({ "$oid": self.id }),
                json!({ "$date": self.at_ms }),
                None,
                json!({ "$numberLong": self.at_ms.to_string() }),
                json!({ "$numberLong": self.at_ms.to_string() }),
                format!("Object of Type {rec_type}"),
                json!({ "appid": SIM_APPID, "org": SIM_ORG, "user": self.creator }),
            ),
            DateEncoding::V2020 => (
                json!(self.id),
                json!(iso_time(self.at_ms)),
                Some(json!(iso_time(self.at_ms))),
                json!(self.at_ms),
                json!(iso_time(self.at_ms)),
                format!("Record of Type {rec_type}"),
                json!({ "appid": SIM_APPID, "org": SIM_ORG, "owners": [], "user": self.creator }),
            ),
        };
        ShareOut {
            oid,
            id: &self.id,
            rec_type,
            data: if details { &self.data } else { empty },
            create_date,
            update_date,
            tstamp,
            creator_id: &self.creator,
            updater_id: &self.creator,
            name: "",
            desc: "",
            tags: &self.tags,
            checksum: &self.checksum,
            origin: json!({
                "checksum": self.checksum,
                "createDate": origin_date,
                "creatorId": self.creator,
                "desc": desc,
                "id": self.id,
                "name": rec_type,
                "remoteAddress": "127.0.0.1",
                "tokendata": { "ip": "127.0.0.1" },
            }),
            owner,
        }
    }
}

// ---- Small helpers ----

/// The bridge's record key: `lfk-` and 16 hex digits.
fn is_record_key(tag: &str) -> bool {
    tag.strip_prefix("lfk-")
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Microshare's checksum look: a hash in upper-case hex, `L`, the length of the data.
fn checksum(data: &str) -> String {
    let digest = Sha256::digest(data.as_bytes());
    format!("{}L{}", hex::encode_upper(&digest[..16]), data.len())
}

/// The tags of a `/share/{recType}/tags/{tag1}/{tag2}...` path, each percent-decoded; `None`
/// when one is not valid percent-encoded UTF-8.
fn path_tags(path: &str) -> Option<Vec<String>> {
    let (_, tags) = path.strip_prefix("/share/")?.split_once("/tags/")?;
    tags.split('/')
        .filter(|t| !t.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    fn hex_digit(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = hex_digit(bytes.next()?)?;
            let lo = hex_digit(bytes.next()?)?;
            out.push((hi << 4) | lo);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// [`iso_time`]'s format.
const ISO_MS: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
/// [`us_time`]'s format.
const US_MS: &[BorrowedFormatItem<'_>] = format_description!(
    "[month]/[day]/[year] [hour repr:12]:[minute]:[second]:[subsecond digits:3] [period]"
);

/// Epoch milliseconds (the logical clock: [`SIM_EPOCH_MS`] plus 1 ms per stored share) written
/// with `format`.
fn format_ms(ms: u64, format: &[BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .expect("the logical clock stays before the year 10000")
        .format(format)
        .expect("a UTC date-time has every component")
}

/// `2025-06-15T15:06:40.001Z`.
fn iso_time(ms: u64) -> String {
    format_ms(ms, ISO_MS)
}

/// The 2017 POST answer's `tstamp`: `06/15/2025 03:06:40:001 PM`.
fn us_time(ms: u64) -> String {
    format_ms(ms, US_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(1_750_889_007_101), "2025-06-25T22:03:27.101Z");
        assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(us_time(1_495_501_715_141), "05/23/2017 01:08:35:141 AM");
        assert_eq!(us_time(SIM_EPOCH_MS + 1), "06/15/2025 03:06:40:001 PM");
    }

    #[test]
    fn tags_and_keys() {
        assert_eq!(
            path_tags("/share/a.b/tags/x%20y/c%2Fd//%E2%82%AC"),
            Some(vec!["x y".into(), "c/d".into(), "€".into()])
        );
        assert_eq!(path_tags("/share/a/tags/%4"), None);
        assert_eq!(path_tags("/share/a/tags/%+1"), None);
        assert_eq!(path_tags("/share/a/tags/%FF"), None);
        assert!(is_record_key("lfk-0123456789abcdef"));
        assert!(!is_record_key("lfk-0123456789abcde"));
        assert!(!is_record_key("lfk-0123456789abcdeg"));
    }

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
