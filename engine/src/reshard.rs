//! Describing shards and changing them: DescribeStream, ListShards, SplitShard,
//! MergeShards.

use crate::data::sequence_number;
use crate::engine::{new_shard_meta, now_ms, open_shard, Engine, ShardState, StreamState};
use crate::error::{
    Failed, Field, MergeShardsError, ShardNotOpen, SplitShardError, StreamLookupError,
    UpdateShardCountError,
};
use crate::manifest::StreamMode;
use crate::names::ShardId;
use crate::position::Position;
use crate::routing::{even_ranges, HashKey, HashRange};
use crate::seqno::SequenceNumber;

/// A shard as DescribeStream and ListShards show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardDescription {
    /// The shard.
    pub shard_id: ShardId,
    /// Parent after a split or merge.
    pub parent_shard_id: Option<ShardId>,
    /// Other parent after a merge.
    pub adjacent_parent_shard_id: Option<ShardId>,
    /// First and last hash key.
    pub hash_key_range: HashRange,
    /// Sequence number of the shard's first possible record.
    pub starting_sequence_number: SequenceNumber,
    /// Set on a closed shard: its last record's number.
    pub ending_sequence_number: Option<SequenceNumber>,
}

/// DescribeStream / DescribeStreamSummary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDescription {
    /// Name.
    pub stream_name: String,
    /// Capacity mode. (The stream is active: every operation here completes
    /// before it returns.)
    pub stream_mode: StreamMode,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// Retention, hours.
    pub retention_hours: u32,
    /// Open shards.
    pub open_shard_count: usize,
    /// Largest record, KiB.
    pub record_kib_max: u32,
    /// Registered consumers.
    pub consumer_count: usize,
    /// Shard-level metrics enabled.
    pub shard_level_metrics: Vec<String>,
    /// Shards after `exclusive_start_shard_id`, at most the limit asked for.
    pub shards: Vec<ShardDescription>,
    /// Whether more shards follow.
    pub has_more_shards: bool,
}

/// ListShards' ShardFilter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardFilter {
    /// Shards after this one.
    AfterShardId(ShardId),
    /// Shards open at the trim horizon: those without a parent still listed.
    AtTrimHorizon,
    /// Every shard from the trim horizon on (all of them).
    FromTrimHorizon,
    /// Shards open now.
    AtLatest,
    /// Shards open at this time (ms).
    AtTimestamp(u64),
    /// Shards open at or after this time (ms).
    FromTimestamp(u64),
}

/// Where a shard being closed by a reshard ends: after every batch submitted
/// to its log. A PutRecords awaited on its request's task releases the stream's
/// read lock once its batches are staged, so a reshard (under the write lock,
/// which keeps new batches out) can find batches staged and not yet
/// acknowledged; they are acknowledged later, at positions the closed end must
/// include, or readers would never see those acknowledged records. If the log
/// fails first, its unacknowledged batches never will be, and it ends at what it
/// acknowledged.
fn settled_end(shard: &ShardState) -> Position {
    match shard.log.settle_submitted() {
        Ok(end) => Position::new(end),
        Err(_) => shard.log_end(),
    }
}

fn describe_shard(shard: &ShardState) -> ShardDescription {
    let meta = &shard.meta;
    let created_ms = meta.created_secs * 1000;
    ShardDescription {
        shard_id: ShardId(meta.index),
        parent_shard_id: meta.parent.map(ShardId),
        adjacent_parent_shard_id: meta.adjacent_parent.map(ShardId),
        hash_key_range: shard.range,
        starting_sequence_number: SequenceNumber::before_first(meta.created_secs, meta.index),
        ending_sequence_number: meta.closed_end_position.map(|end| {
            sequence_number(
                shard,
                end.previous().unwrap_or(Position::FIRST),
                meta.closed_ms.unwrap_or(created_ms),
            )
        }),
    }
}

fn keep_shard(state: &StreamState, shard: &ShardState, filter: &ShardFilter) -> bool {
    let meta = &shard.meta;
    let created_ms = meta.created_secs * 1000;
    match filter {
        ShardFilter::AfterShardId(after) => meta.index > after.index(),
        ShardFilter::AtTrimHorizon => [meta.parent, meta.adjacent_parent]
            .iter()
            .flatten()
            .all(|parent| !state.shards.contains_key(parent)),
        ShardFilter::FromTrimHorizon => true,
        ShardFilter::AtLatest => meta.closed_end_position.is_none(),
        ShardFilter::AtTimestamp(ms) => {
            created_ms <= *ms && meta.closed_ms.is_none_or(|closed| closed > *ms)
        }
        ShardFilter::FromTimestamp(ms) => meta.closed_ms.is_none_or(|closed| closed > *ms),
    }
}

/// Shards after `exclusive_start` that pass `filter`, at most `limit`, and
/// whether more follow.
fn shard_page(
    state: &StreamState,
    filter: Option<&ShardFilter>,
    exclusive_start: Option<ShardId>,
    limit: usize,
) -> (Vec<ShardDescription>, bool) {
    let mut shards: Vec<ShardDescription> = state
        .shards
        .values()
        .filter(|shard| exclusive_start.is_none_or(|after| shard.meta.index > after.index()))
        .filter(|shard| filter.is_none_or(|filter| keep_shard(state, shard, filter)))
        .take(limit.saturating_add(1))
        .map(describe_shard)
        .collect();
    let more = shards.len() > limit;
    shards.truncate(limit);
    (shards, more)
}

impl Engine {
    /// DescribeStream: the stream and up to `limit` shards after `exclusive_start`.
    pub fn describe_stream(
        &self,
        name: &str,
        limit: usize,
        exclusive_start: Option<ShardId>,
    ) -> Result<StreamDescription, StreamLookupError> {
        let stream = self.stream(name)?;
        let state = Engine::read_stream(&stream);
        let (shards, has_more_shards) = shard_page(&state, None, exclusive_start, limit);
        Ok(StreamDescription {
            stream_name: state.meta.name.clone(),
            stream_mode: state.meta.mode,
            created_ms: state.meta.created_ms,
            retention_hours: state.meta.retention_hours,
            open_shard_count: state.open_shards().len(),
            record_kib_max: state.meta.record_kib_max,
            consumer_count: state.meta.consumers.len(),
            shard_level_metrics: state.meta.shard_level_metrics.iter().cloned().collect(),
            shards,
            has_more_shards,
        })
    }

    /// ListShards: shards passing `filter`, after `exclusive_start`, at most `limit`;
    /// and whether more follow.
    pub fn list_shards(
        &self,
        name: &str,
        filter: Option<&ShardFilter>,
        exclusive_start: Option<ShardId>,
        limit: usize,
    ) -> Result<(Vec<ShardDescription>, bool), StreamLookupError> {
        let stream = self.stream(name)?;
        let state = Engine::read_stream(&stream);
        Ok(shard_page(&state, filter, exclusive_start, limit))
    }

    fn open_shard_of(
        &self,
        state: &StreamState,
        name: &str,
        shard: ShardId,
    ) -> Result<u32, ShardNotOpen> {
        let index = shard.index();
        let Some(state) = state.shards.get(&index) else {
            return Err(ShardNotOpen::NotFound {
                stream: name.to_string(),
                shard,
            });
        };
        if state.meta.closed_end_position.is_some() {
            return Err(ShardNotOpen::Closed {
                stream: name.to_string(),
                shard,
            });
        }
        Ok(index)
    }

    /// SplitShard: closes the shard and opens two children that divide its range at
    /// `new_starting_hash_key`.
    pub fn split_shard(
        &self,
        name: &str,
        shard: ShardId,
        new_starting_hash_key: HashKey,
    ) -> Result<(), SplitShardError> {
        let stream = self.stream(name)?;
        let state = Engine::write_stream(&stream);
        let parent = self.open_shard_of(&state, name, shard)?;
        let HashKey(key) = new_starting_hash_key;
        let range = state.shards[&parent].range;
        let (left, right) = range
            .split_at(key)
            .map_err(|_| SplitShardError::KeyOutsideShard {
                stream: name.to_string(),
                shard,
                key: new_starting_hash_key,
                start: range.start,
                end: range.end,
            })?;
        drop(state);
        self.check_shard_budget(1)?;
        let mut state = Engine::write_stream(&stream);
        self.reshard(
            &mut state,
            &[parent],
            &[(left, Some(parent), None), (right, Some(parent), None)],
        )?;
        Ok(())
    }

    /// MergeShards: closes two adjacent shards and opens one child over both ranges.
    pub fn merge_shards(
        &self,
        name: &str,
        shard: ShardId,
        adjacent: ShardId,
    ) -> Result<(), MergeShardsError> {
        let stream = self.stream(name)?;
        let mut state = Engine::write_stream(&stream);
        let first = self.open_shard_of(&state, name, shard)?;
        let second = self.open_shard_of(&state, name, adjacent)?;
        let merged = state.shards[&first]
            .range
            .merge(state.shards[&second].range)
            .map_err(|_| MergeShardsError::NotAdjacent {
                stream: name.to_string(),
                shard,
                adjacent,
            })?;
        self.reshard(
            &mut state,
            &[first, second],
            &[(merged, Some(first), Some(second))],
        )?;
        Ok(())
    }

    /// Closes `parents` at their current ends and opens `children`, durably.
    /// Returns the children's indexes.
    fn reshard(
        &self,
        state: &mut StreamState,
        parents: &[u32],
        children: &[(HashRange, Option<u32>, Option<u32>)],
    ) -> Result<Vec<u32>, Failed> {
        let now = now_ms();
        let mut meta = state.meta.clone();
        for parent in parents {
            let log_end = settled_end(&state.shards[parent]);
            let shard = meta.shards.get_mut(parent).expect("checked open");
            shard.closed_end_position = Some(log_end);
            shard.closed_ms = Some(now);
        }
        let mut opened = Vec::new();
        for (range, parent, adjacent) in children {
            let index = meta.next_shard_index;
            meta.next_shard_index += 1;
            let child = new_shard_meta(index, now / 1000, *range, *parent, *adjacent);
            meta.shards.insert(index, child.clone());
            opened.push(open_shard(
                &self.inner.storage,
                &self.inner.config,
                &meta,
                child,
                &mut self.report_lock(),
            )?);
        }
        self.persist(&meta.name.clone(), Some(meta.clone()))?;
        for parent in parents {
            let shard = state.shards.get_mut(parent).expect("checked open");
            shard.meta = meta.shards[parent].clone();
            // The shard's own record of being closed, for a MANIFEST rebuild; the
            // MANIFEST (written above) is what counts, so a failure here only
            // weakens a later rebuild.
            let dir = crate::engine::shard_dir(&self.inner.config, &meta, *parent);
            let _ = crate::layout::sync_shard_meta(self.inner.fs.as_ref(), &dir, &shard.meta);
            // Readers waiting for the parent's next record get its end and children
            // instead (once this lock is released).
            shard.log.wake_waiters();
        }
        let indexes = opened.iter().map(|child| child.meta.index).collect();
        for child in opened {
            state.shards.insert(child.meta.index, child);
        }
        state.meta = meta;
        Ok(indexes)
    }

    /// UpdateShardCount with UNIFORM_SCALING: from the open shards to `target`
    /// shards of even ranges, by splits and merges as Kinesis does it, so that every
    /// new shard has at most two parents. Between half and double the open count.
    pub fn update_shard_count(&self, name: &str, target: u32) -> Result<(), UpdateShardCountError> {
        let stream = self.stream(name)?;
        let mut state = Engine::write_stream(&stream);
        let current = state.open_shards().len() as u32;
        crate::engine::check_shard_count(Field::TargetShardCount, target)?;
        if target > current * 2 || target * 2 < current {
            return Err(UpdateShardCountError::OutOfScalingRange {
                stream: name.to_string(),
                target,
                current,
            });
        }
        drop(state);
        self.check_shard_budget(target.saturating_sub(current))?;
        state = Engine::write_stream(&stream);
        let targets = even_ranges(target)?;
        self.split_at_boundaries(&mut state, &targets)?;
        for range in &targets {
            self.merge_within(&mut state, *range)?;
        }
        Ok(())
    }

    /// Splits every open shard at each target boundary strictly inside it.
    fn split_at_boundaries(
        &self,
        state: &mut StreamState,
        targets: &[HashRange],
    ) -> Result<(), Failed> {
        let open: Vec<(u32, HashRange)> = state
            .open_shards()
            .iter()
            .map(|shard| (shard.meta.index, shard.range))
            .collect();
        for (mut index, mut range) in open {
            let inside: Vec<u128> = targets
                .iter()
                .map(|target| target.start)
                .filter(|start| range.start < *start && *start <= range.end)
                .collect();
            for boundary in inside {
                // Not `HashRange::split_at`: the service's rule for SplitShard keeps
                // two keys on each side, but reaching even ranges can need a
                // one-key intermediate shard, merged right away.
                let left = HashRange {
                    start: range.start,
                    end: boundary - 1,
                };
                let right = HashRange {
                    start: boundary,
                    end: range.end,
                };
                let children = [(left, Some(index), None), (right, Some(index), None)];
                index = self.reshard(state, &[index], &children)?[1];
                range = right;
            }
        }
        Ok(())
    }

    /// Merges the open shards inside `target`, left to right, until one remains.
    fn merge_within(
        &self,
        state: &mut StreamState,
        target: HashRange,
    ) -> Result<(), UpdateShardCountError> {
        loop {
            let inside: Vec<(u32, HashRange)> = state
                .open_shards()
                .iter()
                .filter(|shard| target.start <= shard.range.start && shard.range.end <= target.end)
                .map(|shard| (shard.meta.index, shard.range))
                .collect();
            let [(first, first_range), (second, second_range), ..] = inside[..] else {
                return Ok(());
            };
            let merged = first_range.merge(second_range)?;
            self.reshard(
                state,
                &[first, second],
                &[(merged, Some(first), Some(second))],
            )?;
        }
    }
}
