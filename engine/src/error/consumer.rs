//! Errors of stream consumers (registering, describing, deregistering) and of
//! their subscriptions (SubscribeToShard).

use super::{Failed, InvalidField, ReadError, StreamLookupError};
use crate::consumers::ConsumerId;
use crate::names::ShardId;

/// Why a consumer was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterConsumerError {
    /// The consumer name breaks the name rule.
    #[error(transparent)]
    InvalidField(#[from] InvalidField),
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// A consumer of this name is registered already.
    #[error("consumer {consumer} of stream {stream} exists")]
    ConsumerExists {
        /// The stream.
        stream: String,
        /// The consumer.
        consumer: String,
    },
    /// The stream has as many consumers as it may.
    #[error("stream {stream} has {limit} consumers, the most it may have")]
    ConsumerLimit {
        /// The stream.
        stream: String,
        /// The limit.
        limit: usize,
    },
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// Why a consumer named by its stream and name could not be found.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerLookupError {
    /// The stream named.
    #[error(transparent)]
    Stream(#[from] StreamLookupError),
    /// No consumer of this name on the stream.
    #[error("consumer {consumer} of stream {stream} not found")]
    ConsumerNotFound {
        /// The stream.
        stream: String,
        /// The consumer named.
        consumer: String,
    },
}

/// Why a consumer was not deregistered.
#[derive(Debug, thiserror::Error)]
pub enum DeregisterConsumerError {
    /// The stream or consumer named.
    #[error(transparent)]
    Lookup(#[from] ConsumerLookupError),
    /// Storage or metadata failed.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// What SubscribeToShard checks first: the consumer, the shard and the starting
/// position.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionTargetError {
    /// No consumer of this name was registered on the stream at this second (it
    /// does not exist, or it was deregistered and registered again since).
    #[error("no consumer {} of stream {} registered at second {}", consumer.consumer, consumer.stream, consumer.created_s)]
    ConsumerNotRegistered {
        /// The consumer named.
        consumer: ConsumerId,
    },
    /// The stream or shard, or the starting position in it.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl From<StreamLookupError> for SubscriptionTargetError {
    fn from(lookup: StreamLookupError) -> Self {
        SubscriptionTargetError::Read(lookup.into())
    }
}

/// Why a subscription was not started.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// The consumer, shard or starting position.
    #[error(transparent)]
    Target(#[from] SubscriptionTargetError),
    /// The engine is stopping and takes no new subscriptions.
    #[error("stopping")]
    Stopping,
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
    /// As many subscriptions are active as the engine allows.
    #[error("{limit} subscriptions active, the most allowed")]
    SubscriptionLimit {
        /// The limit.
        limit: usize,
    },
}

impl From<ReadError> for SubscribeError {
    fn from(error: ReadError) -> Self {
        SubscribeError::Target(error.into())
    }
}

impl From<StreamLookupError> for SubscribeError {
    fn from(lookup: StreamLookupError) -> Self {
        SubscribeError::Target(lookup.into())
    }
}

/// Why a running subscription ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// A newer subscription of the same consumer and shard took this one's place.
    #[error("subscription of consumer {consumer} to shard {shard} taken over")]
    TakenOver {
        /// The consumer's name.
        consumer: String,
        /// The shard.
        shard: ShardId,
    },
    /// The consumer was deregistered (or its stream deleted) meanwhile.
    #[error("consumer {consumer} of stream {stream} is gone")]
    ConsumerGone {
        /// The stream.
        stream: String,
        /// The consumer.
        consumer: String,
    },
    /// Reading the shard failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl From<StreamLookupError> for SubscriptionError {
    fn from(lookup: StreamLookupError) -> Self {
        SubscriptionError::Read(lookup.into())
    }
}
