//! `lorafield ingest-mqtt`: uplinks from The Things Stack's MQTT server or ChirpStack's MQTT
//! integration, with no public endpoint.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use lorafield::{Options, Registry};
use lorafield_cli::mqtt::{Broker, IngestOptions};

use crate::args::delivery::DeliveryArgs;
use crate::args::microshare::MicroshareArgs;
use crate::args::queue::QueueArgs;
use crate::args::scripts::ScriptArgs;
use crate::logs::init_logs;

/// Uplinks from an MQTT broker: subscribes to The Things Stack's uplink topics
/// (v3/{application id}@{tenant id}/devices/{device id}/up) or ChirpStack's
/// (application/{application id}/device/{dev eui}/event/up), decodes each message as `serve`
/// decodes a webhook (the same envelopes, lorafield.toml rules, scripts and stamp), stores it
/// in the outbox, and delivers the outbox to Microshare as `serve` does. Nothing listens for
/// The Things Stack: no public endpoint is needed.
///
/// Delivery is serve's: an adaptive limit on requests in flight up to --concurrency (or a fixed
/// one with --adaptive off), backoff, dead letters after --max-attempts or --max-age-hours, a
/// look-up by tag before posting again what an attempt may have stored (see `serve --help`).
///
/// MQTT 3.1.1 with a clean session; the subscriptions are made again on every connection. A
/// lost connection is tried again with backoff (0.5 s doubling to 30 s, half of it random).
/// The Things Stack publishes at QoS 0: what it publishes while this client is not connected
/// is lost to it (its Storage Integration keeps uplinks to fetch later). For redundancy, run
/// two or more on the same topics with the same --outbox directory (on one machine, each with
/// its own --listen): the outbox's key index stores each uplink once, and their delivery
/// workers lease each record to one of them.
///
/// With --queue nats://HOST:PORT (NATS JetStream, see `lorafield forward`), uplinks are
/// published to the stream instead (no outbox, no delivery here, no Microshare credentials):
/// ingesters on any machines may share the topics, the stream's duplicate window
/// (--duplicate-window) storing each uplink once, and forwards deliver. Refused messages are
/// kept in ./mqtt-rejected.jsonl unless --rejected says otherwise.
///
/// Messages that are not uplinks (joins, downlink events, port-0 uplinks; ChirpStack's events
/// other than up, told by the topic's last level) are ignored and counted by kind. A message
/// that cannot be taken (not UTF-8, not JSON, not an uplink, an event ChirpStack does not
/// send, or the outbox failing) is counted by reason, logged at warn, and kept with its topic
/// in --rejected (JSON Lines). An uplink whose payload does not decode is stored and
/// forwarded all the same, with the errors in its stamp.
///
/// mqtts:// checks the broker's certificate against the system's certificate authorities, or
/// those of --ca-file. The password (an API key for The Things Stack) is best given in
/// LORAFIELD_MQTT_PASSWORD; it never reaches a log.
///
/// GET /healthz (on --listen, loopback by default): {"status":..,"checks":{"mqtt":..,
/// "outbox":..,"delivery":..}}, 503 while not connected and subscribed, or when the outbox
/// cannot be written. GET /metrics: messages, uplinks decoded, stored, duplicates dropped,
/// ignored by kind, refused by reason, connections, reconnects, connection errors,
/// deliveries, outbox depth. SIGTERM or Ctrl-C: disconnect, store the messages in hand,
/// finish the deliveries in flight, exit. Logs go to standard error; LORAFIELD_LOG sets what
/// they show (info by default).
#[derive(Args)]
#[command(after_help = INGEST_MQTT_EXAMPLES)]
pub(crate) struct IngestMqttArgs {
    /// The broker: mqtt://HOST[:PORT] (port 1883 by default) or mqtts://HOST[:PORT] (TLS, 8883).
    #[arg(long, value_name = "URL")]
    broker: Broker,
    /// A topic filter to subscribe to; repeat it for more. The Things Stack:
    /// v3/{application id}@{tenant id}/devices/+/up; ChirpStack:
    /// application/{application id}/device/+/event/up.
    #[arg(long = "topic", value_name = "FILTER", required = true)]
    topics: Vec<String>,
    /// The Microshare recType records are posted to (a rule's forward_to overrides it).
    #[arg(long, value_name = "RECTYPE")]
    rec_type: String,
    /// The MQTT user name. The Things Stack: {application id}@{tenant id} (my-app@ttn).
    #[arg(
        long,
        env = "LORAFIELD_MQTT_USERNAME",
        hide_env_values = true,
        value_name = "USER"
    )]
    mqtt_username: Option<String>,
    /// The MQTT password. The Things Stack: an API key of the application that may read its
    /// traffic.
    #[arg(
        long,
        env = "LORAFIELD_MQTT_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    mqtt_password: Option<String>,
    /// Certificate authorities (PEM) to check an mqtts:// broker with, instead of the system's.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The MQTT client id [default: lorafield- and 16 random hex digits]. Each connection needs
    /// its own: a broker drops the older of two with the same id.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// The outbox directory (created if need be); ingesters on one machine may share one.
    #[arg(long, value_name = "DIR", default_value = "lorafield-outbox")]
    outbox: PathBuf,
    /// Where refused messages are kept, as JSON Lines [default: mqtt-rejected.jsonl in the
    /// outbox directory].
    #[arg(long, value_name = "FILE")]
    rejected: Option<PathBuf>,
    /// The rejected file's size at most, in MiB: once full it is moved to FILE.1 (replacing
    /// the one before) and a new one begun, so the newest refusals are kept.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    rejected_max_mib: u64,
    /// The selection rules (default: lorafield.toml in the current directory, if any).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where GET /healthz and GET /metrics are served.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8083")]
    listen: SocketAddr,
    /// Serve /healthz and /metrics beyond loopback (nothing there asks who is asking).
    #[arg(long)]
    allow_unauthenticated: bool,
    /// The largest message taken, in bytes, its topic included. A larger one ends the
    /// connection (the client cannot skip it): it is counted (too_large), logged, and the
    /// connection made again.
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024)]
    max_message_size: usize,
    /// Only store: another process delivers this outbox (a serve, or another ingest-mqtt
    /// sharing it). No Microshare credentials are needed then.
    #[arg(long)]
    no_deliver: bool,
    #[command(flatten)]
    delivery: DeliveryArgs,
    #[command(flatten)]
    queue: QueueArgs,
    #[command(flatten)]
    microshare: MicroshareArgs,
    #[command(flatten)]
    scripts: ScriptArgs,
}

pub(crate) const INGEST_MQTT_EXAMPLES: &str = "\
Examples:
  # ChirpStack v4, its MQTT integration in JSON, only storing (serve delivers)
  lorafield ingest-mqtt --broker mqtt://127.0.0.1:1883 \\
      --topic \"application/+/device/+/event/up\" \\
      --rec-type io.example.decoded --no-deliver
  # The Things Stack: an API key that may read the application's traffic
  export LORAFIELD_PIPE_TOKEN=...
  export LORAFIELD_MQTT_PASSWORD=NNSXS.XXXXXXXX
  lorafield ingest-mqtt --broker mqtts://eu1.cloud.thethings.network \\
      --mqtt-username my-app@ttn --topic \"v3/my-app@ttn/devices/+/up\" \\
      --rec-type io.example.decoded --outbox /var/lib/lorafield
  # A second one on the same topics and outbox, for redundancy
  lorafield ingest-mqtt --broker mqtts://eu1.cloud.thethings.network \\
      --mqtt-username my-app@ttn --topic \"v3/my-app@ttn/devices/+/up\" \\
      --rec-type io.example.decoded --outbox /var/lib/lorafield \\
      --listen 127.0.0.1:8084";

/// What `ingest-mqtt` runs with, checked: everything but what it connects to and binds.
struct Prepared {
    options: IngestOptions,
    selection: lorafield::Selection,
    client: Option<lorafield_microshare::client::Client>,
}

fn prepare(args: IngestMqttArgs) -> Result<Prepared> {
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
    if args.mqtt_password.is_some() && args.mqtt_username.is_none() {
        bail!("an MQTT password needs a user name: give --mqtt-username (MQTT 3.1.1)");
    }
    if args.rejected_max_mib == 0 {
        bail!("--rejected-max-mib must be at least 1");
    }
    if args.max_message_size == 0 {
        bail!("--max-message-size must be at least 1");
    }
    let queue = match args.queue.nats("lorafield ingest-mqtt")? {
        Some(nats) => Some(lorafield_cli::serve::JetStreamOptions {
            nats,
            streams: args.queue.streams()?,
        }),
        None => None,
    };
    // On JetStream, lorafield forward delivers.
    let (client, worker) = match args.no_deliver || queue.is_some() {
        true => (None, None),
        false => {
            let delivering = "delivering to Microshare (give --no-deliver when another process \
                              delivers this outbox)";
            let worker = args.delivery.worker().context(delivering)?;
            let client = args.delivery.client(&args.microshare).context(delivering)?;
            (Some(client), Some(worker))
        }
    };
    let mut options = IngestOptions::new(
        args.broker,
        args.topics,
        &args.rec_type,
        args.outbox,
        args.listen,
    );
    if let Some(id) = args.client_id {
        if id.is_empty() {
            bail!("--client-id is empty");
        }
        options.client_id = id;
    }
    match (args.rejected, &queue) {
        (Some(rejected), _) => options.rejected = rejected,
        // No outbox directory: the current one.
        (None, Some(_)) => options.rejected = PathBuf::from(lorafield_cli::mqtt::REJECTED_FILE),
        (None, None) => {}
    }
    options.queue = queue;
    options.username = args.mqtt_username;
    options.password = args.mqtt_password.map(lorafield_microshare::Secret::new);
    options.ca_file = args.ca_file;
    options.allow_unauthenticated = args.allow_unauthenticated;
    options.max_message_size = args.max_message_size;
    options.rejected_max_bytes = args.rejected_max_mib.saturating_mul(1 << 20);
    options.worker = worker;
    options.keep_delivered = args.delivery.keep_delivered()?;
    Ok(Prepared {
        options,
        selection,
        client,
    })
}

pub(crate) fn run(args: IngestMqttArgs) -> Result<ExitCode> {
    use lorafield_cli::serve::shutdown_signal;
    init_logs();
    let Prepared {
        options,
        selection,
        client,
    } = prepare(args)?;
    if let Some(client) = &client {
        tracing::info!(
            "delivering to Microshare at {} with {}, as recType {}",
            client.endpoints().api,
            client.sign_in(),
            options.rec_type,
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        // The signal handlers first: a SIGTERM right after the listening line stops cleanly.
        let shutdown = shutdown_signal();
        lorafield_cli::mqtt::ingest(options, selection, client.map(Arc::new), shutdown, |addr| {
            eprintln!("lorafield ingest-mqtt: listening on http://{addr}")
        })
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::commands::serve::tests::example_commands;
    use crate::{Cli, Command};

    fn parse(words: &[&str]) -> Result<Prepared> {
        match Cli::try_parse_from(words)?.command {
            Command::IngestMqtt(args) => prepare(*args),
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_example_passes_the_checks_made_before_connecting() {
        let commands = example_commands(INGEST_MQTT_EXAMPLES);
        assert_eq!(commands.len(), 3, "{commands:?}");
        let mut delivering = 0;
        for words in &commands {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let prepared = parse(&words).unwrap_or_else(|e| panic!("{}: {e:#}", words.join(" ")));
            let o = &prepared.options;
            assert!(o.listen.ip().is_loopback());
            assert!(
                o.topics.iter().all(|t| rumqttc::valid_filter(t)),
                "{:?}",
                o.topics
            );
            if o.broker.tls {
                assert_eq!(o.username.as_deref(), Some("my-app@ttn"));
                assert_eq!(
                    o.password.as_ref().map(|p| p.expose()),
                    Some("NNSXS.XXXXXXXX")
                );
            }
            delivering += usize::from(prepared.client.is_some());
        }
        assert_eq!(delivering, 2, "the ChirpStack example only stores");
    }

    #[test]
    fn options_are_checked_before_anything_connects() {
        let base = [
            "lorafield",
            "ingest-mqtt",
            "--broker",
            "mqtt://127.0.0.1:1883",
            "--topic",
            "v3/app@ttn/devices/+/up",
            "--rec-type",
            "r",
            "--no-deliver",
        ];
        let with = |extra: &[&str]| {
            let words: Vec<&str> = base.iter().chain(extra).copied().collect();
            parse(&words).map(|p| p.options)
        };
        let o = with(&[]).unwrap();
        assert!(o.worker.is_none() && o.client_id.starts_with("lorafield-"));
        assert_eq!(
            o.rejected,
            PathBuf::from("lorafield-outbox/mqtt-rejected.jsonl")
        );
        assert_ne!(
            o.client_id,
            with(&[]).unwrap().client_id,
            "a new id each run"
        );
        let e = format!("{:#}", with(&["--mqtt-password", "p"]).err().unwrap());
        assert!(e.contains("--mqtt-username"), "{e}");
        // Delivering needs Microshare's credentials.
        let words: Vec<&str> = base[..8].to_vec();
        let e = format!("{:#}", parse(&words).err().unwrap());
        assert!(
            e.contains("--no-deliver") && e.contains("--pipe-token"),
            "{e}"
        );
        // Delivering: serve's options, an adaptive limit by default.
        let words: Vec<&str> = base[..8]
            .iter()
            .copied()
            .chain(["--pipe-token", "t"])
            .collect();
        let w = parse(&words).unwrap().options.worker.unwrap();
        assert_eq!((w.concurrency, w.adaptive.is_some()), (512, true));
        let fixed = [&words[..], &["--adaptive", "off", "--concurrency", "4"]].concat();
        let w = parse(&fixed).unwrap().options.worker.unwrap();
        assert_eq!((w.concurrency, w.adaptive.is_some()), (4, false));
        let o = with(&["--client-id", "gw-1", "--rejected", "bad.jsonl"]).unwrap();
        assert_eq!(
            (o.client_id.as_str(), o.rejected.to_str()),
            ("gw-1", Some("bad.jsonl"))
        );
        assert!(
            Cli::try_parse_from([
                "lorafield",
                "ingest-mqtt",
                "--broker",
                "http://h",
                "--topic",
                "t",
                "--rec-type",
                "r"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "lorafield",
                "ingest-mqtt",
                "--broker",
                "mqtt://h",
                "--rec-type",
                "r"
            ])
            .is_err(),
            "a topic is required"
        );
    }
}
