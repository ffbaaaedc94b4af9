//! The commit journal: one sync per small `sync` round, however many files it wrote.
//!
//! A round that wrote small amounts to several files would otherwise cost one
//! `fdatasync` per file (about 0.1 ms each here, and parallel ones do not share a
//! device flush). Instead the syncer appends one frame holding every write of the
//! round (file, offset, the exact bytes) to this file, syncs only it, and
//! acknowledges the round. The data files were written but are synced only at a
//! checkpoint (journal full, oldest frame older than the checkpoint age, or a
//! destructive change to a file with frames: see [`crate::journal_fs`]), which
//! then starts a new epoch: frames of older epochs are never replayed.
//!
//! Epochs alternate between two halves of the file, so that a checkpoint due by
//! age or by a full half runs on a thread of its own: the syncer starts the next
//! epoch in the other half at once and goes on journaling rounds while the
//! finished epoch's files are synced, and the header that retires it is written
//! only after they are. Two epochs are live at most (the one being retired and
//! the current one); a checkpoint waits for the one before it. Before this, each
//! checkpoint held every round that came during it (1.2 to 5 ms once a second
//! with an SNS topic's ten queues). [`Journal::open`] replays the frames of the
//! oldest live epoch, then of the next, before any log opens. The byte layout is
//! in `segment/FORMAT.md` ("Commit journal").

use crate::aligned::AlignedBuf;
use crate::backend::{Buffered, WriteBackend, WriteOp};
use crate::committer::sync_files;
use crate::error::{io_err, Corruption, Error, Result};
use crate::io::DIRECT_IO_ALIGNMENT;
use crate::io::{
    read_exact_at, write_all_at, FileHandle, FileSystem, OpenOptions, SyncRecord, VolumeSync,
};
use crate::log::LogShared;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The journal's file name in its storage directory.
pub const JOURNAL_FILE_NAME: &str = "JOURNAL";

const HEADER_MAGIC: [u8; 8] = *b"SLJOURN1";
/// 2: epochs in two halves, whose size the header holds. 1 (read, never written):
/// one epoch at a time, its frames from [`FRAMES_START`].
const FORMAT_VERSION: u32 = 2;
/// One header slot per block; epochs alternate between the two, so that a torn
/// header write leaves the other slot (the previous epoch) readable.
const SLOT_BYTES: u64 = DIRECT_IO_ALIGNMENT as u64;
const HEADER_LEN: usize = 36;
/// Frames start after the two header slots, each at a block boundary.
const FRAMES_START: u64 = 2 * SLOT_BYTES;
const FRAME_MAGIC: u32 = u32::from_le_bytes(*b"JRND");
const FRAME_HEADER_LEN: usize = 32;
const ENTRY_HEADER_LEN: usize = 16;
/// How far ahead of the write head the file is written in zeros: a sync that
/// overwrites written blocks commits no metadata (0.12 ms here, 0.2-0.26 ms when it
/// extends the file).
const FILL_STEP_BYTES: u64 = 1 << 20;
const _: () = assert!(FRAME_HEADER_LEN.is_multiple_of(8) && ENTRY_HEADER_LEN.is_multiple_of(8));

/// Settings of a storage's commit journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// Size of the journal file; a round that would not fit starts a checkpoint.
    /// Default 64 MiB; at least 4 × `round_bytes_max` + 64 KiB.
    pub journal_bytes: u64,
    /// A checkpoint starts once the oldest frame of the epoch is this old.
    /// Default 1000 ms.
    pub checkpoint_age_ms: u64,
    /// Rounds that wrote more than this many bytes sync each file instead (no
    /// double write of bulk data). Default 1 MiB.
    pub round_bytes_max: usize,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            journal_bytes: 64 << 20,
            checkpoint_age_ms: 1000,
            round_bytes_max: 1 << 20,
        }
    }
}

impl JournalOptions {
    /// Bytes of each half of the file, where epochs alternate.
    fn half_bytes(&self) -> u64 {
        (self.journal_bytes.saturating_sub(FRAMES_START) / 2) / SLOT_BYTES * SLOT_BYTES
    }

    fn validate(&self) -> Result<()> {
        let least = 4 * self.round_bytes_max as u64 + (64 << 10);
        if self.journal_bytes < least || self.round_bytes_max == 0 {
            return Err(Error::InvalidConfig(format!(
                "journal of {} bytes cannot hold four rounds of {} bytes",
                self.journal_bytes, self.round_bytes_max
            )));
        }
        Ok(())
    }
}

/// One write of a round, as the journal records it.
pub(crate) struct JournalWrite<'a> {
    /// The file's path as its log names it (under the journal's directory).
    pub path: PathBuf,
    pub file: &'a Arc<dyn FileHandle>,
    pub log: &'a Arc<LogShared>,
    pub offset: u64,
    pub data: &'a [u8],
}

/// A file with frames in the current epoch: synced at the next checkpoint.
struct Dirty {
    file: Arc<dyn FileHandle>,
    log: Weak<LogShared>,
}

struct JournalState {
    file: Arc<dyn FileHandle>,
    epoch: u64,
    /// Frames written in this epoch.
    rounds: u64,
    /// Where the next frame goes.
    head: u64,
    /// Each half is written (in zeros or frames) up to here.
    filled_to: [u64; 2],
    oldest: Option<Instant>,
    dirty: HashMap<PathBuf, Dirty>,
    /// Set when a write or sync failed: frames of the live epochs may be all
    /// that holds some acknowledged bytes, so the epoch never advances again in
    /// this process, and changes to files with frames are refused.
    broken: Option<String>,
    /// Files with frames in an epoch that failed to retire, or in a frame whose
    /// write failed: changes to them are refused once the journal is broken.
    pinned: HashSet<PathBuf>,
    frame: AlignedBuf,
    zeros: Option<AlignedBuf>,
    /// Syncs data files at checkpoints; lent to a checkpoint's thread.
    files: Option<Buffered>,
    /// The checkpoint retiring the epoch before this one, on its own thread.
    retiring: Option<Retiring>,
}

/// A checkpoint running on its own thread.
struct Retiring {
    /// Files with frames in the epoch it retires: a change to one waits for it.
    paths: Vec<PathBuf>,
    thread: JoinHandle<Retired>,
}

/// What a checkpoint does: syncs the files with frames in an epoch, then writes
/// the header that names the next epoch as the oldest live one.
struct Retire {
    files: Buffered,
    volume: Option<Arc<dyn VolumeSync>>,
    journal: Arc<dyn FileHandle>,
    journal_path: PathBuf,
    dirty: Vec<(PathBuf, Dirty)>,
    next: u64,
    half_bytes: u64,
}

/// What a checkpoint did.
struct Retired {
    files: Buffered,
    /// Logs whose file failed to sync, and why: they fail.
    failed: Vec<(Weak<LogShared>, String)>,
    /// The first failure: the journal is broken.
    error: Option<(String, io::Error)>,
}

impl Retire {
    fn run(mut self) -> Retired {
        let handles: Vec<Arc<dyn FileHandle>> = self
            .dirty
            .iter()
            .map(|(_, d)| Arc::clone(&d.file))
            .collect();
        let results = sync_files(&mut self.files, self.volume.as_deref(), &handles);
        let mut failed = Vec::new();
        let mut error = None;
        for ((path, dirty), result) in self.dirty.iter().zip(results) {
            // The checkpoint's sync succeeds, though bytes are lost, if another sync of
            // the handle took the write-back error (see `io::SyncRecord`).
            let lost = || dirty.file.sync_record().is_some_and(SyncRecord::failed);
            let cause = match result {
                Err(cause) => cause,
                Ok(()) if lost() => io::Error::other(
                    "an earlier sync of the file failed: bytes of its frames may be lost",
                ),
                Ok(()) => continue,
            };
            let reason = format!("journal checkpoint sync {}: {cause}", path.display());
            failed.push((Weak::clone(&dirty.log), reason.clone()));
            error.get_or_insert((reason, cause));
        }
        if error.is_none() {
            // Every byte of the epoch's frames is now in its file: the frames may go.
            if let Err(cause) = write_header(self.journal.as_ref(), self.next, self.half_bytes) {
                let reason = format!("header of {}: {cause}", self.journal_path.display());
                error = Some((reason, cause));
            }
        }
        Retired {
            files: self.files,
            failed,
            error,
        }
    }
}

/// A frame [`Journal::write_frame`] wrote, to be synced by [`Journal::sync_frame`].
pub(crate) struct FrameWritten {
    file: Arc<dyn FileHandle>,
    /// The files it holds writes of: pinned if its sync fails.
    paths: Vec<PathBuf>,
}

/// A storage's commit journal (see the module documentation).
pub(crate) struct Journal {
    dir: PathBuf,
    path: PathBuf,
    options: JournalOptions,
    volume: Option<Arc<dyn VolumeSync>>,
    state: Mutex<JournalState>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

impl Drop for Journal {
    /// A checkpoint still running is waited for: its thread writes the header.
    fn drop(&mut self) {
        let mut state = self.lock();
        let _ = self.finish_retiring(&mut state);
    }
}

/// What [`Journal::open`] found to replay.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Frames (rounds) replayed.
    pub rounds: u64,
    /// Writes replayed into existing files.
    pub writes: u64,
    /// Writes skipped because their file no longer exists.
    pub skipped_writes: u64,
}

impl Journal {
    /// Opens the journal of `dir`, replaying the frames of its live epochs into
    /// their files first and starting a new epoch. With `create` false, a missing
    /// journal is not created (`Ok(None)`): a storage that does not journal still
    /// replays what an earlier run left.
    pub(crate) fn open(
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        direct: bool,
        options: JournalOptions,
        volume: Option<Arc<dyn VolumeSync>>,
        create: bool,
    ) -> Result<Option<(Journal, ReplayReport)>> {
        options.validate()?;
        let path = dir.join(JOURNAL_FILE_NAME);
        let existed = fs.exists(&path);
        if !existed && !create {
            return Ok(None);
        }
        let plain = fs
            .open(&path, OpenOptions::CREATE)
            .map_err(io_err("open", &path))?;
        if !existed {
            fs.sync_dir(dir).map_err(io_err("sync directory", dir))?;
        }
        let header = read_header(plain.as_ref(), &path)?;
        let report = match header {
            Some(header) => replay(fs.as_ref(), dir, plain.as_ref(), &path, header)?,
            None => ReplayReport::default(),
        };
        // Past both epochs the header named as live, and of the other parity: the
        // header goes to the other slot, so that a write torn by a crash here falls
        // back to the header just replayed (replaying it again changes nothing),
        // never to an older one whose frames files may have outgrown since.
        let next = header.map_or(1, |header| header.epoch + 3);
        let half_bytes = options.half_bytes();
        write_header(plain.as_ref(), next, half_bytes).map_err(io_err("write header of", &path))?;
        drop(plain);
        let file = fs
            .open(&path, OpenOptions::WRITE.with_direct(direct))
            .map_err(io_err("open", &path))?;
        let state = JournalState {
            file,
            epoch: next,
            rounds: 0,
            head: half_start(next, half_bytes),
            // Written again in zeros as frames reach them: cheaper than knowing
            // which blocks an earlier process left unwritten.
            filled_to: [half_start(0, half_bytes), half_start(1, half_bytes)],
            oldest: None,
            dirty: HashMap::new(),
            broken: None,
            frame: AlignedBuf::with_capacity(64 << 10),
            zeros: None,
            files: Some(Buffered::new()),
            retiring: None,
            pinned: HashSet::new(),
        };
        let journal = Journal {
            dir: dir.to_path_buf(),
            path,
            options,
            volume: volume.filter(|volume| volume.holds(dir)),
            state: Mutex::new(state),
        };
        Ok(Some((journal, report)))
    }

    /// Whether a round of `bytes` written by logs in `dirs` may be journaled.
    pub(crate) fn takes<'d>(&self, bytes: usize, mut dirs: impl Iterator<Item = &'d Path>) -> bool {
        bytes <= self.options.round_bytes_max && dirs.all(|dir| dir.starts_with(&self.dir))
    }

    fn lock(&self) -> MutexGuard<'_, JournalState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one frame holding `writes` and syncs the journal (with `backend`: a
    /// syncer's, or the writer's for a small round it syncs itself while the syncers
    /// are idle), after a checkpoint if one is due. `Ok` means every write is durable.
    pub(crate) fn append_round(
        &self,
        backend: &mut dyn WriteBackend,
        writes: &[JournalWrite<'_>],
    ) -> io::Result<()> {
        let frame = self.write_frame(backend, writes)?;
        self.sync_frame(backend, frame)
    }

    /// The first half of [`Journal::append_round`]: writes the frame (after a
    /// checkpoint if one is due) under the journal's lock, so that frames land in
    /// order, one after the other. Its sync ([`Journal::sync_frame`]) runs outside
    /// the lock: two syncers' frames are then synced at once, and the sync of the
    /// later one also covers the earlier one, whose write had finished before.
    pub(crate) fn write_frame(
        &self,
        backend: &mut dyn WriteBackend,
        writes: &[JournalWrite<'_>],
    ) -> io::Result<FrameWritten> {
        let mut state = self.lock();
        check_intact(&state)?;
        if state
            .retiring
            .as_ref()
            .is_some_and(|retiring| retiring.thread.is_finished())
        {
            self.finish_retiring(&mut state)?;
        }
        let frame_len = FRAME_HEADER_LEN
            + writes
                .iter()
                .map(|w| entry_len(self.relative(&w.path), w.data.len()))
                .sum::<usize>();
        let padded = frame_len.next_multiple_of(DIRECT_IO_ALIGNMENT) as u64;
        let half_bytes = self.options.half_bytes();
        let full = state.head + padded > half_end(state.epoch, half_bytes);
        let age = Duration::from_millis(self.options.checkpoint_age_ms);
        let old = state.oldest.is_some_and(|oldest| oldest.elapsed() >= age);
        if full {
            // The other half is free once the checkpoint before is done.
            self.finish_retiring(&mut state)?;
            self.retire(&mut state, true)?;
        } else if old && state.retiring.is_none() {
            self.retire(&mut state, true)?;
        }
        let state = &mut *state;
        let half_end = half_end(state.epoch, half_bytes);
        if state.head + padded > half_end {
            // Not reached: `validate` leaves each half room for two of the largest
            // rounds `takes` lets in. A frame must never run into the other half.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a frame of {padded} bytes does not fit a journal half"),
            ));
        }
        let half = (state.epoch % 2) as usize;
        encode_frame(&mut state.frame, state.epoch, state.rounds, writes, |p| {
            self.relative(p)
        });
        let head = state.head;
        // Zeros ahead of the frame, written once per block of the file, so that
        // frames overwrite written blocks.
        let end = head + padded;
        let fill_end = (end + FILL_STEP_BYTES)
            .next_multiple_of(FILL_STEP_BYTES)
            .min(half_end)
            .max(end);
        let zeros = state
            .zeros
            .get_or_insert_with(|| zero_buf(FILL_STEP_BYTES as usize));
        let mut ops = vec![WriteOp {
            file: state.file.as_ref(),
            offset: head,
            data: state.frame.padded(DIRECT_IO_ALIGNMENT),
        }];
        let mut fill_at = state.filled_to[half].max(end);
        while fill_at < fill_end {
            let len = (fill_end - fill_at).min(FILL_STEP_BYTES) as usize;
            ops.push(WriteOp {
                file: state.file.as_ref(),
                offset: fill_at,
                data: &zeros.as_slice()[..len],
            });
            fill_at += len as u64;
        }
        let written = backend
            .write_all(&ops)
            .into_iter()
            .collect::<io::Result<()>>();
        let paths = writes.iter().map(|write| write.path.clone());
        if let Err(error) = written {
            self.break_with(state, &error, paths);
            return Err(error);
        }
        state.filled_to[half] = state.filled_to[half].max(fill_end);
        state.head += padded;
        state.rounds += 1;
        state.oldest.get_or_insert_with(Instant::now);
        for write in writes {
            state
                .dirty
                .entry(write.path.clone())
                .or_insert_with(|| Dirty {
                    file: Arc::clone(write.file),
                    log: Arc::downgrade(write.log),
                });
        }
        Ok(FrameWritten {
            file: Arc::clone(&state.file),
            paths: paths.collect(),
        })
    }

    /// The second half of [`Journal::append_round`]: syncs the journal, which makes
    /// `frame` durable and every frame written before it. A failure breaks the
    /// journal: no later frame counts (see [`Journal::check_intact`]).
    pub(crate) fn sync_frame(
        &self,
        backend: &mut dyn WriteBackend,
        frame: FrameWritten,
    ) -> io::Result<()> {
        let synced = backend.sync_all(&[frame.file]).pop().unwrap_or(Ok(()));
        if let Err(error) = &synced {
            self.break_with(&mut self.lock(), error, frame.paths.into_iter());
        }
        synced
    }

    /// Fails the journal for good after a failed write or sync of a frame.
    fn break_with(
        &self,
        state: &mut JournalState,
        error: &io::Error,
        paths: impl Iterator<Item = PathBuf>,
    ) {
        if state.broken.is_none() {
            state.broken = Some(format!("write of {}: {error}", self.path.display()));
        }
        // The frame may be on the device all the same.
        state.pinned.extend(paths);
    }

    /// Whether every frame so far was written and synced: a frame synced by one
    /// syncer counts only if the frames before it, synced by another at the same
    /// time, did not fail (a replay stops at the first frame it cannot read).
    pub(crate) fn check_intact(&self) -> io::Result<()> {
        check_intact(&self.lock())
    }

    /// Before a change that would make a replay write old bytes into a different or
    /// shorter file at `path` (its creation, replacement, rename or truncation): a
    /// checkpoint, if a live epoch has frames for `path`.
    pub(crate) fn before_change(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        if state.pinned.contains(path) {
            check_intact(&state)?;
        }
        let retiring = state.retiring.as_ref();
        if retiring.is_some_and(|retiring| retiring.paths.iter().any(|p| p == path)) {
            self.finish_retiring(&mut state)?;
        }
        if !state.dirty.contains_key(path) {
            return Ok(());
        }
        self.checkpoint_locked(&mut state)
    }

    /// Syncs every file with frames in a live epoch and starts a new epoch.
    pub(crate) fn checkpoint(&self) -> io::Result<()> {
        let mut state = self.lock();
        self.checkpoint_locked(&mut state)
    }

    fn checkpoint_locked(&self, state: &mut JournalState) -> io::Result<()> {
        check_intact(state)?;
        self.finish_retiring(state)?;
        self.retire(state, false)
    }

    /// Ends the current epoch (if it has frames) and retires it: on a thread of
    /// its own if `background`, else here. The next epoch starts in the other
    /// half, which must be free: no checkpoint may be running.
    fn retire(&self, state: &mut JournalState, background: bool) -> io::Result<()> {
        debug_assert!(state.retiring.is_none(), "one checkpoint at a time");
        if state.rounds == 0 {
            return Ok(());
        }
        let half_bytes = self.options.half_bytes();
        let dirty: Vec<(PathBuf, Dirty)> = state.dirty.drain().collect();
        let paths = dirty.iter().map(|(path, _)| path.clone()).collect();
        state.epoch += 1;
        state.rounds = 0;
        state.head = half_start(state.epoch, half_bytes);
        state.oldest = None;
        let job = Retire {
            files: state.files.take().unwrap_or_default(),
            volume: self.volume.clone(),
            journal: Arc::clone(&state.file),
            journal_path: self.path.clone(),
            dirty,
            next: state.epoch,
            half_bytes,
        };
        if background {
            // Handed back if the thread cannot start: then it runs here.
            let slot = Arc::new(Mutex::new(Some(job)));
            let theirs = Arc::clone(&slot);
            let spawned = std::thread::Builder::new()
                .name("shardlog-checkpoint".into())
                .spawn(move || {
                    let job = theirs.lock().unwrap_or_else(|p| p.into_inner()).take();
                    job.expect("taken once").run()
                });
            match spawned {
                Ok(thread) => {
                    state.retiring = Some(Retiring { paths, thread });
                    return Ok(());
                }
                // No thread to be had (a process at its limit): the round waits
                // for the checkpoint, as it would without one.
                Err(_) => {
                    let job = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
                    let retired = job.expect("the thread never ran").run();
                    return settle(state, retired, paths);
                }
            }
        }
        let retired = job.run();
        settle(state, retired, paths)
    }

    /// Waits for the running checkpoint, if any, and takes its outcome.
    fn finish_retiring(&self, state: &mut JournalState) -> io::Result<()> {
        let Some(retiring) = state.retiring.take() else {
            return Ok(());
        };
        match retiring.thread.join() {
            Ok(retired) => settle(state, retired, retiring.paths),
            Err(_) => {
                let cause = format!("the checkpoint thread of {} panicked", self.path.display());
                state.broken = Some(cause.clone());
                state.pinned.extend(retiring.paths);
                Err(io::Error::other(cause))
            }
        }
    }

    fn relative<'p>(&self, path: &'p Path) -> &'p Path {
        path.strip_prefix(&self.dir)
            .expect("checked by Journal::takes")
    }
}

/// Where the frames of `epoch` start: epochs alternate between the two halves.
fn half_start(epoch: u64, half_bytes: u64) -> u64 {
    // Saturating: `half_bytes` may come from a damaged header.
    FRAMES_START.saturating_add((epoch % 2).saturating_mul(half_bytes))
}

/// Where the frames of `epoch` must end.
fn half_end(epoch: u64, half_bytes: u64) -> u64 {
    half_start(epoch, half_bytes).saturating_add(half_bytes)
}

fn check_intact(state: &JournalState) -> io::Result<()> {
    match &state.broken {
        Some(cause) => Err(io::Error::other(format!("journal failed earlier: {cause}"))),
        None => Ok(()),
    }
}

/// Takes the outcome of a finished checkpoint of the files at `paths`: its logs
/// whose files failed to sync fail, and so does the journal (the paths stay pinned).
fn settle(state: &mut JournalState, retired: Retired, paths: Vec<PathBuf>) -> io::Result<()> {
    state.files = Some(retired.files);
    for (log, cause) in retired.failed {
        if let Some(log) = log.upgrade() {
            crate::active::fail(&log, cause);
        }
    }
    match retired.error {
        Some((cause, error)) => {
            state.broken = Some(cause);
            state.pinned.extend(paths);
            Err(error)
        }
        None => Ok(()),
    }
}

fn zero_buf(len: usize) -> AlignedBuf {
    let mut buf = AlignedBuf::with_capacity(len);
    buf.extend_uninit(len).fill(0);
    buf
}

fn entry_len(relative: &Path, data_len: usize) -> usize {
    (ENTRY_HEADER_LEN + relative.as_os_str().len() + data_len).next_multiple_of(8)
}

fn encode_frame<'p>(
    frame: &mut AlignedBuf,
    epoch: u64,
    round: u64,
    writes: &'p [JournalWrite<'_>],
    relative: impl Fn(&'p Path) -> &'p Path,
) {
    frame.clear();
    frame.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    for write in writes {
        let path = relative(&write.path).as_os_str().as_encoded_bytes();
        let start = frame.len();
        frame.extend_from_slice(&write.offset.to_le_bytes());
        frame.extend_from_slice(&(write.data.len() as u32).to_le_bytes());
        frame.extend_from_slice(&(path.len() as u16).to_le_bytes());
        frame.extend_from_slice(&[0; 2]);
        frame.extend_from_slice(path);
        frame.extend_from_slice(write.data);
        let end = start + (frame.len() - start).next_multiple_of(8);
        frame.extend_from_slice(&[0; 8][..end - frame.len()]);
    }
    let len = frame.len() as u32;
    let mut header = [0u8; FRAME_HEADER_LEN];
    header[0..4].copy_from_slice(&FRAME_MAGIC.to_le_bytes());
    header[8..16].copy_from_slice(&epoch.to_le_bytes());
    header[16..24].copy_from_slice(&round.to_le_bytes());
    header[24..28].copy_from_slice(&len.to_le_bytes());
    header[28..32].copy_from_slice(&(writes.len() as u32).to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[8..]);
    hasher.update(&frame.as_slice()[FRAME_HEADER_LEN..]);
    header[4..8].copy_from_slice(&hasher.finalize().to_le_bytes());
    frame.prefix_mut(FRAME_HEADER_LEN).copy_from_slice(&header);
}

/// What the newest intact header slot says.
#[derive(Debug, Clone, Copy)]
struct Header {
    /// The oldest live epoch; the one after it may be live too.
    epoch: u64,
    /// Bytes of each half, where epochs alternate; `None` for a version 1 journal
    /// (one epoch, its frames from [`FRAMES_START`] on).
    half_bytes: Option<u64>,
}

/// Writes the header slot of `epoch` (the oldest live one from now on) and syncs it.
fn write_header(file: &dyn FileHandle, epoch: u64, half_bytes: u64) -> io::Result<()> {
    let mut slot = zero_buf(SLOT_BYTES as usize);
    let bytes = slot.prefix_mut(HEADER_LEN);
    bytes[0..8].copy_from_slice(&HEADER_MAGIC);
    bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes[16..24].copy_from_slice(&epoch.to_le_bytes());
    bytes[24..32].copy_from_slice(&half_bytes.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..32]);
    bytes[32..36].copy_from_slice(&crc.to_le_bytes());
    write_all_at(file, slot.as_slice(), (epoch % 2) * SLOT_BYTES)?;
    file.sync_data()
}

/// The newest intact header slot; `None` for a journal never written.
fn read_header(file: &dyn FileHandle, path: &Path) -> Result<Option<Header>> {
    let len = file.len().map_err(io_err("size", path))?;
    let mut newest: Option<Header> = None;
    let mut damaged = false;
    for slot in 0..2u64 {
        if len < (slot + 1) * SLOT_BYTES {
            continue;
        }
        let mut bytes = [0u8; HEADER_LEN];
        read_exact_at(file, &mut bytes, slot * SLOT_BYTES).map_err(io_err("read", path))?;
        if bytes.iter().all(|&b| b == 0) {
            continue;
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let epoch = u64_at(16);
        let version = u32_at(8);
        let (crc_ok, half_bytes) = match version {
            1 => (u32_at(24) == crc32fast::hash(&bytes[..24]), None),
            2 => (
                u32_at(32) == crc32fast::hash(&bytes[..32]),
                Some(u64_at(24)),
            ),
            _ if bytes[0..8] == HEADER_MAGIC => {
                return Err(corrupt(
                    path,
                    slot * SLOT_BYTES,
                    format!("version {version}"),
                ));
            }
            _ => (false, None),
        };
        let intact = bytes[0..8] == HEADER_MAGIC && crc_ok && epoch % 2 == slot;
        if !intact {
            damaged = true;
            continue;
        }
        if half_bytes.is_some_and(|half| half < SLOT_BYTES || !half.is_multiple_of(SLOT_BYTES)) {
            return Err(corrupt(
                path,
                slot * SLOT_BYTES,
                format!("half of {half_bytes:?} bytes"),
            ));
        }
        if newest.is_none_or(|newest| newest.epoch < epoch) {
            newest = Some(Header { epoch, half_bytes });
        }
    }
    if newest.is_none() && damaged {
        // One slot is written at a time, so a crash leaves the other intact.
        return Err(corrupt(path, 0, "both header slots are damaged".into()));
    }
    Ok(newest)
}

fn corrupt(path: &Path, offset: u64, reason: String) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        offset,
        corruption: Corruption::InvalidField { reason },
    }
}

/// One frame's writes, as read back.
struct ReadEntry {
    path: PathBuf,
    offset: u64,
    data: std::ops::Range<usize>,
}

/// Reads the frame at `offset` of `epoch` and `round`, which must end by `limit`;
/// `None` where the epoch's frames end (a torn, stale or never-written frame).
fn read_frame(
    file: &dyn FileHandle,
    limit: u64,
    offset: u64,
    epoch: u64,
    round: u64,
) -> io::Result<Option<(Vec<u8>, Vec<ReadEntry>)>> {
    if offset + FRAME_HEADER_LEN as u64 > limit {
        return Ok(None);
    }
    let mut header = [0u8; FRAME_HEADER_LEN];
    read_exact_at(file, &mut header, offset)?;
    let field = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(header[24..28].try_into().expect("4 bytes")) as u64;
    let count = u32::from_le_bytes(header[28..32].try_into().expect("4 bytes"));
    let fits = len >= FRAME_HEADER_LEN as u64 && offset + len <= limit;
    if header[0..4] != FRAME_MAGIC.to_le_bytes() || field(8) != epoch || field(16) != round || !fits
    {
        return Ok(None);
    }
    let mut frame = vec![0u8; len as usize];
    read_exact_at(file, &mut frame, offset)?;
    let stored = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    if crc32fast::hash(&frame[8..]) != stored {
        return Ok(None);
    }
    let entries = parse_entries(&frame, count);
    Ok(entries.map(|entries| (frame, entries)))
}

/// The entries of an intact frame; `None` if they do not parse (not written by
/// this format: treated as the end of the epoch's frames).
fn parse_entries(frame: &[u8], count: u32) -> Option<Vec<ReadEntry>> {
    let mut entries = Vec::with_capacity(count as usize);
    let mut at = FRAME_HEADER_LEN;
    for _ in 0..count {
        let head = frame.get(at..at + ENTRY_HEADER_LEN)?;
        let offset = u64::from_le_bytes(head[0..8].try_into().ok()?);
        let data_len = u32::from_le_bytes(head[8..12].try_into().ok()?) as usize;
        let path_len = u16::from_le_bytes(head[12..14].try_into().ok()?) as usize;
        let path_start = at + ENTRY_HEADER_LEN;
        let data_start = path_start + path_len;
        let path = std::str::from_utf8(frame.get(path_start..data_start)?).ok()?;
        let path = PathBuf::from(path);
        // Only names below the storage directory: never `..` or an absolute path.
        if !path.components().all(|c| matches!(c, Component::Normal(_))) {
            return None;
        }
        frame.get(data_start..data_start + data_len)?;
        entries.push(ReadEntry {
            path,
            offset,
            data: data_start..data_start + data_len,
        });
        at = (data_start + data_len).next_multiple_of(8);
    }
    Some(entries)
}

/// Writes every frame of the live epochs `header` names into its files, in order
/// (the oldest epoch's first), and syncs them.
fn replay(
    fs: &dyn FileSystem,
    dir: &Path,
    journal: &dyn FileHandle,
    path: &Path,
    header: Header,
) -> Result<ReplayReport> {
    let file_len = journal.len().map_err(io_err("size", path))?;
    // Each live epoch's frames: where they start and where they must end.
    let spans: Vec<(u64, u64, u64)> = match header.half_bytes {
        None => vec![(header.epoch, FRAMES_START, file_len)],
        Some(half) => [header.epoch, header.epoch + 1]
            .into_iter()
            .map(|epoch| {
                let end = half_end(epoch, half).min(file_len);
                (epoch, half_start(epoch, half), end)
            })
            .collect(),
    };
    let mut report = ReplayReport::default();
    let mut open: HashMap<PathBuf, Option<Arc<dyn FileHandle>>> = HashMap::new();
    for (epoch, start, limit) in spans {
        replay_epoch(
            fs,
            dir,
            journal,
            path,
            (epoch, start, limit),
            &mut open,
            &mut report,
        )?;
    }
    for (target, file) in &open {
        if let Some(file) = file {
            file.sync_data().map_err(io_err("sync", target))?;
        }
    }
    Ok(report)
}

/// Writes the frames of one epoch, from `start` and ending by `limit`, into their
/// files (`open` keeps them open for the sync at the end).
fn replay_epoch(
    fs: &dyn FileSystem,
    dir: &Path,
    journal: &dyn FileHandle,
    path: &Path,
    (epoch, start, limit): (u64, u64, u64),
    open: &mut HashMap<PathBuf, Option<Arc<dyn FileHandle>>>,
    report: &mut ReplayReport,
) -> Result<()> {
    let mut offset = start;
    let mut round = 0;
    while let Some((frame, entries)) =
        read_frame(journal, limit, offset, epoch, round).map_err(io_err("read", path))?
    {
        for entry in entries {
            let target = dir.join(&entry.path);
            let file = match open.get(&target) {
                Some(file) => file.clone(),
                None => {
                    let file = match fs.open(&target, OpenOptions::WRITE) {
                        Ok(file) => Some(file),
                        // Safe to skip: a journaled file existed durably before its
                        // first frame (segments are created and their directory
                        // synced on the slow path), so it is missing only if its
                        // removal became durable, and nobody reads its bytes again.
                        // A file created at the same path afterwards was preceded by
                        // a checkpoint (journal_fs), so no frame here is for it.
                        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
                        Err(error) => return Err(io_err("open", &target)(error)),
                    };
                    open.insert(target.clone(), file.clone());
                    file
                }
            };
            let Some(file) = file else {
                report.skipped_writes += 1;
                continue;
            };
            write_all_at(file.as_ref(), &frame[entry.data], entry.offset)
                .map_err(io_err("replay journal into", &target))?;
            report.writes += 1;
        }
        round += 1;
        report.rounds += 1;
        offset += (frame.len() as u64).next_multiple_of(SLOT_BYTES);
    }
    Ok(())
}
