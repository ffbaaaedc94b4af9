//! SCAFFOLD (to be replaced by the helper): in-memory file system with power-loss simulation.

use super::{FileHandle, FileSystem, Mapped, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// What survives a simulated power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Keep exactly what was synced; drop every unsynced change.
    DropUnsynced,
    /// Keep a random subset of the unsynced changes (each write possibly torn to a
    /// prefix), applied in a random order, chosen by `seed`.
    Random {
        /// Seed of the choice, so that a failing case can be replayed.
        seed: u64,
    },
}

/// An in-memory file system that remembers what was synced.
#[derive(Debug, Default)]
pub struct MemFs {}

impl MemFs {
    /// A new, empty file system.
    pub fn new() -> Arc<MemFs> {
        Arc::new(MemFs::default())
    }
    /// Simulates a power loss.
    pub fn crash(&self, _mode: CrashMode) {}
    /// Number of `sync_data` and `sync_dir` calls so far.
    pub fn sync_count(&self) -> u64 {
        0
    }
}

fn unsupported() -> io::Error {
    io::Error::other("scaffold")
}

impl FileSystem for MemFs {
    fn create_dir_all(&self, _path: &Path) -> io::Result<()> {
        Err(unsupported())
    }
    fn list_dir(&self, _path: &Path) -> io::Result<Vec<String>> {
        Err(unsupported())
    }
    fn open(&self, _path: &Path, _options: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        Err(unsupported())
    }
    fn remove_file(&self, _path: &Path) -> io::Result<()> {
        Err(unsupported())
    }
    fn rename(&self, _from: &Path, _to: &Path) -> io::Result<()> {
        Err(unsupported())
    }
    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        Err(unsupported())
    }
    fn map(&self, _path: &Path) -> io::Result<Arc<dyn Mapped>> {
        Err(unsupported())
    }
    fn exists(&self, _path: &Path) -> bool {
        false
    }
}
