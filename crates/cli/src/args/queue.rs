//! Where records wait for delivery: the SQLite outbox (default) or NATS JetStream
//! (`--queue nats://...`). The options `serve`, `forward`, `ingest-mqtt` and `outbox` share.
//!
//! The connection options are named as the `nats` tool names them (`--creds`, `--nkey`,
//! `--tlscert`, `--tlskey`, `--tlsca`, `--tlsfirst`) and read the same environment variables
//! (`NATS_CREDS`, ...); user and password are `--nats-user` and `--nats-password`
//! (`NATS_USER`, `NATS_PASSWORD`), since `--username` and `--password` are Microshare's.
//! Without `--queue` they are not read (variables set for the `nats` tool do not matter). The
//! options are global, so that `lorafield outbox status --queue ...` takes them after its
//! action too.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use lorafield_microshare::Secret;
use lorafield_microshare::queue::jetstream::{NatsOptions, StreamSettings};

/// NATS JetStream as the queue, and how to reach it.
#[derive(Args, Clone, Debug)]
pub(crate) struct QueueArgs {
    /// Use NATS JetStream as the queue instead of the SQLite outbox: the servers,
    /// nats://HOST:PORT (tls://HOST:PORT for TLS), comma-separated for a cluster.
    #[arg(long, value_name = "URL", global = true)]
    pub(crate) queue: Option<String>,
    /// NATS user (alone, a token).
    #[arg(
        long,
        env = "NATS_USER",
        hide_env_values = true,
        value_name = "USER",
        global = true
    )]
    nats_user: Option<String>,
    /// NATS password.
    #[arg(
        long,
        env = "NATS_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD",
        global = true
    )]
    nats_password: Option<String>,
    /// NATS credentials file (a user JWT and its NKey seed).
    #[arg(
        long,
        env = "NATS_CREDS",
        hide_env_values = true,
        value_name = "FILE",
        global = true
    )]
    creds: Option<PathBuf>,
    /// A file holding a NATS user NKey seed.
    #[arg(
        long,
        env = "NATS_NKEY",
        hide_env_values = true,
        value_name = "FILE",
        global = true
    )]
    nkey: Option<PathBuf>,
    /// Client certificate for the NATS connection (PEM), with --tlskey.
    #[arg(
        long,
        env = "NATS_CERT",
        hide_env_values = true,
        value_name = "FILE",
        global = true
    )]
    tlscert: Option<PathBuf>,
    /// Private key of --tlscert (PEM).
    #[arg(
        long,
        env = "NATS_KEY",
        hide_env_values = true,
        value_name = "FILE",
        global = true
    )]
    tlskey: Option<PathBuf>,
    /// Certificate authorities to trust for the NATS servers (PEM), instead of the system's.
    #[arg(
        long,
        env = "NATS_CA",
        hide_env_values = true,
        value_name = "FILE",
        global = true
    )]
    tlsca: Option<PathBuf>,
    /// Start TLS before the NATS server's greeting (servers with handshake_first).
    #[arg(long, global = true)]
    tlsfirst: bool,
    /// How long to wait for NATS: a connection, an answer, a publish's acknowledgement.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration, global = true)]
    nats_timeout: Duration,
    /// The work-queue stream's name.
    #[arg(long, value_name = "NAME", default_value = "LORAFIELD", global = true)]
    stream: String,
    /// Its subject (records are published there).
    #[arg(
        long,
        value_name = "SUBJECT",
        default_value = "lorafield.records",
        global = true
    )]
    stream_subject: String,
    /// Replicas of the streams: 1, or 3 on a cluster of three servers.
    #[arg(long, value_name = "N", default_value_t = 1, global = true)]
    stream_replicas: usize,
    /// How long the stream keeps a record at most; must exceed the dead-letter age.
    #[arg(long, value_name = "DURATION", default_value = "14d", value_parser = duration, global = true)]
    stream_max_age: Duration,
    /// How long the server remembers a record key to drop a duplicate (a webhook retried,
    /// two ingest-mqtt on the same topics).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = duration, global = true)]
    duplicate_window: Duration,
    /// The dead-letter stream's name.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "LORAFIELD_DEAD",
        global = true
    )]
    dead_stream: String,
    /// Its subject.
    #[arg(
        long,
        value_name = "SUBJECT",
        default_value = "lorafield.dead",
        global = true
    )]
    dead_subject: String,
}

impl QueueArgs {
    /// The NATS options, when `--queue` is given; `name` names the connection.
    pub(crate) fn nats(&self, name: &str) -> Result<Option<NatsOptions>> {
        let Some(servers) = &self.queue else {
            return Ok(None);
        };
        if !servers.split(',').all(|s| {
            ["nats://", "tls://"]
                .iter()
                .any(|p| s.trim().starts_with(p))
        }) {
            bail!(
                "--queue takes nats://HOST:PORT or tls://HOST:PORT (comma-separated), not {}",
                NatsOptions::new(servers.clone()).servers_shown()
            );
        }
        Ok(Some(NatsOptions {
            user: self.nats_user.clone(),
            password: self.nats_password.clone().map(Secret::new),
            creds: self.creds.clone(),
            nkey: self.nkey.clone(),
            tls_cert: self.tlscert.clone(),
            tls_key: self.tlskey.clone(),
            tls_ca: self.tlsca.clone(),
            tls_first: self.tlsfirst,
            timeout: self.nats_timeout,
            name: name.to_string(),
            ..NatsOptions::new(servers.clone())
        }))
    }

    /// The streams' settings.
    pub(crate) fn streams(&self) -> Result<StreamSettings> {
        if self.stream_replicas == 0 || self.stream_replicas > 5 {
            bail!("--stream-replicas must be 1 to 5 (JetStream's range)");
        }
        Ok(StreamSettings {
            stream: self.stream.clone(),
            subject: self.stream_subject.clone(),
            replicas: self.stream_replicas,
            max_age: self.stream_max_age,
            duplicate_window: self.duplicate_window,
            dead_stream: self.dead_stream.clone(),
            dead_subject: self.dead_subject.clone(),
        })
    }
}

/// A duration: a number and a unit (`250ms`, `30s`, `2m`, `12h`, `14d`), units combined from
/// the largest (`1h30m`), or a number of seconds.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(&str, f64); 5] = [
        ("ms", 0.001),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3_600.0),
        ("d", 86_400.0),
    ];
    let bad = || format!("{text:?} is not a duration (such as 250ms, 30s, 2m, 12h, 14d, 1h30m)");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    let mut rest = text;
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = UNITS
            .iter()
            .find(|(u, _)| *u == &rest[..unit_len])
            .map(|(_, f)| *f)
            .ok_or_else(bad)?;
        total += number * factor;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_combinations() {
        let d = |t| duration(t).unwrap();
        assert_eq!(d("250ms"), Duration::from_millis(250));
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("2m"), Duration::from_secs(120));
        assert_eq!(d("14d"), Duration::from_secs(14 * 86_400));
        assert_eq!(d("1h30m"), Duration::from_secs(5_400));
        assert_eq!(d("90"), Duration::from_secs(90));
        assert_eq!(d("1.5s"), Duration::from_millis(1_500));
        for bad in ["", "m", "5x", "-3s", "1h30", "s5"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert!(duration("5 weeks").unwrap_err().contains("not a duration"));
    }
}
