//! Prometheus metrics: request counts by status and latency histograms, per endpoint.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::time::Duration;

use parking_lot::Mutex;

/// Upper bounds in seconds; sub-millisecond buckets because that is where this server lives.
const BUCKETS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
struct Series {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<HashMap<(String, String), Series>>,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut series = self.series.lock();
        let s = series.entry((method.to_owned(), route.to_owned())).or_default();
        *s.by_status.entry(status).or_default() += 1;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            s.buckets[i] += 1;
        }
        s.sum += secs;
        s.count += 1;
    }

    /// The text exposition format; `gauges` are extra (name, labels, value) lines such as entity counts.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let series = self.series.lock();
        let mut keys: Vec<_> = series.keys().collect();
        keys.sort();
        let mut out = String::new();
        out.push_str("# HELP entente_http_requests_total HTTP requests by endpoint and status.\n");
        out.push_str("# TYPE entente_http_requests_total counter\n");
        for key in &keys {
            let (method, route) = key;
            for (status, n) in &series[*key].by_status {
                let _ = writeln!(
                    out,
                    "entente_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP entente_http_request_duration_seconds Time to answer, by endpoint.\n");
        out.push_str("# TYPE entente_http_request_duration_seconds histogram\n");
        for key in &keys {
            let (method, route) = key;
            let s = &series[*key];
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "entente_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "entente_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(out, "entente_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "entente_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
        let mut last = "";
        for (name, labels, value) in gauges {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} gauge");
                last = name;
            }
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record("GET", "/x", 200, Duration::from_micros(50));
        m.record("GET", "/x", 404, Duration::from_millis(3));
        let text = m.render(&[("entente_entities", "kind=\"intents\"", 7.0)]);
        assert!(text.contains("entente_http_requests_total{method=\"GET\",route=\"/x\",status=\"200\"} 1"));
        assert!(text.contains("entente_http_requests_total{method=\"GET\",route=\"/x\",status=\"404\"} 1"));
        assert!(text.contains(
            "entente_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"0.0001\"} 1"
        ));
        assert!(text.contains(
            "entente_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"0.005\"} 2"
        ));
        assert!(text.contains("entente_http_request_duration_seconds_count{method=\"GET\",route=\"/x\"} 2"));
        assert!(text.contains("entente_entities{kind=\"intents\"} 7"));
    }
}
