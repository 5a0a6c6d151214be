//! Password tokens: fetched on first use, kept behind one lock, replaced after a 401 or at 47
//! hours. And the texts that go into errors: the `Retry-After` header, transport errors, answer
//! bodies with the secrets scrubbed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;
use tokio::time::Instant;

use super::{Client, ClientError, Credentials, encode_into};
use crate::Secret;

/// A password token lasts 48 hours; it is replaced once it is this old.
const TOKEN_REFRESH_AGE: Duration = Duration::from_secs(47 * 3600);

/// Answer bodies in errors are clipped to this many characters.
const BODY_CLIP: usize = 200;

#[derive(Default)]
pub(super) struct TokenSlot {
    current: Option<Token>,
    /// How many tokens were fetched; names the current one.
    pub(super) generation: u64,
}

struct Token {
    value: Secret,
    refresh_at: Instant,
    generation: u64,
}

impl Token {
    fn is_fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
    }
}

/// The token a request is sent with, and which one it is (0: a pipe token).
pub(super) struct Bearer {
    pub(super) value: Secret,
    pub(super) generation: u64,
}

impl Token {
    fn bearer(&self) -> Bearer {
        Bearer {
            value: self.value.clone(),
            generation: self.generation,
        }
    }
}

impl Client {
    /// The token to send: the pipe token, or the kept password token (fetched if there is none
    /// or it is 47 hours old).
    pub(super) async fn bearer(&self) -> Result<Bearer, ClientError> {
        if let Credentials::Pipe(token) = &self.inner.credentials {
            return Ok(Bearer {
                value: token.clone(),
                generation: 0,
            });
        }
        let mut slot = self.inner.token.lock().await;
        if let Some(token) = slot.current.as_ref().filter(|t| t.is_fresh(Instant::now())) {
            return Ok(token.bearer());
        }
        self.fetch_into(&mut slot).await
    }

    /// A token to replace the one of `generation` that got 401: a newer one if another request
    /// fetched it meanwhile, else a new one.
    pub(super) async fn replace(&self, generation: u64) -> Result<Bearer, ClientError> {
        let mut slot = self.inner.token.lock().await;
        let newer = slot
            .current
            .as_ref()
            .filter(|t| t.generation != generation && t.is_fresh(Instant::now()));
        if let Some(token) = newer {
            return Ok(token.bearer());
        }
        self.fetch_into(&mut slot).await
    }

    /// Fetches a password token into `slot` (whose lock is held, so that requests wait for it
    /// rather than fetch their own).
    pub(super) async fn fetch_into(&self, slot: &mut TokenSlot) -> Result<Bearer, ClientError> {
        let value = self.fetch_token().await?;
        slot.generation += 1;
        let token = Token {
            value,
            refresh_at: Instant::now() + TOKEN_REFRESH_AGE,
            generation: slot.generation,
        };
        let bearer = token.bearer();
        slot.current = Some(token);
        tracing::debug!(generation = slot.generation, "fetched a password token");
        Ok(bearer)
    }

    /// `POST {auth}/oauth2/token?username=U&password=P&client_id=APIKEY&grant_type=password&scope=ALL:ALL`.
    async fn fetch_token(&self) -> Result<Secret, ClientError> {
        let Credentials::Password {
            username,
            password,
            api_key,
        } = &self.inner.credentials
        else {
            return Err(ClientError::Config("a pipe token is not fetched".into()));
        };
        let endpoint = format!("{}/oauth2/token", self.inner.endpoints.auth);
        let mut url = format!("{endpoint}?username=");
        encode_into(username, &mut url);
        url.push_str("&password=");
        encode_into(password.expose(), &mut url);
        url.push_str("&client_id=");
        encode_into(api_key.expose(), &mut url);
        url.push_str("&grant_type=password&scope=ALL%3AALL");
        let what = format!("token request to {endpoint}");
        let answer = self
            .inner
            .http
            .post(url)
            .body(Vec::new())
            .send()
            .await
            .map_err(|e| self.transport(&what, e, None))?;
        let status = answer.status().as_u16();
        let retry_after = retry_after(answer.headers());
        let body = answer
            .bytes()
            .await
            .map_err(|e| self.transport(&what, e, None))?;
        if !(200..300).contains(&status) {
            let body = self.scrub(&String::from_utf8_lossy(&body), None);
            return Err(if ClientError::retryable(status) {
                ClientError::Status {
                    status,
                    retry_after,
                    body,
                }
            } else {
                ClientError::Auth {
                    status,
                    message: if body.is_empty() {
                        "(no message)".into()
                    } else {
                        body
                    },
                }
            });
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
        }
        match serde_json::from_slice::<TokenAnswer>(&body) {
            Ok(answer) if !answer.access_token.is_empty() => Ok(Secret::new(answer.access_token)),
            // The body is not shown: it may hold a token under another name.
            _ => Err(ClientError::Auth {
                status,
                message: "the token endpoint's answer has no access_token".into(),
            }),
        }
    }

    /// A [`ClientError::Transport`] for `error`, saying which kind, without its URL.
    pub(super) fn transport(
        &self,
        what: &str,
        error: reqwest::Error,
        token: Option<&Secret>,
    ) -> ClientError {
        let error = error.without_url();
        let kind = if error.is_timeout() {
            format!("timed out after {:?}", self.inner.timeout)
        } else if error.is_connect() {
            "could not connect".into()
        } else if error.is_decode() {
            "could not decode the answer".into()
        } else if error.is_body() {
            "the answer's body was cut".into()
        } else if error.is_request() {
            "the request failed".into()
        } else {
            error.to_string()
        };
        let mut text = format!("{what}: {kind}");
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        ClientError::Transport(self.scrub(&text, token))
    }

    /// The error of an API request that failed without an answer: [`ClientError::Transport`]
    /// when it never went out (no connection), else [`ClientError::Unanswered`] (it may have
    /// been carried out).
    pub(super) fn request_failed(
        &self,
        what: &str,
        error: reqwest::Error,
        token: &Secret,
    ) -> ClientError {
        let went_out = !(error.is_connect() || error.is_builder());
        let timed_out = error.is_timeout();
        match self.transport(what, error, Some(token)) {
            ClientError::Transport(what) if went_out => ClientError::Unanswered { what, timed_out },
            other => other,
        }
    }

    /// `text` without the configured secrets and `token`, clipped to [`BODY_CLIP`] characters.
    pub(super) fn scrub(&self, text: &str, token: Option<&Secret>) -> String {
        let mut text = text.trim().to_string();
        let token = token.map(Secret::expose).filter(|t| !t.is_empty());
        for secret in token
            .into_iter()
            .chain(self.inner.secrets.iter().map(String::as_str))
        {
            if text.contains(secret) {
                text = text.replace(secret, "***");
            }
        }
        clip(text)
    }
}

/// `text` cut to [`BODY_CLIP`] characters, `…` marking a cut.
fn clip(mut text: String) -> String {
    if let Some((at, _)) = text.char_indices().nth(BODY_CLIP) {
        text.truncate(at);
        text.push('…');
    }
    text
}

/// The `Retry-After` header: seconds, or an IMF-fixdate (as a delay from now, 0 if past).
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = http_date(value)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since 1970 of an HTTP date: the IMF-fixdate senders use
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) and the two obsolete forms RFC 9110 has recipients accept.
fn http_date(s: &str) -> Option<u64> {
    let at = httpdate::parse_http_date(s).ok()?;
    Some(at.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn parses_retry_after() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 2 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn parses_http_dates() {
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
            Some(1_835_481_599)
        );
        // The obsolete forms recipients must accept (RFC 9110, 5.6.7).
        assert_eq!(
            http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), Some(784_111_777));
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(http_date("Sun, 06 Nov 1994 28:49:37 GMT"), None);
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:+7 GMT"), None);
    }

    #[test]
    fn clips_on_characters() {
        assert_eq!(clip("short".into()), "short");
        let long = "é".repeat(BODY_CLIP + 5);
        let clipped = clip(long);
        assert_eq!(clipped.chars().count(), BODY_CLIP + 1);
        assert!(clipped.ends_with('…'));
    }

    #[test]
    fn token_is_replaced_at_47_hours() {
        let now = Instant::now();
        let token = Token {
            value: Secret::new("t"),
            refresh_at: now + TOKEN_REFRESH_AGE,
            generation: 1,
        };
        assert!(token.is_fresh(now));
        assert!(token.is_fresh(now + Duration::from_secs(47 * 3600 - 1)));
        assert!(!token.is_fresh(now + Duration::from_secs(47 * 3600)));
    }
}
