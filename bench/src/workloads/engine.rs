//! Engine workloads: PutRecords into 1..N shards, replay from TRIM_HORIZON (cold
//! and warm), and producers with tailing consumers at once (mixed).

use super::cache::{files_under, make_cold, WARM};
use super::{
    context, join_all, merge_concurrent, payload, wait_until, Budget, Case, Figure, Meter, Params,
    Rng, Sample, WorkloadKind,
};
use crate::process::CpuTimes;
use crate::stats::record_ns;
use shardlog_engine::ShardId;
use shardlog_engine::{
    Engine, EngineConfig, IteratorStart, PutRecord, PutResult, RecordFailure, GET_RECORDS_MAX,
};
use shardlog_segment::io::RealFs;
use shardlog_segment::{BackendKind, Durability};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The stream every engine workload writes.
pub const STREAM: &str = "bench";
/// Producers per shard when `--producers` is not given, within the bounds below.
pub const PRODUCERS_PER_SHARD: usize = 2;
/// Fewest default producers.
pub const PRODUCERS_MIN: usize = 4;
/// Most default producers.
pub const PRODUCERS_MAX: usize = 32;
/// How long a tailing consumer waits for new records in one call.
const TAIL_WAIT: Duration = Duration::from_millis(200);

/// The knobs of the engine workloads.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Shard counts of the append runs.
    pub shard_counts: Vec<u32>,
    /// Payload bytes per record.
    pub record_bytes: usize,
    /// Records per PutRecords call (1..=500).
    pub batch_records: usize,
    /// Producer threads; `None` for [`producers_for`].
    pub producers: Option<usize>,
    /// Durability of the append, mixed and e2e runs.
    pub durability: Durability,
    /// Write backends of the append runs.
    pub backends: Vec<BackendKind>,
    /// Records per second over all producers, for rate-limited runs.
    pub rate_records_per_s: Option<u64>,
    /// Shards of the scale case's stream.
    pub scale_shards: u32,
    /// The logs' `preallocate_bytes_max` in the append and scale runs (`None`:
    /// the engine's default).
    pub preallocate_bytes_max: Option<u64>,
}

impl EngineSettings {
    /// Producers for a run over `shard_count` shards.
    pub fn producers_for(&self, shard_count: u32) -> usize {
        self.producers.unwrap_or_else(|| {
            (shard_count as usize * PRODUCERS_PER_SHARD).clamp(PRODUCERS_MIN, PRODUCERS_MAX)
        })
    }

    /// A fresh engine in `dir` for the append and scale runs.
    pub(crate) fn engine_dir(
        &self,
        dir: PathBuf,
        backend: BackendKind,
    ) -> Result<EngineDir, String> {
        EngineDir::open_with(dir, self.durability, backend, self.preallocate_bytes_max)
    }

    pub(crate) fn params(&self, shards: u32, backend: BackendKind) -> Params {
        Params {
            shards: Some(shards),
            record_bytes: Some(self.record_bytes),
            batch_records: Some(self.batch_records),
            producers: Some(self.producers_for(shards)),
            durability: Some(self.durability.name()),
            backend: Some(backend.name().to_string()),
            rate_records_per_s: self.rate_records_per_s,
            preallocate_bytes_max: self.preallocate_bytes_max,
        }
    }
}

/// An engine over its own directory: shut down and deleted on drop.
pub struct EngineDir {
    engine: Option<Engine>,
    dir: PathBuf,
    durability: Durability,
    backend: BackendKind,
    preallocate_bytes_max: Option<u64>,
}

impl EngineDir {
    /// Opens a fresh engine in `dir` (removing anything there first).
    pub fn open(
        dir: PathBuf,
        durability: Durability,
        backend: BackendKind,
    ) -> Result<EngineDir, String> {
        EngineDir::open_with(dir, durability, backend, None)
    }

    /// [`EngineDir::open`] with the logs' preallocation set (`None`: the default).
    pub fn open_with(
        dir: PathBuf,
        durability: Durability,
        backend: BackendKind,
        preallocate_bytes_max: Option<u64>,
    ) -> Result<EngineDir, String> {
        let _ = std::fs::remove_dir_all(&dir);
        let mut engine_dir = EngineDir {
            engine: None,
            dir,
            durability,
            backend,
            preallocate_bytes_max,
        };
        engine_dir.engine = Some(engine_dir.open_engine()?);
        Ok(engine_dir)
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        self.engine.as_ref().expect("open between open and drop")
    }

    /// Shuts the engine down, drops the page cache of its files, and opens it
    /// again; the label says how cold it got. How long opening took is returned.
    pub fn reopen_cold(&mut self) -> Result<(&'static str, Duration), String> {
        if let Some(engine) = self.engine.take() {
            engine.shutdown().map_err(context("shutdown"))?;
        }
        let label = make_cold(&files_under(&self.dir));
        let started = Instant::now();
        self.engine = Some(self.open_engine()?);
        Ok((label, started.elapsed()))
    }
}

impl Drop for EngineDir {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            let _ = engine.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl EngineDir {
    fn open_engine(&self) -> Result<Engine, String> {
        let mut config = EngineConfig::new(&self.dir);
        config.storage.durability = self.durability;
        config.storage.backend = self.backend;
        if let Some(bytes) = self.preallocate_bytes_max {
            config.log.preallocate_bytes_max = bytes;
        }
        // The scale case's stream alone may exceed the default limit of open shards.
        config.open_shards_max = config.open_shards_max.max(crate::cli::SCALE_SHARDS_MAX);
        Engine::open(RealFs::shared(), config)
            .map_err(|e| format!("opening an engine in {}: {e}", self.dir.display()))
    }
}

/// The first failed record of a PutRecords call, as an error.
pub fn check_puts(results: &[Result<PutResult, RecordFailure>]) -> Result<(), String> {
    match results.iter().find_map(|r| r.as_ref().err()) {
        None => Ok(()),
        Some(failure) => Err(format!(
            "put_records: {} of {} records failed, first with: {failure}",
            results.iter().filter(|r| r.is_err()).count(),
            results.len(),
        )),
    }
}

/// One PutRecord per key, all with the same payload.
pub fn put_records_of<'a>(keys: &'a [String], data: &'a [u8]) -> Vec<PutRecord<'a>> {
    keys.iter()
        .map(|key| PutRecord {
            partition_key: key,
            data,
            explicit_hash_key: None,
        })
        .collect()
}

/// What one producer does: put calls of `batch_records` records until `stop`
/// says so, optionally paced; latency is from each call's intended start (the
/// coordinated-omission correction) when paced, from its actual start otherwise.
pub struct Producer<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The stream.
    pub stream: &'a str,
    /// Payload bytes per record.
    pub record_bytes: usize,
    /// Records per call.
    pub batch_records: usize,
    /// Time between this producer's calls when rate-limited.
    pub interval: Option<Duration>,
    /// Seeds the partition keys.
    pub seed: u64,
}

impl Producer<'_> {
    /// Puts until `keep_going(bytes so far)` is false; returns the sample.
    pub fn run(&self, meter: &Meter, keep_going: &dyn Fn() -> bool) -> Result<Sample, String> {
        let mut rng = Rng::new(self.seed);
        let data = payload(self.record_bytes, self.seed);
        let mut keys = vec![String::new(); self.batch_records];
        let mut sample = Sample::new();
        let call_bytes = (self.record_bytes * self.batch_records) as u64;
        let mut due = Instant::now();
        while keep_going() {
            rng.fill_keys(&mut keys);
            let records = put_records_of(&keys, &data);
            let begun = match self.interval {
                Some(interval) => {
                    wait_until(due);
                    let intended = due;
                    due += interval;
                    intended
                }
                None => Instant::now(),
            };
            let results = self
                .engine
                .put_records(self.stream, &records)
                .map_err(context("put_records"))?;
            record_ns(&mut sample.latency_ns, begun.elapsed());
            check_puts(&results)?;
            sample.bytes += call_bytes;
            sample.records += self.batch_records as u64;
            meter.add(call_bytes, self.batch_records as u64);
        }
        Ok(sample)
    }
}

/// Runs `producers` producers against `stream` within the budget; the sample
/// merges theirs.
pub fn produce_all(
    engine: &Engine,
    stream: &str,
    settings: &EngineSettings,
    producers: usize,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    let interval = settings.rate_records_per_s.map(|rate| {
        let calls_per_s = rate as f64 / settings.batch_records as f64;
        Duration::from_secs_f64(producers as f64 / calls_per_s.max(1e-9))
    });
    let cpu_before = CpuTimes::now()?;
    let started = Instant::now();
    let keep_going = || !budget.done(meter.bytes(), started);
    let outcomes: Vec<Result<Sample, String>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..producers)
            .map(|index| {
                let producer = Producer {
                    engine,
                    stream,
                    record_bytes: settings.record_bytes,
                    batch_records: settings.batch_records,
                    interval,
                    seed: index as u64 + 1,
                };
                let keep_going = &keep_going;
                scope.spawn(move || producer.run(meter, keep_going))
            })
            .collect();
        join_all(threads, "a producer")
    });
    let mut total = merge_concurrent(outcomes)?;
    total.elapsed = started.elapsed();
    // Every call was acknowledged, so the committer's work for them is done too.
    total.cpu = Some(CpuTimes::now()?.since(cpu_before));
    Ok(total)
}

/// One append case per shard count and backend; each repetition writes a new
/// stream into a fresh engine.
pub fn append_cases<'a>(settings: &'a EngineSettings, root: &'a Path) -> Vec<Case<'a>> {
    let mut cases = Vec::new();
    for &backend in &settings.backends {
        for &shards in &settings.shard_counts {
            let producers = settings.producers_for(shards);
            let run = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
                let dir = root.join(format!("append-{shards}-{}", backend.name()));
                let engine_dir = settings.engine_dir(dir, backend)?;
                let engine = engine_dir.engine();
                engine
                    .create_stream(STREAM, Some(shards), BTreeMap::new())
                    .map_err(context("create_stream"))?;
                produce_all(engine, STREAM, settings, producers, budget, meter)
            };
            let plural = if shards == 1 { "" } else { "s" };
            let title = format!("append {shards} shard{plural}");
            cases.push(put_case(
                WorkloadKind::Append,
                title,
                settings,
                shards,
                backend,
                Box::new(run),
            ));
        }
    }
    cases
}

/// A case of producers putting into `shards` shards with `backend`, compared with
/// the faster raw write; its name is `title` followed by backend and durability.
pub(crate) fn put_case<'a>(
    kind: WorkloadKind,
    title: String,
    settings: &EngineSettings,
    shards: u32,
    backend: BackendKind,
    run: super::RunFn<'a>,
) -> Case<'a> {
    let preallocate = settings
        .preallocate_bytes_max
        .map_or_else(String::new, |bytes| {
            format!(" prealloc {} KiB", bytes >> 10)
        });
    Case {
        kind,
        name: format!(
            "{title} {} {}{preallocate}",
            backend.name(),
            settings.durability.name()
        ),
        params: settings.params(shards, backend),
        latency_of: "PutRecords call",
        baselines: super::BEST_WRITE,
        figure: Figure::Throughput,
        warmup: true,
        run,
    }
}

/// Reads every shard of `stream` from TRIM_HORIZON to its end (or the budget);
/// latency is per GetRecords call.
pub fn replay_stream(
    engine: &Engine,
    shards: u32,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    let mut sample = Sample::new();
    let cpu_before = CpuTimes::now()?;
    let started = Instant::now();
    for shard in 0..shards {
        let mut iterator = engine
            .get_shard_iterator(STREAM, ShardId(shard), IteratorStart::TrimHorizon)
            .map_err(context("get_shard_iterator TRIM_HORIZON"))?;
        while !budget.done(sample.bytes, started) {
            let begun = Instant::now();
            let output = engine
                .get_records(&iterator, GET_RECORDS_MAX)
                .map_err(context("get_records"))?;
            record_ns(&mut sample.latency_ns, begun.elapsed());
            if output.records.is_empty() {
                break;
            }
            let bytes: u64 = output.records.iter().map(|r| r.data.len() as u64).sum();
            sample.bytes += bytes;
            sample.records += output.records.len() as u64;
            meter.add(bytes, output.records.len() as u64);
            match output.next_shard_iterator {
                Some(next) => iterator = next,
                None => break,
            }
        }
    }
    sample.elapsed = started.elapsed();
    // The process's CPU time while replaying (all threads; a cold case's open, timed
    // before this, is not in it): comparable across builds when MB/s is not, on a
    // busy machine.
    sample.cpu = Some(CpuTimes::now()?.since(cpu_before));
    Ok(sample)
}

/// A fresh engine with one shard filled within `fill` (durability `none`, one
/// producer, unmeasured) for the replays.
fn fill_replay_shard(
    settings: &EngineSettings,
    root: &Path,
    backend: BackendKind,
    fill: &Budget,
) -> Result<EngineDir, String> {
    let engine_dir = EngineDir::open(root.join("replay"), Durability::None, backend)?;
    let engine = engine_dir.engine();
    engine
        .create_stream(STREAM, Some(1), BTreeMap::new())
        .map_err(context("create_stream"))?;
    let unpaced = EngineSettings {
        rate_records_per_s: None,
        ..settings.clone()
    };
    produce_all(
        engine,
        STREAM,
        &unpaced,
        1,
        fill,
        &Meter::new("fill", 0, false),
    )?;
    Ok(engine_dir)
}

/// One measured replay of shard 0: cold (the time counts the open, which reads
/// the cold files, and the read; not the shutdown and cache drop before them) or
/// warm (after an unmeasured read of everything).
fn replay_once(
    engine_dir: &mut EngineDir,
    cold: bool,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    if cold {
        let (label, open_elapsed) = engine_dir.reopen_cold()?;
        let mut sample = replay_stream(engine_dir.engine(), 1, budget, meter)?;
        sample.elapsed += open_elapsed;
        sample.cache = Some(label.to_string());
        return Ok(sample);
    }
    let whole = Budget {
        volume_bytes: u64::MAX,
        duration: budget.duration * 4,
    };
    replay_stream(engine_dir.engine(), 1, &whole, &Meter::new("", 0, false))?;
    let mut sample = replay_stream(engine_dir.engine(), 1, budget, meter)?;
    sample.cache = Some(WARM.to_string());
    Ok(sample)
}

/// Replay of one shard filled (once, durability `none`, not measured) with the
/// budget's volume: a cold case (engine reopened after dropping the cache; the
/// time includes the open) and a warm case.
pub fn replay_cases<'a>(
    settings: &'a EngineSettings,
    root: &'a Path,
    fill: Budget,
) -> Vec<Case<'a>> {
    let shared: Rc<RefCell<Option<EngineDir>>> = Rc::new(RefCell::new(None));
    let backend = settings
        .backends
        .first()
        .copied()
        .unwrap_or(BackendKind::Buffered);
    let make = |cold: bool| {
        let shared = Rc::clone(&shared);
        move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
            let mut slot = shared.borrow_mut();
            if slot.is_none() {
                *slot = Some(fill_replay_shard(settings, root, backend, &fill)?);
            }
            let engine_dir = slot.as_mut().expect("filled above");
            replay_once(engine_dir, cold, budget, meter)
        }
    };
    let params = Params {
        shards: Some(1),
        record_bytes: Some(settings.record_bytes),
        ..Params::default()
    };
    vec![
        Case {
            kind: WorkloadKind::Replay,
            name: "replay 1 shard, cold (open + read)".into(),
            params: params.clone(),
            latency_of: "GetRecords call",
            baselines: &[WorkloadKind::RawReadCold],
            figure: Figure::Throughput,
            warmup: false,
            run: Box::new(make(true)),
        },
        Case {
            kind: WorkloadKind::Replay,
            name: "replay 1 shard, warm".into(),
            params,
            latency_of: "GetRecords call",
            baselines: &[WorkloadKind::RawReadWarm],
            figure: Figure::Throughput,
            warmup: true,
            run: Box::new(make(false)),
        },
    ]
}

/// Tails one shard from TRIM_HORIZON until `done` is set and nothing is left.
fn tail_shard(engine: &Engine, shard: u32, done: &AtomicBool) -> Result<Sample, String> {
    let mut iterator = engine
        .get_shard_iterator(STREAM, ShardId(shard), IteratorStart::TrimHorizon)
        .map_err(context("get_shard_iterator"))?;
    let mut sample = Sample::new();
    let started = Instant::now();
    loop {
        let finishing = done.load(Ordering::Acquire);
        let wait = if finishing { Duration::ZERO } else { TAIL_WAIT };
        let begun = Instant::now();
        let output = engine
            .get_records_waiting(&iterator, GET_RECORDS_MAX, wait)
            .map_err(context("get_records_waiting"))?;
        record_ns(&mut sample.latency_ns, begun.elapsed());
        sample.bytes += output
            .records
            .iter()
            .map(|r| r.data.len() as u64)
            .sum::<u64>();
        sample.records += output.records.len() as u64;
        iterator = output
            .next_shard_iterator
            .ok_or("an open shard returned no next iterator")?;
        if finishing && output.records.is_empty() {
            break;
        }
    }
    sample.elapsed = started.elapsed();
    Ok(sample)
}

/// One consumer thread per shard, tailing until `done` and caught up; the
/// sample merges theirs, over the longest consumer's time.
fn tail(engine: &Engine, shards: u32, done: &AtomicBool) -> Result<Sample, String> {
    let outcomes: Vec<Result<Sample, String>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..shards)
            .map(|shard| scope.spawn(move || tail_shard(engine, shard, done)))
            .collect();
        join_all(threads, "a consumer")
    });
    merge_concurrent(outcomes)
}

/// Producers and a consumer per shard at once, on the largest shard count:
/// two results, the write side and the read side.
pub fn mixed_cases<'a>(settings: &'a EngineSettings, root: &'a Path) -> Vec<Case<'a>> {
    let shards = settings.shard_counts.iter().copied().max().unwrap_or(1);
    let backend = settings
        .backends
        .first()
        .copied()
        .unwrap_or(BackendKind::Buffered);
    let reads: Rc<RefCell<Vec<Sample>>> = Rc::new(RefCell::new(Vec::new()));
    let producers = settings.producers_for(shards);
    let write_reads = Rc::clone(&reads);
    let write = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
        let engine_dir = EngineDir::open(root.join("mixed"), settings.durability, backend)?;
        let engine = engine_dir.engine();
        engine
            .create_stream(STREAM, Some(shards), BTreeMap::new())
            .map_err(context("create_stream"))?;
        let done = AtomicBool::new(false);
        let (written, read) = std::thread::scope(|scope| {
            let reader = scope.spawn(|| tail(engine, shards, &done));
            let written = produce_all(engine, STREAM, settings, producers, budget, meter);
            done.store(true, Ordering::Release);
            (
                written,
                reader
                    .join()
                    .unwrap_or_else(|_| Err("the consumer panicked".into())),
            )
        });
        let (written, read) = (written?, read?);
        if read.records != written.records {
            return Err(format!(
                "the consumer read {} of {} records",
                read.records, written.records
            ));
        }
        write_reads.borrow_mut().push(read);
        Ok(written)
    };
    let read = move |_: &Budget, _: &Meter| -> Result<Sample, String> {
        reads
            .borrow_mut()
            .pop()
            .ok_or_else(|| "no mixed run to report the read side of".to_string())
    };
    let params = settings.params(shards, backend);
    vec![
        Case {
            kind: WorkloadKind::Mixed,
            name: format!("mixed write, {shards} shards"),
            params: params.clone(),
            latency_of: "PutRecords call",
            baselines: super::BEST_WRITE,
            figure: Figure::Throughput,
            warmup: false,
            run: Box::new(write),
        },
        Case {
            kind: WorkloadKind::Mixed,
            name: format!("mixed read, {shards} shards"),
            params,
            latency_of: "GetRecords call (waiting)",
            baselines: &[],
            figure: Figure::Throughput,
            warmup: false,
            run: Box::new(read),
        },
    ]
}

/// A fresh engine (durability none, buffered) in a temporary directory, for tests.
#[cfg(test)]
pub(crate) fn scratch_engine() -> (tempfile::TempDir, EngineDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine_dir = EngineDir::open(
        dir.path().join("e"),
        Durability::None,
        BackendKind::Buffered,
    )
    .expect("an engine in a fresh directory");
    (dir, engine_dir)
}

#[cfg(test)]
mod tests {
    //! Producers put what they count, and a paced producer measures from the
    //! intended start of each call.
    use super::*;

    fn settings(rate_records_per_s: Option<u64>) -> EngineSettings {
        EngineSettings {
            shard_counts: vec![2],
            record_bytes: 64,
            batch_records: 10,
            producers: Some(2),
            durability: Durability::None,
            backends: vec![BackendKind::Buffered],
            rate_records_per_s,
            scale_shards: 4,
            preallocate_bytes_max: None,
        }
    }

    /// A fresh engine (durability none) holding the bench stream of `shards` shards.
    fn stream_of(shards: u32) -> (tempfile::TempDir, EngineDir) {
        let (dir, engine_dir) = scratch_engine();
        let engine = engine_dir.engine();
        engine
            .create_stream(STREAM, Some(shards), BTreeMap::new())
            .unwrap();
        (dir, engine_dir)
    }

    /// The producers stop at the volume, count every record they put, and the
    /// replay reads back exactly that many.
    #[test]
    fn producers_put_what_they_count_and_replay_reads_it() {
        let (_dir, engine_dir) = stream_of(2);
        let engine = engine_dir.engine();
        let budget = Budget {
            volume_bytes: 64 * 10 * 30,
            duration: Duration::from_secs(60),
        };
        let meter = Meter::new("t", 0, false);
        let put = produce_all(engine, STREAM, &settings(None), 2, &budget, &meter).unwrap();
        assert!(put.bytes >= budget.volume_bytes);
        assert_eq!(put.records * 64, put.bytes);
        assert_eq!(put.latency_ns.len() * 10, put.records);
        let read = replay_stream(
            engine,
            2,
            &Budget {
                volume_bytes: u64::MAX,
                ..budget
            },
            &meter,
        )
        .unwrap();
        assert_eq!(read.records, put.records);
        assert_eq!(read.bytes, put.bytes);
    }

    /// A producer far behind its schedule (intended starts 1 ns apart) charges
    /// each call from its intended start, so the worst latency spans nearly the
    /// whole run; measured from the actual start it would be one call's time.
    #[test]
    fn paced_latency_counts_from_the_intended_start() {
        let (_dir, engine_dir) = stream_of(1);
        let engine = engine_dir.engine();
        let producer = Producer {
            engine,
            stream: STREAM,
            record_bytes: 64,
            batch_records: 10,
            interval: Some(Duration::from_nanos(1)),
            seed: 1,
        };
        let calls = std::sync::atomic::AtomicU64::new(0);
        let keep_going = || calls.fetch_add(1, Ordering::Relaxed) < 50;
        let started = Instant::now();
        let sample = producer
            .run(&Meter::new("t", 0, false), &keep_going)
            .unwrap();
        let elapsed_ns = started.elapsed().as_nanos() as f64;
        assert_eq!(sample.latency_ns.len(), 50);
        let max_ns = sample.latency_ns.max() as f64;
        assert!(
            max_ns >= 0.5 * elapsed_ns,
            "max {max_ns} ns of a {elapsed_ns} ns run"
        );
    }
}
