//! SCAFFOLD (to be replaced by the helper): a file system that injects faults.

use super::{FileHandle, FileSystem, Mapped, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// Operations a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOp {
    /// `FileHandle::write_at` (and backend writes that bypass it).
    Write,
    /// `FileHandle::sync_data` (and backend syncs that bypass it).
    Sync,
    /// `FileSystem::sync_dir`.
    SyncDir,
    /// `FileSystem::open`.
    Open,
    /// `FileSystem::rename`.
    Rename,
    /// `FileSystem::remove_file`.
    Remove,
    /// `FileHandle::set_len`.
    SetLen,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Fail with this OS error number (`libc::EIO`, `libc::ENOSPC`, ...).
    Error(i32),
    /// Write at most this many bytes and report the short count (writes only).
    ShortWrite {
        /// Bytes actually written.
        bytes: usize,
    },
}

/// A fault rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The operation it targets.
    pub op: IoOp,
    /// Only paths containing this string (all paths when `None`).
    pub path_contains: Option<String>,
    /// Let this many matching operations pass first.
    pub skip: u64,
    /// Fire this many times (`u64::MAX`: until cleared).
    pub times: u64,
    /// What to do.
    pub action: FaultAction,
}

/// A file system that injects faults into another.
#[derive(Debug)]
pub struct FaultyFs {
    inner: Arc<dyn FileSystem>,
}

impl FaultyFs {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn FileSystem>) -> Arc<FaultyFs> {
        Arc::new(FaultyFs { inner })
    }
    /// Adds a fault rule.
    pub fn inject(&self, _fault: Fault) {}
    /// Removes every rule.
    pub fn clear(&self) {}
    /// Number of faults fired so far.
    pub fn fired(&self) -> u64 {
        0
    }
}

impl FileSystem for FaultyFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(path)
    }
    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        self.inner.open(path, options)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.sync_dir(path)
    }
    fn map(&self, path: &Path) -> io::Result<Arc<dyn Mapped>> {
        self.inner.map(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
}
