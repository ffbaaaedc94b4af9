//! Segments roll by size and by age, and a batch never spans two segments.

mod common;

use common::{borrow, make_batch, mem_storage, read_all};
use shardlog_segment::io::MemFs;
use shardlog_segment::{Durability, LogConfig, Storage};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn open(fs: &Arc<MemFs>, config: LogConfig) -> (Storage, shardlog_segment::Log) {
    let storage = mem_storage(fs, Durability::Sync);
    let (log, _) = storage.open_log("/s", config).unwrap();
    (storage, log)
}

/// A batch larger than the segment size gets a segment of its own; the next batch
/// starts another.
#[test]
fn size_roll_keeps_batches_whole() {
    let fs = MemFs::new();
    let config = LogConfig {
        segment_bytes_max: 64 << 10,
        segment_age_ms_max: None,
        ..LogConfig::default()
    };
    let (storage, log) = open(&fs, config);
    log.append(&borrow(&make_batch(0, 2, 1000))).unwrap();
    let big = log.append(&borrow(&make_batch(1, 1, 100_000))).unwrap();
    log.append(&borrow(&make_batch(2, 2, 1000))).unwrap();
    let segments = log.segments();
    let bases: Vec<u64> = segments.iter().map(|s| s.base_position).collect();
    assert_eq!(bases, vec![0, big.base_position, big.base_position + 1]);
    assert!(
        segments[1].bytes > 64 << 10,
        "the big batch exceeds the size by itself"
    );
    assert!(segments.iter().all(|s| s.end_position > s.base_position));
    assert_eq!(read_all(&log, 0).len(), 5);
    storage.shutdown().unwrap();
    // The layout survives a restart.
    let (storage, log) = open(&fs, config);
    let after: Vec<u64> = log.segments().iter().map(|s| s.base_position).collect();
    assert_eq!(after, bases);
    storage.shutdown().unwrap();
}

/// With a 1 ms age limit, a later append starts a new segment.
#[test]
fn age_roll() {
    let fs = MemFs::new();
    let config = LogConfig {
        segment_age_ms_max: Some(1),
        ..LogConfig::default()
    };
    let (storage, log) = open(&fs, config);
    let first = log.append(&borrow(&make_batch(0, 1, 10))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut batch = 1;
    while log.segments().len() < 2 {
        assert!(Instant::now() < deadline, "no roll by age");
        log.append(&borrow(&make_batch(batch, 1, 10))).unwrap();
        batch += 1;
    }
    let second = log.segments()[1];
    assert!(second.created_ms > first.arrival_ms);
    assert_eq!(read_all(&log, 0).len() as u64, batch);
    storage.shutdown().unwrap();
}
