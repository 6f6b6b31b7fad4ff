//! What the long-running commands (`nadir serve`, `nadir stream`) tell an operator beside
//! their work, written once for both:
//!
//! - [`logging`]: `tracing` events to standard error as text or JSON lines, filtered by
//!   `RUST_LOG` directives, written off the request path by a thread of their own;
//! - [`process`]: the process's own metrics (memory, CPU time, open files, threads, start
//!   time, read from `/proc`) and the build's, under the names Prometheus's client libraries
//!   use, for each command's `/metrics`.

pub mod logging;
pub mod process;

pub use logging::{LogError, LogFormat, LogGuard};
