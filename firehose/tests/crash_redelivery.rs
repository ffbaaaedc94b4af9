//! A crash between an object becoming durable and the checkpoint moving past it
//! re-delivers exactly that range to the same key after restart: every
//! acknowledged record ends up delivered exactly once.

mod common;

use common::{delivered_lines, direct_put, files_under, open, wait_until, Switchable};
use shardlog_firehose::{Compression, LocalDir};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Records put before and after the crash are delivered once each, and the
/// interrupted object is rewritten in place, not duplicated.
#[test]
fn crash_after_object_before_checkpoint_redelivers_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let buckets = dir.path().join("buckets");
    let local: Arc<LocalDir> = Arc::new(LocalDir::new(&buckets));
    let crashing = Switchable::new(local.clone());
    crashing.write_then_fail.store(true, Ordering::SeqCst);
    let service = open(dir.path(), crashing.clone());
    service
        .create(
            direct_put("orders", Compression::Uncompressed),
            BTreeMap::new(),
        )
        .unwrap();
    let first: Vec<String> = (0..50).map(|i| format!("{{\"n\":{i}}}")).collect();
    let refs: Vec<&[u8]> = first.iter().map(|r| r.as_bytes()).collect();
    service.put_records("orders", &refs).unwrap();
    // The first object is durable but the writer never learns it: the checkpoint
    // cannot move past it.
    wait_until("the first object", || files_under(&buckets).len() == 1);
    wait_until("failed retries", || {
        crashing.attempts.load(Ordering::SeqCst) >= 2
    });
    let written_before = files_under(&buckets);
    let second: Vec<String> = (50..80).map(|i| format!("{{\"n\":{i}}}")).collect();
    let refs: Vec<&[u8]> = second.iter().map(|r| r.as_bytes()).collect();
    service.put_records("orders", &refs).unwrap();
    service.shutdown().unwrap();
    let checkpoint =
        std::fs::read_to_string(dir.path().join("firehose/orders/checkpoint.json")).unwrap();
    assert!(checkpoint.contains("\"pending\": {"), "{checkpoint}");
    drop(service);

    let service = open(dir.path(), local);
    wait_until("every record delivered", || {
        delivered_lines(&buckets).len() >= 80
    });
    service.shutdown().unwrap();
    let mut lines = delivered_lines(&buckets);
    lines.sort();
    let mut expected: Vec<String> = first.iter().chain(&second).cloned().collect();
    expected.sort();
    assert_eq!(lines, expected, "each record exactly once");
    let written_after = files_under(&buckets);
    assert!(
        written_after.contains(&written_before[0]),
        "the interrupted range was rewritten to the same key"
    );
}
