//! From a buffer of records to the objects of one flush: the data object
//! (compressed, or converted to Parquet), the error object of records that failed
//! conversion, and the raw backup. Keys derive from the source range, so the same
//! buffer always gives the same objects.

use crate::checkpoint::Positions;
use crate::compress::Compression;
use crate::convert::{infer_columns, to_parquet};
use crate::error::Result;
use crate::meta::StreamMeta;
use crate::naming::{object_key, range_id};
use crate::source::SourceRecord;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The default prefix of objects holding records that failed conversion.
pub const DEFAULT_ERROR_PREFIX: &str = "format-conversion-failed/";
/// Firehose's error code for a record that failed format conversion.
pub const CONVERSION_ERROR_CODE: &str = "DataFormatConversion.MalformedData";

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The bytes.
    pub body: Vec<u8>,
}

/// Text naming the range of `buffer` after `from`, per partition:
/// `<partition>:<after>..=<last>;` (`after` is `-` when nothing was delivered).
pub fn describe_range(from: &Positions, buffer: &[SourceRecord]) -> String {
    let mut last = Positions::new();
    for record in buffer {
        let entry = last
            .entry(record.partition.to_string())
            .or_insert(record.position);
        *entry = (*entry).max(record.position);
    }
    let mut text = String::new();
    for (partition, last) in &last {
        let after = from
            .get(partition)
            .map_or_else(|| "-".to_string(), u128::to_string);
        let _ = write!(text, "{partition}:{after}..={last};");
    }
    text
}

fn joined(buffer: &[SourceRecord], newline: bool) -> Vec<u8> {
    let total: usize = buffer.iter().map(|r| r.data.len() + 1).sum();
    let mut body = Vec::with_capacity(total);
    for record in buffer {
        body.extend_from_slice(&record.data);
        if newline {
            body.push(b'\n');
        }
    }
    body
}

/// What names the objects of one flush besides the configuration: the id derived
/// from its source range and the time of its first record. Kept in the checkpoint
/// with the range, so that a redelivery names its objects as the interrupted flush
/// did even when it reads back fewer records (retention or compaction removed some
/// meanwhile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushName {
    /// The range's id (see [`range_id`]).
    pub id: String,
    /// The earliest arrival time of the flush's records, ms since the epoch.
    pub time_ms: u64,
}

impl FlushName {
    /// The name of a flush of `buffer` (records after `from`).
    pub fn of(from: &Positions, buffer: &[SourceRecord]) -> FlushName {
        FlushName {
            id: range_id(&describe_range(from, buffer)),
            time_ms: buffer.iter().map(|r| r.arrival_ms).min().unwrap_or(0),
        }
    }
}

/// The objects of one flush of `buffer`, named by `flush`. May set
/// `meta.inferred_columns` (the caller persists it before writing anything).
pub fn build_objects(
    meta: &mut StreamMeta,
    flush: &FlushName,
    buffer: &[SourceRecord],
) -> Result<Vec<Object>> {
    let destination = meta.config.destination.clone();
    let name = meta.config.name.clone();
    let key = |prefix: &str, extension: &str| {
        object_key(
            prefix,
            &name,
            meta.version_id,
            flush.time_ms,
            &flush.id,
            extension,
        )
    };
    let mut objects = Vec::new();
    match &destination.conversion {
        None => objects.push(compressed_object(
            &destination.bucket,
            |extension| key(&destination.prefix, extension),
            destination.compression,
            &joined(buffer, destination.newline_delimiter),
        )?),
        Some(conversion) => {
            let columns = match (&conversion.columns, &meta.inferred_columns) {
                (Some(declared), _) => declared.clone(),
                (None, Some(inferred)) => inferred.clone(),
                (None, None) => {
                    let inferred = infer_columns(buffer.iter().map(|r| r.data.as_slice()));
                    if !inferred.is_empty() {
                        meta.inferred_columns = Some(inferred.clone());
                    }
                    inferred
                }
            };
            let records: Vec<&[u8]> = buffer.iter().map(|r| r.data.as_slice()).collect();
            let (parquet, failures) = if columns.is_empty() {
                let reason = "no schema: no record of the first buffer is a JSON object with a non-null field";
                (
                    None,
                    (0..records.len())
                        .map(|i| (i, reason.to_string()))
                        .collect(),
                )
            } else {
                let converted = to_parquet(&records, &columns, conversion.compression)?;
                (converted.parquet, converted.failures)
            };
            if let Some(body) = parquet {
                objects.push(Object {
                    bucket: destination.bucket.clone(),
                    key: key(&destination.prefix, ".parquet"),
                    body,
                });
            }
            if !failures.is_empty() {
                let prefix = destination
                    .error_output_prefix
                    .clone()
                    .unwrap_or_else(|| DEFAULT_ERROR_PREFIX.to_string());
                objects.push(Object {
                    bucket: destination.bucket.clone(),
                    key: key(&prefix, ""),
                    body: error_lines(buffer, &failures),
                });
            }
        }
    }
    if let Some(backup) = &destination.backup {
        objects.push(compressed_object(
            &backup.bucket,
            |extension| key(&backup.prefix, extension),
            backup.compression,
            &joined(buffer, destination.newline_delimiter),
        )?);
    }
    Ok(objects)
}

/// An object of `body` compressed as `compression`, under the key `key` makes
/// with the compression's extension (a zip's one entry is named after the key).
fn compressed_object(
    bucket: &str,
    key: impl Fn(&str) -> String,
    compression: Compression,
    body: &[u8],
) -> Result<Object> {
    let key = key(compression.extension());
    let entry = key.rsplit('/').next().unwrap_or(&key);
    let entry = entry.strip_suffix(".zip").unwrap_or(entry);
    let body = compression.compress(body, entry)?;
    Ok(Object {
        bucket: bucket.to_string(),
        key,
        body,
    })
}

/// One JSON line per failed record, in Firehose's error-record shape.
fn error_lines(buffer: &[SourceRecord], failures: &[(usize, String)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (index, reason) in failures {
        let record = &buffer[*index];
        let line = serde_json::json!({
            "attemptsMade": 1,
            "arrivalTimestamp": record.arrival_ms,
            "lastErrorCode": CONVERSION_ERROR_CODE,
            "lastErrorMessage": reason,
            "rawData": STANDARD.encode(&record.data),
            "sourcePartition": &*record.partition,
            "sourcePosition": record.position.to_string(),
        });
        body.extend_from_slice(line.to_string().as_bytes());
        body.push(b'\n');
    }
    body
}

#[cfg(test)]
mod tests {
    //! The objects of one flush.
    use super::*;
    use crate::config::{Backup, Buffering, Conversion, DeliveryStreamConfig, DestinationConfig};
    use crate::convert::ParquetCompression;
    use crate::Compression;
    use std::sync::Arc;

    fn meta(conversion: Option<Conversion>, backup: Option<Backup>) -> StreamMeta {
        StreamMeta {
            config: DeliveryStreamConfig {
                name: "orders".into(),
                source: crate::config::SourceConfig::DirectPut,
                destination: DestinationConfig {
                    bucket: "main".into(),
                    prefix: "p/".into(),
                    error_output_prefix: Some("bad/".into()),
                    buffering: Buffering::default(),
                    compression: Compression::Uncompressed,
                    newline_delimiter: true,
                    conversion,
                    backup,
                    extended: true,
                    role_arn: String::new(),
                },
            },
            version_id: 3,
            created_ms: 0,
            updated_ms: 0,
            tags: Default::default(),
            inferred_columns: None,
        }
    }

    fn buffer(data: &[&str]) -> Vec<SourceRecord> {
        let partition: Arc<str> = Arc::from("staging");
        data.iter()
            .enumerate()
            .map(|(i, d)| SourceRecord {
                partition: Arc::clone(&partition),
                position: 10 + i as u128,
                // 2024-02-29T23:59:58.500Z
                arrival_ms: 1_709_251_198_500 + i as u64,
                data: d.as_bytes().to_vec(),
            })
            .collect()
    }

    /// Conversion gives a Parquet object and an error object; backup copies the raw
    /// records; the same buffer always gives the same keys.
    #[test]
    fn parquet_error_and_backup_objects_with_stable_keys() {
        let conversion = Conversion {
            columns: None,
            compression: ParquetCompression::Snappy,
        };
        let backup = Backup {
            bucket: "raw".into(),
            prefix: "copy/".into(),
            compression: Compression::Uncompressed,
        };
        let records = buffer(&[r#"{"a": 1}"#, "oops", r#"{"a": 2}"#]);
        let from: Positions = [("staging".to_string(), 9)].into();
        let mut first_meta = meta(Some(conversion), Some(backup));
        let objects =
            build_objects(&mut first_meta, &FlushName::of(&from, &records), &records).unwrap();
        assert_eq!(objects.len(), 3);
        assert_eq!(describe_range(&from, &records), "staging:9..=12;");
        assert_eq!(
            objects[0].key,
            format!(
                "p/2024/02/29/23/orders-3-2024-02-29-23-59-58-{}.parquet",
                range_id(&describe_range(&from, &records))
            )
        );
        assert_eq!(&objects[0].body[..4], b"PAR1");
        assert!(objects[1].key.starts_with("bad/2024/02/29/23/orders-3-"));
        let error: serde_json::Value =
            serde_json::from_slice(objects[1].body.split(|b| *b == b'\n').next().unwrap()).unwrap();
        assert_eq!(error["rawData"], STANDARD.encode("oops"));
        assert_eq!(error["lastErrorCode"], CONVERSION_ERROR_CODE);
        assert_eq!(objects[2].bucket, "raw");
        assert_eq!(objects[2].body, b"{\"a\": 1}\noops\n{\"a\": 2}\n");
        assert!(first_meta.inferred_columns.is_some());
        let mut again_meta = meta(
            first_meta.config.destination.conversion.clone(),
            first_meta.config.destination.backup.clone(),
        );
        let again =
            build_objects(&mut again_meta, &FlushName::of(&from, &records), &records).unwrap();
        let keys = |objects: &[Object]| objects.iter().map(|o| o.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&again), keys(&objects));
    }

    /// The backup has its own compression: a GZIP backup of an uncompressed
    /// destination is a `.gz` object holding the raw records.
    #[test]
    fn backup_is_compressed_as_its_own_configuration_says() {
        let backup = Backup {
            bucket: "raw".into(),
            prefix: "copy/".into(),
            compression: Compression::Gzip,
        };
        let records = buffer(&["one", "two"]);
        let from: Positions = [("staging".to_string(), 9)].into();
        let objects = build_objects(
            &mut meta(None, Some(backup)),
            &FlushName::of(&from, &records),
            &records,
        )
        .unwrap();
        assert_eq!(objects.len(), 2);
        assert!(!objects[0].key.ends_with(".gz"), "{}", objects[0].key);
        assert_eq!(objects[0].body, b"one\ntwo\n");
        assert!(objects[1].key.starts_with("copy/"), "{}", objects[1].key);
        assert!(objects[1].key.ends_with(".gz"), "{}", objects[1].key);
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&objects[1].body[..]),
            &mut raw,
        )
        .unwrap();
        assert_eq!(raw, b"one\ntwo\n");
    }
}
