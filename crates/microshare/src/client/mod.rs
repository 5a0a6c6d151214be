//! The Microshare Share API: tokens, `POST /share/{recType}` (with tags), the paged
//! `GET /share/{recType}` and the query by tags, `GET /share/{recType}/tags/...`.
//!
//! ```no_run
//! use lorafield_microshare::Secret;
//! use lorafield_microshare::client::{Client, ClientConfig, ClientError, Credentials, Endpoints};
//!
//! # async fn run() -> Result<(), ClientError> {
//! let credentials = Credentials::Password {
//!     username: "me@example.com".into(),
//!     password: Secret::new("correct horse"),
//!     api_key: Secret::new("0F1E2D3C"),
//! };
//! let client = Client::new(ClientConfig::new(Endpoints::production(), credentials))?;
//! client.token().await?; // fail early on wrong credentials
//!
//! let tags = ["site-1".to_string()];
//! let posted = client.post_share("io.example.reading", &tags, br#"{"t":21.5}"#).await?;
//! println!("stored as {:?}", posted.id);
//!
//! // Is a share carrying this tag stored? (Password credentials: a pipe token only posts.)
//! assert!(client.has_tag("io.example.reading", "site-1").await?);
//!
//! let mut pages = client.pages("io.example.reading", 100);
//! while let Some(page) = pages.next().await {
//!     for share in page?.objs {
//!         println!("{}", share.get());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A password token is fetched on first use and kept behind one lock: a request that gets 401
//! fetches a new token (unless another request already replaced the one that failed) and is sent
//! once more; a token older than 47 hours (they last 48) is replaced before use. A pipe token is
//! configuration: a 401 means it was revoked ([`ClientError::Revoked`]). Secrets are
//! [`Secret`]s, and every text that goes into an error (answer bodies, transport errors) has the
//! configured secrets and the token in use replaced by `***`; reqwest's errors lose their URL,
//! which carries the password of a token request.
//!
//! A request that went out and got no answer ([`ClientError::Unanswered`]: a timeout, a
//! connection closed before the answer) may have been carried out; one that could not connect
//! ([`ClientError::Transport`]) was not. Connections are kept alive and reused; up to
//! [`ClientConfig::pool`] idle ones are kept per host, so that as many deliveries as the
//! concurrency limit allows find one.

mod pages;
mod token;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::Secret;
use crate::worker::{Cause, Deliver, DeliveryError, Lookup};
use token::{Bearer, TokenSlot, retry_after};

pub use pages::{Page, Pages};

/// The per-request timeout of [`ClientConfig::new`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The base URLs of the Share API and of the token endpoint, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The Share API, `https://api.microshare.io`.
    pub api: String,
    /// The token endpoint's host, `https://auth.microshare.io`.
    pub auth: String,
}

impl Endpoints {
    /// Microshare's production hosts.
    pub fn production() -> Self {
        Endpoints {
            api: "https://api.microshare.io".into(),
            auth: "https://auth.microshare.io".into(),
        }
    }

    /// Microshare's development hosts (`dapi`, `dauth`).
    pub fn dev() -> Self {
        Endpoints {
            api: "https://dapi.microshare.io".into(),
            auth: "https://dauth.microshare.io".into(),
        }
    }

    /// One host for both, such as a simulator at `http://127.0.0.1:PORT`.
    pub fn same(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Endpoints {
            api: base.into(),
            auth: base.into(),
        }
    }
}

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A password token is fetched (`grant_type=password`, scope `ALL:ALL`), kept, fetched again
    /// on 401 and the request retried once.
    Password {
        /// The Microshare user.
        username: String,
        /// The user's password.
        password: Secret,
        /// The API key, sent as `client_id`.
        api_key: Secret,
    },
    /// A pipe token given as configuration: it can only POST; a 401 means it was revoked.
    Pipe(Secret),
}

impl Credentials {
    fn kind(&self) -> &'static str {
        match self {
            Credentials::Password { .. } => "password",
            Credentials::Pipe(_) => "pipe",
        }
    }

    /// How these credentials sign in, in words, for a log line: `a pipe token`, or `a password
    /// token for USER`. Never a secret.
    pub fn describe(&self) -> String {
        match self {
            Credentials::Password { username, .. } => format!("a password token for {username}"),
            Credentials::Pipe(_) => "a pipe token".into(),
        }
    }
}

/// What [`Client::new`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where to send requests.
    pub endpoints: Endpoints,
    /// How to authenticate.
    pub credentials: Credentials,
    /// The timeout of each request, connecting included.
    pub timeout: Duration,
    /// Idle connections kept per host, at most (the delivery worker's ceiling).
    pub pool: usize,
}

impl ClientConfig {
    /// A configuration with the [`DEFAULT_TIMEOUT`] and a pool of
    /// [`DEFAULT_CEILING`](crate::worker::DEFAULT_CEILING) connections.
    pub fn new(endpoints: Endpoints, credentials: Credentials) -> Self {
        ClientConfig {
            endpoints,
            credentials,
            timeout: DEFAULT_TIMEOUT,
            pool: crate::worker::DEFAULT_CEILING,
        }
    }
}

/// Why a request failed. `Display` never shows a token, a password or an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The pipe token was refused (401): it was revoked.
    Revoked,
    /// The token endpoint refused the credentials, or the API refused a token fetched just
    /// before (401 twice in a row).
    Auth {
        /// The HTTP status.
        status: u16,
        /// What went wrong, with the answer's body clipped.
        message: String,
    },
    /// An answer other than success (and other than a 401 handled as above).
    Status {
        /// The HTTP status.
        status: u16,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
        /// The answer's body, clipped to about 200 characters.
        body: String,
    },
    /// No answer, and nothing carried out: could not connect; or the answer of a request that
    /// reads could not be read or decoded. The text says which.
    Transport(String),
    /// The request went out and no answer came: it timed out, or the connection closed before
    /// the answer. The server may have carried it out.
    Unanswered {
        /// What happened.
        what: String,
        /// Whether it timed out (rather than the connection closing).
        timed_out: bool,
    },
    /// A configuration that cannot work (an endpoint that is not an http(s) URL, an empty
    /// recType, listing with a pipe token).
    Config(String),
}

impl ClientError {
    /// Whether the status is worth retrying later: 408, 425, 429 and 5xx.
    fn retryable(status: u16) -> bool {
        matches!(status, 408 | 425 | 429 | 500..=599)
    }

    /// How the delivery worker should treat this error.
    fn into_delivery(self) -> DeliveryError {
        let reason = self.to_string();
        match self {
            ClientError::Status {
                status,
                retry_after,
                ..
            } if ClientError::retryable(status) => {
                DeliveryError::answered(reason, status, retry_after)
            }
            ClientError::Status { status, .. } => DeliveryError::Reject {
                reason,
                status: Some(status),
            },
            ClientError::Transport(_) => DeliveryError::Retry {
                reason,
                status: None,
                after: None,
                cause: Cause::NotSent,
            },
            ClientError::Unanswered { timed_out, .. } => DeliveryError::Retry {
                reason,
                status: None,
                after: None,
                cause: if timed_out {
                    Cause::Timeout
                } else {
                    Cause::Cut
                },
            },
            ClientError::Auth { .. } => DeliveryError::Stop {
                reason: format!(
                    "{reason}; retrying will not help: check the username, password and API key"
                ),
            },
            ClientError::Revoked | ClientError::Config(_) => DeliveryError::Stop { reason },
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Revoked => {
                f.write_str("Microshare refused the pipe token (401): it was revoked")
            }
            ClientError::Auth { status, message } => {
                write!(
                    f,
                    "Microshare refused the credentials (HTTP {status}): {message}"
                )
            }
            ClientError::Status {
                status,
                retry_after,
                body,
            } => {
                write!(f, "Microshare answered HTTP {status}")?;
                if let Some(after) = retry_after {
                    write!(f, " (retry after {} s)", after.as_secs())?;
                }
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            ClientError::Transport(what) | ClientError::Unanswered { what, .. } => {
                write!(f, "transport: {what}")
            }
            ClientError::Config(what) => write!(f, "configuration: {what}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A share that was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedShare {
    /// Its id (`objs[0].id` of the answer), if the answer said.
    pub id: Option<String>,
}

/// A client of the Share API; cheap to clone (the clones share the connection pool and token).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Endpoints,
    credentials: Credentials,
    timeout: Duration,
    /// The configured secrets, raw and URL-encoded, longest first: scrubbed from error texts.
    secrets: Vec<String>,
    token: Mutex<TokenSlot>,
    /// Whether a look-up refused for good was logged at warn already.
    lookup_refused: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.inner.endpoints)
            .field("credentials", &self.inner.credentials.kind())
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Where requests go.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// How it signs in, in words ([`Credentials::describe`]).
    pub fn sign_in(&self) -> String {
        self.inner.credentials.describe()
    }

    /// A client for `config`; fails if an endpoint is not an http(s) URL or the timeout is zero.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let ClientConfig {
            endpoints,
            credentials,
            timeout,
            pool,
        } = config;
        let endpoints = Endpoints {
            api: base_url(&endpoints.api)?,
            auth: base_url(&endpoints.auth)?,
        };
        if timeout.is_zero() {
            return Err(ClientError::Config("the timeout is zero".into()));
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(pool.max(1))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Config(format!("HTTP client: {}", e.without_url())))?;
        let mut secrets = Vec::new();
        let configured = match &credentials {
            Credentials::Password {
                password, api_key, ..
            } => vec![password, api_key],
            Credentials::Pipe(token) => vec![token],
        };
        for secret in configured {
            let raw = secret.expose();
            if !raw.is_empty() {
                secrets.push(raw.to_string());
                let mut encoded = String::new();
                encode_into(raw, &mut encoded);
                secrets.push(encoded);
            }
        }
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                endpoints,
                credentials,
                timeout,
                secrets,
                token: Mutex::new(TokenSlot::default()),
                lookup_refused: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// Stores `body` (JSON, sent as it is) as a share of `rec_type`:
    /// `POST {api}/share/{recType}`, or `{api}/share/{recType}/tags/{t1}/{t2}...` with each tag
    /// URL-encoded as a path segment. Tags that cannot be a path segment (empty, `.`, `..`) are
    /// left out.
    pub async fn post_share(
        &self,
        rec_type: &str,
        tags: &[String],
        body: &[u8],
    ) -> Result<PostedShare, ClientError> {
        let mut url = self.share_url(rec_type)?;
        let mut first = true;
        for tag in tags {
            if matches!(tag.as_str(), "" | "." | "..") {
                tracing::warn!(
                    rec_type,
                    tag = tag.as_str(),
                    "tag left out: not a path segment"
                );
                continue;
            }
            if first {
                url.push_str("/tags");
                first = false;
            }
            url.push('/');
            encode_into(tag, &mut url);
        }
        let answer = self.call(Method::POST, &url, Some(body)).await?;
        let id = match answer.bytes().await {
            Ok(bytes) => posted_id(&bytes),
            Err(e) => {
                // The status said stored: sending again would store it twice.
                tracing::warn!(rec_type, error = %e.without_url(), "stored, but the answer was cut");
                None
            }
        };
        Ok(PostedShare { id })
    }

    /// Whether a share of `rec_type` carrying `tag` is stored: the first page of one share of
    /// the query by tags (`GET {api}/share/{recType}/tags/{tag}?details=true&page=1&perPage=1`).
    /// A share listed counts if it carries the tag (or lists no tags at all). Needs password
    /// credentials.
    pub async fn has_tag(&self, rec_type: &str, tag: &str) -> Result<bool, ClientError> {
        let page = self
            .tagged_page(rec_type, std::slice::from_ref(&tag.to_string()), 1, 1)
            .await?;
        #[derive(Deserialize)]
        struct Tagged {
            tags: Option<Vec<String>>,
        }
        Ok(page
            .objs
            .iter()
            .any(|share| match serde_json::from_str::<Tagged>(share.get()) {
                Ok(Tagged { tags: Some(tags) }) => tags.iter().any(|t| t == tag),
                _ => true,
            }))
    }

    /// The shares of `rec_type`, page by page (`GET {api}/share/{recType}?details=true&page=N&perPage=M`
    /// from page 1 until `objs` is empty or `currentPage >= totalPages`). A `per_page` of 0 asks
    /// for Microshare's default, 999. Needs password credentials.
    pub fn pages(&self, rec_type: &str, per_page: u32) -> Pages {
        Pages {
            client: self.clone(),
            rec_type: rec_type.to_string(),
            per_page: if per_page == 0 { 999 } else { per_page },
            next_page: 1,
            done: false,
        }
    }

    /// Fetches a password token now, to fail early on wrong credentials. With a pipe token
    /// there is nothing to fetch (and nothing to check without posting).
    pub async fn token(&self) -> Result<(), ClientError> {
        if let Credentials::Password { .. } = self.inner.credentials {
            let mut slot = self.inner.token.lock().await;
            self.fetch_into(&mut slot).await?;
        }
        Ok(())
    }

    /// `{api}/share/{recType}`, the recType checked and encoded.
    fn share_url(&self, rec_type: &str) -> Result<String, ClientError> {
        if matches!(rec_type, "" | "." | "..") {
            return Err(ClientError::Config(format!(
                "recType {rec_type:?} is not a name"
            )));
        }
        let mut url = format!("{}/share/", self.inner.endpoints.api);
        encode_into(rec_type, &mut url);
        Ok(url)
    }

    /// Sends a request to the API with a token, and once more with a new password token if the
    /// first one got 401. Answers other than success become errors.
    async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ClientError> {
        let bearer = self.bearer().await?;
        let answer = self.send(&method, url, body, &bearer).await?;
        if answer.status() != StatusCode::UNAUTHORIZED {
            return self.success(answer, &bearer).await;
        }
        if let Credentials::Pipe(_) = self.inner.credentials {
            tracing::warn!(%method, url, "the pipe token was refused (401)");
            return Err(ClientError::Revoked);
        }
        tracing::info!(%method, url, "token refused (401): fetching a new one");
        drop(answer);
        let bearer = self.replace(bearer.generation).await?;
        let answer = self.send(&method, url, body, &bearer).await?;
        if answer.status() == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Auth {
                status: 401,
                message: "the API refused a token fetched just before".into(),
            });
        }
        self.success(answer, &bearer).await
    }

    async fn send(
        &self,
        method: &Method,
        url: &str,
        body: Option<&[u8]>,
        bearer: &Bearer,
    ) -> Result<Response, ClientError> {
        let mut request = self
            .inner
            .http
            .request(method.clone(), url)
            .bearer_auth(bearer.value.expose());
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.to_vec());
        }
        let answer = request
            .send()
            .await
            .map_err(|e| self.request_failed(&format!("{method} {url}"), e, &bearer.value))?;
        tracing::debug!(%method, url, status = answer.status().as_u16(), "Microshare answered");
        Ok(answer)
    }

    /// `answer` if it is a success, else a [`ClientError::Status`].
    async fn success(&self, answer: Response, bearer: &Bearer) -> Result<Response, ClientError> {
        let status = answer.status();
        if status.is_success() {
            return Ok(answer);
        }
        let retry_after = retry_after(answer.headers());
        let body = answer.bytes().await.unwrap_or_default();
        Err(ClientError::Status {
            status: status.as_u16(),
            retry_after,
            body: self.scrub(&String::from_utf8_lossy(&body), Some(&bearer.value)),
        })
    }
}

impl Client {
    /// How the delivery worker should treat `e`. Password credentials that got a token before
    /// are not wrong: a refused refresh (or a 401 right after one) is taken as passing trouble
    /// and retried with backoff. Credentials that never got a token stop delivery.
    async fn delivery_error(&self, e: ClientError) -> DeliveryError {
        match e {
            ClientError::Auth { status, .. } if self.inner.token.lock().await.generation > 0 => {
                DeliveryError::answered(
                    format!("{e} (these credentials got a token before: retrying)"),
                    status,
                    None,
                )
            }
            e => e.into_delivery(),
        }
    }
}

impl Deliver for Client {
    /// [`Client::post_share`]; its errors become retry, reject or stop (see [`DeliveryError`]).
    async fn deliver(
        &self,
        rec_type: &str,
        tags: &[String],
        body: &[u8],
    ) -> Result<(), DeliveryError> {
        match self.post_share(rec_type, tags, body).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.delivery_error(e).await),
        }
    }

    /// [`Client::has_tag`] with password credentials; a pipe token cannot ask
    /// ([`Lookup::Unavailable`]), nor can credentials the query is refused to for good (a 4xx
    /// other than 401, 408, 425 and 429: logged at warn once).
    async fn look_up(&self, rec_type: &str, tag: &str) -> Result<Lookup, DeliveryError> {
        if let Credentials::Pipe(_) = self.inner.credentials {
            return Ok(Lookup::Unavailable);
        }
        match self.has_tag(rec_type, tag).await {
            Ok(true) => Ok(Lookup::Found),
            Ok(false) => Ok(Lookup::Absent),
            Err(ClientError::Status { status, body, .. }) if !ClientError::retryable(status) => {
                let first = !self
                    .inner
                    .lookup_refused
                    .swap(true, std::sync::atomic::Ordering::Relaxed);
                if first {
                    tracing::warn!(
                        rec_type,
                        "Microshare refused the query by tags (HTTP {status}: {body}): records \
                         an earlier attempt may have stored are posted again without asking"
                    );
                }
                Ok(Lookup::Unavailable)
            }
            Err(e) => Err(self.delivery_error(e).await),
        }
    }
}

/// `objs[0].id` of a POST's answer.
fn posted_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Answer {
        objs: Vec<Stored>,
    }
    #[derive(Deserialize)]
    struct Stored {
        id: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body).ok()?;
    answer.objs.into_iter().next()?.id
}

/// `url` checked to be an http(s) base URL, without its trailing slashes.
fn base_url(url: &str) -> Result<String, ClientError> {
    let trimmed = url.trim_end_matches('/');
    let parsed = reqwest::Url::parse(trimmed)
        .map_err(|e| ClientError::Config(format!("endpoint {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(ClientError::Config(format!(
            "endpoint {url:?} is not an http(s) base URL"
        )));
    }
    Ok(trimmed.to_string())
}

/// Percent-encodes `s` onto `out`: everything but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), so it fits a path segment or a query value.
fn encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_components() {
        let mut out = String::new();
        encode_into("a b/c", &mut out);
        assert_eq!(out, "a%20b%2Fc");
        out.clear();
        encode_into("uk.reading-ttn_x~y:é+%", &mut out);
        assert_eq!(out, "uk.reading-ttn_x~y%3A%C3%A9%2B%25");
    }

    #[test]
    fn checks_base_urls() {
        assert_eq!(
            base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(matches!(base_url("ftp://x"), Err(ClientError::Config(_))));
        assert!(matches!(
            base_url("api.microshare.io"),
            Err(ClientError::Config(_))
        ));
        assert!(matches!(
            base_url("https://x/?a=1"),
            Err(ClientError::Config(_))
        ));
    }
}
