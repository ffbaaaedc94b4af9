//! Storage: the file system, the write backend and the committer shared by many logs.

use crate::active::{finish_active_files, write_active_tix};
use crate::aligned::BufferPool;
use crate::backend::{self, BackendKind};
use crate::committer::{unavailable, CommitQueue, Committer, LogRegistry};
use crate::config::{Durability, LogConfig, StorageConfig};
use crate::error::{io_err, Error, Result};
use crate::format::parse_segment_file_name;
use crate::io::OpenOptions;
use crate::io::DIRECT_IO_ALIGNMENT;
use crate::io::{FileSystem, VolumeSync};
use crate::journal::{Journal, JournalOptions, ReplayReport};
use crate::journal_fs::journal_fs;
use crate::log::{Log, LogShared, LogState, WriterState};
use crate::recovery::{recover, RecoveryReport};
use crate::sealed::SegmentPaths;
use crate::sealed::{SealedSegment, SegmentInfo};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, Weak};

/// How a log writes its files (see [`LogConfig::page_cache`]).
#[derive(Debug, Clone, Copy)]
struct WrittenAs {
    alignment: usize,
    direct: bool,
}

/// Opens logs that share one file system, one write backend and one committer
/// (so that appends to many logs are written and synced together).
#[derive(Debug, Clone)]
pub struct Storage {
    inner: Arc<StorageInner>,
}

#[derive(Debug)]
struct StorageInner {
    fs: Arc<dyn FileSystem>,
    config: StorageConfig,
    /// The backend in use: never `Auto`.
    backend: BackendKind,
    /// Why `Auto` did not get io_uring.
    backend_refusal: Option<String>,
    alignment: usize,
    direct: bool,
    queue: Arc<CommitQueue>,
    committer: Mutex<Committer>,
    /// Syncs the file system of the directory given to [`Storage::open_in`] at once,
    /// for rounds that wrote many files (`None`: no directory, or no such call).
    volume: Option<Arc<dyn VolumeSync>>,
    logs: LogRegistry,
    pool: Arc<BufferPool>,
    /// What the journal of the directory held when the storage opened.
    journal_replay: Option<ReplayReport>,
    journal_path: Option<PathBuf>,
}

impl Storage {
    /// Starts storage over `fs` with the given backend and durability policy.
    /// Without a directory there is no commit journal: every round syncs each file.
    pub fn open(fs: Arc<dyn FileSystem>, config: StorageConfig) -> Result<Storage> {
        Storage::open_probing(fs, config, None, None)
    }

    /// [`Storage::open`] for files under `dir` (which exists): with
    /// [`BackendKind::Auto`], io_uring only if `dir`'s file system takes `O_DIRECT`.
    /// `dir` holds the commit journal ([`crate::JOURNAL_FILE_NAME`]): what it holds
    /// is replayed first, and under [`Durability::Sync`] small rounds of several
    /// logs under `dir` are made durable by one sync of it (docs/storage.md).
    pub fn open_in(fs: Arc<dyn FileSystem>, config: StorageConfig, dir: &Path) -> Result<Storage> {
        Storage::open_probing(fs, config, Some(dir), Some(JournalOptions::default()))
    }

    /// [`Storage::open_in`] with a journal of the given size and limits, or with no
    /// journal (`None`: every round syncs each file; a journal an earlier run left
    /// in `dir` is still replayed first).
    pub fn open_in_with_journal(
        fs: Arc<dyn FileSystem>,
        config: StorageConfig,
        dir: &Path,
        journal: Option<JournalOptions>,
    ) -> Result<Storage> {
        Storage::open_probing(fs, config, Some(dir), journal)
    }

    fn open_probing(
        fs: Arc<dyn FileSystem>,
        config: StorageConfig,
        dir: Option<&Path>,
        journal_options: Option<JournalOptions>,
    ) -> Result<Storage> {
        config.validate()?;
        let (backend, refusal) = match config.backend {
            BackendKind::Auto => {
                let choice = backend::choose(fs.as_ref(), dir);
                (choice.backend, choice.refusal)
            }
            kind => {
                let backend = backend::create(kind, fs.as_ref())
                    .map_err(|error| unavailable(kind, &error))?;
                (backend, None)
            }
        };
        let backend_kind = backend.kind();
        let (alignment, direct) = match backend_kind {
            BackendKind::IoUring => (DIRECT_IO_ALIGNMENT, true),
            BackendKind::Buffered | BackendKind::Auto => (1, false),
        };
        let logs: LogRegistry = Arc::new(Mutex::new(HashMap::new()));
        // Opened before any log: it reports write-back errors from now on. Without it
        // (a file system that refuses it) every round syncs file by file, as durable.
        let volume = match (config.durability, dir) {
            (Durability::None, _) | (_, None) => None,
            (_, Some(dir)) => fs.open_volume_sync(dir).ok().flatten(),
        };
        // Replayed before any log of the directory opens; kept only under `sync`,
        // but a journal left by an earlier run is replayed whatever the policy.
        let use_journal = config.durability == Durability::Sync && journal_options.is_some();
        let opened = match dir {
            Some(dir) => Journal::open(
                &fs,
                dir,
                direct,
                journal_options.unwrap_or_default(),
                volume.clone(),
                use_journal,
            )?,
            None => None,
        };
        let journal_replay = opened.as_ref().map(|(_, report)| report.clone());
        let journal = opened
            .filter(|_| use_journal)
            .map(|(journal, _)| Arc::new(journal));
        let fs: Arc<dyn FileSystem> = match &journal {
            Some(journal) => journal_fs(fs, Arc::clone(journal)),
            None => fs,
        };
        let committer = Committer::start(
            backend,
            fs.as_ref(),
            config.durability,
            volume.clone(),
            Arc::clone(&logs),
            journal,
        )?;
        Ok(Storage {
            inner: Arc::new(StorageInner {
                fs,
                config,
                backend: backend_kind,
                backend_refusal: refusal,
                alignment,
                direct,
                queue: committer.queue(),
                committer: Mutex::new(committer),
                volume,
                logs,
                pool: Arc::default(),
                journal_replay,
                journal_path: dir.map(|dir| dir.join(crate::journal::JOURNAL_FILE_NAME)),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StorageConfig {
        &self.inner.config
    }

    /// The write backend in use: the configured one, or what [`BackendKind::Auto`]
    /// chose when the storage opened (never `Auto`).
    pub fn backend(&self) -> BackendKind {
        self.inner.backend
    }

    /// Why [`BackendKind::Auto`] fell back to buffered (the kernel's refusal of
    /// io_uring); `None` when io_uring was chosen or a backend was configured.
    pub fn backend_refusal(&self) -> Option<&str> {
        self.inner.backend_refusal.as_deref()
    }

    /// What the commit journal held when the storage opened (replayed into its
    /// files); `None` without a journal.
    pub fn journal_replay(&self) -> Option<&ReplayReport> {
        self.inner.journal_replay.as_ref()
    }

    /// The file system.
    pub fn fs(&self) -> &Arc<dyn FileSystem> {
        &self.inner.fs
    }

    /// Opens (creating if needed) the log in `dir`, recovering it first.
    pub fn open_log(
        &self,
        dir: impl AsRef<Path>,
        config: LogConfig,
    ) -> Result<(Log, RecoveryReport)> {
        config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let mut logs = self.inner.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.retain(|_, log| log.upgrade().is_some_and(|log| !log.lock().closed));
        if logs.contains_key(&dir) {
            return Err(Error::AlreadyOpen { path: dir });
        }
        let how = self.written_as(&config);
        let recover_with = |writable| {
            recover(
                &self.inner.fs,
                &dir,
                &config,
                how.alignment,
                how.direct,
                writable,
            )
        };
        let (recovered, read_only) = match recover_with(true) {
            Ok(recovered) => (recovered, None),
            // Recovery writes (truncation, index rewrites, syncs); on a full or
            // failing disk open what can be read, so that an operator can read and
            // delete to free space.
            Err(error @ Error::Io { .. }) => (recover_with(false)?, Some(error.to_string())),
            Err(error) => return Err(error),
        };
        let state = LogState {
            next_position: recovered.next_position,
            acked_position: recovered.next_position,
            confirmed_position: recovered.next_position,
            durable_position: recovered.next_position,
            first_position: recovered.first_position,
            last_arrival_ms: recovered.last_arrival_ms,
            stages: recovered.stage.into_iter().collect(),
            staged_bytes: 0,
            in_flight: 0,
            enqueued: false,
            tail: recovered.tail,
            stage_bytes_hint: 0,
            sealed: recovered.sealed,
            active: recovered.view,
            failed: read_only
                .as_ref()
                .map(|cause| format!("opened read-only, recovery could not write: {cause}")),
            read_only: read_only.is_some(),
            quarantined: None,
            closed: false,
            wakeups: 0,
            ack_waiters: Default::default(),
            readable_waiters: Default::default(),
        };
        let log = self.new_log(&mut logs, dir, config, state, recovered.writer);
        Ok((log, recovered.report))
    }

    fn new_log(
        &self,
        logs: &mut HashMap<PathBuf, Weak<LogShared>>,
        dir: PathBuf,
        config: LogConfig,
        state: LogState,
        writer: WriterState,
    ) -> Log {
        let how = self.written_as(&config);
        let shared = Arc::new(LogShared {
            dir: dir.clone(),
            config,
            fs: Arc::clone(&self.inner.fs),
            alignment: how.alignment,
            direct: how.direct,
            state: Mutex::new(state),
            changed: Condvar::new(),
            writer: Mutex::new(writer),
            committer: Arc::clone(&self.inner.queue),
            pool: Arc::clone(&self.inner.pool),
            compaction: Mutex::new(()),
            on_volume: self
                .inner
                .volume
                .as_ref()
                .is_some_and(|volume| volume.holds(&dir)),
        });
        logs.insert(dir, Arc::downgrade(&shared));
        Log { shared }
    }

    /// A stand-in for a log in `dir` that could not be opened (`cause`): it holds no
    /// records, refuses appends, and fails every read with [`Error::Quarantined`], so
    /// that its owner can open everything else and answer for this log clearly.
    pub fn open_quarantined(&self, dir: impl AsRef<Path>, config: LogConfig, cause: String) -> Log {
        let dir = dir.as_ref().to_path_buf();
        let state = LogState {
            next_position: 0,
            acked_position: 0,
            confirmed_position: 0,
            durable_position: 0,
            first_position: 0,
            last_arrival_ms: 0,
            stages: Default::default(),
            staged_bytes: 0,
            in_flight: 0,
            enqueued: false,
            tail: None,
            stage_bytes_hint: 0,
            sealed: Vec::new(),
            active: None,
            failed: Some(format!("quarantined: {cause}")),
            read_only: true,
            quarantined: Some(cause),
            closed: false,
            wakeups: 0,
            ack_waiters: Default::default(),
            readable_waiters: Default::default(),
        };
        let mut logs = self.inner.logs.lock().unwrap_or_else(|p| p.into_inner());
        self.new_log(&mut logs, dir, config, state, Default::default())
    }

    /// How a log with `config` writes its files: `O_DIRECT` (block aligned) when
    /// the storage's backend does, unless the log asks for the page cache.
    fn written_as(&self, config: &LogConfig) -> WrittenAs {
        match config.page_cache {
            true => WrittenAs {
                alignment: 1,
                direct: false,
            },
            false => WrittenAs {
                alignment: self.inner.alignment,
                direct: self.inner.direct,
            },
        }
    }

    /// Closes every open log (syncing it) and stops the committer. Appends after
    /// this fail with [`Error::Closed`].
    pub fn shutdown(&self) -> Result<()> {
        let logs: Vec<Arc<LogShared>> = {
            let logs = self.inner.logs.lock().unwrap_or_else(|p| p.into_inner());
            logs.values().filter_map(Weak::upgrade).collect()
        };
        let mut first_error = None;
        for shared in logs {
            if let Err(error) = (Log { shared }).close() {
                first_error.get_or_insert(error);
            }
        }
        let stopped = self
            .inner
            .committer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stop();
        if let Err(error) = stopped {
            let path = self.inner.journal_path.clone().unwrap_or_default();
            first_error.get_or_insert(Error::Io {
                op: "checkpoint journal",
                path,
                source: error,
            });
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Log {
    /// Waits for appends in flight, syncs the active segment, writes out its index,
    /// and refuses further appends. Reads keep working. A failed log is cut back to
    /// what was acknowledged (see [`cut_to_acknowledged`]); reopen it to go on.
    pub fn close(&self) -> Result<()> {
        let shared = &self.shared;
        let mut state = shared.lock();
        state.closed = true;
        // Wait until the committer holds nothing of this log, failed or not, so
        // that no file of it is touched after close returns.
        while state.in_flight > 0
            || (state.failed.is_none() && (state.staged_bytes > 0 || state.enqueued))
        {
            state = shared
                .changed
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
        let failed = state.failed.is_some();
        let cut = failed && !state.read_only && state.quarantined.is_none();
        let acknowledged = AcknowledgedExtent::of(&state);
        shared.notify(state);
        if cut {
            return cut_to_acknowledged(shared, &acknowledged);
        }
        if failed {
            return Ok(());
        }
        let mut writer = shared.lock_writer();
        if let Some(active) = writer.active.as_mut() {
            let finished =
                finish_active_files(shared, active).and_then(|()| write_active_tix(shared, active));
            if let Err(error) = finished {
                shared.lock().failed = Some(error.to_string());
                return Err(error);
            }
        }
        Ok(())
    }
}

/// What of a log was acknowledged: its segments and the active one's length.
struct AcknowledgedExtent {
    sealed_bases: Vec<u64>,
    active: Option<(u64, u64)>,
}

impl AcknowledgedExtent {
    fn of(state: &LogState) -> Self {
        AcknowledgedExtent {
            sealed_bases: state.sealed.iter().map(|s| s.info.base_position).collect(),
            active: state
                .active
                .as_ref()
                .map(|view| (view.base_position, view.acked_len)),
        }
    }
}

/// Cuts a failed log's files back to what was acknowledged before it is reopened.
///
/// After a failed sync the page cache may still hold bytes the device never got
/// and will not get (Linux marks them clean); recovery, reading through the cache,
/// would take them for durable and append after them, and a power loss would then
/// leave a hole under acknowledged records. So the active segment is truncated to
/// its acknowledged length and synced, and segment files that no acknowledgement
/// reached (a roll that failed) are removed, before anything reads them again.
fn cut_to_acknowledged(shared: &LogShared, acknowledged: &AcknowledgedExtent) -> Result<()> {
    let fs = shared.fs.as_ref();
    let dir = &shared.dir;
    let names = fs.list_dir(dir).map_err(io_err("list", dir))?;
    let mut removed_any = false;
    for base in names
        .iter()
        .filter_map(|name| parse_segment_file_name(name, "log"))
    {
        // An active segment with nothing acknowledged (not even its header) was
        // being created when the log failed.
        let known = acknowledged.sealed_bases.contains(&base)
            || acknowledged
                .active
                .is_some_and(|(active, acked_len)| active == base && acked_len > 0);
        if known {
            continue;
        }
        let paths = SegmentPaths::new(dir, base);
        for path in [&paths.idx, &paths.tix, &paths.log] {
            match fs.remove_file(path) {
                Ok(()) => removed_any = true,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(io_err("remove", path)(error)),
            }
        }
    }
    if removed_any {
        fs.sync_dir(dir).map_err(io_err("sync directory", dir))?;
    }
    if let Some((base, acked_len)) = acknowledged.active.filter(|(_, len)| *len > 0) {
        let path = SegmentPaths::new(dir, base).log;
        let file = fs
            .open(&path, OpenOptions::WRITE)
            .map_err(io_err("open", &path))?;
        file.set_len(acked_len).map_err(io_err("truncate", &path))?;
        file.sync_data().map_err(io_err("sync", &path))?;
    }
    Ok(())
}

impl Log {
    /// Removes sealed segments from the oldest on while `remove` says so (retention).
    /// Files are unlinked, never truncated: a reader that holds a removed segment
    /// keeps reading it until it lets go. Returns what was removed.
    ///
    /// The log's position floor is made durable first, so that positions never
    /// restart below what was removed; a segment leaves memory only once its log
    /// file is unlinked; and compaction (which rewrites sealed segments) waits, so it
    /// cannot bring back a file removed here.
    pub fn remove_oldest_segments(
        &self,
        mut remove: impl FnMut(&SegmentInfo) -> bool,
    ) -> Result<Vec<SegmentInfo>> {
        let shared = &self.shared;
        let _no_compaction = shared
            .compaction
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let doomed: Vec<Arc<SealedSegment>> = {
            let state = shared.lock();
            state
                .sealed
                .iter()
                .take_while(|segment| remove(&segment.info))
                .cloned()
                .collect()
        };
        let Some(last) = doomed.last() else {
            return Ok(Vec::new());
        };
        crate::floor::store(shared.fs.as_ref(), &shared.dir, last.info.end_position)?;
        let mut unlinked = 0;
        let mut failure = None;
        'segments: for segment in &doomed {
            let paths = &segment.paths;
            // The log file last: until it goes, the segment is still whole on disk
            // (indexes are rebuilt at open).
            for path in [&paths.idx, &paths.tix, &paths.log] {
                if let Err(source) = shared.fs.remove_file(path) {
                    if source.kind() != std::io::ErrorKind::NotFound {
                        failure = Some(Error::Io {
                            op: "remove",
                            path: path.clone(),
                            source,
                        });
                        break 'segments;
                    }
                }
            }
            unlinked += 1;
        }
        if unlinked > 0 {
            let mut state = shared.lock();
            let removed: Vec<_> = state.sealed.drain(..unlinked).collect();
            debug_assert!(removed.iter().zip(&doomed).all(|(a, b)| Arc::ptr_eq(a, b)));
            state.first_position = removed
                .last()
                .map_or(state.first_position, |s| s.info.end_position);
        }
        let synced = shared.fs.sync_dir(&shared.dir).map_err(|source| Error::Io {
            op: "sync directory",
            path: shared.dir.clone(),
            source,
        });
        if let Some(error) = failure {
            return Err(error);
        }
        synced?;
        Ok(doomed[..unlinked]
            .iter()
            .map(|segment| segment.info)
            .collect())
    }
}
