//! The load of one cycle, until the kill: Kinesis producers (PutRecord and
//! PutRecords), a Firehose Direct PUT producer (PutRecordBatch) and a GetRecords
//! reader. Every loop ends at the kill (no answer) and is bounded besides.

use super::kinesis::{list_shards, page_records, STREAM};
use super::model::{make_record, partition_key, record_id, Known, Model};
use crate::common::{call, call_firehose};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The Direct PUT delivery stream.
pub const DIRECT: &str = "torture-direct";
/// Most calls one producer makes in one cycle.
const CALLS_PER_CYCLE_MAX: u64 = 400;
/// Most records in one PutRecords or PutRecordBatch.
const BATCH_RECORDS_MAX: u64 = 12;
/// Most passes over the shards the GetRecords reader makes in one cycle.
const POLL_PASSES_MAX: usize = 2_000;
/// Pause of the GetRecords reader after a pass that found nothing (it polls, as
/// Kinesis consumers do).
const POLL_IDLE_MS: u64 = 10;

/// What the load threads of one cycle share.
#[derive(Clone, Copy)]
pub struct Load<'a> {
    /// The server.
    pub address: SocketAddr,
    /// The cycle number (in every record, so ids are unique).
    pub cycle: usize,
    /// Set at the kill.
    pub stop: &'a AtomicBool,
    /// The test's knowledge.
    pub model: &'a Mutex<Model>,
}

impl Load<'_> {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// How many records call `n` of a producer sends (1 for PutRecord).
fn batch_len(n: u64) -> u64 {
    1 + (n * 7) % BATCH_RECORDS_MAX
}

/// One Kinesis producer: PutRecord twice, then PutRecords, and so on; every
/// acknowledged record is learnt with the sequence number it was given.
pub fn produce_kinesis(load: Load<'_>, producer: usize) {
    for n in 0..CALLS_PER_CYCLE_MAX {
        if load.stopped() {
            return;
        }
        let batch = n % 3 == 2;
        let count = if batch { batch_len(n) as usize } else { 1 };
        let records: Vec<(String, Vec<u8>)> = (0..count)
            .map(|i| {
                let key = partition_key(load.cycle, producer, n, i);
                (key, make_record('k', load.cycle, producer, n, i))
            })
            .collect();
        let floor = load.model.lock().unwrap().acked_max.clone();
        let answer = if batch {
            let entries: Vec<Value> = records
                .iter()
                .map(|(key, data)| json!({"PartitionKey": key, "Data": STANDARD.encode(data)}))
                .collect();
            call(
                load.address,
                "PutRecords",
                &json!({"StreamName": STREAM, "Records": entries}),
            )
        } else {
            let (key, data) = &records[0];
            call(
                load.address,
                "PutRecord",
                &json!({"StreamName": STREAM, "PartitionKey": key, "Data": STANDARD.encode(data)}),
            )
        };
        let mut model = load.model.lock().unwrap();
        let Some((status, reply)) = answer else {
            // The kill: not acknowledged, maybe stored.
            let ids = records.iter().filter_map(|(_, data)| record_id(data));
            model.unanswered.extend(ids.map(str::to_string));
            return;
        };
        if status != 200 {
            model.fail(format!(
                "producer {producer}: refused with {status}: {reply}"
            ));
            return;
        }
        let results = if batch {
            reply["Records"].as_array().cloned().unwrap_or_default()
        } else {
            vec![reply]
        };
        if results.len() != records.len() {
            model.fail(format!(
                "producer {producer}: {} results for {} records",
                results.len(),
                records.len()
            ));
            return;
        }
        for ((_, data), result) in records.into_iter().zip(results) {
            let (Some(sequence), Some(shard)) = (
                result["SequenceNumber"].as_str(),
                result["ShardId"].as_str(),
            ) else {
                model.fail(format!("producer {producer}: a record failed: {result}"));
                continue;
            };
            let record = Known {
                shard: shard.to_string(),
                data,
            };
            model.ack(sequence.to_string(), record, &floor);
        }
    }
}

/// The Firehose Direct PUT producer: PutRecordBatch, every acknowledged record's
/// id remembered.
pub fn produce_direct(load: Load<'_>) {
    for n in 0..CALLS_PER_CYCLE_MAX {
        if load.stopped() {
            return;
        }
        let records: Vec<Vec<u8>> = (0..batch_len(n) as usize)
            .map(|i| make_record('f', load.cycle, 0, n, i))
            .collect();
        let entries: Vec<Value> = records
            .iter()
            .map(|data| json!({"Data": STANDARD.encode(data)}))
            .collect();
        let body = json!({"DeliveryStreamName": DIRECT, "Records": entries});
        let Some((status, reply)) = call_firehose(load.address, "PutRecordBatch", &body) else {
            return;
        };
        let mut model = load.model.lock().unwrap();
        let responses = reply["RequestResponses"].as_array();
        let Some(responses) = responses.filter(|r| status == 200 && r.len() == records.len())
        else {
            model.fail(format!("PutRecordBatch refused: {status} {reply}"));
            return;
        };
        for (data, response) in records.iter().zip(responses) {
            if response["RecordId"].is_string() {
                let id = record_id(data).expect("a record of this test");
                model.direct_acked.insert(id.to_string());
            }
        }
    }
}

/// The GetRecords reader: tails every shard from where it stopped before the
/// kill, and checks that each shard's sequence numbers only grow.
pub fn poll(load: Load<'_>) {
    let mut iterators: BTreeMap<String, String> = BTreeMap::new();
    for _ in 0..POLL_PASSES_MAX {
        if load.stopped() {
            return;
        }
        let Some(shards) = list_shards(load.address) else {
            return;
        };
        let mut seen = 0;
        for shard in shards {
            if load
                .model
                .lock()
                .unwrap()
                .polling
                .finished
                .contains(&shard.id)
            {
                continue;
            }
            let iterator = match iterators.get(&shard.id) {
                Some(iterator) => iterator.clone(),
                None => match first_iterator(load, &shard.id) {
                    Some(iterator) => iterator,
                    None => return,
                },
            };
            let Some((status, page)) = call(
                load.address,
                "GetRecords",
                &json!({"ShardIterator": iterator, "Limit": 1000}),
            ) else {
                return;
            };
            let mut model = load.model.lock().unwrap();
            if status != 200 {
                model.fail(format!("GetRecords on {}: {status} {page}", shard.id));
                return;
            }
            let records = page_records(&page);
            seen += records.len();
            observe(&mut model, Reader::Polling, &shard.id, records);
            match page["NextShardIterator"].as_str() {
                Some(next) => {
                    iterators.insert(shard.id.clone(), next.to_string());
                }
                None => {
                    model.polling.finished.insert(shard.id.clone());
                }
            }
        }
        if seen == 0 {
            std::thread::sleep(Duration::from_millis(POLL_IDLE_MS));
        }
    }
}

/// An iterator after the reader's last record in `shard`, or at its start.
fn first_iterator(load: Load<'_>, shard: &str) -> Option<String> {
    let last = load.model.lock().unwrap().polling.last.get(shard).cloned();
    let body = match last {
        Some(sequence) => json!({"StreamName": STREAM, "ShardId": shard,
            "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": sequence}),
        None => {
            json!({"StreamName": STREAM, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"})
        }
    };
    let (status, reply) = call(load.address, "GetShardIterator", &body)?;
    if status != 200 {
        let mut model = load.model.lock().unwrap();
        model.fail(format!("GetShardIterator {body}: {status} {reply}"));
        return None;
    }
    reply["ShardIterator"].as_str().map(str::to_string)
}

/// Which reader saw records.
#[derive(Debug, Clone, Copy)]
pub enum Reader {
    /// GetRecords.
    Polling,
    /// SubscribeToShard.
    Subscribed,
}

/// Learns what a reader saw in `shard`: sequence numbers strictly after the
/// reader's last one there (also across kills), each record known to the model.
pub fn observe(model: &mut Model, reader: Reader, shard: &str, records: Vec<(String, Vec<u8>)>) {
    for (sequence, data) in records {
        let state = match reader {
            Reader::Polling => &mut model.polling,
            Reader::Subscribed => &mut model.subscribed,
        };
        state.records += 1;
        let last = state.last.insert(shard.to_string(), sequence.clone());
        if let Some(last) = last.filter(|last| *last >= sequence) {
            model.fail(format!(
                "{reader:?} reader: {shard} gave {sequence} after {last}"
            ));
        }
        let record = Known {
            shard: shard.to_string(),
            data,
        };
        model.learn(&sequence, record, &format!("the {reader:?} reader"));
    }
}
