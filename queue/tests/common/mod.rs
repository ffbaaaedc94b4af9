//! Shared setup: queues over an in-memory file system with a manual clock.

#![allow(dead_code)]

use shardlog_queue::{
    AttributesUpdate, Clock, Error, ManualClock, OpenReport, Queue, QueueName, Queues,
    QueuesConfig, ReceiptHandle, ReceiveRequest, ReceivedMessage, RedrivePolicy, SendRequest,
};
use shardlog_segment::io::{CrashMode, FileSystem, MemFs};
use shardlog_segment::{Storage, StorageConfig};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Root of the queues in every test.
pub const ROOT: &str = "/data/queues";

/// Segment size of the tests' logs: small, so that a few messages fill a segment.
pub const SEGMENT_BYTES: u64 = 64 << 10;

/// The tests' queue settings.
pub fn config(clock: &Arc<ManualClock>) -> QueuesConfig {
    QueuesConfig {
        clock: clock.clone(),
        segment_bytes_max: SEGMENT_BYTES,
    }
}

/// A running "process": storage and queues over a shared in-memory file system.
pub struct Env {
    pub fs: Arc<MemFs>,
    pub clock: Arc<ManualClock>,
    pub storage: Storage,
    pub queues: Queues,
    pub report: OpenReport,
}

impl Env {
    /// A fresh file system and clock.
    pub fn new() -> Env {
        let fs = MemFs::new();
        let clock = Arc::new(ManualClock::new(shardlog_queue::SystemClock.now_ms()));
        Env::start(fs, clock)
    }

    /// Opens storage and queues over `fs`.
    pub fn start(fs: Arc<MemFs>, clock: Arc<ManualClock>) -> Env {
        let storage = Storage::open(
            fs.session() as Arc<dyn FileSystem>,
            StorageConfig::default(),
        )
        .unwrap();
        let (queues, report) = Queues::open(storage.clone(), ROOT, config(&clock)).unwrap();
        Env {
            fs,
            clock,
            storage,
            queues,
            report,
        }
    }

    /// Closes everything and opens it again (a clean restart).
    pub fn restart(self) -> Env {
        self.queues.close().unwrap();
        self.storage.shutdown().unwrap();
        Env::start(self.fs, self.clock)
    }

    /// Creates a queue with `update`.
    pub fn create(&self, name: &str, update: AttributesUpdate) -> Arc<Queue> {
        let name = QueueName::new(name).unwrap();
        self.queues
            .create_queue(&name, &update, BTreeMap::new())
            .unwrap()
    }

    /// Creates `dlq` and `source`, whose messages go to `dlq` after
    /// `max_receive_count` receives (visibility timeout 0); returns `source`.
    pub fn create_with_dead_letter(
        &self,
        source: &str,
        dlq: &str,
        max_receive_count: u32,
    ) -> Arc<Queue> {
        self.create(dlq, AttributesUpdate::default());
        let redrive = RedrivePolicy {
            dead_letter_queue: QueueName::new(dlq).unwrap(),
            max_receive_count,
        };
        let update = AttributesUpdate {
            redrive: Some(Some(redrive)),
            visibility_timeout_s: Some(0),
            ..Default::default()
        };
        self.create(source, update)
    }

    /// Receives without waiting.
    pub fn receive(&self, name: &str, max: u32) -> Vec<ReceivedMessage> {
        let request = ReceiveRequest {
            max_messages: max,
            visibility_timeout_s: None,
            wait_time_s: Some(0),
            receive_request_attempt_id: None,
        };
        self.queues.receive(name, &request).unwrap()
    }
}

/// A plain message with `body`.
pub fn text(body: &str) -> SendRequest {
    SendRequest {
        body: body.as_bytes().to_vec(),
        ..SendRequest::default()
    }
}

/// A FIFO message with `body` in `group`, deduplicated by `body`.
pub fn fifo(body: &str, group: &str) -> SendRequest {
    SendRequest {
        body: body.as_bytes().to_vec(),
        group_id: Some(group.into()),
        deduplication_id: Some(body.into()),
        ..SendRequest::default()
    }
}

/// The bodies of `messages` as text.
pub fn bodies(messages: &[ReceivedMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| String::from_utf8(m.body.clone()).unwrap())
        .collect()
}

/// What a model holds about a message's delivery.
#[derive(Debug, Default)]
pub struct ModelDelivery {
    /// Receives so far.
    pub receive_count: u32,
    /// When it becomes visible again (ms).
    pub visible_at_ms: u64,
    /// Whether it was deleted.
    pub deleted: bool,
}

/// An operation with a receipt handle.
#[derive(Debug, Clone, Copy)]
pub enum HandleOp {
    /// Delete the message.
    Delete,
    /// Change its visibility timeout to this many seconds.
    ChangeVisibility(u32),
}

/// Runs `op` with `handle` and checks the result against the model, updating it:
/// deleting a deleted message succeeds, the latest handle deletes, an older one is
/// stale; a visibility change needs the latest handle of a message in flight.
pub fn check_handle_op(
    queue: &Queue,
    handle: &ReceiptHandle,
    op: HandleOp,
    model: &mut ModelDelivery,
    now_ms: u64,
) {
    let stale = !model.deleted && handle.attempt < model.receive_count;
    match op {
        HandleOp::Delete => {
            let result = queue.delete(handle);
            if model.deleted {
                assert!(result.is_ok(), "deleting a deleted message: {result:?}");
            } else if stale {
                assert!(
                    matches!(result, Err(Error::ReceiptHandleStale { .. })),
                    "{result:?}"
                );
            } else {
                result.unwrap();
                model.deleted = true;
            }
        }
        HandleOp::ChangeVisibility(timeout_s) => {
            let result = queue.change_visibility(handle, timeout_s);
            if stale {
                assert!(
                    matches!(result, Err(Error::ReceiptHandleStale { .. })),
                    "{result:?}"
                );
            } else if model.deleted || model.visible_at_ms <= now_ms {
                assert!(
                    matches!(result, Err(Error::MessageNotInflight { .. })),
                    "{result:?}"
                );
            } else {
                result.unwrap();
                model.visible_at_ms = now_ms + 1000 * u64::from(timeout_s);
            }
        }
    }
}

/// Ends a "process": a clean shutdown (`None`) or a power loss that keeps only
/// synced bytes (even seed) or a random torn subset of the rest (odd seed).
pub fn power_cycle(fs: &MemFs, crash: Option<u64>, queues: &Queues, storage: &Storage) {
    match crash {
        Some(seed) if seed % 2 == 0 => {
            fs.crash(CrashMode::DropUnsynced);
        }
        Some(seed) => {
            fs.crash(CrashMode::Random { seed });
        }
        None => {
            queues.close().unwrap();
            storage.shutdown().unwrap();
        }
    }
    // After a crash, closing the old process's handles may fail: it is gone.
    let _ = queues.close();
    let _ = storage.shutdown();
}

/// Waits (at most 10 s) until at least `count` long polls wait on `queue`.
pub fn wait_until_polling(queue: &Queue, count: usize) {
    let started = std::time::Instant::now();
    while queue.waiting_receivers() < count {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{} of {count} polls waited",
            queue.waiting_receivers()
        );
        std::thread::yield_now();
    }
}
