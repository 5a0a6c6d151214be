//! Logs on standard error, filtered by `LORAFIELD_LOG`.

use std::io::{self, IsTerminal};

/// Starts the log subscriber: `LORAFIELD_LOG` (an env-filter: `debug`, `lorafield=trace`, ...),
/// `info` by default. The NATS client's connection logs at most at debug, whatever is asked:
/// at trace it writes its CONNECT message, password and token included.
pub(crate) fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("LORAFIELD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = match "async_nats::connection=debug".parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}
