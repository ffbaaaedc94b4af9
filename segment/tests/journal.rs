//! The commit journal: small `sync` rounds of several logs are made durable by one
//! journal sync, their data files left unsynced; a power loss (every unsynced write
//! dropped, or a random torn subset kept, or a cut at the Nth operation, checkpoints
//! included) and a reopen return every acknowledged record of every log; a log
//! directory deleted and created again under the same path, before or after a
//! crash, never gets old bytes replayed into it; frames of an older epoch are ignored.

mod common;

use common::{borrow, make_batch, read_all, Ledger, Owned};
use shardlog_segment::format::segment_file_name;
use shardlog_segment::io::{
    create_dir_all_durably, remove_dir_durably, CrashMode, FileSystem, MemFs,
};
use shardlog_segment::{
    BackendKind, Durability, JournalOptions, Log, LogConfig, Storage, StorageConfig,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const DIR: &str = "/data";
const LOGS: usize = 4;

fn config(backend: BackendKind) -> StorageConfig {
    StorageConfig {
        backend,
        durability: Durability::Sync,
    }
}

/// A journal small enough that the torture rounds checkpoint many times.
const SMALL: JournalOptions = JournalOptions {
    journal_bytes: 256 << 10,
    checkpoint_age_ms: 1000,
    round_bytes_max: 32 << 10,
};

fn log_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        index_interval_bytes: 1024,
        ..LogConfig::default()
    }
}

fn log_dir(i: usize) -> PathBuf {
    Path::new(DIR).join(format!("log-{i}"))
}

/// A storage of one "process" on `fs`, replaying the journal.
fn open(fs: &Arc<MemFs>, options: JournalOptions) -> Storage {
    open_with(fs, options, BackendKind::Buffered)
}

fn open_with(fs: &Arc<MemFs>, options: JournalOptions, backend: BackendKind) -> Storage {
    create_dir_all_durably(fs.as_ref(), Path::new(DIR)).unwrap();
    let session = fs.session() as Arc<dyn FileSystem>;
    let config = config(backend);
    Storage::open_in_with_journal(session, config, Path::new(DIR), Some(options)).unwrap()
}

fn open_log(storage: &Storage, i: usize) -> Log {
    storage.open_log(log_dir(i), log_config()).unwrap().0
}

/// Acknowledged records by position, per log.
type Acked = Arc<Mutex<Ledger>>;

/// One producer per log appends until the crash `crash` fires (after `after`
/// acknowledged appends, or by a power cut armed by the caller).
fn produce(
    fs: &Arc<MemFs>,
    backend: BackendKind,
    round: u64,
    acked: &Acked,
    crash: Option<CrashMode>,
    after: usize,
) {
    let storage = open_with(fs, SMALL, backend);
    let logs: Vec<Log> = (0..LOGS).map(|i| open_log(&storage, i)).collect();
    let done = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for (shard, log) in logs.iter().enumerate() {
            let (acked, done) = (Arc::clone(acked), Arc::clone(&done));
            scope.spawn(move || {
                for i in 0..600u64 {
                    let batch = round * 1_000_000 + shard as u64 * 10_000 + i;
                    let records = make_batch(batch, 1 + (i % 3) as usize, (i * 37 % 500) as usize);
                    let Ok(appended) = log.append(&borrow(&records)) else {
                        return;
                    };
                    let context = format!("round {round}");
                    acked
                        .lock()
                        .unwrap()
                        .record(shard, appended.base_position, records, &context);
                    done.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        if let Some(mode) = crash {
            while done.load(Ordering::SeqCst) < after {
                std::thread::yield_now();
            }
            fs.crash(mode);
        }
    });
    if crash.is_none() && fs.power_cut().is_none() {
        // The producers finished before the armed cut: cut now.
        fs.crash(CrashMode::DropUnsynced);
    }
    let _ = storage.shutdown();
}

/// Reopens and checks every acknowledged record; returns the rounds replayed.
fn verify(fs: &Arc<MemFs>, backend: BackendKind, acked: &Acked, round: u64) -> u64 {
    let storage = open_with(fs, SMALL, backend);
    let replayed = storage.journal_replay().expect("a journal").rounds;
    let acked = acked.lock().unwrap();
    for shard in 0..LOGS {
        let log = open_log(&storage, shard);
        assert_eq!(log.first_position(), 0);
        acked.verify(shard, &log, &format!("round {round}"));
    }
    storage.shutdown().unwrap();
    replayed
}

fn torture(
    backend: BackendKind,
    rounds: u64,
    mode: impl Fn(&Arc<MemFs>, u64) -> Option<CrashMode>,
) {
    let fs = MemFs::new();
    let acked: Acked = Arc::new(Mutex::new(Ledger::new(LOGS)));
    let mut replayed = 0;
    for round in 0..rounds {
        let crash = mode(&fs, round);
        produce(
            &fs,
            backend,
            round,
            &acked,
            crash,
            50 + (round as usize * 97) % 900,
        );
        replayed += verify(&fs, backend, &acked, round);
    }
    let total = acked.lock().unwrap().len();
    assert!(total > 1000, "the producers got work acknowledged: {total}");
    assert!(replayed > 0, "no crash left a journal frame to replay");
}

/// Every unsynced write is lost: what the journal acknowledged comes back from it.
#[test]
fn drop_unsynced_keeps_every_acknowledged_record() {
    torture(BackendKind::Buffered, 8, |_, _| {
        Some(CrashMode::DropUnsynced)
    });
}

/// The same with `O_DIRECT` writes (io_uring), which rewrite a log's partial tail
/// block round after round, some rounds journaled and some synced file by file: a
/// replayed frame must not put back an older version of such a block.
/// (Regression: the kill -9 torture test read zeros where a batch had been.)
#[test]
fn direct_tail_block_rewrites_keep_every_acknowledged_record() {
    torture(BackendKind::IoUring, 8, |_, _| {
        Some(CrashMode::DropUnsynced)
    });
}

/// A random subset of unsynced writes survives, torn and reordered (a torn journal
/// tail among them): replay stops at the first damaged frame and loses nothing acked.
#[test]
fn torn_journal_tail_keeps_every_acknowledged_record() {
    torture(BackendKind::Buffered, 8, |_, round| {
        Some(CrashMode::Random {
            seed: round * 7919 + 3,
        })
    });
}

/// The power fails at the Nth operation, at spread points: with a journal this
/// small, many cuts land inside a checkpoint (file syncs, header rewrite).
#[test]
fn power_cut_anywhere_including_checkpoints_keeps_every_acknowledged_record() {
    torture(BackendKind::Buffered, 10, |fs, round| {
        fs.cut_power_at(200 + round * 331, CrashMode::Random { seed: round });
        None
    });
}

/// Appends one batch to each of `logs` at once (one round of several logs), at
/// least `rounds_min` times and until a round leaves the first log's file unsynced:
/// journaled. Returns the records.
fn journaled_rounds(fs: &MemFs, logs: &[&Log], batch: u64, rounds_min: u64) -> Vec<Vec<Owned>> {
    let mut records = vec![Vec::new(); logs.len()];
    for attempt in 0..200 + rounds_min {
        let pending: Vec<_> = logs
            .iter()
            .enumerate()
            .map(|(i, log)| {
                let batch = make_batch(batch * 1000 + attempt * 10 + i as u64, 2, 40);
                let pending = log.submit(&borrow(&batch)).unwrap();
                records[i].extend(batch);
                pending
            })
            .collect();
        for pending in pending {
            pending.wait().unwrap();
        }
        let segment = logs[0].segments().last().unwrap().base_position;
        let path = logs[0].dir().join(segment_file_name(segment, "log"));
        if attempt + 1 >= rounds_min && fs.is_synced(&path) == Some(false) {
            return records;
        }
    }
    panic!("no round of several logs was journaled");
}

/// Cuts the power (every unsynced write lost) and opens the next "process".
fn crash_and_reopen(fs: &Arc<MemFs>, storage: Storage) -> Storage {
    fs.crash(CrashMode::DropUnsynced);
    // Its files are stale after the crash; shutting down may report that.
    let _ = storage.shutdown();
    open(fs, JournalOptions::default())
}

fn contents(log: &Log) -> Vec<Owned> {
    read_all(log, 0).into_iter().map(|(_, r)| r).collect()
}

/// Opens log `i` and returns its records, asserting that recovery cut nothing (old
/// bytes replayed past the end of a new file would show as a cut tail).
fn recovered(storage: &Storage, i: usize) -> Vec<Owned> {
    let (log, report) = storage.open_log(log_dir(i), log_config()).unwrap();
    assert!(report.truncations.is_empty(), "log {i}: {report:?}");
    contents(&log)
}

/// Deletes log 0's directory (as a queue deletion does, through the plain file
/// system) and creates the log again at the same path with new records.
fn recreate(fs: &Arc<MemFs>, storage: &Storage, batch: u64) -> (Log, Vec<Vec<Owned>>) {
    let plain = fs.session();
    remove_dir_durably(plain.as_ref(), &log_dir(0)).unwrap();
    let log = open_log(storage, 0);
    let other = open_log(storage, 2);
    let records = journaled_rounds(fs, &[&log, &other], batch, 1);
    (log, records)
}

/// A log directory deleted and created again under the same path while its old
/// files have journal frames: after a power loss the new log holds exactly its
/// own acknowledged records, none of the old bytes.
#[test]
fn delete_and_recreate_same_path_before_the_crash() {
    let fs = MemFs::new();
    let storage = open(&fs, JournalOptions::default());
    let (a, b) = (open_log(&storage, 0), open_log(&storage, 1));
    // Longer than the new log will be: replayed old bytes would show past its end.
    let old = journaled_rounds(&fs, &[&a, &b], 1, 40);
    // Not closed first: a close may checkpoint, and this is about the creation.
    drop(a);
    let (new, records) = recreate(&fs, &storage, 2);
    drop(new);
    let storage = crash_and_reopen(&fs, storage);
    assert!(storage.journal_replay().unwrap().rounds > 0);
    assert_eq!(recovered(&storage, 0), records[0]);
    assert_eq!(contents(&open_log(&storage, 1)), old[1]);
    assert_eq!(contents(&open_log(&storage, 2)), records[1]);
}

/// A log directory deleted, then a power loss: the replay skips the files that no
/// longer exist; the log created again afterwards keeps only its own records
/// through a second power loss.
#[test]
fn delete_then_crash_then_recreate_same_path() {
    let fs = MemFs::new();
    let storage = open(&fs, JournalOptions::default());
    let (a, b) = (open_log(&storage, 0), open_log(&storage, 1));
    // Longer than the new log will be: replayed old bytes would show past its end.
    let old = journaled_rounds(&fs, &[&a, &b], 1, 40);
    // Not closed first: a close may checkpoint, and this is about frames left
    // for files that no longer exist.
    drop(a);
    remove_dir_durably(fs.session().as_ref(), &log_dir(0)).unwrap();
    let storage = crash_and_reopen(&fs, storage);
    let replay = storage.journal_replay().unwrap().clone();
    assert!(replay.skipped_writes > 0, "{replay:?}");
    assert!(!fs.exists(&log_dir(0)));
    assert_eq!(contents(&open_log(&storage, 1)), old[1]);
    let (new, records) = recreate(&fs, &storage, 2);
    drop(new);
    let storage = crash_and_reopen(&fs, storage);
    assert_eq!(recovered(&storage, 0), records[0]);
    assert_eq!(contents(&open_log(&storage, 2)), records[1]);
}

/// Frames of an older epoch stay in the file after a replay starts a new one; a
/// later crash replays none of them, even into a file since replaced at their path
/// without the journal knowing (no frame of the new epoch names it).
#[test]
fn frames_of_an_older_epoch_are_ignored() {
    let fs = MemFs::new();
    let storage = open(&fs, JournalOptions::default());
    let (a, b) = (open_log(&storage, 0), open_log(&storage, 1));
    journaled_rounds(&fs, &[&a, &b], 1, 40);
    let storage = crash_and_reopen(&fs, storage);
    assert!(storage.journal_replay().unwrap().rounds > 0);
    let a = open_log(&storage, 0);
    a.close().unwrap();
    drop(a);
    remove_dir_durably(fs.session().as_ref(), &log_dir(0)).unwrap();
    // Alone in its rounds: synced file by file, no frame.
    let a = open_log(&storage, 0);
    let fresh = make_batch(77, 3, 100);
    a.append(&borrow(&fresh)).unwrap();
    let storage = crash_and_reopen(&fs, storage);
    assert_eq!(storage.journal_replay().unwrap().rounds, 0);
    assert_eq!(recovered(&storage, 0), fresh);
}

/// Rounds that write tens of KiB to each log are synced file by file, not
/// journaled (the journal would write their bytes twice): after a crash that
/// drops every unsynced write nothing is replayed, and every acknowledged record
/// is in its log.
#[test]
fn bulk_rounds_are_synced_file_by_file() {
    const ROOMY: JournalOptions = JournalOptions {
        journal_bytes: 16 << 20,
        checkpoint_age_ms: 600_000,
        round_bytes_max: 1 << 20,
    };
    let fs = MemFs::new();
    let storage = open_with(&fs, ROOMY, BackendKind::Buffered);
    let config = LogConfig {
        segment_bytes_max: 64 << 20,
        ..log_config()
    };
    let logs: Vec<Log> = (0..LOGS)
        .map(|i| storage.open_log(log_dir(i), config).unwrap().0)
        .collect();
    let acked: Acked = Arc::new(Mutex::new(Ledger::new(LOGS)));
    std::thread::scope(|scope| {
        for (shard, log) in logs.iter().enumerate() {
            let acked = Arc::clone(&acked);
            scope.spawn(move || {
                for i in 0..100u64 {
                    let records = make_batch(shard as u64 * 10_000 + i, 1, 20 << 10);
                    let appended = log.append(&borrow(&records)).unwrap();
                    let mut acked = acked.lock().unwrap();
                    acked.record(shard, appended.base_position, records, "bulk");
                }
            });
        }
    });
    fs.crash(CrashMode::DropUnsynced);
    drop(logs);
    let _ = storage.shutdown();
    let storage = open_with(&fs, ROOMY, BackendKind::Buffered);
    assert_eq!(storage.journal_replay().expect("a journal").rounds, 0);
    let acked = acked.lock().unwrap();
    for shard in 0..LOGS {
        let log = storage.open_log(log_dir(shard), config).unwrap().0;
        assert_eq!(
            acked.verify(shard, &log, "bulk"),
            read_all(&log, 0).len(),
            "log {shard} holds exactly what was acknowledged"
        );
    }
    storage.shutdown().unwrap();
}
