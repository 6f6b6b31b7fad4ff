//! What every handler shares: the models (swapped whole on reload), the limits, the admin
//! token and the metrics; and the server's load as readiness and the metrics report it.

use crate::metrics::Metrics;
use crate::models::{LoadError, ModelSet};
use nadir_telemetry::LogFormat;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Open files kept out of `--max-connections`: the listener, the logs, the model files read
/// on reload, the runtime's own descriptors, and the connections over the limit awaiting
/// their head to be answered 503 (at most 16: `conn::OVER_LIMIT_AWAITED`).
pub const RESERVED_FILES: u64 = 64;

/// The most connections served by default, however high the open-file limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The directory of `*.nadir` model files.
    pub models_dir: PathBuf,
    /// The HTML report served at `/report`, if any.
    pub report: Option<PathBuf>,
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Longest a request may take once its body has arrived, waiting for a slot included
    /// (503 after).
    pub request_timeout: Duration,
    /// Longest a scoring request's body may take to arrive, counted from its head (408
    /// after). Bodies are read before a slot is taken, so slow uploads hold no slot.
    pub body_timeout: Duration,
    /// Longest a connection may take to send a request's head, counted from its accept or
    /// from the first byte after an idle spell (closed after).
    pub header_timeout: Duration,
    /// Longest a connection may stay open between requests with nothing sent either way
    /// (closed after).
    pub idle_timeout: Duration,
    /// Requests handled at once; more wait for a slot within their timeout.
    pub max_concurrent: usize,
    /// Connections served at once; the ones beyond are answered 503 and closed.
    pub max_connections: usize,
    /// Bearer token of `POST /v1/admin/reload`; the route is disabled without one.
    pub admin_token: Option<String>,
    /// Text or JSON log lines (which events: `RUST_LOG`).
    pub log_format: LogFormat,
}

/// A setting the server cannot run with.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} must be more than zero")]
    Zero(&'static str),
    #[error(
        "--max-connections {given} leaves too few of this process's {limit} open files \
         (ulimit -n) for its own files: at most {most}; raise the limit or lower \
         --max-connections"
    )]
    TooManyConnections { given: usize, limit: u64, most: u64 },
}

impl ServerConfig {
    /// Defaults for everything but the model directory.
    pub fn new(models_dir: PathBuf) -> ServerConfig {
        ServerConfig {
            models_dir,
            report: None,
            max_body_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_concurrent: 512,
            max_connections: default_max_connections(open_file_limit()),
            admin_token: None,
            log_format: LogFormat::default(),
        }
    }

    /// Checks the limits before anything starts: every timeout and count above zero, and
    /// room under the open-file limit for [`RESERVED_FILES`] beside the connections.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (flag, timeout) in [
            ("--timeout", self.request_timeout),
            ("--body-timeout", self.body_timeout),
            ("--header-timeout", self.header_timeout),
            ("--idle-timeout", self.idle_timeout),
        ] {
            if timeout.is_zero() {
                return Err(ConfigError::Zero(flag));
            }
        }
        if self.max_concurrent == 0 {
            return Err(ConfigError::Zero("--max-concurrent"));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Zero("--max-connections"));
        }
        if let Some(limit) = open_file_limit() {
            let most = limit.saturating_sub(RESERVED_FILES);
            if self.max_connections as u64 > most {
                return Err(ConfigError::TooManyConnections {
                    given: self.max_connections,
                    limit,
                    most,
                });
            }
        }
        Ok(())
    }
}

/// `--max-connections` by default: [`DEFAULT_MAX_CONNECTIONS`], or fewer under a low
/// open-file limit, so that a flood of connections meets a 503 rather than `accept`
/// failing for want of a descriptor (issue 18: 1,100 idle connections under a limit of
/// 1,024 made `/healthz` time out).
fn default_max_connections(open_files: Option<u64>) -> usize {
    open_files.map_or(DEFAULT_MAX_CONNECTIONS, |limit| {
        let room = usize::try_from(limit.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
        room.min(DEFAULT_MAX_CONNECTIONS)
    })
}

/// The process's open-file limit (the soft `RLIMIT_NOFILE`), if it has one.
#[cfg(unix)]
pub fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through a pointer to a live one.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (status == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(not(unix))]
pub fn open_file_limit() -> Option<u64> {
    None
}

/// The state behind every handler.
#[derive(Debug)]
pub struct AppState {
    pub config: ServerConfig,
    /// Readers clone the `Arc` and let go of the lock at once; a reload builds the new set
    /// outside the lock and swaps it in one store, so requests see the old set or the new
    /// one, never a mix.
    models: RwLock<Arc<ModelSet>>,
    /// One reload at a time.
    reloading: Mutex<()>,
    pub metrics: Metrics,
    /// Scoring slots; a request holds one until its work is done (see [`Slot`]).
    pub concurrency: Arc<Semaphore>,
}

/// A request's concurrency slot, shared by the request and any work it hands to rayon's
/// pool: the slot is free again only when both are done, so a client that times out or
/// hangs up cannot leave scoring work running beyond `--max-concurrent`.
#[derive(Clone)]
pub struct Slot {
    _permit: Arc<OwnedSemaphorePermit>,
}

impl Slot {
    pub fn new(permit: OwnedSemaphorePermit) -> Slot {
        Slot {
            _permit: Arc::new(permit),
        }
    }
}

impl AppState {
    /// Loads the models of `config.models_dir`; fails naming every bad file.
    pub fn new(config: ServerConfig) -> Result<AppState, LoadError> {
        let models = ModelSet::load(&config.models_dir)?;
        Ok(AppState {
            concurrency: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            config,
            models: RwLock::new(Arc::new(models)),
            reloading: Mutex::new(()),
            metrics: Metrics::default(),
        })
    }

    /// The models serving now.
    pub fn models(&self) -> Arc<ModelSet> {
        self.models
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Requests holding a concurrency slot now.
    pub fn in_flight(&self) -> usize {
        self.config.max_concurrent.max(1) - self.concurrency.available_permits()
    }

    /// The load now, against the limits.
    pub fn load(&self) -> Load {
        Load {
            models: self.models().len(),
            slots_in_use: self.in_flight(),
            slots: self.config.max_concurrent.max(1),
            waiting_for_slot: self.metrics.waiting(),
            reading_body: self.metrics.reading(),
            connections: self.metrics.connections(),
            max_connections: self.config.max_connections,
        }
    }

    pub fn admin_token(&self) -> Option<&str> {
        self.config.admin_token.as_deref().filter(|t| !t.is_empty())
    }

    /// Loads the directory again and swaps the new models in, or keeps the old ones and
    /// says why. Blocking (reads files): call it off the async workers.
    pub fn reload(&self) -> Result<Vec<String>, LoadError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        match ModelSet::load(&self.config.models_dir) {
            Ok(models) => {
                let names: Vec<String> = models.names().into_iter().map(String::from).collect();
                *self.models.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(models);
                self.metrics.reload(true);
                tracing::info!(models = ?names, "reloaded the models");
                Ok(names)
            }
            Err(e) => {
                self.metrics.reload(false);
                tracing::error!(error = %e, "reload failed; the previous models keep serving");
                Err(e)
            }
        }
    }
}

/// What the server is doing against its limits, as `/readyz` and `/metrics` report it.
#[derive(Debug, Clone, Serialize)]
pub struct Load {
    pub models: usize,
    /// Requests holding a scoring slot, of `slots`.
    pub slots_in_use: usize,
    pub slots: usize,
    pub waiting_for_slot: usize,
    /// Requests whose body is still arriving (they hold no slot).
    pub reading_body: usize,
    /// Connections open, of `max_connections`.
    pub connections: usize,
    pub max_connections: usize,
}

impl Load {
    /// Why a new request would not be served at once, if it would not: every scoring slot
    /// is taken (it would wait), or the connection limit is reached (a new connection would
    /// be answered 503).
    pub fn saturation(&self) -> Option<String> {
        if self.connections >= self.max_connections {
            Some(format!(
                "saturated: {} connections open, the limit (--max-connections)",
                self.connections
            ))
        } else if self.slots_in_use >= self.slots {
            Some(format!(
                "saturated: all {} scoring slots (--max-concurrent) are in use, {} request(s) waiting",
                self.slots, self.waiting_for_slot
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_connection_limit_leaves_room_under_the_file_limit() {
        assert_eq!(default_max_connections(Some(1024)), 960);
        assert_eq!(
            default_max_connections(Some(1 << 20)),
            DEFAULT_MAX_CONNECTIONS
        );
        assert_eq!(default_max_connections(None), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(default_max_connections(Some(10)), 0);
    }

    #[test]
    fn limits_are_checked_before_the_server_starts() {
        let config = ServerConfig::new(PathBuf::from("models"));
        assert_eq!(config.validate(), Ok(()));
        let zero = ServerConfig {
            header_timeout: Duration::ZERO,
            ..config.clone()
        };
        assert_eq!(zero.validate(), Err(ConfigError::Zero("--header-timeout")));
        let none = ServerConfig {
            max_concurrent: 0,
            ..config.clone()
        };
        assert_eq!(none.validate(), Err(ConfigError::Zero("--max-concurrent")));
        if let Some(limit) = open_file_limit() {
            let too_many = ServerConfig {
                max_connections: usize::try_from(limit).unwrap_or(usize::MAX),
                ..config
            };
            assert!(matches!(
                too_many.validate(),
                Err(ConfigError::TooManyConnections { most, .. }) if most == limit - RESERVED_FILES
            ));
        }
    }

    #[test]
    fn saturation_is_a_full_slot_pool_or_the_connection_limit() {
        let load = Load {
            models: 1,
            slots_in_use: 1,
            slots: 2,
            waiting_for_slot: 0,
            reading_body: 5,
            connections: 9,
            max_connections: 10,
        };
        assert_eq!(load.saturation(), None);
        let full = Load {
            slots_in_use: 2,
            ..load.clone()
        };
        assert!(full.saturation().unwrap().contains("all 2 scoring slots"));
        let crowded = Load {
            connections: 10,
            ..load
        };
        assert!(crowded.saturation().unwrap().contains("10 connections"));
    }
}
