//! `lorafield serve`: the webhook bridge to Microshare.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use lorafield::{Options, Registry};
use lorafield_cli::redecode;

use crate::args::microshare::MicroshareArgs;
use crate::logs::init_logs;

/// The webhook bridge: The Things Stack (or TTN v2, or ChirpStack) posts uplinks here; each is
/// decoded, committed to the durable outbox, answered 202, and delivered to Microshare's
/// POST /share/{recType} at least once.
///
/// POST /uplink takes a TTS v3 webhook body, a TTN v2 HTTP integration body or a ChirpStack v4
/// ?event=up body. It answers 202 {"key":"lfk-...","outbox_id":N,"decoded":true} once the
/// record (the same envelope with its decoded payload and "lorafield" stamp) is on disk; 400
/// with a reason for a body that is not an uplink; 401 without the right --secret; 413 past
/// --body-limit. An uplink whose payload does not decode is still forwarded, with the errors
/// in its stamp. Each record is posted with the tag lfk-<16 hex digits>, a hash of DevEUI,
/// f_cnt, received_at and payload, so that duplicates made by retries can be found.
///
/// Delivery: --concurrency requests in flight, exponential backoff with full jitter (from 0.5 s
/// doubling to 5 min), Retry-After honoured; transport errors, 408, 425, 429 and 5xx are
/// retried, other 4xx are not; after --max-attempts or --max-age a record goes to the
/// dead-letter table (see `lorafield outbox`). A revoked pipe token (401) stops delivery:
/// uplinks are still taken into the outbox and /healthz says why.
///
/// GET /healthz: 200 "ok", or 503 with the reason. GET /metrics: Prometheus text (received,
/// rejected, decoded, decode failures, enqueued, delivered, retried, dead, outbox depth and
/// oldest age). SIGTERM or Ctrl-C: stop accepting, answer what is in flight, finish the
/// deliveries in flight, exit.
#[derive(Args)]
#[command(after_help = SERVE_EXAMPLES)]
pub(crate) struct ServeArgs {
    /// Where to listen.
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
    /// The largest body taken, in bytes; larger ones are answered 413.
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024)]
    body_limit: usize,
    /// Deliveries in flight at most.
    #[arg(long, value_name = "N", default_value_t = 8)]
    concurrency: usize,
    /// Attempts before a record goes to the dead-letter table.
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_attempts: u32,
    /// Hours before a record that keeps failing goes to the dead-letter table.
    #[arg(long, value_name = "H", default_value_t = 168.0)]
    max_age_hours: f64,
    #[command(flatten)]
    microshare: MicroshareArgs,
}

const SERVE_EXAMPLES: &str = "\
Examples:
  LORAFIELD_PIPE_TOKEN=... lorafield serve --rec-type io.example.decoded --listen 0.0.0.0:8080
  lorafield microshare-sim --listen 127.0.0.1:9000 &
  lorafield serve --rec-type io.example.decoded --microshare-url http://127.0.0.1:9000 \\
      --username user@example.org --password secret --api-key apikey";

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode> {
    use lorafield_cli::serve::{ServeOptions, serve, shutdown_signal};
    use lorafield_microshare::worker::WorkerConfig;
    init_logs();
    let registry = Registry::builtin();
    let selection =
        redecode::load_selection(&registry, args.config.as_deref(), None, &Options::default())?;
    let client = args.microshare.client(false)?;
    if args.concurrency == 0 || args.max_attempts == 0 {
        bail!("--concurrency and --max-attempts must be at least 1");
    }
    if !(args.max_age_hours > 0.0 && args.max_age_hours.is_finite()) {
        bail!("--max-age-hours must be a positive number");
    }
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
    let options = ServeOptions {
        listen: args.listen,
        rec_type: args.rec_type,
        secret,
        body_limit: args.body_limit,
        outbox: args.outbox,
        worker: WorkerConfig {
            concurrency: args.concurrency,
            max_attempts: args.max_attempts,
            max_age: std::time::Duration::from_secs_f64(args.max_age_hours * 3600.0),
            ..WorkerConfig::default()
        },
    };
    tracing::info!(
        "forwarding to {} as recType {} ({} rules), outbox {}, {:?}",
        args.microshare.microshare_url,
        options.rec_type,
        selection.rules(),
        options.outbox.display(),
        client
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(
        options,
        selection,
        std::sync::Arc::new(client),
        shutdown_signal(),
        |addr| eprintln!("lorafield serve: listening on http://{addr}"),
    ))?;
    Ok(ExitCode::SUCCESS)
}
