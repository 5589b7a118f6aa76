//! Prometheus metrics: request counts by status and latency histograms, per endpoint, and a USS's own series
//! (plans by outcome, operator notifications, calls to the DSS and peers, notifications to subscribers).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::time::Duration;

use parking_lot::Mutex;

/// Upper bounds in seconds; sub-millisecond buckets because that is where this server lives.
const BUCKETS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Counts of observations at most each bucket's bound, and their sum.
#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i] += 1;
        }
        self.sum += secs;
        self.count += 1;
    }

    /// The `_bucket` (cumulative), `_sum` and `_count` lines of `name` with `labels`.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(self.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct Series {
    by_status: BTreeMap<u16, u64>,
    latency: Histogram,
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<HashMap<(String, String), Series>>,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut series = self.series.lock();
        let s = series.entry((method.to_owned(), route.to_owned())).or_default();
        *s.by_status.entry(status).or_default() += 1;
        s.latency.observe(elapsed);
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
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            series[*key].latency.render(&mut out, "entente_http_request_duration_seconds", &labels);
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

/// How a plan ended: the flight written to the DSS, or why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PlanOutcome {
    Accepted,
    /// It would conflict with intents or constraints it may not (alternatives were offered).
    RefusedConflict,
    /// The proposal itself broke a rule (400, 413): the caller's mistake.
    RefusedBadInput,
    /// Refused for another reason the caller can act on: a state that does not allow it, this USS Down (403, 404,
    /// 409, 412).
    Refused,
    /// The DSS or a peer failed, or storage did (5xx): nobody's mistake but the system's.
    Failed,
}

impl PlanOutcome {
    pub(crate) fn of<T>(result: &Result<T, entente_uss::UssError>) -> PlanOutcome {
        let Err(e) = result else { return PlanOutcome::Accepted };
        if matches!(e, entente_uss::UssError::Conflict(_)) {
            return PlanOutcome::RefusedConflict;
        }
        match crate::error::uss_status(e).as_u16() {
            400 | 413 => PlanOutcome::RefusedBadInput,
            500.. => PlanOutcome::Failed,
            _ => PlanOutcome::Refused,
        }
    }

    fn label(self) -> &'static str {
        match self {
            PlanOutcome::Accepted => "accepted",
            PlanOutcome::RefusedConflict => "refused_conflict",
            PlanOutcome::RefusedBadInput => "refused_bad_input",
            PlanOutcome::Refused => "refused",
            PlanOutcome::Failed => "failed",
        }
    }
}

/// Whom a USS called: its DSS or a peer USS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Callee {
    Dss,
    Peer,
}

impl Callee {
    fn label(self) -> &'static str {
        match self {
            Callee::Dss => "dss",
            Callee::Peer => "peer",
        }
    }
}

/// One of a USS's counters, with its labels beyond the USS's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum UssCounter {
    Plan(PlanOutcome),
    /// An operator told of a conflict: `SCD0090` (their flight causes it), `SCD0095` (another's reaches it) or
    /// `tactical` (a predicted loss of separation).
    OperatorNotification(&'static str),
    /// A call answered with a status of this class (`2xx`, `4xx`, `5xx`) or not at all (`unreachable`).
    Call(Callee, &'static str),
    /// A subscriber notified (`sent`) or given up after the retries (`failed`).
    SubscriberNotification(&'static str),
}

/// The USS's counter families and their help, in the order they are rendered.
const USS_FAMILIES: [(&str, &str); 4] = [
    ("entente_uss_plans_total", "Plans of this USS's flights by outcome."),
    ("entente_uss_operator_notifications_total", "Conflicts operators were told of, by requirement."),
    ("entente_uss_calls_total", "Calls to the DSS and to peer USSs, by status class."),
    ("entente_uss_subscriber_notifications_total", "Notifications to subscribers, sent or given up."),
];

impl UssCounter {
    fn family(&self) -> &'static str {
        let i = match self {
            UssCounter::Plan(_) => 0,
            UssCounter::OperatorNotification(_) => 1,
            UssCounter::Call(..) => 2,
            UssCounter::SubscriberNotification(_) => 3,
        };
        USS_FAMILIES[i].0
    }

    fn labels(&self) -> String {
        match self {
            UssCounter::Plan(o) => format!("outcome=\"{}\"", o.label()),
            UssCounter::OperatorNotification(r) => format!("requirement=\"{r}\""),
            UssCounter::Call(c, class) => format!("callee=\"{}\",status=\"{class}\"", c.label()),
            UssCounter::SubscriberNotification(o) => format!("outcome=\"{o}\""),
        }
    }
}

/// A USS's own series, kept per USS so that several USSs in one process (`entente serve`) are told apart by the
/// `uss` label.
#[derive(Default)]
pub(crate) struct UssMetrics {
    counters: Mutex<BTreeMap<UssCounter, u64>>,
    latency: Mutex<BTreeMap<Callee, Histogram>>,
}

impl UssMetrics {
    fn count(&self, counter: UssCounter) {
        *self.counters.lock().entry(counter).or_default() += 1;
    }

    pub(crate) fn plan(&self, outcome: PlanOutcome) {
        self.count(UssCounter::Plan(outcome));
    }

    /// `requirement` is `SCD0090`, `SCD0095` or `tactical`.
    pub(crate) fn operator_notification(&self, requirement: &'static str) {
        self.count(UssCounter::OperatorNotification(requirement));
    }

    /// A call to `callee` that got `status` (`None`: no answer) after `elapsed`.
    pub(crate) fn call(&self, callee: Callee, status: Option<u16>, elapsed: Duration) {
        let class = match status {
            None => "unreachable",
            Some(200..=299) => "2xx",
            Some(400..=499) => "4xx",
            Some(500..) => "5xx",
            Some(_) => "other",
        };
        self.count(UssCounter::Call(callee, class));
        self.latency.lock().entry(callee).or_default().observe(elapsed);
    }

    pub(crate) fn subscriber_notification(&self, delivered: bool) {
        self.count(UssCounter::SubscriberNotification(if delivered { "sent" } else { "failed" }));
    }

    /// The text exposition of the series of every USS in `usses`, by identity; each metric's HELP and TYPE
    /// come once, whatever the number of USSs.
    pub(crate) fn render(usses: &[(&str, &UssMetrics)]) -> String {
        let counters: Vec<(String, BTreeMap<UssCounter, u64>)> =
            usses.iter().map(|(uss, m)| (escape(uss), m.counters.lock().clone())).collect();
        let mut out = String::new();
        for (family, help) in USS_FAMILIES {
            let _ = writeln!(out, "# HELP {family} {help}");
            let _ = writeln!(out, "# TYPE {family} counter");
            for (uss, counters) in &counters {
                for (counter, n) in counters.iter().filter(|(c, _)| c.family() == family) {
                    let _ = writeln!(out, "{family}{{uss=\"{uss}\",{}}} {n}", counter.labels());
                }
            }
        }
        out.push_str(
            "# HELP entente_uss_call_duration_seconds Time for the DSS or a peer to answer a call.\n",
        );
        out.push_str("# TYPE entente_uss_call_duration_seconds histogram\n");
        for (uss, m) in usses {
            for (callee, h) in m.latency.lock().iter() {
                let labels = format!("uss=\"{}\",callee=\"{}\"", escape(uss), callee.label());
                h.render(&mut out, "entente_uss_call_duration_seconds", &labels);
            }
        }
        out
    }
}

/// A label value as the exposition format quotes it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
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

    #[test]
    fn uss_series_carry_each_uss_identity_under_one_help() {
        let (north, south) = (UssMetrics::default(), UssMetrics::default());
        north.plan(PlanOutcome::Accepted);
        north.plan(PlanOutcome::Accepted);
        south.plan(PlanOutcome::RefusedConflict);
        south.operator_notification("SCD0095");
        south.call(Callee::Dss, Some(201), Duration::from_millis(2));
        south.call(Callee::Peer, None, Duration::from_secs(1));
        north.subscriber_notification(false);
        let text = UssMetrics::render(&[("north-uss", &north), ("a \"quoted\" uss", &south)]);
        assert_eq!(text.matches("# TYPE entente_uss_plans_total counter").count(), 1, "{text}");
        assert!(text.contains("entente_uss_plans_total{uss=\"north-uss\",outcome=\"accepted\"} 2"), "{text}");
        assert!(text.contains(
            "entente_uss_plans_total{uss=\"a \\\"quoted\\\" uss\",outcome=\"refused_conflict\"} 1"
        ));
        assert!(text.contains("requirement=\"SCD0095\"} 1"));
        assert!(text.contains("callee=\"dss\",status=\"2xx\"} 1"));
        assert!(text.contains("callee=\"peer\",status=\"unreachable\"} 1"));
        assert!(
            text.contains(
                "entente_uss_subscriber_notifications_total{uss=\"north-uss\",outcome=\"failed\"} 1"
            )
        );
        assert!(text.contains("entente_uss_call_duration_seconds_bucket{uss=\"a \\\"quoted\\\" uss\",callee=\"dss\",le=\"0.0025\"} 1"));
    }
}
