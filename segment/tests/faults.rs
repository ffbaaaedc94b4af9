//! Faults injected through the file-system seam: a failed write, a short write, a
//! failed fsync and a full disk each give a clear error, lose nothing that was
//! acknowledged, and stop the log until it is reopened.

mod common;

use common::{borrow, make_batch, read_all, Owned};
use shardlog_segment::io::{Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs, RealFs};
use shardlog_segment::{BackendKind, Durability, Error, LogConfig, Storage, StorageConfig};
use std::path::Path;
use std::sync::Arc;

fn config(backend: BackendKind) -> StorageConfig {
    StorageConfig {
        backend,
        durability: Durability::Sync,
    }
}

fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        ..LogConfig::default()
    }
}

fn fault(op: IoOp, action: FaultAction) -> Fault {
    Fault {
        op,
        path_contains: Some(".log".into()),
        skip: 0,
        times: u64::MAX,
        action,
    }
}

/// Appends `batches` batches and returns the records acknowledged.
fn fill(log: &shardlog_segment::Log, first: u64, batches: u64) -> Vec<Owned> {
    let mut acked = Vec::new();
    for batch in first..first + batches {
        let records = make_batch(batch, 3, 500);
        log.append(&borrow(&records)).unwrap();
        acked.extend(records);
    }
    acked
}

/// Runs one fault scenario: acked data, then the fault, then checks, then reopen.
fn scenario(
    fs: Arc<FaultyFs>,
    dir: &Path,
    backend: BackendKind,
    injected: Fault,
    expect_message: &str,
) {
    let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, config(backend)).unwrap();
    let (log, _) = storage.open_log(dir, small_segments()).unwrap();
    let mut acked = fill(&log, 0, 20);
    fs.inject(injected);
    let doomed = make_batch(1000, 3, 500);
    let error = log.append(&borrow(&doomed)).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::LogFailed { .. }), "{error:?}");
    assert!(
        message.contains(expect_message),
        "error '{message}' should mention '{expect_message}'"
    );
    assert!(fs.fired() > 0);
    // The log refuses further appends, even once the fault is gone.
    fs.clear();
    let refused = log.append(&borrow(&make_batch(1001, 1, 10))).unwrap_err();
    assert!(matches!(refused, Error::LogFailed { .. }), "{refused:?}");
    // Everything acknowledged is still readable.
    let read: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, acked);
    storage.shutdown().unwrap();

    // Reopened, the log has every acknowledged record and takes appends again.
    let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, config(backend)).unwrap();
    let (log, _) = storage.open_log(dir, small_segments()).unwrap();
    let recovered: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(recovered[..acked.len()], acked[..]);
    // The failed batch was never acknowledged; it may or may not have reached the disk.
    assert!(recovered.len() == acked.len() || recovered[acked.len()..] == doomed[..]);
    acked = recovered;
    acked.extend(fill(&log, 2000, 5));
    let read: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, acked);
    storage.shutdown().unwrap();
}

fn mem() -> Arc<FaultyFs> {
    FaultyFs::new(MemFs::new())
}

/// A scenario on the in-memory file system with the buffered backend.
fn mem_scenario(op: IoOp, errno: i32, expect_message: &str) {
    let injected = fault(op, FaultAction::Error(errno));
    scenario(
        mem(),
        Path::new("/s"),
        BackendKind::Buffered,
        injected,
        expect_message,
    );
}

/// EIO on write.
#[test]
fn failed_write() {
    mem_scenario(IoOp::Write, libc::EIO, "Input/output error");
}

/// A short write followed by ENOSPC for the rest.
#[test]
fn short_write_then_no_space() {
    let fs = mem();
    let mut short = fault(IoOp::Write, FaultAction::ShortWrite { bytes: 100 });
    short.times = 1;
    let storage = Storage::open(
        fs.clone() as Arc<dyn FileSystem>,
        config(BackendKind::Buffered),
    )
    .unwrap();
    let (log, _) = storage.open_log("/s", small_segments()).unwrap();
    let acked = fill(&log, 0, 3);
    fs.inject(short);
    fs.inject(fault(IoOp::Write, FaultAction::Error(libc::ENOSPC)));
    let error = log.append(&borrow(&make_batch(9, 2, 300))).unwrap_err();
    assert!(error.to_string().contains("No space left"), "{error}");
    assert_eq!(fs.fired(), 2);
    let read: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, acked);
    storage.shutdown().unwrap();
    fs.clear();
    let storage = Storage::open(
        fs.clone() as Arc<dyn FileSystem>,
        config(BackendKind::Buffered),
    )
    .unwrap();
    let (log, report) = storage.open_log("/s", small_segments()).unwrap();
    // Closing the failed log (shutdown) already cut the torn short write back to
    // what was acknowledged, so recovery finds nothing to cut.
    assert_eq!(report.truncated_bytes, 0, "{report:?}");
    let read: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, acked);
    storage.shutdown().unwrap();
}

/// A short write that the backend completes with a second write is no error.
#[test]
fn short_write_is_completed() {
    let fs = mem();
    let storage = Storage::open(
        fs.clone() as Arc<dyn FileSystem>,
        config(BackendKind::Buffered),
    )
    .unwrap();
    let (log, _) = storage.open_log("/s", small_segments()).unwrap();
    let mut acked = fill(&log, 0, 2);
    let mut short = fault(IoOp::Write, FaultAction::ShortWrite { bytes: 7 });
    short.times = 3;
    fs.inject(short);
    acked.extend(fill(&log, 2, 1));
    assert_eq!(fs.fired(), 3);
    storage.shutdown().unwrap();
    let storage = Storage::open(
        fs.clone() as Arc<dyn FileSystem>,
        config(BackendKind::Buffered),
    )
    .unwrap();
    let (log, _) = storage.open_log("/s", small_segments()).unwrap();
    let read: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, acked);
    storage.shutdown().unwrap();
}

/// EIO from fdatasync.
#[test]
fn failed_fsync() {
    mem_scenario(IoOp::Sync, libc::EIO, "Input/output error");
}

/// ENOSPC on write.
#[test]
fn disk_full() {
    mem_scenario(IoOp::Write, libc::ENOSPC, "No space left");
}

/// A full disk while rolling to a new segment: creating the file fails.
#[test]
fn disk_full_during_roll() {
    let fs = mem();
    let storage = Storage::open(
        fs.clone() as Arc<dyn FileSystem>,
        config(BackendKind::Buffered),
    )
    .unwrap();
    let (log, _) = storage.open_log("/s", small_segments()).unwrap();
    let mut acked = Vec::new();
    while log.segments().len() < 2 {
        let batch = acked.len() as u64;
        let records = make_batch(batch, 3, 500);
        log.append(&borrow(&records)).unwrap();
        acked.extend(records);
    }
    // Fail the creation of the third segment.
    fs.inject(Fault {
        op: IoOp::Open,
        path_contains: Some(".log".into()),
        skip: 0,
        times: u64::MAX,
        action: FaultAction::Error(libc::ENOSPC),
    });
    let error = loop {
        let records = make_batch(acked.len() as u64, 3, 500);
        match log.append(&borrow(&records)) {
            Ok(_) => acked.extend(records),
            Err(error) => break error,
        }
    };
    assert!(error.to_string().contains("No space left"), "{error}");
    fs.clear();
    storage.shutdown().unwrap();
    let storage = Storage::open(
        fs.clone() as Arc<dyn FileSystem>,
        config(BackendKind::Buffered),
    )
    .unwrap();
    let (log, _) = storage.open_log("/s", small_segments()).unwrap();
    let read: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, acked);
    log.append(&borrow(&make_batch(5000, 2, 10))).unwrap();
    storage.shutdown().unwrap();
}

/// The io_uring backend reports an injected write error and fsync error the same way.
#[test]
fn io_uring_faults() {
    for (op, errno, text) in [
        (IoOp::Write, libc::EIO, "Input/output error"),
        (IoOp::Sync, libc::EIO, "Input/output error"),
        (IoOp::Write, libc::ENOSPC, "No space left"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultyFs::new(RealFs::shared());
        scenario(
            fs,
            &dir.path().join("s"),
            BackendKind::IoUring,
            fault(op, FaultAction::Error(errno)),
            text,
        );
    }
}
