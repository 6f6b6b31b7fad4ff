//! The nadir HTTP scoring service: every saved model of a directory behind one axum server,
//! taking records as users have them (JSON, CSV, NDJSON), with the original Flask apps'
//! contract kept for their users.
//!
//! [`Server`] holds the state and the router; [`Server::serve`] runs it on a listener until
//! a shutdown future completes; [`run`] is the blocking entry point of `nadir serve`
//! (runtime, signals, logging). Every request passes one middleware ([`observe`]) that gives
//! it an id, a concurrency slot and a deadline, and logs and counts it.

pub mod api;
pub mod body;
pub mod error;
mod logging;
pub mod metrics;
pub mod models;
pub mod openapi;
pub mod state;
pub mod web;

pub use models::{LoadError, ModelSet};
pub use state::{AppState, ServerConfig};

use api::ModelLabel;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use error::ApiError;
use state::Slot;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

/// How long shutdown waits for in-flight requests beyond the request timeout.
const DRAIN_MARGIN: Duration = Duration::from_secs(2);

/// Why the server could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A server ready to run: its state and its router.
pub struct Server {
    state: Arc<AppState>,
}

impl Server {
    /// Loads the models; fails naming every bad model file.
    pub fn new(config: ServerConfig) -> Result<Server, ServerError> {
        let state = Arc::new(AppState::new(config)?);
        let models = state.models();
        tracing::info!(
            dir = %models.dir.display(),
            models = ?models.names(),
            schema = models.schema().map(|s| s.title()).unwrap_or_default(),
            "loaded {} model(s)",
            models.len()
        );
        Ok(Server { state })
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The API routes, the web page's routes and the middleware.
    pub fn router(&self) -> Router {
        let state = self.state.clone();
        api::router()
            .with_state(state.clone())
            .merge(web::routes(state.config.report.clone()))
            .fallback(api::not_found)
            .layer(middleware::from_fn_with_state(state.clone(), observe))
            .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting connections and
    /// lets in-flight requests finish (for at most the request timeout plus a margin).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let drain = self.state.config.request_timeout + DRAIN_MARGIN;
        let draining = Arc::new(tokio::sync::Notify::new());
        let notify = draining.clone();
        let graceful = axum::serve(listener, self.router()).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            notify.notify_one();
        });
        tokio::select! {
            result = graceful.into_future() => result?,
            () = async { draining.notified().await; tokio::time::sleep(drain).await } => {
                tracing::warn!("connections still open after {drain:?}; stopping anyway");
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Request ids: the client's `x-request-id` when it is a short token, else this process's
/// id and a counter (unique within the log of one server).
fn request_id(request: &Request) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(String::from)
        .unwrap_or_else(|| {
            format!(
                "{:x}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            )
        })
}

/// The middleware every request passes: request id, a concurrency slot (not for the health
/// and metrics routes) and a deadline (both 503 when exceeded), then one log line with the
/// id and the metrics. The line carries the id itself rather than through a span around the
/// request, which cost a formatted allocation and an enter and exit per poll.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request_id(&request);
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    let timeout = state.config.request_timeout;
    // Probes and scrapes never wait behind scoring work: a slow upload holding every slot
    // must not make a healthy server look dead.
    let needs_slot = !matches!(route, "/healthz" | "/readyz" | "/metrics");
    let work = async {
        let mut request = request;
        // The semaphore is never closed, so acquiring always gives a permit. The slot is held
        // here until the handler answers (handlers take the request apart, and its
        // extensions with it, before reading the body), and shared with any work the
        // handler hands to rayon, which may hold it longer.
        let slot = if needs_slot {
            let _waiting = state.metrics.waiting_for_slot();
            let permit = Arc::clone(&state.concurrency).acquire_owned().await;
            permit.ok().map(Slot::new)
        } else {
            None
        };
        if let Some(slot) = &slot {
            request.extensions_mut().insert(slot.clone());
        }
        let response = next.run(request).await;
        drop(slot);
        response
    };
    let mut response = match tokio::time::timeout(timeout, work).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the request did not finish within {timeout:?}"),
        )
        .into_response(),
    };
    let elapsed = start.elapsed();
    let model = response
        .extensions()
        .get::<ModelLabel>()
        .map_or("", |m| m.0.as_str());
    let status = response.status().as_u16();
    state.metrics.request(route, model, status, elapsed);
    tracing::info!(
        id = %id,
        status,
        model,
        micros = elapsed.as_micros() as u64,
        "{method} {route}"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Logs to standard error, one line per event, written off the request path by a thread of
/// their own; `NADIR_LOG` sets the level (`error`, `warn`, `info` (default), `debug`,
/// `trace`, `off`). Set once per process; later calls do nothing.
pub fn init_logging() {
    logging::init();
}

/// `nadir serve`: loads the models, listens on `addr`, calls `on_listening` with the bound
/// address once connections are accepted, reloads on SIGHUP, and shuts down gracefully on
/// SIGTERM or Ctrl-C. Blocks until the server has stopped.
pub fn run(
    config: ServerConfig,
    addr: SocketAddr,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    init_logging();
    // Whatever way this returns (or unwinds), the lines logged are written before.
    struct FlushLogs;
    impl Drop for FlushLogs {
        fn drop(&mut self) {
            logging::flush_at_exit();
        }
    }
    let _flush_logs = FlushLogs;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        runtime.worker_threads(async_workers());
    }
    let runtime = runtime.enable_all().build()?;
    runtime.block_on(async move {
        let server = Server::new(config)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let bound = listener.local_addr()?;
        tracing::info!(%bound, "listening");
        reload_on_sighup(server.state().clone())?;
        let shutdown = shutdown_signal()?;
        on_listening(bound);
        server.serve(listener, shutdown).await
    })
}

/// Async workers: one per two cores (at least one; `TOKIO_WORKER_THREADS` overrides). They
/// only move bytes and score a few records at a time, tens of microseconds per request;
/// batches are scored on rayon's pool, over every core. A worker per core made them wake
/// each other for work and contend with whatever else runs on the machine: on 2 cores shared
/// with the load generator, one worker instead of two cut the 99th-percentile latency of
/// single-record requests from 2.2–2.3 ms to 1.1–1.9 ms at the same throughput.
fn async_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
}

#[cfg(unix)]
fn reload_on_sighup(state: Arc<AppState>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the models");
            let state = state.clone();
            // The outcome is logged and counted by `reload` itself.
            let _ = tokio::task::spawn_blocking(move || state.reload()).await;
        }
    });
    Ok(())
}

#[cfg(not(unix))]
fn reload_on_sighup(_state: Arc<AppState>) -> std::io::Result<()> {
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C (SIGINT). The handlers are installed before it returns,
/// so a signal arriving right after start-up is not lost.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM"),
            _ = interrupt.recv() => tracing::info!("SIGINT"),
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
