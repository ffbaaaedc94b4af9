//! SNS semantics on segment logs: topics, subscriptions and at-least-once
//! delivery from each topic's log to its subscriptions' sinks.
//!
//! ```text
//! Topics (registry, MANIFEST: topics, attributes, tags, subscriptions)
//!   └── Topic
//!         ├── log          one record per published message (segment Log)
//!         ├── positions/   one durable delivery position per confirmed subscription
//!         └── delivery     one thread for all queue subscriptions (and one that
//!                          stores their positions); one per HTTP(S) or
//!                          delivery stream subscription
//! ```
//!
//! A publish is acknowledged once durable in the topic's log (one group commit
//! with every other log of the server). Each subscription's delivery reads a
//! batch from its position, hands the messages that pass its filter to the
//! [`Sink`] at once (a queue takes them in one commit round, and the queue
//! subscriptions of a topic share that round), retries what it refuses,
//! dead-letters what it keeps refusing, and only then stores the next position
//! (at most every 100 ms while busy), so a crash re-delivers but never loses. FIFO topics keep a 5-minute deduplication window
//! rebuilt from the log at open. On-disk formats are in `FORMAT.md`.
//!
//! No AWS wording lives here: errors are facts, values are types. The server
//! implements the sinks (queues of this server, Firehose delivery streams, HTTP
//! endpoints), so this crate knows neither SQS nor Firehose.

#![forbid(unsafe_code)]

mod delivery;
mod error;
mod fanout;
mod fifo;
pub mod filter;
mod manifest;
mod message;
mod recent;
mod record;
mod registry;
pub mod retry;
mod throttle;
mod topic;
mod types;

pub use delivery::{
    deliver_each, parse_position, parse_queue_positions, Delivery, Failure, FixedRetry,
    RetryConfig, Sink, QUEUE_POSITIONS_FILE,
};
pub use error::{Error, Result};
pub use fifo::{content_deduplication_id, DEDUPLICATION_WINDOW_MS};
pub use manifest::{FilterSpec, SubscriptionRecord, TopicAttributes};
pub use message::{AttributeValue, MessageAttribute, MessageAttributes};
pub use record::Published;
pub use registry::{
    OpenReport, SubscriptionInfo, TopicInfo, Topics, TopicsConfig, PENDING_SUBSCRIPTION_MS_MAX,
    SUBSCRIPTIONS_MAX, TAGS_MAX, TOPICS_MAX,
};
pub use shardlog_segment::clock::{Clock, ManualClock, SystemClock};
pub use topic::{PendingPublish, PublishOutcome, PublishRequest, Topic, PUBLISH_BATCH_MAX};
pub use types::{Endpoint, Protocol, SubscriptionId, TopicName, FIFO_SUFFIX, TOPIC_NAME_CHARS_MAX};
