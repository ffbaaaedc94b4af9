//! Readers racing appenders never see a partial batch or an unacknowledged record:
//! every batch a reader sees is whole, and the log it sees only grows.

mod common;

use common::{borrow, make_batch};
use shardlog_segment::io::RealFs;
use shardlog_segment::{BackendKind, Durability, LogConfig, ReadLimits, Storage, StorageConfig};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// (batch, index in batch, batch size) from a payload made by `make_batch`.
fn parse(data: &[u8]) -> (u64, usize, usize) {
    let fields: Vec<&[u8]> = data.splitn(4, |b| *b == b':').take(3).collect();
    let number =
        |field: &[u8]| -> u64 { std::str::from_utf8(&field[1..]).unwrap().parse().unwrap() };
    (
        number(fields[0]),
        number(fields[1]) as usize,
        number(fields[2]) as usize,
    )
}

fn race(backend: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig {
        backend,
        durability: Durability::Sync,
    };
    let log_config = LogConfig {
        segment_bytes_max: 128 << 10,
        index_interval_bytes: 0,
        ..LogConfig::default()
    };
    let storage = Storage::open(RealFs::shared(), config).unwrap();
    let (log, _) = storage.open_log(dir.path().join("s"), log_config).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|scope| {
        for producer in 0..3u64 {
            let log = log.clone();
            scope.spawn(move || {
                for i in 0..150u64 {
                    let batch = producer * 1000 + i;
                    let records = make_batch(batch, 1 + (i % 7) as usize, (i * 97 % 2500) as usize);
                    log.append(&borrow(&records)).unwrap();
                }
            });
        }
        for _ in 0..2 {
            let log = log.clone();
            let stop = Arc::clone(&stop);
            scope.spawn(move || {
                let mut seen_end = 0;
                while !stop.load(Ordering::Relaxed) {
                    let end_before = log.end_position();
                    let result = log
                        .read(
                            0,
                            ReadLimits {
                                records_max: 100_000,
                                bytes_max: 1 << 30,
                            },
                        )
                        .unwrap();
                    assert!(
                        result.next_position >= end_before,
                        "read at least what was acknowledged"
                    );
                    assert!(result.next_position >= seen_end, "the log only grows");
                    seen_end = result.next_position;
                    // Group records by batch: each batch seen must be complete.
                    let mut batches: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
                    let mut counts = BTreeMap::new();
                    for record in result.records() {
                        let (batch, index, count) = parse(record.data);
                        batches.entry(batch).or_default().push(index);
                        counts.insert(batch, count);
                    }
                    for (batch, indexes) in &batches {
                        assert_eq!(
                            *indexes,
                            (0..counts[batch]).collect::<Vec<_>>(),
                            "batch {batch} whole and in order"
                        );
                    }
                }
            });
        }
        // Let the readers run while the producers write, then stop them.
        scope.spawn(|| {
            while log.end_position() < 3 * 150 * 3 {
                log.wait_for(log.end_position(), std::time::Duration::from_millis(50));
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    assert!(log.segments().len() > 2);
    storage.shutdown().unwrap();
}

/// With the buffered backend.
#[test]
fn readers_never_see_partial_batches_buffered() {
    race(BackendKind::Buffered);
}

/// With the io_uring backend.
#[test]
fn readers_never_see_partial_batches_io_uring() {
    race(BackendKind::IoUring);
}
