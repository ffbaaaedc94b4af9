//! The engine's per-operation errors in Kinesis's words: stream administration,
//! consumers and their subscriptions, resharding. Each enum is worded in one
//! exhaustive `match`, so that a new fact cannot reach a client unworded.

use super::{
    consumer_arn_not_found, internal, invalid_field, read_error, routing_error, shard_not_found,
    stream_not_found, Account,
};
use crate::error::ApiError;
use shardlog_engine::names::STREAM_NAME_CHARS_MAX;
use shardlog_engine::{
    AddTagsError, Constraint, ConsumerLookupError, CreateStreamError, DeleteStreamError,
    DeregisterConsumerError, Field, InvalidField, MaxRecordSizeError, MergeShardsError,
    MonitoringError, PutError, ReadError, RegisterConsumerError, RetentionError,
    ShardLimitExceeded, ShardNotOpen, SplitShardError, StreamLookupError, SubscribeError,
    SubscriptionError, SubscriptionTargetError, TagError, UpdateShardCountError, UpdateStreamError,
};

/// An engine error Kinesis has words for.
pub trait Worded: std::fmt::Debug + Send + Sync {
    /// The error as the client sees it, naming `account`.
    fn worded(&self, account: Account<'_>) -> ApiError;
}

fn not_found(message: String) -> ApiError {
    ApiError::client("ResourceNotFoundException", message)
}

fn in_use(message: String) -> ApiError {
    ApiError::client("ResourceInUseException", message)
}

fn limit_exceeded(message: String) -> ApiError {
    ApiError::client("LimitExceededException", message)
}

impl Worded for PutError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        super::put_error(self, account)
    }
}

impl Worded for ReadError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        read_error(self, account)
    }
}

impl Worded for StreamLookupError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            StreamLookupError::InvalidName { name } => invalid_field(
                Field::StreamName,
                Some(name),
                &Constraint::Name {
                    chars_max: STREAM_NAME_CHARS_MAX,
                },
            ),
            StreamLookupError::NotFound { stream } => stream_not_found(stream, account),
        }
    }
}

impl Worded for InvalidField {
    fn worded(&self, _account: Account<'_>) -> ApiError {
        invalid_field(self.field, self.value.as_deref(), &self.constraint)
    }
}

impl Worded for ShardLimitExceeded {
    fn worded(&self, account: Account<'_>) -> ApiError {
        let ShardLimitExceeded {
            open,
            adding,
            limit,
        } = self;
        limit_exceeded(format!(
            "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: {open}. Limit: {limit}. Number of additional shards that would have resulted from this request: {adding}.",
            account.id, account.region
        ))
    }
}

impl Worded for TagError {
    fn worded(&self, _account: Account<'_>) -> ApiError {
        ApiError::invalid_argument(match self {
            TagError::TooManyTags { limit } => {
                format!("A stream cannot have more than {limit} tags.")
            }
            TagError::TagInvalid { key } => {
                format!("Tag key '{key}' must be 1 to 128 characters and its value at most 256.")
            }
        })
    }
}

impl Worded for CreateStreamError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            CreateStreamError::InvalidField(error) => error.worded(account),
            CreateStreamError::Tags(error) => error.worded(account),
            CreateStreamError::StreamExists { stream } => in_use(format!(
                "Stream {stream} under account {} already exists.",
                account.id
            )),
            CreateStreamError::ShardLimit(error) => error.worded(account),
            CreateStreamError::Failed(failed) => internal(failed),
        }
    }
}

impl Worded for DeleteStreamError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            DeleteStreamError::Stream(error) => error.worded(account),
            DeleteStreamError::HasConsumers { stream } => in_use(format!(
                "Stream {stream} under account {} has registered consumers; deregister them or set EnforceConsumerDeletion.",
                account.id
            )),
            DeleteStreamError::Failed(failed) => internal(failed),
        }
    }
}

impl Worded for UpdateStreamError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            UpdateStreamError::Stream(error) => error.worded(account),
            UpdateStreamError::Failed(failed) => internal(failed),
        }
    }
}

impl Worded for RetentionError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        let message = match self {
            RetentionError::Stream(error) => return error.worded(account),
            RetentionError::Failed(failed) => return internal(failed),
            RetentionError::WrongDirection {
                stream,
                requested_hours,
                current_hours,
                increase,
            } => {
                let (relation, api, verb) = if *increase {
                    ("shorter", "DecreaseRetentionPeriod", "decrease")
                } else {
                    ("longer", "IncreaseRetentionPeriod", "increase")
                };
                format!(
                    "Requested retention period ({requested_hours} hours) for stream {stream} can not be {relation} than existing retention period ({current_hours} hours). Use {api} API to {verb} retention period."
                )
            }
            RetentionError::OutOfRange {
                stream,
                requested_hours,
                bound_hours,
            } => {
                let (relation, which) = if requested_hours < bound_hours {
                    ("shorter", "minimum")
                } else {
                    ("longer", "maximum")
                };
                format!(
                    "Requested retention period ({requested_hours} hours) for stream {stream} can not be {relation} than the {which} retention period ({bound_hours} hours)."
                )
            }
        };
        ApiError::invalid_argument(message)
    }
}

impl Worded for MaxRecordSizeError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            MaxRecordSizeError::InvalidField(error) => error.worded(account),
            MaxRecordSizeError::Stream(error) => error.worded(account),
            MaxRecordSizeError::Failed(failed) => internal(failed),
        }
    }
}

impl Worded for MonitoringError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            MonitoringError::UnknownMetric { metric } => ApiError::validation(format!(
                "1 validation error detected: Value '[{metric}]' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [IncomingBytes, OutgoingRecords, IteratorAgeMilliseconds, IncomingRecords, ReadProvisionedThroughputExceeded, WriteProvisionedThroughputExceeded, OutgoingBytes, ALL]]"
            )),
            MonitoringError::Stream(error) => error.worded(account),
            MonitoringError::Failed(failed) => internal(failed),
        }
    }
}

impl Worded for AddTagsError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            AddTagsError::Stream(error) => error.worded(account),
            AddTagsError::Tags(error) => error.worded(account),
            AddTagsError::Failed(failed) => internal(failed),
        }
    }
}

impl Worded for RegisterConsumerError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            RegisterConsumerError::InvalidField(error) => error.worded(account),
            RegisterConsumerError::Stream(error) => error.worded(account),
            RegisterConsumerError::ConsumerExists { stream, consumer } => in_use(format!(
                "Consumer {consumer} under stream {stream} already exists for account {}.",
                account.id
            )),
            RegisterConsumerError::ConsumerLimit { stream, limit } => limit_exceeded(format!(
                "Consumer limit of {limit} exceeded for stream {stream}."
            )),
            RegisterConsumerError::Failed(failed) => internal(failed),
        }
    }
}

impl Worded for ConsumerLookupError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            ConsumerLookupError::Stream(error) => error.worded(account),
            ConsumerLookupError::ConsumerNotFound { stream, consumer } => not_found(format!(
                "Consumer {consumer} under stream {stream} under account {} not found.",
                account.id
            )),
        }
    }
}

impl Worded for DeregisterConsumerError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            DeregisterConsumerError::Lookup(error) => error.worded(account),
            DeregisterConsumerError::Failed(failed) => internal(failed),
        }
    }
}

impl Worded for SubscriptionTargetError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            SubscriptionTargetError::ConsumerNotRegistered { consumer } => {
                consumer_arn_not_found(&account.consumer_arn(consumer))
            }
            SubscriptionTargetError::Read(error) => read_error(error, account),
        }
    }
}

impl Worded for SubscribeError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            SubscribeError::Target(error) => error.worded(account),
            SubscribeError::Stopping => {
                limit_exceeded("The server is stopping and takes no new subscriptions.".into())
            }
            SubscribeError::SubscriptionActive {
                consumer,
                shard,
                guard_ms,
            } => in_use(format!(
                "Another active subscription exists for consumer {} and shard {shard}; subscribe again at least {} seconds after the last successful call.",
                account.consumer_arn(consumer),
                guard_ms / 1000
            )),
            SubscribeError::SubscriptionLimit { limit } => limit_exceeded(format!(
                "At most {limit} subscriptions may be active at once."
            )),
        }
    }
}

impl Worded for SubscriptionError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            SubscriptionError::TakenOver { consumer, shard } => in_use(format!(
                "A newer subscription of consumer {consumer} to shard {shard} took over this one."
            )),
            SubscriptionError::ConsumerGone { stream, consumer } => not_found(format!(
                "Consumer {consumer} of stream {stream} no longer exists."
            )),
            SubscriptionError::Read(error) => read_error(error, account),
        }
    }
}

impl Worded for ShardNotOpen {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            ShardNotOpen::NotFound { stream, shard } => shard_not_found(stream, *shard, account),
            ShardNotOpen::Closed { stream, shard } => in_use(format!(
                "Shard {shard} in stream {stream} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
                account.id
            )),
        }
    }
}

impl Worded for SplitShardError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            SplitShardError::Stream(error) => error.worded(account),
            SplitShardError::Shard(error) => error.worded(account),
            SplitShardError::KeyOutsideShard {
                stream,
                shard,
                key,
                start,
                end,
            } => ApiError::invalid_argument(format!(
                "NewStartingHashKey {key} used in SplitShard() on shard {shard} in stream {stream} under account {} is not both greater than one plus the shard's StartingHashKey {start} and less than the shard's EndingHashKey {end}.",
                account.id
            )),
            SplitShardError::ShardLimit(error) => error.worded(account),
            SplitShardError::Failed(failed) => internal(failed),
        }
    }
}

impl Worded for MergeShardsError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            MergeShardsError::Stream(error) => error.worded(account),
            MergeShardsError::Shard(error) => error.worded(account),
            MergeShardsError::NotAdjacent {
                stream,
                shard,
                adjacent,
            } => ApiError::invalid_argument(format!(
                "Shards {shard} and {adjacent} in stream {stream} under account {} are not an adjacent pair of shards eligible for merging",
                account.id
            )),
            MergeShardsError::Failed(failed) => internal(failed),
        }
    }
}

impl Worded for UpdateShardCountError {
    fn worded(&self, account: Account<'_>) -> ApiError {
        match self {
            UpdateShardCountError::Stream(error) => error.worded(account),
            UpdateShardCountError::InvalidField(error) => error.worded(account),
            UpdateShardCountError::OutOfScalingRange {
                stream,
                target,
                current,
            } => ApiError::invalid_argument(format!(
                "UpdateShardCount of stream {stream} under account {} to {target} shards is not allowed: the target must be between half and double the current {current} open shards.",
                account.id
            )),
            UpdateShardCountError::ShardLimit(error) => error.worded(account),
            UpdateShardCountError::Routing(error) => routing_error(error),
            UpdateShardCountError::Failed(failed) => internal(failed),
        }
    }
}
