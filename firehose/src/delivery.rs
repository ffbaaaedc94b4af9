//! The delivery loop of one delivery stream: read the source, buffer, flush at
//! the size or interval hint (or at shutdown), convert and compress, write the
//! objects, then checkpoint.
//!
//! Guarantees: the checkpoint moves only after every object of a flush is durable
//! at its destination; a flush records its range and its objects' name first, so
//! that after a crash the same range is delivered again to the same keys, and an
//! object the interrupted flush wrote is left as it is (no loss, no duplicate,
//! even when retention or compaction removed some of the range meanwhile). A
//! failing destination is retried with exponential backoff, for ever while the
//! stream runs; nothing is dropped.

use crate::checkpoint::{Checkpoint, CheckpointFile, Positions};
use crate::dest::Destinations;
use crate::error::Result;
use crate::meta::StreamMeta;
use crate::objects::{build_objects, FlushName, Object};
use crate::source::{Source, SourceRecord};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most records one source read returns.
pub const READ_RECORDS_MAX: usize = 500;
/// About the most bytes one source read returns.
pub const READ_BYTES_MAX: usize = 4 << 20;
/// Longest wait for records before the loop checks for stop and due flushes.
pub const WAIT_SLICE_MS: u64 = 100;
/// First retry delay after a failed write, ms; doubles per failure.
pub const RETRY_BACKOFF_MS_MIN: u64 = 100;
/// Longest retry delay, ms.
pub const RETRY_BACKOFF_MS_MAX: u64 = 10_000;
/// Attempts per write once shutdown began (what is not delivered then stays in
/// the source and is delivered after the restart).
pub const STOPPING_ATTEMPTS_MAX: u32 = 3;
/// How long redelivery of a pending range waits for its records to be readable
/// before delivering what it found (a source that lost them to retention).
pub const REDELIVERY_WAIT_MS: u64 = 5_000;

/// How a delivery loop is asked to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Deliver what the source holds now, then end (shutdown).
    Flush,
    /// End at once (the delivery stream is being deleted).
    Discard,
}

/// State shared by a delivery loop and the service.
#[derive(Debug)]
pub struct StreamShared {
    /// The stream's directory, `<data-dir>/firehose/<name>`.
    pub dir: PathBuf,
    /// Its metadata (the loop reads the configuration at each flush).
    pub meta: Mutex<StreamMeta>,
    stop: Mutex<Option<Stop>>,
    wake: Condvar,
    /// Record bytes accepted but not yet delivered (back-pressure).
    pub backlog_bytes: AtomicU64,
    /// The last delivery failure, cleared by the next success.
    pub failure: Mutex<Option<String>>,
    /// Objects delivered since start (for tests and metrics).
    pub objects_delivered: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl StreamShared {
    /// Shared state of the stream in `dir`.
    pub fn new(dir: PathBuf, meta: StreamMeta) -> StreamShared {
        StreamShared {
            dir,
            meta: Mutex::new(meta),
            stop: Mutex::new(None),
            wake: Condvar::new(),
            backlog_bytes: AtomicU64::new(0),
            failure: Mutex::new(None),
            objects_delivered: AtomicU64::new(0),
        }
    }

    /// A copy of the metadata.
    pub fn meta(&self) -> StreamMeta {
        lock(&self.meta).clone()
    }

    /// Asks the loop to end (a Discard overrides a Flush).
    pub fn request_stop(&self, stop: Stop) {
        let mut current = lock(&self.stop);
        if *current != Some(Stop::Discard) {
            *current = Some(stop);
        }
        self.wake.notify_all();
    }

    fn stop(&self) -> Option<Stop> {
        *lock(&self.stop)
    }

    /// Waits up to `timeout` unless a stop is requested meanwhile.
    fn pause(&self, timeout: Duration) {
        let stop = lock(&self.stop);
        let _ = self
            .wake
            .wait_timeout_while(stop, timeout, |stop| stop.is_none());
    }

    fn set_failure(&self, failure: Option<String>) {
        *lock(&self.failure) = failure;
    }
}

/// One delivery stream's loop.
pub struct Worker {
    shared: Arc<StreamShared>,
    source: Box<dyn Source>,
    destinations: Destinations,
    checkpoint_file: CheckpointFile,
    checkpoint: Checkpoint,
    buffer: Vec<SourceRecord>,
    buffer_bytes: usize,
    buffer_started: Option<Instant>,
}

impl Worker {
    /// A loop over `source` with the checkpoint in the stream's directory.
    pub fn new(
        shared: Arc<StreamShared>,
        source: Box<dyn Source>,
        destinations: Destinations,
    ) -> Result<Worker> {
        let checkpoint_file = CheckpointFile::new(shared.dir.join("checkpoint.json"));
        let checkpoint = checkpoint_file.load()?;
        Ok(Worker {
            shared,
            source,
            destinations,
            checkpoint_file,
            checkpoint,
            buffer: Vec::new(),
            buffer_bytes: 0,
            buffer_started: None,
        })
    }

    /// The checkpoint as loaded or last saved.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Runs until stopped. Returns an error only when a stop came while the
    /// destination was failing: the undelivered records stay in the source.
    pub fn run(mut self) -> Result<()> {
        if let Some(pending) = self.checkpoint.pending.clone() {
            let name = self.checkpoint.pending_name.clone();
            // A source that cannot be read yet (e.g. its stream is gone for now)
            // is retried; only a stop ends the attempt.
            while let Err(error) = self.redeliver(&pending, name.as_ref()) {
                if self.shared.stop().is_some() {
                    return Err(error);
                }
                tracing::warn!(%error, dir = %self.shared.dir.display(), "re-delivery failed; retrying");
                self.shared.set_failure(Some(error.to_string()));
                self.shared
                    .pause(Duration::from_millis(RETRY_BACKOFF_MS_MAX));
            }
        }
        self.source.seek(&self.checkpoint.delivered)?;
        loop {
            let stop = self.shared.stop();
            if stop == Some(Stop::Discard) {
                return Ok(());
            }
            if self.flush_due(stop.is_some()) {
                self.flush(None)?;
                continue;
            }
            let wait = match (stop, self.buffer_started) {
                (Some(_), _) => Duration::ZERO,
                (None, Some(started)) => self
                    .interval()
                    .saturating_sub(started.elapsed())
                    .min(Duration::from_millis(WAIT_SLICE_MS)),
                (None, None) => Duration::from_millis(WAIT_SLICE_MS),
            };
            let count = match self.read_more(wait) {
                Ok(count) => count,
                Err(error) => {
                    tracing::warn!(%error, dir = %self.shared.dir.display(), "source read failed");
                    self.shared.set_failure(Some(error.to_string()));
                    self.shared
                        .pause(Duration::from_millis(RETRY_BACKOFF_MS_MAX));
                    continue;
                }
            };
            if stop.is_some() && count == 0 && self.buffer.is_empty() {
                return Ok(());
            }
        }
    }

    fn interval(&self) -> Duration {
        let interval_s = lock(&self.shared.meta)
            .config
            .destination
            .buffering
            .interval_s;
        Duration::from_secs(u64::from(interval_s))
    }

    fn flush_due(&self, stopping: bool) -> bool {
        let Some(started) = self.buffer_started else {
            return false;
        };
        let size_mib = lock(&self.shared.meta)
            .config
            .destination
            .buffering
            .size_mib;
        stopping
            || self.buffer_bytes >= (size_mib as usize) << 20
            || started.elapsed() >= self.interval()
    }

    /// Reads into the buffer; returns how many records came.
    fn read_more(&mut self, wait: Duration) -> Result<usize> {
        let size_bytes = (lock(&self.shared.meta)
            .config
            .destination
            .buffering
            .size_mib as usize)
            << 20;
        let room = size_bytes
            .saturating_sub(self.buffer_bytes)
            .clamp(1, READ_BYTES_MAX);
        let before = self.buffer.len();
        self.source
            .read(READ_RECORDS_MAX, room, wait, &mut self.buffer)?;
        let added = &self.buffer[before..];
        self.buffer_bytes += added.iter().map(|r| r.data.len()).sum::<usize>();
        if !added.is_empty() {
            self.buffer_started.get_or_insert_with(Instant::now);
        }
        Ok(added.len())
    }

    /// Reads again exactly the range of a flush that a crash interrupted, and
    /// delivers it under the interrupted flush's `name` (if the checkpoint kept it).
    fn redeliver(&mut self, pending: &Positions, name: Option<&FlushName>) -> Result<()> {
        self.buffer.clear();
        self.source.seek(&self.checkpoint.delivered)?;
        let deadline = Instant::now() + Duration::from_millis(REDELIVERY_WAIT_MS);
        let mut batch = Vec::new();
        loop {
            let complete = pending.iter().all(|(partition, last)| {
                self.buffer
                    .iter()
                    .any(|r| &*r.partition == partition && r.position >= *last)
            });
            if complete || self.shared.stop() == Some(Stop::Discard) {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(dir = %self.shared.dir.display(), ?pending, records = self.buffer.len(),
                    "the range of an interrupted flush is no longer all readable (retention or compaction); \
                     its objects that were written stay, the others get what is left");
                break;
            }
            batch.clear();
            self.source.read(
                READ_RECORDS_MAX,
                READ_BYTES_MAX,
                Duration::from_millis(WAIT_SLICE_MS),
                &mut batch,
            )?;
            self.buffer.extend(batch.drain(..).filter(|record| {
                pending
                    .get(&*record.partition)
                    .is_some_and(|last| record.position <= *last)
            }));
        }
        self.buffer_bytes = self.buffer.iter().map(|r| r.data.len()).sum();
        let redelivery = Redelivery {
            to: pending.clone(),
            name: name.cloned(),
        };
        self.flush(Some(redelivery))
    }

    /// Delivers the buffer: the range of an interrupted flush delivered again, or
    /// else the buffer's own range.
    fn flush(&mut self, redelivery: Option<Redelivery>) -> Result<()> {
        let again = redelivery.is_some();
        let (to, name) = match redelivery {
            Some(Redelivery { to, name }) => (to, name),
            None => (last_positions(&self.buffer), None),
        };
        if !self.buffer.is_empty() {
            let name =
                name.unwrap_or_else(|| FlushName::of(&self.checkpoint.delivered, &self.buffer));
            let objects = self.retrying(|worker| {
                let mut meta = worker.shared.meta();
                let objects = build_objects(&mut meta, &name, &worker.buffer)?;
                if meta.inferred_columns != worker.shared.meta().inferred_columns {
                    meta.save(&worker.shared.dir)?;
                    lock(&worker.shared.meta).inferred_columns = meta.inferred_columns;
                }
                Ok(objects)
            })?;
            self.checkpoint.pending = Some(to.clone());
            self.checkpoint.pending_name = Some(name);
            self.retrying(|worker| worker.checkpoint_file.save(&worker.checkpoint))?;
            for object in &objects {
                // The interrupted flush may have written this object before the
                // crash, from records the source may no longer hold all of: it
                // stands as written (same key), never a second copy beside it.
                if again && self.retrying(|worker| worker.exists(object))? {
                    continue;
                }
                self.retrying(|worker| worker.put(object))?;
            }
        }
        self.checkpoint.delivered.extend(to);
        self.checkpoint.pending = None;
        self.checkpoint.pending_name = None;
        self.retrying(|worker| worker.checkpoint_file.save(&worker.checkpoint))?;
        // Saturating: only Direct PUT counts its backlog (a Kinesis source's is 0).
        let delivered_bytes = self.buffer_bytes as u64;
        let _ = self.shared.backlog_bytes.fetch_update(
            Ordering::AcqRel,
            Ordering::Acquire,
            |backlog| Some(backlog.saturating_sub(delivered_bytes)),
        );
        self.buffer.clear();
        self.buffer_bytes = 0;
        self.buffer_started = None;
        if let Err(error) = self.source.release(&self.checkpoint.delivered) {
            tracing::warn!(%error, "could not release delivered source records");
        }
        Ok(())
    }

    fn exists(&self, object: &Object) -> Result<bool> {
        self.destinations
            .for_bucket(&object.bucket)
            .exists(&object.bucket, &object.key)
    }

    fn put(&self, object: &Object) -> Result<()> {
        self.destinations.for_bucket(&object.bucket).put(
            &object.bucket,
            &object.key,
            &object.body,
        )?;
        self.shared
            .objects_delivered
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Runs `step` until it succeeds, backing off exponentially between failures.
    /// Gives up only when stopping (after a few attempts, or at once on Discard).
    fn retrying<T>(&mut self, mut step: impl FnMut(&mut Worker) -> Result<T>) -> Result<T> {
        let mut backoff_ms = RETRY_BACKOFF_MS_MIN;
        let mut attempts = 0u32;
        loop {
            match step(self) {
                Ok(value) => {
                    self.shared.set_failure(None);
                    return Ok(value);
                }
                Err(error) => {
                    attempts += 1;
                    tracing::warn!(%error, attempts, dir = %self.shared.dir.display(), "delivery failed; retrying");
                    self.shared.set_failure(Some(error.to_string()));
                    match self.shared.stop() {
                        Some(Stop::Discard) => return Err(error),
                        Some(Stop::Flush) if attempts >= STOPPING_ATTEMPTS_MAX => {
                            return Err(error)
                        }
                        _ => {}
                    }
                    self.shared.pause(Duration::from_millis(backoff_ms));
                    backoff_ms = (backoff_ms * 2).min(RETRY_BACKOFF_MS_MAX);
                }
            }
        }
    }
}

/// An interrupted flush being delivered again: its range and, if the checkpoint
/// kept it, its objects' name.
struct Redelivery {
    to: Positions,
    name: Option<FlushName>,
}

/// The last position of each partition in `records`.
fn last_positions(records: &[SourceRecord]) -> Positions {
    let mut last = Positions::new();
    for record in records {
        let entry = last
            .entry(record.partition.to_string())
            .or_insert(record.position);
        *entry = (*entry).max(record.position);
    }
    last
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("dir", &self.shared.dir)
            .field("checkpoint", &self.checkpoint)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}
