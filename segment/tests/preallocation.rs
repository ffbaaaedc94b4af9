//! Issue 16: the active segment's file is reserved ahead of its writes
//! (`preallocate_bytes_max`), so it is longer than what was written and ends in
//! zeros. Those zeros are the end of the log, never records: recovery after a power
//! loss trims them without reporting a cut and keeps every acknowledged record, a
//! sealed or closed segment ends exactly at its last batch, and damage in the
//! reserved span is still found and cut.

mod common;

use common::{borrow, make_batch, read_all};
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
        let store = storage(&fs, backend);
        let (log, report) = store.open_log(DIR, config(1 << 20)).unwrap();
        assert!(report.truncations.is_empty(), "{backend:?}: {report:?}");
        assert_eq!(read_all(&log, 0), acked, "{backend:?}");
        let bytes = log.segments().last().unwrap().bytes;
        assert_eq!(
            last_file(&fs, &log).1,
            bytes,
            "{backend:?}: closed at its end"
        );
        store.shutdown().unwrap();
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

/// Without preallocation the buffered file is exactly as long as the log.
#[test]
fn no_preallocation_writes_only_the_log() {
    let fs = MemFs::new();
    let store = storage(&fs, BackendKind::Buffered);
    let (log, _) = store.open_log(DIR, config(0)).unwrap();
    append(&log, 0..10);
    let written = log.segments().last().unwrap().bytes;
    assert_eq!(last_file(&fs, &log).1, written);
    store.shutdown().unwrap();
}
