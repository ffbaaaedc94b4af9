//! SCAFFOLD (to be replaced by the helper): io_uring backend with O_DIRECT.

use super::{BackendKind, WriteBackend, WriteOp};
use crate::io::FileHandle;
use std::io;

/// The io_uring backend.
#[derive(Debug)]
pub struct Uring {}

impl Uring {
    /// Sets up a ring.
    pub fn new() -> io::Result<Self> {
        Err(io::Error::other("scaffold"))
    }
}

impl WriteBackend for Uring {
    fn kind(&self) -> BackendKind {
        BackendKind::IoUring
    }
    fn alignment(&self) -> usize {
        crate::io::DIRECT_IO_ALIGNMENT
    }
    fn write_all(&mut self, ops: &[WriteOp<'_>]) -> Vec<io::Result<()>> {
        ops.iter()
            .map(|_| Err(io::Error::other("scaffold")))
            .collect()
    }
    fn sync_all(&mut self, files: &[&dyn FileHandle]) -> Vec<io::Result<()>> {
        files
            .iter()
            .map(|_| Err(io::Error::other("scaffold")))
            .collect()
    }
}
