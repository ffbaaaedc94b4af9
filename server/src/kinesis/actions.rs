//! Kinesis actions: typed request in, engine call, response fields out.

use super::errors::{record_failure, Account, Failure};
use super::requests::{
    AddTagsInput, ConsumerInput, CreateStreamInput, DeleteStreamInput, DescribeStreamInput,
    DescribeStreamSummaryInput, GetRecordsInput, GetShardIteratorInput, ListShardsInput,
    ListStreamsInput, ListTagsInput, MergeShardsInput, MonitoringInput, PositionType,
    PutRecordInput, PutRecordsInput, RemoveTagsInput, ResourceTagsInput, RetentionInput,
    ShardFilterInput, ShardFilterType, SplitShardInput, StreamMode, StreamRef,
    UpdateMaxRecordSizeInput, UpdateShardCountInput, UpdateStreamModeInput,
};
use crate::error::{lower_first, ApiError};
use crate::metrics::Metrics;
use crate::protocol::value::{Fields, Out, Value};
use crate::protocol::wire::Timestamp;
use shardlog_engine::{
    Engine, IteratorStart, PutRecord, RecordFailure, ShardDescription, ShardFilter, ShardId,
    StreamDescription,
};
use std::collections::BTreeMap;

type Response = Result<Value, Failure>;

/// Runs `action` (the part after `Kinesis_20131202.`) on its validated request,
/// read into the action's typed input.
pub fn dispatch(engine: &Engine, metrics: &Metrics, action: &str, fields: Fields<'_>) -> Response {
    match action {
        "CreateStream" => create_stream(engine, fields.typed()?),
        "DeleteStream" => delete_stream(engine, fields.typed()?),
        "DescribeStream" => describe_stream(engine, fields.typed()?),
        "DescribeStreamSummary" => describe_stream_summary(engine, fields.typed()?),
        "ListStreams" => list_streams(engine, fields.typed()?),
        "ListShards" => list_shards(engine, fields.typed()?),
        "PutRecord" => put_record(engine, metrics, fields.typed()?),
        "PutRecords" => put_records(engine, metrics, fields.typed()?),
        "GetShardIterator" => get_shard_iterator(engine, fields.typed()?),
        "GetRecords" => get_records(engine, metrics, fields.typed()?),
        "SplitShard" => split_shard(engine, fields.typed()?),
        "MergeShards" => merge_shards(engine, fields.typed()?),
        "UpdateShardCount" => update_shard_count(engine, fields.typed()?),
        "IncreaseStreamRetentionPeriod" => retention(engine, fields.typed()?, true),
        "DecreaseStreamRetentionPeriod" => retention(engine, fields.typed()?, false),
        "AddTagsToStream" => add_tags(engine, fields.typed()?),
        "RemoveTagsFromStream" => remove_tags(engine, fields.typed()?),
        "ListTagsForStream" => list_tags(engine, fields.typed()?),
        "RegisterStreamConsumer" => register_consumer(engine, fields.typed()?),
        "DescribeStreamConsumer" => describe_consumer(engine, fields.typed()?),
        "ListStreamConsumers" => list_consumers(engine, fields.typed()?),
        "DeregisterStreamConsumer" => deregister_consumer(engine, fields.typed()?),
        "DescribeLimits" => describe_limits(engine),
        "DescribeAccountSettings" => Ok(Out::new()
            .with(
                "MinimumThroughputBillingCommitment",
                Out::new().with("Status", "DISABLED"),
            )
            .into()),
        "TagResource" => tag_resource(engine, fields.typed()?),
        "UntagResource" => untag_resource(engine, fields.typed()?),
        "ListTagsForResource" => list_tags_for_resource(engine, fields.typed()?),
        "UpdateStreamMode" => update_stream_mode(engine, fields.typed()?),
        "EnableEnhancedMonitoring" => enhanced_monitoring(engine, fields.typed()?, true),
        "DisableEnhancedMonitoring" => enhanced_monitoring(engine, fields.typed()?, false),
        "UpdateMaxRecordSize" => update_max_record_size(engine, fields.typed()?),
        _ => Err(ApiError::client(
            "UnknownOperationException",
            format!("Operation {action} is not supported by this server."),
        )
        .into()),
    }
}

/// The stream a typed request names.
fn stream_of(engine: &Engine, stream: &StreamRef) -> Result<String, ApiError> {
    let (name, arn) = (&stream.stream_name, &stream.stream_arn);
    stream_named(engine, name.as_deref(), arn.as_deref())
}

/// The stream named by `name` or `arn`, which must agree when both are given.
fn stream_named(
    engine: &Engine,
    name: Option<&str>,
    arn: Option<&str>,
) -> Result<String, ApiError> {
    let from_arn = match arn {
        None => None,
        Some(arn) => {
            let prefix = format!(
                "arn:aws:kinesis:{}:{}:stream/",
                engine.config().region,
                engine.config().account_id
            );
            let name = arn.strip_prefix(&prefix).filter(|n| !n.contains('/'));
            Some(name.ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "StreamARN {arn} is not a stream of this account and region."
                ))
            })?)
        }
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

fn create_stream(engine: &Engine, input: CreateStreamInput) -> Response {
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
        crate::kinesis::rules::within_shard_limit(engine, name, count)?;
    }
    engine.create_stream(name, shard_count, input.tags)?;
    Ok(Out::new().into())
}

fn delete_stream(engine: &Engine, input: DeleteStreamInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let enforce = input.enforce_consumer_deletion.unwrap_or(false);
    engine.delete_stream_with(&name, enforce)?;
    Ok(Out::new().into())
}

fn shard_value(shard: &ShardDescription) -> Value {
    let (start, end) = &shard.hash_key_range;
    let range = Out::new()
        .with(
            "StartingSequenceNumber",
            shard.starting_sequence_number.clone(),
        )
        .maybe("EndingSequenceNumber", shard.ending_sequence_number.clone());
    Out::new()
        .with("ShardId", shard.shard_id)
        .maybe("ParentShardId", shard.parent_shard_id)
        .maybe("AdjacentParentShardId", shard.adjacent_parent_shard_id)
        .with(
            "HashKeyRange",
            Out::new()
                .with("StartingHashKey", start.clone())
                .with("EndingHashKey", end.clone()),
        )
        .with("SequenceNumberRange", range)
        .into()
}

fn mode_value(description: &StreamDescription) -> Value {
    Out::new()
        .with("StreamMode", description.stream_mode)
        .into()
}

fn monitoring(description: &StreamDescription) -> Value {
    let metrics: Vec<Value> = description
        .shard_level_metrics
        .iter()
        .map(|m| Value::from(m.as_str()))
        .collect();
    Value::List(vec![Out::new().with("ShardLevelMetrics", metrics).into()])
}

fn describe_stream(engine: &Engine, input: DescribeStreamInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let limit = within("Limit", input.limit, 1, 10_000)?.unwrap_or(100) as usize;
    let d = engine.describe_stream(&name, limit, input.exclusive_start_shard_id)?;
    let shards: Vec<Value> = d.shards.iter().map(shard_value).collect();
    let body = Out::new()
        .with("StreamName", d.stream_name.clone())
        .with("StreamARN", d.stream_arn.clone())
        .with("StreamStatus", d.stream_status)
        .with("StreamModeDetails", mode_value(&d))
        .with("Shards", shards)
        .with("HasMoreShards", d.has_more_shards)
        .with("RetentionPeriodHours", d.retention_hours)
        .with("StreamCreationTimestamp", Value::Timestamp(d.created_ms))
        .with("EnhancedMonitoring", monitoring(&d))
        .with("EncryptionType", "NONE");
    Ok(Out::new().with("StreamDescription", body).into())
}

fn describe_stream_summary(engine: &Engine, input: DescribeStreamSummaryInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let d = engine.describe_stream(&name, 0, None)?;
    let body = Out::new()
        .with("StreamName", d.stream_name.clone())
        .with("StreamARN", d.stream_arn.clone())
        .with("StreamStatus", d.stream_status)
        .with("StreamModeDetails", mode_value(&d))
        .with("RetentionPeriodHours", d.retention_hours)
        .with("StreamCreationTimestamp", Value::Timestamp(d.created_ms))
        .with("EnhancedMonitoring", monitoring(&d))
        .with("EncryptionType", "NONE")
        .with("OpenShardCount", d.open_shard_count)
        .with("ConsumerCount", d.consumer_count)
        .with("MaxRecordSizeInKiB", d.record_kib_max);
    Ok(Out::new().with("StreamDescriptionSummary", body).into())
}

fn list_streams(engine: &Engine, input: ListStreamsInput) -> Response {
    let limit = within("Limit", input.limit, 1, 10_000)?.unwrap_or(100) as usize;
    let start = input
        .exclusive_start_stream_name
        .as_deref()
        .or(input.next_token.as_deref());
    let (names, more) = engine.list_streams(limit, start);
    let mut summaries = Vec::new();
    for name in &names {
        let d = engine.describe_stream(name, 0, None)?;
        summaries.push(Value::from(
            Out::new()
                .with("StreamName", name.clone())
                .with("StreamARN", d.stream_arn.clone())
                .with("StreamStatus", d.stream_status)
                .with("StreamModeDetails", mode_value(&d))
                .with("StreamCreationTimestamp", Value::Timestamp(d.created_ms)),
        ));
    }
    let next = more.then(|| names.last().cloned()).flatten();
    let names: Vec<Value> = names.into_iter().map(Value::from).collect();
    Ok(Out::new()
        .with("StreamNames", names)
        .with("HasMoreStreams", more)
        .with("StreamSummaries", summaries)
        .maybe("NextToken", next)
        .into())
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

fn list_shards(engine: &Engine, input: ListShardsInput) -> Response {
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
            stream_of(engine, &input.stream)?,
            input.exclusive_start_shard_id,
        ),
    };
    let filter = shard_filter(input.shard_filter)?;
    let (shards, more) = engine.list_shards(&name, filter.as_ref(), start, limit)?;
    let next = more
        .then(|| shards.last().map(|s| format!("{name}|{}", s.shard_id)))
        .flatten();
    let shards: Vec<Value> = shards.iter().map(shard_value).collect();
    Ok(Out::new()
        .with("Shards", shards)
        .maybe("NextToken", next)
        .into())
}

fn put_record(engine: &Engine, metrics: &Metrics, input: PutRecordInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let data = &input.record.data.0;
    let record = PutRecord {
        partition_key: &input.record.partition_key,
        data,
        explicit_hash_key: input.record.explicit_hash_key.as_deref(),
    };
    let ordering = input.sequence_number_for_ordering.as_deref();
    if let Some(ordering) = ordering {
        crate::kinesis::rules::sequence_number_for_ordering(engine, &name, ordering)?;
    }
    let result = engine.put_record_ordered(&name, record, ordering)?;
    metrics.incoming(&name, result.shard_id, 1, data.len() as u64);
    Ok(Out::new()
        .with("ShardId", result.shard_id)
        .with("SequenceNumber", result.sequence_number)
        .with("EncryptionType", "NONE")
        .into())
}

fn put_records(engine: &Engine, metrics: &Metrics, input: PutRecordsInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let records: Vec<PutRecord<'_>> = input
        .records
        .iter()
        .map(|record| PutRecord {
            partition_key: &record.partition_key,
            data: &record.data.0,
            explicit_hash_key: record.explicit_hash_key.as_deref(),
        })
        .collect();
    let results = engine.put_records(&name, &records)?;
    let failed = results.iter().filter(|r| r.is_err()).count();
    let mut throttled = 0;
    for (result, record) in results.iter().zip(&records) {
        match result {
            Ok(ok) => metrics.incoming(&name, ok.shard_id, 1, record.data.len() as u64),
            Err(RecordFailure::Throttled { .. }) => throttled += 1,
            Err(_) => {}
        }
    }
    if throttled > 0 {
        metrics.throttled(&name, throttled);
    }
    let entries: Vec<Value> = results
        .into_iter()
        .map(|result| match result {
            Ok(ok) => Out::new()
                .with("SequenceNumber", ok.sequence_number)
                .with("ShardId", ok.shard_id)
                .into(),
            Err(failure) => {
                let (code, message) = record_failure(&failure, Account::of(engine));
                Out::new()
                    .with("ErrorCode", code)
                    .with("ErrorMessage", message)
                    .into()
            }
        })
        .collect();
    Ok(Out::new()
        .with("FailedRecordCount", failed)
        .with("Records", entries)
        .with("EncryptionType", "NONE")
        .into())
}

/// The request's names of a starting position's members, for its messages.
pub(crate) struct StartNames {
    pub kind: &'static str,
    pub sequence: &'static str,
    pub timestamp: &'static str,
}

/// Where an iterator or a subscription starts: `kind` with its sequence number
/// or timestamp.
pub(crate) fn iterator_start(
    kind: PositionType,
    sequence: Option<String>,
    timestamp: Option<Timestamp>,
    names: &StartNames,
) -> Result<IteratorStart, ApiError> {
    let sequence = || {
        sequence.ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "{} must be provided for this {}.",
                names.sequence, names.kind
            ))
        })
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

fn get_shard_iterator(engine: &Engine, input: GetShardIteratorInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let shard = crate::kinesis::rules::shard_id(engine, &name, &input.shard_id)?;
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
    let start = iterator_start(
        kind,
        input.starting_sequence_number,
        input.timestamp,
        &names,
    )?;
    let iterator = engine.get_shard_iterator(&name, shard, start)?;
    Ok(Out::new().with("ShardIterator", iterator).into())
}

fn get_records(engine: &Engine, metrics: &Metrics, input: GetRecordsInput) -> Response {
    let iterator = input.shard_iterator.as_str();
    if iterator.is_empty() || iterator.len() > 512 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'shardIterator' failed to satisfy constraint: Member must have length between 1 and 512".into(),
        ).into());
    }
    let limit = within("Limit", input.limit, 1, 10_000)?.unwrap_or(10_000) as usize;
    let output = engine.get_records(iterator, limit)?;
    let bytes: usize = output.records.iter().map(|r| r.data.len()).sum();
    metrics.outgoing(
        &output.stream_name,
        output.shard_id,
        output.records.len() as u64,
        bytes as u64,
        output.millis_behind_latest,
    );
    let records: Vec<Value> = output.records.into_iter().map(record_value).collect();
    let children: Vec<Value> = output.child_shards.into_iter().map(child_value).collect();
    let finished = output.next_shard_iterator.is_none();
    let mut out = Out::new()
        .with("Records", records)
        .with("MillisBehindLatest", output.millis_behind_latest)
        .maybe("NextShardIterator", output.next_shard_iterator);
    if finished {
        out = out.with("ChildShards", children);
    }
    Ok(out.into())
}

/// A record as GetRecords shows it (SubscribeToShard events write the same shape
/// directly; see `subscribe_event`).
pub(crate) fn record_value(record: shardlog_engine::OutputRecord) -> Value {
    Out::new()
        .with("SequenceNumber", record.sequence_number)
        .with(
            "ApproximateArrivalTimestamp",
            Value::Timestamp(record.approximate_arrival_ms),
        )
        .with("Data", Value::Bytes(record.data.to_vec()))
        .with("PartitionKey", record.partition_key)
        .into()
}

/// A child shard as GetRecords and SubscribeToShard events show it.
pub(crate) fn child_value(child: shardlog_engine::ChildShard) -> Value {
    let parents: Vec<Value> = child.parent_shards.into_iter().map(Value::from).collect();
    Out::new()
        .with("ShardId", child.shard_id)
        .with("ParentShards", parents)
        .with(
            "HashKeyRange",
            Out::new()
                .with("StartingHashKey", child.hash_key_range.0)
                .with("EndingHashKey", child.hash_key_range.1),
        )
        .into()
}

fn split_shard(engine: &Engine, input: SplitShardInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let shard = crate::kinesis::rules::shard_id(engine, &name, &input.shard_to_split)?;
    engine.split_shard(&name, shard, &input.new_starting_hash_key)?;
    Ok(Out::new().into())
}

fn merge_shards(engine: &Engine, input: MergeShardsInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let shard = |text: &str| crate::kinesis::rules::shard_id(engine, &name, text);
    let shard_and_adjacent = (
        shard(&input.shard_to_merge)?,
        shard(&input.adjacent_shard_to_merge)?,
    );
    engine.merge_shards(&name, shard_and_adjacent.0, shard_and_adjacent.1)?;
    Ok(Out::new().into())
}

fn update_shard_count(engine: &Engine, input: UpdateShardCountInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let target = input.target_shard_count;
    within("TargetShardCount", Some(target), 1, 100_000)?;
    let before = engine.describe_stream(&name, 0, None)?.open_shard_count;
    engine.update_shard_count(&name, target as u32)?;
    let d = engine.describe_stream(&name, 0, None)?;
    Ok(Out::new()
        .with("StreamName", name)
        .with("StreamARN", d.stream_arn)
        .with("CurrentShardCount", before)
        .with("TargetShardCount", target as u64)
        .into())
}

fn retention(engine: &Engine, input: RetentionInput, increase: bool) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let hours = input.retention_period_hours;
    within("RetentionPeriodHours", Some(hours), 1, 8760 * 10)?;
    engine.set_retention(&name, hours as u32, increase)?;
    Ok(Out::new().into())
}

fn add_tags(engine: &Engine, input: AddTagsInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    if input.tags.is_empty() {
        return Err(ApiError::missing("Tags").into());
    }
    engine.add_tags(&name, input.tags)?;
    Ok(Out::new().into())
}

fn remove_tags(engine: &Engine, input: RemoveTagsInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    engine.remove_tags(&name, &input.tag_keys)?;
    Ok(Out::new().into())
}

fn list_tags(engine: &Engine, input: ListTagsInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let limit = within("Limit", input.limit, 1, 50)?.unwrap_or(50) as usize;
    let tags: BTreeMap<String, String> = engine.tags(&name)?;
    Ok(tags_page(
        tags,
        input.exclusive_start_tag_key.as_deref(),
        limit,
    ))
}

/// One page of a ListTags answer (Kinesis and Firehose share the shape): the tags
/// after `start` in key order, at most `limit` of them, and whether more follow.
pub(crate) fn tags_page(
    tags: impl IntoIterator<Item = (String, String)>,
    start: Option<&str>,
    limit: usize,
) -> Value {
    let mut after = tags
        .into_iter()
        .filter(|(key, _)| start.is_none_or(|start| key.as_str() > start));
    let page: Vec<Value> = after
        .by_ref()
        .take(limit)
        .map(|(key, value)| Out::new().with("Key", key).with("Value", value).into())
        .collect();
    let more = after.next().is_some();
    Out::new()
        .with("Tags", page)
        .with("HasMoreTags", more)
        .into()
}

/// The consumer a request names: by ConsumerARN, or by its stream and ConsumerName.
fn consumer_target(engine: &Engine, input: &ConsumerInput) -> Result<(String, String), ApiError> {
    if let Some(arn) = &input.consumer_arn {
        return engine
            .parse_consumer_arn(arn)
            .ok_or_else(|| ApiError::invalid_argument(format!("ConsumerARN {arn} is not valid.")));
    }
    let name = consumer_name(input)?;
    Ok((stream_of(engine, &input.stream)?, name.to_string()))
}

fn consumer_name(input: &ConsumerInput) -> Result<&str, ApiError> {
    input
        .consumer_name
        .as_deref()
        .ok_or_else(|| ApiError::missing("ConsumerName"))
}

fn consumer_value(consumer: &shardlog_engine::ConsumerDescription, with_stream: bool) -> Value {
    let out = Out::new()
        .with("ConsumerName", consumer.consumer_name.clone())
        .with("ConsumerARN", consumer.consumer_arn.clone())
        .with("ConsumerStatus", consumer.consumer_status)
        .with(
            "ConsumerCreationTimestamp",
            Value::Timestamp(consumer.creation_ms),
        );
    if with_stream {
        out.with("StreamARN", consumer.stream_arn.clone()).into()
    } else {
        out.into()
    }
}

fn register_consumer(engine: &Engine, input: ConsumerInput) -> Response {
    let stream = stream_of(engine, &input.stream)?;
    let consumer = engine.register_consumer(&stream, consumer_name(&input)?)?;
    Ok(Out::new()
        .with("Consumer", consumer_value(&consumer, false))
        .into())
}

fn describe_consumer(engine: &Engine, input: ConsumerInput) -> Response {
    let (stream, name) = consumer_target(engine, &input)?;
    let consumer = engine.describe_consumer(&stream, &name)?;
    Ok(Out::new()
        .with("ConsumerDescription", consumer_value(&consumer, true))
        .into())
}

fn list_consumers(engine: &Engine, input: ConsumerInput) -> Response {
    let stream = stream_of(engine, &input.stream)?;
    let consumers: Vec<Value> = engine
        .list_consumers(&stream)?
        .iter()
        .map(|consumer| consumer_value(consumer, false))
        .collect();
    Ok(Out::new().with("Consumers", consumers).into())
}

fn deregister_consumer(engine: &Engine, input: ConsumerInput) -> Response {
    let (stream, name) = consumer_target(engine, &input)?;
    engine.deregister_consumer(&stream, &name)?;
    Ok(Out::new().into())
}

/// The stream a `ResourceARN` names (tags on consumers are not kept).
fn resource_stream(engine: &Engine, arn: &str) -> Result<String, ApiError> {
    let prefix = format!(
        "arn:aws:kinesis:{}:{}:stream/",
        engine.config().region,
        engine.config().account_id
    );
    arn.strip_prefix(&prefix)
        .filter(|name| !name.contains('/'))
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "ResourceARN {arn} is not a stream of this account and region."
            ))
        })
}

fn tag_resource(engine: &Engine, input: ResourceTagsInput) -> Response {
    let name = resource_stream(engine, &input.resource_arn)?;
    engine.add_tags(&name, input.tags)?;
    Ok(Out::new().into())
}

fn untag_resource(engine: &Engine, input: ResourceTagsInput) -> Response {
    let name = resource_stream(engine, &input.resource_arn)?;
    engine.remove_tags(&name, &input.tag_keys)?;
    Ok(Out::new().into())
}

fn list_tags_for_resource(engine: &Engine, input: ResourceTagsInput) -> Response {
    let name = resource_stream(engine, &input.resource_arn)?;
    let tags: Vec<Value> = engine
        .tags(&name)?
        .into_iter()
        .map(|(key, value)| Out::new().with("Key", key).with("Value", value).into())
        .collect();
    Ok(Out::new().with("Tags", tags).into())
}

fn update_stream_mode(engine: &Engine, input: UpdateStreamModeInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let on_demand = input.stream_mode_details.stream_mode == StreamMode::OnDemand;
    engine.set_stream_mode(&name, on_demand)?;
    Ok(Out::new().into())
}

fn enhanced_monitoring(engine: &Engine, input: MonitoringInput, enable: bool) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let (before, after) =
        engine.set_shard_level_metrics(&name, &input.shard_level_metrics, enable)?;
    let list = |items: Vec<String>| Value::List(items.into_iter().map(Value::from).collect());
    Ok(Out::new()
        .with("StreamName", name.clone())
        .with("StreamARN", engine.stream_arn(&name))
        .with("CurrentShardLevelMetrics", list(before))
        .with("DesiredShardLevelMetrics", list(after))
        .into())
}

fn describe_limits(engine: &Engine) -> Response {
    let (open, limit, on_demand) = engine.account_usage();
    Ok(Out::new()
        .with("ShardLimit", limit)
        .with("OpenShardCount", open)
        .with("OnDemandStreamCount", on_demand)
        .with("OnDemandStreamCountLimit", 50u32)
        .into())
}

fn update_max_record_size(engine: &Engine, input: UpdateMaxRecordSizeInput) -> Response {
    let name = stream_of(engine, &input.stream)?;
    let kib = input.max_record_size_kib;
    let kib = u32::try_from(kib)
        .map_err(|_| ApiError::validation(format!("MaxRecordSizeInKiB {kib} is out of range")))?;
    engine.set_max_record_kib(&name, kib)?;
    Ok(Out::new().into())
}
