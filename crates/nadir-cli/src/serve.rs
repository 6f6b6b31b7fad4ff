//! `nadir serve`: the HTTP scoring service of `nadir_server`, started from the command line.

use anyhow::{Context, Result};
use clap::Args;
use nadir_server::ServerConfig;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
#[command(
    after_help = "Routes: POST /v1/models/{name}/predict, /v1/predict, /v1/anomaly, /predict; \
GET /v1/models, /healthz, /readyz, /metrics, /openapi.json; POST /v1/admin/reload \
(bearer token from NADIR_ADMIN_TOKEN; disabled when unset). SIGHUP reloads the models; \
SIGTERM or Ctrl-C stops after the requests in flight. NADIR_LOG sets the log level (info by \
default: start-up, reloads, warnings, errors; debug adds a line per request).

Example:
  nadir serve --models models --addr 127.0.0.1:8080"
)]
pub struct ServeArgs {
    /// Directory of model files (`*.nadir`, named by file stem), as written by `nadir train`.
    #[arg(long, default_value = "models", value_name = "DIR")]
    models: PathBuf,
    /// Address to listen on; port 0 picks a free port (the `listening on` line shows it).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    addr: SocketAddr,
    /// HTML report (from `nadir report`) to serve at /report.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Largest request body in bytes (413 above).
    #[arg(long, default_value_t = 16 * 1024 * 1024, value_name = "BYTES")]
    max_body: usize,
    /// Longest a request may take in seconds once its body has arrived, waiting for a slot
    /// included (503 after).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    timeout: f64,
    /// Longest a scoring request's body may take to arrive in seconds (408 after). Bodies
    /// are read before a slot is taken, so slow uploads hold none.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    body_timeout: f64,
    /// Longest a connection may take to send a request's head in seconds, from its opening
    /// or its first byte after idling (closed after).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    header_timeout: f64,
    /// Longest a connection may stay idle between requests in seconds (closed after).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    idle_timeout: f64,
    /// Requests handled at once; more wait for a slot.
    #[arg(long, default_value_t = 512, value_name = "N")]
    max_concurrent: usize,
    /// Connections served at once; more are answered 503 and closed. At most the open-file
    /// limit (ulimit -n) less 64. [default: 4096, or the open-file limit less 64 if lower]
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let defaults = ServerConfig::new(args.models);
    let config = ServerConfig {
        report: args.report,
        max_body_bytes: args.max_body,
        request_timeout: seconds("--timeout", args.timeout)?,
        body_timeout: seconds("--body-timeout", args.body_timeout)?,
        header_timeout: seconds("--header-timeout", args.header_timeout)?,
        idle_timeout: seconds("--idle-timeout", args.idle_timeout)?,
        max_concurrent: args.max_concurrent,
        max_connections: args.max_connections.unwrap_or(defaults.max_connections),
        admin_token: std::env::var("NADIR_ADMIN_TOKEN").ok(),
        ..defaults
    };
    nadir_server::run(config, args.addr, |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    })?;
    Ok(())
}

/// A `--*-timeout` value as a duration; the server refuses zero before it loads anything.
fn seconds(flag: &str, value: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a positive number of seconds, got {value}"))
}
