//! The commit journal: small `sync` rounds of several logs are made durable by one
//! journal sync, their data files left unsynced; a power loss (every unsynced write
//! dropped, or a random torn subset kept, or a cut at the Nth operation, checkpoints
//! included) and a reopen return every acknowledged record of every log; a log
//! directory deleted and created again under the same path, before or after a
//! crash, never gets old bytes replayed into it; frames of an older epoch are ignored;
//! rounds go on while a checkpoint syncs, and both live epochs replay.

mod common;

use common::{borrow, make_batch, read_all, Ledger, Owned};
use shardlog_segment::format::segment_file_name;
use shardlog_segment::io::{
    create_dir_all_durably, is_segment_in, read_exact_at, remove_dir_durably, write_all_at,
    CrashMode, Fault, FaultAction, FaultyFs, FileOp, FileSystem, Gate, HoldAtGate, Interposed,
    IoOp, MemFs, OpenOptions,
};
use shardlog_segment::{
    BackendKind, Durability, JournalOptions, Log, LogConfig, Storage, StorageConfig,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

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

/// A checkpoint due by age runs on its own thread: while it is held in the sync of
/// the retired epoch's data files, rounds of several logs are still journaled and
/// acknowledged (before, the syncer ran the checkpoint and each round waited for
/// it; with no checkpoint thread, nothing is held and the test fails). A power loss before the
/// checkpoint writes its header leaves two live epochs, and the reopen replays
/// both: every acknowledged record of either is back.
#[test]
fn rounds_go_on_while_a_checkpoint_syncs_and_both_epochs_replay() {
    let fs = MemFs::new();
    let gate = Gate::new();
    // The checkpoint's syncs of the logs' segment files, not the syncer's (a round
    // of one log is synced file by file).
    let checkpoint_syncs = |path: &Path| {
        std::thread::current().name() == Some("shardlog-checkpoint")
            && (0..2).any(|i| is_segment_in(path, &format!("log-{i}")))
    };
    let hold = HoldAtGate::new(&gate, FileOp::Sync, checkpoint_syncs);
    create_dir_all_durably(fs.as_ref(), Path::new(DIR)).unwrap();
    let held = Arc::new(Interposed::new(fs.session() as Arc<dyn FileSystem>, hold));
    let options = JournalOptions {
        checkpoint_age_ms: 50,
        ..JournalOptions::default()
    };
    let storage = Storage::open_in_with_journal(
        held as Arc<dyn FileSystem>,
        config(BackendKind::Buffered),
        Path::new(DIR),
        Some(options),
    )
    .unwrap();
    let (a, b) = (open_log(&storage, 0), open_log(&storage, 1));
    let mut expected = journaled_rounds(&fs, &[&a, &b], 1, 3);
    std::thread::scope(|scope| {
        // Dropped (the gate opens) if an assertion fails, so the rounds' thread
        // can finish and the test fails instead of hanging.
        let opener = gate.close();
        // The epoch's oldest frame is now older than the checkpoint age: the next
        // round starts a checkpoint, whose data file syncs the gate holds.
        std::thread::sleep(Duration::from_millis(80));
        let (sent, during) = mpsc::channel();
        let (fs, a, b) = (&fs, &a, &b);
        scope.spawn(move || {
            let _ = sent.send(journaled_rounds(fs, &[a, b], 2, 5));
        });
        let during = during
            .recv_timeout(Duration::from_secs(20))
            .expect("rounds were acknowledged while the checkpoint synced");
        // Its thread may still be on its way to the first sync.
        for _ in 0..1000 {
            if gate.held() > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(gate.held() > 0, "no checkpoint thread synced a data file");
        for (log, records) in during.into_iter().enumerate() {
            expected[log].extend(records);
        }
        fs.crash(CrashMode::DropUnsynced);
        drop(opener);
    });
    drop((a, b));
    let _ = storage.shutdown();
    let storage = open(&fs, options);
    assert!(storage.journal_replay().unwrap().rounds > 0);
    // Log 0's file holds bytes of the last round that no sync covered (see
    // `journaled_rounds`), a round of the newer epoch: only its frame has them.
    for (log, records) in expected.iter().enumerate() {
        assert_eq!(&recovered(&storage, log), records, "log {log}");
    }
    storage.shutdown().unwrap();
}

/// A journal left by a version 1 process (one epoch, its frames from byte 8192,
/// `segment/FORMAT.md`) is replayed by this version, which then writes its own.
#[test]
fn a_version_1_journal_is_replayed() {
    let fs = MemFs::new();
    create_dir_all_durably(fs.as_ref(), Path::new(DIR)).unwrap();
    let plain = fs.session();
    let target = Path::new(DIR).join("kept");
    let file = plain.open(&target, OpenOptions::CREATE).unwrap();
    write_all_at(file.as_ref(), &[0u8; 64], 0).unwrap();
    file.sync_data().unwrap();
    let epoch = 5u64;
    let mut journal = vec![0u8; 16 << 10];
    let slot = (epoch % 2) as usize * 4096;
    journal[slot..slot + 8].copy_from_slice(b"SLJOURN1");
    journal[slot + 8..slot + 12].copy_from_slice(&1u32.to_le_bytes());
    journal[slot + 16..slot + 24].copy_from_slice(&epoch.to_le_bytes());
    let crc = crc32fast::hash(&journal[slot..slot + 24]);
    journal[slot + 24..slot + 28].copy_from_slice(&crc.to_le_bytes());
    let (path, data) = (b"kept", b"replayed");
    let mut frame = vec![0u8; 32];
    frame.extend_from_slice(&16u64.to_le_bytes());
    frame.extend_from_slice(&(data.len() as u32).to_le_bytes());
    frame.extend_from_slice(&(path.len() as u16).to_le_bytes());
    frame.extend_from_slice(&[0; 2]);
    frame.extend_from_slice(path);
    frame.extend_from_slice(data);
    frame.resize(frame.len().next_multiple_of(8), 0);
    let len = frame.len() as u32;
    frame[0..4].copy_from_slice(b"JRND");
    frame[8..16].copy_from_slice(&epoch.to_le_bytes());
    frame[16..24].copy_from_slice(&0u64.to_le_bytes());
    frame[24..28].copy_from_slice(&len.to_le_bytes());
    frame[28..32].copy_from_slice(&1u32.to_le_bytes());
    let crc = crc32fast::hash(&frame[8..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    journal[8192..8192 + frame.len()].copy_from_slice(&frame);
    let file = plain
        .open(&Path::new(DIR).join("JOURNAL"), OpenOptions::CREATE)
        .unwrap();
    write_all_at(file.as_ref(), &journal, 0).unwrap();
    file.sync_data().unwrap();
    let storage = open(&fs, JournalOptions::default());
    let replay = storage.journal_replay().unwrap().clone();
    assert_eq!((replay.rounds, replay.writes), (1, 1), "{replay:?}");
    let mut bytes = [0u8; 64];
    let kept = fs.session().open(&target, OpenOptions::READ).unwrap();
    read_exact_at(kept.as_ref(), &mut bytes, 0).unwrap();
    assert_eq!(&bytes[16..24], data);
    assert!(bytes[..16].iter().chain(&bytes[24..]).all(|&b| b == 0));
    // The next open finds this version's header and nothing left to replay.
    storage.shutdown().unwrap();
    let storage = open(&fs, JournalOptions::default());
    assert_eq!(storage.journal_replay().unwrap().rounds, 0);
    storage.shutdown().unwrap();
}

/// The epochs in the journal's two header slots (`None`: never written).
fn header_epochs(fs: &Arc<MemFs>) -> [Option<u64>; 2] {
    let file = fs
        .session()
        .open(&Path::new(DIR).join("JOURNAL"), OpenOptions::READ)
        .unwrap();
    [0u64, 1].map(|slot| {
        let mut bytes = [0u8; 24];
        read_exact_at(file.as_ref(), &mut bytes, slot * 4096).unwrap();
        (&bytes[0..8] == b"SLJOURN1").then(|| u64::from_le_bytes(bytes[16..24].try_into().unwrap()))
    })
}

/// An open writes its header into the slot the replayed header is not in, so that
/// a write torn by a crash there falls back to the header just replayed, never to
/// an older one (whose frames files may have outgrown since).
#[test]
fn the_header_written_at_open_keeps_the_replayed_one() {
    let fs = MemFs::new();
    let storage = open(&fs, JournalOptions::default());
    let (a, b) = (open_log(&storage, 0), open_log(&storage, 1));
    journaled_rounds(&fs, &[&a, &b], 1, 3);
    drop((a, b));
    let before = header_epochs(&fs);
    let replayed = before.iter().flatten().max().copied().unwrap();
    let storage = crash_and_reopen(&fs, storage);
    assert!(storage.journal_replay().unwrap().rounds > 0);
    let after = header_epochs(&fs);
    let newest = after.iter().flatten().max().copied().unwrap();
    assert!(newest > replayed + 1, "{before:?} -> {after:?}");
    assert_eq!(
        after[(1 - newest % 2) as usize],
        Some(replayed),
        "{before:?} -> {after:?}"
    );
    storage.shutdown().unwrap();
}

/// A journaled file whose next sync fails outside a checkpoint (here a round of that
/// log alone, synced file by file), as when another descriptor user's `fdatasync`
/// takes the one write-back error Linux reports for the journaled bytes: the
/// checkpoint's own sync then succeeds, and must not retire the frames. After a power
/// cut every acknowledged record of both logs is back; the failed append is not.
#[test]
fn a_failed_sync_outside_the_checkpoint_keeps_the_frames() {
    for backend in [BackendKind::Buffered, BackendKind::IoUring] {
        failed_sync_outside_the_checkpoint(backend);
    }
}

fn failed_sync_outside_the_checkpoint(backend: BackendKind) {
    let fs = MemFs::new();
    create_dir_all_durably(fs.as_ref(), Path::new(DIR)).unwrap();
    let faulty = FaultyFs::new(fs.session() as Arc<dyn FileSystem>);
    let storage = Storage::open_in_with_journal(
        Arc::clone(&faulty) as Arc<dyn FileSystem>,
        config(backend),
        Path::new(DIR),
        Some(JournalOptions {
            checkpoint_age_ms: 600_000,
            ..JournalOptions::default()
        }),
    )
    .unwrap();
    let (a, b) = (open_log(&storage, 0), open_log(&storage, 1));
    let records = journaled_rounds(&fs, &[&a, &b], 1, 3);
    let segment = a.segments().last().unwrap().base_position;
    let path = log_dir(0).join(segment_file_name(segment, "log"));
    assert_eq!(fs.is_synced(&path), Some(false), "journaled, not synced");
    faulty.inject(Fault {
        op: IoOp::Sync,
        path_contains: Some(path.to_string_lossy().into_owned()),
        skip: 0,
        times: 1,
        action: FaultAction::Error(libc::EIO),
    });
    let lost = make_batch(99, 1, 40);
    assert!(a.append(&borrow(&lost)).is_err(), "its sync failed");
    assert_eq!(faulty.fired(), 1);
    let closed = storage.shutdown();
    assert!(
        closed.is_err(),
        "the checkpoint keeps the frames: {closed:?}"
    );
    drop((a, b));
    let storage = crash_and_reopen(&fs, storage);
    assert!(storage.journal_replay().unwrap().rounds > 0);
    assert_eq!(recovered(&storage, 0), records[0]);
    assert_eq!(recovered(&storage, 1), records[1]);
    storage.shutdown().unwrap();
}

/// Holds the writes of one log's segment file while `writes` is closed, and makes
/// the first journal sync after `armed` is set wait at `syncs` and then fail.
#[derive(Debug)]
struct HoldThenFail {
    writes: Arc<Gate>,
    held_dir: &'static str,
    syncs: Arc<Gate>,
    armed: std::sync::atomic::AtomicBool,
}

impl shardlog_segment::io::Interpose for HoldThenFail {
    fn hooks_files(&self, _options: OpenOptions) -> bool {
        true
    }

    fn before_file(&self, op: FileOp, path: &Path) -> std::io::Result<()> {
        if op == FileOp::Write && is_segment_in(path, self.held_dir) {
            self.writes.pass();
        }
        let journal = path.file_name().is_some_and(|name| name == "JOURNAL");
        if op == FileOp::Sync && journal && self.armed.swap(false, Ordering::SeqCst) {
            self.syncs.pass();
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }
}

/// Two syncers sync journal frames at once, and a replay stops at the first frame
/// it cannot read: a frame synced while the sync of the frame before it fails must
/// not count. Round X (five logs, too large for the write thread to sync itself)
/// is journaled and its sync held; round Y (two other logs) is journaled after it
/// and synced by the other syncer meanwhile, but not acknowledged; then X's sync
/// fails, and Y's appends fail with it (acknowledged, a crash would lose them).
#[test]
fn a_frame_synced_beside_an_earlier_failing_one_is_not_acknowledged() {
    let fs = MemFs::new();
    create_dir_all_durably(fs.as_ref(), Path::new(DIR)).unwrap();
    let (writes, syncs) = (Gate::new(), Gate::new());
    let hooks = HoldThenFail {
        writes: Arc::clone(&writes),
        held_dir: "log-7",
        syncs: Arc::clone(&syncs),
        armed: std::sync::atomic::AtomicBool::new(false),
    };
    let hooked = Arc::new(Interposed::new(fs.session() as Arc<dyn FileSystem>, hooks));
    let storage = Storage::open_in_with_journal(
        Arc::clone(&hooked) as Arc<dyn FileSystem>,
        config(BackendKind::Buffered),
        Path::new(DIR),
        Some(JournalOptions {
            checkpoint_age_ms: 600_000,
            ..JournalOptions::default()
        }),
    )
    .unwrap();
    // Default segments: an index sync due (every 4 KiB with `log_config`'s small
    // segments) keeps a round out of the journal.
    let open_plain = |i| {
        storage
            .open_log(log_dir(i), LogConfig::default())
            .unwrap()
            .0
    };
    let logs: Vec<Log> = (0..8).map(open_plain).collect();
    for (i, log) in logs.iter().enumerate() {
        log.append(&borrow(&make_batch(i as u64, 1, 10))).unwrap();
    }
    let (round_x, round_y, blocker) = (&logs[0..5], &logs[5..7], &logs[7]);
    std::thread::scope(|scope| {
        // Dropped (the gates open) if an assertion fails.
        let write_opener = writes.close();
        let sync_opener = syncs.close();
        // The write thread is held in the blocker's write while X's five appends
        // are staged, so that it takes them in one round.
        let blocked = scope.spawn(|| blocker.append(&borrow(&make_batch(70, 1, 10))));
        while writes.held() == 0 {
            std::thread::yield_now();
        }
        // 5 x 14 KiB: journaled (at most 16 KiB a log), and above the 64 KiB a round
        // may hold for the write thread to sync it itself.
        let x: Vec<_> = round_x
            .iter()
            .enumerate()
            .map(|(i, log)| log.submit(&borrow(&make_batch(100 + i as u64, 1, 14 << 10))))
            .collect();
        hooked.hooks().armed.store(true, Ordering::SeqCst);
        drop(write_opener);
        // The blocker's round may be synced with X's (the write thread hands it
        // over when logs wait to be written): its append is awaited at the end.
        while syncs.held() == 0 {
            std::thread::yield_now();
        }
        // Y's two appends are staged while the write thread is held again, so
        // that it takes them in one round: journaled.
        let write_opener = writes.close();
        let held_writes = writes.held();
        let blocked_again = scope.spawn(|| blocker.append(&borrow(&make_batch(71, 1, 10))));
        while writes.held() == held_writes {
            std::thread::yield_now();
        }
        let y: Vec<_> = round_y
            .iter()
            .enumerate()
            .map(|(i, log)| log.submit(&borrow(&make_batch(200 + i as u64, 2, 40))))
            .collect();
        drop(write_opener);
        // Y is written and synced by the other syncer; it waits for X's turn.
        std::thread::sleep(Duration::from_millis(200));
        for log in round_y {
            assert_eq!(log.acknowledged_end(), 1, "Y acknowledged before X");
        }
        drop(sync_opener);
        for pending in x {
            assert!(pending.unwrap().wait().is_err(), "X's journal sync failed");
        }
        for pending in y {
            assert!(
                pending.unwrap().wait().is_err(),
                "Y's frame follows X's failed one"
            );
        }
        // Acknowledged alone, or failed with X: either is right.
        let _ = blocked.join().unwrap();
        let _ = blocked_again.join().unwrap();
    });
    drop(logs);
    let _ = storage.shutdown();
}
