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
}

impl std::fmt::Debug for Uring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uring")
            .field("sq_entries", &self.sq_entries)
            .finish_non_exhaustive()
    }
}

impl Uring {
    /// Sets up a ring of 256 entries. Fails with the kernel's error (`ENOSYS` without
    /// io_uring, `EPERM` where it is disabled or filtered) or `Unsupported` when the
    /// kernel lacks `IORING_OP_WRITE` or `IORING_OP_FSYNC` (before Linux 5.6).
    pub fn new() -> io::Result<Self> {
        let ring = IoUring::new(RING_ENTRIES)?;
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
        Ok(Uring { ring, sq_entries })
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

    fn sync_all(&mut self, files: &[&dyn FileHandle]) -> Vec<io::Result<()>> {
        let mut results = Vec::with_capacity(files.len());
        let mut ready = Vec::with_capacity(files.len());
        for (index, file) in files.iter().enumerate() {
            let Some(fd) = file.raw_fd() else {
                // No descriptor: the handle syncs itself (and applies its own faults).
                results.push(Some(file.sync_data()));
                continue;
            };
            match check_sync(*file) {
                Ok(()) => {
                    results.push(None);
                    ready.push((index, fd));
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
        collect_results(results, failure)
    }
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
mod tests {
    //! The backend lands byte-exact data through short writes and more ops than the ring
    //! holds, and reports each op's or file's failure on its own.
    use super::*;
    use crate::aligned::AlignedBuf;
    use crate::io::{read_file, Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs};
    use crate::io::{OpenOptions, RealFs};
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    const BLOCK: usize = DIRECT_IO_ALIGNMENT;

    /// A ring, or `None` (with a note) where the kernel refuses io_uring.
    fn ring() -> Option<Uring> {
        match Uring::new() {
            Ok(uring) => Some(uring),
            Err(error)
                if matches!(error.raw_os_error(), Some(libc::ENOSYS | libc::EPERM))
                    || error.kind() == io::ErrorKind::Unsupported =>
            {
                eprintln!("note: io_uring unavailable here ({error}); test skipped");
                None
            }
            Err(error) => panic!("io_uring setup failed: {error}"),
        }
    }

    fn open(dir: &Path, name: &str) -> Arc<dyn FileHandle> {
        RealFs
            .open(&dir.join(name), OpenOptions::CREATE.with_direct(true))
            .expect("open with O_DIRECT")
    }

    /// `len` aligned bytes whose values depend on `seed` and the position.
    fn pattern(seed: u8, len: usize) -> AlignedBuf {
        let mut buf = AlignedBuf::with_capacity(len);
        for (i, byte) in buf.extend_uninit(len).iter_mut().enumerate() {
            *byte = ((i * 31 + usize::from(seed) * 17) % 251) as u8;
        }
        buf
    }

    fn op<'a>(file: &'a Arc<dyn FileHandle>, offset: u64, data: &'a [u8]) -> WriteOp<'a> {
        WriteOp {
            file: file.as_ref(),
            offset,
            data,
        }
    }

    /// A real file whose `injected_fault` answers from a script and records what it was asked.
    #[derive(Debug)]
    struct Scripted {
        inner: Arc<dyn FileHandle>,
        script: Mutex<VecDeque<Injected>>,
        asked: Mutex<Vec<Option<usize>>>,
    }

    impl Scripted {
        fn new(inner: Arc<dyn FileHandle>, script: Vec<Injected>) -> Self {
            Scripted {
                inner,
                script: Mutex::new(script.into()),
                asked: Mutex::new(Vec::new()),
            }
        }

        fn asked(&self) -> Vec<Option<usize>> {
            self.asked.lock().unwrap().clone()
        }
    }

    impl FileHandle for Scripted {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.inner.read_at(buf, offset)
        }
        fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
            self.inner.write_at(buf, offset)
        }
        fn sync_data(&self) -> io::Result<()> {
            self.inner.sync_data()
        }
        fn len(&self) -> io::Result<u64> {
            self.inner.len()
        }
        fn set_len(&self, len: u64) -> io::Result<()> {
            self.inner.set_len(len)
        }
        fn raw_fd(&self) -> Option<RawFd> {
            self.inner.raw_fd()
        }
        fn injected_fault(&self, write_len: Option<usize>) -> Option<Injected> {
            self.asked.lock().unwrap().push(write_len);
            self.script.lock().unwrap().pop_front()
        }
    }

    /// A real file whose `injected_fault` panics, as a buggy fault layer might.
    #[derive(Debug)]
    struct PanicsOnFault(Arc<dyn FileHandle>);

    impl FileHandle for PanicsOnFault {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.0.read_at(buf, offset)
        }
        fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
            self.0.write_at(buf, offset)
        }
        fn sync_data(&self) -> io::Result<()> {
            self.0.sync_data()
        }
        fn len(&self) -> io::Result<u64> {
            self.0.len()
        }
        fn set_len(&self, len: u64) -> io::Result<()> {
            self.0.set_len(len)
        }
        fn raw_fd(&self) -> Option<RawFd> {
            self.0.raw_fd()
        }
        fn injected_fault(&self, _write_len: Option<usize>) -> Option<Injected> {
            panic!("fault layer bug");
        }
    }

    /// Several aligned ops to two files in one call land byte-exact, holes stay zero.
    #[test]
    fn ops_to_two_files_in_one_call_land_byte_exact() {
        let Some(mut uring) = ring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (open(dir.path(), "a"), open(dir.path(), "b"));
        let (a0, a1, b0) = (
            pattern(1, 2 * BLOCK),
            pattern(2, BLOCK),
            pattern(3, 3 * BLOCK),
        );
        let ops = [
            op(&a, 0, a0.as_slice()),
            op(&b, BLOCK as u64, b0.as_slice()),
            op(&a, 2 * BLOCK as u64, a1.as_slice()),
        ];
        let results = uring.write_all(&ops);
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        let on_disk_a = std::fs::read(dir.path().join("a")).unwrap();
        assert_eq!(on_disk_a, [a0.as_slice(), a1.as_slice()].concat());
        let on_disk_b = std::fs::read(dir.path().join("b")).unwrap();
        assert_eq!(on_disk_b, [&[0u8; BLOCK][..], b0.as_slice()].concat());
    }

    /// More ops than the ring has entries all land, in several rounds of one call.
    #[test]
    fn more_ops_than_ring_entries_all_land() {
        let Some(mut uring) = ring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let files = [open(dir.path(), "a"), open(dir.path(), "b")];
        let op_count = 2 * RING_ENTRIES as usize + 7;
        let data = pattern(9, op_count * BLOCK);
        let ops: Vec<WriteOp<'_>> = (0..op_count)
            .map(|i| {
                let offset = (i / 2 * BLOCK) as u64;
                op(
                    &files[i % 2],
                    offset,
                    &data.as_slice()[i * BLOCK..][..BLOCK],
                )
            })
            .collect();
        let results = uring.write_all(&ops);
        assert_eq!(results.len(), op_count);
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        for (file_index, name) in ["a", "b"].into_iter().enumerate() {
            let on_disk = std::fs::read(dir.path().join(name)).unwrap();
            let expected: Vec<u8> = (0..op_count)
                .filter(|i| i % 2 == file_index)
                .flat_map(|i| data.as_slice()[i * BLOCK..][..BLOCK].iter().copied())
                .collect();
            assert_eq!(on_disk, expected, "file {name}");
        }
    }

    /// Misaligned offset, length or address fail that op with EINVAL; the others land.
    #[test]
    fn misaligned_ops_fail_with_einval_and_the_others_land() {
        let Some(mut uring) = ring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let file = open(dir.path(), "a");
        let data = pattern(4, 3 * BLOCK);
        let bytes = data.as_slice();
        let ops = [
            op(&file, 100, &bytes[..BLOCK]),
            op(&file, 0, &bytes[..BLOCK]),
            op(&file, BLOCK as u64, &bytes[..BLOCK + 100]),
            op(&file, BLOCK as u64, &bytes[1..=BLOCK]),
            op(&file, 0, &bytes[..0]),
        ];
        let results = uring.write_all(&ops);
        for (index, what) in [(0, "offset 100"), (2, "length 4196"), (3, "buffer address")] {
            let error = results[index]
                .as_ref()
                .expect_err("misaligned op must fail");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "op {index}");
            let message = error.to_string();
            assert!(
                message.contains("EINVAL") && message.contains(what),
                "{message}"
            );
        }
        assert!(results[1].is_ok() && results[4].is_ok(), "{results:?}");
        let on_disk = std::fs::read(dir.path().join("a")).unwrap();
        assert_eq!(on_disk, &bytes[..BLOCK]);
    }

    /// Files without a descriptor (MemFs) get the same aligned writes through their
    /// handles: bytes land, a short write is finished, a misaligned op is EINVAL, and a
    /// fault layer's write and sync faults fire once each, not once per layer asked.
    #[test]
    fn file_without_raw_fd_is_written_through_its_handle() {
        let Some(mut uring) = ring() else { return };
        let fs = FaultyFs::new(MemFs::new());
        let open_mem = |name: &str| {
            fs.open(Path::new(name), OpenOptions::CREATE.with_direct(true))
                .unwrap()
        };
        let (a, b) = (open_mem("/a"), open_mem("/b"));
        let data = pattern(5, 3 * BLOCK);
        fs.inject(Fault {
            op: IoOp::Write,
            path_contains: Some("/a".into()),
            skip: 0,
            times: 1,
            action: FaultAction::ShortWrite { bytes: BLOCK },
        });
        let results = uring.write_all(&[
            op(&a, BLOCK as u64, data.as_slice()),
            op(&b, 0, &data.as_slice()[..BLOCK]),
            op(&b, 100, &data.as_slice()[..BLOCK]),
        ]);
        assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
        let misaligned = results[2].as_ref().expect_err("misaligned op must fail");
        assert_eq!(
            misaligned.kind(),
            io::ErrorKind::InvalidInput,
            "{misaligned}"
        );
        let on_a = read_file(fs.as_ref(), Path::new("/a")).unwrap();
        assert_eq!(on_a, [&[0u8; BLOCK][..], data.as_slice()].concat());
        assert_eq!(fs.fired(), 1);
        fs.inject(Fault {
            op: IoOp::Sync,
            path_contains: Some("/b".into()),
            skip: 0,
            times: 1,
            action: FaultAction::Error(libc::EIO),
        });
        let synced = uring.sync_all(&[a.as_ref(), b.as_ref()]);
        assert!(synced[0].is_ok(), "{synced:?}");
        assert_eq!(
            synced[1].as_ref().unwrap_err().raw_os_error(),
            Some(libc::EIO)
        );
        assert_eq!(fs.fired(), 2);
        assert!(uring.sync_all(&[b.as_ref()])[0].is_ok(), "reported once");
    }

    /// An injected write error fails that op without submitting it; the other op lands.
    #[test]
    fn injected_write_error_fails_only_its_op() {
        let Some(mut uring) = ring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let failing: Arc<dyn FileHandle> = Arc::new(Scripted::new(
            open(dir.path(), "a"),
            vec![Injected::Error(io::Error::from_raw_os_error(libc::ENOSPC))],
        ));
        let fine = open(dir.path(), "b");
        let data = pattern(6, 2 * BLOCK);
        let results = uring.write_all(&[
            op(&failing, 0, data.as_slice()),
            op(&fine, 0, data.as_slice()),
        ]);
        assert_eq!(
            results[0].as_ref().unwrap_err().raw_os_error(),
            Some(libc::ENOSPC)
        );
        assert!(results[1].is_ok(), "{:?}", results[1]);
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap().len(), 0);
        assert_eq!(
            std::fs::read(dir.path().join("b")).unwrap(),
            data.as_slice()
        );
    }

    /// An injected short write is completed by resubmitting the rest at the advanced offset.
    #[test]
    fn injected_short_write_still_lands_every_byte() {
        let Some(mut uring) = ring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let scripted = Arc::new(Scripted::new(
            open(dir.path(), "a"),
            vec![Injected::Short(BLOCK)],
        ));
        let file: Arc<dyn FileHandle> = scripted.clone();
        let data = pattern(7, 4 * BLOCK);
        let results = uring.write_all(&[op(&file, BLOCK as u64, data.as_slice())]);
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert_eq!(scripted.asked(), [Some(4 * BLOCK), Some(3 * BLOCK)]);
        let on_disk = std::fs::read(dir.path().join("a")).unwrap();
        assert_eq!(on_disk, [&[0u8; BLOCK][..], data.as_slice()].concat());
    }

    /// An injected write of zero bytes fails the op with WriteZero instead of looping.
    #[test]
    fn injected_zero_byte_write_is_write_zero() {
        let Some(mut uring) = ring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let file: Arc<dyn FileHandle> = Arc::new(Scripted::new(
            open(dir.path(), "a"),
            vec![Injected::Short(BLOCK), Injected::Short(0)],
        ));
        let data = pattern(8, 2 * BLOCK);
        let results = uring.write_all(&[op(&file, 0, data.as_slice())]);
        assert_eq!(
            results[0].as_ref().unwrap_err().kind(),
            io::ErrorKind::WriteZero
        );
    }

    /// Ops that overlap on one file apply in op order, as with the buffered backend.
    ///
    /// On ext4 here the kernel happened to apply these in submission order even without
    /// the chaining; `order_overlaps_chains_only_overlapping_ops` is what pins the order.
    #[test]
    fn overlapping_ops_apply_in_op_order() {
        let Some(mut uring) = ring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let file = open(dir.path(), "a");
        let (first, second, third) = (pattern(1, 2 * BLOCK), pattern(2, BLOCK), pattern(3, BLOCK));
        let ops = [
            op(&file, 0, first.as_slice()),
            op(&file, BLOCK as u64, second.as_slice()),
            op(&file, 0, third.as_slice()),
        ];
        let results = uring.write_all(&ops);
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        let on_disk = std::fs::read(dir.path().join("a")).unwrap();
        assert_eq!(on_disk, [third.as_slice(), second.as_slice()].concat());
    }

    /// Overlapping ops of one file chain in op order; other files and disjoint ranges start at once.
    #[test]
    fn order_overlaps_chains_only_overlapping_ops() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (open(dir.path(), "a"), open(dir.path(), "b"));
        let data = pattern(1, 2 * BLOCK);
        let (one, two) = (&data.as_slice()[..BLOCK], data.as_slice());
        let block = BLOCK as u64;
        let ops = [
            op(&a, 0, two),         // 0: [0, 2) overlaps 2
            op(&a, 2 * block, two), // 1: [2, 4) overlaps 2
            op(&a, block, two),     // 2: [1, 3)
            op(&b, 0, one),         // 3: another file
            op(&a, 8 * block, one), // 4: disjoint
        ];
        let fds: Vec<_> = ops.iter().map(|op| Some(Target::of(op.file))).collect();
        let (successor, ready) = order_overlaps(&ops, &fds);
        assert_eq!(successor, [Some(1), Some(2), None, None, None]);
        assert_eq!(ready, [0, 3, 4]);
    }

    /// Syncing several files in one call succeeds for each.
    #[test]
    fn sync_all_syncs_several_files() {
        let Some(mut uring) = ring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<_> = (0..3).map(|i| open(dir.path(), &i.to_string())).collect();
        let data = pattern(2, BLOCK);
        let ops: Vec<_> = files
            .iter()
            .map(|file| op(file, 0, data.as_slice()))
            .collect();
        assert!(uring.write_all(&ops).iter().all(|r| r.is_ok()));
        let handles: Vec<&dyn FileHandle> = files.iter().map(|file| file.as_ref()).collect();
        let results = uring.sync_all(&handles);
        assert_eq!(results.len(), 3);
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        assert!(uring.sync_all(&[]).is_empty());
    }

    /// An injected sync error is reported for that file only.
    #[test]
    fn injected_sync_error_fails_only_its_file() {
        let Some(mut uring) = ring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let failing = Scripted::new(
            open(dir.path(), "b"),
            vec![Injected::Error(io::Error::from_raw_os_error(libc::EIO))],
        );
        let (a, c) = (open(dir.path(), "a"), open(dir.path(), "c"));
        let results = uring.sync_all(&[a.as_ref(), &failing, c.as_ref()]);
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        assert_eq!(
            results[1].as_ref().unwrap_err().raw_os_error(),
            Some(libc::EIO)
        );
        assert_eq!(failing.asked(), [None]);
    }

    /// A panic mid-batch still reaps what was pushed before it: the pushed write lands
    /// and the ring serves the next call.
    #[test]
    fn panic_mid_batch_reaps_pushed_writes_and_leaves_the_ring_usable() {
        let Some(mut uring) = ring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let fine = open(dir.path(), "a");
        let panics: Arc<dyn FileHandle> = Arc::new(PanicsOnFault(open(dir.path(), "b")));
        let data = pattern(3, 2 * BLOCK);
        let ops = [
            op(&fine, 0, data.as_slice()),
            op(&panics, 0, data.as_slice()),
        ];
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| uring.write_all(&ops)));
        assert!(outcome.is_err(), "the fault layer's panic must propagate");
        assert_eq!(
            std::fs::read(dir.path().join("a")).unwrap(),
            data.as_slice()
        );
        let results = uring.write_all(&[op(&fine, 2 * BLOCK as u64, data.as_slice())]);
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert!(uring.sync_all(&[fine.as_ref()])[0].is_ok());
    }
}
