//! Prometheus metrics: requests by action and outcome, request latency, per
//! stream incoming bytes and records and GetRecords bytes, and what recovery cut
//! from each stream's logs.
//!
//! Label sets stay bounded: an action label is an action of a served model (or
//! `unknown`), an outcome is a static error code, and stream labels are recorded
//! only for streams that exist. Label values are escaped as the text format asks.

use crate::protocol::model::Model;
use shardlog_engine::{OpenReport, ShardId};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, seconds.
const BUCKETS_S: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The action a request is counted under: an operation of a served model, or
/// `unknown` for anything else a client names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ActionLabel(&'static str);

impl ActionLabel {
    /// Requests whose target names no served action.
    pub const UNKNOWN: ActionLabel = ActionLabel("unknown");

    /// The label of `action` of `model`: its own name when the model has it.
    pub fn of(model: &'static Model, action: &str) -> ActionLabel {
        model
            .operation_name(action)
            .map_or(Self::UNKNOWN, ActionLabel)
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS_S.len()],
    count: u64,
    sum_s: f64,
}

/// A stream and shard label pair.
type ShardKey = (String, String);

#[derive(Debug, Default)]
struct State {
    requests: BTreeMap<(ActionLabel, &'static str), u64>,
    latency: BTreeMap<ActionLabel, Histogram>,
    incoming_bytes: BTreeMap<ShardKey, u64>,
    incoming_records: BTreeMap<ShardKey, u64>,
    outgoing_bytes: BTreeMap<ShardKey, u64>,
    outgoing_records: BTreeMap<ShardKey, u64>,
    iterator_age_ms: BTreeMap<ShardKey, u64>,
    throttles: BTreeMap<String, u64>,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Records one request: its action, its outcome code (`OK` or the error code),
    /// and how long it took.
    pub fn request(&self, action: ActionLabel, outcome: &'static str, elapsed: Duration) {
        let mut state = self.lock();
        *state.requests.entry((action, outcome)).or_default() += 1;
        let histogram = state.latency.entry(action).or_default();
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in BUCKETS_S.iter().enumerate() {
            if seconds <= *bound {
                histogram.counts[bucket] += 1;
            }
        }
        histogram.count += 1;
        histogram.sum_s += seconds;
    }

    /// Records accepted records for a shard of an existing stream.
    pub fn incoming(&self, stream: &str, shard: ShardId, records: u64, bytes: u64) {
        let key = (stream.to_string(), shard.to_string());
        let mut state = self.lock();
        *state.incoming_records.entry(key.clone()).or_default() += records;
        *state.incoming_bytes.entry(key).or_default() += bytes;
    }

    /// Records what a GetRecords returned from a shard of an existing stream, and
    /// how far behind it was.
    pub fn outgoing(&self, stream: &str, shard: ShardId, records: u64, bytes: u64, behind_ms: u64) {
        let key = (stream.to_string(), shard.to_string());
        let mut state = self.lock();
        *state.outgoing_records.entry(key.clone()).or_default() += records;
        *state.outgoing_bytes.entry(key.clone()).or_default() += bytes;
        state.iterator_age_ms.insert(key, behind_ms);
    }

    /// Counts requests or records of an existing stream refused by shard quotas.
    pub fn throttled(&self, stream: &str, count: u64) {
        *self.lock().throttles.entry(stream.to_string()).or_default() += count;
    }

    /// The Prometheus text exposition, with the cuts that `open` (the engine's
    /// open report) lists.
    pub fn render(&self, open: &OpenReport) -> String {
        let state = self.lock();
        let mut out = String::new();
        out.push_str("# HELP shardlog_requests_total Requests by action and outcome.\n");
        out.push_str("# TYPE shardlog_requests_total counter\n");
        for ((action, outcome), count) in &state.requests {
            let labels = labels(&[("action", action.as_str()), ("outcome", outcome)]);
            let _ = writeln!(out, "shardlog_requests_total{labels} {count}");
        }
        out.push_str("# HELP shardlog_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE shardlog_request_duration_seconds histogram\n");
        for (action, histogram) in &state.latency {
            let action = action.as_str();
            let name = "shardlog_request_duration_seconds";
            for (bound, count) in BUCKETS_S.iter().zip(histogram.counts) {
                let labels = labels(&[("action", action), ("le", &bound.to_string())]);
                let _ = writeln!(out, "{name}_bucket{labels} {count}");
            }
            let count = histogram.count;
            let inf = labels(&[("action", action), ("le", "+Inf")]);
            let _ = writeln!(out, "{name}_bucket{inf} {count}");
            let action = labels(&[("action", action)]);
            let _ = writeln!(out, "{name}_sum{action} {}", histogram.sum_s);
            let _ = writeln!(out, "{name}_count{action} {count}");
        }
        let per_shard = [
            (
                "shardlog_incoming_bytes_total",
                "counter",
                "Payload bytes accepted by PutRecord(s).",
                &state.incoming_bytes,
            ),
            (
                "shardlog_incoming_records_total",
                "counter",
                "Records accepted by PutRecord(s).",
                &state.incoming_records,
            ),
            (
                "shardlog_get_records_bytes_total",
                "counter",
                "Payload bytes returned by GetRecords.",
                &state.outgoing_bytes,
            ),
            (
                "shardlog_get_records_records_total",
                "counter",
                "Records returned by GetRecords.",
                &state.outgoing_records,
            ),
            (
                "shardlog_iterator_age_milliseconds",
                "gauge",
                "MillisBehindLatest of the last GetRecords.",
                &state.iterator_age_ms,
            ),
        ];
        for (name, kind, help, map) in per_shard {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((stream, shard), value) in map {
                let labels = labels(&[("stream", stream), ("shard", shard)]);
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        }
        let name = "shardlog_throttled_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests and records refused by shard quotas.\n# TYPE {name} counter"
        );
        for (stream, value) in &state.throttles {
            let labels = labels(&[("stream", stream)]);
            let _ = writeln!(out, "{name}{labels} {value}");
        }
        render_truncations(&mut out, open);
        out
    }
}

/// `{name="value",...}` with each value escaped.
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::from("{");
    for (index, (name, value)) in pairs.iter().enumerate() {
        let comma = if index == 0 { "" } else { "," };
        let _ = write!(out, "{comma}{name}=\"{}\"", escape_label_value(value));
    }
    out.push('}');
    out
}

/// A label value as the text format writes it: backslash, double quote and line
/// feed escaped, so no value can end the label or the line early.
fn escape_label_value(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// What a quarantine gauge counts: topics or queues.
#[derive(Debug, Clone, Copy)]
pub enum Quarantined {
    /// SNS topics (their log or delivery positions could not be read).
    Topic,
    /// SQS queues (their message or state log could not be read).
    Queue,
}

/// Topics or queues quarantined when the server started: 1 each, labelled by
/// name (`shardlog_topic_quarantined{topic=..}`, `shardlog_queue_quarantined{queue=..}`),
/// so that an alert can name them.
pub fn render_quarantined(out: &mut String, kind: Quarantined, names: &[String]) {
    let (label, help) = match kind {
        Quarantined::Topic => ("topic", "Topics whose files could not be read at startup; they refuse publishes."),
        Quarantined::Queue => ("queue", "Queues whose files could not be read at startup; they refuse everything but DeleteQueue."),
    };
    let name = format!("shardlog_{label}_quarantined");
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for each in names {
        let _ = writeln!(out, "{name}{} 1", labels(&[(label, each)]));
    }
}

/// A counter's name, help text, and its value from (cuts, bytes cut).
type Counter = (&'static str, &'static str, fn(&(u64, u64)) -> u64);

/// Cuts recovery made (at open, and at reopens of failed shards), per stream: a
/// cut is never silent.
fn render_truncations(out: &mut String, open: &OpenReport) {
    let mut by_stream: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for recovery in &open.recoveries {
        for cut in &recovery.report.truncations {
            let (count, bytes) = by_stream.entry(&recovery.stream).or_default();
            *count += 1;
            *bytes += cut.bytes;
        }
    }
    let counters: [Counter; 2] = [
        (
            "shardlog_recovery_truncations_total",
            "Torn or damaged log tails recovery cut.",
            |(count, _)| *count,
        ),
        (
            "shardlog_recovery_truncated_bytes_total",
            "Bytes recovery cut from log tails.",
            |(_, bytes)| *bytes,
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (stream, cuts) in &by_stream {
            let labels = labels(&[("stream", stream)]);
            let _ = writeln!(out, "{name}{labels} {}", value(cuts));
        }
    }
}

#[cfg(test)]
mod tests {
    //! The exposition carries what was recorded.
    use super::*;

    /// Counters and histogram lines appear with their labels and values.
    #[test]
    fn render_shows_recorded_values() {
        let metrics = Metrics::default();
        let put = ActionLabel::of(crate::protocol::model::kinesis(), "PutRecord");
        metrics.request(put, "OK", Duration::from_micros(700));
        metrics.request(put, "ValidationException", Duration::from_millis(3));
        metrics.incoming("orders", ShardId(0), 2, 100);
        metrics.outgoing("orders", ShardId(1), 3, 40, 1500);
        metrics.throttled("orders", 4);
        let text = metrics.render(&OpenReport::default());
        assert!(text.contains("shardlog_requests_total{action=\"PutRecord\",outcome=\"OK\"} 1"));
        assert!(text.contains(
            "shardlog_request_duration_seconds_bucket{action=\"PutRecord\",le=\"0.001\"} 1"
        ));
        assert!(text.contains(
            "shardlog_request_duration_seconds_bucket{action=\"PutRecord\",le=\"0.005\"} 2"
        ));
        assert!(text.contains(
            "shardlog_incoming_records_total{stream=\"orders\",shard=\"shardId-000000000000\"} 2"
        ));
        assert!(text.contains(
            "shardlog_get_records_bytes_total{stream=\"orders\",shard=\"shardId-000000000001\"} 40"
        ));
        assert!(text.contains("shardlog_iterator_age_milliseconds{stream=\"orders\",shard=\"shardId-000000000001\"} 1500"));
        assert!(text.contains("shardlog_throttled_total{stream=\"orders\"} 4"));
    }

    /// Each quarantined topic or queue is one gauge sample labelled with its name.
    #[test]
    fn quarantined_topics_and_queues_are_named() {
        let mut text = String::new();
        render_quarantined(&mut text, Quarantined::Topic, &["news".to_string()]);
        render_quarantined(&mut text, Quarantined::Queue, &["jobs".to_string()]);
        for expected in [
            "# TYPE shardlog_topic_quarantined gauge",
            "shardlog_topic_quarantined{topic=\"news\"} 1",
            "# TYPE shardlog_queue_quarantined gauge",
            "shardlog_queue_quarantined{queue=\"jobs\"} 1",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }

    /// An action no served model has is counted under `unknown`, whatever its name.
    #[test]
    fn unknown_actions_share_one_label() {
        let metrics = Metrics::default();
        for action in ["Nope", "Nope2", "PutRecord\"} 9\n"] {
            let label = ActionLabel::of(crate::protocol::model::kinesis(), action);
            assert_eq!(label, ActionLabel::UNKNOWN);
            metrics.request(label, "UnknownOperationException", Duration::ZERO);
        }
        let text = metrics.render(&OpenReport::default());
        assert!(text.contains(
            "shardlog_requests_total{action=\"unknown\",outcome=\"UnknownOperationException\"} 3"
        ));
        assert!(!text.contains("Nope"), "{text}");
    }

    /// Quotes, backslashes and line feeds in a label value are escaped, so every
    /// sample stays one well-formed line.
    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::default();
        let stream = "a\"b\\c\nd} 7";
        metrics.incoming(stream, ShardId(0), 1, 5);
        let text = metrics.render(&OpenReport::default());
        assert!(
            text.contains(r#"shardlog_incoming_bytes_total{stream="a\"b\\c\nd} 7",shard="shardId-000000000000"} 5"#),
            "{text}"
        );
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(series.ends_with('}'), "{line}");
        }
    }
}
