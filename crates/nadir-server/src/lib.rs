//! The nadir HTTP scoring service: every saved model of a directory behind one axum server,
//! taking records as users have them (JSON, CSV, NDJSON), with the original Flask apps'
//! contract kept for their users.
//!
//! [`Server`] holds the state and the router; [`Server::serve`] runs it on a listener until
//! a shutdown future completes (connections, their timeouts and limit: `conn`); [`run`] is
//! the blocking entry point of `nadir serve` (runtime, signals, logging). Every request
//! passes one middleware (`observe`) that gives it an id, reads a scoring request's body
//! under its own deadline, then gives it a concurrency slot and a deadline, and logs and
//! counts it.

pub mod api;
pub mod body;
mod conn;
pub mod error;
pub mod metrics;
pub mod models;
pub mod openapi;
pub mod settings;
pub mod state;
pub mod web;

pub use models::{LoadError, ModelSet};
pub use settings::{ServeSettings, SettingsError};
pub use state::{AppState, ConfigError, ServerConfig};

use api::{ModelLabel, RequestBody};
use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use error::ApiError;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use nadir_telemetry::logging::Throttle;
use state::Slot;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

/// How long shutdown waits for in-flight requests beyond their head, body and request
/// timeouts.
const DRAIN_MARGIN: Duration = Duration::from_secs(2);

/// Why the server could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
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
    #[error(transparent)]
    Log(#[from] nadir_telemetry::LogError),
}

/// A server ready to run: its state and its router.
pub struct Server {
    state: Arc<AppState>,
}

impl Server {
    /// Checks the settings and loads the models; fails on a bad setting, or naming every
    /// bad model file.
    pub fn new(config: ServerConfig) -> Result<Server, ServerError> {
        config.validate()?;
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
    /// lets in-flight requests finish (for at most their timeouts plus a margin).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let config = &self.state.config;
        let drain =
            config.header_timeout + config.body_timeout + config.request_timeout + DRAIN_MARGIN;
        conn::serve(listener, self.router(), self.state.clone(), shutdown, drain).await;
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

/// The health and metrics routes: they take no slot, and are answered even on connections
/// over the limit, so that a flood of work or connections does not make a live server look
/// dead or hide its metrics.
pub(crate) const PROBES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// 5xx answers are logged at `warn`, at most one line per interval: under overload every
/// request could be one.
static SERVER_ERRORS: Throttle = Throttle::new(Duration::from_secs(1));

/// The middleware every request passes: a request id; for the scoring routes, the body read
/// in full under its own deadline (408 after) before anything else, so that a slow upload
/// holds no concurrency slot (issue 18, F2: 520 bodies sent at a byte a second took all 512
/// slots); then a slot (not for the health and metrics routes) and the request deadline
/// (503 when exceeded); then the metrics and a log line with the id, method, path, route,
/// status, model and duration as fields (`debug`, `warn` for 5xx). An answer that leaves the
/// body unread says `Connection: close`. The line carries the id itself rather than through
/// a span around the request, which cost a formatted allocation and an enter and exit per
/// poll.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request_id(&request);
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    // A `Uri` clone shares its bytes: the path is logged without a copy made per request.
    let uri = request.uri().clone();
    let has_body = !request.body().is_end_stream();
    let (mut response, body_read) = if has_body && takes_body(route, &method) {
        match read_body(&state, request).await {
            Ok(request) => (handle(&state, route, request, next).await, true),
            Err(e) => (e.into_response(), false),
        }
    } else {
        (handle(&state, route, request, next).await, !has_body)
    };
    if !body_read {
        conn::close_after(&mut response);
    }
    let elapsed = start.elapsed();
    let model = response
        .extensions()
        .get::<ModelLabel>()
        .map_or("", |m| m.0.as_str());
    let status = response.status().as_u16();
    state.metrics.request(route, model, status, elapsed);
    let duration_us = elapsed.as_micros() as u64;
    let path = uri.path();
    if status < 500 {
        tracing::debug!(
            id = %id,
            method = %method,
            path = %path,
            route = %route,
            status,
            model = %model,
            duration_us,
            "request"
        );
    } else if let Some(more) = SERVER_ERRORS.allow() {
        tracing::warn!(
            id = %id,
            method = %method,
            path = %path,
            route = %route,
            status,
            model = %model,
            duration_us,
            more_5xx_since_last_line = more,
            "request"
        );
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Whether the route matched reads a request body (the scoring routes of [`api::ROUTES`]),
/// which [`observe`] then reads first. Other requests' bodies are left unread.
fn takes_body(route: &str, method: &Method) -> bool {
    api::ROUTES
        .iter()
        .any(|r| r.body != RequestBody::None && r.path == route && r.method == method)
}

/// The request with its body read in full: 413 over `--max-body` (at once when its length
/// says so), 408 when it has not arrived within `--body-timeout`.
async fn read_body(state: &AppState, request: Request) -> Result<Request, ApiError> {
    let limit = state.config.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than the server's limit (--max-body)",
        )
    };
    if request.body().size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    let (parts, body) = request.into_parts();
    let deadline = state.config.body_timeout;
    let _reading = state.metrics.reading_body();
    match tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await {
        Ok(Ok(body)) => Ok(Request::from_parts(parts, Body::from(body.to_bytes()))),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::bad_request(format!("cannot read the body: {e}"))),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {deadline:?} (--body-timeout)"),
        )),
    }
}

/// A concurrency slot (not for the [`PROBES`], which must answer even when every slot is
/// taken) and the handler, within the request timeout (503 after).
async fn handle(state: &AppState, route: &str, mut request: Request, next: Next) -> Response {
    let timeout = state.config.request_timeout;
    let needs_slot = !PROBES.contains(&route);
    let work = async {
        // The semaphore is never closed, so acquiring always gives a permit. The slot is held
        // here until the handler answers, and shared (through the request's extensions)
        // with any work the handler hands to rayon, which may hold it longer.
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
    match tokio::time::timeout(timeout, work).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the request did not finish within {timeout:?}"),
        )
        .into_response(),
    }
}

/// `nadir serve`: sets up the log (`config.log_format`, `RUST_LOG`: `nadir_telemetry::logging`),
/// loads the models, listens on `addr`, calls `on_listening` with the bound address once
/// connections are accepted, reloads on SIGHUP, and shuts down gracefully on SIGTERM or
/// Ctrl-C. Blocks until the server has stopped; the lines logged are written before it
/// returns.
pub fn run(
    config: ServerConfig,
    addr: SocketAddr,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    // Whatever way this returns (or unwinds), the lines logged are written before.
    let _log = nadir_telemetry::logging::init(config.log_format)?;
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
