//! The async acknowledgement (`PendingAppend::acknowledged`): resolves once the
//! batch is acknowledged, with where it landed, and to the log's failure when the
//! write fails; a task that awaits it is woken, it does not poll.

mod common;

use common::{borrow, make_batch, read_all};
use shardlog_segment::io::{Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs};
use shardlog_segment::{BackendKind, Durability, Error, LogConfig, Storage, StorageConfig};
use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Wakes the test thread and counts how often it was woken.
struct ThreadWaker {
    thread: Thread,
    wakes: AtomicUsize,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Polls `future` on this thread until it resolves (at most 30 s), parking in
/// between; a future that was pending must have woken the task before resolving.
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Arc::new(ThreadWaker {
        thread: std::thread::current(),
        wakes: AtomicUsize::new(0),
    });
    let task_waker = Waker::from(Arc::clone(&waker));
    let mut context = Context::from_waker(&task_waker);
    let mut future = pin!(future);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut pending_polls = 0;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            let wakes = waker.wakes.load(Ordering::SeqCst);
            assert!(
                pending_polls == 0 || wakes > 0,
                "resolved after {pending_polls} pending polls without a wake"
            );
            return output;
        }
        pending_polls += 1;
        assert!(Instant::now() < deadline, "the acknowledgement never came");
        // Parking returns on the wake (or spuriously, which only polls again).
        std::thread::park_timeout(Duration::from_millis(500));
    }
}

fn storage_on(fs: &Arc<FaultyFs>) -> Storage {
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    Storage::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap()
}

/// Awaited acknowledgements give each batch's place, and what they acknowledged reads back.
#[test]
fn awaited_batches_are_acknowledged_in_order() {
    let fs = FaultyFs::new(MemFs::new());
    let storage = storage_on(&fs);
    let (log, _) = storage
        .open_log(Path::new("/a"), LogConfig::default())
        .unwrap();
    let mut written = Vec::new();
    for batch in 0..20u64 {
        let records = make_batch(batch, 3, 300);
        let pending = log.submit(&borrow(&records)).unwrap();
        let staged = pending.appended();
        let appended = block_on(pending.acknowledged()).unwrap();
        assert_eq!(appended, staged);
        assert_eq!(appended.base_position, batch * 3);
        assert!(log.end_position() >= appended.base_position + appended.count);
        written.extend(records);
    }
    let read: Vec<_> = read_all(&log, 0).into_iter().map(|(_, r)| r).collect();
    assert_eq!(read, written);
    storage.shutdown().unwrap();
}

/// A failed write resolves the awaited acknowledgement to the log's failure.
#[test]
fn a_failed_write_fails_the_awaited_acknowledgement() {
    let fs = FaultyFs::new(MemFs::new());
    let storage = storage_on(&fs);
    let (log, _) = storage
        .open_log(Path::new("/f"), LogConfig::default())
        .unwrap();
    log.append(&borrow(&make_batch(0, 2, 100))).unwrap();
    fs.inject(Fault {
        op: IoOp::Write,
        path_contains: Some(".log".into()),
        skip: 0,
        times: u64::MAX,
        action: FaultAction::Error(libc::EIO),
    });
    let pending = log.submit(&borrow(&make_batch(1, 2, 100))).unwrap();
    let result = block_on(pending.acknowledged());
    assert!(matches!(result, Err(Error::LogFailed { .. })), "{result:?}");
    assert_eq!(
        log.end_position(),
        2,
        "the failed batch is not acknowledged"
    );
    fs.clear();
    let _ = storage.shutdown();
}
