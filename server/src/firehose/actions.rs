//! Firehose actions (`Firehose_20150804.*`): typed request in, delivery-stream
//! call, response fields out. Firehose's error codes live here.

use super::requests::{
    ConversionInput, CreateInput, DestinationInput, KinesisSourceInput, ListInput, NamedInput,
    PutRecordBatchInput, PutRecordInput, TagInput, TagsInput, UpdateDestinationInput,
};
use super::responses::{
    BackupOut, BufferingHintsOut, ColumnOut, ConversionOut, CreateOutput, DescribeOutput,
    DescriptionOut, DestinationOut, EncryptionOut, FailureOut, KinesisSourceOut, ListOutput,
    OutputFormatOut, ParquetOut, ProcessingOut, ProcessorOut, PutRecordBatchOutput,
    PutRecordOutput, RecordIdOut, S3DestinationOut, SchemaOut, SerializerOut, SourceOut,
};
use crate::error::ApiError;
use crate::kinesis::errors::{read_error, Account};
use crate::kinesis::responses::NoOutput;
use crate::protocol::typed::read;
use crate::protocol::value::{Format, Value};
use crate::protocol::wire::Timestamp;
use serde::Serialize;
use shardlog_engine::ReadError;
use shardlog_firehose::{
    convert::catalog_columns, Backup, Buffering, Column, ColumnType, Compression, Conversion,
    DeliveryStreamConfig, DestinationConfig, Error as FirehoseError, Firehose, ParquetCompression,
    SourceConfig, StartPosition, StreamStatus,
};
use std::collections::BTreeMap;

type Response = Result<Vec<u8>, ApiError>;

/// `output` in the request's format.
fn reply<T: Serialize>(format: Format, output: &T) -> Response {
    Ok(format.serialize(output))
}

/// The answer of an action with no output members.
fn done(format: Format) -> Response {
    reply(format, &NoOutput {})
}

/// The `X-Amz-Target` prefix of the Firehose API.
pub const FIREHOSE_TARGET_PREFIX: &str = "Firehose_20150804.";
/// Most names one ListDeliveryStreams returns (Firehose: 10,000).
const LIST_LIMIT_MAX: i128 = 10_000;

/// A delivery-stream error in Firehose's words, with the account it names.
fn firehose_error(error: FirehoseError, account: Account<'_>) -> ApiError {
    let message = error.to_string();
    let acct = account.id;
    match error {
        FirehoseError::DeliveryStreamNotFound { name } => ApiError::client(
            "ResourceNotFoundException",
            format!("Firehose {name} under account {acct} not found."),
        ),
        FirehoseError::DeliveryStreamExists { name } => ApiError::client(
            "ResourceInUseException",
            format!("Firehose {name} under accountId {acct} already exists"),
        ),
        FirehoseError::NotFound(_) => ApiError::client("ResourceNotFoundException", message),
        FirehoseError::InUse(_) => ApiError::client("ResourceInUseException", message),
        FirehoseError::InvalidArgument(_) => ApiError::invalid_argument(message),
        FirehoseError::LimitExceeded(_) => ApiError::client("LimitExceededException", message),
        FirehoseError::Unavailable(_) => ApiError {
            status: 503,
            code: "ServiceUnavailableException",
            message,
            cause: crate::error::Cause::Other,
        },
        _ => ApiError::internal(message),
    }
}

/// [`firehose_error`] for `map_err`.
fn worded(account: Account<'_>) -> impl Fn(FirehoseError) -> ApiError + '_ {
    move |error| firehose_error(error, account)
}

/// CreateDeliveryStream's error: a Kinesis source stream that does not exist, or
/// whose name no stream can have, is an invalid argument worded as Kinesis words it, in the delivery stream's account.
/// (Only creation consults the engine; elsewhere an engine error is internal.)
fn create_error(error: FirehoseError, account: Account<'_>) -> ApiError {
    let FirehoseError::Engine(cause) = &error else {
        return firehose_error(error, account);
    };
    let message = format!("source stream: {}", read_error(cause, account).message);
    match cause {
        ReadError::StreamNotFound { .. }
        | ReadError::ShardNotFound { .. }
        | ReadError::InvalidField { .. } => ApiError::invalid_argument(message),
        ReadError::SequenceNumberInvalid { .. }
        | ReadError::SequenceNumberOfOtherShard { .. }
        | ReadError::IteratorInvalid(_)
        | ReadError::IteratorExpired { .. }
        | ReadError::Throttled { .. }
        | ReadError::Storage(_) => ApiError::internal(message),
    }
}

/// Runs `action` (the part after `Firehose_20150804.`) on its validated request,
/// read into the action's typed input.
pub fn dispatch(
    firehose: Option<&Firehose>,
    account: Account<'_>,
    action: &str,
    format: Format,
    request: &Value,
) -> Response {
    let Some(firehose) = firehose else {
        return Err(ApiError::client(
            "UnknownOperationException",
            "The Firehose API is not enabled on this server.".into(),
        ));
    };
    match action {
        "CreateDeliveryStream" => create(firehose, account, read(request)?, format),
        "DeleteDeliveryStream" => {
            let input: NamedInput = read(request)?;
            firehose
                .delete(&input.delivery_stream_name)
                .map_err(worded(account))?;
            done(format)
        }
        "DescribeDeliveryStream" => describe(firehose, account, read(request)?, format),
        "ListDeliveryStreams" => list(firehose, read(request)?, format),
        "PutRecord" => put_record(firehose, account, read(request)?, format),
        "PutRecordBatch" => put_record_batch(firehose, account, read(request)?, format),
        "UpdateDestination" => update_destination(firehose, account, read(request)?, format),
        "TagDeliveryStream" => {
            let input: TagsInput = read(request)?;
            firehose
                .tag(&input.delivery_stream_name, tag_map(input.tags))
                .map_err(worded(account))?;
            done(format)
        }
        "UntagDeliveryStream" => {
            let input: TagsInput = read(request)?;
            firehose
                .untag(&input.delivery_stream_name, &input.tag_keys)
                .map_err(worded(account))?;
            done(format)
        }
        "ListTagsForDeliveryStream" => list_tags(firehose, account, read(request)?, format),
        _ => Err(ApiError::client(
            "UnknownOperationException",
            format!("Operation {action} is not supported by this server."),
        )),
    }
}

/// `[{"Key": .., "Value": ..}]` as a map.
fn tag_map(tags: Vec<TagInput>) -> BTreeMap<String, String> {
    tags.into_iter().map(|tag| (tag.key, tag.value)).collect()
}

/// `arn:aws:s3:::bucket` → `bucket`.
fn bucket_of(arn: &str) -> Result<String, ApiError> {
    arn.strip_prefix("arn:aws:s3:::")
        .filter(|bucket| !bucket.is_empty() && !bucket.contains('/'))
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::invalid_argument(format!("BucketARN {arn} is not an S3 bucket ARN."))
        })
}

/// `arn:aws:firehose:<region>:<account>:deliverystream/<name>`.
fn delivery_stream_arn(account: Account<'_>, name: &str) -> String {
    format!(
        "arn:aws:firehose:{}:{}:deliverystream/{name}",
        account.region, account.id
    )
}

fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

fn create(
    firehose: &Firehose,
    account: Account<'_>,
    input: CreateInput,
    format: Format,
) -> Response {
    let name = input.delivery_stream_name.as_str();
    let source = match input.delivery_stream_type.as_deref().unwrap_or("DirectPut") {
        "DirectPut" => SourceConfig::DirectPut,
        "KinesisStreamAsSource" => kinesis_source(input.kinesis_stream_source_configuration)?,
        other => {
            return Err(ApiError::invalid_argument(format!(
            "DeliveryStreamType {other} is not supported; use DirectPut or KinesisStreamAsSource."
        )))
        }
    };
    let extended = input.extended_s3_destination_configuration;
    let plain = input.s3_destination_configuration;
    let destination = match (extended, plain) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_argument(
                "Give only one of ExtendedS3DestinationConfiguration and S3DestinationConfiguration.".into(),
            ))
        }
        (Some(config), None) => parse_destination(firehose, account, config, None, true)?,
        (None, Some(config)) => parse_destination(firehose, account, config, None, false)?,
        (None, None) => {
            return Err(ApiError::invalid_argument(
                "This server delivers to S3 only: give ExtendedS3DestinationConfiguration or S3DestinationConfiguration.".into(),
            ))
        }
    };
    let config = DeliveryStreamConfig {
        name: name.to_string(),
        source,
        destination,
    };
    firehose
        .create(config, tag_map(input.tags))
        .map_err(|error| create_error(error, account))?;
    let delivery_stream_arn = delivery_stream_arn(account, name);
    reply(
        format,
        &CreateOutput {
            delivery_stream_arn,
        },
    )
}

fn kinesis_source(source: Option<KinesisSourceInput>) -> Result<SourceConfig, ApiError> {
    let source = source.ok_or_else(|| {
        ApiError::invalid_argument(
            "KinesisStreamSourceConfiguration is required for KinesisStreamAsSource.".into(),
        )
    })?;
    let arn = source.kinesis_stream_arn.as_str();
    let stream_name = arn
        .split_once(":stream/")
        .map(|(_, name)| name)
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| {
            ApiError::invalid_argument(format!("KinesisStreamARN {arn} is not a stream ARN."))
        })?;
    // Firehose starts at LATEST; `StartingPosition` is this server's extension.
    let start = match source.starting_position.as_deref().unwrap_or("LATEST") {
        "LATEST" => StartPosition::Latest,
        "TRIM_HORIZON" => StartPosition::TrimHorizon,
        other => {
            return Err(ApiError::invalid_argument(format!(
                "StartingPosition {other} is not LATEST or TRIM_HORIZON."
            )))
        }
    };
    Ok(SourceConfig::Kinesis {
        stream_name: stream_name.to_string(),
        start,
    })
}

/// A destination from its configuration (create) or update (`base` given: fields
/// not in the update keep their values).
fn parse_destination(
    firehose: &Firehose,
    account: Account<'_>,
    input: DestinationInput,
    base: Option<&DestinationConfig>,
    extended: bool,
) -> Result<DestinationConfig, ApiError> {
    let bucket = match (&input.bucket_arn, base) {
        (Some(arn), _) => bucket_of(arn)?,
        (None, Some(base)) => base.bucket.clone(),
        (None, None) => return Err(ApiError::missing("BucketARN")),
    };
    let hints = input.buffering_hints.as_ref();
    let base_hints = base.map(|b| b.buffering).unwrap_or_default();
    let hint = |name: &str, value: Option<i128>, default: u32| -> Result<u32, ApiError> {
        value.map_or(Ok(default), |v| {
            u32::try_from(v).map_err(|_| {
                ApiError::invalid_argument(format!("BufferingHints.{name} {v} is out of range."))
            })
        })
    };
    let buffering = Buffering {
        size_mib: hint(
            "SizeInMBs",
            hints.and_then(|h| h.size_mib),
            base_hints.size_mib,
        )?,
        interval_s: hint(
            "IntervalInSeconds",
            hints.and_then(|h| h.interval_s),
            base_hints.interval_s,
        )?,
    };
    let compression = match &input.compression_format {
        Some(name) => Compression::parse(name).map_err(worded(account))?,
        None => base.map_or(Compression::Uncompressed, |b| b.compression),
    };
    let text = |given: &Option<String>, base: Option<&String>| given.clone().or(base.cloned());
    let mut destination = DestinationConfig {
        bucket,
        prefix: text(&input.prefix, base.map(|b| &b.prefix)).unwrap_or_default(),
        error_output_prefix: text(
            &input.error_output_prefix,
            base.and_then(|b| b.error_output_prefix.as_ref()),
        ),
        buffering,
        compression,
        newline_delimiter: base.is_some_and(|b| b.newline_delimiter),
        conversion: base.and_then(|b| b.conversion.clone()),
        backup: base.and_then(|b| b.backup.clone()),
        extended: extended || base.is_some_and(|b| b.extended),
        role_arn: text(&input.role_arn, base.map(|b| &b.role_arn)).unwrap_or_default(),
    };
    if extended {
        parse_extended(firehose, account, input, &mut destination)?;
    }
    Ok(destination)
}

/// The ExtendedS3 parts: delimiter processor, format conversion, backup.
fn parse_extended(
    firehose: &Firehose,
    account: Account<'_>,
    input: DestinationInput,
    destination: &mut DestinationConfig,
) -> Result<(), ApiError> {
    if let Some(processing) = input.processing_configuration {
        let enabled = processing.enabled.unwrap_or(false);
        let mut delimiter = false;
        for processor in processing.processors {
            match processor.kind.as_str() {
                "AppendDelimiterToRecord" => delimiter = true,
                other if enabled => {
                    return Err(ApiError::invalid_argument(format!(
                    "Processor type {other} is not supported here (only AppendDelimiterToRecord)."
                )))
                }
                _ => {}
            }
        }
        destination.newline_delimiter = enabled && delimiter;
    }
    if let Some(conversion) = input.data_format_conversion_configuration {
        destination.conversion = parse_conversion(firehose, account, conversion)?;
    }
    match input.s3_backup_mode.as_deref() {
        Some("Enabled") => {
            let backup = input.s3_backup_configuration.ok_or_else(|| {
                ApiError::invalid_argument(
                    "S3BackupMode Enabled needs S3BackupConfiguration.".into(),
                )
            })?;
            destination.backup = Some(Backup {
                bucket: bucket_of(&backup.bucket_arn)?,
                prefix: backup.prefix.unwrap_or_default(),
                compression: match &backup.compression_format {
                    Some(name) => Compression::parse(name).map_err(worded(account))?,
                    None => Compression::Uncompressed,
                },
            });
        }
        Some("Disabled") => destination.backup = None,
        Some(other) => {
            return Err(ApiError::invalid_argument(format!(
                "S3BackupMode {other} is not Enabled or Disabled."
            )))
        }
        None => {}
    }
    Ok(())
}

/// DataFormatConversionConfiguration: JSON in, Parquet out. The schema comes
/// from the local catalog table that SchemaConfiguration names, or from this
/// server's `Columns` extension, else it is inferred from the first buffer.
fn parse_conversion(
    firehose: &Firehose,
    account: Account<'_>,
    input: ConversionInput,
) -> Result<Option<Conversion>, ApiError> {
    if !input.enabled.unwrap_or(true) {
        return Ok(None);
    }
    let serializer = input
        .output_format_configuration
        .and_then(|output| output.serializer);
    if serializer.as_ref().is_some_and(|s| s.orc_ser_de.is_some()) {
        return Err(ApiError::invalid_argument(
            "OrcSerDe is not supported; use ParquetSerDe.".into(),
        ));
    }
    let parquet = serializer.and_then(|s| s.parquet_ser_de);
    let compression = match parquet.and_then(|p| p.compression) {
        Some(name) => ParquetCompression::parse(&name).map_err(worded(account))?,
        None => ParquetCompression::Snappy,
    };
    let Some(schema) = input.schema_configuration else {
        return Ok(Some(Conversion {
            columns: None,
            compression,
        }));
    };
    let mut columns = match (&schema.database_name, &schema.table_name) {
        (Some(database), Some(table)) => {
            catalog_columns(&firehose.config().data_dir, database, table)
                .map_err(worded(account))?
        }
        _ => None,
    };
    if let Some(declared) = schema.columns {
        let mut parsed = Vec::with_capacity(declared.len());
        for column in declared {
            let name = column.name.ok_or_else(|| ApiError::missing("Name"))?;
            let kind = column.kind.ok_or_else(|| ApiError::missing("Type"))?;
            parsed.push(Column {
                name,
                kind: ColumnType::parse(&kind).map_err(worded(account))?,
            });
        }
        columns = Some(parsed);
    }
    Ok(Some(Conversion {
        columns,
        compression,
    }))
}

fn describe(
    firehose: &Firehose,
    account: Account<'_>,
    input: NamedInput,
    format: Format,
) -> Response {
    let status = firehose
        .describe(&input.delivery_stream_name)
        .map_err(worded(account))?;
    let delivery_stream_description = description(account, &status);
    reply(
        format,
        &DescribeOutput {
            delivery_stream_description,
        },
    )
}

fn description(account: Account<'_>, status: &StreamStatus) -> DescriptionOut {
    let meta = &status.meta;
    let config = &meta.config;
    let (kind, source) = match &config.source {
        SourceConfig::DirectPut => ("DirectPut", None),
        SourceConfig::Kinesis { stream_name, .. } => {
            let kinesis_stream_arn = account.stream_arn(stream_name);
            let kinesis_stream_source_description = KinesisSourceOut {
                kinesis_stream_arn,
                delivery_start_timestamp: Timestamp(meta.created_ms),
            };
            let source = SourceOut {
                kinesis_stream_source_description,
            };
            ("KinesisStreamAsSource", Some(source))
        }
    };
    let destination = &config.destination;
    let destinations = [DestinationOut {
        destination_id: shardlog_firehose::meta::DESTINATION_ID,
        s3: destination_description(destination, false),
        extended_s3: destination
            .extended
            .then(|| destination_description(destination, true)),
    }];
    let failure_description = status.failure.as_ref().map(|details| FailureOut {
        kind: "S3_DESTINATION_FAILURE",
        details: details.clone(),
    });
    DescriptionOut {
        delivery_stream_name: config.name.clone(),
        delivery_stream_arn: delivery_stream_arn(account, &config.name),
        delivery_stream_status: "ACTIVE",
        delivery_stream_type: kind,
        version_id: meta.version_id.to_string(),
        create_timestamp: Timestamp(meta.created_ms),
        last_update_timestamp: Timestamp(meta.updated_ms),
        destinations,
        has_more_destinations: false,
        source,
        failure_description,
    }
}

/// The S3 destination as described: plain, or with the extended members.
fn destination_description(destination: &DestinationConfig, extended: bool) -> S3DestinationOut {
    let mut out = S3DestinationOut {
        role_arn: destination.role_arn.clone(),
        bucket_arn: bucket_arn(&destination.bucket),
        prefix: destination.prefix.clone(),
        error_output_prefix: destination.error_output_prefix.clone(),
        buffering_hints: BufferingHintsOut {
            size_mib: destination.buffering.size_mib,
            interval_s: destination.buffering.interval_s,
        },
        compression_format: destination.compression.wire_name(),
        encryption_configuration: EncryptionOut {
            no_encryption_config: "NoEncryption",
        },
        processing_configuration: None,
        s3_backup_mode: None,
        s3_backup_description: None,
        data_format_conversion_configuration: None,
    };
    if !extended {
        return out;
    }
    let processors = match destination.newline_delimiter {
        true => vec![ProcessorOut {
            kind: "AppendDelimiterToRecord",
        }],
        false => Vec::new(),
    };
    out.processing_configuration = Some(ProcessingOut {
        enabled: destination.newline_delimiter,
        processors,
    });
    let backup = destination.backup.as_ref();
    out.s3_backup_mode = Some(if backup.is_some() {
        "Enabled"
    } else {
        "Disabled"
    });
    out.s3_backup_description = backup.map(|backup| BackupOut {
        bucket_arn: bucket_arn(&backup.bucket),
        prefix: backup.prefix.clone(),
        compression_format: backup.compression.wire_name(),
    });
    out.data_format_conversion_configuration = destination.conversion.as_ref().map(|conversion| {
        let columns = conversion.columns.iter().flatten();
        let columns = columns.map(|c| ColumnOut {
            name: c.name.clone(),
            kind: c.kind.name(),
        });
        ConversionOut {
            enabled: true,
            schema_configuration: SchemaOut {
                columns: columns.collect(),
            },
            output_format_configuration: OutputFormatOut {
                serializer: SerializerOut {
                    parquet_ser_de: ParquetOut {
                        compression: conversion.compression.wire_name(),
                    },
                },
            },
        }
    });
    out
}

fn list(firehose: &Firehose, input: ListInput, format: Format) -> Response {
    let limit = input.limit.unwrap_or(10);
    if !(1..=LIST_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {LIST_LIMIT_MAX}"
        )));
    }
    let direct_put = match input.delivery_stream_type.as_deref() {
        None => None,
        Some("DirectPut") => Some(true),
        Some("KinesisStreamAsSource") => Some(false),
        Some(other) => {
            return Err(ApiError::invalid_argument(format!(
                "DeliveryStreamType {other} is not DirectPut or KinesisStreamAsSource."
            )))
        }
    };
    let start = input.exclusive_start_delivery_stream_name.as_deref();
    let (names, more) = firehose.list(limit as usize, start, direct_put);
    let output = ListOutput {
        delivery_stream_names: names,
        has_more_delivery_streams: more,
    };
    reply(format, &output)
}

fn put_record(
    firehose: &Firehose,
    account: Account<'_>,
    input: PutRecordInput,
    format: Format,
) -> Response {
    let data = input.record.data.0;
    let ids = firehose
        .put_records(&input.delivery_stream_name, &[data.as_slice()])
        .map_err(worded(account))?;
    let output = PutRecordOutput {
        record_id: ids.into_iter().next().unwrap_or_default(),
        encrypted: false,
    };
    reply(format, &output)
}

fn put_record_batch(
    firehose: &Firehose,
    account: Account<'_>,
    input: PutRecordBatchInput,
    format: Format,
) -> Response {
    let records = input.records;
    let max = shardlog_firehose::service::BATCH_RECORDS_MAX;
    if records.is_empty() || records.len() > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{}' at 'records' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to 1",
            records.len()
        )));
    }
    let refs: Vec<&[u8]> = records
        .iter()
        .map(|record| record.data.0.as_slice())
        .collect();
    let ids = firehose
        .put_records(&input.delivery_stream_name, &refs)
        .map_err(worded(account))?;
    let output = PutRecordBatchOutput {
        failed_put_count: 0,
        encrypted: false,
        request_responses: ids
            .into_iter()
            .map(|record_id| RecordIdOut { record_id })
            .collect(),
    };
    reply(format, &output)
}

fn update_destination(
    firehose: &Firehose,
    account: Account<'_>,
    input: UpdateDestinationInput,
    format: Format,
) -> Response {
    let name = input.delivery_stream_name.as_str();
    let version = input.current_delivery_stream_version_id.as_str();
    let version: u64 = version.parse().map_err(|_| {
        ApiError::invalid_argument(format!(
            "CurrentDeliveryStreamVersionId {version} is not a version id."
        ))
    })?;
    let destination_id = input.destination_id.as_str();
    if destination_id != shardlog_firehose::meta::DESTINATION_ID {
        return Err(ApiError::invalid_argument(format!(
            "Destination {destination_id} does not exist; the destination is {}.",
            shardlog_firehose::meta::DESTINATION_ID
        )));
    }
    let current = firehose.describe(name).map_err(worded(account))?;
    let current = current.meta.config.destination;
    let destination = match (
        input.extended_s3_destination_update,
        input.s3_destination_update,
    ) {
        (Some(update), None) => parse_destination(firehose, account, update, Some(&current), true)?,
        (None, Some(update)) => {
            parse_destination(firehose, account, update, Some(&current), false)?
        }
        _ => {
            return Err(ApiError::invalid_argument(
                "Give exactly one of ExtendedS3DestinationUpdate and S3DestinationUpdate.".into(),
            ))
        }
    };
    firehose
        .update_destination(name, version, destination)
        .map_err(worded(account))?;
    done(format)
}

fn list_tags(
    firehose: &Firehose,
    account: Account<'_>,
    input: TagsInput,
    format: Format,
) -> Response {
    let limit = input.limit.unwrap_or(50).clamp(1, 50) as usize;
    let described = firehose
        .describe(&input.delivery_stream_name)
        .map_err(worded(account))?;
    let tags = described.meta.tags;
    let start = input.exclusive_start_tag_key.as_deref();
    reply(
        format,
        &crate::kinesis::actions::tags_page(tags, start, limit),
    )
}

#[cfg(test)]
mod tests {
    //! Delivery-stream facts in Firehose's words, with the server's account.
    use super::*;
    use crate::kinesis::errors::TEST_ACCOUNT;

    /// A missing or existing delivery stream names the account; ARNs name the
    /// region too.
    #[test]
    fn facts_worded_with_the_account() {
        let name = || "d".to_string();
        let cases = [
            (
                FirehoseError::DeliveryStreamNotFound { name: name() },
                "ResourceNotFoundException",
                "Firehose d under account 123456789012 not found.",
            ),
            (
                FirehoseError::DeliveryStreamExists { name: name() },
                "ResourceInUseException",
                "Firehose d under accountId 123456789012 already exists",
            ),
        ];
        for (error, code, message) in cases {
            let worded = firehose_error(error, TEST_ACCOUNT);
            assert_eq!((worded.code, worded.message.as_str()), (code, message));
        }
        assert_eq!(
            delivery_stream_arn(TEST_ACCOUNT, "d"),
            "arn:aws:firehose:eu-west-1:123456789012:deliverystream/d"
        );
    }

    /// A source stream that does not exist, or whose name breaks Kinesis's name rule,
    /// is the caller's error (InvalidArgumentException), not the server's.
    #[test]
    fn bad_source_streams_are_invalid_arguments() {
        let causes = [
            ReadError::StreamNotFound {
                stream: "missing".into(),
            },
            ReadError::InvalidField {
                field: shardlog_engine::Field::StreamName,
                value: Some("bad name!".into()),
                constraint: shardlog_engine::Constraint::Name { chars_max: 128 },
            },
        ];
        for cause in causes {
            let worded = create_error(FirehoseError::Engine(cause), TEST_ACCOUNT);
            assert_eq!(
                worded.code, "InvalidArgumentException",
                "{}",
                worded.message
            );
            assert!(
                worded.message.starts_with("source stream: "),
                "{}",
                worded.message
            );
        }
    }
}
