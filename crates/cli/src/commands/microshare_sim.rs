//! `lorafield microshare-sim`: a local Microshare to try the bridge against.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::logs::init_logs;

/// A local Microshare simulator, to try `lorafield serve` and `redecode --to-microshare`
/// without an account (and for lorafield's own tests). It serves the API and the auth host on
/// one base URL, printed when it starts; Ctrl-C or SIGTERM stops it and prints its stats.
///
/// Endpoints: POST /oauth2/token (password and pipe grants for the --user), POST
/// /share/{recType}[/tags/...], GET /share/{recType}?details=true&page=N&perPage=M (real
/// paging), GET /share/{recType}/tags/{tag1}/...?details=true&page=N&perPage=M (the shares
/// carrying all the tags; password token), GET and DELETE /share/{recType}/{id}, and GET
/// /_sim/stats: {"stored", the shares stored; "distinct_keys", the distinct lfk-<16 hex>
/// record-key tags among them; "duplicates"; "requests"; "faults", per kind; "by_rec_type";
/// "rate_limited"; "over_capacity"; "peak_in_flight"; "tag_queries"}.
///
/// Like a remote service: --latency delays every request before it is handled (a timer, no
/// thread held); --rate-limit answers share requests beyond N a second (a bucket with one
/// second of burst) with 429 and Retry-After; --max-in-flight answers requests beyond N at
/// once with 503. All across clients, seeded like the faults, counted in /_sim/stats.
///
/// --faults gives the fraction of token and share requests that get each fault:
/// status500, status503, status429 (with Retry-After: 1), status401 (an expired token),
/// drop-before (the connection closes before anything is stored), drop-after (the share is
/// stored, then the connection closes unanswered: the case that makes duplicates), slow (the
/// answer comes after --slow seconds, past a client's timeout). Fractions add up to 1 at most.
///
/// It logs on standard error under the name microshare_sim; LORAFIELD_LOG=microshare_sim=debug
/// shows each fault as it is injected.
#[derive(Args)]
#[command(after_help = SIM_EXAMPLE)]
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
    /// The seed of the fault draws and of the latency's jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Every request waits MS milliseconds before it is handled, give or take JITTER_MS (a
    /// uniform draw): as across a network.
    #[arg(long, value_name = "MS[,JITTER_MS]", default_value = "0")]
    latency: lorafield_microshare::sim::Latency,
    /// Share requests per second across all clients (a token bucket holding one second's
    /// worth); beyond it, 429 with Retry-After.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: Option<u32>,
    /// Requests served at once (latency included), across all clients; beyond it, 503.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_in_flight: Option<u64>,
}

/// Short lines, so that no terminal wraps a value in the middle.
pub(crate) const SIM_EXAMPLE: &str = "\
Examples:
  lorafield microshare-sim --listen 127.0.0.1:9000 \\
      --faults status500=0.1,status429=0.05,drop-after=0.05,slow=0.02
  # Microshare across the internet: 100 ms give or take 20, 500 shares/s
  lorafield microshare-sim --listen 127.0.0.1:9000 \\
      --latency 100,20 --rate-limit 500";

pub(crate) fn run(args: MicroshareSimArgs) -> Result<ExitCode> {
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
        latency: args.latency,
        rate_limit: args.rate_limit,
        max_in_flight: args
            .max_in_flight
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        ..SimConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let stats = runtime.block_on(async {
        let shutdown = lorafield_cli::serve::shutdown_signal();
        let sim = Simulator::start(args.listen, config)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        eprintln!("lorafield microshare-sim: listening on {}", sim.base_url());
        shutdown.await;
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
