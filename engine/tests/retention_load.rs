//! Retention under load on the real file system: sealed segments are deleted
//! while producers append and a consumer reads through them. The reader never
//! gets an error (a trimmed position continues from the new trim horizon) and
//! never sees records out of order; no mapping fault (SIGBUS) kills the process.

use shardlog_engine::{Engine, EngineConfig, IteratorStart, PutRecord, ShardId};
use shardlog_segment::io::RealFs;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Three seconds of appends, reads and retention passes, all at once.
#[test]
fn retention_while_reading() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.log.segment_bytes_max = 64 << 10;
    config.retention_check_interval_ms = 0;
    let engine = Engine::open(RealFs::shared(), config).unwrap();
    engine.create_stream("r", Some(1), BTreeMap::new()).unwrap();
    let stop = AtomicBool::new(false);
    let read_count = AtomicU64::new(0);
    let passes = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(3);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let payload = vec![5u8; 900];
            let mut n = 0u64;
            while Instant::now() < deadline {
                let key = format!("k{n}");
                let record = PutRecord {
                    partition_key: &key,
                    data: &payload,
                    explicit_hash_key: None,
                };
                engine.put_records("r", &[record; 20]).unwrap();
                n += 1;
            }
            stop.store(true, Ordering::Relaxed);
        });
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let mut iterator = Some(
                    engine
                        .get_shard_iterator("r", ShardId(0), IteratorStart::TrimHorizon)
                        .unwrap(),
                );
                let mut last = None;
                while let Some(current) = iterator {
                    let page = engine
                        .get_records(&current, 50)
                        .expect("reads never fail under retention");
                    if page.records.is_empty() {
                        break;
                    }
                    for record in &page.records {
                        assert!(Some(record.sequence_number) > last, "order");
                        last = Some(record.sequence_number);
                        assert_eq!(record.data.len(), 900);
                    }
                    read_count.fetch_add(page.records.len() as u64, Ordering::Relaxed);
                    iterator = page.next_shard_iterator;
                }
            }
        });
        scope.spawn(|| {
            // Far enough in the future that every sealed segment is past 24 hours.
            while !stop.load(Ordering::Relaxed) {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as u64;
                engine.enforce_retention(now + 25 * 3_600_000).unwrap();
                passes.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    });
    assert!(read_count.load(Ordering::Relaxed) > 1000);
    assert!(passes.load(Ordering::Relaxed) > 10);
    let description = engine.describe_stream("r", 1, None).unwrap();
    assert_eq!(description.open_shard_count, 1);
    engine.shutdown().unwrap();
}
