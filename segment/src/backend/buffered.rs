//! `pwrite` + `fdatasync` through the page cache.

use super::{BackendKind, WriteBackend, WriteOp};
use crate::io::{write_all_at, FileHandle};
use std::io;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Threads that sync one round's files at once, the caller's included.
const SYNC_THREADS_MAX: usize = 16;

/// The buffered backend: each op is written with `pwrite` (continuing after short
/// writes) and each file synced with `fdatasync`.
#[derive(Debug, Default)]
pub struct Buffered {
    /// Threads that sync some of a round's files beside the caller, started when a
    /// round first needs them and kept: a round of ten files used to start nine
    /// threads, and under `sync` a busy server makes thousands of rounds a second
    /// (thread creation was 12 % of its CPU with ten queues subscribed to a topic).
    helpers: Vec<SyncHelper>,
}

/// Some of one round's files, with where their results go.
struct SyncJob {
    files: Vec<(usize, Arc<dyn FileHandle>)>,
    done: Sender<Vec<(usize, io::Result<()>)>>,
}

/// A kept thread that syncs the files it is handed.
#[derive(Debug)]
struct SyncHelper {
    jobs: Sender<SyncJob>,
    thread: JoinHandle<()>,
}

impl SyncHelper {
    fn start(index: usize) -> io::Result<SyncHelper> {
        let (jobs, received) = channel::<SyncJob>();
        let thread = std::thread::Builder::new()
            .name(format!("shardlog-sync-{index}"))
            .spawn(move || serve_syncs(received))?;
        Ok(SyncHelper { jobs, thread })
    }
}

impl Drop for Buffered {
    fn drop(&mut self) {
        for SyncHelper { jobs, thread } in self.helpers.drain(..) {
            // Closing the channel ends the thread's loop.
            drop(jobs);
            let _ = thread.join();
        }
    }
}

/// A helper's loop: syncs each job's files until the backend goes away.
fn serve_syncs(jobs: Receiver<SyncJob>) {
    while let Ok(job) = jobs.recv() {
        let results = sync_each(&job.files);
        // The caller waits for every job it handed out; if it is gone, so is the round.
        let _ = job.done.send(results);
    }
}

fn sync_each(files: &[(usize, Arc<dyn FileHandle>)]) -> Vec<(usize, io::Result<()>)> {
    files
        .iter()
        .map(|(index, file)| (*index, file.sync_data()))
        .collect()
}

impl Buffered {
    /// A buffered backend.
    pub fn new() -> Self {
        Buffered::default()
    }

    /// Starts helpers until there are `wanted`, or fewer if the system refuses
    /// threads: the caller then syncs more of the files itself, which is slower
    /// but as durable.
    fn ensure_helpers(&mut self, wanted: usize) {
        while self.helpers.len() < wanted {
            match SyncHelper::start(self.helpers.len()) {
                Ok(helper) => self.helpers.push(helper),
                Err(_) => return,
            }
        }
    }
}

impl WriteBackend for Buffered {
    fn kind(&self) -> BackendKind {
        BackendKind::Buffered
    }

    fn alignment(&self) -> usize {
        1
    }

    fn write_all(&mut self, ops: &[WriteOp<'_>]) -> Vec<io::Result<()>> {
        ops.iter()
            .map(|op| write_all_at(op.file, op.data, op.offset))
            .collect()
    }

    fn sync_all(&mut self, files: &[Arc<dyn FileHandle>]) -> Vec<io::Result<()>> {
        if files.len() <= 1 {
            return files.iter().map(|file| file.sync_data()).collect();
        }
        // fdatasync blocks its thread for the whole device flush; syncing the files of
        // several shards from parallel threads lets the device see them together. The
        // threads are bounded: a round of a thousand shards' files must not start a
        // thousand threads. Files are dealt out round-robin; the caller keeps share 0.
        self.ensure_helpers(files.len().min(SYNC_THREADS_MAX) - 1);
        let threads = files.len().min(self.helpers.len() + 1);
        let mut shares: Vec<Vec<(usize, Arc<dyn FileHandle>)>> = vec![Vec::new(); threads];
        for (index, file) in files.iter().enumerate() {
            shares[index % threads].push((index, Arc::clone(file)));
        }
        let (done, finished) = channel();
        let mut own = std::mem::take(&mut shares[0]);
        let mut handed = 0;
        for (helper, share) in self.helpers.iter().zip(shares.into_iter().skip(1)) {
            let job = SyncJob {
                files: share,
                done: done.clone(),
            };
            match helper.jobs.send(job) {
                Ok(()) => handed += 1,
                // A helper that died (a panicking handle): its files are synced here.
                Err(refused) => own.extend(refused.0.files),
            }
        }
        drop(done);
        let mut results: Vec<Option<io::Result<()>>> = files.iter().map(|_| None).collect();
        let mut record = |outcome: Vec<(usize, io::Result<()>)>| {
            for (index, result) in outcome {
                results[index] = Some(result);
            }
        };
        record(sync_each(&own));
        // A helper that panicked mid-job drops its sender: its files stay `None`.
        for outcome in finished.iter().take(handed) {
            record(outcome);
        }
        // Dead helpers go; the next round starts fresh ones.
        self.helpers.retain(|helper| !helper.thread.is_finished());
        results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(io::Error::other("sync thread panicked"))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs, OpenOptions};
    use std::path::Path;

    fn files(fs: &FaultyFs, count: usize) -> Vec<Arc<dyn FileHandle>> {
        (0..count)
            .map(|i| {
                let path = Path::new("/f").join(i.to_string());
                fs.open(&path, OpenOptions::CREATE).expect("open")
            })
            .collect()
    }

    /// A round's files are synced on kept helper threads: every file is synced
    /// once, a failing file fails alone, and later rounds reuse the same threads.
    #[test]
    fn sync_all_keeps_its_helpers_and_reports_each_file() {
        let fs = FaultyFs::new(MemFs::new());
        fs.create_dir_all(Path::new("/f")).expect("dir");
        let files = files(&fs, 5);
        let mut backend = Buffered::new();
        fs.inject(Fault {
            op: IoOp::Sync,
            path_contains: Some("/f/3".into()),
            skip: 0,
            times: 1,
            action: FaultAction::Error(libc::EIO),
        });
        let results = backend.sync_all(&files);
        assert_eq!(results.len(), 5);
        for (index, result) in results.iter().enumerate() {
            assert_eq!(result.is_err(), index == 3, "file {index}: {result:?}");
        }
        assert_eq!(fs.fired(), 1);
        assert_eq!(backend.helpers.len(), 4);
        let started: Vec<_> = backend
            .helpers
            .iter()
            .map(|h| h.thread.thread().id())
            .collect();
        assert!(backend.sync_all(&files).iter().all(Result::is_ok));
        let kept: Vec<_> = backend
            .helpers
            .iter()
            .map(|h| h.thread.thread().id())
            .collect();
        assert_eq!(started, kept, "a second round must not start new threads");
        assert!(backend.sync_all(&[]).is_empty());
    }
}
