//! Faults under the engine: a failing segment write gives per-record
//! a write failure and writes resume once the fault clears; a failing MANIFEST
//! rename fails the change cleanly and loses nothing; nothing panics.

use shardlog_engine::seqno::SequenceNumber;
use shardlog_engine::{
    CreateStreamError, Engine, EngineConfig, Failed, IteratorStart, PutRecord, ShardId,
};
use shardlog_segment::io::{Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs};
use std::collections::BTreeMap;
use std::sync::Arc;

fn put(engine: &Engine, stream: &str, key: &str) -> Result<SequenceNumber, String> {
    let record = PutRecord {
        partition_key: key,
        data: key.as_bytes(),
        explicit_hash_key: None,
    };
    match engine
        .put_records(stream, &[record])
        .map_err(|e| e.to_string())?
        .pop()
    {
        Some(Ok(result)) => Ok(result.sequence_number),
        Some(Err(failure)) => Err(failure.to_string()),
        None => Err("no result".into()),
    }
}

fn read_all(engine: &Engine, stream: &str) -> Vec<Vec<u8>> {
    let mut iterator = Some(
        engine
            .get_shard_iterator(stream, ShardId(0), IteratorStart::TrimHorizon)
            .unwrap(),
    );
    let mut out = Vec::new();
    while let Some(current) = iterator {
        let page = engine.get_records(&current, 1000).unwrap();
        if page.records.is_empty() {
            break;
        }
        out.extend(page.records.into_iter().map(|r| r.data.to_vec()));
        iterator = page.next_shard_iterator;
    }
    out
}

fn fault(op: IoOp, path: &str, errno: i32) -> Fault {
    Fault {
        op,
        path_contains: Some(path.into()),
        skip: 0,
        times: u64::MAX,
        action: FaultAction::Error(errno),
    }
}

/// EIO on segment writes: the record fails with WriteFailed; after the fault
/// clears the shard is reopened and takes writes; acknowledged records stay.
#[test]
fn write_fault_fails_records_then_service_resumes() {
    let fs = FaultyFs::new(MemFs::new());
    let engine = Engine::open(fs.clone() as Arc<dyn FileSystem>, EngineConfig::new("/d")).unwrap();
    engine.create_stream("a", Some(1), BTreeMap::new()).unwrap();
    let mut acked = Vec::new();
    for i in 0..5 {
        let key = format!("before-{i}");
        put(&engine, "a", &key).unwrap();
        acked.push(key.into_bytes());
    }
    fs.inject(fault(IoOp::Write, ".log", libc::EIO));
    let failure = put(&engine, "a", "during").unwrap_err();
    assert!(
        failure.starts_with("shardId-000000000000: storage:"),
        "{failure}"
    );
    assert!(failure.contains("Input/output error"), "{failure}");
    // Still failing while the fault lasts, with a clear error each time.
    assert!(put(&engine, "a", "during-2").is_err());
    fs.clear();
    let key = "after".to_string();
    put(&engine, "a", &key).unwrap();
    let read = read_all(&engine, "a");
    assert_eq!(read[..5], acked[..]);
    assert_eq!(read.last().unwrap(), key.as_bytes());
    engine.shutdown().unwrap();
}

/// A MANIFEST that cannot be renamed into place: the change fails with a clear
/// error, the old metadata stands, and after the fault clears all is well,
/// restarts included.
#[test]
fn manifest_rename_fault_fails_the_change_cleanly() {
    let fs = FaultyFs::new(MemFs::new());
    let open = || Engine::open(fs.clone() as Arc<dyn FileSystem>, EngineConfig::new("/d")).unwrap();
    let engine = open();
    engine.create_stream("a", Some(1), BTreeMap::new()).unwrap();
    put(&engine, "a", "one").unwrap();
    fs.inject(fault(IoOp::Rename, "MANIFEST", libc::ENOSPC));
    let error = engine
        .create_stream("b", Some(1), BTreeMap::new())
        .unwrap_err();
    assert!(
        matches!(error, CreateStreamError::Failed(Failed::Manifest(_))),
        "{error:?}"
    );
    assert!(error.to_string().contains("No space left"), "{error}");
    assert_eq!(engine.list_streams(10, None).0, vec!["a".to_string()]);
    put(&engine, "a", "two").unwrap();
    fs.clear();
    engine.create_stream("b", Some(1), BTreeMap::new()).unwrap();
    engine.shutdown().unwrap();
    drop(engine);
    let engine = open();
    assert_eq!(
        engine.list_streams(10, None).0,
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(
        read_all(&engine, "a"),
        vec![b"one".to_vec(), b"two".to_vec()]
    );
    engine.shutdown().unwrap();
}
