//! Issue 14, item 10: time retention expires the records of an idle shard's
//! active segment and of closed parents too, and sequence numbers are never
//! handed out twice afterwards, across a restart as well.

use shardlog_engine::seqno::SequenceNumber;
use shardlog_engine::{Engine, EngineConfig, IteratorStart, PutRecord, ShardId};
use shardlog_segment::io::{FileSystem, MemFs};
use std::collections::BTreeMap;
use std::sync::Arc;

const HOUR_MS: u64 = 3_600_000;
const SHARD0: ShardId = ShardId(0);

fn open(fs: &Arc<MemFs>) -> Engine {
    let mut config = EngineConfig::new("/data");
    config.retention_check_interval_ms = 0;
    Engine::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Puts one record; returns its shard and sequence number.
fn put(engine: &Engine, key: &str) -> (ShardId, SequenceNumber) {
    let record = PutRecord {
        partition_key: key,
        data: key.as_bytes(),
        explicit_hash_key: None,
    };
    let result = engine.put_record("r", record).unwrap();
    (result.shard_id, result.sequence_number)
}

/// Sequence numbers of a shard's records from TRIM_HORIZON to its end.
fn sequence_numbers(engine: &Engine, shard: ShardId) -> Vec<SequenceNumber> {
    let mut iterator = Some(
        engine
            .get_shard_iterator("r", shard, IteratorStart::TrimHorizon)
            .unwrap(),
    );
    let mut out = Vec::new();
    while let Some(current) = iterator {
        let page = engine.get_records(&current, 100).unwrap();
        if page.records.is_empty() && page.next_shard_iterator.is_some() {
            break;
        }
        out.extend(page.records.into_iter().map(|r| r.sequence_number));
        iterator = page.next_shard_iterator;
    }
    out
}

/// A stream `r` of one shard holding five records; their sequence numbers.
fn stream_with_five_records() -> (Arc<MemFs>, Engine, Vec<SequenceNumber>) {
    let fs = MemFs::new();
    let engine = open(&fs);
    engine.create_stream("r", Some(1), BTreeMap::new()).unwrap();
    let sequences = (0..5).map(|i| put(&engine, &format!("k{i}")).1).collect();
    (fs, engine, sequences)
}

/// An idle shard's records all sit in its active segment; 25 hours later they
/// are gone. The next put gets a higher sequence number than any before, and after
/// a restart so does the one after. Caught: the active segment never expired.
#[test]
fn an_idle_shards_active_segment_expires() {
    let (fs, engine, before) = stream_with_five_records();
    assert_eq!(sequence_numbers(&engine, SHARD0), before);

    engine.enforce_retention(now_ms() + 23 * HOUR_MS).unwrap();
    assert_eq!(sequence_numbers(&engine, SHARD0), before, "not expired yet");
    engine.enforce_retention(now_ms() + 25 * HOUR_MS).unwrap();
    assert!(sequence_numbers(&engine, SHARD0).is_empty(), "all expired");

    let (_, after) = put(&engine, "k5");
    assert!(after > *before.last().unwrap(), "{after} reuses a position");
    assert_eq!(
        sequence_numbers(&engine, SHARD0),
        std::slice::from_ref(&after)
    );
    engine.enforce_retention(now_ms() + 25 * HOUR_MS).unwrap();
    engine.shutdown().unwrap();
    drop(engine);

    let engine = open(&fs);
    assert!(sequence_numbers(&engine, SHARD0).is_empty());
    let (_, restarted) = put(&engine, "k6");
    assert!(restarted > after, "{restarted} reuses a position");
    engine.shutdown().unwrap();
}

/// A parent closed by a split keeps no writer; its records expire with time all
/// the same, while a child's newer records stay.
#[test]
fn a_closed_parent_expires() {
    let (_fs, engine, parent) = stream_with_five_records();
    let middle = shardlog_engine::HashKey(u128::MAX / 2);
    engine.split_shard("r", SHARD0, middle).unwrap();
    let retention_at = now_ms() + 25 * HOUR_MS;

    engine.enforce_retention(retention_at).unwrap();
    assert!(
        sequence_numbers(&engine, SHARD0).is_empty(),
        "{parent:?} kept"
    );
    let (child, sequence) = put(&engine, "after the split");
    assert_ne!(child, SHARD0);
    engine.enforce_retention(now_ms() + HOUR_MS).unwrap();
    assert_eq!(sequence_numbers(&engine, child), [sequence]);
    engine.shutdown().unwrap();
}
