//! Power loss simulated through the in-memory file system: everything not synced
//! is dropped, or a random subset of it survives torn and reordered, at random
//! moments while producers append. Recovery keeps every acknowledged batch.

mod common;

use common::{borrow, make_batch, read_all, Owned};
use shardlog_segment::io::{CrashMode, FileSystem, MemFs};
use shardlog_segment::{BackendKind, Durability, LogConfig, Storage, StorageConfig};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const CONFIG: StorageConfig = StorageConfig {
    backend: BackendKind::Buffered,
    durability: Durability::Sync,
};

fn log_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        index_interval_bytes: 1024,
        ..LogConfig::default()
    }
}

/// Acknowledged records by position, per shard.
type Acked = Arc<Mutex<Vec<BTreeMap<u64, Owned>>>>;

fn produce(
    fs: &Arc<MemFs>,
    shards: usize,
    round: u64,
    acked: &Acked,
    crash: CrashMode,
    after: usize,
) {
    // A session: once the crash comes, this "process" can do nothing more.
    let storage = Storage::open(fs.session() as Arc<dyn FileSystem>, CONFIG).unwrap();
    let logs: Vec<_> = (0..shards)
        .map(|s| {
            storage
                .open_log(format!("/data/shard-{s}"), log_config())
                .unwrap()
                .0
        })
        .collect();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for producer in 0..4u64 {
            let log = logs[producer as usize % shards].clone();
            let shard = producer as usize % shards;
            let acked = Arc::clone(acked);
            let done = Arc::clone(&done);
            scope.spawn(move || {
                for i in 0..1_000u64 {
                    let batch = round * 1_000_000 + producer * 10_000 + i;
                    let records = make_batch(batch, 1 + (i % 4) as usize, (i * 37 % 700) as usize);
                    let Ok(appended) = log.append(&borrow(&records)) else {
                        return;
                    };
                    let mut acked = acked.lock().unwrap();
                    for (k, record) in records.into_iter().enumerate() {
                        acked[shard].insert(appended.base_position + k as u64, record);
                    }
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
        // Crash while the producers are still writing.
        while done.load(std::sync::atomic::Ordering::SeqCst) < after {
            std::thread::yield_now();
        }
        fs.crash(crash);
    });
    // The storage's files are stale after the crash; shutting down may report that.
    let _ = storage.shutdown();
}

fn verify(fs: &Arc<MemFs>, shards: usize, acked: &Acked, round: u64) {
    let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, CONFIG).unwrap();
    let acked = acked.lock().unwrap();
    for shard in 0..shards {
        let (log, _) = storage
            .open_log(format!("/data/shard-{shard}"), log_config())
            .unwrap();
        let recovered: BTreeMap<u64, Owned> = read_all(&log, 0).into_iter().collect();
        for (position, record) in &acked[shard] {
            assert_eq!(
                recovered.get(position),
                Some(record),
                "after the crash of round {round}: shard {shard} position {position} ({} recovered, {} acknowledged)",
                recovered.len(),
                acked[shard].len()
            );
        }
        // Whatever survived beyond the acknowledgements is whole batches in order.
        let positions: Vec<u64> = recovered.keys().copied().collect();
        assert!(positions.iter().enumerate().all(|(i, p)| *p == i as u64));
    }
    storage.shutdown().unwrap();
}

fn torture(mode: impl Fn(u64) -> CrashMode) {
    let shards = 2;
    let fs = MemFs::new();
    let acked: Acked = Arc::new(Mutex::new(vec![BTreeMap::new(); shards]));
    for round in 0..12u64 {
        produce(
            &fs,
            shards,
            round,
            &acked,
            mode(round),
            20 + (round as usize * 53) % 300,
        );
        verify(&fs, shards, &acked, round);
    }
    let total: usize = acked.lock().unwrap().iter().map(BTreeMap::len).sum();
    assert!(total > 1000, "the producers got work acknowledged: {total}");
}

/// Only synced data survives.
#[test]
fn drop_unsynced_keeps_every_acknowledged_batch() {
    torture(|_| CrashMode::DropUnsynced);
}

/// A random subset of unsynced writes survives, torn and reordered.
#[test]
fn random_partial_survival_keeps_every_acknowledged_batch() {
    torture(|round| CrashMode::Random {
        seed: 0x5eed + round,
    });
}
