//! `lorafield serve`, `lorafield outbox` and `lorafield microshare-sim`: their arguments and
//! what they do; the Microshare options shared with `redecode`.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use lorafield::{Options, Registry};
use lorafield_cli::redecode;

/// Where Microshare is and how to sign in (a pipe token, or username, password and API key).
#[derive(Args, Clone)]
pub(crate) struct MicroshareArgs {
    /// The Share API's base URL (https://dapi.microshare.io for dev; the simulator's URL to try).
    #[arg(long, value_name = "URL", default_value = "https://api.microshare.io")]
    microshare_url: String,
    /// The auth server's base URL (https://dauth.microshare.io for dev); default: the same as
    /// --microshare-url when that is not Microshare's own, else https://auth.microshare.io.
    #[arg(long, value_name = "URL")]
    auth_url: Option<String>,
    /// A pipe token (it can only post). A 401 with it means it was revoked: delivery stops.
    #[arg(
        long,
        env = "LORAFIELD_PIPE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pipe_token: Option<String>,
    /// Microshare username, for a password token (fetched, and fetched again when it expires).
    #[arg(long, env = "MICROSHARE_USERNAME", value_name = "USER")]
    username: Option<String>,
    /// Microshare password.
    #[arg(
        long,
        env = "MICROSHARE_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    password: Option<String>,
    /// Microshare API key (the client_id of the token request).
    #[arg(
        long,
        env = "MICROSHARE_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    api_key: Option<String>,
    /// Seconds before a request to Microshare is given up (and retried later).
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    timeout: f64,
}

impl MicroshareArgs {
    pub(crate) fn client(&self, need_read: bool) -> Result<lorafield_microshare::client::Client> {
        use lorafield_microshare::Secret;
        use lorafield_microshare::client::{Client, ClientConfig, Credentials, Endpoints};
        let api = self.microshare_url.trim_end_matches('/').to_string();
        let auth = match &self.auth_url {
            Some(a) => a.trim_end_matches('/').to_string(),
            None if api == "https://api.microshare.io" => "https://auth.microshare.io".into(),
            None if api == "https://dapi.microshare.io" => "https://dauth.microshare.io".into(),
            None => api.clone(),
        };
        let credentials = match (
            &self.pipe_token,
            &self.username,
            &self.password,
            &self.api_key,
        ) {
            (_, Some(u), Some(p), Some(k)) => Credentials::Password {
                username: u.clone(),
                password: Secret::new(p.clone()),
                api_key: Secret::new(k.clone()),
            },
            (Some(t), ..) if !need_read => Credentials::Pipe(Secret::new(t.clone())),
            (Some(_), ..) => bail!(
                "reading shares needs a password token: give --username, --password and --api-key (a pipe token can only post)"
            ),
            _ => bail!(
                "no Microshare credentials: give --pipe-token (or LORAFIELD_PIPE_TOKEN), or --username, --password and --api-key (or MICROSHARE_USERNAME, MICROSHARE_PASSWORD, MICROSHARE_API_KEY)"
            ),
        };
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            bail!("--timeout must be a positive number of seconds");
        }
        let mut config = ClientConfig::new(Endpoints { api, auth }, credentials);
        config.timeout = std::time::Duration::from_secs_f64(self.timeout);
        Ok(Client::new(config)?)
    }
}

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

/// Look into the outbox of `lorafield serve`: counts, dead letters, delivered records.
#[derive(Args)]
pub(crate) struct OutboxArgs {
    #[command(subcommand)]
    action: OutboxAction,
    /// The outbox directory.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "lorafield-outbox",
        global = true
    )]
    outbox: PathBuf,
}

#[derive(Subcommand)]
pub(crate) enum OutboxAction {
    /// Print the counts as JSON: pending, in_flight, delivered, dead, oldest_pending_age_s.
    Status,
    /// Move every dead record back to pending, due now, with its attempts reset.
    RetryDead,
    /// Forget the delivered records (their bodies are not kept anyway).
    PurgeDelivered,
}

/// A local Microshare simulator, to try `lorafield serve` and `redecode --to-microshare`
/// without an account (and for lorafield's own tests). It serves the API and the auth host on
/// one base URL, printed when it starts; Ctrl-C or SIGTERM stops it and prints its stats.
///
/// Endpoints: POST /oauth2/token (password and pipe grants for the --user), POST
/// /share/{recType}[/tags/...], GET /share/{recType}?details=true&page=N&perPage=M (real
/// paging), GET and DELETE /share/{recType}/{id}, and GET /_sim/stats: {"stored", the shares
/// stored; "distinct_keys", the distinct lfk-<16 hex> record-key tags among them; "duplicates";
/// "requests"; "faults", per kind; "by_rec_type"}.
///
/// --faults gives the fraction of token and share requests that get each fault:
/// status500, status503, status429 (with Retry-After: 1), status401 (an expired token),
/// drop-before (the connection closes before anything is stored), drop-after (the share is
/// stored, then the connection closes unanswered: the case that makes duplicates), slow (the
/// answer comes after --slow seconds, past a client's timeout). Fractions add up to 1 at most.
#[derive(Args)]
#[command(
    after_help = "Example:\n  lorafield microshare-sim --listen 127.0.0.1:9000 --faults status500=0.1,status429=0.05,drop-after=0.05,slow=0.02"
)]
pub(crate) struct MicroshareSimArgs {
    /// Where to listen (loopback is the sensible place).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    listen: std::net::SocketAddr,
    /// Faults to inject, as `key=fraction,...` (none by default).
    #[arg(long, value_name = "SPEC", default_value = "none")]
    faults: lorafield_microshare::sim::Faults,
    /// How shares read back: 2017 ($oid, $date, $numberLong) or 2020 (plain strings, epoch).
    #[arg(long, value_name = "2017|2020", default_value = "2020")]
    encoding: lorafield_microshare::sim::DateEncoding,
    /// The username that may get tokens.
    #[arg(long, default_value = "user@example.org")]
    user: String,
    /// Its password.
    #[arg(long, default_value = "secret")]
    password: String,
    /// Its API key (the token request's client_id).
    #[arg(long, default_value = "apikey")]
    api_key: String,
    /// Seconds a `slow` answer waits.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    slow: f64,
    /// The seed of the fault draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub(crate) fn microshare_sim(args: MicroshareSimArgs) -> Result<ExitCode> {
    use lorafield_microshare::sim::{SimConfig, SimUser, Simulator};
    init_logs();
    if !(args.slow >= 0.0 && args.slow.is_finite()) {
        bail!("--slow must be a number of seconds");
    }
    let config = SimConfig {
        users: vec![SimUser::new(args.user, args.password, args.api_key)],
        faults: args.faults,
        encoding: args.encoding,
        slow: std::time::Duration::from_secs_f64(args.slow),
        seed: args.seed,
        ..SimConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let stats = runtime.block_on(async {
        let sim = Simulator::start(args.listen, config)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        eprintln!("lorafield microshare-sim: listening on {}", sim.base_url());
        lorafield_cli::serve::shutdown_signal().await;
        let stats = sim.stats();
        sim.shutdown().await;
        anyhow::Ok(stats)
    })?;
    eprintln!(
        "lorafield microshare-sim: {}",
        serde_json::to_string(&stats)?
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("LORAFIELD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

pub(crate) fn serve(args: ServeArgs) -> Result<ExitCode> {
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

/// Delivers the outbox until nothing is pending or in flight (or delivery stops).
pub(crate) fn deliver_outbox(
    microshare: &MicroshareArgs,
    outbox: lorafield_microshare::outbox::Outbox,
    rec_type: &str,
) -> Result<()> {
    use lorafield_microshare::worker::{self, WorkerConfig, WorkerStats};
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let client = Arc::new(microshare.client(false)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let stats = Arc::new(WorkerStats::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let result = runtime.block_on(async {
        let worker = tokio::spawn(worker::run(
            outbox.clone(),
            client,
            WorkerConfig::default(),
            stats.clone(),
            stop_rx,
        ));
        loop {
            let s = outbox.status()?;
            if s.pending + s.in_flight == 0 || stats.stopped().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let _ = stop_tx.send(true);
        worker.await.context("the delivery worker panicked")??;
        anyhow::Ok(outbox.status()?)
    })?;
    eprintln!(
        "lorafield redecode: to Microshare {rec_type}: delivered {}, dead {}, retried {}",
        stats.delivered.load(Ordering::Relaxed),
        result.dead,
        stats.retried.load(Ordering::Relaxed)
    );
    if let Some(reason) = stats.stopped() {
        bail!(
            "delivery stopped: {reason}; {} records wait in the outbox",
            result.pending + result.in_flight
        );
    }
    Ok(())
}

pub(crate) fn outbox(args: OutboxArgs) -> Result<ExitCode> {
    use lorafield_microshare::outbox;
    let dir = &args.outbox;
    match args.action {
        OutboxAction::Status => {
            let s = outbox::status(dir)?;
            println!("{}", serde_json::to_string(&s)?);
        }
        OutboxAction::RetryDead => {
            let n = outbox::retry_dead(dir)?;
            eprintln!("lorafield outbox: {n} dead records are pending again");
        }
        OutboxAction::PurgeDelivered => {
            let n = outbox::purge_delivered(dir)?;
            eprintln!("lorafield outbox: {n} delivered records forgotten");
        }
    }
    Ok(ExitCode::SUCCESS)
}
