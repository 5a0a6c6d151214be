//! `lorafield serve`: the webhook bridge to Microshare.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use lorafield::{Options, Registry};

use crate::args::delivery::DeliveryArgs;
use crate::args::microshare::MicroshareArgs;
use crate::args::queue::QueueArgs;
use crate::args::scripts::ScriptArgs;
use crate::logs::init_logs;

/// The webhook bridge: The Things Stack (or TTN v2, or ChirpStack) posts uplinks here; each is
/// decoded, committed to the durable outbox, answered 202, and delivered to Microshare's
/// POST /share/{recType} at least once.
///
/// POST /uplink takes a TTS v3 webhook body, a TTN v2 HTTP integration body or a ChirpStack v4
/// ?event=up body. It answers 202 {"key":"lfk-...","outbox_id":N,"decoded":true} once the
/// record (the same envelope with its decoded payload and "lorafield" stamp) is on disk. An
/// uplink whose payload does not decode is still forwarded, with the errors in its stamp. Each
/// record is posted with the tag lfk-<16 hex digits>, a hash of DevEUI, f_cnt, received_at and
/// payload.
///
/// Fitting The Things Stack, which retries any answer but 2xx: a join-accept, a downlink event
/// or another message that is not an uplink, and an uplink on port 0 (MAC commands), get 200
/// {"ignored":"<kind>"} and are not forwarded (ChirpStack's ?event=join, ack, txack, status,
/// log, location, integration too); an uplink whose key the outbox holds already (a webhook
/// retried) gets 200 {"key":..,"duplicate":true} and is not stored twice; the outbox remembers
/// delivered keys for --keep-delivered-hours (a week), or until `lorafield outbox
/// purge-delivered`. 400 is for bodies that are not JSON or not any known event, 401 for a
/// missing or wrong --secret, 413 past --body-limit.
///
/// Beyond loopback (--listen 0.0.0.0:8080, a LAN address), serve refuses to start without
/// --secret, unless --allow-unauthenticated is given (then it warns at every start).
/// --tls-cert and --tls-key serve HTTPS, so that The Things Stack can post to it without a
/// proxy. One serve per outbox directory: a second one is refused (the `lorafield outbox`
/// commands work beside it).
///
/// Delivery: an adaptive number of requests in flight, exponential backoff with full jitter
/// (from 0.5 s doubling to 5 min), Retry-After honoured; transport errors, 408, 425, 429 and
/// 5xx are retried, other 4xx are not; after --max-attempts or --max-age a record goes to the
/// dead-letter table (see `lorafield outbox dead`). A revoked pipe token (401) stops delivery:
/// uplinks are still taken into the outbox and /healthz says why.
///
/// The limit on requests in flight starts at 8 and follows what Microshare sustains: it rises
/// while round trips stay near their baseline and every slot is in use (by half each round trip
/// at first, then by 1), and falls to 0.9 of itself on a 429, a 503, a timeout, or round trips
/// rising past 1.5 times their baseline, at most once per round trip; other failures leave it
/// as it is. --concurrency is its ceiling (512); --adaptive off keeps it fixed at --concurrency
/// (8 unless given). Connections are kept alive and pooled up to the ceiling.
///
/// No avoidable duplicates: when an attempt may have stored a record without an answer saying
/// so (a timeout, a connection cut after sending, a lease that ran out after a crash), the
/// record is looked up by its tag before it is posted again, with password credentials: found
/// means delivered. A pipe token cannot ask: such records are posted again and counted
/// (lorafield_delivery_unknown_outcomes_total), each a possible duplicate.
///
/// When the outbox keeps growing for a minute, serve warns once, with the arrival rate, the
/// delivery rate and the limit, and /healthz's delivery check says the same, degraded, until
/// the backlog falls back.
///
/// Past one machine, --queue nats://HOST:PORT (NATS JetStream): serve keeps no outbox and
/// delivers nothing (no Microshare credentials needed); each uplink is published to the stream
/// with Nats-Msg-Id = its key and answered 202 {"key":..,"stream_seq":N,"decoded":..} after the
/// server's acknowledgement; the same key within --duplicate-window is answered 200
/// {"key":..,"duplicate":true}; while the server cannot be reached or does not acknowledge
/// within --nats-timeout, 503, and /healthz's queue check (down) says why. Any number of serve
/// --queue may share the stream behind a load balancer; `lorafield forward` delivers. The NATS
/// options are named as the nats tool names them (see --help).
///
/// GET /healthz: {"status":"ok"|"degraded"|"down","checks":{"outbox":{"ok":..,"detail":..},
/// "delivery":{..}}}, 200 while uplinks are accepted (ok or degraded: delivery failing for
/// more than a minute, or stopped), 503 when not (down: the outbox cannot be written). GET
/// /metrics: Prometheus text (received, rejected, ignored by kind, duplicates, decoded, decode
/// failures, enqueued, delivered, retried, dead, look-ups found and absent, unknown outcomes,
/// outbox depth and oldest age, the concurrency limit, its ceiling, the requests in flight, the
/// round-trip baseline, the arrival and delivery rates). SIGTERM or
/// Ctrl-C: stop accepting, answer what is in flight, finish the deliveries in flight, exit.
///
/// Logs go to standard error; LORAFIELD_LOG sets what they show (an env-filter: error, warn,
/// info by default, debug; or per part: lorafield_microshare=debug). Refused webhooks and
/// failed deliveries are logged at warn, at most one line per kind per 10 s, the next line
/// saying how many were held back. Secrets are never logged.
#[derive(Args)]
#[command(after_help = SERVE_EXAMPLES)]
pub(crate) struct ServeArgs {
    /// Where to listen. Beyond loopback it needs --secret (or --allow-unauthenticated).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// The Microshare recType records are posted to (a rule's forward_to overrides it).
    #[arg(long, value_name = "RECTYPE")]
    rec_type: String,
    /// The outbox directory (created if need be).
    #[arg(long, value_name = "DIR", default_value = "lorafield-outbox")]
    outbox: PathBuf,
    /// The selection rules (default: lorafield.toml in the current directory, if any).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A shared secret the webhook must send in --secret-header (compared in constant time).
    /// In The Things Stack: the webhook's additional header of that name.
    #[arg(
        long,
        env = "LORAFIELD_WEBHOOK_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    secret: Option<String>,
    /// The header that carries --secret.
    #[arg(long, value_name = "NAME", default_value = "x-lorafield-secret")]
    secret_header: String,
    /// Listen beyond loopback without --secret: anyone who reaches the port can post records.
    /// For a network that is yours alone; serve warns at every start.
    #[arg(long)]
    allow_unauthenticated: bool,
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The largest body taken, in bytes; larger ones are answered 413.
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024)]
    body_limit: usize,
    #[command(flatten)]
    delivery: DeliveryArgs,
    #[command(flatten)]
    queue: QueueArgs,
    #[command(flatten)]
    microshare: MicroshareArgs,
    #[command(flatten)]
    scripts: ScriptArgs,
}

pub(crate) const SERVE_EXAMPLES: &str = "\
Examples:
  # On a network: a webhook secret (the webhook sends it in x-lorafield-secret)
  export LORAFIELD_PIPE_TOKEN=...
  lorafield serve --rec-type io.example.decoded --listen 0.0.0.0:8080 \\
      --secret \"$HOOK_SECRET\"
  # HTTPS without a proxy
  lorafield serve --rec-type io.example.decoded --listen 0.0.0.0:8443 \\
      --secret \"$HOOK_SECRET\" --tls-cert cert.pem --tls-key key.pem
  # Past one machine: into NATS JetStream; lorafield forward delivers
  lorafield serve --rec-type io.example.decoded --listen 0.0.0.0:8080 \\
      --secret \"$HOOK_SECRET\" --queue nats://10.0.0.5:4222,nats://10.0.0.6:4222
  # On one machine, against the simulator
  lorafield microshare-sim --listen 127.0.0.1:9000 &
  lorafield serve --rec-type io.example.decoded \\
      --microshare-url http://127.0.0.1:9000 \\
      --username user@example.org --password secret --api-key apikey";

/// What `serve` runs with, checked: everything but the things it opens and binds.
struct Prepared {
    options: lorafield_cli::serve::ServeOptions,
    selection: lorafield::Selection,
    /// Microshare's client: none with a JetStream queue (forward delivers).
    client: Option<lorafield_microshare::client::Client>,
}

/// Checks the arguments and builds the options, before anything is opened or bound: a
/// listen address beyond loopback without a secret is refused here.
fn prepare(args: ServeArgs) -> Result<Prepared> {
    use lorafield_cli::serve::{JetStreamOptions, ServeOptions, TlsFiles, exposure};
    exposure(
        args.listen,
        args.secret.is_some(),
        args.allow_unauthenticated,
    )?;
    let registry = Registry::builtin();
    let selection = lorafield_cli::config::load(
        &registry,
        &lorafield_cli::config::Request {
            config: args.config.as_deref(),
            options: Options::default(),
            env: args.scripts.environment(),
            ..lorafield_cli::config::Request::default()
        },
    )?;
    let worker = args.delivery.worker()?;
    let queue = match args.queue.nats("lorafield serve")? {
        Some(nats) => Some(JetStreamOptions {
            nats,
            streams: args.queue.streams()?,
        }),
        None => None,
    };
    let client = match queue {
        // The records carry their recType; forward has the credentials.
        Some(_) => None,
        None => Some(args.delivery.client(&args.microshare)?),
    };
    let secret = match args.secret {
        Some(s) if s.is_empty() => bail!("--secret is empty"),
        Some(s) => Some((
            args.secret_header
                .parse::<axum::http::HeaderName>()
                .with_context(|| format!("--secret-header {:?}", args.secret_header))?,
            lorafield_microshare::Secret::new(s),
        )),
        None => None,
    };
    let mut options = ServeOptions::new(args.listen, &args.rec_type, args.outbox);
    options.secret = secret;
    options.allow_unauthenticated = args.allow_unauthenticated;
    options.tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    options.body_limit = args.body_limit;
    options.worker = worker;
    options.keep_delivered = args.delivery.keep_delivered()?;
    options.queue = queue;
    Ok(Prepared {
        options,
        selection,
        client,
    })
}

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode> {
    use lorafield_cli::serve::{serve, shutdown_signal};
    init_logs();
    let Prepared {
        options,
        selection,
        client,
    } = prepare(args)?;
    let rules = super::counted(selection.rules() as u64, "selection rule");
    match &client {
        Some(client) => {
            let endpoints = client.endpoints();
            tracing::info!(
                "forwarding to Microshare at {} (tokens from {}) with {}, as recType {} ({rules})",
                endpoints.api,
                endpoints.auth,
                client.sign_in(),
                options.rec_type,
            );
        }
        None => tracing::info!(
            "enqueueing to JetStream as recType {} ({rules}); lorafield forward delivers",
            options.rec_type
        ),
    }
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        // The signal handlers first: a SIGTERM right after the listening line stops cleanly.
        let shutdown = shutdown_signal();
        serve(
            options,
            selection,
            client.map(std::sync::Arc::new),
            shutdown,
            |addr| eprintln!("lorafield serve: listening on {scheme}://{addr}"),
        )
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
pub(crate) mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::{Cli, Command};

    /// The commands of an examples text, as a shell would run them: continued lines joined,
    /// comments skipped, `export NAME=value` and `NAME=value` prefixes turned into the flag
    /// that reads NAME, a trailing `&` dropped, words split at spaces outside double quotes.
    pub(crate) fn example_commands(text: &str) -> Vec<Vec<String>> {
        let mut joined = Vec::new();
        let mut current = String::new();
        for line in text.lines().skip(1) {
            let line = line.trim();
            match line.strip_suffix('\\') {
                Some(start) => current.push_str(start),
                None => {
                    current.push_str(line);
                    joined.push(std::mem::take(&mut current));
                }
            }
        }
        let app = Cli::command();
        let flag_of = |subcommand: &str, env: &str| -> Option<String> {
            let sub = app.find_subcommand(subcommand).unwrap();
            let arg = sub
                .get_arguments()
                .find(|a| a.get_env().is_some_and(|e| e == env))?;
            Some(format!("--{}", arg.get_long().unwrap()))
        };
        let mut exported: Vec<(String, String)> = Vec::new();
        let mut commands = Vec::new();
        for line in joined.iter().filter(|l| !l.starts_with('#')) {
            let mut words: Vec<String> = Vec::new();
            let mut word = String::new();
            let mut quoted = false;
            for c in line.trim_end_matches('&').trim().chars() {
                match c {
                    '"' => quoted = !quoted,
                    ' ' if !quoted => {
                        if !word.is_empty() {
                            words.push(std::mem::take(&mut word));
                        }
                    }
                    c => word.push(c),
                }
            }
            words.push(word);
            if words[0] == "export" {
                for w in &words[1..] {
                    let (name, value) = w.split_once('=').unwrap();
                    exported.push((name.into(), value.into()));
                }
                continue;
            }
            let mut prefixed = Vec::new();
            while let Some((name, value)) = words[0].split_once('=') {
                prefixed.push((name.to_string(), value.to_string()));
                words.remove(0);
            }
            assert_eq!(words[0], "lorafield", "{line}");
            // An exported variable is read by the commands that read it; one given as a
            // prefix must be read by its command.
            for (name, value) in exported.iter().cloned() {
                if let Some(flag) = flag_of(&words[1], &name) {
                    words.extend([flag, value]);
                }
            }
            for (name, value) in prefixed {
                let flag = flag_of(&words[1], &name)
                    .unwrap_or_else(|| panic!("no flag of {} reads {name}", words[1]));
                words.extend([flag, value]);
            }
            commands.push(words);
        }
        commands
    }

    #[test]
    fn every_serve_example_passes_the_checks_serve_makes_before_it_binds() {
        let commands = example_commands(SERVE_EXAMPLES);
        assert!(commands.len() >= 4, "{commands:?}");
        let mut serves = 0;
        let mut beyond_loopback = 0;
        for words in commands {
            let cli =
                Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("{}: {e}", words.join(" ")));
            if let Command::Serve(args) = cli.command {
                serves += 1;
                let prepared =
                    prepare(*args).unwrap_or_else(|e| panic!("{}: {e:#}", words.join(" ")));
                if !prepared.options.listen.ip().is_loopback() {
                    beyond_loopback += 1;
                    assert!(prepared.options.secret.is_some(), "{}", words.join(" "));
                }
            }
        }
        assert_eq!((serves, beyond_loopback), (4, 3));
    }

    #[test]
    fn beyond_loopback_without_a_secret_is_refused_before_anything_is_opened() {
        let parse = |extra: &[&str]| {
            let mut words = vec![
                "lorafield",
                "serve",
                "--rec-type",
                "r",
                "--pipe-token",
                "t",
                "--listen",
                "0.0.0.0:8080",
            ];
            words.extend(extra);
            match Cli::try_parse_from(words).unwrap().command {
                Command::Serve(args) => prepare(*args),
                _ => unreachable!(),
            }
        };
        let e = parse(&[]).err().unwrap().to_string();
        assert!(
            e.contains("--secret") && e.contains("--allow-unauthenticated"),
            "{e}"
        );
        assert!(parse(&["--secret", "s"]).is_ok());
        let open = parse(&["--allow-unauthenticated"]).ok().unwrap();
        assert!(open.options.allow_unauthenticated && open.options.secret.is_none());
    }

    #[test]
    fn concurrency_is_a_ceiling_adaptive_and_a_fixed_limit_off() {
        let worker = |extra: &[&str]| {
            let words = ["lorafield", "serve", "--rec-type", "r", "--pipe-token", "t"];
            match Cli::try_parse_from(words.iter().chain(extra)).map(|c| c.command) {
                Ok(Command::Serve(args)) => prepare(*args).map(|p| p.options.worker),
                Ok(_) => unreachable!(),
                Err(e) => Err(e.into()),
            }
        };
        let w = worker(&[]).unwrap();
        assert_eq!(
            (w.concurrency, w.adaptive.map(|a| a.initial)),
            (512, Some(8))
        );
        let w = worker(&["--concurrency", "64"]).unwrap();
        assert_eq!((w.concurrency, w.adaptive.is_some()), (64, true));
        let w = worker(&["--adaptive", "off"]).unwrap();
        assert_eq!((w.concurrency, w.adaptive.is_some()), (8, false));
        let w = worker(&["--adaptive", "off", "--concurrency", "32"]).unwrap();
        assert_eq!((w.concurrency, w.adaptive.is_some()), (32, false));
        assert!(worker(&["--concurrency", "0"]).is_err());
        assert!(worker(&["--adaptive", "maybe"]).is_err());
    }

    #[test]
    fn tls_takes_a_certificate_and_its_key_together() {
        let base = ["lorafield", "serve", "--rec-type", "r", "--pipe-token", "t"];
        let with = |extra: &[&str]| {
            Cli::try_parse_from(base.iter().chain(extra)).map(|c| match c.command {
                Command::Serve(args) => prepare(*args).unwrap().options.tls,
                _ => unreachable!(),
            })
        };
        assert!(with(&["--tls-cert", "c.pem"]).is_err());
        assert!(with(&["--tls-key", "k.pem"]).is_err());
        let tls = with(&["--tls-cert", "c.pem", "--tls-key", "k.pem"])
            .unwrap()
            .unwrap();
        assert_eq!(
            (tls.cert.to_str(), tls.key.to_str()),
            (Some("c.pem"), Some("k.pem"))
        );
        assert!(with(&[]).unwrap().is_none());
    }
}
