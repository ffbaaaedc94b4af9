//! Shared helpers of the delivery-stream integration tests.
#![allow(dead_code)]

use shardlog_firehose::{
    Buffering, Compression, DeliveryStreamConfig, Destination, DestinationConfig, Error, Firehose,
    FirehoseConfig, SourceConfig,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A Direct PUT stream to bucket `logs` flushing at once (interval 0).
pub fn direct_put(name: &str, compression: Compression) -> DeliveryStreamConfig {
    DeliveryStreamConfig {
        name: name.into(),
        source: SourceConfig::DirectPut,
        destination: DestinationConfig {
            bucket: "logs".into(),
            prefix: "in/".into(),
            error_output_prefix: None,
            buffering: Buffering {
                size_mib: 1,
                interval_s: 0,
            },
            compression,
            newline_delimiter: true,
            conversion: None,
            backup: None,
            extended: true,
            role_arn: String::new(),
        },
    }
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if !entry.file_name().to_string_lossy().starts_with('.') {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Waits up to 20 s for `condition`.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
        std::thread::park_timeout(Duration::from_millis(10));
    }
}

/// The newline-delimited records of every uncompressed object under `dir`.
pub fn delivered_lines(dir: &Path) -> Vec<String> {
    files_under(dir)
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            text.lines().map(str::to_string).collect::<Vec<_>>()
        })
        .collect()
}

/// A destination that fails every put while `failing` is set, and otherwise
/// writes to `inner`; counts attempts.
#[derive(Debug)]
pub struct Switchable {
    pub inner: Arc<dyn Destination>,
    pub failing: AtomicBool,
    /// Puts write the object, then report a failure (an object that became
    /// durable while the writer did not learn it: a crash before the checkpoint).
    pub write_then_fail: AtomicBool,
    pub attempts: AtomicUsize,
}

impl Switchable {
    pub fn new(inner: Arc<dyn Destination>) -> Arc<Switchable> {
        Arc::new(Switchable {
            inner,
            failing: AtomicBool::new(false),
            write_then_fail: AtomicBool::new(false),
            attempts: AtomicUsize::new(0),
        })
    }
}

impl Destination for Switchable {
    fn put(&self, bucket: &str, key: &str, body: &[u8]) -> shardlog_firehose::Result<()> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::Destination("injected failure".into()));
        }
        self.inner.put(bucket, key, body)?;
        if self.write_then_fail.load(Ordering::SeqCst) {
            return Err(Error::Destination(
                "injected failure after the write".into(),
            ));
        }
        Ok(())
    }

    fn exists(&self, bucket: &str, key: &str) -> shardlog_firehose::Result<bool> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::Destination("injected failure".into()));
        }
        self.inner.exists(bucket, key)
    }
}

/// A service over `data_dir` with `destination` as every bucket's.
pub fn open(data_dir: &Path, destination: Arc<dyn Destination>) -> Firehose {
    let mut config = FirehoseConfig::new(data_dir);
    config.backlog_bytes_max = 1 << 20;
    Firehose::open(
        config,
        None,
        shardlog_firehose::Destinations::with_default(destination),
    )
    .unwrap()
}
