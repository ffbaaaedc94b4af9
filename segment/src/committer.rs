//! Group commit: one thread writes and syncs the staged batches of every log.
//!
//! Appenders queue their log here after staging a batch. Each round the committer
//! takes every queued log's staged bytes, writes them all in one backend call (one
//! write per file, one `io_uring` submission for all files), syncs them all in one
//! call, then acknowledges every batch of the round. While a round is in flight,
//! appenders keep staging into fresh buffers: the next round carries everything
//! that arrived meanwhile, so under load the cost of a sync is shared by many batches.

use crate::backend::{WriteBackend, WriteOp};
use crate::config::Durability;
use crate::error::{Error, Result};
use crate::io::{write_all_at, FileHandle, OpenOptions};
use crate::log::{take_buffer, ActiveView, ActiveWriter, LogShared, Stage, WriterState};
use crate::sealed::{map_sealed, sealed_index_files, SegmentInfo, SegmentPaths};
use shardlog_index::{Entry, IndexKind, Sampler, ENTRY_LEN, HEADER_LEN as INDEX_HEADER_LEN};
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct QueueState {
    logs: Vec<Arc<LogShared>>,
    stopping: bool,
    stopped: bool,
}

/// Logs waiting for the committer.
#[derive(Debug, Default)]
pub(crate) struct CommitQueue {
    state: Mutex<QueueState>,
    wake: Condvar,
}

impl CommitQueue {
    /// Queues a log that has staged batches.
    pub(crate) fn enqueue(&self, log: Arc<LogShared>) -> Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.stopped {
            return Err(Error::Closed {
                path: log.dir.clone(),
            });
        }
        state.logs.push(log);
        drop(state);
        self.wake.notify_one();
        Ok(())
    }
}

/// The committer thread and its queue.
#[derive(Debug)]
pub(crate) struct Committer {
    queue: Arc<CommitQueue>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    pub(crate) fn start(backend: Box<dyn WriteBackend>, durability: Durability) -> Result<Self> {
        let queue = Arc::new(CommitQueue::default());
        let worker = Worker {
            queue: Arc::clone(&queue),
            backend,
            durability,
            unsynced: Vec::new(),
            last_sync: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("shardlog-commit".into())
            .spawn(move || worker.run())
            .map_err(|source| Error::Io {
                op: "spawn committer thread",
                path: Default::default(),
                source,
            })?;
        Ok(Committer {
            queue,
            thread: Some(thread),
        })
    }

    pub(crate) fn queue(&self) -> Arc<CommitQueue> {
        Arc::clone(&self.queue)
    }

    /// Finishes queued work, syncs, and stops the thread.
    pub(crate) fn stop(&mut self) {
        {
            let mut state = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
            state.stopping = true;
        }
        self.queue.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // A panic in the committer has already failed its logs' appenders.
            let _ = thread.join();
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker {
    queue: Arc<CommitQueue>,
    backend: Box<dyn WriteBackend>,
    durability: Durability,
    /// Logs written since their last sync (interval policy).
    unsynced: Vec<Arc<LogShared>>,
    last_sync: Instant,
}

/// One log's work in a round.
struct Job {
    log: Arc<LogShared>,
    stages: Vec<Stage>,
}

impl Worker {
    fn run(mut self) {
        loop {
            let (logs, stopping) = self.wait_for_work();
            if logs.is_empty() && stopping {
                self.sync_unsynced();
                let mut state = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
                state.stopped = true;
                // Appenders that raced with the stop get Closed from enqueue.
                for log in state.logs.drain(..) {
                    fail(&log, "storage stopped".into());
                }
                return;
            }
            self.round(logs);
            if let Durability::Interval { interval_ms } = self.durability {
                if self.last_sync.elapsed() >= Duration::from_millis(interval_ms) {
                    self.sync_unsynced();
                }
            }
        }
    }

    fn wait_for_work(&mut self) -> (Vec<Arc<LogShared>>, bool) {
        let mut state = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if !state.logs.is_empty() || state.stopping {
                return (std::mem::take(&mut state.logs), state.stopping);
            }
            let Durability::Interval { interval_ms } = self.durability else {
                state = self
                    .queue
                    .wake
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
                continue;
            };
            if self.unsynced.is_empty() {
                state = self
                    .queue
                    .wake
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
                continue;
            }
            let deadline = self.last_sync + Duration::from_millis(interval_ms);
            let Some(wait) = deadline.checked_duration_since(Instant::now()) else {
                drop(state);
                self.sync_unsynced();
                state = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            };
            state = self
                .queue
                .wake
                .wait_timeout(state, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn round(&mut self, logs: Vec<Arc<LogShared>>) {
        let mut fast = Vec::new();
        for log in logs {
            let stages = take_stages(&log);
            if stages.is_empty() {
                continue;
            }
            let plain = stages.len() == 1
                && stages[0].create.is_none()
                && log.lock_writer().active.is_some();
            let job = Job { log, stages };
            if plain {
                fast.push(job);
            } else {
                self.slow_job(job);
            }
        }
        if !fast.is_empty() {
            self.fast_jobs(fast);
        }
    }

    /// Writes the stages of many logs in one backend call and syncs them in one.
    fn fast_jobs(&mut self, mut jobs: Vec<Job>) {
        let files: Vec<Arc<dyn FileHandle>> = jobs
            .iter()
            .map(|job| {
                let writer = job.log.lock_writer();
                Arc::clone(&writer.active.as_ref().expect("checked in round").file)
            })
            .collect();
        let alignment = self.backend.alignment();
        let write_results = {
            let ops: Vec<WriteOp<'_>> = jobs
                .iter_mut()
                .zip(&files)
                .map(|(job, file)| stage_op(&mut job.stages[0], file.as_ref(), alignment))
                .collect();
            self.backend.write_all(&ops)
        };
        let sync = self.durability == Durability::Sync;
        let mut results: Vec<io::Result<()>> = write_results;
        if sync {
            let to_sync: Vec<(usize, &dyn FileHandle)> = results
                .iter()
                .enumerate()
                .filter(|(_, result)| result.is_ok())
                .map(|(index, _)| (index, files[index].as_ref()))
                .collect();
            let handles: Vec<&dyn FileHandle> = to_sync.iter().map(|(_, file)| *file).collect();
            let sync_results = self.backend.sync_all(&handles);
            for ((index, _), result) in to_sync.iter().zip(sync_results) {
                results[*index] = result;
            }
        }
        for (job, result) in jobs.into_iter().zip(results) {
            let Job { log, stages } = job;
            match result {
                Ok(()) => {
                    for stage in stages {
                        self.publish(&log, stage, sync);
                    }
                    finish(&log);
                }
                Err(error) => fail(&log, describe("write or sync", &log, &error)),
            }
        }
    }

    /// A log whose stages create a segment (or whose first segment is not open):
    /// stage by stage, sealing and creating segments on the way.
    fn slow_job(&mut self, job: Job) {
        let Job { log, stages } = job;
        for stage in stages {
            if let Err(error) = self.write_stage_alone(&log, stage) {
                fail(&log, error.to_string());
                return;
            }
        }
        finish(&log);
    }

    fn write_stage_alone(&mut self, log: &Arc<LogShared>, mut stage: Stage) -> Result<()> {
        let creating = stage.create.is_some();
        if let Some(header) = stage.create {
            let mut writer = log.lock_writer();
            if writer.active.is_some() {
                seal_active(log, &mut writer)?;
            }
            create_segment(log, &mut writer, header.base_position, header.created_ms)?;
        }
        let file = {
            let writer = log.lock_writer();
            Arc::clone(&writer.active.as_ref().expect("created above").file)
        };
        let alignment = self.backend.alignment();
        let path = SegmentPaths::new(&log.dir, stage.segment_base).log;
        let op = stage_op(&mut stage, file.as_ref(), alignment);
        let io_error = |op: &'static str| {
            let path = path.clone();
            move |source| Error::Io { op, path, source }
        };
        take_one(self.backend.write_all(&[op])).map_err(io_error("write"))?;
        let sync = self.durability == Durability::Sync;
        if sync {
            take_one(self.backend.sync_all(&[file.as_ref()])).map_err(io_error("sync"))?;
        }
        if creating {
            log.fs
                .sync_dir(&log.dir)
                .map_err(io_error("sync directory of"))?;
        }
        self.publish(log, stage, sync);
        Ok(())
    }

    /// Makes a written stage visible and acknowledges its batches.
    fn publish(&mut self, log: &Arc<LogShared>, stage: Stage, synced: bool) {
        let mut writer = log.lock_writer();
        let active = writer
            .active
            .as_mut()
            .expect("a stage is written to an open segment");
        active.written_len = stage.end_offset();
        active.synced = synced;
        let mut state = log.lock();
        let state = &mut *state;
        let view = state.active.as_mut().expect("view opened with the writer");
        for batch in &stage.batches {
            if active.sampler.should_index(batch.offset) {
                view.index.push(Entry {
                    key: batch.base_position,
                    value: batch.offset,
                });
                view.time_index.push(Entry {
                    key: batch.arrival_ms,
                    value: batch.base_position,
                });
            }
            view.first_arrival_ms.get_or_insert(batch.arrival_ms);
            view.last_arrival_ms = Some(batch.arrival_ms);
            view.end_position = batch.base_position + batch.count;
        }
        view.acked_len = stage.end_offset();
        state.acked_position = view.end_position;
        state.staged_bytes -= stage.new_bytes();
        if synced {
            active.durable_entries = view.index.len();
        }
        let pending = pending_entries(active, view);
        if state.spare.len() < 2 {
            state.spare.push(stage.buf);
        }
        if !synced && matches!(self.durability, Durability::Interval { .. }) {
            let known = self.unsynced.iter().any(|other| Arc::ptr_eq(other, log));
            if !known {
                self.unsynced.push(Arc::clone(log));
            }
        }
        log.changed.notify_all();
        if let Some((idx, tix)) = pending {
            // Index entries are derived data written only once their batches are
            // durable; recovery trusts the log up to the last one it finds.
            if let Err(error) = persist_entries(active, &idx, &tix) {
                state.failed = Some(describe("write index of", log, &error));
            }
        }
    }

    /// Interval policy: syncs every log written since the last sync.
    fn sync_unsynced(&mut self) {
        self.last_sync = Instant::now();
        let logs = std::mem::take(&mut self.unsynced);
        for log in logs {
            let mut writer = log.lock_writer();
            let Some(active) = writer.active.as_mut() else {
                continue;
            };
            if active.synced {
                continue;
            }
            if let Err(error) = take_one(self.backend.sync_all(&[active.file.as_ref()])) {
                drop(writer);
                fail(&log, describe("sync", &log, &error));
                continue;
            }
            active.synced = true;
            let mut state = log.lock();
            let Some(view) = state.active.as_ref() else {
                continue;
            };
            active.durable_entries = view.index.len();
            let pending = pending_entries(active, view);
            if let Some((idx, tix)) = pending {
                if let Err(error) = persist_entries(active, &idx, &tix) {
                    state.failed = Some(describe("write index of", &log, &error));
                    log.changed.notify_all();
                }
            }
        }
    }
}

fn take_one(mut results: Vec<io::Result<()>>) -> io::Result<()> {
    results
        .pop()
        .unwrap_or_else(|| Err(io::Error::other("backend returned no result")))
}

fn describe(op: &str, log: &LogShared, error: &io::Error) -> String {
    format!("{op} {}: {error}", log.dir.display())
}

/// The write op for a stage: from its aligned start, padded for `O_DIRECT`.
fn stage_op<'a>(stage: &'a mut Stage, file: &'a dyn FileHandle, alignment: usize) -> WriteOp<'a> {
    if alignment > 1 {
        WriteOp {
            file,
            offset: stage.file_offset,
            data: stage.buf.padded(alignment),
        }
    } else {
        let carried = stage.carried;
        WriteOp {
            file,
            offset: stage.file_offset + carried as u64,
            data: &stage.buf.as_slice()[carried..],
        }
    }
}

/// Takes a log's staged batches, leaving an empty stage that continues the last one.
fn take_stages(log: &LogShared) -> Vec<Stage> {
    let mut state = log.lock();
    state.enqueued = false;
    if state.failed.is_some() || state.stages.iter().all(|stage| stage.batches.is_empty()) {
        return Vec::new();
    }
    let taken: Vec<Stage> = state
        .stages
        .drain(..)
        .filter(|stage| !stage.batches.is_empty())
        .collect();
    let last = taken.last().expect("checked non-empty above");
    let buf = take_buffer(&mut state, last.buf.capacity());
    let next = Stage::continuing(last, log.alignment, buf);
    state.stages.push_back(next);
    state.in_flight = true;
    taken
}

fn finish(log: &LogShared) {
    let mut state = log.lock();
    state.in_flight = false;
    drop(state);
    log.changed.notify_all();
}

/// Stops a log after a failed write or sync: nothing staged is acknowledged, and
/// appends are refused until the log is reopened (the page cache may have dropped
/// the data, so retrying the sync and calling it durable would be wrong).
pub(crate) fn fail(log: &LogShared, cause: String) {
    let mut state = log.lock();
    if state.failed.is_none() {
        state.failed = Some(cause);
    }
    state.stages.clear();
    state.staged_bytes = 0;
    state.in_flight = false;
    drop(state);
    log.changed.notify_all();
}

type PendingEntries = (Vec<Entry>, Vec<Entry>);

fn pending_entries(active: &ActiveWriter, view: &ActiveView) -> Option<PendingEntries> {
    let range = active.persisted_entries..active.durable_entries;
    if range.is_empty() {
        return None;
    }
    Some((
        view.index.entries()[range.clone()].to_vec(),
        view.time_index.entries()[range].to_vec(),
    ))
}

/// Appends index entries to the `.idx`/`.tix` files (no sync: they are derived).
pub(crate) fn persist_entries(
    active: &mut ActiveWriter,
    idx: &[Entry],
    tix: &[Entry],
) -> io::Result<()> {
    let offset = (INDEX_HEADER_LEN + active.persisted_entries * ENTRY_LEN) as u64;
    let encode = |entries: &[Entry]| -> Vec<u8> {
        entries
            .iter()
            .flat_map(|entry| shardlog_index::encode_entry(*entry))
            .collect()
    };
    write_all_at(active.idx.as_ref(), &encode(idx), offset)?;
    write_all_at(active.tix.as_ref(), &encode(tix), offset)?;
    active.persisted_entries += idx.len();
    Ok(())
}

/// Seals the active segment: sync, cut the `O_DIRECT` fill, write complete index
/// files, map it, and move it to the sealed list.
pub(crate) fn seal_active(log: &LogShared, writer: &mut WriterState) -> Result<()> {
    let active = writer.active.as_mut().expect("caller checked");
    let path = active.paths.log.clone();
    let io_error = |op: &'static str, path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    };
    finish_active_files(log, active)?;
    let (info, idx_entries, tix_entries) = {
        let state = log.lock();
        let view = state.active.as_ref().expect("view opened with the writer");
        (
            view.info(),
            view.index.entries().to_vec(),
            view.time_index.entries().to_vec(),
        )
    };
    let (idx_bytes, tix_bytes) = sealed_index_files(
        info.base_position,
        &idx_entries,
        &tix_entries,
        info.end_position,
        active.written_len,
        info.last_arrival_ms.unwrap_or(info.created_ms),
    );
    for (file, bytes, path) in [
        (&active.idx, &idx_bytes, &active.paths.idx),
        (&active.tix, &tix_bytes, &active.paths.tix),
    ] {
        write_all_at(file.as_ref(), bytes, 0).map_err(io_error("write index", path))?;
        file.sync_data().map_err(io_error("sync index", path))?;
    }
    let map = log.fs.map(&path).map_err(io_error("map", &path))?;
    let info = SegmentInfo {
        sealed: true,
        bytes: active.written_len,
        ..info
    };
    let sealed = map_sealed(log.fs.as_ref(), active.paths.clone(), info, map)?;
    writer.active = None;
    let mut state = log.lock();
    state.sealed.push(Arc::new(sealed));
    state.active = None;
    Ok(())
}

/// Makes everything written to the active segment durable and, for `O_DIRECT`,
/// cuts the zero fill after the last batch. Writes out every index entry.
pub(crate) fn finish_active_files(log: &LogShared, active: &mut ActiveWriter) -> Result<()> {
    let path = active.paths.log.clone();
    let io_error = |op: &'static str| {
        let path = path.clone();
        move |source| Error::Io { op, path, source }
    };
    if log.direct {
        // Never mapped while active, so cutting the fill cannot fault a reader.
        active
            .file
            .set_len(active.written_len)
            .map_err(io_error("truncate fill of"))?;
    }
    active.file.sync_data().map_err(io_error("sync"))?;
    active.synced = true;
    let state = log.lock();
    if let Some(view) = state.active.as_ref() {
        active.durable_entries = view.index.len();
        if let Some((idx, tix)) = pending_entries(active, view) {
            drop(state);
            persist_entries(active, &idx, &tix).map_err(io_error("write index of"))?;
        }
    }
    for file in [&active.idx, &active.tix] {
        file.sync_data().map_err(io_error("sync index of"))?;
    }
    Ok(())
}

/// Creates a segment file and its index files, and opens it for writing and reading.
pub(crate) fn create_segment(
    log: &LogShared,
    writer: &mut WriterState,
    base_position: u64,
    created_ms: u64,
) -> Result<()> {
    let paths = SegmentPaths::new(&log.dir, base_position);
    let fs = log.fs.as_ref();
    let open = |path: &std::path::Path, options: OpenOptions| {
        let file = fs.open(path, options)?;
        file.set_len(0)?;
        Ok::<_, io::Error>(file)
    };
    let io_error = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            op: "create",
            path,
            source,
        }
    };
    let file = open(&paths.log, OpenOptions::CREATE.with_direct(log.direct))
        .map_err(io_error(&paths.log))?;
    let mut index_files = Vec::new();
    for (path, kind) in [
        (&paths.idx, IndexKind::Position),
        (&paths.tix, IndexKind::Timestamp),
    ] {
        let handle = open(path, OpenOptions::CREATE).map_err(io_error(path))?;
        let header = shardlog_index::encode_header(kind, base_position);
        write_all_at(handle.as_ref(), &header, 0).map_err(io_error(path))?;
        index_files.push(handle);
    }
    let read = fs
        .open(&paths.log, OpenOptions::READ)
        .map_err(io_error(&paths.log))?;
    let tix = index_files.pop().expect("two index files");
    let idx = index_files.pop().expect("two index files");
    writer.active = Some(ActiveWriter {
        paths: paths.clone(),
        file,
        idx,
        tix,
        written_len: 0,
        synced: false,
        sampler: Sampler::new(log.config.index_interval_bytes),
        persisted_entries: 0,
        durable_entries: 0,
    });
    let mut state = log.lock();
    state.active = Some(ActiveView {
        paths,
        read,
        base_position,
        created_ms,
        acked_len: 0,
        end_position: base_position,
        first_arrival_ms: None,
        last_arrival_ms: None,
        index: Default::default(),
        time_index: Default::default(),
    });
    Ok(())
}
