//! The same append and replay over HTTP, through a running server's Kinesis API
//! (`--url`). The HTTP client is passed in (the `shardlog` binary's), so this
//! crate does not depend on one.

use super::engine::EngineSettings;
use super::{
    join_all, merge_concurrent, payload, Budget, Case, Figure, Meter, Params, Rng, Sample,
    WorkloadKind,
};
use crate::stats::record_ns;
use base64::Engine as _;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// One Kinesis call: action (`PutRecords`) and JSON body to JSON response.
pub type Call = dyn Fn(&str, &Value) -> Result<Value, String> + Send + Sync;

/// Makes a [`Call`] for an endpoint URL.
pub type Connector<'a> = &'a dyn Fn(&str) -> Result<Box<Call>, String>;

/// Wraps any client with a `call(&self, action, body)` method into a [`Call`].
pub fn caller<C, E>(client: C, call: fn(&C, &str, &Value) -> Result<Value, E>) -> Box<Call>
where
    C: Send + Sync + 'static,
    E: std::fmt::Display + 'static,
{
    Box::new(move |action: &str, body: &Value| {
        call(&client, action, body).map_err(|e| e.to_string())
    })
}

/// Longest wait for a created stream to become ACTIVE.
const ACTIVE_WAIT: Duration = Duration::from_secs(30);
/// Pause between DescribeStreamSummary polls while waiting.
const ACTIVE_POLL: Duration = Duration::from_millis(50);
/// GetRecords limit of the replay.
const GET_LIMIT: u64 = 10_000;

/// A stream this run created on the server; deleted on drop.
struct HttpStream {
    call: Rc<Box<Call>>,
    name: String,
    shards: u32,
    has_data: bool,
}

impl HttpStream {
    fn create(call: Rc<Box<Call>>, shards: u32) -> Result<HttpStream, String> {
        let name = format!("shardlog-bench-{}", std::process::id());
        call(
            "CreateStream",
            &json!({"StreamName": name, "ShardCount": shards}),
        )?;
        let stream = HttpStream {
            call,
            name,
            shards,
            has_data: false,
        };
        let started = Instant::now();
        loop {
            let summary =
                (stream.call)("DescribeStreamSummary", &json!({"StreamName": stream.name}))?;
            if summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE" {
                return Ok(stream);
            }
            if started.elapsed() > ACTIVE_WAIT {
                return Err(format!(
                    "stream {} not ACTIVE after {ACTIVE_WAIT:?}",
                    stream.name
                ));
            }
            std::thread::sleep(ACTIVE_POLL);
        }
    }
}

impl Drop for HttpStream {
    fn drop(&mut self) {
        let _ = (self.call)("DeleteStream", &json!({"StreamName": self.name}));
    }
}

/// PutRecords from `producers` threads within the budget.
fn put(
    call: &Call,
    stream: &str,
    settings: &EngineSettings,
    producers: usize,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    let started = Instant::now();
    let call_bytes = (settings.record_bytes * settings.batch_records) as u64;
    let outcomes: Vec<Result<Sample, String>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..producers)
            .map(|index| {
                scope.spawn(move || {
                    let mut rng = Rng::new(index as u64 + 1);
                    let data = base64::engine::general_purpose::STANDARD
                        .encode(payload(settings.record_bytes, index as u64));
                    let mut keys = vec![String::new(); settings.batch_records];
                    let mut sample = Sample::new();
                    while !budget.done(meter.bytes(), started) {
                        rng.fill_keys(&mut keys);
                        let records: Vec<Value> = keys
                            .iter()
                            .map(|k| json!({"Data": data, "PartitionKey": k}))
                            .collect();
                        let body = json!({"StreamName": stream, "Records": records});
                        let begun = Instant::now();
                        let response = call("PutRecords", &body)?;
                        record_ns(&mut sample.latency_ns, begun.elapsed());
                        let failed = response["FailedRecordCount"].as_u64().unwrap_or(0);
                        if failed > 0 {
                            return Err(format!(
                                "PutRecords: {failed} records failed: {}",
                                response["Records"]
                            ));
                        }
                        sample.bytes += call_bytes;
                        sample.records += settings.batch_records as u64;
                        meter.add(call_bytes, settings.batch_records as u64);
                    }
                    Ok(sample)
                })
            })
            .collect();
        join_all(threads, "a producer")
    });
    let mut total = merge_concurrent(outcomes)?;
    total.elapsed = started.elapsed();
    Ok(total)
}

/// GetRecords of every shard from TRIM_HORIZON until caught up (or the budget).
fn replay(
    call: &Call,
    stream: &HttpStream,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    let mut sample = Sample::new();
    let started = Instant::now();
    for shard in 0..stream.shards {
        let body = json!({"StreamName": stream.name, "ShardId": format!("shardId-{shard:012}"), "ShardIteratorType": "TRIM_HORIZON"});
        let mut iterator = call("GetShardIterator", &body)?["ShardIterator"]
            .as_str()
            .ok_or("GetShardIterator: no ShardIterator")?
            .to_string();
        while !budget.done(sample.bytes, started) {
            let begun = Instant::now();
            let output = call(
                "GetRecords",
                &json!({"ShardIterator": iterator, "Limit": GET_LIMIT}),
            )?;
            record_ns(&mut sample.latency_ns, begun.elapsed());
            let records = output["Records"]
                .as_array()
                .ok_or("GetRecords: no Records")?;
            let mut bytes = 0u64;
            for record in records {
                let data = record["Data"]
                    .as_str()
                    .ok_or("GetRecords: a record without Data")?;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| format!("GetRecords: Data is not base64: {e}"))?;
                bytes += decoded.len() as u64;
            }
            sample.bytes += bytes;
            sample.records += records.len() as u64;
            meter.add(bytes, records.len() as u64);
            let caught_up = output["MillisBehindLatest"].as_u64() == Some(0);
            match output["NextShardIterator"].as_str() {
                Some(next) if !(records.is_empty() && caught_up) => iterator = next.to_string(),
                _ => break,
            }
        }
    }
    sample.elapsed = started.elapsed();
    Ok(sample)
}

/// The HTTP cases among `kinds`, against the endpoint `call` talks to.
pub fn http_cases<'a>(
    kinds: &[WorkloadKind],
    call: Box<Call>,
    settings: &'a EngineSettings,
) -> Vec<Case<'a>> {
    let call = Rc::new(call);
    let shards = settings.shard_counts.iter().copied().max().unwrap_or(1);
    let producers = settings.producers_for(shards);
    let stream: Rc<RefCell<Option<HttpStream>>> = Rc::new(RefCell::new(None));
    let params = Params {
        shards: Some(shards),
        record_bytes: Some(settings.record_bytes),
        batch_records: Some(settings.batch_records),
        producers: Some(producers),
        ..Params::default()
    };
    kinds
        .iter()
        .filter(|kind| kind.is_http())
        .map(|&kind| {
            let call = Rc::clone(&call);
            let stream = Rc::clone(&stream);
            let appending = kind == WorkloadKind::HttpAppend;
            let run = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
                let mut slot = stream.borrow_mut();
                if slot.is_none() {
                    *slot = Some(HttpStream::create(Rc::clone(&call), shards)?);
                }
                let target = slot.as_mut().expect("created above");
                if appending {
                    target.has_data = true;
                    return put(
                        call.as_ref().as_ref(),
                        &target.name,
                        settings,
                        producers,
                        budget,
                        meter,
                    );
                }
                if !target.has_data {
                    put(
                        call.as_ref().as_ref(),
                        &target.name,
                        settings,
                        producers,
                        budget,
                        &Meter::new("", 0, false),
                    )?;
                    target.has_data = true;
                }
                replay(call.as_ref().as_ref(), target, budget, meter)
            };
            Case {
                kind,
                name: format!(
                    "{} {shards} shards",
                    if appending {
                        "HTTP PutRecords"
                    } else {
                        "HTTP GetRecords replay"
                    }
                ),
                params: params.clone(),
                latency_of: if appending {
                    "PutRecords request"
                } else {
                    "GetRecords request"
                },
                baseline: Some(if appending {
                    WorkloadKind::RawDirectWrite
                } else {
                    WorkloadKind::RawReadWarm
                }),
                figure: Figure::Throughput,
                warmup: appending,
                run: Box::new(run),
            }
        })
        .collect()
}
