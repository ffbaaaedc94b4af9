//! The file-system seam under the write backends.
//!
//! Three implementations: [`RealFs`] (the operating system), [`MemFs`] (in memory,
//! with power-loss simulation) and [`FaultyFs`] (wraps another and injects faults),
//! so that crash and fault tests can cut at the Nth write or sync; and
//! [`Interposed`], another file system with hooks around its operations.

mod faulty;
mod gate;
mod interpose;
mod mem;
mod real;
mod record;

pub use faulty::{Fault, FaultAction, FaultyFs, IoOp};
pub use gate::{is_segment_in, Gate, HoldAtGate, Opener};
pub use interpose::{FileOp, Interpose, Interposed};
pub use mem::{CrashMode, CrashReport, MemFs};
pub use real::RealFs;
pub use record::{SyncInProgress, SyncRecord};

use std::fmt::Debug;
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How to open a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// Open for writing as well as reading.
    pub write: bool,
    /// Create the file if it does not exist.
    pub create: bool,
    /// Bypass the page cache (`O_DIRECT`): offsets, lengths and buffers must be
    /// aligned to [`DIRECT_IO_ALIGNMENT`].
    pub direct: bool,
    /// A file this creates is readable and writable by its owner only (mode 0600),
    /// for secrets; where the file system has no modes, nothing changes.
    pub private: bool,
}

impl OpenOptions {
    /// Read only.
    pub const READ: OpenOptions = OpenOptions {
        write: false,
        create: false,
        direct: false,
        private: false,
    };
    /// Read and write an existing file.
    pub const WRITE: OpenOptions = OpenOptions {
        write: true,
        create: false,
        direct: false,
        private: false,
    };
    /// Read and write, creating the file if needed.
    pub const CREATE: OpenOptions = OpenOptions {
        write: true,
        create: true,
        direct: false,
        private: false,
    };

    /// The same options with `O_DIRECT` set as given.
    pub fn with_direct(self, direct: bool) -> Self {
        OpenOptions { direct, ..self }
    }

    /// The same options with [`OpenOptions::private`] set as given.
    pub fn with_private(self, private: bool) -> Self {
        OpenOptions { private, ..self }
    }
}

/// Alignment of offsets, lengths and buffers for `O_DIRECT` (the logical block size).
pub const DIRECT_IO_ALIGNMENT: usize = 4096;

/// A fault an injecting file system asks a backend to apply instead of (or before)
/// the real operation, for backends that bypass [`FileHandle::write_at`].
#[derive(Debug)]
pub enum Injected {
    /// Fail the operation with this error.
    Error(io::Error),
    /// Write only this many bytes and report a short write.
    Short(usize),
}

/// A directory tree of files.
pub trait FileSystem: Send + Sync + Debug + 'static {
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of a directory.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Opens a file.
    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<Arc<dyn FileHandle>>;
    /// Removes a file. Open handles and mappings stay valid (unlink semantics).
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty directory.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Renames a file, replacing the target.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Maps a file read-only. The mapping stays valid after the file is removed.
    /// The file must not be truncated or rewritten while mapped.
    fn map(&self, path: &Path) -> io::Result<Arc<dyn Mapped>>;
    /// Whether a file or directory exists.
    fn exists(&self, path: &Path) -> bool;
    /// Asked before an io_uring ring is set up to write this file system's files: an
    /// error refuses it. The kernel decides for real files; a fault-injecting layer
    /// refuses here to stand in for a kernel that refuses io_uring (seccomp,
    /// `kernel.io_uring_disabled`), which tests cannot arrange.
    fn ring_setup(&self) -> io::Result<()> {
        Ok(())
    }
    /// A handle that syncs the whole file system `dir` is on at once (see
    /// [`VolumeSync`]), opened now so that it reports the write-back errors of
    /// everything written from now on; `None` where the file system has no such call.
    fn open_volume_sync(&self, _dir: &Path) -> io::Result<Option<Arc<dyn VolumeSync>>> {
        Ok(None)
    }
}

/// One call that makes every file of a file system durable (`syncfs(2)`), for rounds
/// that wrote so many files that one `fdatasync` each costs more (docs/storage.md).
pub trait VolumeSync: Send + Sync + Debug {
    /// Writes back every dirty file of the file system (of any process) and its
    /// metadata, and flushes the device's cache. Fails if any write-back on the file
    /// system failed since the previous call or since the handle was opened, whatever
    /// file it was: the caller cannot tell which, and must treat every file it relied
    /// on this call for as failed. Follow it with [`FileHandle::check_written`] on each
    /// of those files to learn the errors of each one.
    fn sync_volume(&self) -> io::Result<()>;
    /// Whether `path` is on the file system this handle syncs.
    fn holds(&self, path: &Path) -> bool;
}

/// An open file.
pub trait FileHandle: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; fewer at the end of the file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes some of `buf` at `offset`, returning how many bytes were written.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize>;
    /// Makes the file's data (and the metadata needed to read it) durable.
    fn sync_data(&self) -> io::Result<()>;
    /// After a [`VolumeSync::sync_volume`] that covered this file: fails if a write-back
    /// of this file failed since its last sync or check (each error is reported once,
    /// as by `fdatasync`), without flushing the device again. The default syncs the
    /// file, which is as durable and reports as much, only slower.
    fn check_written(&self) -> io::Result<()> {
        self.sync_data()
    }
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Sets the length. Never call on a file that is mapped.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes the file at least `len` bytes long, the new bytes reading as zeros, and
    /// reserves their blocks where the file system can (`fallocate`), so that later
    /// writes there neither allocate nor change the file's size. A longer file is
    /// left as it is. Without a way to reserve, the file is only extended.
    fn allocate(&self, len: u64) -> io::Result<()> {
        if self.len()? < len {
            self.set_len(len)?;
        }
        Ok(())
    }
    /// The raw descriptor, for backends that submit I/O themselves (io_uring, which
    /// writes a file without one through `write_at` and `sync_data` instead).
    fn raw_fd(&self) -> Option<RawFd> {
        None
    }
    /// For backends that bypass `write_at`/`sync_data`: a fault to apply to the
    /// next write of `len` bytes (`Some(len)`) or sync (`None`).
    fn injected_fault(&self, _write_len: Option<usize>) -> Option<Injected> {
        None
    }

    /// Called by a fault-injecting layer when it fails a sync of this handle, so that
    /// a simulated file behaves as Linux may after a failed `fsync`: the page cache
    /// keeps serving the written bytes, the device never gets them, and the pages are
    /// marked clean, so the next sync succeeds without writing them (the error is
    /// reported once). Real files ignore it: the kernel does this itself.
    fn sync_failed(&self) {}

    /// The record of this handle's failed syncs, where it keeps one: every sync of the
    /// handle (`sync_data`, `check_written`, a backend's own fsync of [`raw_fd`]) goes
    /// through it, so that a failure another thread's sync took is still known (see
    /// [`SyncRecord`]). `None`: the handle's syncs report every failure themselves.
    ///
    /// [`raw_fd`]: FileHandle::raw_fd
    fn sync_record(&self) -> Option<&SyncRecord> {
        None
    }
}

/// Read-only bytes of a mapped file.
pub trait Mapped: Send + Sync + Debug {
    /// The file's bytes as of the mapping.
    fn bytes(&self) -> &[u8];
}

/// Reads exactly `buf.len()` bytes at `offset`.
pub fn read_exact_at(file: &dyn FileHandle, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.read_at(buf, offset) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file ended before the bytes asked for",
                ))
            }
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Writes all of `buf` at `offset`, continuing after short writes.
pub fn write_all_at(file: &dyn FileHandle, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.write_at(buf, offset) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "write returned zero bytes",
                ))
            }
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Reads a whole file into memory.
pub fn read_file(fs: &dyn FileSystem, path: &Path) -> io::Result<Vec<u8>> {
    let file = fs.open(path, OpenOptions::READ)?;
    let len = usize::try_from(file.len()?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large to read"))?;
    let mut buf = vec![0u8; len];
    read_exact_at(file.as_ref(), &mut buf, 0)?;
    Ok(buf)
}

/// Creates `dir` and any missing ancestors, then syncs the parent of each one it
/// created, and the parent of `dir` even if `dir` already existed: a new directory
/// is an entry of its parent and survives a power loss only once the parent is
/// synced, and an earlier call may have created `dir` and then failed to sync.
/// (An ancestor created by such a failed call stays unsynced: not covered.)
pub fn create_dir_all_durably(fs: &dyn FileSystem, dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut current = Some(dir);
    while let Some(path) = current.filter(|path| !path.as_os_str().is_empty() && !fs.exists(path)) {
        missing.push(path);
        current = path.parent();
    }
    if !missing.is_empty() {
        fs.create_dir_all(dir)?;
    }
    if missing.first() != Some(&dir) {
        missing.insert(0, dir);
    }
    // Deepest first: the parent of each new directory exists by now.
    for created in missing {
        if let Some(parent) = created.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Removes `dir`, which holds files only, durably: the files' removal is synced
/// before the directory goes, and the directory's removal by syncing its parent.
/// A directory that does not exist is already removed (a retry after a failure
/// part way finishes the job).
pub fn remove_dir_durably(fs: &dyn FileSystem, dir: &Path) -> io::Result<()> {
    if !fs.exists(dir) {
        return Ok(());
    }
    for name in fs.list_dir(dir)? {
        fs.remove_file(&dir.join(name))?;
    }
    fs.sync_dir(dir)?;
    fs.remove_dir(dir)?;
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => fs.sync_dir(parent),
        None => Ok(()),
    }
}

/// A versioned JSON manifest that [`load_json_manifest`] and
/// [`store_json_manifest`] keep in a directory.
pub trait JsonManifest: serde::Serialize + serde::de::DeserializeOwned + Default {
    /// The format version this build writes and reads.
    const VERSION: u32;
    /// What the directory's other entries are ("queue", "topic"), for messages.
    const ENTRIES: &'static str;
    /// The version the manifest read says it has.
    fn version(&self) -> u32;
}

/// Why a manifest could not be loaded or stored.
#[derive(Debug)]
pub enum ManifestError {
    /// An I/O step failed.
    Io {
        /// The step: `"list"`, `"read"`, `"create directory"`, `"write"`.
        op: &'static str,
        /// The file or directory it failed on.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The manifest is unreadable, of another version, or missing beside data
    /// it would forget if it started empty.
    Corrupt {
        /// The manifest's path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Reads the manifest `root/name`. A directory that does not exist, or holds
/// nothing but leftover `.tmp` files, has an empty (default) manifest; a missing
/// manifest beside other entries is an error rather than an empty start.
pub fn load_json_manifest<M: JsonManifest>(
    fs: &dyn FileSystem,
    root: &Path,
    name: &str,
) -> Result<M, ManifestError> {
    let path = root.join(name);
    let io_error = |op, path: &Path, source| ManifestError::Io {
        op,
        path: path.to_path_buf(),
        source,
    };
    let corrupt = |reason| ManifestError::Corrupt {
        path: path.clone(),
        reason,
    };
    if !fs.exists(&path) {
        if !fs.exists(root) {
            return Ok(M::default());
        }
        let entries = fs.list_dir(root).map_err(|e| io_error("list", root, e))?;
        return match entries.iter().filter(|e| !e.ends_with(".tmp")).count() {
            0 => Ok(M::default()),
            n => Err(corrupt(format!(
                "missing, but the directory holds {n} {} entries",
                M::ENTRIES
            ))),
        };
    }
    let bytes = read_file(fs, &path).map_err(|e| io_error("read", &path, e))?;
    let manifest: M = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if manifest.version() != M::VERSION {
        return Err(corrupt(format!("manifest version {}", manifest.version())));
    }
    Ok(manifest)
}

/// Replaces the manifest `root/name` atomically, creating `root` durably first
/// (its entries must be durable before anything in it is).
pub fn store_json_manifest<M: JsonManifest>(
    fs: &dyn FileSystem,
    root: &Path,
    name: &str,
    manifest: &M,
) -> Result<(), ManifestError> {
    let path = root.join(name);
    let bytes = serde_json::to_vec_pretty(manifest).expect("a manifest always serializes");
    create_dir_all_durably(fs, root).map_err(|source| ManifestError::Io {
        op: "create directory",
        path: root.to_path_buf(),
        source,
    })?;
    write_file_atomic(fs, &path, &bytes).map_err(|source| ManifestError::Io {
        op: "write",
        path,
        source,
    })
}

/// Writes `bytes` to `path` atomically: a temporary file, sync, rename, sync of the directory.
pub fn write_file_atomic(fs: &dyn FileSystem, path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(fs, path, bytes, false)
}

/// As [`write_file_atomic`], for a secret: the file is readable and writable by
/// its owner only (mode 0600 where the file system has modes).
pub fn write_private_file_atomic(fs: &dyn FileSystem, path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(fs, path, bytes, true)
}

fn write_atomic(fs: &dyn FileSystem, path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no directory"))?;
    let mut temp_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?
        .to_os_string();
    temp_name.push(".tmp");
    let temp = dir.join(temp_name);
    if private && fs.exists(&temp) {
        // Left by an interrupted write: its mode is not ours to trust.
        fs.remove_file(&temp)?;
    }
    let file = fs.open(&temp, OpenOptions::CREATE.with_private(private))?;
    file.set_len(0)?;
    write_all_at(file.as_ref(), bytes, 0)?;
    file.sync_data()?;
    drop(file);
    fs.rename(&temp, path)?;
    fs.sync_dir(dir)
}
