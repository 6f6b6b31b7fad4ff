//! Prometheus metrics in the text exposition format, written by hand: a few counters and
//! gauges and one fixed-bucket histogram do not justify a metrics crate and its registry
//! machinery. The build's and the process's metrics (`nadir_build_info`, `process_*`) are
//! `nadir_telemetry::process`'s, shared with `nadir stream`.

use crate::state::Load;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency buckets: 100 µs to 10 s, dense where a scoring
/// service should be (below a few milliseconds).
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket, not cumulative; the last slot is `+Inf`.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(BUCKETS.len());
        self.counts[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    latency: Histogram,
}

#[derive(Debug, Default)]
struct Inner {
    /// route → model ("" when none) → stats. Nested so a hit allocates nothing.
    requests: HashMap<String, HashMap<String, RouteStats>>,
    /// model → [attack, normal, rejected].
    predictions: HashMap<String, [u64; 3]>,
    reloads: [u64; 2],
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// Requests waiting for a concurrency slot now. An operator sees a saturated server by
    /// it, and tests wait on it instead of guessing how long queueing takes.
    waiting: AtomicUsize,
    /// Requests whose body is still arriving: slow uploads show here, not as slots in use.
    reading: AtomicUsize,
    connections: AtomicUsize,
    /// Connections over the limit awaiting their head, to be answered 503.
    rejecting: AtomicUsize,
    /// Connections over the limit, answered 503: after their head, at once.
    rejected: [AtomicU64; 2],
    /// Connections closed for sending no request head in time, or for idling.
    timeouts: [AtomicU64; 2],
    accept_errors: AtomicU64,
}

/// A request counted in a gauge until this is dropped (served, timed out or cancelled
/// alike).
#[must_use]
pub struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why the server closed a connection on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// A request's head did not arrive within `--header-timeout`.
    Header,
    /// Nothing was sent either way between requests for `--idle-timeout`.
    Idle,
}

impl Metrics {
    /// Counts one request as waiting for a slot while the guard lives.
    pub fn waiting_for_slot(&self) -> Counted<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Counted(&self.waiting)
    }

    /// Requests waiting for a concurrency slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Counts one request as reading its body while the guard lives.
    pub fn reading_body(&self) -> Counted<'_> {
        self.reading.fetch_add(1, Ordering::Relaxed);
        Counted(&self.reading)
    }

    /// Requests whose body is still arriving now.
    pub fn reading(&self) -> usize {
        self.reading.load(Ordering::Relaxed)
    }

    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Connections being served now (not those over the limit being answered 503).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// One connection over the limit: `true` when it is to be answered after its head,
    /// fewer than `awaited` awaiting theirs (it counts in [`Metrics::rejecting`] until
    /// [`Metrics::rejection_answered`]); `false` when it is to be answered at once.
    pub fn connection_rejected(&self, awaited: usize) -> bool {
        let after_head = self.rejecting.load(Ordering::Relaxed) < awaited;
        self.rejected[usize::from(!after_head)].fetch_add(1, Ordering::Relaxed);
        if after_head {
            self.rejecting.fetch_add(1, Ordering::Relaxed);
        }
        after_head
    }

    pub fn rejection_answered(&self) {
        self.rejecting.fetch_sub(1, Ordering::Relaxed);
    }

    /// Connections over the limit awaiting their head now.
    pub fn rejecting(&self) -> usize {
        self.rejecting.load(Ordering::Relaxed)
    }

    /// Connections over the limit so far, answered after their head and at once.
    pub fn rejected(&self) -> [u64; 2] {
        self.rejected.each_ref().map(|n| n.load(Ordering::Relaxed))
    }

    pub fn connection_expired(&self, why: Expiry) {
        self.timeouts[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Connections closed so far for their head's timeout and for idling.
    pub fn expired(&self) -> [u64; 2] {
        self.timeouts.each_ref().map(|n| n.load(Ordering::Relaxed))
    }

    pub fn accept_error(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// One finished request. `route` is the route's template (never the raw path, which
    /// would let clients create unbounded series); `model` a loaded model's name or "".
    pub fn request(&self, route: &str, model: &str, status: u16, elapsed: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let models = match inner.requests.get_mut(route) {
            Some(models) => models,
            None => inner.requests.entry(route.to_string()).or_default(),
        };
        let stats = match models.get_mut(model) {
            Some(stats) => stats,
            None => models.entry(model.to_string()).or_default(),
        };
        *stats.by_status.entry(status).or_default() += 1;
        stats.latency.observe(elapsed.as_secs_f64());
    }

    /// Records scored by a model, by class, and records rejected as invalid.
    pub fn predictions(&self, model: &str, attacks: u64, normal: u64, rejected: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let counts = match inner.predictions.get_mut(model) {
            Some(counts) => counts,
            None => inner.predictions.entry(model.to_string()).or_default(),
        };
        counts[0] += attacks;
        counts[1] += normal;
        counts[2] += rejected;
    }

    pub fn reload(&self, ok: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.reloads[usize::from(!ok)] += 1;
    }

    /// The text exposition format, series sorted for stable output, with the gauges of
    /// `load`.
    pub fn render(&self, load: &Load) -> String {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let mut routes: Vec<(&String, &String, &RouteStats)> = inner
            .requests
            .iter()
            .flat_map(|(route, models)| models.iter().map(move |(m, s)| (route, m, s)))
            .collect();
        routes.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

        out.push_str(
            "# HELP nadir_http_requests_total HTTP requests by route, model and status.\n",
        );
        out.push_str("# TYPE nadir_http_requests_total counter\n");
        for (route, model, stats) in &routes {
            for (status, count) in &stats.by_status {
                let _ = writeln!(
                    out,
                    "nadir_http_requests_total{{route=\"{}\",model=\"{}\",status=\"{status}\"}} {count}",
                    escape(route),
                    escape(model)
                );
            }
        }

        out.push_str(
            "# HELP nadir_http_request_duration_seconds Time from request to response, by route and model.\n",
        );
        out.push_str("# TYPE nadir_http_request_duration_seconds histogram\n");
        for (route, model, stats) in &routes {
            let labels = format!("route=\"{}\",model=\"{}\"", escape(route), escape(model));
            let h = &stats.latency;
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "nadir_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "nadir_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 nadir_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 nadir_http_request_duration_seconds_count{{{labels}}} {}",
                h.count, h.sum, h.count
            );
        }

        let mut predictions: Vec<_> = inner.predictions.iter().collect();
        predictions.sort();
        out.push_str(
            "# HELP nadir_predictions_total Records scored, by model and predicted class.\n",
        );
        out.push_str("# TYPE nadir_predictions_total counter\n");
        for (model, counts) in &predictions {
            for (class, count) in [nadir_ml::output::ATTACK, nadir_ml::output::NORMAL]
                .iter()
                .zip(counts.iter())
            {
                let _ = writeln!(
                    out,
                    "nadir_predictions_total{{model=\"{}\",class=\"{class}\"}} {count}",
                    escape(model)
                );
            }
        }
        out.push_str("# HELP nadir_records_rejected_total Records refused as invalid, by model.\n");
        out.push_str("# TYPE nadir_records_rejected_total counter\n");
        for (model, counts) in &predictions {
            let _ = writeln!(
                out,
                "nadir_records_rejected_total{{model=\"{}\"}} {}",
                escape(model),
                counts[2]
            );
        }

        let [after_head, at_once] = self.rejected();
        let [header, idle] = self.expired();
        let _ = write!(
            out,
            "# HELP nadir_model_reloads_total Model reloads, by result.\n\
             # TYPE nadir_model_reloads_total counter\n\
             nadir_model_reloads_total{{result=\"ok\"}} {}\n\
             nadir_model_reloads_total{{result=\"failed\"}} {}\n\
             # HELP nadir_models_loaded Models being served.\n\
             # TYPE nadir_models_loaded gauge\n\
             nadir_models_loaded {}\n\
             # HELP nadir_requests_in_flight Requests holding a concurrency slot.\n\
             # TYPE nadir_requests_in_flight gauge\n\
             nadir_requests_in_flight {}\n\
             # HELP nadir_concurrency_limit Concurrency slots (--max-concurrent).\n\
             # TYPE nadir_concurrency_limit gauge\n\
             nadir_concurrency_limit {}\n\
             # HELP nadir_requests_waiting Requests waiting for a concurrency slot.\n\
             # TYPE nadir_requests_waiting gauge\n\
             nadir_requests_waiting {}\n\
             # HELP nadir_requests_reading_body Requests whose body is still arriving (they hold no slot).\n\
             # TYPE nadir_requests_reading_body gauge\n\
             nadir_requests_reading_body {}\n\
             # HELP nadir_connections_open Connections being served.\n\
             # TYPE nadir_connections_open gauge\n\
             nadir_connections_open {}\n\
             # HELP nadir_connections_limit Connections served at once (--max-connections).\n\
             # TYPE nadir_connections_limit gauge\n\
             nadir_connections_limit {}\n\
             # HELP nadir_saturated 1 when every slot is in use or the connection limit is reached (/readyz answers 503).\n\
             # TYPE nadir_saturated gauge\n\
             nadir_saturated {}\n\
             # HELP nadir_connections_rejecting Connections over the limit awaiting their head, to be answered 503.\n\
             # TYPE nadir_connections_rejecting gauge\n\
             nadir_connections_rejecting {}\n\
             # HELP nadir_connections_rejected_total Connections over the limit, answered 503 after their head (the probes answered as usual), or at once while too many awaited theirs.\n\
             # TYPE nadir_connections_rejected_total counter\n\
             nadir_connections_rejected_total{{when=\"after_head\"}} {after_head}\n\
             nadir_connections_rejected_total{{when=\"at_once\"}} {at_once}\n\
             # HELP nadir_connections_expired_total Connections closed by the server: no request head within --header-timeout, or idle for --idle-timeout.\n\
             # TYPE nadir_connections_expired_total counter\n\
             nadir_connections_expired_total{{timeout=\"header\"}} {header}\n\
             nadir_connections_expired_total{{timeout=\"idle\"}} {idle}\n\
             # HELP nadir_accept_errors_total Connections the operating system failed to hand over (such as for want of file descriptors).\n\
             # TYPE nadir_accept_errors_total counter\n\
             nadir_accept_errors_total {}\n",
            inner.reloads[0],
            inner.reloads[1],
            load.models,
            load.slots_in_use,
            load.slots,
            load.waiting_for_slot,
            load.reading_body,
            load.connections,
            load.max_connections,
            u8::from(load.saturation().is_some()),
            self.rejecting(),
            self.accept_errors.load(Ordering::Relaxed),
        );
        nadir_telemetry::process::write_text(&mut out);
        out
    }
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_series_are_labelled() {
        let metrics = Metrics::default();
        for micros in [50, 300, 300, 20_000_000] {
            metrics.request(
                "/v1/models/{name}/predict",
                "random_forest",
                200,
                Duration::from_micros(micros),
            );
        }
        metrics.request("/healthz", "", 200, Duration::from_micros(10));
        metrics.predictions("random_forest", 3, 1, 2);
        metrics.reload(false);
        assert!(metrics.connection_rejected(2));
        assert!(metrics.connection_rejected(2));
        assert!(!metrics.connection_rejected(2));
        assert_eq!(metrics.rejecting(), 2);
        metrics.connection_expired(Expiry::Idle);
        let load = Load {
            models: 2,
            slots_in_use: 5,
            slots: 8,
            waiting_for_slot: 1,
            reading_body: 3,
            connections: 40,
            max_connections: 40,
        };
        let text = metrics.render(&load);
        let labels = r#"route="/v1/models/{name}/predict",model="random_forest""#;
        for line in [
            r#"nadir_http_requests_total{route="/v1/models/{name}/predict",model="random_forest",status="200"} 4"#
                .to_string(),
            format!("nadir_http_request_duration_seconds_bucket{{{labels},le=\"0.0001\"}} 1"),
            format!("nadir_http_request_duration_seconds_bucket{{{labels},le=\"0.00025\"}} 1"),
            format!("nadir_http_request_duration_seconds_bucket{{{labels},le=\"0.0005\"}} 3"),
            format!("nadir_http_request_duration_seconds_bucket{{{labels},le=\"10\"}} 3"),
            format!("nadir_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 4"),
            format!("nadir_http_request_duration_seconds_count{{{labels}}} 4"),
            "nadir_predictions_total{model=\"random_forest\",class=\"attack\"} 3".to_string(),
            "nadir_records_rejected_total{model=\"random_forest\"} 2".to_string(),
            "nadir_model_reloads_total{result=\"failed\"} 1".to_string(),
            "nadir_models_loaded 2".to_string(),
            "nadir_requests_in_flight 5".to_string(),
            "nadir_requests_waiting 1".to_string(),
            "nadir_concurrency_limit 8".to_string(),
            "nadir_requests_reading_body 3".to_string(),
            "nadir_connections_open 40".to_string(),
            "nadir_connections_limit 40".to_string(),
            "nadir_saturated 1".to_string(),
            "nadir_connections_rejecting 2".to_string(),
            "nadir_connections_rejected_total{when=\"after_head\"} 2".to_string(),
            "nadir_connections_rejected_total{when=\"at_once\"} 1".to_string(),
            "nadir_connections_expired_total{timeout=\"header\"} 0".to_string(),
            "nadir_connections_expired_total{timeout=\"idle\"} 1".to_string(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        let waiting = metrics.waiting_for_slot();
        let reading = metrics.reading_body();
        assert_eq!((metrics.waiting(), metrics.reading()), (1, 1));
        drop((waiting, reading));
        assert_eq!((metrics.waiting(), metrics.reading()), (0, 0));
        metrics.rejection_answered();
        assert_eq!(metrics.rejecting(), 1);
        assert_eq!(escape("a\"b\\c"), r#"a\"b\\c"#);
    }
}
