//! `pwrite` + `fdatasync` through the page cache.

use super::{BackendKind, WriteBackend, WriteOp};
use crate::io::{write_all_at, FileHandle};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads that sync one round's files at once, the caller's included.
const SYNC_THREADS_MAX: usize = 16;

/// The buffered backend: each op is written with `pwrite` (continuing after short
/// writes) and each file synced with `fdatasync`.
#[derive(Debug, Default)]
pub struct Buffered;

impl Buffered {
    /// A buffered backend.
    pub fn new() -> Self {
        Buffered
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

    fn sync_all(&mut self, files: &[&dyn FileHandle]) -> Vec<io::Result<()>> {
        if files.len() <= 1 {
            return files.iter().map(|file| file.sync_data()).collect();
        }
        // fdatasync blocks its thread for the whole device flush; syncing the files of
        // several shards from parallel threads lets the device see them together. The
        // threads are bounded: a round of a thousand shards' files must not start a
        // thousand threads. Each takes the next file not yet taken.
        let next = AtomicUsize::new(0);
        let take = || {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(index) else {
                    return done;
                };
                done.push((index, file.sync_data()));
            }
        };
        let mut results: Vec<Option<io::Result<()>>> = files.iter().map(|_| None).collect();
        std::thread::scope(|scope| {
            let threads = files.len().min(SYNC_THREADS_MAX);
            let handles: Vec<_> = (1..threads).map(|_| scope.spawn(take)).collect();
            let mut finished = vec![Ok(take())];
            finished.extend(handles.into_iter().map(|handle| handle.join()));
            for outcome in finished {
                // A panicked thread's files stay `None` and fail below.
                for (index, result) in outcome.unwrap_or_default() {
                    results[index] = Some(result);
                }
            }
        });
        results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(io::Error::other("sync thread panicked"))))
            .collect()
    }
}
