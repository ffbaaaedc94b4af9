//! A file system that passes everything to another, calling a test's hook before
//! each write and sync of a file, so that a test can hold or fail one of them.

use shardlog_segment::io::{FileHandle, FileSystem, Injected, Mapped, OpenOptions, VolumeSync};
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The operation a hook is called before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hooked {
    /// `write_at`.
    Write,
    /// `sync_data`.
    Sync,
}

/// Called with the operation and the file's path; an error fails the operation
/// without performing it.
pub type Hook = Arc<dyn Fn(Hooked, &Path) -> io::Result<()> + Send + Sync>;

/// Passes through to `inner`, calling `hook` first for file writes and syncs.
pub struct HookFs {
    pub inner: Arc<dyn FileSystem>,
    pub hook: Hook,
}

impl std::fmt::Debug for HookFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookFs")
            .field("inner", &self.inner)
            .finish()
    }
}

struct HookFile {
    inner: Arc<dyn FileHandle>,
    path: PathBuf,
    hook: Hook,
}

impl std::fmt::Debug for HookFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookFile")
            .field("path", &self.path)
            .finish()
    }
}

impl FileSystem for HookFs {
    fn create_dir_all(&self, p: &Path) -> io::Result<()> {
        self.inner.create_dir_all(p)
    }
    fn list_dir(&self, p: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(p)
    }
    fn open(&self, p: &Path, o: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        Ok(Arc::new(HookFile {
            inner: self.inner.open(p, o)?,
            path: p.to_path_buf(),
            hook: Arc::clone(&self.hook),
        }))
    }
    fn remove_file(&self, p: &Path) -> io::Result<()> {
        self.inner.remove_file(p)
    }
    fn remove_dir(&self, p: &Path) -> io::Result<()> {
        self.inner.remove_dir(p)
    }
    fn rename(&self, a: &Path, b: &Path) -> io::Result<()> {
        self.inner.rename(a, b)
    }
    fn sync_dir(&self, p: &Path) -> io::Result<()> {
        self.inner.sync_dir(p)
    }
    fn map(&self, p: &Path) -> io::Result<Arc<dyn Mapped>> {
        self.inner.map(p)
    }
    fn exists(&self, p: &Path) -> bool {
        self.inner.exists(p)
    }
    fn ring_setup(&self) -> io::Result<()> {
        self.inner.ring_setup()
    }
    fn open_volume_sync(&self, dir: &Path) -> io::Result<Option<Arc<dyn VolumeSync>>> {
        self.inner.open_volume_sync(dir)
    }
}

impl FileHandle for HookFile {
    fn read_at(&self, b: &mut [u8], o: u64) -> io::Result<usize> {
        self.inner.read_at(b, o)
    }
    fn write_at(&self, b: &[u8], o: u64) -> io::Result<usize> {
        (self.hook)(Hooked::Write, &self.path)?;
        self.inner.write_at(b, o)
    }
    fn sync_data(&self) -> io::Result<()> {
        (self.hook)(Hooked::Sync, &self.path)?;
        self.inner.sync_data()
    }
    fn check_written(&self) -> io::Result<()> {
        self.inner.check_written()
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, l: u64) -> io::Result<()> {
        self.inner.set_len(l)
    }
    fn allocate(&self, len: u64) -> io::Result<()> {
        self.inner.allocate(len)
    }
    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }
    fn injected_fault(&self, write_len: Option<usize>) -> Option<Injected> {
        self.inner.injected_fault(write_len)
    }
    fn sync_failed(&self) {
        self.inner.sync_failed()
    }
}
