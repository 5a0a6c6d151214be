//! The `lorafield` command.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use lorafield::{Options, Registry};
use lorafield_cli::decode::Decoder;
use lorafield_cli::payload::{Encoding, parse_payload};
use lorafield_cli::redecode;
use lorafield_cli::vectors::{Report, Runner, collect_files};

/// Decode LoRaWAN uplink payloads (Cayenne LPP and more) into JSON.
///
/// Exit status: 0 when everything decoded, 1 when some result has errors (warnings do not
/// count) or a vector case failed, 2 on usage or I/O errors.
#[derive(Parser)]
#[command(name = "lorafield", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Decode(DecodeArgs),
    Codecs(CodecsArgs),
    Vectors(VectorsArgs),
    Redecode(Box<RedecodeArgs>),
    GenShares(GenSharesArgs),
    Serve(Box<ServeArgs>),
    Outbox(OutboxArgs),
    MicroshareSim(MicroshareSimArgs),
}

/// Decode one payload, or one per line of standard input, to JSON results.
///
/// The result has the LoRa Alliance codec API shape: {"data":{...},"errors":[...],
/// "warnings":[...]}, empty lists left out; "data" is absent when the frame is rejected as a
/// whole. Keys are sorted and numbers printed as The Things Stack prints them.
#[derive(Args)]
#[command(after_help = DECODE_EXAMPLES)]
struct DecodeArgs {
    /// The payload, as hex (an even number of hex digits and nothing else) or base64. Without
    /// it, payloads are read from standard input, one per line: hex or base64 text (an empty
    /// line is an empty payload), or a JSON object {"fPort":3,"bytes":...} whose "bytes" is hex
    /// or base64 text or an array of integers. One result is printed per line, in order; a line
    /// that is not a payload gets a result with an "invalid_input" error naming the line.
    payload: Option<String>,
    /// Codec id (see `lorafield codecs`).
    #[arg(long, short = 'c', default_value = "cayenne-lpp")]
    codec: String,
    /// Codec profile; for cayenne-lpp: tts (The Things Stack's output) or extended.
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// Device model, for codecs that have models.
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// LoRaWAN FPort, used where the input names none. Port 0 (MAC commands) is refused.
    #[arg(long, short = 'f', default_value_t = 1, value_name = "N")]
    fport: u8,
    /// Read payload text as hex only.
    #[arg(long, conflicts_with = "base64")]
    hex: bool,
    /// Read payload text as base64 only.
    #[arg(long)]
    base64: bool,
}

const DECODE_EXAMPLES: &str = "\
Examples:
  lorafield decode --fport 3 A2cA+AQChfw=
  lorafield decode --profile tts 0367011005
  printf '0367011005\\n{\"fPort\":3,\"bytes\":[3,103,0,248]}\\n' | lorafield decode
  lorafield decode --profile tts < payloads.txt > results.jsonl";

/// List the codecs with their options.
#[derive(Args)]
struct CodecsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Check the codecs against conformance vector files (JSON Lines).
///
/// Each case names a codec, fPort, hex payload and an expected result (see the vectors
/// README). A failing case prints its file and line, what was expected and what came out.
/// The last line is "N passed, M failed"; the exit status is 1 if any case failed.
#[derive(Args)]
struct VectorsArgs {
    /// Vector files, or directories whose *.jsonl files are run.
    #[arg(required = true, value_name = "DIR|FILE")]
    paths: Vec<PathBuf>,
}

/// Decode stored uplinks again: JSON Lines of envelopes or Microshare shares, share pages,
/// JSON arrays, gzip files, or standard input.
///
/// Each record's shape is found on its own: The Things Stack v3 (uplink_message.frm_payload),
/// TTN v2 (payload_raw), ChirpStack v4 (data), or a Microshare share (2017 or 2020+ encoding)
/// whose data holds one of them; a page's shares are records of their own. The decoded payload
/// is written back where the shape keeps it (decoded_payload, payload_fields, object) with a
/// stamp, the member "lorafield": {"codec","version","profile"/"model","errors","warnings"}.
/// Every other byte of the record is copied as it was. Joins, downlink events and port-0
/// uplinks pass through untouched.
///
/// Output: JSON Lines, one line per record read, in input order (whatever --jobs is). Which
/// codec decodes which record: --config FILE, else lorafield.toml in the current directory if
/// there is one, else cayenne-lpp; --codec replaces every rule, --profile/--model alone change
/// that option wherever the chosen codec takes it.
///
/// Summary, one line on standard error at the end:
///   lorafield redecode: read R: decoded D (changed C, unchanged U), failed F, passed through P;
///   written W, to errors E
/// where R = D + F + P, D = C + U and (without --diff) R = W + E. "failed" counts records that
/// could not be read (not JSON, not UTF-8, cut short) or decoded (no payload, not base64, a
/// codec error); each is reported with its file and line.
///
/// Exit status: 0 when every uplink decoded, 1 when some record failed, 2 on usage or I/O
/// errors (a file that cannot be opened or read to its end; the other files are still read).
#[derive(Args)]
#[command(after_help = REDECODE_EXAMPLES)]
struct RedecodeArgs {
    /// Input files (JSON Lines, a page or an array; gzip-compressed ones are read as such).
    /// None or `-`: standard input.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Write the records here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Decoding threads (default: every core).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Write each record that could not be read or decoded here, as
    /// {"at":"<file>:<line>","reason":..,"record":..}, instead of to the output.
    #[arg(long, value_name = "FILE")]
    errors: Option<PathBuf>,
    /// Write only the records whose decoded payload changed, as
    /// {"at":"<file>:<line>","id":..,"before":..,"after":..}; "id" is the share id, or
    /// {"device_id":..,"f_cnt":..} for a bare envelope.
    #[arg(long)]
    diff: bool,
    /// The selection rules (default: lorafield.toml in the current directory, if any).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Decode every record with this codec, whatever the rules say.
    #[arg(long, short = 'c')]
    codec: Option<String>,
    /// Codec profile (cayenne-lpp: tts or extended).
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// Device model, for codecs that have models.
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// No progress bar (there is none anyway when standard error is not a terminal).
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Read the shares of this recType from Microshare (GET /share/{recType}, every page)
    /// instead of files; needs --username, --password and --api-key.
    #[arg(long, value_name = "RECTYPE", conflicts_with = "files")]
    from_microshare: Option<String>,
    /// Send the re-decoded records to Microshare as new shares of this recType (a share's data,
    /// or the envelope), through the outbox (--outbox), and wait until they are delivered;
    /// nothing is written to the output. Typically `<recType>.decoded`: shares cannot be updated
    /// in place.
    #[arg(long, value_name = "RECTYPE", conflicts_with_all = ["output", "diff"])]
    to_microshare: Option<String>,
    /// The outbox directory for --to-microshare.
    #[arg(long, value_name = "DIR", default_value = "lorafield-outbox")]
    outbox: PathBuf,
    #[command(flatten)]
    microshare: MicroshareArgs,
}

const REDECODE_EXAMPLES: &str = "\
Examples:
  lorafield redecode fixtures/envelopes/shares.jsonl
  lorafield redecode --profile tts -o out.jsonl --errors failed.jsonl history-*.jsonl.gz
  lorafield redecode --diff page-1.json page-2.json
  lorafield gen-shares --count 1000 | lorafield redecode --jobs 2 > /dev/null";

/// Write realistic Microshare shares, one per line, for trying redecode, tests and benches.
///
/// Each share holds a TTS v3 or TTN v2 uplink of one of about fifty devices, with a Cayenne
/// LPP payload (1-4 channels of temperature, humidity, GPS, accelerometer, ...) and the decoded
/// payload The Things Stack stored for it; a --stale fraction of them hold a missing or
/// outdated decoded payload, which a redecode changes. The same options always give the same
/// bytes. A summary goes to standard error.
#[derive(Args)]
#[command(after_help = "Example:\n  lorafield gen-shares --count 100000 --seed 7 -o shares.jsonl")]
struct GenSharesArgs {
    /// How many shares.
    #[arg(long, short = 'n', default_value_t = 1000)]
    count: usize,
    /// The random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Microshare's id and date encoding: 2017 ($oid/$date/$numberLong), 2020 (plain strings
    /// and epoch numbers) or mixed.
    #[arg(long, default_value = "mixed")]
    encoding: lorafield_envelope::generate::DateEncoding,
    /// The uplinks' envelope: tts-v3, ttn-v2 or mixed.
    #[arg(long, default_value = "mixed")]
    shape: lorafield_envelope::generate::Shape,
    /// The fraction (0 to 1) of shares whose decoded payload is missing or outdated.
    #[arg(long, default_value_t = 0.1)]
    stale: f64,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Where Microshare is and how to sign in (a pipe token, or username, password and API key).
#[derive(Args, Clone)]
struct MicroshareArgs {
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
    fn client(&self, need_read: bool) -> Result<lorafield_microshare::client::Client> {
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
struct ServeArgs {
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
struct OutboxArgs {
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
enum OutboxAction {
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
struct MicroshareSimArgs {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lorafield: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Decode(args) => decode(args),
        Command::Codecs(args) => {
            let registry = Registry::builtin();
            let mut out = io::stdout().lock();
            if args.json {
                let json = lorafield_cli::codecs::listing_json(&registry);
                writeln!(out, "{json}")?;
            } else {
                out.write_all(lorafield_cli::codecs::listing(&registry).as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Vectors(args) => vectors(args),
        Command::Redecode(args) => redecode(*args),
        Command::GenShares(args) => gen_shares(args),
        Command::Serve(args) => serve(*args),
        Command::Outbox(args) => outbox(args),
        Command::MicroshareSim(args) => microshare_sim(args),
    }
}

fn microshare_sim(args: MicroshareSimArgs) -> Result<ExitCode> {
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

fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("LORAFIELD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

fn serve(args: ServeArgs) -> Result<ExitCode> {
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
fn deliver_outbox(
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

fn outbox(args: OutboxArgs) -> Result<ExitCode> {
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

fn gen_shares(args: GenSharesArgs) -> Result<ExitCode> {
    use lorafield_envelope::generate::{GenOptions, write_shares};
    if !(0.0..=1.0).contains(&args.stale) {
        bail!("--stale must be between 0 and 1, not {}", args.stale);
    }
    let options = GenOptions {
        count: args.count,
        seed: args.seed,
        encoding: args.encoding,
        shape: args.shape,
        stale: args.stale,
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(io::BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
    };
    let s = write_shares(&options, &mut out)?;
    out.flush()?;
    eprintln!(
        "lorafield gen-shares: {} shares ({} TTS v3, {} TTN v2), {} bytes, {} stale",
        s.records, s.tts_v3, s.ttn_v2, s.bytes, s.stale
    );
    Ok(ExitCode::SUCCESS)
}

fn redecode(args: RedecodeArgs) -> Result<ExitCode> {
    use lorafield_envelope::batch::{RunOptions, Settings, run};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let registry = Registry::builtin();
    let options = Options {
        profile: args.profile,
        model: args.model,
    };
    let selection = redecode::load_selection(
        &registry,
        args.config.as_deref(),
        args.codec.as_deref(),
        &options,
    )?;
    let jobs = match args.jobs {
        Some(0) => bail!("--jobs must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let to_outbox = match &args.to_microshare {
        Some(rec_type) => {
            let outbox = lorafield_microshare::outbox::Outbox::open(&args.outbox)
                .with_context(|| format!("opening the outbox in {}", args.outbox.display()))?;
            Some((outbox, rec_type.clone()))
        }
        None => None,
    };
    let mut out: Box<dyn Write + Send> = match (&args.output, &to_outbox) {
        (_, Some((outbox, rec_type))) => {
            Box::new(redecode::OutboxWriter::new(outbox.clone(), rec_type))
        }
        (Some(p), None) => Box::new(io::BufWriter::with_capacity(
            1 << 20,
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        (None, None) => Box::new(io::BufWriter::with_capacity(1 << 20, io::stdout())),
    };
    let mut errors: Option<Box<dyn Write + Send>> = match &args.errors {
        Some(p) => Some(Box::new(io::BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        ))),
        None => None,
    };
    let read = Arc::new(AtomicU64::new(0));
    let inputs = match &args.from_microshare {
        Some(rec_type) => vec![redecode::microshare_input(
            args.microshare.client(true)?,
            rec_type,
        )],
        None => redecode::inputs(&args.files, &read),
    };
    let bar = (!args.quiet && io::stderr().is_terminal()).then(|| {
        match redecode::total_size(&args.files) {
            Some(total) => indicatif::ProgressBar::new(total).with_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            ),
            None => indicatif::ProgressBar::new_spinner(),
        }
    });
    let mut progress = {
        let bar = bar.clone();
        let read = read.clone();
        move |c: &lorafield_envelope::batch::Counts| {
            if let Some(bar) = &bar {
                bar.set_position(read.load(Ordering::Relaxed));
                bar.set_message(format!("{} records, {} failed", c.read, c.failed));
            }
        }
    };
    let run_options = RunOptions {
        jobs,
        settings: Settings {
            diff: args.diff,
            errors: args.errors.is_some(),
        },
        chunk_bytes: None,
    };
    let report = run(
        inputs,
        &selection,
        &run_options,
        &mut *out,
        errors.as_deref_mut().map(|e| e as &mut (dyn Write + Send)),
        &mut progress,
    )
    .context("writing the output")?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for e in &report.io_errors {
        eprintln!("lorafield: {e}");
    }
    eprintln!("lorafield redecode: {}", report.counts);
    drop(out);
    if let Some((outbox, rec_type)) = to_outbox {
        deliver_outbox(&args.microshare, outbox, &rec_type)?;
    }
    Ok(if !report.io_errors.is_empty() {
        ExitCode::from(2)
    } else if report.counts.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn decode(args: DecodeArgs) -> Result<ExitCode> {
    let options = Options {
        profile: args.profile,
        model: args.model,
    };
    let codec = Registry::builtin().build(&args.codec, &options)?;
    let encoding = match (args.hex, args.base64) {
        (true, _) => Encoding::Hex,
        (_, true) => Encoding::Base64,
        _ => Encoding::Auto,
    };
    let mut decoder = Decoder::new(codec, args.fport, encoding);
    let failed = match args.payload {
        Some(text) => {
            let payload = parse_payload(text.trim(), encoding)?;
            let mut out = Vec::new();
            let errors = decoder.decode(args.fport, &payload, &mut out);
            out.push(b'\n');
            io::stdout().lock().write_all(&out)?;
            errors
        }
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                eprintln!(
                    "lorafield: reading payloads from standard input, one per line (Ctrl-D ends)"
                );
            }
            let stats = decoder
                .decode_stream(stdin.lock(), io::stdout().lock())
                .context("decoding standard input")?;
            stats.with_errors > 0
        }
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn vectors(args: VectorsArgs) -> Result<ExitCode> {
    let files = collect_files(&args.paths).context("finding vector files")?;
    if files.is_empty() {
        bail!("no *.jsonl vector files under {:?}", args.paths);
    }
    let mut runner = Runner::new(Registry::builtin());
    let mut report = Report::default();
    let mut out = io::stdout().lock();
    for file in &files {
        let r = runner
            .run_file(file)
            .with_context(|| format!("reading {}", file.display()))?;
        for f in &r.failed {
            match &f.description {
                Some(d) => writeln!(out, "FAIL {} ({d})", f.at)?,
                None => writeln!(out, "FAIL {}", f.at)?,
            }
            writeln!(out, "{}", f.detail)?;
        }
        report.merge(r);
    }
    writeln!(
        out,
        "{} passed, {} failed",
        report.passed,
        report.failed.len()
    )?;
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
