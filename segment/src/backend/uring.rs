//! `io_uring` writes to files opened with `O_DIRECT`.
//!
//! One [`WriteBackend::write_all`] call pushes the writes of every op (of any number of
//! files) into the ring and submits them with one `io_uring_enter` that also waits for
//! all of them; the remainder of a short write is resubmitted at the advanced offset, and
//! more ops than the ring holds go in further rounds. [`WriteBackend::sync_all`] does the
//! same with `IORING_OP_FSYNC` (`DATASYNC`). Writes and syncs are never linked
//! (`IOSQE_IO_LINK`): a short write breaks the chain, and the resubmitted remainder could
//! land after the linked sync.
//!
//! Buffers are borrowed, never copied: the kernel reads them until the write's completion
//! is reaped, so every submitted entry is reaped before `write_all` returns or unwinds
//! (see [`InFlight`] and `UNSAFE.md`).
//!
//! The ring is set up for one submitting thread with deferred task work where the kernel
//! allows it (see `setup`), so that the committer thread waiting for a round of writes
//! is woken once when they are all in, not once per file.
//!
//! A file without a raw descriptor (the in-memory file system that power-loss tests cut)
//! gets the very same writes, aligned blocks with the partial tail block rewritten, through
//! [`FileHandle::write_at`] and [`FileHandle::sync_data`] instead of the ring, so that those
//! tests exercise this backend's write pattern and everything above it.

use super::{BackendKind, WriteBackend, WriteOp};
use crate::io::{FileHandle, Injected, DIRECT_IO_ALIGNMENT};
use io_uring::{opcode, types, IoUring, Probe};
use std::collections::VecDeque;
use std::io;
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::thread::ThreadId;

/// Submission queue entries asked for at setup; more ops than this go in further rounds.
const RING_ENTRIES: u32 = 256;

/// Largest single write submitted. Linux caps one write at `MAX_RW_COUNT` (`i32::MAX`
/// rounded down to a page) and an entry's length is a `u32`; the cap is aligned so that
/// the remainder of a capped op stays aligned.
const SUBMIT_BYTES_MAX: usize = 0x7fff_f000;
const _: () = assert!(SUBMIT_BYTES_MAX.is_multiple_of(DIRECT_IO_ALIGNMENT));

/// How many `io_uring_enter` calls in a row may fail with a transient error (`EAGAIN`,
/// `EBUSY`: the kernel is short of request memory) before the batch is failed.
const ENTER_RETRIES_MAX: u32 = 64;

/// The `io_uring` backend: aligned `O_DIRECT` writes and `fdatasync`s submitted in
/// batches through one ring.
pub struct Uring {
    ring: IoUring,
    /// Entries the kernel gave the submission queue: the most entries in flight at once.
    sq_entries: usize,
    /// Whether the ring was set up for one submitting thread (see [`setup`]).
    single_issuer: bool,
    /// The thread that enabled a single-issuer ring: the only one allowed to submit.
    issuer: Option<ThreadId>,
}

impl std::fmt::Debug for Uring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uring")
            .field("sq_entries", &self.sq_entries)
            .field("single_issuer", &self.single_issuer)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Uring {
    /// Sets up a ring of 256 entries. Fails with the kernel's error (`ENOSYS` without
    /// io_uring, `EPERM` where it is disabled or filtered) or `Unsupported` when the
    /// kernel lacks `IORING_OP_WRITE` or `IORING_OP_FSYNC` (before Linux 5.6).
    pub fn new() -> io::Result<Self> {
        let (ring, single_issuer) = setup()?;
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe).map_err(|error| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io_uring cannot list its operations (Linux 5.6 or later is needed): {error}"),
            )
        })?;
        let needed = [
            (opcode::Write::CODE, "IORING_OP_WRITE"),
            (opcode::Fsync::CODE, "IORING_OP_FSYNC"),
        ];
        for (code, name) in needed {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("the kernel's io_uring lacks {name}"),
                ));
            }
        }
        let sq_entries = ring.params().sq_entries() as usize;
        // Completions of every entry in flight must fit in the completion queue.
        assert!(ring.params().cq_entries() as usize >= sq_entries);
        Ok(Uring {
            ring,
            sq_entries,
            single_issuer,
            issuer: None,
        })
    }

    /// Makes the ring usable from the calling thread. A single-issuer ring is enabled by
    /// the first thread that uses it (the committer's rings are created on one thread and
    /// used on another); should another thread use it later, it gets a ring of its own.
    fn claim(&mut self) -> io::Result<()> {
        if !self.single_issuer {
            return Ok(());
        }
        let current = std::thread::current().id();
        match self.issuer {
            Some(issuer) if issuer == current => Ok(()),
            Some(_) => {
                *self = Uring::new()?;
                self.claim()
            }
            None => {
                self.ring.submitter().register_enable_rings()?;
                self.issuer = Some(current);
                Ok(())
            }
        }
    }
}

/// Sets up the ring, for one submitting thread where the kernel allows it (Linux 6.1 and
/// later): `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN`, created disabled
/// (`IORING_SETUP_R_DISABLED`) so that the thread that first submits becomes its issuer.
/// With deferred task work a completion does not wake the waiting thread by itself: the
/// kernel wakes it once the completions it waits for are in, where a ring without these
/// flags woke it through task work for each write or sync that completed (a round of n
/// files: up to n wake-ups of the committer thread instead of one). Older kernels refuse
/// the flags with `EINVAL`; they get a ring without them. Returns the ring and whether
/// it is single-issuer.
fn setup() -> io::Result<(IoUring, bool)> {
    let single = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_r_disabled()
        .build(RING_ENTRIES);
    match single {
        Ok(ring) => Ok((ring, true)),
        Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
            Ok((IoUring::new(RING_ENTRIES)?, false))
        }
        Err(error) => Err(error),
    }
}

impl WriteBackend for Uring {
    fn kind(&self) -> BackendKind {
        BackendKind::IoUring
    }

    fn alignment(&self) -> usize {
        DIRECT_IO_ALIGNMENT
    }

    fn write_all(&mut self, ops: &[WriteOp<'_>]) -> Vec<io::Result<()>> {
        if let Err(error) = self.claim() {
            return ops.iter().map(|_| Err(ring_unusable(&error))).collect();
        }
        let mut batch = WriteBatch::new(ops);
        let mut in_flight = InFlight::new(&mut self.ring, self.sq_entries);
        let failure = loop {
            while !in_flight.is_full() {
                let Some(index) = batch.ready.pop_front() else {
                    break;
                };
                batch.submit(index, &mut in_flight);
            }
            if in_flight.is_empty() {
                break None;
            }
            let reaped = in_flight.submit_and_reap(|user_data, res| {
                let index = usize::try_from(user_data).expect("user_data is an op index");
                batch.complete(index, completion_result(res));
            });
            if let Err(error) = reaped {
                break Some(error);
            }
        };
        // Only after a failed submission is anything still in flight: reap it before the
        // buffers can go away.
        drop(in_flight);
        collect_results(batch.results, failure)
    }

    fn sync_all(&mut self, files: &[Arc<dyn FileHandle>]) -> Vec<io::Result<()>> {
        if let Err(error) = self.claim() {
            return files.iter().map(|_| Err(ring_unusable(&error))).collect();
        }
        // One file (a one-log round, or a journaled one) is synced on this thread,
        // as the buffered backend does: an `IORING_OP_FSYNC` always blocks, so the
        // kernel hands it to an io-wq worker, which costs a wake-up of the worker
        // and another of this thread at its completion on every sync. The ring
        // pays only when several files sync at once.
        if let [file] = files {
            return vec![file.sync_data()];
        }
        let mut results = Vec::with_capacity(files.len());
        let mut ready = Vec::with_capacity(files.len());
        // The handles' records of failed syncs, as `sync_data` would keep them.
        let mut running = Vec::new();
        for (index, file) in files.iter().enumerate() {
            let Some(fd) = file.raw_fd() else {
                // No descriptor: the handle syncs itself (and applies its own faults).
                results.push(Some(file.sync_data()));
                continue;
            };
            match check_sync(file.as_ref()) {
                Ok(()) => {
                    results.push(None);
                    ready.push((index, fd));
                    if let Some(record) = file.sync_record() {
                        running.push((index, record.start()));
                    }
                }
                Err(error) => results.push(Some(Err(error))),
            }
        }
        let mut ready = ready.into_iter();
        let mut in_flight = InFlight::new(&mut self.ring, self.sq_entries);
        let failure = loop {
            while !in_flight.is_full() {
                let Some((index, fd)) = ready.next() else {
                    break;
                };
                in_flight.push_fsync(fd, index as u64);
            }
            if in_flight.is_empty() {
                break None;
            }
            let reaped = in_flight.submit_and_reap(|user_data, res| {
                let index = usize::try_from(user_data).expect("user_data is a file index");
                assert!(results[index].is_none(), "file {index} synced twice");
                results[index] = Some(completion_result(res).map(|_| ()));
            });
            if let Err(error) = reaped {
                break Some(error);
            }
        };
        drop(in_flight);
        let results = collect_results(results, failure);
        for (index, sync) in running {
            sync.finish(&results[index]);
        }
        results
    }
}

/// The error of every op of a call whose thread could not get a usable ring.
fn ring_unusable(error: &io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("io_uring ring cannot be enabled for this thread: {error}"),
    )
}

/// A completion's result: bytes written, or the error the kernel returned (`-errno`).
fn completion_result(res: i32) -> io::Result<usize> {
    usize::try_from(res).map_err(|_| io::Error::from_raw_os_error(-res))
}

/// Where an op's writes go: the ring, for a file with a descriptor, or the file's own
/// `write_at`. The handle's address tells files without descriptors apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Ring(RawFd),
    Handle(usize),
}

impl Target {
    fn of(file: &dyn FileHandle) -> Target {
        match file.raw_fd() {
            Some(fd) => Target::Ring(fd),
            None => Target::Handle(std::ptr::from_ref(file).cast::<()>() as usize),
        }
    }
}

/// Checks an op's alignment and returns where its writes go.
///
/// A misaligned op fails with kind `InvalidInput` (what `EINVAL` maps to) and a message
/// naming what is misaligned: `std::io::Error` cannot carry both an OS code and a message.
fn check_op(op: &WriteOp<'_>) -> io::Result<Target> {
    let alignment = DIRECT_IO_ALIGNMENT;
    let mut misaligned = Vec::new();
    if !op.offset.is_multiple_of(alignment as u64) {
        misaligned.push(format!("offset {}", op.offset));
    }
    if !op.data.len().is_multiple_of(alignment) {
        misaligned.push(format!("length {}", op.data.len()));
    }
    if !(op.data.as_ptr() as usize).is_multiple_of(alignment) {
        misaligned.push(format!("buffer address {:p}", op.data.as_ptr()));
    }
    if !misaligned.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "EINVAL: O_DIRECT write through io_uring with {} not a multiple of {alignment}",
                misaligned.join(", ")
            ),
        ));
    }
    Ok(Target::of(op.file))
}

/// Applies an injected sync fault to a file with a descriptor.
fn check_sync(file: &dyn FileHandle) -> io::Result<()> {
    match file.injected_fault(None) {
        None => {}
        Some(Injected::Error(error)) => return Err(error),
        Some(Injected::Short(_)) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a short write was injected into a sync",
            ))
        }
    }
    Ok(())
}

/// One result per op or file; those left unfinished by a failed submission get its error.
fn collect_results(
    results: Vec<Option<io::Result<()>>>,
    failure: Option<io::Error>,
) -> Vec<io::Result<()>> {
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| {
                let failure = failure
                    .as_ref()
                    .expect("every op finishes unless a submission failed");
                Err(io::Error::new(
                    failure.kind(),
                    format!("io_uring submission failed: {failure}"),
                ))
            })
        })
        .collect()
}

/// Orders the ops that overlap on the same file, so that the bytes on disk are those of
/// the later op, as with the buffered backend: ops whose ranges chain into an overlapping
/// cluster run one after another in op order. Returns each op's successor and the ops
/// that may start at once. Ops without a target (`None`: already finished) take no part.
fn order_overlaps(
    ops: &[WriteOp<'_>],
    fds: &[Option<Target>],
) -> (Vec<Option<usize>>, VecDeque<usize>) {
    let end = |index: usize| {
        ops[index]
            .offset
            .saturating_add(ops[index].data.len() as u64)
    };
    let mut by_range: Vec<usize> = (0..ops.len()).filter(|&i| fds[i].is_some()).collect();
    by_range.sort_unstable_by_key(|&index| (fds[index], ops[index].offset));
    let mut successor = vec![None; ops.len()];
    let mut waits = vec![false; ops.len()];
    let mut start = 0;
    while start < by_range.len() {
        let first = by_range[start];
        let mut end_max = end(first);
        let mut stop = start + 1;
        while stop < by_range.len()
            && fds[by_range[stop]] == fds[first]
            && ops[by_range[stop]].offset < end_max
        {
            end_max = end_max.max(end(by_range[stop]));
            stop += 1;
        }
        let cluster = &mut by_range[start..stop];
        cluster.sort_unstable();
        for pair in cluster.windows(2) {
            successor[pair[0]] = Some(pair[1]);
            waits[pair[1]] = true;
        }
        start = stop;
    }
    let ready = (0..ops.len())
        .filter(|&index| fds[index].is_some() && !waits[index])
        .collect();
    (successor, ready)
}

/// The progress of one `write_all` call.
struct WriteBatch<'s, 'a> {
    ops: &'s [WriteOp<'a>],
    /// Target of each op still to write (`None`: finished before any submission).
    fds: Vec<Option<Target>>,
    /// Bytes of each op written so far.
    written: Vec<usize>,
    /// Each op's result once finished.
    results: Vec<Option<io::Result<()>>>,
    /// The op that overlaps this one on its file and must wait for it to finish.
    successor: Vec<Option<usize>>,
    /// Ops whose next write can be submitted.
    ready: VecDeque<usize>,
}

impl<'s, 'a> WriteBatch<'s, 'a> {
    fn new(ops: &'s [WriteOp<'a>]) -> Self {
        let mut fds = Vec::with_capacity(ops.len());
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            match check_op(op) {
                Ok(_) if op.data.is_empty() => {
                    fds.push(None);
                    results.push(Some(Ok(())));
                }
                Ok(fd) => {
                    fds.push(Some(fd));
                    results.push(None);
                }
                Err(error) => {
                    fds.push(None);
                    results.push(Some(Err(error)));
                }
            }
        }
        let (successor, ready) = order_overlaps(ops, &fds);
        WriteBatch {
            ops,
            fds,
            written: vec![0; ops.len()],
            results,
            successor,
            ready,
        }
    }

    /// Pushes the next write of op `index`, unless an injected fault finishes it; for a
    /// file without a descriptor, makes that write through the handle at once.
    fn submit(&mut self, index: usize, in_flight: &mut InFlight<'_, 'a>) {
        let op = &self.ops[index];
        let target = self.fds[index].expect("only ops with a target are ready");
        let data: &'a [u8] = op.data;
        let written = self.written[index];
        let remaining = &data[written..];
        let wanted = remaining.len().min(SUBMIT_BYTES_MAX);
        let offset = op.offset + written as u64;
        let fd = match target {
            Target::Ring(fd) => fd,
            Target::Handle(_) => {
                // The handle applies its own faults: `injected_fault` is for the ring only.
                let result = op.file.write_at(&remaining[..wanted], offset);
                return self.complete(index, result);
            }
        };
        let len = match op.file.injected_fault(Some(wanted)) {
            None => wanted,
            Some(Injected::Short(len)) => len.min(wanted),
            Some(Injected::Error(error)) => return self.finish(index, Err(error)),
        };
        if len == 0 {
            return self.finish(index, Err(write_zero()));
        }
        in_flight.push_write(fd, &remaining[..len], offset, index as u64);
    }

    /// Accounts for the completion of a write of op `index`: bytes written or an error.
    fn complete(&mut self, index: usize, result: io::Result<usize>) {
        assert!(self.results[index].is_none(), "op {index} completed twice");
        let written_now = match result {
            Ok(written_now) => written_now,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                return self.ready.push_back(index);
            }
            Err(error) => return self.finish(index, Err(error)),
        };
        if written_now == 0 {
            return self.finish(index, Err(write_zero()));
        }
        self.written[index] += written_now;
        let len = self.ops[index].data.len();
        assert!(self.written[index] <= len, "the file wrote more than asked");
        if self.written[index] == len {
            self.finish(index, Ok(()));
        } else {
            // A short write: the remainder goes in the next round.
            self.ready.push_back(index);
        }
    }

    fn finish(&mut self, index: usize, result: io::Result<()>) {
        self.results[index] = Some(result);
        if let Some(next) = self.successor[index] {
            self.ready.push_back(next);
        }
    }
}

fn write_zero() -> io::Error {
    io::Error::new(
        io::ErrorKind::WriteZero,
        "io_uring write returned zero bytes",
    )
}

/// Entries pushed into the ring and not yet reaped; `'buf` is the lifetime of the
/// buffers they read.
///
/// The invariant the `unsafe` pushes rely on: dropping this value (on return or on
/// unwind) reaps every entry pushed, so the kernel never reads a buffer or uses a
/// descriptor after `'buf` ends. `Drop` needs `'buf` alive, and the value is private to
/// this module and never leaked with `mem::forget`. At most `capacity` (the submission
/// queue's size, no more than the completion queue's) entries are in flight, so the
/// completion queue never overflows.
struct InFlight<'r, 'buf> {
    ring: &'r mut IoUring,
    capacity: usize,
    /// Entries pushed and not yet reaped, submitted or not.
    count: usize,
    /// Transient `io_uring_enter` failures in a row.
    stalls: u32,
    _buffers: PhantomData<&'buf [u8]>,
}

impl<'r, 'buf> InFlight<'r, 'buf> {
    fn new(ring: &'r mut IoUring, capacity: usize) -> Self {
        InFlight {
            ring,
            capacity,
            count: 0,
            stalls: 0,
            _buffers: PhantomData,
        }
    }

    fn is_full(&self) -> bool {
        self.count == self.capacity
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Pushes a write of all of `buf` at `offset` of `fd` (a descriptor of a file
    /// borrowed for `'buf`).
    fn push_write(&mut self, fd: RawFd, buf: &'buf [u8], offset: u64, user_data: u64) {
        assert!(!self.is_full());
        let len = u32::try_from(buf.len()).expect("writes are capped at SUBMIT_BYTES_MAX");
        let entry = opcode::Write::new(types::Fd(fd), buf.as_ptr(), len)
            .offset(offset)
            .build()
            .user_data(user_data);
        // SAFETY: the kernel reads `buf` until this entry completes. `buf` is borrowed for
        // `'buf`, and `self` reaps every pushed entry before it is dropped, which happens
        // while `'buf` is alive (see `InFlight`); `fd` belongs to a file borrowed for `'buf`.
        let pushed = unsafe { self.ring.submission().push(&entry) };
        pushed.expect("the submission queue has room: fewer than `capacity` in flight");
        self.count += 1;
    }

    /// Pushes an `fdatasync` of `fd` (a descriptor of a file borrowed for `'buf`).
    fn push_fsync(&mut self, fd: RawFd, user_data: u64) {
        assert!(!self.is_full());
        let entry = opcode::Fsync::new(types::Fd(fd))
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .user_data(user_data);
        // SAFETY: the entry points to no memory; its descriptor belongs to a file borrowed
        // for `'buf`, and every pushed entry is reaped before `self` is dropped (see
        // `InFlight`), so the descriptor stays open for as long as the kernel uses it.
        let pushed = unsafe { self.ring.submission().push(&entry) };
        pushed.expect("the submission queue has room: fewer than `capacity` in flight");
        self.count += 1;
    }

    /// Submits what was pushed, waits until everything in flight has completed (or the
    /// kernel stopped early), and hands each completion's `user_data` and result to
    /// `on_complete`. Fails only when `io_uring_enter` itself fails for good.
    fn submit_and_reap(&mut self, mut on_complete: impl FnMut(u64, i32)) -> io::Result<()> {
        match self.ring.submit_and_wait(self.count) {
            Ok(_) => self.stalls = 0,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if is_transient(&error) && self.stalls < ENTER_RETRIES_MAX => {
                self.stalls += 1;
            }
            Err(error) => return Err(error),
        }
        self.reap(&mut on_complete);
        Ok(())
    }

    fn reap(&mut self, on_complete: &mut impl FnMut(u64, i32)) {
        for cqe in self.ring.completion() {
            self.count = self
                .count
                .checked_sub(1)
                .expect("a completion for an entry this batch did not push");
            on_complete(cqe.user_data(), cqe.result());
        }
    }
}

impl Drop for InFlight<'_, '_> {
    /// Reaps whatever is still in flight (only after a failed submission or a panic),
    /// discarding the results. If the ring cannot even do that, the kernel may still read
    /// buffers that are about to be freed: the process aborts rather than risk it.
    fn drop(&mut self) {
        let mut stalls = 0;
        while self.count > 0 {
            match self.ring.submit_and_wait(self.count) {
                Ok(_) => stalls = 0,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if is_transient(&error) && stalls < ENTER_RETRIES_MAX => stalls += 1,
                Err(error) => {
                    eprintln!(
                        "shardlog: io_uring_enter failed ({error}) with {} writes in flight \
                         that read borrowed buffers; aborting",
                        self.count
                    );
                    std::process::abort();
                }
            }
            self.reap(&mut |_, _| {});
        }
    }
}

/// `EAGAIN` and `EBUSY` from `io_uring_enter`: the kernel is short of request memory or
/// completion queue room for now.
fn is_transient(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EAGAIN | libc::EBUSY))
}

#[cfg(test)]
mod tests;
