//! `pwrite` + `fdatasync` through the page cache.

use super::{BackendKind, WriteBackend, WriteOp};
use crate::io::{write_all_at, FileHandle};
use std::io;

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
        // several shards from parallel threads lets the device see them together.
        std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .iter()
                .map(|file| scope.spawn(move || file.sync_data()))
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle
                        .join()
                        .unwrap_or_else(|_| Err(io::Error::other("sync thread panicked")))
                })
                .collect()
        })
    }
}
