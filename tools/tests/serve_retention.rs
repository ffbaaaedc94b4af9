//! `serve --retention-bytes-max` and `serve --key-compaction` act on the streams a
//! real server creates: with small segments and a short retention check, the
//! oldest records go past the size cap, and superseded keys leave sealed segments.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{call, start_with, stop};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Records written; 1,000 bytes each, about 30 segments of 64 KiB.
const RECORDS: usize = 2000;
const RECORD_BYTES: usize = 1000;
/// Small segments and a short check, so that segments seal and go in a test.
const SMALL: [&str; 4] = [
    "--segment-bytes-max",
    "65536",
    "--retention-check-interval-ms",
    "50",
];
/// Longest wait for the background thread to act.
const WAIT: Duration = Duration::from_secs(60);

/// A record as written or read: (partition key, sequence number).
type Written = (String, String);

fn ok(address: SocketAddr, action: &str, body: &Value) -> Value {
    let (status, value) = call(address, action, body).expect("the server answers");
    assert_eq!(status, 200, "{action}: {value}");
    value
}

/// Creates stream `s` with one shard and writes RECORDS records with the keys
/// `key_of` gives, in order; returns them with their sequence numbers.
fn write_records(address: SocketAddr, key_of: impl Fn(usize) -> String) -> Vec<Written> {
    ok(
        address,
        "CreateStream",
        &json!({"StreamName": "s", "ShardCount": 1}),
    );
    let mut written = Vec::new();
    for chunk in 0..RECORDS / 100 {
        let keys: Vec<String> = (chunk * 100..(chunk + 1) * 100).map(&key_of).collect();
        let records: Vec<Value> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let data = format!("{:0width$}", chunk * 100 + i, width = RECORD_BYTES);
                json!({"Data": STANDARD.encode(data), "PartitionKey": key})
            })
            .collect();
        let answer = ok(
            address,
            "PutRecords",
            &json!({"StreamName": "s", "Records": records}),
        );
        assert_eq!(answer["FailedRecordCount"], 0, "{answer}");
        let sequences = answer["Records"].as_array().expect("Records");
        for (key, result) in keys.into_iter().zip(sequences) {
            let sequence = result["SequenceNumber"].as_str().expect("SequenceNumber");
            written.push((key, sequence.to_string()));
        }
    }
    written
}

/// Every record the shard holds now, from TRIM_HORIZON to its end.
fn read_shard(address: SocketAddr) -> Vec<Written> {
    let answer = ok(
        address,
        "GetShardIterator",
        &json!({"StreamName": "s", "ShardId": "shardId-000000000000",
                "ShardIteratorType": "TRIM_HORIZON"}),
    );
    let mut iterator = answer["ShardIterator"].clone();
    let mut found = Vec::new();
    for _ in 0..RECORDS + 1 {
        let answer = ok(
            address,
            "GetRecords",
            &json!({"ShardIterator": iterator, "Limit": 10000}),
        );
        let records = answer["Records"].as_array().expect("Records");
        if records.is_empty() {
            return found;
        }
        for record in records {
            let key = record["PartitionKey"].as_str().expect("PartitionKey");
            let sequence = record["SequenceNumber"].as_str().expect("SequenceNumber");
            found.push((key.to_string(), sequence.to_string()));
        }
        iterator = answer["NextShardIterator"].clone();
    }
    panic!(
        "the shard did not end within {} GetRecords calls",
        RECORDS + 1
    )
}

/// Reads the shard until `done` holds for what it holds; panics after WAIT.
fn wait_for(address: SocketAddr, done: impl Fn(&[Written]) -> bool) -> Vec<Written> {
    let start = Instant::now();
    loop {
        let found = read_shard(address);
        if done(&found) {
            return found;
        }
        assert!(
            start.elapsed() < WAIT,
            "the shard still holds {} records after {WAIT:?}",
            found.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// With --retention-bytes-max, the shard keeps at most that many bytes, and what
/// it keeps is the newest records in order (retention takes a prefix).
#[test]
fn retention_bytes_max_drops_the_oldest_records() {
    let cap_bytes = 256 << 10;
    let dir = tempfile::tempdir().unwrap();
    let mut options = SMALL.to_vec();
    let cap = cap_bytes.to_string();
    options.extend(["--retention-bytes-max", &cap]);
    let server = start_with(dir.path(), &options);
    let written = write_records(server.address, |i| format!("key{i}"));
    let kept = wait_for(server.address, |found| {
        found.len() * RECORD_BYTES <= cap_bytes
    });
    assert!(!kept.is_empty(), "the newest segment must stay");
    assert_eq!(kept, written[written.len() - kept.len()..]);
    assert!(stop(server));
}

/// With --key-compaction, sealed segments lose records whose key a later record
/// has; each key's newest record and every record with a unique key stay.
#[test]
fn key_compaction_drops_superseded_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = SMALL.to_vec();
    options.push("--key-compaction");
    let server = start_with(dir.path(), &options);
    // Even records share five keys; odd ones have their own.
    let key_of = |i: usize| {
        if i.is_multiple_of(2) {
            format!("shared{}", i % 10)
        } else {
            format!("unique{i}")
        }
    };
    let written = write_records(server.address, key_of);
    let kept = wait_for(server.address, |found| found.len() < RECORDS);
    let kept_set: BTreeSet<&Written> = kept.iter().collect();
    let mut newest: BTreeMap<&str, &Written> = BTreeMap::new();
    for record in &written {
        newest.insert(&record.0, record);
    }
    for record in &written {
        let superseded = newest[record.0.as_str()] != record;
        assert!(
            superseded || kept_set.contains(record),
            "{record:?} is gone though no later record has its key"
        );
    }
    let in_order: Vec<&Written> = written.iter().filter(|r| kept_set.contains(r)).collect();
    assert_eq!(kept.iter().collect::<Vec<_>>(), in_order);
    assert!(stop(server));
}
