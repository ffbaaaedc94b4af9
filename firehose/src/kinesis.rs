//! A Kinesis stream of the engine as a delivery-stream source: every shard is
//! read, parents to their end before their children (lineage), from the
//! checkpoint, else from TRIM_HORIZON or from the delivery stream's creation
//! time (LATEST: records written after it was created, even across restarts).
//!
//! Partitions are shard ids; positions are the record counters inside the
//! sequence numbers (increasing within a shard).

use crate::checkpoint::Positions;
use crate::config::StartPosition;
use crate::error::Result;
use crate::source::{Source, SourceRecord};
use shardlog_engine::seqno::SequenceNumber;
use shardlog_engine::{Engine, IteratorStart, ReadError, ShardFilter, ShardId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the shard list is refreshed (new children after resharding).
pub const SHARD_REFRESH_MS: u64 = 1_000;
/// Most shards listed.
pub const SHARDS_MAX: usize = 10_000;

#[derive(Debug)]
struct Cursor {
    partition: Arc<str>,
    index: u32,
    created_secs: u64,
    parents: Vec<ShardId>,
    /// Counter of the last record read.
    last_read: Option<u64>,
    iterator: Option<String>,
    finished: bool,
}

/// Reads a Kinesis stream of the engine.
#[derive(Debug)]
pub struct KinesisSource {
    engine: Engine,
    stream: String,
    start: StartPosition,
    created_ms: u64,
    shards: BTreeMap<ShardId, Cursor>,
    delivered: Positions,
    refreshed: Option<Instant>,
}

impl KinesisSource {
    /// A source over `stream` for a delivery stream created at `created_ms`.
    pub fn new(engine: Engine, stream: String, start: StartPosition, created_ms: u64) -> Self {
        KinesisSource {
            engine,
            stream,
            start,
            created_ms,
            shards: BTreeMap::new(),
            delivered: Positions::new(),
            refreshed: None,
        }
    }

    fn refresh(&mut self) -> Result<()> {
        let due = self
            .refreshed
            .is_none_or(|at| at.elapsed() >= Duration::from_millis(SHARD_REFRESH_MS));
        if !due {
            return Ok(());
        }
        let (shards, _) = self.engine.list_shards(
            &self.stream,
            Some(&ShardFilter::FromTrimHorizon),
            None,
            SHARDS_MAX,
        )?;
        for shard in shards {
            if self.shards.contains_key(&shard.shard_id) {
                continue;
            }
            let first = shard.starting_sequence_number;
            // Positions are kept by partition name, the shard id's text.
            let partition = shard.shard_id.to_string();
            let last_read = self.delivered.get(&partition).map(|p| *p as u64);
            let parents = shard
                .parent_shard_id
                .into_iter()
                .chain(shard.adjacent_parent_shard_id)
                .collect();
            self.shards.insert(
                shard.shard_id,
                Cursor {
                    partition: Arc::from(partition),
                    index: first.shard_index,
                    created_secs: first.shard_created_secs,
                    parents,
                    last_read,
                    iterator: None,
                    finished: false,
                },
            );
        }
        self.refreshed = Some(Instant::now());
        Ok(())
    }

    /// Shards whose parents are read to their end (or no longer listed).
    fn readable(&self) -> Vec<ShardId> {
        self.shards
            .iter()
            .filter(|(_, cursor)| !cursor.finished)
            .filter(|(_, cursor)| {
                cursor
                    .parents
                    .iter()
                    .all(|parent| self.shards.get(parent).is_none_or(|p| p.finished))
            })
            .map(|(id, _)| *id)
            .collect()
    }

    fn iterator(&mut self, shard: ShardId) -> Result<String> {
        let cursor = self.shards.get(&shard).expect("readable shards are listed");
        if let Some(iterator) = &cursor.iterator {
            return Ok(iterator.clone());
        }
        let start = match (cursor.last_read, self.start) {
            (Some(counter), _) => IteratorStart::AfterSequenceNumber(SequenceNumber {
                shard_created_secs: cursor.created_secs,
                shard_index: cursor.index,
                counter,
                arrival_secs: cursor.created_secs,
            }),
            (None, StartPosition::TrimHorizon) => IteratorStart::TrimHorizon,
            (None, StartPosition::Latest) => IteratorStart::AtTimestamp(self.created_ms),
        };
        let iterator = match self.engine.get_shard_iterator(&self.stream, shard, start) {
            // The last read record is gone (retention): continue at the oldest.
            Err(
                ReadError::SequenceNumberInvalid { .. }
                | ReadError::SequenceNumberOfOtherShard { .. },
            ) if cursor.last_read.is_some() => {
                self.engine
                    .get_shard_iterator(&self.stream, shard, IteratorStart::TrimHorizon)?
            }
            other => other?,
        };
        Ok(iterator)
    }

    /// Reads one shard; returns how many records came.
    fn read_shard(
        &mut self,
        shard: ShardId,
        records_max: usize,
        wait: Duration,
        out: &mut Vec<SourceRecord>,
    ) -> Result<usize> {
        let iterator = self.iterator(shard)?;
        let output = match self
            .engine
            .get_records_waiting(&iterator, records_max.max(1), wait)
        {
            Err(ReadError::IteratorExpired { .. }) => {
                if let Some(cursor) = self.shards.get_mut(&shard) {
                    cursor.iterator = None;
                }
                return Ok(0);
            }
            other => other?,
        };
        let cursor = self.shards.get_mut(&shard).expect("read shards are listed");
        let count = output.records.len();
        for record in output.records {
            let number = record.sequence_number;
            cursor.last_read = Some(number.counter);
            out.push(SourceRecord {
                partition: Arc::clone(&cursor.partition),
                position: u128::from(number.counter),
                arrival_ms: record.approximate_arrival_ms,
                data: record.data.to_vec(),
            });
        }
        match output.next_shard_iterator {
            Some(next) => cursor.iterator = Some(next),
            None => {
                cursor.finished = true;
                cursor.iterator = None;
                // Children may be listed only now.
                self.refreshed = None;
            }
        }
        Ok(count)
    }
}

impl Source for KinesisSource {
    fn seek(&mut self, delivered: &Positions) -> Result<()> {
        self.delivered = delivered.clone();
        self.shards.clear();
        self.refreshed = None;
        Ok(())
    }

    fn read(
        &mut self,
        records_max: usize,
        bytes_max: usize,
        wait: Duration,
        out: &mut Vec<SourceRecord>,
    ) -> Result<()> {
        self.refresh()?;
        let before = out.len();
        let readable = self.readable();
        for shard in &readable {
            let taken = out.len() - before;
            let bytes: usize = out[before..].iter().map(|r| r.data.len()).sum();
            if taken >= records_max || bytes >= bytes_max {
                return Ok(());
            }
            self.read_shard(*shard, records_max - taken, Duration::ZERO, out)?;
        }
        if out.len() == before && !wait.is_zero() {
            // Nothing anywhere: wait on the first readable shard (woken by an
            // append), or just for the refresh interval when there is none.
            match self.readable().first() {
                Some(shard) => {
                    let shard = *shard;
                    self.read_shard(shard, records_max, wait, out)?;
                }
                None => std::thread::sleep(wait),
            }
        }
        Ok(())
    }

    fn release(&mut self, _delivered: &Positions) -> Result<()> {
        // The engine's retention owns the stream's records.
        Ok(())
    }
}
