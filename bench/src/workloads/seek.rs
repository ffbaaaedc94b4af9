//! Latency workloads: seeks (GetShardIterator AT_SEQUENCE_NUMBER / AT_TIMESTAMP
//! then GetRecords of one record) and end-to-end put-to-visible latency.

use super::e2e;
use super::engine::{check_puts, put_records_of, EngineDir, STREAM};
use super::{context, payload, Budget, Case, Figure, Meter, Params, Rng, Sample, WorkloadKind};
use crate::stats::record_ns;
use shardlog_engine::seqno::SequenceNumber;
use shardlog_engine::ShardId;
use shardlog_engine::{Engine, IteratorStart, PutRecord, GET_RECORDS_MAX, PUT_RECORDS_MAX};
use shardlog_segment::{BackendKind, Durability};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Payload bytes of the records a seek shard is filled with.
pub const SEEK_RECORD_BYTES: usize = 100;
/// Sequence numbers kept from the fill (a uniform reservoir sample).
const SEEK_SAMPLE_MAX: usize = 10_000;
/// How long the e2e consumer waits in one GetRecords call.
const VISIBLE_WAIT: Duration = Duration::from_millis(500);

/// A shard filled for seeking, with a sample of its sequence numbers.
struct Filled {
    engine_dir: EngineDir,
    sample: Vec<SequenceNumber>,
    first_ms: u64,
    last_ms: u64,
}

/// Puts `records_total` small records into a new 1-shard stream from one thread
/// (durability `none`: only to fill fast), keeping a uniform sample of sequence numbers.
fn fill(root: &Path, records_total: u64, rng: &mut Rng) -> Result<Filled, String> {
    let engine_dir = EngineDir::open(root.join("seek"), Durability::None, BackendKind::Buffered)?;
    let engine = engine_dir.engine();
    engine
        .create_stream(STREAM, Some(1), BTreeMap::new())
        .map_err(context("create_stream"))?;
    let data = payload(SEEK_RECORD_BYTES, 7);
    let mut keys = vec![String::new(); PUT_RECORDS_MAX];
    let mut sample: Vec<SequenceNumber> = Vec::with_capacity(SEEK_SAMPLE_MAX);
    let mut seen = 0u64;
    let mut last_sequence_number = None;
    while seen < records_total {
        let count = (records_total - seen).min(PUT_RECORDS_MAX as u64) as usize;
        rng.fill_keys(&mut keys[..count]);
        let records = put_records_of(&keys[..count], &data);
        let results = engine
            .put_records(STREAM, &records)
            .map_err(context("put_records"))?;
        check_puts(&results)?;
        for result in results.into_iter().flatten() {
            last_sequence_number = Some(result.sequence_number);
            // Reservoir sampling (Algorithm R).
            if sample.len() < SEEK_SAMPLE_MAX {
                sample.push(result.sequence_number);
            } else {
                let slot = rng.below(seen + 1) as usize;
                if slot < SEEK_SAMPLE_MAX {
                    sample[slot] = result.sequence_number;
                }
            }
            seen += 1;
        }
    }
    let first = one_record(engine, IteratorStart::TrimHorizon)?;
    let last_sequence_number = last_sequence_number.ok_or("the fill put no records")?;
    let last = one_record(
        engine,
        IteratorStart::AtSequenceNumber(last_sequence_number),
    )?;
    Ok(Filled {
        first_ms: first.1,
        last_ms: last.1,
        engine_dir,
        sample,
    })
}

/// The sequence number and arrival time of the record at `start`.
pub(crate) fn one_record(
    engine: &Engine,
    start: IteratorStart,
) -> Result<(SequenceNumber, u64), String> {
    let described = format!("{start:?}");
    let iterator = engine
        .get_shard_iterator(STREAM, ShardId(0), start)
        .map_err(|e| format!("get_shard_iterator {described}: {e}"))?;
    let output = engine
        .get_records(&iterator, 1)
        .map_err(|e| format!("get_records after {described}: {e}"))?;
    let record = output
        .records
        .into_iter()
        .next()
        .ok_or_else(|| format!("no record at {described}"))?;
    Ok((record.sequence_number, record.approximate_arrival_ms))
}

/// Random lookups of one kind until `lookups` are done or the budget's duration
/// passes, each checked against what it must find.
fn seek(
    filled: &Filled,
    by_time: bool,
    lookups: u64,
    budget: &Budget,
    meter: &Meter,
    rng: &mut Rng,
) -> Result<Sample, String> {
    let engine = filled.engine_dir.engine();
    if !by_time {
        return seek_sequence_numbers(engine, &filled.sample, lookups, budget, meter, rng);
    }
    let mut sample = Sample::new();
    let started = Instant::now();
    while sample.records < lookups && started.elapsed() < budget.duration {
        let begun = Instant::now();
        let at_ms = filled.first_ms + rng.below(filled.last_ms - filled.first_ms + 1);
        let (_, found_ms) = one_record(engine, IteratorStart::AtTimestamp(at_ms))?;
        record_ns(&mut sample.latency_ns, begun.elapsed());
        if found_ms < at_ms {
            return Err(format!(
                "AT_TIMESTAMP {at_ms} found a record that arrived at {found_ms}"
            ));
        }
        sample.records += 1;
        meter.add(0, 1);
    }
    sample.elapsed = started.elapsed();
    Ok(sample)
}

/// AT_SEQUENCE_NUMBER lookups of sequence numbers drawn from `wanted` until
/// `lookups` are done or the budget's duration passes, each checked to find its
/// own record.
pub(crate) fn seek_sequence_numbers(
    engine: &Engine,
    wanted: &[SequenceNumber],
    lookups: u64,
    budget: &Budget,
    meter: &Meter,
    rng: &mut Rng,
) -> Result<Sample, String> {
    let mut sample = Sample::new();
    let started = Instant::now();
    while sample.records < lookups && started.elapsed() < budget.duration {
        let begun = Instant::now();
        let wanted = wanted[rng.below(wanted.len() as u64) as usize];
        let (found, _) = one_record(engine, IteratorStart::AtSequenceNumber(wanted))?;
        record_ns(&mut sample.latency_ns, begun.elapsed());
        if found != wanted {
            return Err(format!("AT_SEQUENCE_NUMBER {wanted} found record {found}"));
        }
        sample.records += 1;
        meter.add(0, 1);
    }
    sample.elapsed = started.elapsed();
    Ok(sample)
}

/// The two seek cases over one shard of `records_total` records (filled on first use).
pub fn seek_cases<'a>(
    kinds: &[WorkloadKind],
    root: &'a Path,
    records_total: u64,
    lookups: u64,
) -> Vec<Case<'a>> {
    let shared: Rc<RefCell<Option<Filled>>> = Rc::new(RefCell::new(None));
    let rng = Rc::new(RefCell::new(Rng::new(0x5eec)));
    kinds
        .iter()
        .map(|&kind| {
            let by_time = kind == WorkloadKind::SeekTimestamp;
            let shared = Rc::clone(&shared);
            let rng = Rc::clone(&rng);
            let run = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
                let mut slot = shared.borrow_mut();
                if slot.is_none() {
                    *slot = Some(fill(root, records_total, &mut rng.borrow_mut())?);
                }
                seek(
                    slot.as_ref().expect("filled above"),
                    by_time,
                    lookups,
                    budget,
                    meter,
                    &mut rng.borrow_mut(),
                )
            };
            Case {
                kind,
                name: format!(
                    "seek {} in {records_total} records",
                    if by_time {
                        "AT_TIMESTAMP"
                    } else {
                        "AT_SEQUENCE_NUMBER"
                    }
                ),
                params: Params {
                    shards: Some(1),
                    record_bytes: Some(SEEK_RECORD_BYTES),
                    ..Params::default()
                },
                latency_of: "GetShardIterator + GetRecords(1)",
                baselines: &[],
                figure: Figure::Latency,
                warmup: true,
                run: Box::new(run),
            }
        })
        .collect()
}

/// End-to-end: a producer at `rate` records/s for the budget's duration while a
/// consumer waits on a LATEST iterator; latency from intended put to visible.
pub fn e2e_case<'a>(
    root: &'a Path,
    durability: Durability,
    rate: u64,
    record_bytes: usize,
) -> Case<'a> {
    let run = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
        let engine_dir = EngineDir::open(root.join("e2e"), durability, BackendKind::Buffered)?;
        let engine = engine_dir.engine();
        engine
            .create_stream(STREAM, Some(1), BTreeMap::new())
            .map_err(context("create_stream"))?;
        let iterator = engine
            .get_shard_iterator(STREAM, ShardId(0), IteratorStart::Latest)
            .map_err(context("get_shard_iterator LATEST"))?;
        let put = |data: &[u8]| {
            let record = PutRecord {
                partition_key: "e2e",
                data,
                explicit_hash_key: None,
            };
            engine
                .put_record(STREAM, record)
                .map(drop)
                .map_err(context("put_record"))
        };
        let mut iterator = iterator;
        let poll = move || {
            let output = engine
                .get_records_waiting(&iterator, GET_RECORDS_MAX, VISIBLE_WAIT)
                .map_err(context("get_records_waiting"))?;
            iterator = output
                .next_shard_iterator
                .ok_or("an open shard returned no next iterator")?;
            Ok(output.records.iter().map(|r| r.data.to_vec()).collect())
        };
        e2e::run(rate, record_bytes, budget, meter, put, poll)
    };
    Case {
        kind: WorkloadKind::E2e,
        name: format!("e2e put-to-visible {rate}/s {}", durability.name()),
        params: Params {
            shards: Some(1),
            record_bytes: Some(record_bytes.max(16)),
            batch_records: Some(1),
            producers: Some(1),
            durability: Some(durability.name()),
            backend: Some(BackendKind::Buffered.name().to_string()),
            rate_records_per_s: Some(rate),
            ..Params::default()
        },
        latency_of: "intended put to consumer holding it",
        baselines: &[],
        figure: Figure::Latency,
        warmup: true,
        run: Box::new(run),
    }
}
