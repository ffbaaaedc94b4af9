//! Prometheus metrics: requests by action and outcome, request latency, per
//! stream incoming bytes and records and GetRecords bytes, and what recovery cut
//! from each stream's logs.

use shardlog_engine::OpenReport;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, seconds.
const BUCKETS_S: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

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
    requests: BTreeMap<(String, String), u64>,
    latency: BTreeMap<String, Histogram>,
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
    pub fn request(&self, action: &str, outcome: &str, elapsed: Duration) {
        let mut state = self.lock();
        *state
            .requests
            .entry((action.to_string(), outcome.to_string()))
            .or_default() += 1;
        let histogram = state.latency.entry(action.to_string()).or_default();
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in BUCKETS_S.iter().enumerate() {
            if seconds <= *bound {
                histogram.counts[bucket] += 1;
            }
        }
        histogram.count += 1;
        histogram.sum_s += seconds;
    }

    /// Records accepted records for a shard.
    pub fn incoming(&self, stream: &str, shard: &str, records: u64, bytes: u64) {
        let key = (stream.to_string(), shard.to_string());
        let mut state = self.lock();
        *state.incoming_records.entry(key.clone()).or_default() += records;
        *state.incoming_bytes.entry(key).or_default() += bytes;
    }

    /// Records what a GetRecords returned from a shard, and how far behind it was.
    pub fn outgoing(&self, stream: &str, shard: &str, records: u64, bytes: u64, behind_ms: u64) {
        let key = (stream.to_string(), shard.to_string());
        let mut state = self.lock();
        *state.outgoing_records.entry(key.clone()).or_default() += records;
        *state.outgoing_bytes.entry(key.clone()).or_default() += bytes;
        state.iterator_age_ms.insert(key, behind_ms);
    }

    /// Counts requests or records of a stream refused by shard quotas.
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
            let _ = writeln!(
                out,
                "shardlog_requests_total{{action=\"{action}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        out.push_str("# HELP shardlog_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE shardlog_request_duration_seconds histogram\n");
        for (action, histogram) in &state.latency {
            for (bound, count) in BUCKETS_S.iter().zip(histogram.counts) {
                let _ = writeln!(out, "shardlog_request_duration_seconds_bucket{{action=\"{action}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(
                out,
                "shardlog_request_duration_seconds_bucket{{action=\"{action}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "shardlog_request_duration_seconds_sum{{action=\"{action}\"}} {}",
                histogram.sum_s
            );
            let _ = writeln!(
                out,
                "shardlog_request_duration_seconds_count{{action=\"{action}\"}} {}",
                histogram.count
            );
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
                let _ = writeln!(
                    out,
                    "{name}{{stream=\"{stream}\",shard=\"{shard}\"}} {value}"
                );
            }
        }
        let name = "shardlog_throttled_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests and records refused by shard quotas.\n# TYPE {name} counter"
        );
        for (stream, value) in &state.throttles {
            let _ = writeln!(out, "{name}{{stream=\"{stream}\"}} {value}");
        }
        render_truncations(&mut out, open);
        out
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
            let _ = writeln!(out, "{name}{{stream=\"{stream}\"}} {}", value(cuts));
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
        metrics.request("PutRecord", "OK", Duration::from_micros(700));
        metrics.request("PutRecord", "ValidationException", Duration::from_millis(3));
        metrics.incoming("orders", "shardId-000000000000", 2, 100);
        metrics.outgoing("orders", "shardId-000000000001", 3, 40, 1500);
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
}
