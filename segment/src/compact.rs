//! Key compaction: sealed segments rewritten to keep, for each partition key, only
//! its newest record in the whole log. Positions (and so sequence numbers) are
//! kept; a compacted segment's records skip the positions that were dropped.

use crate::batch::{encode_batch, BatchView, Record, RecordView};
use crate::error::{io_err, Error, Result};
use crate::format::{SegmentHeader, SEGMENT_HEADER_LEN};
use crate::io::write_file_atomic;
use crate::log::Log;
use crate::read::ReadLimits;
use crate::sealed::{map_sealed, sealed_index_files, SealedSegment, SegmentInfo};
use shardlog_index::{Entry, Sampler};
use std::collections::HashMap;
use std::sync::Arc;

/// Distinct partition keys one compaction pass holds in memory (each with its
/// newest position): about 256 thousand, tens of MiB at most. A log with more keys
/// is compacted in several passes, each over the keys of one hash partition.
pub const COMPACTION_KEYS_MAX: usize = 1 << 18;

/// Most hash partitions a compaction splits its keys into before it gives up
/// (only keys crafted to share a checksum could need more).
const PARTITIONS_MAX: u32 = 1 << 16;

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Passes over the log, one per hash partition of the keys (1 unless the log
    /// holds more than the key limit), counting passes restarted with finer ones.
    pub passes: usize,
    /// Sealed segments rewritten.
    pub segments_rewritten: usize,
    /// Records dropped (an older record of a key that has a newer one).
    pub records_dropped: u64,
    /// Bytes of the rewritten segments before.
    pub bytes_before: u64,
    /// Bytes of the rewritten segments after.
    pub bytes_after: u64,
}

/// The keys one pass handles: those whose checksum is `index` modulo `count`.
#[derive(Debug, Clone, Copy)]
struct Partition {
    index: u32,
    count: u32,
}

impl Partition {
    fn holds(&self, key: &str) -> bool {
        crc32fast::hash(key.as_bytes()) % self.count == self.index
    }
}

impl Log {
    /// Rewrites every sealed segment that holds a record superseded by a newer
    /// record of the same partition key anywhere in the log. Appends and reads go
    /// on meanwhile; a reader holding an old segment keeps reading it. Holds at
    /// most [`COMPACTION_KEYS_MAX`] keys in memory.
    pub fn compact(&self) -> Result<CompactionReport> {
        self.compact_with_keys_max(COMPACTION_KEYS_MAX)
    }

    /// As [`Log::compact`], holding at most `keys_max` keys in memory: when a pass
    /// finds more, the keys are split into twice as many hash partitions and the
    /// passes start again, one per partition, each rewriting segments for its own
    /// keys only. A record is dropped only for a newer durable record of its key,
    /// whatever the partitioning, so passes done before a restart stay correct.
    pub fn compact_with_keys_max(&self, keys_max: usize) -> Result<CompactionReport> {
        let _one_at_a_time = self
            .shared
            .compaction
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut report = CompactionReport::default();
        let mut partition = Partition { index: 0, count: 1 };
        while partition.index < partition.count {
            report.passes += 1;
            let Some(newest) = self.newest_positions(partition, keys_max)? else {
                let count = partition.count * 2;
                if count > PARTITIONS_MAX {
                    return Err(Error::InvalidConfig(format!(
                        "key compaction of {} needs more than {keys_max} keys in memory \
                         in one of {} hash partitions",
                        self.shared.dir.display(),
                        partition.count
                    )));
                }
                partition = Partition { index: 0, count };
                continue;
            };
            let sealed: Vec<Arc<SealedSegment>> = self.shared.lock().sealed.clone();
            for segment in sealed {
                self.compact_segment(&segment, &newest, partition, &mut report)?;
            }
            partition.index += 1;
        }
        Ok(report)
    }

    /// The newest durable position of every partition key of `partition` in the
    /// log, or `None` if there are more than `keys_max`. Records not yet synced
    /// (`interval` and `none` policies) do not count: a power loss could take them,
    /// and the older version they would supersede must then still be there.
    fn newest_positions(
        &self,
        partition: Partition,
        keys_max: usize,
    ) -> Result<Option<HashMap<String, u64>>> {
        let mut newest = HashMap::new();
        let end = self.shared.lock().durable_position;
        let mut position = self.first_position();
        let limits = ReadLimits {
            records_max: 10_000,
            bytes_max: 64 << 20,
        };
        while position < end {
            let result = self.read(position, limits)?;
            if result.record_count == 0 {
                break;
            }
            for record in result.records().take_while(|record| record.position < end) {
                if !partition.holds(record.partition_key) {
                    continue;
                }
                newest.insert(record.partition_key.to_string(), record.position);
                if newest.len() > keys_max {
                    return Ok(None);
                }
            }
            position = result.next_position;
        }
        Ok(Some(newest))
    }

    /// Rewrites `segment` without the records of `partition` that a newer record
    /// of their key supersedes (records of other partitions are kept).
    fn compact_segment(
        &self,
        segment: &SealedSegment,
        newest: &HashMap<String, u64>,
        partition: Partition,
        report: &mut CompactionReport,
    ) -> Result<()> {
        let bytes = segment.log.bytes();
        let mut kept: Vec<RecordView<'_>> = Vec::new();
        let mut total = 0u64;
        let mut offset = SEGMENT_HEADER_LEN;
        while offset < bytes.len() {
            let view = BatchView::parse(&bytes[offset..]).map_err(|corruption| Error::Corrupt {
                path: segment.paths.log.clone(),
                offset: offset as u64,
                corruption,
            })?;
            for record in view.records() {
                total += 1;
                // Only for a newer durable record: a key missing from `newest` (its
                // records came after the scan, in a segment sealed since) is kept.
                let superseded = partition.holds(record.partition_key)
                    && newest
                        .get(record.partition_key)
                        .is_some_and(|newest| *newest > record.position);
                if !superseded {
                    kept.push(record);
                }
            }
            offset += view.header().batch_len;
        }
        if kept.len() as u64 == total {
            return Ok(());
        }
        let rewritten = self.write_compacted(segment, &kept)?;
        report.segments_rewritten += 1;
        report.records_dropped += total - kept.len() as u64;
        report.bytes_before += bytes.len() as u64;
        report.bytes_after += rewritten.info.bytes;
        self.install(segment, rewritten)
    }

    /// Writes the compacted segment and its indexes (each file atomically) and maps them.
    fn write_compacted(
        &self,
        segment: &SealedSegment,
        kept: &[RecordView<'_>],
    ) -> Result<SealedSegment> {
        let info = segment.info;
        let header = SegmentHeader {
            base_position: info.base_position,
            created_ms: info.created_ms,
            compacted_end: Some(info.end_position),
        };
        let mut out = header.encode().to_vec();
        let mut sampler = Sampler::new(self.shared.config.index_interval_bytes);
        let (mut idx, mut tix) = (Vec::new(), Vec::new());
        let limits = self.shared.config.limits();
        for record in kept {
            let offset = out.len() as u64;
            if sampler.should_index(offset) {
                idx.push(Entry {
                    key: record.position,
                    value: offset,
                });
                tix.push(Entry {
                    key: record.arrival_ms,
                    value: record.position,
                });
            }
            let one = Record {
                partition_key: record.partition_key,
                explicit_hash_key: record.explicit_hash_key,
                data: record.data,
            };
            out.extend_from_slice(&encode_batch(
                record.position,
                record.arrival_ms,
                &[one],
                &limits,
            )?);
        }
        let last_arrival_ms = kept.last().map(|record| record.arrival_ms);
        let (idx_bytes, tix_bytes) = sealed_index_files(
            info.base_position,
            &idx,
            &tix,
            info.end_position,
            out.len() as u64,
            last_arrival_ms.unwrap_or(0),
        );
        let fs = self.shared.fs.as_ref();
        let paths = segment.paths.clone();
        // The log's rename is the commit point; index files that do not match it
        // are rebuilt on open, so a crash between the three is harmless.
        write_file_atomic(fs, &paths.log, &out).map_err(io_err("write compacted", &paths.log))?;
        write_file_atomic(fs, &paths.idx, &idx_bytes).map_err(io_err("write index", &paths.idx))?;
        write_file_atomic(fs, &paths.tix, &tix_bytes).map_err(io_err("write index", &paths.tix))?;
        let map = fs.map(&paths.log).map_err(io_err("map", &paths.log))?;
        let info = SegmentInfo {
            first_arrival_ms: kept.first().map(|record| record.arrival_ms),
            last_arrival_ms,
            bytes: out.len() as u64,
            ..info
        };
        map_sealed(fs, paths, info, map)
    }

    /// Swaps the rewritten segment in; if retention removed the original meanwhile,
    /// removes the rewrite too.
    fn install(&self, original: &SealedSegment, rewritten: SealedSegment) -> Result<()> {
        let mut state = self.shared.lock();
        let slot = state
            .sealed
            .iter()
            .position(|segment| segment.info.base_position == original.info.base_position);
        match slot {
            Some(slot) => {
                state.sealed[slot] = Arc::new(rewritten);
                Ok(())
            }
            None => {
                drop(state);
                let paths = &rewritten.paths;
                for path in [&paths.log, &paths.idx, &paths.tix] {
                    if self.shared.fs.exists(path) {
                        self.shared
                            .fs
                            .remove_file(path)
                            .map_err(io_err("remove", path))?;
                    }
                }
                Ok(())
            }
        }
    }
}
