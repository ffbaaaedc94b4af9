//! One shard's log: the state shared by appenders, readers and the committer,
//! and the append path.
//!
//! Appenders encode their batch straight into the log's staging buffer (under the
//! state lock, which also assigns positions), hand the log to the committer and
//! wait until the committer has made the batch as durable as the policy says.
//! Readers see only acknowledged batches.

use crate::ack_waiters::{AckWaiters, AckWake};
use crate::aligned::{AlignedBuf, BufferPool};
use crate::batch::{batch_encoded_len, encode_batch_into, Record};
use crate::committer::CommitQueue;
use crate::config::LogConfig;
use crate::error::{Error, Result};
use crate::format::{SegmentHeader, SEGMENT_HEADER_LEN};
use crate::io::{FileHandle, FileSystem};
use crate::sealed::{SealedSegment, SegmentInfo, SegmentPaths};
use crate::verified::VerifiedPrefix;
use shardlog_index::{Sampler, SparseIndex};
use std::collections::VecDeque;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// A batch waiting in a stage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StagedBatch {
    pub offset: u64,
    pub base_position: u64,
    pub count: u64,
    pub arrival_ms: u64,
}

/// Bytes bound for one segment file, not yet written.
///
/// `buf[..carried]` is already on disk (the partial block that an `O_DIRECT`
/// write must rewrite); `buf[carried..]` is new. `buf[0]` sits at `file_offset`.
#[derive(Debug)]
pub(crate) struct Stage {
    pub segment_base: u64,
    /// Set when the committer must create this segment before writing.
    pub create: Option<SegmentHeader>,
    pub file_offset: u64,
    pub carried: usize,
    pub buf: AlignedBuf,
    pub batches: Vec<StagedBatch>,
    /// Made readable when written, before its sync (see
    /// [`LogConfig::readable_before_sync`]).
    pub readable: bool,
}

impl Stage {
    pub(crate) fn end_offset(&self) -> u64 {
        self.file_offset + self.buf.len() as u64
    }

    pub(crate) fn new_bytes(&self) -> usize {
        self.buf.len() - self.carried
    }

    /// An empty stage continuing after `previous` in the same segment, carrying the
    /// partial block at its end.
    pub(crate) fn continuing(previous: &Stage, alignment: usize, mut buf: AlignedBuf) -> Stage {
        let end = previous.end_offset();
        let file_offset = end - end % alignment as u64;
        let carried = (end - file_offset) as usize;
        buf.clear();
        let from = previous.buf.len() - carried;
        buf.extend_from_slice(&previous.buf.as_slice()[from..]);
        Stage {
            segment_base: previous.segment_base,
            create: None,
            file_offset,
            carried,
            buf,
            batches: Vec::new(),
            readable: false,
        }
    }
}

/// What the next append continues: the segment that the last staged batch went to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tail {
    pub segment_created_ms: u64,
    /// Logical end of that segment, staged bytes included.
    pub segment_end: u64,
    pub segment_has_batches: bool,
}

/// The active segment as readers see it: acknowledged bytes only.
#[derive(Debug)]
pub(crate) struct ActiveView {
    pub paths: SegmentPaths,
    pub read: Arc<dyn FileHandle>,
    pub base_position: u64,
    pub created_ms: u64,
    pub acked_len: u64,
    pub end_position: u64,
    pub first_arrival_ms: Option<u64>,
    pub last_arrival_ms: Option<u64>,
    pub index: SparseIndex,
    pub time_index: SparseIndex,
    /// The acknowledged batches that reads have verified (see [`crate::verified`]).
    pub verified: Arc<VerifiedPrefix>,
}

impl ActiveView {
    pub(crate) fn info(&self) -> SegmentInfo {
        SegmentInfo {
            base_position: self.base_position,
            end_position: self.end_position,
            first_arrival_ms: self.first_arrival_ms,
            last_arrival_ms: self.last_arrival_ms,
            bytes: self.acked_len,
            created_ms: self.created_ms,
            sealed: false,
        }
    }
}

/// State shared by appenders, readers and the committer.
#[derive(Debug)]
pub(crate) struct LogState {
    /// Next position to assign.
    pub next_position: u64,
    /// Every position below this is readable, and acknowledged unless the log is
    /// readable before its sync ([`LogConfig::readable_before_sync`]).
    pub acked_position: u64,
    /// Every batch below this is acknowledged to its appender: `acked_position`,
    /// or for a log readable before its sync, the end of its last synced stage.
    pub confirmed_position: u64,
    /// Every position below this is on the device (synced). Equals `acked_position`
    /// under the `sync` policy; may trail it under `interval` and `none`.
    pub durable_position: u64,
    /// Oldest retained position.
    pub first_position: u64,
    pub last_arrival_ms: u64,
    pub stages: VecDeque<Stage>,
    /// New (not carried) bytes waiting in `stages`.
    pub staged_bytes: usize,
    /// Stages the committer has taken and not yet published or failed.
    pub in_flight: usize,
    /// Whether the log is queued at the committer.
    pub enqueued: bool,
    pub tail: Option<Tail>,
    /// Size of the staging buffer a new round takes: what the last round staged,
    /// rounded up to a power of two (room to double).
    pub stage_bytes_hint: usize,
    pub sealed: Vec<Arc<SealedSegment>>,
    pub active: Option<ActiveView>,
    pub failed: Option<String>,
    /// Recovered without writing (the disk was full at open): serves reads,
    /// refuses appends, and is never cut.
    pub read_only: bool,
    /// Set when the log could not be opened at all: reads fail with this cause.
    pub quarantined: Option<String>,
    pub closed: bool,
    /// Bumped by [`Log::wake_waiters`]: a wait that sees it change returns.
    pub wakeups: u64,
    /// Waits for acknowledgement (blocked [`PendingAppend::wait`]s and awaited
    /// [`Acknowledgement`]s), woken when their batch is acknowledged or the log fails.
    pub ack_waiters: AckWaiters,
    /// Waits for readability ([`PendingAppend::wait_readable`]).
    pub readable_waiters: AckWaiters,
}

/// The committer's side of a log: the active segment's write handles.
#[derive(Debug, Default)]
pub(crate) struct WriterState {
    pub active: Option<ActiveWriter>,
}

/// The segment being written.
#[derive(Debug)]
pub(crate) struct ActiveWriter {
    pub paths: SegmentPaths,
    pub file: Arc<dyn FileHandle>,
    pub idx: Arc<dyn FileHandle>,
    /// Logical length written (no `O_DIRECT` fill).
    pub written_len: u64,
    /// Length of the file as reserved by preallocation (0: none yet); the bytes
    /// from `written_len` to there are zeros.
    pub allocated_len: u64,
    /// Whether everything written has been synced.
    pub synced: bool,
    pub sampler: Sampler,
    /// Index entries already written to the `.idx` file.
    pub persisted_entries: usize,
    /// Index entries whose batches are durable (and may be written out).
    pub durable_entries: usize,
    /// Log offset of the newest entry written to the `.idx` file (0: none).
    pub index_written_offset: u64,
    /// Log offset of the newest entry known to be on the device (0: none):
    /// recovery after a power loss scans the log from there at the earliest.
    pub index_synced_offset: u64,
}

/// State of one log, shared between its [`Log`] handles and the committer.
#[derive(Debug)]
pub(crate) struct LogShared {
    pub dir: PathBuf,
    pub config: LogConfig,
    pub fs: Arc<dyn FileSystem>,
    pub alignment: usize,
    pub direct: bool,
    pub state: Mutex<LogState>,
    /// Signalled when acknowledgements advance, a failure happens, or staging space frees.
    pub changed: Condvar,
    pub writer: Mutex<WriterState>,
    pub committer: Arc<CommitQueue>,
    /// Staging buffers shared with the storage's other logs.
    pub pool: Arc<BufferPool>,
    /// Held while key compaction runs (one at a time per log).
    pub compaction: Mutex<()>,
    /// Whether the log's directory is on the storage's [`crate::io::VolumeSync`]
    /// file system, so that a volume sync covers its files.
    pub on_volume: bool,
}

impl LogShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Wakes the waiters a change of `state` concerns (acknowledgements, a
    /// failure, freed staging space): the condition variable's, and the
    /// acknowledgement waits it finishes (all of them after a failure); releases
    /// the lock first.
    pub(crate) fn notify(&self, mut state: MutexGuard<'_, LogState>) {
        let woken = if state.failed.is_some() {
            let mut woken = state.ack_waiters.take_all();
            woken.extend(state.readable_waiters.take_all());
            woken
        } else {
            let (confirmed, readable) = (state.confirmed_position, state.acked_position);
            let mut woken = state.ack_waiters.take_reached(confirmed);
            woken.extend(state.readable_waiters.take_reached(readable));
            woken
        };
        drop(state);
        self.changed.notify_all();
        woken.into_iter().for_each(AckWake::wake);
    }

    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, WriterState> {
        self.writer
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(crate) fn failed_error(&self, cause: &str) -> Error {
        Error::LogFailed {
            path: self.dir.clone(),
            cause: cause.to_string(),
        }
    }
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Position of the first record of the batch.
    pub base_position: u64,
    /// Number of records.
    pub count: u64,
    /// Arrival time given to every record of the batch, ms since the epoch.
    pub arrival_ms: u64,
}

/// A batch staged by [`Log::submit`], not yet known to be acknowledged.
#[derive(Debug)]
#[must_use = "the batch is acknowledged only once `wait` returns Ok"]
pub struct PendingAppend {
    shared: Arc<LogShared>,
    appended: Appended,
}

impl PendingAppend {
    /// Where the batch goes (positions and arrival time), before it is acknowledged.
    pub fn appended(&self) -> Appended {
        self.appended
    }

    /// Waits until the batch is acknowledged under the durability policy.
    pub fn wait(self) -> Result<Appended> {
        self.block_until(Until::Acknowledged)
    }

    /// Waits until the batch is readable: once written for a log readable
    /// before its sync ([`LogConfig::readable_before_sync`](crate::LogConfig)),
    /// else once acknowledged. The batch stays pending: its acknowledgement
    /// is still to be waited for.
    pub fn wait_readable(&self) -> Result<Appended> {
        self.block_until(Until::Readable)
    }

    fn block_until(&self, until: Until) -> Result<Appended> {
        let shared = &self.shared;
        let target = self.appended.base_position + self.appended.count;
        let mut registered = None;
        loop {
            let mut state = shared.lock();
            if let Some(outcome) = settled(shared, &state, self.appended, until) {
                if let Some(id) = registered {
                    until.waiters(&mut state).remove(target, id);
                }
                return outcome;
            }
            // Registered under the lock that every acknowledgement takes the
            // waits under: the unpark cannot come before this is listed, and an
            // unpark that comes before the park makes the park return at once.
            let waiters = until.waiters(&mut state);
            if !registered.is_some_and(|id| waiters.contains(target, id)) {
                let wake = AckWake::Thread(std::thread::current());
                registered = Some(waiters.register(target, wake));
            }
            drop(state);
            // Parking may also return spuriously: the loop checks again.
            std::thread::park();
        }
    }

    /// [`PendingAppend::wait`] for async callers: a future that resolves once the
    /// batch is acknowledged (or the log failed), without blocking a thread. The
    /// pending append stays with the caller, who may still `wait` if it drops
    /// the future.
    pub fn acknowledged(&self) -> Acknowledgement {
        self.until(Until::Acknowledged)
    }

    /// [`PendingAppend::wait_readable`] for async callers.
    pub fn readable(&self) -> Acknowledgement {
        self.until(Until::Readable)
    }

    fn until(&self, until: Until) -> Acknowledgement {
        Acknowledgement {
            shared: Arc::clone(&self.shared),
            appended: self.appended,
            until,
            registered: None,
        }
    }
}

/// What a wait for a batch waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Its acknowledgement (`confirmed_position`).
    Acknowledged,
    /// Its records readable (`acked_position`).
    Readable,
}

impl Until {
    /// Where the batches before it have what this waits for.
    fn reached(self, state: &LogState) -> u64 {
        match self {
            Until::Acknowledged => state.confirmed_position,
            Until::Readable => state.acked_position,
        }
    }

    fn waiters(self, state: &mut LogState) -> &mut AckWaiters {
        match self {
            Until::Acknowledged => &mut state.ack_waiters,
            Until::Readable => &mut state.readable_waiters,
        }
    }
}

/// How a wait for `appended` ends, if it does now: done, or the log failed.
fn settled(
    shared: &LogShared,
    state: &LogState,
    appended: Appended,
    until: Until,
) -> Option<Result<Appended>> {
    if until.reached(state) >= appended.base_position + appended.count {
        return Some(Ok(appended));
    }
    let cause = state.failed.as_ref()?;
    Some(Err(shared.failed_error(cause)))
}

/// The future of [`PendingAppend::acknowledged`] and [`PendingAppend::readable`].
/// Dropping it abandons the wait, not the batch.
#[derive(Debug)]
#[must_use = "the batch is acknowledged only once this resolves to Ok"]
pub struct Acknowledgement {
    shared: Arc<LogShared>,
    appended: Appended,
    until: Until,
    /// Its id among the log's waits of its kind, once registered.
    registered: Option<u64>,
}

impl Acknowledgement {
    fn target(&self) -> u64 {
        self.appended.base_position + self.appended.count
    }
}

impl Future for Acknowledgement {
    type Output = Result<Appended>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let shared = &this.shared;
        let target = this.target();
        let mut state = shared.lock();
        let until = this.until;
        if let Some(outcome) = settled(shared, &state, this.appended, until) {
            if let Some(id) = this.registered.take() {
                until.waiters(&mut state).remove(target, id);
            }
            return Poll::Ready(outcome);
        }
        // Every change that could finish this wait takes the waits under the
        // same lock, so registering here cannot miss it.
        let waker = context.waker();
        let waiters = until.waiters(&mut state);
        let known = this
            .registered
            .is_some_and(|id| waiters.update(target, id, waker));
        if !known {
            let id = waiters.register(target, AckWake::Task(waker.clone()));
            this.registered = Some(id);
        }
        Poll::Pending
    }
}

impl Drop for Acknowledgement {
    /// A wait abandoned before it resolved leaves no registration behind.
    fn drop(&mut self) {
        if let Some(id) = self.registered {
            let target = self.target();
            self.until
                .waiters(&mut self.shared.lock())
                .remove(target, id);
        }
    }
}

/// A handle to one shard's log. Cheap to clone; all clones share the log.
#[derive(Debug, Clone)]
pub struct Log {
    pub(crate) shared: Arc<LogShared>,
}

impl Log {
    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The log's configuration.
    pub fn config(&self) -> &LogConfig {
        &self.shared.config
    }

    /// Appends `records` as one batch and waits until it is acknowledged under the
    /// storage's durability policy. Positions are consecutive from the returned base.
    pub fn append(&self, records: &[Record<'_>]) -> Result<Appended> {
        self.submit(records)?.wait()
    }

    /// Stages `records` as one batch and returns at once; [`PendingAppend::wait`]
    /// waits for the acknowledgement. Submitting to several logs before waiting lets
    /// their batches share one commit round.
    pub fn submit(&self, records: &[Record<'_>]) -> Result<PendingAppend> {
        let shared = &self.shared;
        let len = batch_encoded_len(records, &shared.config.limits())?;
        let mut state = shared.lock();
        loop {
            check_open(shared, &state)?;
            let fits = state.staged_bytes + len <= shared.config.staging_bytes_max;
            if state.staged_bytes == 0 || fits {
                break;
            }
            state = shared
                .changed
                .wait(state)
                .unwrap_or_else(|poison| poison.into_inner());
        }
        let appended = stage_batch(shared, &mut state, records, len);
        if !state.enqueued {
            if let Err(error) = shared.committer.enqueue(Arc::clone(shared)) {
                // No committer will ever write what is staged: fail the log so that
                // nobody waits for it.
                state.failed = Some(error.to_string());
                state.stages.clear();
                state.staged_bytes = 0;
                shared.notify(state);
                return Err(error);
            }
            state.enqueued = true;
        }
        Ok(PendingAppend {
            shared: Arc::clone(shared),
            appended,
        })
    }

    /// A pending append standing for every record already submitted below `end`:
    /// it is acknowledged once they all are (acknowledgement is in position order),
    /// for an owner that answers from records another caller submitted.
    pub fn pending_until(&self, end: u64) -> PendingAppend {
        PendingAppend {
            shared: Arc::clone(&self.shared),
            appended: Appended {
                base_position: end,
                count: 0,
                arrival_ms: 0,
            },
        }
    }

    /// Waits until every batch submitted so far is acknowledged, and returns the
    /// position after them; fails if the log failed first (what it had not
    /// acknowledged then never will be). For an owner that must know the log's
    /// final end while it keeps new submissions out, such as a shard being
    /// closed by a reshard while callers still await batches they staged.
    pub fn settle_submitted(&self) -> Result<u64> {
        let submitted_end = self.shared.lock().next_position;
        self.pending_until(submitted_end)
            .wait()
            .map(|appended| appended.base_position)
    }

    /// Position after the last acknowledged record (the next one to be readable).
    pub fn end_position(&self) -> u64 {
        self.shared.lock().acked_position
    }

    /// Position after the last acknowledged record: [`Log::end_position`], or
    /// before it for a log readable before its sync.
    pub fn acknowledged_end(&self) -> u64 {
        self.shared.lock().confirmed_position
    }

    /// Position after the last durable record: what a crash cannot take back.
    /// Trails [`Log::end_position`] under the `interval` and `none` policies, and
    /// for a log readable before its sync.
    pub fn durable_end(&self) -> u64 {
        self.shared.lock().durable_position
    }

    /// Oldest retained position.
    pub fn first_position(&self) -> u64 {
        self.shared.lock().first_position
    }

    /// Arrival time of the last acknowledged record, ms, if any.
    pub fn last_arrival_ms(&self) -> Option<u64> {
        let state = self.shared.lock();
        (state.acked_position > state.first_position).then_some(state.last_arrival_ms)
    }

    /// Waits until a record at `position` or later is readable, or `timeout` passes,
    /// or [`Log::wake_waiters`] is called. Returns whether a record is readable.
    /// Woken by the append itself, not by polling.
    pub fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        let state = self.shared.lock();
        let wakeups = state.wakeups;
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, timeout, |state| {
                state.acked_position <= position
                    && state.failed.is_none()
                    && !state.closed
                    && state.wakeups == wakeups
            })
            .unwrap_or_else(|poison| poison.into_inner());
        state.acked_position > position
    }

    /// Ends every [`Log::wait_for`] in progress, for an owner whose answer changed
    /// without an append (a shard that resharding closed has nothing more to wait for).
    pub fn wake_waiters(&self) {
        let mut state = self.shared.lock();
        state.wakeups += 1;
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Facts about every retained segment, oldest first.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        let state = self.shared.lock();
        let mut infos: Vec<SegmentInfo> = state.sealed.iter().map(|s| s.info).collect();
        infos.extend(state.active.as_ref().map(ActiveView::info));
        infos
    }

    /// Whether a write failure stopped the log (it refuses appends until reopened).
    pub fn failure(&self) -> Option<String> {
        self.shared.lock().failed.clone()
    }

    /// Whether the log was opened quarantined or read-only: reopening it in this
    /// process will not help (repair it, or free space and restart).
    pub fn needs_repair(&self) -> bool {
        let state = self.shared.lock();
        state.read_only || state.quarantined.is_some()
    }
}

fn check_open(shared: &LogShared, state: &LogState) -> Result<()> {
    if let Some(cause) = &state.failed {
        return Err(shared.failed_error(cause));
    }
    if state.closed {
        return Err(Error::Closed {
            path: shared.dir.clone(),
        });
    }
    Ok(())
}

/// Assigns positions and encodes the batch into the last stage, rolling to a new
/// segment first when the size or age limit says so.
fn stage_batch(
    shared: &LogShared,
    state: &mut LogState,
    records: &[Record<'_>],
    len: usize,
) -> Appended {
    let arrival_ms = now_ms().max(state.last_arrival_ms);
    let config = &shared.config;
    let roll = match state.tail {
        None => true,
        Some(tail) => {
            let full = tail.segment_end + len as u64 > config.segment_bytes_max;
            let old = config
                .segment_age_ms_max
                .is_some_and(|age| arrival_ms >= tail.segment_created_ms.saturating_add(age));
            tail.segment_has_batches && (full || old)
        }
    };
    if roll {
        let header = SegmentHeader {
            base_position: state.next_position,
            created_ms: arrival_ms,
            compacted_end: None,
        };
        let mut buf = shared
            .pool
            .take((len + SEGMENT_HEADER_LEN).max(state.stage_bytes_hint));
        buf.extend_from_slice(&header.encode());
        state.stages.push_back(Stage {
            segment_base: header.base_position,
            create: Some(header),
            file_offset: 0,
            carried: 0,
            buf,
            batches: Vec::new(),
            readable: false,
        });
        state.staged_bytes += SEGMENT_HEADER_LEN;
        state.tail = Some(Tail {
            segment_created_ms: arrival_ms,
            segment_end: SEGMENT_HEADER_LEN as u64,
            segment_has_batches: false,
        });
    }
    let base_position = state.next_position;
    let count = records.len() as u64;
    let stage = state
        .stages
        .back_mut()
        .expect("a log with a tail segment always has a stage to append to");
    let offset = stage.end_offset();
    if stage.buf.capacity() - stage.buf.len() < len {
        grow_stage(&shared.pool, stage, len, state.stage_bytes_hint);
    }
    encode_batch_into(
        stage.buf.extend_uninit(len),
        base_position,
        arrival_ms,
        records,
    );
    stage.batches.push(StagedBatch {
        offset,
        base_position,
        count,
        arrival_ms,
    });
    state.next_position += count;
    state.last_arrival_ms = arrival_ms;
    state.staged_bytes += len;
    let tail = state.tail.as_mut().expect("set above or at open");
    tail.segment_end += len as u64;
    tail.segment_has_batches = true;
    Appended {
        base_position,
        count,
        arrival_ms,
    }
}

/// Moves a stage's bytes into a pooled buffer with room for `additional` more
/// (at least `hint` bytes in all), and returns the old buffer to the pool.
fn grow_stage(pool: &BufferPool, stage: &mut Stage, additional: usize, hint: usize) {
    let needed = stage.buf.len() + additional;
    let mut buf = pool.take(needed.max(hint).max(stage.buf.capacity() * 2));
    buf.extend_from_slice(stage.buf.as_slice());
    pool.give(std::mem::replace(&mut stage.buf, buf));
}

/// Swaps an idle log's staging buffer, which holds at most the partial block it
/// carries, for one just large enough, and returns the large one to the pool: an
/// idle log keeps a few KiB, not a round's worth.
pub(crate) fn shrink_idle_stage(pool: &BufferPool, stage: &mut Stage) {
    debug_assert!(stage.batches.is_empty());
    if stage.buf.capacity() <= SMALL_STAGE_BYTES {
        return;
    }
    let mut buf = pool.take_small(stage.buf.len());
    buf.extend_from_slice(stage.buf.as_slice());
    pool.give(std::mem::replace(&mut stage.buf, buf));
}

/// What an idle log's stage keeps: one block, room for the partial block an
/// `O_DIRECT` write carries.
const SMALL_STAGE_BYTES: usize = crate::io::DIRECT_IO_ALIGNMENT;

#[cfg(test)]
mod tests {
    //! An idle log keeps a block of staging memory, not a round's worth.
    use crate::io::MemFs;
    use crate::{BackendKind, Durability, LogConfig, Record, Storage, StorageConfig};
    use std::sync::Arc;

    /// After a 1 MiB append is acknowledged and nothing else is staged, the log's
    /// stage holds at most one block (the `O_DIRECT` carry), with either backend,
    /// and the next append still lands after the first.
    #[test]
    fn an_idle_log_keeps_one_block_of_staging() {
        for backend in [BackendKind::Buffered, BackendKind::IoUring] {
            let fs: Arc<dyn crate::io::FileSystem> = MemFs::new();
            let config = StorageConfig {
                backend,
                durability: Durability::Sync,
            };
            let Ok(storage) = Storage::open(fs, config) else {
                continue; // io_uring unavailable here: the buffered pass still ran.
            };
            let (log, _) = storage.open_log("/l", LogConfig::default()).unwrap();
            let data = vec![7u8; 1 << 20];
            let record = Record {
                partition_key: "k",
                explicit_hash_key: None,
                data: &data,
            };
            log.append(&[record]).unwrap();
            let capacity = {
                let state = log.shared.lock();
                state.stages.back().map(|stage| stage.buf.capacity())
            };
            assert!(
                capacity.is_some_and(|c| c <= crate::io::DIRECT_IO_ALIGNMENT),
                "{backend:?}: idle stage of {capacity:?} bytes"
            );
            let next = log.append(&[record]).unwrap();
            assert_eq!(next.base_position, 1);
            storage.shutdown().unwrap();
        }
    }
}
