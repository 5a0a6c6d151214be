//! `lorafield outbox`: look into and mend the outbox of `lorafield serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

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

pub(crate) fn run(args: OutboxArgs) -> Result<ExitCode> {
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
