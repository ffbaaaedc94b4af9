//! A file system that passes every operation to another, after a hook that may
//! fail it or act first: the one forwarding layer behind the journal's file system
//! and the tests' counting, pausing and failing file systems.

use super::{FileHandle, FileSystem, Injected, Mapped, OpenOptions, SyncRecord, VolumeSync};
use std::fmt::Debug;
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An operation on an open file that an [`Interpose`] hook is called before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOp {
    /// `FileHandle::write_at`.
    Write,
    /// `FileHandle::sync_data`.
    Sync,
    /// `FileHandle::set_len`.
    SetLen,
}

/// What an [`Interposed`] file system does around the operations it passes on.
/// Every hook lets the operation through by default; an error from a `before_`
/// hook fails the operation without performing it.
pub trait Interpose: Send + Sync + Debug + 'static {
    /// Before `FileSystem::open`.
    fn before_open(&self, _path: &Path, _options: OpenOptions) -> io::Result<()> {
        Ok(())
    }

    /// Before `FileSystem::rename`.
    fn before_rename(&self, _from: &Path, _to: &Path) -> io::Result<()> {
        Ok(())
    }

    /// After `FileSystem::remove_file` succeeded.
    fn after_remove_file(&self, _path: &Path) {}

    /// Whether a file opened with `options` gets [`Interpose::before_file`] calls;
    /// otherwise it is handed out as the inner file system opened it.
    fn hooks_files(&self, _options: OpenOptions) -> bool {
        false
    }

    /// Before `op` on the file at `path` (only for files [`Interpose::hooks_files`]
    /// chose).
    fn before_file(&self, _op: FileOp, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// `inner`, with `hooks` around its operations.
#[derive(Debug)]
pub struct Interposed<H> {
    inner: Arc<dyn FileSystem>,
    hooks: Arc<H>,
}

impl<H: Interpose> Interposed<H> {
    /// `inner` with `hooks`.
    pub fn new(inner: Arc<dyn FileSystem>, hooks: H) -> Self {
        Interposed {
            inner,
            hooks: Arc::new(hooks),
        }
    }

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }
}

impl<H: Interpose> FileSystem for Interposed<H> {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(path)
    }

    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        self.hooks.before_open(path, options)?;
        let file = self.inner.open(path, options)?;
        if !self.hooks.hooks_files(options) {
            return Ok(file);
        }
        Ok(Arc::new(InterposedFile {
            inner: file,
            path: path.to_path_buf(),
            hooks: Arc::clone(&self.hooks),
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)?;
        self.hooks.after_remove_file(path);
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.hooks.before_rename(from, to)?;
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

    fn ring_setup(&self) -> io::Result<()> {
        self.inner.ring_setup()
    }

    fn open_volume_sync(&self, dir: &Path) -> io::Result<Option<Arc<dyn VolumeSync>>> {
        self.inner.open_volume_sync(dir)
    }
}

/// A file of an [`Interposed`] file system whose hooks chose it.
#[derive(Debug)]
struct InterposedFile<H> {
    inner: Arc<dyn FileHandle>,
    path: PathBuf,
    hooks: Arc<H>,
}

impl<H: Interpose> FileHandle for InterposedFile<H> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.hooks.before_file(FileOp::Write, &self.path)?;
        self.inner.write_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.hooks.before_file(FileOp::Sync, &self.path)?;
        self.inner.sync_data()
    }

    fn check_written(&self) -> io::Result<()> {
        self.inner.check_written()
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.hooks.before_file(FileOp::SetLen, &self.path)?;
        self.inner.set_len(len)
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

    fn sync_record(&self) -> Option<&SyncRecord> {
        self.inner.sync_record()
    }
}
