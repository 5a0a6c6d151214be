//! The `lorafield` command's building blocks: payload text, the decode stream, conformance
//! vectors. The binary in `main.rs` is a thin clap front end over these.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codecs;
#[cfg(feature = "js")]
pub mod compare;
pub mod config;
pub mod decode;
pub mod downlink;
pub mod forward;
pub mod health;
pub mod intake;
pub mod mqtt;
pub mod payload;
pub mod redecode;
#[cfg(feature = "js")]
pub mod repo_vectors;
pub mod serve;
pub mod vectors;
