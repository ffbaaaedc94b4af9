//! Two commit rounds of one log in flight at once (`sync` policy, io_uring's aligned
//! writes): the later round is written while the earlier one still is, the block
//! they share is written in order, and a failure of the earlier round fails the later.

mod common;

use common::hook_fs::{Hook, HookFs, Hooked};
use common::{borrow, make_batch, read_all, Owned};
use shardlog_segment::io::{FileSystem, MemFs};
use shardlog_segment::{BackendKind, Durability, Error, LogConfig, Storage, StorageConfig};
use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long the held write waits for the next round's write before giving up.
const OVERLAP_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Default)]
struct GateState {
    armed: bool,
    holding: bool,
    /// `.log` writes that arrived while one was held.
    writes_while_held: u32,
}

/// Holds the first `.log` write after arming until another `.log` write arrives
/// (the next round's), then lets it go on, or fails it (`fail_held`).
#[derive(Debug, Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
    fail_held: bool,
}

impl Gate {
    fn hook(self: &Arc<Gate>) -> Hook {
        let gate = Arc::clone(self);
        Arc::new(move |op, path: &Path| {
            let is_log = path.extension().is_some_and(|e| e == "log");
            if op != Hooked::Write || !is_log {
                return Ok(());
            }
            gate.on_log_write()
        })
    }

    fn on_log_write(&self) -> io::Result<()> {
        let mut state = self.state.lock().unwrap();
        if state.holding {
            state.writes_while_held += 1;
            self.changed.notify_all();
            return Ok(());
        }
        if !state.armed {
            return Ok(());
        }
        state.armed = false;
        state.holding = true;
        self.changed.notify_all();
        let (mut state, _) = self
            .changed
            .wait_timeout_while(state, OVERLAP_WAIT, |s| s.writes_while_held == 0)
            .unwrap();
        state.holding = false;
        if self.fail_held {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }

    fn wait_until_holding(&self) {
        let state = self.state.lock().unwrap();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, OVERLAP_WAIT, |s| !s.holding)
            .unwrap();
        assert!(state.holding, "the armed write never came");
    }
}

/// A storage with the io_uring backend over `mem` through `gate`; `None` where
/// io_uring cannot start.
fn open(mem: &Arc<MemFs>, gate: &Arc<Gate>) -> Option<Storage> {
    let fs: Arc<dyn FileSystem> = Arc::new(HookFs {
        inner: mem.clone() as Arc<dyn FileSystem>,
        hook: gate.hook(),
    });
    let config = StorageConfig {
        backend: BackendKind::IoUring,
        durability: Durability::Sync,
    };
    match Storage::open(fs, config) {
        Ok(storage) => Some(storage),
        Err(error) => {
            eprintln!("io_uring unavailable here, nothing to test: {error}");
            None
        }
    }
}

/// Appends a first batch (which creates the segment), then holds the write of a
/// second batch's round and submits a third: returns the storage, the log, the
/// batches, and the pending second and third appends.
struct Overlap {
    storage: Storage,
    log: shardlog_segment::Log,
    batches: Vec<Vec<Owned>>,
}

fn overlap(mem: &Arc<MemFs>, gate: &Arc<Gate>) -> Option<(Overlap, [Result<u64, Error>; 2])> {
    let storage = open(mem, gate)?;
    let (log, _) = storage
        .open_log(Path::new("/l"), LogConfig::default())
        .unwrap();
    // Sizes that leave every round's end inside a block, so that each round
    // carries a partial block into the next, and spans more than one block.
    let batches: Vec<Vec<Owned>> = (0..3).map(|b| make_batch(b, 3, 3001)).collect();
    log.append(&borrow(&batches[0])).unwrap();
    gate.state.lock().unwrap().armed = true;
    let second = log.submit(&borrow(&batches[1])).unwrap();
    gate.wait_until_holding();
    let third = log.submit(&borrow(&batches[2])).unwrap();
    let results = [second, third].map(|pending| pending.wait().map(|a| a.base_position));
    let held_overlapped = gate.state.lock().unwrap().writes_while_held > 0;
    assert!(
        held_overlapped,
        "the third batch's round was not written while the second's write was held"
    );
    Some((
        Overlap {
            storage,
            log,
            batches,
        },
        results,
    ))
}

/// The later round's write goes out while the earlier round's is held; both are
/// acknowledged in order, and the log reads back whole, also after a reopen (the
/// shared block holds both rounds' bytes).
#[test]
fn a_later_round_is_written_while_the_earlier_one_is() {
    let mem = MemFs::new();
    let gate = Arc::new(Gate::default());
    let Some((overlap, [second, third])) = self::overlap(&mem, &gate) else {
        return;
    };
    assert_eq!(second.unwrap(), 3);
    assert_eq!(third.unwrap(), 6);
    let expected: Vec<Owned> = overlap.batches.concat();
    let read = |log: &shardlog_segment::Log| -> Vec<Owned> {
        read_all(log, 0).into_iter().map(|(_, r)| r).collect()
    };
    assert_eq!(read(&overlap.log), expected);
    overlap.storage.shutdown().unwrap();
    let storage = open(&mem, &gate).expect("io_uring started before");
    let (log, _) = storage
        .open_log(Path::new("/l"), LogConfig::default())
        .unwrap();
    assert_eq!(read(&log), expected, "after reopening");
    storage.shutdown().unwrap();
}

/// The earlier round's write fails after the later round's was submitted: neither
/// is acknowledged, the log stops, and a reopen finds the first batch only.
#[test]
fn a_failed_earlier_round_fails_the_later_one() {
    let mem = MemFs::new();
    let gate = Arc::new(Gate {
        fail_held: true,
        ..Gate::default()
    });
    let Some((overlap, [second, third])) = self::overlap(&mem, &gate) else {
        return;
    };
    assert!(matches!(second, Err(Error::LogFailed { .. })), "{second:?}");
    assert!(matches!(third, Err(Error::LogFailed { .. })), "{third:?}");
    assert_eq!(overlap.log.end_position(), 3);
    let _ = overlap.storage.shutdown();
    let storage = open(&mem, &gate).expect("io_uring started before");
    let (log, _) = storage
        .open_log(Path::new("/l"), LogConfig::default())
        .unwrap();
    let read: Vec<Owned> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, overlap.batches[0]);
    storage.shutdown().unwrap();
}
