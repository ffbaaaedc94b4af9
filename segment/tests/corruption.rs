//! Damaged files: corruption inside a sealed segment is an error naming the file
//! and offset (never skipped); missing or torn indexes are rebuilt from the log.

mod common;

use common::{borrow, make_batch, read_all};
use shardlog_segment::io::RealFs;
use shardlog_segment::{
    BackendKind, Durability, Error, Log, LogConfig, ReadLimits, Storage, StorageConfig,
};
use std::path::{Path, PathBuf};

const CONFIG: StorageConfig = StorageConfig {
    backend: BackendKind::Buffered,
    durability: Durability::Sync,
};

fn log_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        ..LogConfig::default()
    }
}

/// Writes a log of several segments and returns the records' count.
fn build(dir: &Path) -> u64 {
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let (log, _) = storage.open_log(dir, log_config()).unwrap();
    for batch in 0..60 {
        log.append(&borrow(&make_batch(batch, 4, 700))).unwrap();
    }
    let end = log.end_position();
    assert!(log.segments().len() >= 3);
    storage.shutdown().unwrap();
    end
}

fn segment_file(dir: &Path, index: usize, extension: &str) -> PathBuf {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    names.sort();
    names[index].clone()
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

fn open(storage: &Storage, dir: &Path) -> shardlog_segment::Result<Log> {
    storage.open_log(dir, log_config()).map(|(log, _)| log)
}

/// A flipped byte in a sealed segment with a good index: the read that reaches it fails
/// with the file and the batch's offset.
#[test]
fn corrupt_sealed_batch_fails_the_read() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("s");
    build(&dir);
    let target = segment_file(&dir, 0, "log");
    // Offset 64 is the first batch; damage a byte in its payload.
    flip_byte(&target, 64 + 200);
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let log = open(&storage, &dir).unwrap();
    let limits = ReadLimits {
        records_max: 10,
        bytes_max: 1 << 20,
    };
    let error = log.read(0, limits).unwrap_err();
    match &error {
        Error::Corrupt { path, offset, .. } => {
            assert_eq!(path, &target);
            assert_eq!(*offset, 64);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(error.to_string().contains("checksum mismatch"), "{error}");
    // Reads that do not touch the damaged batch still work.
    let later = log.segments()[1].base_position;
    assert!(log.read(later, limits).is_ok());
    storage.shutdown().unwrap();
}

/// With the index gone the segment is scanned on open, and the damage is an open error.
#[test]
fn corrupt_sealed_batch_without_index_fails_open() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("s");
    build(&dir);
    let target = segment_file(&dir, 1, "log");
    let len = std::fs::metadata(&target).unwrap().len();
    flip_byte(&target, len / 2);
    std::fs::remove_file(segment_file(&dir, 1, "idx")).unwrap();
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let error = open(&storage, &dir).unwrap_err();
    match &error {
        Error::Corrupt { path, offset, .. } => {
            assert_eq!(path, &target);
            assert!(
                *offset <= len / 2 && *offset >= 64,
                "offset {offset} of the damaged batch"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(error.to_string().contains(&target.display().to_string()));
}

/// Missing index files of sealed segments and a torn index of the active one are
/// rebuilt, and every record reads back.
#[test]
fn missing_and_torn_indexes_are_rebuilt() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("s");
    let end = build(&dir);
    let idx0 = segment_file(&dir, 0, "idx");
    let tix1 = segment_file(&dir, 1, "tix");
    let active_idx = segment_file(&dir, 2, "idx");
    std::fs::remove_file(&idx0).unwrap();
    std::fs::remove_file(&tix1).unwrap();
    let active_len = std::fs::metadata(&active_idx).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&active_idx)
        .unwrap();
    file.set_len(active_len - 5).unwrap();
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let (log, report) = storage.open_log(&dir, log_config()).unwrap();
    assert!(report.rebuilt_indexes.contains(&idx0), "{report:?}");
    assert!(report.rebuilt_indexes.contains(&tix1), "{report:?}");
    assert!(report.rebuilt_indexes.contains(&active_idx), "{report:?}");
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(read_all(&log, 0).len() as u64, end);
    assert_eq!(read_all(&log, end / 2).len() as u64, end - end / 2);
    storage.shutdown().unwrap();
    // Rebuilt once, they are used as they are the next time.
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let (_, report) = storage.open_log(&dir, log_config()).unwrap();
    assert!(report.rebuilt_indexes.is_empty(), "{report:?}");
    storage.shutdown().unwrap();
}

/// Retention unlinks sealed segments; a reader holding one keeps reading it.
#[test]
fn removed_segments_stay_readable_for_holders() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("s");
    build(&dir);
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let log = open(&storage, &dir).unwrap();
    let expected: Vec<Vec<u8>> = read_all(&log, 0)
        .into_iter()
        .take(30)
        .map(|(_, r)| r.data)
        .collect();
    let held = log
        .read(
            0,
            ReadLimits {
                records_max: 30,
                bytes_max: 1 << 20,
            },
        )
        .unwrap();
    let first_segment = log.segments()[0];
    let removed = log
        .remove_oldest_segments(|s| s.base_position == 0)
        .unwrap();
    assert_eq!(removed, vec![first_segment]);
    assert!(!dir.join(format!("{:020}.log", 0)).exists(), "unlinked");
    let got: Vec<Vec<u8>> = held.records().map(|r| r.data.to_vec()).collect();
    assert_eq!(got, expected);
    let trimmed = log
        .read(
            0,
            ReadLimits {
                records_max: 1,
                bytes_max: 1,
            },
        )
        .unwrap_err();
    assert!(
        matches!(trimmed, Error::PositionTrimmed { requested: 0, first } if first == first_segment.end_position)
    );
    assert_eq!(log.first_position(), first_segment.end_position);
    storage.shutdown().unwrap();
    // After a restart the log starts where retention left it.
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let log = open(&storage, &dir).unwrap();
    assert_eq!(log.first_position(), first_segment.end_position);
    storage.shutdown().unwrap();
}

/// Timestamp lookups find the first record at or after a time, across segments.
#[test]
fn position_at_time_finds_first_record_at_or_after() {
    let temp = tempfile::tempdir().unwrap();
    let storage = Storage::open(RealFs::shared(), CONFIG).unwrap();
    let (log, _) = storage
        .open_log(temp.path().join("s"), log_config())
        .unwrap();
    let mut arrivals = Vec::new();
    for batch in 0..300 {
        let appended = log.append(&borrow(&make_batch(batch, 2, 300))).unwrap();
        for k in 0..appended.count {
            arrivals.push((appended.base_position + k, appended.arrival_ms));
        }
    }
    for &(_, time) in arrivals.iter().step_by(17) {
        let expected = arrivals.iter().find(|(_, t)| *t >= time).unwrap().0;
        assert_eq!(log.position_at_time(time).unwrap(), expected);
    }
    assert_eq!(log.position_at_time(0).unwrap(), 0);
    assert_eq!(log.position_at_time(u64::MAX).unwrap(), log.end_position());
    storage.shutdown().unwrap();
}
