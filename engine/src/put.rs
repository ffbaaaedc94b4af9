//! PutRecord(s): routing, staging, and the wait for durability.
//!
//! Staging and waiting are two steps ([`Engine::submit_records`], then
//! [`SubmittedPut::wait`] or [`SubmittedPut::acknowledged`]) so that an async
//! caller awaits the group commit on its own task instead of handing the call
//! to a thread that parks until the commit wakes it (two thread switches more
//! per call).

use crate::data::{PutRecord, PutResult, RecordFailure, PARTITION_KEY_CHARS_MAX, PUT_RECORDS_MAX};
use crate::engine::{Engine, ShardState, StreamState};
use crate::error::{Constraint, Failed, Field, PutError};
use crate::names::ShardId;
use crate::position::Position;
use crate::routing::{partition_key_hash, HashKey, HashRange};
use crate::seqno::SequenceNumber;
use shardlog_segment::{Appended, PendingAppend, Record};
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A PutRecords call whose batches are staged, one per shard, and not yet known
/// to be durable. Dropping it abandons the wait, not the batches.
#[derive(Debug)]
#[must_use = "the records are acknowledged only once `wait` or `acknowledged` returns"]
pub struct SubmittedPut {
    engine: Engine,
    /// Each record's answer where it is known already (throttled), in call order.
    results: Vec<Option<Result<PutResult, RecordFailure>>>,
    /// The staged records' slots in the call, sorted by shard, then by slot:
    /// each shard's run is one batch, in call order.
    slots: Vec<u32>,
    batches: Vec<StagedBatch>,
}

/// One shard's batch of a [`SubmittedPut`].
#[derive(Debug)]
struct StagedBatch {
    place: BatchPlace,
    submitted: Result<PendingAppend, shardlog_segment::Error>,
}

/// Which shard a staged batch went to and which records it holds.
#[derive(Debug)]
struct BatchPlace {
    shard: ShardId,
    /// What the shard's sequence numbers hold besides position and time.
    created_secs: u64,
    /// Its records' entries in [`SubmittedPut::slots`].
    slots: Range<usize>,
}

/// Checks `record` against the stream's limits; its hash key is worked out by
/// [`hash_of`] only where the route needs it.
fn check_record(stream: &StreamState, record: &PutRecord<'_>) -> Result<(), PutError> {
    let key = record.partition_key;
    let chars = key.chars().count();
    if chars == 0 || chars > PARTITION_KEY_CHARS_MAX {
        return Err(PutError::InvalidField {
            field: Field::PartitionKey,
            value: Some(key.to_string()),
            constraint: Constraint::LengthBetween {
                min: 1,
                max: PARTITION_KEY_CHARS_MAX,
            },
        });
    }
    let limit = stream.meta.record_kib_max as usize * 1024;
    if record.data.len() > limit {
        return Err(PutError::InvalidField {
            field: Field::Data,
            value: None,
            constraint: Constraint::LengthAtMost { max: limit },
        });
    }
    Ok(())
}

/// The hash key `record` routes by: its ExplicitHashKey, or the MD5 of its
/// partition key.
fn hash_of(record: &PutRecord<'_>) -> u128 {
    match record.explicit_hash_key {
        Some(HashKey(hash)) => hash,
        None => partition_key_hash(record.partition_key),
    }
}

/// Routes records to the open shards of a stream: a stream with one open shard
/// (which then owns every hash key) takes every record without hashing its
/// partition key, the MD5 that was a fifth of a one-shard append's CPU.
enum Route<'a, 's> {
    Only(&'s ShardState),
    ByHash(&'a [&'s ShardState]),
}

impl<'a, 's> Route<'a, 's> {
    fn new(open: &'a [&'s ShardState]) -> Self {
        match open {
            [only] if only.range == HashRange::FULL => Route::Only(only),
            _ => Route::ByHash(open),
        }
    }

    /// The open shard `record` goes to, with its place among the open shards;
    /// else the hash key no open shard owns.
    fn shard(&self, record: &PutRecord<'_>) -> Result<(usize, &'s ShardState), u128> {
        match self {
            Route::Only(shard) => Ok((0, shard)),
            Route::ByHash(open) => {
                let hash = hash_of(record);
                let place = shard_for_hash(open, hash).ok_or(hash)?;
                Ok((place, open[place]))
            }
        }
    }
}

/// Where in `open` (sorted by range start; open shards' ranges never overlap)
/// the shard whose range holds `hash` is: a binary search, where a scan cost each
/// record of a put to a 1,000-shard stream about 500 range checks.
fn shard_for_hash(open: &[&ShardState], hash: u128) -> Option<usize> {
    let place = open
        .partition_point(|shard| shard.range.start <= hash)
        .checked_sub(1)?;
    open.get(place)?.range.contains(hash).then_some(place)
}

/// `routed`, (place among `shards` open shards, slot) pairs in slot order,
/// grouped by place with the slots in order within each: a counting sort, where
/// sorting the pairs was 2 % of a 16-shard append's CPU.
fn group_by_shard(routed: Vec<(u32, u32)>, shards: usize) -> Vec<(u32, u32)> {
    if shards == 1 {
        return routed;
    }
    let mut next = vec![0usize; shards];
    for &(place, _) in &routed {
        next[place as usize] += 1;
    }
    let mut start = 0;
    for count in &mut next {
        (*count, start) = (start, start + *count);
    }
    let mut grouped = vec![(0, 0); routed.len()];
    for (place, slot) in routed {
        grouped[next[place as usize]] = (place, slot);
        next[place as usize] += 1;
    }
    grouped
}

impl Engine {
    /// PutRecord: one record.
    pub fn put_record(
        &self,
        stream_name: &str,
        record: PutRecord<'_>,
    ) -> Result<PutResult, PutError> {
        let mut results = self.put_records(stream_name, &[record])?;
        match results.pop() {
            Some(Ok(result)) => Ok(result),
            Some(Err(RecordFailure::Throttled { stream, shard })) => {
                Err(PutError::Throttled { stream, shard })
            }
            Some(Err(failure)) => Err(PutError::Failed(Failed::Storage(
                shardlog_segment::Error::LogFailed {
                    path: Default::default(),
                    cause: failure.to_string(),
                },
            ))),
            None => unreachable!("put_records answers each of its records"),
        }
    }

    /// PutRecords: up to 500 records, one result each. A request that is malformed
    /// fails whole; a shard whose write fails fails only its own records.
    pub fn put_records(
        &self,
        stream_name: &str,
        records: &[PutRecord<'_>],
    ) -> Result<Vec<Result<PutResult, RecordFailure>>, PutError> {
        Ok(self.submit_records(stream_name, records)?.wait())
    }

    /// [`Engine::put_records`] without the wait: checks, routes and stages the
    /// records (every shard's batch before any wait, so that they share commit
    /// rounds) and returns at once. It blocks only while a shard's staging is
    /// full (the storage's back-pressure), as a submit to a log does.
    pub fn submit_records(
        &self,
        stream_name: &str,
        records: &[PutRecord<'_>],
    ) -> Result<SubmittedPut, PutError> {
        if records.is_empty() || records.len() > PUT_RECORDS_MAX {
            return Err(PutError::InvalidField {
                field: Field::Records,
                value: None,
                constraint: Constraint::LengthBetween {
                    min: 1,
                    max: PUT_RECORDS_MAX,
                },
            });
        }
        let stream = self.stream(stream_name)?;
        self.check_metadata()?;
        self.reopen_failed_shards(&stream)?;
        let state = Engine::read_stream(&stream);
        let open = state.open_shards();
        let route = Route::new(&open);
        let mut results: Vec<Option<Result<PutResult, RecordFailure>>> = vec![None; records.len()];
        // (place in `open`, slot), grouped below: one allocation for every
        // shard's batch, where a map of per-shard lists took one per shard.
        let mut routed: Vec<(u32, u32)> = Vec::with_capacity(records.len());
        let now = self.inner.config.clock.now_ms();
        for (slot, record) in records.iter().enumerate() {
            check_record(&state, record)?;
            let (place, shard) =
                route
                    .shard(record)
                    .map_err(|hash| PutError::NoShardForHashKey {
                        stream: stream_name.to_string(),
                        hash,
                    })?;
            if self.inner.config.shard_quotas {
                let charged = record.data.len() + record.partition_key.len();
                let admitted = shard
                    .quota
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .take_write(charged, now);
                if !admitted {
                    results[slot] = Some(Err(RecordFailure::Throttled {
                        stream: stream_name.to_string(),
                        shard: ShardId(shard.meta.index),
                    }));
                    continue;
                }
            }
            routed.push((place as u32, slot as u32));
        }
        let routed = group_by_shard(routed, open.len());
        let mut batches = Vec::new();
        let mut batch: Vec<Record<'_>> = Vec::new();
        let mut start = 0;
        for run in routed.chunk_by(|a, b| a.0 == b.0) {
            batch.clear();
            batch.extend(run.iter().map(|(_, slot)| {
                let record = &records[*slot as usize];
                Record {
                    partition_key: record.partition_key,
                    explicit_hash_key: None,
                    data: record.data,
                }
            }));
            let shard = open[run[0].0 as usize];
            let place = BatchPlace {
                shard: ShardId(shard.meta.index),
                created_secs: shard.meta.created_secs,
                slots: start..start + run.len(),
            };
            start += run.len();
            batches.push(StagedBatch {
                place,
                submitted: shard.log.submit(&batch),
            });
        }
        Ok(SubmittedPut {
            engine: self.clone(),
            results,
            slots: routed.into_iter().map(|(_, slot)| slot).collect(),
            batches,
        })
    }
}

impl SubmittedPut {
    /// Waits, parking the thread, until every shard's batch is acknowledged or
    /// failed: one result per record, in call order.
    pub fn wait(mut self) -> Vec<Result<PutResult, RecordFailure>> {
        for batch in std::mem::take(&mut self.batches) {
            let outcome = batch.submitted.and_then(PendingAppend::wait);
            self.settle(&batch.place, outcome);
        }
        self.results()
    }

    /// [`SubmittedPut::wait`] for async callers: awaits the acknowledgements
    /// without blocking a thread. The task is woken once every shard's batch it
    /// waits for is acknowledged (or failed), not at each one: a commit round
    /// acknowledges its logs one after the other, and a task woken at the first
    /// of four shards was mostly polled again before the next one (a wake-up of
    /// a parked worker thread, and a context switch, each time).
    pub async fn acknowledged(mut self) -> Vec<Result<PutResult, RecordFailure>> {
        let mut waiting = Vec::with_capacity(self.batches.len());
        for batch in std::mem::take(&mut self.batches) {
            match batch.submitted {
                Ok(pending) => waiting.push((batch.place, pending.acknowledged())),
                Err(error) => self.settle(&batch.place, Err(error)),
            }
        }
        std::future::poll_fn(|context| loop {
            let countdown = Arc::new(Countdown {
                remaining: AtomicUsize::new(waiting.len()),
                task: context.waker().clone(),
            });
            let waker = Waker::from(Arc::clone(&countdown));
            let mut inner = Context::from_waker(&waker);
            let before = waiting.len();
            waiting.retain_mut(|(place, acknowledgement)| {
                match Pin::new(acknowledgement).poll(&mut inner) {
                    Poll::Ready(outcome) => {
                        self.settle(place, outcome);
                        false
                    }
                    Poll::Pending => true,
                }
            });
            if waiting.is_empty() {
                return Poll::Ready(());
            }
            // The batches that answered will never wake `countdown`: take them
            // off. If that brings it to zero, every other wake came already and
            // nobody else will wake the task: poll again.
            let ready = before - waiting.len();
            if ready == 0 || countdown.remaining.fetch_sub(ready, Ordering::AcqRel) != ready {
                return Poll::Pending;
            }
        })
        .await;
        self.results()
    }

    /// Answers the records of the batch at `place` from its outcome.
    fn settle(&mut self, place: &BatchPlace, outcome: shardlog_segment::Result<Appended>) {
        let outcome = outcome.map_err(Failed::Storage);
        if outcome.is_err() {
            self.engine.inner.shard_failed.store(true, Ordering::SeqCst);
        }
        for (k, slot) in self.slots[place.slots.clone()].iter().enumerate() {
            self.results[*slot as usize] = Some(match &outcome {
                Ok(appended) => Ok(PutResult {
                    shard_id: place.shard,
                    sequence_number: SequenceNumber {
                        shard_created_secs: place.created_secs,
                        shard_index: place.shard.0,
                        counter: Position::new(appended.base_position).plus(k as u64).get(),
                        arrival_secs: appended.arrival_ms / 1000,
                    },
                }),
                Err(error) => Err(RecordFailure::WriteFailed {
                    shard: place.shard,
                    cause: error.to_string(),
                }),
            });
        }
    }

    fn results(self) -> Vec<Result<PutResult, RecordFailure>> {
        self.results
            .into_iter()
            .map(|result| result.expect("every record routed"))
            .collect()
    }
}

/// A waker that wakes `task` at the last of `remaining` wakes: the batches of
/// one poll of [`SubmittedPut::acknowledged`] each register it, and each wakes
/// it at most once (a log's acknowledgement takes its registration off).
struct Countdown {
    remaining: AtomicUsize,
    task: Waker,
}

impl Wake for Countdown {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.task.wake_by_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{group_by_shard, Countdown};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    /// Counts the wakes of a task.
    struct Counted(AtomicUsize);

    impl Wake for Counted {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A countdown of three wakes its task at the third wake only, by value or
    /// by reference, from any thread.
    #[test]
    fn countdown_wakes_the_task_at_the_last_wake() {
        let task = Arc::new(Counted(AtomicUsize::new(0)));
        let countdown = Arc::new(Countdown {
            remaining: AtomicUsize::new(3),
            task: Waker::from(Arc::clone(&task)),
        });
        let waker = Waker::from(Arc::clone(&countdown));
        waker.wake_by_ref();
        let other = waker.clone();
        std::thread::spawn(move || other.wake()).join().unwrap();
        assert_eq!(task.0.load(Ordering::SeqCst), 0, "two of three wakes");
        waker.wake();
        assert_eq!(task.0.load(Ordering::SeqCst), 1, "the third wake");
    }

    #[test]
    fn grouping_by_shard_keeps_each_shards_slots_in_order() {
        for shards in [1usize, 2, 5, 16] {
            let routed: Vec<(u32, u32)> = (0..200u32)
                .map(|slot| ((slot * 7 + slot / 3) % shards as u32, slot))
                .collect();
            let mut expected = routed.clone();
            expected.sort_by_key(|&(place, _)| place);
            assert_eq!(group_by_shard(routed, shards), expected, "{shards} shards");
        }
    }
}
