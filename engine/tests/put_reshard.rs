//! A PutRecords staged with `submit_records` and acknowledged after a reshard
//! closed its shard: the shard's closed end must include the batch, or its
//! acknowledged records are never read (the kill -9 crash torture's
//! "acknowledged record ... lost or changed: nothing" of the first landing of
//! PutRecords awaited on the request's task, issue 16).
//!
//! The commit is held at a gate in the file system (the parent shard's segment
//! writes block until the test opens it), so the batch is staged and not
//! acknowledged while the split runs.

use shardlog_engine::{Engine, EngineConfig, HashKey, IteratorStart, PutRecord, ShardId};
use shardlog_segment::io::{CrashMode, FileSystem, MemFs};
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The segment tests' pass-through file system with a hook before each write.
#[allow(dead_code)]
#[path = "../../segment/tests/common/hook_fs.rs"]
mod hook_fs;
use hook_fs::{Hook, HookFs, Hooked};

/// How long the test lets a split that does not wait for the staged batch
/// finish before it opens the gate. A correct split waits for the gate, so this
/// only bounds how long the test takes then; a wrong one needs a few
/// milliseconds of in-memory file operations.
const SPLIT_GRACE: Duration = Duration::from_secs(2);

/// Whether the held writes may proceed.
#[derive(Debug, Default)]
struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn set_closed(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.opened.notify_all();
    }

    fn pass(&self) {
        let mut closed = self.closed.lock().unwrap();
        while *closed {
            closed = self.opened.wait(closed).unwrap();
        }
    }
}

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
                record.partition_key.clone(),
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
    let gate = Arc::new(Gate::default());
    let config = EngineConfig::new("/data");
    // The parent's segment writes wait at the gate while it is closed.
    let parent_dir = format!("/{}/", ShardId(0));
    let hook: Hook = {
        let gate = Arc::clone(&gate);
        Arc::new(move |op, path| {
            let text = path.to_string_lossy();
            if op == Hooked::Write && text.contains(&parent_dir) && text.ends_with(".log") {
                gate.pass();
            }
            Ok(())
        })
    };
    let fs = Arc::new(HookFs {
        inner: mem.session(),
        hook,
    });
    let engine = Engine::open(fs as Arc<dyn FileSystem>, config.clone()).unwrap();
    engine.create_stream("s", Some(1), BTreeMap::new()).unwrap();
    let keys = ["a", "b", "c"];
    let payloads: Vec<Vec<u8>> = (1..=3u8).map(|n| vec![n; 10 * n as usize]).collect();
    let records: Vec<PutRecord<'_>> = keys
        .iter()
        .zip(&payloads)
        .map(|(key, data)| PutRecord {
            partition_key: key,
            data,
            explicit_hash_key: None,
        })
        .collect();

    gate.set_closed(true);
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
    gate.set_closed(false);
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
