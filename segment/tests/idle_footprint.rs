//! What an idle log costs (issue 16, 1,000 shards): at most three open files once it
//! has taken a write, before and after a reopen; and the `.tix` of the active segment,
//! no longer kept open, is written whole at close so that a clean reopen rebuilds
//! nothing.

mod common;

use common::{borrow, make_batch, read_all};
use shardlog_segment::io::RealFs;
use shardlog_segment::{BackendKind, Durability, LogConfig, Storage, StorageConfig};

const LOGS: usize = 20;

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn storage() -> Storage {
    Storage::open(
        RealFs::shared(),
        StorageConfig {
            backend: BackendKind::Buffered,
            durability: Durability::Sync,
        },
    )
    .unwrap()
}

/// Twenty logs that each took one append hold at most three files each, and again
/// after a clean reopen, which finds complete indexes and every record.
#[test]
fn an_idle_log_holds_at_most_three_files() {
    let temp = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..LOGS)
        .map(|i| temp.path().join(format!("l{i}")))
        .collect();
    for round in 0..2 {
        let storage = storage();
        let before = open_files();
        let mut logs = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            let (log, report) = storage.open_log(dir, LogConfig::default()).unwrap();
            assert!(
                report.rebuilt_indexes.is_empty(),
                "round {round}: {report:?}"
            );
            log.append(&borrow(&make_batch(i as u64, 3, 100))).unwrap();
            logs.push(log);
        }
        let per_log = (open_files() - before) as f64 / LOGS as f64;
        assert!(
            per_log <= 3.0,
            "round {round}: {per_log} open files per log"
        );
        for log in &logs {
            assert_eq!(read_all(log, 0).len(), 3 * (round + 1));
        }
        storage.shutdown().unwrap();
    }
    let tix = std::fs::read_dir(&dirs[0])
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "tix"))
        .unwrap();
    let idx = tix.with_extension("idx");
    assert_eq!(
        std::fs::metadata(&tix).unwrap().len(),
        std::fs::metadata(&idx).unwrap().len(),
        "the closed segment's .tix holds as many entries as its .idx"
    );
}
