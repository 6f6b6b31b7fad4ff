//! What a consumer counts, served to Prometheus (`--metrics-addr`) or printed as a progress
//! line. Encoding is `prometheus-client`'s (the Prometheus project's own Rust client), served
//! by a one-route axum server on its own thread, away from the scoring loop. Beside the
//! consumer's own metrics (`nadir_stream_*`), the build's and the process's
//! (`nadir_build_info`, `process_*`: `nadir_telemetry::process`, shared with `nadir serve`),
//! from a registry of their own, as they take no prefix.

use nadir_telemetry::process;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::ConstGauge;
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
    /// The build's and the process's metrics, read at each scrape.
    process: Arc<Registry>,
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
            process: Arc::new(process_registry()),
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode_registry(&mut text, &self.registry)
            .and_then(|()| encode_registry(&mut text, &self.process))
            .and_then(|()| encode_eof(&mut text))
            .expect("writing to a String cannot fail");
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
                        Err(error) => return tracing::error!(%error, "metrics server"),
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
                        tracing::error!(%error, "metrics server");
                    }
                })
            })?;
        Ok(bound)
    }
}

/// A registry of [`ProcessCollector`] alone.
fn process_registry() -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ProcessCollector));
    registry
}

/// `nadir_telemetry::process`'s metrics, read at each scrape.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let labels = process::build_labels();
        ConstGauge::new(1).encode(
            encoder
                .encode_descriptor(
                    process::BUILD_INFO,
                    process::BUILD_INFO_HELP,
                    None,
                    MetricType::Gauge,
                )?
                .encode_family(&labels)?,
        )?;
        for sample in process::samples() {
            let metric = encoder.encode_descriptor(
                sample.name,
                sample.help,
                None,
                match sample.kind {
                    process::Kind::Gauge => MetricType::Gauge,
                    process::Kind::Counter => MetricType::Counter,
                },
            )?;
            match sample.kind {
                process::Kind::Gauge => ConstGauge::new(sample.value).encode(metric)?,
                process::Kind::Counter => ConstCounter::new(sample.value).encode(metric)?,
            }
        }
        Ok(())
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
        // The build's and the process's metrics, unprefixed, before the one end marker.
        let build = text
            .lines()
            .find(|l| l.starts_with("nadir_build_info{"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            build.contains("version=\"") && build.ends_with("} 1"),
            "{build}"
        );
        if cfg!(target_os = "linux") {
            assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
            let memory = text
                .lines()
                .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("{text}"));
            assert!(memory > 0.0);
        }
        assert!(text.ends_with("# EOF\n") && text.matches("# EOF").count() == 1);
        assert_eq!(
            metrics.to_string(),
            "read 0, scored 7, acked 0, claimed 0, dead-lettered 0, errors 0, lag 3"
        );
    }
}
