//! Prometheus metrics in the text exposition format, written by hand: a few counters and
//! gauges and one fixed-bucket histogram do not justify a metrics crate and its registry
//! machinery.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
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
}

/// A request counted as waiting for a slot until this is dropped (given a slot, timed out
/// or cancelled alike).
#[must_use]
pub struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts one request as waiting for a slot while the guard lives.
    pub fn waiting_for_slot(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(&self.waiting)
    }

    /// Requests waiting for a concurrency slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
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

    /// The text exposition format, series sorted for stable output; `in_flight` is the
    /// number of requests holding a concurrency slot.
    pub fn render(&self, models_loaded: usize, in_flight: usize) -> String {
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

        let _ = write!(
            out,
            "# HELP nadir_model_reloads_total Model reloads, by result.\n\
             # TYPE nadir_model_reloads_total counter\n\
             nadir_model_reloads_total{{result=\"ok\"}} {}\n\
             nadir_model_reloads_total{{result=\"failed\"}} {}\n\
             # HELP nadir_models_loaded Models being served.\n\
             # TYPE nadir_models_loaded gauge\n\
             nadir_models_loaded {models_loaded}\n\
             # HELP nadir_requests_in_flight Requests holding a concurrency slot.\n\
             # TYPE nadir_requests_in_flight gauge\n\
             nadir_requests_in_flight {in_flight}\n\
             # HELP nadir_requests_waiting Requests waiting for a concurrency slot.\n\
             # TYPE nadir_requests_waiting gauge\n\
             nadir_requests_waiting {}\n",
            inner.reloads[0],
            inner.reloads[1],
            self.waiting()
        );
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
        let waiting = metrics.waiting_for_slot();
        let text = metrics.render(2, 5);
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
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        drop(waiting);
        assert!(
            metrics
                .render(2, 0)
                .contains("\nnadir_requests_waiting 0\n")
        );
        assert_eq!(escape("a\"b\\c"), r#"a\"b\\c"#);
    }
}
