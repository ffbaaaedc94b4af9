//! Sealing the active segment for time retention (issue 14, item 10): only an
//! expired, idle segment is sealed, appends racing the seal land whole in the next
//! segment, and positions stay contiguous, through removal and a reopen.

mod common;

use common::{borrow, make_batch, mem_storage, read_all, Owned};
use shardlog_segment::io::MemFs;
use shardlog_segment::{Durability, LogConfig};
use std::sync::atomic::{AtomicBool, Ordering};

const DIR: &str = "/s";

/// A segment whose newest record is not older than the cutoff stays active; an
/// older one is sealed, removed by retention, and the next append starts a new
/// segment at the next position, also after a reopen.
#[test]
fn only_an_expired_active_segment_is_sealed() {
    let fs = MemFs::new();
    let storage = mem_storage(&fs, Durability::Sync);
    let (log, _) = storage.open_log(DIR, LogConfig::default()).unwrap();
    let first = log.append(&borrow(&make_batch(0, 3, 100))).unwrap();
    assert!(!log.seal_active_older_than(first.arrival_ms).unwrap());
    assert!(
        !log.segments()[0].sealed,
        "newest record not before the cutoff"
    );

    assert!(log.seal_active_older_than(first.arrival_ms + 1).unwrap());
    assert!(log.segments()[0].sealed);
    assert!(
        !log.seal_active_older_than(u64::MAX).unwrap(),
        "no active segment left"
    );
    let removed = log.remove_oldest_segments(|_| true).unwrap();
    assert_eq!(removed.len(), 1);
    assert!(log.segments().is_empty());
    let next = log.append(&borrow(&make_batch(1, 2, 100))).unwrap();
    assert_eq!(
        next.base_position, 3,
        "positions go on after the expired ones"
    );
    assert!(log.seal_active_older_than(u64::MAX).unwrap());
    log.remove_oldest_segments(|_| true).unwrap();
    storage.shutdown().unwrap();

    let storage = mem_storage(&fs, Durability::Sync);
    let (log, _) = storage.open_log(DIR, LogConfig::default()).unwrap();
    assert_eq!(log.end_position(), 5);
    let after = log.append(&borrow(&make_batch(2, 1, 100))).unwrap();
    assert_eq!(after.base_position, 5, "no position handed out twice");
    storage.shutdown().unwrap();
}

/// Seals racing an appender: every acknowledged record is read back in order at
/// contiguous positions, before and after a reopen.
#[test]
fn seals_racing_appends_lose_nothing() {
    let fs = MemFs::new();
    let storage = mem_storage(&fs, Durability::Sync);
    let (log, _) = storage.open_log(DIR, LogConfig::default()).unwrap();
    let done = AtomicBool::new(false);
    let mut acked: Vec<Owned> = Vec::new();
    let mut seals = 0;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            // At least one seal, if only once the appender is done.
            while !done.load(Ordering::SeqCst) || seals == 0 {
                if log.seal_active_older_than(u64::MAX).unwrap() {
                    seals += 1;
                }
                std::thread::yield_now();
            }
        });
        for batch in 0..300 {
            let records = make_batch(batch, 2, 200);
            log.append(&borrow(&records)).unwrap();
            acked.extend(records);
        }
        done.store(true, Ordering::SeqCst);
    });
    let read: Vec<(u64, Owned)> = read_all(&log, 0);
    let positions: Vec<u64> = read.iter().map(|(position, _)| *position).collect();
    assert_eq!(positions, (0..acked.len() as u64).collect::<Vec<_>>());
    assert!(read.into_iter().map(|(_, r)| r).eq(acked.iter().cloned()));
    let sealed = log.segments().iter().filter(|s| s.sealed).count();
    assert_eq!(sealed, seals, "each seal made one sealed segment");
    storage.shutdown().unwrap();

    let storage = mem_storage(&fs, Durability::Sync);
    let (log, report) = storage.open_log(DIR, LogConfig::default()).unwrap();
    assert!(report.truncations.is_empty(), "{report:?}");
    assert!(read_all(&log, 0).into_iter().map(|(_, r)| r).eq(acked));
    storage.shutdown().unwrap();
}
