//! Latency over HTTP: seeks (GetShardIterator AT_SEQUENCE_NUMBER / AT_TIMESTAMP
//! then GetRecords of one record) and put-to-visible through a polling consumer.

use super::http::{Call, HttpStream};
use super::{context, e2e, Budget, Meter, Rng, Sample};
use crate::stats::record_ns;
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Pause of the e2e consumer after a GetRecords that returned nothing. Kinesis
/// consumers poll; this bounds the polling's share of the latency.
pub const POLL_PAUSE: Duration = Duration::from_millis(1);
/// The shard the e2e records go to (ExplicitHashKey 0 routes there).
const E2E_SHARD: &str = "shardId-000000000000";

fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("Data is not base64: {e}"))
}

/// GetShardIterator then GetRecords(Limit 1): the record found, if any.
fn one_record(call: &Call, stream: &str, shard: &str, start: Value) -> Result<Value, String> {
    let mut body = json!({"StreamName": stream, "ShardId": shard});
    if let (Some(body), Some(start)) = (body.as_object_mut(), start.as_object()) {
        body.extend(start.clone());
    }
    let iterator = call("GetShardIterator", &body)?["ShardIterator"]
        .as_str()
        .ok_or("GetShardIterator: no ShardIterator")?
        .to_string();
    let output = call(
        "GetRecords",
        &json!({"ShardIterator": iterator, "Limit": 1}),
    )?;
    output["Records"][0]
        .as_object()
        .map(|r| Value::Object(r.clone()))
        .ok_or_else(|| format!("no record at {start}"))
}

/// Random seeks of one kind to records the puts placed, until `lookups` are
/// done or the budget's duration passes; each is checked against what it must find.
pub fn seek(
    call: &Call,
    stream: &HttpStream,
    by_time: bool,
    lookups: u64,
    budget: &Budget,
    meter: &Meter,
    rng: &mut Rng,
) -> Result<Sample, String> {
    if stream.located.is_empty() {
        return Err("no put records to seek to".into());
    }
    let mut sample = Sample::new();
    let started = Instant::now();
    while sample.records < lookups && started.elapsed() < budget.duration {
        let target = &stream.located[rng.below(stream.located.len() as u64) as usize];
        let start = if by_time {
            let seconds = target.sent_unix_ms as f64 / 1000.0;
            json!({"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": seconds})
        } else {
            json!({"ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": target.sequence_number})
        };
        let begun = Instant::now();
        let found = one_record(call, &stream.name, &target.shard_id, start)?;
        record_ns(&mut sample.latency_ns, begun.elapsed());
        if by_time {
            let arrival_ms = found["ApproximateArrivalTimestamp"].as_f64().unwrap_or(0.0) * 1000.0;
            // The server reads the seconds back to whole ms: allow that rounding.
            if arrival_ms + 1.5 < target.sent_unix_ms as f64 {
                return Err(format!(
                    "AT_TIMESTAMP {} found a record that arrived at {arrival_ms} ms",
                    target.sent_unix_ms
                ));
            }
        } else if found["SequenceNumber"] != target.sequence_number.as_str() {
            return Err(format!(
                "AT_SEQUENCE_NUMBER {} found {}",
                target.sequence_number, found["SequenceNumber"]
            ));
        }
        sample.records += 1;
        meter.add(0, 1);
    }
    sample.elapsed = started.elapsed();
    Ok(sample)
}

/// End-to-end over HTTP: a producer at `rate` records/s to shard 0 for the
/// budget's duration while a consumer polls shard 0 from LATEST.
pub fn e2e(
    call: &Call,
    stream: &str,
    rate: u64,
    record_bytes: usize,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    let body = json!({"StreamName": stream, "ShardId": E2E_SHARD, "ShardIteratorType": "LATEST"});
    let mut iterator = call("GetShardIterator", &body)?["ShardIterator"]
        .as_str()
        .ok_or("GetShardIterator: no ShardIterator")?
        .to_string();
    let put = |data: &[u8]| {
        let body = json!({
            "StreamName": stream,
            "Data": base64::engine::general_purpose::STANDARD.encode(data),
            "PartitionKey": "e2e",
            "ExplicitHashKey": "0",
        });
        call("PutRecord", &body)
            .map(drop)
            .map_err(context("PutRecord"))
    };
    let poll = move || {
        let output = call(
            "GetRecords",
            &json!({"ShardIterator": iterator, "Limit": 10_000}),
        )?;
        iterator = output["NextShardIterator"]
            .as_str()
            .ok_or("GetRecords: an open shard returned no NextShardIterator")?
            .to_string();
        let records = output["Records"]
            .as_array()
            .ok_or("GetRecords: no Records")?;
        if records.is_empty() {
            std::thread::sleep(POLL_PAUSE);
        }
        records
            .iter()
            .map(|record| base64_decode(record["Data"].as_str().unwrap_or_default()))
            .collect()
    };
    e2e::run(rate, record_bytes, budget, meter, put, poll)
}
