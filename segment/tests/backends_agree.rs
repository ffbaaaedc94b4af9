//! The buffered and io_uring backends produce the same logical log: the same
//! records at the same positions, the same segment boundaries, files that differ
//! only in arrival times, and both recover to the same state.

mod common;

use common::{borrow, make_batch, read_all, Owned};
use shardlog_segment::io::RealFs;
use shardlog_segment::{BackendKind, Durability, LogConfig, Storage, StorageConfig};
use std::path::Path;

/// Records by position, and (base, end, bytes) of each segment.
type Written = (Vec<(u64, Owned)>, Vec<(u64, u64, u64)>);

fn write(backend: BackendKind, dir: &Path) -> Written {
    let config = StorageConfig {
        backend,
        durability: Durability::Sync,
    };
    let log_config = LogConfig {
        segment_bytes_max: 100 << 10,
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
