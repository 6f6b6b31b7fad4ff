//! `nadir serve`'s settings, from a TOML file (`--config FILE`) and from flags: one type,
//! [`ServeSettings`], every setting optional, so that flags given override the file
//! ([`ServeSettings::over`]) and what neither gives takes the defaults of
//! [`ServerConfig::new`] ([`ServeSettings::resolve`]). The keys are the flags' names with
//! `_` for `-` (`max_body` for `--max-body`); a key the server does not know is an error
//! naming it, so a misspelt setting is not silently left at its default.
//! `docs/serve.example.toml` holds every key, and a test loads it.

use crate::state::ServerConfig;
use nadir_telemetry::LogFormat;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// Where the server listens by default.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// The model directory by default.
pub const DEFAULT_MODELS_DIR: &str = "models";

/// The server's settings as given: `None` for each one not given.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// Address to listen on.
    pub addr: Option<SocketAddr>,
    /// Directory of `*.nadir` model files.
    pub models: Option<PathBuf>,
    /// HTML report served at `/report`.
    pub report: Option<PathBuf>,
    /// Largest request body in bytes.
    pub max_body: Option<usize>,
    /// [`ServerConfig::request_timeout`], in seconds.
    pub timeout: Option<f64>,
    /// [`ServerConfig::body_timeout`], in seconds.
    pub body_timeout: Option<f64>,
    /// [`ServerConfig::header_timeout`], in seconds.
    pub header_timeout: Option<f64>,
    /// [`ServerConfig::idle_timeout`], in seconds.
    pub idle_timeout: Option<f64>,
    /// Requests handled at once.
    pub max_concurrent: Option<usize>,
    /// Connections served at once.
    pub max_connections: Option<usize>,
    /// Text or JSON log lines.
    pub log_format: Option<LogFormat>,
}

/// Settings that cannot be used.
#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("{file}: {message}", file = file.display())]
    File { file: PathBuf, message: String },
    #[error("{key} (--{flag}) must be a positive number of seconds, got {value}", flag = key.replace('_', "-"))]
    Seconds { key: &'static str, value: f64 },
}

impl ServeSettings {
    /// The settings of a TOML file's text; `file` names it in errors (a key the server does
    /// not know, a value of the wrong type, TOML that does not parse: each with its line).
    pub fn from_toml(text: &str, file: &Path) -> Result<ServeSettings, SettingsError> {
        toml::from_str(text).map_err(|e| SettingsError::File {
            file: file.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// These settings, and `under`'s where these give none: flags over a file.
    pub fn over(self, under: ServeSettings) -> ServeSettings {
        ServeSettings {
            addr: self.addr.or(under.addr),
            models: self.models.or(under.models),
            report: self.report.or(under.report),
            max_body: self.max_body.or(under.max_body),
            timeout: self.timeout.or(under.timeout),
            body_timeout: self.body_timeout.or(under.body_timeout),
            header_timeout: self.header_timeout.or(under.header_timeout),
            idle_timeout: self.idle_timeout.or(under.idle_timeout),
            max_concurrent: self.max_concurrent.or(under.max_concurrent),
            max_connections: self.max_connections.or(under.max_connections),
            log_format: self.log_format.or(under.log_format),
        }
    }

    /// The address to listen on and the server's configuration: the settings given, the
    /// defaults for the rest. The admin token is not a setting (it is a secret: the
    /// environment's `NADIR_ADMIN_TOKEN`); the limits are checked by [`ServerConfig::validate`]
    /// when the server starts.
    pub fn resolve(self) -> Result<(SocketAddr, ServerConfig), SettingsError> {
        let addr = self.addr.unwrap_or(DEFAULT_ADDR);
        let defaults = ServerConfig::new(
            self.models
                .unwrap_or_else(|| PathBuf::from(DEFAULT_MODELS_DIR)),
        );
        let seconds = |key: &'static str, value: Option<f64>, default: Duration| {
            value.map_or(Ok(default), |value| {
                Duration::try_from_secs_f64(value)
                    .map_err(|_| SettingsError::Seconds { key, value })
            })
        };
        let config = ServerConfig {
            report: self.report,
            max_body_bytes: self.max_body.unwrap_or(defaults.max_body_bytes),
            request_timeout: seconds("timeout", self.timeout, defaults.request_timeout)?,
            body_timeout: seconds("body_timeout", self.body_timeout, defaults.body_timeout)?,
            header_timeout: seconds(
                "header_timeout",
                self.header_timeout,
                defaults.header_timeout,
            )?,
            idle_timeout: seconds("idle_timeout", self.idle_timeout, defaults.idle_timeout)?,
            max_concurrent: self.max_concurrent.unwrap_or(defaults.max_concurrent),
            max_connections: self.max_connections.unwrap_or(defaults.max_connections),
            log_format: self.log_format.unwrap_or(defaults.log_format),
            ..defaults
        };
        Ok((addr, config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../docs/serve.example.toml");

    #[test]
    fn the_example_file_sets_every_setting() {
        let file = Path::new("docs/serve.example.toml");
        let settings = ServeSettings::from_toml(EXAMPLE, file).unwrap();
        let ServeSettings {
            addr,
            models,
            report,
            max_body,
            timeout,
            body_timeout,
            header_timeout,
            idle_timeout,
            max_concurrent,
            max_connections,
            log_format,
        } = settings.clone();
        assert!(addr.is_some() && models.is_some() && report.is_some());
        assert!(max_body.is_some() && timeout.is_some() && body_timeout.is_some());
        assert!(header_timeout.is_some() && idle_timeout.is_some());
        assert!(max_concurrent.is_some() && max_connections.is_some());
        assert_eq!(log_format, Some(LogFormat::Json));
        let (addr, config) = settings.resolve().unwrap();
        assert_eq!(addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.models_dir, PathBuf::from("/var/lib/nadir/models"));
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert_eq!(config.header_timeout, Duration::from_secs_f64(2.5));
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it_and_the_file() {
        let file = Path::new("/etc/nadir/serve.toml");
        let error = ServeSettings::from_toml("max_body = 10\nmax_bdoy = 20\n", file)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("/etc/nadir/serve.toml: "), "{error}");
        assert!(error.contains("unknown field `max_bdoy`"), "{error}");
        assert!(error.contains("line 2"), "{error}");
        let error = ServeSettings::from_toml("log_format = \"xml\"\n", file)
            .unwrap_err()
            .to_string();
        assert!(error.contains("xml"), "{error}");
    }

    #[test]
    fn given_settings_override_the_file_and_defaults_fill_the_rest() {
        let file = ServeSettings::from_toml(
            "timeout = 5\nmax_body = 100\nlog_format = \"json\"\n",
            Path::new("f.toml"),
        )
        .unwrap();
        let flags = ServeSettings {
            max_body: Some(200),
            ..ServeSettings::default()
        };
        let (addr, config) = flags.over(file).resolve().unwrap();
        assert_eq!(config.max_body_bytes, 200);
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert_eq!(config.log_format, LogFormat::Json);
        let defaults = ServerConfig::new(PathBuf::from(DEFAULT_MODELS_DIR));
        assert_eq!(config.idle_timeout, defaults.idle_timeout);
        assert_eq!(config.models_dir, defaults.models_dir);
        assert_eq!(addr.to_string(), "127.0.0.1:8080");
        let negative = ServeSettings {
            idle_timeout: Some(-1.0),
            ..ServeSettings::default()
        };
        assert_eq!(
            negative.resolve().unwrap_err().to_string(),
            "idle_timeout (--idle-timeout) must be a positive number of seconds, got -1"
        );
    }
}
