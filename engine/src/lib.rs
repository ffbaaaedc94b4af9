//! Kinesis Data Streams semantics over shardlog's storage core: streams of shards,
//! partition-key routing, sequence numbers, shard iterators, retention and
//! resharding, with durable metadata.
#![forbid(unsafe_code)]

mod consumers;
mod data;
mod engine;
pub mod error;
pub mod layout;
pub mod manifest;
pub mod names;
pub mod position;
mod put;
pub mod quota;
mod reshard;
pub mod routing;
pub mod seqno;
mod subscriptions;
pub mod token;

pub use consumers::{ConsumerDescription, ConsumerId, CONSUMERS_PER_STREAM_MAX};
pub use data::{
    ChildShard, GetRecordsOutput, IteratorStart, OutputRecord, PutRecord, PutResult, RecordFailure,
    GET_RECORDS_BYTES_MAX, GET_RECORDS_MAX, PARTITION_KEY_CHARS_MAX, PUT_RECORDS_MAX,
};
pub use engine::{Engine, EngineConfig, RETENTION_HOURS_MAX, RETENTION_HOURS_MIN};
pub use error::{
    AddTagsError, Constraint, ConsumerLookupError, CreateStreamError, DeleteStreamError,
    DeregisterConsumerError, Failed, Field, InvalidField, MaxRecordSizeError, MergeShardsError,
    MonitoringError, PutError, ReadError, RegisterConsumerError, RetentionError,
    ShardLimitExceeded, ShardNotOpen, SplitShardError, StreamLookupError, SubscribeError,
    SubscriptionError, SubscriptionTargetError, TagError, UpdateShardCountError, UpdateStreamError,
};
pub use layout::{OpenReport, ShardProblem, ShardRecovery};
pub use manifest::StreamMode;
pub use names::ShardId;
pub use position::Position;
pub use put::SubmittedPut;
pub use reshard::{ShardDescription, ShardFilter, StreamDescription};
pub use routing::{HashKey, HashRange};
pub use subscriptions::{Subscription, SubscriptionBatch, RESUBSCRIBE_GUARD_MS, SUBSCRIPTIONS_MAX};
