//! Engine benchmark: shardlog's Kinesis API (PutRecords, GetRecords,
//! GetShardIterator, the tail wait) on the real file system, with the raw device
//! measured in the same run.
//!
//! ```text
//! shardlog-engine-bench [--dir DIR] [--quick] [--gib N] [--lookup-records N]
//! ```
//!
//! Four measurements, each on its own engine under `--dir` (default
//! `shardlog-bench-data`), all of whose data is deleted at the end:
//!
//! 1. PutRecords throughput for 1, 4 and 16 shards: `--gib` GiB (default 2) of
//!    1 KiB records per run, 500 per call with random partition keys, durability
//!    `sync`, two producer threads per shard (4 to 32). Each run follows a
//!    sequential `O_DIRECT` write of the same volume: its ratio's denominator.
//! 2. Replay: GetRecords (limit 10,000) of the 1-shard run from TRIM_HORIZON to
//!    the end, once to fill the page cache and once more, measured.
//! 3. Lookup: a shard filled with `--lookup-records` 100-byte records (default
//!    10,000,000; durability `none`, only to fill it fast), then GetShardIterator
//!    AT_SEQUENCE_NUMBER and AT_TIMESTAMP at random points, each followed by a
//!    GetRecords of one record.
//! 4. Put-to-visible: PutRecord at 200 records/s with durability `sync` while a
//!    consumer waits in GetRecords on a LATEST iterator; the delay from just before
//!    the put to the consumer holding the record.
//!
//! `--quick` shrinks the volumes (256 MiB per put run, 1,000,000 lookup records and
//! 2,000 lookups of each kind, a 3 s latency run) to finish in about a minute. The
//! targets printed beside the figures are the issue's; reported, not asserted.

use hdrhistogram::Histogram;
use shardlog_bench::raw::{direct_write, RAW_BLOCK_BYTES};
use shardlog_engine::names::shard_id;
use shardlog_engine::{
    Engine, EngineConfig, IteratorStart, OutputRecord, PutRecord, PutResult, RecordFailure,
    GET_RECORDS_MAX, PUT_RECORDS_MAX,
};
use shardlog_segment::io::RealFs;
use shardlog_segment::Durability;
use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const STREAM: &str = "bench";
const SHARD_COUNTS: [u32; 3] = [1, 4, 16];
const PUT_RECORD_BYTES: usize = 1024;
const PUT_CALL_RECORDS: usize = PUT_RECORDS_MAX;
const PRODUCERS_PER_SHARD: usize = 2;
const PRODUCERS_MIN: usize = 4;
const PRODUCERS_MAX: usize = 32;
const LOOKUP_RECORD_BYTES: usize = 100;
/// Sequence numbers kept from the fill (a uniform reservoir sample), and lookups
/// of each kind measured (`--quick`: 2,000).
const LOOKUP_SAMPLE_MAX: usize = 10_000;
/// Lookups of each kind done before measuring, so the first page faults and cache
/// misses of the process do not count.
const LOOKUP_WARMUP_COUNT: usize = 100;
const VISIBLE_RECORDS_PER_S: u32 = 200;
const VISIBLE_WAIT: Duration = Duration::from_secs(1);
/// How long the consumer waits for stragglers after the producer's last put.
const VISIBLE_GRACE: Duration = Duration::from_secs(10);

const TARGET_PUT_RATIO_16: f64 = 0.70;
const TARGET_REPLAY_MB_PER_S: f64 = 2000.0;
const TARGET_LOOKUP_P99_US: f64 = 20.0;
const TARGET_VISIBLE_P99_US: f64 = 2000.0;

#[derive(Debug, Clone)]
struct Options {
    dir: PathBuf,
    quick: bool,
    volume_bytes: u64,
    lookup_records: u64,
    lookup_count: usize,
    visible_secs: u32,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut dir = PathBuf::from("shardlog-bench-data");
    let mut quick = false;
    let mut volume_bytes = None;
    let mut lookup_records = None;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--dir" => dir = PathBuf::from(value()?),
            "--quick" => quick = true,
            "--gib" => {
                let text = value()?;
                let gib: f64 = text
                    .parse()
                    .ok()
                    .filter(|g: &f64| g.is_finite() && *g > 0.0)
                    .ok_or_else(|| format!("--gib: '{text}' is not a positive number"))?;
                let bytes = (gib * (1u64 << 30) as f64) as u64;
                if bytes < RAW_BLOCK_BYTES as u64 {
                    return Err(format!("--gib: '{text}' is less than 1 MiB"));
                }
                volume_bytes = Some(bytes);
            }
            "--lookup-records" => {
                let text = value()?;
                let count = text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("--lookup-records: '{text}' is not a positive integer")
                })?;
                lookup_records = Some(count);
            }
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let (default_volume, default_lookup, lookup_count, visible_secs) = if quick {
        (256 << 20, 1_000_000, 2_000, 3)
    } else {
        (2 << 30, 10_000_000, LOOKUP_SAMPLE_MAX, 10)
    };
    Ok(Options {
        dir,
        quick,
        volume_bytes: volume_bytes.unwrap_or(default_volume),
        lookup_records: lookup_records.unwrap_or(default_lookup),
        lookup_count,
        visible_secs,
    })
}

/// `map_err` helper: the failing call's name, then its error.
fn context<E: Display>(what: &'static str) -> impl Fn(E) -> String {
    move |error| format!("{what}: {error}")
}

/// splitmix64: enough randomness for partition keys and lookup targets, and
/// reproducible from run to run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5348_4152_444c_4f47)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (the modulo bias is irrelevant at these bounds).
    fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "an empty range has no random element");
        self.next_u64() % bound
    }

    /// Fills `keys` with fresh random 16-hex-digit partition keys.
    fn fill_keys(&mut self, keys: &mut [String]) {
        for key in keys {
            key.clear();
            write!(key, "{:016x}", self.next_u64()).expect("writing to a String");
        }
    }
}

/// A payload that no layer can compress away to nothing.
fn payload(len: usize, seed: u64) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(seed) as u8 | 1)
        .collect()
}

/// Longest latency a histogram tracks exactly; longer ones count as this.
const LATENCY_NS_MAX: u64 = 3_600_000_000_000;

/// A histogram of nanoseconds, 1 ns to an hour, 3 significant figures.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3).expect("valid histogram bounds")
}

fn record_ns(histogram: &mut Histogram<u64>, elapsed: Duration) {
    histogram.saturating_record(elapsed.as_nanos() as u64);
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e6
}

/// One line of the table; absent figures print as `-`.
#[derive(Default)]
struct Row {
    name: String,
    mb_per_s: Option<f64>,
    mb_per_s_per_shard: Option<f64>,
    ratio: Option<f64>,
    latency_ns: Option<Histogram<u64>>,
    target: String,
}

fn print_table_head() {
    println!(
        "\n{:<44} {:>8} {:>8} {:>6} {:>9} {:>9} {:>9}  target",
        "measurement", "MB/s", "MB/s/sh", "ratio", "p50 µs", "p99 µs", "p99.9 µs"
    );
}

fn print_row(row: &Row) {
    let number = |value: Option<f64>, decimals: usize| {
        value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
    };
    let quantile_us = |q: f64| {
        row.latency_ns
            .as_ref()
            .map(|h| h.value_at_quantile(q) as f64 / 1000.0)
    };
    println!(
        "{:<44} {:>8} {:>8} {:>6} {:>9} {:>9} {:>9}  {}",
        row.name,
        number(row.mb_per_s, 0),
        number(row.mb_per_s_per_shard, 0),
        number(row.ratio, 2),
        number(quantile_us(0.5), 1),
        number(quantile_us(0.99), 1),
        number(quantile_us(0.999), 1),
        row.target
    );
}

/// The issue's target beside a figure, and whether this run met it.
fn target(text: &str, met: bool) -> String {
    format!("{text} ({})", if met { "met" } else { "MISSED" })
}

fn p99_us(histogram: &Histogram<u64>) -> f64 {
    histogram.value_at_quantile(0.99) as f64 / 1000.0
}

fn open_engine(dir: &Path, durability: Durability) -> Result<Engine, String> {
    let mut config = EngineConfig::new(dir);
    config.storage.durability = durability;
    Engine::open(RealFs::shared(), config)
        .map_err(|e| format!("opening an engine in {}: {e}", dir.display()))
}

/// Shuts the engine down and deletes its data.
fn close_engine(engine: Engine, dir: &Path) -> Result<(), String> {
    engine.shutdown().map_err(context("shutdown"))?;
    drop(engine);
    std::fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()))
}

/// The first failed record of a PutRecords call, as an error.
fn check_puts(results: &[Result<PutResult, RecordFailure>]) -> Result<(), String> {
    let failed = results.iter().filter(|r| r.is_err()).count();
    match results.iter().find_map(|r| r.as_ref().err()) {
        None => Ok(()),
        Some(failure) => Err(format!(
            "put_records: {failed} of {} records failed, first with {}: {}",
            results.len(),
            failure.error_code,
            failure.error_message
        )),
    }
}

fn producers_for(shard_count: u32) -> usize {
    (shard_count as usize * PRODUCERS_PER_SHARD).clamp(PRODUCERS_MIN, PRODUCERS_MAX)
}

/// What one PutRecords run measured.
struct PutRun {
    records: u64,
    payload_bytes: u64,
    elapsed: Duration,
    call_ns: Histogram<u64>,
}

/// Puts about `volume_bytes` of payload into a new stream of `shard_count` shards.
fn put_run(engine: &Engine, shard_count: u32, volume_bytes: u64) -> Result<PutRun, String> {
    engine
        .create_stream(STREAM, Some(shard_count), BTreeMap::new())
        .map_err(context("create_stream"))?;
    let call_bytes = (PUT_RECORD_BYTES * PUT_CALL_RECORDS) as u64;
    let calls_total = (volume_bytes / call_bytes).max(1);
    let claimed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..producers_for(shard_count))
        .map(|producer| {
            let engine = engine.clone();
            let claimed = Arc::clone(&claimed);
            let seed = u64::from(shard_count) << 32 | producer as u64;
            std::thread::spawn(move || produce(&engine, seed, &claimed, calls_total))
        })
        .collect();
    let mut call_ns = histogram();
    let mut failure = None;
    for thread in threads {
        match thread.join() {
            Ok(Ok(histogram)) => call_ns.add(histogram).map_err(context("histogram"))?,
            Ok(Err(message)) => failure = failure.or(Some(message)),
            Err(_) => failure = failure.or(Some("a producer panicked".to_string())),
        }
    }
    let elapsed = started.elapsed();
    if let Some(message) = failure {
        return Err(message);
    }
    let records = calls_total * PUT_CALL_RECORDS as u64;
    Ok(PutRun {
        records,
        payload_bytes: records * PUT_RECORD_BYTES as u64,
        elapsed,
        call_ns,
    })
}

/// One producer: claims calls until `calls_total` are claimed; each call carries
/// 500 fresh random partition keys.
fn produce(
    engine: &Engine,
    seed: u64,
    claimed: &AtomicU64,
    calls_total: u64,
) -> Result<Histogram<u64>, String> {
    let mut rng = Rng::new(seed);
    let data = payload(PUT_RECORD_BYTES, seed);
    let mut keys = vec![String::new(); PUT_CALL_RECORDS];
    let mut call_ns = histogram();
    while claimed.fetch_add(1, Ordering::Relaxed) < calls_total {
        rng.fill_keys(&mut keys);
        let records: Vec<PutRecord<'_>> = keys
            .iter()
            .map(|key| PutRecord {
                partition_key: key,
                data: &data,
                explicit_hash_key: None,
            })
            .collect();
        let begun = Instant::now();
        let results = engine
            .put_records(STREAM, &records)
            .map_err(context("put_records"))?;
        record_ns(&mut call_ns, begun.elapsed());
        check_puts(&results)?;
    }
    Ok(call_ns)
}

/// Measures the raw device, then PutRecords into `shard_count` shards; after the
/// 1-shard run, the replay of what it wrote.
fn put_phase(options: &Options, root: &Path, shard_count: u32) -> Result<(), String> {
    let raw = direct_write(&root.join("raw-direct.bin"), options.volume_bytes)
        .map_err(context("raw O_DIRECT write"))?;
    print_row(&Row {
        name: format!("raw O_DIRECT write, before {shard_count}-shard run"),
        mb_per_s: Some(raw.mb_per_s()),
        ratio: Some(1.0),
        ..Row::default()
    });
    let dir = root.join(format!("puts-{shard_count}"));
    let engine = open_engine(&dir, Durability::Sync)?;
    let run = put_run(&engine, shard_count, options.volume_bytes)?;
    let rate = mb_per_s(run.payload_bytes, run.elapsed);
    let ratio = rate / raw.mb_per_s();
    let shards_word = if shard_count == 1 { "shard" } else { "shards" };
    print_row(&Row {
        name: format!(
            "PutRecords {shard_count} {shards_word}, {} producers (sync)",
            producers_for(shard_count)
        ),
        mb_per_s: Some(rate),
        mb_per_s_per_shard: Some(rate / f64::from(shard_count)),
        ratio: Some(ratio),
        latency_ns: Some(run.call_ns),
        target: if shard_count == 16 {
            target("ratio >= 0.70", ratio >= TARGET_PUT_RATIO_16)
        } else {
            String::new()
        },
    });
    if shard_count == 1 {
        replay_phase(&engine, run.records)?;
    }
    close_engine(engine, &dir)
}

/// What one replay read.
struct Replay {
    records: u64,
    payload_bytes: u64,
    elapsed: Duration,
}

/// GetRecords of shard 0 from TRIM_HORIZON until a call returns nothing.
fn replay(engine: &Engine) -> Result<Replay, String> {
    let mut iterator = engine
        .get_shard_iterator(STREAM, &shard_id(0), IteratorStart::TrimHorizon)
        .map_err(context("get_shard_iterator TRIM_HORIZON"))?;
    let (mut records, mut payload_bytes) = (0u64, 0u64);
    let started = Instant::now();
    loop {
        let output = engine
            .get_records(&iterator, GET_RECORDS_MAX)
            .map_err(context("get_records"))?;
        if output.records.is_empty() {
            break;
        }
        records += output.records.len() as u64;
        payload_bytes += output
            .records
            .iter()
            .map(|r| r.data.len() as u64)
            .sum::<u64>();
        iterator = output
            .next_shard_iterator
            .ok_or("get_records: an open shard returned no next iterator")?;
    }
    Ok(Replay {
        records,
        payload_bytes,
        elapsed: started.elapsed(),
    })
}

fn replay_phase(engine: &Engine, records_written: u64) -> Result<(), String> {
    for pass in ["first pass", "page cache warm"] {
        let run = replay(engine)?;
        if run.records != records_written {
            return Err(format!(
                "replay ({pass}) read {} records, the puts wrote {records_written}",
                run.records
            ));
        }
        let rate = mb_per_s(run.payload_bytes, run.elapsed);
        let warm = pass == "page cache warm";
        print_row(&Row {
            name: format!("GetRecords replay 1 shard, {pass}"),
            mb_per_s: Some(rate),
            mb_per_s_per_shard: Some(rate),
            target: if warm {
                target(">= 2000 MB/s", rate >= TARGET_REPLAY_MB_PER_S)
            } else {
                String::new()
            },
            ..Row::default()
        });
    }
    Ok(())
}

/// What filling the lookup shard left: a sample of its sequence numbers.
struct Filled {
    sample: Vec<String>,
    last_sequence_number: String,
    payload_bytes: u64,
    elapsed: Duration,
}

/// Puts `records_total` 100-byte records into a new 1-shard stream, from one
/// thread, keeping a uniform sample of the sequence numbers returned.
fn fill_lookup_shard(engine: &Engine, records_total: u64, rng: &mut Rng) -> Result<Filled, String> {
    engine
        .create_stream(STREAM, Some(1), BTreeMap::new())
        .map_err(context("create_stream"))?;
    let data = payload(LOOKUP_RECORD_BYTES, 7);
    let mut keys = vec![String::new(); PUT_CALL_RECORDS];
    let mut sample: Vec<String> = Vec::with_capacity(LOOKUP_SAMPLE_MAX);
    let mut last_sequence_number = String::new();
    let mut seen = 0u64;
    let started = Instant::now();
    while seen < records_total {
        let count = (records_total - seen).min(PUT_CALL_RECORDS as u64) as usize;
        rng.fill_keys(&mut keys[..count]);
        let records: Vec<PutRecord<'_>> = keys[..count]
            .iter()
            .map(|key| PutRecord {
                partition_key: key,
                data: &data,
                explicit_hash_key: None,
            })
            .collect();
        let results = engine
            .put_records(STREAM, &records)
            .map_err(context("put_records"))?;
        check_puts(&results)?;
        for result in results.into_iter().flatten() {
            // Reservoir sampling (Algorithm R).
            if sample.len() < LOOKUP_SAMPLE_MAX {
                sample.push(result.sequence_number.clone());
            } else {
                let slot = rng.below(seen + 1) as usize;
                if slot < LOOKUP_SAMPLE_MAX {
                    sample[slot] = result.sequence_number.clone();
                }
            }
            last_sequence_number = result.sequence_number;
            seen += 1;
        }
    }
    Ok(Filled {
        sample,
        last_sequence_number,
        payload_bytes: records_total * LOOKUP_RECORD_BYTES as u64,
        elapsed: started.elapsed(),
    })
}

/// The one record at `start`, and how long the iterator and the read took.
fn lookup_at(
    engine: &Engine,
    start: IteratorStart,
) -> Result<(OutputRecord, Duration, Duration), String> {
    let shard = shard_id(0);
    let described = format!("{start:?}");
    let begun = Instant::now();
    let iterator = engine
        .get_shard_iterator(STREAM, &shard, start)
        .map_err(|e| format!("get_shard_iterator {described}: {e}"))?;
    let iterator_elapsed = begun.elapsed();
    let begun = Instant::now();
    let output = engine
        .get_records(&iterator, 1)
        .map_err(|e| format!("get_records after {described}: {e}"))?;
    let read_elapsed = begun.elapsed();
    let record = output
        .records
        .into_iter()
        .next()
        .ok_or_else(|| format!("get_records after {described} returned no record"))?;
    Ok((record, iterator_elapsed, read_elapsed))
}

/// Latencies of one kind of lookup: the iterator, the one-record read after it,
/// and both together.
struct LookupLatency {
    iterator_ns: Histogram<u64>,
    read_ns: Histogram<u64>,
    both_ns: Histogram<u64>,
}

impl LookupLatency {
    fn new() -> LookupLatency {
        LookupLatency {
            iterator_ns: histogram(),
            read_ns: histogram(),
            both_ns: histogram(),
        }
    }

    fn record(&mut self, iterator_elapsed: Duration, read_elapsed: Duration) {
        record_ns(&mut self.iterator_ns, iterator_elapsed);
        record_ns(&mut self.read_ns, read_elapsed);
        record_ns(&mut self.both_ns, iterator_elapsed + read_elapsed);
    }

    fn print(self, kind: &str) {
        let rows = [
            (format!("GetShardIterator {kind}"), self.iterator_ns, true),
            ("  then GetRecords limit 1".to_string(), self.read_ns, false),
            (
                "  iterator + GetRecords together".to_string(),
                self.both_ns,
                true,
            ),
        ];
        for (name, latency_ns, with_target) in rows {
            let met = p99_us(&latency_ns) <= TARGET_LOOKUP_P99_US;
            print_row(&Row {
                name,
                target: if with_target {
                    target("p99 <= 20 µs", met)
                } else {
                    String::new()
                },
                latency_ns: Some(latency_ns),
                ..Row::default()
            });
        }
    }
}

/// `lookup_count` random AT_SEQUENCE_NUMBER and as many AT_TIMESTAMP lookups,
/// interleaved, each checked against what it must find.
fn measure_lookups(
    engine: &Engine,
    filled: &Filled,
    lookup_count: usize,
    rng: &mut Rng,
) -> Result<(LookupLatency, LookupLatency), String> {
    let (first, _, _) = lookup_at(engine, IteratorStart::TrimHorizon)?;
    let at_last = IteratorStart::AtSequenceNumber(filled.last_sequence_number.clone());
    let (last, _, _) = lookup_at(engine, at_last)?;
    let (first_ms, last_ms) = (first.approximate_arrival_ms, last.approximate_arrival_ms);
    let (mut by_sequence, mut by_time) = (LookupLatency::new(), LookupLatency::new());
    for round in 0..LOOKUP_WARMUP_COUNT + lookup_count {
        let measured = round >= LOOKUP_WARMUP_COUNT;
        let wanted = &filled.sample[rng.below(filled.sample.len() as u64) as usize];
        let start = IteratorStart::AtSequenceNumber(wanted.clone());
        let (found, iterator_elapsed, read_elapsed) = lookup_at(engine, start)?;
        if found.sequence_number != *wanted {
            return Err(format!(
                "AT_SEQUENCE_NUMBER {wanted} found record {}",
                found.sequence_number
            ));
        }
        if measured {
            by_sequence.record(iterator_elapsed, read_elapsed);
        }
        let at_ms = first_ms + rng.below(last_ms - first_ms + 1);
        let (found, iterator_elapsed, read_elapsed) =
            lookup_at(engine, IteratorStart::AtTimestamp(at_ms))?;
        if found.approximate_arrival_ms < at_ms {
            return Err(format!(
                "AT_TIMESTAMP {at_ms} found a record that arrived at {}",
                found.approximate_arrival_ms
            ));
        }
        if measured {
            by_time.record(iterator_elapsed, read_elapsed);
        }
    }
    Ok((by_sequence, by_time))
}

fn lookup_phase(options: &Options, root: &Path) -> Result<(), String> {
    let dir = root.join("lookup");
    let engine = open_engine(&dir, Durability::None)?;
    let mut rng = Rng::new(0x100c);
    let filled = fill_lookup_shard(&engine, options.lookup_records, &mut rng)?;
    print_row(&Row {
        name: format!("fill {} x 100 B (durability none)", options.lookup_records),
        mb_per_s: Some(mb_per_s(filled.payload_bytes, filled.elapsed)),
        ..Row::default()
    });
    let (by_sequence, by_time) = measure_lookups(&engine, &filled, options.lookup_count, &mut rng)?;
    by_sequence.print("AT_SEQUENCE_NUMBER");
    by_time.print("AT_TIMESTAMP");
    close_engine(engine, &dir)
}

/// Reads from `iterator` until `expected` records arrived, recording for each the
/// time from its send (nanoseconds since `origin`, in its first 8 bytes) to now.
fn consume(
    engine: &Engine,
    mut iterator: String,
    origin: Instant,
    expected: u64,
    deadline: Instant,
) -> Result<Histogram<u64>, String> {
    let mut visible_ns = histogram();
    let mut seen = 0u64;
    while seen < expected {
        if Instant::now() > deadline {
            return Err(format!(
                "the consumer saw {seen} of {expected} records before its deadline"
            ));
        }
        let output = engine
            .get_records_waiting(&iterator, GET_RECORDS_MAX, VISIBLE_WAIT)
            .map_err(context("get_records_waiting"))?;
        let now_ns = origin.elapsed().as_nanos() as u64;
        for record in &output.records {
            let sent: [u8; 8] = record
                .data
                .get(..8)
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or("a put-to-visible record shorter than its timestamp")?;
            let sent_ns = u64::from_le_bytes(sent);
            record_ns(
                &mut visible_ns,
                Duration::from_nanos(now_ns.saturating_sub(sent_ns)),
            );
        }
        seen += output.records.len() as u64;
        iterator = output
            .next_shard_iterator
            .ok_or("get_records_waiting: an open shard returned no next iterator")?;
    }
    Ok(visible_ns)
}

/// PutRecord `records_total` times, at most `VISIBLE_RECORDS_PER_S` a second (a
/// slow put delays the next one rather than causing a burst).
fn produce_paced(
    engine: &Engine,
    origin: Instant,
    records_total: u64,
) -> Result<Histogram<u64>, String> {
    let interval = Duration::from_secs(1) / VISIBLE_RECORDS_PER_S;
    let mut put_ns = histogram();
    let mut due = Instant::now();
    for index in 0..records_total {
        if let Some(pause) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(pause);
        }
        let sent = Instant::now();
        let mut data = [0u8; 16];
        data[..8].copy_from_slice(&(sent.duration_since(origin).as_nanos() as u64).to_le_bytes());
        data[8..].copy_from_slice(&index.to_le_bytes());
        let record = PutRecord {
            partition_key: "visible",
            data: &data,
            explicit_hash_key: None,
        };
        engine
            .put_record(STREAM, record)
            .map_err(context("put_record"))?;
        record_ns(&mut put_ns, sent.elapsed());
        due = (due + interval).max(Instant::now());
    }
    Ok(put_ns)
}

fn visible_phase(options: &Options, root: &Path) -> Result<(), String> {
    let dir = root.join("visible");
    let engine = open_engine(&dir, Durability::Sync)?;
    engine
        .create_stream(STREAM, Some(1), BTreeMap::new())
        .map_err(context("create_stream"))?;
    let iterator = engine
        .get_shard_iterator(STREAM, &shard_id(0), IteratorStart::Latest)
        .map_err(context("get_shard_iterator LATEST"))?;
    let records_total = u64::from(VISIBLE_RECORDS_PER_S * options.visible_secs);
    let origin = Instant::now();
    let deadline = origin + Duration::from_secs(options.visible_secs.into()) * 2 + VISIBLE_GRACE;
    let consumer = {
        let engine = engine.clone();
        std::thread::spawn(move || consume(&engine, iterator, origin, records_total, deadline))
    };
    let produced = produce_paced(&engine, origin, records_total);
    let consumed = consumer
        .join()
        .map_err(|_| "the consumer panicked".to_string())?;
    let put_ns = produced?;
    let visible_ns = consumed?;
    print_row(&Row {
        name: "PutRecord call, 1 record (sync)".into(),
        latency_ns: Some(put_ns),
        ..Row::default()
    });
    let met = p99_us(&visible_ns) <= TARGET_VISIBLE_P99_US;
    print_row(&Row {
        name: "put-to-visible, waiting GetRecords (sync)".into(),
        latency_ns: Some(visible_ns),
        target: target("p99 <= 2000 µs", met),
        ..Row::default()
    });
    close_engine(engine, &dir)
}

/// Cores and memory, from the OS.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or_else(
            || "? GiB".to_string(),
            |kib| format!("{:.1} GiB", kib as f64 / (1u64 << 20) as f64),
        );
    format!("{cores} cores, {memory_gib} RAM")
}

fn print_header(options: &Options, root: &Path) {
    let backend = EngineConfig::new(root).storage.backend.name();
    println!(
        "shardlog-engine-bench{}: engine API on the real file system, {backend} backend",
        if options.quick { " --quick" } else { "" }
    );
    println!("machine: {}; data under {}", machine(), root.display());
    println!(
        "puts: {:.2} GiB per run, 1/4/16 shards, {PUT_RECORD_BYTES} B records, {PUT_CALL_RECORDS} per call, random partition keys, durability sync, {PRODUCERS_PER_SHARD} producers per shard ({PRODUCERS_MIN}..{PRODUCERS_MAX})",
        options.volume_bytes as f64 / (1u64 << 30) as f64
    );
    println!(
        "replay: GetRecords limit {GET_RECORDS_MAX} over the 1-shard run, TRIM_HORIZON to end, read once before the measured pass"
    );
    println!(
        "lookup: {} records of {LOOKUP_RECORD_BYTES} B, {PUT_CALL_RECORDS} per call, filled with durability NONE (fill speed only); {} lookups of each kind after {LOOKUP_WARMUP_COUNT} unmeasured",
        options.lookup_records, options.lookup_count
    );
    println!(
        "put-to-visible: PutRecord at {VISIBLE_RECORDS_PER_S}/s for {} s, durability sync; consumer in GetRecords waiting up to {} s, limit {GET_RECORDS_MAX}, from LATEST",
        options.visible_secs,
        VISIBLE_WAIT.as_secs()
    );
}

fn run_phases(options: &Options, root: &Path) -> Result<(), String> {
    print_header(options, root);
    print_table_head();
    for shard_count in SHARD_COUNTS {
        put_phase(options, root, shard_count)?;
    }
    lookup_phase(options, root)?;
    visible_phase(options, root)?;
    println!("\nMB/s: payload, 10^6 bytes/s; MB/s/sh: per shard; ratio: to the raw O_DIRECT write just before the run");
    println!("PutRecords latency is per 500-record call; targets are the issue's, reported, not asserted");
    Ok(())
}

fn run(options: &Options) -> Result<(), String> {
    let created_dir = !options.dir.exists();
    let root = options
        .dir
        .join(format!("engine-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let outcome = run_phases(options, &root);
    let cleanup =
        std::fs::remove_dir_all(&root).map_err(|e| format!("removing {}: {e}", root.display()));
    if created_dir {
        // Only the directory this run created, and only if nothing else is in it.
        let _ = std::fs::remove_dir(&options.dir);
    }
    outcome.and(cleanup)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_options(&args) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!(
                "usage: shardlog-engine-bench [--dir DIR] [--quick] [--gib N] [--lookup-records N]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
