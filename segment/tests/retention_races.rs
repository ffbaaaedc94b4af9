//! Retention against compaction and failing removals (issue 14, item 10): a
//! segment retention removed never comes back, and a segment stays in memory (and
//! readable) until its file is really gone.

mod common;

use common::{borrow, make_batch, read_all};
use shardlog_segment::format::segment_file_name;
use shardlog_segment::io::{FaultAction, FaultyFs, FileSystem, Interpose, Interposed, IoOp, MemFs};
use shardlog_segment::{BackendKind, Durability, Log, LogConfig, Record, Storage, StorageConfig};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DIR: &str = "/s";

fn config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        segment_age_ms_max: None,
        ..LogConfig::default()
    }
}

/// Appends batches of one key until the log has `sealed` sealed segments, so that
/// compaction rewrites every one of them (only the newest record is kept).
fn fill(log: &Log, sealed: usize) {
    let payload = vec![1u8; 4000];
    let mut batch = 0;
    while log.segments().iter().filter(|s| s.sealed).count() < sealed {
        let record = Record {
            partition_key: "same-key",
            explicit_hash_key: None,
            data: &payload,
        };
        log.append(&[record]).unwrap();
        batch += 1;
        assert!(batch < 10_000, "the log never rolled");
    }
}

/// File-system hooks that, once, stop right after removing a chosen file until
/// the test lets it go on.
#[derive(Debug)]
struct PauseAfterRemoving {
    path: Mutex<Option<PathBuf>>,
    paused: SyncSender<()>,
    resume: Mutex<Receiver<()>>,
}

impl Interpose for PauseAfterRemoving {
    fn after_remove_file(&self, path: &Path) {
        let mut target = self.path.lock().unwrap();
        if target.as_deref() == Some(path) {
            *target = None;
            drop(target);
            self.paused.send(()).unwrap();
            self.resume.lock().unwrap().recv().unwrap();
        }
    }
}

fn storage_on(fs: Arc<dyn FileSystem>) -> Storage {
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    Storage::open(fs, config).unwrap()
}

/// Compaction ran while retention removed the oldest segment: it rewrote that
/// segment (creating its file again) and installed it, and retention then dropped
/// the rewrite from memory, leaving expired records on disk that the next open
/// brought back. Retention now holds compaction off until it is done.
#[test]
fn compaction_never_brings_back_a_segment_retention_removed() {
    let mem = MemFs::new();
    let (paused, on_pause) = sync_channel(1);
    let (resume, on_resume) = sync_channel(1);
    let fs = Arc::new(Interposed::new(
        mem.clone(),
        PauseAfterRemoving {
            path: Mutex::new(None),
            paused,
            resume: Mutex::new(on_resume),
        },
    ));
    let storage = storage_on(fs.clone());
    let (log, _) = storage.open_log(DIR, config()).unwrap();
    fill(&log, 3);
    let oldest = log.segments()[0];
    let oldest_log = Path::new(DIR).join(segment_file_name(oldest.base_position, "log"));
    *fs.hooks().path.lock().unwrap() = Some(oldest_log.clone());

    let log = &log;
    std::thread::scope(|scope| {
        let retention = scope.spawn(move || {
            log.remove_oldest_segments(|segment| segment.base_position == oldest.base_position)
        });
        on_pause
            .recv_timeout(Duration::from_secs(10))
            .expect("retention reached the removal");
        let (compacted, on_compacted) = sync_channel(1);
        let compaction = scope.spawn(move || {
            let report = log.compact();
            compacted.send(()).unwrap();
            report
        });
        // Without the exclusion compaction finishes now, in the middle of the
        // removal; with it, it waits for retention (the bound lets it go on).
        let _ = on_compacted.recv_timeout(Duration::from_millis(500));
        resume.send(()).unwrap();
        let removed = retention.join().unwrap().unwrap();
        assert_eq!(removed.len(), 1);
        compaction.join().unwrap().unwrap();
    });
    assert!(!mem.exists(&oldest_log), "the removed segment came back");
    assert!(log
        .segments()
        .iter()
        .all(|s| s.base_position != oldest.base_position));
    storage.shutdown().unwrap();

    let storage = storage_on(mem.clone());
    let (log, _) = storage.open_log(DIR, config()).unwrap();
    assert_eq!(
        log.first_position(),
        oldest.end_position,
        "the removed segment's records are back"
    );
    storage.shutdown().unwrap();
}

/// A removal that fails leaves the segment in memory and readable, as it still is
/// on disk; the next retention pass removes it.
#[test]
fn a_failed_removal_keeps_the_segment() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.clone() as Arc<dyn FileSystem>);
    let storage = storage_on(faulty.clone());
    let (log, _) = storage.open_log(DIR, config()).unwrap();
    for batch in 0..40 {
        log.append(&borrow(&make_batch(batch, 4, 1000))).unwrap();
    }
    let oldest = log.segments()[0];
    assert!(oldest.sealed);
    let before = read_all(&log, 0);
    faulty.inject(shardlog_segment::io::Fault {
        op: IoOp::Remove,
        path_contains: Some(".log".into()),
        skip: 0,
        times: 1,
        action: FaultAction::Error(libc::EIO),
    });
    let failed = log.remove_oldest_segments(|s| s.base_position == oldest.base_position);
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(log.segments()[0], oldest, "still in memory");
    assert_eq!(log.first_position(), oldest.base_position);
    assert_eq!(read_all(&log, 0), before, "still readable");

    let removed = log
        .remove_oldest_segments(|s| s.base_position == oldest.base_position)
        .unwrap();
    assert_eq!(removed, [oldest]);
    assert_eq!(log.first_position(), oldest.end_position);
    storage.shutdown().unwrap();
}
