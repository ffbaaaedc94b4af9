//! A file system that injects faults into another, so that tests can fail the Nth
//! write, sync, open, creation, rename, removal or truncation of a chosen file, or
//! the Nth creation or sync of a directory.
#![forbid(unsafe_code)]

use super::{FileHandle, FileSystem, Injected, Mapped, OpenOptions, SyncRecord, VolumeSync};
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Operations a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOp {
    /// `FileHandle::write_at` (and backend writes that bypass it).
    Write,
    /// `FileHandle::sync_data` (and backend syncs that bypass it), and
    /// `FileHandle::check_written`, a file's part of a volume sync.
    Sync,
    /// `VolumeSync::sync_volume` (its path: the directory the handle was opened on).
    SyncVolume,
    /// `FileSystem::sync_dir`.
    SyncDir,
    /// `FileSystem::open`.
    Open,
    /// `FileSystem::rename` (matches if either path matches).
    Rename,
    /// `FileSystem::remove_file` and `FileSystem::remove_dir`.
    Remove,
    /// `FileHandle::set_len`.
    SetLen,
    /// `FileSystem::open` with [`OpenOptions::create`] (a rule for [`IoOp::Open`]
    /// sees these opens too, first).
    Create,
    /// `FileSystem::create_dir_all`.
    CreateDir,
    /// `FileSystem::ring_setup`: the setup of an io_uring ring (no path; only rules
    /// without `path_contains` match it).
    RingSetup,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Fail with this OS error number (`libc::EIO`, `libc::ENOSPC`, ...) without
    /// performing the operation.
    Error(i32),
    /// Write at most this many bytes and report the short count (writes only). On
    /// an `O_DIRECT` handle, keep it a multiple of the alignment or the inner write
    /// fails with `EINVAL`.
    ShortWrite {
        /// Bytes actually written.
        bytes: usize,
    },
}

/// A fault rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The operation it targets.
    pub op: IoOp,
    /// Only paths containing this string (all paths when `None`).
    pub path_contains: Option<String>,
    /// Let this many matching operations pass first.
    pub skip: u64,
    /// Fire this many times (`u64::MAX`: until cleared).
    pub times: u64,
    /// What to do.
    pub action: FaultAction,
}

/// A file system that injects faults into another.
///
/// Rules are consulted in the order they were added. A rule that matches an
/// operation counts it (first as skipped, then as fired); the first rule that fires
/// decides the operation, and the rules after it do not see that operation.
#[derive(Debug)]
pub struct FaultyFs {
    inner: Arc<dyn FileSystem>,
    rules: Arc<Mutex<RuleBook>>,
}

/// The rules, shared by the file system and its handles.
#[derive(Debug, Default)]
struct RuleBook {
    rules: Vec<Rule>,
    /// Faults fired since the file system was created (kept across `clear`).
    fired: u64,
}

#[derive(Debug)]
struct Rule {
    fault: Fault,
    skipped: u64,
    fired: u64,
}

/// A volume sync that goes through the rules.
#[derive(Debug)]
struct FaultyVolume {
    inner: Arc<dyn VolumeSync>,
    dir: PathBuf,
    rules: Arc<Mutex<RuleBook>>,
}

impl VolumeSync for FaultyVolume {
    fn sync_volume(&self) -> io::Result<()> {
        check_error(&self.rules, IoOp::SyncVolume, &[&self.dir])?;
        self.inner.sync_volume()
    }

    fn holds(&self, path: &Path) -> bool {
        self.inner.holds(path)
    }
}

/// A handle whose writes, syncs and truncations go through the rules.
#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn FileHandle>,
    path: PathBuf,
    rules: Arc<Mutex<RuleBook>>,
}

impl FaultyFs {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn FileSystem>) -> Arc<FaultyFs> {
        Arc::new(FaultyFs {
            inner,
            rules: Arc::default(),
        })
    }

    /// Adds a fault rule.
    ///
    /// # Panics
    /// If the action is a short write and the operation is not [`IoOp::Write`].
    pub fn inject(&self, fault: Fault) {
        let is_short_write = matches!(fault.action, FaultAction::ShortWrite { .. });
        assert!(
            !is_short_write || fault.op == IoOp::Write,
            "a short write only applies to IoOp::Write, not {:?}",
            fault.op
        );
        lock(&self.rules).rules.push(Rule {
            fault,
            skipped: 0,
            fired: 0,
        });
    }

    /// Removes every rule. The count of fired faults is kept.
    pub fn clear(&self) {
        lock(&self.rules).rules.clear();
    }

    /// Number of faults fired so far.
    pub fn fired(&self) -> u64 {
        lock(&self.rules).fired
    }
}

impl RuleBook {
    /// The action of the first rule that fires on an operation of kind `op` on
    /// `paths`, counting the operation in every rule it reaches.
    fn check(&mut self, op: IoOp, paths: &[&Path]) -> Option<FaultAction> {
        for rule in &mut self.rules {
            let fault = &rule.fault;
            if fault.op != op || rule.fired >= fault.times || !rule.matches(paths) {
                continue;
            }
            if rule.skipped < fault.skip {
                rule.skipped += 1;
                continue;
            }
            rule.fired += 1;
            self.fired += 1;
            return Some(fault.action);
        }
        None
    }
}

impl Rule {
    fn matches(&self, paths: &[&Path]) -> bool {
        match &self.fault.path_contains {
            None => true,
            Some(part) => paths
                .iter()
                .any(|path| path.to_string_lossy().contains(part.as_str())),
        }
    }
}

/// Fails with the fault's error if a rule fires on this operation, which must not
/// be a write.
fn check_error(rules: &Mutex<RuleBook>, op: IoOp, paths: &[&Path]) -> io::Result<()> {
    // Bound first so that the lock is released before the operation runs.
    let action = lock(rules).check(op, paths);
    match action {
        None => Ok(()),
        Some(FaultAction::Error(errno)) => Err(io::Error::from_raw_os_error(errno)),
        Some(FaultAction::ShortWrite { .. }) => {
            unreachable!("inject admits short writes only for IoOp::Write")
        }
    }
}

impl FileSystem for FaultyFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        check_error(&self.rules, IoOp::CreateDir, &[path])?;
        self.inner.create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(path)
    }

    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        check_error(&self.rules, IoOp::Open, &[path])?;
        if options.create {
            check_error(&self.rules, IoOp::Create, &[path])?;
        }
        Ok(Arc::new(FaultyFile {
            inner: self.inner.open(path, options)?,
            path: path.to_path_buf(),
            rules: Arc::clone(&self.rules),
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        check_error(&self.rules, IoOp::Remove, &[path])?;
        self.inner.remove_file(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        check_error(&self.rules, IoOp::Remove, &[path])?;
        self.inner.remove_dir(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        check_error(&self.rules, IoOp::Rename, &[from, to])?;
        self.inner.rename(from, to)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        check_error(&self.rules, IoOp::SyncDir, &[path])?;
        self.inner.sync_dir(path)
    }

    fn map(&self, path: &Path) -> io::Result<Arc<dyn Mapped>> {
        self.inner.map(path)
    }

    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }

    fn open_volume_sync(&self, dir: &Path) -> io::Result<Option<Arc<dyn VolumeSync>>> {
        let Some(inner) = self.inner.open_volume_sync(dir)? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(FaultyVolume {
            inner,
            dir: dir.to_path_buf(),
            rules: Arc::clone(&self.rules),
        })))
    }

    fn ring_setup(&self) -> io::Result<()> {
        check_error(&self.rules, IoOp::RingSetup, &[])?;
        self.inner.ring_setup()
    }
}

impl FileHandle for FaultyFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let action = lock(&self.rules).check(IoOp::Write, &[&self.path]);
        match action {
            None => self.inner.write_at(buf, offset),
            Some(FaultAction::Error(errno)) => Err(io::Error::from_raw_os_error(errno)),
            Some(FaultAction::ShortWrite { bytes }) if bytes.min(buf.len()) == 0 => Ok(0),
            Some(FaultAction::ShortWrite { bytes }) => {
                self.inner.write_at(&buf[..bytes.min(buf.len())], offset)
            }
        }
    }

    fn sync_data(&self) -> io::Result<()> {
        if let Err(error) = check_error(&self.rules, IoOp::Sync, &[&self.path]) {
            self.inner.sync_failed();
            return Err(error);
        }
        self.inner.sync_data()
    }

    /// Fails as a failed sync of this file would, for the rules of [`IoOp::Sync`].
    fn check_written(&self) -> io::Result<()> {
        if let Err(error) = check_error(&self.rules, IoOp::Sync, &[&self.path]) {
            self.inner.sync_failed();
            return Err(error);
        }
        self.inner.check_written()
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        check_error(&self.rules, IoOp::SetLen, &[&self.path])?;
        self.inner.set_len(len)
    }

    /// Not a fault point: a failed reservation only leaves the next write to
    /// extend the file, so `SetLen` rules stay for the truncations they target.
    fn allocate(&self, len: u64) -> io::Result<()> {
        self.inner.allocate(len)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }

    fn sync_failed(&self) {
        self.inner.sync_failed();
    }

    fn sync_record(&self) -> Option<&SyncRecord> {
        self.inner.sync_record()
    }

    /// Consumes the rules exactly as `write_at` (`Some(len)`) or `sync_data`
    /// (`None`) would, without performing I/O; asks the inner handle when no rule
    /// fires, so that injecting file systems stack.
    fn injected_fault(&self, write_len: Option<usize>) -> Option<Injected> {
        let op = if write_len.is_some() {
            IoOp::Write
        } else {
            IoOp::Sync
        };
        let action = lock(&self.rules).check(op, &[&self.path]);
        match (action, write_len) {
            (None, _) => self.inner.injected_fault(write_len),
            (Some(FaultAction::Error(errno)), write_len) => {
                if write_len.is_none() {
                    self.inner.sync_failed();
                }
                Some(Injected::Error(io::Error::from_raw_os_error(errno)))
            }
            (Some(FaultAction::ShortWrite { bytes }), Some(len)) => {
                Some(Injected::Short(bytes.min(len)))
            }
            (Some(FaultAction::ShortWrite { .. }), None) => {
                unreachable!("inject admits short writes only for IoOp::Write")
            }
        }
    }
}

/// Locks the rules. Rule bookkeeping cannot be left half-done by a panic elsewhere,
/// so a poisoned lock is still usable.
fn lock(rules: &Mutex<RuleBook>) -> MutexGuard<'_, RuleBook> {
    rules
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    //! Each fault action fires on the operations its rule selects, as often as it
    //! says, and everything else passes through to the inner file system.
    use super::*;
    use crate::io::{read_file, write_all_at, MemFs, RealFs};

    fn fault(op: IoOp, action: FaultAction) -> Fault {
        Fault {
            op,
            path_contains: None,
            skip: 0,
            times: 1,
            action,
        }
    }

    const EIO: FaultAction = FaultAction::Error(libc::EIO);

    /// A FaultyFs over a MemFs with an empty directory `/d`.
    fn faulty() -> Arc<FaultyFs> {
        let fs = FaultyFs::new(MemFs::new());
        fs.create_dir_all(Path::new("/d")).unwrap();
        fs
    }

    fn has_errno<T: std::fmt::Debug>(result: io::Result<T>, errno: i32) -> bool {
        matches!(result, Err(error) if error.raw_os_error() == Some(errno))
    }

    /// A write fault fails the write without performing it, once.
    #[test]
    fn error_on_write() {
        let fs = faulty();
        let file = fs.open(Path::new("/d/f"), OpenOptions::CREATE).unwrap();
        fs.inject(fault(IoOp::Write, FaultAction::Error(libc::ENOSPC)));
        assert!(has_errno(file.write_at(b"abc", 0), libc::ENOSPC));
        assert_eq!(file.len().unwrap(), 0);
        assert_eq!(file.write_at(b"abc", 0).unwrap(), 3);
        assert_eq!(fs.fired(), 1);
    }

    /// Sync, set_len, open, remove, sync_dir, create and create_dir faults fail their
    /// operation and leave the state alone.
    #[test]
    fn error_on_each_other_operation() {
        let fs = faulty();
        let path = Path::new("/d/f");
        let file = fs.open(path, OpenOptions::CREATE).unwrap();
        file.write_at(b"abc", 0).unwrap();
        for op in [
            IoOp::Sync,
            IoOp::SetLen,
            IoOp::Open,
            IoOp::Remove,
            IoOp::SyncDir,
            IoOp::Create,
            IoOp::CreateDir,
        ] {
            fs.inject(fault(op, EIO));
        }
        assert!(has_errno(file.sync_data(), libc::EIO));
        assert!(has_errno(file.set_len(0), libc::EIO));
        assert_eq!(file.len().unwrap(), 3);
        assert!(has_errno(fs.open(path, OpenOptions::READ), libc::EIO));
        assert!(has_errno(fs.remove_file(path), libc::EIO));
        assert!(fs.exists(path));
        assert!(has_errno(fs.sync_dir(Path::new("/d")), libc::EIO));
        assert!(has_errno(
            fs.open(Path::new("/d/g"), OpenOptions::CREATE),
            libc::EIO
        ));
        assert!(!fs.exists(Path::new("/d/g")));
        assert!(has_errno(fs.create_dir_all(Path::new("/d/e")), libc::EIO));
        assert!(!fs.exists(Path::new("/d/e")));
        assert_eq!(fs.fired(), 7);
        file.sync_data().unwrap();
        file.set_len(1).unwrap();
        fs.remove_file(path).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        fs.create_dir_all(Path::new("/d/e")).unwrap();
        assert_eq!(fs.fired(), 7);
    }

    /// A rename fault matches on either path and leaves both names in place.
    #[test]
    fn error_on_rename_matches_either_path() {
        let fs = faulty();
        for name in ["/d/from", "/d/to"] {
            fs.open(Path::new(name), OpenOptions::CREATE).unwrap();
        }
        for part in ["from", "to"] {
            fs.inject(Fault {
                path_contains: Some(part.to_owned()),
                ..fault(IoOp::Rename, EIO)
            });
            let renamed = fs.rename(Path::new("/d/from"), Path::new("/d/to"));
            assert!(has_errno(renamed, libc::EIO), "matching {part}");
            assert!(fs.exists(Path::new("/d/from")) && fs.exists(Path::new("/d/to")));
        }
        fs.rename(Path::new("/d/from"), Path::new("/d/to")).unwrap();
        assert!(!fs.exists(Path::new("/d/from")));
    }

    /// A short write writes a prefix and reports it; write_all_at then finishes the job.
    #[test]
    fn short_write() {
        let fs = faulty();
        let file = fs.open(Path::new("/d/f"), OpenOptions::CREATE).unwrap();
        fs.inject(Fault {
            times: 2,
            ..fault(IoOp::Write, FaultAction::ShortWrite { bytes: 3 })
        });
        assert_eq!(file.write_at(b"abcdef", 0).unwrap(), 3);
        assert_eq!(read_file(fs.as_ref(), Path::new("/d/f")).unwrap(), b"abc");
        write_all_at(file.as_ref(), b"0123456789", 0).unwrap();
        assert_eq!(fs.fired(), 2);
        assert_eq!(
            read_file(fs.as_ref(), Path::new("/d/f")).unwrap(),
            b"0123456789"
        );
    }

    /// A rule lets `skip` operations pass, fires `times` times, then is spent.
    #[test]
    fn skip_then_times() {
        let fs = faulty();
        let file = fs.open(Path::new("/d/f"), OpenOptions::CREATE).unwrap();
        fs.inject(Fault {
            skip: 2,
            times: 2,
            ..fault(IoOp::Sync, EIO)
        });
        let outcomes: Vec<bool> = (0..6).map(|_| file.sync_data().is_ok()).collect();
        assert_eq!(outcomes, [true, true, false, false, true, true]);
        assert_eq!(fs.fired(), 2);
    }

    /// A forever rule keeps firing until cleared; the fired count survives the clear.
    #[test]
    fn forever_until_clear() {
        let fs = faulty();
        let file = fs.open(Path::new("/d/f"), OpenOptions::CREATE).unwrap();
        fs.inject(Fault {
            times: u64::MAX,
            ..fault(IoOp::Write, EIO)
        });
        for _ in 0..5 {
            assert!(has_errno(file.write_at(b"x", 0), libc::EIO));
        }
        fs.clear();
        assert_eq!(file.write_at(b"x", 0).unwrap(), 1);
        assert_eq!(fs.fired(), 5);
    }

    /// Only paths containing `path_contains` are affected, including handles of other files.
    #[test]
    fn path_filter() {
        let fs = faulty();
        let segment = fs
            .open(Path::new("/d/00001.seg"), OpenOptions::CREATE)
            .unwrap();
        let index = fs
            .open(Path::new("/d/00001.idx"), OpenOptions::CREATE)
            .unwrap();
        fs.inject(Fault {
            path_contains: Some(".seg".to_owned()),
            times: u64::MAX,
            ..fault(IoOp::Write, EIO)
        });
        assert_eq!(index.write_at(b"i", 0).unwrap(), 1);
        assert!(has_errno(segment.write_at(b"s", 0), libc::EIO));
        assert_eq!(fs.fired(), 1);
    }

    /// injected_fault consumes Write rules for Some(len) and Sync rules for None, without I/O.
    #[test]
    fn injected_fault_consumes_rules_without_io() {
        let fs = faulty();
        let file = fs.open(Path::new("/d/f"), OpenOptions::CREATE).unwrap();
        fs.inject(Fault {
            skip: 1,
            ..fault(IoOp::Write, FaultAction::ShortWrite { bytes: 100 })
        });
        fs.inject(fault(IoOp::Sync, EIO));
        assert!(file.injected_fault(Some(4096)).is_none());
        let short = file.injected_fault(Some(4096));
        assert!(matches!(short, Some(Injected::Short(100))), "{short:?}");
        assert!(file.injected_fault(Some(4096)).is_none());
        let sync = file.injected_fault(None);
        let is_eio =
            matches!(&sync, Some(Injected::Error(e)) if e.raw_os_error() == Some(libc::EIO));
        assert!(is_eio, "{sync:?}");
        assert!(file.injected_fault(None).is_none());
        file.sync_data().unwrap();
        assert_eq!(file.write_at(b"x", 0).unwrap(), 1);
        assert_eq!(file.len().unwrap(), 1);
        assert_eq!(fs.fired(), 2);
    }

    /// A short-write fault larger than the write reports the whole length.
    #[test]
    fn injected_short_write_is_capped_at_the_length() {
        let fs = faulty();
        let file = fs.open(Path::new("/d/f"), OpenOptions::CREATE).unwrap();
        fs.inject(fault(IoOp::Write, FaultAction::ShortWrite { bytes: 9000 }));
        let short = file.injected_fault(Some(4096));
        assert!(matches!(short, Some(Injected::Short(4096))), "{short:?}");
    }

    /// Handles report the inner handle's descriptor, so io_uring can use them.
    #[test]
    fn raw_fd_passes_through() {
        let dir = tempfile::tempdir().unwrap();
        let real = FaultyFs::new(RealFs::shared());
        let file = real
            .open(&dir.path().join("f"), OpenOptions::CREATE)
            .unwrap();
        assert!(file.raw_fd().is_some());
        let mem = faulty();
        let file = mem.open(Path::new("/d/f"), OpenOptions::CREATE).unwrap();
        assert_eq!(file.raw_fd(), None);
    }

    /// A short write is rejected for operations other than writes.
    #[test]
    #[should_panic(expected = "short write only applies to IoOp::Write")]
    fn short_write_on_sync_is_rejected() {
        faulty().inject(fault(IoOp::Sync, FaultAction::ShortWrite { bytes: 1 }));
    }
}
