//! Sources of records: the staging log of a Direct PUT delivery stream (here)
//! and a Kinesis stream of the engine (`kinesis.rs`).

use crate::checkpoint::Positions;
use crate::error::Result;
use shardlog_segment::{Log, ReadLimits};
use std::sync::Arc;
use std::time::Duration;

/// The partition name of a Direct PUT staging log.
pub const STAGING_PARTITION: &str = "staging";

/// One record read from a source.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// The partition (staging log or shard) it came from.
    pub partition: Arc<str>,
    /// Its position there (increasing within a partition).
    pub position: u128,
    /// When it arrived, ms since the epoch.
    pub arrival_ms: u64,
    /// The payload.
    pub data: Vec<u8>,
}

/// Where a delivery loop reads from.
pub trait Source: Send {
    /// Continues after `delivered` (per partition, the last delivered position).
    fn seek(&mut self, delivered: &Positions) -> Result<()>;
    /// Appends up to `records_max` records (and about `bytes_max` bytes) to `out`,
    /// waiting up to `wait` for the first one.
    fn read(
        &mut self,
        records_max: usize,
        bytes_max: usize,
        wait: Duration,
        out: &mut Vec<SourceRecord>,
    ) -> Result<()>;
    /// Everything up to `delivered` is durable at the destination: the source may
    /// release it.
    fn release(&mut self, delivered: &Positions) -> Result<()>;
}

/// A Direct PUT delivery stream's staging log.
#[derive(Debug)]
pub struct StagingSource {
    log: Log,
    next_position: u64,
    partition: Arc<str>,
}

impl StagingSource {
    /// Reads `log` from its first record.
    pub fn new(log: Log) -> StagingSource {
        let next_position = log.first_position();
        StagingSource {
            log,
            next_position,
            partition: Arc::from(STAGING_PARTITION),
        }
    }
}

impl Source for StagingSource {
    fn seek(&mut self, delivered: &Positions) -> Result<()> {
        let after = delivered
            .get(STAGING_PARTITION)
            .map_or(0, |last| (*last as u64).saturating_add(1));
        self.next_position = after.max(self.log.first_position());
        Ok(())
    }

    fn read(
        &mut self,
        records_max: usize,
        bytes_max: usize,
        wait: Duration,
        out: &mut Vec<SourceRecord>,
    ) -> Result<()> {
        if self.log.end_position() <= self.next_position
            && !self.log.wait_for(self.next_position, wait)
        {
            return Ok(());
        }
        let limits = ReadLimits {
            records_max: records_max.max(1),
            bytes_max,
        };
        let read = self.log.read(self.next_position, limits)?;
        out.extend(read.records().map(|record| SourceRecord {
            partition: Arc::clone(&self.partition),
            position: u128::from(record.position),
            arrival_ms: record.arrival_ms,
            data: record.data.to_vec(),
        }));
        self.next_position = read.next_position;
        Ok(())
    }

    fn release(&mut self, delivered: &Positions) -> Result<()> {
        if let Some(last) = delivered.get(STAGING_PARTITION) {
            let end = (*last as u64).saturating_add(1);
            self.log
                .remove_oldest_segments(|info| info.sealed && info.end_position <= end)?;
        }
        Ok(())
    }
}
