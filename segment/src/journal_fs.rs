//! The file system a journaled storage's logs see: the real one, with a journal
//! checkpoint before any change that would let a replay write old bytes into a
//! new or shorter file.
//!
//! A replay writes each frame's bytes at their offset into whatever file has the
//! frame's path by then. That is right for the file the frame was written for, and
//! for no other: so creating a file at a path with frames in the current epoch
//! (a log directory deleted and created again under the same name), renaming onto
//! or away from it (compaction's replace), and setting its length (the seal's cut
//! of the reservation, recovery's cut of a torn tail, the cut of a failed log) each
//! start with a checkpoint, after which the path has no frames. Removing a file
//! needs none: a replay skips files that do not exist, and a later file at that
//! path is a creation. Every such change of a log's files goes through this file
//! system (the segment crate opens, truncates and renames through `LogShared::fs`),
//! whatever thread or crate asks for it.

use crate::io::{FileHandle, FileSystem, Injected, Mapped, OpenOptions, VolumeSync};
use crate::journal::Journal;
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `inner`, with checkpoints of `journal` before destructive changes.
#[derive(Debug)]
pub(crate) struct JournalFs {
    pub(crate) inner: Arc<dyn FileSystem>,
    pub(crate) journal: Arc<Journal>,
}

impl FileSystem for JournalFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(path)
    }

    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        if options.create {
            self.journal.before_change(path)?;
        }
        let file = self.inner.open(path, options)?;
        if !options.write {
            return Ok(file);
        }
        Ok(Arc::new(JournaledFile {
            inner: file,
            path: path.to_path_buf(),
            journal: Arc::clone(&self.journal),
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.journal.before_change(from)?;
        self.journal.before_change(to)?;
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

/// A writable file of a [`JournalFs`]: a checkpoint before its length is set.
#[derive(Debug)]
struct JournaledFile {
    inner: Arc<dyn FileHandle>,
    path: PathBuf,
    journal: Arc<Journal>,
}

impl FileHandle for JournaledFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.inner.write_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }

    fn check_written(&self) -> io::Result<()> {
        self.inner.check_written()
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.journal.before_change(&self.path)?;
        self.inner.set_len(len)
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        // Only ever lengthens the file: frames still land in the same bytes.
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
