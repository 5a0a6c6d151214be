//! The `lorafield` command.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod logs;

use std::io;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Decode LoRaWAN uplink payloads (Cayenne LPP and more) into JSON, re-decode stored uplinks,
/// and forward decoded uplinks to Microshare.
///
/// Exit status: 0 when everything decoded, 1 when some result has errors (warnings do not
/// count) or a vector case failed, 2 on usage or I/O errors.
///
/// Logs go to standard error; LORAFIELD_LOG sets what they show (error, warn, info by default,
/// debug; or per part, such as lorafield_microshare=debug).
#[derive(Parser)]
#[command(name = "lorafield", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Decode(Box<commands::decode::DecodeArgs>),
    Encode(Box<commands::encode::EncodeArgs>),
    #[cfg(feature = "js")]
    Compare(Box<commands::compare::CompareArgs>),
    Codecs(commands::codecs::CodecsArgs),
    Vectors(commands::vectors::VectorsArgs),
    Redecode(Box<commands::redecode::RedecodeArgs>),
    GenShares(commands::gen_shares::GenSharesArgs),
    Serve(Box<commands::serve::ServeArgs>),
    IngestMqtt(Box<commands::ingest_mqtt::IngestMqttArgs>),
    Forward(Box<commands::forward::ForwardArgs>),
    Outbox(commands::outbox::OutboxArgs),
    MicroshareSim(commands::microshare_sim::MicroshareSimArgs),
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
        Command::Decode(args) => commands::decode::run(*args),
        Command::Encode(args) => commands::encode::run(*args),
        #[cfg(feature = "js")]
        Command::Compare(args) => commands::compare::run(*args),
        Command::Codecs(args) => commands::codecs::run(args),
        Command::Vectors(args) => commands::vectors::run(args),
        Command::Redecode(args) => commands::redecode::run(*args),
        Command::GenShares(args) => commands::gen_shares::run(args),
        Command::Serve(args) => commands::serve::run(*args),
        Command::IngestMqtt(args) => commands::ingest_mqtt::run(*args),
        Command::Forward(args) => commands::forward::run(*args),
        Command::Outbox(args) => commands::outbox::run(args),
        Command::MicroshareSim(args) => commands::microshare_sim::run(args),
    }
}
