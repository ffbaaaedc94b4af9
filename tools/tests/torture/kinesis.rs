//! The Kinesis side of the torture test: the stream's shards, reading all of it
//! after a restart and checking it against the model, and resharding under load.

use super::model::{is_sequence_number, partition_key_of, record_id, Known, Model, Removal};
use crate::common::{call, request};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

/// The stream under test.
pub const STREAM: &str = "torture";
/// Most records one GetRecords asks for.
const PAGE_RECORDS_MAX: u32 = 10_000;
/// Most pages read from one shard in one pass (a bound on every loop).
const PAGES_MAX: usize = 100_000;

/// A shard as ListShards shows it.
#[derive(Debug, Clone)]
pub struct Shard {
    /// Its id.
    pub id: String,
    /// Its hash key range, inclusive.
    pub hash_range: (u128, u128),
    /// Whether it is closed (split or merged).
    pub closed: bool,
}

/// How long a check waits for one answer: a GetRecords of 10,000 records from a
/// debug build on a loaded machine can take seconds.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

/// The answer of a call that must succeed (the server is up, and idle but for
/// Firehose delivery).
pub fn ok(address: SocketAddr, action: &str, body: &Value) -> Value {
    let target = format!("Kinesis_20131202.{action}");
    let (status, reply) = request(address, &target, body, CHECK_TIMEOUT)
        .unwrap_or_else(|error| panic!("{action}: no answer: {error}"));
    assert_eq!(status, 200, "{action}: {reply}");
    reply
}

/// Every shard of the stream, or `None` when the server is gone.
pub fn list_shards(address: SocketAddr) -> Option<Vec<Shard>> {
    let (status, listed) = call(address, "ListShards", &json!({"StreamName": STREAM}))?;
    if status != 200 {
        return None;
    }
    let hash = |shard: &Value, which: &str| -> u128 {
        shard["HashKeyRange"][which]
            .as_str()
            .and_then(|text| text.parse().ok())
            .expect("hash keys are decimal u128")
    };
    let shards = listed["Shards"].as_array()?;
    Some(
        shards
            .iter()
            .map(|shard| Shard {
                id: shard["ShardId"].as_str().unwrap().to_string(),
                hash_range: (hash(shard, "StartingHashKey"), hash(shard, "EndingHashKey")),
                closed: shard["SequenceNumberRange"]["EndingSequenceNumber"].is_string(),
            })
            .collect(),
    )
}

/// The records of one GetRecords page: (sequence number, bytes).
pub fn page_records(page: &Value) -> Vec<(String, Vec<u8>)> {
    page["Records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .map(|record| {
                    let data = STANDARD
                        .decode(record["Data"].as_str().unwrap_or_default())
                        .expect("Data is base64");
                    let sequence = record["SequenceNumber"].as_str().unwrap_or_default();
                    (sequence.to_string(), data)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every record of one shard from TRIM_HORIZON to its end (or the tip of an
/// open shard), in the shard's order.
fn read_shard(address: SocketAddr, shard: &str) -> Vec<(String, Vec<u8>)> {
    let start = ok(
        address,
        "GetShardIterator",
        &json!({"StreamName": STREAM, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    );
    let mut iterator = start["ShardIterator"].as_str().map(str::to_string);
    let mut out = Vec::new();
    for _ in 0..PAGES_MAX {
        let Some(current) = iterator else {
            return out;
        };
        let page = ok(
            address,
            "GetRecords",
            &json!({"ShardIterator": current, "Limit": PAGE_RECORDS_MAX}),
        );
        let records = page_records(&page);
        iterator = page["NextShardIterator"].as_str().map(str::to_string);
        if records.is_empty() && iterator.is_some() {
            return out;
        }
        out.extend(records);
    }
    panic!("{shard}: more than {PAGES_MAX} pages");
}

/// What reading the whole stream found.
pub struct Found {
    /// The shards.
    pub shards: Vec<Shard>,
    /// Records per shard, in order.
    pub records: BTreeMap<String, Vec<(String, Vec<u8>)>>,
}

impl Found {
    /// How many records.
    pub fn len(&self) -> usize {
        self.records.values().map(Vec::len).sum()
    }
}

/// Reads every shard of the stream, the shards in parallel (a long run's check
/// reads hundreds of thousands of records after every restart).
pub fn read_everything(address: SocketAddr) -> Found {
    let shards = list_shards(address).expect("ListShards after a restart");
    let records = std::thread::scope(|scope| {
        let readers: Vec<_> = shards
            .iter()
            .map(|shard| scope.spawn(move || (shard.id.clone(), read_shard(address, &shard.id))))
            .collect();
        readers
            .into_iter()
            .map(|reader| reader.join().expect("a shard reader"))
            .collect()
    });
    Found { shards, records }
}

/// Checks what a restarted server holds against the model: per shard, sequence
/// numbers well formed and strictly increasing, records whole; every known record
/// (acknowledged, or seen by a reader or an earlier check) there byte-exact under
/// its number, in its shard, unless [`removal`] allows it to be gone; every shard
/// an acknowledged reshard closed, closed. Records found for the first time
/// become known.
pub fn verify(model: &mut Model, found: &Found, cycle: usize) {
    let at = check_shards(model, found, cycle);
    let oldest: BTreeMap<&str, &str> = found
        .records
        .iter()
        .filter_map(|(shard, records)| Some((shard.as_str(), records.first()?.0.as_str())))
        .collect();
    let newest = newest_per_key(&model.known);
    let mut missing = Vec::new();
    let mut removed = Vec::new();
    for (sequence, record) in &model.known {
        let there = at.get(sequence.as_str());
        if there == Some(record) {
            continue;
        }
        if there.is_none() {
            if let Some(why) = removal(sequence, record, &oldest, &newest) {
                removed.push((sequence.clone(), why));
                continue;
            }
        }
        let what = if model.acked.contains_key(sequence) {
            "acknowledged"
        } else {
            "seen"
        };
        let there = there.map_or("nothing".to_string(), Known::to_string);
        missing.push(format!(
            "cycle {cycle}: {what} record {sequence} ({record}) lost or changed: {there}"
        ));
    }
    model.failures.extend(missing);
    model.removed.extend(removed);
    for (sequence, record) in at {
        model.learn(sequence, record, "reading after a restart");
    }
    for shard in &found.shards {
        if model.closed.contains(&shard.id) && !shard.closed {
            model.fail(format!(
                "cycle {cycle}: {} was closed by an acknowledged reshard but is open",
                shard.id
            ));
        }
    }
}

/// Why a known record that is not found may be gone, if it may: (b) it is older
/// than every record its shard holds (retention takes a prefix; a shard always
/// keeps its active segment, so a shard with known records is never empty), or
/// (a) a known record with a higher sequence number in the same shard has its
/// partition key (compaction keeps the newest record of each key).
fn removal(
    sequence: &str,
    record: &Known,
    oldest: &BTreeMap<&str, &str>,
    newest: &BTreeMap<(&str, String), &str>,
) -> Option<Removal> {
    let shard = record.shard.as_str();
    if oldest.get(shard).is_some_and(|oldest| sequence < *oldest) {
        return Some(Removal::Retention);
    }
    let key = partition_key_of(record_id(&record.data)?)?;
    newest
        .get(&(shard, key))
        .is_some_and(|newest| sequence < *newest)
        .then_some(Removal::Compaction)
}

/// The highest known sequence number of each (shard, partition key).
fn newest_per_key(known: &BTreeMap<String, Known>) -> BTreeMap<(&str, String), &str> {
    let mut newest = BTreeMap::new();
    // In order of sequence number, so the last one written per key is the newest.
    for (sequence, record) in known {
        let key = record_id(&record.data).and_then(partition_key_of);
        if let Some(key) = key {
            newest.insert((record.shard.as_str(), key), sequence.as_str());
        }
    }
    newest
}

/// The found records by sequence number, after checking each shard's order,
/// that every record is whole, and that no record or number appears twice.
fn check_shards<'a>(model: &mut Model, found: &'a Found, cycle: usize) -> BTreeMap<&'a str, Known> {
    let mut at: BTreeMap<&str, Known> = BTreeMap::new();
    let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
    for (shard, records) in &found.records {
        let mut previous: Option<&str> = None;
        for (sequence, data) in records {
            if !is_sequence_number(sequence) {
                model.fail(format!(
                    "cycle {cycle}: {shard} returned sequence number {sequence:?}"
                ));
            }
            if previous.is_some_and(|previous| previous >= sequence.as_str()) {
                model.fail(format!(
                    "cycle {cycle}: {shard} returned {sequence} after {previous:?}: out of order"
                ));
            }
            previous = Some(sequence);
            match record_id(data) {
                // Producers never retry: one record, one sequence number.
                Some(id) => {
                    if let Some(first) = ids.insert(id, sequence) {
                        model.fail(format!(
                            "cycle {cycle}: record {id} stored twice, as {first} and {sequence}"
                        ));
                    }
                }
                None => model.fail(format!(
                    "cycle {cycle}: {sequence} in {shard} is not a whole record: {:?}",
                    String::from_utf8_lossy(data)
                )),
            }
            let record = Known {
                shard: shard.clone(),
                data: data.clone(),
            };
            if let Some(other) = at.insert(sequence, record) {
                model.fail(format!(
                    "cycle {cycle}: {sequence} found twice, first in {other}"
                ));
            }
        }
    }
    at
}

/// Which reshard a cycle does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reshard {
    /// Split the open shard with the widest hash range in two.
    Split,
    /// Merge the two adjacent open shards with the narrowest union.
    Merge,
}

/// Splits or merges open shards while producers write; an acknowledged reshard
/// is remembered so that later checks find its parents closed. A refusal is a
/// failure; no answer (the kill) leaves the outcome to the next listing.
pub fn reshard(address: SocketAddr, kind: Reshard, model: &Mutex<Model>) {
    let Some(shards) = list_shards(address) else {
        return;
    };
    let mut open: Vec<&Shard> = shards.iter().filter(|s| !s.closed).collect();
    open.sort_by_key(|s| s.hash_range.0);
    let (action, body, parents) = match kind {
        Reshard::Split => {
            let widest = open
                .iter()
                .max_by_key(|s| s.hash_range.1 - s.hash_range.0)
                .expect("a stream has an open shard");
            let (low, high) = widest.hash_range;
            let middle = low + (high - low) / 2 + 1;
            let body = json!({"StreamName": STREAM, "ShardToSplit": widest.id, "NewStartingHashKey": middle.to_string()});
            ("SplitShard", body, vec![widest.id.clone()])
        }
        Reshard::Merge => {
            let Some(pair) = open
                .windows(2)
                .min_by_key(|pair| pair[1].hash_range.1 - pair[0].hash_range.0)
            else {
                return;
            };
            let body = json!({"StreamName": STREAM, "ShardToMerge": pair[0].id, "AdjacentShardToMerge": pair[1].id});
            (
                "MergeShards",
                body,
                vec![pair[0].id.clone(), pair[1].id.clone()],
            )
        }
    };
    let answer = call(address, action, &body);
    let mut model = model.lock().unwrap();
    match answer {
        Some((200, _)) => {
            model.closed.extend(parents);
            model.reshards += 1;
        }
        Some((status, reply)) => model.fail(format!("{action} {body} refused: {status} {reply}")),
        None => {}
    }
}
