//! A Kinesis-stream source delivers every record of every shard, a split
//! parent's records before its children's, once each.

mod common;

use common::wait_until;
use shardlog_engine::{Engine, EngineConfig, PutRecord};
use shardlog_firehose::{
    Destination, Destinations, Firehose, FirehoseConfig, SourceConfig, StartPosition,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Remembers every object in the order written.
#[derive(Debug, Default)]
struct Recorder {
    objects: Mutex<Vec<(String, Vec<u8>)>>,
}

impl Destination for Recorder {
    fn put(&self, _bucket: &str, key: &str, body: &[u8]) -> shardlog_firehose::Result<()> {
        self.objects
            .lock()
            .unwrap()
            .push((key.to_string(), body.to_vec()));
        Ok(())
    }

    fn exists(&self, _bucket: &str, key: &str) -> shardlog_firehose::Result<bool> {
        Ok(self.objects.lock().unwrap().iter().any(|(k, _)| k == key))
    }
}

impl Recorder {
    fn lines(&self) -> Vec<String> {
        let objects = self.objects.lock().unwrap();
        objects
            .iter()
            .flat_map(|(_, body)| {
                String::from_utf8(body.clone())
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

fn put(engine: &Engine, prefix: &str, count: usize) -> Vec<String> {
    let records: Vec<String> = (0..count).map(|i| format!("{prefix}-{i:03}")).collect();
    let keys: Vec<String> = (0..count).map(|i| format!("key-{i}")).collect();
    let puts: Vec<PutRecord<'_>> = records
        .iter()
        .zip(&keys)
        .map(|(data, key)| PutRecord {
            partition_key: key,
            data: data.as_bytes(),
            explicit_hash_key: None,
        })
        .collect();
    for result in engine.put_records("events", &puts).unwrap() {
        result.unwrap();
    }
    records
}

/// Records before a split (parent shard) are all delivered before any record
/// after it (child shards), and each record exactly once.
#[test]
fn parents_before_children_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(
        shardlog_segment::io::RealFs::shared(),
        EngineConfig::new(dir.path().join("engine")),
    )
    .unwrap();
    engine
        .create_stream("events", Some(1), BTreeMap::new())
        .unwrap();
    let before = put(&engine, "before", 50);
    engine
        .split_shard(
            "events",
            shardlog_engine::ShardId(0),
            shardlog_engine::HashKey(1 << 127),
        )
        .unwrap();
    let after = put(&engine, "after", 50);

    let recorder = Arc::new(Recorder::default());
    let firehose = Firehose::open(
        FirehoseConfig::new(dir.path()),
        Some(engine.clone()),
        Destinations::with_default(recorder.clone()),
    )
    .unwrap();
    let mut config =
        common::direct_put("from-kinesis", shardlog_firehose::Compression::Uncompressed);
    config.source = SourceConfig::Kinesis {
        stream_name: "events".into(),
        start: StartPosition::TrimHorizon,
    };
    firehose.create(config, BTreeMap::new()).unwrap();
    wait_until("100 records", || recorder.lines().len() >= 100);
    assert_eq!(firehose.describe("from-kinesis").unwrap().backlog_bytes, 0);
    firehose.shutdown().unwrap();
    engine.shutdown().unwrap();

    let lines = recorder.lines();
    let mut sorted = lines.clone();
    sorted.sort();
    let mut expected: Vec<String> = before.iter().chain(&after).cloned().collect();
    expected.sort();
    assert_eq!(sorted, expected, "each record exactly once");
    let last_parent = lines.iter().rposition(|l| l.starts_with("before")).unwrap();
    let first_child = lines.iter().position(|l| l.starts_with("after")).unwrap();
    assert!(last_parent < first_child, "parent records come first");
    let checkpoint =
        std::fs::read_to_string(dir.path().join("firehose/from-kinesis/checkpoint.json")).unwrap();
    for shard in [
        "shardId-000000000000",
        "shardId-000000000001",
        "shardId-000000000002",
    ] {
        assert!(checkpoint.contains(shard), "{shard} in {checkpoint}");
    }
}
