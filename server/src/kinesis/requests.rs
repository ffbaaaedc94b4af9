//! Typed requests of the Kinesis actions converted from field lookups: each is
//! read from the request after validation against the model (which has already
//! checked types, required members, patterns and enums), so a handler sees its
//! input as one struct. Members are named as the model names them.

use crate::protocol::wire::{Blob, Timestamp};
use serde::Deserialize;
use shardlog_engine::seqno::SequenceNumber;
use shardlog_engine::ShardId;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// CreateStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateStreamInput {
    /// The new stream's name.
    pub(crate) stream_name: String,
    /// Shards of a provisioned stream; default 1.
    pub(crate) shard_count: Option<i128>,
    /// Provisioned (the default) or on demand.
    pub(crate) stream_mode_details: Option<StreamModeDetails>,
    /// Tags to set on the new stream.
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
}

/// `StreamModeDetails`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamModeDetails {
    /// The capacity mode.
    pub(crate) stream_mode: StreamMode,
}

/// A stream's capacity mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum StreamMode {
    /// Shards provisioned by count.
    Provisioned,
    /// Capacity follows the load.
    OnDemand,
}

/// DeleteStream's input: the stream by name or ARN.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteStreamInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// Delete the stream's consumers too; default false (a stream with
    /// consumers is then refused).
    pub(crate) enforce_consumer_deletion: Option<bool>,
}

/// ListStreams' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListStreamsInput {
    /// Most names returned; default 100.
    pub(crate) limit: Option<i128>,
    /// List the names after this one.
    pub(crate) exclusive_start_stream_name: Option<String>,
    /// The previous page's token (the last name it returned).
    pub(crate) next_token: Option<String>,
}

/// DescribeStreamSummary's input: the stream by name or ARN.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeStreamSummaryInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
}

/// A stream as Kinesis requests name it: by StreamName, by StreamARN, or by both
/// when they agree.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamRef {
    /// The stream's name.
    pub(crate) stream_name: Option<String>,
    /// The stream's ARN.
    #[serde(rename = "StreamARN")]
    pub(crate) stream_arn: Option<String>,
}

/// An ExclusiveStartShardId, parsed once here: an id that names no shard starts
/// nowhere in particular (the first page).
fn lenient_shard_id<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ShardId>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    Ok(text.as_deref().and_then(ShardId::parse))
}

/// A sequence number as a request carries it, read once here. Text that matches
/// the model's pattern but is no sequence number of the layout is kept as sent,
/// for the action to refuse where Kinesis does (after the lookups it makes first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SequenceNumberInput {
    /// A sequence number of the layout.
    Parsed(SequenceNumber),
    /// Decimal text that is none.
    Malformed(String),
}

impl<'de> Deserialize<'de> for SequenceNumberInput {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match SequenceNumber::parse(&text) {
            Ok(number) => SequenceNumberInput::Parsed(number),
            Err(_) => SequenceNumberInput::Malformed(text),
        })
    }
}

/// DescribeStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeStreamInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// Most shards described; default 100.
    pub(crate) limit: Option<i128>,
    /// Describe the shards after this one (an id that names none: the first page).
    #[serde(default, deserialize_with = "lenient_shard_id")]
    pub(crate) exclusive_start_shard_id: Option<ShardId>,
}

/// ListShards' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListShardsInput {
    /// The stream (absent when a NextToken names it).
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The previous page's token, `<stream>|<last shard id>`.
    pub(crate) next_token: Option<String>,
    /// List the shards after this one (an id that names none: from the first).
    #[serde(default, deserialize_with = "lenient_shard_id")]
    pub(crate) exclusive_start_shard_id: Option<ShardId>,
    /// Most shards listed; default 1000.
    pub(crate) max_results: Option<i128>,
    /// Which shards to list.
    pub(crate) shard_filter: Option<ShardFilterInput>,
}

/// `ShardFilter`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ShardFilterInput {
    /// The kind of filter.
    #[serde(rename = "Type")]
    pub(crate) kind: ShardFilterType,
    /// AFTER_SHARD_ID's shard (an id that names none filters nothing out).
    pub(crate) shard_id: Option<String>,
    /// AT_TIMESTAMP's and FROM_TIMESTAMP's time.
    pub(crate) timestamp: Option<Timestamp>,
}

/// `ShardFilterType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ShardFilterType {
    /// Shards after ShardId.
    AfterShardId,
    /// Shards open at the trim horizon.
    AtTrimHorizon,
    /// Every shard from the trim horizon on.
    FromTrimHorizon,
    /// Shards open now.
    AtLatest,
    /// Shards open at Timestamp.
    AtTimestamp,
    /// Shards open at or after Timestamp.
    FromTimestamp,
}

/// One record to put (PutRecord's input, and each of PutRecords' entries).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RecordInput<'a> {
    /// The payload, borrowed from the validated request (no copy per record).
    #[serde(borrow)]
    pub(crate) data: Blob<Cow<'a, [u8]>>,
    /// The key whose MD5 routes the record, borrowed like the payload.
    #[serde(borrow)]
    pub(crate) partition_key: Cow<'a, str>,
    /// A decimal hash key that routes the record in place of the partition key's.
    pub(crate) explicit_hash_key: Option<String>,
}

/// PutRecord's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutRecordInput<'a> {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The record.
    #[serde(flatten, borrow)]
    pub(crate) record: RecordInput<'a>,
    /// A sequence number this record's must exceed.
    pub(crate) sequence_number_for_ordering: Option<SequenceNumberInput>,
}

/// PutRecords' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutRecordsInput<'a> {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The records, in order.
    #[serde(borrow)]
    pub(crate) records: Vec<RecordInput<'a>>,
}

/// `ShardIteratorType`, also SubscribeToShard's `StartingPosition.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum PositionType {
    /// At a sequence number.
    AtSequenceNumber,
    /// Right after a sequence number.
    AfterSequenceNumber,
    /// The oldest record kept.
    TrimHorizon,
    /// After the newest record.
    Latest,
    /// At a time.
    AtTimestamp,
}

/// GetShardIterator's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetShardIteratorInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The shard, in any form Kinesis reads (resolved once the stream is known).
    pub(crate) shard_id: String,
    /// Where the iterator starts.
    pub(crate) shard_iterator_type: PositionType,
    /// AT_ and AFTER_SEQUENCE_NUMBER's sequence number.
    pub(crate) starting_sequence_number: Option<SequenceNumberInput>,
    /// AT_TIMESTAMP's time.
    pub(crate) timestamp: Option<Timestamp>,
}

/// SubscribeToShard's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SubscribeToShardInput {
    /// The registered consumer.
    #[serde(rename = "ConsumerARN")]
    pub(crate) consumer_arn: String,
    /// The shard, in any form Kinesis reads.
    pub(crate) shard_id: String,
    /// Where the subscription starts.
    pub(crate) starting_position: StartingPosition,
}

/// `StartingPosition`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StartingPosition {
    /// The kind of position.
    #[serde(rename = "Type")]
    pub(crate) kind: PositionType,
    /// AT_ and AFTER_SEQUENCE_NUMBER's sequence number.
    pub(crate) sequence_number: Option<SequenceNumberInput>,
    /// AT_TIMESTAMP's time.
    pub(crate) timestamp: Option<Timestamp>,
}

/// GetRecords' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetRecordsInput {
    /// The iterator token.
    pub(crate) shard_iterator: String,
    /// Most records returned; default 10,000.
    pub(crate) limit: Option<i128>,
}

/// SplitShard's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SplitShardInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The shard to split.
    pub(crate) shard_to_split: String,
    /// The first hash key of the new upper child (decimal).
    pub(crate) new_starting_hash_key: String,
}

/// MergeShards' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MergeShardsInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// One shard.
    pub(crate) shard_to_merge: String,
    /// Its neighbour in hash key range.
    pub(crate) adjacent_shard_to_merge: String,
}

/// UpdateShardCount's input (`ScalingType` has one value, UNIFORM_SCALING, which
/// validation has checked).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateShardCountInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The open shard count wanted.
    pub(crate) target_shard_count: i128,
}

/// Increase/DecreaseStreamRetentionPeriod's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RetentionInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The new retention period.
    pub(crate) retention_period_hours: i128,
}

/// AddTagsToStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AddTagsInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// Tags to set.
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
}

/// RemoveTagsFromStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RemoveTagsInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// Keys of the tags to remove.
    pub(crate) tag_keys: Vec<String>,
}

/// ListTagsForStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// List the tags after this key.
    pub(crate) exclusive_start_tag_key: Option<String>,
    /// Most tags listed; default 50.
    pub(crate) limit: Option<i128>,
}

/// The input of the consumer actions: a consumer by ARN, or by stream and name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConsumerInput {
    /// The stream (RegisterStreamConsumer, ListStreamConsumers, and the others
    /// when no ConsumerARN is given).
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The consumer's name.
    pub(crate) consumer_name: Option<String>,
    /// The consumer's ARN.
    #[serde(rename = "ConsumerARN")]
    pub(crate) consumer_arn: Option<String>,
}

/// TagResource's, UntagResource's and ListTagsForResource's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResourceTagsInput {
    /// The tagged resource (a stream).
    #[serde(rename = "ResourceARN")]
    pub(crate) resource_arn: String,
    /// TagResource's tags.
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
    /// UntagResource's keys.
    #[serde(default)]
    pub(crate) tag_keys: Vec<String>,
}

/// UpdateStreamMode's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateStreamModeInput {
    /// The stream (its ARN is required by the model).
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The new capacity mode.
    pub(crate) stream_mode_details: StreamModeDetails,
}

/// Enable/DisableEnhancedMonitoring's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MonitoringInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The metrics to enable or disable.
    pub(crate) shard_level_metrics: Vec<String>,
}

/// UpdateMaxRecordSize's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateMaxRecordSizeInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// The new largest record, in KiB.
    #[serde(rename = "MaxRecordSizeInKiB")]
    pub(crate) max_record_size_kib: i128,
}

#[cfg(test)]
mod tests {
    //! Sequence numbers are read once, at the request; records borrow from it.
    use super::*;
    use crate::protocol::value::Format;
    use crate::protocol::{model, typed, validate};

    /// PutRecords' and PutRecord's payloads and partition keys are borrowed from
    /// the validated request, in JSON and CBOR: no copy per record.
    #[test]
    fn records_borrow_from_the_request() {
        let json = br#"{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k"}]}"#;
        let mut cbor = Vec::new();
        let record = ciborium::Value::Map(vec![
            ("Data".into(), ciborium::Value::Bytes(b"hi".to_vec())),
            ("PartitionKey".into(), "k".into()),
        ]);
        let body = ciborium::Value::Map(vec![
            ("StreamName".into(), "s".into()),
            ("Records".into(), ciborium::Value::Array(vec![record])),
        ]);
        ciborium::into_writer(&body, &mut cbor).unwrap();
        for (format, body) in [(Format::Json, &json[..]), (Format::Cbor, &cbor[..])] {
            let tree = validate::request(model::kinesis(), "PutRecords", format, body).unwrap();
            let input: PutRecordsInput<'_> = typed::read(&tree).unwrap();
            let record = &input.records[0];
            assert_eq!(record.data.0.as_ref(), b"hi");
            assert!(
                matches!(record.data.0, Cow::Borrowed(_)),
                "{format:?} data copied"
            );
            assert!(
                matches!(record.partition_key, Cow::Borrowed("k")),
                "{format:?} key copied"
            );
        }
        let one = br#"{"StreamName":"s","Data":"aGk=","PartitionKey":"k"}"#;
        let tree = validate::request(model::kinesis(), "PutRecord", Format::Json, one).unwrap();
        let input: PutRecordInput<'_> = typed::read(&tree).unwrap();
        assert_eq!(input.record.data.0.as_ref(), b"hi");
        assert_eq!(input.record.partition_key, "k");
    }

    /// Text of the layout is parsed; other text the pattern admits is kept as sent.
    #[test]
    fn sequence_numbers_are_parsed_or_kept() {
        let read = |text: &str| {
            serde_json::from_value::<SequenceNumberInput>(serde_json::json!(text)).unwrap()
        };
        let real = "49559948046087405716686625491085803253240564075691245570";
        let parsed = SequenceNumber::parse(real).unwrap();
        assert_eq!(read(real), SequenceNumberInput::Parsed(parsed));
        assert_eq!(read("5"), SequenceNumberInput::Malformed("5".into()));
    }
}
