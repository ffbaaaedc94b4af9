//! Cutting the last segment at every byte offset of its tail recovers exactly the
//! batches that are complete before the cut, and the log accepts appends again.

mod common;

use common::{borrow, make_batch, read_all, Owned};
use proptest::prelude::*;
use shardlog_index::{IndexKind, IndexView};
use shardlog_segment::io::{read_file, write_all_at, FileSystem, MemFs, OpenOptions};
use shardlog_segment::{BackendKind, Durability, LogConfig, Storage, StorageConfig};
use std::path::Path;
use std::sync::Arc;

const CONFIG: StorageConfig = StorageConfig {
    backend: BackendKind::Buffered,
    durability: Durability::Sync,
};

fn log_config() -> LogConfig {
    LogConfig {
        index_interval_bytes: 0,
        ..LogConfig::default()
    }
}

struct Written {
    log: Vec<u8>,
    idx: Vec<u8>,
    /// (end offset in the file, records) of each batch.
    batches: Vec<(u64, Vec<Owned>)>,
}

fn write_log(sizes: &[(usize, usize)]) -> Written {
    let fs = MemFs::new();
    let storage = Storage::open(fs.clone(), CONFIG).unwrap();
    let (log, _) = storage.open_log("/s", log_config()).unwrap();
    let mut batches = Vec::new();
    for (batch, (count, data_len)) in sizes.iter().enumerate() {
        let records = make_batch(batch as u64, *count, *data_len);
        log.append(&borrow(&records)).unwrap();
        let end = log.segments().last().unwrap().bytes;
        batches.push((end, records));
    }
    storage.shutdown().unwrap();
    let dir = Path::new("/s");
    let log_name = format!("{:020}.log", 0);
    let idx_name = format!("{:020}.idx", 0);
    Written {
        log: read_file(fs.as_ref(), &dir.join(log_name)).unwrap(),
        idx: read_file(fs.as_ref(), &dir.join(idx_name)).unwrap(),
        batches,
    }
}

fn put(fs: &dyn FileSystem, path: &str, bytes: &[u8]) {
    let file = fs.open(Path::new(path), OpenOptions::CREATE).unwrap();
    write_all_at(file.as_ref(), bytes, 0).unwrap();
    file.sync_data().unwrap();
}

/// The index as a crash would leave it: only entries for batches that end before
/// the cut (entries are written after their batch is synced).
fn index_before(idx: &[u8], cut: u64, batches: &[(u64, Vec<Owned>)]) -> Vec<u8> {
    let view = IndexView::parse(idx, IndexKind::Position, 0).unwrap();
    let kept: Vec<_> = view
        .iter()
        .filter(|entry| {
            let batch = batches.iter().position(|(end, _)| *end > entry.value);
            batch.is_some_and(|b| batches[b].0 <= cut)
        })
        .collect();
    shardlog_index::encode_file(IndexKind::Position, 0, &kept, None)
}

fn check_cut(written: &Written, cut: u64, keep_index: bool) {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/s")).unwrap();
    put(
        fs.as_ref(),
        "/s/00000000000000000000.log",
        &written.log[..cut as usize],
    );
    if keep_index {
        let idx = index_before(&written.idx, cut, &written.batches);
        put(fs.as_ref(), "/s/00000000000000000000.idx", &idx);
    }
    let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, CONFIG).unwrap();
    let (log, report) = storage.open_log("/s", log_config()).unwrap();
    let complete: Vec<&(u64, Vec<Owned>)> = written
        .batches
        .iter()
        .filter(|(end, _)| *end <= cut)
        .collect();
    let expected: Vec<Owned> = complete.iter().flat_map(|(_, r)| r.clone()).collect();
    let kept_end = complete.last().map_or(64, |(end, _)| *end);
    assert_eq!(report.truncated_bytes, cut - kept_end, "cut at {cut}");
    assert_eq!(
        report.dropped_batches,
        u64::from(cut > kept_end),
        "cut at {cut}"
    );
    let got: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(got, expected, "cut at {cut}");
    let more = make_batch(99, 2, 10);
    let appended = log.append(&borrow(&more)).unwrap();
    assert_eq!(appended.base_position, expected.len() as u64);
    storage.shutdown().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Every cut offset from the third-last batch to the end of the file.
    #[test]
    fn every_tail_cut_keeps_exactly_the_complete_batches(
        sizes in proptest::collection::vec((1usize..6, 0usize..200), 4..8),
        keep_index in any::<bool>(),
    ) {
        let written = write_log(&sizes);
        let n = written.batches.len();
        let from = written.batches[n - 4].0;
        for cut in from..=written.log.len() as u64 {
            check_cut(&written, cut, keep_index);
        }
    }
}
