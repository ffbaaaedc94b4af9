//! An in-memory file system with power-loss simulation.
//!
//! The model, which [`MemFs::crash`] relies on:
//! - A file is an inode. A directory maps names to inodes; unlinking a name leaves
//!   the inode alive for the handles that still hold it.
//! - Each inode keeps its current bytes, its durable bytes (as of its last
//!   `sync_data`) and the unsynced changes since then (writes and `set_len`s), in
//!   order. Replaying the unsynced changes onto the durable bytes gives the current
//!   bytes; `sync_data` does exactly that, so its cost is the bytes changed since
//!   the last sync, not the file's size.
//! - Each directory keeps its current entries, its durable entries (as of its last
//!   `sync_dir`) and the unsynced entry changes since then. Directories themselves
//!   are always durable; only their entries are not.
//! - A crash rebuilds every reachable inode and directory from its durable state
//!   plus, in [`CrashMode::Random`], some of its unsynced changes, and makes every
//!   handle opened before it stale.
#![forbid(unsafe_code)]

use super::{FileHandle, FileSystem, Mapped, OpenOptions, DIRECT_IO_ALIGNMENT};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Granularity at which [`CrashMode::Random`] tears a surviving write: a torn write
/// keeps its bytes up to a sector boundary (in file offsets) inside it, as a disk
/// that writes 4 KiB sectors atomically would.
const TORN_WRITE_SECTOR_BYTES: usize = 4096;

/// Largest file length `MemFs` accepts (4 GiB): a write or `set_len` beyond it fails
/// with `EFBIG` instead of trying to allocate the memory.
const FILE_BYTES_MAX: u64 = 1 << 32;

/// What survives a simulated power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Keep exactly what was synced; drop every unsynced change.
    DropUnsynced,
    /// Keep a random subset of the unsynced changes (each write possibly torn to a
    /// prefix that ends on a 4 KiB sector boundary of the file), applied in a
    /// random order, chosen by `seed`. Each unsynced directory entry change (a
    /// creation, removal or rename) survives or not at random, in its original order;
    /// a rename within one directory is atomic, a rename across two directories is
    /// two independent changes.
    Random {
        /// Seed of the choice, so that a failing case can be replayed.
        seed: u64,
    },
}

/// An in-memory file system that remembers what was synced.
///
/// Cheap to share: `Send + Sync`, one lock around the directory tree and one per
/// file, taken in that order.
pub struct MemFs {
    shared: Arc<Shared>,
    /// For a session (see [`MemFs::session`]), the epoch it belongs to: once a
    /// crash has moved past it, every operation fails, as a process that lost
    /// power can do nothing more.
    session_epoch: Option<u64>,
}

/// What the file system and its handles share.
struct Shared {
    /// Directories by normalised path. The roots `/` and `` always exist.
    dirs: Mutex<BTreeMap<PathBuf, Dir>>,
    /// Number of crashes so far: a handle opened in an earlier epoch is stale.
    epoch: AtomicU64,
    /// Number of `sync_data` and `sync_dir` calls.
    sync_count: AtomicU64,
    /// Source of inode ids.
    next_inode_id: AtomicU64,
}

/// One namespace change of a directory, applied atomically: each name is set to an
/// inode (created, renamed to) or to `None` (removed, renamed from).
type EntryChange = Vec<(String, Option<Arc<Inode>>)>;

#[derive(Default)]
struct Dir {
    current: BTreeMap<String, Arc<Inode>>,
    durable: BTreeMap<String, Arc<Inode>>,
    unsynced: Vec<EntryChange>,
}

struct Inode {
    /// Identity, so that a crash rebuilds an inode reachable by two names once.
    id: u64,
    data: Mutex<InodeData>,
}

/// Invariant: `durable` with `unsynced` replayed in order equals `current`, unless
/// `lost_writes` is set: a failed sync dropped changes that `current` (the page
/// cache) still shows but the device never got.
struct InodeData {
    current: Vec<u8>,
    durable: Vec<u8>,
    unsynced: Vec<Change>,
    lost_writes: bool,
}

/// An unsynced change of a file's bytes.
#[derive(Clone)]
enum Change {
    Write { offset: usize, bytes: Vec<u8> },
    SetLen(usize),
}

struct MemFile {
    shared: Arc<Shared>,
    inode: Arc<Inode>,
    /// The epoch the handle was opened in.
    epoch: u64,
    options: OpenOptions,
}

/// A snapshot of a file's bytes.
struct MemMap {
    bytes: Arc<[u8]>,
}

impl MemFs {
    /// A new, empty file system.
    pub fn new() -> Arc<MemFs> {
        Arc::new(MemFs::default())
    }

    /// Simulates a power loss: every file and directory falls back to its durable
    /// state plus whatever unsynced changes `mode` lets survive, and every handle
    /// opened before the crash becomes stale. Mappings keep their snapshot.
    pub fn crash(&self, mode: CrashMode) {
        let mut dirs = self.dirs();
        // Bumped before any inode is read: a handle checks the epoch while holding
        // its inode's lock, so a write either lands before the inode is read here or
        // fails as stale.
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
        let mut rng = match mode {
            CrashMode::DropUnsynced => None,
            CrashMode::Random { seed } => Some(SplitMix64(seed)),
        };
        let mut rebuilt: HashMap<u64, Arc<Inode>> = HashMap::new();
        for dir in dirs.values_mut() {
            let mut entries = std::mem::take(&mut dir.durable);
            for change in dir.unsynced.drain(..) {
                if rng.as_mut().is_some_and(SplitMix64::coin) {
                    apply_entry_change(&mut entries, &change);
                }
            }
            for inode in entries.values_mut() {
                *inode = rebuilt
                    .entry(inode.id)
                    .or_insert_with(|| Arc::new(inode.after_crash(rng.as_mut())))
                    .clone();
            }
            dir.current = entries.clone();
            dir.durable = entries;
        }
    }

    /// A view of the same file system for one "process": it works until the next
    /// [`crash`](MemFs::crash), after which each of its operations fails (handles
    /// opened through it were already stale). Without sessions, a thread that
    /// began an operation before a crash could finish it against the state after
    /// it (create a file, sync a directory) and be acknowledged for work that the
    /// power loss undid; a real process does not outlive its power loss.
    pub fn session(&self) -> Arc<MemFs> {
        Arc::new(MemFs {
            shared: Arc::clone(&self.shared),
            session_epoch: Some(self.shared.epoch.load(Ordering::SeqCst)),
        })
    }

    /// `Ok` unless this is a session that a crash ended. Called with the directory
    /// lock held, which [`crash`](MemFs::crash) holds while it bumps the epoch, so
    /// an operation lands wholly before the crash or fails.
    fn alive(&self) -> io::Result<()> {
        match self.session_epoch {
            Some(epoch) if epoch != self.shared.epoch.load(Ordering::SeqCst) => {
                Err(io::Error::other("stale session: the file system crashed"))
            }
            _ => Ok(()),
        }
    }

    /// Whether the file at `path` has no unsynced data: its bytes would all
    /// survive a crash now (its name is a matter of its directory). `None` if
    /// there is no such file.
    pub fn is_synced(&self, path: impl AsRef<Path>) -> Option<bool> {
        let dirs = self.dirs();
        let inode = file_entry(&dirs, &normalize(path.as_ref()))?;
        let synced = lock(&inode.data).unsynced.is_empty();
        Some(synced)
    }

    /// Number of `sync_data` and `sync_dir` calls so far.
    pub fn sync_count(&self) -> u64 {
        self.shared.sync_count.load(Ordering::SeqCst)
    }

    fn dirs(&self) -> MutexGuard<'_, BTreeMap<PathBuf, Dir>> {
        lock(&self.shared.dirs)
    }
}

impl Default for MemFs {
    fn default() -> Self {
        let roots = [
            ("/".into(), Dir::default()),
            (PathBuf::new(), Dir::default()),
        ];
        MemFs {
            shared: Arc::new(Shared {
                dirs: Mutex::new(BTreeMap::from(roots)),
                epoch: AtomicU64::new(0),
                sync_count: AtomicU64::new(0),
                next_inode_id: AtomicU64::new(0),
            }),
            session_epoch: None,
        }
    }
}

impl fmt::Debug for MemFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let epoch = self.shared.epoch.load(Ordering::SeqCst);
        write!(
            f,
            "MemFs {{ epoch: {epoch}, sync_count: {} }}",
            self.sync_count()
        )
    }
}

impl FileSystem for MemFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut dirs = self.dirs();
        self.alive()?;
        // Check every ancestor before creating any, so that a failure changes nothing.
        for ancestor in path.ancestors() {
            if file_entry(&dirs, ancestor).is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("a file is in the way: {}", ancestor.display()),
                ));
            }
        }
        for ancestor in path.ancestors() {
            dirs.entry(ancestor.to_path_buf()).or_default();
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let path = normalize(path);
        let dirs = self.dirs();
        self.alive()?;
        let dir = dirs
            .get(&path)
            .ok_or_else(|| not_found("directory", &path))?;
        let mut names: Vec<String> = dir.current.keys().cloned().collect();
        let subdirs = dirs
            .keys()
            .filter(|sub| sub.parent() == Some(path.as_path()));
        names.extend(subdirs.filter_map(|sub| Some(sub.file_name()?.to_str()?.to_owned())));
        names.sort();
        Ok(names)
    }

    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        let (dir_path, name) = split(path)?;
        let mut dirs = self.dirs();
        self.alive()?;
        let dir = parent_dir(&mut dirs, &dir_path, &name)?;
        let inode = match dir.current.get(&name) {
            Some(inode) => Arc::clone(inode),
            None if options.create => {
                let id = self.shared.next_inode_id.fetch_add(1, Ordering::SeqCst);
                let inode = Arc::new(Inode::new(id, Vec::new()));
                dir.change(vec![(name, Some(Arc::clone(&inode)))]);
                inode
            }
            None => return Err(not_found("file", path)),
        };
        Ok(Arc::new(MemFile {
            shared: Arc::clone(&self.shared),
            inode,
            epoch: self.shared.epoch.load(Ordering::SeqCst),
            options,
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let (dir_path, name) = split(path)?;
        let mut dirs = self.dirs();
        self.alive()?;
        let dir = parent_dir(&mut dirs, &dir_path, &name)?;
        if !dir.current.contains_key(&name) {
            return Err(not_found("file", path));
        }
        dir.change(vec![(name, None)]);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_dir, from_name) = split(from)?;
        let (to_dir, to_name) = split(to)?;
        let mut dirs = self.dirs();
        self.alive()?;
        let inode =
            file_entry(&dirs, &from_dir.join(&from_name)).ok_or_else(|| not_found("file", from))?;
        if dirs.contains_key(&to_dir.join(&to_name)) {
            return Err(io::Error::from_raw_os_error(libc::EISDIR));
        }
        if !dirs.contains_key(&to_dir) {
            return Err(not_found("directory", &to_dir));
        }
        if (&from_dir, &from_name) == (&to_dir, &to_name) {
            return Ok(());
        }
        let mut change_in = |path: &Path, change: EntryChange| {
            let dir = dirs.get_mut(path);
            dir.expect("both directories were checked to exist")
                .change(change);
        };
        if from_dir == to_dir {
            change_in(&from_dir, vec![(from_name, None), (to_name, Some(inode))]);
        } else {
            change_in(&from_dir, vec![(from_name, None)]);
            change_in(&to_dir, vec![(to_name, Some(inode))]);
        }
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut dirs = self.dirs();
        self.alive()?;
        let dir = dirs
            .get_mut(&path)
            .ok_or_else(|| not_found("directory", &path))?;
        dir.durable = dir.current.clone();
        dir.unsynced.clear();
        self.shared.sync_count.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn map(&self, path: &Path) -> io::Result<Arc<dyn Mapped>> {
        let dirs = self.dirs();
        self.alive()?;
        let inode = file_entry(&dirs, &normalize(path)).ok_or_else(|| not_found("file", path))?;
        let bytes = Arc::from(lock(&inode.data).current.as_slice());
        Ok(Arc::new(MemMap { bytes }))
    }

    fn exists(&self, path: &Path) -> bool {
        let path = normalize(path);
        let dirs = self.dirs();
        self.alive().is_ok() && (dirs.contains_key(&path) || file_entry(&dirs, &path).is_some())
    }
}

impl Dir {
    /// Applies a namespace change to the current entries and remembers it until the
    /// next `sync_dir`.
    fn change(&mut self, change: EntryChange) {
        apply_entry_change(&mut self.current, &change);
        self.unsynced.push(change);
    }
}

fn apply_entry_change(entries: &mut BTreeMap<String, Arc<Inode>>, change: &EntryChange) {
    for (name, target) in change {
        match target {
            Some(inode) => entries.insert(name.clone(), Arc::clone(inode)),
            None => entries.remove(name),
        };
    }
}

/// The directory `dir_path` that is to hold the file `name`: `NotFound` if it does
/// not exist, `EISDIR` if `name` is a subdirectory.
fn parent_dir<'a>(
    dirs: &'a mut BTreeMap<PathBuf, Dir>,
    dir_path: &Path,
    name: &str,
) -> io::Result<&'a mut Dir> {
    if dirs.contains_key(&dir_path.join(name)) {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    dirs.get_mut(dir_path)
        .ok_or_else(|| not_found("directory", dir_path))
}

/// The inode a normalised file path names, if any.
fn file_entry(dirs: &BTreeMap<PathBuf, Dir>, path: &Path) -> Option<Arc<Inode>> {
    let name = path.file_name()?.to_str()?;
    let dir = dirs.get(path.parent()?)?;
    dir.current.get(name).cloned()
}

impl Inode {
    fn new(id: u64, bytes: Vec<u8>) -> Inode {
        Inode {
            id,
            data: Mutex::new(InodeData {
                current: bytes.clone(),
                durable: bytes,
                unsynced: Vec::new(),
                lost_writes: false,
            }),
        }
    }

    /// A fresh inode with the bytes this one has after a power loss: its durable
    /// bytes plus, with a random source, a random subset of its unsynced changes
    /// (writes possibly torn), applied in a random order.
    fn after_crash(&self, rng: Option<&mut SplitMix64>) -> Inode {
        let data = lock(&self.data);
        let mut bytes = data.durable.clone();
        if let Some(rng) = rng {
            let mut survivors: Vec<Change> = Vec::new();
            for change in &data.unsynced {
                if rng.coin() {
                    survivors.push(rng.maybe_torn(change));
                }
            }
            rng.shuffle(&mut survivors);
            for change in &survivors {
                apply_change(&mut bytes, change);
            }
        }
        Inode::new(self.id, bytes)
    }
}

fn apply_change(bytes: &mut Vec<u8>, change: &Change) {
    match change {
        Change::Write {
            offset,
            bytes: data,
        } => write_into(bytes, *offset, data),
        Change::SetLen(len) => bytes.resize(*len, 0),
    }
}

/// Writes `data` at `offset`, extending `bytes` with zeros first if needed.
fn write_into(bytes: &mut Vec<u8>, offset: usize, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let end = offset + data.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[offset..end].copy_from_slice(data);
}

impl MemFile {
    /// The inode's data, or an error if the file system crashed since the open.
    fn data(&self) -> io::Result<MutexGuard<'_, InodeData>> {
        let data = lock(&self.inode.data);
        if self.shared.epoch.load(Ordering::SeqCst) != self.epoch {
            return Err(io::Error::other("stale handle: the file system crashed"));
        }
        Ok(data)
    }

    /// The inode's data for a change: also `EBADF` if the handle is read-only.
    fn data_to_change(&self) -> io::Result<MutexGuard<'_, InodeData>> {
        let data = self.data()?;
        if !self.options.write {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        Ok(data)
    }

    /// `O_DIRECT` rules: offset, length and buffer address aligned, else `EINVAL`.
    fn check_direct(&self, address: usize, len: usize, offset: u64) -> io::Result<()> {
        let alignment = DIRECT_IO_ALIGNMENT;
        let aligned = address.is_multiple_of(alignment)
            && len.is_multiple_of(alignment)
            && offset.is_multiple_of(alignment as u64);
        if self.options.direct && !aligned {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(())
    }
}

/// `offset` as an index into a file that must grow to `offset + len` bytes, or
/// `EFBIG` past [`FILE_BYTES_MAX`].
fn file_index(offset: u64, len: usize) -> io::Result<usize> {
    let end = offset.checked_add(len as u64);
    match end {
        Some(end) if end <= FILE_BYTES_MAX => {
            usize::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))
        }
        _ => Err(io::Error::from_raw_os_error(libc::EFBIG)),
    }
}

impl FileHandle for MemFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let data = self.data()?;
        self.check_direct(buf.as_ptr() as usize, buf.len(), offset)?;
        let start = match usize::try_from(offset) {
            Ok(start) if start < data.current.len() => start,
            _ => return Ok(0),
        };
        let count = buf.len().min(data.current.len() - start);
        buf[..count].copy_from_slice(&data.current[start..start + count]);
        Ok(count)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let mut data = self.data_to_change()?;
        self.check_direct(buf.as_ptr() as usize, buf.len(), offset)?;
        let offset = file_index(offset, buf.len())?;
        if buf.is_empty() {
            return Ok(0);
        }
        write_into(&mut data.current, offset, buf);
        data.unsynced.push(Change::Write {
            offset,
            bytes: buf.to_vec(),
        });
        Ok(buf.len())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut data = self.data()?;
        let InodeData {
            durable, unsynced, ..
        } = &mut *data;
        for change in unsynced.drain(..) {
            apply_change(durable, &change);
        }
        debug_assert!(data.lost_writes || data.durable.len() == data.current.len());
        self.shared.sync_count.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn sync_failed(&self) {
        if let Ok(mut data) = self.data() {
            data.unsynced.clear();
            data.lost_writes = true;
        }
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.data()?.current.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut data = self.data_to_change()?;
        let len = file_index(len, 0)?;
        data.current.resize(len, 0);
        data.unsynced.push(Change::SetLen(len));
        Ok(())
    }
}

impl fmt::Debug for MemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (inode, epoch, options) = (self.inode.id, self.epoch, self.options);
        write!(
            f,
            "MemFile {{ inode: {inode}, epoch: {epoch}, options: {options:?} }}"
        )
    }
}

impl Mapped for MemMap {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for MemMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemMap {{ len: {} }}", self.bytes.len())
    }
}

/// splitmix64 (Steele, Lea, Flood 2014): tiny, deterministic and good enough to
/// choose what a simulated crash keeps.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }

    /// A number in `0..bound` (`bound > 0`); the modulo bias is irrelevant here.
    fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// Fisher-Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    /// The change as it reaches the disk: a write is torn, half of the time, at a
    /// random sector boundary strictly inside it (if it spans one).
    fn maybe_torn(&mut self, change: &Change) -> Change {
        let Change::Write { offset, bytes } = change else {
            return change.clone();
        };
        let sector = TORN_WRITE_SECTOR_BYTES;
        let first_cut = (offset / sector + 1) * sector;
        let end = offset + bytes.len();
        if !self.coin() || first_cut >= end {
            return change.clone();
        }
        let cuts = (end - 1 - first_cut) / sector + 1;
        let cut = first_cut + sector * self.below(cuts);
        Change::Write {
            offset: *offset,
            bytes: bytes[..cut - offset].to_vec(),
        }
    }
}

/// Directory keys: the path without `.` components (`..` is not resolved).
fn normalize(path: &Path) -> PathBuf {
    path.components()
        .filter(|component| *component != Component::CurDir)
        .collect()
}

/// A file path as its normalised directory and its name.
fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let path = normalize(path);
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a UTF-8 file path: {}", path.display()),
            )
        })?
        .to_owned();
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    Ok((dir, name))
}

fn not_found(what: &str, path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{what} not found: {}", path.display()),
    )
}

/// Locks a mutex. Poisoning means a panic in the middle of a change of the model;
/// the state may be half-changed, so it is not trusted.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .expect("MemFs state poisoned by an earlier panic")
}

#[cfg(test)]
mod tests {
    //! MemFs behaves like a POSIX file system for the calls shardlog makes, and a
    //! simulated crash keeps exactly what the durability rules promise.
    use super::*;
    use crate::io::{read_file, write_all_at};
    use io::ErrorKind::{NotFound, Other};

    fn p(path: &str) -> &Path {
        Path::new(path)
    }

    fn bytes_of(fs: &MemFs, path: &str) -> Vec<u8> {
        read_file(fs, p(path)).expect("file must be readable")
    }

    fn open(fs: &MemFs, path: &str, options: OpenOptions) -> Arc<dyn FileHandle> {
        fs.open(p(path), options).expect("open must succeed")
    }

    /// Creates `path` with `bytes`, syncs its data and its directory.
    fn durable_file(fs: &MemFs, path: &str, bytes: &[u8]) {
        let file = open(fs, path, OpenOptions::CREATE);
        write_all_at(file.as_ref(), bytes, 0).unwrap();
        file.sync_data().unwrap();
        fs.sync_dir(p(path).parent().unwrap()).unwrap();
    }

    /// Every file of `/` with its bytes.
    fn snapshot(fs: &MemFs) -> BTreeMap<String, Vec<u8>> {
        let names = fs.list_dir(p("/")).unwrap().into_iter();
        names
            .map(|name| (name.clone(), bytes_of(fs, &format!("/{name}"))))
            .collect()
    }

    #[track_caller]
    fn assert_errno<T: fmt::Debug>(result: io::Result<T>, errno: i32) {
        let error = result.expect_err("the call must fail");
        assert_eq!(error.raw_os_error(), Some(errno), "{error}");
    }

    #[track_caller]
    fn assert_kind<T: fmt::Debug>(result: io::Result<T>, kind: io::ErrorKind) {
        let error = result.expect_err("the call must fail");
        assert_eq!(error.kind(), kind, "{error}");
    }

    /// Writes past the end zero-fill, reads stop at the end, set_len truncates and zero-extends.
    #[test]
    fn write_read_extend_and_set_len() {
        let fs = MemFs::new();
        let file = open(&fs, "/f", OpenOptions::CREATE);
        assert_eq!(file.write_at(b"hello", 0).unwrap(), 5);
        assert_eq!(file.write_at(b"x", 10).unwrap(), 1);
        assert_eq!(file.len().unwrap(), 11);
        assert_eq!(bytes_of(&fs, "/f"), b"hello\0\0\0\0\0x");
        let mut buf = [9u8; 4];
        assert_eq!(file.read_at(&mut buf, 9).unwrap(), 2);
        assert_eq!(&buf[..2], b"\0x");
        assert_eq!(file.read_at(&mut buf, 11).unwrap(), 0);
        assert_eq!(file.read_at(&mut buf, u64::MAX).unwrap(), 0);
        file.set_len(3).unwrap();
        assert_eq!(bytes_of(&fs, "/f"), b"hel");
        file.set_len(5).unwrap();
        assert_eq!(bytes_of(&fs, "/f"), b"hel\0\0");
        assert_errno(file.write_at(b"x", FILE_BYTES_MAX), libc::EFBIG);
    }

    /// Missing directories and files are NotFound; list_dir names files and subdirectories.
    #[test]
    fn namespace_errors_and_listing() {
        let fs = MemFs::new();
        assert_kind(fs.open(p("/d/f"), OpenOptions::CREATE), NotFound);
        fs.create_dir_all(p("/d/sub/deeper")).unwrap();
        assert_kind(fs.open(p("/d/f"), OpenOptions::WRITE), NotFound);
        open(&fs, "/d/./f", OpenOptions::CREATE);
        assert_eq!(fs.list_dir(p("/d/")).unwrap(), ["f", "sub"]);
        assert_eq!(fs.list_dir(p("/")).unwrap(), ["d"]);
        assert_kind(fs.list_dir(p("/nope")), NotFound);
        assert!(fs.exists(p("/d/sub")) && fs.exists(p("/d/f")) && !fs.exists(p("/d/g")));
        assert!(fs.create_dir_all(p("/d/f/x")).is_err());
        assert!(!fs.exists(p("/d/f/x")));
        assert_errno(fs.open(p("/d/sub"), OpenOptions::CREATE), libc::EISDIR);
        assert_kind(fs.remove_file(p("/d/g")), NotFound);
        open(&fs, "rel", OpenOptions::CREATE);
        assert_eq!(fs.list_dir(p("")).unwrap(), ["rel"]);
    }

    /// A removed file stays readable and writable through its handle and mapping.
    #[test]
    fn unlink_keeps_open_handle_and_mapping() {
        let fs = MemFs::new();
        let file = open(&fs, "/seg", OpenOptions::CREATE);
        file.write_at(b"abc", 0).unwrap();
        let map = fs.map(p("/seg")).unwrap();
        fs.remove_file(p("/seg")).unwrap();
        assert!(!fs.exists(p("/seg")));
        assert!(fs.list_dir(p("/")).unwrap().is_empty());
        assert_eq!(file.write_at(b"d", 3).unwrap(), 1);
        let mut buf = [0u8; 4];
        assert_eq!(file.read_at(&mut buf, 0).unwrap(), 4);
        assert_eq!(&buf, b"abcd");
        assert_eq!(map.bytes(), b"abc");
        assert_eq!(open(&fs, "/seg", OpenOptions::CREATE).len().unwrap(), 0);
    }

    /// Renaming onto an existing name replaces it; a handle on the old target keeps its inode.
    #[test]
    fn rename_replaces_target() {
        let fs = MemFs::new();
        fs.create_dir_all(p("/a")).unwrap();
        durable_file(&fs, "/a/new", b"new");
        durable_file(&fs, "/a/old", b"old");
        let old = open(&fs, "/a/old", OpenOptions::READ);
        fs.rename(p("/a/new"), p("/a/old")).unwrap();
        assert_eq!(bytes_of(&fs, "/a/old"), b"new");
        assert!(!fs.exists(p("/a/new")));
        let mut buf = [0u8; 3];
        assert_eq!(old.read_at(&mut buf, 0).unwrap(), 3);
        assert_eq!(&buf, b"old");
        fs.create_dir_all(p("/b")).unwrap();
        fs.rename(p("/a/old"), p("/b/moved")).unwrap();
        assert!(fs.list_dir(p("/a")).unwrap().is_empty());
        assert_eq!(bytes_of(&fs, "/b/moved"), b"new");
        assert_kind(fs.rename(p("/a/old"), p("/b/x")), NotFound);
    }

    /// DropUnsynced keeps synced bytes and names and nothing else; sync_count counts both syncs.
    #[test]
    fn drop_unsynced_keeps_exactly_the_synced_state() {
        let fs = MemFs::new();
        durable_file(&fs, "/log", b"abc");
        assert_eq!(fs.sync_count(), 2);
        let file = open(&fs, "/log", OpenOptions::WRITE);
        file.write_at(b"def", 3).unwrap();
        file.write_at(b"X", 0).unwrap();
        file.set_len(2).unwrap();
        open(&fs, "/unsynced-name", OpenOptions::CREATE);
        fs.remove_file(p("/log")).unwrap();
        fs.crash(CrashMode::DropUnsynced);
        assert_eq!(fs.list_dir(p("/")).unwrap(), ["log"]);
        assert_eq!(bytes_of(&fs, "/log"), b"abc");
        assert_eq!(fs.sync_count(), 2);
    }

    /// A file whose data was synced but whose directory entry was not is gone after a crash.
    #[test]
    fn synced_data_under_unsynced_name_disappears() {
        let fs = MemFs::new();
        fs.create_dir_all(p("/d")).unwrap();
        durable_file(&fs, "/d/target", b"old");
        let temp = open(&fs, "/d/fresh", OpenOptions::CREATE);
        temp.write_at(b"new", 0).unwrap();
        temp.sync_data().unwrap();
        fs.rename(p("/d/target"), p("/d/renamed")).unwrap();
        fs.crash(CrashMode::DropUnsynced);
        assert!(!fs.exists(p("/d/fresh")) && !fs.exists(p("/d/renamed")));
        assert_eq!(bytes_of(&fs, "/d/target"), b"old");
    }

    /// The state after a Random crash of a history with unsynced writes, a set_len,
    /// new names and a rename.
    fn crashed_state(seed: u64) -> BTreeMap<String, Vec<u8>> {
        let fs = MemFs::new();
        durable_file(&fs, "/base", &[1u8; 3000]);
        let file = open(&fs, "/base", OpenOptions::WRITE);
        for (i, offset) in [3000u64, 4200, 100, 7000].into_iter().enumerate() {
            file.write_at(&vec![10 + i as u8; 1500], offset).unwrap();
        }
        file.set_len(8000).unwrap();
        for name in ["/a", "/b", "/c"] {
            open(&fs, name, OpenOptions::CREATE)
                .write_at(name.as_bytes(), 0)
                .unwrap();
        }
        fs.rename(p("/a"), p("/z")).unwrap();
        fs.crash(CrashMode::Random { seed });
        snapshot(&fs)
    }

    /// The same seed gives the same state; different seeds explore different states.
    #[test]
    fn random_crash_is_deterministic_per_seed() {
        let mut distinct = std::collections::BTreeSet::new();
        for seed in 0..32 {
            let state = crashed_state(seed);
            assert_eq!(state, crashed_state(seed), "seed {seed}");
            distinct.insert(state);
        }
        assert!(distinct.len() > 8, "{} distinct states", distinct.len());
    }

    /// Synced bytes always survive; an unsynced append survives whole, not at all, or to a sector.
    #[test]
    fn random_crash_never_loses_synced_bytes_and_tears_at_sectors() {
        let mut torn = 0;
        for seed in 0..200 {
            let fs = MemFs::new();
            durable_file(&fs, "/log", &[1u8; 3000]);
            let file = open(&fs, "/log", OpenOptions::WRITE);
            file.write_at(&[7u8; 5000], 3000).unwrap();
            fs.crash(CrashMode::Random { seed });
            let bytes = bytes_of(&fs, "/log");
            assert!(bytes[..3000].iter().all(|b| *b == 1), "seed {seed}");
            assert!(bytes[3000..].iter().all(|b| *b == 7), "seed {seed}");
            let (len, whole) = (bytes.len(), [3000, 8000].contains(&bytes.len()));
            assert!(
                whole || len % TORN_WRITE_SECTOR_BYTES == 0,
                "seed {seed}: {len}"
            );
            torn += usize::from(!whole);
        }
        assert!(torn > 10, "only {torn} torn writes in 200 crashes");
    }

    /// After a failed sync the written bytes still read back (page cache) but are not
    /// durable, and a later successful sync does not make them so: a crash leaves a
    /// hole where they were, under bytes written and synced after them.
    #[test]
    fn failed_sync_loses_the_writes_it_covered() {
        let fs = MemFs::new();
        durable_file(&fs, "/log", &[1u8; 100]);
        let file = open(&fs, "/log", OpenOptions::WRITE);
        file.write_at(&[2u8; 100], 100).unwrap();
        file.sync_failed();
        let mut read = [0u8; 100];
        assert_eq!(file.read_at(&mut read, 100).unwrap(), 100);
        assert_eq!(
            read, [2u8; 100],
            "the page cache still serves the lost write"
        );
        file.write_at(&[3u8; 100], 200).unwrap();
        file.sync_data().unwrap();
        fs.crash(CrashMode::DropUnsynced);
        let bytes = bytes_of(&fs, "/log");
        assert_eq!(bytes.len(), 300);
        assert!(bytes[..100].iter().all(|b| *b == 1));
        assert!(
            bytes[100..200].iter().all(|b| *b == 0),
            "the lost write is a hole"
        );
        assert!(bytes[200..].iter().all(|b| *b == 3));
    }

    /// O_DIRECT handles reject unaligned offsets, lengths and addresses with EINVAL;
    /// read-only handles reject writes with EBADF.
    #[test]
    fn open_options_are_enforced() {
        let fs = MemFs::new();
        let file = open(&fs, "/direct", OpenOptions::CREATE.with_direct(true));
        let one = DIRECT_IO_ALIGNMENT;
        let mut storage = vec![5u8; 3 * one];
        let skip = (one - storage.as_ptr() as usize % one) % one;
        let block = &mut storage[skip..skip + 2 * one];
        assert_eq!(file.write_at(&block[..one], 0).unwrap(), one);
        assert_errno(file.write_at(&block[..one], 512), libc::EINVAL);
        assert_errno(file.write_at(&block[..100], 0), libc::EINVAL);
        assert_errno(file.write_at(&block[1..one + 1], 0), libc::EINVAL);
        assert_errno(file.read_at(&mut block[..100], 0), libc::EINVAL);
        assert_errno(file.read_at(&mut block[1..one + 1], 0), libc::EINVAL);
        assert_eq!(file.read_at(&mut block[..one], 0).unwrap(), one);
        assert_eq!(file.len().unwrap(), one as u64);
        assert_eq!(
            open(&fs, "/direct", OpenOptions::WRITE)
                .write_at(b"x", 1)
                .unwrap(),
            1
        );
        let read_only = open(&fs, "/direct", OpenOptions::READ);
        assert_errno(read_only.write_at(b"x", 0), libc::EBADF);
        assert_errno(read_only.set_len(0), libc::EBADF);
        assert_eq!(read_only.len().unwrap(), one as u64);
    }

    /// After a crash every old handle fails every operation; new handles work.
    #[test]
    fn handles_opened_before_a_crash_are_stale() {
        let fs = MemFs::new();
        durable_file(&fs, "/f", b"abc");
        let old = open(&fs, "/f", OpenOptions::WRITE);
        fs.crash(CrashMode::DropUnsynced);
        let mut buf = [0u8; 3];
        assert_kind(old.read_at(&mut buf, 0), Other);
        assert_kind(old.write_at(b"x", 0), Other);
        assert_kind(old.sync_data(), Other);
        assert_kind(old.len(), Other);
        assert_kind(old.set_len(0), Other);
        assert_eq!(fs.sync_count(), 2);
        let new = open(&fs, "/f", OpenOptions::WRITE);
        assert_eq!(new.read_at(&mut buf, 0).unwrap(), 3);
        assert_eq!(&buf, b"abc");
    }

    /// A session ends with the crash: its path operations fail (so a sync of a
    /// directory cannot succeed against the state after the power loss), while
    /// the file system itself and new sessions work.
    #[test]
    fn a_session_ends_at_the_crash() {
        let fs = MemFs::new();
        durable_file(&fs, "/f", b"abc");
        let session = fs.session();
        session
            .open(p("/g"), OpenOptions::CREATE)
            .unwrap()
            .sync_data()
            .unwrap();
        fs.crash(CrashMode::DropUnsynced);
        assert_kind(session.sync_dir(p("/")), Other);
        assert_kind(session.open(p("/f"), OpenOptions::READ).map(|_| ()), Other);
        assert_kind(session.list_dir(p("/")).map(|_| ()), Other);
        assert_kind(session.rename(p("/f"), p("/h")), Other);
        assert!(!session.exists(p("/f")));
        // The unsynced name of /g is gone, and nothing the old session tried landed.
        assert_eq!(fs.list_dir(p("/")).unwrap(), vec!["f".to_string()]);
        let next = fs.session();
        next.sync_dir(p("/")).unwrap();
        assert!(next.exists(p("/f")));
    }
}
