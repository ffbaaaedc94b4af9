//! Write backends: how staged bytes reach a segment file and become durable.
//!
//! Both take the same operations and must produce the same bytes on disk:
//! - [`Buffered`]: `pwrite` into the page cache, then `fdatasync`;
//! - [`Uring`]: `io_uring` submissions on files opened with `O_DIRECT`, from
//!   4 KiB-aligned buffers (the partial tail block is rewritten by the next write).
//!
//! [`BackendKind::Auto`] picks one of them once, when a storage opens: io_uring where
//! the kernel sets up a ring and has the operations it needs, else buffered (see
//! [`choose`]).

mod buffered;
mod uring;

pub use buffered::Buffered;
pub use uring::Uring;

use crate::io::{FileHandle, FileSystem, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// `pwrite` + `fdatasync` through the page cache.
    Buffered,
    /// `io_uring` with `O_DIRECT` aligned writes.
    IoUring,
    /// io_uring where the kernel accepts it, else buffered: chosen once when the
    /// storage opens ([`choose`]). A configuration value only: a running storage
    /// reports the backend it chose.
    Auto,
}

impl BackendKind {
    /// Name used in configuration and reports.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Buffered => "buffered",
            BackendKind::IoUring => "io_uring",
            BackendKind::Auto => "auto",
        }
    }

    /// Parses a configuration name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "buffered" => Some(BackendKind::Buffered),
            "io_uring" | "io-uring" | "uring" => Some(BackendKind::IoUring),
            "auto" => Some(BackendKind::Auto),
            _ => None,
        }
    }
}

/// One write: all of `data` at `offset` of `file`.
#[derive(Debug, Clone, Copy)]
pub struct WriteOp<'a> {
    /// The file.
    pub file: &'a dyn FileHandle,
    /// Byte offset in the file (aligned to [`WriteBackend::alignment`]).
    pub offset: u64,
    /// The bytes (address and length aligned to [`WriteBackend::alignment`]).
    pub data: &'a [u8],
}

/// A way of writing and syncing segment files.
pub trait WriteBackend: Send {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;
    /// Alignment of offsets, lengths and buffer addresses: 1 for buffered I/O,
    /// 4096 for `O_DIRECT`.
    fn alignment(&self) -> usize;
    /// Whether log files must be opened with `O_DIRECT`.
    fn direct(&self) -> bool {
        self.alignment() > 1
    }
    /// Writes every op completely, continuing after short writes. One result per op,
    /// in order; the ops of different files are independent.
    fn write_all(&mut self, ops: &[WriteOp<'_>]) -> Vec<io::Result<()>>;
    /// Makes the data of each file durable. One result per file, in order.
    fn sync_all(&mut self, files: &[Arc<dyn FileHandle>]) -> Vec<io::Result<()>>;
}

/// Creates a backend of the given kind for the files of `fs`; [`BackendKind::Auto`]
/// creates what [`choose`] picks.
pub fn create(kind: BackendKind, fs: &dyn FileSystem) -> io::Result<Box<dyn WriteBackend>> {
    Ok(match kind {
        BackendKind::Buffered => Box::new(Buffered::new()),
        BackendKind::IoUring => {
            // The file system may refuse rings (a test's stand-in for a kernel that does).
            fs.ring_setup()?;
            Box::new(Uring::new()?)
        }
        BackendKind::Auto => choose(fs, None).backend,
    })
}

/// What [`BackendKind::Auto`] picked.
pub struct Choice {
    /// The backend, ready to use.
    pub backend: Box<dyn WriteBackend>,
    /// Why io_uring was not picked (`None`: it was).
    pub refusal: Option<String>,
}

impl std::fmt::Debug for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Choice")
            .field("backend", &self.backend.kind())
            .field("refusal", &self.refusal)
            .finish()
    }
}

/// Picks io_uring where the kernel sets up a ring and supports the operations the
/// backend submits, and the file system of `dir` (where one is given) opens files
/// with `O_DIRECT`, else buffered with the reason: io_uring measured faster for
/// durable appends at every shard count (docs/benchmarks.md, issue 16), but Docker's
/// default seccomp profile, `kernel.io_uring_disabled` and kernels before 5.6 refuse
/// it, and some file systems (tmpfs before Linux 6.6, some FUSE ones) refuse `O_DIRECT`.
pub fn choose(fs: &dyn FileSystem, dir: Option<&Path>) -> Choice {
    let refusal = match create(BackendKind::IoUring, fs) {
        Ok(backend) => match dir.map(|dir| probe_direct(fs, dir)) {
            None | Some(Ok(())) => {
                return Choice {
                    backend,
                    refusal: None,
                }
            }
            Some(Err(error)) => format!(
                "the file system of {} refuses O_DIRECT ({error})",
                dir.expect("probed").display()
            ),
        },
        Err(error) => format!("io_uring refused ({error})"),
    };
    Choice {
        backend: Box::new(Buffered::new()),
        refusal: Some(refusal),
    }
}

/// Opens (creating) and removes a probe file in `dir` with `O_DIRECT`.
fn probe_direct(fs: &dyn FileSystem, dir: &Path) -> io::Result<()> {
    let path = dir.join(".direct-probe");
    let options = OpenOptions {
        direct: true,
        ..OpenOptions::CREATE
    };
    let opened = fs.open(&path, options).map(drop);
    let removed = fs.remove_file(&path);
    opened.and(removed)
}
