//! Direct PUT records reach the local bucket directory under Firehose's naming,
//! compressed as configured, and a restart delivers nothing twice.

mod common;

use common::{direct_put, files_under, open, wait_until};
use shardlog_firehose::{Compression, LocalDir};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

/// A GZIP stream delivers `.gz` objects under `in/YYYY/MM/DD/HH/` that decode to
/// the records, newline-delimited; reopening delivers no object again.
#[test]
fn gzip_objects_under_firehose_names() {
    let dir = tempfile::tempdir().unwrap();
    let buckets = dir.path().join("buckets");
    let service = open(dir.path(), Arc::new(LocalDir::new(&buckets)));
    service
        .create(direct_put("clicks", Compression::Gzip), BTreeMap::new())
        .unwrap();
    let records: Vec<String> = (0..100).map(|i| format!("click-{i}")).collect();
    for chunk in records.chunks(25) {
        let refs: Vec<&[u8]> = chunk.iter().map(|r| r.as_bytes()).collect();
        let ids = service.put_records("clicks", &refs).unwrap();
        assert_eq!(ids.len(), refs.len());
    }
    let decoded = |buckets: &std::path::Path| -> Vec<String> {
        files_under(buckets)
            .iter()
            .flat_map(|path| {
                let mut text = String::new();
                flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
                    .read_to_string(&mut text)
                    .unwrap();
                text.lines().map(str::to_string).collect::<Vec<_>>()
            })
            .collect()
    };
    wait_until("100 records delivered", || decoded(&buckets).len() == 100);
    service.shutdown().unwrap();
    let objects = files_under(&buckets);
    for object in &objects {
        let key = object.strip_prefix(buckets.join("logs")).unwrap();
        let key = key.to_string_lossy();
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts.len(), 6, "{key}");
        assert_eq!(parts[0], "in");
        assert!(parts[5].starts_with("clicks-1-"), "{key}");
        assert!(parts[5].ends_with(".gz"), "{key}");
    }
    let mut got = decoded(&buckets);
    got.sort();
    let mut expected = records.clone();
    expected.sort();
    assert_eq!(got, expected);

    let service = open(dir.path(), Arc::new(LocalDir::new(&buckets)));
    let status = service.describe("clicks").unwrap();
    assert_eq!(status.backlog_bytes, 0);
    service.shutdown().unwrap();
    assert_eq!(files_under(&buckets), objects, "nothing delivered twice");
}
