//! Prometheus metrics: requests by action and outcome, request latency, per
//! stream incoming bytes and records and GetRecords bytes, what recovery cut from
//! each stream's logs, and the topics and queues quarantined at startup. Kept and
//! written (OpenMetrics text, escaped label values) by `prometheus-client`.
//!
//! Label sets stay bounded: an action label is an action of a served model (or
//! `unknown`), an outcome is a static error code, and stream labels are recorded
//! only for streams that exist.

use crate::protocol::model::Model;
use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use shardlog_engine::{OpenReport, ShardId};
use std::time::Duration;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    action: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Action {
    action: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Shard {
    stream: String,
    shard: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Stream {
    stream: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabel {
    topic: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    requests: Family<Outcome, Counter>,
    latency: Family<Action, Histogram>,
    incoming_bytes: Family<Shard, Counter>,
    incoming_records: Family<Shard, Counter>,
    outgoing_bytes: Family<Shard, Counter>,
    outgoing_records: Family<Shard, Counter>,
    iterator_age_ms: Family<Shard, Gauge>,
    throttles: Family<Stream, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| Histogram::new(BUCKETS_S)),
            incoming_bytes: Family::default(),
            incoming_records: Family::default(),
            outgoing_bytes: Family::default(),
            outgoing_records: Family::default(),
            iterator_age_ms: Family::default(),
            throttles: Family::default(),
        }
    }
}

/// What the server found when it started: the engine's open report and the
/// topics and queues it quarantined, by name.
#[derive(Debug, Clone, Copy)]
pub struct Startup<'a> {
    /// Recovery's cuts per stream.
    pub open: &'a OpenReport,
    /// SNS topics whose log or delivery positions could not be read.
    pub quarantined_topics: &'a [String],
    /// SQS queues whose message or state log could not be read.
    pub quarantined_queues: &'a [String],
}

impl Metrics {
    /// Records one request: its action, its outcome code (`OK` or the error code),
    /// and how long it took.
    pub fn request(&self, action: ActionLabel, outcome: &'static str, elapsed: Duration) {
        let action = action.as_str();
        self.requests
            .get_or_create(&Outcome { action, outcome })
            .inc();
        self.latency
            .get_or_create(&Action { action })
            .observe(elapsed.as_secs_f64());
    }

    /// Records accepted records for a shard of an existing stream.
    pub fn incoming(&self, stream: &str, shard: ShardId, records: u64, bytes: u64) {
        let key = shard_key(stream, shard);
        self.incoming_records.get_or_create(&key).inc_by(records);
        self.incoming_bytes.get_or_create(&key).inc_by(bytes);
    }

    /// Records what a GetRecords returned from a shard of an existing stream, and
    /// how far behind it was.
    pub fn outgoing(&self, stream: &str, shard: ShardId, records: u64, bytes: u64, behind_ms: u64) {
        let key = shard_key(stream, shard);
        self.outgoing_records.get_or_create(&key).inc_by(records);
        self.outgoing_bytes.get_or_create(&key).inc_by(bytes);
        let behind_ms = i64::try_from(behind_ms).unwrap_or(i64::MAX);
        self.iterator_age_ms.get_or_create(&key).set(behind_ms);
    }

    /// Counts requests or records of an existing stream refused by shard quotas.
    pub fn throttled(&self, stream: &str, count: u64) {
        let key = Stream {
            stream: stream.to_string(),
        };
        self.throttles.get_or_create(&key).inc_by(count);
    }

    /// The text exposition ([`CONTENT_TYPE`]), with what `startup` found.
    pub fn render(&self, startup: Startup<'_>) -> String {
        let mut registry = Registry::default();
        registry.register(
            "shardlog_requests",
            "Requests by action and outcome",
            self.requests.clone(),
        );
        registry.register(
            "shardlog_request_duration_seconds",
            "Request latency",
            self.latency.clone(),
        );
        let per_shard = [
            (
                "shardlog_incoming_bytes",
                "Payload bytes accepted by PutRecord(s)",
                &self.incoming_bytes,
            ),
            (
                "shardlog_incoming_records",
                "Records accepted by PutRecord(s)",
                &self.incoming_records,
            ),
            (
                "shardlog_get_records_bytes",
                "Payload bytes returned by GetRecords",
                &self.outgoing_bytes,
            ),
            (
                "shardlog_get_records_records",
                "Records returned by GetRecords",
                &self.outgoing_records,
            ),
        ];
        for (name, help, family) in per_shard {
            registry.register(name, help, family.clone());
        }
        registry.register(
            "shardlog_iterator_age_milliseconds",
            "MillisBehindLatest of the last GetRecords",
            self.iterator_age_ms.clone(),
        );
        registry.register(
            "shardlog_throttled",
            "Requests and records refused by shard quotas",
            self.throttles.clone(),
        );
        register_truncations(&mut registry, startup.open);
        register_quarantined(&mut registry, startup);
        let mut out = String::new();
        encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }
}

fn shard_key(stream: &str, shard: ShardId) -> Shard {
    Shard {
        stream: stream.to_string(),
        shard: shard.to_string(),
    }
}

/// Topics and queues quarantined when the server started: 1 each, labelled by
/// name (`shardlog_topic_quarantined{topic=..}`, `shardlog_queue_quarantined{queue=..}`),
/// so that an alert can name them.
fn register_quarantined(registry: &mut Registry, startup: Startup<'_>) {
    registry.register(
        "shardlog_topic_quarantined",
        "Topics whose files could not be read at startup; they refuse publishes",
        ones(startup.quarantined_topics, |topic| TopicLabel { topic }),
    );
    registry.register(
        "shardlog_queue_quarantined",
        "Queues whose files could not be read at startup; they refuse everything but DeleteQueue",
        ones(startup.quarantined_queues, |queue| QueueLabel { queue }),
    );
}

/// A gauge of 1 for each of `names`, labelled as `label` makes it.
fn ones<L>(names: &[String], label: impl Fn(String) -> L) -> Family<L, Gauge>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
{
    let family: Family<L, Gauge> = Family::default();
    for name in names {
        family.get_or_create(&label(name.clone())).set(1);
    }
    family
}

/// Cuts recovery made (at open, and at reopens of failed shards), per stream: a
/// cut is never silent.
fn register_truncations(registry: &mut Registry, open: &OpenReport) {
    let cuts: Family<Stream, Counter> = Family::default();
    let bytes: Family<Stream, Counter> = Family::default();
    for recovery in &open.recoveries {
        let key = Stream {
            stream: recovery.stream.clone(),
        };
        for cut in &recovery.report.truncations {
            cuts.get_or_create(&key).inc();
            bytes.get_or_create(&key).inc_by(cut.bytes);
        }
    }
    registry.register(
        "shardlog_recovery_truncations",
        "Torn or damaged log tails recovery cut",
        cuts,
    );
    registry.register(
        "shardlog_recovery_truncated_bytes",
        "Bytes recovery cut from log tails",
        bytes,
    );
}

#[cfg(test)]
mod tests {
    //! The exposition carries what was recorded.
    use super::*;

    fn render(metrics: &Metrics) -> String {
        metrics.render(Startup {
            open: &OpenReport::default(),
            quarantined_topics: &[],
            quarantined_queues: &[],
        })
    }

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
        let text = render(&metrics);
        assert!(text.contains("shardlog_requests_total{action=\"PutRecord\",outcome=\"OK\"} 1"));
        assert!(text.contains(
            "shardlog_request_duration_seconds_bucket{le=\"0.001\",action=\"PutRecord\"} 1"
        ));
        assert!(text.contains(
            "shardlog_request_duration_seconds_bucket{le=\"0.005\",action=\"PutRecord\"} 2"
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
        let text = Metrics::default().render(Startup {
            open: &OpenReport::default(),
            quarantined_topics: &["news".to_string()],
            quarantined_queues: &["jobs".to_string()],
        });
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
        let text = render(&metrics);
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
        let text = render(&metrics);
        assert!(
            text.contains(r#"shardlog_incoming_bytes_total{stream="a\"b\\c\nd} 7",shard="shardId-000000000000"} 5"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(series.ends_with('}'), "{line}");
        }
    }
}
