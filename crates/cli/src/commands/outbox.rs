//! `lorafield outbox`: look into and mend the outbox of `lorafield serve`, or the JetStream
//! queue of `serve --queue` and `forward` (`--queue nats://...`).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use lorafield_microshare::outbox::{self, DeadLetter, DeadLetters};
use lorafield_microshare::queue::{JetStream, Queue};

use super::counted;
use crate::args::queue::QueueArgs;

/// Look into the outbox of `lorafield serve`: counts, dead letters, delivered records. These
/// work beside a running serve (they open the database on their own; the serve's lock is not
/// needed).
///
/// With --queue nats://HOST:PORT, the same on the JetStream queue of `serve --queue` and
/// `forward`: status counts pending (in the stream, not leased), in flight (leased by a
/// forward, not yet acknowledged), redelivered and dead (in the dead-letter stream); dead
/// lists the dead-letter stream; retry-dead publishes each dead letter to the stream again
/// under a new message id (never dropped as a duplicate) and removes it from the dead-letter
/// stream. JetStream forgets a record once it is delivered: there is nothing to purge.
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
    #[command(flatten)]
    queue: QueueArgs,
    /// The JetStream consumer the forwards share (for the in-flight count).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "lorafield-forward",
        global = true
    )]
    consumer: String,
}

#[derive(Subcommand)]
pub(crate) enum OutboxAction {
    /// Print the counts as JSON: pending, in_flight, delivered, dead, oldest_pending_age_s.
    Status,
    /// List the dead letters, newest first: key, recType, attempts, the last HTTP status
    /// ("-" when there was no answer) and the reason.
    Dead {
        /// List at most this many (a last line says how many more there are).
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// JSON Lines instead of a table: {"attempts","created_ms","died_ms","id","key",
        /// "last_status","reason","recType"} per dead letter.
        #[arg(long)]
        json: bool,
    },
    /// Move every dead record back to pending, due now, with its attempts reset.
    RetryDead,
    /// Forget the delivered records and their keys (an uplink with one of those keys is taken
    /// again afterwards, not answered as a duplicate).
    PurgeDelivered,
}

pub(crate) fn run(args: OutboxArgs) -> Result<ExitCode> {
    if args.queue.queue.is_some() {
        return run_jetstream(args);
    }
    let dir = &args.outbox;
    match args.action {
        OutboxAction::Status => {
            let s = outbox::status(dir)?;
            println!("{}", serde_json::to_string(&s)?);
        }
        OutboxAction::Dead { limit, json } => print_dead(&outbox::dead_letters(dir, limit)?, json)?,
        OutboxAction::RetryDead => print_retried(outbox::retry_dead(dir)?),
        OutboxAction::PurgeDelivered => {
            let n = outbox::purge_delivered(dir)?;
            eprintln!(
                "lorafield outbox: {} forgotten",
                counted(n, "delivered record")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The same commands on the JetStream queue.
fn run_jetstream(args: OutboxArgs) -> Result<ExitCode> {
    let Some(nats) = args.queue.nats("lorafield outbox")? else {
        unreachable!("--queue is given");
    };
    let streams = args.queue.streams()?;
    if matches!(args.action, OutboxAction::PurgeDelivered) {
        bail!(
            "JetStream forgets a record once it is delivered: purge-delivered is for the SQLite outbox only"
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let queue = JetStream::attach(&nats, streams, &args.consumer).await?;
        match args.action {
            OutboxAction::Status => {
                let s = queue.status().await?;
                println!("{}", serde_json::to_string(&s)?);
            }
            OutboxAction::Dead { limit, json } => {
                print_dead(&queue.dead_letters(limit).await?, json)?;
            }
            OutboxAction::RetryDead => print_retried(queue.retry_dead().await?),
            OutboxAction::PurgeDelivered => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn print_retried(n: u64) {
    let verb = if n == 1 { "is" } else { "are" };
    eprintln!(
        "lorafield outbox: {} {verb} pending again",
        counted(n, "dead record")
    );
}

/// The dead letters, as a table or JSON Lines, and on standard error how many more there are.
fn print_dead(dead: &DeadLetters, json: bool) -> Result<()> {
    let mut out = io::stdout().lock();
    if json {
        for letter in &dead.letters {
            serde_json::to_writer(&mut out, letter)?;
            writeln!(out)?;
        }
    } else if !dead.letters.is_empty() {
        write_table(&mut out, &dead.letters)?;
    }
    out.flush()?;
    let more = dead.total.saturating_sub(dead.letters.len() as u64);
    if more > 0 {
        let noun = if more == 1 { "letter" } else { "letters" };
        eprintln!(
            "lorafield outbox: {more} more dead {noun}; --limit {} lists them all",
            dead.total
        );
    } else if dead.total == 0 {
        eprintln!("lorafield outbox: no dead letters");
    }
    Ok(())
}

/// KEY, RECTYPE, ATTEMPTS, STATUS, REASON: the columns padded to their widest cell, the
/// reason last and whole (on one line).
fn write_table(out: &mut impl Write, letters: &[DeadLetter]) -> io::Result<()> {
    let rows: Vec<[String; 5]> = letters
        .iter()
        .map(|d| {
            [
                d.key.clone(),
                d.rec_type.clone(),
                d.attempts.to_string(),
                d.last_status.map_or("-".into(), |s| s.to_string()),
                d.reason.replace(['\n', '\r'], " "),
            ]
        })
        .collect();
    let head = ["KEY", "RECTYPE", "ATTEMPTS", "STATUS", "REASON"];
    let mut widths = head.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(head.map(String::from)).chain(rows) {
        let [key, rec_type, attempts, status, reason] = row;
        writeln!(
            out,
            "{key:<w0$}  {rec_type:<w1$}  {attempts:>w2$}  {status:>w3$}  {reason}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        )?;
    }
    Ok(())
}
