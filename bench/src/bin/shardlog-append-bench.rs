//! Append-throughput benchmark: the raw device and shardlog's durable append,
//! measured in the same run on the same file system.
//!
//! ```text
//! shardlog-append-bench [--dir DIR] [--gib N] [--shards N] [--producers N]
//!                       [--record-bytes N] [--batch-records N]
//!                       [--backends buffered,io_uring] [--durability sync|none|interval:MS]
//!                       [--repeat N]
//! ```
//!
//! It writes `--gib` GiB (default 4) with each method: a sequential `O_DIRECT`
//! write and a buffered write + `fdatasync` (1 MiB blocks, one sync at the end),
//! then appends `--record-bytes` records (default 1024) in batches of
//! `--batch-records` (default 500) from `--producers` threads over `--shards`
//! logs with the chosen durability (default `sync`), once per backend. It prints
//! MB/s of payload and the ratio to the raw `O_DIRECT` rate.

use hdrhistogram::Histogram;
use shardlog_bench::raw::{buffered_write, direct_write, direct_write_io_uring, Throughput};
use shardlog_segment::io::RealFs;
use shardlog_segment::{BackendKind, Durability, LogConfig, Record, Storage, StorageConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Raw device and durable append throughput, measured in the same run.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "shardlog-append-bench")]
struct Options {
    /// Directory for the raw files and the logs.
    #[arg(long, default_value = "shardlog-bench-data")]
    dir: PathBuf,
    /// GiB written by each method.
    #[arg(long = "gib", default_value_t = 4.0, value_parser = positive_gib)]
    gib: f64,
    /// Logs appended to.
    #[arg(long, default_value_t = 1, value_parser = positive)]
    shards: usize,
    /// Appending threads.
    #[arg(long, default_value_t = 4, value_parser = positive)]
    producers: usize,
    /// Payload bytes per record.
    #[arg(long, default_value_t = 1024, value_parser = positive)]
    record_bytes: usize,
    /// Records per append call.
    #[arg(long, default_value_t = 500, value_parser = positive)]
    batch_records: usize,
    /// Write backends to compare, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "buffered,io_uring", value_parser = backend)]
    backends: Vec<BackendKind>,
    /// `sync`, `none` or `interval:MS`.
    #[arg(long, default_value = "sync", value_parser = durability)]
    durability: Durability,
    /// Runs of each backend.
    #[arg(long, default_value_t = 1, value_parser = positive)]
    repeat: usize,
}

impl Options {
    fn volume_bytes(&self) -> u64 {
        (self.gib * (1u64 << 30) as f64) as u64
    }
}

fn positive_gib(text: &str) -> Result<f64, String> {
    text.parse()
        .ok()
        .filter(|gib: &f64| *gib > 0.0)
        .ok_or_else(|| format!("'{text}' is not a positive number"))
}

fn positive(text: &str) -> Result<usize, String> {
    text.parse()
        .ok()
        .filter(|n: &usize| *n > 0)
        .ok_or_else(|| format!("'{text}' is not a positive integer"))
}

fn backend(name: &str) -> Result<BackendKind, String> {
    BackendKind::parse(name).ok_or_else(|| format!("unknown backend '{name}'"))
}

fn durability(text: &str) -> Result<Durability, String> {
    Durability::parse(text).ok_or_else(|| format!("unknown durability '{text}'"))
}

/// What one append run measured.
struct AppendRun {
    payload_bytes: u64,
    elapsed: Duration,
    latency_us: Histogram<u64>,
}

impl AppendRun {
    fn mb_per_s(&self) -> f64 {
        self.payload_bytes as f64 / self.elapsed.as_secs_f64() / 1e6
    }
}

fn append_run(options: &Options, backend: BackendKind, dir: &Path) -> Result<AppendRun, String> {
    let storage = Storage::open(
        RealFs::shared(),
        StorageConfig {
            backend,
            durability: options.durability,
        },
    )
    .map_err(|e| e.to_string())?;
    let mut logs = Vec::new();
    for shard in 0..options.shards {
        let (log, _) = storage
            .open_log(dir.join(format!("shard-{shard}")), LogConfig::default())
            .map_err(|e| e.to_string())?;
        logs.push(log);
    }
    let batch_bytes = (options.record_bytes * options.batch_records) as u64;
    let batches_total = (options.volume_bytes() / batch_bytes).max(1);
    let claimed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..options.producers)
        .map(|producer| {
            let log = logs[producer % logs.len()].clone();
            let claimed = Arc::clone(&claimed);
            let options = options.clone();
            std::thread::spawn(move || -> Result<Histogram<u64>, String> {
                let payload: Vec<u8> = (0..options.record_bytes)
                    .map(|i| (i * 7 + producer) as u8)
                    .collect();
                let keys: Vec<String> = (0..options.batch_records)
                    .map(|i| format!("pk-{producer}-{i}"))
                    .collect();
                let records: Vec<Record<'_>> = keys
                    .iter()
                    .map(|key| Record {
                        partition_key: key,
                        explicit_hash_key: None,
                        data: &payload,
                    })
                    .collect();
                let mut latency = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
                while claimed.fetch_add(1, Ordering::Relaxed) < batches_total {
                    let begun = Instant::now();
                    log.append(&records).map_err(|e| e.to_string())?;
                    latency
                        .record(begun.elapsed().as_micros() as u64)
                        .map_err(|e| e.to_string())?;
                }
                Ok(latency)
            })
        })
        .collect();
    let mut latency_us = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    for thread in threads {
        let histogram = thread
            .join()
            .map_err(|_| "producer panicked".to_string())??;
        latency_us.add(histogram).map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();
    storage.shutdown().map_err(|e| e.to_string())?;
    Ok(AppendRun {
        payload_bytes: batches_total * batch_bytes,
        elapsed,
        latency_us,
    })
}

fn print_raw(name: &str, run: &Throughput, direct: &Throughput) {
    println!(
        "{name:<34} {:>9.0} {:>8.2} {:>10} {:>10}",
        run.mb_per_s(),
        run.mb_per_s() / direct.mb_per_s(),
        "-",
        "-"
    );
}

fn run(options: &Options) -> Result<(), String> {
    std::fs::create_dir_all(&options.dir)
        .map_err(|e| format!("cannot create {}: {e}", options.dir.display()))?;
    println!(
        "volume {:.2} GiB per run; {} shard(s), {} producer(s), {} B records, {} records/batch, durability {}",
        options.volume_bytes() as f64 / (1u64 << 30) as f64,
        options.shards,
        options.producers,
        options.record_bytes,
        options.batch_records,
        options.durability.name()
    );
    for repetition in 1..=options.repeat {
        println!("\nrun {repetition} of {}", options.repeat);
        println!(
            "{:<34} {:>9} {:>8} {:>10} {:>10}",
            "method", "MB/s", "ratio", "p50 µs", "p99 µs"
        );
        let io_err = |e: std::io::Error| e.to_string();
        let direct = direct_write(&options.dir.join("raw-direct.bin"), options.volume_bytes())
            .map_err(io_err)?;
        print_raw("raw O_DIRECT write", &direct, &direct);
        let ring =
            direct_write_io_uring(&options.dir.join("raw-uring.bin"), options.volume_bytes())
                .map_err(io_err)?;
        print_raw("raw O_DIRECT write via io_uring", &ring, &direct);
        let buffered = buffered_write(
            &options.dir.join("raw-buffered.bin"),
            options.volume_bytes(),
        )
        .map_err(io_err)?;
        print_raw("raw buffered write + fdatasync", &buffered, &direct);
        for backend in &options.backends {
            let dir = options.dir.join(format!("log-{}", backend.name()));
            let _ = std::fs::remove_dir_all(&dir);
            let result = append_run(options, *backend, &dir)?;
            std::fs::remove_dir_all(&dir).map_err(io_err)?;
            println!(
                "{:<34} {:>9.0} {:>8.2} {:>10} {:>10}",
                format!("append {} ({})", backend.name(), options.durability.name()),
                result.mb_per_s(),
                result.mb_per_s() / direct.mb_per_s(),
                result.latency_us.value_at_quantile(0.5),
                result.latency_us.value_at_quantile(0.99),
            );
        }
    }
    println!("\nratio: MB/s of payload divided by the raw O_DIRECT rate of the same run");
    Ok(())
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
