//! Key compaction keeps the newest record of every partition key, keeps positions,
//! survives a restart and an index rebuild, and leaves held reads intact.

mod common;

use common::{read_all, Owned};
use shardlog_segment::io::{FileSystem, MemFs};
use shardlog_segment::{
    BackendKind, Durability, LogConfig, ReadLimits, Record, Storage, StorageConfig,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn open(fs: &Arc<MemFs>) -> (Storage, shardlog_segment::Log) {
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap();
    let log_config = LogConfig {
        segment_bytes_max: 64 << 10,
        index_interval_bytes: 1024,
        ..LogConfig::default()
    };
    let (log, _) = storage.open_log("/s", log_config).unwrap();
    (storage, log)
}

/// Checks what compaction may and must keep, against everything written.
fn check(log: &shardlog_segment::Log, written: &BTreeMap<u64, Owned>) {
    let newest: BTreeMap<&str, u64> = written
        .iter()
        .map(|(position, record)| (record.key.as_str(), *position))
        .collect();
    let read = read_all(log, 0);
    let active_base = log.segments().last().unwrap().base_position;
    for window in read.windows(2) {
        assert!(window[0].0 < window[1].0, "positions increase");
    }
    for (position, record) in &read {
        assert_eq!(
            written.get(position),
            Some(record),
            "position {position} byte-exact"
        );
        let is_newest = newest[record.key.as_str()] == *position;
        assert!(
            is_newest || *position >= active_base,
            "{position} should be compacted away"
        );
    }
    let read_positions: Vec<u64> = read.iter().map(|(p, _)| *p).collect();
    for position in newest.values() {
        assert!(
            read_positions.binary_search(position).is_ok(),
            "newest {position} kept"
        );
    }
}

/// Appends record number `i` of `key` (a size and content derived from `i`) and
/// notes it in `written`.
fn append_one(
    log: &shardlog_segment::Log,
    written: &mut BTreeMap<u64, Owned>,
    key: String,
    i: u64,
) {
    let data = vec![(i % 251) as u8; 300 + (i as usize * 7) % 500];
    let hash = i.is_multiple_of(5).then_some(u128::from(i));
    let appended = log
        .append(&[Record {
            partition_key: &key,
            explicit_hash_key: hash,
            data: &data,
        }])
        .unwrap();
    written.insert(appended.base_position, Owned { key, hash, data });
}

/// More distinct keys than one pass may hold: compaction takes a pass per hash
/// partition of the keys and still keeps exactly the newest record of each key,
/// byte for byte, through a restart.
#[test]
fn compaction_with_more_keys_than_its_limit() {
    let fs = MemFs::new();
    let (storage, log) = open(&fs);
    let mut written = BTreeMap::new();
    for i in 0..600u64 {
        // 200 keys, each written three times.
        append_one(&log, &mut written, format!("key-{}", i % 200), i);
    }
    assert!(log.segments().len() > 3);
    let keys_max = 16;
    let report = log.compact_with_keys_max(keys_max).unwrap();
    assert!(report.passes >= 200 / keys_max, "{report:?}");
    assert!(report.records_dropped > 200, "{report:?}");
    check(&log, &written);
    assert_eq!(log.compact().unwrap().segments_rewritten, 0, "nothing left");
    storage.shutdown().unwrap();

    let (storage, log) = open(&fs);
    check(&log, &written);
    storage.shutdown().unwrap();
}

/// Compaction, then a restart, then an index rebuild: same records each time.
#[test]
fn compaction_keeps_newest_per_key() {
    let fs = MemFs::new();
    let (storage, log) = open(&fs);
    let mut written = BTreeMap::new();
    for i in 0..400u64 {
        // Early keys stop being written, so their newest records stay in sealed segments.
        let key = if i < 200 {
            format!("key-{}", i % 23)
        } else {
            format!("late-{}", i % 40)
        };
        append_one(&log, &mut written, key, i);
    }
    assert!(log.segments().len() > 3);
    let held = log
        .read(
            0,
            ReadLimits {
                records_max: 50,
                bytes_max: 1 << 30,
            },
        )
        .unwrap();
    let held_before: Vec<Vec<u8>> = held.records().map(|r| r.data.to_vec()).collect();
    let report = log.compact().unwrap();
    assert!(report.segments_rewritten >= 3, "{report:?}");
    assert!(report.records_dropped > 250, "{report:?}");
    assert!(report.bytes_after < report.bytes_before / 4, "{report:?}");
    check(&log, &written);
    let held_after: Vec<Vec<u8>> = held.records().map(|r| r.data.to_vec()).collect();
    assert_eq!(
        held_after, held_before,
        "a read taken before keeps its records"
    );
    // Reading from a dropped position gives the next record that is left.
    let read = read_all(&log, 0);
    let gap = (1..read.len())
        .find(|i| read[*i].0 > read[*i - 1].0 + 1)
        .unwrap();
    let from = read[gap - 1].0 + 1;
    let next = log
        .read(
            from,
            ReadLimits {
                records_max: 1,
                bytes_max: 1 << 20,
            },
        )
        .unwrap();
    assert_eq!(next.records().next().unwrap().position, read[gap].0);
    // A second compaction finds nothing more in the sealed segments.
    assert_eq!(log.compact().unwrap().segments_rewritten, 0);
    storage.shutdown().unwrap();

    let (storage, log) = open(&fs);
    check(&log, &written);
    storage.shutdown().unwrap();
    for name in fs.list_dir(Path::new("/s")).unwrap() {
        if name.ends_with(".idx") {
            fs.remove_file(&Path::new("/s").join(name)).unwrap();
        }
    }
    let (storage, log) = open(&fs);
    check(&log, &written);
    // Appends go on after compaction.
    let more = log
        .append(&[Record {
            partition_key: "key-0",
            explicit_hash_key: None,
            data: b"late",
        }])
        .unwrap();
    assert_eq!(more.base_position, 400);
    storage.shutdown().unwrap();
}

/// One read across more compacted segments than a read looks up at a time (their
/// last positions compacted away, so the read resumes past each segment's end,
/// not after its last record) returns every record left, in order, as reads of one
/// record at a time do.
#[test]
fn one_read_spans_compacted_segments() {
    let fs = MemFs::new();
    let (storage, log) = open(&fs);
    let mut written = BTreeMap::new();
    for i in 0..600u64 {
        // The last record of each group of 30 is the only one of its key kept.
        let key = if i % 30 == 29 {
            format!("kept-{i}")
        } else {
            format!("key-{}", i % 7)
        };
        append_one(&log, &mut written, key, i);
    }
    log.compact().unwrap();
    let segments = log.segments();
    let sealed = segments.iter().filter(|s| s.sealed).count();
    assert!(sealed > 3, "{segments:?}");
    let mut one_by_one = Vec::new();
    let mut next = 0;
    while next < log.end_position() {
        let one = log
            .read(
                next,
                ReadLimits {
                    records_max: 1,
                    bytes_max: 1,
                },
            )
            .unwrap();
        one_by_one.extend(one.records().map(|r| r.position));
        next = one.next_position;
    }
    assert!(
        one_by_one.len() > 20 && one_by_one.len() < 300,
        "{}",
        one_by_one.len()
    );
    let at_once = log
        .read(
            0,
            ReadLimits {
                records_max: 10_000,
                bytes_max: 1 << 30,
            },
        )
        .unwrap();
    let positions: Vec<u64> = at_once.records().map(|r| r.position).collect();
    assert_eq!(positions, one_by_one);
    assert_eq!(at_once.next_position, log.end_position());
    storage.shutdown().unwrap();
}
