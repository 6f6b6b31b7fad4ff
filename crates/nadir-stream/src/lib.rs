//! Scoring records as they arrive on a Redis Stream, by any number of stateless consumers in
//! one consumer group, and publishing records there.
//!
//! - [`entry`]: the contract — what an input entry holds, what a result and a dead letter
//!   write;
//! - [`score`]: entries to results, each record read as `nadir predict` reads a file;
//! - [`consumer`]: the loop — read, claim, score, write and acknowledge at least once;
//! - [`publish`]: files to input entries, pipelined;
//! - [`config`], [`metrics`], [`server`]: checked parameters, Prometheus counters, reaching
//!   Redis.
//!
//! Redis client: the `redis` crate, synchronously. `fred` was the alternative: async only,
//! with pooling and cluster routing a single blocking reader does not use; `redis` has typed
//! stream replies (XREADGROUP, XPENDING, XCLAIM, XINFO) and MULTI/EXEC pipelines, which is all
//! a consumer needs.

pub mod config;
pub mod consumer;
pub mod entry;
pub mod metrics;
pub mod publish;
pub mod score;
pub mod server;

pub use config::{ConfigError, ConsumerConfig, ConsumerParams};
pub use consumer::{Consumer, StreamError};
pub use publish::{PublishError, Published, Publisher, entries_of};
pub use score::Scorer;
