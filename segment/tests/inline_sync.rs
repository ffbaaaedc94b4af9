//! Under the `sync` policy the write thread syncs a small round itself when the
//! sync threads have nothing pending, and hands it over otherwise: which thread
//! synced each round, and that acknowledgements stay in order per log either way.

mod common;

use common::hook_fs::{hook_fs, Hook, Hooked};
use common::{borrow, make_batch, read_all};
use shardlog_segment::io::{Gate, MemFs};
use shardlog_segment::{BackendKind, Durability, Log, LogConfig, Storage, StorageConfig};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Each write and sync of a `.log` file, in order: the operation and the name of
/// the thread that made it.
type Ops = Arc<Mutex<Vec<(Hooked, String)>>>;

/// The log in `dir` of a storage under the `sync` policy on a memory file system
/// whose `.log` writes and syncs are recorded in `ops`; the first sync on a sync
/// thread that finds `gate` closed, once recorded, waits there until it opens.
fn open_log(ops: &Ops, gate: &Arc<Gate>, dir: &str) -> (Storage, Log) {
    let (ops, gate) = (Arc::clone(ops), Arc::clone(gate));
    let hook: Hook = Arc::new(move |op, path: &Path| {
        if path.extension().is_some_and(|e| e == "log") {
            let thread = std::thread::current().name().unwrap_or("").to_string();
            let held = op == Hooked::Sync && is_syncer(&thread) && gate.held() == 0;
            ops.lock().unwrap().push((op, thread));
            if held {
                gate.pass();
            }
        }
        Ok(())
    });
    let fs = hook_fs(MemFs::new(), hook);
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    let storage = Storage::open(fs, config).unwrap();
    let (log, _) = storage.open_log(dir, LogConfig::default()).unwrap();
    (storage, log)
}

/// Whether `thread` is one of the storage's sync threads (not one of the
/// buffered backend's helpers, `shardlog-sync-0` and on).
fn is_syncer(thread: &str) -> bool {
    thread == "shardlog-sync" || thread == "shardlog-sync-b"
}

/// The threads of the recorded `op`s from the `from`th operation on.
fn threads_of(ops: &Ops, op: Hooked, from: usize) -> Vec<String> {
    ops.lock().unwrap()[from..]
        .iter()
        .filter(|(made, _)| *made == op)
        .map(|(_, thread)| thread.clone())
        .collect()
}

/// One small batch at a time, each awaited: every round after the segment's
/// creation is synced by the write thread, none waits for the sync thread.
#[test]
fn small_rounds_at_rest_are_synced_by_the_write_thread() {
    let ops: Ops = Arc::default();
    let gate = Gate::new();
    let (storage, log) = open_log(&ops, &gate, "/a");
    let mut written = make_batch(0, 2, 100);
    log.append(&borrow(&written)).unwrap();
    let after_create = ops.lock().unwrap().len();
    for batch in 1..20u64 {
        let records = make_batch(batch, 3, 300);
        let appended = log.append(&borrow(&records)).unwrap();
        assert_eq!(appended.base_position, 2 + (batch - 1) * 3);
        written.extend(records);
    }
    let threads = threads_of(&ops, Hooked::Sync, after_create);
    assert_eq!(threads.len(), 19, "one sync a round: {threads:?}");
    assert!(
        threads.iter().all(|t| t == "shardlog-write"),
        "synced by: {threads:?}"
    );
    let read: Vec<_> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, written);
    storage.shutdown().unwrap();
}

/// A round larger than the inline bound goes to a sync thread; while its sync is
/// held, a small round of the same log is written, not synced by the write thread,
/// but synced by the other sync thread at once (with one sync thread it waited for
/// the held sync to finish), and not acknowledged before the round ahead of it;
/// both are acknowledged in order once the held sync goes on.
#[test]
fn a_small_round_behind_a_pending_one_is_synced_by_the_other_syncer_and_acknowledged_after_it() {
    let ops: Ops = Arc::default();
    let gate = Gate::new();
    let (storage, log) = open_log(&ops, &gate, "/b");
    let first = make_batch(0, 1, 10);
    log.append(&borrow(&first)).unwrap();
    let before = ops.lock().unwrap().len();
    let opener = gate.close();
    // 80 records of 1 KiB: above the 64 KiB a round may hold to be synced inline.
    let large = make_batch(1, 80, 1024);
    let held = log.submit(&borrow(&large)).unwrap();
    while gate.held() == 0 {
        std::thread::yield_now();
    }
    let small = make_batch(2, 1, 10);
    let behind = log.submit(&borrow(&small)).unwrap();
    // The write thread writes the small round (the second write since the large
    // one's) and hands it over; the other sync thread syncs it.
    let mut syncs = threads_of(&ops, Hooked::Sync, before);
    for _ in 0..2000 {
        if syncs.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        syncs = threads_of(&ops, Hooked::Sync, before);
    }
    assert_eq!(
        syncs.len(),
        2,
        "the held sync and the small round's: {syncs:?}"
    );
    assert!(syncs.iter().all(|t| is_syncer(t)), "synced by: {syncs:?}");
    assert_ne!(syncs[0], syncs[1], "one sync thread each: {syncs:?}");
    // Synced, but behind a round whose sync has not finished.
    std::thread::sleep(Duration::from_millis(50));
    assert!(log.acknowledged_end() <= 1, "nothing past the held round");
    drop(opener);
    let large_at = held.wait().unwrap();
    let small_at = behind.wait().unwrap();
    assert_eq!(large_at.base_position, 1);
    assert_eq!(small_at.base_position, 81);
    assert_eq!(threads_of(&ops, Hooked::Sync, before).len(), 2);
    let read: Vec<_> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    let expected: Vec<_> = first.into_iter().chain(large).chain(small).collect();
    assert_eq!(read, expected);
    storage.shutdown().unwrap();
}
