//! What every handler shares: the models (swapped whole on reload), the limits, the admin
//! token and the metrics.

use crate::metrics::Metrics;
use crate::models::{LoadError, ModelSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The directory of `*.nadir` model files.
    pub models_dir: PathBuf,
    /// The HTML report served at `/report`, if any.
    pub report: Option<PathBuf>,
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Longest a request may take, queueing included (503 after).
    pub request_timeout: Duration,
    /// Requests handled at once; more wait for a slot within their timeout.
    pub max_concurrent: usize,
    /// Bearer token of `POST /v1/admin/reload`; the route is disabled without one.
    pub admin_token: Option<String>,
}

impl ServerConfig {
    /// Defaults for everything but the model directory.
    pub fn new(models_dir: PathBuf) -> ServerConfig {
        ServerConfig {
            models_dir,
            report: None,
            max_body_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_concurrent: 512,
            admin_token: None,
        }
    }
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
