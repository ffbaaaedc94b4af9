//! SubscribeToShardEvent payloads written straight into the event-stream frame, in
//! JSON or CBOR, without building a [`Value`](crate::protocol::value::Value) tree: every
//! subscription encodes every record it pushes, so the copies a tree costs (data
//! into the tree, tree into the codec's own tree, codec output into the frame) are
//! paid per consumer. The output is what [`Format::encode`] makes of the same event
//! (a test checks it), with the same conventions: JSON blobs base64 and timestamps
//! epoch seconds; CBOR blobs as byte strings and timestamps integer milliseconds.

use crate::kinesis::actions::child_value;
use crate::protocol::value::{Format, Value};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use shardlog_engine::{OutputRecord, SubscriptionBatch};

/// Appends `batch` as a SubscribeToShardEvent structure in `format`.
pub(crate) fn write_event(format: Format, batch: &SubscriptionBatch, out: &mut Vec<u8>) {
    let children = batch.child_shards.as_ref().map(|children| {
        let list = children.iter().cloned().map(child_value).collect();
        format.encode(&Value::List(list))
    });
    match format {
        Format::Json => write_json(batch, children.as_deref(), out),
        Format::Cbor => write_cbor(batch, children.as_deref(), out),
    }
}

/// Payload bytes `batch` will take, roughly (base64 is the largest expansion).
pub(crate) fn size_hint(batch: &SubscriptionBatch) -> usize {
    batch
        .records
        .iter()
        .map(|r| r.data.len() / 3 * 4 + r.partition_key.len() + 160)
        .sum::<usize>()
        + 200
}

fn json_string(text: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, text).expect("writing JSON into a Vec");
}

fn write_json(batch: &SubscriptionBatch, children: Option<&[u8]>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"Records\":[");
    for (i, record) in batch.records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_record(record, out);
    }
    out.extend_from_slice(b"],\"ContinuationSequenceNumber\":");
    json_string(&batch.continuation_sequence_number, out);
    out.extend_from_slice(b",\"MillisBehindLatest\":");
    out.extend_from_slice(batch.millis_behind_latest.to_string().as_bytes());
    if let Some(children) = children {
        out.extend_from_slice(b",\"ChildShards\":");
        out.extend_from_slice(children);
    }
    out.push(b'}');
}

fn write_json_record(record: &OutputRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"SequenceNumber\":\"");
    // Sequence numbers are decimal digits: nothing to escape.
    out.extend_from_slice(record.sequence_number.as_bytes());
    out.extend_from_slice(b"\",\"ApproximateArrivalTimestamp\":");
    let seconds = serde_json::Value::from(record.approximate_arrival_ms as f64 / 1000.0);
    serde_json::to_writer(&mut *out, &seconds).expect("writing JSON into a Vec");
    out.extend_from_slice(b",\"Data\":\"");
    let start = out.len();
    out.resize(
        start + base64::encoded_len(record.data.len(), true).unwrap_or(0),
        0,
    );
    let written = STANDARD
        .encode_slice(&record.data, &mut out[start..])
        .expect("buffer sized by encoded_len");
    out.truncate(start + written);
    out.extend_from_slice(b"\",\"PartitionKey\":");
    json_string(&record.partition_key, out);
    out.push(b'}');
}

/// A CBOR head: major type and argument, in the shortest form.
fn cbor_head(major: u8, argument: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match argument {
        0..=23 => out.push(major | argument as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, argument as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(argument as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(argument as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&argument.to_be_bytes());
        }
    }
}

const CBOR_UNSIGNED: u8 = 0;
const CBOR_BYTES: u8 = 2;
const CBOR_TEXT: u8 = 3;
const CBOR_ARRAY: u8 = 4;
const CBOR_MAP: u8 = 5;

fn cbor_text(text: &str, out: &mut Vec<u8>) {
    cbor_head(CBOR_TEXT, text.len() as u64, out);
    out.extend_from_slice(text.as_bytes());
}

fn write_cbor(batch: &SubscriptionBatch, children: Option<&[u8]>, out: &mut Vec<u8>) {
    cbor_head(CBOR_MAP, 3 + u64::from(children.is_some()), out);
    cbor_text("Records", out);
    cbor_head(CBOR_ARRAY, batch.records.len() as u64, out);
    for record in &batch.records {
        cbor_head(CBOR_MAP, 4, out);
        cbor_text("SequenceNumber", out);
        cbor_text(&record.sequence_number, out);
        cbor_text("ApproximateArrivalTimestamp", out);
        cbor_head(CBOR_UNSIGNED, record.approximate_arrival_ms, out);
        cbor_text("Data", out);
        cbor_head(CBOR_BYTES, record.data.len() as u64, out);
        out.extend_from_slice(&record.data);
        cbor_text("PartitionKey", out);
        cbor_text(&record.partition_key, out);
    }
    cbor_text("ContinuationSequenceNumber", out);
    cbor_text(&batch.continuation_sequence_number, out);
    cbor_text("MillisBehindLatest", out);
    cbor_head(CBOR_UNSIGNED, batch.millis_behind_latest, out);
    if let Some(children) = children {
        cbor_text("ChildShards", out);
        out.extend_from_slice(children);
    }
}

#[cfg(test)]
mod tests {
    //! The direct encoding decodes to the same value as the generic codec's.
    use super::*;
    use crate::kinesis::actions::record_value;
    use crate::protocol::value::Out;
    use proptest::prelude::*;
    use shardlog_engine::{ChildShard, ShardId};

    fn reference(batch: &SubscriptionBatch) -> Value {
        let records: Vec<Value> = batch.records.iter().cloned().map(record_value).collect();
        let children = batch
            .child_shards
            .clone()
            .map(|children| Value::List(children.into_iter().map(child_value).collect()));
        Out::new()
            .with("Records", records)
            .with(
                "ContinuationSequenceNumber",
                batch.continuation_sequence_number.clone(),
            )
            .with("MillisBehindLatest", batch.millis_behind_latest)
            .maybe("ChildShards", children)
            .into()
    }

    fn batch_strategy() -> impl Strategy<Value = SubscriptionBatch> {
        let record = (
            "[1-9][0-9]{0,55}",
            0u64..=4_102_444_800_000,
            proptest::collection::vec(any::<u8>(), 0..300),
            "\\PC{1,20}",
        )
            .prop_map(|(sequence_number, ms, data, key)| OutputRecord {
                sequence_number,
                approximate_arrival_ms: ms,
                data: data.into(),
                partition_key: key,
            });
        (
            proptest::collection::vec(record, 0..30),
            "[1-9][0-9]{0,55}",
            any::<u64>(),
            any::<bool>(),
        )
            .prop_map(
                |(records, continuation, behind, closed)| SubscriptionBatch {
                    records,
                    continuation_sequence_number: continuation,
                    millis_behind_latest: behind >> 12,
                    child_shards: closed.then(|| {
                        vec![ChildShard {
                            shard_id: ShardId(1),
                            parent_shards: vec![ShardId(0)],
                            hash_key_range: ("0".into(), "99".into()),
                        }]
                    }),
                },
            )
    }

    proptest! {
        /// JSON and CBOR: decoding the direct encoding gives the reference value.
        #[test]
        fn matches_the_generic_codec(batch in batch_strategy()) {
            for format in [Format::Json, Format::Cbor] {
                let mut out = Vec::new();
                write_event(format, &batch, &mut out);
                let direct = format.decode(&out).unwrap();
                let expected = format.decode(&format.encode(&reference(&batch))).unwrap();
                prop_assert_eq!(direct, expected);
            }
        }
    }
}
