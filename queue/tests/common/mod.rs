//! Shared setup: queues over an in-memory file system with a manual clock.

#![allow(dead_code)]

use shardlog_queue::{
    AttributesUpdate, Clock, ManualClock, Queue, QueueName, Queues, QueuesConfig, ReceiveRequest,
    ReceivedMessage, SendRequest,
};
use shardlog_segment::io::{FileSystem, MemFs};
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
        let (queues, _) = Queues::open(storage.clone(), ROOT, config(&clock)).unwrap();
        Env {
            fs,
            clock,
            storage,
            queues,
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
