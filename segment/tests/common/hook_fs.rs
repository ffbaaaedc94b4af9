//! A file system that passes everything to another, calling a test's hook before
//! each write and sync of a file, so that a test can hold or fail one of them.

use shardlog_segment::io::{FileOp, FileSystem, Interpose, Interposed, OpenOptions};
use std::io;
use std::path::Path;
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

/// `inner`, calling `hook` first for file writes and syncs.
pub fn hook_fs(inner: Arc<dyn FileSystem>, hook: Hook) -> Arc<dyn FileSystem> {
    Arc::new(Interposed::new(inner, HookCalls(hook)))
}

struct HookCalls(Hook);

impl std::fmt::Debug for HookCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookCalls")
    }
}

impl Interpose for HookCalls {
    fn hooks_files(&self, _options: OpenOptions) -> bool {
        true
    }

    fn before_file(&self, op: FileOp, path: &Path) -> io::Result<()> {
        match op {
            FileOp::Write => (self.0)(Hooked::Write, path),
            FileOp::Sync => (self.0)(Hooked::Sync, path),
            FileOp::SetLen => Ok(()),
        }
    }
}
