//! The Firehose side of the torture test: two delivery streams to local buckets,
//! both flushing as soon as records are read (IntervalInSeconds 0): Direct PUT to
//! gzip objects, and the Kinesis stream as source to uncompressed ones; and
//! reading back every record of their objects.

use super::kinesis::{ok as kinesis_ok, STREAM};
use super::load::DIRECT;
use super::model::record_id;
use crate::common::call_firehose;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The delivery stream reading the Kinesis stream.
pub const FROM_STREAM: &str = "torture-from-stream";
/// The bucket of the Direct PUT stream.
pub const DIRECT_BUCKET: &str = "torture-direct";
/// The bucket of the Kinesis-source stream.
pub const FROM_STREAM_BUCKET: &str = "torture-from-stream";

fn destination(bucket: &str, compression: &str, interval_s: u32) -> Value {
    json!({
        "RoleARN": "arn:aws:iam::000000000000:role/torture",
        "BucketARN": format!("arn:aws:s3:::{bucket}"),
        "Prefix": "objects/",
        "CompressionFormat": compression,
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": interval_s},
        "ProcessingConfiguration": {
            "Enabled": true,
            "Processors": [{"Type": "AppendDelimiterToRecord"}],
        },
    })
}

/// Creates both delivery streams (the Kinesis stream exists, with no record yet:
/// the source starts at LATEST, so it delivers every record).
pub fn create_delivery_streams(address: SocketAddr) {
    let direct = json!({
        "DeliveryStreamName": DIRECT,
        "DeliveryStreamType": "DirectPut",
        "ExtendedS3DestinationConfiguration": destination(DIRECT_BUCKET, "GZIP", 0),
    });
    let summary = kinesis_ok(
        address,
        "DescribeStreamSummary",
        &json!({"StreamName": STREAM}),
    );
    let stream_arn = &summary["StreamDescriptionSummary"]["StreamARN"];
    let from_stream = json!({
        "DeliveryStreamName": FROM_STREAM,
        "DeliveryStreamType": "KinesisStreamAsSource",
        "KinesisStreamSourceConfiguration": {
            "KinesisStreamARN": stream_arn,
            "RoleARN": "arn:aws:iam::000000000000:role/torture",
        },
        "ExtendedS3DestinationConfiguration": destination(FROM_STREAM_BUCKET, "UNCOMPRESSED", 0),
    });
    for body in [direct, from_stream] {
        let (status, reply) = call_firehose(address, "CreateDeliveryStream", &body)
            .expect("CreateDeliveryStream answers");
        assert_eq!(status, 200, "{body}: {reply}");
    }
}

/// Every record delivered to a bucket.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Record id → the objects holding it (more than one is a duplicate).
    pub objects_of: BTreeMap<String, Vec<PathBuf>>,
    /// Objects read.
    pub objects: usize,
    /// Dot files beside the objects: temporary files of a write the kill
    /// interrupted, until the next write into their directory removes them.
    pub temporary_files: Vec<PathBuf>,
    /// What is not a whole record of this test, with the object it is in.
    pub strays: Vec<String>,
}

impl Delivered {
    /// Panics unless every object holds whole records of this test, no record is
    /// in two objects (or twice in one), and no temporary file is left beside
    /// them (a restart removes those that kills left).
    pub fn assert_whole_and_once(&self, what: &str) {
        assert!(
            self.strays.is_empty(),
            "{what}: not records: {:?}",
            self.strays
        );
        assert!(
            self.temporary_files.is_empty(),
            "{what}: temporary files left: {:?}",
            self.temporary_files
        );
        let duplicates: Vec<(&String, &Vec<PathBuf>)> = self
            .objects_of
            .iter()
            .filter(|(_, objects)| objects.len() > 1)
            .collect();
        assert!(
            duplicates.is_empty(),
            "{what}: {} records delivered more than once (first: {:?})",
            duplicates.len(),
            duplicates.first()
        );
    }
}

/// Reads every object under `bucket` (gunzipping `.gz` ones) into records, one
/// per line.
pub fn delivered(bucket: &Path) -> Delivered {
    let mut out = Delivered::default();
    let mut directories = vec![bucket.to_path_buf()];
    while let Some(directory) = directories.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue; // no object yet
        };
        for entry in entries {
            let path = entry.expect("list a bucket directory").path();
            let name = path.file_name().unwrap().to_string_lossy();
            if path.is_dir() {
                directories.push(path);
            } else if name.starts_with('.') {
                out.temporary_files.push(path);
            } else {
                read_object(&path, &mut out);
            }
        }
    }
    out
}

fn read_object(path: &Path, out: &mut Delivered) {
    let bytes = std::fs::read(path).expect("read an object");
    let body = if path.extension().is_some_and(|e| e == "gz") {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut text)
            .unwrap_or_else(|error| panic!("{}: not gzip: {error}", path.display()));
        text
    } else {
        bytes
    };
    out.objects += 1;
    let Some(body) = body.strip_suffix(b"\n") else {
        out.strays
            .push(format!("{}: does not end with a newline", path.display()));
        return;
    };
    for line in body.split(|b| *b == b'\n') {
        match record_id(line) {
            Some(id) => out
                .objects_of
                .entry(id.to_string())
                .or_default()
                .push(path.to_path_buf()),
            None => out.strays.push(format!(
                "{}: {:?}",
                path.display(),
                String::from_utf8_lossy(line)
            )),
        }
    }
}
