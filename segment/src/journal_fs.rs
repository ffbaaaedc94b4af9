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
//! path is a creation. Allocating only lengthens a file, so frames still land in
//! the same bytes. Every such change of a log's files goes through this file
//! system (the segment crate opens, truncates and renames through `LogShared::fs`),
//! whatever thread or crate asks for it.

use crate::io::{FileOp, FileSystem, Interpose, Interposed, OpenOptions};
use crate::journal::Journal;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// `inner`, with checkpoints of `journal` before destructive changes.
pub(crate) fn journal_fs(inner: Arc<dyn FileSystem>, journal: Arc<Journal>) -> Arc<dyn FileSystem> {
    Arc::new(Interposed::new(inner, Checkpoints(journal)))
}

/// The hooks: a checkpoint before a creation, a rename or a length set.
#[derive(Debug)]
struct Checkpoints(Arc<Journal>);

impl Interpose for Checkpoints {
    fn before_open(&self, path: &Path, options: OpenOptions) -> io::Result<()> {
        if options.create {
            self.0.before_change(path)?;
        }
        Ok(())
    }

    fn before_rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.before_change(from)?;
        self.0.before_change(to)
    }

    fn hooks_files(&self, options: OpenOptions) -> bool {
        options.write
    }

    fn before_file(&self, op: FileOp, path: &Path) -> io::Result<()> {
        match op {
            FileOp::SetLen => self.0.before_change(path),
            FileOp::Write | FileOp::Sync => Ok(()),
        }
    }
}
