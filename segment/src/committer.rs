//! Group commit: one thread writes the staged batches of every log, two more
//! sync them, and batches are acknowledged once as durable as the policy says.
//!
//! Appenders queue their log here after staging a batch. Each round the writer
//! takes every queued log's staged bytes and writes them all in one backend call
//! (one write per file; one `io_uring` submission for all files). Under the `sync`
//! policy it hands the round to the syncers and goes on with the next round. A
//! free syncer takes every round waiting and runs `fdatasync` for each of their
//! files (one backend call), or journals them; while it does, the other syncer
//! can start on the rounds written meanwhile, so one sync no longer waits for the
//! one before it to finish. Acknowledgements follow the order the syncers took
//! the rounds in: the write of round N+1 overlaps the sync of round N, and one
//! sync covers every batch that arrived meanwhile. Writes stay strictly
//! sequential per file, so an `O_DIRECT` rewrite of a partial tail block never
//! races the write it extends.

use crate::active::{
    create_segment, fail, fail_index, fill_ahead, index_sync_due, pending_entries, preallocate,
    release, seal_active, write_out_entries, IndexSync,
};
use crate::backend::{self, BackendKind, Buffered, WriteBackend, WriteOp};
use crate::config::Durability;
use crate::error::{io_err, Error, Result};
use crate::io::{FileHandle, FileSystem, VolumeSync};
use crate::journal::{Journal, JournalWrite};
use crate::log::{shrink_idle_stage, ActiveWriter, LogShared, LogState, Stage};
use crate::sealed::SegmentPaths;
use shardlog_index::Entry;
use std::collections::HashMap;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Rounds that may wait for a syncer before the writer blocks.
const SYNC_QUEUE_ROUNDS_MAX: usize = 4;

/// The most new bytes a `sync` round may hold for the writer to sync it itself,
/// when the syncer has nothing left to do and no log waits for the writer: a round
/// of a record or a few, whose latency is one write and one sync. Handing it to the
/// syncer would add a thread's wake-up to each (20 to 50 µs on this repository's
/// VM, more in the tail) and overlap nothing, since no next round is there to write.
const INLINE_SYNC_BYTES_MAX: usize = 64 << 10;

/// Logs a `sync` round must have written before one journal sync replaces their
/// `fdatasync`s: with one file, the journal would only add a write.
const JOURNAL_FILES_MIN: usize = 2;

/// The most a journaled round may write per log, on average. Where the per-file
/// sync is the cost (an SNS fan-out's queues, a queue's two logs, many idle
/// shards) a round writes a few KiB per log; a bulk append of 16 shards writes
/// tens of KiB to each, which the journal would write a second time, to the
/// device whose bandwidth bounds that append.
const JOURNAL_BYTES_PER_FILE_MAX: usize = 16 << 10;

/// Files a sync must cover before one volume sync (`syncfs`) replaces their
/// `fdatasync`s. Measured on this repository's VM (ext4, docs/benchmarks.md): one
/// `syncfs` and 16 threads of `fdatasync` cost the same at 16 to 64 files, and
/// `syncfs` about a tenth at 1,000; below this, a round stays file by file, so that
/// few-shard rounds do not also wait for other files of the file system.
pub(crate) const VOLUME_SYNC_FILES_MIN: usize = 64;

/// How far ahead an `O_DIRECT` log's file is reserved in a round of at least
/// [`VOLUME_SYNC_FILES_MIN`] files, when its configuration reserves less. Such a
/// round writes a block or two to each file; a write that extends its file is one
/// ext4 will not start without blocking, so io_uring hands each to a kernel worker
/// that waits for it (1,000 shards: a third of the CPU samples in `iou-wrk`
/// threads), while a write into reserved space is issued from the ring at once.
/// The rest of a reservation is cut when the segment is sealed or recovered; 1,000
/// shards hold at most 256 MiB of it.
const MANY_FILES_RESERVE_BYTES: u64 = crate::config::PREALLOCATE_STEP_MIN;

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

/// The committer threads and their queue.
#[derive(Debug)]
pub(crate) struct Committer {
    queue: Arc<CommitQueue>,
    thread: Option<JoinHandle<()>>,
    journal: Option<Arc<Journal>>,
}

impl Committer {
    /// Starts the threads with `backend` for the writer and others of its kind,
    /// for the files of `fs`, for the [`SYNCERS`] syncers, which journal small
    /// rounds of many files in `journal` if there is one.
    pub(crate) fn start(
        backend: Box<dyn WriteBackend>,
        fs: &dyn FileSystem,
        durability: Durability,
        volume: Option<Arc<dyn VolumeSync>>,
        registry: LogRegistry,
        journal: Option<Arc<Journal>>,
    ) -> Result<Self> {
        let queue = Arc::new(CommitQueue::default());
        let syncer = match durability {
            Durability::Sync => {
                let kind = backend.kind();
                let mut files = Vec::new();
                for _ in 0..SYNCERS {
                    let backend =
                        backend::create(kind, fs).map_err(|error| unavailable(kind, &error))?;
                    files.push(FileSyncer {
                        backend,
                        volume: volume.clone(),
                        journal: journal.clone(),
                    });
                }
                Some(Syncer::start(files, Arc::clone(&queue), registry.clone())?)
            }
            _ => None,
        };
        let writer = Writer {
            queue: Arc::clone(&queue),
            volume,
            backend,
            page_cache: Buffered::new(),
            durability,
            syncer,
            unsynced: Vec::new(),
            last_sync: Instant::now(),
        };
        let (panic_queue, panic_registry) = (Arc::clone(&queue), registry);
        let thread = spawn("shardlog-write", move || {
            if catch_unwind(AssertUnwindSafe(|| writer.run())).is_err() {
                stop_after_panic(&panic_queue, &panic_registry, "write");
            }
        })?;
        Ok(Committer {
            queue,
            thread: Some(thread),
            journal,
        })
    }

    pub(crate) fn queue(&self) -> Arc<CommitQueue> {
        Arc::clone(&self.queue)
    }

    /// Finishes queued work, syncs, and stops the threads; then checkpoints the
    /// journal, so that the next open has nothing to replay.
    pub(crate) fn stop(&mut self) -> std::io::Result<()> {
        {
            let mut state = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
            state.stopping = true;
        }
        self.queue.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // A panicked committer thread has nothing left to clean up here.
            let _ = thread.join();
        }
        match &self.journal {
            Some(journal) => journal.checkpoint(),
            None => Ok(()),
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Nobody to tell: a failed checkpoint leaves the frames to the next open.
        let _ = self.stop();
    }
}

/// The error of a backend that cannot start here.
pub(crate) fn unavailable(kind: BackendKind, error: &io::Error) -> Error {
    Error::BackendUnavailable(format!(
        "{} cannot start here: {error}; choose the buffered backend",
        kind.name()
    ))
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map_err(|source| Error::Io {
            op: "spawn thread",
            path: Default::default(),
            source,
        })
}

/// Every open log of a storage, so that a committer that dies can fail them all.
pub(crate) type LogRegistry = Arc<Mutex<HashMap<PathBuf, Weak<LogShared>>>>;

/// A committer thread panicked (a bug): stop taking work and fail every log, so
/// that no appender waits for an acknowledgement that cannot come.
fn stop_after_panic(queue: &CommitQueue, registry: &LogRegistry, thread: &str) {
    queue
        .state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .stopped = true;
    let logs: Vec<Arc<LogShared>> = registry
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .filter_map(Weak::upgrade)
        .collect();
    for log in logs {
        fail(&log, format!("the {thread} thread of the storage panicked"));
    }
}

/// One log's written stages, waiting to be synced and acknowledged.
struct Written {
    log: Arc<LogShared>,
    stages: Vec<Stage>,
    file: Arc<dyn FileHandle>,
}

enum ToSyncer {
    Round(Vec<Written>),
    /// Answered once every earlier round is synced and acknowledged.
    Barrier(SyncSender<()>),
}

struct Writer {
    queue: Arc<CommitQueue>,
    /// For the interval policy's syncs of many logs, and the small rounds the
    /// writer syncs itself.
    volume: Option<Arc<dyn VolumeSync>>,
    backend: Box<dyn WriteBackend>,
    /// Writes the files of page-cache logs ([`crate::LogConfig::page_cache`]) when
    /// `backend` writes `O_DIRECT`.
    page_cache: Buffered,
    durability: Durability,
    syncer: Option<Syncer>,
    /// Logs written since their last sync (interval policy).
    unsynced: Vec<Arc<LogShared>>,
    last_sync: Instant,
}

/// One log's work in a round.
struct Job {
    log: Arc<LogShared>,
    stages: Vec<Stage>,
}

impl Writer {
    fn run(mut self) {
        loop {
            let (logs, stopping) = self.wait_for_work();
            if logs.is_empty() && stopping {
                self.stop();
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

    fn stop(&mut self) {
        self.sync_unsynced();
        if let Some(syncer) = self.syncer.take() {
            syncer.stop();
        }
        let mut state = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
        state.stopped = true;
        // Appenders that raced with the stop get Closed from enqueue.
        for log in state.logs.drain(..) {
            fail(&log, "storage stopped".into());
        }
    }

    fn wait_for_work(&mut self) -> (Vec<Arc<LogShared>>, bool) {
        let mut state = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if !state.logs.is_empty() || state.stopping {
                return (std::mem::take(&mut state.logs), state.stopping);
            }
            let interval = match self.durability {
                Durability::Interval { interval_ms } if !self.unsynced.is_empty() => {
                    Duration::from_millis(interval_ms)
                }
                _ => {
                    state = self
                        .queue
                        .wake
                        .wait(state)
                        .unwrap_or_else(|p| p.into_inner());
                    continue;
                }
            };
            let Some(wait) = (self.last_sync + interval).checked_duration_since(Instant::now())
            else {
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

    /// Writes the stages of many logs in one backend call, then hands them to the
    /// syncer (`sync` policy) or acknowledges them (the other policies).
    fn fast_jobs(&mut self, mut jobs: Vec<Job>) {
        let many_files = jobs.len() >= VOLUME_SYNC_FILES_MIN;
        let files: Vec<Arc<dyn FileHandle>> = jobs
            .iter()
            .map(|job| {
                let mut writer = job.log.lock_writer();
                let active = writer.active.as_mut().expect("checked in round");
                let mut step_max = job.log.config.preallocate_bytes_max;
                if many_files && job.log.direct {
                    step_max = step_max.max(MANY_FILES_RESERVE_BYTES);
                }
                // A many-file round is synced with one `syncfs`, which would write
                // every file's fill at once.
                let fill = !many_files;
                let alignment = job.log.alignment;
                reserve_ahead(&job.log, active, &job.stages[0], alignment, step_max, fill);
                Arc::clone(&active.file)
            })
            .collect();
        let direct: Vec<bool> = jobs.iter().map(|job| job.log.direct).collect();
        let results = {
            let ops: Vec<WriteOp<'_>> = jobs
                .iter_mut()
                .zip(&files)
                .map(|(job, file)| {
                    let alignment = job.log.alignment;
                    stage_op(&mut job.stages[0], file.as_ref(), alignment)
                })
                .collect();
            self.write_ops(&ops, &direct)
        };
        let mut written = Vec::new();
        for ((job, file), result) in jobs.into_iter().zip(files).zip(results) {
            let Job { log, mut stages } = job;
            if let Err(error) = result {
                fail(&log, describe("write", &log, &error));
                release(&log, stages.len());
                continue;
            }
            // Before the syncer can publish it: shown once.
            if self.syncer.is_some() && log.config.readable_before_sync {
                stages
                    .iter_mut()
                    .for_each(|stage| publish_readable(&log, stage));
            }
            written.push(Written { log, stages, file });
        }
        match &self.syncer {
            Some(syncer) if self.sync_here(syncer, &written) => sync_and_publish(
                self.backend.as_mut(),
                self.volume.as_ref(),
                syncer.journal.as_ref(),
                written,
            ),
            Some(syncer) => syncer.send(ToSyncer::Round(written)),
            None => {
                for Written { log, stages, .. } in written {
                    self.note_unsynced(&log);
                    for stage in stages {
                        publish(&log, stage, false);
                    }
                }
            }
        }
    }

    /// Writes `ops`, one result per op in order: those of `O_DIRECT` files
    /// (`direct`) through the storage's backend, the others through it too unless
    /// it writes `O_DIRECT`, else with plain writes into the page cache.
    fn write_ops(&mut self, ops: &[WriteOp<'_>], direct: &[bool]) -> Vec<io::Result<()>> {
        if self.backend.alignment() == 1 || direct.iter().all(|&d| d) {
            return self.backend.write_all(ops);
        }
        if direct.iter().all(|&d| !d) {
            return self.page_cache.write_all(ops);
        }
        let (mut through_backend, mut plain) = (Vec::new(), Vec::new());
        for (op, &direct) in ops.iter().zip(direct) {
            match direct {
                true => through_backend.push(*op),
                false => plain.push(*op),
            }
        }
        let mut from_backend = self.backend.write_all(&through_backend).into_iter();
        let mut from_plain = self.page_cache.write_all(&plain).into_iter();
        direct
            .iter()
            .map(|&direct| {
                let next = match direct {
                    true => from_backend.next(),
                    false => from_plain.next(),
                };
                next.unwrap_or_else(|| Err(io::Error::other("backend returned no result")))
            })
            .collect()
    }

    /// Whether the writer syncs `written` itself rather than handing it to the
    /// syncer: a small round, every round handed over before is acknowledged (so
    /// acknowledgements stay in order per log, and the syncer's backend and the
    /// journal are idle), and no log waits to be written meanwhile.
    fn sync_here(&self, syncer: &Syncer, written: &[Written]) -> bool {
        let bytes: usize = written
            .iter()
            .flat_map(|item| &item.stages)
            .map(Stage::new_bytes)
            .sum();
        bytes <= INLINE_SYNC_BYTES_MAX
            && syncer.pending.load(Ordering::Acquire) == 0
            && self
                .queue
                .state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .logs
                .is_empty()
    }

    /// A log whose stages create a segment: stage by stage, sealing and creating
    /// segments on the way, after every earlier round of the log is acknowledged.
    fn slow_job(&mut self, job: Job) {
        if let Some(syncer) = &self.syncer {
            syncer.barrier();
        }
        let Job { log, stages } = job;
        let mut left = stages.len();
        for stage in stages {
            // A sync of an earlier round may have failed: then touch no file.
            if log.lock().failed.is_some() {
                break;
            }
            left -= 1;
            if let Err(error) = self.write_stage_alone(&log, stage) {
                fail(&log, error.to_string());
                left += 1;
                break;
            }
        }
        if left > 0 {
            release(&log, left);
        }
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
        let alignment = log.alignment;
        let file = {
            let mut writer = log.lock_writer();
            let active = writer.active.as_mut().expect("created above");
            let step_max = log.config.preallocate_bytes_max;
            reserve_ahead(log, active, &stage, alignment, step_max, true);
            Arc::clone(&active.file)
        };
        let path = SegmentPaths::new(&log.dir, stage.segment_base).log;
        let op = stage_op(&mut stage, file.as_ref(), alignment);
        take_one(self.write_ops(&[op], &[log.direct])).map_err(io_err("write", &path))?;
        let sync = self.durability == Durability::Sync;
        if sync {
            take_one(self.backend.sync_all(&[Arc::clone(&file)])).map_err(io_err("sync", &path))?;
        }
        if creating {
            log.fs
                .sync_dir(&log.dir)
                .map_err(io_err("sync directory of", &path))?;
        }
        if !sync {
            self.note_unsynced(log);
        }
        publish(log, stage, sync);
        Ok(())
    }

    fn note_unsynced(&mut self, log: &Arc<LogShared>) {
        if matches!(self.durability, Durability::Interval { .. })
            && !self.unsynced.iter().any(|other| Arc::ptr_eq(other, log))
        {
            self.unsynced.push(Arc::clone(log));
        }
    }

    /// Interval policy: syncs every log written since the last sync, all at once.
    fn sync_unsynced(&mut self) {
        self.last_sync = Instant::now();
        let mut logs = Vec::new();
        let mut files = Vec::new();
        for log in std::mem::take(&mut self.unsynced) {
            let file = match log.lock_writer().active.as_ref() {
                Some(active) if !active.synced => Arc::clone(&active.file),
                _ => continue,
            };
            files.push(file);
            logs.push(log);
        }
        let on_volume = logs.iter().all(|log| log.on_volume);
        let results = sync_files(
            self.backend.as_mut(),
            self.volume.as_deref().filter(|_| on_volume),
            &files,
        );
        for (log, result) in logs.iter().zip(results) {
            match result {
                Ok(()) => mark_synced(log),
                Err(error) => fail(log, describe("sync", log, &error)),
            }
        }
    }
}

/// The sync half of the pipeline (`sync` policy only).
/// Syncer threads: each takes the rounds waiting when it is free and syncs them
/// with a backend of its own, so a round handed over while another syncer's sync
/// runs starts its own at once instead of waiting for it. On this repository's VM
/// two threads each writing and syncing one file made 7,639 syncs a second at a
/// p50 of 250 µs, one thread 3,480 at 279 µs (docs/benchmarks.md): the device
/// takes concurrent flushes. Acknowledgements stay in the order rounds were
/// taken (a ticket each): a later round is never acknowledged before an earlier
/// one, whose sync may fail.
const SYNCERS: usize = 2;

struct Syncer {
    sender: SyncSender<ToSyncer>,
    threads: Vec<JoinHandle<()>>,
    /// Rounds sent and not yet acknowledged (or failed) by the syncers.
    pending: Arc<AtomicUsize>,
    /// The journal the syncers write small rounds of several logs to.
    journal: Option<Arc<Journal>>,
}

/// What the syncer threads share: where rounds come in, and whose turn it is to
/// acknowledge.
struct SyncShared {
    intake: Mutex<Intake>,
    turns: Mutex<Turns>,
    turn: Condvar,
    pending: Arc<AtomicUsize>,
}

struct Intake {
    receiver: Receiver<ToSyncer>,
    /// The ticket of the next batch taken.
    next_ticket: u64,
}

struct Turns {
    /// The ticket whose batch is acknowledged next.
    next: u64,
    /// A syncer panicked: its ticket never comes (every log was failed).
    poisoned: bool,
}

impl Syncer {
    fn start(
        files: Vec<FileSyncer>,
        queue: Arc<CommitQueue>,
        registry: LogRegistry,
    ) -> Result<Syncer> {
        let (sender, receiver) = sync_channel(SYNC_QUEUE_ROUNDS_MAX);
        let pending = Arc::new(AtomicUsize::new(0));
        let journal = files.first().and_then(|files| files.journal.clone());
        let shared = Arc::new(SyncShared {
            intake: Mutex::new(Intake {
                receiver,
                next_ticket: 0,
            }),
            turns: Mutex::new(Turns {
                next: 0,
                poisoned: false,
            }),
            turn: Condvar::new(),
            pending: Arc::clone(&pending),
        });
        let mut threads = Vec::new();
        for (index, files) in files.into_iter().enumerate() {
            let name = if index == 0 {
                "shardlog-sync".to_string()
            } else {
                format!("shardlog-sync-{}", (b'a' + index as u8) as char)
            };
            let (shared, queue, registry) =
                (Arc::clone(&shared), Arc::clone(&queue), registry.clone());
            threads.push(spawn(&name, move || {
                if catch_unwind(AssertUnwindSafe(|| sync_loop(files, &shared))).is_err() {
                    stop_after_panic(&queue, &registry, "sync");
                    shared.lock_turns().poisoned = true;
                    shared.turn.notify_all();
                }
            })?);
        }
        Ok(Syncer {
            sender,
            threads,
            pending,
            journal,
        })
    }

    fn send(&self, message: ToSyncer) {
        if matches!(message, ToSyncer::Round(_)) {
            self.pending.fetch_add(1, Ordering::AcqRel);
        }
        // The syncers only exit once this sender is dropped.
        let _ = self.sender.send(message);
    }

    fn barrier(&self) {
        let (done, wait) = sync_channel(1);
        self.send(ToSyncer::Barrier(done));
        let _ = wait.recv();
    }

    fn stop(self) {
        drop(self.sender);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

impl SyncShared {
    fn lock_turns(&self) -> std::sync::MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes every message waiting (blocking for the first). `None` once the
    /// writer is gone.
    fn take(&self) -> Option<Batch> {
        let mut intake = self.intake.lock().unwrap_or_else(|p| p.into_inner());
        let first = intake.receiver.recv().ok()?;
        let mut rounds = Vec::new();
        let mut taken = 0;
        let mut barriers = Vec::new();
        let mut next = Some(first);
        // Take every round already waiting: one sync covers them all.
        while let Some(message) = next {
            match message {
                ToSyncer::Round(round) => {
                    rounds.extend(round);
                    taken += 1;
                }
                ToSyncer::Barrier(done) => barriers.push(done),
            }
            next = intake.receiver.try_recv().ok();
        }
        let ticket = intake.next_ticket;
        intake.next_ticket += 1;
        Some(Batch {
            ticket,
            rounds,
            taken,
            barriers,
        })
    }
}

/// What a syncer took in one go.
struct Batch {
    /// Its place in the order of acknowledgements.
    ticket: u64,
    rounds: Vec<Written>,
    /// How many rounds `rounds` came in.
    taken: usize,
    /// Answered once the rounds are acknowledged.
    barriers: Vec<SyncSender<()>>,
}

/// How a syncer makes files durable: its own backend, and the storage's volume.
struct FileSyncer {
    backend: Box<dyn WriteBackend>,
    volume: Option<Arc<dyn VolumeSync>>,
    journal: Option<Arc<Journal>>,
}

fn sync_loop(mut files: FileSyncer, shared: &SyncShared) {
    while let Some(Batch {
        ticket,
        rounds,
        taken,
        barriers,
    }) = shared.take()
    {
        let synced = sync_rounds(
            files.backend.as_mut(),
            files.volume.as_ref(),
            files.journal.as_ref(),
            rounds,
        );
        let mut turns = shared.lock_turns();
        while turns.next != ticket && !turns.poisoned {
            turns = shared.turn.wait(turns).unwrap_or_else(|p| p.into_inner());
        }
        publish_synced(synced, files.journal.as_ref());
        // After the acknowledgements: a writer that sees no round pending may sync
        // and acknowledge the next one itself.
        shared.pending.fetch_sub(taken, Ordering::AcqRel);
        for done in barriers {
            let _ = done.send(());
        }
        turns.next = ticket + 1;
        drop(turns);
        shared.turn.notify_all();
    }
}

/// An `.idx` file synced with a round, and the log offset its entries reach.
struct DueIndex {
    log: Arc<LogShared>,
    file: Arc<dyn FileHandle>,
    path: PathBuf,
    written_offset: u64,
}

/// The `.idx` files of `logs` whose sync is due (see [`index_sync_due`]).
fn due_indexes(logs: &[&Arc<LogShared>]) -> Vec<DueIndex> {
    logs.iter()
        .filter_map(|log| {
            let writer = log.lock_writer();
            let active = writer
                .active
                .as_ref()
                .filter(|active| index_sync_due(active, log.config.index_sync_bytes()))?;
            Some(DueIndex {
                log: Arc::clone(log),
                file: Arc::clone(&active.idx),
                path: active.paths.idx.clone(),
                written_offset: active.index_written_offset,
            })
        })
        .collect()
}

/// Records the outcome of an index sync made with a round.
fn index_synced(due: DueIndex, result: &io::Result<()>) {
    if let Err(error) = result {
        fail_index(&due.log, error);
        return;
    }
    let mut writer = due.log.lock_writer();
    if let Some(active) = writer.active.as_mut().filter(|a| a.paths.idx == due.path) {
        active.index_synced_offset = active.index_synced_offset.max(due.written_offset);
    }
}

/// Syncs each log's file once (with its `.idx` when due) with `backend`, or
/// through `volume`, or journals the round in `journal`, then acknowledges its
/// stages in order.
fn sync_and_publish(
    backend: &mut dyn WriteBackend,
    volume: Option<&Arc<dyn VolumeSync>>,
    journal: Option<&Arc<Journal>>,
    written: Vec<Written>,
) {
    let synced = sync_rounds(backend, volume, journal, written);
    publish_synced(synced, journal);
}

/// Rounds synced (or not), to be acknowledged in turn by [`publish_synced`].
enum Synced {
    Journaled {
        written: Vec<Written>,
        result: io::Result<()>,
    },
    Files {
        written: Vec<Written>,
        /// Each log of `written` once, with its file's sync.
        owners: Vec<(Arc<LogShared>, io::Result<()>)>,
        indexes: Vec<(DueIndex, io::Result<()>)>,
    },
}

/// The sync half of [`sync_and_publish`]: changes nothing a reader sees.
fn sync_rounds(
    backend: &mut dyn WriteBackend,
    volume: Option<&Arc<dyn VolumeSync>>,
    journal: Option<&Arc<Journal>>,
    mut written: Vec<Written>,
) -> Synced {
    if let Some(journal) = journal {
        if let Some(result) = journal_round(journal, backend, &mut written) {
            return Synced::Journaled { written, result };
        }
    }
    let mut files: Vec<Arc<dyn FileHandle>> = Vec::new();
    let mut owners: Vec<Arc<LogShared>> = Vec::new();
    for item in &written {
        if !owners.iter().any(|log| Arc::ptr_eq(log, &item.log)) {
            owners.push(Arc::clone(&item.log));
            files.push(Arc::clone(&item.file));
        }
    }
    let indexes = due_indexes(&owners.iter().collect::<Vec<_>>());
    files.extend(indexes.iter().map(|due| Arc::clone(&due.file)));
    // An `.idx` file is in its log's directory: on the volume if the log is.
    let on_volume = owners.iter().all(|log| log.on_volume);
    let volume = volume.map(Arc::as_ref).filter(|_| on_volume);
    let mut results = sync_files(backend, volume, &files);
    let index_results = results.split_off(owners.len());
    Synced::Files {
        written,
        owners: owners.into_iter().zip(results).collect(),
        indexes: indexes.into_iter().zip(index_results).collect(),
    }
}

/// The acknowledging half of [`sync_and_publish`]: each log's stages in order,
/// unless its sync failed (then the log fails).
fn publish_synced(synced: Synced, journal: Option<&Arc<Journal>>) {
    let (written, owners, indexes) = match synced {
        Synced::Journaled { written, result } => {
            // A frame counts only if every frame before it did (see
            // `Journal::check_intact`).
            let result = result.and_then(|()| journal.map_or(Ok(()), |j| j.check_intact()));
            return publish_journaled(written, result);
        }
        Synced::Files {
            written,
            owners,
            indexes,
        } => (written, owners, indexes),
    };
    for (due, result) in indexes {
        index_synced(due, &result);
    }
    let failed: Vec<Arc<LogShared>> = owners
        .into_iter()
        .filter_map(|(log, result)| {
            let error = result.err()?;
            fail(&log, describe("sync", &log, &error));
            Some(log)
        })
        .collect();
    for Written { log, stages, .. } in written {
        if failed.iter().any(|other| Arc::ptr_eq(other, &log)) {
            release(&log, stages.len());
            continue;
        }
        for stage in stages {
            publish(&log, stage, true);
        }
    }
}

/// Journals a small round of several logs with no index sync due: `None` if the
/// round is not one to journal, else whether the journal made it durable.
fn journal_round(
    journal: &Journal,
    backend: &mut dyn WriteBackend,
    written: &mut [Written],
) -> Option<io::Result<()>> {
    let mut owners: Vec<&Arc<LogShared>> = Vec::new();
    let mut bytes = 0;
    for item in written.iter() {
        if !owners.iter().any(|log| Arc::ptr_eq(log, &item.log)) {
            owners.push(&item.log);
        }
        bytes += item.stages.iter().map(|s| s.buf.len()).sum::<usize>();
    }
    let small = owners.len() >= JOURNAL_FILES_MIN
        && bytes <= owners.len() * JOURNAL_BYTES_PER_FILE_MAX
        && journal.takes(bytes, owners.iter().map(|log| log.dir.as_path()));
    if !small || !due_indexes(&owners).is_empty() {
        return None;
    }
    let mut writes = Vec::new();
    for Written { log, stages, file } in written.iter_mut() {
        let (log, file): (&Arc<LogShared>, &Arc<dyn FileHandle>) = (log, file);
        for stage in stages.iter_mut() {
            let path = SegmentPaths::new(&log.dir, stage.segment_base).log;
            // Only the stage's new bytes, never an `O_DIRECT` write's carried tail
            // block or padding: a later round rewrites that block (perhaps synced
            // file by file, with no frame), and a replay of this frame would put
            // the older version back. New bytes are final: a segment only grows.
            let op = stage_op(stage, file.as_ref(), 1);
            writes.push(JournalWrite {
                path,
                file,
                log,
                offset: op.offset,
                data: op.data,
            });
        }
    }
    Some(journal.append_round(backend, &writes))
}

/// Acknowledges a journaled round, or fails its logs.
fn publish_journaled(written: Vec<Written>, result: io::Result<()>) {
    for Written { log, stages, .. } in written {
        match &result {
            Ok(()) => {
                for stage in stages {
                    publish(&log, stage, true);
                }
            }
            Err(error) => {
                fail(&log, describe("journal", &log, error));
                release(&log, stages.len());
            }
        }
    }
}

/// Makes `files` durable, one result per file: with one volume sync followed by each
/// file's error check when there are at least [`VOLUME_SYNC_FILES_MIN`] and `volume`
/// covers them all, else with the backend's sync of each file.
pub(crate) fn sync_files(
    backend: &mut dyn WriteBackend,
    volume: Option<&dyn VolumeSync>,
    files: &[Arc<dyn FileHandle>],
) -> Vec<io::Result<()>> {
    let Some(volume) = volume.filter(|_| files.len() >= VOLUME_SYNC_FILES_MIN) else {
        return backend.sync_all(files);
    };
    if let Err(error) = volume.sync_volume() {
        // Some write of the file system was lost and nothing says which file's: every
        // file this sync was to cover fails, as its own failed fdatasync would (its
        // log stops and nothing of the round is acknowledged), never a retry.
        return files
            .iter()
            .map(|_| Err(io::Error::new(error.kind(), format!("syncfs: {error}"))))
            .collect();
    }
    // The per-file check also reports a lost write of a file in a later round that
    // this syncfs consumed the file system's error of.
    files.iter().map(|file| file.check_written()).collect()
}

fn take_one(mut results: Vec<io::Result<()>>) -> io::Result<()> {
    results
        .pop()
        .unwrap_or_else(|| Err(io::Error::other("backend returned no result")))
}

fn describe(op: &str, log: &LogShared, error: &io::Error) -> String {
    format!("{op} {}: {error}", log.dir.display())
}

/// Where the write of a stage ends in its file, `O_DIRECT` padding included.
fn write_end(stage: &Stage, alignment: usize) -> u64 {
    stage.end_offset().next_multiple_of(alignment as u64)
}

/// Reserves the active file ahead of the write of `stage` and, if `fill` allows, a
/// small buffered round's with zeros (see [`fill_ahead`]).
fn reserve_ahead(
    log: &LogShared,
    active: &mut crate::log::ActiveWriter,
    stage: &Stage,
    alignment: usize,
    step_max: u64,
    fill: bool,
) {
    let end = write_end(stage, alignment);
    preallocate(log, active, end, step_max);
    if fill {
        fill_ahead(log, active, end, stage.new_bytes());
    }
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
    // Sized by what the last round staged (with room to double), not by its
    // buffer, which only ever grows.
    state.stage_bytes_hint = last.buf.len().next_power_of_two();
    let buf = log.pool.take(state.stage_bytes_hint);
    let next = Stage::continuing(last, log.alignment, buf);
    state.stages.push_back(next);
    state.in_flight += taken.len();
    taken
}

/// Makes a written stage readable before its sync, for a log readable before
/// its sync ([`crate::LogConfig::readable_before_sync`]): readers and
/// [`crate::Log::wait_for`] see its records now, its appenders are acknowledged
/// when [`publish`] follows the sync. Nothing if the log failed meanwhile.
fn publish_readable(log: &Arc<LogShared>, stage: &mut Stage) {
    let mut writer = log.lock_writer();
    let Some(active) = writer.active.as_mut() else {
        return;
    };
    let mut guard = log.lock();
    if guard.failed.is_some() {
        return;
    }
    show(active, &mut guard, stage);
    active.synced = false;
    stage.readable = true;
    log.notify(guard);
}

/// Makes a written stage's records readable: the active segment's view (index
/// entries, end, length) and the log's readable end.
fn show(active: &mut ActiveWriter, state: &mut LogState, stage: &Stage) {
    active.written_len = stage.end_offset();
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
}

/// Makes a written stage readable (unless it already is) and acknowledges its
/// batches, unless the log failed meanwhile (then nothing of it is acknowledged).
pub(crate) fn publish(log: &Arc<LogShared>, stage: Stage, synced: bool) {
    let mut writer = log.lock_writer();
    let active = writer
        .active
        .as_mut()
        .expect("a stage is written to an open segment");
    let mut guard = log.lock();
    let state = &mut *guard;
    state.in_flight -= 1;
    if state.failed.is_some() {
        log.notify(guard);
        return;
    }
    if !stage.readable {
        show(active, state, &stage);
    }
    // The stage's end: a log readable before its sync may have shown later
    // stages already.
    let end = stage
        .batches
        .last()
        .map_or(state.confirmed_position, |batch| {
            batch.base_position + batch.count
        });
    state.confirmed_position = state.confirmed_position.max(end);
    active.synced = synced && end == state.acked_position;
    state.staged_bytes -= stage.new_bytes();
    let view = state.active.as_mut().expect("view opened with the writer");
    if synced {
        // Only the entries of batches before `end` are durable (a sync at a seal
        // may have made more so already).
        let durable_entries = view
            .index
            .entries()
            .partition_point(|entry| entry.key < end);
        active.durable_entries = active.durable_entries.max(durable_entries);
        state.durable_position = state.durable_position.max(end);
    }
    let pending = pending_entries(active, view);
    log.pool.give(stage.buf);
    if state.in_flight == 0 && state.staged_bytes == 0 {
        if let Some(next) = state.stages.back_mut() {
            shrink_idle_stage(&log.pool, next);
        }
    }
    log.notify(guard);
    // A synced round comes from the syncer, which syncs a due index with the
    // log's next round rather than holding up this one.
    let index_sync = if synced {
        IndexSync::NextRound
    } else {
        IndexSync::Now
    };
    write_out_entries(log, active, pending, index_sync);
}

/// After an interval sync: every index entry so far is durable; write them out.
fn mark_synced(log: &Arc<LogShared>) {
    let mut writer = log.lock_writer();
    let Some(active) = writer.active.as_mut() else {
        return;
    };
    active.synced = true;
    let mut state = log.lock();
    // The committer publishes and syncs on one thread: everything published was
    // written before this sync.
    state.durable_position = state.acked_position;
    let Some(view) = state.active.as_ref() else {
        return;
    };
    active.durable_entries = view.index.len();
    let pending = pending_entries(active, view);
    drop(state);
    write_out_entries(log, active, pending, IndexSync::Now);
}
