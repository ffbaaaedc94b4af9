//! Reads verify each batch's checksum once per open log (the segment's verified
//! prefix), not on every read: damage is caught by the first read of a batch and by
//! every later open, never returned by a read that had not verified it.

mod common;

use common::{borrow, make_batch, read_all};
use shardlog_segment::io::RealFs;
use shardlog_segment::{
    BackendKind, Durability, Error, Log, LogConfig, ReadLimits, Storage, StorageConfig,
};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const CONFIG: StorageConfig = StorageConfig {
    backend: BackendKind::Buffered,
    durability: Durability::Sync,
};

/// First batch of every segment: right after the 64-byte segment header.
const FIRST_BATCH: u64 = 64;

fn log_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        ..LogConfig::default()
    }
}

/// A log of several segments (the last one active), open, in a new directory.
fn build() -> (tempfile::TempDir, PathBuf, Storage, Log) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("s");
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let (log, _) = storage.open_log(&dir, log_config()).unwrap();
    for batch in 0..60 {
        log.append(&borrow(&make_batch(batch, 4, 700))).unwrap();
    }
    assert!(log.segments().len() >= 3);
    (temp, dir, storage, log)
}

fn segment_path(dir: &Path, base_position: u64) -> PathBuf {
    dir.join(format!("{base_position:020}.log"))
}

/// Flips a byte in place (no truncation: mappings of the file stay valid and see it).
fn flip_in_place(path: &Path, offset: u64) {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset).unwrap();
    byte[0] ^= 0x40;
    file.write_all_at(&byte, offset).unwrap();
}

fn expect_corrupt(result: shardlog_segment::Result<impl std::fmt::Debug>, path: &Path) -> u64 {
    match result {
        Err(Error::Corrupt {
            path: found,
            offset,
            ..
        }) => {
            assert_eq!(found, path);
            offset
        }
        other => panic!("expected Corrupt in {}, got {other:?}", path.display()),
    }
}

const ONE_BATCH: ReadLimits = ReadLimits {
    records_max: 4,
    bytes_max: 1 << 20,
};

/// Damage in a sealed and in the active segment is caught by the first read of
/// each, at the damaged batch's offset.
#[test]
fn first_read_of_a_batch_verifies_it() {
    let (_temp, dir, storage, log) = build();
    let segments = log.segments();
    let active = segments.last().unwrap();
    assert!(!active.sealed);
    flip_in_place(&segment_path(&dir, 0), FIRST_BATCH + 200);
    flip_in_place(&segment_path(&dir, active.base_position), FIRST_BATCH + 200);
    let offset = expect_corrupt(log.read(0, ONE_BATCH), &segment_path(&dir, 0));
    assert_eq!(offset, FIRST_BATCH);
    let offset = expect_corrupt(
        log.read(active.base_position, ONE_BATCH),
        &segment_path(&dir, active.base_position),
    );
    assert_eq!(offset, FIRST_BATCH);
    storage.shutdown().unwrap();
}

/// Once a replay verified a segment, later reads skip the checksum (damage after
/// that is for `shardlog verify` to find); the next open verifies again.
#[test]
fn a_reopened_log_verifies_again() {
    let (_temp, dir, storage, log) = build();
    let end = log.end_position();
    assert_eq!(read_all(&log, 0).len() as u64, end);
    let damaged = segment_path(&dir, 0);
    flip_in_place(&damaged, FIRST_BATCH + 200);
    // Verified before the damage, in this open: not checked again.
    assert_eq!(read_all(&log, 0).len() as u64, end);
    storage.shutdown().unwrap();
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let (log, _) = storage.open_log(&dir, log_config()).unwrap();
    let offset = expect_corrupt(log.read(0, ONE_BATCH), &damaged);
    assert_eq!(offset, FIRST_BATCH);
    storage.shutdown().unwrap();
}

/// The verified prefix ends where the reads so far ended: a batch after it is
/// still verified by the read that reaches it.
#[test]
fn batches_past_the_verified_prefix_are_verified() {
    let (_temp, dir, storage, log) = build();
    let first = log.segments()[0];
    let sealed = segment_path(&dir, 0);
    let sealed_len = std::fs::metadata(&sealed).unwrap().len();
    // Verifies the first batch only.
    assert!(log.read(0, ONE_BATCH).is_ok());
    flip_in_place(&sealed, sealed_len - 10);
    let whole_segment = ReadLimits {
        records_max: (first.end_position - first.base_position) as usize,
        bytes_max: 64 << 20,
    };
    let offset = expect_corrupt(log.read(0, whole_segment), &sealed);
    assert!(offset > FIRST_BATCH && offset < sealed_len - 10, "{offset}");
    storage.shutdown().unwrap();
}
