//! Issue 14, item 7: after a power loss recovery scans again only a bounded span
//! of the active segment (its `.idx` is synced every `index_sync_bytes` of log),
//! and every cut it makes is reported with its file, offset and size, and recorded
//! in the log directory's `TRUNCATIONS` file.

mod common;

use common::{borrow, make_batch, mem_storage, read_all};
use shardlog_segment::format::segment_file_name;
use shardlog_segment::io::{write_all_at, CrashMode, FileSystem, MemFs, OpenOptions};
use shardlog_segment::truncations;
use shardlog_segment::{Durability, Log, LogConfig};
use std::path::Path;
use std::sync::Arc;

const DIR: &str = "/data/shard";
const BATCH_RECORDS: usize = 3;
const RECORD_BYTES: usize = 300;

fn config() -> LogConfig {
    LogConfig {
        // A 1 MiB segment: the index is synced every 64 KiB of log.
        segment_bytes_max: 1 << 20,
        index_interval_bytes: 1024,
        segment_age_ms_max: None,
        ..LogConfig::default()
    }
}

/// Appends `batches` batches (about 1 KiB each) and returns the largest batch's
/// size on disk.
fn append(log: &Log, batches: u64) -> u64 {
    let mut largest = 0;
    for batch in 0..batches {
        let before = segment_len(log);
        let records = make_batch(batch, BATCH_RECORDS, RECORD_BYTES);
        log.append(&borrow(&records)).unwrap();
        largest = largest.max(segment_len(log) - before);
    }
    largest
}

/// Writes `bytes` at `offset` of `path` (created if missing) and syncs them: they
/// survive any crash, as damage left by an earlier one would.
fn write_synced(fs: &Arc<MemFs>, path: &Path, bytes: &[u8], offset: u64) {
    let file = fs.open(path, OpenOptions::CREATE).unwrap();
    write_all_at(file.as_ref(), bytes, offset).unwrap();
    file.sync_data().unwrap();
}

fn segment_len(log: &Log) -> u64 {
    log.segments().last().map_or(0, |segment| segment.bytes)
}

/// After a power loss that keeps only what was synced, recovery scans again at
/// most `index_sync_bytes` plus one index interval and a batch or two of the
/// active segment, not all of it, and keeps every acknowledged record. Caught:
/// the active segment's `.idx` was never synced, so the whole segment was scanned
/// again and any damaged batch in it cut everything after it.
#[test]
fn power_loss_leaves_a_bounded_span_to_scan_again() {
    let fs = MemFs::new();
    let storage = mem_storage(&fs, Durability::Sync);
    let (log, _) = storage.open_log(DIR, config()).unwrap();
    let largest_batch = append(&log, 600);
    let acked = read_all(&log, 0);
    let segment_bytes = segment_len(&log);
    assert_eq!(log.segments().len(), 1, "one active segment");
    assert!(segment_bytes > 8 * config().index_sync_bytes());
    fs.crash(CrashMode::DropUnsynced);

    let storage = mem_storage(&fs, Durability::Sync);
    let (log, report) = storage.open_log(DIR, config()).unwrap();
    let bound = config().index_sync_bytes() + config().index_interval_bytes + 2 * largest_batch;
    assert!(
        report.rescanned_bytes <= bound,
        "scanned {} bytes again of a {segment_bytes}-byte segment; the bound is {bound}",
        report.rescanned_bytes
    );
    assert!(report.truncations.is_empty(), "{report:?}");
    assert_eq!(read_all(&log, 0), acked);
    storage.shutdown().unwrap();
}

/// A torn batch left after the last durable one is cut, and the cut is reported
/// (segment file, offset, bytes, batches) and recorded in `TRUNCATIONS`, which a
/// later clean open keeps.
#[test]
fn a_cut_is_reported_and_recorded() {
    let fs = MemFs::new();
    let storage = mem_storage(&fs, Durability::Sync);
    let (log, _) = storage.open_log(DIR, config()).unwrap();
    append(&log, 50);
    let acked = read_all(&log, 0);
    let segment = log.segments()[0];
    storage.shutdown().unwrap();
    let path = Path::new(DIR).join(segment_file_name(segment.base_position, "log"));
    let torn = b"SLBT a batch torn by the power loss";
    write_synced(&fs, &path, torn, segment.bytes);

    let storage = mem_storage(&fs, Durability::Sync);
    let (log, report) = storage.open_log(DIR, config()).unwrap();
    assert_eq!(report.truncations.len(), 1, "{report:?}");
    let cut = &report.truncations[0];
    assert_eq!(cut.segment, path);
    assert_eq!(cut.offset, segment.bytes);
    assert_eq!(cut.bytes, torn.len() as u64);
    assert_eq!(cut.batches, 1);
    assert_eq!(report.truncated_bytes, torn.len() as u64);
    assert_eq!(read_all(&log, 0), acked);
    storage.shutdown().unwrap();

    let storage = mem_storage(&fs, Durability::Sync);
    let (_log, report) = storage.open_log(DIR, config()).unwrap();
    assert!(report.truncations.is_empty(), "{report:?}");
    let recorded = truncations::load(fs.as_ref() as &dyn FileSystem, Path::new(DIR)).unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(
        recorded[0].segment,
        segment_file_name(segment.base_position, "log")
    );
    assert_eq!(
        (recorded[0].offset, recorded[0].bytes, recorded[0].batches),
        (segment.bytes, torn.len() as u64, 1)
    );
    storage.shutdown().unwrap();
}

/// The record keeps the newest `TRUNCATIONS_KEPT` cuts, and a damaged record is a
/// clear error from `load`, never a panic; recovery replaces it.
#[test]
fn the_record_is_bounded_and_a_damaged_one_is_replaced() {
    let fs = MemFs::new();
    let dyn_fs: Arc<dyn FileSystem> = fs.clone();
    let record = Path::new(DIR).join(truncations::TRUNCATIONS_FILE_NAME);
    let storage = mem_storage(&fs, Durability::Sync);
    let (log, _) = storage.open_log(DIR, config()).unwrap();
    append(&log, 2);
    let segment = log.segments()[0];
    storage.shutdown().unwrap();
    shardlog_segment::io::write_file_atomic(dyn_fs.as_ref(), &record, b"not a record\n").unwrap();
    let error = truncations::load(dyn_fs.as_ref(), Path::new(DIR)).unwrap_err();
    assert!(error.to_string().contains("line 1"), "{error}");

    let path = Path::new(DIR).join(segment_file_name(segment.base_position, "log"));
    for round in 0..truncations::TRUNCATIONS_KEPT + 3 {
        write_synced(&fs, &path, b"garbage", segment.bytes);
        let storage = mem_storage(&fs, Durability::Sync);
        let (_log, report) = storage.open_log(DIR, config()).unwrap();
        assert_eq!(report.truncated_bytes, 7, "round {round}");
        storage.shutdown().unwrap();
    }
    let recorded = truncations::load(dyn_fs.as_ref(), Path::new(DIR)).unwrap();
    assert_eq!(recorded.len(), truncations::TRUNCATIONS_KEPT);
    assert!(recorded.iter().all(|cut| cut.bytes == 7));
}

/// A last segment torn while being created (part of its header, no whole batch)
/// is removed, and that too is reported and recorded as a cut from offset 0.
#[test]
fn a_segment_torn_at_creation_is_reported_and_recorded() {
    let fs = MemFs::new();
    let storage = mem_storage(&fs, Durability::Sync);
    let (log, _) = storage.open_log(DIR, config()).unwrap();
    append(&log, 3);
    let acked = read_all(&log, 0);
    let end = log.end_position();
    storage.shutdown().unwrap();
    let torn = Path::new(DIR).join(segment_file_name(end, "log"));
    write_synced(&fs, &torn, b"SLSG half a header", 0);

    let storage = mem_storage(&fs, Durability::Sync);
    let (log, report) = storage.open_log(DIR, config()).unwrap();
    assert!(report.removed_files.contains(&torn), "{report:?}");
    assert_eq!(report.truncations.len(), 1, "{report:?}");
    let cut = &report.truncations[0];
    assert_eq!((&cut.segment, cut.offset, cut.bytes), (&torn, 0, 18));
    assert!(!fs.exists(&torn));
    assert_eq!(read_all(&log, 0), acked);
    storage.shutdown().unwrap();
    let recorded = truncations::load(fs.as_ref() as &dyn FileSystem, Path::new(DIR)).unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!((recorded[0].offset, recorded[0].bytes), (0, 18));
}
