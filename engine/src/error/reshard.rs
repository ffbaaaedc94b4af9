//! Errors of resharding: SplitShard, MergeShards and UpdateShardCount.

use super::{Failed, InvalidField, ShardLimitExceeded, StreamLookupError};
use crate::names::ShardId;
use crate::routing::{HashKey, RoutingError};

/// A shard named for resharding that is not an open shard of its stream.
#[derive(Debug, thiserror::Error)]
pub enum ShardNotOpen {
    /// No shard of this id in the stream.
    #[error("shard {shard} of stream {stream} not found")]
    NotFound {
        /// The stream.
        stream: String,
        /// The shard.
        shard: ShardId,
    },
    /// The shard was split or merged already: it is closed to resharding.
    #[error("shard {shard} of stream {stream} is closed")]
    Closed {
        /// The stream.
        stream: String,
        /// The shard.
        shard: ShardId,
    },
}

/// Why a shard was not split.
#[derive(Debug, thiserror::Error)]
pub enum SplitShardError {
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// The shard named.
    #[error(transparent)]
    Shard(#[from] ShardNotOpen),
    /// A split key that does not leave two keys on each side within the shard.
    #[error("split key {key} is not inside shard {shard} of stream {stream}")]
    KeyOutsideShard {
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
    /// The extra shard would pass the open-shard limit.
    #[error(transparent)]
    ShardLimit(#[from] ShardLimitExceeded),
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// Why two shards were not merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeShardsError {
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// One of the shards named.
    #[error(transparent)]
    Shard(#[from] ShardNotOpen),
    /// Their hash ranges do not touch.
    #[error("shards {shard} and {adjacent} of stream {stream} are not adjacent")]
    NotAdjacent {
        /// The stream.
        stream: String,
        /// The first shard.
        shard: ShardId,
        /// The second shard.
        adjacent: ShardId,
    },
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// Why a stream was not scaled (UpdateShardCount).
#[derive(Debug, thiserror::Error)]
pub enum UpdateShardCountError {
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// The target shard count breaks its constraint.
    #[error(transparent)]
    InvalidField(#[from] InvalidField),
    /// A target beyond half or double the open shards.
    #[error("stream {stream}: {target} shards is not within half and double of {current}")]
    OutOfScalingRange {
        /// The stream.
        stream: String,
        /// Shards asked for.
        target: u32,
        /// Open shards now.
        current: u32,
    },
    /// The new shards would pass the open-shard limit.
    #[error(transparent)]
    ShardLimit(#[from] ShardLimitExceeded),
    /// The open shards' ranges could not be merged into the targets (open
    /// shards that no longer tile the key space: metadata that says otherwise).
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}
