//! Firehose actions (`Firehose_20150804.*`): request fields in, delivery-stream
//! call, response fields out. Firehose's error codes live here.

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

/// Runs `action` (the part after `Firehose_20150804.`) with its request fields.
pub fn dispatch(firehose: Option<&Firehose>, action: &str, fields: Fields<'_>) -> Response {
    let Some(firehose) = firehose else {
        return Err(ApiError::client(
            "UnknownOperationException",
            "The Firehose API is not enabled on this server.".into(),
        ));
    };
    match action {
        "CreateDeliveryStream" => create(firehose, fields),
        "DeleteDeliveryStream" => {
            firehose.delete(fields.required_str("DeliveryStreamName")?)?;
            Ok(Out::new().into())
        }
        "DescribeDeliveryStream" => describe(firehose, fields),
        "ListDeliveryStreams" => list(firehose, fields),
        "PutRecord" => put_record(firehose, fields),
        "PutRecordBatch" => put_record_batch(firehose, fields),
        "UpdateDestination" => update_destination(firehose, fields),
        "TagDeliveryStream" => {
            let name = fields.required_str("DeliveryStreamName")?;
            firehose.tag(name, tag_list(&fields, "Tags")?)?;
            Ok(Out::new().into())
        }
        "UntagDeliveryStream" => {
            let name = fields.required_str("DeliveryStreamName")?;
            firehose.untag(name, &fields.string_list("TagKeys")?)?;
            Ok(Out::new().into())
        }
        "ListTagsForDeliveryStream" => list_tags(firehose, fields),
        _ => Err(ApiError::client(
            "UnknownOperationException",
            format!("Operation {action} is not supported by this server."),
        )),
    }
}

/// `[{"Key": .., "Value": ..}]` as a map.
fn tag_list(fields: &Fields<'_>, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut tags = BTreeMap::new();
    for item in fields.list(name)?.unwrap_or_default() {
        let tag = Fields::new(item, fields.format())?;
        let value = tag.str("Value")?.unwrap_or("");
        tags.insert(tag.required_str("Key")?.to_string(), value.to_string());
    }
    Ok(tags)
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

fn create(firehose: &Firehose, fields: Fields<'_>) -> Response {
    let name = fields.required_str("DeliveryStreamName")?;
    let source = match fields.str("DeliveryStreamType")?.unwrap_or("DirectPut") {
        "DirectPut" => SourceConfig::DirectPut,
        "KinesisStreamAsSource" => kinesis_source(&fields)?,
        other => {
            return Err(ApiError::invalid_argument(format!(
            "DeliveryStreamType {other} is not supported; use DirectPut or KinesisStreamAsSource."
        )))
        }
    };
    let extended = fields.structure("ExtendedS3DestinationConfiguration")?;
    let plain = fields.structure("S3DestinationConfiguration")?;
    let destination = match (extended, plain) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_argument(
                "Give only one of ExtendedS3DestinationConfiguration and S3DestinationConfiguration.".into(),
            ))
        }
        (Some(config), None) => parse_destination(firehose, &config, None, true)?,
        (None, Some(config)) => parse_destination(firehose, &config, None, false)?,
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
        .create(config, tag_list(&fields, "Tags")?)
        .map_err(|error| create_error(error, firehose))?;
    Ok(Out::new()
        .with("DeliveryStreamARN", firehose.arn(name))
        .into())
}

fn kinesis_source(fields: &Fields<'_>) -> Result<SourceConfig, ApiError> {
    let source = fields
        .structure("KinesisStreamSourceConfiguration")?
        .ok_or_else(|| {
            ApiError::invalid_argument(
                "KinesisStreamSourceConfiguration is required for KinesisStreamAsSource.".into(),
            )
        })?;
    let arn = source.required_str("KinesisStreamARN")?;
    let stream_name = arn
        .split_once(":stream/")
        .map(|(_, name)| name)
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| {
            ApiError::invalid_argument(format!("KinesisStreamARN {arn} is not a stream ARN."))
        })?;
    // Firehose starts at LATEST; `StartingPosition` is this server's extension.
    let start = match source.str("StartingPosition")?.unwrap_or("LATEST") {
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
    fields: &Fields<'_>,
    base: Option<&DestinationConfig>,
    extended: bool,
) -> Result<DestinationConfig, ApiError> {
    let bucket = match (fields.str("BucketARN")?, base) {
        (Some(arn), _) => bucket_of(arn)?,
        (None, Some(base)) => base.bucket.clone(),
        (None, None) => return Err(ApiError::missing("BucketARN")),
    };
    let hints = fields.structure("BufferingHints")?;
    let base_hints = base.map(|b| b.buffering).unwrap_or_default();
    let hint = |name: &str, default: u32| -> Result<u32, ApiError> {
        let value = hints.map(|h| h.int(name)).transpose()?.flatten();
        value.map_or(Ok(default), |v| {
            u32::try_from(v).map_err(|_| {
                ApiError::invalid_argument(format!("BufferingHints.{name} {v} is out of range."))
            })
        })
    };
    let buffering = Buffering {
        size_mib: hint("SizeInMBs", base_hints.size_mib)?,
        interval_s: hint("IntervalInSeconds", base_hints.interval_s)?,
    };
    let compression = match fields.str("CompressionFormat")? {
        Some(name) => Compression::parse(name)?,
        None => base.map_or(Compression::Uncompressed, |b| b.compression),
    };
    let text = |name: &str, base: Option<&String>| -> Result<Option<String>, ApiError> {
        Ok(fields
            .str(name)?
            .map(str::to_string)
            .or_else(|| base.cloned()))
    };
    let mut destination = DestinationConfig {
        bucket,
        prefix: text("Prefix", base.map(|b| &b.prefix))?.unwrap_or_default(),
        error_output_prefix: text(
            "ErrorOutputPrefix",
            base.and_then(|b| b.error_output_prefix.as_ref()),
        )?,
        buffering,
        compression,
        newline_delimiter: base.is_some_and(|b| b.newline_delimiter),
        conversion: base.and_then(|b| b.conversion.clone()),
        backup: base.and_then(|b| b.backup.clone()),
        extended: extended || base.is_some_and(|b| b.extended),
        role_arn: text("RoleARN", base.map(|b| &b.role_arn))?.unwrap_or_default(),
    };
    if extended {
        parse_extended(firehose, fields, &mut destination)?;
    }
    Ok(destination)
}

/// The ExtendedS3 parts: delimiter processor, format conversion, backup.
fn parse_extended(
    firehose: &Firehose,
    fields: &Fields<'_>,
    destination: &mut DestinationConfig,
) -> Result<(), ApiError> {
    if let Some(processing) = fields.structure("ProcessingConfiguration")? {
        let enabled = processing.bool("Enabled")?.unwrap_or(false);
        let mut delimiter = false;
        for processor in processing.list("Processors")?.unwrap_or_default() {
            let processor = Fields::new(processor, fields.format())?;
            match processor.required_str("Type")? {
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
    if let Some(conversion) = fields.structure("DataFormatConversionConfiguration")? {
        destination.conversion = parse_conversion(firehose, &conversion)?;
    }
    match fields.str("S3BackupMode")? {
        Some("Enabled") => {
            let backup = fields.structure("S3BackupConfiguration")?.ok_or_else(|| {
                ApiError::invalid_argument(
                    "S3BackupMode Enabled needs S3BackupConfiguration.".into(),
                )
            })?;
            destination.backup = Some(Backup {
                bucket: bucket_of(backup.required_str("BucketARN")?)?,
                prefix: backup.str("Prefix")?.unwrap_or("").to_string(),
                compression: match backup.str("CompressionFormat")? {
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
    fields: &Fields<'_>,
) -> Result<Option<Conversion>, ApiError> {
    if !fields.bool("Enabled")?.unwrap_or(true) {
        return Ok(None);
    }
    let serializer = fields
        .structure("OutputFormatConfiguration")?
        .and_then(|o| o.structure("Serializer").transpose())
        .transpose()?;
    let parquet = serializer
        .map(|s| s.structure("ParquetSerDe"))
        .transpose()?
        .flatten();
    if serializer.is_some_and(|s| s.structure("OrcSerDe").ok().flatten().is_some()) {
        return Err(ApiError::invalid_argument(
            "OrcSerDe is not supported; use ParquetSerDe.".into(),
        ));
    }
    let compression = match parquet.map(|p| p.str("Compression")).transpose()?.flatten() {
        Some(name) => ParquetCompression::parse(name)?,
        None => ParquetCompression::Snappy,
    };
    let schema = fields.structure("SchemaConfiguration")?;
    let mut columns = match schema {
        Some(schema) => match (schema.str("DatabaseName")?, schema.str("TableName")?) {
            (Some(database), Some(table)) => {
                catalog_columns(&firehose.config().data_dir, database, table)?
            }
            _ => None,
        },
        None => None,
    };
    if let Some(declared) = schema.map(|s| s.list("Columns")).transpose()?.flatten() {
        let mut parsed = Vec::with_capacity(declared.len());
        for column in declared {
            let column = Fields::new(column, fields.format())?;
            parsed.push(Column {
                name: column.required_str("Name")?.to_string(),
                kind: ColumnType::parse(column.required_str("Type")?)?,
            });
        }
        columns = Some(parsed);
    }
    Ok(Some(Conversion {
        columns,
        compression,
    }))
}

fn describe(firehose: &Firehose, fields: Fields<'_>) -> Response {
    let name = fields.required_str("DeliveryStreamName")?;
    let status = firehose.describe(name)?;
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

fn list(firehose: &Firehose, fields: Fields<'_>) -> Response {
    let limit = fields.int("Limit")?.unwrap_or(10);
    if !(1..=LIST_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {LIST_LIMIT_MAX}"
        )));
    }
    let direct_put = match fields.str("DeliveryStreamType")? {
        None => None,
        Some("DirectPut") => Some(true),
        Some("KinesisStreamAsSource") => Some(false),
        Some(other) => {
            return Err(ApiError::invalid_argument(format!(
                "DeliveryStreamType {other} is not DirectPut or KinesisStreamAsSource."
            )))
        }
    };
    let (names, more) = firehose.list(
        limit as usize,
        fields.str("ExclusiveStartDeliveryStreamName")?,
        direct_put,
    );
    let names: Vec<Value> = names.into_iter().map(Value::Text).collect();
    Ok(Out::new()
        .with("DeliveryStreamNames", names)
        .with("HasMoreDeliveryStreams", more)
        .into())
}

fn put_record(firehose: &Firehose, fields: Fields<'_>) -> Response {
    let name = fields.required_str("DeliveryStreamName")?;
    let record = fields
        .structure("Record")?
        .ok_or_else(|| ApiError::missing("Record"))?;
    let data = record.required_blob("Data")?;
    let ids = firehose.put_records(name, &[data.as_slice()])?;
    Ok(Out::new()
        .with("RecordId", ids.into_iter().next().unwrap_or_default())
        .with("Encrypted", false)
        .into())
}

fn put_record_batch(firehose: &Firehose, fields: Fields<'_>) -> Response {
    let name = fields.required_str("DeliveryStreamName")?;
    let records = fields
        .list("Records")?
        .ok_or_else(|| ApiError::missing("Records"))?;
    let max = shardlog_firehose::service::BATCH_RECORDS_MAX;
    if records.is_empty() || records.len() > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{}' at 'records' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to 1",
            records.len()
        )));
    }
    let mut data = Vec::with_capacity(records.len());
    for record in records {
        data.push(Fields::new(record, fields.format())?.required_blob("Data")?);
    }
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let ids = firehose.put_records(name, &refs)?;
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

fn update_destination(firehose: &Firehose, fields: Fields<'_>) -> Response {
    let name = fields.required_str("DeliveryStreamName")?;
    let version = fields.required_str("CurrentDeliveryStreamVersionId")?;
    let version: u64 = version.parse().map_err(|_| {
        ApiError::invalid_argument(format!(
            "CurrentDeliveryStreamVersionId {version} is not a version id."
        ))
    })?;
    let destination_id = fields.required_str("DestinationId")?;
    if destination_id != shardlog_firehose::meta::DESTINATION_ID {
        return Err(ApiError::invalid_argument(format!(
            "Destination {destination_id} does not exist; the destination is {}.",
            shardlog_firehose::meta::DESTINATION_ID
        )));
    }
    let current = firehose.describe(name)?.meta.config.destination;
    let destination = match (
        fields.structure("ExtendedS3DestinationUpdate")?,
        fields.structure("S3DestinationUpdate")?,
    ) {
        (Some(update), None) => parse_destination(firehose, &update, Some(&current), true)?,
        (None, Some(update)) => parse_destination(firehose, &update, Some(&current), false)?,
        _ => {
            return Err(ApiError::invalid_argument(
                "Give exactly one of ExtendedS3DestinationUpdate and S3DestinationUpdate.".into(),
            ))
        }
    };
    firehose.update_destination(name, version, destination)?;
    Ok(Out::new().into())
}

fn list_tags(firehose: &Firehose, fields: Fields<'_>) -> Response {
    let name = fields.required_str("DeliveryStreamName")?;
    let limit = fields.int("Limit")?.unwrap_or(50).clamp(1, 50) as usize;
    let start = fields.str("ExclusiveStartTagKey")?;
    let tags = firehose.describe(name)?.meta.tags;
    Ok(crate::kinesis::actions::tags_page(tags, start, limit))
}
