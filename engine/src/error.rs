//! Errors of the engine as facts: which stream, shard, consumer or value, and what
//! is wrong with it. The server turns each into its wire error (code, message,
//! account and ARNs); nothing here is worded for a particular service.
//!
//! One enum per operation (or per family of operations that fail alike), holding
//! only what that operation can answer; the failures every operation shares
//! ([`StreamLookupError`], [`Failed`]) are nested enums, so a caller words each
//! once. None is `#[non_exhaustive]`: the server words every variant in an
//! exhaustive `match`, so that a new fact cannot reach a client unworded; adding a
//! variant is therefore a breaking change for the server, which is the point.

mod admin;
mod consumer;
mod reshard;

pub use admin::{
    AddTagsError, CreateStreamError, DeleteStreamError, MaxRecordSizeError, MonitoringError,
    RetentionError, ShardLimitExceeded, TagError, UpdateStreamError,
};
pub use consumer::{
    ConsumerLookupError, DeregisterConsumerError, RegisterConsumerError, SubscribeError,
    SubscriptionError, SubscriptionTargetError,
};
pub use reshard::{MergeShardsError, ShardNotOpen, SplitShardError, UpdateShardCountError};

use crate::names::ShardId;
use crate::seqno::SequenceNumber;
use crate::token::TokenError;

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

/// Why a request's stream could not be found: its name breaks the name rule, or
/// no stream has it. Every operation on a stream can answer either.
#[derive(Debug, thiserror::Error)]
pub enum StreamLookupError {
    /// The name breaks the name rule.
    #[error("invalid stream name {name:?}")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// No stream of this name.
    #[error("stream {stream} not found")]
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

from_stream_lookup!(PutError, ReadError);

/// A request field that breaks its constraint: what the administrative
/// operations nest (the put and read paths name the same facts in their own
/// `InvalidField` variants).
#[derive(Debug, thiserror::Error)]
#[error("{field}: {value:?} breaks {constraint}")]
pub struct InvalidField {
    /// The field.
    pub field: Field,
    /// The value as given, when it is shown.
    pub value: Option<String>,
    /// What the value must satisfy.
    pub constraint: Constraint,
}

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
