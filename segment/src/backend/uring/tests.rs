//! The backend lands byte-exact data through short writes and more ops than the ring
//! holds, and reports each op's or file's failure on its own.
use super::*;
use crate::aligned::AlignedBuf;
use crate::io::{read_file, Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs};
use crate::io::{OpenOptions, RealFs, SyncRecord};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// A real file whose `injected_fault` answers from a script and records what it was
/// asked, and which counts the syncs made through its own `sync_data` (not the
/// ring's fsyncs of its descriptor).
#[derive(Debug)]
struct Scripted {
    inner: Arc<dyn FileHandle>,
    script: Mutex<VecDeque<Injected>>,
    asked: Mutex<Vec<Option<usize>>>,
    own_syncs: AtomicUsize,
}

impl Scripted {
    fn new(inner: Arc<dyn FileHandle>, script: Vec<Injected>) -> Self {
        Scripted {
            inner,
            script: Mutex::new(script.into()),
            asked: Mutex::new(Vec::new()),
            own_syncs: AtomicUsize::new(0),
        }
    }

    fn own_syncs(&self) -> usize {
        self.own_syncs.load(Ordering::SeqCst)
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
        self.own_syncs.fetch_add(1, Ordering::SeqCst);
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
    let synced = uring.sync_all(&[Arc::clone(&a), Arc::clone(&b)]);
    assert!(synced[0].is_ok(), "{synced:?}");
    assert_eq!(
        synced[1].as_ref().unwrap_err().raw_os_error(),
        Some(libc::EIO)
    );
    assert_eq!(fs.fired(), 2);
    assert!(uring.sync_all(&[b])[0].is_ok(), "reported once");
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
    let results = uring.sync_all(&files);
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert!(uring.sync_all(&[]).is_empty());
}

/// An injected sync error is reported for that file only.
#[test]
fn injected_sync_error_fails_only_its_file() {
    let Some(mut uring) = ring() else { return };
    let dir = tempfile::tempdir().unwrap();
    let failing = Arc::new(Scripted::new(
        open(dir.path(), "b"),
        vec![Injected::Error(io::Error::from_raw_os_error(libc::EIO))],
    ));
    let (a, c) = (open(dir.path(), "a"), open(dir.path(), "c"));
    let results = uring.sync_all(&[a, Arc::clone(&failing) as Arc<dyn FileHandle>, c]);
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
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| uring.write_all(&ops)));
    assert!(outcome.is_err(), "the fault layer's panic must propagate");
    assert_eq!(
        std::fs::read(dir.path().join("a")).unwrap(),
        data.as_slice()
    );
    let results = uring.write_all(&[op(&fine, 2 * BLOCK as u64, data.as_slice())]);
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(uring.sync_all(&[fine])[0].is_ok());
}

/// A ring created on one thread writes and syncs from the thread that first uses it, and
/// still lands every byte when a later thread takes it over (a single-issuer ring refuses
/// submissions from any thread but its issuer, so that thread gets a ring of its own).
#[test]
fn ring_moved_between_threads_keeps_writing() {
    let Some(uring) = ring() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = open(dir.path(), "moved");
    let blocks: Vec<AlignedBuf> = (0..3).map(|seed| pattern(seed, BLOCK)).collect();
    let mut uring = Some(uring);
    for (index, block) in blocks.iter().enumerate() {
        let mut moved = uring.take().expect("the ring comes back from each thread");
        let file = Arc::clone(&file);
        let data = block.as_slice().to_vec();
        uring = Some(std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let mut buf = AlignedBuf::with_capacity(BLOCK);
                    buf.extend_uninit(BLOCK).copy_from_slice(&data);
                    let offset = (index * BLOCK) as u64;
                    let written = moved.write_all(&[op(&file, offset, buf.as_slice())]);
                    assert!(written.iter().all(|r| r.is_ok()), "{written:?}");
                    let synced = moved.sync_all(&[Arc::clone(&file)]);
                    assert!(synced.iter().all(|r| r.is_ok()), "{synced:?}");
                    moved
                })
                .join()
                .expect("the writing thread finishes")
        }));
    }
    let on_disk = std::fs::read(dir.path().join("moved")).unwrap();
    let expected: Vec<u8> = blocks.iter().flat_map(|b| b.as_slice().to_vec()).collect();
    assert_eq!(on_disk, expected);
}

/// A descriptor no fsync can sync (a pipe's: `EINVAL`), with a record of failed syncs.
#[derive(Debug)]
struct Unsyncable {
    pipe: std::io::PipeReader,
    record: SyncRecord,
}

impl FileHandle for Unsyncable {
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::EINVAL))
    }

    fn write_at(&self, _buf: &[u8], _offset: u64) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::EINVAL))
    }

    fn sync_data(&self) -> io::Result<()> {
        self.record
            .sync(|| Err(io::Error::from_raw_os_error(libc::EINVAL)))
    }

    fn len(&self) -> io::Result<u64> {
        Ok(0)
    }

    fn set_len(&self, _len: u64) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::EINVAL))
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(std::os::fd::AsRawFd::as_raw_fd(&self.pipe))
    }

    fn sync_record(&self) -> Option<&SyncRecord> {
        Some(&self.record)
    }
}

/// A sync the ring itself fails is recorded in its handle's record, as `sync_data`
/// records one; the other file's record stays clean.
#[test]
fn a_failed_ring_fsync_is_recorded() {
    let Some(mut uring) = ring() else { return };
    let dir = tempfile::tempdir().unwrap();
    let fine = open(dir.path(), "fine");
    let (pipe, _writer) = std::io::pipe().unwrap();
    let record = SyncRecord::default();
    let bad: Arc<dyn FileHandle> = Arc::new(Unsyncable { pipe, record });
    let results = uring.sync_all(&[Arc::clone(&fine), Arc::clone(&bad)]);
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(
        results[1].as_ref().unwrap_err().raw_os_error(),
        Some(libc::EINVAL)
    );
    assert!(!fine.sync_record().expect("a real file's").failed());
    assert!(bad.sync_record().unwrap().failed());
}

/// A lone file is synced on the calling thread with `fdatasync` (an io_uring
/// fsync would go through a kernel worker thread); several files go through the
/// ring together.
#[test]
fn a_lone_file_syncs_on_the_calling_thread_and_several_through_the_ring() {
    let Some(mut uring) = ring() else { return };
    let dir = tempfile::tempdir().unwrap();
    let counted = |name: &str| Arc::new(Scripted::new(open(dir.path(), name), Vec::new()));
    let lone = counted("lone");
    let results = uring.sync_all(&[Arc::clone(&lone) as Arc<dyn FileHandle>]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(lone.own_syncs(), 1);
    let (first, second) = (counted("first"), counted("second"));
    let both: [Arc<dyn FileHandle>; 2] = [first.clone(), second.clone()];
    let results = uring.sync_all(&both);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!((first.own_syncs(), second.own_syncs()), (0, 0));
}
