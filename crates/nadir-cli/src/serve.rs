//! `nadir serve`: the HTTP scoring service of `nadir_server`, started from the command line.

use anyhow::{Context, Result};
use clap::Args;
use nadir_server::{ServeSettings, ServerConfig};
use nadir_telemetry::LogFormat;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Args)]
#[command(
    after_help = "Routes: POST /v1/models/{name}/predict, /v1/predict, /v1/anomaly, /predict; \
GET /v1/models, /healthz, /readyz, /metrics, /openapi.json; POST /v1/admin/reload \
(bearer token from NADIR_ADMIN_TOKEN; disabled when unset). SIGHUP reloads the models; \
SIGTERM or Ctrl-C stops after the requests in flight.

Logs go to standard error. RUST_LOG sets what is logged, as directives (info by default: \
start-up, reloads, warnings, errors; RUST_LOG=nadir_server=debug,info adds a line per \
request with its id, method, path, status, model and duration); NADIR_LOG (a level) is read \
when RUST_LOG is unset.

Settings may come from a TOML file (--config FILE: the flags' names with _ for -, e.g. \
max_body = 1048576; docs/serve.example.toml lists them); flags given override it.

Example:
  nadir serve --models models --addr 127.0.0.1:8080"
)]
pub struct ServeArgs {
    /// TOML file of settings (keys: the flags below, with `_` for `-`); flags given override
    /// it, and a key it does not know is an error.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of model files (`*.nadir`, named by file stem), as written by `nadir train`
    /// [default: models].
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (the `listening on` line shows it)
    /// [default: 127.0.0.1:8080].
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<SocketAddr>,
    /// HTML report (from `nadir report`) to serve at /report.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Largest request body in bytes (413 above) [default: 16777216].
    #[arg(long, value_name = "BYTES")]
    max_body: Option<usize>,
    /// Longest a request may take in seconds once its body has arrived, waiting for a slot
    /// included (503 after) [default: 30].
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Longest a scoring request's body may take to arrive in seconds (408 after). Bodies
    /// are read before a slot is taken, so slow uploads hold none [default: 30].
    #[arg(long, value_name = "SECONDS")]
    body_timeout: Option<f64>,
    /// Longest a connection may take to send a request's head in seconds, from its opening
    /// or its first byte after idling (closed after) [default: 10].
    #[arg(long, value_name = "SECONDS")]
    header_timeout: Option<f64>,
    /// Longest a connection may stay idle between requests in seconds (closed after)
    /// [default: 60].
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<f64>,
    /// Requests handled at once; more wait for a slot [default: 512].
    #[arg(long, value_name = "N")]
    max_concurrent: Option<usize>,
    /// Connections served at once; more are answered 503 and closed. At most the open-file
    /// limit (ulimit -n) less 64. [default: 4096, or the open-file limit less 64 if lower]
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Log lines as `text` or `json` (one object per line: timestamp, level, target, message
    /// and the event's fields) [default: text].
    #[arg(long, value_name = "FORMAT", value_parser = LogFormat::from_str)]
    log_format: Option<LogFormat>,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let flags = ServeSettings {
        addr: args.addr,
        models: args.models,
        report: args.report,
        max_body: args.max_body,
        timeout: args.timeout,
        body_timeout: args.body_timeout,
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        max_concurrent: args.max_concurrent,
        max_connections: args.max_connections,
        log_format: args.log_format,
    };
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the settings file {}", path.display()))?;
            ServeSettings::from_toml(&text, path)?
        }
        None => ServeSettings::default(),
    };
    let (addr, config) = flags.over(file).resolve()?;
    let config = ServerConfig {
        admin_token: std::env::var("NADIR_ADMIN_TOKEN").ok(),
        ..config
    };
    nadir_server::run(config, addr, |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    })?;
    Ok(())
}
