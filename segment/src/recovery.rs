//! Recovery on open: verify, truncate a torn tail, rebuild indexes, report.

use crate::aligned::AlignedBuf;
use crate::batch::{peek_header, BatchView};
use crate::config::LogConfig;
use crate::error::{io_err, Corruption, Error, Result};
use crate::format::{parse_segment_file_name, SEGMENT_HEADER_LEN};
use crate::io::{
    create_dir_all_durably, read_exact_at, read_file, write_file_atomic, FileHandle, FileSystem,
    OpenOptions,
};
use crate::log::{ActiveView, ActiveWriter, Stage, Tail, WriterState};
use crate::sealed::{
    check_segment_header, count_dropped_batches, open_sealed, prefault_in_background, scan_batches,
    SealedSegment, SegmentPaths,
};
use crate::verified::VerifiedPrefix;
use shardlog_index::{Entry, IndexKind, IndexView, Sampler, SparseIndex};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What recovery found and did when a log was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments found (after removing a torn new one).
    pub segments: usize,
    /// Position after the last record kept.
    pub end_position: u64,
    /// Bytes cut from the end of the last segment (a torn or unsynced tail,
    /// `O_DIRECT` zero fill included), plus the size of a removed torn segment.
    pub truncated_bytes: u64,
    /// Batches (complete or not) in the bytes cut.
    pub dropped_batches: u64,
    /// Each cut made: which segment file, from which offset, how much (none when
    /// opened read-only: `truncated_bytes` then counts what readers do not see).
    pub truncations: Vec<Truncation>,
    /// Bytes of the last segment verified batch by batch because no synced index
    /// entry vouched for them: at most the bound `FORMAT.md` gives after a
    /// power loss, plus what was written since the last sync.
    pub rescanned_bytes: u64,
    /// Index files that were missing or invalid and were rebuilt from the log.
    pub rebuilt_indexes: Vec<PathBuf>,
    /// Files removed: a segment torn while being created, leftover temporary files.
    pub removed_files: Vec<PathBuf>,
}

/// One cut recovery made: the bytes of `segment` from `offset` on were removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// The segment (`.log`) file cut.
    pub segment: PathBuf,
    /// Offset of the first byte cut (0: the whole file was removed).
    pub offset: u64,
    /// Bytes cut.
    pub bytes: u64,
    /// Batches (complete or not) in the bytes cut.
    pub batches: u64,
}

/// Everything needed to run a log after recovery.
pub(crate) struct Recovered {
    pub sealed: Vec<Arc<SealedSegment>>,
    pub writer: WriterState,
    pub view: Option<ActiveView>,
    pub stage: Option<Stage>,
    pub tail: Option<Tail>,
    pub next_position: u64,
    pub first_position: u64,
    pub last_arrival_ms: u64,
    pub report: RecoveryReport,
}

struct ActiveParts {
    /// `None` when recovered read-only: nothing will write to it.
    writer: Option<(ActiveWriter, Stage, Tail)>,
    view: ActiveView,
}

/// Opens the log in `dir`: sealed segments verified through their indexes (rebuilt
/// if needed), the last segment scanned from its last trusted point.
pub(crate) fn recover(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    config: &LogConfig,
    alignment: usize,
    direct: bool,
    writable: bool,
) -> Result<Recovered> {
    if writable {
        // A new log directory must survive a power loss.
        create_dir_all_durably(fs.as_ref(), dir).map_err(io_err("create directory", dir))?;
    }
    let mut report = RecoveryReport::default();
    let names = fs.list_dir(dir).map_err(io_err("list", dir))?;
    for name in names
        .iter()
        .filter(|name| writable && name.ends_with(".tmp"))
    {
        let path = dir.join(name);
        fs.remove_file(&path).map_err(io_err("remove", &path))?;
        report.removed_files.push(path);
    }
    let mut bases: Vec<u64> = names
        .iter()
        .filter_map(|name| parse_segment_file_name(name, "log"))
        .collect();
    bases.sort_unstable();
    let mut sealed: Vec<Arc<SealedSegment>> = Vec::new();
    let mut last = bases.pop();
    // A compacted segment is only ever written whole (sealed); found last (the roll
    // after it failed, or retention removed the ones after it), it stays sealed, its
    // end is the one its header records, and the next append starts a new segment.
    if let Some(base) = last.filter(|base| is_compacted(fs.as_ref(), dir, *base)) {
        bases.push(base);
        last = None;
    }
    for base in bases {
        let (segment, rebuilt) = open_sealed(fs.as_ref(), dir, base, config.index_interval_bytes)?;
        if rebuilt {
            report.rebuilt_indexes.push(segment.paths.idx.clone());
            report.rebuilt_indexes.push(segment.paths.tix.clone());
        }
        check_contiguous(
            sealed.last().map(|s| s.info.end_position),
            &segment.paths.log,
            base,
        )?;
        sealed.push(Arc::new(segment));
    }
    prefault_in_background(sealed.clone());
    let sealed_end = sealed.last().map(|segment| segment.info.end_position);
    let active = match last {
        Some(base) => {
            let paths = SegmentPaths::new(dir, base);
            check_contiguous(sealed_end, &paths.log, base)?;
            let how = ActiveRecovery {
                alignment,
                direct,
                writable,
            };
            recover_active(fs.as_ref(), paths, config, how, &mut report)?
        }
        None => None,
    };
    // The floor keeps positions from restarting below what retention removed.
    let floor = crate::floor::load(fs.as_ref(), dir)?;
    let next_position = active
        .as_ref()
        .map(|parts| parts.view.end_position)
        .or(sealed_end)
        .unwrap_or(0)
        .max(floor);
    let last_arrival_ms = active
        .as_ref()
        .and_then(|parts| parts.view.last_arrival_ms)
        .or_else(|| sealed.last().and_then(|s| s.info.last_arrival_ms))
        .unwrap_or(0);
    let first_position = sealed
        .first()
        .map(|segment| segment.info.base_position)
        .or(active.as_ref().map(|parts| parts.view.base_position))
        .unwrap_or(next_position);
    report.segments = sealed.len() + usize::from(active.is_some());
    report.end_position = next_position;
    let (writer, view, stage, tail) = match active {
        Some(ActiveParts {
            writer: Some((writer, stage, tail)),
            view,
        }) => (
            WriterState {
                active: Some(writer),
            },
            Some(view),
            Some(stage),
            Some(tail),
        ),
        Some(ActiveParts { writer: None, view }) => {
            (WriterState::default(), Some(view), None, None)
        }
        None => (WriterState::default(), None, None, None),
    };
    Ok(Recovered {
        sealed,
        writer,
        view,
        stage,
        tail,
        next_position,
        first_position,
        last_arrival_ms,
        report,
    })
}

/// Whether the segment at `base` has a compacted header (unreadable headers are
/// left to the active segment's recovery to judge).
fn is_compacted(fs: &dyn FileSystem, dir: &Path, base: u64) -> bool {
    let path = SegmentPaths::new(dir, base).log;
    let Ok(file) = fs.open(&path, OpenOptions::READ) else {
        return false;
    };
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    read_exact_at(file.as_ref(), &mut header, 0).is_ok()
        && crate::format::SegmentHeader::decode(&header)
            .is_ok_and(|header| header.base_position == base && header.compacted_end.is_some())
}

fn check_contiguous(previous_end: Option<u64>, path: &Path, base: u64) -> Result<()> {
    match previous_end {
        Some(end) if end != base => Err(Error::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            corruption: Corruption::InvalidField {
                reason: format!(
                    "segment starts at position {base}, the previous one ends at {end}"
                ),
            },
        }),
        _ => Ok(()),
    }
}

/// Index entries of the last segment that recovery may trust: the valid prefix of
/// its `.idx` (entries are written only after their batch was synced).
fn trusted_entries(fs: &dyn FileSystem, paths: &SegmentPaths, base: u64) -> Vec<Entry> {
    let Ok(bytes) = read_file(fs, &paths.idx) else {
        return Vec::new();
    };
    match IndexView::parse(&bytes, IndexKind::Position, base) {
        Ok(view) if view.seal().is_none() => view.iter().collect(),
        // A sealed index on the last segment: a crash came between sealing it and
        // creating the next segment; its entries are as trustworthy.
        Ok(view) => view.iter().collect(),
        Err(_) => Vec::new(),
    }
}

/// How the last segment is recovered.
#[derive(Clone, Copy)]
struct ActiveRecovery {
    alignment: usize,
    direct: bool,
    /// Read-only (a full disk at open): cut nothing, write nothing, open no writer.
    writable: bool,
}

/// Recovers the last segment. `None` when it was torn while being created (and,
/// when writable, removed).
fn recover_active(
    fs: &dyn FileSystem,
    paths: SegmentPaths,
    config: &LogConfig,
    how: ActiveRecovery,
    report: &mut RecoveryReport,
) -> Result<Option<ActiveParts>> {
    let writable = how.writable;
    let base = parse_segment_file_name(
        &paths.log.file_name().unwrap_or_default().to_string_lossy(),
        "log",
    )
    .expect("listed as a segment file");
    let map = fs.map(&paths.log).map_err(io_err("map", &paths.log))?;
    let bytes = map.bytes();
    let file_len = bytes.len() as u64;
    let mut entries = trusted_entries(fs, &paths, base);
    let header = match check_segment_header(bytes, &paths.log, base) {
        Ok(header) => header,
        Err(error) if !entries.is_empty() || !torn_at_creation(bytes, base) => return Err(error),
        Err(_) if !writable => return Ok(None),
        Err(_) => {
            drop(map);
            remove_torn_segment(fs, &paths, file_len, report)?;
            return Ok(None);
        }
    };
    let mut sampler = Sampler::new(config.index_interval_bytes);
    let (start_offset, start_position) = match entries.pop() {
        Some(trusted) => {
            verify_trusted(bytes, &paths.log, trusted)?;
            if let Some(previous) = entries.last() {
                sampler.should_index(previous.value);
            }
            (trusted.value, trusted.key)
        }
        None => (SEGMENT_HEADER_LEN as u64, base),
    };
    let time_entries = time_entries_for(bytes, &entries);
    let scan = scan_batches(bytes, start_offset, start_position, &mut sampler, false);
    entries.extend_from_slice(&scan.idx);
    let mut time_entries = time_entries;
    time_entries.extend_from_slice(&scan.tix);
    let valid_end = scan.valid_end;
    // Zeros after the last batch are where no batch was written yet (the `O_DIRECT`
    // fill of the last block, the preallocated rest of the file): the end of the
    // log, trimmed below like a cut, but no data dropped, so neither reported nor
    // recorded as one, nor counted as scanned.
    let zero_tail = bytes[valid_end as usize..].iter().all(|byte| *byte == 0);
    let scanned_end = if zero_tail { valid_end } else { file_len };
    report.rescanned_bytes = scanned_end.saturating_sub(start_offset);
    let cut = (scan.stopped.is_some() && !zero_tail).then(|| Truncation {
        segment: paths.log.clone(),
        offset: valid_end,
        bytes: file_len - valid_end,
        batches: count_dropped_batches(bytes, valid_end as usize),
    });
    // Read-only, nothing is cut, but readers see only what a cut would keep.
    if let Some(cut) = &cut {
        report.truncated_bytes += cut.bytes;
        report.dropped_batches += cut.batches;
    }
    let first_arrival_ms = BatchView::parse(&bytes[SEGMENT_HEADER_LEN.min(bytes.len())..])
        .ok()
        .map(|view| view.header().first_arrival_ms);
    drop(map);
    let view_of = |paths, read| ActiveView {
        paths,
        read,
        base_position: base,
        created_ms: header.created_ms,
        acked_len: valid_end,
        end_position: scan.end_position,
        first_arrival_ms,
        last_arrival_ms: scan.last_arrival_ms,
        index: sparse(&entries),
        time_index: sparse(&time_entries),
        verified: Arc::new(VerifiedPrefix::none()),
    };
    if !writable {
        let read = fs
            .open(&paths.log, OpenOptions::READ)
            .map_err(io_err("open", &paths.log))?;
        let view = view_of(paths, read);
        return Ok(Some(ActiveParts { writer: None, view }));
    }
    cut_tail(fs, &paths, cut.as_ref(), file_len, valid_end)?;
    report.truncations.extend(cut);
    let rebuilt = rewrite_indexes(fs, &paths, base, &entries, &time_entries)?;
    if rebuilt {
        report.rebuilt_indexes.push(paths.idx.clone());
        report.rebuilt_indexes.push(paths.tix.clone());
    }
    let (writer, read, stage) = open_writer(fs, paths, how, base, valid_end, sampler, &entries)?;
    let view = view_of(writer.paths.clone(), read);
    let tail = Tail {
        segment_created_ms: header.created_ms,
        segment_end: valid_end,
        segment_has_batches: scan.end_position > base,
    };
    Ok(Some(ActiveParts {
        writer: Some((writer, stage, tail)),
        view,
    }))
}

/// Opens the last segment for appending after recovery kept `valid_end` bytes
/// of it: its write handles, a read handle, and the stage that carries the
/// partial `O_DIRECT` block at its end.
fn open_writer(
    fs: &dyn FileSystem,
    paths: SegmentPaths,
    how: ActiveRecovery,
    base: u64,
    valid_end: u64,
    sampler: Sampler,
    entries: &[Entry],
) -> Result<(ActiveWriter, Arc<dyn FileHandle>, Stage)> {
    let file = fs
        .open(&paths.log, OpenOptions::WRITE.with_direct(how.direct))
        .map_err(io_err("open", &paths.log))?;
    let read = fs
        .open(&paths.log, OpenOptions::READ)
        .map_err(io_err("open", &paths.log))?;
    let idx = fs
        .open(&paths.idx, OpenOptions::WRITE)
        .map_err(io_err("open", &paths.idx))?;
    let synced_offset = entries.last().map_or(0, |entry| entry.value);
    let carry_from = valid_end - valid_end % how.alignment as u64;
    // Room for the carried block only: the first append takes a pooled buffer.
    let mut buf = AlignedBuf::with_capacity((valid_end - carry_from).max(1) as usize);
    let carried = buf.extend_uninit((valid_end - carry_from) as usize);
    read_exact_at(read.as_ref(), carried, carry_from).map_err(io_err("read", &paths.log))?;
    let stage = Stage {
        segment_base: base,
        create: None,
        file_offset: carry_from,
        carried: (valid_end - carry_from) as usize,
        buf,
        batches: Vec::new(),
        readable: false,
    };
    let persisted = entries.len();
    let writer = ActiveWriter {
        paths,
        file,
        idx,
        written_len: valid_end,
        allocated_len: valid_end,
        synced: true,
        sampler,
        persisted_entries: persisted,
        durable_entries: persisted,
        index_written_offset: synced_offset,
        index_synced_offset: synced_offset,
    };
    Ok((writer, read, stage))
}

/// Cuts the last segment at `valid_end` (recording `cut` first: a crash between
/// the two records it twice, never not at all) and syncs what is kept.
fn cut_tail(
    fs: &dyn FileSystem,
    paths: &SegmentPaths,
    cut: Option<&Truncation>,
    file_len: u64,
    valid_end: u64,
) -> Result<()> {
    if let Some(cut) = cut {
        let dir = paths.log.parent().expect("segment in a directory");
        crate::truncations::record(fs, dir, cut, crate::log::now_ms())?;
    }
    let file = fs
        .open(&paths.log, OpenOptions::WRITE)
        .map_err(io_err("open", &paths.log))?;
    if file_len > valid_end {
        // The segment is not mapped (the recovery map was dropped before).
        file.set_len(valid_end)
            .map_err(io_err("truncate", &paths.log))?;
    }
    // Batches after the trusted point may have been written and never synced (a
    // crash before the sync): they become acknowledged now, so make them durable
    // before any index entry points at them.
    file.sync_data().map_err(io_err("sync", &paths.log))
}

/// Removes a last segment torn while being created: the header and the first
/// batch were written together and neither is whole, so no batch in it was ever
/// acknowledged. A non-empty one is recorded and reported as a cut.
fn remove_torn_segment(
    fs: &dyn FileSystem,
    paths: &SegmentPaths,
    file_len: u64,
    report: &mut RecoveryReport,
) -> Result<()> {
    let dir = paths.log.parent().expect("segment in a directory");
    let cut = Truncation {
        segment: paths.log.clone(),
        offset: 0,
        bytes: file_len,
        batches: 0,
    };
    if file_len > 0 {
        crate::truncations::record(fs, dir, &cut, crate::log::now_ms())?;
    }
    for path in [&paths.log, &paths.idx, &paths.tix] {
        if fs.exists(path) {
            fs.remove_file(path).map_err(io_err("remove", path))?;
            report.removed_files.push(path.clone());
        }
    }
    fs.sync_dir(dir).map_err(io_err("sync directory", dir))?;
    if file_len > 0 {
        report.truncated_bytes += file_len;
        report.truncations.push(cut);
    }
    Ok(())
}

/// An in-memory index of `entries`, leaving out any entry whose key would go
/// backwards (possible only for timestamps read from damaged headers; an index is
/// only an accelerator, so a missing entry costs a longer scan, never a wrong answer).
fn sparse(entries: &[Entry]) -> SparseIndex {
    let mut index = SparseIndex::new();
    for entry in entries {
        if index
            .entries()
            .last()
            .is_none_or(|last| last.key <= entry.key)
        {
            index.push(*entry);
        }
    }
    index
}

/// Whether a last segment whose header does not verify is what a crash during its
/// creation leaves: no header that decodes to another base, and no whole batch
/// after it.
fn torn_at_creation(bytes: &[u8], base: u64) -> bool {
    if let Ok(header) = crate::format::SegmentHeader::decode(bytes) {
        if header.base_position != base {
            return false;
        }
    }
    bytes
        .get(SEGMENT_HEADER_LEN..)
        .is_none_or(|rest| BatchView::parse(rest).is_err())
}

/// The batch a trusted index entry points to must verify: it was durable.
fn verify_trusted(bytes: &[u8], path: &Path, trusted: Entry) -> Result<()> {
    let corrupt = |corruption| Error::Corrupt {
        path: path.to_path_buf(),
        offset: trusted.value,
        corruption,
    };
    let at = usize::try_from(trusted.value).unwrap_or(usize::MAX);
    if at > bytes.len() {
        return Err(corrupt(Corruption::Truncated {
            needed: trusted.value,
            available: bytes.len() as u64,
        }));
    }
    let view = BatchView::parse(&bytes[at..]).map_err(corrupt)?;
    if view.header().base_position != trusted.key {
        return Err(corrupt(Corruption::InvalidField {
            reason: format!(
                "index says position {}, the batch starts at {}",
                trusted.key,
                view.header().base_position
            ),
        }));
    }
    Ok(())
}

/// Timestamp entries for trusted position entries, from the batch headers they
/// point to (the `.tix` file is not needed: both indexes sample the same batches).
fn time_entries_for(bytes: &[u8], entries: &[Entry]) -> Vec<Entry> {
    entries
        .iter()
        .filter_map(|entry| {
            let header = peek_header(bytes.get(usize::try_from(entry.value).ok()?..)?).ok()?;
            Some(Entry {
                key: header.first_arrival_ms,
                value: entry.key,
            })
        })
        .collect()
}

/// Rewrites the last segment's index files if they differ from the entries
/// recovered, and syncs them either way. Returns whether they were rewritten.
fn rewrite_indexes(
    fs: &dyn FileSystem,
    paths: &SegmentPaths,
    base: u64,
    entries: &[Entry],
    time_entries: &[Entry],
) -> Result<bool> {
    let idx = shardlog_index::encode_file(IndexKind::Position, base, entries, None);
    let tix = shardlog_index::encode_file(IndexKind::Timestamp, base, time_entries, None);
    let same = |path: &Path, expected: &[u8]| read_file(fs, path).is_ok_and(|b| b == expected);
    if same(&paths.idx, &idx) {
        // The active segment's `.tix` is written whole only at close and seal, so
        // after a crash it lags: bring it up to date without calling that a rebuild.
        if !same(&paths.tix, &tix) {
            write_file_atomic(fs, &paths.tix, &tix).map_err(io_err("write index", &paths.tix))?;
        }
        // Read back as it was, but perhaps never synced (a process crash leaves
        // it in the page cache only): the bound on what a later recovery scans
        // again counts from entries on the device.
        let file = fs
            .open(&paths.idx, OpenOptions::WRITE)
            .map_err(io_err("open", &paths.idx))?;
        file.sync_data().map_err(io_err("sync index", &paths.idx))?;
        return Ok(false);
    }
    write_file_atomic(fs, &paths.idx, &idx).map_err(io_err("write index", &paths.idx))?;
    write_file_atomic(fs, &paths.tix, &tix).map_err(io_err("write index", &paths.tix))?;
    Ok(true)
}
