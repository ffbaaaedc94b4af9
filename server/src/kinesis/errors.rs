//! Engine errors in Kinesis's words: each fact the engine reports becomes the
//! error code and message Kinesis gives for it, with the account and region this
//! server answers as. The wording is the service's (clients and conformance tests
//! compare it byte for byte), so it lives here and nowhere below.

use crate::error::ApiError;
use shardlog_engine::routing::{RoutingError, HASH_KEY_DIGITS_MAX, HASH_KEY_MAX, SHARD_COUNT_MAX};
use shardlog_engine::seqno::SequenceNumber;
use shardlog_engine::token::{Malformed, TokenError, TOKEN_CHARS_MAX};
use shardlog_engine::{
    AddTagsError, Constraint, ConsumerLookupError, CreateStreamError, DeleteStreamError,
    DeregisterConsumerError, Field, MaxRecordSizeError, MergeShardsError, MonitoringError,
    PutError, ReadError, RecordFailure, RegisterConsumerError, RetentionError, ShardId,
    SplitShardError, StreamLookupError, SubscriptionTargetError, UpdateShardCountError,
    UpdateStreamError,
};

mod ops;
pub use ops::Worded;

/// The account and region messages name.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    /// The account id, twelve digits.
    pub id: &'a str,
    /// The region, `us-east-1`.
    pub region: &'a str,
}

/// A non-default account and region, for tests that show whose words they read.
#[cfg(test)]
pub(crate) const TEST_ACCOUNT: Account<'static> = Account {
    id: "123456789012",
    region: "eu-west-1",
};

/// An action's failure: already in the service's words, or an engine fact that
/// [`Failure::into_api`] words once the account is at hand.
#[derive(Debug)]
pub enum Failure {
    /// Worded by the server (request checks).
    Api(ApiError),
    /// Reported by the engine's put path.
    Put(PutError),
    /// Reported by the engine's read path (GetShardIterator, GetRecords).
    Read(ReadError),
    /// Reported by another engine operation.
    Engine(Box<dyn Worded>),
}

impl From<PutError> for Failure {
    fn from(error: PutError) -> Self {
        Failure::Put(error)
    }
}

impl From<ReadError> for Failure {
    fn from(error: ReadError) -> Self {
        Failure::Read(error)
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure::Api(error)
    }
}

/// Implements `From<E> for Failure` for engine errors other than the put and
/// read paths' (which [`Failure::throttled_stream`] looks into).
macro_rules! engine_failures {
    ($($error:ty),+ $(,)?) => {$(
        impl From<$error> for Failure {
            fn from(error: $error) -> Self {
                Failure::Engine(Box::new(error))
            }
        }
    )+};
}

engine_failures!(
    StreamLookupError,
    CreateStreamError,
    DeleteStreamError,
    UpdateStreamError,
    RetentionError,
    MaxRecordSizeError,
    MonitoringError,
    AddTagsError,
    RegisterConsumerError,
    ConsumerLookupError,
    DeregisterConsumerError,
    SubscriptionTargetError,
    SplitShardError,
    MergeShardsError,
    UpdateShardCountError,
);

impl Failure {
    /// The error as the client sees it.
    pub fn into_api(self, account: Account<'_>) -> ApiError {
        match self {
            Failure::Api(error) => error,
            Failure::Put(error) => put_error(&error, account),
            Failure::Read(error) => read_error(&error, account),
            Failure::Engine(error) => error.worded(account),
        }
    }

    /// The stream whose shard was over its throughput quota, if that is the failure.
    pub fn throttled_stream(&self) -> Option<&str> {
        match self {
            Failure::Put(PutError::Throttled { stream, .. })
            | Failure::Read(ReadError::Throttled { stream, .. }) => Some(stream),
            Failure::Api(_) | Failure::Put(_) | Failure::Read(_) | Failure::Engine(_) => None,
        }
    }
}

/// The Kinesis error for a failed put (PutRecord, PutRecords).
pub fn put_error(error: &PutError, account: Account<'_>) -> ApiError {
    match error {
        PutError::StreamNotFound { stream } => stream_not_found(stream, account),
        PutError::InvalidField {
            field,
            value,
            constraint,
        } => invalid_field(*field, value.as_deref(), constraint),
        PutError::NoShardForHashKey { hash, .. } => no_shard_for_hash_key(*hash),
        PutError::Throttled { stream, shard } => throttled(stream, *shard, account),
        PutError::Failed(_) => internal(error),
    }
}

/// The Kinesis error for a failed read (GetShardIterator, GetRecords).
pub fn read_error(error: &ReadError, account: Account<'_>) -> ApiError {
    match error {
        ReadError::StreamNotFound { stream } => stream_not_found(stream, account),
        ReadError::ShardNotFound { stream, shard } => shard_not_found(stream, *shard, account),
        ReadError::InvalidField {
            field,
            value,
            constraint,
        } => invalid_field(*field, value.as_deref(), constraint),
        ReadError::SequenceNumberInvalid {
            stream,
            shard,
            sequence_number,
        } => sequence_number_past_end(stream, *shard, sequence_number, account),
        ReadError::SequenceNumberOfOtherShard {
            encoded_shard,
            shard,
        } => sequence_number_of_other_shard(*encoded_shard, *shard),
        ReadError::IteratorInvalid(cause) => iterator_invalid(cause),
        ReadError::IteratorExpired {
            issued_ms,
            now_ms,
            ttl_ms,
        } => iterator_expired(*issued_ms, *now_ms, *ttl_ms),
        ReadError::Throttled { stream, shard } => throttled(stream, *shard, account),
        ReadError::Storage(_) => internal(error),
    }
}

/// The error for a consumer ARN of this account that names no registered consumer.
pub fn consumer_arn_not_found(arn: &str) -> ApiError {
    ApiError::client(
        "ResourceNotFoundException",
        format!("Consumer {arn} does not exist."),
    )
}

/// The error for a StartingSequenceNumber, as sent, that names no record of the
/// shard: text that is no sequence number, or one past the shard's newest record.
pub fn starting_sequence_number_invalid(
    text: &str,
    stream: &str,
    shard: ShardId,
    account: Account<'_>,
) -> ApiError {
    ApiError::invalid_argument(format!(
        "StartingSequenceNumber {text} used in GetShardIterator on shard {shard} in stream {stream} under account {} is invalid.",
        account.id
    ))
}

pub(crate) fn stream_not_found(stream: &str, account: Account<'_>) -> ApiError {
    ApiError::client(
        "ResourceNotFoundException",
        format!("Stream {stream} under account {} not found.", account.id),
    )
}

pub(crate) fn shard_not_found(stream: &str, shard: ShardId, account: Account<'_>) -> ApiError {
    ApiError::client(
        "ResourceNotFoundException",
        format!(
            "Shard {shard} in stream {stream} under account {} does not exist",
            account.id
        ),
    )
}

pub(crate) fn invalid_field(
    field: Field,
    value: Option<&str>,
    constraint: &Constraint,
) -> ApiError {
    ApiError::validation(field_message(member_name(field), value, constraint))
}

fn no_shard_for_hash_key(hash: u128) -> ApiError {
    ApiError::invalid_argument(format!("no open shard holds hash key {hash}"))
}

/// A hash key, shard count or hash range that routing refused, stated as the
/// rule broken (InvalidArgumentException).
pub fn routing_error(error: &RoutingError) -> ApiError {
    ApiError::invalid_argument(match error {
        RoutingError::HashKeyNotDecimal { text } => format!(
            "hash key '{text}' must be a decimal integer from 0 to {HASH_KEY_MAX} (pattern 0|([1-9]\\d{{0,38}}): no sign, no leading zeros, no spaces)"
        ),
        RoutingError::HashKeyOutOfRange { text } => format!(
            "hash key '{text}' is greater than the largest hash key {HASH_KEY_MAX} (2^128 - 1)"
        ),
        RoutingError::ShardCountOutOfRange { shard_count } => {
            format!("shard count {shard_count} must be from 1 to {SHARD_COUNT_MAX}")
        }
        RoutingError::SplitKeyOutsideRange { key, range } => format!(
            "new starting hash key {key} is not both greater than one plus the starting hash key {} and less than the ending hash key {}",
            range.start, range.end
        ),
        RoutingError::NotAdjacent { first, second } => {
            format!("hash ranges {first} and {second} are not adjacent")
        }
    })
}

/// A shard iterator that is not one this server issued, or one issued too long ago.
fn iterator_invalid(cause: &TokenError) -> ApiError {
    let why = match cause {
        TokenError::Malformed(malformed) => match malformed {
            Malformed::TooLong { chars } => {
                format!("malformed shard iterator: {chars} characters, more than {TOKEN_CHARS_MAX}")
            }
            Malformed::NotBase64 { reason } => {
                format!("malformed shard iterator: not base64url ({reason})")
            }
            Malformed::WrongLength { bytes } => {
                format!("malformed shard iterator: {bytes} bytes is no iterator's length")
            }
            Malformed::Version { found } => {
                format!("malformed shard iterator: unknown version {found}")
            }
            Malformed::NameLength { .. } | Malformed::StreamName => {
                "malformed shard iterator: invalid stream name".to_string()
            }
            Malformed::IssuedInFuture { issued_ms, .. } => format!(
                "malformed shard iterator: issued at {}, in the future",
                iso_time(*issued_ms)
            ),
        },
        TokenError::BadSignature => "shard iterator signature does not match".to_string(),
        TokenError::Expired {
            issued_ms,
            now_ms,
            ttl_ms,
        } => return iterator_expired(*issued_ms, *now_ms, *ttl_ms),
    };
    ApiError::invalid_argument(format!("Invalid ShardIterator: {why}"))
}

fn iterator_expired(issued_ms: u64, now_ms: u64, ttl_ms: u64) -> ApiError {
    ApiError::client(
        "ExpiredIteratorException",
        format!(
            "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ttl_ms} milliseconds.",
            iso_time(issued_ms),
            iso_time(now_ms)
        ),
    )
}

fn sequence_number_past_end(
    stream: &str,
    shard: ShardId,
    sequence_number: &SequenceNumber,
    account: Account<'_>,
) -> ApiError {
    starting_sequence_number_invalid(&sequence_number.to_decimal(), stream, shard, account)
}

fn sequence_number_of_other_shard(encoded_shard: ShardId, shard: ShardId) -> ApiError {
    ApiError::invalid_argument(format!(
        "Invalid StartingSequenceNumber. It encodes {encoded_shard}, while it was used in a call to a shard with {shard}"
    ))
}

/// Storage and metadata failures: the cause as the engine states it, since it is
/// nothing the client did (InternalFailure).
pub(crate) fn internal(error: &dyn std::fmt::Display) -> ApiError {
    ApiError::internal(error.to_string())
}

/// An ExplicitHashKey that did not read as a hash key, in Kinesis's words: text
/// that is not a decimal integer breaks the model's pattern (ValidationException);
/// one beyond 2^128 − 1 is out of range (InvalidArgumentException).
pub fn explicit_hash_key_error(text: &str, error: &RoutingError) -> ApiError {
    match error {
        RoutingError::HashKeyOutOfRange { .. } => ApiError::invalid_argument(format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}"
        )),
        RoutingError::HashKeyNotDecimal { .. } => ApiError::validation(field_message(
            "explicitHashKey",
            Some(text),
            &Constraint::Decimal {
                digits_max: HASH_KEY_DIGITS_MAX,
            },
        )),
        other => routing_error(other),
    }
}

/// The name Kinesis's messages give a field: the member's, first letter lowered.
fn member_name(field: Field) -> &'static str {
    match field {
        Field::StreamName => "streamName",
        Field::ConsumerName => "consumerName",
        Field::ShardCount => "shardCount",
        Field::TargetShardCount => "targetShardCount",
        Field::PartitionKey => "partitionKey",
        Field::Data => "data",
        Field::Records => "records",
        Field::Limit => "limit",
        Field::RecordKibMax => "maxRecordSizeInKiB",
    }
}

/// PutRecords's `ErrorCode` and `ErrorMessage` for a record that failed.
pub fn record_failure(failure: &RecordFailure, account: Account<'_>) -> (&'static str, String) {
    match failure {
        RecordFailure::Throttled { stream, shard } => {
            let error = throttled(stream, *shard, account);
            (error.code, error.message)
        }
        RecordFailure::WriteFailed { cause, .. } => ("InternalFailure", cause.clone()),
    }
}

fn throttled(stream: &str, shard: ShardId, account: Account<'_>) -> ApiError {
    ApiError::client(
        "ProvisionedThroughputExceededException",
        format!(
            "Rate exceeded for shard {} in stream {stream} under account {}.",
            shard, account.id
        ),
    )
}

/// `1 validation error detected: Value '<value>' at '<field>' failed to satisfy
/// constraint: <rule>`, as Kinesis words one broken field.
pub fn field_message(field: &str, value: Option<&str>, constraint: &Constraint) -> String {
    let rule = match constraint {
        Constraint::Name { chars_max } => format!(
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and {chars_max}"
        ),
        Constraint::LengthBetween { min, max } => {
            format!("Member must have length between {min} and {max}")
        }
        Constraint::LengthAtMost { max } => {
            format!("Member must have length less than or equal to {max}")
        }
        Constraint::ValueBetween { min, max } => {
            format!("Member must have value between {min} and {max}")
        }
        Constraint::Decimal { digits_max } => format!(
            "Member must satisfy regular expression pattern: 0|([1-9]\\d{{0,{}}})",
            digits_max - 1
        ),
        other => format!("{other}"),
    };
    let shown = value.map_or_else(String::new, |value| format!(" '{value}'"));
    format!("1 validation error detected: Value{shown} at '{field}' failed to satisfy constraint: {rule}")
}

/// `2026-11-22T03:00:00.000Z`-style text for messages.
fn iso_time(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || format!("{ms} ms after the epoch"),
        |time| time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    )
}

#[cfg(test)]
mod tests;
