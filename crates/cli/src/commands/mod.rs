//! One module per subcommand: its clap arguments and a `run` that calls the library crates.

pub(crate) mod codecs;
#[cfg(feature = "js")]
pub(crate) mod compare;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod gen_shares;
pub(crate) mod microshare_sim;
pub(crate) mod outbox;
pub(crate) mod redecode;
pub(crate) mod serve;
pub(crate) mod vectors;
