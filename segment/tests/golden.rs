//! Golden fixtures of on-disk format version 1: a log written by this version must
//! stay readable, and encoding must keep producing the same bytes. A format change
//! that breaks old data fails here.
//!
//! To regenerate (only together with a new format version and a FORMAT.md entry):
//! `SHARDLOG_WRITE_FIXTURES=1 cargo test -p shardlog-segment --test golden`.

mod common;

use common::{borrow, make_batch, read_all};
use shardlog_segment::batch::{encode_batch, BatchLimits};
use shardlog_segment::io::RealFs;
use shardlog_segment::{BackendKind, BatchView, Durability, LogConfig, Storage, StorageConfig};
use std::path::{Path, PathBuf};

const CONFIG: StorageConfig = StorageConfig {
    backend: BackendKind::Buffered,
    durability: Durability::Sync,
};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1")
}

fn log_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        index_interval_bytes: 0,
        ..LogConfig::default()
    }
}

const BATCHES: u64 = 40;

fn write_fixtures() {
    let dir = fixture_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let (log, _) = storage.open_log(&dir, log_config()).unwrap();
    for batch in 0..BATCHES {
        log.append(&borrow(&make_batch(batch, 3, 600))).unwrap();
    }
    storage.shutdown().unwrap();
}

/// The version-1 fixture opens without repair and reads back the records it holds.
#[test]
fn version_1_log_reads_back() {
    if std::env::var_os("SHARDLOG_WRITE_FIXTURES").is_some() {
        write_fixtures();
    }
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("v1");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let (log, report) = storage.open_log(&dir, log_config()).unwrap();
    assert_eq!(report.truncated_bytes, 0, "{report:?}");
    assert!(report.rebuilt_indexes.is_empty(), "{report:?}");
    assert!(
        log.segments().len() >= 2,
        "the fixture spans a sealed and an active segment"
    );
    let records: Vec<_> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    let expected: Vec<_> = (0..BATCHES).flat_map(|b| make_batch(b, 3, 600)).collect();
    assert_eq!(records, expected);
    storage.shutdown().unwrap();
}

/// Encoding the fixture's first batch again gives the very same bytes.
#[test]
fn version_1_encoding_is_stable() {
    let bytes = std::fs::read(fixture_dir().join(format!("{:020}.log", 0))).unwrap();
    let stored = BatchView::parse(&bytes[64..]).unwrap();
    let header = stored.header();
    let records = make_batch(0, 3, 600);
    let limits = BatchLimits {
        record_bytes_max: 1 << 20,
        batch_bytes_max: 64 << 20,
    };
    let encoded = encode_batch(0, header.first_arrival_ms, &borrow(&records), &limits).unwrap();
    assert_eq!(encoded, stored.bytes());
}
