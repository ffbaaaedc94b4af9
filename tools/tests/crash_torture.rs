//! Crash torture: a real `shardlog serve` is killed with SIGKILL at random moments
//! while producers write with the `sync` policy and record every acknowledgement.
//! After each restart every acknowledged record is there, byte-exact, under the
//! sequence number it was acknowledged with; no partial record is returned; and
//! writes are accepted again. 100 cycles by default; SHARDLOG_TORTURE_CYCLES sets
//! more for a long run.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{call, start};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STREAM: &str = "torture";
const SHARDS: u64 = 3;

/// Every record of every shard, following iterators to the end: sequence number → data.
fn read_everything(address: SocketAddr) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for shard in 0..SHARDS {
        let shard_id = format!("shardId-{shard:012}");
        let (status, iterator) = call(address, "GetShardIterator", &json!({"StreamName": STREAM, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"})).unwrap();
        assert_eq!(status, 200, "{iterator}");
        let mut iterator = iterator["ShardIterator"].as_str().unwrap().to_string();
        loop {
            let (status, page) = call(
                address,
                "GetRecords",
                &json!({"ShardIterator": iterator, "Limit": 10000}),
            )
            .unwrap();
            assert_eq!(status, 200, "{page}");
            let records = page["Records"].as_array().unwrap();
            for record in records {
                let data = STANDARD.decode(record["Data"].as_str().unwrap()).unwrap();
                out.insert(record["SequenceNumber"].as_str().unwrap().to_string(), data);
            }
            if records.is_empty() {
                break;
            }
            iterator = page["NextShardIterator"].as_str().unwrap().to_string();
        }
    }
    out
}

/// Producers put records until `stop`; each acknowledgement is recorded.
fn produce(
    address: SocketAddr,
    cycle: usize,
    stop: &AtomicBool,
    acked: &Mutex<BTreeMap<String, Vec<u8>>>,
) {
    std::thread::scope(|scope| {
        for producer in 0..3 {
            scope.spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) && n < 2_000 {
                    let data = format!("c{cycle}-p{producer}-n{n}-{}", "x".repeat((n % 300) as usize)).into_bytes();
                    let body = json!({"StreamName": STREAM, "PartitionKey": format!("k{producer}-{n}"), "Data": STANDARD.encode(&data)});
                    match call(address, "PutRecord", &body) {
                        Some((200, response)) => {
                            let sequence = response["SequenceNumber"].as_str().unwrap().to_string();
                            acked.lock().unwrap().insert(sequence, data);
                        }
                        // Refused or cut off by the kill: not acknowledged.
                        _ => return,
                    }
                    n += 1;
                }
            });
        }
    });
}

/// Kill -9 at random moments under load; every acknowledged record survives.
#[test]
fn sigkill_loses_nothing_acknowledged() {
    let cycles: usize = std::env::var("SHARDLOG_TORTURE_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let mut server = start(&data_dir);
    let (status, created) = call(
        server.address,
        "CreateStream",
        &json!({"StreamName": STREAM, "ShardCount": SHARDS}),
    )
    .unwrap();
    assert_eq!(status, 200, "{created}");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let started = Instant::now();
    for cycle in 0..cycles {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = Duration::from_millis(5 + seed % 120);
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| produce(server.address, cycle, &stop, &acked));
            std::thread::sleep(kill_after);
            server.child.kill().unwrap(); // SIGKILL
            server.child.wait().unwrap();
            stop.store(true, Ordering::Relaxed);
        });
        server = start(&data_dir);
        let found = read_everything(server.address);
        let acked = acked.lock().unwrap();
        for (sequence, data) in acked.iter() {
            assert_eq!(
                found.get(sequence),
                Some(data),
                "cycle {cycle}: acknowledged record {sequence} lost or changed"
            );
        }
        // Anything else found is whole: an unacknowledged record is either there, complete, or absent.
        for data in found.values() {
            let text = String::from_utf8(data.clone()).expect("a record is never partial");
            assert!(
                text.starts_with('c') && text.contains("-p") && text.contains("-n"),
                "{text}"
            );
        }
    }
    // Writes are accepted after the last restart.
    let (status, _) = call(
        server.address,
        "PutRecord",
        &json!({"StreamName": STREAM, "PartitionKey": "after", "Data": "YWZ0ZXI="}),
    )
    .unwrap();
    assert_eq!(status, 200);
    let total = acked.lock().unwrap().len();
    assert!(
        total > cycles,
        "producers got work acknowledged: {total} records in {cycles} cycles"
    );
    eprintln!(
        "{cycles} kill cycles, {total} acknowledged records, {:?}",
        started.elapsed()
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
