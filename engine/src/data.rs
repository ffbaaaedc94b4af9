//! The data path: PutRecord(s), GetShardIterator, GetRecords.

use crate::engine::{now_ms, Engine, ShardState, StreamState};
use crate::error::{Error, Result};
use crate::names::shard_id;
use crate::routing::{matches_decimal_pattern, parse_hash_key, partition_key_hash, RoutingError};
use crate::seqno::{DecimalCursor, SequenceNumber};
use crate::token::IteratorToken;
use shardlog_segment::{PendingAppend, ReadLimits, Record};
use std::collections::BTreeMap;
use std::time::Duration;

/// Digits Kinesis's sequence-number pattern allows: `0|([1-9]\d{0,128})`.
const SEQUENCE_DIGITS_MAX: usize = 129;

/// The error code of a throttled record.
pub const THROTTLED: &str = "ProvisionedThroughputExceededException";

/// Most records in one PutRecords call.
pub const PUT_RECORDS_MAX: usize = 500;
/// Most records one GetRecords call returns.
pub const GET_RECORDS_MAX: usize = 10_000;
/// Most payload bytes one GetRecords call returns.
pub const GET_RECORDS_BYTES_MAX: usize = 10 << 20;
/// Longest partition key, in characters.
pub const PARTITION_KEY_CHARS_MAX: usize = 256;

/// One record to put.
#[derive(Debug, Clone, Copy)]
pub struct PutRecord<'a> {
    /// Partition key, 1 to 256 characters.
    pub partition_key: &'a str,
    /// Payload.
    pub data: &'a [u8],
    /// Explicit hash key (decimal), overriding the partition key's hash for routing.
    pub explicit_hash_key: Option<&'a str>,
}

/// Where a record went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    /// `shardId-...`.
    pub shard_id: String,
    /// The record's sequence number.
    pub sequence_number: String,
}

/// Why one record of a PutRecords call failed (its neighbours may have succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFailure {
    /// `InternalFailure` or `ProvisionedThroughputExceededException`.
    pub error_code: String,
    /// What happened.
    pub error_message: String,
}

/// Where a shard iterator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IteratorStart {
    /// The oldest record kept.
    TrimHorizon,
    /// After the newest record.
    Latest,
    /// At this sequence number.
    AtSequenceNumber(String),
    /// Right after this sequence number.
    AfterSequenceNumber(String),
    /// At the first record that arrived at or after this time (ms since the epoch).
    AtTimestamp(u64),
}

/// A record returned by GetRecords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRecord {
    /// Sequence number.
    pub sequence_number: String,
    /// Arrival time, ms since the epoch.
    pub approximate_arrival_ms: u64,
    /// Payload (shared with the segment it was read from, not copied).
    pub data: bytes::Bytes,
    /// Partition key.
    pub partition_key: String,
}

/// A child of a closed shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildShard {
    /// The child's id.
    pub shard_id: String,
    /// Its parents' ids.
    pub parent_shards: Vec<String>,
    /// Its hash range, decimal, inclusive.
    pub hash_key_range: (String, String),
}

/// What GetRecords returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetRecordsOutput {
    /// The records, in order.
    pub records: Vec<OutputRecord>,
    /// Where to read next; `None` at the end of a closed shard.
    pub next_shard_iterator: Option<String>,
    /// How far behind the newest record of the shard the returned records are.
    pub millis_behind_latest: u64,
    /// At the end of a closed shard: its children.
    pub child_shards: Vec<ChildShard>,
    /// The stream read (for metrics).
    pub stream_name: String,
    /// The shard read (for metrics).
    pub shard_id: String,
}

/// What one read of a shard found (GetRecords and subscriptions share it).
pub(crate) struct ShardRead {
    pub records: Vec<OutputRecord>,
    /// The position after the last record read.
    pub next_position: u64,
    pub millis_behind_latest: u64,
    /// The shard is closed and `next_position` is its end.
    pub finished: bool,
    /// When finished: the shard's children.
    pub child_shards: Vec<ChildShard>,
}

pub(crate) fn sequence_number(shard: &ShardState, position: u64, arrival_ms: u64) -> String {
    SequenceNumber {
        shard_created_secs: shard.meta.created_secs,
        shard_index: shard.meta.index,
        counter: position,
        arrival_secs: arrival_ms / 1000,
    }
    .to_decimal()
}

fn check_record(stream: &StreamState, record: &PutRecord<'_>) -> Result<u128> {
    let key = record.partition_key;
    let chars = key.chars().count();
    if chars == 0 || chars > PARTITION_KEY_CHARS_MAX {
        return Err(Error::Validation(format!(
            "1 validation error detected: Value '{key}' at 'partitionKey' failed to satisfy constraint: Member must have length between 1 and {PARTITION_KEY_CHARS_MAX}"
        )));
    }
    let limit = stream.meta.record_kib_max as usize * 1024;
    if record.data.len() > limit {
        return Err(Error::Validation(format!(
            "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to {limit}"
        )));
    }
    match record.explicit_hash_key {
        Some(text) => {
            parse_hash_key(text).map_err(|error| match error {
                RoutingError::HashKeyOutOfRange { .. } => Error::InvalidArgument(format!(
                    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}"
                )),
                _ => Error::Validation(format!(
                    "1 validation error detected: Value '{text}' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{{0,38}})"
                )),
            })
        }
        None => Ok(partition_key_hash(key)),
    }
}

impl Engine {
    /// PutRecord: one record.
    pub fn put_record(&self, stream_name: &str, record: PutRecord<'_>) -> Result<PutResult> {
        let mut results = self.put_records(stream_name, &[record])?;
        match results.pop() {
            Some(Ok(result)) => Ok(result),
            Some(Err(failure)) if failure.error_code == THROTTLED => {
                Err(Error::ProvisionedThroughputExceeded(failure.error_message))
            }
            Some(Err(failure)) => Err(Error::Storage(shardlog_segment::Error::LogFailed {
                path: Default::default(),
                cause: failure.error_message,
            })),
            None => Err(Error::InvalidArgument("no record".into())),
        }
    }

    /// PutRecord with SequenceNumberForOrdering: checked to be a well-formed
    /// sequence number. Sequence numbers here strictly increase within a shard, so a
    /// record put after another of the same partition key always sorts after it,
    /// which is what the parameter asks Kinesis to guarantee.
    pub fn put_record_ordered(
        &self,
        stream_name: &str,
        record: PutRecord<'_>,
        sequence_number_for_ordering: Option<&str>,
    ) -> Result<PutResult> {
        if let Some(text) = sequence_number_for_ordering {
            if !matches_decimal_pattern(text, SEQUENCE_DIGITS_MAX) {
                return Err(Error::Validation(format!(
                    "1 validation error detected: Value '{text}' at 'sequenceNumberForOrdering' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{{0,128}})"
                )));
            }
        }
        self.put_record(stream_name, record)
    }

    /// PutRecords: up to 500 records, one result each. A request that is malformed
    /// fails whole; a shard whose write fails fails only its own records.
    pub fn put_records(
        &self,
        stream_name: &str,
        records: &[PutRecord<'_>],
    ) -> Result<Vec<std::result::Result<PutResult, RecordFailure>>> {
        if records.is_empty() || records.len() > PUT_RECORDS_MAX {
            return Err(Error::Validation(format!(
                "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and {PUT_RECORDS_MAX}"
            )));
        }
        let stream = self.stream(stream_name)?;
        self.check_metadata()?;
        self.reopen_failed_shards(&stream)?;
        let state = Engine::read_stream(&stream);
        let open = state.open_shards();
        let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        let mut results: Vec<Option<std::result::Result<PutResult, RecordFailure>>> =
            vec![None; records.len()];
        let now = std::time::Instant::now();
        for (slot, record) in records.iter().enumerate() {
            let hash = check_record(&state, record)?;
            let shard = open
                .iter()
                .find(|shard| shard.range.contains(hash))
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("no open shard holds hash key {hash}"))
                })?;
            if self.inner.config.shard_quotas {
                let charged = record.data.len() + record.partition_key.len();
                let admitted = shard
                    .quota
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .take_write(charged, now);
                if !admitted {
                    results[slot] = Some(Err(RecordFailure {
                        error_code: THROTTLED.into(),
                        error_message: self.rate_exceeded(stream_name, shard.meta.index),
                    }));
                    continue;
                }
            }
            groups.entry(shard.meta.index).or_default().push(slot);
        }
        // Stage every shard's batch first, then wait: all of them share commit rounds.
        let mut pending: Vec<(u32, Vec<usize>, Result<PendingAppend>)> = Vec::new();
        for (index, slots) in groups {
            let batch: Vec<Record<'_>> = slots
                .iter()
                .map(|slot| Record {
                    partition_key: records[*slot].partition_key,
                    explicit_hash_key: None,
                    data: records[*slot].data,
                })
                .collect();
            let submitted = state.shards[&index].log.submit(&batch).map_err(Error::from);
            pending.push((index, slots, submitted));
        }
        for (index, slots, submitted) in pending {
            let shard = &state.shards[&index];
            let outcome = submitted.and_then(|pending| Ok(pending.wait()?));
            if outcome.is_err() {
                self.inner
                    .shard_failed
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
            for (k, slot) in slots.iter().enumerate() {
                results[*slot] = Some(match &outcome {
                    Ok(appended) => Ok(PutResult {
                        shard_id: shard_id(index),
                        sequence_number: sequence_number(
                            shard,
                            appended.base_position + k as u64,
                            appended.arrival_ms,
                        ),
                    }),
                    Err(error) => Err(RecordFailure {
                        error_code: "InternalFailure".into(),
                        error_message: error.to_string(),
                    }),
                });
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every slot routed"))
            .collect())
    }

    /// GetShardIterator.
    pub fn get_shard_iterator(
        &self,
        stream_name: &str,
        shard: &str,
        start: IteratorStart,
    ) -> Result<String> {
        let stream = self.stream(stream_name)?;
        let state = Engine::read_stream(&stream);
        let index = crate::names::parse_shard_id(shard)
            .filter(|index| state.shards.contains_key(index))
            .ok_or_else(|| shard_not_found(stream_name, shard, &self.inner.config.account_id))?;
        let position = self.start_position(&state.shards[&index], stream_name, start)?;
        Ok(IteratorToken {
            stream_name: stream_name.to_string(),
            stream_epoch: state.meta.created_ms,
            shard_index: index,
            position,
            issued_ms: now_ms(),
        }
        .encode(&self.inner.key))
    }

    /// The position a shard iterator or subscription starting at `start` reads first.
    pub(crate) fn start_position(
        &self,
        shard: &ShardState,
        stream_name: &str,
        start: IteratorStart,
    ) -> Result<u64> {
        let log = &shard.log;
        let end = shard
            .meta
            .closed_end_position
            .unwrap_or_else(|| log.end_position());
        let position = match start {
            IteratorStart::TrimHorizon => log.first_position(),
            IteratorStart::Latest => end,
            // The shard's StartingSequenceNumber (None) is before its first record.
            IteratorStart::AtSequenceNumber(text) => {
                self.position_of(&text, shard, stream_name)?.unwrap_or(0)
            }
            IteratorStart::AfterSequenceNumber(text) => self
                .position_of(&text, shard, stream_name)?
                .map_or(0, |position| position + 1),
            IteratorStart::AtTimestamp(ms) => log.position_at_time(ms)?,
        };
        Ok(position.max(log.first_position()))
    }

    /// The position of the record numbered `text` in `shard`, or `None` for the
    /// shard's StartingSequenceNumber (before its first record).
    fn position_of(
        &self,
        text: &str,
        shard: &ShardState,
        stream_name: &str,
    ) -> Result<Option<u64>> {
        let invalid = || {
            Error::InvalidArgument(format!(
                "StartingSequenceNumber {text} used in GetShardIterator on shard {} in stream {stream_name} under account {} is invalid.",
                shard_id(shard.meta.index),
                self.inner.config.account_id
            ))
        };
        if !matches_decimal_pattern(text, SEQUENCE_DIGITS_MAX) {
            return Err(Error::Validation(format!(
                "1 validation error detected: Value '{text}' at 'startingSequenceNumber' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{{0,128}})"
            )));
        }
        let number = SequenceNumber::parse(text).map_err(|_| invalid())?;
        if number.shard_index != shard.meta.index
            || number.shard_created_secs != shard.meta.created_secs
        {
            return Err(Error::InvalidArgument(format!(
                "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                shard_id(number.shard_index),
                shard_id(shard.meta.index)
            )));
        }
        if number.is_before_first() {
            return Ok(None);
        }
        let end = shard
            .meta
            .closed_end_position
            .unwrap_or_else(|| shard.log.end_position());
        if number.counter >= end {
            return Err(invalid());
        }
        Ok(Some(number.counter))
    }

    /// GetRecords: up to `limit` records (1..=10000) and 10 MiB from the iterator.
    pub fn get_records(&self, iterator: &str, limit: usize) -> Result<GetRecordsOutput> {
        self.get_records_waiting(iterator, limit, Duration::ZERO)
    }

    /// GetRecords that, when nothing is readable yet, waits up to `wait` for the
    /// append that makes a record readable (woken by it, not by polling).
    pub fn get_records_waiting(
        &self,
        iterator: &str,
        limit: usize,
        wait: Duration,
    ) -> Result<GetRecordsOutput> {
        if !(1..=GET_RECORDS_MAX).contains(&limit) {
            return Err(Error::Validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {GET_RECORDS_MAX}"
            )));
        }
        let token = IteratorToken::decode_with_ttl(iterator, &self.inner.key, now_ms(), self.inner.config.iterator_ttl_ms).map_err(|error| match error {
            crate::token::TokenError::Expired { .. } => Error::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {} milliseconds.",
                iso_time(token_issued(&error)),
                iso_time(now_ms()),
                self.inner.config.iterator_ttl_ms
            )),
            _ => Error::InvalidArgument(format!("Invalid ShardIterator: {error}")),
        })?;
        let stream = self.stream(&token.stream_name)?;
        let missing = || {
            shard_not_found(
                &token.stream_name,
                &shard_id(token.shard_index),
                &self.inner.config.account_id,
            )
        };
        let state = Engine::read_stream(&stream);
        if state.meta.created_ms != token.stream_epoch {
            return Err(Error::ResourceNotFound(format!(
                "Shard {} in stream {} under account {} does not exist",
                shard_id(token.shard_index),
                token.stream_name,
                self.inner.config.account_id
            )));
        }
        let shard = state.shards.get(&token.shard_index).ok_or_else(missing)?;
        if self.inner.config.shard_quotas {
            let admitted = shard
                .quota
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .take_read_call(std::time::Instant::now());
            if !admitted {
                return Err(Error::ProvisionedThroughputExceeded(
                    self.rate_exceeded(&token.stream_name, token.shard_index),
                ));
            }
        }
        let nothing_yet =
            shard.meta.closed_end_position.is_none() && shard.log.end_position() <= token.position;
        if wait.is_zero() || !nothing_yet {
            return self.read_shard(&state, shard, &token, limit);
        }
        // Wait without the stream's lock, so that resharding and other writers of
        // the stream's state are not held up by a waiting reader.
        let log = shard.log.clone();
        drop(state);
        log.wait_for(token.position, wait);
        let state = Engine::read_stream(&stream);
        let shard = state.shards.get(&token.shard_index).ok_or_else(missing)?;
        self.read_shard(&state, shard, &token, limit)
    }

    fn read_shard(
        &self,
        state: &StreamState,
        shard: &ShardState,
        token: &IteratorToken,
        limit: usize,
    ) -> Result<GetRecordsOutput> {
        let read = self.read_from(state, shard, token.position, limit, true)?;
        let next_shard_iterator = (!read.finished).then(|| {
            IteratorToken {
                position: read.next_position,
                issued_ms: now_ms(),
                ..token.clone()
            }
            .encode(&self.inner.key)
        });
        Ok(GetRecordsOutput {
            records: read.records,
            next_shard_iterator,
            millis_behind_latest: read.millis_behind_latest,
            child_shards: read.child_shards,
            stream_name: token.stream_name.clone(),
            shard_id: shard_id(token.shard_index),
        })
    }

    /// Reads up to `limit` records (and 10 MiB) of `shard` from `position`;
    /// `charge_quota` charges the shard's shared read budget (GetRecords does,
    /// enhanced fan-out does not).
    pub(crate) fn read_from(
        &self,
        state: &StreamState,
        shard: &ShardState,
        position: u64,
        limit: usize,
        charge_quota: bool,
    ) -> Result<ShardRead> {
        let log = &shard.log;
        let from = position.max(log.first_position());
        let limits = ReadLimits {
            records_max: limit,
            bytes_max: GET_RECORDS_BYTES_MAX,
        };
        let result = match log.read(from, limits) {
            Ok(result) => result,
            // Retention removed it between the two calls: start from what is left.
            Err(shardlog_segment::Error::PositionTrimmed { first, .. }) => {
                log.read(first, limits)?
            }
            Err(error) => return Err(error.into()),
        };
        // A closed shard ends at its recorded end, whatever its log holds after it
        // (a write that raced the close and survived a crash): nothing is returned
        // past EndingSequenceNumber.
        let closed_end = shard.meta.closed_end_position;
        let mut cursor = DecimalCursor::new();
        let mut records: Vec<OutputRecord> = Vec::with_capacity(result.record_count);
        records.extend(
            result
                .records_with_data()
                .take_while(|(record, _)| closed_end.is_none_or(|end| record.position < end))
                .map(|(record, data)| OutputRecord {
                    sequence_number: cursor.format(SequenceNumber {
                        shard_created_secs: shard.meta.created_secs,
                        shard_index: shard.meta.index,
                        counter: record.position,
                        arrival_secs: record.arrival_ms / 1000,
                    }),
                    approximate_arrival_ms: record.arrival_ms,
                    data,
                    partition_key: record.partition_key.to_string(),
                }),
        );
        if charge_quota && self.inner.config.shard_quotas {
            shard
                .quota
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .charge_read(result.data_bytes);
        }
        let next_position = closed_end.map_or(result.next_position, |closed| {
            result.next_position.min(closed)
        });
        let end = log.end_position();
        let millis_behind_latest = match records.last() {
            Some(last) if next_position < end => {
                now_ms().saturating_sub(last.approximate_arrival_ms)
            }
            _ => 0,
        };
        let finished = shard
            .meta
            .closed_end_position
            .is_some_and(|closed| next_position >= closed);
        let child_shards = if finished {
            self.children(state, shard.meta.index)
        } else {
            Vec::new()
        };
        Ok(ShardRead {
            records,
            next_position,
            millis_behind_latest,
            finished,
            child_shards,
        })
    }

    fn rate_exceeded(&self, stream: &str, shard: u32) -> String {
        format!(
            "Rate exceeded for shard {} in stream {stream} under account {}.",
            shard_id(shard),
            self.inner.config.account_id
        )
    }

    pub(crate) fn children(&self, state: &StreamState, parent: u32) -> Vec<ChildShard> {
        state
            .shards
            .values()
            .filter(|child| {
                child.meta.parent == Some(parent) || child.meta.adjacent_parent == Some(parent)
            })
            .map(|child| ChildShard {
                shard_id: shard_id(child.meta.index),
                parent_shards: child
                    .meta
                    .parent
                    .iter()
                    .chain(child.meta.adjacent_parent.iter())
                    .map(|p| shard_id(*p))
                    .collect(),
                hash_key_range: (child.meta.hash_start.clone(), child.meta.hash_end.clone()),
            })
            .collect()
    }
}

fn token_issued(error: &crate::token::TokenError) -> u64 {
    match error {
        crate::token::TokenError::Expired { issued_ms, .. } => *issued_ms,
        _ => 0,
    }
}

/// `2026-11-22T03:00:00.000Z`-style text for messages.
fn iso_time(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || format!("{ms} ms after the epoch"),
        |time| time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    )
}

pub(crate) fn shard_not_found(stream: &str, shard: &str, account: &str) -> Error {
    Error::ResourceNotFound(format!(
        "Shard {shard} in stream {stream} under account {account} does not exist"
    ))
}
