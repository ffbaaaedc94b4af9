//! Regression tests of the storage core's fault paths (issue 14): each names what
//! it caught. Acknowledged records are never lost and positions are never reused,
//! whatever failed.

mod common;

use common::{borrow, make_batch, read_all, Owned};
use shardlog_segment::io::{CrashMode, Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs};
use shardlog_segment::{BackendKind, Durability, Log, LogConfig, Record, Storage, StorageConfig};
use std::path::Path;
use std::sync::Arc;

const DIR: &str = "/data/shard";

fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        index_interval_bytes: 1024,
        ..LogConfig::default()
    }
}

fn storage(fs: Arc<dyn FileSystem>, durability: Durability) -> Storage {
    Storage::open(
        fs,
        StorageConfig {
            backend: BackendKind::Buffered,
            durability,
        },
    )
    .unwrap()
}

fn fault(op: IoOp, path_contains: &str, times: u64) -> Fault {
    Fault {
        op,
        path_contains: Some(path_contains.into()),
        skip: 0,
        times,
        action: FaultAction::Error(libc::EIO),
    }
}

fn append_batches(log: &Log, first: u64, batches: u64, acked: &mut Vec<Owned>) {
    for batch in first..first + batches {
        let records = make_batch(batch, 3, 300);
        log.append(&borrow(&records)).unwrap();
        acked.extend(records);
    }
}

fn records(log: &Log) -> Vec<Owned> {
    read_all(log, 0).into_iter().map(|(_, r)| r).collect()
}

/// fsyncgate: after a failed fdatasync the page cache still serves the batch the
/// device never got; the reopen that follows must not take it for durable. Caught:
/// recovery read the lost batch through the cache, appended after it, and a power
/// loss then left a hole that cut every record acknowledged after the reopen.
#[test]
fn reopen_after_failed_sync_keeps_later_acknowledged_records_through_power_loss() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.clone() as Arc<dyn FileSystem>);
    let storage = storage(faulty.clone() as Arc<dyn FileSystem>, Durability::Sync);
    let (log, _) = storage.open_log(DIR, LogConfig::default()).expect("open");
    let mut acked = Vec::new();
    append_batches(&log, 0, 10, &mut acked);
    faulty.inject(fault(IoOp::Sync, ".log", 1));
    let lost = make_batch(999, 3, 300);
    assert!(
        log.append(&borrow(&lost)).is_err(),
        "the failed sync fails the append"
    );
    log.close().unwrap();
    let (log, _) = storage.open_log(DIR, LogConfig::default()).unwrap();
    let after_reopen = records(&log);
    assert!(
        after_reopen == acked,
        "the unacknowledged batch must be gone after the reopen: {} records, {} acknowledged",
        after_reopen.len(),
        acked.len()
    );
    append_batches(&log, 10, 10, &mut acked);
    storage.shutdown().unwrap();

    mem.crash(CrashMode::DropUnsynced);
    let storage = storage_on(&mem);
    let (log, report) = storage.open_log(DIR, LogConfig::default()).unwrap();
    assert_eq!(report.truncated_bytes, 0, "{report:?}");
    let survived = records(&log);
    assert!(
        survived == acked,
        "{} records survived the power loss, {} were acknowledged",
        survived.len(),
        acked.len()
    );
}

fn storage_on(mem: &Arc<MemFs>) -> Storage {
    storage(mem.clone() as Arc<dyn FileSystem>, Durability::Sync)
}

/// Fills `log` until it has at least `sealed` sealed segments.
fn fill_segments(log: &Log, sealed: usize, acked: &mut Vec<Owned>) -> u64 {
    let mut batch = 0;
    while log.segments().iter().filter(|s| s.sealed).count() < sealed {
        append_batches(log, batch, 1, acked);
        batch += 1;
    }
    batch
}

/// Positions restart at 0: a failed roll left only sealed segments, retention then
/// removed all of them, and the reopened shard handed out position 0 again. The
/// next position must survive on its own.
#[test]
fn positions_do_not_restart_after_a_failed_roll_and_full_retention() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.clone() as Arc<dyn FileSystem>);
    let storage = storage(faulty.clone() as Arc<dyn FileSystem>, Durability::Sync);
    let (log, _) = storage.open_log(DIR, small_segments()).unwrap();
    let mut acked = Vec::new();
    let mut batch = fill_segments(&log, 2, &mut acked);
    // The next roll cannot create its segment file.
    faulty.inject(fault(IoOp::Open, ".log", u64::MAX));
    loop {
        let records = make_batch(batch, 3, 300);
        batch += 1;
        match log.append(&borrow(&records)) {
            Ok(_) => acked.extend(records),
            Err(_) => break,
        }
    }
    faulty.clear();
    let end = log.end_position();
    assert!(
        log.segments().iter().all(|s| s.sealed),
        "the roll failed after sealing"
    );
    let removed = log.remove_oldest_segments(|_| true).unwrap();
    assert!(!removed.is_empty());
    log.close().unwrap();
    drop(log);
    let (log, _) = storage.open_log(DIR, small_segments()).unwrap();
    assert_eq!(log.end_position(), end, "the next position survived");
    assert_eq!(log.first_position(), end);
    let next = log
        .append(&borrow(&make_batch(batch, 1, 10)))
        .unwrap()
        .base_position;
    assert_eq!(next, end, "no position is handed out twice");
    storage.shutdown().unwrap();
    mem.crash(CrashMode::DropUnsynced);
    let storage = storage_on(&mem);
    let (log, _) = storage.open_log(DIR, small_segments()).unwrap();
    assert_eq!(log.end_position(), end + 1, "after a power loss too");
}

/// A compacted segment found last at open was recovered as the active one, which
/// ignored the end its header records: 903 acknowledged positions became 900 and
/// the next appends reused positions.
#[test]
fn compacted_last_segment_keeps_its_recorded_end() {
    let mem = MemFs::new();
    let storage = storage_on(&mem);
    let (log, _) = storage.open_log(DIR, small_segments()).unwrap();
    let one = |key: &str, data: &[u8]| -> u64 {
        let owned = [Owned {
            key: key.into(),
            hash: None,
            data: data.to_vec(),
        }];
        log.append(&borrow(&owned)).unwrap().base_position
    };
    // Segment 1 ends with records of keys that the active segment writes again.
    let payload = vec![7u8; 2000];
    while log.segments().iter().filter(|s| s.sealed).count() < 1 {
        one("filler", &payload);
    }
    while log.segments().iter().filter(|s| s.sealed).count() < 2 {
        one("tail", &payload);
    }
    let sealed_end = log.segments()[1].end_position;
    one("tail", b"newest");
    let report = log.compact().unwrap();
    assert!(report.records_dropped > 0, "{report:?}");
    let segments = log.segments();
    let active_base = segments.last().unwrap().base_position;
    log.close().unwrap();
    storage.shutdown().unwrap();
    // The active segment goes (as a roll that failed before its first batch was
    // acknowledged would leave things); the compacted segment is now last.
    for ext in ["log", "idx", "tix"] {
        let path = format!("{DIR}/{active_base:020}.{ext}");
        mem.remove_file(Path::new(&path)).unwrap();
    }
    let storage = storage_on(&mem);
    let (log, _) = storage.open_log(DIR, small_segments()).unwrap();
    assert_eq!(log.end_position(), sealed_end, "the compacted end is kept");
    let next = log
        .append(&[Record {
            partition_key: "after",
            explicit_hash_key: None,
            data: b"x",
        }])
        .unwrap()
        .base_position;
    assert_eq!(next, sealed_end, "no position is reused");
    storage.shutdown().unwrap();
    let storage = storage_on(&mem);
    let (log, _) = storage.open_log(DIR, small_segments()).unwrap();
    assert_eq!(log.end_position(), sealed_end + 1, "and it reopens");
}

/// Compaction under the `none` policy counted an unsynced record as the newest of
/// its key and dropped the durable older one; a power loss then lost the key.
#[test]
fn compaction_keeps_the_durable_version_of_a_key_with_an_unsynced_newer_one() {
    let mem = MemFs::new();
    let storage = storage(mem.clone() as Arc<dyn FileSystem>, Durability::None);
    let (log, _) = storage.open_log(DIR, small_segments()).unwrap();
    let put = |key: &str, data: &[u8]| {
        log.append(&[Record {
            partition_key: key,
            explicit_hash_key: None,
            data,
        }])
        .unwrap()
    };
    put("k", b"durable");
    let filler = vec![1u8; 2000];
    // Rolling seals (and syncs) the segment that holds the first version.
    while log.segments().iter().filter(|s| s.sealed).count() < 1 {
        put("filler", &filler);
    }
    put("k", b"unsynced");
    let report = log.compact().unwrap();
    let sealed_keys: Vec<String> = read_all(&log, 0)
        .into_iter()
        .filter(|(position, _)| *position < log.segments()[0].end_position)
        .map(|(_, record)| record.key)
        .collect();
    assert!(
        sealed_keys.iter().any(|key| key == "k"),
        "the durable version was dropped: {report:?}"
    );
    drop(log);
    mem.crash(CrashMode::DropUnsynced);
    let storage = storage_on(&mem);
    let (log, _) = storage.open_log(DIR, small_segments()).unwrap();
    let survivors: Vec<Vec<u8>> = records(&log)
        .into_iter()
        .filter(|record| record.key == "k")
        .map(|record| record.data)
        .collect();
    assert_eq!(survivors, vec![b"durable".to_vec()]);
}

/// A log directory created by an open whose sync of the parent failed was never
/// made durable: the retried open found the directory and synced nothing, so a
/// power loss took the directory with every record acknowledged into it. Caught by
/// the fault campaign (faults on every 2nd directory sync).
#[test]
fn reopen_after_failed_parent_sync_makes_the_log_directory_durable() {
    let mem = MemFs::new();
    shardlog_segment::io::create_dir_all_durably(mem.as_ref(), Path::new("/data")).unwrap();
    let faulty = FaultyFs::new(mem.session());
    let storage = storage(faulty.clone() as Arc<dyn FileSystem>, Durability::Sync);
    faulty.inject(fault(IoOp::SyncDir, "/data", 1));
    // Recovery could not write: the log opens read-only and refuses appends.
    let (read_only, _) = storage.open_log(DIR, small_segments()).unwrap();
    let refused = read_only.append(&borrow(&make_batch(0, 1, 10)));
    assert!(refused.is_err(), "a read-only log took an append");
    let _ = read_only.close();
    let (log, _) = storage.open_log(DIR, small_segments()).unwrap();
    let mut acked = Vec::new();
    append_batches(&log, 0, 5, &mut acked);
    mem.crash(CrashMode::DropUnsynced);
    let _ = storage.shutdown();
    let storage = storage_on(&mem);
    let (log, _) = storage.open_log(DIR, small_segments()).unwrap();
    assert_eq!(records(&log), acked);
    storage.shutdown().unwrap();
}
