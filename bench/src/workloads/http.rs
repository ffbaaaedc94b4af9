//! The same append and replay over HTTP, through a running server's Kinesis API
//! (`--url`). The HTTP client is passed in (the `shardlog` binary's), so this
//! crate does not depend on one.

use super::engine::EngineSettings;
use super::http_latency::{e2e, seek};
use super::http_put::{failure, read_answer, Placed, PutBody};
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

/// One Kinesis call whose body the caller encoded in the endpoint's wire: action,
/// body, and the buffer that receives the answer (cleared first). An error answer
/// is an `Err`.
pub type RawCall = dyn Fn(&str, &[u8], &mut Vec<u8>) -> Result<(), String> + Send + Sync;

/// Makes a [`Call`] for an endpoint URL.
pub type Connector<'a> = &'a dyn Fn(&str) -> Result<Box<Call>, String>;

/// Makes the [`Endpoint`] of an SQS URL (JSON 1.0 both ways).
pub type SqsConnector<'a> = &'a dyn Fn(&str) -> Result<Endpoint, String>;

/// Makes the [`Endpoint`] of a Kinesis URL that speaks a wire.
pub type KinesisConnector<'a> = &'a dyn Fn(&str, Wire) -> Result<Endpoint, String>;

/// A Kinesis endpoint: calls in JSON terms for everything, and raw calls in its
/// wire for the producers' PutRecords (see `http_put`).
pub struct Endpoint {
    /// Calls with JSON bodies and answers.
    pub call: Box<Call>,
    /// Calls with bodies and answers in the endpoint's wire.
    pub raw: Box<RawCall>,
}

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

/// A client's method that sends an encoded body and reads the answer into a buffer.
pub type RawMethod<C, E> = fn(&C, &str, &[u8], &mut Vec<u8>) -> Result<(), E>;

/// The [`Endpoint`] of a client with a JSON `call` and a `raw` call in its wire.
pub fn endpoint<C, E>(
    client: C,
    call: fn(&C, &str, &Value) -> Result<Value, E>,
    raw: RawMethod<C, E>,
) -> Endpoint
where
    C: Send + Sync + 'static,
    E: std::fmt::Display + 'static,
{
    let client = std::sync::Arc::new(client);
    let for_raw = std::sync::Arc::clone(&client);
    Endpoint {
        call: Box::new(move |action: &str, body: &Value| {
            call(&client, action, body).map_err(|e| e.to_string())
        }),
        raw: Box::new(move |action: &str, body: &[u8], answer: &mut Vec<u8>| {
            raw(&for_raw, action, body, answer).map_err(|e| e.to_string())
        }),
    }
}

/// Longest wait for a created stream to become ACTIVE.
const ACTIVE_WAIT: Duration = Duration::from_secs(30);
/// Pause between DescribeStreamSummary polls while waiting.
const ACTIVE_POLL: Duration = Duration::from_millis(50);
/// GetRecords limit of the replay.
const GET_LIMIT: u64 = 10_000;

/// A stream this run created on the server; deleted on drop.
pub struct HttpStream {
    call: Rc<Box<Call>>,
    /// Its name.
    pub name: String,
    /// Its shard count.
    pub shards: u32,
    /// Records to seek to, from the puts so far.
    pub located: Vec<Located>,
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
            located: Vec::new(),
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

/// Where a put record landed, and when (wall clock, ms) its request was sent:
/// what the HTTP seeks look for.
#[derive(Debug, Clone)]
pub struct Located {
    /// Its shard.
    pub shard_id: String,
    /// Its sequence number.
    pub sequence_number: String,
    /// Milliseconds since the epoch just before the PutRecords request: the
    /// record arrived at or after it.
    pub sent_unix_ms: u64,
}

/// Records kept per producer for the seeks (a uniform reservoir of one record per call).
const LOCATED_PER_PRODUCER_MAX: usize = 2_000;

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How the producers send PutRecords: raw calls in a wire.
#[derive(Clone, Copy)]
struct Producers<'a> {
    raw: &'a RawCall,
    wire: Wire,
    count: usize,
}

/// One producer's PutRecords loop within the budget.
fn put_loop(
    producers: Producers<'_>,
    stream: &str,
    settings: &EngineSettings,
    index: usize,
    keep_going: &dyn Fn() -> bool,
    meter: &Meter,
) -> Result<(Sample, Vec<Located>), String> {
    let mut rng = Rng::new(index as u64 + 1);
    let data = payload(settings.record_bytes, index as u64);
    let mut body = PutBody::new(producers.wire, stream, &data);
    let mut answer = Vec::new();
    let mut keys = vec![String::new(); settings.batch_records];
    let mut sample = Sample::new();
    let mut located = Vec::new();
    let call_bytes = (settings.record_bytes * settings.batch_records) as u64;
    let mut calls = 0u64;
    while keep_going() {
        rng.fill_keys(&mut keys);
        let request = body.encode(&keys);
        let sent_unix_ms = unix_ms();
        let begun = Instant::now();
        (producers.raw)("PutRecords", request, &mut answer)?;
        record_ns(&mut sample.latency_ns, begun.elapsed());
        let read = read_answer(producers.wire, &answer)?;
        if read.failed > 0 {
            return Err(failure(producers.wire, &answer, read.failed));
        }
        if let Some(Placed {
            shard_id: Some(shard_id),
            sequence_number: Some(sequence_number),
            ..
        }) = read.first.0
        {
            // Reservoir sampling (Algorithm R) over the calls.
            let entry = Located {
                shard_id,
                sequence_number,
                sent_unix_ms,
            };
            if located.len() < LOCATED_PER_PRODUCER_MAX {
                located.push(entry);
            } else if let Some(slot) = located.get_mut(rng.below(calls + 1) as usize) {
                *slot = entry;
            }
        }
        calls += 1;
        sample.bytes += call_bytes;
        sample.records += settings.batch_records as u64;
        meter.add(call_bytes, settings.batch_records as u64);
    }
    Ok((sample, located))
}

/// PutRecords from the producers' threads within the budget; the records it can
/// seek to are added to `stream`.
fn put(
    producers: Producers<'_>,
    stream: &mut HttpStream,
    settings: &EngineSettings,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    let started = Instant::now();
    let keep_going = || !budget.done(meter.bytes(), started);
    let name = stream.name.as_str();
    let outcomes = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..producers.count)
            .map(|index| {
                let keep_going = &keep_going;
                scope.spawn(move || put_loop(producers, name, settings, index, keep_going, meter))
            })
            .collect();
        join_all(threads, "a producer")
    });
    let mut samples = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        let (sample, located) = outcome?;
        stream.located.extend(located);
        samples.push(Ok(sample));
    }
    let mut total = merge_concurrent(samples)?;
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

/// What the HTTP workloads need beyond the engine settings.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// Seeks of each kind per repetition.
    pub seek_lookups: u64,
    /// Records/s of the end-to-end run.
    pub e2e_rate: u64,
    /// The wire the [`Call`] speaks (named in the cases).
    pub wire: Wire,
}

/// The Kinesis wire protocol of the HTTP cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Wire {
    /// JSON 1.1: blobs as base64 text.
    #[default]
    Json,
    /// CBOR 1.1: blobs as byte strings.
    Cbor,
}

impl Wire {
    /// How a case's name shows the wire: nothing for the default, JSON.
    fn label(self) -> &'static str {
        match self {
            Wire::Json => "",
            Wire::Cbor => " CBOR",
        }
    }
}

/// The stream shared by the HTTP cases: created on first use, filled (within
/// `fill`, unmeasured) when a case needs records and no append has put any.
struct Shared<'a> {
    call: Rc<Box<Call>>,
    raw: Box<RawCall>,
    wire: Wire,
    stream: RefCell<Option<HttpStream>>,
    settings: &'a EngineSettings,
    shards: u32,
    producers: usize,
}

impl Shared<'_> {
    fn producers(&self) -> Producers<'_> {
        Producers {
            raw: self.raw.as_ref(),
            wire: self.wire,
            count: self.producers,
        }
    }

    fn with_stream<T>(
        &self,
        fill: Option<&Budget>,
        work: impl FnOnce(&Call, &mut HttpStream) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut slot = self.stream.borrow_mut();
        if slot.is_none() {
            *slot = Some(HttpStream::create(Rc::clone(&self.call), self.shards)?);
        }
        let stream = slot.as_mut().expect("created above");
        let call = self.call.as_ref().as_ref();
        if let Some(budget) = fill.filter(|_| stream.located.is_empty()) {
            let quiet = Meter::new("", 0, false);
            put(self.producers(), stream, self.settings, budget, &quiet)?;
        }
        work(call, stream)
    }
}

/// The HTTP cases among `kinds`, against the endpoint `call` talks to.
pub fn http_cases<'a>(
    kinds: &[WorkloadKind],
    endpoint: Endpoint,
    settings: &'a EngineSettings,
    http: HttpSettings,
) -> Vec<Case<'a>> {
    let shards = settings.shard_counts.iter().copied().max().unwrap_or(1);
    let shared = Rc::new(Shared {
        call: Rc::new(endpoint.call),
        raw: endpoint.raw,
        wire: http.wire,
        stream: RefCell::new(None),
        settings,
        shards,
        producers: settings.producers_for(shards),
    });
    let rng = Rc::new(RefCell::new(Rng::new(0x4774)));
    kinds
        .iter()
        .filter(|kind| kind.is_http() && !kind.is_sqs() && !kind.is_sns())
        .map(|&kind| {
            let shared = Rc::clone(&shared);
            let rng = Rc::clone(&rng);
            let run = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
                match kind {
                    WorkloadKind::HttpAppend => shared.with_stream(None, |_, stream| {
                        put(shared.producers(), stream, settings, budget, meter)
                    }),
                    WorkloadKind::HttpReplay => shared.with_stream(Some(budget), |call, stream| {
                        replay(call, stream, budget, meter)
                    }),
                    WorkloadKind::HttpE2e => shared.with_stream(None, |call, stream| {
                        let record_bytes = settings.record_bytes;
                        e2e(
                            call,
                            &stream.name,
                            http.e2e_rate,
                            record_bytes,
                            budget,
                            meter,
                        )
                    }),
                    _ => shared.with_stream(Some(budget), |call, stream| {
                        let by_time = kind == WorkloadKind::HttpSeekTimestamp;
                        let lookups = http.seek_lookups;
                        seek(
                            call,
                            stream,
                            by_time,
                            lookups,
                            budget,
                            meter,
                            &mut rng.borrow_mut(),
                        )
                    }),
                }
            };
            http_case(kind, shards, settings, http, Box::new(run))
        })
        .collect()
}

/// "1 shard", "4 shards".
fn shards_text(shards: u32) -> String {
    format!("{shards} shard{}", if shards == 1 { "" } else { "s" })
}

/// The description of one HTTP case.
fn http_case<'a>(
    kind: WorkloadKind,
    shards: u32,
    settings: &EngineSettings,
    http: HttpSettings,
    run: super::RunFn<'a>,
) -> Case<'a> {
    let mut params = Params {
        shards: Some(shards),
        record_bytes: Some(settings.record_bytes),
        batch_records: Some(settings.batch_records),
        producers: Some(settings.producers_for(shards)),
        ..Params::default()
    };
    let (name, latency_of, baselines, figure): (_, _, &'static [WorkloadKind], _) = match kind {
        WorkloadKind::HttpAppend => (
            format!(
                "HTTP PutRecords{} {}",
                http.wire.label(),
                shards_text(shards)
            ),
            "PutRecords request",
            super::BEST_WRITE,
            Figure::Throughput,
        ),
        WorkloadKind::HttpReplay => (
            format!(
                "HTTP GetRecords{} replay {}",
                http.wire.label(),
                shards_text(shards)
            ),
            "GetRecords request",
            &[WorkloadKind::RawReadWarm],
            Figure::Throughput,
        ),
        WorkloadKind::HttpE2e => {
            params.rate_records_per_s = Some(http.e2e_rate);
            params.batch_records = Some(1);
            params.producers = Some(1);
            (
                format!("HTTP e2e put-to-visible {}/s (polling)", http.e2e_rate),
                "intended PutRecord to consumer holding it",
                &[],
                Figure::Latency,
            )
        }
        _ => (
            format!(
                "HTTP seek {}",
                if kind == WorkloadKind::HttpSeekTimestamp {
                    "AT_TIMESTAMP"
                } else {
                    "AT_SEQUENCE_NUMBER"
                }
            ),
            "GetShardIterator + GetRecords(1) requests",
            &[],
            Figure::Latency,
        ),
    };
    Case {
        kind,
        name,
        params,
        latency_of,
        baselines,
        figure,
        warmup: kind != WorkloadKind::HttpReplay,
        run,
    }
}
