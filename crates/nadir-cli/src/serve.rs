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
SIGTERM or Ctrl-C stops after the requests in flight. NADIR_LOG sets the log level.

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
    /// Longest a request may take in seconds, waiting for a slot included (503 after).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    timeout: f64,
    /// Requests handled at once; more wait for a slot.
    #[arg(long, default_value_t = 512, value_name = "N")]
    max_concurrent: usize,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .with_context(|| {
            format!(
                "--timeout must be a positive number of seconds, got {}",
                args.timeout
            )
        })?;
    if args.max_concurrent == 0 {
        anyhow::bail!("--max-concurrent must be at least 1");
    }
    let config = ServerConfig {
        report: args.report,
        max_body_bytes: args.max_body,
        request_timeout: timeout,
        max_concurrent: args.max_concurrent,
        admin_token: std::env::var("NADIR_ADMIN_TOKEN").ok(),
        ..ServerConfig::new(args.models)
    };
    nadir_server::run(config, args.addr, |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    })?;
    Ok(())
}
