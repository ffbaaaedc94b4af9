//! Delivery-stream configuration: source, buffering, compression, conversion and
//! destination, as stored in `<data-dir>/firehose/<name>/meta.json`.

use crate::compress::Compression;
use crate::convert::{Column, ParquetCompression};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Smallest buffering size hint, MiB (Firehose: 1).
pub const BUFFER_MIB_MIN: u32 = 1;
/// Largest buffering size hint, MiB (Firehose: 128).
pub const BUFFER_MIB_MAX: u32 = 128;
/// Largest buffering interval hint, seconds (Firehose: 900).
pub const BUFFER_INTERVAL_S_MAX: u32 = 900;
/// Longest delivery-stream name (Firehose: 64).
pub const NAME_CHARS_MAX: usize = 64;
/// Longest S3 prefix (Firehose: 1024).
pub const PREFIX_CHARS_MAX: usize = 1024;

/// Where records come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceConfig {
    /// PutRecord / PutRecordBatch through the Firehose API.
    DirectPut,
    /// A Kinesis stream of this engine, read from all its shards following lineage.
    Kinesis {
        /// The engine stream's name.
        stream_name: String,
        /// Where reading starts the first time.
        start: StartPosition,
    },
}

/// Where a Kinesis source starts reading when it has no checkpoint yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartPosition {
    /// The oldest retained record.
    TrimHorizon,
    /// Records written after the delivery stream was created.
    Latest,
}

/// Buffering hints: a buffer is flushed at whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buffering {
    /// Flush when the buffer holds this many MiB of record data. Default 5;
    /// range 1..=128.
    pub size_mib: u32,
    /// Flush when the oldest buffered record has waited this many seconds.
    /// Default 300; range 0..=900 (0 flushes as soon as records are read).
    pub interval_s: u32,
}

impl Default for Buffering {
    fn default() -> Self {
        Buffering {
            size_mib: 5,
            interval_s: 300,
        }
    }
}

/// Record format conversion from JSON to Parquet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    /// The declared columns; `None` infers them from the first buffer.
    pub columns: Option<Vec<Column>>,
    /// Parquet page compression.
    pub compression: ParquetCompression,
}

/// A copy of every raw record to a second location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    /// Bucket of the backup objects.
    pub bucket: String,
    /// Key prefix of the backup objects.
    pub prefix: String,
    /// How the backup objects are compressed (S3BackupConfiguration's own
    /// CompressionFormat; delivery streams made before it existed have none).
    #[serde(default = "uncompressed")]
    pub compression: Compression,
}

fn uncompressed() -> Compression {
    Compression::Uncompressed
}

/// The S3 destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationConfig {
    /// Bucket name (from the BucketARN).
    pub bucket: String,
    /// Key prefix; `YYYY/MM/DD/HH/` (UTC) follows it.
    pub prefix: String,
    /// Prefix of objects holding records that failed conversion; default
    /// `format-conversion-failed/`.
    pub error_output_prefix: Option<String>,
    /// Buffering hints.
    pub buffering: Buffering,
    /// Compression of delivered objects (UNCOMPRESSED when converting).
    pub compression: Compression,
    /// Whether a newline is written after each record.
    pub newline_delimiter: bool,
    /// JSON → Parquet conversion, if enabled.
    pub conversion: Option<Conversion>,
    /// Raw-record backup, if enabled.
    pub backup: Option<Backup>,
    /// Whether it was given as ExtendedS3DestinationConfiguration (else plain S3).
    pub extended: bool,
    /// The RoleARN given (kept to be shown back; no IAM here).
    pub role_arn: String,
}

/// A delivery stream's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStreamConfig {
    /// The name: 1 to 64 of `[a-zA-Z0-9_.-]`.
    pub name: String,
    /// Where records come from.
    pub source: SourceConfig,
    /// Where objects go.
    pub destination: DestinationConfig,
}

/// Checks a delivery-stream name.
pub fn validate_name(name: &str) -> Result<()> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if name.is_empty() || name.len() > NAME_CHARS_MAX || !valid_chars {
        return Err(Error::InvalidArgument(format!(
            "DeliveryStreamName '{name}' must be 1 to {NAME_CHARS_MAX} characters of [a-zA-Z0-9_.-]."
        )));
    }
    Ok(())
}

/// Checks a bucket name (S3's rules, simplified: 3 to 63 of `[a-z0-9.-]`).
pub fn validate_bucket(bucket: &str) -> Result<()> {
    let valid_chars = bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'));
    if !(3..=63).contains(&bucket.len()) || !valid_chars || bucket.contains("..") {
        return Err(Error::InvalidArgument(format!(
            "Bucket name '{bucket}' must be 3 to 63 characters of [a-z0-9.-]."
        )));
    }
    Ok(())
}

fn validate_prefix(what: &str, prefix: &str) -> Result<()> {
    if prefix.len() > PREFIX_CHARS_MAX {
        return Err(Error::InvalidArgument(format!(
            "{what} is longer than {PREFIX_CHARS_MAX} characters."
        )));
    }
    // Firehose's `!{namespace:value}` expressions are not evaluated here: refuse
    // them rather than write keys the user did not ask for.
    if prefix.contains("!{") {
        return Err(Error::InvalidArgument(format!(
            "{what} '{prefix}' uses a !{{...}} expression; this server supports literal prefixes only."
        )));
    }
    if prefix.starts_with('/') || prefix.contains("//") || prefix.split('/').any(|p| p == "..") {
        return Err(Error::InvalidArgument(format!(
            "{what} '{prefix}' must not start with '/', contain '//' or a '..' segment."
        )));
    }
    Ok(())
}

impl DeliveryStreamConfig {
    /// Checks every field against its range.
    pub fn validate(&self) -> Result<()> {
        validate_name(&self.name)?;
        if let SourceConfig::Kinesis { stream_name, .. } = &self.source {
            if stream_name.is_empty() {
                return Err(Error::InvalidArgument(
                    "KinesisStreamARN names no stream.".into(),
                ));
            }
        }
        self.destination.validate()
    }
}

impl DestinationConfig {
    /// Checks every field against its range.
    pub fn validate(&self) -> Result<()> {
        validate_bucket(&self.bucket)?;
        validate_prefix("Prefix", &self.prefix)?;
        if let Some(prefix) = &self.error_output_prefix {
            validate_prefix("ErrorOutputPrefix", prefix)?;
        }
        let hints = self.buffering;
        if !(BUFFER_MIB_MIN..=BUFFER_MIB_MAX).contains(&hints.size_mib) {
            return Err(Error::InvalidArgument(format!(
                "BufferingHints.SizeInMBs {} is outside {BUFFER_MIB_MIN}..={BUFFER_MIB_MAX}.",
                hints.size_mib
            )));
        }
        if hints.interval_s > BUFFER_INTERVAL_S_MAX {
            return Err(Error::InvalidArgument(format!(
                "BufferingHints.IntervalInSeconds {} is outside 0..={BUFFER_INTERVAL_S_MAX}.",
                hints.interval_s
            )));
        }
        if self.conversion.is_some() && self.compression != Compression::Uncompressed {
            return Err(Error::InvalidArgument(
                "CompressionFormat must be UNCOMPRESSED when record format conversion is enabled (Parquet compresses its pages itself).".into(),
            ));
        }
        if let Some(conversion) = &self.conversion {
            if let Some(columns) = &conversion.columns {
                crate::convert::validate_columns(columns)?;
            }
        }
        if let Some(backup) = &self.backup {
            validate_bucket(&backup.bucket)?;
            validate_prefix("S3BackupConfiguration.Prefix", &backup.prefix)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Validation of names and hints.
    use super::*;

    fn destination() -> DestinationConfig {
        DestinationConfig {
            bucket: "logs".into(),
            prefix: "in/".into(),
            error_output_prefix: None,
            buffering: Buffering::default(),
            compression: Compression::Gzip,
            newline_delimiter: false,
            conversion: None,
            backup: None,
            extended: true,
            role_arn: String::new(),
        }
    }

    /// Names, buckets, prefixes and hints outside their ranges are refused.
    #[test]
    fn out_of_range_values_are_refused() {
        assert!(validate_name("ok_name.1-2").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("has space").is_err());
        assert!(validate_name(&"x".repeat(65)).is_err());
        assert!(destination().validate().is_ok());
        let mut bad = destination();
        bad.buffering.size_mib = 129;
        assert!(matches!(bad.validate(), Err(Error::InvalidArgument(_))));
        let mut bad = destination();
        bad.buffering.interval_s = 901;
        assert!(bad.validate().is_err());
        let mut bad = destination();
        bad.bucket = "Upper".into();
        assert!(bad.validate().is_err());
        let mut bad = destination();
        bad.prefix = "a/../b".into();
        assert!(bad.validate().is_err());
        let mut bad = destination();
        bad.conversion = Some(Conversion {
            columns: None,
            compression: ParquetCompression::Snappy,
        });
        assert!(bad.validate().is_err(), "conversion needs UNCOMPRESSED");
    }
}
