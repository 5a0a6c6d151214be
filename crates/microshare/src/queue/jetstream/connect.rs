//! Connecting to NATS: the options as the `nats` command-line tool names them, and what the
//! connection's events say about its health.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{ConnectOptions, Event};

use crate::Secret;
use crate::outbox::now_ms;
use crate::queue::{QueueError, QueueErrorKind};

/// How to reach and authenticate to the NATS servers. The fields are named after the `nats`
/// tool's options (`--server`, `--user`, `--password`, `--creds`, `--nkey`, `--tlscert`,
/// `--tlskey`, `--tlsca`, `--tlsfirst`, `--timeout`). `Debug` shows no secret.
#[derive(Clone)]
pub struct NatsOptions {
    /// The server URLs, comma-separated: `nats://HOST:PORT`, or `tls://HOST:PORT` to require
    /// TLS. The client learns the other servers of a cluster from the one it reaches.
    pub servers: String,
    /// The user name; alone (without a password), a token.
    pub user: Option<String>,
    /// The password.
    pub password: Option<Secret>,
    /// A credentials file (a user JWT and its NKey seed).
    pub creds: Option<PathBuf>,
    /// A file holding a user NKey seed.
    pub nkey: Option<PathBuf>,
    /// A client certificate (PEM), with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Certificate authorities to trust for the server's certificate (PEM) instead of the
    /// system's.
    pub tls_ca: Option<PathBuf>,
    /// Start TLS before the server's greeting (a server configured with `handshake_first`).
    pub tls_first: bool,
    /// How long to wait for a connection, an API answer or a publish acknowledgement.
    pub timeout: Duration,
    /// The connection's name, as the server lists it (`lorafield serve`, ...).
    pub name: String,
}

impl std::fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOptions")
            .field("servers", &self.servers_shown())
            .field("user", &self.user.as_ref().map(|_| "***"))
            .field("password", &self.password)
            .field("creds", &self.creds)
            .field("nkey", &self.nkey)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("tls_ca", &self.tls_ca)
            .field("tls_first", &self.tls_first)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl NatsOptions {
    /// Options for `servers` with no credentials and a 5-second timeout.
    pub fn new(servers: impl Into<String>) -> Self {
        NatsOptions {
            servers: servers.into(),
            user: None,
            password: None,
            creds: None,
            nkey: None,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            tls_first: false,
            timeout: Duration::from_secs(5),
            name: "lorafield".into(),
        }
    }

    /// The server URLs without any user or password written in them, for logs and errors.
    pub fn servers_shown(&self) -> String {
        self.servers
            .split(',')
            .map(|url| {
                let url = url.trim();
                match (url.find("://"), url.rfind('@')) {
                    (Some(scheme), Some(at)) if at > scheme => {
                        format!("{}***@{}", &url[..scheme + 3], &url[at + 1..])
                    }
                    (None, Some(at)) => format!("***@{}", &url[at + 1..]),
                    _ => url.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Replaces every secret of these options in `text` with `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        if let Some(p) = &self.password
            && !p.expose().is_empty()
        {
            text = text.replace(p.expose(), "***");
        }
        if let Some(u) = self.user.as_deref().filter(|_| self.password.is_none())
            && !u.is_empty()
        {
            text = text.replace(u, "***");
        }
        for url in self.servers.split(',') {
            let url = url.trim();
            if let (Some(scheme), Some(at)) = (url.find("://"), url.rfind('@'))
                && at > scheme + 3
            {
                text = text.replace(&url[scheme + 3..at], "***");
            }
        }
        text
    }

    /// Connects, with these options; the connection reconnects by itself for ever after, and
    /// `health` follows its state.
    pub(crate) async fn connect(&self, health: &Health) -> Result<async_nats::Client, QueueError> {
        // User and password written in a URL are taken out of it, so that no address the
        // client logs carries them.
        let (servers, in_url) = split_credentials(&self.servers);
        let mut opts = ConnectOptions::new()
            .name(&self.name)
            .connection_timeout(self.timeout)
            .request_timeout(Some(self.timeout))
            .ping_interval(Duration::from_secs(10))
            .max_reconnects(None);
        let password = self.password.as_ref().map(|p| p.expose().to_string());
        match (self.user.clone(), password) {
            (Some(user), Some(password)) => opts = opts.user_and_password(user, password),
            (Some(token), None) => opts = opts.token(token),
            (None, Some(_)) => return Err(settings("--password needs --user")),
            (None, None) => match in_url {
                Some((user, Some(password))) => opts = opts.user_and_password(user, password),
                Some((token, None)) => opts = opts.token(token),
                None => {}
            },
        }
        if let Some(creds) = &self.creds {
            opts = opts.credentials_file(creds).await.map_err(|e| {
                settings(format!(
                    "reading the credentials file {}: {e}",
                    creds.display()
                ))
            })?;
        }
        if let Some(nkey) = &self.nkey {
            let seed = std::fs::read_to_string(nkey)
                .map_err(|e| settings(format!("reading the nkey file {}: {e}", nkey.display())))?;
            opts = opts.nkey(seed.trim().to_string());
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                opts = opts.add_client_certificate(cert.clone(), key.clone());
            }
            (None, None) => {}
            _ => return Err(settings("--tlscert and --tlskey go together")),
        }
        if let Some(ca) = &self.tls_ca {
            opts = opts.add_root_certificates(ca.clone()).require_tls(true);
        }
        if self.tls_first {
            opts = opts.tls_first();
        }
        if self
            .servers
            .split(',')
            .any(|s| s.trim().starts_with("tls://"))
        {
            opts = opts.require_tls(true);
        }
        let events = health.clone();
        let shown = self.servers_shown();
        opts = opts.event_callback(move |event| {
            let events = events.clone();
            let shown = shown.clone();
            async move { events.record(&event, &shown) }
        });
        let client = opts.connect(servers).await.map_err(|e| {
            QueueError::new(
                QueueErrorKind::Unavailable,
                format!(
                    "connecting to NATS at {}: {}",
                    self.servers_shown(),
                    self.redact(&e.to_string())
                ),
            )
        })?;
        health.connected();
        Ok(client)
    }
}

/// The server URLs without user information, and the first user (and password) written in
/// one, percent-decoded.
fn split_credentials(servers: &str) -> (Vec<String>, Option<(String, Option<String>)>) {
    let mut found = None;
    let urls = servers
        .split(',')
        .map(|url| {
            let url = url.trim();
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            match rest.rsplit_once('@') {
                Some((userinfo, host)) => {
                    if found.is_none() {
                        let (user, password) = match userinfo.split_once(':') {
                            Some((u, p)) => (u, Some(percent_decode(p))),
                            None => (userinfo, None),
                        };
                        found = Some((percent_decode(user), password));
                    }
                    if scheme.is_empty() {
                        host.to_string()
                    } else {
                        format!("{scheme}://{host}")
                    }
                }
                None => url.to_string(),
            }
        })
        .collect();
    (urls, found)
}

/// `%XX` escapes decoded (a password in a URL may hold `@`, `:` or `/` so written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn settings(detail: impl Into<String>) -> QueueError {
    QueueError::new(QueueErrorKind::Settings, detail)
}

/// What the connection's events and the last publishes say: whether records can be stored.
#[derive(Debug, Clone, Default)]
pub(crate) struct Health {
    inner: Arc<Mutex<HealthState>>,
}

#[derive(Debug, Default)]
struct HealthState {
    /// Since when the connection is down (ms), while it is.
    disconnected_ms: Option<i64>,
    /// The last publish's failure, until one succeeds.
    publish_error: Option<String>,
    /// When the connection was last made again after it was lost (ms).
    reconnected_ms: Option<i64>,
    /// Connections made (the first, and every reconnection).
    connections: u64,
}

impl Health {
    fn record(&self, event: &Event, servers: &str) {
        match event {
            Event::Connected => {
                tracing::info!("connected to NATS at {servers}");
                if let Ok(mut s) = self.inner.lock() {
                    // The first connection is not a reconnection.
                    if s.connections > 0 {
                        s.reconnected_ms = Some(now_ms());
                    }
                    s.connections += 1;
                }
                self.connected();
            }
            Event::Disconnected => {
                tracing::warn!("disconnected from NATS at {servers}; reconnecting");
                if let Ok(mut s) = self.inner.lock() {
                    s.disconnected_ms.get_or_insert_with(now_ms);
                }
            }
            Event::Closed => {
                if let Ok(mut s) = self.inner.lock() {
                    s.disconnected_ms.get_or_insert_with(now_ms);
                }
            }
            other => tracing::warn!("NATS: {other}"),
        }
    }

    fn connected(&self) {
        if let Ok(mut s) = self.inner.lock() {
            s.disconnected_ms = None;
        }
    }

    /// Records how the last publish ended.
    pub(crate) fn published(&self, error: Option<&str>) {
        if let Ok(mut s) = self.inner.lock() {
            s.publish_error = error.map(str::to_string);
        }
    }

    /// Since when the connection is down (ms), while it is.
    pub(crate) fn disconnected_ms(&self) -> Option<i64> {
        self.inner.lock().ok().and_then(|s| s.disconnected_ms)
    }

    /// When the connection was last made again after it was lost (ms), if it was.
    pub(crate) fn reconnected_ms(&self) -> Option<i64> {
        self.inner.lock().ok().and_then(|s| s.reconnected_ms)
    }

    /// The last publish's failure, until one succeeds.
    pub(crate) fn publish_error(&self) -> Option<String> {
        self.inner.lock().ok().and_then(|s| s.publish_error.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_errors_never_show_a_secret() {
        let mut o = NatsOptions::new("nats://svc:hunter2@10.0.0.5:4222, nats://10.0.0.6:4222");
        assert_eq!(
            o.servers_shown(),
            "nats://***@10.0.0.5:4222,nats://10.0.0.6:4222"
        );
        o.password = Some(Secret::new("s3cret"));
        o.user = Some("lorafield".into());
        assert_eq!(
            o.redact("auth failed for svc:hunter2 with s3cret"),
            "auth failed for *** with ***"
        );
        // A user without a password is a token: hidden too.
        o.password = None;
        o.user = Some("tok-123".into());
        assert_eq!(o.redact("bad token tok-123"), "bad token ***");
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-123"),
            "{shown}"
        );
    }

    #[test]
    fn credentials_in_urls_are_taken_out_of_them() {
        let (urls, creds) =
            split_credentials("nats://svc:p%40ss@10.0.0.5:4222, tls://10.0.0.6:4222,10.0.0.7");
        assert_eq!(
            urls,
            ["nats://10.0.0.5:4222", "tls://10.0.0.6:4222", "10.0.0.7"]
        );
        assert_eq!(creds, Some(("svc".into(), Some("p@ss".into()))));
        let (urls, creds) = split_credentials("nats://s3cr3t-token@h:1");
        assert_eq!(
            (urls[0].as_str(), creds),
            ("nats://h:1", Some(("s3cr3t-token".into(), None)))
        );
        assert_eq!(split_credentials("nats://h:1").1, None);
        assert_eq!(percent_decode("a%2Fb%zz%"), "a/b%zz%");
    }

    #[tokio::test]
    async fn options_that_cannot_work_are_refused_before_connecting() {
        let health = Health::default();
        let mut o = NatsOptions::new("nats://127.0.0.1:1");
        o.password = Some(Secret::new("p"));
        let e = o.connect(&health).await.unwrap_err();
        assert_eq!(e.kind(), QueueErrorKind::Settings);
        assert!(e.to_string().contains("--password needs --user"), "{e}");
        let mut o = NatsOptions::new("nats://127.0.0.1:1");
        o.tls_cert = Some("cert.pem".into());
        let e = o.connect(&health).await.unwrap_err();
        assert!(e.to_string().contains("--tlscert and --tlskey"), "{e}");
        let mut o = NatsOptions::new("nats://127.0.0.1:1");
        o.nkey = Some("/nonexistent/seed.nk".into());
        let e = o.connect(&health).await.unwrap_err();
        assert!(e.to_string().contains("reading the nkey file"), "{e}");
    }
}
