//! Errors of stream administration: creating, deleting and changing a stream's
//! settings and tags.

use super::{Failed, InvalidField, StreamLookupError};

/// Opening `adding` shards would pass the engine's open-shard limit (creating a
/// stream, splitting a shard, scaling up).
#[derive(Debug, thiserror::Error)]
#[error("{open} open shards + {adding} would exceed the limit of {limit}")]
pub struct ShardLimitExceeded {
    /// Shards open now.
    pub open: u32,
    /// Shards the request would add.
    pub adding: u32,
    /// The limit.
    pub limit: u32,
}

/// Tags a request gives (CreateStream, AddTagsToStream) that the stream cannot take.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// The stream would have more than `limit` tags.
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
}

/// Why a stream was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateStreamError {
    /// The stream name or the shard count breaks its constraint.
    #[error(transparent)]
    InvalidField(#[from] InvalidField),
    /// The tags given.
    #[error(transparent)]
    Tags(#[from] TagError),
    /// A stream of this name exists already.
    #[error("stream {stream} exists")]
    StreamExists {
        /// The stream.
        stream: String,
    },
    /// The new shards would pass the open-shard limit.
    #[error(transparent)]
    ShardLimit(#[from] ShardLimitExceeded),
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// Why a stream was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteStreamError {
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// Deleting the stream without deregistering its consumers was refused.
    #[error("stream {stream} has consumers")]
    HasConsumers {
        /// The stream.
        stream: String,
    },
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// Why a setting that takes any value (stream mode, size cap, key compaction,
/// removed tags) was not changed, or a stream not compacted.
#[derive(Debug, thiserror::Error)]
pub enum UpdateStreamError {
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// Why the retention period was not changed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// The change goes the wrong way for the call made.
    #[error(
        "retention of stream {stream}: {requested_hours} h is the wrong way from {current_hours} h"
    )]
    WrongDirection {
        /// The stream.
        stream: String,
        /// Hours asked for.
        requested_hours: u32,
        /// Hours now.
        current_hours: u32,
        /// Whether the call was the one that increases retention.
        increase: bool,
    },
    /// A period beyond the minimum or maximum.
    #[error(
        "retention of stream {stream}: {requested_hours} h is beyond the bound of {bound_hours} h"
    )]
    OutOfRange {
        /// The stream.
        stream: String,
        /// Hours asked for.
        requested_hours: u32,
        /// The bound passed: the minimum or the maximum.
        bound_hours: u32,
    },
    /// Storage or metadata failed (or removing what the shorter period expires).
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// Why the largest record size was not changed.
#[derive(Debug, thiserror::Error)]
pub enum MaxRecordSizeError {
    /// The size is outside 1024 to 10240 KiB.
    #[error(transparent)]
    InvalidField(#[from] InvalidField),
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// Why the shard-level metrics were not changed.
#[derive(Debug, thiserror::Error)]
pub enum MonitoringError {
    /// A metric name that is not known.
    #[error("unknown shard-level metric {metric}")]
    UnknownMetric {
        /// The name given.
        metric: String,
    },
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// Why tags were not added.
#[derive(Debug, thiserror::Error)]
pub enum AddTagsError {
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// The tags given.
    #[error(transparent)]
    Tags(#[from] TagError),
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}
