//! How records are delivered to Microshare: the options `serve` and `ingest-mqtt` share.

use anyhow::{Result, bail};
use clap::Args;
use lorafield_microshare::client::Client;
use lorafield_microshare::worker::{DEFAULT_CEILING, DEFAULT_FIXED, WorkerConfig};

use super::microshare::MicroshareArgs;

/// Requests in flight, attempts and age before a record is dead-lettered.
#[derive(Args, Clone, Debug)]
pub(crate) struct DeliveryArgs {
    /// Deliveries in flight at most: the ceiling of the adaptive limit [default: 512], or the
    /// fixed limit with --adaptive off [default: 8].
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Whether the limit on deliveries in flight adapts to Microshare (on), or stays at
    /// --concurrency (off).
    #[arg(long, value_name = "on|off", default_value = "on")]
    adaptive: Switch,
    /// Attempts before a record goes to the dead-letter table.
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_attempts: u32,
    /// Hours before a record that keeps failing goes to the dead-letter table.
    #[arg(long, value_name = "H", default_value_t = 168.0)]
    max_age_hours: f64,
    /// Hours a delivered record (its key, not its body) is kept, so that the same uplink sent
    /// again is a duplicate; older ones are forgotten every hour. Longer than any retry or
    /// replay you expect.
    #[arg(long, value_name = "H", default_value_t = 168.0)]
    keep_delivered_hours: f64,
}

/// `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

impl DeliveryArgs {
    /// The delivery worker's settings, checked.
    pub(crate) fn worker(&self) -> Result<WorkerConfig> {
        let adaptive = self.adaptive == Switch::On;
        let concurrency = self.ceiling();
        if concurrency == 0 || self.max_attempts == 0 {
            bail!("--concurrency and --max-attempts must be at least 1");
        }
        if !(self.max_age_hours > 0.0 && self.max_age_hours.is_finite()) {
            bail!("--max-age-hours must be a positive number");
        }
        Ok(WorkerConfig {
            concurrency,
            adaptive: adaptive.then(Default::default),
            max_attempts: self.max_attempts,
            max_age: std::time::Duration::from_secs_f64(self.max_age_hours * 3600.0),
            ..WorkerConfig::default()
        })
    }

    /// How long delivered records are kept in the outbox, checked.
    pub(crate) fn keep_delivered(&self) -> Result<std::time::Duration> {
        let h = self.keep_delivered_hours;
        if !(h > 0.0 && h.is_finite() && h <= 24.0 * 365.0 * 100.0) {
            bail!("--keep-delivered-hours must be a positive number of hours (168: a week)");
        }
        Ok(std::time::Duration::from_secs_f64(h * 3600.0))
    }

    /// The Microshare client to deliver with: its connections pooled up to the ceiling.
    pub(crate) fn client(&self, microshare: &MicroshareArgs) -> Result<Client> {
        let mut config = microshare.config(false)?;
        config.pool = self.ceiling();
        Ok(Client::new(config)?)
    }

    fn ceiling(&self) -> usize {
        self.concurrency.unwrap_or(match self.adaptive {
            Switch::On => DEFAULT_CEILING,
            Switch::Off => DEFAULT_FIXED,
        })
    }
}
