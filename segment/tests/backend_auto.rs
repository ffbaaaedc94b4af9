//! The `auto` backend: io_uring where the kernel accepts a ring, else buffered with
//! the reason, chosen once when the storage opens; a refusal is injected through the
//! file-system seam (`IoOp::RingSetup`), as seccomp or `io_uring_disabled` would refuse.

mod common;

use common::{borrow, make_batch, read_all, Owned};
use shardlog_segment::backend::Uring;
use shardlog_segment::io::{Fault, FaultAction, FaultyFs, FileSystem, IoOp, RealFs};
use shardlog_segment::{BackendKind, Durability, Error, LogConfig, Storage, StorageConfig};
use std::path::Path;
use std::sync::Arc;

fn config(backend: BackendKind) -> StorageConfig {
    StorageConfig {
        backend,
        durability: Durability::Sync,
    }
}

/// Appends `records` to a new log in `dir`, checks that they read back, and shuts down.
fn append_and_read_back(storage: &Storage, dir: &Path, records: Vec<Owned>) {
    let (log, _) = storage.open_log(dir, LogConfig::default()).unwrap();
    log.append(&borrow(&records)).unwrap();
    let read: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, records);
    storage.shutdown().unwrap();
}

/// A real file system whose ring setups fail with `EPERM`, as under Docker's seccomp.
fn refusing_fs() -> Arc<FaultyFs> {
    let fs = FaultyFs::new(RealFs::shared());
    fs.inject(Fault {
        op: IoOp::RingSetup,
        path_contains: None,
        skip: 0,
        times: u64::MAX,
        action: FaultAction::Error(libc::EPERM),
    });
    fs
}

/// A refused io_uring makes `auto` fall back to buffered writes that still work.
#[test]
fn auto_falls_back_to_buffered_when_io_uring_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fs = refusing_fs();
    let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, config(BackendKind::Auto))
        .expect("auto opens whatever the kernel says");
    assert_eq!(storage.backend(), BackendKind::Buffered);
    let refusal = storage.backend_refusal().expect("the refusal is reported");
    let eperm = std::io::Error::from_raw_os_error(libc::EPERM).to_string();
    assert!(
        refusal.contains(&eperm),
        "refusal {refusal:?} names the error"
    );
    assert!(fs.fired() >= 1, "the ring setup went through the seam");

    append_and_read_back(&storage, dir.path(), make_batch(1, 5, 700));
}

/// An explicit io_uring backend that the kernel refuses is an error, never a fallback.
#[test]
fn explicit_io_uring_refused_is_an_error() {
    let result = Storage::open(
        refusing_fs() as Arc<dyn FileSystem>,
        config(BackendKind::IoUring),
    );
    assert!(
        matches!(result, Err(Error::BackendUnavailable(ref message)) if message.contains("io_uring")),
        "got {result:?}"
    );
}

/// Where the kernel accepts io_uring, `auto` picks it and reports no refusal;
/// elsewhere it reports buffered with the kernel's refusal.
#[test]
fn auto_picks_io_uring_where_the_kernel_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(RealFs::shared(), config(BackendKind::Auto)).unwrap();
    match Uring::new() {
        Ok(_) => {
            assert_eq!(storage.backend(), BackendKind::IoUring);
            assert_eq!(storage.backend_refusal(), None);
        }
        Err(_) => {
            assert_eq!(storage.backend(), BackendKind::Buffered);
            assert!(storage.backend_refusal().is_some());
        }
    }
    append_and_read_back(&storage, dir.path(), make_batch(2, 3, 5000));
}

/// `auto` is a configuration name like the others.
#[test]
fn auto_parses_and_names_itself() {
    assert_eq!(BackendKind::parse("auto"), Some(BackendKind::Auto));
    assert_eq!(BackendKind::Auto.name(), "auto");
    assert_eq!(StorageConfig::default().backend, BackendKind::Auto);
}

/// A directory whose file system refuses `O_DIRECT` opens (as tmpfs before Linux
/// 6.6 answers EINVAL) makes `auto` pick buffered writes there, saying why; without
/// a directory to probe, the same kernel gets io_uring.
#[test]
fn auto_falls_back_to_buffered_where_o_direct_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::new(RealFs::shared());
    fs.inject(Fault {
        op: IoOp::Open,
        path_contains: Some(".direct-probe".into()),
        skip: 0,
        times: u64::MAX,
        action: FaultAction::Error(libc::EINVAL),
    });
    let fs = fs as Arc<dyn FileSystem>;
    let storage = Storage::open_in(Arc::clone(&fs), config(BackendKind::Auto), dir.path())
        .expect("auto opens whatever the file system says");
    assert_eq!(storage.backend(), BackendKind::Buffered);
    let refusal = storage.backend_refusal().expect("the refusal is reported");
    assert!(refusal.contains("O_DIRECT"), "{refusal}");
    append_and_read_back(&storage, &dir.path().join("log"), make_batch(1, 5, 700));
    let unprobed = Storage::open(fs, config(BackendKind::Auto)).unwrap();
    assert_eq!(unprobed.backend(), BackendKind::IoUring);
    unprobed.shutdown().unwrap();
    // The storage's commit journal stays, as the data directory's own file.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name != shardlog_segment::JOURNAL_FILE_NAME)
        .collect();
    assert_eq!(left.len(), 1, "only the log's directory is left: {left:?}");
}
