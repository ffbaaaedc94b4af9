//! Typed responses of the Firehose actions, written by the request's codec
//! (`Format::serialize`). Members are named as the model names them; absent
//! optional members are left out.

use crate::protocol::wire::Timestamp;
use serde::Serialize;

/// CreateDeliveryStream's output.
#[derive(Debug, Serialize)]
pub(crate) struct CreateOutput {
    #[serde(rename = "DeliveryStreamARN")]
    pub(crate) delivery_stream_arn: String,
}

/// DescribeDeliveryStream's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeOutput {
    pub(crate) delivery_stream_description: DescriptionOut,
}

/// `DeliveryStreamDescription`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescriptionOut {
    pub(crate) delivery_stream_name: String,
    #[serde(rename = "DeliveryStreamARN")]
    pub(crate) delivery_stream_arn: String,
    pub(crate) delivery_stream_status: &'static str,
    pub(crate) delivery_stream_type: &'static str,
    pub(crate) version_id: String,
    pub(crate) create_timestamp: Timestamp,
    pub(crate) last_update_timestamp: Timestamp,
    pub(crate) destinations: [DestinationOut; 1],
    pub(crate) has_more_destinations: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) source: Option<SourceOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) failure_description: Option<FailureOut>,
}

/// `SourceDescription`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SourceOut {
    pub(crate) kinesis_stream_source_description: KinesisSourceOut,
}

/// `KinesisStreamSourceDescription`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KinesisSourceOut {
    #[serde(rename = "KinesisStreamARN")]
    pub(crate) kinesis_stream_arn: String,
    pub(crate) delivery_start_timestamp: Timestamp,
}

/// `FailureDescription`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FailureOut {
    #[serde(rename = "Type")]
    pub(crate) kind: &'static str,
    pub(crate) details: String,
}

/// `DestinationDescription`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DestinationOut {
    pub(crate) destination_id: &'static str,
    #[serde(rename = "S3DestinationDescription")]
    pub(crate) s3: S3DestinationOut,
    #[serde(
        rename = "ExtendedS3DestinationDescription",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) extended_s3: Option<S3DestinationOut>,
}

/// `S3DestinationDescription`, and `ExtendedS3DestinationDescription` with the
/// extended members.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct S3DestinationOut {
    #[serde(rename = "RoleARN")]
    pub(crate) role_arn: String,
    #[serde(rename = "BucketARN")]
    pub(crate) bucket_arn: String,
    pub(crate) prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_output_prefix: Option<String>,
    pub(crate) buffering_hints: BufferingHintsOut,
    pub(crate) compression_format: &'static str,
    pub(crate) encryption_configuration: EncryptionOut,
    // Extended only (no `flatten`: it would make ciborium write a map of
    // indefinite length).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) processing_configuration: Option<ProcessingOut>,
    #[serde(rename = "S3BackupMode", skip_serializing_if = "Option::is_none")]
    pub(crate) s3_backup_mode: Option<&'static str>,
    #[serde(
        rename = "S3BackupDescription",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) s3_backup_description: Option<BackupOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data_format_conversion_configuration: Option<ConversionOut>,
}

/// `BufferingHints`.
#[derive(Debug, Serialize)]
pub(crate) struct BufferingHintsOut {
    #[serde(rename = "SizeInMBs")]
    pub(crate) size_mib: u32,
    #[serde(rename = "IntervalInSeconds")]
    pub(crate) interval_s: u32,
}

/// `EncryptionConfiguration`: none.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EncryptionOut {
    pub(crate) no_encryption_config: &'static str,
}

/// `ProcessingConfiguration`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProcessingOut {
    pub(crate) enabled: bool,
    pub(crate) processors: Vec<ProcessorOut>,
}

/// `Processor`.
#[derive(Debug, Serialize)]
pub(crate) struct ProcessorOut {
    #[serde(rename = "Type")]
    pub(crate) kind: &'static str,
}

/// `S3BackupDescription`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BackupOut {
    #[serde(rename = "BucketARN")]
    pub(crate) bucket_arn: String,
    pub(crate) prefix: String,
    pub(crate) compression_format: &'static str,
}

/// `DataFormatConversionConfiguration` (Parquet out, with its columns).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConversionOut {
    pub(crate) enabled: bool,
    pub(crate) schema_configuration: SchemaOut,
    pub(crate) output_format_configuration: OutputFormatOut,
}

/// `SchemaConfiguration` with this server's `Columns`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SchemaOut {
    pub(crate) columns: Vec<ColumnOut>,
}

/// One column.
#[derive(Debug, Serialize)]
pub(crate) struct ColumnOut {
    #[serde(rename = "Name")]
    pub(crate) name: String,
    #[serde(rename = "Type")]
    pub(crate) kind: &'static str,
}

/// `OutputFormatConfiguration`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OutputFormatOut {
    pub(crate) serializer: SerializerOut,
}

/// `Serializer`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SerializerOut {
    pub(crate) parquet_ser_de: ParquetOut,
}

/// `ParquetSerDe`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ParquetOut {
    pub(crate) compression: &'static str,
}

/// ListDeliveryStreams' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListOutput {
    pub(crate) delivery_stream_names: Vec<String>,
    pub(crate) has_more_delivery_streams: bool,
}

/// PutRecord's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutRecordOutput {
    pub(crate) record_id: String,
    pub(crate) encrypted: bool,
}

/// PutRecordBatch's output (this server accepts a batch whole or refuses it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutRecordBatchOutput {
    pub(crate) failed_put_count: u32,
    pub(crate) encrypted: bool,
    pub(crate) request_responses: Vec<RecordIdOut>,
}

/// `PutRecordBatchResponseEntry`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RecordIdOut {
    pub(crate) record_id: String,
}
