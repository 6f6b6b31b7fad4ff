//! `nadir serve`: the HTTP scoring service of `nadir_server`, started from the command line.

use anyhow::{Context, Result};
use clap::Args;
use nadir_server::settings::{DEFAULT_ADDR, DEFAULT_MODELS_DIR};
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
    #[arg(long, value_name = "DIR", help = with_default(
        "Directory of model files (`*.nadir`, named by file stem), as written by `nadir train`",
        DEFAULT_MODELS_DIR,
    ))]
    models: Option<PathBuf>,
    #[arg(long, value_name = "HOST:PORT", help = with_default(
        "Address to listen on; port 0 picks a free port (the `listening on` line shows it)",
        DEFAULT_ADDR,
    ))]
    addr: Option<SocketAddr>,
    /// HTML report (from `nadir report`) to serve at /report.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[arg(long, value_name = "BYTES", help = with_default(
        "Largest request body in bytes (413 above)",
        defaults().max_body_bytes,
    ))]
    max_body: Option<usize>,
    #[arg(long, value_name = "SECONDS", help = with_default(
        "Longest a request may take in seconds once its body has arrived, waiting for a slot \
         included (503 after)",
        defaults().request_timeout.as_secs_f64(),
    ))]
    timeout: Option<f64>,
    #[arg(long, value_name = "SECONDS", help = with_default(
        "Longest a scoring request's body may take to arrive in seconds (408 after). Bodies \
         are read before a slot is taken, so slow uploads hold none",
        defaults().body_timeout.as_secs_f64(),
    ))]
    body_timeout: Option<f64>,
    #[arg(long, value_name = "SECONDS", help = with_default(
        "Longest a connection may take to send a request's head in seconds, from its opening \
         or its first byte after idling (closed after)",
        defaults().header_timeout.as_secs_f64(),
    ))]
    header_timeout: Option<f64>,
    #[arg(long, value_name = "SECONDS", help = with_default(
        "Longest a connection may stay idle between requests in seconds (closed after)",
        defaults().idle_timeout.as_secs_f64(),
    ))]
    idle_timeout: Option<f64>,
    #[arg(long, value_name = "N", help = with_default(
        "Requests handled at once; more wait for a slot",
        defaults().max_concurrent,
    ))]
    max_concurrent: Option<usize>,
    #[arg(long, value_name = "N", help = with_default(
        "Connections served at once; more are answered 503 and closed. At most the open-file \
         limit (ulimit -n) less 64",
        defaults().max_connections,
    ))]
    max_connections: Option<usize>,
    #[arg(long, value_name = "FORMAT", value_parser = LogFormat::from_str, help = with_default(
        "Log lines as `text` or `json` (one object per line: timestamp, level, target, message \
         and the event's fields)",
        defaults().log_format,
    ))]
    log_format: Option<LogFormat>,
}

/// The settings `serve` runs with when neither a flag nor the file gives them: the library's,
/// so that the help cannot drift from what runs.
fn defaults() -> ServerConfig {
    ServerConfig::new(DEFAULT_MODELS_DIR.into())
}

/// A flag's help with its default, in clap's own `[default: …]` wording (the flags have no clap
/// defaults: a flag not given leaves the settings file's value in place).
fn with_default(text: &str, default: impl std::fmt::Display) -> String {
    format!("{text} [default: {default}]")
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
