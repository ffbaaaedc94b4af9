//! Fault campaign for both write backends: for each kind of operation (write, sync,
//! rename, directory sync, set_len, open, creation, directory creation, removal),
//! every k-th occurrence fails with EIO while producers append and retention
//! removes old segments. A failed sync behaves as on Linux: the error is reported
//! once and the page cache keeps serving bytes the device never got. A failed log
//! refuses appends until it is closed and reopened; the producers reopen and go on.
//! At the end the power is cut (unsynced changes dropped or torn) and every log is
//! reopened: every acknowledged record is back byte-exact at its position, and no
//! position was reused or went backwards.
//!
//! `SHARDLOG_POWER_LOSS_CUTS` scales the number of campaign runs for long runs
//! (one run per kind and backend for every 24 cuts; default 48).

mod common;

use common::{borrow, count_from_env, make_batch, Ledger, Rng};
use shardlog_segment::io::{
    create_dir_all_durably, CrashMode, Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs,
};
use shardlog_segment::{BackendKind, Durability, Error, Log, LogConfig, Storage, StorageConfig};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const LOGS: usize = 2;

/// Append attempts per producer in one run (bounds the run, faults or not).
const ATTEMPTS_PER_LOG: u64 = 120;

const KINDS: [IoOp; 9] = [
    IoOp::Write,
    IoOp::Sync,
    IoOp::Rename,
    IoOp::SyncDir,
    IoOp::SetLen,
    IoOp::Open,
    IoOp::Create,
    IoOp::CreateDir,
    IoOp::Remove,
];

/// Logs of an odd seed reserve their active segments ahead of the writes (issue
/// 16), so faults also hit preallocated files, and a log reopened under another
/// seed's setting recovers what the other left.
fn log_config(seed: u64) -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        index_interval_bytes: 4096,
        preallocate_bytes_max: if seed.is_multiple_of(2) { 0 } else { 256 << 10 },
        ..LogConfig::default()
    }
}

fn config(backend: BackendKind) -> StorageConfig {
    StorageConfig {
        backend,
        durability: Durability::Sync,
    }
}

/// Counts of one run or of the whole campaign.
#[derive(Debug, Default)]
struct Tally {
    runs: u64,
    faults: u64,
    failed_appends: u64,
    reopens: u64,
    records_verified: usize,
}

/// Keeps one rule armed: each time the last one fired, arms a rule for the k-th
/// next occurrence of `kind`.
struct Injector {
    faulty: Arc<FaultyFs>,
    kind: IoOp,
    every: u64,
    armed: Mutex<u64>,
}

impl Injector {
    fn rearm(&self) {
        let mut armed = self.armed.lock().unwrap();
        if self.faulty.fired() >= *armed {
            self.faulty.inject(Fault {
                op: self.kind,
                path_contains: None,
                skip: self.every - 1,
                times: 1,
                action: FaultAction::Error(libc::EIO),
            });
            *armed += 1;
        }
    }
}

/// One producer: appends to log `index`, reopening it after each failure, and
/// now and then removes its oldest segment (retention).
fn produce(
    storage: &Storage,
    index: usize,
    seed: u64,
    injector: &Injector,
    ledger: &Mutex<Ledger>,
    failures: &AtomicU64,
    reopens: &AtomicU64,
) {
    let mut rng = Rng::new(seed);
    let dir = format!("/data/log-{index}");
    let context = format!("seed {seed}, faults on {:?}", injector.kind);
    let mut log: Option<Log> = None;
    for _ in 0..ATTEMPTS_PER_LOG {
        injector.rearm();
        let Some(current) = log.as_ref() else {
            // A failed open (a fault during recovery) is retried on the next attempt.
            log = storage
                .open_log(&dir, log_config(seed))
                .ok()
                .map(|(log, _)| log);
            reopens.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let records = make_batch(
            rng.next_u64(),
            1 + rng.below(4) as usize,
            rng.below(5000) as usize,
        );
        match current.append(&borrow(&records)) {
            Ok(appended) => {
                let mut ledger = ledger.lock().unwrap();
                ledger.record(index, appended.base_position, records, &context);
            }
            Err(_) => {
                failures.fetch_add(1, Ordering::Relaxed);
                let again = current.append(&borrow(&make_batch(0, 1, 1)));
                assert!(
                    again.is_err(),
                    "{context}: a failed log took another append"
                );
                // Closing cuts the files back to what was acknowledged; it may fail too.
                let _ = current.close();
                log = None;
                continue;
            }
        }
        if rng.below(8) == 0 && current.segments().len() > 2 {
            remove_oldest(current, index, ledger);
        }
    }
    if let Some(log) = log {
        let _ = log.close();
    }
}

/// Removes the oldest sealed segment. Its records are no longer owed, even if the
/// removal fails halfway (the log's floor is stored first).
fn remove_oldest(log: &Log, index: usize, ledger: &Mutex<Ledger>) {
    let mut end = None;
    let _ = log.remove_oldest_segments(|info| {
        let first = end.is_none();
        end.get_or_insert(info.end_position);
        first
    });
    if let Some(end) = end {
        ledger.lock().unwrap().trim(index, end);
    }
}

/// One run: faults on every `every`-th operation of `kind` during the workload,
/// then a power cut, then verification on a file system without faults.
fn run(backend: BackendKind, kind: IoOp, every: u64, seed: u64) -> Tally {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.session());
    let injector = Injector {
        faulty: Arc::clone(&faulty),
        kind,
        every,
        armed: Mutex::new(0),
    };
    let ledger = Mutex::new(Ledger::new(LOGS));
    let (failures, reopens) = (AtomicU64::new(0), AtomicU64::new(0));
    // The logs' parent exists durably; each log's own directory is made under faults.
    create_dir_all_durably(mem.as_ref(), Path::new("/data")).unwrap();
    let storage = Storage::open(faulty.clone() as Arc<dyn FileSystem>, config(backend)).unwrap();
    std::thread::scope(|scope| {
        for index in 0..LOGS {
            let (storage, injector, ledger) = (&storage, &injector, &ledger);
            let (failures, reopens) = (&failures, &reopens);
            let seed = seed.wrapping_mul(31).wrapping_add(index as u64);
            scope.spawn(move || produce(storage, index, seed, injector, ledger, failures, reopens));
        }
    });
    faulty.clear();
    mem.crash(CrashMode::Random { seed });
    // The storage's files are stale after the crash; shutting down may report that.
    let _ = storage.shutdown();
    let storage = Storage::open(mem.session(), config(backend)).unwrap();
    let ledger = ledger.lock().unwrap();
    let context = format!(
        "{} backend, seed {seed}, faults on every {every}th {kind:?}",
        backend.name()
    );
    let mut records_verified = 0;
    for index in 0..LOGS {
        let (log, _) = storage
            .open_log(format!("/data/log-{index}"), log_config(seed))
            .unwrap_or_else(|error| panic!("{context}: log {index} does not reopen: {error}"));
        records_verified += ledger.verify(index, &log, &context);
    }
    storage
        .shutdown()
        .expect("clean shutdown after verification");
    Tally {
        runs: 1,
        faults: faulty.fired(),
        failed_appends: failures.into_inner(),
        reopens: reopens.into_inner(),
        records_verified,
    }
}

fn campaign(backend: BackendKind) {
    if let Err(error) = Storage::open(MemFs::new(), config(backend)) {
        assert!(matches!(error, Error::BackendUnavailable(_)), "{error}");
        eprintln!("note: {error}; test skipped");
        return;
    }
    let runs_per_kind = (count_from_env("SHARDLOG_POWER_LOSS_CUTS", 48) / 24).max(1);
    let base_seed = count_from_env("SHARDLOG_POWER_LOSS_SEED", 0x0c07_5eed);
    let mut total = Tally::default();
    for kind in KINDS {
        let mut faults = 0;
        for round in 0..runs_per_kind {
            // Every 2nd occurrence, every one (nothing of that kind succeeds), every
            // 3rd or 5th: directory creations are few, so the first two reach them.
            let every = [2, 1, 3, 5][round as usize % 4];
            let seed = base_seed.wrapping_add(round * 101 + kind as u64);
            let tally = run(backend, kind, every, seed);
            faults += tally.faults;
            total.runs += 1;
            total.faults += tally.faults;
            total.failed_appends += tally.failed_appends;
            total.reopens += tally.reopens;
            total.records_verified += tally.records_verified;
        }
        assert!(faults > 0, "{kind:?}: the workload never reached a fault");
        eprintln!("  {kind:?}: {faults} faults injected");
    }
    eprintln!(
        "fault campaign, {} backend: {} runs, {} faults injected, {} appends failed, \
         {} reopens, {} acknowledged records verified after the final power cut, \
         0 lost, 0 positions reused",
        backend.name(),
        total.runs,
        total.faults,
        total.failed_appends,
        total.reopens,
        total.records_verified
    );
    assert!(total.records_verified > 0, "{total:?}");
}

/// Faults on every kind of operation through the buffered backend lose no
/// acknowledged record and reuse no position, through a final power cut.
#[test]
fn buffered_backend_survives_every_kind_of_fault() {
    campaign(BackendKind::Buffered);
}

/// The same campaign through the io_uring backend's O_DIRECT write pattern.
#[test]
fn io_uring_backend_survives_every_kind_of_fault() {
    campaign(BackendKind::IoUring);
}
