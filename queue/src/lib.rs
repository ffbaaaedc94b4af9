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

#![forbid(unsafe_code)]

mod attributes;
mod checkpoint;
mod delivery;
mod error;
mod fifo;
mod manifest;
mod message;
mod queue;
mod receive;
mod registry;
mod state_log;
mod types;

pub use attributes::{
    AttributesUpdate, DeduplicationScope, FifoThroughputLimit, QueueAttributes, RedrivePolicy,
};
pub use error::{Error, Result};
pub use fifo::DEDUPLICATION_WINDOW_MS;
pub use message::{message_size_bytes, ATTRIBUTES_MAX};
pub use queue::{
    Queue, QueueCounters, ReclaimReport, SendOutcome, SendRequest, BATCH_ENTRIES_MAX,
    INFLIGHT_MAX_FIFO, INFLIGHT_MAX_STANDARD, PURGE_INTERVAL_MS, VISIBILITY_TIMEOUT_S_MAX,
};
pub use receive::{ReceiveRequest, ReceivedMessage, RECEIVE_MESSAGES_MAX, WAIT_TIME_S_MAX};
pub use registry::{OpenReport, Queues, QueuesConfig, TAGS_MAX};
pub use types::{
    AttributeValue, Clock, ManualClock, MessageAttribute, MessageAttributes, MessageId, QueueName,
    ReceiptHandle, SequenceNumber, SystemClock, QUEUE_NAME_CHARS_MAX,
};
