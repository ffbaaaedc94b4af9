//! Kinesis actions: typed request in, engine call, response fields out.

use super::errors::{starting_sequence_number_invalid, Account, Failure};
use super::put_body::PutRecordsBody;
use super::requests::{
    AddTagsInput, ConsumerInput, CreateStreamInput, DeleteStreamInput, DescribeStreamInput,
    DescribeStreamSummaryInput, GetRecordsInput, GetShardIteratorInput, ListShardsInput,
    ListStreamsInput, ListTagsInput, MergeShardsInput, MonitoringInput, PositionType,
    PutRecordInput, PutRecordsInput, RecordInput, RemoveTagsInput, ResourceTagsInput,
    RetentionInput, SequenceNumberInput, ShardFilterInput, ShardFilterType, SplitShardInput,
    StreamMode, StreamRef, UpdateMaxRecordSizeInput, UpdateShardCountInput, UpdateStreamModeInput,
};
use super::responses::{
    AccountSettingsOutput, ChildShardOut, CommitmentOut, ConsumerOut, DescribeConsumerOutput,
    DescribeLimitsOutput, DescribeStreamOutput, DescribeStreamSummaryOutput, GetRecordsOutput,
    GetShardIteratorOutput, ListConsumersOutput, ListShardsOutput, ListStreamsOutput,
    MonitoringOutput, NoOutput, PutRecordOutput, PutRecordsEntries, PutRecordsOutput, RecordOut,
    RegisterConsumerOutput, ResourceTagsOutput, SequenceNumberOut, ShardIdOut, ShardOut,
    StreamDescriptionOut, StreamModeOut, StreamSummaryListed, StreamSummaryOut, TagOut,
    TagsPageOutput, UpdateShardCountOutput,
};
use crate::error::{lower_first, ApiError};
use crate::metrics::Metrics;
use crate::protocol::typed::read;
use crate::protocol::value::{Format, Value};
use crate::protocol::wire::Timestamp;
use serde::Serialize;
use shardlog_engine::{
    Engine, HashKey, IteratorStart, PutRecord, PutResult, RecordFailure, ShardFilter, ShardId,
    SubmittedPut,
};
use std::collections::BTreeMap;

type Response = Result<Vec<u8>, Failure>;

/// What an action runs against: the engine, and the account and region its ARNs
/// and messages name.
#[derive(Debug, Clone, Copy)]
pub struct Kinesis<'a> {
    /// The engine holding the streams.
    pub engine: &'a Engine,
    /// Who the server answers as.
    pub account: Account<'a>,
}

/// `output` in the request's format.
fn reply<T: Serialize>(format: Format, output: &T) -> Response {
    Ok(format.serialize(output))
}

/// The answer of an action with no output members.
fn done(format: Format) -> Response {
    reply(format, &NoOutput {})
}

/// Runs `action` (the part after `Kinesis_20131202.`) on its validated request,
/// read into the action's typed input.
pub fn dispatch(
    kinesis: Kinesis<'_>,
    metrics: &Metrics,
    action: &str,
    format: Format,
    request: &Value,
) -> Result<Vec<u8>, Failure> {
    match action {
        "CreateStream" => create_stream(kinesis, read(request)?, format),
        "DeleteStream" => delete_stream(kinesis, read(request)?, format),
        "DescribeStream" => describe_stream(kinesis, read(request)?, format),
        "DescribeStreamSummary" => describe_stream_summary(kinesis, read(request)?, format),
        "ListStreams" => list_streams(kinesis, read(request)?, format),
        "ListShards" => list_shards(kinesis, read(request)?, format),
        "PutRecord" => put_record(kinesis, metrics, read(request)?, format),
        "PutRecords" => put_records(kinesis, metrics, read(request)?, format),
        "GetShardIterator" => get_shard_iterator(kinesis, read(request)?, format),
        "GetRecords" => get_records(kinesis, metrics, read(request)?, format),
        "SplitShard" => split_shard(kinesis, read(request)?, format),
        "MergeShards" => merge_shards(kinesis, read(request)?, format),
        "UpdateShardCount" => update_shard_count(kinesis, read(request)?, format),
        "IncreaseStreamRetentionPeriod" => retention(kinesis, read(request)?, true, format),
        "DecreaseStreamRetentionPeriod" => retention(kinesis, read(request)?, false, format),
        "AddTagsToStream" => add_tags(kinesis, read(request)?, format),
        "RemoveTagsFromStream" => remove_tags(kinesis, read(request)?, format),
        "ListTagsForStream" => list_tags(kinesis, read(request)?, format),
        "RegisterStreamConsumer" => register_consumer(kinesis, read(request)?, format),
        "DescribeStreamConsumer" => describe_consumer(kinesis, read(request)?, format),
        "ListStreamConsumers" => list_consumers(kinesis, read(request)?, format),
        "DeregisterStreamConsumer" => deregister_consumer(kinesis, read(request)?, format),
        "DescribeLimits" => describe_limits(kinesis, format),
        "DescribeAccountSettings" => reply(
            format,
            &AccountSettingsOutput {
                minimum_throughput_billing_commitment: CommitmentOut { status: "DISABLED" },
            },
        ),
        "TagResource" => tag_resource(kinesis, read(request)?, format),
        "UntagResource" => untag_resource(kinesis, read(request)?, format),
        "ListTagsForResource" => list_tags_for_resource(kinesis, read(request)?, format),
        "UpdateStreamMode" => update_stream_mode(kinesis, read(request)?, format),
        "EnableEnhancedMonitoring" => enhanced_monitoring(kinesis, read(request)?, true, format),
        "DisableEnhancedMonitoring" => enhanced_monitoring(kinesis, read(request)?, false, format),
        "UpdateMaxRecordSize" => update_max_record_size(kinesis, read(request)?, format),
        _ => Err(ApiError::client(
            "UnknownOperationException",
            format!("Operation {action} is not supported by this server."),
        )
        .into()),
    }
}

/// The stream a typed request names.
fn stream_of(kinesis: Kinesis<'_>, stream: &StreamRef) -> Result<String, ApiError> {
    let (name, arn) = (&stream.stream_name, &stream.stream_arn);
    stream_named(kinesis, name.as_deref(), arn.as_deref())
}

/// The stream named by `name` or `arn`, which must agree when both are given.
fn stream_named(
    kinesis: Kinesis<'_>,
    name: Option<&str>,
    arn: Option<&str>,
) -> Result<String, ApiError> {
    let from_arn = match arn {
        None => None,
        Some(arn) => Some(kinesis.account.stream_of_arn(arn).ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "StreamARN {arn} is not a stream of this account and region."
            ))
        })?),
    };
    match (name, from_arn) {
        (Some(name), Some(other)) if name != other => Err(ApiError::invalid_argument(format!(
            "StreamARN {} does not name stream {name}.",
            arn.unwrap_or_default()
        ))),
        (Some(name), _) | (None, Some(name)) => Ok(name.to_string()),
        (None, None) => Err(ApiError::invalid_argument(
            "Either StreamName or StreamARN should be provided.".into(),
        )),
    }
}

/// `value` of the member `name`, refused outside `low..=high` in AWS's words.
fn within(
    name: &str,
    value: Option<i128>,
    low: i128,
    high: i128,
) -> Result<Option<i128>, ApiError> {
    match value {
        Some(value) if !(low..=high).contains(&value) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must have value between {low} and {high}",
            lower_first(name)
        ))),
        other => Ok(other),
    }
}

fn create_stream(kinesis: Kinesis<'_>, input: CreateStreamInput, format: Format) -> Response {
    let name = input.stream_name.as_str();
    let on_demand = input
        .stream_mode_details
        .is_some_and(|details| details.stream_mode == StreamMode::OnDemand);
    // The model bounds ShardCount below only; above, the account's limit applies.
    let count = within("ShardCount", input.shard_count, 1, i128::from(i32::MAX))?;
    let shard_count = match (on_demand, count) {
        (true, _) => None,
        (false, Some(count)) => Some(count as u32),
        (false, None) => Some(1),
    };
    if let Some(count) = shard_count {
        crate::kinesis::rules::within_shard_limit(kinesis.engine, kinesis.account, name, count)?;
    }
    crate::kinesis::rules::tag_characters(tag_texts(&input.tags))?;
    kinesis
        .engine
        .create_stream(name, shard_count, input.tags)?;
    done(format)
}

/// The character rule for tags of the existing stream `name`: a stream that does
/// not exist is reported first, as Kinesis does.
fn tags_allowed<'a>(
    kinesis: Kinesis<'_>,
    name: &str,
    texts: impl IntoIterator<Item = &'a str>,
) -> Result<(), Failure> {
    crate::kinesis::rules::tag_characters(texts).map_err(|refused| {
        match kinesis.engine.tags(name) {
            Ok(_) => refused.into(),
            Err(lookup) => lookup.into(),
        }
    })
}

/// Every key and value of `tags`, for the character rule.
fn tag_texts(tags: &BTreeMap<String, String>) -> impl Iterator<Item = &str> {
    tags.iter()
        .flat_map(|(key, value)| [key.as_str(), value.as_str()])
}

fn delete_stream(kinesis: Kinesis<'_>, input: DeleteStreamInput, format: Format) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let enforce = input.enforce_consumer_deletion.unwrap_or(false);
    kinesis.engine.delete_stream_with(&name, enforce)?;
    done(format)
}

fn describe_stream(kinesis: Kinesis<'_>, input: DescribeStreamInput, format: Format) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let limit = within("Limit", input.limit, 1, 10_000)?.unwrap_or(100) as usize;
    let d = kinesis
        .engine
        .describe_stream(&name, limit, input.exclusive_start_shard_id)?;
    let stream_description = StreamDescriptionOut::of(&d, kinesis.account);
    reply(format, &DescribeStreamOutput { stream_description })
}

fn describe_stream_summary(
    kinesis: Kinesis<'_>,
    input: DescribeStreamSummaryInput,
    format: Format,
) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let d = kinesis.engine.describe_stream(&name, 0, None)?;
    let stream_description_summary = StreamSummaryOut::of(&d, kinesis.account);
    reply(
        format,
        &DescribeStreamSummaryOutput {
            stream_description_summary,
        },
    )
}

fn list_streams(kinesis: Kinesis<'_>, input: ListStreamsInput, format: Format) -> Response {
    let limit = within("Limit", input.limit, 1, 10_000)?.unwrap_or(100) as usize;
    let start = input
        .exclusive_start_stream_name
        .as_deref()
        .or(input.next_token.as_deref());
    let (names, more) = kinesis.engine.list_streams(limit, start);
    let mut summaries = Vec::new();
    for name in &names {
        let d = kinesis.engine.describe_stream(name, 0, None)?;
        summaries.push(StreamSummaryListed {
            stream_arn: kinesis.account.stream_arn(name),
            stream_name: name.clone(),
            stream_status: super::responses::STREAM_STATUS,
            stream_mode_details: StreamModeOut {
                stream_mode: d.stream_mode,
            },
            stream_creation_timestamp: Timestamp(d.created_ms),
        });
    }
    let next_token = more.then(|| names.last().cloned()).flatten();
    reply(
        format,
        &ListStreamsOutput {
            stream_names: names,
            has_more_streams: more,
            stream_summaries: summaries,
            next_token,
        },
    )
}

fn shard_filter(filter: Option<ShardFilterInput>) -> Result<Option<ShardFilter>, ApiError> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let timestamp = || {
        filter.timestamp.map(|Timestamp(ms)| ms).ok_or_else(|| {
            ApiError::invalid_argument("ShardFilter of this type needs a Timestamp.".into())
        })
    };
    Ok(Some(match filter.kind {
        ShardFilterType::AfterShardId => {
            let after = filter.shard_id.as_deref().ok_or_else(|| {
                ApiError::invalid_argument("ShardFilter AFTER_SHARD_ID needs a ShardId.".into())
            })?;
            // An id that names no shard filters nothing out.
            match ShardId::parse(after) {
                Some(after) => ShardFilter::AfterShardId(after),
                None => return Ok(None),
            }
        }
        ShardFilterType::AtTrimHorizon => ShardFilter::AtTrimHorizon,
        ShardFilterType::FromTrimHorizon => ShardFilter::FromTrimHorizon,
        ShardFilterType::AtLatest => ShardFilter::AtLatest,
        ShardFilterType::AtTimestamp => ShardFilter::AtTimestamp(timestamp()?),
        ShardFilterType::FromTimestamp => ShardFilter::FromTimestamp(timestamp()?),
    }))
}

fn list_shards(kinesis: Kinesis<'_>, input: ListShardsInput, format: Format) -> Response {
    let limit = within("MaxResults", input.max_results, 1, 10_000)?.unwrap_or(1000) as usize;
    let (name, start) = match &input.next_token {
        Some(token) => {
            if input.stream.stream_name.is_some() {
                return Err(ApiError::invalid_argument(
                    "NextToken and StreamName cannot be provided together.".into(),
                )
                .into());
            }
            let (name, after) = token
                .split_once('|')
                .ok_or_else(|| ApiError::invalid_argument("Invalid NextToken.".into()))?;
            (name.to_string(), ShardId::parse(after))
        }
        None => (
            stream_of(kinesis, &input.stream)?,
            input.exclusive_start_shard_id,
        ),
    };
    let filter = shard_filter(input.shard_filter)?;
    let (shards, more) = kinesis
        .engine
        .list_shards(&name, filter.as_ref(), start, limit)?;
    let next_token = more
        .then(|| shards.last().map(|s| format!("{name}|{}", s.shard_id)))
        .flatten();
    let shards = shards.iter().map(ShardOut::of).collect();
    reply(format, &ListShardsOutput { shards, next_token })
}

fn put_record(
    kinesis: Kinesis<'_>,
    metrics: &Metrics,
    input: PutRecordInput<'_>,
    format: Format,
) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let data = &input.record.data.0;
    let record = PutRecord {
        partition_key: &input.record.partition_key,
        data,
        explicit_hash_key: explicit_hash_key(&input.record)?,
    };
    if let Some(ordering) = &input.sequence_number_for_ordering {
        crate::kinesis::rules::sequence_number_for_ordering(kinesis.account, &name, ordering)?;
    }
    let result = kinesis.engine.put_record(&name, record)?;
    metrics.incoming(&name, result.shard_id, 1, data.len() as u64);
    let output = PutRecordOutput {
        shard_id: ShardIdOut(result.shard_id),
        sequence_number: SequenceNumberOut(result.sequence_number),
        encryption_type: "NONE",
    };
    reply(format, &output)
}

/// A record's ExplicitHashKey, read once.
fn explicit_hash_key(record: &RecordInput<'_>) -> Result<Option<HashKey>, ApiError> {
    let text = record.explicit_hash_key.as_deref();
    text.map(crate::kinesis::rules::explicit_hash_key)
        .transpose()
}

fn put_records(
    kinesis: Kinesis<'_>,
    metrics: &Metrics,
    input: PutRecordsInput<'_>,
    format: Format,
) -> Response {
    let records = input.records.iter().map(|record| {
        Ok(PutRecord {
            partition_key: &record.partition_key,
            data: &record.data.0,
            explicit_hash_key: explicit_hash_key(record)?,
        })
    });
    let (name, records, submitted) = submit_records(kinesis, &input.stream, records)?;
    let results = submitted.wait();
    answer_put_records(kinesis, metrics, &name, &records, &results, format)
}

/// PutRecords as read in one pass from its body, run on the request's task:
/// staged at once, then the group commit awaited (no thread parks for it).
pub(crate) async fn put_records_body(
    kinesis: Kinesis<'_>,
    metrics: &Metrics,
    input: &PutRecordsBody<'_>,
    format: Format,
) -> Response {
    let records = input.records().map(|record| {
        Ok(PutRecord {
            partition_key: record.partition_key,
            data: record.data,
            explicit_hash_key: record
                .explicit_hash_key
                .map(crate::kinesis::rules::explicit_hash_key)
                .transpose()?,
        })
    });
    let (name, records, submitted) = submit_records(kinesis, &input.stream, records)?;
    let results = submitted.acknowledged().await;
    answer_put_records(kinesis, metrics, &name, &records, &results, format)
}

/// Stages `records` (each read once the stream is known, so that a request naming
/// no stream is refused for that first, as Kinesis does): the stream's name,
/// the records and their staged batches.
fn submit_records<'r>(
    kinesis: Kinesis<'_>,
    stream: &StreamRef,
    records: impl Iterator<Item = Result<PutRecord<'r>, ApiError>>,
) -> Result<(String, Vec<PutRecord<'r>>, SubmittedPut), Failure> {
    let name = stream_of(kinesis, stream)?;
    let records: Vec<PutRecord<'_>> = records.collect::<Result<_, ApiError>>()?;
    let submitted = kinesis.engine.submit_records(&name, &records)?;
    Ok((name, records, submitted))
}

/// PutRecords' answer to `records` of stream `name`, once their `results` are known.
fn answer_put_records(
    kinesis: Kinesis<'_>,
    metrics: &Metrics,
    name: &str,
    records: &[PutRecord<'_>],
    results: &[Result<PutResult, RecordFailure>],
    format: Format,
) -> Response {
    let failed = results.iter().filter(|r| r.is_err()).count();
    let mut throttled = 0;
    // Counted per shard, then recorded once per shard: a metric's label lookup
    // is a hash of the stream and shard, too costly for each of 500 records.
    let mut incoming: Vec<(ShardId, u64, u64)> = Vec::new();
    for (result, record) in results.iter().zip(records) {
        match result {
            Ok(ok) => {
                let bytes = record.data.len() as u64;
                match incoming
                    .iter_mut()
                    .find(|(shard, ..)| *shard == ok.shard_id)
                {
                    Some((_, count, total)) => (*count, *total) = (*count + 1, *total + bytes),
                    None => incoming.push((ok.shard_id, 1, bytes)),
                }
            }
            Err(RecordFailure::Throttled { .. }) => throttled += 1,
            Err(_) => {}
        }
    }
    for (shard, count, bytes) in incoming {
        metrics.incoming(name, shard, count, bytes);
    }
    if throttled > 0 {
        metrics.throttled(name, throttled);
    }
    let output = PutRecordsOutput {
        failed_record_count: failed,
        records: PutRecordsEntries {
            results,
            account: kinesis.account,
        },
        encryption_type: "NONE",
    };
    Ok(output.encode(format))
}

/// The request's names of a starting position's members, for its messages.
pub(crate) struct StartNames {
    pub kind: &'static str,
    pub sequence: &'static str,
    pub timestamp: &'static str,
}

/// Where an iterator or a subscription starts: `kind` with its sequence number
/// or timestamp. A sequence number that is none of the layout is refused by
/// `malformed`, which makes the lookups Kinesis reports first.
pub(crate) fn iterator_start(
    kind: PositionType,
    sequence: Option<SequenceNumberInput>,
    timestamp: Option<Timestamp>,
    names: &StartNames,
    malformed: impl FnOnce(&str) -> Failure,
) -> Result<IteratorStart, Failure> {
    let sequence = || match sequence {
        Some(SequenceNumberInput::Parsed(number)) => Ok(number),
        Some(SequenceNumberInput::Malformed(text)) => Err(malformed(&text)),
        None => Err(ApiError::invalid_argument(format!(
            "{} must be provided for this {}.",
            names.sequence, names.kind
        ))
        .into()),
    };
    Ok(match kind {
        PositionType::TrimHorizon => IteratorStart::TrimHorizon,
        PositionType::Latest => IteratorStart::Latest,
        PositionType::AtSequenceNumber => IteratorStart::AtSequenceNumber(sequence()?),
        PositionType::AfterSequenceNumber => IteratorStart::AfterSequenceNumber(sequence()?),
        PositionType::AtTimestamp => {
            let Timestamp(ms) = timestamp.ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "{} must be provided for AT_TIMESTAMP.",
                    names.timestamp
                ))
            })?;
            IteratorStart::AtTimestamp(crate::kinesis::rules::timestamp_not_in_future(ms)?)
        }
    })
}

fn get_shard_iterator(
    kinesis: Kinesis<'_>,
    input: GetShardIteratorInput,
    format: Format,
) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let shard = crate::kinesis::rules::shard_id(kinesis.account, &name, &input.shard_id)?;
    let kind = input.shard_iterator_type;
    if matches!(kind, PositionType::TrimHorizon | PositionType::Latest)
        && input.starting_sequence_number.is_some()
    {
        return Err(ApiError::invalid_argument(
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified ShardIteratorType and StartingSequenceNumber.".into(),
        ).into());
    }
    let names = StartNames {
        kind: "ShardIteratorType",
        sequence: "StartingSequenceNumber",
        timestamp: "Timestamp",
    };
    // A malformed number is reported after the stream and shard lookups, as the
    // engine reports one past the shard's end.
    let malformed = |text: &str| -> Failure {
        match kinesis.engine.check_shard(&name, shard) {
            Err(error) => error.into(),
            Ok(()) => starting_sequence_number_invalid(text, &name, shard, kinesis.account).into(),
        }
    };
    let start = iterator_start(
        kind,
        input.starting_sequence_number,
        input.timestamp,
        &names,
        malformed,
    )?;
    let iterator = kinesis.engine.get_shard_iterator(&name, shard, start)?;
    reply(
        format,
        &GetShardIteratorOutput {
            shard_iterator: iterator,
        },
    )
}

fn get_records(
    kinesis: Kinesis<'_>,
    metrics: &Metrics,
    input: GetRecordsInput,
    format: Format,
) -> Response {
    let iterator = input.shard_iterator.as_str();
    if iterator.is_empty() || iterator.len() > 512 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'shardIterator' failed to satisfy constraint: Member must have length between 1 and 512".into(),
        ).into());
    }
    let limit = within("Limit", input.limit, 1, 10_000)?.unwrap_or(10_000) as usize;
    let output = kinesis.engine.get_records(iterator, limit)?;
    let bytes: usize = output.records.iter().map(|r| r.data.len()).sum();
    metrics.outgoing(
        &output.stream_name,
        output.shard_id,
        output.records.len() as u64,
        bytes as u64,
        output.millis_behind_latest,
    );
    // At the end of a closed shard (no next iterator) the children are listed,
    // even when there are none.
    let finished = output.next_shard_iterator.is_none();
    let child_shards =
        finished.then(|| output.child_shards.iter().map(ChildShardOut::of).collect());
    let body = GetRecordsOutput {
        records: RecordOut::all(&output.records),
        millis_behind_latest: output.millis_behind_latest,
        next_shard_iterator: output.next_shard_iterator.as_deref(),
        child_shards,
    };
    reply(format, &body)
}

fn split_shard(kinesis: Kinesis<'_>, input: SplitShardInput, format: Format) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let shard = crate::kinesis::rules::shard_id(kinesis.account, &name, &input.shard_to_split)?;
    let key = crate::kinesis::rules::split_key(&input.new_starting_hash_key)?;
    kinesis.engine.split_shard(&name, shard, key)?;
    done(format)
}

fn merge_shards(kinesis: Kinesis<'_>, input: MergeShardsInput, format: Format) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let shard = |text: &str| crate::kinesis::rules::shard_id(kinesis.account, &name, text);
    let shard_and_adjacent = (
        shard(&input.shard_to_merge)?,
        shard(&input.adjacent_shard_to_merge)?,
    );
    kinesis
        .engine
        .merge_shards(&name, shard_and_adjacent.0, shard_and_adjacent.1)?;
    done(format)
}

fn update_shard_count(
    kinesis: Kinesis<'_>,
    input: UpdateShardCountInput,
    format: Format,
) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let target = input.target_shard_count;
    within("TargetShardCount", Some(target), 1, 100_000)?;
    let before = kinesis
        .engine
        .describe_stream(&name, 0, None)?
        .open_shard_count;
    kinesis.engine.update_shard_count(&name, target as u32)?;
    let output = UpdateShardCountOutput {
        stream_arn: kinesis.account.stream_arn(&name),
        stream_name: name,
        current_shard_count: before,
        target_shard_count: target as u64,
    };
    reply(format, &output)
}

fn retention(
    kinesis: Kinesis<'_>,
    input: RetentionInput,
    increase: bool,
    format: Format,
) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let hours = input.retention_period_hours;
    within("RetentionPeriodHours", Some(hours), 1, 8760 * 10)?;
    kinesis
        .engine
        .set_retention(&name, hours as u32, increase)?;
    done(format)
}

fn add_tags(kinesis: Kinesis<'_>, input: AddTagsInput, format: Format) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    if input.tags.is_empty() {
        return Err(ApiError::missing("Tags").into());
    }
    tags_allowed(kinesis, &name, tag_texts(&input.tags))?;
    kinesis.engine.add_tags(&name, input.tags)?;
    done(format)
}

fn remove_tags(kinesis: Kinesis<'_>, input: RemoveTagsInput, format: Format) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    tags_allowed(kinesis, &name, input.tag_keys.iter().map(String::as_str))?;
    kinesis.engine.remove_tags(&name, &input.tag_keys)?;
    done(format)
}

fn list_tags(kinesis: Kinesis<'_>, input: ListTagsInput, format: Format) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let limit = within("Limit", input.limit, 1, 50)?.unwrap_or(50) as usize;
    let tags: BTreeMap<String, String> = kinesis.engine.tags(&name)?;
    let page = tags_page(tags, input.exclusive_start_tag_key.as_deref(), limit);
    reply(format, &page)
}

/// One page of a ListTags answer (Kinesis and Firehose share the shape): the tags
/// after `start` in key order, at most `limit` of them, and whether more follow.
pub(crate) fn tags_page(
    tags: impl IntoIterator<Item = (String, String)>,
    start: Option<&str>,
    limit: usize,
) -> TagsPageOutput {
    let mut after = tags
        .into_iter()
        .filter(|(key, _)| start.is_none_or(|start| key.as_str() > start));
    let tags = after
        .by_ref()
        .take(limit)
        .map(|(key, value)| TagOut { key, value })
        .collect();
    let has_more_tags = after.next().is_some();
    TagsPageOutput {
        tags,
        has_more_tags,
    }
}

/// The consumer a request names: by ConsumerARN, or by its stream and ConsumerName.
fn consumer_target(
    kinesis: Kinesis<'_>,
    input: &ConsumerInput,
) -> Result<(String, String), ApiError> {
    if let Some(arn) = &input.consumer_arn {
        let parsed = kinesis.account.parse_consumer_arn(arn)?;
        return Ok((parsed.stream.to_string(), parsed.consumer.to_string()));
    }
    let name = consumer_name(input)?;
    Ok((stream_of(kinesis, &input.stream)?, name.to_string()))
}

fn consumer_name(input: &ConsumerInput) -> Result<&str, ApiError> {
    input
        .consumer_name
        .as_deref()
        .ok_or_else(|| ApiError::missing("ConsumerName"))
}

fn register_consumer(kinesis: Kinesis<'_>, input: ConsumerInput, format: Format) -> Response {
    let stream = stream_of(kinesis, &input.stream)?;
    let consumer = kinesis
        .engine
        .register_consumer(&stream, consumer_name(&input)?)?;
    let consumer = ConsumerOut::of(&consumer, kinesis.account, false);
    reply(format, &RegisterConsumerOutput { consumer })
}

fn describe_consumer(kinesis: Kinesis<'_>, input: ConsumerInput, format: Format) -> Response {
    let (stream, name) = consumer_target(kinesis, &input)?;
    let consumer = kinesis.engine.describe_consumer(&stream, &name)?;
    let consumer_description = ConsumerOut::of(&consumer, kinesis.account, true);
    reply(
        format,
        &DescribeConsumerOutput {
            consumer_description,
        },
    )
}

fn list_consumers(kinesis: Kinesis<'_>, input: ConsumerInput, format: Format) -> Response {
    let stream = stream_of(kinesis, &input.stream)?;
    let listed = kinesis.engine.list_consumers(&stream)?;
    let consumers = listed
        .iter()
        .map(|consumer| ConsumerOut::of(consumer, kinesis.account, false))
        .collect();
    reply(format, &ListConsumersOutput { consumers })
}

fn deregister_consumer(kinesis: Kinesis<'_>, input: ConsumerInput, format: Format) -> Response {
    let (stream, name) = consumer_target(kinesis, &input)?;
    kinesis.engine.deregister_consumer(&stream, &name)?;
    done(format)
}

/// The stream a `ResourceARN` names (tags on consumers are not kept).
fn resource_stream(kinesis: Kinesis<'_>, arn: &str) -> Result<String, ApiError> {
    kinesis
        .account
        .stream_of_arn(arn)
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "ResourceARN {arn} is not a stream of this account and region."
            ))
        })
}

fn tag_resource(kinesis: Kinesis<'_>, input: ResourceTagsInput, format: Format) -> Response {
    let name = resource_stream(kinesis, &input.resource_arn)?;
    tags_allowed(kinesis, &name, tag_texts(&input.tags))?;
    kinesis.engine.add_tags(&name, input.tags)?;
    done(format)
}

fn untag_resource(kinesis: Kinesis<'_>, input: ResourceTagsInput, format: Format) -> Response {
    let name = resource_stream(kinesis, &input.resource_arn)?;
    tags_allowed(kinesis, &name, input.tag_keys.iter().map(String::as_str))?;
    kinesis.engine.remove_tags(&name, &input.tag_keys)?;
    done(format)
}

fn list_tags_for_resource(
    kinesis: Kinesis<'_>,
    input: ResourceTagsInput,
    format: Format,
) -> Response {
    let name = resource_stream(kinesis, &input.resource_arn)?;
    let tags = kinesis
        .engine
        .tags(&name)?
        .into_iter()
        .map(|(key, value)| TagOut { key, value })
        .collect();
    reply(format, &ResourceTagsOutput { tags })
}

fn update_stream_mode(
    kinesis: Kinesis<'_>,
    input: UpdateStreamModeInput,
    format: Format,
) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let on_demand = input.stream_mode_details.stream_mode == StreamMode::OnDemand;
    kinesis.engine.set_stream_mode(&name, on_demand)?;
    done(format)
}

fn enhanced_monitoring(
    kinesis: Kinesis<'_>,
    input: MonitoringInput,
    enable: bool,
    format: Format,
) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let (before, after) =
        kinesis
            .engine
            .set_shard_level_metrics(&name, &input.shard_level_metrics, enable)?;
    let output = MonitoringOutput {
        stream_arn: kinesis.account.stream_arn(&name),
        stream_name: name,
        current_shard_level_metrics: before,
        desired_shard_level_metrics: after,
    };
    reply(format, &output)
}

fn describe_limits(kinesis: Kinesis<'_>, format: Format) -> Response {
    let (open, limit, on_demand) = kinesis.engine.account_usage();
    let output = DescribeLimitsOutput {
        shard_limit: limit,
        open_shard_count: open,
        on_demand_stream_count: on_demand,
        on_demand_stream_count_limit: 50,
    };
    reply(format, &output)
}

fn update_max_record_size(
    kinesis: Kinesis<'_>,
    input: UpdateMaxRecordSizeInput,
    format: Format,
) -> Response {
    let name = stream_of(kinesis, &input.stream)?;
    let kib = input.max_record_size_kib;
    let kib = u32::try_from(kib)
        .map_err(|_| ApiError::validation(format!("MaxRecordSizeInKiB {kib} is out of range")))?;
    kinesis.engine.set_max_record_kib(&name, kib)?;
    done(format)
}
