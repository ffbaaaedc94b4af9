//! A sync round that covers many files takes one volume sync (`syncfs`) instead of
//! one sync per file: its appends are acknowledged only after that sync made them
//! durable, and its failure fails every append of the round.

mod common;

use common::hook_fs::{hook_fs, Hook, Hooked};
use common::{borrow, make_batch, read_all};
use shardlog_segment::format::segment_file_name;
use shardlog_segment::io::{
    CrashMode, Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs, OpenOptions,
};
use shardlog_segment::{BackendKind, Durability, Log, LogConfig, Storage, StorageConfig};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Logs in the big round: above the committer's threshold of 64 files.
const LOGS: usize = 100;
const WAIT: Duration = Duration::from_secs(30);

/// Once armed, the next write to a file whose path contains `gate` says that it
/// started and blocks until released: the committer's write thread then holds the
/// round back while appends queue up.
#[derive(Default)]
struct Gate {
    /// While set: (where to say a write arrived, what releases it).
    armed: Mutex<Option<(SyncSender<()>, Receiver<()>)>>,
}

impl Gate {
    fn hook(self: &Arc<Gate>) -> Hook {
        let gate = Arc::clone(self);
        Arc::new(move |op, path| {
            if op == Hooked::Write && path.to_string_lossy().contains("gate") {
                let armed = gate.armed.lock().unwrap().take();
                if let Some((arrived, release)) = armed {
                    arrived.send(()).unwrap();
                    release
                        .recv_timeout(WAIT)
                        .expect("the test releases the gate");
                }
            }
            Ok(())
        })
    }
}

struct Setup {
    mem: Arc<MemFs>,
    faulty: Arc<FaultyFs>,
    gate: Arc<Gate>,
    storage: Storage,
    gated: Log,
    logs: Vec<Log>,
}

fn setup(backend: BackendKind) -> Setup {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.clone());
    let gate = Arc::new(Gate::default());
    let fs = hook_fs(faulty.clone(), gate.hook());
    fs.create_dir_all(Path::new("/data")).unwrap();
    let config = StorageConfig {
        backend,
        durability: Durability::Sync,
    };
    // Without the commit journal: these rounds are to be made durable by syncfs.
    let storage = Storage::open_in_with_journal(fs, config, Path::new("/data"), None).unwrap();
    let open = |name: &str| storage.open_log(name, LogConfig::default()).unwrap().0;
    let gated = open("/data/gate");
    let logs: Vec<Log> = (0..LOGS).map(|i| open(&format!("/data/s{i}"))).collect();
    // First appends create each log's segment, one log at a time.
    for log in logs.iter().chain([&gated]) {
        log.append(&borrow(&make_batch(0, 2, 50))).unwrap();
    }
    Setup {
        mem,
        faulty,
        gate,
        storage,
        gated,
        logs,
    }
}

/// Holds the write thread in a round of the gated log, queues one append to every
/// other log meanwhile, then releases it: the next round writes all of them.
/// Returns each append's outcome, and the syncs (of files, directories or the whole
/// MemFs) made from the release on.
fn big_round(setup: &Setup) -> (Vec<bool>, u64) {
    let (arrived_tx, arrived) = sync_channel(1);
    let (release, release_rx) = sync_channel(1);
    *setup.gate.armed.lock().unwrap() = Some((arrived_tx, release_rx));
    let gated = setup.gated.submit(&borrow(&make_batch(1, 2, 50))).unwrap();
    arrived
        .recv_timeout(WAIT)
        .expect("the write thread reached the gate");
    let pending: Vec<_> = setup
        .logs
        .iter()
        .map(|log| log.submit(&borrow(&make_batch(1, 3, 50))).unwrap())
        .collect();
    let syncs_before = setup.mem.sync_count();
    release.send(()).unwrap();
    // Its round may be synced alone or with the big one (when the syncer takes both).
    let _ = gated.wait();
    let outcomes: Vec<bool> = pending.into_iter().map(|p| p.wait().is_ok()).collect();
    (outcomes, setup.mem.sync_count() - syncs_before)
}

/// Cuts the power after [`big_round`] and reopens: every log holds the records of
/// both its rounds (5), with no cut reported.
fn power_loss_keeps_both_rounds(setup: Setup, backend: BackendKind) {
    setup.mem.crash(CrashMode::DropUnsynced);
    let _ = setup.storage.shutdown();
    let storage = Storage::open(
        setup.mem.clone() as Arc<dyn FileSystem>,
        StorageConfig::default(),
    )
    .unwrap();
    for i in 0..LOGS {
        let (log, report) = storage
            .open_log(format!("/data/s{i}"), LogConfig::default())
            .unwrap();
        assert!(report.truncations.is_empty(), "{backend:?}: {report:?}");
        assert_eq!(read_all(&log, 0).len(), 5, "{backend:?}: log s{i}");
    }
}

/// A round of 100 logs is made durable by one volume sync, not 100 file syncs, and
/// every append it acknowledged survives a power loss right after.
#[test]
fn many_files_round_is_one_volume_sync_and_durable() {
    for backend in [BackendKind::Buffered, BackendKind::IoUring] {
        let setup = setup(backend);
        let (outcomes, syncs) = big_round(&setup);
        assert!(outcomes.iter().all(|ok| *ok), "{backend:?}: {outcomes:?}");
        assert!(
            syncs < 10,
            "{backend:?}: {syncs} syncs for a round of {LOGS} logs"
        );
        power_loss_keeps_both_rounds(setup, backend);
    }
}

/// A failed volume sync fails every append of its round (no log acknowledges what
/// it may have lost), and each of those logs refuses appends from then on.
#[test]
fn failed_volume_sync_fails_every_append_of_the_round() {
    for backend in [BackendKind::Buffered, BackendKind::IoUring] {
        let setup = setup(backend);
        setup.faulty.inject(Fault {
            op: IoOp::SyncVolume,
            path_contains: None,
            skip: 0,
            times: 1,
            action: FaultAction::Error(libc::EIO),
        });
        let (outcomes, _) = big_round(&setup);
        assert_eq!(setup.faulty.fired(), 1, "{backend:?}");
        assert!(outcomes.iter().all(|ok| !ok), "{backend:?}: {outcomes:?}");
        for log in &setup.logs {
            assert!(log.append(&borrow(&make_batch(2, 1, 50))).is_err());
        }
        let _ = setup.storage.shutdown();
    }
}

/// In a round of many files each `O_DIRECT` (io_uring) log's file is reserved ahead
/// of its write, so that its next small writes land in reserved space instead of
/// extending the file (buffered logs are not reserved: their first, small round
/// filled them ahead, and the many-file round leaves their length as it was); a
/// power loss right after keeps every acknowledged record and reports no cut for
/// the zeros.
#[test]
fn many_files_round_reserves_direct_files_ahead() {
    for backend in [BackendKind::Buffered, BackendKind::IoUring] {
        let setup = setup(backend);
        let file_len = |i: usize| {
            let path = Path::new(&format!("/data/s{i}")).join(segment_file_name(0, "log"));
            let file = setup.mem.open(&path, OpenOptions::READ).unwrap();
            file.len().unwrap()
        };
        let before: Vec<u64> = (0..LOGS).map(file_len).collect();
        let (outcomes, _) = big_round(&setup);
        assert!(outcomes.iter().all(|ok| *ok), "{backend:?}: {outcomes:?}");
        for (i, log) in setup.logs.iter().enumerate() {
            let written = log.segments().last().unwrap().bytes;
            let file_len = file_len(i);
            if backend == BackendKind::IoUring {
                assert!(
                    file_len >= written + (256 << 10),
                    "log s{i}: file of {file_len} bytes for {written} written"
                );
            } else {
                assert!(file_len > written, "buffered log s{i} filled ahead");
                assert_eq!(file_len, before[i], "buffered log s{i} is not reserved");
            }
        }
        power_loss_keeps_both_rounds(setup, backend);
    }
}
