//! Durable file replacement: write a temporary file, fsync it, rename it over the
//! target, fsync the directory. A reader sees the old or the new file, whole.
//!
//! A process killed between creating a temporary file and renaming it leaves the
//! file behind, beside the objects of a bucket or a checkpoint. The first
//! replacement a process makes in a directory removes such leftovers first: they
//! are never renamed into place by anyone, and without this they would pile up
//! with every crash (and show up to whatever lists or syncs the bucket's
//! directory as extra copies of objects).

use crate::error::{io_err, Result};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Distinguishes temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Directories this process has cleared of leftover temporary files. One entry
/// per directory written (hour directories of a bucket, each delivery stream's
/// directory), so it grows with the hours the process runs, by a few paths each.
static SWEPT_DIRS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// The name of a temporary file of [`write_atomic`]: `.<target>.tmp-<pid>-<n>`.
fn temporary_name(target: &str, pid: u32, n: u64) -> String {
    format!(".{target}.tmp-{pid}-{n}")
}

/// Whether `name` is one that [`temporary_name`] makes.
fn is_temporary(name: &str) -> bool {
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let Some((target, tail)) = name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp-")) else {
        return false;
    };
    let Some((pid, n)) = tail.split_once('-') else {
        return false;
    };
    !target.is_empty() && digits(pid) && digits(n)
}

/// Removes the temporary files left in `dir` by processes that died mid-write,
/// once per directory and process, before this process writes there: every
/// temporary file present then is a leftover (this process's own are created
/// only after the directory is marked swept, under the same lock).
fn sweep_leftovers(dir: &Path) -> Result<()> {
    let mut swept = SWEPT_DIRS.lock().unwrap_or_else(|p| p.into_inner());
    if swept.contains(dir) {
        return Ok(());
    }
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let leftover = entry.file_name().to_str().is_some_and(is_temporary)
            && entry.file_type().is_ok_and(|kind| kind.is_file());
        if !leftover {
            continue;
        }
        let path = entry.path();
        match fs::remove_file(&path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "removed a temporary file left by a crash")
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_err("remove", &path)(error)),
        }
    }
    swept.insert(dir.to_path_buf());
    Ok(())
}

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
    sweep_leftovers(dir)?;
    let temp = dir.join(temporary_name(
        &name,
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
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
        // Best effort: a leftover is removed by the next process's first write here.
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

    /// Regression (found by the crash torture test): temporary files that a killed
    /// process left beside a bucket's objects are removed by the next process's
    /// first write into that directory; other files, dot files included, stay.
    #[test]
    fn leftovers_of_a_killed_writer_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let leftover = dir.path().join(temporary_name("object-1.gz", 4242, 7));
        let others = [".hidden", "data.tmp-1-2", ".object.tmp-x-2", "object-0.gz"];
        fs::write(&leftover, b"half an obj").unwrap();
        for other in others {
            fs::write(dir.path().join(other), b"keep").unwrap();
        }
        assert!(is_temporary(
            &leftover.file_name().unwrap().to_string_lossy()
        ));
        write_atomic(&dir.path().join("object-1.gz"), b"whole").unwrap();
        assert!(!leftover.exists(), "the leftover is gone");
        for other in others {
            assert!(dir.path().join(other).exists(), "{other} stays");
        }
        assert_eq!(fs::read(dir.path().join("object-1.gz")).unwrap(), b"whole");
    }
}
