//! Making reads cold: drop the page cache where allowed, else advise the kernel
//! to drop each file's pages, and label the result with what was actually done.

use std::fs::File;
use std::path::{Path, PathBuf};

/// The label of a read after `drop_caches` succeeded.
pub const COLD_DROP_CACHES: &str = "cold (drop_caches)";
/// The label after `posix_fadvise(DONTNEED)` on every file.
pub const COLD_FADVISE: &str = "cold (fadvise)";
/// The label when neither worked.
pub const WARM_COULD_NOT_DROP: &str = "warm (could not drop)";
/// The label of a read meant to be served from the page cache.
pub const WARM: &str = "warm";

/// Drops the cached pages of `files` (after syncing them, since dirty pages
/// cannot be dropped): the whole page cache through `/proc/sys/vm/drop_caches`
/// when this process may write it (root), else `posix_fadvise(DONTNEED)` on each
/// file. Returns the honest label of what happened.
pub fn make_cold(files: &[PathBuf]) -> &'static str {
    for path in files {
        if let Ok(file) = File::open(path) {
            let _ = file.sync_all();
        }
    }
    if std::fs::write("/proc/sys/vm/drop_caches", b"1\n").is_ok() {
        return COLD_DROP_CACHES;
    }
    if !files.is_empty() && files.iter().all(|path| fadvise_dontneed(path)) {
        return COLD_FADVISE;
    }
    WARM_COULD_NOT_DROP
}

fn fadvise_dontneed(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).is_ok()
}

/// Every regular file under `dir`, recursively (the files of an engine's data
/// directory).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(kind) if kind.is_file() => files.push(entry.path()),
                _ => {}
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    //! The cold label tells what was done.
    use super::*;

    /// A real file can always be made cold one way or another, and the label
    /// is one of the two cold labels; no file at all cannot be fadvised.
    #[test]
    fn make_cold_labels_honestly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 8192]).unwrap();
        let label = make_cold(std::slice::from_ref(&path));
        assert!(
            label == COLD_DROP_CACHES || label == COLD_FADVISE,
            "{label}"
        );
        assert_eq!(files_under(dir.path()), vec![path]);
        let missing = make_cold(&[dir.path().join("missing")]);
        assert!(missing == COLD_DROP_CACHES || missing == WARM_COULD_NOT_DROP);
    }
}
