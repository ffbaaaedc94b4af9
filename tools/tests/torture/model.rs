//! What the torture test knows about the server's data, kept across kills, and
//! the rules every observation must follow. Violations are collected (load
//! threads cannot panic usefully) and asserted after each cycle.

use std::collections::{BTreeMap, BTreeSet};

/// A Kinesis record as the test knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The shard it was acknowledged in or read from.
    pub shard: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Display for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(&self.data);
        let head: String = text.chars().take(40).collect();
        write!(f, "{} {head:?}", self.shard)
    }
}

/// Where a reader stands in each shard, across kills.
#[derive(Debug, Default)]
pub struct ReaderState {
    /// The last sequence number seen per shard.
    pub last: BTreeMap<String, String>,
    /// Closed shards read to their end.
    pub finished: BTreeSet<String>,
    /// Records seen.
    pub records: u64,
}

/// The test's knowledge.
#[derive(Debug, Default)]
pub struct Model {
    /// Kinesis records acknowledged to a producer: sequence number → record.
    pub acked: BTreeMap<String, Known>,
    /// Every Kinesis record known to exist: acknowledged, seen by a reader, or
    /// found after a restart. Once known, a record is found again, byte-exact,
    /// after every later restart (sync durability; kill -9 keeps the page cache).
    pub known: BTreeMap<String, Known>,
    /// The highest acknowledged sequence number per shard.
    pub acked_max: BTreeMap<String, String>,
    /// Ids of acknowledged Firehose Direct PUT records.
    pub direct_acked: BTreeSet<String>,
    /// Shards closed by an acknowledged SplitShard or MergeShards.
    pub closed: BTreeSet<String>,
    /// Acknowledged SplitShard and MergeShards calls.
    pub reshards: u32,
    /// The GetRecords reader.
    pub polling: ReaderState,
    /// The SubscribeToShard readers.
    pub subscribed: ReaderState,
    /// Known records a check found missing for an allowed reason: sequence
    /// number → why (the latest reason found).
    pub removed: BTreeMap<String, Removal>,
    /// Ids of Kinesis records sent in a call that got no answer (the kill): they
    /// may or may not be stored.
    pub unanswered: BTreeSet<String>,
    /// Rule violations seen so far.
    pub failures: Vec<String>,
}

/// Why a known record may be missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Older than every record its shard still holds: retention takes a prefix.
    Retention,
    /// A later record of its shard has its partition key: key compaction.
    Compaction,
}

impl Model {
    /// Records a violation.
    pub fn fail(&mut self, failure: String) {
        self.failures.push(failure);
    }

    /// Learns that `sequence` holds `record` (`how` says who saw it). A sequence
    /// number known with other bytes or in another shard was reused.
    pub fn learn(&mut self, sequence: &str, record: Known, how: &str) {
        match self.known.get(sequence) {
            Some(existing) if *existing != record => self.failures.push(format!(
                "sequence number {sequence} reused: known as {existing}, {how} shows {record}"
            )),
            Some(_) => {}
            None => {
                self.known.insert(sequence.to_string(), record);
            }
        }
    }

    /// Learns an acknowledgement. `floor` is the highest sequence number
    /// acknowledged in each shard before the request was sent: the new one must
    /// sort after it (a shard's records are appended in order, across restarts).
    pub fn ack(&mut self, sequence: String, record: Known, floor: &BTreeMap<String, String>) {
        if let Some(before) = floor.get(&record.shard) {
            if sequence <= *before {
                self.failures.push(format!(
                    "acknowledged {sequence} for {record}, not after {before} acknowledged earlier in that shard"
                ));
            }
        }
        if let Some(previous) = self.acked.get(&sequence) {
            self.failures.push(format!(
                "sequence number {sequence} acknowledged twice: {previous}, then {record}"
            ));
            return;
        }
        self.learn(&sequence, record.clone(), "an acknowledgement");
        let max = self
            .acked_max
            .entry(record.shard.clone())
            .or_insert_with(|| sequence.clone());
        if sequence > *max {
            max.clone_from(&sequence);
        }
        self.acked.insert(sequence, record);
    }

    /// Panics with the violations, if any (the first few, and how many).
    pub fn assert_no_failures(&self, when: &str) {
        if self.failures.is_empty() {
            return;
        }
        let shown: Vec<&str> = self.failures.iter().take(10).map(String::as_str).collect();
        panic!(
            "{when}: {} violations, first ones:\n{}",
            self.failures.len(),
            shown.join("\n")
        );
    }
}

/// Sequence numbers are 56 decimal digits (see `shardlog_engine::seqno`), so
/// their strings compare as their values; anything else is a failure to report.
pub fn is_sequence_number(text: &str) -> bool {
    text.len() == 56 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The id of a torture record (`<kind>:<cycle>:<producer>:<n>:<index>`), if
/// `data` is a whole record of this test (its padding as long as it says).
pub fn record_id(data: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(data).ok()?;
    let (head, padding) = text.rsplit_once(':')?;
    let (id, length) = head.rsplit_once(':')?;
    let whole = id.split(':').count() == 5
        && length.parse::<usize>().ok()? == padding.len()
        && padding.bytes().all(|b| b == b'x');
    whole.then_some(id)
}

/// The partition key of a Kinesis record of this test: half of the records share
/// eight keys (across producers and cycles, so that compaction has work), the
/// others have their own.
pub fn partition_key(cycle: usize, producer: usize, n: u64, index: usize) -> String {
    if (n + index as u64).is_multiple_of(2) {
        format!("shared-{}", (n * 3 + index as u64) % 8)
    } else {
        format!("pk-{cycle}-{producer}-{n}-{index}")
    }
}

/// [`partition_key`] of the record with id `id`, if it is a Kinesis record.
pub fn partition_key_of(id: &str) -> Option<String> {
    let mut fields = id.split(':');
    if fields.next()? != "k" {
        return None;
    }
    let mut number = || fields.next()?.parse::<u64>().ok();
    let (cycle, producer, n, index) = (number()?, number()?, number()?, number()?);
    Some(partition_key(
        cycle as usize,
        producer as usize,
        n,
        index as usize,
    ))
}

/// A record of this test: `<kind>:<cycle>:<producer>:<n>:<index>:<length>:<padding>`,
/// with `n` and `index` choosing the padding's length (records of many sizes).
pub fn make_record(kind: char, cycle: usize, producer: usize, n: u64, index: usize) -> Vec<u8> {
    let length = ((n * 37 + index as u64 * 11) % 300) as usize;
    let padding = "x".repeat(length);
    format!("{kind}:{cycle}:{producer}:{n}:{index}:{length}:{padding}").into_bytes()
}
