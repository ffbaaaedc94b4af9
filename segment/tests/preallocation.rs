//! Issue 16: the active segment's file is reserved ahead of its writes
//! (`preallocate_bytes_max`), so it is longer than what was written and ends in
//! zeros. Those zeros are the end of the log, never records: recovery after a power
//! loss trims them without reporting a cut and keeps every acknowledged record, a
//! sealed or closed segment ends exactly at its last batch, and damage in the
//! reserved span is still found and cut. Without a reservation, a buffered log
//! writing small rounds keeps its file written ahead in zeros (issue 16: its syncs
//! then overwrite blocks instead of extending the file), with the same rules.

mod common;

use common::{borrow, make_batch, read_all, Owned};
use shardlog_segment::format::segment_file_name;
use shardlog_segment::io::{write_all_at, CrashMode, FileSystem, MemFs, OpenOptions};
use shardlog_segment::{BackendKind, Durability, Log, LogConfig, Storage, StorageConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const DIR: &str = "/data/shard";

fn config(preallocate_bytes_max: u64) -> LogConfig {
    LogConfig {
        segment_bytes_max: 4 << 20,
        segment_age_ms_max: None,
        preallocate_bytes_max,
        ..LogConfig::default()
    }
}

fn storage(fs: &Arc<MemFs>, backend: BackendKind) -> Storage {
    let config = StorageConfig {
        backend,
        durability: Durability::Sync,
    };
    Storage::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap()
}

fn append(log: &Log, batches: std::ops::Range<u64>) {
    for batch in batches {
        let records = make_batch(batch, 4, 500);
        log.append(&borrow(&records)).unwrap();
    }
}

/// The file of the newest segment, and its length on the file system.
fn last_file(fs: &Arc<MemFs>, log: &Log) -> (PathBuf, u64) {
    let base = log.segments().last().unwrap().base_position;
    let path = Path::new(DIR).join(segment_file_name(base, "log"));
    let len = fs.open(&path, OpenOptions::READ).unwrap().len().unwrap();
    (path, len)
}

/// Reopens the log after a clean shutdown: no cut, every acknowledged record back,
/// and the active file ending at its last batch (no zeros kept).
fn reopens_closed_at_its_end(
    fs: &Arc<MemFs>,
    backend: BackendKind,
    config: LogConfig,
    acked: &[(u64, Owned)],
) {
    let store = storage(fs, backend);
    let (log, report) = store.open_log(DIR, config).unwrap();
    assert!(report.truncations.is_empty(), "{backend:?}: {report:?}");
    assert_eq!(read_all(&log, 0), acked, "{backend:?}");
    let bytes = log.segments().last().unwrap().bytes;
    assert_eq!(
        last_file(fs, &log).1,
        bytes,
        "{backend:?}: closed at its end"
    );
    store.shutdown().unwrap();
}

/// With preallocation the active file runs ahead of the log in zeros; a power
/// loss then reopens with no cut reported, the zeros trimmed, every acknowledged
/// record back, and a closed segment ending at its last batch.
#[test]
fn zero_tail_of_a_preallocated_segment_is_no_cut() {
    for backend in [BackendKind::Buffered, BackendKind::IoUring] {
        let fs = MemFs::new();
        let store = storage(&fs, backend);
        let (log, _) = store.open_log(DIR, config(1 << 20)).unwrap();
        append(&log, 0..40);
        let written = log.segments().last().unwrap().bytes;
        let (_, file_len) = last_file(&fs, &log);
        assert!(
            file_len > written + 4096,
            "{backend:?}: {file_len} of {written}"
        );
        let acked = read_all(&log, 0);
        fs.crash(CrashMode::DropUnsynced);

        let store = storage(&fs, backend);
        let (log, report) = store.open_log(DIR, config(1 << 20)).unwrap();
        assert!(report.truncations.is_empty(), "{backend:?}: {report:?}");
        assert_eq!(report.truncated_bytes, 0, "{backend:?}");
        assert_eq!(read_all(&log, 0), acked, "{backend:?}");
        assert_eq!(
            last_file(&fs, &log).1,
            written,
            "{backend:?}: zeros trimmed"
        );
        append(&log, 40..45);
        let acked = read_all(&log, 0);
        store.shutdown().unwrap();
        reopens_closed_at_its_end(&fs, backend, config(1 << 20), &acked);
    }
}

/// Non-zero bytes inside the reserved span after the last batch are a torn write,
/// not fill: recovery cuts them and says so.
#[test]
fn damage_in_the_reserved_span_is_still_cut() {
    let fs = MemFs::new();
    let store = storage(&fs, BackendKind::Buffered);
    let (log, _) = store.open_log(DIR, config(1 << 20)).unwrap();
    append(&log, 0..10);
    let acked = read_all(&log, 0);
    let written = log.segments().last().unwrap().bytes;
    let (path, file_len) = last_file(&fs, &log);
    assert!(file_len > written + 4096);
    store.shutdown().unwrap();
    let file = fs.open(&path, OpenOptions::WRITE).unwrap();
    // Shutdown trimmed the reservation: grow it back as a crash would have left it.
    file.set_len(file_len).unwrap();
    write_all_at(file.as_ref(), b"SLBTtorn", written + 4096).unwrap();
    file.sync_data().unwrap();

    let store = storage(&fs, BackendKind::Buffered);
    let (log, report) = store.open_log(DIR, config(1 << 20)).unwrap();
    assert_eq!(report.truncations.len(), 1, "{report:?}");
    assert_eq!(report.truncations[0].offset, written);
    assert_eq!(report.truncated_bytes, file_len - written);
    assert_eq!(read_all(&log, 0), acked);
    store.shutdown().unwrap();
}

/// Without preallocation, a buffered file taking rounds larger than a small
/// round's limit (64 KiB batches) is exactly as long as the log: no zeros ahead.
#[test]
fn no_preallocation_large_rounds_write_only_the_log() {
    let fs = MemFs::new();
    let store = storage(&fs, BackendKind::Buffered);
    let (log, _) = store.open_log(DIR, config(0)).unwrap();
    for batch in 0..10 {
        let records = make_batch(batch, 16, 4096);
        log.append(&borrow(&records)).unwrap();
    }
    let written = log.segments().last().unwrap().bytes;
    assert_eq!(last_file(&fs, &log).1, written);
    store.shutdown().unwrap();
}

/// Without preallocation, a log appending small batches keeps its active
/// file written ahead in zeros, synced with the rounds (so its later syncs
/// overwrite); a power loss then reopens with no cut, every acknowledged record
/// back and the zeros trimmed; appends go on after them, and a closed segment ends
/// at its last batch, buffered or `O_DIRECT`.
#[test]
fn small_rounds_fill_ahead_and_recover_without_a_cut() {
    for backend in [BackendKind::Buffered, BackendKind::IoUring] {
        let fs = MemFs::new();
        let store = storage(&fs, backend);
        let (log, _) = store.open_log(DIR, config(0)).unwrap();
        append(&log, 0..40);
        let written = log.segments().last().unwrap().bytes;
        let (path, file_len) = last_file(&fs, &log);
        assert!(
            file_len >= written + (128 << 10),
            "{backend:?}: {file_len} of {written}"
        );
        let acked = read_all(&log, 0);
        fs.crash(CrashMode::DropUnsynced);
        // The zeros were synced with the rounds: the file survives at its filled length.
        let len_after_crash = fs.open(&path, OpenOptions::READ).unwrap().len().unwrap();
        assert_eq!(len_after_crash, file_len, "{backend:?}");

        let store = storage(&fs, backend);
        let (log, report) = store.open_log(DIR, config(0)).unwrap();
        assert!(report.truncations.is_empty(), "{backend:?}: {report:?}");
        assert_eq!(report.truncated_bytes, 0, "{backend:?}");
        assert_eq!(read_all(&log, 0), acked, "{backend:?}");
        append(&log, 40..45);
        let acked = read_all(&log, 0);
        assert_eq!(acked.len(), 45 * 4, "{backend:?}");
        store.shutdown().unwrap();

        reopens_closed_at_its_end(&fs, backend, config(0), &acked);
    }
}

/// A buffered log filled ahead that rolls seals its full segment at its last batch
/// (no zeros kept in a sealed segment) and fills the new one.
#[test]
fn a_filled_segment_is_sealed_at_its_last_batch() {
    let fs = MemFs::new();
    let store = storage(&fs, BackendKind::Buffered);
    let config = LogConfig {
        segment_bytes_max: 64 << 10,
        ..config(0)
    };
    let (log, _) = store.open_log(DIR, config).unwrap();
    append(&log, 0..60);
    let segments = log.segments();
    assert!(segments.len() >= 2, "{segments:?}");
    for segment in &segments[..segments.len() - 1] {
        let path = Path::new(DIR).join(segment_file_name(segment.base_position, "log"));
        let len = fs.open(&path, OpenOptions::READ).unwrap().len().unwrap();
        assert_eq!(
            len, segment.bytes,
            "sealed segment {}",
            segment.base_position
        );
        assert!(len <= 64 << 10);
    }
    let acked = read_all(&log, 0);
    fs.crash(CrashMode::DropUnsynced);
    let store = storage(&fs, BackendKind::Buffered);
    let (log, report) = store.open_log(DIR, config).unwrap();
    assert!(report.truncations.is_empty(), "{report:?}");
    assert_eq!(read_all(&log, 0), acked);
    store.shutdown().unwrap();
}
