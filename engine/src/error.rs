//! Errors of the engine as facts: which stream, shard, consumer or value, and what
//! is wrong with it. The server turns each into its wire error (code, message,
//! account and ARNs); nothing here is worded for a particular service.

use crate::consumers::ConsumerId;
use crate::names::ShardId;
use crate::routing::{HashKey, RoutingError};
use crate::seqno::SequenceNumber;
use crate::token::TokenError;

/// Any engine error: the per-operation errors ([`PutError`], [`ReadError`]) and
/// the errors of the operations that have no enum of their own yet (stream
/// admin, consumers, subscriptions, resharding).
///
/// Not `#[non_exhaustive]`: the server words every variant in one exhaustive
/// `match`, so that a new fact cannot reach a client unworded; across crates that
/// match is only possible on an exhaustive enum. Adding a variant is therefore a
/// breaking change for the server, which is the point.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No stream of this name.
    #[error("stream {stream} not found")]
    StreamNotFound {
        /// The stream named.
        stream: String,
    },
    /// No shard of this id in the stream (or the stream was recreated since).
    #[error("shard {shard} of stream {stream} not found")]
    ShardNotFound {
        /// The stream.
        stream: String,
        /// The shard.
        shard: ShardId,
    },
    /// No consumer of this name on the stream.
    #[error("consumer {consumer} of stream {stream} not found")]
    ConsumerNotFound {
        /// The stream.
        stream: String,
        /// The consumer named.
        consumer: String,
    },
    /// No consumer of this name was registered on the stream at this second (it
    /// does not exist, or it was deregistered and registered again since).
    #[error("no consumer {} of stream {} registered at second {}", consumer.consumer, consumer.stream, consumer.created_s)]
    ConsumerIdNotFound {
        /// The consumer named.
        consumer: ConsumerId,
    },
    /// A subscribed consumer was deregistered (or its stream deleted) meanwhile.
    #[error("consumer {consumer} of stream {stream} is gone")]
    ConsumerGone {
        /// The stream.
        stream: String,
        /// The consumer.
        consumer: String,
    },
    /// A stream of this name exists already.
    #[error("stream {stream} exists")]
    StreamExists {
        /// The stream.
        stream: String,
    },
    /// Deleting the stream without deregistering its consumers was refused.
    #[error("stream {stream} has consumers")]
    StreamHasConsumers {
        /// The stream.
        stream: String,
    },
    /// A consumer of this name is registered already.
    #[error("consumer {consumer} of stream {stream} exists")]
    ConsumerExists {
        /// The stream.
        stream: String,
        /// The consumer.
        consumer: String,
    },
    /// The shard was split or merged: it is closed to resharding.
    #[error("shard {shard} of stream {stream} is closed")]
    ShardClosed {
        /// The stream.
        stream: String,
        /// The shard.
        shard: ShardId,
    },
    /// The (consumer, shard) slot was claimed less than `guard_ms` ago.
    #[error("consumer {} of stream {} subscribed to shard {shard} too recently", consumer.consumer, consumer.stream)]
    SubscriptionActive {
        /// The consumer.
        consumer: ConsumerId,
        /// The shard.
        shard: ShardId,
        /// How long a slot is guarded after a subscription, ms.
        guard_ms: u64,
    },
    /// A newer subscription of the same consumer and shard took this one's place.
    #[error("subscription of consumer {consumer} to shard {shard} taken over")]
    SubscriptionTakenOver {
        /// The consumer's name.
        consumer: String,
        /// The shard.
        shard: ShardId,
    },
    /// Opening `adding` shards would pass the engine's open-shard limit.
    #[error("{open} open shards + {adding} would exceed the limit of {limit}")]
    ShardLimit {
        /// Shards open now.
        open: u32,
        /// Shards the request would add.
        adding: u32,
        /// The limit.
        limit: u32,
    },
    /// The stream has as many consumers as it may.
    #[error("stream {stream} has {limit} consumers, the most it may have")]
    ConsumerLimit {
        /// The stream.
        stream: String,
        /// The limit.
        limit: usize,
    },
    /// As many subscriptions are active as the engine allows.
    #[error("{limit} subscriptions active, the most allowed")]
    SubscriptionLimit {
        /// The limit.
        limit: usize,
    },
    /// The engine is stopping and takes no new subscriptions.
    #[error("stopping")]
    Stopping,
    /// Adding the tags would leave the stream with more than `limit` tags.
    #[error("stream {stream} would have more than {limit} tags")]
    TagLimit {
        /// The stream.
        stream: String,
        /// The limit.
        limit: usize,
    },
    /// One request carries more than `limit` tags.
    #[error("more than {limit} tags")]
    TooManyTags {
        /// The limit.
        limit: usize,
    },
    /// A tag's key is empty or longer than 128 characters, or its value longer than 256.
    #[error("tag '{key}' has a bad length")]
    TagInvalid {
        /// The tag's key.
        key: String,
    },
    /// A retention change goes the wrong way for the call made.
    #[error(
        "retention of stream {stream}: {requested_hours} h is the wrong way from {current_hours} h"
    )]
    RetentionDirection {
        /// The stream.
        stream: String,
        /// Hours asked for.
        requested_hours: u32,
        /// Hours now.
        current_hours: u32,
        /// Whether the call was the one that increases retention.
        increase: bool,
    },
    /// A retention period beyond the minimum or maximum.
    #[error(
        "retention of stream {stream}: {requested_hours} h is beyond the bound of {bound_hours} h"
    )]
    RetentionOutOfRange {
        /// The stream.
        stream: String,
        /// Hours asked for.
        requested_hours: u32,
        /// The bound passed: the minimum or the maximum.
        bound_hours: u32,
    },
    /// UpdateShardCount to a target beyond half or double the open shards.
    #[error("stream {stream}: {target} shards is not within half and double of {current}")]
    ShardCountChange {
        /// The stream.
        stream: String,
        /// Shards asked for.
        target: u32,
        /// Open shards now.
        current: u32,
    },
    /// A split key that does not leave two keys on each side within the shard.
    #[error("split key {key} is not inside shard {shard} of stream {stream}")]
    SplitKeyOutsideShard {
        /// The stream.
        stream: String,
        /// The shard.
        shard: ShardId,
        /// The split key.
        key: HashKey,
        /// The shard's first hash key.
        start: u128,
        /// The shard's last hash key.
        end: u128,
    },
    /// Two shards that cannot merge: their ranges do not touch.
    #[error("shards {shard} and {adjacent} of stream {stream} are not adjacent")]
    ShardsNotAdjacent {
        /// The stream.
        stream: String,
        /// The first shard.
        shard: ShardId,
        /// The second shard.
        adjacent: ShardId,
    },
    /// A hash key, range or shard count that routing refuses.
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// A request field breaks its constraint.
    #[error("{field}: {value:?} breaks {constraint}")]
    InvalidField {
        /// The field.
        field: Field,
        /// The value as given, when it is shown (not for payloads).
        value: Option<String>,
        /// What the value must satisfy.
        constraint: Constraint,
    },
    /// A shard-level metric name that is not known.
    #[error("unknown shard-level metric {metric}")]
    UnknownMetric {
        /// The name given.
        metric: String,
    },
    /// The storage layer failed.
    #[error("storage: {0}")]
    Storage(#[from] shardlog_segment::Error),
    /// The metadata could not be read or written.
    #[error("manifest: {0}")]
    Manifest(std::io::Error),
    /// A put failed.
    #[error(transparent)]
    Put(#[from] PutError),
    /// A read, or the start of a subscription, failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Storage or metadata failed: not the request's fault, and nothing a caller
/// can correct by asking differently.
#[derive(Debug, thiserror::Error)]
pub enum Failed {
    /// The storage layer failed.
    #[error("storage: {0}")]
    Storage(#[from] shardlog_segment::Error),
    /// The metadata could not be read or written.
    #[error("manifest: {0}")]
    Manifest(std::io::Error),
}

impl From<Failed> for Error {
    fn from(failed: Failed) -> Self {
        match failed {
            Failed::Storage(error) => Error::Storage(error),
            Failed::Manifest(error) => Error::Manifest(error),
        }
    }
}

/// Why a request's stream could not be found: its name breaks the name rule, or
/// no stream has it. Every operation on a stream can answer either.
#[derive(Debug)]
pub enum StreamLookupError {
    /// The name breaks the name rule.
    InvalidName {
        /// The name given.
        name: String,
    },
    /// No stream of this name.
    NotFound {
        /// The name given.
        stream: String,
    },
}

/// Implements `From<StreamLookupError>` for error enums that have the
/// `InvalidField` and `StreamNotFound` variants.
macro_rules! from_stream_lookup {
    ($($error:ident),+) => {$(
        impl From<StreamLookupError> for $error {
            fn from(lookup: StreamLookupError) -> Self {
                match lookup {
                    StreamLookupError::InvalidName { name } => $error::InvalidField {
                        field: Field::StreamName,
                        value: Some(name),
                        constraint: Constraint::Name {
                            chars_max: crate::names::STREAM_NAME_CHARS_MAX,
                        },
                    },
                    StreamLookupError::NotFound { stream } => $error::StreamNotFound { stream },
                }
            }
        }
    )+};
}

from_stream_lookup!(Error, PutError, ReadError);

/// Why a put (PutRecord, PutRecords) failed as a whole. A PutRecords call whose
/// records fail one by one answers those per record ([`crate::RecordFailure`]).
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// No stream of this name.
    #[error("stream {stream} not found")]
    StreamNotFound {
        /// The stream named.
        stream: String,
    },
    /// A request field (stream name, records, partition key, data) breaks its constraint.
    #[error("{field}: {value:?} breaks {constraint}")]
    InvalidField {
        /// The field.
        field: Field,
        /// The value as given, when it is shown (not for payloads).
        value: Option<String>,
        /// What the value must satisfy.
        constraint: Constraint,
    },
    /// No open shard covers the hash key (the open shards always cover the key
    /// space; this reports a stream whose metadata says otherwise).
    #[error("no open shard of stream {stream} holds hash key {hash}")]
    NoShardForHashKey {
        /// The stream.
        stream: String,
        /// The key.
        hash: u128,
    },
    /// PutRecord's shard is over its write quota for now.
    #[error("shard {shard} of stream {stream} is over its throughput quota")]
    Throttled {
        /// The stream.
        stream: String,
        /// The shard.
        shard: ShardId,
    },
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// Why a read (GetShardIterator, GetRecords) failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No stream of this name.
    #[error("stream {stream} not found")]
    StreamNotFound {
        /// The stream named.
        stream: String,
    },
    /// No shard of this id in the stream (or the stream was recreated since the
    /// iterator was issued).
    #[error("shard {shard} of stream {stream} not found")]
    ShardNotFound {
        /// The stream.
        stream: String,
        /// The shard.
        shard: ShardId,
    },
    /// A request field (stream name, read limit) breaks its constraint.
    #[error("{field}: {value:?} breaks {constraint}")]
    InvalidField {
        /// The field.
        field: Field,
        /// The value as given.
        value: Option<String>,
        /// What the value must satisfy.
        constraint: Constraint,
    },
    /// A starting sequence number of the shard, past its newest record.
    #[error(
        "sequence number {sequence_number} is past the end of shard {shard} of stream {stream}"
    )]
    SequenceNumberInvalid {
        /// The stream.
        stream: String,
        /// The shard.
        shard: ShardId,
        /// The sequence number given.
        sequence_number: SequenceNumber,
    },
    /// A starting sequence number that encodes another shard.
    #[error("sequence number of shard {encoded_shard} used on shard {shard}")]
    SequenceNumberOfOtherShard {
        /// The shard the number encodes.
        encoded_shard: ShardId,
        /// The shard it was used on.
        shard: ShardId,
    },
    /// A shard iterator that does not decode or verify.
    #[error("invalid shard iterator: {0}")]
    IteratorInvalid(TokenError),
    /// A shard iterator older than the time-to-live.
    #[error("shard iterator issued at {issued_ms} ms expired (now {now_ms} ms, ttl {ttl_ms} ms)")]
    IteratorExpired {
        /// When it was issued, ms since the epoch.
        issued_ms: u64,
        /// Now, ms since the epoch.
        now_ms: u64,
        /// How long an iterator lives, ms.
        ttl_ms: u64,
    },
    /// The shard's read quota is exhausted for now.
    #[error("shard {shard} of stream {stream} is over its throughput quota")]
    Throttled {
        /// The stream.
        stream: String,
        /// The shard.
        shard: ShardId,
    },
    /// The storage layer failed (a damaged or quarantined shard, an I/O error).
    #[error("storage: {0}")]
    Storage(#[from] shardlog_segment::Error),
}

/// The broad class of an [`Error`]: what a caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The stream, shard or consumer does not exist.
    NotFound,
    /// The resource exists already or is busy.
    InUse,
    /// A request field breaks its constraint.
    InvalidField,
    /// The request is well-formed but not allowed on this resource.
    InvalidArgument,
    /// A limit would be exceeded.
    LimitExceeded,
    /// The shard iterator is too old: get a new one.
    IteratorExpired,
    /// A shard's throughput quota is exhausted: retry later.
    Throttled,
    /// Storage or metadata failed.
    Internal,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::StreamNotFound { .. }
            | Error::ShardNotFound { .. }
            | Error::ConsumerNotFound { .. }
            | Error::ConsumerIdNotFound { .. }
            | Error::ConsumerGone { .. } => ErrorKind::NotFound,
            Error::StreamExists { .. }
            | Error::StreamHasConsumers { .. }
            | Error::ConsumerExists { .. }
            | Error::ShardClosed { .. }
            | Error::SubscriptionActive { .. }
            | Error::SubscriptionTakenOver { .. } => ErrorKind::InUse,
            Error::ShardLimit { .. }
            | Error::ConsumerLimit { .. }
            | Error::SubscriptionLimit { .. }
            | Error::Stopping
            | Error::TagLimit { .. } => ErrorKind::LimitExceeded,
            Error::TooManyTags { .. }
            | Error::TagInvalid { .. }
            | Error::RetentionDirection { .. }
            | Error::RetentionOutOfRange { .. }
            | Error::ShardCountChange { .. }
            | Error::SplitKeyOutsideShard { .. }
            | Error::ShardsNotAdjacent { .. }
            | Error::Routing(_) => ErrorKind::InvalidArgument,
            Error::InvalidField { .. } | Error::UnknownMetric { .. } => ErrorKind::InvalidField,
            Error::Storage(_) | Error::Manifest(_) => ErrorKind::Internal,
            Error::Put(error) => error.kind(),
            Error::Read(error) => error.kind(),
        }
    }
}

impl PutError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PutError::StreamNotFound { .. } => ErrorKind::NotFound,
            PutError::InvalidField { .. } => ErrorKind::InvalidField,
            PutError::NoShardForHashKey { .. } => ErrorKind::InvalidArgument,
            PutError::Throttled { .. } => ErrorKind::Throttled,
            PutError::Failed(_) => ErrorKind::Internal,
        }
    }
}

impl ReadError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ReadError::StreamNotFound { .. } | ReadError::ShardNotFound { .. } => {
                ErrorKind::NotFound
            }
            ReadError::InvalidField { .. } => ErrorKind::InvalidField,
            ReadError::SequenceNumberInvalid { .. }
            | ReadError::SequenceNumberOfOtherShard { .. }
            | ReadError::IteratorInvalid(_) => ErrorKind::InvalidArgument,
            ReadError::IteratorExpired { .. } => ErrorKind::IteratorExpired,
            ReadError::Throttled { .. } => ErrorKind::Throttled,
            ReadError::Storage(_) => ErrorKind::Internal,
        }
    }
}

/// A value the engine checks, named for what it is (a service names it its own way).
/// Not `non_exhaustive`: a new field must be named by every service that words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A stream's name.
    StreamName,
    /// A consumer's name.
    ConsumerName,
    /// The shard count of a new stream.
    ShardCount,
    /// The open shard count a stream is scaled to.
    TargetShardCount,
    /// A record's partition key.
    PartitionKey,
    /// A record's payload.
    Data,
    /// The records of one put.
    Records,
    /// The most records one read returns.
    Limit,
    /// A stream's largest record, KiB.
    RecordKibMax,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::StreamName => "stream name",
            Field::ConsumerName => "consumer name",
            Field::ShardCount => "shard count",
            Field::TargetShardCount => "target shard count",
            Field::PartitionKey => "partition key",
            Field::Data => "record data",
            Field::Records => "records",
            Field::Limit => "read limit",
            Field::RecordKibMax => "largest record (KiB)",
        })
    }
}

/// What a request field must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Constraint {
    /// 1 to `chars_max` characters of `[a-zA-Z0-9_.-]`.
    Name {
        /// Most characters.
        chars_max: usize,
    },
    /// A length (characters or items) from `min` to `max`.
    LengthBetween {
        /// Least.
        min: usize,
        /// Most.
        max: usize,
    },
    /// A length (bytes) of at most `max`.
    LengthAtMost {
        /// Most.
        max: usize,
    },
    /// A number from `min` to `max`.
    ValueBetween {
        /// Least.
        min: u64,
        /// Most.
        max: u64,
    },
    /// A decimal number without leading zeros, of at most `digits_max` digits.
    Decimal {
        /// Most digits.
        digits_max: usize,
    },
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Constraint::Name { chars_max } => write!(f, "name of 1 to {chars_max} [a-zA-Z0-9_.-]"),
            Constraint::LengthBetween { min, max } => write!(f, "length {min} to {max}"),
            Constraint::LengthAtMost { max } => write!(f, "length at most {max}"),
            Constraint::ValueBetween { min, max } => write!(f, "value {min} to {max}"),
            Constraint::Decimal { digits_max } => {
                write!(f, "decimal of at most {digits_max} digits")
            }
        }
    }
}

/// Result type of the engine.
pub type Result<T> = std::result::Result<T, Error>;
