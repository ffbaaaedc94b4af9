//! What each durability policy promises, checked with simulated power loss, and
//! that concurrent appenders share syncs (group commit).

mod common;

use common::{borrow, make_batch, read_all};
use shardlog_segment::io::{
    is_segment_in, CrashMode, FileOp, FileSystem, Gate, HoldAtGate, Interpose, Interposed, MemFs,
    RealFs,
};
use shardlog_segment::{BackendKind, Durability, Error, LogConfig, Storage, StorageConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn open_storage(fs: &Arc<MemFs>, durability: Durability) -> Storage {
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability,
    };
    Storage::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap()
}

fn recovered_count(fs: &Arc<MemFs>) -> usize {
    let storage = open_storage(fs, Durability::Sync);
    let (log, _) = storage.open_log("/s", LogConfig::default()).unwrap();
    let count = read_all(&log, 0).len();
    storage.shutdown().unwrap();
    count
}

/// `interval`: acknowledged before the sync; durable once the interval's sync ran,
/// which comes by itself, without further appends.
#[test]
fn interval_syncs_within_the_interval() {
    let fs = MemFs::new();
    let storage = open_storage(&fs, Durability::Interval { interval_ms: 20 });
    let (log, _) = storage.open_log("/s", LogConfig::default()).unwrap();
    let appended = 7;
    for batch in 0..appended {
        log.append(&borrow(&make_batch(batch, 5, 100))).unwrap();
    }
    let segment = fs
        .list_dir(std::path::Path::new("/s"))
        .unwrap()
        .into_iter()
        .find(|name| name.ends_with(".log"))
        .expect("a segment file");
    let segment = std::path::Path::new("/s").join(segment);
    let deadline = Instant::now() + Duration::from_secs(30);
    while fs.is_synced(&segment) != Some(true) {
        assert!(Instant::now() < deadline, "the interval sync never came");
        std::thread::yield_now();
    }
    fs.crash(CrashMode::DropUnsynced);
    let _ = storage.shutdown();
    assert_eq!(recovered_count(&fs), appended as usize * 5);
}

/// `none`: a power loss before any sync loses acknowledged records; closing syncs.
#[test]
fn none_syncs_only_on_close() {
    let fs = MemFs::new();
    let storage = open_storage(&fs, Durability::None);
    let (log, _) = storage.open_log("/s", LogConfig::default()).unwrap();
    log.append(&borrow(&make_batch(0, 5, 100))).unwrap();
    fs.crash(CrashMode::DropUnsynced);
    let _ = storage.shutdown();
    assert_eq!(recovered_count(&fs), 0, "nothing was synced");

    let fs = MemFs::new();
    let storage = open_storage(&fs, Durability::None);
    let (log, _) = storage.open_log("/s", LogConfig::default()).unwrap();
    log.append(&borrow(&make_batch(0, 5, 100))).unwrap();
    log.close().unwrap();
    fs.crash(CrashMode::DropUnsynced);
    let _ = storage.shutdown();
    assert_eq!(recovered_count(&fs), 5);
}

/// `sync`: every acknowledged record survives a power loss right after the ack.
#[test]
fn sync_survives_power_loss_right_after_ack() {
    let fs = MemFs::new();
    let storage = open_storage(&fs, Durability::Sync);
    let (log, _) = storage.open_log("/s", LogConfig::default()).unwrap();
    log.append(&borrow(&make_batch(0, 5, 100))).unwrap();
    fs.crash(CrashMode::DropUnsynced);
    let _ = storage.shutdown();
    assert_eq!(recovered_count(&fs), 5);
}

/// Many concurrent appenders to one log need far fewer fdatasyncs than appends.
#[test]
fn concurrent_appends_share_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(Interposed::new(Arc::new(RealFs), CountingSyncs::default()));
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap();
    let (log, _) = storage
        .open_log(dir.path().join("s"), LogConfig::default())
        .unwrap();
    let appends = 16 * 25;
    std::thread::scope(|scope| {
        for producer in 0..16u64 {
            let log = log.clone();
            scope.spawn(move || {
                for i in 0..25 {
                    log.append(&borrow(&make_batch(producer * 100 + i, 3, 200)))
                        .unwrap();
                }
            });
        }
    });
    let syncs = fs.hooks().0.load(std::sync::atomic::Ordering::SeqCst);
    assert!(syncs < appends / 2, "{syncs} syncs for {appends} appends");
    storage.shutdown().unwrap();
}

/// The real file system, counting `sync_data` calls.
/// Counts the file syncs that reach the real file system.
#[derive(Debug, Default)]
struct CountingSyncs(Arc<std::sync::atomic::AtomicUsize>);

impl Interpose for CountingSyncs {
    fn hooks_files(&self, _options: shardlog_segment::io::OpenOptions) -> bool {
        true
    }

    fn before_file(&self, op: FileOp, _path: &std::path::Path) -> std::io::Result<()> {
        if op == FileOp::Sync {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}

/// Bad configuration and bad records are clear errors.
#[test]
fn bad_configuration_and_records_are_clear_errors() {
    let fs = MemFs::new();
    let bad_interval = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Interval { interval_ms: 0 },
    };
    let error = Storage::open(fs.clone() as Arc<dyn FileSystem>, bad_interval).unwrap_err();
    assert!(
        matches!(error, Error::InvalidConfig(ref m) if m.contains("interval")),
        "{error}"
    );
    let storage = open_storage(&fs, Durability::Sync);
    let too_big = LogConfig {
        record_bytes_max: 11 << 20,
        ..LogConfig::default()
    };
    let error = storage.open_log("/s", too_big).unwrap_err();
    assert!(
        matches!(error, Error::InvalidConfig(ref m) if m.contains("record_bytes_max")),
        "{error}"
    );
    let small = LogConfig {
        record_bytes_max: 100,
        ..LogConfig::default()
    };
    let (log, _) = storage.open_log("/s", small).unwrap();
    let error = log.append(&borrow(&make_batch(0, 1, 200))).unwrap_err();
    assert!(
        matches!(error, Error::RecordTooLarge { max: 100, .. }),
        "{error}"
    );
    let error = log.open_again_error(&storage);
    assert!(matches!(error, Error::AlreadyOpen { .. }), "{error}");
    // A rejected record leaves the log usable.
    log.append(&borrow(&make_batch(1, 1, 10))).unwrap();
    storage.shutdown().unwrap();
}

trait OpenAgain {
    fn open_again_error(&self, storage: &Storage) -> Error;
}

impl OpenAgain for shardlog_segment::Log {
    fn open_again_error(&self, storage: &Storage) -> Error {
        storage
            .open_log(self.dir(), LogConfig::default())
            .unwrap_err()
    }
}

/// `readable_before_sync`: a batch is readable while its sync is held, its appender
/// is acknowledged only after the sync, and `durable_end` never counts it before;
/// a log without the setting shows nothing before the sync.
#[test]
fn readable_before_sync_shows_records_before_their_sync_and_acknowledges_after() {
    for readable_before_sync in [true, false] {
        let mem = MemFs::new();
        let gate = Gate::new();
        let hold = HoldAtGate::new(&gate, FileOp::Sync, |path| is_segment_in(path, "s"));
        let fs = Arc::new(Interposed::new(mem.clone(), hold));
        let config = StorageConfig {
            backend: BackendKind::Buffered,
            durability: Durability::Sync,
        };
        let storage = Storage::open(fs as Arc<dyn FileSystem>, config).unwrap();
        let log_config = LogConfig {
            readable_before_sync,
            ..LogConfig::default()
        };
        let (log, _) = storage.open_log("/s", log_config).unwrap();
        // The segment exists: later batches take the committer's plain path.
        log.append(&borrow(&make_batch(0, 2, 50))).unwrap();
        assert_eq!((log.end_position(), log.durable_end()), (2, 2));

        // Dropped before the storage, which waits for held syncs.
        let opener = gate.close();
        let pending = log.submit(&borrow(&make_batch(1, 3, 50))).unwrap();
        let (acked_tx, acked_rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || acked_tx.send(pending.wait().is_ok()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while gate.held() == 0 {
            assert!(Instant::now() < deadline, "the sync never came");
            std::thread::yield_now();
        }
        // The sync waits at the gate: whatever the log shows now, it shows unsynced.
        let readable = log.wait_for(
            2,
            Duration::from_secs(if readable_before_sync { 30 } else { 0 }),
        );
        assert_eq!(readable, readable_before_sync);
        let expected_end = if readable_before_sync { 5 } else { 2 };
        assert_eq!(log.end_position(), expected_end);
        assert_eq!(read_all(&log, 0).len(), expected_end as usize);
        assert_eq!(log.durable_end(), 2, "nothing past the sync is durable");
        assert!(acked_rx.try_recv().is_err(), "acknowledged before its sync");

        drop(opener);
        assert_eq!(acked_rx.recv_timeout(Duration::from_secs(30)), Ok(true));
        waiter.join().unwrap().unwrap();
        assert_eq!((log.end_position(), log.durable_end()), (5, 5));
        assert_eq!(read_all(&log, 0).len(), 5);
        storage.shutdown().unwrap();
        mem.crash(CrashMode::DropUnsynced);
        assert_eq!(recovered_count(&mem), 5);
    }
}
