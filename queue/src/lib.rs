//! SQS semantics on segment logs: standard and FIFO queues, durable delivery state,
//! visibility timeouts, delays, long polling, dead-letter queues and deduplication.
//!
//! ```text
//! Queues (registry, MANIFEST)
//!   └── Queue
//!         ├── message log   one record per message (segment Log)
//!         ├── state log     one record per receive, delete, visibility change, move, purge
//!         └── Delivery      cursor over the message log, in-flight and delayed messages
//! ```
//!
//! Every change is appended through the shared `Storage` (one group commit for all
//! queues and streams) and acknowledged only once durable under its policy. No AWS
//! wording lives here: errors are facts, values are types. On-disk formats are in
//! `FORMAT.md`.
//!
//! Guarantees (under the `sync` durability policy):
//! - an acknowledged send is never lost; a deleted or purged message never comes
//!   back; receive counts and visibility deadlines survive restarts and power loss;
//! - a message moved to a dead-letter queue, or back out of one by a move task
//!   (`move_task.rs`), is appended to its destination before it is marked moved,
//!   so a crash between the two leaves a copy in both (at least once);
//! - FIFO: a group's messages are delivered in send order, several in one receive
//!   (up to its maximum), and no more of a group while any of it is in flight; the
//!   5-minute deduplication window survives restarts (rebuilt from the message log).
//!
//! Memory holds what is in flight, delayed, or (FIFO) waiting behind its group's
//! head, not the queue's depth. After a restart the cursor starts again at the
//! oldest retained message (or the last checkpoint's cursor); replay steps it over
//! every position the state log says was received or removed, so deletions do not
//! come back as an in-memory set ([`MemoryEntries`] counts what is held).
//!
//! Not kept across restarts: ReceiveRequestAttemptId results and the 60-second
//! purge interval. Counters are approximate: delayed messages the cursor has not
//! reached yet count as visible. Call [`Queue::reclaim`] periodically: it drops
//! expired messages, removes message segments whose messages are all gone, and
//! checkpoints the state log so that its old segments go too.

#![forbid(unsafe_code)]

mod attributes;
mod checkpoint;
mod delivery;
mod error;
mod fifo;
mod long_poll;
mod manifest;
mod memory;
mod message;
mod move_task;
mod offline;
mod quarantine;
mod queue;
mod receive;
mod recovery;
mod registry;
mod send;
mod state_log;
mod types;

pub use attributes::{
    AttributesUpdate, DeduplicationScope, EncryptionSettings, FifoThroughputLimit, QueueAttributes,
    RedriveAllowPolicy, RedrivePolicy, REDRIVE_ALLOW_SOURCES_MAX,
};
pub use error::{Error, Result};
pub use fifo::DEDUPLICATION_WINDOW_MS;
pub use memory::MemoryEntries;
pub use message::{message_size_bytes, ATTRIBUTES_MAX, TRACE_HEADER_BYTES_MAX};
pub use move_task::{MoveTask, MoveTaskStatus, MOVE_RATE_PER_S_MAX, MOVE_TASKS_KEPT};
pub use offline::{replay_state, StateSummary};
pub use queue::{
    PendingChanges, PendingSend, Queue, QueueCounters, ReclaimReport, SendOutcome, SendRequest,
    BATCH_ENTRIES_MAX, INFLIGHT_MAX_FIFO, INFLIGHT_MAX_STANDARD, PURGE_INTERVAL_MS,
    SUBMIT_ENTRIES_MAX, VISIBILITY_TIMEOUT_S_MAX,
};
pub use receive::{ReceiveRequest, ReceivedMessage, RECEIVE_MESSAGES_MAX, WAIT_TIME_S_MAX};
pub use registry::{
    OpenReport, QueueTimestamps, Queues, QueuesConfig, QUEUE_NAME_REUSE_MS, TAGS_MAX,
};
pub use types::{
    AttributeValue, BodyDigest, Clock, ManualClock, MessageAttribute, MessageAttributes, MessageId,
    QueueName, ReceiptHandle, SequenceNumber, SystemClock, QUEUE_NAME_CHARS_MAX,
};
