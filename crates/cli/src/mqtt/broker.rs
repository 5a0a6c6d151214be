//! Where the broker is and how to reach it: the `mqtt://` or `mqtts://` URL, TLS with the
//! system's certificate authorities or a CA file, and the client's options.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lorafield_microshare::Secret;
use rumqttc::{MqttOptions, TlsConfiguration, Transport};

/// A broker's address, from `mqtt://HOST[:PORT]` (plain, port 1883 by default) or
/// `mqtts://HOST[:PORT]` (TLS, 8883).
///
/// ```
/// use lorafield_cli::mqtt::Broker;
///
/// let b: Broker = "mqtts://eu1.cloud.thethings.network".parse().unwrap();
/// assert_eq!((b.tls, b.host.as_str(), b.port), (true, "eu1.cloud.thethings.network", 8883));
/// assert_eq!(b.to_string(), "mqtts://eu1.cloud.thethings.network:8883");
/// assert!("mqtt://user:key@host".parse::<Broker>().is_err(), "no credentials in URLs");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// Whether the connection is TLS (`mqtts://`).
    pub tls: bool,
    /// Its host name or address (an IPv6 address in brackets).
    pub host: String,
    /// Its port.
    pub port: u16,
}

/// A broker URL that cannot be used; the text says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBroker(String);

impl fmt::Display for BadBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadBroker {}

impl FromStr for Broker {
    type Err = BadBroker;

    fn from_str(url: &str) -> Result<Broker, BadBroker> {
        let bad = |why: &str| Err(BadBroker(format!("broker {url:?}: {why}")));
        let (tls, rest) = match url.split_once("://") {
            Some(("mqtt" | "tcp", rest)) => (false, rest),
            Some(("mqtts" | "ssl", rest)) => (true, rest),
            _ => return bad("give mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('@') {
            // A URL is printed in logs and process lists: credentials stay out of it, and out
            // of this message.
            return Err(BadBroker(
                "the broker URL holds credentials, which do not go in the URL: give \
                 --mqtt-username, and the password in LORAFIELD_MQTT_PASSWORD (or --mqtt-password)"
                    .into(),
            ));
        }
        if rest.contains(['/', '?', '#']) {
            return bad("a broker URL has no path or query: topics go in --topic");
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match rest.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((addr, "")) => (format!("[{addr}]"), None),
                Some((addr, port)) => match port.strip_prefix(':') {
                    Some(port) => (format!("[{addr}]"), Some(port)),
                    None => return bad("an IPv6 address is written [ADDR]:PORT"),
                },
                None => return bad("an IPv6 address is written [ADDR]:PORT"),
            },
            None => match rest.split_once(':') {
                Some((host, port)) => (host.to_string(), Some(port)),
                None => (rest.to_string(), None),
            },
        };
        if host.is_empty() || host == "[]" {
            return bad("no host");
        }
        let port = match port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return bad("the port is a number from 1 to 65535"),
            },
        };
        Ok(Broker { tls, host, port })
    }
}

impl fmt::Display for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// TLS settings for `mqtts://`: the certificate authorities in `ca_file` (PEM; they replace
/// the system's), or else the system's (as the operating system keeps them). Uses ring.
pub fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("reading the CA file {}", path.display()))?;
            if certs.is_empty() {
                bail!("the CA file {} holds no PEM certificate", path.display());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .with_context(|| format!("a certificate of {}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                bail!(
                    "no certificate authorities found on this system{}: give --ca-file",
                    match errors.is_empty() {
                        true => String::new(),
                        false => format!(" ({})", errors.join("; ")),
                    }
                );
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS settings")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// How the client connects: who it is, how it signs in, how large a message may be.
pub(crate) struct Connect<'a> {
    /// The broker.
    pub(crate) broker: &'a Broker,
    /// The client id (unique per connection: a broker drops an older one with the same id).
    pub(crate) client_id: &'a str,
    /// The user name, and the password if any (The Things Stack: `{application id}@{tenant
    /// id}` and an API key).
    pub(crate) username: Option<&'a str>,
    /// The password.
    pub(crate) password: Option<&'a Secret>,
    /// TLS settings, for `mqtts://`.
    pub(crate) tls: Option<rustls::ClientConfig>,
    /// The largest message taken, in bytes (its topic and payload); a larger one ends the
    /// connection.
    pub(crate) max_message_size: usize,
    /// The keep-alive interval.
    pub(crate) keep_alive: Duration,
}

impl Connect<'_> {
    /// The client's options (MQTT 3.1.1, a clean session: subscriptions are made again on
    /// every connection).
    pub(crate) fn options(self) -> MqttOptions {
        let mut o = MqttOptions::new(self.client_id, &self.broker.host, self.broker.port);
        o.set_clean_session(true)
            .set_keep_alive(self.keep_alive)
            .set_max_packet_size(self.max_message_size, 64 * 1024);
        if let Some(user) = self.username {
            o.set_credentials(user, self.password.map_or("", |p| p.expose()));
        }
        if let Some(tls) = self.tls {
            o.set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::new(tls))));
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_read_as_written_and_bad_ones_say_why() {
        let ok = |url: &str| url.parse::<Broker>().unwrap();
        assert_eq!(
            ok("mqtt://127.0.0.1:18830"),
            Broker {
                tls: false,
                host: "127.0.0.1".into(),
                port: 18830
            }
        );
        assert_eq!(ok("mqtt://broker.local").port, 1883);
        assert_eq!(ok("mqtts://broker.local/").port, 8883);
        assert_eq!(ok("ssl://h:1").to_string(), "mqtts://h:1");
        assert_eq!(ok("tcp://h").to_string(), "mqtt://h:1883");
        let v6 = ok("mqtt://[::1]:1884");
        assert_eq!((v6.host.as_str(), v6.port), ("[::1]", 1884));
        assert_eq!(ok("mqtts://[::1]").to_string(), "mqtts://[::1]:8883");
        for (url, says) in [
            ("http://h", "mqtt://HOST"),
            ("h:1883", "mqtt://HOST"),
            ("mqtt://app@ttn:NNSXS.KEY@h", "do not go in the URL"),
            ("mqtt://h/v3/+/devices/+/up", "--topic"),
            ("mqtt://h:0", "1 to 65535"),
            ("mqtt://h:99999", "1 to 65535"),
            ("mqtt://h:x", "1 to 65535"),
            ("mqtt://", "no host"),
            ("mqtt://:1883", "no host"),
            ("mqtt://[::1", "[ADDR]:PORT"),
            ("mqtt://[::1]1883", "[ADDR]:PORT"),
        ] {
            let e = url.parse::<Broker>().unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
            assert!(!e.contains("NNSXS.KEY"), "a secret in {e}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = tls_config(Some(&empty)).unwrap_err().to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let missing = dir.path().join("missing.pem");
        let e = format!("{:#}", tls_config(Some(&missing)).unwrap_err());
        assert!(e.contains("missing.pem"), "{e}");
    }
}
