//! Under the `sync` policy the write thread syncs a small round itself when the
//! sync thread has nothing pending, and hands it over otherwise: which thread
//! synced each round, and that acknowledgements stay in order per log either way.

mod common;

use common::hook_fs::{hook_fs, Hook, Hooked};
use common::{borrow, make_batch, read_all};
use shardlog_segment::io::{Gate, MemFs};
use shardlog_segment::{BackendKind, Durability, LogConfig, Storage, StorageConfig};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The name of the thread of each sync of a `.log` file, in order, with its path.
type Syncs = Arc<Mutex<Vec<(String, PathBuf)>>>;

/// Storage under the `sync` policy on a memory file system whose `.log` syncs are
/// recorded in `syncs`; a sync on the sync thread first passes `gate`.
fn storage(syncs: &Syncs, gate: &Arc<Gate>) -> Storage {
    let (syncs, gate) = (Arc::clone(syncs), Arc::clone(gate));
    let hook: Hook = Arc::new(move |op, path: &Path| {
        if op == Hooked::Sync && path.extension().is_some_and(|e| e == "log") {
            let thread = std::thread::current().name().unwrap_or("").to_string();
            if thread == "shardlog-sync" {
                gate.pass();
            }
            syncs.lock().unwrap().push((thread, path.to_path_buf()));
        }
        Ok(())
    });
    let fs = hook_fs(MemFs::new(), hook);
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    Storage::open(fs, config).unwrap()
}

fn threads_of(syncs: &Syncs, from: usize) -> Vec<String> {
    syncs.lock().unwrap()[from..]
        .iter()
        .map(|(thread, _)| thread.clone())
        .collect()
}

/// One small batch at a time, each awaited: every round after the segment's
/// creation is synced by the write thread, none waits for the sync thread.
#[test]
fn small_rounds_at_rest_are_synced_by_the_write_thread() {
    let syncs: Syncs = Arc::default();
    let gate = Gate::new();
    let storage = storage(&syncs, &gate);
    let (log, _) = storage
        .open_log(Path::new("/a"), LogConfig::default())
        .unwrap();
    let mut written = make_batch(0, 2, 100);
    log.append(&borrow(&written)).unwrap();
    let after_create = syncs.lock().unwrap().len();
    for batch in 1..20u64 {
        let records = make_batch(batch, 3, 300);
        let appended = log.append(&borrow(&records)).unwrap();
        assert_eq!(appended.base_position, 2 + (batch - 1) * 3);
        written.extend(records);
    }
    let threads = threads_of(&syncs, after_create);
    assert_eq!(threads.len(), 19, "one sync a round: {threads:?}");
    assert!(
        threads.iter().all(|t| t == "shardlog-write"),
        "synced by: {threads:?}"
    );
    let read: Vec<_> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, written);
    storage.shutdown().unwrap();
}

/// A round larger than the inline bound goes to the sync thread; while its sync
/// is held, a small round of the same log goes there too (it must not be
/// acknowledged before the round ahead of it), and both are acknowledged in order
/// once the sync goes on.
#[test]
fn a_small_round_behind_a_pending_one_goes_to_the_sync_thread() {
    let syncs: Syncs = Arc::default();
    let gate = Gate::new();
    let storage = storage(&syncs, &gate);
    let (log, _) = storage
        .open_log(Path::new("/b"), LogConfig::default())
        .unwrap();
    let first = make_batch(0, 1, 10);
    log.append(&borrow(&first)).unwrap();
    let before = syncs.lock().unwrap().len();
    let opener = gate.close();
    // 80 records of 1 KiB: above the 64 KiB a round may hold to be synced inline.
    let large = make_batch(1, 80, 1024);
    let held = log.submit(&borrow(&large)).unwrap();
    while gate.held() == 0 {
        std::thread::yield_now();
    }
    let small = make_batch(2, 1, 10);
    let behind = log.submit(&borrow(&small)).unwrap();
    // The small round is written (its records readable or not) before the
    // gate opens only if the write thread is free; either way it is not
    // acknowledged ahead of the held round.
    assert!(log.acknowledged_end() <= 1, "nothing past the held round");
    drop(opener);
    let large_at = held.wait().unwrap();
    let small_at = behind.wait().unwrap();
    assert_eq!(large_at.base_position, 1);
    assert_eq!(small_at.base_position, 81);
    let threads = threads_of(&syncs, before);
    assert_eq!(
        threads.first().map(String::as_str),
        Some("shardlog-sync"),
        "the large round: {threads:?}"
    );
    assert!(
        threads.iter().all(|t| t == "shardlog-sync"),
        "the small round waited behind the pending one on the sync thread: {threads:?}"
    );
    let read: Vec<_> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    let expected: Vec<_> = first.into_iter().chain(large).chain(small).collect();
    assert_eq!(read, expected);
    storage.shutdown().unwrap();
}
