//! The operating system's file system.

use super::{FileHandle, FileSystem, Mapped, OpenOptions, SyncRecord, VolumeSync};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl RealFs {
    /// A shareable handle to the real file system.
    pub fn shared() -> Arc<dyn FileSystem> {
        Arc::new(RealFs)
    }
}

#[derive(Debug)]
struct RealFile {
    file: File,
    record: SyncRecord,
}

/// A directory kept open for `syncfs(2)`: the kernel reports to each descriptor the
/// file system's write-back errors since that descriptor last asked (Linux 5.8 and
/// later; before, `syncfs` reported none, so the per-file check after it is what
/// catches a lost write there).
#[derive(Debug)]
struct RealVolume {
    dir: File,
    /// `st_dev` of the file system.
    device: u64,
}

impl VolumeSync for RealVolume {
    fn sync_volume(&self) -> io::Result<()> {
        rustix::fs::syncfs(&self.dir).map_err(io::Error::from)
    }

    fn holds(&self, path: &Path) -> bool {
        fs::metadata(path).is_ok_and(|metadata| metadata.dev() == self.device)
    }
}

#[derive(Debug)]
struct RealMap {
    map: Option<memmap2::Mmap>,
}

impl Mapped for RealMap {
    fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl FileSystem for RealFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(path)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        let mut open = fs::OpenOptions::new();
        open.read(true).write(options.write).create(options.create);
        if options.direct {
            open.custom_flags(libc::O_DIRECT);
        }
        if options.private {
            open.mode(0o600);
        }
        Ok(Arc::new(RealFile {
            file: open.open(path)?,
            record: SyncRecord::default(),
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }

    fn map(&self, path: &Path) -> io::Result<Arc<dyn Mapped>> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            // A zero-length mapping is an error on Linux; an empty file maps to no bytes.
            return Ok(Arc::new(RealMap { map: None }));
        }
        // SAFETY: shardlog never truncates or rewrites a file once it is mapped: only
        // sealed segments and their index files are mapped, they are immutable, and
        // deletion unlinks (the mapping stays valid). See UNSAFE.md.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Arc::new(RealMap { map: Some(map) }))
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn open_volume_sync(&self, dir: &Path) -> io::Result<Option<Arc<dyn VolumeSync>>> {
        let dir = File::open(dir)?;
        let device = dir.metadata()?.dev();
        Ok(Some(Arc::new(RealVolume { dir, device })))
    }
}

impl FileHandle for RealFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.file.write_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.record.sync(|| self.file.sync_data())
    }

    /// `sync_file_range` with `WAIT_BEFORE | WAIT_AFTER` over the whole file: waits for
    /// write-back in progress and reports this descriptor's unseen write-back errors
    /// (`file_check_and_advance_wb_err`, as `fdatasync` does), but writes nothing and
    /// flushes neither metadata nor the device cache: the `syncfs` before it did. Pages
    /// a pipelined write dirtied since belong to a later round and its sync.
    fn check_written(&self) -> io::Result<()> {
        let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        self.record.sync(|| {
            // SAFETY: the call takes a descriptor and integers and touches no memory of
            // ours; the descriptor is open for as long as `self.file` is borrowed here.
            let result = unsafe { libc::sync_file_range(self.file.as_raw_fd(), 0, 0, flags) };
            if result == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        })
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        let current = self.len()?;
        if current >= len {
            return Ok(());
        }
        let mode = rustix::fs::FallocateFlags::empty();
        match rustix::fs::fallocate(&self.file, mode, current, len - current) {
            Ok(()) => Ok(()),
            // A file system without fallocate: extending is all that can be done.
            Err(rustix::io::Errno::OPNOTSUPP) => self.file.set_len(len),
            Err(errno) => Err(errno.into()),
        }
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.file.as_raw_fd())
    }

    /// A fault-injecting layer failed a sync of this handle: the kernel does the
    /// rest, the record must know.
    fn sync_failed(&self) {
        self.record.note_failure();
    }

    fn sync_record(&self) -> Option<&SyncRecord> {
        Some(&self.record)
    }
}

#[cfg(test)]
mod tests {
    //! Modes of the files RealFs creates.
    use super::*;
    use crate::io::write_private_file_atomic;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// A private file is created with mode 0600, also over a temporary file an
    /// interrupted write left behind with a wider mode.
    #[test]
    fn private_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs::shared();
        let secret = dir.path().join("KEY");
        fs::write(dir.path().join("KEY.tmp"), b"stale").unwrap();
        fs::set_permissions(
            dir.path().join("KEY.tmp"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        write_private_file_atomic(fs.as_ref(), &secret, b"secret").unwrap();
        assert_eq!(fs::read(&secret).unwrap(), b"secret");
        assert_eq!(mode(&secret), 0o600);
    }

    /// A volume sync of a real directory succeeds with its files' checks after it,
    /// and holds the directory's files but not those of another file system.
    #[test]
    fn volume_sync_covers_its_file_system_only() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs::shared();
        let volume = fs
            .open_volume_sync(dir.path())
            .unwrap()
            .expect("Linux has syncfs");
        let path = dir.path().join("f");
        let file = fs.open(&path, OpenOptions::CREATE).unwrap();
        file.write_at(b"bytes", 0).unwrap();
        volume.sync_volume().unwrap();
        file.check_written().unwrap();
        assert!(volume.holds(&path));
        assert!(
            !volume.holds(Path::new("/proc/self")),
            "procfs is another file system"
        );
        assert!(!volume.holds(&dir.path().join("missing")));
    }
}
