//! PutRecords staged with `submit_records` and awaited on an async task answers
//! as the blocking `put_records` does: every record in its slot, on the shard
//! its key routes to, with sequence numbers in call order, and readable after.

use shardlog_engine::{Engine, EngineConfig, IteratorStart, PutRecord, ShardId};
use shardlog_segment::io::{FileSystem, MemFs};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Awaited records get the shards the blocking path gives the same keys, rising
/// sequence numbers per shard in call order, and read back in that order.
#[test]
fn awaited_put_answers_each_record_as_the_blocking_put_does() {
    let fs = MemFs::new();
    let engine = Engine::open(
        fs.clone() as Arc<dyn FileSystem>,
        EngineConfig::new("/data"),
    )
    .unwrap();
    engine.create_stream("s", Some(4), BTreeMap::new()).unwrap();
    let keys: Vec<String> = (0..60).map(|n| format!("key-{n}")).collect();
    let payloads: Vec<Vec<u8>> = (0..60u8).map(|n| vec![n; 1 + n as usize]).collect();
    let records: Vec<PutRecord<'_>> = keys
        .iter()
        .zip(&payloads)
        .map(|(key, data)| PutRecord {
            partition_key: key,
            data,
            explicit_hash_key: None,
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let submitted = engine.submit_records("s", &records).unwrap();
    let awaited = runtime
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(30), submitted.acknowledged()).await
        })
        .expect("acknowledged within 30 s");
    let blocking = engine.put_records("s", &records).unwrap();
    assert_eq!(awaited.len(), records.len());
    let mut shards_used = BTreeMap::<ShardId, Vec<usize>>::new();
    for (slot, (awaited, blocking)) in awaited.iter().zip(&blocking).enumerate() {
        let (awaited, blocking) = (awaited.as_ref().unwrap(), blocking.as_ref().unwrap());
        assert_eq!(awaited.shard_id, blocking.shard_id, "record {slot}");
        shards_used.entry(awaited.shard_id).or_default().push(slot);
    }
    assert!(shards_used.len() > 1, "60 keys spread over 4 shards");
    for (shard, slots) in shards_used {
        let numbers: Vec<_> = slots.iter().map(|s| awaited[*s].clone().unwrap()).collect();
        assert!(numbers
            .windows(2)
            .all(|pair| pair[0].sequence_number < pair[1].sequence_number));
        let iterator = engine
            .get_shard_iterator("s", shard, IteratorStart::TrimHorizon)
            .unwrap();
        let page = engine.get_records(&iterator, 10_000).unwrap();
        assert!(
            page.records.len() >= slots.len(),
            "the awaited records are read"
        );
        let read: Vec<_> = page.records.iter().take(slots.len()).collect();
        for (slot, record) in slots.iter().zip(read) {
            assert_eq!(record.data.as_ref(), payloads[*slot].as_slice());
            assert_eq!(record.partition_key, keys[*slot]);
            assert_eq!(
                record.sequence_number,
                awaited[*slot].as_ref().unwrap().sequence_number
            );
        }
    }
}
