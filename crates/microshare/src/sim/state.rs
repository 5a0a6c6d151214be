//! The simulator's state: tokens, shares and counters, and what each request does to them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::watch;

use super::conn::Conn;
use super::faults::Fault;
use super::handlers::{
    ListQuery, Refusal, TokenQuery, error, expired, json_response, one_meta, positive,
};
use super::remote::{Bucket, Latency};
use super::wire::{Page, checksum, is_record_key, us_time};
use super::{
    DateEncoding, EXPIRES_IN, Faults, SIM_EPOCH_MS, SimConfig, SimStats, SimUser, wait_stop,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenKind {
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
pub(super) struct Share {
    pub(super) id: String,
    pub(super) tags: Vec<String>,
    pub(super) data: Box<RawValue>,
    pub(super) at_ms: u64,
    pub(super) creator: String,
    pub(super) checksum: String,
}

impl Share {
    fn has_tags(&self, tags: &[String]) -> bool {
        tags.iter().all(|t| self.tags.contains(t))
    }
}

#[derive(Debug)]
pub(super) struct Shared {
    users: Vec<SimUser>,
    encoding: DateEncoding,
    slow: Duration,
    password_token_ttl: Option<Duration>,
    latency: Latency,
    max_in_flight: Option<usize>,
    stopped: watch::Receiver<bool>,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) faults: Faults,
    fault_rng: fastrand::Rng,
    /// Draws the latency of each request (its own stream: the fault draws stay as they are).
    latency_rng: fastrand::Rng,
    rng: fastrand::Rng,
    /// The middle of every id, from the seed.
    machine: u32,
    tokens: HashMap<String, Token>,
    /// By recType, oldest first.
    shares: BTreeMap<String, Vec<Share>>,
    /// Shares stored so far: the logical clock.
    clock: u64,
    /// Each record key stored, and when it was first.
    keys: HashMap<String, Instant>,
    keyed: u64,
    bucket: Option<Bucket>,
    in_flight: usize,
    stats: SimStats,
}

/// What a request may go on to do after its fault draw.
pub(super) type Begun = Result<Option<Fault>, Refusal>;

impl Shared {
    pub(super) fn new(config: SimConfig, stopped: watch::Receiver<bool>) -> Self {
        let mut rng = fastrand::Rng::with_seed(config.seed ^ 0x9E37_79B9_7F4A_7C15);
        let inner = Inner {
            faults: config.faults,
            fault_rng: fastrand::Rng::with_seed(config.seed),
            latency_rng: fastrand::Rng::with_seed(config.seed ^ 0x5851_F42D_4C95_7F2D),
            machine: rng.u32(..0x100_0000),
            rng,
            tokens: HashMap::new(),
            shares: BTreeMap::new(),
            clock: 0,
            keys: HashMap::new(),
            keyed: 0,
            bucket: config.rate_limit.map(|r| Bucket::new(r, Instant::now())),
            in_flight: 0,
            stats: SimStats::default(),
        };
        Shared {
            users: config.users,
            encoding: config.encoding,
            slow: config.slow,
            password_token_ttl: config.password_token_ttl,
            latency: config.latency,
            max_in_flight: config.max_in_flight,
            stopped,
            inner: Mutex::new(inner),
        }
    }

    pub(super) fn stopped(&self) -> watch::Receiver<bool> {
        self.stopped.clone()
    }

    pub(super) fn first_stored(&self) -> HashMap<String, Instant> {
        self.lock().keys.clone()
    }

    /// Counts a request in flight, unless the cap is reached (then counts a refusal).
    pub(super) fn enter(&self) -> bool {
        let mut inner = self.lock();
        if self.max_in_flight.is_some_and(|max| inner.in_flight >= max) {
            inner.stats.requests += 1;
            inner.stats.over_capacity += 1;
            return false;
        }
        inner.in_flight += 1;
        inner.stats.peak_in_flight = inner.stats.peak_in_flight.max(inner.in_flight as u64);
        true
    }

    pub(super) fn leave(&self) {
        let mut inner = self.lock();
        inner.in_flight = inner.in_flight.saturating_sub(1);
    }

    pub(super) fn latency_draw(&self) -> Duration {
        if self.latency.is_zero() {
            return Duration::ZERO;
        }
        let mut inner = self.lock();
        self.latency.draw(&mut inner.latency_rng)
    }

    /// Takes a token of the rate limit (counting a refusal), or says how long until one.
    pub(super) fn take_token(&self) -> Result<(), Duration> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(bucket) = inner.bucket.as_mut() else {
            return Ok(());
        };
        bucket.take(Instant::now()).inspect_err(|_| {
            inner.stats.requests += 1;
            inner.stats.rate_limited += 1;
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn stats(&self) -> SimStats {
        let inner = self.lock();
        let mut stats = inner.stats.clone();
        stats.distinct_keys = inner.keys.len() as u64;
        stats.duplicates = inner.keyed.saturating_sub(stats.distinct_keys);
        stats
    }

    pub(super) fn invalidate(&self, kind: TokenKind) {
        let mut inner = self.lock();
        inner
            .tokens
            .values_mut()
            .filter(|t| t.kind == kind)
            .for_each(|t| t.valid = false);
    }

    /// Counts the request and draws its fault: `Err` is the whole answer (or a cut connection).
    pub(super) fn begin(&self, conn: &Conn) -> Begun {
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
        if let Some(fault) = fault {
            tracing::debug!(target: super::LOG_TARGET, "fault injected: {}", fault.key());
        }
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
    pub(super) async fn finish(
        &self,
        fault: Option<Fault>,
        conn: &Conn,
        response: Response,
    ) -> Response {
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
    pub(super) fn authorize(&self, headers: &HeaderMap, pipe_ok: bool) -> Result<String, Refusal> {
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

    pub(super) fn grant(&self, query: &TokenQuery) -> Result<Response, Refusal> {
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

    pub(super) fn store(
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
        let now = Instant::now();
        for tag in tags.iter().filter(|t| is_record_key(t)) {
            keyed = true;
            inner.keys.entry(tag.clone()).or_insert(now);
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
    pub(super) fn page(
        &self,
        rec_type: &str,
        q: &ListQuery,
        headers: &HeaderMap,
    ) -> Result<Response, Refusal> {
        self.authorize(headers, false)?;
        let inner = self.lock();
        let shares = inner.shares.get(rec_type).map_or(&[][..], Vec::as_slice);
        self.paged(rec_type, shares.iter(), q)
    }

    /// A page of the shares of `rec_type` carrying all of `tags` (`None`: a tag that is not
    /// valid percent-encoded UTF-8); `["latest"]`: the newest share.
    pub(super) fn tagged(
        &self,
        rec_type: &str,
        tags: Option<Vec<String>>,
        q: &ListQuery,
        headers: &HeaderMap,
    ) -> Result<Response, Refusal> {
        self.authorize(headers, false)?;
        let tags = tags
            .filter(|t| !t.is_empty())
            .ok_or_else(|| error(400, "bad_request", "the tags are missing or not valid"))?;
        let mut inner = self.lock();
        inner.stats.tag_queries += 1;
        let shares = inner.shares.get(rec_type).map_or(&[][..], Vec::as_slice);
        if tags == ["latest"] {
            return self.paged(rec_type, shares.last().into_iter(), q);
        }
        self.paged(rec_type, shares.iter().filter(|s| s.has_tags(&tags)), q)
    }

    /// The page `q` asks for of `shares`, as the API answers it.
    fn paged<'a>(
        &self,
        rec_type: &str,
        shares: impl Iterator<Item = &'a Share> + Clone,
        q: &ListQuery,
    ) -> Result<Response, Refusal> {
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
        let total = shares.clone().count() as u64;
        let skip = (page - 1).saturating_mul(per_page);
        let objs: Vec<_> = shares
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
    pub(super) fn read(
        &self,
        rec_type: &str,
        id: &str,
        headers: &HeaderMap,
    ) -> Result<Response, Refusal> {
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

    pub(super) fn delete(
        &self,
        rec_type: &str,
        id: &str,
        headers: &HeaderMap,
    ) -> Result<Response, Refusal> {
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
