//! Typed responses of the Kinesis actions, written by the request's codec
//! (`Format::serialize`: serde_json or ciborium). Members are named as the model
//! names them; absent optional members are left out, as AWS leaves them out.
//! GetRecords and the SubscribeToShard events share [`RecordOut`] and
//! [`ChildShardOut`], so both protocols and both actions write records one way.

use crate::kinesis::errors::{record_failure, Account};
use crate::protocol::value::Format;
use crate::protocol::wire::{Blob, Timestamp};
use serde::Serialize;
use shardlog_engine::seqno::{DecimalCursor, SequenceNumber};
use shardlog_engine::{
    ChildShard, ConsumerDescription, HashRange, OutputRecord, PutResult, RecordFailure,
    ShardDescription, ShardId, StreamDescription, StreamMode, SubscriptionBatch,
};

/// A sequence number as Kinesis writes it: its decimal text, formatted here, once,
/// as the response is written (`to_decimal`, which refuses fields the engine would
/// never assign, rather than `Display`, which shows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SequenceNumberOut(pub(crate) SequenceNumber);

impl Serialize for SequenceNumberOut {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_decimal())
    }
}

/// The output of actions that answer with no members.
#[derive(Debug, Serialize)]
pub(crate) struct NoOutput {}

/// `HashKeyRange`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HashKeyRangeOut {
    /// The range's first hash key (decimal).
    pub(crate) starting_hash_key: String,
    /// The range's last hash key (decimal).
    pub(crate) ending_hash_key: String,
}

impl HashKeyRangeOut {
    fn of(range: &HashRange) -> Self {
        HashKeyRangeOut {
            starting_hash_key: range.start.to_string(),
            ending_hash_key: range.end.to_string(),
        }
    }
}

/// `SequenceNumberRange`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SequenceNumberRangeOut {
    /// The shard's first sequence number.
    pub(crate) starting_sequence_number: SequenceNumberOut,
    /// A closed shard's last sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ending_sequence_number: Option<SequenceNumberOut>,
}

/// `Shard`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ShardOut {
    /// The shard.
    pub(crate) shard_id: String,
    /// The shard it was split from or merged from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) parent_shard_id: Option<String>,
    /// The other shard it was merged from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) adjacent_parent_shard_id: Option<String>,
    /// Its hash keys.
    pub(crate) hash_key_range: HashKeyRangeOut,
    /// Its sequence numbers.
    pub(crate) sequence_number_range: SequenceNumberRangeOut,
}

impl ShardOut {
    /// A shard as DescribeStream and ListShards show it.
    pub(crate) fn of(shard: &ShardDescription) -> Self {
        ShardOut {
            shard_id: shard.shard_id.to_string(),
            parent_shard_id: shard.parent_shard_id.map(|id| id.to_string()),
            adjacent_parent_shard_id: shard.adjacent_parent_shard_id.map(|id| id.to_string()),
            hash_key_range: HashKeyRangeOut::of(&shard.hash_key_range),
            sequence_number_range: SequenceNumberRangeOut {
                starting_sequence_number: SequenceNumberOut(shard.starting_sequence_number),
                ending_sequence_number: shard.ending_sequence_number.map(SequenceNumberOut),
            },
        }
    }
}

/// `StreamStatus` of every stream: the engine completes each operation before it
/// returns, so none is ever CREATING, DELETING or UPDATING.
pub(crate) const STREAM_STATUS: &str = "ACTIVE";

/// `StreamModeDetails`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamModeOut {
    /// `PROVISIONED` or `ON_DEMAND`.
    #[serde(serialize_with = "stream_mode_name")]
    pub(crate) stream_mode: StreamMode,
}

/// A stream mode as Kinesis names it.
fn stream_mode_name<S: serde::Serializer>(
    mode: &StreamMode,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(match mode {
        StreamMode::Provisioned => "PROVISIONED",
        StreamMode::OnDemand => "ON_DEMAND",
    })
}

/// `EnhancedMetrics`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EnhancedMetricsOut<'a> {
    /// The shard-level metrics enabled.
    pub(crate) shard_level_metrics: &'a [String],
}

/// `StreamDescription`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamDescriptionOut<'a> {
    pub(crate) stream_name: &'a str,
    #[serde(rename = "StreamARN")]
    pub(crate) stream_arn: String,
    pub(crate) stream_status: &'static str,
    pub(crate) stream_mode_details: StreamModeOut,
    pub(crate) shards: Vec<ShardOut>,
    pub(crate) has_more_shards: bool,
    pub(crate) retention_period_hours: u32,
    pub(crate) stream_creation_timestamp: Timestamp,
    pub(crate) enhanced_monitoring: [EnhancedMetricsOut<'a>; 1],
    pub(crate) encryption_type: &'static str,
}

impl<'a> StreamDescriptionOut<'a> {
    /// DescribeStream's description of `d`, its ARN of `account`.
    pub(crate) fn of(d: &'a StreamDescription, account: Account<'_>) -> Self {
        StreamDescriptionOut {
            stream_name: &d.stream_name,
            stream_arn: account.stream_arn(&d.stream_name),
            stream_status: STREAM_STATUS,
            stream_mode_details: StreamModeOut {
                stream_mode: d.stream_mode,
            },
            shards: d.shards.iter().map(ShardOut::of).collect(),
            has_more_shards: d.has_more_shards,
            retention_period_hours: d.retention_hours,
            stream_creation_timestamp: Timestamp(d.created_ms),
            enhanced_monitoring: [EnhancedMetricsOut {
                shard_level_metrics: &d.shard_level_metrics,
            }],
            encryption_type: "NONE",
        }
    }
}

/// `StreamDescriptionSummary`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamSummaryOut<'a> {
    pub(crate) stream_name: &'a str,
    #[serde(rename = "StreamARN")]
    pub(crate) stream_arn: String,
    pub(crate) stream_status: &'static str,
    pub(crate) stream_mode_details: StreamModeOut,
    pub(crate) retention_period_hours: u32,
    pub(crate) stream_creation_timestamp: Timestamp,
    pub(crate) enhanced_monitoring: [EnhancedMetricsOut<'a>; 1],
    pub(crate) encryption_type: &'static str,
    pub(crate) open_shard_count: usize,
    pub(crate) consumer_count: usize,
    #[serde(rename = "MaxRecordSizeInKiB")]
    pub(crate) max_record_size_kib: u32,
}

impl<'a> StreamSummaryOut<'a> {
    /// DescribeStreamSummary's description of `d`, its ARN of `account`.
    pub(crate) fn of(d: &'a StreamDescription, account: Account<'_>) -> Self {
        StreamSummaryOut {
            stream_name: &d.stream_name,
            stream_arn: account.stream_arn(&d.stream_name),
            stream_status: STREAM_STATUS,
            stream_mode_details: StreamModeOut {
                stream_mode: d.stream_mode,
            },
            retention_period_hours: d.retention_hours,
            stream_creation_timestamp: Timestamp(d.created_ms),
            enhanced_monitoring: [EnhancedMetricsOut {
                shard_level_metrics: &d.shard_level_metrics,
            }],
            encryption_type: "NONE",
            open_shard_count: d.open_shard_count,
            consumer_count: d.consumer_count,
            max_record_size_kib: d.record_kib_max,
        }
    }
}

/// `StreamSummary` (ListStreams).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamSummaryListed {
    pub(crate) stream_name: String,
    #[serde(rename = "StreamARN")]
    pub(crate) stream_arn: String,
    pub(crate) stream_status: &'static str,
    pub(crate) stream_mode_details: StreamModeOut,
    pub(crate) stream_creation_timestamp: Timestamp,
}

/// A record as GetRecords and SubscribeToShard events show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RecordOut<'a> {
    pub(crate) sequence_number: String,
    pub(crate) approximate_arrival_timestamp: Timestamp,
    pub(crate) data: Blob<&'a [u8]>,
    pub(crate) partition_key: &'a str,
}

impl<'a> RecordOut<'a> {
    /// The records `records` of one shard, in order, borrowed (their data is not
    /// copied). Their sequence numbers mostly follow one another, so a cursor
    /// formats each from the last rather than converting 188 bits to decimal anew.
    pub(crate) fn all(records: &'a [OutputRecord]) -> Vec<Self> {
        let mut cursor = DecimalCursor::new();
        records
            .iter()
            .map(|record| RecordOut {
                sequence_number: cursor.format(record.sequence_number).to_owned(),
                approximate_arrival_timestamp: Timestamp(record.approximate_arrival_ms),
                data: Blob(&record.data),
                partition_key: &record.partition_key,
            })
            .collect()
    }
}

/// `ChildShard`, as GetRecords and SubscribeToShard events show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ChildShardOut {
    pub(crate) shard_id: String,
    pub(crate) parent_shards: Vec<String>,
    pub(crate) hash_key_range: HashKeyRangeOut,
}

impl ChildShardOut {
    /// The child shard `child`.
    pub(crate) fn of(child: &ChildShard) -> Self {
        ChildShardOut {
            shard_id: child.shard_id.to_string(),
            parent_shards: child
                .parent_shards
                .iter()
                .map(|id| id.to_string())
                .collect(),
            hash_key_range: HashKeyRangeOut::of(&child.hash_key_range),
        }
    }
}

/// `Consumer` and `ConsumerDescription` (the latter with its stream's ARN).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConsumerOut<'a> {
    pub(crate) consumer_name: &'a str,
    #[serde(rename = "ConsumerARN")]
    pub(crate) consumer_arn: String,
    pub(crate) consumer_status: &'static str,
    pub(crate) consumer_creation_timestamp: Timestamp,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub(crate) stream_arn: Option<String>,
}

impl<'a> ConsumerOut<'a> {
    /// `consumer` with its ARN of `account`, and its stream's when `with_stream`.
    pub(crate) fn of(
        consumer: &'a ConsumerDescription,
        account: Account<'_>,
        with_stream: bool,
    ) -> Self {
        ConsumerOut {
            consumer_name: &consumer.consumer_name,
            consumer_arn: account.consumer_arn(&consumer.id()),
            // Registration completes before it returns.
            consumer_status: "ACTIVE",
            consumer_creation_timestamp: Timestamp(consumer.creation_ms),
            stream_arn: with_stream.then(|| account.stream_arn(&consumer.stream_name)),
        }
    }
}

/// A `Tag`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagOut {
    pub(crate) key: String,
    pub(crate) value: String,
}

/// DescribeStream's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeStreamOutput<'a> {
    pub(crate) stream_description: StreamDescriptionOut<'a>,
}

/// DescribeStreamSummary's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeStreamSummaryOutput<'a> {
    pub(crate) stream_description_summary: StreamSummaryOut<'a>,
}

/// ListStreams' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListStreamsOutput {
    pub(crate) stream_names: Vec<String>,
    pub(crate) has_more_streams: bool,
    pub(crate) stream_summaries: Vec<StreamSummaryListed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_token: Option<String>,
}

/// ListShards' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListShardsOutput {
    pub(crate) shards: Vec<ShardOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_token: Option<String>,
}

/// PutRecord's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutRecordOutput {
    pub(crate) shard_id: ShardIdOut,
    pub(crate) sequence_number: SequenceNumberOut,
    pub(crate) encryption_type: &'static str,
}

/// A shard id as Kinesis writes it (`shardId-000000000001`), formatted on the
/// stack as the response is written: no string per record of PutRecords.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShardIdOut(pub(crate) ShardId);

impl Serialize for ShardIdOut {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(ShardIdText::of(self.0).as_str())
    }
}

/// A shard id's text, formatted on the stack.
struct ShardIdText {
    /// "shardId-" and at most ten digits.
    text: [u8; 24],
    len: usize,
}

impl ShardIdText {
    fn of(shard: ShardId) -> Self {
        use std::io::Write as _;
        let mut text = [0u8; 24];
        let mut cursor = std::io::Cursor::new(&mut text[..]);
        write!(cursor, "{shard}").expect("a shard id fits 24 bytes");
        let len = cursor.position() as usize;
        ShardIdText { text, len }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("ASCII")
    }

    fn as_bytes(&self) -> &[u8] {
        &self.text[..self.len]
    }
}

/// One entry of PutRecords' output: where the record went, or why it did not.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum PutRecordsEntryOut<'a> {
    #[serde(rename_all = "PascalCase")]
    Put {
        sequence_number: &'a str,
        shard_id: &'a str,
    },
    #[serde(rename_all = "PascalCase")]
    Failed {
        error_code: &'static str,
        error_message: String,
    },
}

/// PutRecords' entries, written from the engine's results as the response is
/// written (no list of entries built first).
pub(crate) struct PutRecordsEntries<'a> {
    pub(crate) results: &'a [Result<PutResult, RecordFailure>],
    pub(crate) account: Account<'a>,
}

/// What the entries of one shard are written with: its id's text, formatted
/// once per answer (its zero padding went through `fmt` one character at a
/// time, 1.2 % of a server's profile), and a cursor for its sequence numbers,
/// which mostly follow one another within a call.
struct ShardEntries {
    shard: ShardId,
    text: ShardIdText,
    cursor: DecimalCursor,
}

impl Serialize for PutRecordsEntries<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let mut shards: Vec<ShardEntries> = Vec::new();
        let mut seq = serializer.serialize_seq(Some(self.results.len()))?;
        for result in self.results {
            match result {
                Ok(put) => {
                    let entries = ShardEntries::of(&mut shards, put.shard_id);
                    seq.serialize_element(&PutRecordsEntryOut::Put {
                        sequence_number: entries.cursor.format(put.sequence_number),
                        shard_id: entries.text.as_str(),
                    })?;
                }
                Err(failure) => seq.serialize_element(&self.failed(failure))?,
            }
        }
        seq.end()
    }
}

impl PutRecordsEntries<'_> {
    /// The entry of a record that failed.
    fn failed(&self, failure: &RecordFailure) -> PutRecordsEntryOut<'static> {
        let (error_code, error_message) = record_failure(failure, self.account);
        PutRecordsEntryOut::Failed {
            error_code,
            error_message,
        }
    }
}

impl ShardEntries {
    /// The entries of `shard` among `shards`, added if it has none yet.
    fn of(shards: &mut Vec<ShardEntries>, shard: ShardId) -> &mut ShardEntries {
        let at = match shards.iter().position(|entries| entries.shard == shard) {
            Some(at) => at,
            None => {
                shards.push(ShardEntries {
                    shard,
                    text: ShardIdText::of(shard),
                    cursor: DecimalCursor::new(),
                });
                shards.len() - 1
            }
        };
        &mut shards[at]
    }
}

/// PutRecords' output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutRecordsOutput<'a> {
    pub(crate) failed_record_count: usize,
    pub(crate) records: PutRecordsEntries<'a>,
    pub(crate) encryption_type: &'static str,
}

/// Bytes of one recorded entry of PutRecords' JSON answer: 56 digits, a shard
/// id of up to 18 characters and the members' names around them.
const PUT_ENTRY_JSON_BYTES: usize = 110;

impl PutRecordsOutput<'_> {
    /// The answer's body in `format`.
    pub(crate) fn encode(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Json => self.to_json(),
            Format::Cbor => format.serialize(self),
        }
    }

    /// The JSON serde_json writes for this output, byte for byte (a test
    /// compares them), with each recorded entry written directly: its sequence
    /// number's digits and its shard id (`shardId-` and digits) have nothing to
    /// escape, where serde_json scanned each of their bytes for it and went
    /// through its map writer per member (together about 4 % of a server's
    /// profile under HTTP PutRecords). Failed entries, whose messages may need
    /// escaping, still go through serde_json.
    fn to_json(&self) -> Vec<u8> {
        let results = self.records.results;
        let mut out = Vec::with_capacity(128 + results.len() * PUT_ENTRY_JSON_BYTES);
        out.extend_from_slice(b"{\"FailedRecordCount\":");
        out.extend_from_slice(self.failed_record_count.to_string().as_bytes());
        out.extend_from_slice(b",\"Records\":[");
        let mut shards: Vec<ShardEntries> = Vec::new();
        for (index, result) in results.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            match result {
                Ok(put) => {
                    let entries = ShardEntries::of(&mut shards, put.shard_id);
                    out.extend_from_slice(b"{\"SequenceNumber\":\"");
                    out.extend_from_slice(entries.cursor.digits(put.sequence_number));
                    out.extend_from_slice(b"\",\"ShardId\":\"");
                    out.extend_from_slice(entries.text.as_bytes());
                    out.extend_from_slice(b"\"}");
                }
                Err(failure) => {
                    let entry = self.records.failed(failure);
                    serde_json::to_writer(&mut out, &entry).expect("an entry serializes");
                }
            }
        }
        out.extend_from_slice(b"],\"EncryptionType\":");
        serde_json::to_writer(&mut out, self.encryption_type).expect("a string serializes");
        out.push(b'}');
        out
    }
}

/// GetShardIterator's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetShardIteratorOutput {
    pub(crate) shard_iterator: String,
}

/// GetRecords' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetRecordsOutput<'a> {
    pub(crate) records: Vec<RecordOut<'a>>,
    pub(crate) millis_behind_latest: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_shard_iterator: Option<&'a str>,
    /// Only at the end of a closed shard (with no next iterator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) child_shards: Option<Vec<ChildShardOut>>,
}

/// A SubscribeToShardEvent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SubscribeToShardEventOut<'a> {
    pub(crate) records: Vec<RecordOut<'a>>,
    pub(crate) continuation_sequence_number: SequenceNumberOut,
    pub(crate) millis_behind_latest: u64,
    /// Only in the last event of a closed shard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) child_shards: Option<Vec<ChildShardOut>>,
}

impl<'a> SubscribeToShardEventOut<'a> {
    /// The event of `batch`.
    pub(crate) fn of(batch: &'a SubscriptionBatch) -> Self {
        SubscribeToShardEventOut {
            records: RecordOut::all(&batch.records),
            continuation_sequence_number: SequenceNumberOut(batch.continuation_sequence_number),
            millis_behind_latest: batch.millis_behind_latest,
            child_shards: batch
                .child_shards
                .as_ref()
                .map(|children| children.iter().map(ChildShardOut::of).collect()),
        }
    }
}

/// An `exception` message of an event stream.
#[derive(Debug, Serialize)]
pub(crate) struct EventExceptionOut<'a> {
    pub(crate) message: &'a str,
}

/// UpdateShardCount's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateShardCountOutput {
    pub(crate) stream_name: String,
    #[serde(rename = "StreamARN")]
    pub(crate) stream_arn: String,
    pub(crate) current_shard_count: usize,
    pub(crate) target_shard_count: u64,
}

/// ListTagsForStream's and ListTagsForDeliveryStream's output: a page of tags.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagsPageOutput {
    pub(crate) tags: Vec<TagOut>,
    pub(crate) has_more_tags: bool,
}

/// ListTagsForResource's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResourceTagsOutput {
    pub(crate) tags: Vec<TagOut>,
}

/// RegisterStreamConsumer's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RegisterConsumerOutput<'a> {
    pub(crate) consumer: ConsumerOut<'a>,
}

/// DescribeStreamConsumer's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeConsumerOutput<'a> {
    pub(crate) consumer_description: ConsumerOut<'a>,
}

/// ListStreamConsumers' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListConsumersOutput<'a> {
    pub(crate) consumers: Vec<ConsumerOut<'a>>,
}

/// Enable/DisableEnhancedMonitoring's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MonitoringOutput {
    pub(crate) stream_name: String,
    #[serde(rename = "StreamARN")]
    pub(crate) stream_arn: String,
    pub(crate) current_shard_level_metrics: Vec<String>,
    pub(crate) desired_shard_level_metrics: Vec<String>,
}

/// DescribeLimits' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeLimitsOutput {
    pub(crate) shard_limit: u32,
    pub(crate) open_shard_count: u32,
    pub(crate) on_demand_stream_count: u32,
    pub(crate) on_demand_stream_count_limit: u32,
}

/// DescribeAccountSettings' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AccountSettingsOutput {
    pub(crate) minimum_throughput_billing_commitment: CommitmentOut,
}

/// `MinimumThroughputBillingCommitment`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CommitmentOut {
    pub(crate) status: &'static str,
}

#[cfg(test)]
mod tests {
    //! One response type, two codecs: what each writes of the same event.
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use proptest::prelude::*;
    use shardlog_engine::ShardId;

    /// Any sequence number of the layout.
    fn sequence_number() -> impl Strategy<Value = SequenceNumber> {
        use shardlog_engine::seqno::{COUNTER_LIMIT, SECS_LIMIT};
        (
            0..SECS_LIMIT,
            any::<u32>(),
            0..COUNTER_LIMIT - 1_000,
            0..SECS_LIMIT,
        )
            .prop_map(|(shard_created_secs, shard_index, counter, arrival_secs)| {
                SequenceNumber {
                    shard_created_secs,
                    shard_index,
                    counter,
                    arrival_secs,
                }
            })
    }

    fn batch_strategy() -> impl Strategy<Value = SubscriptionBatch> {
        // Counters step by 1 (the cursor's short cut) or by 2 (a full conversion).
        let record = (
            1u64..=2,
            0u64..=4_102_444_800_000,
            proptest::collection::vec(any::<u8>(), 0..300),
            "\\PC{1,20}",
        );
        (
            sequence_number(),
            proptest::collection::vec(record, 0..30),
            sequence_number(),
            any::<u64>(),
            any::<bool>(),
        )
            .prop_map(
                |(first, records, continuation, behind, closed)| SubscriptionBatch {
                    records: records
                        .into_iter()
                        .scan(first, |number, (step, ms, data, key)| {
                            number.counter += step;
                            Some(OutputRecord {
                                sequence_number: *number,
                                approximate_arrival_ms: ms,
                                data: data.into(),
                                partition_key: key.into(),
                            })
                        })
                        .collect(),
                    continuation_sequence_number: continuation,
                    millis_behind_latest: behind >> 12,
                    child_shards: closed.then(|| {
                        vec![ChildShard {
                            shard_id: ShardId(1),
                            parent_shards: vec![ShardId(0)],
                            hash_key_range: HashRange { start: 0, end: 99 },
                        }]
                    }),
                },
            )
    }

    fn member<'a>(map: &'a ciborium::Value, name: &str) -> Option<&'a ciborium::Value> {
        let entries = map.as_map().expect("a CBOR map");
        entries
            .iter()
            .find(|(key, _)| key.as_text() == Some(name))
            .map(|(_, value)| value)
    }

    proptest! {
        /// JSON writes blobs as base64 and timestamps as epoch seconds, CBOR as
        /// bytes and integer ms, in maps of definite length; both carry every
        /// record, its sequence number in decimal, and ChildShards exactly when
        /// the shard is finished.
        #[test]
        fn events_carry_the_same_records_in_both_formats(batch in batch_strategy()) {
            let event = SubscribeToShardEventOut::of(&batch);
            let cbor_bytes = Format::Cbor.serialize(&event);
            prop_assert!((0xa0..=0xbb).contains(&cbor_bytes[0]), "definite-length map");
            let cbor: ciborium::Value = ciborium::from_reader(&cbor_bytes[..]).unwrap();
            let json: serde_json::Value =
                serde_json::from_slice(&Format::Json.serialize(&event)).unwrap();
            let json_records = json["Records"].as_array().unwrap();
            let cbor_records = member(&cbor, "Records").unwrap().as_array().unwrap();
            prop_assert_eq!(json_records.len(), batch.records.len());
            prop_assert_eq!(cbor_records.len(), batch.records.len());
            for ((record, j), c) in batch.records.iter().zip(json_records).zip(cbor_records) {
                let data = STANDARD.decode(j["Data"].as_str().unwrap()).unwrap();
                prop_assert_eq!(&data[..], &record.data[..]);
                let cbor_data = member(c, "Data").unwrap().as_bytes().unwrap();
                prop_assert_eq!(&cbor_data[..], &record.data[..]);
                let seconds = j["ApproximateArrivalTimestamp"].as_f64().unwrap();
                prop_assert_eq!(seconds, record.approximate_arrival_ms as f64 / 1000.0);
                let ms = member(c, "ApproximateArrivalTimestamp").unwrap().as_integer().unwrap();
                prop_assert_eq!(u64::try_from(ms).unwrap(), record.approximate_arrival_ms);
                prop_assert_eq!(j["PartitionKey"].as_str(), Some(&record.partition_key[..]));
                let key = member(c, "PartitionKey").unwrap().as_text();
                prop_assert_eq!(key, Some(&record.partition_key[..]));
                let number = record.sequence_number.to_decimal();
                prop_assert_eq!(j["SequenceNumber"].as_str(), Some(number.as_str()));
                let cbor_number = member(c, "SequenceNumber").unwrap().as_text();
                prop_assert_eq!(cbor_number, Some(number.as_str()));
            }
            let continuation = batch.continuation_sequence_number.to_decimal();
            prop_assert_eq!(json["ContinuationSequenceNumber"].as_str(), Some(continuation.as_str()));
            prop_assert_eq!(json["MillisBehindLatest"].as_u64(), Some(batch.millis_behind_latest));
            let finished = batch.child_shards.is_some();
            prop_assert_eq!(json.get("ChildShards").is_some(), finished);
            prop_assert_eq!(member(&cbor, "ChildShards").is_some(), finished);
        }
    }

    /// PutRecords' answer names each record's shard and decimal sequence number
    /// in call order, with two shards interleaved (each cursor stepping or
    /// converting anew) and a failed record between them, in both codecs.
    #[test]
    fn put_records_entries_follow_the_results_in_order() {
        let number = |shard_index, counter| SequenceNumber {
            shard_created_secs: 1_700_000_000,
            shard_index,
            counter,
            arrival_secs: 1_700_000_100,
        };
        let put = |shard, counter| {
            Ok(PutResult {
                shard_id: ShardId(shard),
                sequence_number: number(shard, counter),
            })
        };
        let results = vec![
            put(0, 7),
            put(3, 9),
            put(0, 8),
            Err(RecordFailure::Throttled {
                stream: "s".into(),
                shard: ShardId(3),
            }),
            put(3, 10),
            put(0, 11),
        ];
        let account = Account {
            id: "123456789012",
            region: "us-east-1",
        };
        let output = PutRecordsOutput {
            failed_record_count: 1,
            records: PutRecordsEntries {
                results: &results,
                account,
            },
            encryption_type: "NONE",
        };
        let json: serde_json::Value =
            serde_json::from_slice(&Format::Json.serialize(&output)).unwrap();
        let cbor: ciborium::Value =
            ciborium::from_reader(&Format::Cbor.serialize(&output)[..]).unwrap();
        let cbor_entries = member(&cbor, "Records").unwrap().as_array().unwrap();
        let entries = json["Records"].as_array().unwrap();
        assert_eq!((entries.len(), cbor_entries.len()), (6, 6));
        for ((entry, cbor_entry), result) in entries.iter().zip(cbor_entries).zip(&results) {
            match result {
                Ok(put) => {
                    let decimal = put.sequence_number.to_decimal();
                    let shard = put.shard_id.to_string();
                    assert_eq!(entry["SequenceNumber"].as_str(), Some(decimal.as_str()));
                    assert_eq!(entry["ShardId"].as_str(), Some(shard.as_str()));
                    let cbor_number = member(cbor_entry, "SequenceNumber").unwrap().as_text();
                    assert_eq!(cbor_number, Some(decimal.as_str()));
                    let cbor_shard = member(cbor_entry, "ShardId").unwrap().as_text();
                    assert_eq!(cbor_shard, Some(shard.as_str()));
                }
                Err(_) => {
                    assert_eq!(
                        entry["ErrorCode"].as_str(),
                        Some("ProvisionedThroughputExceededException")
                    );
                    assert!(entry.get("SequenceNumber").is_none());
                }
            }
        }
    }

    proptest! {
        /// PutRecords' JSON answer written directly is serde_json's, byte for
        /// byte: records of many shards (more than a cursor keeps), runs and
        /// jumps of counters, throttled and failed records whose messages need
        /// escaping.
        #[test]
        fn put_records_json_is_serde_jsons(
            entries in proptest::collection::vec((0u32..20, 0u64..3, 0u8..8, ".{0,12}"), 1..120),
        ) {
            let mut counters = [1_000u64; 20];
            let results: Vec<Result<PutResult, RecordFailure>> = entries
                .into_iter()
                .map(|(shard, jump, kind, cause)| {
                    counters[shard as usize] += 1 + jump;
                    match kind {
                        0 => Err(RecordFailure::Throttled {
                            stream: format!("s\"{cause}"),
                            shard: ShardId(shard),
                        }),
                        1 => Err(RecordFailure::WriteFailed {
                            shard: ShardId(shard),
                            cause: format!("{cause}\n\\"),
                        }),
                        _ => Ok(PutResult {
                            shard_id: ShardId(shard),
                            sequence_number: SequenceNumber {
                                shard_created_secs: 1_700_000_000,
                                shard_index: shard,
                                counter: counters[shard as usize],
                                arrival_secs: 1_700_000_100,
                            },
                        }),
                    }
                })
                .collect();
            let output = PutRecordsOutput {
                failed_record_count: results.iter().filter(|r| r.is_err()).count(),
                records: PutRecordsEntries {
                    results: &results,
                    account: Account {
                        id: "123456789012",
                        region: "us-east-1",
                    },
                },
                encryption_type: "NONE",
            };
            let direct = output.encode(Format::Json);
            prop_assert_eq!(
                String::from_utf8(direct).unwrap(),
                String::from_utf8(serde_json::to_vec(&output).unwrap()).unwrap()
            );
        }
    }
}
