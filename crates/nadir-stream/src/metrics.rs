//! What a consumer counts, served to Prometheus (`--metrics-addr`) or printed as a progress
//! line. Encoding is `prometheus-client`'s (the Prometheus project's own Rust client), served
//! by a one-route axum server on its own thread, away from the scoring loop.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// The consumer's counters; cheap to clone (each metric is shared).
#[derive(Clone)]
pub struct Metrics {
    pub read: Counter,
    pub scored: Counter,
    pub acked: Counter,
    pub claimed: Counter,
    pub dead_lettered: Counter,
    pub errors: Counter,
    /// Seconds from reading a batch to acknowledging it.
    pub batch_seconds: Histogram,
    /// Entries of the input stream not yet delivered to the group (Redis's `lag`).
    pub group_lag: Gauge,
    registry: Arc<Registry>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("nadir_stream");
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let read = counter(
            &mut registry,
            "entries_read",
            "Entries read from the input stream",
        );
        let scored = counter(&mut registry, "entries_scored", "Entries scored");
        let acked = counter(&mut registry, "entries_acked", "Entries acknowledged");
        let claimed = counter(
            &mut registry,
            "entries_claimed",
            "Entries claimed from idle consumers (or re-read after a restart)",
        );
        let dead_lettered = counter(
            &mut registry,
            "entries_dead_lettered",
            "Entries written to the dead-letter stream",
        );
        let errors = counter(&mut registry, "errors", "Redis errors (each retried)");
        // 100 µs to about 6.5 s.
        let batch_seconds = Histogram::new(exponential_buckets(1e-4, 2.0, 17));
        registry.register(
            "batch_seconds",
            "Seconds from reading a batch to acknowledging it",
            batch_seconds.clone(),
        );
        let group_lag = Gauge::default();
        registry.register(
            "group_lag",
            "Entries of the input stream not yet delivered to the group",
            group_lag.clone(),
        );
        Metrics {
            read,
            scored,
            acked,
            claimed,
            dead_lettered,
            errors,
            batch_seconds,
            group_lag,
            registry: Arc::new(registry),
        }
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }

    /// Serves [`Metrics::encode`] at `http://ADDR/metrics` from a thread of its own; the
    /// address is bound before this returns, so a taken port is an error here. Returns the
    /// bound address (port 0 picks a free one).
    pub fn serve(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let metrics = self.clone();
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(error) => return eprintln!("metrics server: {error}"),
                    };
                    let app = axum::Router::new().route(
                        "/metrics",
                        axum::routing::get(move || {
                            let text = metrics.encode();
                            async move {
                                (
                                    [(
                                        axum::http::header::CONTENT_TYPE,
                                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                    )],
                                    text,
                                )
                            }
                        }),
                    );
                    if let Err(error) = axum::serve(listener, app).await {
                        eprintln!("metrics server: {error}");
                    }
                })
            })?;
        Ok(bound)
    }
}

/// The progress line: every counter and the lag.
impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {}, scored {}, acked {}, claimed {}, dead-lettered {}, errors {}, lag {}",
            self.read.get(),
            self.scored.get(),
            self.acked.get(),
            self.claimed.get(),
            self.dead_lettered.get(),
            self.errors.get(),
            self.group_lag.get()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_encoded_under_the_documented_names() {
        let metrics = Metrics::new();
        metrics.scored.inc_by(7);
        metrics.batch_seconds.observe(0.002);
        metrics.group_lag.set(3);
        let text = metrics.encode();
        assert!(
            text.contains("nadir_stream_entries_scored_total 7"),
            "{text}"
        );
        assert!(text.contains("nadir_stream_group_lag 3"), "{text}");
        assert!(
            text.contains("nadir_stream_batch_seconds_count 1"),
            "{text}"
        );
        for name in ["read", "acked", "claimed", "dead_lettered"] {
            assert!(text.contains(&format!("nadir_stream_entries_{name}_total 0")));
        }
        assert!(text.contains("nadir_stream_errors_total 0"));
        assert_eq!(
            metrics.to_string(),
            "read 0, scored 7, acked 0, claimed 0, dead-lettered 0, errors 0, lag 3"
        );
    }
}
