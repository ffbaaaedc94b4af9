//! Engine errors keep the exact words Kinesis answers with.
use super::*;
use shardlog_engine::routing::RoutingError;
use shardlog_engine::{
    InvalidField, ShardLimitExceeded, ShardNotOpen, SubscribeError, SubscriptionError, TagError,
};

fn worded(error: &dyn Worded) -> (&'static str, String) {
    let api = error.worded(TEST_ACCOUNT);
    (api.code, api.message)
}

fn s(text: &str) -> String {
    text.to_string()
}

fn consumer_id() -> shardlog_engine::ConsumerId {
    shardlog_engine::ConsumerId {
        stream: s("a"),
        consumer: s("c"),
        created_s: 5,
    }
}

/// Every engine error names the code and message Kinesis gives for it, with
/// this server's account and region, byte for byte.
#[test]
fn engine_errors_keep_kinesis_wording() {
    let cases: Vec<(Box<dyn Worded>, &str, &str)> = vec![
        (
            Box::new(StreamLookupError::NotFound { stream: s("a") }),
            "ResourceNotFoundException",
            "Stream a under account 123456789012 not found.",
        ),
        (
            Box::new(ShardNotOpen::NotFound { stream: s("a"), shard: ShardId(7) }),
            "ResourceNotFoundException",
            "Shard shardId-000000000007 in stream a under account 123456789012 does not exist",
        ),
        (
            Box::new(SubscriptionTargetError::ConsumerNotRegistered { consumer: consumer_id() }),
            "ResourceNotFoundException",
            "Consumer arn:aws:kinesis:eu-west-1:123456789012:stream/a/consumer/c:5 does not exist.",
        ),
        (
            Box::new(SubscribeError::SubscriptionActive {
                consumer: consumer_id(),
                shard: ShardId(1),
                guard_ms: 5_000,
            }),
            "ResourceInUseException",
            "Another active subscription exists for consumer arn:aws:kinesis:eu-west-1:123456789012:stream/a/consumer/c:5 and shard shardId-000000000001; subscribe again at least 5 seconds after the last successful call.",
        ),
        (
            Box::new(ConsumerLookupError::ConsumerNotFound { stream: s("a"), consumer: s("c") }),
            "ResourceNotFoundException",
            "Consumer c under stream a under account 123456789012 not found.",
        ),
        (
            Box::new(CreateStreamError::StreamExists { stream: s("a") }),
            "ResourceInUseException",
            "Stream a under account 123456789012 already exists.",
        ),
        (
            Box::new(ShardNotOpen::Closed { stream: s("a"), shard: ShardId(1) }),
            "ResourceInUseException",
            "Shard shardId-000000000001 in stream a under account 123456789012 has already been merged or split, and thus is not eligible for merging or splitting.",
        ),
        (
            Box::new(SubscriptionError::TakenOver { consumer: s("c"), shard: ShardId(3) }),
            "ResourceInUseException",
            "A newer subscription of consumer c to shard shardId-000000000003 took over this one.",
        ),
        (
            Box::new(ShardLimitExceeded { open: 9, adding: 2, limit: 10 }),
            "LimitExceededException",
            "This request would exceed the shard limit for the account 123456789012 in eu-west-1. Current shard count for the account: 9. Limit: 10. Number of additional shards that would have resulted from this request: 2.",
        ),
        (
            Box::new(TagError::TooManyTags { limit: 50 }),
            "InvalidArgumentException",
            "A stream cannot have more than 50 tags.",
        ),
        (
            Box::new(RetentionError::WrongDirection {
                stream: s("a"),
                requested_hours: 12,
                current_hours: 24,
                increase: true,
            }),
            "InvalidArgumentException",
            "Requested retention period (12 hours) for stream a can not be shorter than existing retention period (24 hours). Use DecreaseRetentionPeriod API to decrease retention period.",
        ),
        (
            Box::new(RetentionError::OutOfRange {
                stream: s("a"),
                requested_hours: 9000,
                bound_hours: 8760,
            }),
            "InvalidArgumentException",
            "Requested retention period (9000 hours) for stream a can not be longer than the maximum retention period (8760 hours).",
        ),
        (
            Box::new(RetentionError::OutOfRange {
                stream: s("a"),
                requested_hours: 12,
                bound_hours: 24,
            }),
            "InvalidArgumentException",
            "Requested retention period (12 hours) for stream a can not be shorter than the minimum retention period (24 hours).",
        ),
        (
            Box::new(SplitShardError::KeyOutsideShard {
                stream: s("a"),
                shard: ShardId(0),
                key: shardlog_engine::HashKey(1),
                start: 0,
                end: 99,
            }),
            "InvalidArgumentException",
            "NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream a under account 123456789012 is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's EndingHashKey 99.",
        ),
        (
            Box::new(ReadError::SequenceNumberInvalid {
                stream: s("a"),
                shard: ShardId(1),
                sequence_number: shardlog_engine::seqno::SequenceNumber {
                    shard_created_secs: 0,
                    shard_index: 1,
                    counter: 5,
                    arrival_secs: 0,
                },
            }),
            "InvalidArgumentException",
            "StartingSequenceNumber 49039857307730744212665635491957474223170373417254780946 used in GetShardIterator on shard shardId-000000000001 in stream a under account 123456789012 is invalid.",
        ),
        (
            Box::new(ReadError::SequenceNumberOfOtherShard { encoded_shard: ShardId(0), shard: ShardId(1) }),
            "InvalidArgumentException",
            "Invalid StartingSequenceNumber. It encodes shardId-000000000000, while it was used in a call to a shard with shardId-000000000001",
        ),
        (
            Box::new(ReadError::IteratorExpired {
                issued_ms: 0,
                now_ms: 300_001,
                ttl_ms: 300_000,
            }),
            "ExpiredIteratorException",
            "Iterator expired. The iterator was created at time 1970-01-01T00:00:00.000Z while right now it is 1970-01-01T00:05:00.001Z which is further in the future than the tolerated delay of 300000 milliseconds.",
        ),
        (
            Box::new(ReadError::Throttled { stream: s("a"), shard: ShardId(2) }),
            "ProvisionedThroughputExceededException",
            "Rate exceeded for shard shardId-000000000002 in stream a under account 123456789012.",
        ),
        (
            Box::new(InvalidField {
                field: Field::StreamName,
                value: Some(s("a b")),
                constraint: Constraint::Name { chars_max: 128 },
            }),
            "ValidationException",
            "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128",
        ),
        (
            Box::new(PutError::InvalidField {
                field: Field::Data,
                value: None,
                constraint: Constraint::LengthAtMost { max: 1_048_576 },
            }),
            "ValidationException",
            "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576",
        ),
        (
            Box::new(InvalidField {
                field: Field::RecordKibMax,
                value: Some(s("20000")),
                constraint: Constraint::ValueBetween { min: 1, max: 10_240 },
            }),
            "ValidationException",
            "1 validation error detected: Value '20000' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value between 1 and 10240",
        ),
        (
            Box::new(ReadError::InvalidField {
                field: Field::Limit,
                value: Some(s("0")),
                constraint: Constraint::ValueBetween { min: 1, max: 10_000 },
            }),
            "ValidationException",
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000",
        ),
        (
            Box::new(UpdateShardCountError::Routing(RoutingError::ShardCountOutOfRange { shard_count: 0 })),
            "InvalidArgumentException",
            "shard count 0 must be from 1 to 10000",
        ),
    ];
    for (error, code, message) in cases {
        assert_eq!(worded(error.as_ref()), (code, message.to_string()));
    }
    let not_decimal = shardlog_engine::HashKey::parse("-1").unwrap_err();
    let api = explicit_hash_key_error("-1", &not_decimal);
    assert_eq!(
        (api.code, api.message.as_str()),
        (
            "ValidationException",
            "1 validation error detected: Value '-1' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"
        )
    );
}

/// Every variant of the put and read errors words to a Kinesis code (the
/// exhaustive matches in `put_error` and `read_error` make sure none is left
/// out; this checks what each one says).
#[test]
fn put_and_read_errors_keep_kinesis_codes() {
    let field = || {
        (
            Field::Limit,
            Some(s("0")),
            Constraint::ValueBetween { min: 1, max: 10 },
        )
    };
    let (f, v, c) = field();
    let puts = vec![
        (
            PutError::StreamNotFound { stream: s("a") },
            "ResourceNotFoundException",
        ),
        (
            PutError::InvalidField {
                field: f,
                value: v,
                constraint: c,
            },
            "ValidationException",
        ),
        (
            PutError::NoShardForHashKey {
                stream: s("a"),
                hash: 5,
            },
            "InvalidArgumentException",
        ),
        (
            PutError::Throttled {
                stream: s("a"),
                shard: ShardId(0),
            },
            "ProvisionedThroughputExceededException",
        ),
        (
            PutError::Failed(shardlog_engine::Failed::Manifest(std::io::Error::other(
                "disk",
            ))),
            "InternalFailure",
        ),
    ];
    for (error, code) in puts {
        let api = put_error(&error, TEST_ACCOUNT);
        assert_eq!(api.code, code, "{error:?}");
        assert_eq!(api, Failure::from(error).into_api(TEST_ACCOUNT));
    }
    let number = shardlog_engine::seqno::SequenceNumber::before_first(0, 1);
    let token = shardlog_engine::token::TokenError::BadSignature;
    let (f, v, c) = field();
    let reads = vec![
        (
            ReadError::StreamNotFound { stream: s("a") },
            "ResourceNotFoundException",
        ),
        (
            ReadError::ShardNotFound {
                stream: s("a"),
                shard: ShardId(1),
            },
            "ResourceNotFoundException",
        ),
        (
            ReadError::InvalidField {
                field: f,
                value: v,
                constraint: c,
            },
            "ValidationException",
        ),
        (
            ReadError::SequenceNumberInvalid {
                stream: s("a"),
                shard: ShardId(1),
                sequence_number: number,
            },
            "InvalidArgumentException",
        ),
        (
            ReadError::SequenceNumberOfOtherShard {
                encoded_shard: ShardId(0),
                shard: ShardId(1),
            },
            "InvalidArgumentException",
        ),
        (
            ReadError::IteratorInvalid(token),
            "InvalidArgumentException",
        ),
        (
            ReadError::IteratorExpired {
                issued_ms: 0,
                now_ms: 2,
                ttl_ms: 1,
            },
            "ExpiredIteratorException",
        ),
        (
            ReadError::Throttled {
                stream: s("a"),
                shard: ShardId(0),
            },
            "ProvisionedThroughputExceededException",
        ),
        (
            ReadError::Storage(shardlog_segment::Error::LogFailed {
                path: "/d".into(),
                cause: s("disk"),
            }),
            "InternalFailure",
        ),
    ];
    for (error, code) in reads {
        let api = read_error(&error, TEST_ACCOUNT);
        assert_eq!(api.code, code, "{error:?}");
        assert_eq!(api, Failure::from(error).into_api(TEST_ACCOUNT));
    }
}

/// Routing and iterator refusals are worded here, not by the engine: each
/// case states the rule broken, an expired token answers ExpiredIterator.
#[test]
fn routing_and_token_errors_are_worded_here() {
    let range = shardlog_engine::HashRange { start: 0, end: 9 };
    let routing = [
        (
            RoutingError::HashKeyNotDecimal { text: s("-1") },
            "hash key '-1' must be a decimal integer from 0 to 340282366920938463463374607431768211455 (pattern 0|([1-9]\\d{0,38}): no sign, no leading zeros, no spaces)",
        ),
        (
            RoutingError::HashKeyOutOfRange { text: s("4") },
            "hash key '4' is greater than the largest hash key 340282366920938463463374607431768211455 (2^128 - 1)",
        ),
        (
            RoutingError::SplitKeyOutsideRange { key: 1, range },
            "new starting hash key 1 is not both greater than one plus the starting hash key 0 and less than the ending hash key 9",
        ),
        (
            RoutingError::NotAdjacent { first: range, second: range },
            "hash ranges [0, 9] and [0, 9] are not adjacent",
        ),
    ];
    for (error, message) in routing {
        let api = routing_error(&error);
        assert_eq!(
            (api.code, api.message.as_str()),
            ("InvalidArgumentException", message)
        );
    }
    let malformed = [
        Malformed::TooLong { chars: 600 },
        Malformed::NotBase64 {
            reason: "Invalid byte 33, offset 0.".into(),
        },
        Malformed::WrongLength { bytes: 3 },
        Malformed::Version { found: 2 },
        Malformed::NameLength {
            field: 3,
            actual: 2,
        },
        Malformed::StreamName,
        Malformed::IssuedInFuture {
            issued_ms: 0,
            now_ms: 0,
        },
    ];
    let tokens = malformed.into_iter().map(TokenError::Malformed);
    for error in tokens.chain([TokenError::BadSignature]) {
        let api = iterator_invalid(&error);
        assert_eq!(api.code, "InvalidArgumentException", "{error:?}");
        assert!(
            api.message.starts_with("Invalid ShardIterator: "),
            "{}",
            api.message
        );
    }
    let expired = TokenError::Expired {
        issued_ms: 0,
        now_ms: 9,
        ttl_ms: 5,
    };
    assert_eq!(iterator_invalid(&expired).code, "ExpiredIteratorException");
}

/// A throttled record and a failed write answer PutRecords's per-record codes.
#[test]
fn record_failures_keep_kinesis_codes() {
    let throttled = RecordFailure::Throttled {
        stream: s("a"),
        shard: ShardId(0),
    };
    assert_eq!(
        record_failure(&throttled, TEST_ACCOUNT),
        (
            "ProvisionedThroughputExceededException",
            s("Rate exceeded for shard shardId-000000000000 in stream a under account 123456789012.")
        )
    );
    let failed = RecordFailure::WriteFailed {
        shard: ShardId(0),
        cause: s("storage: disk"),
    };
    assert_eq!(
        record_failure(&failed, TEST_ACCOUNT),
        ("InternalFailure", s("storage: disk"))
    );
}
