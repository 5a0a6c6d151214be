//! Where Microshare is and how to sign in: the options `serve` and `redecode` share.

use anyhow::{Context, Result, bail};
use clap::Args;

/// Where Microshare is and how to sign in (a pipe token, or username, password and API key).
#[derive(Args, Clone)]
pub(crate) struct MicroshareArgs {
    /// The Share API's base URL (https://dapi.microshare.io for dev; the simulator's URL to try).
    #[arg(long, value_name = "URL", default_value = "https://api.microshare.io")]
    pub(crate) microshare_url: String,
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
    // Values hidden: the help shows `[env: MICROSHARE_USERNAME]`, not what is set (or `=`).
    #[arg(
        long,
        env = "MICROSHARE_USERNAME",
        hide_env_values = true,
        value_name = "USER"
    )]
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
        Ok(lorafield_microshare::client::Client::new(
            self.config(need_read)?,
        )?)
    }

    /// The client's configuration, checked (a pipe token refused when `need_read`).
    pub(crate) fn config(
        &self,
        need_read: bool,
    ) -> Result<lorafield_microshare::client::ClientConfig> {
        use lorafield_microshare::Secret;
        use lorafield_microshare::client::{ClientConfig, Credentials, Endpoints};
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
        Ok(config)
    }
}

/// Delivers the outbox until nothing is pending or in flight (or delivery stops), with the
/// delivery worker of `serve`: the adaptive limit, and a look-up before posting again a
/// record an earlier attempt may have stored (password credentials).
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
        let config = WorkerConfig::default();
        let queue = lorafield_microshare::queue::OutboxQueue::new(outbox.clone(), config.lease);
        let worker = tokio::spawn(worker::run(
            Arc::new(queue),
            client,
            config,
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
    let found = stats.found.load(Ordering::Relaxed);
    let unknown = stats.unknown_outcomes.load(Ordering::Relaxed);
    eprintln!(
        "lorafield redecode: to Microshare {rec_type}: delivered {}{}, dead {}, retried {}{}",
        stats.delivered.load(Ordering::Relaxed),
        match found {
            0 => String::new(),
            n => format!(" ({n} found stored by an earlier attempt, not posted again)"),
        },
        result.dead,
        stats.retried.load(Ordering::Relaxed),
        match unknown {
            0 => String::new(),
            n => format!(
                "; {} that may have stored {} record could not be checked before it was \
                 posted again (a pipe token cannot ask): possible duplicates",
                crate::commands::counted(n, "attempt"),
                if n == 1 { "its" } else { "their" }
            ),
        }
    );
    if let Some(reason) = stats.stopped() {
        bail!(
            "delivery stopped: {reason}; {} {} in the outbox",
            crate::commands::counted(result.pending + result.in_flight, "record"),
            if result.pending + result.in_flight == 1 {
                "waits"
            } else {
                "wait"
            }
        );
    }
    Ok(())
}
