//! Kinesis business rules that the service model does not state and the engine
//! does not word: the shard id forms Kinesis accepts, which sequence numbers
//! SequenceNumberForOrdering takes, timestamps in the future, the account's
//! shard limit, and the characters of tag keys and values. Behaviour and messages are those Kinesis answers with (as recorded
//! by kinesalite's tests against the real service, and seen in client reports).

use crate::error::ApiError;
use crate::kinesis::errors::{explicit_hash_key_error, routing_error, Account};
use crate::kinesis::requests::SequenceNumberInput;
use shardlog_engine::{Engine, HashKey, ShardId};
use std::time::{SystemTime, UNIX_EPOCH};

/// A shard id in any form Kinesis accepts ([`ShardId::parse`]). An id that
/// names no shard number up to 2147483647 is a ResourceNotFoundException worded
/// for the id as sent.
pub fn shard_id(account: Account<'_>, stream: &str, text: &str) -> Result<ShardId, ApiError> {
    ShardId::parse(text).ok_or_else(|| {
        ApiError::client(
            "ResourceNotFoundException",
            format!(
                "Could not find shard {text} in stream {stream} under account {}.",
                account.id
            ),
        )
    })
}

/// An ExplicitHashKey (already pattern-checked by the model), read once here: a
/// value beyond 2^128 − 1 is refused in Kinesis's words.
pub fn explicit_hash_key(text: &str) -> Result<HashKey, ApiError> {
    HashKey::parse(text).map_err(|error| explicit_hash_key_error(text, &error))
}

/// SplitShard's NewStartingHashKey (already pattern-checked by the model), read
/// once here; a value beyond 2^128 − 1 is refused with routing's statement of
/// the rule.
pub fn split_key(text: &str) -> Result<HashKey, ApiError> {
    HashKey::parse(text).map_err(|error| routing_error(&error))
}

/// Checks PutRecord's SequenceNumberForOrdering (already pattern-checked by the
/// model): Kinesis takes any well-formed sequence number whose record time is not
/// in the future, from this stream or not, and refuses anything else with
/// InvalidArgumentException. Taking it needs nothing more: a shard's sequence
/// numbers strictly increase, so a record put after another of the same partition
/// key (the same shard) always sorts after it, which is what the member asks for.
pub(crate) fn sequence_number_for_ordering(
    account: Account<'_>,
    stream: &str,
    ordering: &SequenceNumberInput,
) -> Result<(), ApiError> {
    let now_secs = now_ms() / 1000;
    let text = match ordering {
        SequenceNumberInput::Parsed(number)
            if number.shard_index <= ShardId::INDEX_MAX && number.arrival_secs <= now_secs =>
        {
            return Ok(());
        }
        SequenceNumberInput::Parsed(number) => number.to_decimal(),
        SequenceNumberInput::Malformed(text) => text.clone(),
    };
    Err(ApiError::invalid_argument(format!(
        "ExclusiveMinimumSequenceNumber {text} used in PutRecord on stream {stream} under account {} is invalid.",
        account.id
    )))
}

/// Refuses an AT_TIMESTAMP position after the server's clock, as Kinesis does.
pub fn timestamp_not_in_future(timestamp_ms: u64) -> Result<u64, ApiError> {
    let now = now_ms();
    if timestamp_ms > now {
        return Err(ApiError::invalid_argument(format!(
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {timestamp_ms}, currentTimestampInMillis: {now}"
        )));
    }
    Ok(timestamp_ms)
}

/// Refuses a new stream of `shard_count` shards that would take the account over
/// its shard limit (LimitExceededException), unless the stream already exists,
/// which Kinesis reports first (ResourceInUseException, from the engine).
pub fn within_shard_limit(
    engine: &Engine,
    account: Account<'_>,
    stream: &str,
    shard_count: u32,
) -> Result<(), ApiError> {
    let (open, limit, _) = engine.account_usage();
    if u64::from(open) + u64::from(shard_count) <= u64::from(limit)
        || engine.describe_stream(stream, 0, None).is_ok()
    {
        return Ok(());
    }
    Err(ApiError::client(
        "LimitExceededException",
        format!(
            "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: {open}. Limit: {limit}. Number of additional shards that would have resulted from this request: {shard_count}. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
            account.id, account.region
        ),
    ))
}

/// Refuses tag keys or values with a character Kinesis does not take: it takes
/// letters and digits of any script, the space and `_ . / = + - % @`, and the
/// colon (which its documentation leaves out but the service accepts). Checked
/// after the stream lookup, as Kinesis does.
pub fn tag_characters<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<(), ApiError> {
    let allowed = |c: char| c.is_alphanumeric() || " _./=+-%@:".contains(c);
    if texts.into_iter().all(|text| text.chars().all(allowed)) {
        return Ok(());
    }
    Err(ApiError::invalid_argument(
        "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
            .to_string(),
    ))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    //! Shard id forms and ordering numbers, without a server.
    use super::*;
    use crate::kinesis::errors::TEST_ACCOUNT;

    /// Letters of any script, digits, the space, `_ . / = + - % @ :` pass; a
    /// semicolon, tab, newline or comma anywhere is refused.
    #[test]
    fn tag_characters_are_those_kinesis_takes() {
        tag_characters(["team name", "Ünïcödé_1.2/3=4+5-6%7@8:9", "データ", ""]).unwrap();
        for bad in ["a;b", "a\tb", "a\nb", "a,b"] {
            let error = tag_characters(["fine", bad]).unwrap_err();
            assert_eq!(error.code, "InvalidArgumentException", "{bad:?}");
        }
    }

    /// Every form Kinesis resolves names the same shard; others are not found.
    #[test]
    fn shard_id_forms() {
        for form in [
            "1",
            "000000000001",
            "shardId-1",
            "shardId-000000000001",
            "shard-1",
            "-00000000000000001",
        ] {
            assert_eq!(
                shard_id(TEST_ACCOUNT, "s", form).unwrap().to_string(),
                "shardId-000000000001",
                "{form}"
            );
        }
        assert_eq!(
            shard_id(TEST_ACCOUNT, "s", "2147483647")
                .unwrap()
                .to_string(),
            "shardId-002147483647"
        );
        for form in ["2147483648", "ABKLFD8", "2.14E4", "shardId-", "a-b-1", ""] {
            let error = shard_id(TEST_ACCOUNT, "s", form).unwrap_err();
            assert_eq!(error.code, "ResourceNotFoundException", "{form}");
            assert!(
                error.message.contains(&format!("shard {form} in")),
                "{form}"
            );
        }
    }

    /// Hash keys are read once, in Kinesis's words when they are not hash keys:
    /// beyond 2^128 − 1 is an invalid argument, other text a validation error.
    #[test]
    fn hash_keys_read_once() {
        let max = u128::MAX.to_string();
        assert_eq!(explicit_hash_key(&max).unwrap(), HashKey(u128::MAX));
        assert_eq!(split_key("12345").unwrap(), HashKey(12345));
        let beyond = "340282366920938463463374607431768211456";
        let error = explicit_hash_key(beyond).unwrap_err();
        assert_eq!(error.code, "InvalidArgumentException");
        assert!(error
            .message
            .ends_with(&format!("Specified value was {beyond}")));
        assert_eq!(
            split_key(beyond).unwrap_err().code,
            "InvalidArgumentException"
        );
        let error = explicit_hash_key("12x").unwrap_err();
        assert_eq!(error.code, "ValidationException");
        assert!(
            error.message.contains("at 'explicitHashKey'"),
            "{}",
            error.message
        );
    }
}
