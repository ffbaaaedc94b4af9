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
//! [`Journal::open`] replays the frames of the current epoch before any log opens.
//! The byte layout is in `segment/FORMAT.md` ("Commit journal").

use crate::aligned::AlignedBuf;
use crate::backend::{Buffered, WriteBackend, WriteOp};
use crate::committer::sync_files;
use crate::error::{io_err, Corruption, Error, Result};
use crate::io::DIRECT_IO_ALIGNMENT;
use crate::io::{read_exact_at, write_all_at, FileHandle, FileSystem, OpenOptions, VolumeSync};
use crate::log::LogShared;
use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// The journal's file name in its storage directory.
pub const JOURNAL_FILE_NAME: &str = "JOURNAL";

const HEADER_MAGIC: [u8; 8] = *b"SLJOURN1";
const FORMAT_VERSION: u32 = 1;
/// One header slot per block; epochs alternate between the two, so that a torn
/// header write leaves the other slot (the previous epoch) readable.
const SLOT_BYTES: u64 = DIRECT_IO_ALIGNMENT as u64;
const HEADER_LEN: usize = 28;
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
    /// The file is written (in zeros or frames) up to here.
    filled_to: u64,
    oldest: Option<Instant>,
    dirty: HashMap<PathBuf, Dirty>,
    /// Set when a write or sync failed: frames of the current epoch may be all
    /// that holds some acknowledged bytes, so the epoch never advances again in
    /// this process, and changes to files with frames are refused.
    broken: Option<String>,
    frame: AlignedBuf,
    zeros: Option<AlignedBuf>,
    /// Syncs data files at checkpoints (any thread may start one).
    files: Buffered,
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
    /// Opens the journal of `dir`, replaying the frames of its current epoch into
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
        let epoch = read_epoch(plain.as_ref(), &path)?;
        let report = match epoch {
            Some(epoch) => replay(fs.as_ref(), dir, plain.as_ref(), &path, epoch)?,
            None => ReplayReport::default(),
        };
        let next = epoch.map_or(1, |epoch| epoch + 1);
        write_header(plain.as_ref(), next).map_err(io_err("write header of", &path))?;
        let filled_to = plain.len().map_err(io_err("size", &path))? / SLOT_BYTES * SLOT_BYTES;
        drop(plain);
        let file = fs
            .open(&path, OpenOptions::WRITE.with_direct(direct))
            .map_err(io_err("open", &path))?;
        let state = JournalState {
            file,
            epoch: next,
            rounds: 0,
            head: FRAMES_START,
            filled_to,
            oldest: None,
            dirty: HashMap::new(),
            broken: None,
            frame: AlignedBuf::with_capacity(64 << 10),
            zeros: None,
            files: Buffered::new(),
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

    /// Appends one frame holding `writes` and syncs the journal (with `backend`, the
    /// syncer's), after a checkpoint if one is due. `Ok` means every write is durable.
    pub(crate) fn append_round(
        &self,
        backend: &mut dyn WriteBackend,
        writes: &[JournalWrite<'_>],
    ) -> io::Result<()> {
        let mut state = self.lock();
        if let Some(cause) = &state.broken {
            return Err(io::Error::other(format!("journal failed earlier: {cause}")));
        }
        let frame_len = FRAME_HEADER_LEN
            + writes
                .iter()
                .map(|w| entry_len(self.relative(&w.path), w.data.len()))
                .sum::<usize>();
        let padded = frame_len.next_multiple_of(DIRECT_IO_ALIGNMENT) as u64;
        let full = state.head + padded > self.options.journal_bytes;
        let age = Duration::from_millis(self.options.checkpoint_age_ms);
        let old = state.oldest.is_some_and(|oldest| oldest.elapsed() >= age);
        if full || old {
            self.checkpoint_locked(&mut state)?;
        }
        let state = &mut *state;
        encode_frame(&mut state.frame, state.epoch, state.rounds, writes, |p| {
            self.relative(p)
        });
        let head = state.head;
        // Zeros ahead of the frame, written once per block of the file, so that
        // frames overwrite written blocks.
        let end = head + padded;
        let fill_end = (end + FILL_STEP_BYTES)
            .next_multiple_of(FILL_STEP_BYTES)
            .min(self.options.journal_bytes.next_multiple_of(SLOT_BYTES))
            .max(end);
        let zeros = state
            .zeros
            .get_or_insert_with(|| zero_buf(FILL_STEP_BYTES as usize));
        let mut ops = vec![WriteOp {
            file: state.file.as_ref(),
            offset: head,
            data: state.frame.padded(DIRECT_IO_ALIGNMENT),
        }];
        let mut fill_at = state.filled_to.max(end);
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
        let synced = written.and_then(|()| {
            let file = Arc::clone(&state.file);
            backend.sync_all(&[file]).pop().unwrap_or(Ok(()))
        });
        if let Err(error) = synced {
            state.broken = Some(format!("write of {}: {error}", self.path.display()));
            return Err(error);
        }
        state.filled_to = state.filled_to.max(fill_end);
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
        Ok(())
    }

    /// Before a change that would make a replay write old bytes into a different or
    /// shorter file at `path` (its creation, replacement, rename or truncation): a
    /// checkpoint, if the current epoch has frames for `path`.
    pub(crate) fn before_change(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        if !state.dirty.contains_key(path) {
            return Ok(());
        }
        self.checkpoint_locked(&mut state)
    }

    /// Syncs every file with frames in the current epoch and starts a new epoch.
    pub(crate) fn checkpoint(&self) -> io::Result<()> {
        let mut state = self.lock();
        self.checkpoint_locked(&mut state)
    }

    fn checkpoint_locked(&self, state: &mut JournalState) -> io::Result<()> {
        if let Some(cause) = &state.broken {
            return Err(io::Error::other(format!("journal failed earlier: {cause}")));
        }
        if state.rounds == 0 {
            return Ok(());
        }
        let (paths, dirty): (Vec<PathBuf>, Vec<Dirty>) = state.dirty.drain().unzip();
        let files: Vec<Arc<dyn FileHandle>> = dirty.iter().map(|d| Arc::clone(&d.file)).collect();
        let results = sync_files(&mut state.files, self.volume.as_deref(), &files);
        let mut first_error = None;
        for ((path, dirty), result) in paths.iter().zip(&dirty).zip(results) {
            let Err(error) = result else { continue };
            let cause = format!("journal checkpoint sync {}: {error}", path.display());
            if let Some(log) = dirty.log.upgrade() {
                crate::active::fail(&log, cause.clone());
            }
            first_error.get_or_insert((cause, error));
        }
        if let Some((cause, error)) = first_error {
            state.broken = Some(cause);
            return Err(error);
        }
        // Every byte of the epoch's frames is now in its file: the frames may go.
        if let Err(error) = write_header(state.file.as_ref(), state.epoch + 1) {
            state.broken = Some(format!("header of {}: {error}", self.path.display()));
            return Err(error);
        }
        state.epoch += 1;
        state.rounds = 0;
        state.head = FRAMES_START;
        state.oldest = None;
        Ok(())
    }

    fn relative<'p>(&self, path: &'p Path) -> &'p Path {
        path.strip_prefix(&self.dir)
            .expect("checked by Journal::takes")
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

/// Writes the header slot of `epoch` and syncs it.
fn write_header(file: &dyn FileHandle, epoch: u64) -> io::Result<()> {
    let mut slot = zero_buf(SLOT_BYTES as usize);
    let bytes = slot.prefix_mut(HEADER_LEN);
    bytes[0..8].copy_from_slice(&HEADER_MAGIC);
    bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes[16..24].copy_from_slice(&epoch.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..24]);
    bytes[24..28].copy_from_slice(&crc.to_le_bytes());
    write_all_at(file, slot.as_slice(), (epoch % 2) * SLOT_BYTES)?;
    file.sync_data()
}

/// The epoch of the newest intact header slot; `None` for a journal never written.
fn read_epoch(file: &dyn FileHandle, path: &Path) -> Result<Option<u64>> {
    let len = file.len().map_err(io_err("size", path))?;
    let mut newest: Option<u64> = None;
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
        let stored = u32::from_le_bytes(bytes[24..28].try_into().expect("4 bytes"));
        let epoch = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        let intact = bytes[0..8] == HEADER_MAGIC
            && stored == crc32fast::hash(&bytes[..24])
            && epoch % 2 == slot;
        if !intact {
            damaged = true;
            continue;
        }
        if version != FORMAT_VERSION {
            return Err(corrupt(
                path,
                slot * SLOT_BYTES,
                format!("version {version}"),
            ));
        }
        newest = newest.max(Some(epoch));
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

/// Reads the frame at `offset` of `epoch` and `round`; `None` where the epoch's
/// frames end (a torn, stale or never-written frame).
fn read_frame(
    file: &dyn FileHandle,
    file_len: u64,
    offset: u64,
    epoch: u64,
    round: u64,
) -> io::Result<Option<(Vec<u8>, Vec<ReadEntry>)>> {
    if offset + FRAME_HEADER_LEN as u64 > file_len {
        return Ok(None);
    }
    let mut header = [0u8; FRAME_HEADER_LEN];
    read_exact_at(file, &mut header, offset)?;
    let field = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(header[24..28].try_into().expect("4 bytes")) as u64;
    let count = u32::from_le_bytes(header[28..32].try_into().expect("4 bytes"));
    let fits = len >= FRAME_HEADER_LEN as u64 && offset + len <= file_len;
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

/// Writes every frame of `epoch` into its files, in order, and syncs them.
fn replay(
    fs: &dyn FileSystem,
    dir: &Path,
    journal: &dyn FileHandle,
    path: &Path,
    epoch: u64,
) -> Result<ReplayReport> {
    let file_len = journal.len().map_err(io_err("size", path))?;
    let mut report = ReplayReport::default();
    let mut open: HashMap<PathBuf, Option<Arc<dyn FileHandle>>> = HashMap::new();
    let mut offset = FRAMES_START;
    while let Some((frame, entries)) =
        read_frame(journal, file_len, offset, epoch, report.rounds).map_err(io_err("read", path))?
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
        report.rounds += 1;
        offset += (frame.len() as u64).next_multiple_of(SLOT_BYTES);
    }
    for (target, file) in &open {
        if let Some(file) = file {
            file.sync_data().map_err(io_err("sync", target))?;
        }
    }
    Ok(report)
}
