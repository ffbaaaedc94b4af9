//! Firehose actions (`Firehose_20150804.*`): typed request in, delivery-stream
//! call, response fields out. Firehose's error codes live here.

use super::requests::{
    ConversionInput, CreateInput, DestinationInput, KinesisSourceInput, ListInput, NamedInput,
    PutRecordBatchInput, PutRecordInput, TagInput, TagsInput, UpdateDestinationInput,
};
use crate::error::ApiError;
use crate::kinesis::errors::{api_error, Account};
use crate::protocol::value::{Fields, Out, Value};
use shardlog_engine::ErrorKind;
use shardlog_firehose::{
    convert::catalog_columns, Backup, Buffering, Column, ColumnType, Compression, Conversion,
    DeliveryStreamConfig, DestinationConfig, Error as FirehoseError, Firehose, ParquetCompression,
    SourceConfig, StartPosition, StreamStatus,
};
use std::collections::BTreeMap;

type Response = Result<Value, ApiError>;

/// The `X-Amz-Target` prefix of the Firehose API.
pub const FIREHOSE_TARGET_PREFIX: &str = "Firehose_20150804.";
/// Most names one ListDeliveryStreams returns (Firehose: 10,000).
const LIST_LIMIT_MAX: i128 = 10_000;

impl From<FirehoseError> for ApiError {
    fn from(error: FirehoseError) -> Self {
        let message = error.to_string();
        match error {
            FirehoseError::NotFound(_) => ApiError::client("ResourceNotFoundException", message),
            FirehoseError::InUse(_) => ApiError::client("ResourceInUseException", message),
            FirehoseError::InvalidArgument(_) => ApiError::invalid_argument(message),
            FirehoseError::LimitExceeded(_) => ApiError::client("LimitExceededException", message),
            FirehoseError::Unavailable(_) => ApiError {
                status: 503,
                code: "ServiceUnavailableException",
                message,
            },
            _ => ApiError::internal(message),
        }
    }
}

/// CreateDeliveryStream's error: a Kinesis source stream that does not exist is
/// an invalid argument worded as Kinesis words it, in the delivery stream's account.
/// (Only creation consults the engine; elsewhere an engine error is internal.)
fn create_error(error: FirehoseError, firehose: &Firehose) -> ApiError {
    let FirehoseError::Engine(cause) = &error else {
        return error.into();
    };
    let config = firehose.config();
    let account = Account {
        id: &config.account_id,
        region: &config.region,
    };
    let message = format!("source stream: {}", api_error(cause, account).message);
    match cause.kind() {
        ErrorKind::NotFound => ApiError::invalid_argument(message),
        _ => ApiError::internal(message),
    }
}

/// Runs `action` (the part after `Firehose_20150804.`) on its validated request,
/// read into the action's typed input.
pub fn dispatch(firehose: Option<&Firehose>, action: &str, fields: Fields<'_>) -> Response {
    let Some(firehose) = firehose else {
        return Err(ApiError::client(
            "UnknownOperationException",
            "The Firehose API is not enabled on this server.".into(),
        ));
    };
    match action {
        "CreateDeliveryStream" => create(firehose, fields.typed()?),
        "DeleteDeliveryStream" => {
            let input: NamedInput = fields.typed()?;
            firehose.delete(&input.delivery_stream_name)?;
            Ok(Out::new().into())
        }
        "DescribeDeliveryStream" => describe(firehose, fields.typed()?),
        "ListDeliveryStreams" => list(firehose, fields.typed()?),
        "PutRecord" => put_record(firehose, fields.typed()?),
        "PutRecordBatch" => put_record_batch(firehose, fields.typed()?),
        "UpdateDestination" => update_destination(firehose, fields.typed()?),
        "TagDeliveryStream" => {
            let input: TagsInput = fields.typed()?;
            firehose.tag(&input.delivery_stream_name, tag_map(input.tags))?;
            Ok(Out::new().into())
        }
        "UntagDeliveryStream" => {
            let input: TagsInput = fields.typed()?;
            firehose.untag(&input.delivery_stream_name, &input.tag_keys)?;
            Ok(Out::new().into())
        }
        "ListTagsForDeliveryStream" => list_tags(firehose, fields.typed()?),
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

fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

fn create(firehose: &Firehose, input: CreateInput) -> Response {
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
        (Some(config), None) => parse_destination(firehose, config, None, true)?,
        (None, Some(config)) => parse_destination(firehose, config, None, false)?,
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
        .map_err(|error| create_error(error, firehose))?;
    Ok(Out::new()
        .with("DeliveryStreamARN", firehose.arn(name))
        .into())
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
        Some(name) => Compression::parse(name)?,
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
        parse_extended(firehose, input, &mut destination)?;
    }
    Ok(destination)
}

/// The ExtendedS3 parts: delimiter processor, format conversion, backup.
fn parse_extended(
    firehose: &Firehose,
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
        destination.conversion = parse_conversion(firehose, conversion)?;
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
                    Some(name) => Compression::parse(name)?,
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
        Some(name) => ParquetCompression::parse(&name)?,
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
            catalog_columns(&firehose.config().data_dir, database, table)?
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
                kind: ColumnType::parse(&kind)?,
            });
        }
        columns = Some(parsed);
    }
    Ok(Some(Conversion {
        columns,
        compression,
    }))
}

fn describe(firehose: &Firehose, input: NamedInput) -> Response {
    let status = firehose.describe(&input.delivery_stream_name)?;
    Ok(Out::new()
        .with("DeliveryStreamDescription", description(firehose, &status))
        .into())
}

fn description(firehose: &Firehose, status: &StreamStatus) -> Value {
    let meta = &status.meta;
    let config = &meta.config;
    let (kind, source) = match &config.source {
        SourceConfig::DirectPut => ("DirectPut", None),
        SourceConfig::Kinesis { stream_name, .. } => {
            let arn = format!(
                "arn:aws:kinesis:{}:{}:stream/{stream_name}",
                firehose.config().region,
                firehose.config().account_id
            );
            let description = Out::new()
                .with("KinesisStreamARN", arn)
                .with("DeliveryStartTimestamp", Value::Timestamp(meta.created_ms));
            (
                "KinesisStreamAsSource",
                Some(Out::new().with("KinesisStreamSourceDescription", description)),
            )
        }
    };
    let mut destination = Out::new().with("DestinationId", shardlog_firehose::meta::DESTINATION_ID);
    let s3 = destination_description(&config.destination, false);
    destination = destination.with("S3DestinationDescription", s3);
    if config.destination.extended {
        let extended = destination_description(&config.destination, true);
        destination = destination.with("ExtendedS3DestinationDescription", extended);
    }
    let failure = status.failure.as_ref().map(|details| {
        Out::new()
            .with("Type", "S3_DESTINATION_FAILURE")
            .with("Details", details.clone())
    });
    Out::new()
        .with("DeliveryStreamName", config.name.clone())
        .with("DeliveryStreamARN", firehose.arn(&config.name))
        .with("DeliveryStreamStatus", "ACTIVE")
        .with("DeliveryStreamType", kind)
        .with("VersionId", meta.version_id.to_string())
        .with("CreateTimestamp", Value::Timestamp(meta.created_ms))
        .with("LastUpdateTimestamp", Value::Timestamp(meta.updated_ms))
        .with("Destinations", vec![destination.into()])
        .with("HasMoreDestinations", false)
        .maybe("Source", source)
        .maybe("FailureDescription", failure)
        .into()
}

fn destination_description(destination: &DestinationConfig, extended: bool) -> Out {
    let mut out = Out::new()
        .with("RoleARN", destination.role_arn.clone())
        .with("BucketARN", bucket_arn(&destination.bucket))
        .with("Prefix", destination.prefix.clone())
        .maybe("ErrorOutputPrefix", destination.error_output_prefix.clone())
        .with(
            "BufferingHints",
            Out::new()
                .with("SizeInMBs", destination.buffering.size_mib)
                .with("IntervalInSeconds", destination.buffering.interval_s),
        )
        .with("CompressionFormat", destination.compression.wire_name())
        .with(
            "EncryptionConfiguration",
            Out::new().with("NoEncryptionConfig", "NoEncryption"),
        );
    if !extended {
        return out;
    }
    let processors: Vec<Value> = if destination.newline_delimiter {
        vec![Out::new().with("Type", "AppendDelimiterToRecord").into()]
    } else {
        Vec::new()
    };
    out = out
        .with(
            "ProcessingConfiguration",
            Out::new()
                .with("Enabled", destination.newline_delimiter)
                .with("Processors", processors),
        )
        .with(
            "S3BackupMode",
            if destination.backup.is_some() {
                "Enabled"
            } else {
                "Disabled"
            },
        );
    if let Some(backup) = &destination.backup {
        out = out.with(
            "S3BackupDescription",
            Out::new()
                .with("BucketARN", bucket_arn(&backup.bucket))
                .with("Prefix", backup.prefix.clone())
                .with("CompressionFormat", backup.compression.wire_name()),
        );
    }
    if let Some(conversion) = &destination.conversion {
        let columns: Vec<Value> = conversion
            .columns
            .iter()
            .flatten()
            .map(|c| {
                Out::new()
                    .with("Name", c.name.clone())
                    .with("Type", c.kind.name())
                    .into()
            })
            .collect();
        let serde = Out::new().with("Compression", conversion.compression.wire_name());
        out = out.with(
            "DataFormatConversionConfiguration",
            Out::new()
                .with("Enabled", true)
                .with("SchemaConfiguration", Out::new().with("Columns", columns))
                .with(
                    "OutputFormatConfiguration",
                    Out::new().with("Serializer", Out::new().with("ParquetSerDe", serde)),
                ),
        );
    }
    out
}

fn list(firehose: &Firehose, input: ListInput) -> Response {
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
    let names: Vec<Value> = names.into_iter().map(Value::Text).collect();
    Ok(Out::new()
        .with("DeliveryStreamNames", names)
        .with("HasMoreDeliveryStreams", more)
        .into())
}

fn put_record(firehose: &Firehose, input: PutRecordInput) -> Response {
    let data = input.record.data.0;
    let ids = firehose.put_records(&input.delivery_stream_name, &[data.as_slice()])?;
    Ok(Out::new()
        .with("RecordId", ids.into_iter().next().unwrap_or_default())
        .with("Encrypted", false)
        .into())
}

fn put_record_batch(firehose: &Firehose, input: PutRecordBatchInput) -> Response {
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
    let ids = firehose.put_records(&input.delivery_stream_name, &refs)?;
    let responses: Vec<Value> = ids
        .into_iter()
        .map(|id| Out::new().with("RecordId", id).into())
        .collect();
    Ok(Out::new()
        .with("FailedPutCount", 0u32)
        .with("Encrypted", false)
        .with("RequestResponses", responses)
        .into())
}

fn update_destination(firehose: &Firehose, input: UpdateDestinationInput) -> Response {
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
    let current = firehose.describe(name)?.meta.config.destination;
    let destination = match (
        input.extended_s3_destination_update,
        input.s3_destination_update,
    ) {
        (Some(update), None) => parse_destination(firehose, update, Some(&current), true)?,
        (None, Some(update)) => parse_destination(firehose, update, Some(&current), false)?,
        _ => {
            return Err(ApiError::invalid_argument(
                "Give exactly one of ExtendedS3DestinationUpdate and S3DestinationUpdate.".into(),
            ))
        }
    };
    firehose.update_destination(name, version, destination)?;
    Ok(Out::new().into())
}

fn list_tags(firehose: &Firehose, input: TagsInput) -> Response {
    let limit = input.limit.unwrap_or(50).clamp(1, 50) as usize;
    let tags = firehose.describe(&input.delivery_stream_name)?.meta.tags;
    let start = input.exclusive_start_tag_key.as_deref();
    Ok(crate::kinesis::actions::tags_page(tags, start, limit))
}
