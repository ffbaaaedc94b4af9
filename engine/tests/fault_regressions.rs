//! Regression tests of the engine's fault paths (issue 14), each named after what
//! it caught: no acknowledged record lost, no data directory lost, no sequence
//! number reused, one damaged shard never takes the rest down.

use shardlog_engine::seqno::SequenceNumber;
use shardlog_engine::{manifest, Engine, EngineConfig, IteratorStart, PutRecord, ShardId};
use shardlog_segment::io::{Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs};
use shardlog_segment::{LogConfig, Storage, StorageConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const DATA: &str = "/d";

fn config() -> EngineConfig {
    let mut config = EngineConfig::new(DATA);
    config.retention_check_interval_ms = 0;
    config.log.segment_bytes_max = 64 << 10;
    config
}

fn open(fs: &Arc<dyn FileSystem>) -> Engine {
    Engine::open(Arc::clone(fs), config()).unwrap()
}

fn put(
    engine: &Engine,
    stream: &str,
    key: &str,
    hash: Option<&str>,
) -> Result<SequenceNumber, String> {
    let record = PutRecord {
        partition_key: key,
        data: key.as_bytes(),
        explicit_hash_key: hash.map(|text| shardlog_engine::HashKey::parse(text).unwrap()),
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

/// Every record of one shard, from TRIM_HORIZON to its end.
fn read_shard(engine: &Engine, stream: &str, shard: ShardId) -> Result<Vec<Vec<u8>>, String> {
    let mut iterator = Some(
        engine
            .get_shard_iterator(stream, shard, IteratorStart::TrimHorizon)
            .map_err(|e| e.to_string())?,
    );
    let mut out = Vec::new();
    while let Some(current) = iterator {
        let page = engine
            .get_records(&current, 1000)
            .map_err(|e| e.to_string())?;
        if page.records.is_empty() {
            break;
        }
        out.extend(page.records.into_iter().map(|r| r.data.to_vec()));
        iterator = page.next_shard_iterator;
    }
    Ok(out)
}

/// Every file under `dir` with its size.
fn files(fs: &dyn FileSystem, dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    for name in fs.list_dir(dir).unwrap_or_default() {
        let path = dir.join(name);
        if fs.list_dir(&path).is_ok() {
            out.extend(files(fs, &path));
        } else {
            let len = fs
                .open(&path, shardlog_segment::io::OpenOptions::READ)
                .and_then(|f| f.len())
                .unwrap();
            out.insert(path, len);
        }
    }
    out
}

fn shard_dir(engine: &Engine, stream: &str, shard: u32) -> PathBuf {
    let created_ms = engine
        .describe_stream(stream, 100, None)
        .unwrap()
        .created_ms;
    Path::new(DATA)
        .join("streams")
        .join(stream)
        .join(created_ms.to_string())
        .join(format!("shardId-{shard:012}"))
}

/// A missing MANIFEST emptied every shard directory at the next open. Now the open
/// is refused with a message naming `repair`, nothing is deleted, and the rebuilt
/// MANIFEST brings back every shard, its hash range and lineage, and its records.
#[test]
fn missing_manifest_refuses_to_open_and_is_rebuilt_from_the_tree() {
    let mem = MemFs::new();
    let fs: Arc<dyn FileSystem> = mem.clone();
    let engine = open(&fs);
    engine.create_stream("s", Some(2), BTreeMap::new()).unwrap();
    for i in 0..20 {
        put(&engine, "s", &format!("key-{i}"), None).unwrap();
    }
    let before_split: Vec<Vec<u8>> = read_shard(&engine, "s", ShardId(0)).unwrap();
    engine
        .split_shard("s", ShardId(0), shardlog_engine::HashKey(1000))
        .unwrap();
    let shards_before = engine.list_shards("s", None, None, 100).unwrap().0;
    engine.shutdown().unwrap();
    drop(engine);
    let before = files(fs.as_ref(), Path::new(DATA));
    fs.remove_file(&Path::new(DATA).join("MANIFEST")).unwrap();

    let error = Engine::open(Arc::clone(&fs), config())
        .unwrap_err()
        .to_string();
    assert!(error.contains("shardlog repair"), "{error}");
    let mut after = files(fs.as_ref(), Path::new(DATA));
    after.retain(|path, _| !path.ends_with("MANIFEST"));
    let mut expected = before.clone();
    expected.retain(|path, _| !path.ends_with("MANIFEST"));
    assert_eq!(after, expected, "opening deleted or changed files");

    let (rebuilt, report) =
        shardlog_engine::layout::rebuild_manifest(fs.as_ref(), Path::new(DATA)).unwrap();
    assert_eq!(report.streams, vec![("s".to_string(), 4)], "{report:?}");
    manifest::store(fs.as_ref(), &Path::new(DATA).join("MANIFEST"), &rebuilt).unwrap();
    let engine = open(&fs);
    assert_eq!(
        engine.list_shards("s", None, None, 100).unwrap().0,
        shards_before
    );
    assert_eq!(read_shard(&engine, "s", ShardId(0)).unwrap(), before_split);
    engine.shutdown().unwrap();
}

/// Segments that compaction emptied have no newest record; time retention took
/// that as "keep" and stopped at the first of them, for good.
#[test]
fn empty_compacted_segments_do_not_stop_time_retention() {
    let fs: Arc<dyn FileSystem> = MemFs::new();
    let engine = open(&fs);
    engine.create_stream("c", Some(1), BTreeMap::new()).unwrap();
    engine.set_key_compaction("c", true).unwrap();
    let dir = shard_dir(&engine, "c", 0);
    let logs = |fs: &Arc<dyn FileSystem>| {
        fs.list_dir(&dir)
            .unwrap()
            .iter()
            .filter(|name| name.ends_with(".log"))
            .count()
    };
    let payload = "x".repeat(4000);
    while logs(&fs) < 6 {
        let record = PutRecord {
            partition_key: "same-key",
            data: payload.as_bytes(),
            explicit_hash_key: None,
        };
        engine.put_records("c", &[record]).unwrap();
    }
    let report = engine.compact_stream("c").unwrap();
    assert!(report.segments_rewritten >= 5, "{report:?}");
    engine.enforce_retention(u64::MAX).unwrap();
    // The active segment expires too (it is sealed first).
    assert_eq!(logs(&fs), 0, "every segment is past retention");
    engine.shutdown().unwrap();
}

/// One damaged shard failed `Engine::open`, taking every stream down. Now it is
/// quarantined: the engine opens, other shards read and write, and the damaged
/// shard's reads name the damage and `repair`.
#[test]
fn a_damaged_shard_is_quarantined_and_the_rest_works() {
    let mem = MemFs::new();
    let fs: Arc<dyn FileSystem> = mem.clone();
    let engine = open(&fs);
    engine.create_stream("q", Some(2), BTreeMap::new()).unwrap();
    let low = "1";
    let high = (u128::MAX - 1).to_string();
    put(&engine, "q", "a", Some(low)).unwrap();
    put(&engine, "q", "b", Some(&high)).unwrap();
    let damaged = shard_dir(&engine, "q", 0).join(format!("{:020}.log", 0));
    engine.shutdown().unwrap();
    drop(engine);
    // Damage the segment header: recovery will not cut a segment it cannot identify.
    let file = fs
        .open(&damaged, shardlog_segment::io::OpenOptions::WRITE)
        .unwrap();
    shardlog_segment::io::write_all_at(file.as_ref(), b"XXXX", 0).unwrap();
    file.sync_data().unwrap();

    let engine = Engine::open(Arc::clone(&fs), config()).expect("the engine opens");
    let report = engine.open_report();
    assert_eq!(report.quarantined.len(), 1, "{report:?}");
    assert_eq!(report.quarantined[0].shard_index, 0);
    let error = read_shard(&engine, "q", ShardId(0)).unwrap_err();
    assert!(
        error.contains("quarantined") && error.contains("repair"),
        "{error}"
    );
    assert_eq!(
        read_shard(&engine, "q", ShardId(1)).unwrap(),
        vec![b"b".to_vec()]
    );
    put(&engine, "q", "c", Some(&high)).unwrap();
    assert!(
        put(&engine, "q", "d", Some(low)).is_err(),
        "the quarantined shard refuses writes"
    );
    put(&engine, "q", "e", Some(&high))
        .expect("a failed put to the quarantined shard does not block the others");
    engine.shutdown().unwrap();
}

fn fault(op: IoOp, path: &str, times: u64) -> Fault {
    Fault {
        op,
        path_contains: Some(path.into()),
        skip: 0,
        times,
        action: FaultAction::Error(libc::ENOSPC),
    }
}

/// Recovery writes (a sync, index files), so a full disk made the engine unable to
/// open at all. Now shards open read-only: reads work, appends are refused with a
/// clear error, and a stream can be deleted to free space.
#[test]
fn full_disk_at_open_serves_reads_and_deletes() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.clone() as Arc<dyn FileSystem>);
    let fs: Arc<dyn FileSystem> = faulty.clone();
    let engine = open(&fs);
    for name in ["keep", "drop"] {
        engine
            .create_stream(name, Some(1), BTreeMap::new())
            .unwrap();
        put(&engine, name, "one", None).unwrap();
        put(&engine, name, "two", None).unwrap();
    }
    engine.shutdown().unwrap();
    drop(engine);
    faulty.inject(fault(IoOp::Sync, "shardId", u64::MAX));
    faulty.inject(fault(IoOp::Write, "shardId", u64::MAX));

    let engine = Engine::open(Arc::clone(&fs), config()).expect("opens on a full disk");
    assert_eq!(engine.open_report().read_only.len(), 2);
    assert_eq!(
        read_shard(&engine, "keep", ShardId(0)).unwrap(),
        vec![b"one".to_vec(), b"two".to_vec()]
    );
    let refused = put(&engine, "keep", "three", None).unwrap_err();
    assert!(refused.contains("read-only"), "{refused}");
    engine.delete_stream("drop").unwrap();
    engine.shutdown().unwrap();
    drop(engine);
    faulty.clear();
    let engine = open(&fs);
    assert_eq!(engine.list_streams(10, None).0, vec!["keep".to_string()]);
    put(&engine, "keep", "three", None).unwrap();
    engine.shutdown().unwrap();
}

/// The directory sync after a MANIFEST rename failed: memory kept the old metadata
/// while the disk had the new, so a stream whose delete "failed" took appends that
/// the next open lost with it.
#[test]
fn failed_manifest_directory_sync_keeps_disk_and_memory_together() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.clone() as Arc<dyn FileSystem>);
    let fs: Arc<dyn FileSystem> = faulty.clone();
    let engine = open(&fs);
    engine.create_stream("a", Some(1), BTreeMap::new()).unwrap();
    put(&engine, "a", "before", None).unwrap();
    faulty.inject(Fault {
        op: IoOp::SyncDir,
        path_contains: None,
        skip: 0,
        times: 1,
        action: FaultAction::Error(libc::EIO),
    });
    assert!(engine.delete_stream("a").is_err());
    let after = put(&engine, "a", "after", None);
    engine.shutdown().unwrap();
    drop(engine);
    let engine = open(&fs);
    if after.is_ok() {
        assert_eq!(
            read_shard(&engine, "a", ShardId(0)).unwrap(),
            vec![b"before".to_vec(), b"after".to_vec()],
            "an acknowledged append survives the restart"
        );
    }
    engine.shutdown().unwrap();
}

/// Reads of a closed shard were not bounded by its end, so records written to its
/// log after the close (a write that raced it) appeared past EndingSequenceNumber.
#[test]
fn closed_shard_reads_stop_at_its_end() {
    let mem = MemFs::new();
    let fs: Arc<dyn FileSystem> = mem.clone();
    let engine = open(&fs);
    engine.create_stream("r", Some(1), BTreeMap::new()).unwrap();
    for key in ["1", "2", "3"] {
        put(&engine, "r", key, None).unwrap();
    }
    engine
        .split_shard("r", ShardId(0), shardlog_engine::HashKey(1000))
        .unwrap();
    let parent = shard_dir(&engine, "r", 0);
    engine.shutdown().unwrap();
    drop(engine);
    {
        let storage = Storage::open(Arc::clone(&fs), StorageConfig::default()).unwrap();
        let log_config = LogConfig {
            segment_bytes_max: 64 << 10,
            record_bytes_max: 10 << 20,
            ..LogConfig::default()
        };
        let (log, _) = storage.open_log(&parent, log_config).unwrap();
        log.append(&[shardlog_segment::Record {
            partition_key: "late",
            explicit_hash_key: None,
            data: b"late",
        }])
        .unwrap();
        storage.shutdown().unwrap();
    }
    let engine = open(&fs);
    assert_eq!(
        read_shard(&engine, "r", ShardId(0)).unwrap(),
        vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]
    );
    engine.shutdown().unwrap();
}

/// A stream deleted and recreated within one second got shards of the same
/// creation second, so its sequence numbers were the deleted stream's.
#[test]
fn a_stream_recreated_at_once_gets_new_sequence_numbers() {
    let fs: Arc<dyn FileSystem> = MemFs::new();
    let engine = open(&fs);
    engine.create_stream("x", Some(1), BTreeMap::new()).unwrap();
    let first = put(&engine, "x", "k", None).unwrap();
    engine.delete_stream("x").unwrap();
    engine.create_stream("x", Some(1), BTreeMap::new()).unwrap();
    let second = put(&engine, "x", "k", None).unwrap();
    assert_ne!(first, second);
    engine.shutdown().unwrap();
}

/// New directories were never made durable: the data directory and each shard's
/// directory were created without a sync of their parent, so a power loss (which
/// the in-memory file system now models for directories too) took the stream and
/// every record acknowledged to it. Now each new directory's parent is synced.
#[test]
fn a_new_stream_and_its_acknowledged_records_survive_power_loss() {
    let mem = MemFs::new();
    let session: Arc<dyn FileSystem> = mem.session();
    let engine = open(&session);
    engine
        .create_stream("fresh", Some(2), BTreeMap::new())
        .unwrap();
    let keys: Vec<String> = (0..10).map(|i| format!("key-{i}")).collect();
    for key in &keys {
        put(&engine, "fresh", key, None).unwrap();
    }
    let report = mem.crash(shardlog_segment::io::CrashMode::DropUnsynced);
    assert_eq!(report.dirs_lost, 0, "{report:?}");
    drop(engine);
    let fs: Arc<dyn FileSystem> = mem.clone();
    let engine = open(&fs);
    let mut recovered = Vec::new();
    for shard in [ShardId(0), ShardId(1)] {
        recovered.extend(read_shard(&engine, "fresh", shard).unwrap());
    }
    recovered.sort();
    let mut expected: Vec<Vec<u8>> = keys.iter().map(|key| key.as_bytes().to_vec()).collect();
    expected.sort();
    assert_eq!(recovered, expected);
    engine.shutdown().unwrap();
}
