//! The buffered and io_uring backends produce the same logical log: the same
//! records at the same positions, the same segment boundaries, files that differ
//! only in arrival times, and both recover to the same state.

mod common;

use common::{borrow, make_batch, read_all, Owned};
use shardlog_segment::io::{
    is_segment_in, Fault, FaultAction, FaultyFs, FileOp, FileSystem, Gate, HoldAtGate, Interposed,
    IoOp, RealFs,
};
use shardlog_segment::{BackendKind, Durability, Error, LogConfig, Storage, StorageConfig};
use std::path::Path;
use std::sync::Arc;

/// A storage with `backend` under the `sync` policy.
fn synced(backend: BackendKind) -> StorageConfig {
    StorageConfig {
        backend,
        durability: Durability::Sync,
    }
}

/// Records by position, and (base, end, bytes) of each segment.
type Written = (Vec<(u64, Owned)>, Vec<(u64, u64, u64)>);

fn write(backend: BackendKind, dir: &Path) -> Written {
    write_as(backend, dir, false)
}

/// [`write`], the log written through the page cache if `page_cache`.
fn write_as(backend: BackendKind, dir: &Path, page_cache: bool) -> Written {
    let config = synced(backend);
    let log_config = LogConfig {
        segment_bytes_max: 100 << 10,
        page_cache,
        ..LogConfig::default()
    };
    let storage = Storage::open(RealFs::shared(), config).unwrap();
    let (log, _) = storage.open_log(dir, log_config).unwrap();
    for batch in 0..120u64 {
        // Sizes chosen to leave partial 4 KiB blocks at the end of most writes.
        let records = make_batch(
            batch,
            1 + (batch % 5) as usize,
            (batch * 211 % 3000) as usize,
        );
        log.append(&borrow(&records)).unwrap();
    }
    let direct_expected = backend == BackendKind::IoUring && !page_cache;
    assert_eq!(
        open_direct(dir).contains(&true),
        direct_expected,
        "an O_DIRECT handle on a segment"
    );
    storage.shutdown().unwrap();
    // Reopen: recovery must find exactly what was written.
    let storage = Storage::open(RealFs::shared(), config).unwrap();
    let (log, report) = storage.open_log(dir, log_config).unwrap();
    assert_eq!(report.truncated_bytes, 0, "{report:?}");
    let records = read_all(&log, 0);
    let segments = log
        .segments()
        .iter()
        .map(|s| (s.base_position, s.end_position, s.bytes))
        .collect();
    storage.shutdown().unwrap();
    (records, segments)
}

/// Same records, positions and segment layout from both backends.
#[test]
fn both_backends_write_the_same_log() {
    let dir = tempfile::tempdir().unwrap();
    let buffered = write(BackendKind::Buffered, &dir.path().join("buffered"));
    let uring = write(BackendKind::IoUring, &dir.path().join("uring"));
    assert_eq!(buffered.0.len(), uring.0.len());
    assert_eq!(buffered.0, uring.0);
    assert_eq!(buffered.1, uring.1);
    assert!(
        buffered.1.len() > 3,
        "the test rolls segments: {:?}",
        buffered.1
    );
    // On disk the segment files have identical lengths: no O_DIRECT fill is left.
    for (base, _, bytes) in &uring.1 {
        let name = format!("{base:020}.log");
        let uring_len = std::fs::metadata(dir.path().join("uring").join(&name))
            .unwrap()
            .len();
        let buffered_len = std::fs::metadata(dir.path().join("buffered").join(&name))
            .unwrap()
            .len();
        assert_eq!(uring_len, *bytes);
        assert_eq!(buffered_len, *bytes);
    }
}

/// A page-cache log (`LogConfig::page_cache`) of an io_uring storage writes the
/// same log as the buffered backend, its files opened without `O_DIRECT`, before
/// and after recovery; the storage's other logs stay `O_DIRECT` (checked in
/// [`write_as`]).
#[test]
fn a_page_cache_log_of_an_io_uring_storage_writes_the_same_log() {
    let dir = tempfile::tempdir().unwrap();
    let buffered = write(BackendKind::Buffered, &dir.path().join("buffered"));
    let page_cache = write_as(BackendKind::IoUring, &dir.path().join("page-cache"), true);
    assert_eq!(buffered, page_cache);
    let config = synced(BackendKind::IoUring);
    let storage = Storage::open(RealFs::shared(), config).unwrap();
    let log_config = LogConfig {
        segment_bytes_max: 100 << 10,
        page_cache: true,
        ..LogConfig::default()
    };
    let log_dir = dir.path().join("page-cache");
    let (log, _) = storage.open_log(&log_dir, log_config).unwrap();
    let records = make_batch(1000, 3, 777);
    let appended = log.append(&borrow(&records)).unwrap();
    assert_eq!(appended.base_position, buffered.0.len() as u64);
    let handles = open_direct(&log_dir);
    assert!(
        !handles.is_empty() && !handles.contains(&true),
        "{handles:?}"
    );
    storage.shutdown().unwrap();
}

/// Whether each descriptor this process holds on `.log` files in `dir` was opened
/// with `O_DIRECT` (from `/proc/self/fdinfo`).
fn open_direct(dir: &Path) -> Vec<bool> {
    let dir = dir.canonicalize().unwrap();
    let dir = dir.as_path();
    let mut direct = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if target.parent() != Some(dir) || target.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let info = std::fs::read_to_string(Path::new("/proc/self/fdinfo").join(entry.file_name()))
            .unwrap();
        let flags = info
            .lines()
            .find_map(|line| line.strip_prefix("flags:"))
            .map(|octal| i32::from_str_radix(octal.trim(), 8).unwrap())
            .unwrap();
        direct.push(flags & libc::O_DIRECT != 0);
    }
    direct
}

/// An io_uring storage's rounds that hold both an `O_DIRECT` log and a page-cache
/// log write each through its own path: both read back whole, before and after a
/// reopen, and only the first's segment is open with `O_DIRECT`.
#[test]
fn direct_and_page_cache_logs_share_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let config = synced(BackendKind::IoUring);
    let direct_dir = dir.path().join("direct");
    let cached_dir = dir.path().join("cached");
    let cached_config = LogConfig {
        page_cache: true,
        ..LogConfig::default()
    };
    let storage = Storage::open(RealFs::shared(), config).unwrap();
    let (direct, _) = storage.open_log(&direct_dir, LogConfig::default()).unwrap();
    let (cached, _) = storage.open_log(&cached_dir, cached_config).unwrap();
    let mut expected: [Vec<Owned>; 2] = Default::default();
    let mut pending = Vec::new();
    for batch in 0..200u64 {
        // Submitted without waiting, alternately: most rounds take both logs.
        let records = make_batch(
            batch,
            1 + (batch % 3) as usize,
            (batch * 97 % 2000) as usize,
        );
        let log = if batch % 2 == 0 { &direct } else { &cached };
        pending.push(log.submit(&borrow(&records)).unwrap());
        expected[(batch % 2) as usize].extend(records);
    }
    for append in pending {
        append.wait().unwrap();
    }
    assert!(open_direct(&direct_dir).contains(&true));
    assert!(!open_direct(&cached_dir).contains(&true));
    let read = |log: &shardlog_segment::Log| -> Vec<Owned> {
        read_all(log, 0).into_iter().map(|(_, r)| r).collect()
    };
    assert_eq!(read(&direct), expected[0]);
    assert_eq!(read(&cached), expected[1]);
    storage.shutdown().unwrap();
    let storage = Storage::open(RealFs::shared(), config).unwrap();
    let (direct, _) = storage.open_log(&direct_dir, LogConfig::default()).unwrap();
    let (cached, _) = storage.open_log(&cached_dir, cached_config).unwrap();
    assert_eq!(read(&direct), expected[0]);
    assert_eq!(read(&cached), expected[1]);
    storage.shutdown().unwrap();
}

/// In a round that writes an `O_DIRECT` log through the ring and a page-cache log
/// with a plain write, a failed plain write fails the page-cache log alone: each
/// log gets its own write's outcome.
#[test]
fn a_failed_page_cache_write_in_a_mixed_round_fails_its_log_alone() {
    let dir = tempfile::tempdir().unwrap();
    let faulty = FaultyFs::new(RealFs::shared());
    let gate = Gate::new();
    // Holds the writer in the page-cache write of the log "hold", so that the
    // two appends below queue up and are written in one round after it.
    let hold = HoldAtGate::new(&gate, FileOp::Write, |path| is_segment_in(path, "hold"));
    let fs = Arc::new(Interposed::new(faulty.clone() as Arc<dyn FileSystem>, hold));
    let config = synced(BackendKind::IoUring);
    let cached_config = LogConfig {
        page_cache: true,
        ..LogConfig::default()
    };
    let storage = Storage::open(fs as Arc<dyn FileSystem>, config).unwrap();
    let (held, _) = storage
        .open_log(dir.path().join("hold"), cached_config)
        .unwrap();
    let (direct, _) = storage
        .open_log(dir.path().join("direct"), LogConfig::default())
        .unwrap();
    let (cached, _) = storage
        .open_log(dir.path().join("cached"), cached_config)
        .unwrap();
    let first: Vec<Vec<Owned>> = (0..3).map(|i| make_batch(i, 2, 300)).collect();
    for (log, records) in [&held, &direct, &cached].into_iter().zip(&first) {
        log.append(&borrow(records)).unwrap();
    }
    let opener = gate.close();
    let holding = held.submit(&borrow(&make_batch(10, 1, 10))).unwrap();
    while gate.held() == 0 {
        std::thread::yield_now();
    }
    faulty.inject(Fault {
        op: IoOp::Write,
        path_contains: Some("/cached/".into()),
        skip: 0,
        times: 1,
        action: FaultAction::Error(libc::EIO),
    });
    let direct_batch = make_batch(11, 3, 500);
    let to_direct = direct.submit(&borrow(&direct_batch)).unwrap();
    let to_cached = cached.submit(&borrow(&make_batch(12, 3, 500))).unwrap();
    drop(opener);
    holding.wait().unwrap();
    to_direct.wait().unwrap();
    let failed = to_cached.wait().unwrap_err();
    assert!(matches!(failed, Error::LogFailed { .. }), "{failed:?}");
    assert_eq!(faulty.fired(), 1);
    let read = |log: &shardlog_segment::Log| -> Vec<Owned> {
        read_all(log, 0).into_iter().map(|(_, r)| r).collect()
    };
    let direct_expected: Vec<Owned> = first[1].iter().cloned().chain(direct_batch).collect();
    assert_eq!(read(&direct), direct_expected);
    assert_eq!(read(&cached), first[2]);
    storage.shutdown().unwrap();
}

/// A log written `O_DIRECT` and reopened as a page-cache log (as queue logs of an
/// older data directory are), then reopened `O_DIRECT` again, takes appends each
/// time and reads back whole.
#[test]
fn a_log_changes_between_direct_and_page_cache_writes() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let config = synced(BackendKind::IoUring);
    let mut expected = Vec::new();
    for (round, page_cache) in [false, true, false, true].into_iter().enumerate() {
        let storage = Storage::open(RealFs::shared(), config).unwrap();
        let log_config = LogConfig {
            page_cache,
            ..LogConfig::default()
        };
        let (log, report) = storage.open_log(&log_dir, log_config).unwrap();
        assert_eq!(report.truncated_bytes, 0, "{report:?}");
        for batch in 0..7u64 {
            // Sizes that leave a partial 4 KiB block at the end of most writes.
            let records = make_batch(round as u64 * 100 + batch, 2, 1000 + batch as usize * 333);
            log.append(&borrow(&records)).unwrap();
            expected.extend(records);
        }
        assert_eq!(open_direct(&log_dir).contains(&true), !page_cache);
        let read: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
        assert_eq!(read, expected, "round {round}");
        storage.shutdown().unwrap();
    }
}
