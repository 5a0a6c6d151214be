//! `lorafield forward`: delivery from a JetStream queue to Microshare.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::args::delivery::DeliveryArgs;
use crate::args::microshare::MicroshareArgs;
use crate::args::queue::{QueueArgs, duration};
use crate::logs::init_logs;

/// Deliver the records `serve --queue` (and `ingest-mqtt --queue`) put in NATS JetStream to
/// Microshare's POST /share/{recType}, at least once. Any number of forwards, on any machines,
/// share one durable consumer: each record goes to one of them at a time.
///
/// A record is acknowledged after Microshare's 2xx; a retryable failure (transport errors,
/// 408, 425, 429, 5xx) hands it back with the backoff's delay (nak), a permanent one (other
/// 4xx), --max-attempts or --max-age moves it to the dead-letter stream (see `lorafield outbox
/// dead --queue ...`). While a delivery is slow, progress acks keep its lease; a forward that
/// dies leaves its records unacknowledged, and after --lease they go to another forward.
/// Delivery is `serve`'s: an adaptive number of requests in flight up to --concurrency, and a
/// record that may have been stored before (a redelivery: its forward died, or its
/// acknowledgement was lost) is looked up by its tag before it is posted again, with password
/// credentials; a pipe token cannot ask, and such records are posted again and counted.
///
/// The recType travels with each record, decided where it was accepted: forward needs only
/// Microshare's URL and credentials. The streams and the consumer are created when missing; a
/// stream or consumer that exists with other settings is refused (every serve and forward
/// must give the same), and the stream must keep records longer than --max-age plus the
/// longest retry wait and a lease (--stream-max-age, 14 days by default).
///
/// GET /healthz on --listen (127.0.0.1:9090 by default): {"status":..,"checks":{"queue":..,
/// "delivery":..}}, 503 (down) while NATS cannot be reached. GET /metrics: the delivery
/// figures of serve, and the queue's pending, in-flight, dead and oldest age. SIGTERM or
/// Ctrl-C: finish the deliveries in flight, exit.
#[derive(Args)]
#[command(after_help = FORWARD_EXAMPLES)]
pub(crate) struct ForwardArgs {
    /// Where to serve /healthz and /metrics. Beyond loopback it needs --allow-unauthenticated.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// Serve /healthz and /metrics beyond loopback (they take no secret).
    #[arg(long)]
    allow_unauthenticated: bool,
    /// The durable consumer every forward shares.
    #[arg(long, value_name = "NAME", default_value = "lorafield-forward")]
    consumer: String,
    /// How long a record stays leased without word from its forward (the consumer's
    /// ack_wait): after a forward dies, its records go to another after this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    lease: Duration,
    /// Records leased and not yet acknowledged at most, over every forward (the consumer's
    /// max_ack_pending); above the sum of the forwards' --concurrency.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_ack_pending: i64,
    #[command(flatten)]
    delivery: DeliveryArgs,
    #[command(flatten)]
    queue: QueueArgs,
    #[command(flatten)]
    microshare: MicroshareArgs,
}

pub(crate) const FORWARD_EXAMPLES: &str = "\
Examples:
  # Two bridges and two forwards on one NATS server, against the simulator
  nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats &
  lorafield microshare-sim --listen 127.0.0.1:9000 &
  lorafield serve --rec-type io.example.decoded --queue nats://127.0.0.1:4222 &
  lorafield serve --rec-type io.example.decoded --queue nats://127.0.0.1:4222 \\
      --listen 127.0.0.1:8081 &
  lorafield forward --queue nats://127.0.0.1:4222 \\
      --microshare-url http://127.0.0.1:9000 \\
      --username user@example.org --password secret --api-key apikey &
  lorafield forward --queue nats://127.0.0.1:4222 --listen 127.0.0.1:9091 \\
      --microshare-url http://127.0.0.1:9000 \\
      --username user@example.org --password secret --api-key apikey";

/// Checks the arguments and builds the options and the client.
fn prepare(
    args: ForwardArgs,
) -> Result<(
    lorafield_cli::forward::ForwardOptions,
    lorafield_microshare::client::Client,
)> {
    use lorafield_cli::forward::ForwardOptions;
    let Some(nats) = args.queue.nats("lorafield forward")? else {
        bail!(
            "forward delivers from a JetStream queue: give --queue nats://HOST:PORT (serve \
             without --queue delivers its own outbox)"
        );
    };
    if args.lease < Duration::from_secs(1) {
        bail!("--lease must be at least 1s");
    }
    if args.max_ack_pending < 1 {
        bail!("--max-ack-pending must be at least 1");
    }
    let mut worker = args.delivery.worker()?;
    worker.lease = args.lease;
    let mut client = args.microshare.config(false)?;
    client.pool = worker.concurrency;
    let client = lorafield_microshare::client::Client::new(client)?;
    let mut options = ForwardOptions::new(args.listen, nats, args.queue.streams()?);
    options.allow_unauthenticated = args.allow_unauthenticated;
    options.consumer = args.consumer;
    options.max_ack_pending = args.max_ack_pending;
    options.worker = worker;
    Ok((options, client))
}

pub(crate) fn run(args: ForwardArgs) -> Result<ExitCode> {
    use lorafield_cli::forward::forward;
    use lorafield_cli::serve::shutdown_signal;
    init_logs();
    let (options, client) = prepare(args)?;
    let endpoints = client.endpoints();
    tracing::info!(
        "forwarding to Microshare at {} (tokens from {}) with {}",
        endpoints.api,
        endpoints.auth,
        client.sign_in(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let shutdown = shutdown_signal();
        forward(options, std::sync::Arc::new(client), shutdown, |addr| {
            eprintln!("lorafield forward: listening on http://{addr}")
        })
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::{Cli, Command};

    fn prepared(extra: &[&str]) -> anyhow::Result<lorafield_cli::forward::ForwardOptions> {
        let mut words = vec!["lorafield", "forward", "--pipe-token", "t"];
        words.extend(extra);
        match Cli::try_parse_from(words)?.command {
            Command::Forward(args) => super::prepare(*args).map(|(o, _)| o),
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_forward_example_parses_and_passes_the_checks() {
        let mut forwards = 0;
        for line in super::FORWARD_EXAMPLES
            .replace("\\\n", "")
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("lorafield "))
        {
            let words: Vec<&str> = line.trim_end_matches('&').split_whitespace().collect();
            let cli = Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("{line}: {e}"));
            if let Command::Forward(args) = cli.command {
                super::prepare(*args).unwrap_or_else(|e| panic!("{line}: {e:#}"));
                forwards += 1;
            }
        }
        assert_eq!(forwards, 2);
    }

    #[test]
    fn forward_needs_a_queue_and_takes_its_lease_as_the_consumers_ack_wait() {
        let e = prepared(&[]).unwrap_err().to_string();
        assert!(e.contains("give --queue nats://HOST:PORT"), "{e}");
        let o = prepared(&["--queue", "nats://127.0.0.1:4222", "--lease", "45s"]).unwrap();
        let c = o.consumer();
        assert_eq!(c.ack_wait, std::time::Duration::from_secs(45));
        assert_eq!(c.name, "lorafield-forward");
        // Dead after 168 h, the longest retry wait (5 min) and a lease, at the latest.
        assert_eq!(c.dead_after.as_secs(), 168 * 3600 + 300 + 45);
        assert_eq!(o.listen.to_string(), "127.0.0.1:9090");
        assert!(prepared(&["--queue", "nats://h:1", "--lease", "0s"]).is_err());
        assert!(prepared(&["--queue", "nats://h:1", "--concurrency", "0"]).is_err());
    }
}
