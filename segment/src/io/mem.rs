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
//!   `sync_dir`) and the unsynced entry changes since then. A directory made by
//!   `create_dir_all` is itself an entry of its parent: it survives a crash only once
//!   its parent was synced after it was made (with its whole subtree, it is gone
//!   otherwise, as on Linux, where a new directory needs an fsync of its parent).
//! - A crash rebuilds every reachable inode and directory from its durable state
//!   plus, in [`CrashMode::Random`], some of its unsynced changes, and makes every
//!   handle opened before it stale. [`MemFs::cut_power_at`] arms one for the Nth
//!   mutating operation from then on, so that tests can cut at every point.
#![forbid(unsafe_code)]

use super::{
    FileHandle, FileSystem, Mapped, OpenOptions, SyncRecord, VolumeSync, DIRECT_IO_ALIGNMENT,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Granularity at which [`CrashMode::Random`] tears a surviving write: a torn write
/// keeps some of its pieces between sector boundaries (in file offsets), as a disk
/// that writes 4 KiB sectors atomically, in any order, would.
const TORN_WRITE_SECTOR_BYTES: usize = 4096;

/// Largest file length `MemFs` accepts (4 GiB): a write or `set_len` beyond it fails
/// with `EFBIG` instead of trying to allocate the memory.
const FILE_BYTES_MAX: u64 = 1 << 32;

/// What survives a simulated power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Keep exactly what was synced; drop every unsynced change.
    DropUnsynced,
    /// Keep a random subset of the unsynced changes (each write possibly torn: only
    /// some of its pieces between 4 KiB sector boundaries of the file), applied in a
    /// random order, chosen by `seed`. Each unsynced directory entry change (a
    /// creation, removal or rename) survives or not at random, in its original order;
    /// a rename within one directory is atomic, a rename across two directories is
    /// two independent changes.
    Random {
        /// Seed of the choice, so that a failing case can be replayed.
        seed: u64,
    },
}

/// What a simulated power loss did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Unsynced changes (file writes and lengths, directory entries, new
    /// directories) that reached the disk anyway.
    pub changes_kept: u64,
    /// Unsynced changes that were lost.
    pub changes_lost: u64,
    /// Writes of which only some sectors reached the disk (counted in `changes_kept`).
    pub torn_writes: u64,
    /// New directories lost (with everything in them) because their parent was not
    /// synced after they were made.
    pub dirs_lost: u64,
}

/// A power cut armed by [`MemFs::cut_power_at`].
#[derive(Debug, Clone, Copy)]
enum PowerCut {
    /// Crash with `mode` at the mutating operation numbered `at`.
    Armed { at: u64, mode: CrashMode },
    /// It happened; this is what it did.
    Fired(CrashReport),
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
    /// Number of mutating operations so far (see [`MemFs::cut_power_at`]).
    mutating_ops: AtomicU64,
    /// The power cut armed or fired, if any. Locked before `dirs`, never while
    /// holding it.
    power_cut: Mutex<Option<PowerCut>>,
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
    /// Whether the directory's own name in its parent is durable: always for the
    /// roots, and for others once their parent was synced after they were made.
    named_durably: bool,
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
    record: SyncRecord,
}

/// The whole file system, synced at once; stale after a crash, as a handle.
struct MemVolume {
    shared: Arc<Shared>,
    epoch: u64,
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
    pub fn crash(&self, mode: CrashMode) -> CrashReport {
        self.shared.crash(mode)
    }

    /// Arms a power cut: just before the `ops`-th mutating operation from now (a
    /// write, `set_len`, `sync_data`, open for creation, removal, rename, directory
    /// creation or directory sync, through any session or handle) the file system
    /// crashes with `mode`, and that operation fails as stale (through a session or a
    /// handle opened before). Replaces a cut armed before. `ops` of 0 counts as 1.
    pub fn cut_power_at(&self, ops: u64, mode: CrashMode) {
        let at = self.mutating_ops() + ops.max(1);
        *lock(&self.shared.power_cut) = Some(PowerCut::Armed { at, mode });
    }

    /// What the power cut armed by [`cut_power_at`](MemFs::cut_power_at) did, once
    /// it happened.
    pub fn power_cut(&self) -> Option<CrashReport> {
        match *lock(&self.shared.power_cut) {
            Some(PowerCut::Fired(report)) => Some(report),
            _ => None,
        }
    }

    /// Number of mutating operations so far, the unit of
    /// [`cut_power_at`](MemFs::cut_power_at).
    pub fn mutating_ops(&self) -> u64 {
        self.shared.mutating_ops.load(Ordering::SeqCst)
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

impl Shared {
    fn crash(&self, mode: CrashMode) -> CrashReport {
        let mut dirs = lock(&self.dirs);
        // Bumped before any inode is read: a handle checks the epoch while holding
        // its inode's lock, so a write either lands before the inode is read here or
        // fails as stale.
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut rng = match mode {
            CrashMode::DropUnsynced => None,
            CrashMode::Random { seed } => Some(CrashRng::with_seed(seed)),
        };
        let mut report = CrashReport::default();
        drop_unnamed_dirs(&mut dirs, rng.as_mut(), &mut report);
        let mut rebuilt: HashMap<u64, Arc<Inode>> = HashMap::new();
        for dir in dirs.values_mut() {
            let mut entries = std::mem::take(&mut dir.durable);
            for change in dir.unsynced.drain(..) {
                if rng.as_mut().is_some_and(|rng| rng.bool()) {
                    apply_entry_change(&mut entries, &change);
                    report.changes_kept += 1;
                } else {
                    report.changes_lost += 1;
                }
            }
            for inode in entries.values_mut() {
                *inode = rebuilt
                    .entry(inode.id)
                    .or_insert_with(|| Arc::new(inode.after_crash(rng.as_mut(), &mut report)))
                    .clone();
            }
            dir.current = entries.clone();
            dir.durable = entries;
        }
        report
    }

    /// Counts a mutating operation and fires an armed power cut when its turn comes.
    /// Called before the operation takes any lock.
    fn tick(&self) {
        let count = self.mutating_ops.fetch_add(1, Ordering::SeqCst) + 1;
        let mut cut = lock(&self.power_cut);
        if let Some(PowerCut::Armed { at, mode }) = *cut {
            if count >= at {
                *cut = Some(PowerCut::Fired(self.crash(mode)));
            }
        }
    }
}

/// Removes the directories whose name in their parent is not durable (each survives
/// anyway with a random source's coin), with everything under them, parents first.
fn drop_unnamed_dirs(
    dirs: &mut BTreeMap<PathBuf, Dir>,
    mut rng: Option<&mut CrashRng>,
    report: &mut CrashReport,
) {
    let mut paths: Vec<PathBuf> = dirs.keys().cloned().collect();
    paths.sort_by_key(|path| path.components().count());
    for path in paths {
        let Some(parent) = path.parent() else {
            continue;
        };
        let parent_kept = dirs.contains_key(parent);
        let dir = dirs.get_mut(&path).expect("listed above");
        if parent_kept && dir.named_durably {
            continue;
        }
        if parent_kept && rng.as_deref_mut().is_some_and(|rng| rng.bool()) {
            dir.named_durably = true;
            report.changes_kept += 1;
            continue;
        }
        dirs.remove(&path);
        report.changes_lost += 1;
        report.dirs_lost += 1;
    }
}

impl Default for MemFs {
    fn default() -> Self {
        let root = || Dir {
            named_durably: true,
            ..Dir::default()
        };
        let roots = [("/".into(), root()), (PathBuf::new(), root())];
        MemFs {
            shared: Arc::new(Shared {
                dirs: Mutex::new(BTreeMap::from(roots)),
                epoch: AtomicU64::new(0),
                sync_count: AtomicU64::new(0),
                mutating_ops: AtomicU64::new(0),
                power_cut: Mutex::new(None),
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
        self.shared.tick();
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
        if options.create {
            self.shared.tick();
        }
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
            record: SyncRecord::default(),
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.shared.tick();
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

    /// Refuses a directory whose entries' removal is not yet durable: the model
    /// keeps a removed directory removed across a crash, which is only what a real
    /// disk does once its emptiness was synced.
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.shared.tick();
        let path = normalize(path);
        let mut dirs = self.dirs();
        self.alive()?;
        let dir = dirs
            .get(&path)
            .ok_or_else(|| not_found("directory", &path))?;
        let has_subdirs = dirs.keys().any(|sub| sub.parent() == Some(path.as_path()));
        if !dir.current.is_empty() || has_subdirs {
            return Err(io::Error::from_raw_os_error(libc::ENOTEMPTY));
        }
        if !dir.durable.is_empty() {
            return Err(io::Error::other(format!(
                "{}: removals not synced yet",
                path.display()
            )));
        }
        dirs.remove(&path);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.shared.tick();
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
        self.shared.tick();
        let path = normalize(path);
        let mut dirs = self.dirs();
        self.alive()?;
        let dir = dirs
            .get_mut(&path)
            .ok_or_else(|| not_found("directory", &path))?;
        dir.durable = dir.current.clone();
        dir.unsynced.clear();
        for (sub_path, sub) in dirs.iter_mut() {
            if sub_path.parent() == Some(path.as_path()) {
                sub.named_durably = true;
            }
        }
        self.shared.sync_count.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn open_volume_sync(&self, _dir: &Path) -> io::Result<Option<Arc<dyn VolumeSync>>> {
        self.alive()?;
        Ok(Some(Arc::new(MemVolume {
            shared: Arc::clone(&self.shared),
            epoch: self.shared.epoch.load(Ordering::SeqCst),
        })))
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

impl fmt::Debug for MemVolume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemVolume")
            .field("epoch", &self.epoch)
            .finish()
    }
}

impl VolumeSync for MemVolume {
    /// Every directory's entries and every named file's bytes become durable, as
    /// after a `sync_dir` of each directory and a `sync_data` of each file.
    fn sync_volume(&self) -> io::Result<()> {
        self.shared.tick();
        let mut dirs = lock(&self.shared.dirs);
        if self.shared.epoch.load(Ordering::SeqCst) != self.epoch {
            return Err(io::Error::other("stale handle: the file system crashed"));
        }
        for dir in dirs.values_mut() {
            dir.durable = dir.current.clone();
            dir.unsynced.clear();
            dir.named_durably = true;
            for inode in dir.current.values() {
                let mut data = lock(&inode.data);
                let InodeData {
                    durable, unsynced, ..
                } = &mut *data;
                for change in unsynced.drain(..) {
                    apply_change(durable, &change);
                }
            }
        }
        self.shared.sync_count.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn holds(&self, _path: &Path) -> bool {
        true
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
    fn after_crash(&self, rng: Option<&mut CrashRng>, report: &mut CrashReport) -> Inode {
        let data = lock(&self.data);
        let mut bytes = data.durable.clone();
        let Some(rng) = rng else {
            report.changes_lost += data.unsynced.len() as u64;
            return Inode::new(self.id, bytes);
        };
        let mut survivors: Vec<Change> = Vec::new();
        for change in &data.unsynced {
            if !rng.bool() {
                report.changes_lost += 1;
                continue;
            }
            let (pieces, torn) = maybe_torn(rng, change);
            report.changes_kept += 1;
            report.torn_writes += u64::from(torn);
            survivors.extend(pieces);
        }
        rng.shuffle(&mut survivors);
        for change in &survivors {
            apply_change(&mut bytes, change);
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
        self.shared.tick();
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
        self.record.sync(|| {
            self.shared.tick();
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
        })
    }

    /// Only ever asked after a volume sync, which made every named file durable:
    /// the failures to report are those a fault-injecting layer adds.
    fn check_written(&self) -> io::Result<()> {
        self.record.sync(|| self.data().map(drop))
    }

    fn sync_failed(&self) {
        if let Ok(mut data) = self.data() {
            data.unsynced.clear();
            data.lost_writes = true;
        }
        self.record.note_failure();
    }

    fn sync_record(&self) -> Option<&SyncRecord> {
        Some(&self.record)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.data()?.current.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.shared.tick();
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

/// Chooses what a simulated crash keeps: deterministic for a seed.
type CrashRng = fastrand::Rng;

/// The change as it reaches the disk: a write that spans a sector boundary is
/// torn half of the time into its pieces between sector boundaries (in file
/// offsets), of which a random subset lands, as a disk that writes sectors
/// atomically but in any order would leave it. Also says whether it was torn.
fn maybe_torn(rng: &mut CrashRng, change: &Change) -> (Vec<Change>, bool) {
    let Change::Write { offset, bytes } = change else {
        return (vec![change.clone()], false);
    };
    let sector = TORN_WRITE_SECTOR_BYTES;
    let end = offset + bytes.len();
    if (offset / sector + 1) * sector >= end || !rng.bool() {
        return (vec![change.clone()], false);
    }
    let mut pieces = Vec::new();
    let mut start = *offset;
    while start < end {
        let stop = ((start / sector + 1) * sector).min(end);
        if rng.bool() {
            pieces.push(Change::Write {
                offset: start,
                bytes: bytes[start - offset..stop - offset].to_vec(),
            });
        }
        start = stop;
    }
    (pieces, true)
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
mod tests;
