//! A shutdown while the destination fails leaves the records in the staging log
//! and the flush's range in the checkpoint; the next start delivers them once.

mod common;

use common::{direct_put, open, wait_until, Switchable};
use shardlog_firehose::{Compression, LocalDir};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Nothing acknowledged is lost when the server stops before any object could
/// be written, and nothing is delivered twice after the restart.
#[test]
fn records_survive_a_stop_with_a_failing_destination() {
    let dir = tempfile::tempdir().unwrap();
    let buckets = dir.path().join("buckets");
    let broken = Switchable::new(Arc::new(LocalDir::new(&buckets)));
    broken.failing.store(true, Ordering::SeqCst);
    let service = open(dir.path(), broken.clone());
    service
        .create(direct_put("stuck", Compression::Zstd), BTreeMap::new())
        .unwrap();
    let records: Vec<String> = (0..40).map(|i| format!("r{i:02}")).collect();
    let refs: Vec<&[u8]> = records.iter().map(|r| r.as_bytes()).collect();
    service.put_records("stuck", &refs).unwrap();
    wait_until("a failed attempt", || {
        broken.attempts.load(Ordering::SeqCst) >= 1
    });
    service.shutdown().unwrap();
    assert!(common::files_under(&buckets).is_empty());
    drop(service);

    let service = open(dir.path(), Arc::new(LocalDir::new(&buckets)));
    let decoded = || -> Vec<String> {
        common::files_under(&buckets)
            .iter()
            .flat_map(|path| {
                let bytes = zstd::stream::decode_all(std::fs::File::open(path).unwrap()).unwrap();
                String::from_utf8(bytes)
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    wait_until("40 records", || decoded().len() >= 40);
    service.shutdown().unwrap();
    let mut got = decoded();
    got.sort();
    assert_eq!(got, records, "each record exactly once");
}
