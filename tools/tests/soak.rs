//! Load and soak over HTTP: producers and tailing consumers against a real
//! `shardlog serve` for a bounded time (60 s; SHARDLOG_SOAK_SECS to change it),
//! with a split, a merge and a shard-count change under load. At the end nothing
//! acknowledged is lost, nothing is duplicated, order holds per shard, and the
//! server's RSS at start and end is reported (and must stay bounded).

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{call, start};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const STREAM: &str = "soak";

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn ok(address: SocketAddr, action: &str, body: Value) -> Value {
    let (status, reply) =
        call(address, action, &body).unwrap_or_else(|| panic!("{action}: no answer"));
    assert_eq!(status, 200, "{action}: {reply}");
    reply
}

fn shard_ids(address: SocketAddr) -> Vec<(String, Option<String>)> {
    let listed = ok(address, "ListShards", json!({"StreamName": STREAM}));
    listed["Shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let id = s["ShardId"].as_str().unwrap().to_string();
            let end = s["SequenceNumberRange"]["EndingSequenceNumber"]
                .as_str()
                .map(str::to_string);
            (id, end)
        })
        .collect()
}

/// Reads one shard from TRIM_HORIZON to its end (or to the tip of an open shard).
fn read_shard(address: SocketAddr, shard: &str) -> Vec<(String, Vec<u8>)> {
    let start = ok(
        address,
        "GetShardIterator",
        json!({"StreamName": STREAM, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    );
    let mut iterator = start["ShardIterator"].as_str().map(str::to_string);
    let mut out = Vec::new();
    while let Some(current) = iterator {
        let page = ok(
            address,
            "GetRecords",
            json!({"ShardIterator": current, "Limit": 10000}),
        );
        let records = page["Records"].as_array().unwrap();
        if records.is_empty() && page["NextShardIterator"].is_string() {
            break;
        }
        for record in records {
            let data = STANDARD.decode(record["Data"].as_str().unwrap()).unwrap();
            out.push((record["SequenceNumber"].as_str().unwrap().to_string(), data));
        }
        iterator = page["NextShardIterator"].as_str().map(str::to_string);
    }
    out
}

/// Tails the shard open at the start, checking order, until told to stop.
fn tail(address: SocketAddr, shard: &str, stop: &AtomicBool, seen: &AtomicU64) {
    let start = ok(
        address,
        "GetShardIterator",
        json!({"StreamName": STREAM, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    );
    let mut iterator = start["ShardIterator"].as_str().map(str::to_string);
    let mut last = String::new();
    while let Some(current) = iterator {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let page = ok(
            address,
            "GetRecords",
            json!({"ShardIterator": current, "Limit": 1000}),
        );
        for record in page["Records"].as_array().unwrap() {
            let sequence = record["SequenceNumber"].as_str().unwrap().to_string();
            assert!(
                sequence > last,
                "order within {shard}: {sequence} after {last}"
            );
            last = sequence;
            seen.fetch_add(1, Ordering::Relaxed);
        }
        iterator = page["NextShardIterator"].as_str().map(str::to_string);
    }
}

/// Producers and consumers under resharding: nothing lost, nothing duplicated.
#[test]
fn soak_with_resharding() {
    let seconds: u64 = std::env::var("SHARDLOG_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir.path().join("data"));
    let address = server.address;
    ok(
        address,
        "CreateStream",
        json!({"StreamName": STREAM, "ShardCount": 4}),
    );
    let acked: Mutex<BTreeMap<String, Vec<u8>>> = Mutex::new(BTreeMap::new());
    let stop = AtomicBool::new(false);
    let consumed = AtomicU64::new(0);
    let rss_start = rss_kib(server.child.id());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    std::thread::scope(|scope| {
        for producer in 0..4 {
            let (acked, stop) = (&acked, &stop);
            scope.spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let records: Vec<Value> = (0..10)
                        .map(|i| {
                            let data = format!("p{producer}-n{n}-i{i}");
                            json!({"PartitionKey": format!("k{producer}-{n}-{i}"), "Data": STANDARD.encode(data)})
                        })
                        .collect();
                    let reply = ok(address, "PutRecords", json!({"StreamName": STREAM, "Records": records}));
                    let mut acked = acked.lock().unwrap();
                    for (i, result) in reply["Records"].as_array().unwrap().iter().enumerate() {
                        let sequence = result["SequenceNumber"].as_str().expect("no record fails here");
                        acked.insert(sequence.to_string(), format!("p{producer}-n{n}-i{i}").into_bytes());
                    }
                    n += 1;
                }
            });
        }
        for shard in ["shardId-000000000000", "shardId-000000000002"] {
            let (stop, consumed) = (&stop, &consumed);
            scope.spawn(move || tail(address, shard, stop, consumed));
        }
        // Reshard under load: split, merge, change the count.
        std::thread::sleep(Duration::from_secs(seconds / 4));
        let half = (u128::MAX / 4 + u128::MAX / 8).to_string();
        ok(
            address,
            "SplitShard",
            json!({"StreamName": STREAM, "ShardToSplit": "shardId-000000000001", "NewStartingHashKey": half}),
        );
        std::thread::sleep(Duration::from_secs(seconds / 4));
        ok(
            address,
            "MergeShards",
            json!({"StreamName": STREAM, "ShardToMerge": "shardId-000000000002", "AdjacentShardToMerge": "shardId-000000000003"}),
        );
        std::thread::sleep(Duration::from_secs(seconds / 4));
        ok(
            address,
            "UpdateShardCount",
            json!({"StreamName": STREAM, "TargetShardCount": 6, "ScalingType": "UNIFORM_SCALING"}),
        );
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Relaxed);
    });
    let rss_end = rss_kib(server.child.id());
    let acked = acked.into_inner().unwrap();
    let mut found: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let shards = shard_ids(address);
    for (shard, _) in &shards {
        let records = read_shard(address, shard);
        for pair in records.windows(2) {
            assert!(pair[0].0 < pair[1].0, "order within {shard}");
        }
        for (sequence, data) in records {
            assert!(
                found.insert(sequence.clone(), data).is_none(),
                "duplicate {sequence}"
            );
        }
    }
    let found_set: BTreeSet<&String> = found.keys().collect();
    let acked_set: BTreeSet<&String> = acked.keys().collect();
    assert_eq!(
        found_set, acked_set,
        "every acknowledged record exactly once"
    );
    for (sequence, data) in &acked {
        assert_eq!(&found[sequence], data);
    }
    eprintln!(
        "{} records acknowledged over {} shards, {} read while tailing; RSS {} KiB at start, {} KiB at end",
        acked.len(),
        shards.len(),
        consumed.load(Ordering::Relaxed),
        rss_start,
        rss_end
    );
    assert!(acked.len() > 1000);
    assert!(
        rss_end < rss_start + 256 * 1024,
        "RSS grew from {rss_start} KiB to {rss_end} KiB"
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
