//! The workloads of `shardlog bench`, and the runner that measures each case with
//! a warm-up and repetitions and summarises them into a [`BenchResult`].

pub mod cache;
pub mod device;
pub mod e2e;
pub mod engine;
pub mod growth;
pub mod http;
pub mod http_latency;
pub mod http_put;
pub mod moto;
pub mod queue_memory;
pub mod scale;
pub mod seek;
pub mod sns;
pub mod sqs;
mod sqs_body;
pub mod sqs_engine;
pub mod threads;

pub use threads::{calls_until_done, flat_out, senders_and_receivers, WhenEmpty};

use crate::process::CpuTimes;
use crate::stats::{histogram, mb_per_s, Percentiles, Spread};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Every workload `--workload` accepts, by the name it is selected and reported by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    /// Sequential `O_DIRECT` write of 1 MiB blocks, one `fdatasync` at the end.
    RawDirectWrite,
    /// Sequential buffered write of 1 MiB blocks, one `fdatasync` at the end.
    RawBufferedWrite,
    /// One 4 KiB write + `fdatasync`, repeated: the device's sync latency.
    RawFdatasync,
    /// Sequential buffered read of a file whose pages were dropped from the cache.
    RawReadCold,
    /// Sequential buffered read of a file held in the page cache.
    RawReadWarm,
    /// Engine PutRecords into 1..N shards.
    Append,
    /// Engine GetRecords from TRIM_HORIZON to the end, cold and warm.
    Replay,
    /// GetShardIterator AT_SEQUENCE_NUMBER + GetRecords of one record.
    SeekSequence,
    /// GetShardIterator AT_TIMESTAMP + GetRecords of one record.
    SeekTimestamp,
    /// Put-to-visible latency: PutRecord until a waiting consumer holds the record.
    E2e,
    /// Producers and tailing consumers on the same stream at once.
    Mixed,
    /// Many shards (`--scale-shards`, 1,000 by default): each idle shard's memory
    /// and open files, then PutRecords across all of them.
    Scale,
    /// PutRecords over HTTP to `--url`.
    HttpAppend,
    /// GetRecords over HTTP from `--url`.
    HttpReplay,
    /// AT_SEQUENCE_NUMBER seeks over HTTP.
    HttpSeekSequence,
    /// AT_TIMESTAMP seeks over HTTP.
    HttpSeekTimestamp,
    /// Put-to-visible over HTTP, the consumer polling GetRecords.
    HttpE2e,
    /// SQS SendMessage over HTTP to `--url`, one message a call.
    SqsSend,
    /// SQS SendMessageBatch of 10 over HTTP.
    SqsSendBatch,
    /// SQS send, receive and delete at once, batches of 10, over HTTP.
    SqsRoundTrip,
    /// SQS SendMessage latency at a fixed rate over HTTP.
    SqsSendLatency,
    /// SQS ReceiveMessage + DeleteMessageBatch of 10 over HTTP, draining a pre-filled queue.
    SqsReceiveDelete,
    /// The queue crate's `send_batch` of 10, no HTTP.
    SqsEngineSend,
    /// The queue crate's receive + `delete_batch` of 10 on a pre-filled queue, no HTTP.
    SqsEngineReceiveDelete,
    /// The queue crate's send, receive and delete at once, batches of 10, no HTTP.
    SqsEngineRoundTrip,
    /// Drain rate (receive + delete, queue crate) of queues of `--backlog-messages`
    /// messages (only when named).
    SqsBacklog,
    /// SNS Publish to a topic with N raw SQS queue subscriptions: deliveries/s.
    SnsPublish,
    /// SNS publish-to-queue latency at a fixed publish rate.
    SnsLatency,
    /// SNS delivery into the queues with their consumers held back: deliveries/s
    /// on the server's side, unbounded by how fast the client drains queues.
    SnsFill,
    /// Memory of a queue's state as its depth grows (only when named).
    QueueMemory,
    /// One shard grown to each of `--growth-gib` sizes: append and
    /// AT_SEQUENCE_NUMBER seeks at each (only when named).
    Growth,
}

impl WorkloadKind {
    /// All workloads, in the order a run measures them.
    pub const ALL: [WorkloadKind; 31] = [
        WorkloadKind::RawDirectWrite,
        WorkloadKind::RawBufferedWrite,
        WorkloadKind::RawFdatasync,
        WorkloadKind::RawReadCold,
        WorkloadKind::RawReadWarm,
        WorkloadKind::Append,
        WorkloadKind::Replay,
        WorkloadKind::SeekSequence,
        WorkloadKind::SeekTimestamp,
        WorkloadKind::E2e,
        WorkloadKind::Mixed,
        WorkloadKind::Scale,
        WorkloadKind::HttpAppend,
        WorkloadKind::HttpReplay,
        WorkloadKind::HttpSeekSequence,
        WorkloadKind::HttpSeekTimestamp,
        WorkloadKind::HttpE2e,
        WorkloadKind::SqsSend,
        WorkloadKind::SqsSendBatch,
        WorkloadKind::SqsRoundTrip,
        WorkloadKind::SqsSendLatency,
        WorkloadKind::SqsReceiveDelete,
        WorkloadKind::SqsEngineSend,
        WorkloadKind::SqsEngineReceiveDelete,
        WorkloadKind::SqsEngineRoundTrip,
        WorkloadKind::SqsBacklog,
        WorkloadKind::SnsPublish,
        WorkloadKind::SnsLatency,
        WorkloadKind::SnsFill,
        WorkloadKind::QueueMemory,
        WorkloadKind::Growth,
    ];

    /// The name used by `--workload` and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::RawDirectWrite => "raw-direct-write",
            WorkloadKind::RawBufferedWrite => "raw-buffered-write",
            WorkloadKind::RawFdatasync => "raw-fdatasync",
            WorkloadKind::RawReadCold => "raw-read-cold",
            WorkloadKind::RawReadWarm => "raw-read-warm",
            WorkloadKind::Append => "append",
            WorkloadKind::Replay => "replay",
            WorkloadKind::SeekSequence => "seek-sequence",
            WorkloadKind::SeekTimestamp => "seek-timestamp",
            WorkloadKind::E2e => "e2e",
            WorkloadKind::Mixed => "mixed",
            WorkloadKind::Scale => "scale",
            WorkloadKind::HttpAppend => "http-append",
            WorkloadKind::HttpReplay => "http-replay",
            WorkloadKind::HttpSeekSequence => "http-seek-sequence",
            WorkloadKind::HttpSeekTimestamp => "http-seek-timestamp",
            WorkloadKind::HttpE2e => "http-e2e",
            WorkloadKind::SqsSend => "sqs-send",
            WorkloadKind::SqsSendBatch => "sqs-send-batch",
            WorkloadKind::SqsRoundTrip => "sqs-round-trip",
            WorkloadKind::SqsSendLatency => "sqs-send-latency",
            WorkloadKind::SqsReceiveDelete => "sqs-receive-delete",
            WorkloadKind::SqsEngineSend => "sqs-engine-send",
            WorkloadKind::SqsEngineReceiveDelete => "sqs-engine-receive-delete",
            WorkloadKind::SqsEngineRoundTrip => "sqs-engine-round-trip",
            WorkloadKind::SqsBacklog => "sqs-backlog",
            WorkloadKind::SnsPublish => "sns-publish",
            WorkloadKind::SnsLatency => "sns-latency",
            WorkloadKind::SnsFill => "sns-fill",
            WorkloadKind::QueueMemory => "queue-memory",
            WorkloadKind::Growth => "growth",
        }
    }

    /// The workload named `name`.
    pub fn parse(name: &str) -> Option<WorkloadKind> {
        WorkloadKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }

    /// Whether it needs `--url`.
    pub fn is_http(self) -> bool {
        self.is_sqs()
            || self.is_sns()
            || matches!(
                self,
                WorkloadKind::HttpAppend
                    | WorkloadKind::HttpReplay
                    | WorkloadKind::HttpSeekSequence
                    | WorkloadKind::HttpSeekTimestamp
                    | WorkloadKind::HttpE2e
            )
    }

    /// Whether it speaks SQS (to `--url`, and to moto with `--compare-moto`).
    pub fn is_sqs(self) -> bool {
        matches!(
            self,
            WorkloadKind::SqsSend
                | WorkloadKind::SqsSendBatch
                | WorkloadKind::SqsRoundTrip
                | WorkloadKind::SqsSendLatency
                | WorkloadKind::SqsReceiveDelete
        )
    }

    /// Whether it speaks SNS and SQS (to `--url`, and to moto with `--compare-moto`).
    pub fn is_sns(self) -> bool {
        matches!(
            self,
            WorkloadKind::SnsPublish | WorkloadKind::SnsLatency | WorkloadKind::SnsFill
        )
    }

    /// Whether it runs only when named (not in the default "all").
    pub fn only_when_named(self) -> bool {
        matches!(
            self,
            WorkloadKind::QueueMemory | WorkloadKind::SqsBacklog | WorkloadKind::Growth
        )
    }

    /// The raw baselines its results are divided by (so a run that selects it
    /// measures them too).
    pub fn baselines(self) -> &'static [WorkloadKind] {
        match self {
            WorkloadKind::Append
            | WorkloadKind::Scale
            | WorkloadKind::Mixed
            | WorkloadKind::HttpAppend => BEST_WRITE,
            WorkloadKind::Replay | WorkloadKind::HttpReplay => {
                &[WorkloadKind::RawReadCold, WorkloadKind::RawReadWarm]
            }
            _ => &[],
        }
    }
}

/// The write baselines an append is compared with: the faster of the two in the
/// same run, since a durable append may use either way of writing.
pub const BEST_WRITE: &[WorkloadKind] =
    &[WorkloadKind::RawDirectWrite, WorkloadKind::RawBufferedWrite];

/// When a measured run stops: at `volume_bytes` or after `duration`, whichever
/// comes first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Bytes of payload to move.
    pub volume_bytes: u64,
    /// Longest the run may take.
    pub duration: Duration,
}

impl Budget {
    /// Whether a run that started at `started` and moved `bytes` is done.
    pub fn done(&self, bytes: u64, started: Instant) -> bool {
        bytes >= self.volume_bytes || started.elapsed() >= self.duration
    }

    /// A smaller budget for a warm-up: a tenth of the volume, at most `duration`.
    pub fn warmup(&self, duration: Duration) -> Budget {
        Budget {
            volume_bytes: (self.volume_bytes / 10).max(1),
            duration: duration.min(self.duration),
        }
    }
}

/// Counts the bytes and records a run moves, for the progress bar and the
/// throughput-over-time series.
pub struct Meter {
    bytes: AtomicU64,
    records: AtomicU64,
    bar: ProgressBar,
}

impl Meter {
    /// A meter showing a progress bar titled `title` when `visible`.
    pub fn new(title: &str, total_bytes: u64, visible: bool) -> Meter {
        let bar = if visible {
            ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let style = ProgressStyle::with_template(
            "{prefix:<40} [{bar:30}] {decimal_bytes:>9}/{decimal_total_bytes:<9} {msg} {elapsed}",
        )
        .expect("a valid progress template")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(title.to_string());
        Meter {
            bytes: AtomicU64::new(0),
            records: AtomicU64::new(0),
            bar,
        }
    }

    /// Counts `bytes` and `records` more.
    pub fn add(&self, bytes: u64, records: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.records.fetch_add(records, Ordering::Relaxed);
    }

    /// Bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// What one repetition of a case measured.
pub struct Sample {
    /// Payload bytes moved (0 for pure latency workloads).
    pub bytes: u64,
    /// Records (or operations) done.
    pub records: u64,
    /// Wall time of the measured part.
    pub elapsed: Duration,
    /// Per-operation latency, nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// How the page cache was treated, for reads (`cold (drop_caches)`, ...).
    pub cache: Option<String>,
    /// CPU time of the whole process during the measured part, where measured.
    pub cpu: Option<CpuTimes>,
    /// What each idle shard costs, for the scale case.
    pub idle_shard: Option<IdleShardCost>,
}

/// Memory and open files per idle shard: growth of the process's anonymous
/// resident memory and open files from before a stream's creation to after one
/// record was written to each of its shards, divided by the shard count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IdleShardCost {
    /// Bytes of `RssAnon` per shard.
    pub memory_bytes: f64,
    /// Open file descriptors per shard.
    pub open_files: f64,
}

impl Sample {
    /// An empty sample to fill.
    pub fn new() -> Sample {
        Sample {
            bytes: 0,
            records: 0,
            elapsed: Duration::ZERO,
            latency_ns: histogram(),
            cache: None,
            cpu: None,
            idle_shard: None,
        }
    }
}

/// Joins scoped threads, a panic becoming an error that names `who`.
pub fn join_all<T>(
    threads: Vec<std::thread::ScopedJoinHandle<'_, Result<T, String>>>,
    who: &str,
) -> Vec<Result<T, String>> {
    threads
        .into_iter()
        .map(|t| t.join().unwrap_or_else(|_| Err(format!("{who} panicked"))))
        .collect()
}

/// Merges the samples of threads that ran at the same time: counts summed,
/// histograms added, the longest elapsed time; the first error wins.
pub fn merge_concurrent(outcomes: Vec<Result<Sample, String>>) -> Result<Sample, String> {
    let mut total = Sample::new();
    for outcome in outcomes {
        let sample = outcome?;
        total
            .latency_ns
            .add(&sample.latency_ns)
            .map_err(context("histogram"))?;
        total.bytes += sample.bytes;
        total.records += sample.records;
        total.elapsed = total.elapsed.max(sample.elapsed);
        // Process-wide figures: every thread's sample holds the same ones.
        total.cpu = total.cpu.or(sample.cpu);
        total.idle_shard = total.idle_shard.or(sample.idle_shard);
    }
    Ok(total)
}

impl Default for Sample {
    fn default() -> Self {
        Sample::new()
    }
}

/// The knobs of an engine or HTTP case, as the JSON reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Shards of the stream.
    pub shards: Option<u32>,
    /// Payload bytes per record.
    pub record_bytes: Option<usize>,
    /// Records per PutRecords call.
    pub batch_records: Option<usize>,
    /// Producer threads.
    pub producers: Option<usize>,
    /// Durability policy.
    pub durability: Option<String>,
    /// Write backend.
    pub backend: Option<String>,
    /// Target rate, records per second, when rate-limited.
    pub rate_records_per_s: Option<u64>,
    /// The logs' preallocation when set by `--preallocate-kib`.
    #[serde(default)]
    pub preallocate_bytes_max: Option<u64>,
}

/// Whether figures are throughput or latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// MB/s and records/s matter; latency is per call.
    Throughput,
    /// Only latency matters; records/s is operations per second.
    Latency,
}

/// The code of a case: runs once within a budget, counting on the meter.
pub type RunFn<'a> = Box<dyn FnMut(&Budget, &Meter) -> Result<Sample, String> + 'a>;

/// One thing to measure: a workload with its parameters and the code that runs it.
pub struct Case<'a> {
    /// The workload.
    pub kind: WorkloadKind,
    /// A human name for the table (`append 4 shards buffered sync`).
    pub name: String,
    /// Its knobs.
    pub params: Params,
    /// What the latency histogram measures (`PutRecords call`, `lookup`).
    pub latency_of: &'static str,
    /// The raw baselines its MB/s is divided by: the fastest of them in the run.
    pub baselines: &'static [WorkloadKind],
    /// Throughput or latency.
    pub figure: Figure,
    /// Whether a warm-up run precedes the measured ones.
    pub warmup: bool,
    /// Runs once within a budget.
    pub run: RunFn<'a>,
}

/// The summary of one case: one entry of the JSON's `results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// Workload name (see [`WorkloadKind::name`]).
    pub workload: String,
    /// Human name of the case.
    pub name: String,
    /// Its knobs.
    pub params: Params,
    /// How the page cache was treated, for reads.
    pub cache: Option<String>,
    /// Measured repetitions.
    pub repetitions: usize,
    /// Median MB/s (10^6 bytes of payload per second) over the repetitions.
    pub mb_per_s: Option<f64>,
    /// Min / median / max MB/s over the repetitions.
    pub mb_per_s_spread: Option<Spread>,
    /// Median MB/s divided by the shard count.
    pub mb_per_s_per_shard: Option<f64>,
    /// Median records (or operations) per second.
    pub records_per_s: Option<f64>,
    /// Min / median / max records per second.
    pub records_per_s_spread: Option<Spread>,
    /// Latency percentiles in µs over all repetitions together.
    pub latency_us: Option<Percentiles>,
    /// What one latency sample is.
    pub latency_of: String,
    /// Median MB/s divided by the baseline's median MB/s of the same run.
    pub ratio_to_raw: Option<f64>,
    /// The baseline's workload name: the fastest of `raw_baselines` measured in
    /// the run once ratios are applied.
    pub raw_baseline: Option<String>,
    /// The baselines this result may be divided by (the fastest measured wins).
    #[serde(default)]
    pub raw_baselines: Vec<String>,
    /// The chosen baseline's median MB/s.
    #[serde(default)]
    pub raw_baseline_mb_per_s: Option<f64>,
    /// Median over the repetitions of the process's CPU time (user + system, all
    /// threads) per 10^9 bytes of payload: core-seconds per GB.
    #[serde(default)]
    pub core_s_per_gb: Option<f64>,
    /// The user-mode part of `core_s_per_gb` (same repetition).
    #[serde(default)]
    pub user_s_per_gb: Option<f64>,
    /// Medians of the scale case's cost of an idle shard.
    #[serde(default)]
    pub idle_shard: Option<IdleShardCost>,
    /// MB/s over time of the last repetition: `[seconds since start, MB/s]`
    /// every [`SERIES_INTERVAL`].
    pub series: Vec<[f64; 2]>,
}

/// How often the throughput-over-time series samples.
pub const SERIES_INTERVAL: Duration = Duration::from_millis(100);

/// Runs `run` while sampling `meter` every [`SERIES_INTERVAL`] for the series and
/// the progress bar's current MB/s.
fn sampled<T>(meter: &Meter, run: impl FnOnce() -> T) -> (T, Vec<[f64; 2]>) {
    let (stop, stopped) = mpsc::sync_channel::<()>(1);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(move || {
            let started = Instant::now();
            let mut series = Vec::new();
            let (mut last_at, mut last_bytes, mut last_records) = (started, 0u64, 0u64);
            loop {
                let stopping = !matches!(
                    stopped.recv_timeout(SERIES_INTERVAL),
                    Err(mpsc::RecvTimeoutError::Timeout)
                );
                let (now, bytes) = (Instant::now(), meter.bytes());
                let records = meter.records.load(Ordering::Relaxed);
                let interval = now - last_at;
                // The last, partial interval counts only if it is long enough to mean something.
                if !stopping || interval >= SERIES_INTERVAL / 10 {
                    let rate = mb_per_s(bytes - last_bytes, interval);
                    let records_per_s = (records - last_records) as f64 / interval.as_secs_f64();
                    series.push([(now - started).as_secs_f64(), rate]);
                    meter.bar.set_position(bytes);
                    meter
                        .bar
                        .set_message(format!("{rate:>8.1} MB/s {records_per_s:>9.0} rec/s"));
                }
                if stopping {
                    return series;
                }
                (last_at, last_bytes, last_records) = (now, bytes, records);
            }
        });
        let value = run();
        drop(stop);
        let series = sampler.join().unwrap_or_default();
        (value, trim_idle_start(series))
    })
}

/// Drops the samples before the first that moved anything (a run's setup: a
/// cache drop, a fill, a warming read) and counts time from the interval before it.
fn trim_idle_start(series: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    let Some(first) = series.iter().position(|p| p[1] > 0.0) else {
        return Vec::new();
    };
    let origin = series[first][0] - SERIES_INTERVAL.as_secs_f64();
    series[first..]
        .iter()
        .map(|p| [p[0] - origin, p[1]])
        .collect()
}

/// How the runner shows progress and how long a warm-up is.
#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    /// The budget of each measured repetition.
    pub budget: Budget,
    /// Measured repetitions.
    pub repetitions: usize,
    /// Longest warm-up run; zero for none.
    pub warmup: Duration,
    /// Draw progress bars.
    pub progress: bool,
}

/// Measures `case`: a warm-up (unless the case or config says none), then
/// `repetitions` measured runs, summarised.
pub fn run_case(case: &mut Case<'_>, config: &RunnerConfig) -> Result<BenchResult, String> {
    if case.warmup && !config.warmup.is_zero() {
        let budget = config.budget.warmup(config.warmup);
        let meter = Meter::new(
            &format!("{} (warm-up)", case.name),
            budget.volume_bytes,
            config.progress,
        );
        let outcome = (case.run)(&budget, &meter);
        meter.finish();
        outcome.map_err(|e| format!("{} warm-up: {e}", case.name))?;
    }
    let mut samples = Vec::with_capacity(config.repetitions);
    let mut series = Vec::new();
    for repetition in 1..=config.repetitions {
        let title = format!("{} ({repetition}/{})", case.name, config.repetitions);
        let meter = Meter::new(&title, config.budget.volume_bytes, config.progress);
        let (outcome, run_series) = sampled(&meter, || (case.run)(&config.budget, &meter));
        meter.finish();
        samples.push(outcome.map_err(|e| format!("{}: {e}", case.name))?);
        series = run_series;
    }
    summarise(case, samples, series)
}

fn summarise(
    case: &Case<'_>,
    samples: Vec<Sample>,
    series: Vec<[f64; 2]>,
) -> Result<BenchResult, String> {
    let mut latency_ns = histogram();
    let mut rates = Vec::new();
    let mut record_rates = Vec::new();
    let mut cache = None;
    let mut cpu_per_gb = Vec::new();
    let mut idle = Vec::new();
    let repetitions = samples.len();
    for sample in samples {
        if let Some(cpu) = sample.cpu.filter(|_| sample.bytes > 0) {
            let gb = sample.bytes as f64 / 1e9;
            let per_gb = |time: Duration| time.as_secs_f64() / gb;
            cpu_per_gb.push((per_gb(cpu.total()), per_gb(cpu.user)));
        }
        idle.extend(sample.idle_shard);
        latency_ns
            .add(&sample.latency_ns)
            .map_err(|e| format!("merging latency histograms: {e}"))?;
        if sample.bytes > 0 {
            rates.push(mb_per_s(sample.bytes, sample.elapsed));
        }
        if sample.records > 0 {
            record_rates.push(sample.records as f64 / sample.elapsed.as_secs_f64().max(1e-9));
        }
        cache = cache.or(sample.cache);
    }
    let throughput = case.figure == Figure::Throughput;
    let mb_per_s_spread = Spread::of(&rates).filter(|_| throughput);
    let mb = mb_per_s_spread.map(|s| s.median);
    // The repetition of median total CPU, with its own user share.
    cpu_per_gb.sort_by(|a, b| a.0.total_cmp(&b.0));
    let cpu_median = cpu_per_gb.get(cpu_per_gb.len() / 2).copied();
    let idle_median = |pick: fn(&IdleShardCost) -> f64| {
        Spread::of(&idle.iter().map(pick).collect::<Vec<_>>()).map(|s| s.median)
    };
    let idle_shard = idle_median(|c| c.memory_bytes)
        .zip(idle_median(|c| c.open_files))
        .map(|(memory_bytes, open_files)| IdleShardCost {
            memory_bytes,
            open_files,
        });
    Ok(BenchResult {
        workload: case.kind.name().to_string(),
        name: case.name.clone(),
        params: case.params.clone(),
        cache,
        repetitions,
        mb_per_s: mb,
        mb_per_s_spread,
        mb_per_s_per_shard: mb.zip(case.params.shards).map(|(m, s)| m / f64::from(s)),
        records_per_s: Spread::of(&record_rates).map(|s| s.median),
        records_per_s_spread: Spread::of(&record_rates),
        latency_us: Percentiles::of(&latency_ns),
        latency_of: case.latency_of.to_string(),
        ratio_to_raw: None,
        raw_baseline: None,
        raw_baselines: case
            .baselines
            .iter()
            .map(|b| b.name().to_string())
            .collect(),
        raw_baseline_mb_per_s: None,
        core_s_per_gb: cpu_median.map(|(total, _)| total),
        user_s_per_gb: cpu_median.map(|(_, user)| user),
        idle_shard,
        series: if throughput { series } else { Vec::new() },
    })
}

/// Fills `ratio_to_raw` of every result that has a baseline measured in the same
/// run: of its candidate baselines (`raw_baselines`, or else `raw_baseline`), the
/// fastest measured one, which becomes `raw_baseline`.
pub fn apply_ratios(results: &mut [BenchResult]) {
    let measured: Vec<(String, f64)> = results
        .iter()
        .filter_map(|r| Some((r.workload.clone(), r.mb_per_s?)))
        .filter(|(_, mb)| *mb > 0.0)
        .collect();
    for result in results.iter_mut() {
        let candidates: Vec<&String> = if result.raw_baselines.is_empty() {
            result.raw_baseline.iter().collect()
        } else {
            result.raw_baselines.iter().collect()
        };
        let best = measured
            .iter()
            .filter(|(name, _)| candidates.contains(&name))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .cloned();
        let Some((name, base_mb)) = best else {
            result.ratio_to_raw = None;
            continue;
        };
        result.ratio_to_raw = result.mb_per_s.map(|mb| mb / base_mb);
        result.raw_baseline = Some(name);
        result.raw_baseline_mb_per_s = Some(base_mb);
    }
}

/// Reproducible randomness for partition keys and lookup targets.
pub struct Rng(fastrand::Rng);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(seed))
    }

    /// Uniform in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "an empty range has no random element");
        self.0.u64(..bound)
    }

    /// Fills `keys` with fresh random 16-hex-digit partition keys, written digit
    /// by digit: the formatting machinery cost the producer about 4 % of a
    /// one-shard append's CPU, which the engine was charged for.
    pub fn fill_keys(&mut self, keys: &mut [String]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for key in keys {
            let value = self.0.u64(..);
            key.clear();
            key.extend(
                (0..16)
                    .rev()
                    .map(|nibble| char::from(DIGITS[((value >> (nibble * 4)) & 0xf) as usize])),
            );
        }
    }
}

/// A payload of `len` bytes that no layer can compress away.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(seed) as u8 | 1)
        .collect()
}

/// `map_err` helper: the failing call's name, then its error.
pub fn context<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |error| format!("{what}: {error}")
}

/// How long before its due time a paced call stops sleeping and spins. Measured on
/// this repository's VM (docs/benchmarks.md, session 35): a 1 ms paced sleep woke
/// 96 to 108 µs late at the median and 200 to 400 µs at p99 with the default timer
/// slack, 44 to 53 µs and 153 to 169 µs with a slack of 1 ns, and 0.1 µs and 50 µs
/// when the last 200 µs were spun. The latency of a paced call counts from its
/// intended start, so that lateness was the load generator's, measured as the
/// server's. A spin costs at most this much CPU a call: a fifth of a core at 1,000
/// calls/s.
const SPIN_BEFORE_DUE: Duration = Duration::from_micros(200);

/// Waits until `due` (a rate-limited loop's next intended start); never waits
/// when the loop is behind. Sleeps with a timer slack of 1 ns until shortly
/// before `due`, then spins (see [`SPIN_BEFORE_DUE`]).
pub fn wait_until(due: Instant) {
    precise_timers();
    let sleep = due
        .checked_duration_since(Instant::now())
        .and_then(|pause| pause.checked_sub(SPIN_BEFORE_DUE));
    if let Some(pause) = sleep {
        std::thread::sleep(pause);
    }
    while Instant::now() < due {
        std::hint::spin_loop();
    }
}

/// Sets the calling thread's timer slack to 1 ns, once per thread: the kernel's
/// default of 50 µs lets a sleep end that much later than asked, on purpose.
fn precise_timers() {
    thread_local! {
        static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    DONE.with(|done| {
        if !done.replace(true) {
            // Without it (a kernel that refuses) sleeps are only less precise.
            let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
        }
    });
}

/// The cases of every non-HTTP workload of `plan`, in run order, writing under `root`.
pub fn cases_for_plan<'a>(plan: &'a crate::cli::Plan, root: &'a std::path::Path) -> Vec<Case<'a>> {
    let read_file = std::rc::Rc::new(std::cell::OnceCell::new());
    let fill = Budget {
        volume_bytes: plan.volume_bytes,
        duration: plan.duration * 4,
    };
    let seeks: Vec<WorkloadKind> = plan
        .workloads
        .iter()
        .copied()
        .filter(|k| matches!(k, WorkloadKind::SeekSequence | WorkloadKind::SeekTimestamp))
        .collect();
    let mut cases = Vec::new();
    for &kind in &plan.workloads {
        match kind {
            WorkloadKind::RawDirectWrite
            | WorkloadKind::RawBufferedWrite
            | WorkloadKind::RawFdatasync
            | WorkloadKind::RawReadCold
            | WorkloadKind::RawReadWarm => {
                let file = std::rc::Rc::clone(&read_file);
                cases.extend(device::cases(kind, root, file, plan.volume_bytes));
            }
            WorkloadKind::Append => cases.extend(engine::append_cases(&plan.engine, root)),
            WorkloadKind::Replay => cases.extend(engine::replay_cases(&plan.engine, root, fill)),
            WorkloadKind::SeekSequence if seeks.first() == Some(&kind) => {
                cases.extend(seek::seek_cases(
                    &seeks,
                    root,
                    plan.seek_records,
                    plan.seek_lookups,
                ));
            }
            WorkloadKind::SeekTimestamp if seeks.first() == Some(&kind) => {
                cases.extend(seek::seek_cases(
                    &seeks,
                    root,
                    plan.seek_records,
                    plan.seek_lookups,
                ));
            }
            WorkloadKind::E2e => cases.push(seek::e2e_case(
                root,
                plan.engine.durability,
                plan.e2e_rate,
                plan.engine.record_bytes,
            )),
            WorkloadKind::Mixed => cases.extend(engine::mixed_cases(&plan.engine, root)),
            WorkloadKind::Scale => cases.extend(scale::scale_cases(&plan.engine, root)),
            WorkloadKind::Growth => cases.extend(growth::growth_cases(
                &plan.engine,
                root,
                &plan.growth_bytes,
                plan.seek_lookups,
            )),
            WorkloadKind::SqsEngineSend
            | WorkloadKind::SqsEngineReceiveDelete
            | WorkloadKind::SqsEngineRoundTrip
            | WorkloadKind::SqsBacklog => {
                cases.extend(sqs_engine::sqs_engine_cases(
                    &[kind],
                    &plan.sqs_engine,
                    root,
                ));
            }
            _ => {}
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::{wait_until, Rng};
    use std::time::{Duration, Instant};

    /// A paced wait returns at its due time or later, never before (the spin ends
    /// the wait, not the sleep), and leaves the thread's timer slack at 1 ns.
    #[test]
    fn a_paced_wait_never_ends_early_and_sets_a_precise_timer() {
        for step_us in [0, 50, 300, 2_000] {
            let due = Instant::now() + Duration::from_micros(step_us);
            wait_until(due);
            assert!(Instant::now() >= due, "woke before due ({step_us} µs)");
        }
        assert_eq!(rustix::thread::current_timer_slack().unwrap(), 1);
        // Behind schedule: no wait at all.
        let past = Instant::now();
        std::thread::sleep(Duration::from_millis(1));
        let before = Instant::now();
        wait_until(past);
        assert!(before.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn keys_are_the_random_values_in_sixteen_hex_digits() {
        let mut keys = vec![String::from("left over"); 64];
        Rng::new(7).fill_keys(&mut keys);
        let mut values = fastrand::Rng::with_seed(7);
        for key in &keys {
            assert_eq!(key, &format!("{:016x}", values.u64(..)));
        }
    }
}
