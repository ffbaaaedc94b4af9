//! Typed requests of the Firehose actions, read after validation against the
//! model (types, required members, patterns, enums already checked). Members are
//! named as the model names them; `StartingPosition` and `Columns` are this
//! server's extensions, which the model does not know.

use crate::protocol::wire::Blob;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// The input of the actions that name a delivery stream only (Delete, Describe).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NamedInput {
    /// The delivery stream.
    pub(crate) delivery_stream_name: String,
}

/// CreateDeliveryStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateInput {
    /// The new delivery stream's name.
    pub(crate) delivery_stream_name: String,
    /// `DirectPut` (the default) or `KinesisStreamAsSource`.
    pub(crate) delivery_stream_type: Option<String>,
    /// The source stream of a `KinesisStreamAsSource` delivery stream.
    pub(crate) kinesis_stream_source_configuration: Option<KinesisSourceInput>,
    /// An extended S3 destination.
    pub(crate) extended_s3_destination_configuration: Option<DestinationInput>,
    /// A plain S3 destination.
    pub(crate) s3_destination_configuration: Option<DestinationInput>,
    /// Tags to set.
    #[serde(default)]
    pub(crate) tags: Vec<TagInput>,
}

/// `KinesisStreamSourceConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KinesisSourceInput {
    /// The source stream.
    #[serde(rename = "KinesisStreamARN")]
    pub(crate) kinesis_stream_arn: String,
    /// `LATEST` (Firehose's only start, the default) or `TRIM_HORIZON` (an extension).
    pub(crate) starting_position: Option<String>,
}

/// An S3 destination's configuration (create) or update: absent members keep
/// their values in an update.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DestinationInput {
    /// `arn:aws:s3:::<bucket>`.
    #[serde(rename = "BucketARN")]
    pub(crate) bucket_arn: Option<String>,
    /// The role Firehose would assume (kept and shown, not used).
    #[serde(rename = "RoleARN")]
    pub(crate) role_arn: Option<String>,
    /// Object name prefix.
    pub(crate) prefix: Option<String>,
    /// Prefix of objects holding records that failed.
    pub(crate) error_output_prefix: Option<String>,
    /// When to flush.
    pub(crate) buffering_hints: Option<BufferingHintsInput>,
    /// Object compression.
    pub(crate) compression_format: Option<String>,
    /// Extended: record processors.
    pub(crate) processing_configuration: Option<ProcessingInput>,
    /// Extended: record format conversion.
    pub(crate) data_format_conversion_configuration: Option<ConversionInput>,
    /// Extended: `Enabled` or `Disabled`.
    pub(crate) s3_backup_mode: Option<String>,
    /// Extended: where source records are backed up.
    pub(crate) s3_backup_configuration: Option<BackupInput>,
}

/// `BufferingHints`.
#[derive(Debug, Deserialize)]
pub(crate) struct BufferingHintsInput {
    /// Flush at this size.
    #[serde(rename = "SizeInMBs")]
    pub(crate) size_mib: Option<i128>,
    /// Flush after this long.
    #[serde(rename = "IntervalInSeconds")]
    pub(crate) interval_s: Option<i128>,
}

/// `ProcessingConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProcessingInput {
    /// Whether the processors run; default false.
    pub(crate) enabled: Option<bool>,
    /// The processors.
    #[serde(default)]
    pub(crate) processors: Vec<ProcessorInput>,
}

/// `Processor`.
#[derive(Debug, Deserialize)]
pub(crate) struct ProcessorInput {
    /// The processor's type.
    #[serde(rename = "Type")]
    pub(crate) kind: String,
}

/// `DataFormatConversionConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConversionInput {
    /// Whether records are converted; default true.
    pub(crate) enabled: Option<bool>,
    /// The output format.
    pub(crate) output_format_configuration: Option<OutputFormatInput>,
    /// The schema.
    pub(crate) schema_configuration: Option<SchemaInput>,
}

/// `OutputFormatConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OutputFormatInput {
    /// The serializer.
    pub(crate) serializer: Option<SerializerInput>,
}

/// `Serializer`: Parquet, or ORC (refused).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SerializerInput {
    /// Parquet's options.
    pub(crate) parquet_ser_de: Option<ParquetInput>,
    /// ORC's options (only their presence matters: ORC is not supported).
    pub(crate) orc_ser_de: Option<IgnoredAny>,
}

/// `ParquetSerDe`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ParquetInput {
    /// Page compression; default SNAPPY.
    pub(crate) compression: Option<String>,
}

/// `SchemaConfiguration`, with this server's `Columns`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SchemaInput {
    /// The local catalog's database.
    pub(crate) database_name: Option<String>,
    /// The local catalog's table.
    pub(crate) table_name: Option<String>,
    /// Columns declared in the request (an extension).
    pub(crate) columns: Option<Vec<ColumnInput>>,
}

/// One declared column.
#[derive(Debug, Deserialize)]
pub(crate) struct ColumnInput {
    /// The column's name.
    #[serde(rename = "Name")]
    pub(crate) name: Option<String>,
    /// The column's Hive type.
    #[serde(rename = "Type")]
    pub(crate) kind: Option<String>,
}

/// `S3BackupConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BackupInput {
    /// `arn:aws:s3:::<bucket>`.
    #[serde(rename = "BucketARN")]
    pub(crate) bucket_arn: String,
    /// Object name prefix.
    pub(crate) prefix: Option<String>,
    /// Object compression.
    pub(crate) compression_format: Option<String>,
}

/// A `Tag`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagInput {
    /// The key.
    pub(crate) key: String,
    /// The value; default empty.
    #[serde(default)]
    pub(crate) value: String,
}

/// ListDeliveryStreams' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    /// Most names returned; default 10.
    pub(crate) limit: Option<i128>,
    /// Only delivery streams of this source type.
    pub(crate) delivery_stream_type: Option<String>,
    /// List the names after this one.
    pub(crate) exclusive_start_delivery_stream_name: Option<String>,
}

/// One record of PutRecord and PutRecordBatch.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RecordInput {
    /// The payload.
    pub(crate) data: Blob,
}

/// PutRecord's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutRecordInput {
    /// The delivery stream.
    pub(crate) delivery_stream_name: String,
    /// The record.
    pub(crate) record: RecordInput,
}

/// PutRecordBatch's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutRecordBatchInput {
    /// The delivery stream.
    pub(crate) delivery_stream_name: String,
    /// The records, in order.
    pub(crate) records: Vec<RecordInput>,
}

/// UpdateDestination's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateDestinationInput {
    /// The delivery stream.
    pub(crate) delivery_stream_name: String,
    /// The version the update applies to (refused if it is no longer current).
    pub(crate) current_delivery_stream_version_id: String,
    /// The destination to update.
    pub(crate) destination_id: String,
    /// An extended S3 update.
    pub(crate) extended_s3_destination_update: Option<DestinationInput>,
    /// A plain S3 update.
    pub(crate) s3_destination_update: Option<DestinationInput>,
}

/// TagDeliveryStream's, UntagDeliveryStream's and ListTagsForDeliveryStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagsInput {
    /// The delivery stream.
    pub(crate) delivery_stream_name: String,
    /// TagDeliveryStream's tags.
    #[serde(default)]
    pub(crate) tags: Vec<TagInput>,
    /// UntagDeliveryStream's keys.
    #[serde(default)]
    pub(crate) tag_keys: Vec<String>,
    /// ListTagsForDeliveryStream: list the tags after this key.
    pub(crate) exclusive_start_tag_key: Option<String>,
    /// ListTagsForDeliveryStream: most tags listed; default 50.
    pub(crate) limit: Option<i128>,
}
