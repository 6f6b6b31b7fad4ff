//! Connections: the accept loop and each connection's life, in place of `axum::serve`, which
//! has no header or idle timeout and no connection limit (issue 18, F3: idle connections
//! kept open past the open-file limit made `accept` fail every second and `/healthz` time
//! out until they closed).
//!
//! Each connection is served by hyper's HTTP/1 server, as `axum::serve` served it, and
//! watched by deadlines of its own ([`Activity`]):
//! - from its accept, or from the first byte after an idle spell, a request's head must
//!   arrive within `--header-timeout`; trickling bytes does not extend it;
//! - between requests, with nothing sent either way, it may idle for `--idle-timeout`;
//! - while a request is handled neither applies: the body's deadline and the request timeout
//!   (`observe` in lib.rs) bound it.
//!
//! A connection past its deadline is closed: there is no request to answer. hyper's own
//! `header_read_timeout` is not used because it runs whenever hyper waits for a head, idle
//! time between requests included, so a keep-alive connection could not idle for longer
//! than a head may take.
//!
//! At most `--max-connections` are served. The ones beyond are answered 503 with
//! `Connection: close`: once their head has arrived (within the header timeout), at most
//! [`OVER_LIMIT_AWAITED`] at a time, the health and metrics routes being answered as usual,
//! so probes see a live server that says it is saturated rather than one that refuses them;
//! beyond those, at once without reading anything ([`answer_at_once`]). None waits in the
//! backlog, and the descriptors in use stay under the open-file limit. Accept errors (such
//! as `EMFILE`) back off from 5 ms to 1 s and are logged at most once per 10 s.

use crate::error::{ApiError, JsonHeadErrors};
use crate::metrics::Expiry;
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use nadir_telemetry::logging::Throttle;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Connections over the limit whose head is awaited at a time; more are answered at once,
/// so that a flood cannot spend the descriptors kept for the server's own files.
pub(crate) const OVER_LIMIT_AWAITED: usize = 16;

const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const LAST_BACKOFF: Duration = Duration::from_secs(1);

static ACCEPT_ERRORS: Throttle = Throttle::new(Duration::from_secs(10));
static OVER_LIMIT: Throttle = Throttle::new(Duration::from_secs(10));

/// Marks an answer as the connection's last: sent whenever the request's body is left
/// unread, so the client knows the connection closes rather than finding it reset.
pub(crate) fn close_after(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

/// Serves `router` on `listener` until `shutdown` completes; then closes the listener, lets
/// every connection finish the request it is handling, and returns once all are closed or
/// `drain` has passed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let mut http = http1::Builder::new();
    // The header deadline is the connection's own (see the module's documentation).
    http.header_read_timeout(None);
    // Dropped to tell every connection to finish its request and close.
    let (closing, closed) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut backoff = FIRST_BACKOFF;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                backoff = FIRST_BACKOFF;
                let admission = if state.metrics.connections() < state.config.max_connections {
                    Admission::open(state.clone())
                } else if over_the_limit(&state) {
                    Admission {
                        state: state.clone(),
                        over_limit: true,
                    }
                } else {
                    answer_at_once(&stream);
                    continue;
                };
                let connection = Connection {
                    closing: closed.clone(),
                    http: http.clone(),
                };
                connections.spawn(connection.run(stream, router.clone(), admission));
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                state.metrics.accept_error();
                if let Some(more) = ACCEPT_ERRORS.allow() {
                    tracing::error!(
                        "accept error: {e}; retrying in {backoff:?} ({more} more since the last line)"
                    );
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(LAST_BACKOFF);
            }
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    drop(closing);
    let finished = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            "{} connection(s) still open after {drain:?}; stopping anyway",
            connections.len()
        );
    }
}

/// Errors of one connection that came and went before it was accepted: nothing to do.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Counts and logs a connection over the limit; `true` when its head is to be awaited (it
/// counts as awaiting it until its [`Admission`] is dropped), `false` when it is to be
/// answered at once.
fn over_the_limit(state: &AppState) -> bool {
    let after_head = state.metrics.connection_rejected(OVER_LIMIT_AWAITED);
    if let Some(more) = OVER_LIMIT.allow() {
        tracing::warn!(
            "a connection over the limit ({} open, --max-connections): answering 503 ({more} more since the last line)",
            state.metrics.connections()
        );
    }
    after_head
}

/// The 503 of a connection over the limit.
fn over_limit_error() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the server is at its connection limit (--max-connections); try again shortly",
    )
}

/// [`over_limit_error`] as an HTTP/1.1 answer of its own, for [`answer_at_once`].
static OVER_LIMIT_ANSWER: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = over_limit_error().body.to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// Answers 503 without reading the request, when [`OVER_LIMIT_AWAITED`] connections over the
/// limit are awaiting their head already; the socket is closed when dropped. The answer goes
/// in one write (a new socket's send buffer is empty), and what the client has sent so far
/// (at most 64 KiB) is read and dropped, so that closing sends the answer and a FIN rather
/// than a reset that could make the client lose it.
fn answer_at_once(stream: &TcpStream) {
    let _ = stream.try_write(&OVER_LIMIT_ANSWER);
    let mut sent = [0; 4096];
    for _ in 0..16 {
        if !matches!(stream.try_read(&mut sent), Ok(n) if n > 0) {
            break;
        }
    }
}

/// How a connection was let in, counted in the metrics until dropped: within the limit, or
/// over it and being answered 503.
struct Admission {
    state: Arc<AppState>,
    over_limit: bool,
}

impl Admission {
    fn open(state: Arc<AppState>) -> Admission {
        state.metrics.connection_opened();
        Admission {
            state,
            over_limit: false,
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if self.over_limit {
            self.state.metrics.rejection_answered();
        } else {
            self.state.metrics.connection_closed();
        }
    }
}

/// What serving one connection needs besides its socket and service.
struct Connection {
    closing: watch::Receiver<()>,
    http: http1::Builder,
}

impl Connection {
    /// Serves the connection until the client closes it, it passes a deadline, or the
    /// server shuts down (after the request in hand).
    async fn run(mut self, stream: TcpStream, router: Router, admission: Admission) {
        let state = admission.state.clone();
        let activity = Arc::new(Activity::new());
        // hyper answers a request it cannot parse itself, with an empty body: the wrapper
        // gives that answer the JSON body every other error has.
        let io = TokioIo::new(JsonHeadErrors::new(Watched {
            stream,
            activity: activity.clone(),
        }));
        let service = Service {
            router,
            admission,
            activity: activity.clone(),
        };
        let connection = self.http.serve_connection(io, service);
        tokio::pin!(connection);
        let config = &state.config;
        let expired = activity.expired(config.header_timeout, config.idle_timeout);
        tokio::pin!(expired);
        let mut draining = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("connection ended: {e}");
                    }
                    return;
                }
                why = &mut expired => {
                    state.metrics.connection_expired(why);
                    tracing::debug!("closing a connection: {why:?} timeout");
                    return;
                }
                _ = self.closing.changed(), if !draining => {
                    connection.as_mut().graceful_shutdown();
                    draining = true;
                }
            }
        }
    }
}

/// The hyper service of one connection: the API (for a connection over the limit, 503 but
/// to the probes), marking the connection busy while a request is handled.
struct Service {
    router: Router,
    /// Held as long as the connection, for its count.
    admission: Admission,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let busy = Busy::new(self.activity.clone());
        let over_limit = self.admission.over_limit;
        if over_limit && !crate::PROBES.contains(&request.uri().path()) {
            drop(busy);
            let mut response = over_limit_error().into_response();
            close_after(&mut response);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Box::pin(std::future::ready(Ok(response)));
        }
        let answering = tower_service::Service::call(&mut self.router.clone(), request);
        Box::pin(async move {
            let mut response = answering.await;
            if over_limit && let Ok(response) = &mut response {
                close_after(response);
            }
            drop(busy);
            response
        })
    }
}

/// A request being handled: the connection is busy until this is dropped (answered or
/// abandoned alike), and idle from then on.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: Arc<Activity>) -> Busy {
        activity.set(Phase::Busy, 0);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.set(Phase::Idle, self.0.millis());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request's head, since the accept or the idle spell's first byte.
    Head = 0,
    /// Between requests.
    Idle = 1,
    /// Handling a request.
    Busy = 2,
}

/// What a connection is doing, for its deadlines: a phase and when it began, in one word
/// (the phase in the top two bits, milliseconds since the accept below) that the socket
/// ([`Watched`]) and the service update with an atomic store and no wake-up, a few tens of
/// nanoseconds per request.
struct Activity {
    accepted: Instant,
    state: AtomicU64,
}

const PHASE_SHIFT: u32 = 62;

impl Activity {
    fn new() -> Activity {
        Activity {
            accepted: Instant::now(),
            state: AtomicU64::new(pack(Phase::Head, 0)),
        }
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn get(&self) -> (Phase, u64) {
        unpack(self.state.load(Ordering::Acquire))
    }

    fn set(&self, phase: Phase, millis: u64) {
        self.state.store(pack(phase, millis), Ordering::Release);
    }

    /// Bytes arrived: an idle connection starts its next request's head.
    fn read(&self) {
        self.if_idle(Phase::Head);
    }

    /// Bytes went out: an idle connection's client is still reading an answer.
    fn wrote(&self) {
        self.if_idle(Phase::Idle);
    }

    /// Moves an idle connection to `phase`, starting now.
    fn if_idle(&self, phase: Phase) {
        let now = self.state.load(Ordering::Acquire);
        if unpack(now).0 == Phase::Idle {
            let next = pack(phase, self.millis());
            // Lost only to the service marking the connection busy, which then stands.
            let _ = self
                .state
                .compare_exchange(now, next, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// Completes once the connection is past its deadline, saying which.
    ///
    /// A change of phase sets a deadline at least the shorter timeout after it, so looking
    /// again at least that often, and at each deadline, never misses one: the socket and
    /// the service need not wake this watch, and it wakes at most once per that timeout.
    async fn expired(&self, header: Duration, idle: Duration) -> Expiry {
        let recheck = header.min(idle);
        loop {
            let (phase, since) = self.get();
            let now = Instant::now();
            let deadline = match phase {
                Phase::Head => Some((header, Expiry::Header)),
                Phase::Idle => Some((idle, Expiry::Idle)),
                Phase::Busy => None,
            }
            .map(|(limit, why)| (self.accepted + Duration::from_millis(since) + limit, why));
            let wake = match deadline {
                Some((deadline, why)) if deadline <= now => return why,
                Some((deadline, _)) => deadline.min(now + recheck),
                None => now + recheck,
            };
            tokio::time::sleep_until(wake.into()).await;
        }
    }
}

fn pack(phase: Phase, millis: u64) -> u64 {
    (phase as u64) << PHASE_SHIFT | millis.min((1 << PHASE_SHIFT) - 1)
}

fn unpack(word: u64) -> (Phase, u64) {
    let phase = match word >> PHASE_SHIFT {
        0 => Phase::Head,
        1 => Phase::Idle,
        _ => Phase::Busy,
    };
    (phase, word & ((1 << PHASE_SHIFT) - 1))
}

/// A connection's socket, telling its [`Activity`] when bytes move.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, bytes);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_and_its_start_share_one_word() {
        for phase in [Phase::Head, Phase::Idle, Phase::Busy] {
            for millis in [0, 1, 86_400_000, (1 << PHASE_SHIFT) - 1] {
                assert_eq!(unpack(pack(phase, millis)), (phase, millis));
            }
        }
        assert_eq!(
            unpack(pack(Phase::Idle, u64::MAX)),
            (Phase::Idle, (1 << PHASE_SHIFT) - 1)
        );
    }

    #[test]
    fn bytes_start_a_head_only_after_an_idle_spell() {
        let activity = Activity::new();
        assert_eq!(activity.get().0, Phase::Head);
        activity.set(Phase::Busy, 0);
        activity.read();
        activity.wrote();
        assert_eq!(activity.get().0, Phase::Busy);
        activity.set(Phase::Idle, 0);
        activity.wrote();
        assert_eq!(activity.get().0, Phase::Idle);
        activity.read();
        assert_eq!(activity.get().0, Phase::Head);
        activity.set(Phase::Head, 0);
        activity.read();
        assert_eq!(
            activity.get(),
            (Phase::Head, 0),
            "trickling must not extend a head"
        );
    }
}
