//! The engine end to end on the in-memory file system: streams, puts, every
//! iterator type, paging to the end, resharding and reading across the lineage,
//! restarts, retention changes, tags, and the error cases.

use shardlog_engine::seqno::SequenceNumber;
use shardlog_engine::{
    CreateStreamError, DeleteStreamError, Engine, EngineConfig, Field, InvalidField, IteratorStart,
    MaxRecordSizeError, PutError, PutRecord, PutResult, ReadError, RecordFailure, RetentionError,
    ShardFilter, ShardId, StreamLookupError, UpdateShardCountError,
};
use shardlog_segment::clock::ManualClock;
use shardlog_segment::io::{FileSystem, MemFs};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn engine(fs: &Arc<MemFs>) -> Engine {
    Engine::open(
        fs.clone() as Arc<dyn FileSystem>,
        EngineConfig::new("/data"),
    )
    .unwrap()
}

fn put(engine: &Engine, stream: &str, key: &str, data: &[u8]) -> (ShardId, SequenceNumber) {
    let record = PutRecord {
        partition_key: key,
        data,
        explicit_hash_key: None,
    };
    let result = engine.put_record(stream, record).unwrap();
    (result.shard_id, result.sequence_number)
}

/// Every record of a shard from `start`, following next iterators to the end.
fn read_shard(
    engine: &Engine,
    stream: &str,
    shard: ShardId,
    start: IteratorStart,
) -> Vec<(SequenceNumber, Vec<u8>)> {
    let mut iterator = Some(engine.get_shard_iterator(stream, shard, start).unwrap());
    let mut out = Vec::new();
    while let Some(current) = iterator {
        let page = engine.get_records(&current, 3).unwrap();
        if page.records.is_empty() && page.next_shard_iterator.is_some() {
            break; // caught up with an open shard
        }
        out.extend(
            page.records
                .into_iter()
                .map(|r| (r.sequence_number, r.data.to_vec())),
        );
        iterator = page.next_shard_iterator;
    }
    out
}

/// Create, put, read back with every iterator type, describe, list.
#[test]
fn create_put_and_read_with_every_iterator_type() {
    let fs = MemFs::new();
    let engine = engine(&fs);
    engine
        .create_stream("orders", Some(2), BTreeMap::new())
        .unwrap();
    let mut written = Vec::new();
    for i in 0..20 {
        let data = format!("order-{i}").into_bytes();
        let (shard, seq) = put(&engine, "orders", &format!("customer-{}", i % 5), &data);
        written.push((shard, seq, data));
    }
    let shard0: Vec<_> = written
        .iter()
        .filter(|(s, _, _)| *s == ShardId(0))
        .collect();
    assert!(
        !shard0.is_empty() && shard0.len() < 20,
        "both shards get records"
    );
    let all = read_shard(&engine, "orders", ShardId(0), IteratorStart::TrimHorizon);
    let expected: Vec<(SequenceNumber, Vec<u8>)> = shard0
        .iter()
        .map(|(_, seq, data)| (*seq, data.clone()))
        .collect();
    assert_eq!(all, expected);
    // Sequence numbers increase within the shard, as values and as decimal text.
    let numbers: Vec<SequenceNumber> = all.iter().map(|(seq, _)| *seq).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    let texts: Vec<String> = numbers.iter().map(SequenceNumber::to_decimal).collect();
    assert!(texts.windows(2).all(|w| w[0] < w[1]), "{texts:?}");
    let second_seq = expected[1].0;
    let at = read_shard(
        &engine,
        "orders",
        ShardId(0),
        IteratorStart::AtSequenceNumber(second_seq),
    );
    assert_eq!(at, expected[1..]);
    let after = read_shard(
        &engine,
        "orders",
        ShardId(0),
        IteratorStart::AfterSequenceNumber(second_seq),
    );
    assert_eq!(after, expected[2..]);
    let latest = read_shard(&engine, "orders", ShardId(0), IteratorStart::Latest);
    assert!(latest.is_empty());
    let at_time = read_shard(&engine, "orders", ShardId(0), IteratorStart::AtTimestamp(0));
    assert_eq!(at_time, expected);
    let future = read_shard(
        &engine,
        "orders",
        ShardId(0),
        IteratorStart::AtTimestamp(u64::MAX / 2),
    );
    assert!(future.is_empty());
    let description = engine.describe_stream("orders", 100, None).unwrap();
    assert_eq!(description.shards.len(), 2);
    assert_eq!(description.stream_name, "orders");
    assert_eq!(description.shards[1].hash_key_range.end, u128::MAX);
    assert_eq!(
        engine.list_streams(10, None),
        (vec!["orders".to_string()], false)
    );
    engine.shutdown().unwrap();
}

/// Each explicit hash key goes to the open shard whose range holds it: both ends
/// of every range of a 7-shard stream, and of both children after a split (whose
/// ids come after every other shard's, while their ranges sit in the middle).
#[test]
fn put_records_route_range_ends_to_their_shard() {
    let fs = MemFs::new();
    let engine = engine(&fs);
    engine.create_stream("s", Some(7), BTreeMap::new()).unwrap();
    let check = |engine: &Engine| {
        let (open, _) = engine
            .list_shards("s", Some(&ShardFilter::AtLatest), None, 100)
            .unwrap();
        let keys: Vec<(ShardId, u128)> = open
            .iter()
            .flat_map(|shard| {
                let range = shard.hash_key_range;
                [range.start, range.end].map(|key| (shard.shard_id, key))
            })
            .collect();
        let records: Vec<PutRecord<'_>> = keys
            .iter()
            .map(|(_, key)| PutRecord {
                partition_key: "k",
                data: b"d",
                explicit_hash_key: Some(shardlog_engine::HashKey(*key)),
            })
            .collect();
        let results = engine.put_records("s", &records).unwrap();
        for ((shard, key), result) in keys.iter().zip(results) {
            assert_eq!(result.unwrap().shard_id, *shard, "hash key {key}");
        }
        open.len()
    };
    assert_eq!(check(&engine), 7);
    let (shards, _) = engine.list_shards("s", None, None, 100).unwrap();
    let range = shards[3].hash_key_range;
    let middle = shardlog_engine::HashKey(range.start + (range.end - range.start) / 2);
    engine.split_shard("s", ShardId(3), middle).unwrap();
    assert_eq!(check(&engine), 8);
}

/// Split and merge close parents at their ends; reading parents then children
/// returns every record once, and the lineage survives a restart.
#[test]
fn reshard_and_read_across_the_lineage() {
    let fs = MemFs::new();
    let engine = engine(&fs);
    engine.create_stream("s", Some(1), BTreeMap::new()).unwrap();
    let mut expected = Vec::new();
    for i in 0..10 {
        expected.push(
            put(
                &engine,
                "s",
                &format!("k{i}"),
                format!("before-{i}").as_bytes(),
            )
            .1,
        );
    }
    let middle = shardlog_engine::HashKey(u128::MAX / 2 + 1);
    engine.split_shard("s", ShardId(0), middle).unwrap();
    for i in 0..10 {
        expected.push(
            put(
                &engine,
                "s",
                &format!("k{i}"),
                format!("after-{i}").as_bytes(),
            )
            .1,
        );
    }
    engine.merge_shards("s", ShardId(1), ShardId(2)).unwrap();
    for i in 0..10 {
        expected.push(
            put(
                &engine,
                "s",
                &format!("k{i}"),
                format!("merged-{i}").as_bytes(),
            )
            .1,
        );
    }
    drop(engine);
    let engine = self::engine(&fs);
    let (shards, more) = engine.list_shards("s", None, None, 100).unwrap();
    assert!(!more);
    let ids: Vec<ShardId> = shards.iter().map(|s| s.shard_id).collect();
    assert_eq!(ids, [ShardId(0), ShardId(1), ShardId(2), ShardId(3)]);
    assert_eq!(shards[3].parent_shard_id, Some(ShardId(1)));
    assert_eq!(shards[3].adjacent_parent_shard_id, Some(ShardId(2)));
    assert!(
        shards[0].ending_sequence_number.is_some() && shards[3].ending_sequence_number.is_none()
    );
    let (open, _) = engine
        .list_shards("s", Some(&ShardFilter::AtLatest), None, 100)
        .unwrap();
    assert_eq!(open.len(), 1);
    // Reading the closed parent to its end gives its children.
    let iterator = engine
        .get_shard_iterator("s", ShardId(0), IteratorStart::TrimHorizon)
        .unwrap();
    let page = engine.get_records(&iterator, 100).unwrap();
    assert_eq!(page.records.len(), 10);
    assert!(page.next_shard_iterator.is_none());
    let children: Vec<ShardId> = page.child_shards.iter().map(|c| c.shard_id).collect();
    assert_eq!(children, [ShardId(1), ShardId(2)]);
    // Every record once across the lineage.
    let mut seen = Vec::new();
    for shard in ids {
        seen.extend(
            read_shard(&engine, "s", shard, IteratorStart::TrimHorizon)
                .into_iter()
                .map(|(seq, _)| seq),
        );
    }
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected);
    engine.shutdown().unwrap();
}

/// Errors: missing stream, bad names, bad and foreign iterators, oversize records,
/// bad partition keys, malformed sequence numbers, retention bounds, duplicates.
#[test]
fn errors_are_the_kinesis_kinds() {
    let fs = MemFs::new();
    let engine = engine(&fs);
    engine.create_stream("s", Some(2), BTreeMap::new()).unwrap();
    assert!(matches!(
        engine.create_stream("s", Some(1), BTreeMap::new()),
        Err(CreateStreamError::StreamExists { .. })
    ));
    let missing = engine.describe_stream("nope", 10, None).unwrap_err();
    assert!(
        matches!(&missing, StreamLookupError::NotFound { stream } if stream == "nope"),
        "{missing:?}"
    );
    assert!(matches!(
        engine.create_stream("bad name", Some(1), BTreeMap::new()),
        Err(CreateStreamError::InvalidField(InvalidField {
            field: Field::StreamName,
            ..
        }))
    ));
    assert!(matches!(
        engine.create_stream("zero", Some(0), BTreeMap::new()),
        Err(CreateStreamError::InvalidField(InvalidField {
            field: Field::ShardCount,
            ..
        }))
    ));
    let big = vec![0u8; (1 << 20) + 1];
    let oversize = PutRecord {
        partition_key: "k",
        data: &big,
        explicit_hash_key: None,
    };
    assert!(matches!(
        engine.put_record("s", oversize),
        Err(PutError::InvalidField {
            field: Field::Data,
            ..
        })
    ));
    let long_key = "k".repeat(257);
    let bad_key = PutRecord {
        partition_key: &long_key,
        data: b"x",
        explicit_hash_key: None,
    };
    assert!(matches!(
        engine.put_record("s", bad_key),
        Err(PutError::InvalidField {
            field: Field::PartitionKey,
            ..
        })
    ));
    let empty_key = PutRecord {
        partition_key: "",
        data: b"x",
        explicit_hash_key: None,
    };
    assert!(matches!(
        engine.put_record("s", empty_key),
        Err(PutError::InvalidField {
            field: Field::PartitionKey,
            ..
        })
    ));
    // A hash key is read once, before it reaches the engine: text that is not
    // one is refused there.
    assert!(matches!(
        shardlog_engine::HashKey::parse("-1"),
        Err(shardlog_engine::routing::RoutingError::HashKeyNotDecimal { .. })
    ));
    assert!(matches!(
        engine.get_records("not-a-token", 10),
        Err(ReadError::IteratorInvalid(_))
    ));
    // A number of shard 0 past its newest record.
    let (shards, _) = engine.list_shards("s", None, None, 10).unwrap();
    let past_end = SequenceNumber {
        counter: 12_345,
        arrival_secs: shards[0].starting_sequence_number.shard_created_secs,
        ..shards[0].starting_sequence_number
    };
    let start = IteratorStart::AtSequenceNumber(past_end);
    assert!(matches!(
        engine.get_shard_iterator("s", ShardId(0), start),
        Err(ReadError::SequenceNumberInvalid { sequence_number, .. }) if sequence_number == past_end
    ));
    let (shard, seq) = put(&engine, "s", "k", b"x");
    let other = if shard == ShardId(0) {
        ShardId(1)
    } else {
        ShardId(0)
    };
    let foreign = engine.get_shard_iterator("s", other, IteratorStart::AtSequenceNumber(seq));
    assert!(
        matches!(foreign, Err(ReadError::SequenceNumberOfOtherShard { .. })),
        "{foreign:?}"
    );
    assert!(matches!(
        engine.get_shard_iterator("s", ShardId(9), IteratorStart::Latest),
        Err(ReadError::ShardNotFound { .. })
    ));
    assert!(matches!(
        engine.set_retention("s", 12, false),
        Err(RetentionError::OutOfRange {
            bound_hours: 24,
            ..
        })
    ));
    assert!(matches!(
        engine.set_retention("s", 9000, true),
        Err(RetentionError::OutOfRange {
            bound_hours: 8760,
            ..
        })
    ));
    assert!(matches!(
        engine.set_retention("s", 12, true),
        Err(RetentionError::WrongDirection { increase: true, .. })
    ));
    engine.set_retention("s", 48, true).unwrap();
    engine
        .add_tags("s", BTreeMap::from([("a".to_string(), "1".to_string())]))
        .unwrap();
    engine.remove_tags("s", &["zzz".to_string()]).unwrap();
    drop(engine);
    let engine = self::engine(&fs);
    assert_eq!(
        engine
            .describe_stream("s", 10, None)
            .unwrap()
            .retention_hours,
        48
    );
    assert_eq!(
        engine.tags("s").unwrap().get("a").map(String::as_str),
        Some("1")
    );
    engine.delete_stream("s").unwrap();
    assert!(matches!(
        engine.describe_stream("s", 10, None),
        Err(StreamLookupError::NotFound { .. })
    ));
    engine.create_stream("s", Some(1), BTreeMap::new()).unwrap();
    let fresh = read_shard(&engine, "s", ShardId(0), IteratorStart::TrimHorizon);
    assert!(fresh.is_empty(), "a recreated stream starts empty");
    engine.shutdown().unwrap();
}

/// PutRecords returns one result per record in order, across shards.
#[test]
fn put_records_results_in_order() {
    let fs = MemFs::new();
    let engine = engine(&fs);
    engine.create_stream("s", Some(4), BTreeMap::new()).unwrap();
    let keys: Vec<String> = (0..50).map(|i| format!("key-{i}")).collect();
    let records: Vec<PutRecord<'_>> = keys
        .iter()
        .map(|key| PutRecord {
            partition_key: key,
            data: key.as_bytes(),
            explicit_hash_key: None,
        })
        .collect();
    let results = engine.put_records("s", &records).unwrap();
    assert_eq!(results.len(), 50);
    let mut per_shard: BTreeMap<ShardId, Vec<String>> = BTreeMap::new();
    for (key, result) in keys.iter().zip(&results) {
        let result = result.as_ref().unwrap();
        per_shard
            .entry(result.shard_id)
            .or_default()
            .push(key.clone());
    }
    assert_eq!(per_shard.len(), 4, "keys spread over the shards");
    for (shard, keys) in per_shard {
        let read: Vec<Vec<u8>> = read_shard(&engine, "s", shard, IteratorStart::TrimHorizon)
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        let expected: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
        assert_eq!(read, expected);
    }
    let too_many = vec![records[0]; 501];
    assert!(matches!(
        engine.put_records("s", &too_many),
        Err(PutError::InvalidField {
            field: Field::Records,
            ..
        })
    ));
    engine.shutdown().unwrap();
}

/// UpdateShardCount reaches even ranges through splits and merges whose children
/// have at most two parents; every record is still read once across the lineage.
#[test]
fn update_shard_count_keeps_lineage() {
    let fs = MemFs::new();
    let engine = engine(&fs);
    engine.create_stream("s", Some(3), BTreeMap::new()).unwrap();
    let mut expected = Vec::new();
    for (batch, target) in [5u32, 3, 6, 4, 2, 4].into_iter().enumerate() {
        for i in 0..12 {
            expected.push(put(&engine, "s", &format!("k{batch}-{i}"), b"x").1);
        }
        engine.update_shard_count("s", target).unwrap();
        let (open, _) = engine
            .list_shards("s", Some(&ShardFilter::AtLatest), None, 1000)
            .unwrap();
        let mut ranges: Vec<(u128, u128)> = open
            .iter()
            .map(|s| (s.hash_key_range.start, s.hash_key_range.end))
            .collect();
        ranges.sort();
        for shard in &open {
            let parents = usize::from(shard.parent_shard_id.is_some())
                + usize::from(shard.adjacent_parent_shard_id.is_some());
            assert!(parents <= 2);
        }
        let even: Vec<(u128, u128)> = shardlog_engine::routing::even_ranges(target)
            .unwrap()
            .iter()
            .map(|r| (r.start, r.end))
            .collect();
        assert_eq!(ranges, even, "target {target}");
    }
    assert!(matches!(
        engine.update_shard_count("s", 9),
        Err(UpdateShardCountError::OutOfScalingRange { target: 9, .. })
    ));
    assert!(matches!(
        engine.update_shard_count("s", 1),
        Err(UpdateShardCountError::OutOfScalingRange { target: 1, .. })
    ));
    let (all, _) = engine.list_shards("s", None, None, 10_000).unwrap();
    let mut seen = Vec::new();
    for shard in &all {
        seen.extend(
            read_shard(&engine, "s", shard.shard_id, IteratorStart::TrimHorizon)
                .into_iter()
                .map(|(seq, _)| seq),
        );
    }
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected);
    engine.shutdown().unwrap();
}

/// Retention deletes whole sealed segments past the period; TRIM_HORIZON moves
/// with them and an iterator issued before keeps working from the new horizon.
#[test]
fn retention_moves_the_trim_horizon() {
    let fs = MemFs::new();
    let mut config = EngineConfig::new("/data");
    config.log.segment_bytes_max = 64 << 10;
    config.retention_check_interval_ms = 0;
    let engine = Engine::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap();
    engine.create_stream("r", Some(1), BTreeMap::new()).unwrap();
    let payload = vec![7u8; 1000];
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    for i in 0..150 {
        put(&engine, "r", &format!("k{i}"), &payload);
    }
    // The older half arrived before `middle`, the newer half at or after it.
    let middle = now_ms() + 1;
    let ticked = Instant::now() + Duration::from_secs(5);
    while now_ms() < middle && Instant::now() < ticked {
        std::thread::yield_now();
    }
    for i in 150..300 {
        put(&engine, "r", &format!("k{i}"), &payload);
    }
    let early = engine
        .get_shard_iterator("r", ShardId(0), IteratorStart::TrimHorizon)
        .unwrap();
    let now = middle;
    let hour = 3_600_000;
    engine.enforce_retention(now + 23 * hour).unwrap();
    let all = read_shard(&engine, "r", ShardId(0), IteratorStart::TrimHorizon);
    assert_eq!(all.len(), 300, "nothing is past 24 hours yet");
    engine.enforce_retention(now + 24 * hour).unwrap();
    let kept = read_shard(&engine, "r", ShardId(0), IteratorStart::TrimHorizon);
    assert!(!kept.is_empty() && kept.len() < 300, "{} kept", kept.len());
    assert_eq!(
        kept[..],
        all[300 - kept.len()..],
        "the newest records are kept"
    );
    let page = engine.get_records(&early, 10).unwrap();
    assert_eq!(page.records[0].sequence_number, kept[0].0);
    engine.shutdown().unwrap();
}

/// A stream with registered consumers is deleted only when consumer deletion is enforced.
#[test]
fn delete_stream_with_consumers() {
    let fs = MemFs::new();
    let engine = engine(&fs);
    engine.create_stream("c", Some(1), BTreeMap::new()).unwrap();
    engine.register_consumer("c", "app").unwrap();
    assert!(matches!(
        engine.delete_stream_with("c", false),
        Err(DeleteStreamError::HasConsumers { .. })
    ));
    engine.delete_stream_with("c", true).unwrap();
    assert!(matches!(
        engine.list_consumers("c"),
        Err(StreamLookupError::NotFound { .. })
    ));
    engine.shutdown().unwrap();
}

/// With shard quotas on, a burst past 1 MiB/s on one shard gets per-record
/// ProvisionedThroughputExceededException and the rest succeed; a sixth GetRecords
/// call within a second is refused. With quotas off (the default) nothing is.
#[test]
fn shard_quotas_throttle_when_enabled() {
    let payload = vec![1u8; 100 * 1024];
    let records: Vec<PutRecord<'_>> = (0..20)
        .map(|_| PutRecord {
            partition_key: "k",
            data: &payload,
            explicit_hash_key: None,
        })
        .collect();
    // Time stands still while the bursts run, so the counts are exact; then a
    // second passes and the buckets are full again.
    let clock = Arc::new(ManualClock::new(1_000_000));
    let fs = MemFs::new();
    let mut config = EngineConfig::new("/q");
    config.shard_quotas = true;
    config.clock = clock.clone();
    let engine = Engine::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap();
    engine.create_stream("q", Some(1), BTreeMap::new()).unwrap();
    let throttled = |results: &[Result<PutResult, RecordFailure>]| {
        results
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    Err(RecordFailure::Throttled {
                        shard: ShardId(0),
                        ..
                    })
                )
            })
            .count()
    };
    let results = engine.put_records("q", &records).unwrap();
    assert!(results[..10].iter().all(Result::is_ok));
    assert_eq!(
        throttled(&results),
        10,
        "ten 100 KiB records fill the 1 MiB second"
    );
    let iterator = engine
        .get_shard_iterator("q", ShardId(0), IteratorStart::TrimHorizon)
        .unwrap();
    let mut refused = 0;
    for _ in 0..6 {
        match engine.get_records(&iterator, 1) {
            Ok(_) => {}
            Err(ReadError::Throttled { stream, shard }) => {
                assert_eq!((stream.as_str(), shard), ("q", ShardId(0)));
                refused += 1;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 1, "five GetRecords calls a second");
    clock.advance_ms(1_000);
    let results = engine.put_records("q", &records).unwrap();
    assert_eq!(
        throttled(&results),
        10,
        "a second later the bucket is full again"
    );
    assert!(engine.get_records(&iterator, 1).is_ok());
    engine.shutdown().unwrap();

    let unlimited = self::engine(&MemFs::new());
    unlimited
        .create_stream("q", Some(1), BTreeMap::new())
        .unwrap();
    let results = unlimited.put_records("q", &records).unwrap();
    assert!(results.iter().all(Result::is_ok));
    unlimited.shutdown().unwrap();
}

/// With key compaction on, sealed segments keep only the newest record of each
/// partition key, with the sequence numbers it had; the setting survives a restart.
#[test]
fn key_compaction_keeps_newest_per_key() {
    let fs = MemFs::new();
    let mut config = EngineConfig::new("/data");
    config.log.segment_bytes_max = 64 << 10;
    config.retention_check_interval_ms = 0;
    let open = || Engine::open(fs.clone() as Arc<dyn FileSystem>, config.clone()).unwrap();
    let engine = open();
    engine
        .create_stream("kv", Some(1), BTreeMap::new())
        .unwrap();
    engine.set_key_compaction("kv", true).unwrap();
    let mut newest = BTreeMap::new();
    for i in 0..300 {
        let key = if i < 150 {
            format!("user-{}", i % 10)
        } else {
            format!("late-{i}")
        };
        let data = format!("{key}-v{i}-{}", "x".repeat(600));
        let (_, seq) = put(&engine, "kv", &key, data.as_bytes());
        newest.insert(key, (seq, data.into_bytes()));
    }
    let report = engine.compact_stream("kv").unwrap();
    assert!(report.records_dropped >= 100, "{report:?}");
    engine.shutdown().unwrap();
    drop(engine);
    let engine = open();
    let read = read_shard(&engine, "kv", ShardId(0), IteratorStart::TrimHorizon);
    for (key, (seq, data)) in newest.iter().filter(|(k, _)| k.starts_with("user-")) {
        assert!(read.contains(&(*seq, data.clone())), "newest of {key} kept");
    }
    let user_records = read
        .iter()
        .filter(|(_, data)| data.starts_with(b"user-"))
        .count();
    assert_eq!(user_records, 10, "older versions of the user keys are gone");
    engine.shutdown().unwrap();
}

/// The per-shard size cap removes the oldest sealed segments; UpdateMaxRecordSize
/// raises the record limit; SequenceNumberForOrdering is checked.
#[test]
fn size_cap_record_size_and_ordering() {
    let fs = MemFs::new();
    let mut config = EngineConfig::new("/data");
    config.log.segment_bytes_max = 64 << 10;
    config.retention_check_interval_ms = 0;
    let engine = Engine::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap();
    engine
        .create_stream("cap", Some(1), BTreeMap::new())
        .unwrap();
    let payload = vec![3u8; 1000];
    for i in 0..400 {
        put(&engine, "cap", &format!("k{i}"), &payload);
    }
    engine
        .set_retention_bytes_max("cap", Some(150 << 10))
        .unwrap();
    let kept = read_shard(&engine, "cap", ShardId(0), IteratorStart::TrimHorizon);
    assert!(kept.len() < 150 && kept.len() > 60, "{} kept", kept.len());
    let description = engine.describe_stream("cap", 10, None).unwrap();
    assert_eq!(description.record_kib_max, 1024);
    let big = vec![0u8; 2 << 20];
    let record = PutRecord {
        partition_key: "k",
        data: &big,
        explicit_hash_key: None,
    };
    assert!(matches!(
        engine.put_record("cap", record),
        Err(PutError::InvalidField {
            field: Field::Data,
            ..
        })
    ));
    assert!(matches!(
        engine.set_max_record_kib("cap", 20_000),
        Err(MaxRecordSizeError::InvalidField(InvalidField {
            field: Field::RecordKibMax,
            ..
        }))
    ));
    engine.set_max_record_kib("cap", 4096).unwrap();
    let (_, seq) = {
        let result = engine.put_record("cap", record).unwrap();
        (result.shard_id, result.sequence_number)
    };
    let small = PutRecord {
        partition_key: "k",
        data: b"next",
        explicit_hash_key: None,
    };
    // A later record of the same key sorts after the earlier one: what
    // SequenceNumberForOrdering asks for, so the server needs no engine call for it.
    let later = engine.put_record("cap", small).unwrap();
    assert!(later.sequence_number > seq);
    engine.shutdown().unwrap();
}

/// A shard's StartingSequenceNumber is before its first record: AT and AFTER it
/// both read from the first record, and both work while the shard is still empty
/// (a KCL resubscribing after an idle subscription continues from it).
#[test]
fn starting_sequence_number_is_before_the_first_record() {
    let fs = MemFs::new();
    let engine = engine(&fs);
    engine.create_stream("s", Some(1), BTreeMap::new()).unwrap();
    let (shards, _) = engine.list_shards("s", None, None, 10).unwrap();
    let shard = shards[0].shard_id;
    let starting = shards[0].starting_sequence_number;
    let early: Vec<String> = [
        IteratorStart::AtSequenceNumber(starting),
        IteratorStart::AfterSequenceNumber(starting),
    ]
    .into_iter()
    .map(|start| engine.get_shard_iterator("s", shard, start).unwrap())
    .collect();
    let first = put(&engine, "s", "k", b"first").1;
    let second = put(&engine, "s", "k", b"second").1;
    assert!(starting < first, "{starting} sorts before {first}");
    for iterator in early {
        let page = engine.get_records(&iterator, 10).unwrap();
        let numbers: Vec<SequenceNumber> = page.records.iter().map(|r| r.sequence_number).collect();
        assert_eq!(numbers, [first, second]);
    }
    for start in [
        IteratorStart::AtSequenceNumber(starting),
        IteratorStart::AfterSequenceNumber(starting),
    ] {
        let read = read_shard(&engine, "s", shard, start);
        assert_eq!(read.first().map(|r| r.1.as_slice()), Some(&b"first"[..]));
        assert_eq!(read.len(), 2);
    }
    // AFTER the first record's own number skips it, as before.
    let after_first = read_shard(
        &engine,
        "s",
        shard,
        IteratorStart::AfterSequenceNumber(first),
    );
    assert_eq!(after_first, vec![(second, b"second".to_vec())]);
}

/// A GetRecords waiting for data does not hold up resharding of its stream, and
/// the split ends the wait: the reader learns at once that its shard closed and
/// which children took over.
#[test]
fn waiting_reader_does_not_hold_up_a_split() {
    let engine = engine(&MemFs::new());
    engine.create_stream("w", Some(1), BTreeMap::new()).unwrap();
    let iterator = engine
        .get_shard_iterator("w", ShardId(0), IteratorStart::Latest)
        .unwrap();
    // Far longer than the test may take: the split has to end it.
    let wait = Duration::from_secs(60);
    let (done, answered) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let read = engine.get_records_waiting(&iterator, 10, wait);
            let _ = done.send(());
            read
        });
        // Let the reader start waiting (if it has not, the split is not held up either).
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        engine
            .split_shard("w", ShardId(0), shardlog_engine::HashKey(1u128 << 127))
            .unwrap();
        let took = started.elapsed();
        assert!(took < wait / 4, "the split waited {took:?} for the reader");
        assert_eq!(
            answered.recv_timeout(Duration::from_secs(20)),
            Ok(()),
            "the reader was not woken by the split"
        );
        let read = reader.join().unwrap().unwrap();
        assert!(read.records.is_empty());
        assert!(read.next_shard_iterator.is_none(), "the parent is closed");
        let mut children: Vec<ShardId> = read
            .child_shards
            .iter()
            .map(|child| child.shard_id)
            .collect();
        children.sort();
        assert_eq!(children, [ShardId(1), ShardId(2)]);
    });
    engine.shutdown().unwrap();
}
