//! Forwarding decoded uplinks to Microshare, at least once.
//!
//! - [`client`]: the Share API (tokens, `POST /share/{recType}` with tags, paged `GET`).
//! - [`outbox`]: the durable outbox (SQLite, WAL): a record is committed before its webhook is
//!   answered; concurrent records share a commit.
//! - [`worker`]: the delivery worker: an adaptive concurrency limit, exponential backoff with
//!   full jitter, `Retry-After`, a dead-letter table, a look-up before posting again a record
//!   an earlier attempt may have stored.
//! - [`adaptive`]: the concurrency limit: additive increase while round trips hold,
//!   multiplicative decrease on 429, 503, timeouts and rising latency.
//! - [`backlog`]: telling when delivery falls behind the arrivals.
//! - [`queue`]: one queue interface for the delivery path, two backends: the SQLite outbox
//!   (one machine) and NATS JetStream (many).
//! - [`throttle`]: rate-limited log lines (one per kind per interval, counting the rest).
//! - [`sim`]: a local Microshare simulator with fault injection, for tests and for trying the
//!   bridge without an account.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod adaptive;
pub mod backlog;
pub mod client;
pub mod outbox;
pub mod queue;
mod secret;
pub mod sim;
pub mod throttle;
pub mod worker;

pub use secret::Secret;
