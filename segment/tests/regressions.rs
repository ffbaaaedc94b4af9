//! Regression tests for bugs a review found (each test names what it caught).

mod common;

use common::hook_fs::{hook_fs, Hook, Hooked};
use common::mem_storage;
use shardlog_segment::batch::encode_batch;
use shardlog_segment::batch::BatchLimits;
use shardlog_segment::io::{
    CrashMode, FileOp, FileSystem, Interpose, Interposed, MemFs, OpenOptions,
};
use shardlog_segment::{
    BackendKind, BatchView, Durability, LogConfig, ReadLimits, Record, Storage, StorageConfig,
};
use std::sync::Arc;
use std::time::Duration;

fn rec<'a>(key: &'a str, data: &'a [u8]) -> Record<'a> {
    Record {
        partition_key: key,
        explicit_hash_key: None,
        data,
    }
}

/// read_active: a batch that starts in the last 1..=11 bytes of a 256 KiB chunk has
/// no readable length field, so it is parsed (Truncated) and reported as corruption
/// of a perfectly valid active segment.
#[test]
fn active_read_chunk_boundary_is_not_corruption() {
    let fs = MemFs::new();
    let storage = mem_storage(&fs, Durability::None);
    let (log, _) = storage.open_log("/d/s", LogConfig::default()).unwrap();
    // Batches are 60 + key_len bytes. The read starts at offset 64 with a chunk of
    // 262144 bytes; put a batch start at chunk offset 262139 (5 bytes left).
    let long_key = "k".repeat(84); // 144-byte first batch
    log.append(&[rec(&long_key, b"")]).unwrap();
    for _ in 0..4295 + 100 {
        log.append(&[rec("k", b"")]).unwrap(); // 61-byte batches
    }
    let total = log.end_position();
    let result = log
        .read(
            0,
            ReadLimits {
                records_max: 1_000_000,
                bytes_max: 0,
            },
        )
        .expect("valid, acknowledged data must read back");
    assert_eq!(result.record_count as u64, total);
}

/// After the committer stopped (all Storage handles dropped), the first append fails
/// with Closed but leaves its batch staged and `enqueued = true`: the next append
/// waits forever for an acknowledgement that cannot come (and close() would hang).
#[test]
fn append_after_committer_stopped_does_not_hang() {
    let fs = MemFs::new();
    let storage = mem_storage(&fs, Durability::Sync);
    let (log, _) = storage.open_log("/d/s", LogConfig::default()).unwrap();
    log.append(&[rec("k", b"x")]).unwrap();
    drop(storage); // Committer::drop stops the writer
    assert!(log.append(&[rec("k", b"y")]).is_err());
    let (tx, rx) = std::sync::mpsc::channel();
    let log2 = log.clone();
    std::thread::spawn(move || {
        let r = log2.append(&[rec("k", b"z")]);
        let _ = tx.send(r.is_err());
    });
    let answered = rx.recv_timeout(Duration::from_secs(3));
    assert_eq!(answered, Ok(true), "second append hung (lost wake-up)");
}

/// Recovery deletes a last segment whose header fails to verify whenever the .idx
/// holds no entry, assuming "nothing in it was ever synced". But .idx entries are
/// never fsynced before seal/close, so after a power loss acknowledged, synced
/// batches sit in such a segment: one bad header byte silently drops them all.
/// FORMAT.md: only a last segment that "holds nothing else" may be rewritten.
#[test]
fn corrupt_header_with_acked_batches_is_an_error_not_a_silent_delete() {
    let fs = MemFs::new();
    let dir = "/d/s";
    {
        let storage = mem_storage(&fs, Durability::Sync);
        let (log, _) = storage.open_log(dir, LogConfig::default()).unwrap();
        for i in 0..10u8 {
            log.append(&[rec("k", &[i; 100])]).unwrap(); // acknowledged after fdatasync
        }
        fs.crash(CrashMode::DropUnsynced);
        let _ = storage.shutdown();
    }
    // Flip one reserved byte of the segment header (covered by header_crc).
    let path = std::path::Path::new("/d/s/00000000000000000000.log");
    let file = fs.open(path, OpenOptions::WRITE).unwrap();
    let mut b = [0u8; 1];
    file.read_at(&mut b, 40).unwrap();
    file.write_at(&[b[0] ^ 1], 40).unwrap();
    file.sync_data().unwrap();
    drop(file);
    let storage = mem_storage(&fs, Durability::Sync);
    let opened = storage.open_log(dir, LogConfig::default());
    match opened {
        Err(_) => {}
        Ok((log, report)) => panic!(
            "10 acknowledged records silently dropped: end={} report={report:?}",
            log.end_position()
        ),
    }
}

/// BatchView::parse adds a record's arrival delta to first_arrival_ms unchecked:
/// checksummed bytes from disk (or a fuzzer) panic in debug builds.
#[test]
fn batch_parse_does_not_panic_on_arrival_overflow() {
    let limits = BatchLimits {
        record_bytes_max: 1 << 20,
        batch_bytes_max: 64 << 20,
    };
    let mut bytes = encode_batch(7, u64::MAX - 1, &[rec("k", b"x")], &limits).unwrap();
    bytes[40..48].copy_from_slice(&u64::MAX.to_le_bytes()); // last_arrival_ms
    bytes[48..52].copy_from_slice(&5u32.to_le_bytes()); // record 0 arrival delta
    let crc = crc32fast::hash(&bytes[8..]);
    bytes[4..8].copy_from_slice(&crc.to_le_bytes());
    let result = std::panic::catch_unwind(|| BatchView::parse(&bytes).is_err());
    assert_eq!(
        result.ok(),
        Some(true),
        "parse panicked or accepted the batch"
    );
}

/// Recovery accepts batches past the last trusted index entry that were written but
/// never synced (a failed fsync, or kill -9 before the sync), exposes them as
/// acknowledged and writes index entries for them durably (write_file_atomic), but
/// never fdatasyncs the log unless it truncated. A power loss then leaves a durable
/// index entry pointing past the end of the log: the next open fails.
#[test]
fn recovery_syncs_log_before_indexing_scanned_batches() {
    use shardlog_segment::io::{Fault, FaultAction, FaultyFs, IoOp};
    let mem = MemFs::new();
    let fs = FaultyFs::new(mem.clone() as Arc<dyn FileSystem>);
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    let log_config = LogConfig {
        index_interval_bytes: 0,
        ..LogConfig::default()
    };
    let dir = "/d/s";
    {
        let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap();
        let (log, _) = storage.open_log(dir, log_config).unwrap();
        for i in 0..5u8 {
            log.append(&[rec("k", &[i; 100])]).unwrap();
        }
        fs.inject(Fault {
            op: IoOp::Sync,
            path_contains: Some(".log".into()),
            skip: 0,
            times: 1,
            action: FaultAction::Error(libc::EIO),
        });
        assert!(log.append(&[rec("k", &[9; 100])]).is_err()); // written, not synced
        let _ = storage.shutdown(); // the process goes away
    }
    {
        // Restart: the failed log's shutdown cut the batch whose sync failed (the
        // device may never get it), so recovery has exactly the acknowledged five.
        let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap();
        let (log, report) = storage.open_log(dir, log_config).unwrap();
        assert_eq!(log.end_position(), 5, "{report:?}");
        // Power loss right after the restart.
        mem.crash(CrashMode::DropUnsynced);
        let _ = storage.shutdown();
    }
    let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap();
    let (log, _) = storage
        .open_log(dir, log_config)
        .expect("the 5 acknowledged records must reopen");
    assert_eq!(log.end_position(), 5);
}

/// A slow job (segment roll) waits on the syncer barrier, but never checks whether
/// the log failed meanwhile: after the syncer's fdatasync of the previous round
/// failed, the writer still seals the segment (retrying fsync and calling it
/// durable, writing a seal) and creates and writes the next segment.
#[test]
fn roll_after_failed_sync_does_not_touch_files() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let mem = MemFs::new();
    let armed = Arc::new(AtomicBool::new(false));
    // The next `.log` sync after arming sleeps, then fails with EIO.
    let hook_armed = armed.clone();
    let hook: Hook = Arc::new(move |op, path| {
        if op == Hooked::Sync
            && path.extension().is_some_and(|e| e == "log")
            && hook_armed.swap(false, Ordering::SeqCst)
        {
            std::thread::sleep(Duration::from_millis(400));
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    });
    let fs = hook_fs(mem.clone(), hook);
    let storage = Storage::open(
        fs.clone(),
        StorageConfig {
            backend: BackendKind::Buffered,
            durability: Durability::Sync,
        },
    )
    .unwrap();
    let log_config = LogConfig {
        segment_bytes_max: 64 << 10,
        ..LogConfig::default()
    };
    let (log, _) = storage.open_log("/d/s", log_config).unwrap();
    let big = vec![1u8; 10_000];
    for _ in 0..6 {
        log.append(&[rec("k", &big)]).unwrap();
    }
    let next_base = 7u64; // 6 batches + the doomed small one
    armed.store(true, Ordering::SeqCst);
    let a = {
        let log = log.clone();
        std::thread::spawn(move || log.append(&[rec("k", b"x")]).is_err())
    };
    std::thread::sleep(Duration::from_millis(100)); // round N is in the (slow) syncer
    let b = log.append(&[rec("k", &big)]); // rolls: slow job, barrier
    assert!(a.join().unwrap() && b.is_err());
    std::thread::sleep(Duration::from_millis(300));
    assert!(log.failure().is_some());
    let new_segment = format!("/d/s/{next_base:020}.log");
    assert!(
        !mem.exists(std::path::Path::new(&new_segment)),
        "a failed log created and wrote {new_segment} (and sealed the old segment after a failed fsync)"
    );
}

/// A panic in a committer thread (here: a file system whose sync panics) fails
/// the logs with a clear error instead of leaving appenders waiting forever.
#[test]
fn committer_panic_fails_appenders_instead_of_hanging() {
    #[derive(Debug)]
    struct PanickingSync;
    impl Interpose for PanickingSync {
        fn hooks_files(&self, _options: OpenOptions) -> bool {
            true
        }
        fn before_file(&self, op: FileOp, _path: &std::path::Path) -> std::io::Result<()> {
            if op == FileOp::Sync {
                panic!("injected panic in sync");
            }
            Ok(())
        }
    }
    let fs: Arc<dyn FileSystem> = Arc::new(Interposed::new(MemFs::new(), PanickingSync));
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    let storage = Storage::open(fs, config).unwrap();
    let (log, _) = storage.open_log("/d/s", LogConfig::default()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let appender = log.clone();
    std::thread::spawn(move || {
        let _ = tx.send(appender.append(&[rec("k", b"x")]).is_err());
    });
    let answered = rx.recv_timeout(Duration::from_secs(10));
    assert_eq!(answered, Ok(true), "the append fails instead of hanging");
    assert!(log.failure().unwrap().contains("panicked"));
    assert!(log.append(&[rec("k", b"y")]).is_err());
}
