//! Faults through the file-system seam: a failed sync of the message log fails
//! the send, a retry is never answered as a duplicate of the failed send, and
//! after a restart the queue holds exactly what was acknowledged.

mod common;

use common::{fifo, text};
use shardlog_queue::{Error, ManualClock, QueueName, Queues};
use shardlog_segment::io::{Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs};
use shardlog_segment::{Storage, StorageConfig};
use std::sync::Arc;

/// The errno of an I/O error (without a libc dependency for one constant).
const EIO: i32 = 5;

fn open(fs: Arc<dyn FileSystem>, clock: &Arc<ManualClock>) -> (Storage, Queues) {
    let storage = Storage::open(fs, StorageConfig::default()).unwrap();
    let (queues, _) = Queues::open(storage.clone(), common::ROOT, common::config(clock)).unwrap();
    (storage, queues)
}

/// Makes the next sync of a message log fail with EIO.
fn fail_next_message_sync(faulty: &FaultyFs) {
    faulty.inject(Fault {
        op: IoOp::Sync,
        path_contains: Some("messages".into()),
        skip: 0,
        times: 1,
        action: FaultAction::Error(EIO),
    });
}

/// A FIFO queue of `name` with default attributes.
fn create_fifo(queues: &Queues, name: &str) -> Arc<shardlog_queue::Queue> {
    queues
        .create_queue(
            &QueueName::new(name).unwrap(),
            &Default::default(),
            Default::default(),
        )
        .unwrap()
}

/// A FIFO send whose sync fails is an error, and so is its retry in the same
/// process (the log is failed), never an acknowledged duplicate; after a restart
/// the retry is stored once.
#[test]
fn failed_send_does_not_suppress_its_retry() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.clone() as Arc<dyn FileSystem>);
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (storage, queues) = open(faulty.clone(), &clock);
    let queue = create_fifo(&queues, "f.fifo");
    queue.send(fifo("before", "g")).unwrap();
    fail_next_message_sync(&faulty);
    assert!(matches!(
        queue.send(fifo("lost", "g")),
        Err(Error::Storage(_))
    ));
    assert!(
        matches!(queue.send(fifo("lost", "g")), Err(Error::Storage(_))),
        "not a duplicate"
    );
    faulty.clear();
    let _ = queues.close();
    let _ = storage.shutdown();
    let (_storage, queues) = open(faulty, &clock);
    let queue = queues.queue("f.fifo").unwrap();
    let retried = queue.send(fifo("lost", "g")).unwrap();
    let again = queue.send(fifo("lost", "g")).unwrap();
    assert_eq!(
        retried.message_id, again.message_id,
        "deduplicated once stored"
    );
    assert_eq!(
        queue.counters().visible,
        2,
        "before, and the retried message"
    );
    assert!(queue.send(text("x")).is_err(), "a FIFO queue needs a group");
}

/// A duplicate of a FIFO message whose append is not yet durable is answered only
/// with the original: when the original's sync fails, the duplicate fails too
/// rather than acknowledging a message the queue does not hold.
#[test]
fn a_duplicate_waits_for_its_original() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.clone() as Arc<dyn FileSystem>);
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (_storage, queues) = open(faulty.clone(), &clock);
    let queue = create_fifo(&queues, "d.fifo");
    fail_next_message_sync(&faulty);
    let original = queue.submit_batch(vec![fifo("once", "g")]).unwrap();
    let duplicate = queue.submit_batch(vec![fifo("once", "g")]).unwrap();
    assert!(
        matches!(duplicate.wait(), Err(Error::Storage(_))),
        "the duplicate is not acknowledged without its original"
    );
    assert!(matches!(original.wait(), Err(Error::Storage(_))));
}
