//! The data path: PutRecord(s), GetShardIterator, GetRecords.

use crate::engine::{now_ms, Engine, ShardState, StreamState};
use crate::error::{Constraint, Field, ReadError};
use crate::names::ShardId;
use crate::position::Position;
use crate::routing::{HashKey, HashRange};
use crate::seqno::SequenceNumber;
use crate::token::IteratorToken;
use shardlog_segment::ReadLimits;
use std::time::Duration;

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
    /// Explicit hash key, overriding the partition key's hash for routing.
    pub explicit_hash_key: Option<HashKey>,
}

/// Where a record went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    /// The shard it went to.
    pub shard_id: ShardId,
    /// The record's sequence number.
    pub sequence_number: SequenceNumber,
}

/// Why one record of a PutRecords call failed (its neighbours may have succeeded).
/// Not `non_exhaustive`: the server words every case in an exhaustive match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordFailure {
    /// The shard's write quota is exhausted for now.
    #[error("shard {shard} of stream {stream} is over its throughput quota")]
    Throttled {
        /// The stream.
        stream: String,
        /// The shard.
        shard: ShardId,
    },
    /// The shard's log failed the write.
    #[error("{shard}: {cause}")]
    WriteFailed {
        /// The shard.
        shard: ShardId,
        /// What the log reported.
        cause: String,
    },
}

/// Where a shard iterator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IteratorStart {
    /// The oldest record kept.
    TrimHorizon,
    /// After the newest record.
    Latest,
    /// At this sequence number (or, for the shard's StartingSequenceNumber, at
    /// its first record).
    AtSequenceNumber(SequenceNumber),
    /// Right after this sequence number.
    AfterSequenceNumber(SequenceNumber),
    /// At the first record that arrived at or after this time (ms since the epoch).
    AtTimestamp(u64),
}

/// A record returned by GetRecords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRecord {
    /// Sequence number.
    pub sequence_number: SequenceNumber,
    /// Arrival time, ms since the epoch.
    pub approximate_arrival_ms: u64,
    /// Payload (shared with the segment it was read from, not copied).
    pub data: bytes::Bytes,
    /// Partition key (shared with the segment it was read from, not copied).
    pub partition_key: bytestring::ByteString,
}

/// A child of a closed shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildShard {
    /// The child.
    pub shard_id: ShardId,
    /// Its parents.
    pub parent_shards: Vec<ShardId>,
    /// Its hash range, inclusive.
    pub hash_key_range: HashRange,
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
    pub shard_id: ShardId,
}

/// What one read of a shard found (GetRecords and subscriptions share it).
pub(crate) struct ShardRead {
    pub records: Vec<OutputRecord>,
    /// The position after the last record read.
    pub next_position: Position,
    pub millis_behind_latest: u64,
    /// The shard is closed and `next_position` is its end.
    pub finished: bool,
    /// When finished: the shard's children.
    pub child_shards: Vec<ChildShard>,
}

/// The sequence number of the record at `position` of `shard`.
pub(crate) fn sequence_number(
    shard: &ShardState,
    position: Position,
    arrival_ms: u64,
) -> SequenceNumber {
    SequenceNumber {
        shard_created_secs: shard.meta.created_secs,
        shard_index: shard.meta.index,
        counter: position.get(),
        arrival_secs: arrival_ms / 1000,
    }
}

impl Engine {
    /// GetShardIterator.
    pub fn get_shard_iterator(
        &self,
        stream_name: &str,
        shard: ShardId,
        start: IteratorStart,
    ) -> Result<String, ReadError> {
        let stream = self.stream(stream_name)?;
        let state = Engine::read_stream(&stream);
        let position =
            self.start_position(shard_of(&state, stream_name, shard)?, stream_name, start)?;
        Ok(IteratorToken {
            stream_name: stream_name.to_string(),
            stream_epoch: state.meta.created_ms,
            shard_index: shard.index(),
            position,
            issued_ms: now_ms(),
        }
        .encode(&self.inner.key))
    }

    /// The lookups GetShardIterator makes before it reads its starting position:
    /// the stream exists and has `shard`. For a caller that reports those before a
    /// starting position it could not read.
    pub fn check_shard(&self, stream_name: &str, shard: ShardId) -> Result<(), ReadError> {
        let stream = self.stream(stream_name)?;
        let state = Engine::read_stream(&stream);
        shard_of(&state, stream_name, shard).map(|_| ())
    }

    /// The position a shard iterator or subscription starting at `start` reads first.
    pub(crate) fn start_position(
        &self,
        shard: &ShardState,
        stream_name: &str,
        start: IteratorStart,
    ) -> Result<Position, ReadError> {
        let position = match start {
            IteratorStart::TrimHorizon => shard.first_position(),
            IteratorStart::Latest => shard.end_position(),
            // The shard's StartingSequenceNumber (None) is before its first record.
            IteratorStart::AtSequenceNumber(number) => self
                .position_of(number, shard, stream_name)?
                .unwrap_or(Position::FIRST),
            IteratorStart::AfterSequenceNumber(number) => self
                .position_of(number, shard, stream_name)?
                .map_or(Position::FIRST, Position::next),
            IteratorStart::AtTimestamp(ms) => Position::new(shard.log.position_at_time(ms)?),
        };
        Ok(position.max(shard.first_position()))
    }

    /// The position of the record numbered `number` in `shard`, or `None` for the
    /// shard's StartingSequenceNumber (before its first record).
    fn position_of(
        &self,
        number: SequenceNumber,
        shard: &ShardState,
        stream_name: &str,
    ) -> Result<Option<Position>, ReadError> {
        if number.shard_index != shard.meta.index
            || number.shard_created_secs != shard.meta.created_secs
        {
            return Err(ReadError::SequenceNumberOfOtherShard {
                encoded_shard: ShardId(number.shard_index),
                shard: ShardId(shard.meta.index),
            });
        }
        if number.is_before_first() {
            return Ok(None);
        }
        let position = number.position();
        if position >= shard.end_position() {
            return Err(ReadError::SequenceNumberInvalid {
                stream: stream_name.to_string(),
                shard: ShardId(shard.meta.index),
                sequence_number: number,
            });
        }
        Ok(Some(position))
    }

    /// GetRecords: up to `limit` records (1..=10000) and 10 MiB from the iterator.
    pub fn get_records(&self, iterator: &str, limit: usize) -> Result<GetRecordsOutput, ReadError> {
        self.get_records_waiting(iterator, limit, Duration::ZERO)
    }

    /// GetRecords that, when nothing is readable yet, waits up to `wait` for the
    /// append that makes a record readable (woken by it, not by polling).
    pub fn get_records_waiting(
        &self,
        iterator: &str,
        limit: usize,
        wait: Duration,
    ) -> Result<GetRecordsOutput, ReadError> {
        if !(1..=GET_RECORDS_MAX).contains(&limit) {
            return Err(ReadError::InvalidField {
                field: Field::Limit,
                value: Some(limit.to_string()),
                constraint: Constraint::ValueBetween {
                    min: 1,
                    max: GET_RECORDS_MAX as u64,
                },
            });
        }
        let token = IteratorToken::decode_with_ttl(
            iterator,
            &self.inner.key,
            now_ms(),
            self.inner.config.iterator_ttl_ms,
        )
        .map_err(|error| match error {
            crate::token::TokenError::Expired {
                issued_ms,
                now_ms,
                ttl_ms,
            } => ReadError::IteratorExpired {
                issued_ms,
                now_ms,
                ttl_ms,
            },
            other => ReadError::IteratorInvalid(other),
        })?;
        let stream = self.stream(&token.stream_name)?;
        let missing = || shard_not_found(&token.stream_name, ShardId(token.shard_index));
        let state = Engine::read_stream(&stream);
        if state.meta.created_ms != token.stream_epoch {
            return Err(missing());
        }
        let shard = state.shards.get(&token.shard_index).ok_or_else(missing)?;
        if self.inner.config.shard_quotas {
            let admitted = shard
                .quota
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .take_read_call(self.inner.config.clock.now_ms());
            if !admitted {
                return Err(ReadError::Throttled {
                    stream: token.stream_name.clone(),
                    shard: ShardId(token.shard_index),
                });
            }
        }
        let nothing_yet =
            shard.meta.closed_end_position.is_none() && shard.log_end() <= token.position;
        if wait.is_zero() || !nothing_yet {
            return self.read_shard(&state, shard, &token, limit);
        }
        // Wait without the stream's lock, so that resharding and other writers of
        // the stream's state are not held up by a waiting reader.
        let log = shard.log.clone();
        drop(state);
        log.wait_for(token.position.get(), wait);
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
    ) -> Result<GetRecordsOutput, ReadError> {
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
            shard_id: ShardId(token.shard_index),
        })
    }

    /// Reads up to `limit` records (and 10 MiB) of `shard` from `position`;
    /// `charge_quota` charges the shard's shared read budget (GetRecords does,
    /// enhanced fan-out does not).
    pub(crate) fn read_from(
        &self,
        state: &StreamState,
        shard: &ShardState,
        position: Position,
        limit: usize,
        charge_quota: bool,
    ) -> Result<ShardRead, ReadError> {
        let log = &shard.log;
        let from = position.max(shard.first_position()).get();
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
        let mut records: Vec<OutputRecord> = Vec::with_capacity(result.record_count);
        records.extend(
            result
                .records_with_data()
                .take_while(|record| {
                    closed_end.is_none_or(|end| Position::new(record.position) < end)
                })
                .map(|record| OutputRecord {
                    sequence_number: sequence_number(
                        shard,
                        Position::new(record.position),
                        record.arrival_ms,
                    ),
                    approximate_arrival_ms: record.arrival_ms,
                    data: record.data,
                    partition_key: record.partition_key,
                }),
        );
        if charge_quota && self.inner.config.shard_quotas {
            shard
                .quota
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .charge_read(result.data_bytes);
        }
        let read_end = Position::new(result.next_position);
        let next_position = closed_end.map_or(read_end, |closed| read_end.min(closed));
        let end = shard.log_end();
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

    pub(crate) fn children(&self, state: &StreamState, parent: u32) -> Vec<ChildShard> {
        state
            .shards
            .values()
            .filter(|child| {
                child.meta.parent == Some(parent) || child.meta.adjacent_parent == Some(parent)
            })
            .map(|child| ChildShard {
                shard_id: ShardId(child.meta.index),
                parent_shards: child
                    .meta
                    .parent
                    .iter()
                    .chain(child.meta.adjacent_parent.iter())
                    .map(|p| ShardId(*p))
                    .collect(),
                hash_key_range: child.range,
            })
            .collect()
    }
}

/// The shard `shard` of the stream `stream_name` whose state is `state`.
pub(crate) fn shard_of<'a>(
    state: &'a StreamState,
    stream_name: &str,
    shard: ShardId,
) -> Result<&'a ShardState, ReadError> {
    state
        .shards
        .get(&shard.index())
        .ok_or_else(|| shard_not_found(stream_name, shard))
}

pub(crate) fn shard_not_found(stream: &str, shard: ShardId) -> ReadError {
    ReadError::ShardNotFound {
        stream: stream.to_string(),
        shard,
    }
}
