//! Durable file replacement: write a temporary file, fsync it, rename it over the
//! target, fsync the directory. A reader sees the old or the new file, whole.

use crate::error::{io_err, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Fsyncs a directory, so that entries created or renamed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync directory", dir))
}

/// Creates `dir` and its missing parents, fsyncing each parent whose entries
/// changed, from `root` (which must exist) down.
pub fn create_dirs_durably(root: &Path, dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(root);
    if parent != root && parent.starts_with(root) {
        create_dirs_durably(root, parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => sync_dir(parent),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(io_err("create directory", dir)(error)),
    }
}

/// Replaces `path` with `bytes` durably (its directory must exist).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .map_err(io_err("create", &temp))?;
        file.write_all(bytes).map_err(io_err("write", &temp))?;
        file.sync_all().map_err(io_err("sync", &temp))?;
        fs::rename(&temp, path).map_err(io_err("rename", path))
    })();
    if written.is_err() {
        // Best effort: a leftover temporary file is harmless (ignored by readers).
        let _ = fs::remove_file(&temp);
    }
    written?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    //! Atomic replacement.
    use super::*;

    /// A replaced file holds the new bytes and leaves no temporary file behind.
    #[test]
    fn replace_leaves_only_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file.json");
        create_dirs_durably(dir.path(), path.parent().unwrap()).unwrap();
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let entries: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }
}
