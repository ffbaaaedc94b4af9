//! A failing destination is retried with backoff while producers are pushed back
//! (ServiceUnavailable once the backlog is full); when it recovers, everything
//! accepted is delivered once and producers are accepted again.

mod common;

use common::{delivered_lines, direct_put, open, wait_until, Switchable};
use shardlog_firehose::{Compression, Error, LocalDir};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Puts are refused with Unavailable (never dropped) while the destination
/// fails; after it recovers every accepted record is delivered exactly once.
#[test]
fn failing_destination_pushes_back_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let buckets = dir.path().join("buckets");
    let destination = Switchable::new(Arc::new(LocalDir::new(&buckets)));
    destination.failing.store(true, Ordering::SeqCst);
    let service = open(dir.path(), destination.clone());
    service
        .create(
            direct_put("slow", Compression::Uncompressed),
            BTreeMap::new(),
        )
        .unwrap();
    let mut accepted = Vec::new();
    let mut refused = None;
    // 64 KiB per call against a 1 MiB backlog: refused within ~17 calls.
    for call in 0..64 {
        let records: Vec<String> = (0..16)
            .map(|i| format!("{call:04}-{i:02}-{}", "x".repeat(4000)))
            .collect();
        let refs: Vec<&[u8]> = records.iter().map(|r| r.as_bytes()).collect();
        match service.put_records("slow", &refs) {
            Ok(_) => accepted.extend(records),
            Err(error) => {
                refused = Some(error);
                break;
            }
        }
    }
    assert!(
        matches!(refused, Some(Error::Unavailable(_))),
        "{refused:?}"
    );
    wait_until("retries", || {
        destination.attempts.load(Ordering::SeqCst) >= 2
    });
    let status = service.describe("slow").unwrap();
    assert!(status
        .failure
        .is_some_and(|f| f.contains("injected failure")));
    assert!(status.backlog_bytes > 0);

    destination.failing.store(false, Ordering::SeqCst);
    wait_until("the backlog delivered", || {
        service.describe("slow").unwrap().backlog_bytes == 0
    });
    service.put_records("slow", &[b"after".as_slice()]).unwrap();
    accepted.push("after".into());
    wait_until("the last record", || {
        delivered_lines(&buckets).len() == accepted.len()
    });
    service.shutdown().unwrap();
    let mut delivered = delivered_lines(&buckets);
    delivered.sort();
    accepted.sort();
    assert_eq!(delivered, accepted, "each accepted record exactly once");
    assert_eq!(service.describe("slow").unwrap().failure, None);
}
