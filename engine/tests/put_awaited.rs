//! PutRecords staged with `submit_records` and awaited on an async task answers
//! as the blocking `put_records` does: every record in its slot, on the shard
//! its key routes to, with sequence numbers in call order, and readable after.
//!
//! A batch staged and acknowledged after a reshard closed its shard: the shard's
//! closed end must include the batch, or its acknowledged records are never read
//! (the kill -9 crash torture's "acknowledged record ... lost or changed:
//! nothing" of the first landing of PutRecords awaited on the request's task,
//! issue 16). The commit is held at a gate in the file system (the parent
//! shard's segment writes block until the test opens it), so the batch is staged
//! and not acknowledged while the split runs.

use shardlog_engine::{Engine, EngineConfig, HashKey, IteratorStart, PutRecord, ShardId};
use shardlog_segment::io::{CrashMode, FileOp, FileSystem, Gate, HoldAtGate, Interposed, MemFs};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// The records of a PutRecords call: each key with the payload beside it.
fn put_records<'a>(keys: &'a [impl AsRef<str>], payloads: &'a [Vec<u8>]) -> Vec<PutRecord<'a>> {
    keys.iter()
        .zip(payloads)
        .map(|(key, data)| PutRecord {
            partition_key: key.as_ref(),
            data,
            explicit_hash_key: None,
        })
        .collect()
}

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
    let records = put_records(&keys, &payloads);
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

/// How long the test lets a split that does not wait for the staged batch
/// finish before it opens the gate. A correct split waits for the gate, so this
/// only bounds how long the test takes then; a wrong one needs a few
/// milliseconds of in-memory file operations.
const SPLIT_GRACE: Duration = Duration::from_secs(2);

/// Every record the shard holds from its trim horizon: (partition key, data,
/// sequence number's decimal text).
fn read_shard(engine: &Engine, shard: ShardId) -> Vec<(String, Vec<u8>, String)> {
    let iterator = engine
        .get_shard_iterator("s", shard, IteratorStart::TrimHorizon)
        .unwrap();
    let page = engine.get_records(&iterator, 10_000).unwrap();
    page.records
        .iter()
        .map(|record| {
            (
                record.partition_key.to_string(),
                record.data.to_vec(),
                record.sequence_number.to_decimal(),
            )
        })
        .collect()
}

/// A batch staged, then a split of its shard, then the batch acknowledged: every
/// acknowledged record is read from the closed parent under its sequence number,
/// before and after a power loss and restart. Fails without the split waiting
/// for the staged batch: the parent closes at the end it had acknowledged (0),
/// and the three acknowledged records are never read.
#[test]
fn a_split_closes_its_shard_after_every_staged_batch() {
    let mem = MemFs::new();
    let gate = Gate::new();
    let config = EngineConfig::new("/data");
    // The parent's segment writes wait at the gate while it is closed.
    let parent_dir = format!("/{}/", ShardId(0));
    let hooks = HoldAtGate::new(&gate, FileOp::Write, move |path: &Path| {
        let text = path.to_string_lossy();
        text.contains(&parent_dir) && text.ends_with(".log")
    });
    let fs = Arc::new(Interposed::new(mem.session(), hooks));
    let engine = Engine::open(fs as Arc<dyn FileSystem>, config.clone()).unwrap();
    engine.create_stream("s", Some(1), BTreeMap::new()).unwrap();
    let keys = ["a", "b", "c"];
    let payloads: Vec<Vec<u8>> = (1..=3u8).map(|n| vec![n; 10 * n as usize]).collect();
    let records = put_records(&keys, &payloads);

    let opener = gate.close();
    let submitted = engine.submit_records("s", &records).unwrap();
    let (done, split_done) = mpsc::channel();
    let splitter = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            let result = engine.split_shard("s", ShardId(0), HashKey(1 << 127));
            let _ = done.send(());
            result
        })
    };
    // A split that waits for the batch is still waiting here; one that does not
    // has closed the shard already. Either way the commit may go on now.
    let _ = split_done.recv_timeout(SPLIT_GRACE);
    drop(opener);
    let results = submitted.wait();
    splitter
        .join()
        .expect("the split does not panic")
        .expect("the split succeeds");

    let acknowledged: Vec<(String, Vec<u8>, String)> = results
        .iter()
        .zip(keys.iter().zip(&payloads))
        .map(|(result, (key, data))| {
            let put = result.as_ref().expect("the record is acknowledged");
            assert_eq!(put.shard_id, ShardId(0));
            (
                key.to_string(),
                data.clone(),
                put.sequence_number.to_decimal(),
            )
        })
        .collect();
    assert_eq!(
        read_shard(&engine, ShardId(0)),
        acknowledged,
        "the closed parent holds every record it acknowledged"
    );

    mem.crash(CrashMode::DropUnsynced);
    drop(engine);
    let engine = Engine::open(mem.session() as Arc<dyn FileSystem>, config).unwrap();
    assert_eq!(
        read_shard(&engine, ShardId(0)),
        acknowledged,
        "after a power loss too"
    );
}
