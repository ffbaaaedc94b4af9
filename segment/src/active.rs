//! The active segment's files: creating, persisting index entries, syncing,
//! sealing.

use crate::error::{io_err, Result};
use crate::io::{write_all_at, OpenOptions, DIRECT_IO_ALIGNMENT};
use crate::log::{ActiveView, ActiveWriter, LogShared, WriterState};
use crate::sealed::{
    map_sealed, prefault_in_background, sealed_index_files, SegmentInfo, SegmentPaths,
};
use crate::verified::VerifiedPrefix;
use shardlog_index::{Entry, IndexKind, Sampler, ENTRY_LEN, HEADER_LEN as INDEX_HEADER_LEN};
use std::io;
use std::sync::Arc;

/// Position index entries whose batches are durable and that are not yet in the
/// `.idx` file.
pub(crate) type PendingEntries = Vec<Entry>;

pub(crate) fn pending_entries(active: &ActiveWriter, view: &ActiveView) -> Option<PendingEntries> {
    let range = active.persisted_entries..active.durable_entries;
    if range.is_empty() {
        return None;
    }
    Some(view.index.entries()[range].to_vec())
}

/// Appends index entries to the `.idx` file (no sync: it is derived). The active
/// segment's `.tix` is written whole when the segment is closed or sealed: recovery
/// derives it from the batches the `.idx` points to, so keeping it open and written
/// as the segment grows would only cost every idle shard a file descriptor.
pub(crate) fn persist_entries(active: &mut ActiveWriter, idx: &[Entry]) -> io::Result<()> {
    let offset = (INDEX_HEADER_LEN + active.persisted_entries * ENTRY_LEN) as u64;
    let bytes: Vec<u8> = idx
        .iter()
        .flat_map(|entry| shardlog_index::encode_entry(*entry))
        .collect();
    write_all_at(active.idx.as_ref(), &bytes, offset)?;
    active.persisted_entries += idx.len();
    if let Some(newest) = idx.last() {
        active.index_written_offset = newest.value;
    }
    Ok(())
}

/// Whether the entries written to the `.idx` file since its last sync cover
/// `index_sync_bytes` of log: syncing it then bounds what recovery scans again
/// after a power loss. Only `.idx` is synced: recovery trusts its entries and
/// derives the `.tix` from the batches.
pub(crate) fn index_sync_due(active: &ActiveWriter, index_sync_bytes: u64) -> bool {
    active.index_written_offset >= active.index_synced_offset.saturating_add(index_sync_bytes)
}

/// How [`write_out_entries`] syncs the `.idx` when due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexSync {
    /// Now, on this thread.
    Now,
    /// With the log's next sync round (the syncer syncs it with the log file, in
    /// the same backend call, off the path of this round's acknowledgements).
    NextRound,
}

/// Writes out the index entries whose batches became durable, and syncs the
/// `.idx` when due. Call without the state lock: a sync waits for the device.
pub(crate) fn write_out_entries(
    log: &LogShared,
    active: &mut ActiveWriter,
    pending: Option<PendingEntries>,
    sync: IndexSync,
) {
    let Some(idx) = pending else {
        return;
    };
    // Index entries are derived data written only once their batches are
    // durable; recovery trusts the log up to the last one it finds.
    let mut result = persist_entries(active, &idx);
    if result.is_ok()
        && sync == IndexSync::Now
        && index_sync_due(active, log.config.index_sync_bytes())
    {
        result = active.idx.sync_data();
        if result.is_ok() {
            active.index_synced_offset = active.index_written_offset;
        }
    }
    if let Err(error) = result {
        fail_index(log, &error);
    }
}

/// Stops a log whose index could not be written or synced, as after any failed
/// write: the page cache may have dropped it.
pub(crate) fn fail_index(log: &LogShared, error: &io::Error) {
    let mut state = log.lock();
    if state.failed.is_none() {
        state.failed = Some(format!("write index of {}: {error}", log.dir.display()));
    }
    log.notify(state);
}

/// Seals the active segment: sync, cut the `O_DIRECT` fill, write complete index
/// files, map it, and move it to the sealed list.
pub(crate) fn seal_active(log: &LogShared, writer: &mut WriterState) -> Result<()> {
    let active = writer.active.as_mut().expect("caller checked");
    let path = active.paths.log.clone();
    finish_active_files(log, active)?;
    let (info, idx_entries, tix_entries, verified) = {
        let state = log.lock();
        let view = state.active.as_ref().expect("view opened with the writer");
        (
            view.info(),
            view.index.entries().to_vec(),
            view.time_index.entries().to_vec(),
            Arc::clone(&view.verified),
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
    let idx_path = &active.paths.idx;
    write_all_at(active.idx.as_ref(), &idx_bytes, 0).map_err(io_err("write index", idx_path))?;
    active
        .idx
        .sync_data()
        .map_err(io_err("sync index", idx_path))?;
    write_whole(log, &active.paths.tix, &tix_bytes)?;
    let map = log.fs.map(&path).map_err(io_err("map", &path))?;
    let info = SegmentInfo {
        sealed: true,
        bytes: active.written_len,
        ..info
    };
    let sealed = map_sealed(log.fs.as_ref(), active.paths.clone(), info, map)?;
    // The same bytes: what reads verified while the segment was active stays verified.
    sealed.verified.raise_to(verified.end());
    writer.active = None;
    let sealed = Arc::new(sealed);
    prefault_in_background(vec![Arc::clone(&sealed)]);
    let mut state = log.lock();
    state.sealed.push(sealed);
    state.active = None;
    Ok(())
}

/// Makes everything written to the active segment durable and, for `O_DIRECT`,
/// cuts the zero fill after the last batch. Writes out every index entry.
pub(crate) fn finish_active_files(log: &LogShared, active: &mut ActiveWriter) -> Result<()> {
    let path = active.paths.log.clone();
    if log.direct || active.allocated_len > active.written_len {
        // Never mapped while active, so cutting the fill or the unused reservation
        // cannot fault a reader.
        active
            .file
            .set_len(active.written_len)
            .map_err(io_err("truncate fill of", &path))?;
    }
    active.file.sync_data().map_err(io_err("sync", &path))?;
    active.synced = true;
    let mut state = log.lock();
    // Every stage published so far was written to this file before the sync.
    state.durable_position = state.acked_position;
    if let Some(view) = state.active.as_ref() {
        active.durable_entries = view.index.len();
        if let Some(idx) = pending_entries(active, view) {
            drop(state);
            persist_entries(active, &idx).map_err(io_err("write index of", &path))?;
        }
    }
    active
        .idx
        .sync_data()
        .map_err(io_err("sync index of", &path))?;
    active.index_synced_offset = active.index_written_offset;
    Ok(())
}

/// Writes the active segment's `.tix` whole (its entries so far, as recovery
/// would derive them), for a segment being closed.
pub(crate) fn write_active_tix(log: &LogShared, active: &ActiveWriter) -> Result<()> {
    let bytes = {
        let state = log.lock();
        let Some(view) = state.active.as_ref() else {
            return Ok(());
        };
        let entries = &view.time_index.entries()[..active.persisted_entries];
        shardlog_index::encode_file(IndexKind::Timestamp, view.base_position, entries, None)
    };
    write_whole(log, &active.paths.tix, &bytes)
}

/// Replaces the contents of an index file that no reader maps yet, and syncs it.
/// A missing one (derived data that someone removed) is created again rather than
/// failing the log.
fn write_whole(log: &LogShared, path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let file = log
        .fs
        .open(path, OpenOptions::CREATE)
        .map_err(io_err("open index", path))?;
    write_all_at(file.as_ref(), bytes, 0).map_err(io_err("write index", path))?;
    file.set_len(bytes.len() as u64)
        .map_err(io_err("write index", path))?;
    file.sync_data().map_err(io_err("sync index", path))
}

/// Reserves the active segment's file ahead of a write that ends at `end`, by at
/// most `step_max` bytes (0: not at all; see
/// [`LogConfig::preallocate_bytes_max`](crate::LogConfig)). A failed reservation
/// (no space for all of it, no support) is not an error: the write then extends the
/// file itself, as without preallocation, and reports its own failure if any.
pub(crate) fn preallocate(log: &LogShared, active: &mut ActiveWriter, end: u64, step_max: u64) {
    if step_max == 0 || end <= active.allocated_len {
        return;
    }
    let step = active
        .written_len
        .clamp(crate::config::PREALLOCATE_STEP_MIN, step_max);
    // Never reserve far past where the segment rolls.
    let limit = log.config.segment_bytes_max.max(end);
    let target = end
        .saturating_add(step)
        .next_multiple_of(DIRECT_IO_ALIGNMENT as u64)
        .min(limit);
    if active.file.allocate(target).is_ok() {
        active.allocated_len = target;
    }
}

/// Rounds of at most this many new bytes count as small for [`fill_ahead`]: a log
/// writing a record or a few at a time, whose latency is its syncs'.
pub(crate) const FILL_ROUND_BYTES_MAX: usize = 16 << 10;

/// How far [`fill_ahead`] writes zeros past the end of a round.
pub(crate) const FILL_AHEAD_BYTES: u64 = crate::config::PREALLOCATE_STEP_MIN;

/// Zeros that [`fill_ahead`] writes: static, so untouched pages of the shared zero
/// page, not a fresh buffer each time; block aligned, so that an `O_DIRECT` file
/// takes them as they are.
#[repr(C, align(4096))]
struct Zeros([u8; FILL_AHEAD_BYTES as usize]);
static ZEROS: Zeros = Zeros([0; FILL_AHEAD_BYTES as usize]);
const _: () = assert!(std::mem::align_of::<Zeros>() == DIRECT_IO_ALIGNMENT);
const _: () = assert!(FILL_AHEAD_BYTES.is_multiple_of(DIRECT_IO_ALIGNMENT as u64));

/// Keeps a log's active file written ahead of a small round ending at
/// `end`, in zeros, [`FILL_AHEAD_BYTES`] at a time, when nothing reserves it
/// (`preallocate_bytes_max` 0).
///
/// Why: an `fdatasync` after a write that extends the file writes the inode (the
/// new size) and, each new block, the block bitmap before the cache flush; after a
/// write over blocks already written and synced it writes no bitmap, and the inode
/// only when the modification time moved. The first sync after a fill writes the
/// zeros and the new size once; the rounds after it, up to the fill's end, are
/// overwrites. Measured on this repository's VM (ext4 without journal, virtio disk:
/// docs/benchmarks.md, issue 16, "Small rounds filled ahead"): 1 KiB `pwrite` +
/// `fdatasync` at about 1,000/s took less time filled than appending, at the mean
/// and at p99.9; an `O_DIRECT` 4 KiB write + `fdatasync` took 0.12 ms over blocks
/// written in zeros against 0.20 to 0.26 ms extending the file and 0.195 ms into
/// `fallocate`d ones (docs/benchmarks.md, "Small O_DIRECT rounds filled ahead").
/// Large rounds (throughput, where each sync's metadata write is shared by many
/// records) are left as they are: zeros written ahead would double their device
/// writes.
///
/// The zeros start at `end`, after every byte written or being written, so a fill
/// never covers data (a round written but not yet published included); like a
/// reservation they are the end of the log to recovery and are cut when the segment
/// is sealed or closed. A failed fill is no error: the write then extends the file
/// as without it, and reports its own failure if any.
pub(crate) fn fill_ahead(log: &LogShared, active: &mut ActiveWriter, end: u64, round_bytes: usize) {
    if log.config.preallocate_bytes_max != 0
        || round_bytes > FILL_ROUND_BYTES_MAX
        || end <= active.allocated_len
    {
        return;
    }
    // Ends on a block boundary (the step is whole blocks, so still past `end`),
    // never far past where the segment rolls.
    let block = DIRECT_IO_ALIGNMENT as u64;
    let target = (end.saturating_add(FILL_AHEAD_BYTES) / block * block)
        .min(log.config.segment_bytes_max.max(end));
    let len = (target - end) as usize;
    if log.direct && !(end.is_multiple_of(block) && len.is_multiple_of(DIRECT_IO_ALIGNMENT)) {
        return;
    }
    let zeros = &ZEROS.0[..len];
    if write_all_at(active.file.as_ref(), zeros, end).is_ok() {
        active.allocated_len = target;
    }
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
    let file = open(&paths.log, OpenOptions::CREATE.with_direct(log.direct))
        .map_err(io_err("create", &paths.log))?;
    let create_index = |path: &std::path::Path, kind: IndexKind| {
        let handle = open(path, OpenOptions::CREATE).map_err(io_err("create", path))?;
        let header = shardlog_index::encode_header(kind, base_position);
        write_all_at(handle.as_ref(), &header, 0).map_err(io_err("create", path))?;
        Ok::<_, crate::error::Error>(handle)
    };
    let idx = create_index(&paths.idx, IndexKind::Position)?;
    // Not kept open: the `.tix` is written whole at close or seal.
    create_index(&paths.tix, IndexKind::Timestamp)?;
    let read = fs
        .open(&paths.log, OpenOptions::READ)
        .map_err(io_err("create", &paths.log))?;
    writer.active = Some(ActiveWriter {
        paths: paths.clone(),
        file,
        idx,
        written_len: 0,
        allocated_len: 0,
        synced: false,
        sampler: Sampler::new(log.config.index_interval_bytes),
        persisted_entries: 0,
        durable_entries: 0,
        index_written_offset: 0,
        index_synced_offset: 0,
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
        verified: Arc::new(VerifiedPrefix::none()),
    });
    Ok(())
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
    log.notify(state);
}

/// Accounts for `count` stages the committer took and will not publish (their log
/// failed): `close` waits until no stage of the log is in the committer's hands.
pub(crate) fn release(log: &LogShared, count: usize) {
    let mut state = log.lock();
    state.in_flight -= count;
    log.notify(state);
}

impl crate::log::Log {
    /// Seals the active segment if it holds records and the newest arrived before
    /// `before_ms`, so that time retention can remove it like any sealed segment:
    /// otherwise an idle shard, or a parent closed by resharding, keeps its last
    /// records forever. Nothing is sealed while an append to the log is staged or
    /// being written. The next append starts a new segment at the next position
    /// (retention stores the position floor before it removes anything, so no
    /// position is handed out twice). Returns whether it sealed.
    pub fn seal_active_older_than(&self, before_ms: u64) -> Result<bool> {
        let log = &self.shared;
        // Writer first, then state: the committer's order.
        let mut writer = log.lock_writer();
        {
            let mut state = log.lock();
            let idle = state.staged_bytes == 0 && state.in_flight == 0 && !state.enqueued;
            let healthy = state.failed.is_none() && !state.closed;
            let expired = state.active.as_ref().is_some_and(|view| {
                view.end_position > view.base_position
                    && view
                        .last_arrival_ms
                        .is_some_and(|newest| newest < before_ms)
            });
            if !(idle && healthy && expired && writer.active.is_some()) {
                return Ok(false);
            }
            // An append from now on rolls to a new segment; the committer, which
            // needs the writer lock held here, creates it after this seal.
            state.tail = None;
        }
        if let Err(error) = seal_active(log, &mut writer) {
            drop(writer);
            fail(log, error.to_string());
            return Err(error);
        }
        Ok(true)
    }
}
