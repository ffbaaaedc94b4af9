//! What a file handle remembers of its failed syncs.
//!
//! Linux reports a write-back error once per open file description: the first
//! `fdatasync` (or `sync_file_range` wait, or io_uring fsync) through the descriptor
//! after the error gets it, and every later one succeeds, though the lost bytes never
//! reached the device. The commit journal syncs a data file at a checkpoint and then
//! drops the frames that held the file's journaled bytes; if another thread's sync of
//! the same descriptor took the error first, the checkpoint's own sync succeeds and the
//! frames would go while the bytes are lost. So every sync of a handle records a
//! failure here, and the checkpoint asks the record, after its own sync, whether any
//! sync of the handle has failed, waiting for syncs still running to report.
#![forbid(unsafe_code)]

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard};

/// The failed syncs of one handle (see the module documentation).
#[derive(Debug, Default)]
pub struct SyncRecord {
    /// Held shared by each sync while it runs and reports; taken exclusively by
    /// [`SyncRecord::failed`] to wait for the syncs running.
    running: RwLock<()>,
    failed: AtomicBool,
}

/// A sync of a handle in progress: [`SyncInProgress::finish`] records its outcome.
#[derive(Debug)]
#[must_use = "a sync's outcome must be recorded"]
pub struct SyncInProgress<'r> {
    record: &'r SyncRecord,
    _running: RwLockReadGuard<'r, ()>,
}

impl SyncRecord {
    /// Marks a sync of the handle as running, until its outcome is recorded. Call it
    /// before the system call: a sync running when [`SyncRecord::failed`] is asked is
    /// waited for.
    pub fn start(&self) -> SyncInProgress<'_> {
        SyncInProgress {
            record: self,
            _running: self.running.read().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Runs `sync` as a sync of the handle and records its outcome.
    pub fn sync(&self, sync: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let running = self.start();
        let result = sync();
        running.finish(&result);
        result
    }

    /// Records a failed sync of the handle that no [`SyncRecord::start`] covered: a
    /// fault-injecting layer's, which fails before any system call.
    pub fn note_failure(&self) {
        self.failed.store(true, Ordering::Release);
    }

    /// Whether any sync of the handle has failed, those running now included (this
    /// waits for them). Once true, always true: the handle's file may miss bytes
    /// that a write through it was told were written.
    pub fn failed(&self) -> bool {
        drop(self.running.write().unwrap_or_else(|p| p.into_inner()));
        self.failed.load(Ordering::Acquire)
    }
}

impl SyncInProgress<'_> {
    /// Records the outcome of the sync; ends it.
    pub fn finish(self, result: &io::Result<()>) {
        if result.is_err() {
            self.record.note_failure();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_failure_is_remembered() {
        let record = SyncRecord::default();
        assert!(record.sync(|| Ok(())).is_ok());
        assert!(!record.failed());
        assert!(record.sync(|| Err(io::Error::other("lost"))).is_err());
        assert!(record.sync(|| Ok(())).is_ok());
        assert!(record.failed(), "a later success does not clear it");
    }

    /// `failed` asked while a failing sync runs waits for the sync to report.
    #[test]
    fn failed_waits_for_a_sync_running() {
        let record = Arc::new(SyncRecord::default());
        let (started, wait_started) = mpsc::channel();
        let (release, wait_release) = mpsc::channel::<()>();
        let syncing = Arc::clone(&record);
        let thread = std::thread::spawn(move || {
            syncing.sync(|| {
                started.send(()).unwrap();
                wait_release.recv().unwrap();
                Err(io::Error::other("lost"))
            })
        });
        wait_started.recv().unwrap();
        let asking = Arc::clone(&record);
        let answer = std::thread::spawn(move || asking.failed());
        // The question cannot be answered while the sync runs.
        std::thread::sleep(Duration::from_millis(50));
        assert!(!answer.is_finished());
        release.send(()).unwrap();
        assert!(thread.join().unwrap().is_err());
        assert!(answer.join().unwrap(), "the running sync's failure counts");
    }

    #[test]
    fn a_noted_failure_counts() {
        let record = SyncRecord::default();
        record.note_failure();
        assert!(record.failed());
    }
}
