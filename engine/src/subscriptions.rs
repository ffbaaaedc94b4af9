//! Enhanced fan-out subscriptions (SubscribeToShard): one active subscription per
//! registered consumer and shard, each reading on its own (no shared read budget),
//! woken by appends. The event-stream framing is the server's.
//!
//! Rules, as AWS states them: a second SubscribeToShard for the same consumer and
//! shard within 5 seconds of a successful one fails with ResourceInUse; one made
//! later takes the subscription over, and the older one ends with ResourceInUse.
//! A subscription lasts `subscription_lifetime_ms` (Kinesis: 5 minutes) and then
//! ends cleanly; the client subscribes again from its continuation sequence number.

use crate::consumers::ConsumerId;
use crate::data::{ChildShard, IteratorStart, OutputRecord, GET_RECORDS_MAX};
use crate::engine::{Engine, ShardState};
use crate::error::{SubscribeError, SubscriptionError, SubscriptionTargetError};
use crate::names::ShardId;
use crate::position::Position;
use crate::seqno::SequenceNumber;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long after a successful SubscribeToShard another for the same consumer and
/// shard is refused rather than taking over (AWS: 5 seconds).
pub const RESUBSCRIBE_GUARD_MS: u64 = 5_000;
/// Most subscriptions active at once across the engine (each holds a reader).
pub const SUBSCRIPTIONS_MAX: usize = 1_024;

/// (stream, consumer, shard index).
type SlotKey = (String, String, u32);

#[derive(Debug)]
struct Slot {
    generation: u64,
    started: Instant,
    taken_over: Arc<AtomicBool>,
}

/// Active subscriptions by consumer and shard.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    slots: Mutex<HashMap<SlotKey, Slot>>,
    generations: AtomicU64,
    /// Set when the server stops: every subscription ends at its next batch.
    ending: AtomicBool,
}

impl Subscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SlotKey, Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// One push of a subscription: SubscribeToShardEvent's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionBatch {
    /// New records, in order (may be empty).
    pub records: Vec<OutputRecord>,
    /// Subscribe again AFTER_SEQUENCE_NUMBER this to continue after this batch.
    pub continuation_sequence_number: SequenceNumber,
    /// How far behind the newest record of the shard this batch is.
    pub millis_behind_latest: u64,
    /// The shard is closed and fully read: its children (the subscription ends).
    pub child_shards: Option<Vec<ChildShard>>,
}

/// An active subscription. Dropping it frees its (consumer, shard) slot.
#[derive(Debug)]
pub struct Subscription {
    engine: Engine,
    key: SlotKey,
    generation: u64,
    stream_epoch: u64,
    position: Position,
    deadline: Instant,
    taken_over: Arc<AtomicBool>,
    finished: bool,
}

impl Engine {
    /// SubscribeToShard: checks the consumer (this registration of it), shard and
    /// starting position and claims the (consumer, shard) slot.
    pub fn subscribe_to_shard(
        &self,
        consumer: &ConsumerId,
        shard: ShardId,
        start: IteratorStart,
    ) -> Result<Subscription, SubscribeError> {
        self.check_registered(consumer)?;
        let stream_name = consumer.stream.clone();
        let stream = self.stream(&stream_name)?;
        let state = Engine::read_stream(&stream);
        let index = shard.index();
        let shard_state = crate::data::shard_of(&state, &stream_name, shard)?;
        let position = self.start_position(shard_state, &stream_name, start)?;
        let stream_epoch = state.meta.created_ms;
        drop(state);
        let key = (stream_name, consumer.consumer.clone(), index);
        let (generation, taken_over) = self.claim_slot(&key, consumer, shard)?;
        let lifetime = Duration::from_millis(self.inner.config.subscription_lifetime_ms);
        Ok(Subscription {
            engine: self.clone(),
            key,
            generation,
            stream_epoch,
            position,
            deadline: Instant::now() + lifetime,
            taken_over,
            finished: false,
        })
    }

    /// The checks SubscribeToShard makes before it reads its starting position:
    /// the consumer is registered (this registration of it) and its stream has the
    /// shard. For a caller that reports those before a starting position it could
    /// not read.
    pub fn check_subscription(
        &self,
        consumer: &ConsumerId,
        shard: ShardId,
    ) -> Result<(), SubscriptionTargetError> {
        self.check_registered(consumer)?;
        Ok(self.check_shard(&consumer.stream, shard)?)
    }

    fn check_registered(&self, consumer: &ConsumerId) -> Result<(), SubscriptionTargetError> {
        let registered = self
            .describe_consumer(&consumer.stream, &consumer.consumer)
            .is_ok_and(|described| described.id() == *consumer);
        if !registered {
            return Err(SubscriptionTargetError::ConsumerNotRegistered {
                consumer: consumer.clone(),
            });
        }
        Ok(())
    }

    fn claim_slot(
        &self,
        key: &SlotKey,
        consumer: &ConsumerId,
        shard: ShardId,
    ) -> Result<(u64, Arc<AtomicBool>), SubscribeError> {
        let registry = &self.inner.subscriptions;
        if registry.ending.load(Ordering::SeqCst) {
            return Err(SubscribeError::Stopping);
        }
        let mut slots = registry.lock();
        if let Some(slot) = slots.get(key) {
            if slot.started.elapsed() < Duration::from_millis(RESUBSCRIBE_GUARD_MS) {
                return Err(SubscribeError::SubscriptionActive {
                    consumer: consumer.clone(),
                    shard,
                    guard_ms: RESUBSCRIBE_GUARD_MS,
                });
            }
            slot.taken_over.store(true, Ordering::SeqCst);
        } else if slots.len() >= SUBSCRIPTIONS_MAX {
            return Err(SubscribeError::SubscriptionLimit {
                limit: SUBSCRIPTIONS_MAX,
            });
        }
        let generation = registry.generations.fetch_add(1, Ordering::Relaxed);
        let taken_over = Arc::new(AtomicBool::new(false));
        slots.insert(
            key.clone(),
            Slot {
                generation,
                started: Instant::now(),
                taken_over: Arc::clone(&taken_over),
            },
        );
        Ok((generation, taken_over))
    }

    /// Ends every subscription (at its next batch, within its wait) and refuses
    /// new ones: for a server that is stopping.
    pub fn end_subscriptions(&self) {
        self.inner
            .subscriptions
            .ending
            .store(true, Ordering::SeqCst);
    }

    /// How many subscriptions are active.
    pub fn active_subscriptions(&self) -> usize {
        self.inner.subscriptions.lock().len()
    }
}

impl Subscription {
    /// The shard read.
    pub fn shard_id(&self) -> ShardId {
        ShardId(self.key.2)
    }

    /// Time left before the subscription's lifetime is over.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The stream read.
    pub fn stream_name(&self) -> &str {
        &self.key.0
    }

    /// The next batch: records as soon as one is readable, or an empty batch
    /// after `wait`. `Ok(None)` once the lifetime is over or after the batch that
    /// carried the closed shard's children. Errors: ResourceInUse when a newer
    /// subscription took over; ResourceNotFound when the consumer or stream went.
    pub fn next_batch(
        &mut self,
        wait: Duration,
    ) -> Result<Option<SubscriptionBatch>, SubscriptionError> {
        let ending = self
            .engine
            .inner
            .subscriptions
            .ending
            .load(Ordering::SeqCst);
        if self.finished || ending || Instant::now() >= self.deadline {
            return Ok(None);
        }
        let (log, open) = {
            let shard = self.shard_state()?;
            (shard.log.clone(), shard.meta.closed_end_position.is_none())
        };
        let wait = wait.min(self.deadline.saturating_duration_since(Instant::now()));
        // Waits outside the stream's lock, so resharding is never held up by readers.
        let mut left_early = None;
        if open && !wait.is_zero() {
            let waited = Instant::now();
            if !log.wait_for(self.position.get(), wait) {
                left_early = Some(wait.saturating_sub(waited.elapsed()));
            }
        }
        let engine = self.engine.clone();
        let stream = engine.stream(&self.key.0)?;
        let state = Engine::read_stream(&stream);
        let shard = self.check(&state)?;
        let read = engine.read_from(&state, shard, self.position, GET_RECORDS_MAX, false)?;
        let continuation = continuation(shard, read.next_position, read.records.last());
        drop(state);
        self.position = read.next_position;
        self.finished = read.finished;
        if let Some(rest) = left_early.filter(|_| read.records.is_empty() && !read.finished) {
            // Woken early with nothing to read and the shard still open: the log
            // failed or closed. Sit out the rest of the wait rather than spin until
            // that is resolved. (A shard that resharding closed is finished: its
            // children go out at once.)
            std::thread::sleep(rest);
        }
        Ok(Some(SubscriptionBatch {
            records: read.records,
            continuation_sequence_number: continuation,
            millis_behind_latest: read.millis_behind_latest,
            child_shards: read.finished.then_some(read.child_shards),
        }))
    }

    fn shard_state(&self) -> Result<ShardState, SubscriptionError> {
        let stream = self.engine.stream(&self.key.0)?;
        let state = Engine::read_stream(&stream);
        self.check(&state).cloned()
    }

    /// The shard, after checking that the subscription still stands.
    fn check<'a>(
        &self,
        state: &'a crate::engine::StreamState,
    ) -> Result<&'a ShardState, SubscriptionError> {
        if self.taken_over.load(Ordering::SeqCst) {
            return Err(SubscriptionError::TakenOver {
                consumer: self.key.1.clone(),
                shard: self.shard_id(),
            });
        }
        let gone = || SubscriptionError::ConsumerGone {
            stream: self.key.0.clone(),
            consumer: self.key.1.clone(),
        };
        if state.meta.created_ms != self.stream_epoch
            || !state.meta.consumers.contains_key(&self.key.1)
        {
            return Err(gone());
        }
        state.shards.get(&self.key.2).ok_or_else(gone)
    }
}

/// The sequence number to continue after: the last record's, or the one before
/// `next_position` when the batch is empty. With nothing before it (an empty shard
/// read from the start) it is the shard's StartingSequenceNumber.
fn continuation(
    shard: &ShardState,
    next_position: Position,
    last: Option<&OutputRecord>,
) -> SequenceNumber {
    if let Some(last) = last {
        return last.sequence_number;
    }
    let Some(previous) = next_position.previous() else {
        return SequenceNumber::before_first(shard.meta.created_secs, shard.meta.index);
    };
    // An empty batch is at the shard's end, so the record before it is the last.
    let arrival_ms = shard.log.last_arrival_ms().unwrap_or(0);
    crate::data::sequence_number(shard, previous, arrival_ms)
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut slots = self.engine.inner.subscriptions.lock();
        if slots
            .get(&self.key)
            .is_some_and(|slot| slot.generation == self.generation)
        {
            slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The (consumer, shard) slot rules, pushes on append, and the closed shard's end.
    use super::*;
    use crate::data::PutRecord;
    use crate::EngineConfig;
    use shardlog_segment::io::{FileSystem, MemFs};
    use std::collections::BTreeMap;

    fn engine() -> (Engine, ConsumerId) {
        let fs = MemFs::new() as Arc<dyn FileSystem>;
        let engine = Engine::open(fs, EngineConfig::new("/d")).unwrap();
        engine.create_stream("s", Some(1), BTreeMap::new()).unwrap();
        let consumer = engine.register_consumer("s", "c").unwrap().id();
        (engine, consumer)
    }

    fn put(engine: &Engine, data: &[u8]) {
        let record = PutRecord {
            partition_key: "k",
            data,
            explicit_hash_key: None,
        };
        engine.put_record("s", record).unwrap();
    }

    const SHARD: ShardId = ShardId(0);

    /// Within the guard a second subscription is refused; after it, the newer one
    /// takes over and the older one ends with ResourceInUse; dropping frees the slot.
    #[test]
    fn slot_rules() {
        let (engine, consumer) = engine();
        let mut first = engine
            .subscribe_to_shard(&consumer, SHARD, IteratorStart::Latest)
            .unwrap();
        assert!(matches!(
            engine.subscribe_to_shard(&consumer, SHARD, IteratorStart::Latest),
            Err(SubscribeError::SubscriptionActive { .. })
        ));
        // Age the slot past the guard instead of waiting 5 seconds.
        let key = ("s".to_string(), "c".to_string(), 0);
        let guard = Duration::from_millis(RESUBSCRIBE_GUARD_MS + 1);
        engine
            .inner
            .subscriptions
            .lock()
            .get_mut(&key)
            .unwrap()
            .started = Instant::now().checked_sub(guard).unwrap();
        let second = engine
            .subscribe_to_shard(&consumer, SHARD, IteratorStart::Latest)
            .unwrap();
        assert!(matches!(
            first.next_batch(Duration::ZERO),
            Err(SubscriptionError::TakenOver { .. })
        ));
        drop(first);
        assert_eq!(
            engine.active_subscriptions(),
            1,
            "the newer one keeps the slot"
        );
        drop(second);
        assert_eq!(engine.active_subscriptions(), 0);
        engine.shutdown().unwrap();
    }

    /// Records put after subscribing come back in order; the continuation sequence
    /// number is the last record's.
    #[test]
    fn pushes_records_in_order() {
        let (engine, consumer) = engine();
        let mut subscription = engine
            .subscribe_to_shard(&consumer, SHARD, IteratorStart::Latest)
            .unwrap();
        for i in 0..5u8 {
            put(&engine, &[i]);
        }
        let mut seen = Vec::new();
        let mut last = None;
        for _ in 0..100 {
            let batch = subscription
                .next_batch(Duration::from_secs(5))
                .unwrap()
                .unwrap();
            seen.extend(batch.records.iter().map(|r| r.data.to_vec()));
            last = batch.records.last().map(|r| r.sequence_number);
            if let Some(expected) = &last {
                assert_eq!(&batch.continuation_sequence_number, expected);
            }
            if seen.len() == 5 {
                break;
            }
        }
        assert_eq!(seen, (0..5u8).map(|i| vec![i]).collect::<Vec<_>>());
        assert!(last.is_some());
        drop(subscription);
        engine.shutdown().unwrap();
    }

    /// With shard quotas on, subscriptions do not draw on the shard's shared read
    /// budget: three consumers each read 1 MB (more than the 2 MiB/s budget between
    /// them) and a GetRecords call is still admitted.
    #[test]
    fn subscriptions_bypass_the_shared_read_budget() {
        let fs = MemFs::new() as Arc<dyn FileSystem>;
        let mut config = EngineConfig::new("/d");
        config.shard_quotas = true;
        let engine = Engine::open(fs, config).unwrap();
        engine.create_stream("s", Some(1), BTreeMap::new()).unwrap();
        for _ in 0..10 {
            put(&engine, &vec![5u8; 100_000]);
        }
        for name in ["a", "b", "c"] {
            let consumer = engine.register_consumer("s", name).unwrap().id();
            let mut subscription = engine
                .subscribe_to_shard(&consumer, SHARD, IteratorStart::TrimHorizon)
                .unwrap();
            let mut bytes = 0;
            for _ in 0..10 {
                let batch = subscription.next_batch(Duration::ZERO).unwrap().unwrap();
                bytes += batch.records.iter().map(|r| r.data.len()).sum::<usize>();
            }
            assert_eq!(bytes, 1_000_000);
        }
        let iterator = engine
            .get_shard_iterator("s", SHARD, IteratorStart::TrimHorizon)
            .unwrap();
        assert!(engine.get_records(&iterator, 1).is_ok());
        engine.shutdown().unwrap();
    }

    /// A closed shard read to its end gives its children once, then the end; a
    /// deregistered consumer is ResourceNotFound; the lifetime ends a subscription.
    #[test]
    fn closed_shard_deregistration_and_lifetime() {
        let (engine, consumer) = engine();
        put(&engine, b"x");
        engine
            .split_shard("s", SHARD, crate::HashKey(u128::MAX / 2))
            .unwrap();
        let mut parent = engine
            .subscribe_to_shard(&consumer, SHARD, IteratorStart::TrimHorizon)
            .unwrap();
        let batch = parent.next_batch(Duration::from_secs(1)).unwrap().unwrap();
        assert_eq!(batch.records.len(), 1);
        assert_eq!(batch.child_shards.map(|c| c.len()), Some(2));
        assert_eq!(parent.next_batch(Duration::from_secs(1)).unwrap(), None);
        let mut child = engine
            .subscribe_to_shard(&consumer, ShardId(1), IteratorStart::Latest)
            .unwrap();
        engine.deregister_consumer("s", "c").unwrap();
        assert!(matches!(
            child.next_batch(Duration::ZERO),
            Err(SubscriptionError::ConsumerGone { .. })
        ));
        assert!(matches!(
            engine.subscribe_to_shard(&consumer, SHARD, IteratorStart::Latest),
            Err(SubscribeError::Target(
                SubscriptionTargetError::ConsumerNotRegistered { .. }
            ))
        ));
        drop((parent, child));
        engine.shutdown().unwrap();

        let fs = MemFs::new() as Arc<dyn FileSystem>;
        let mut config = EngineConfig::new("/d");
        config.subscription_lifetime_ms = 0;
        let engine = Engine::open(fs, config).unwrap();
        engine.create_stream("s", Some(1), BTreeMap::new()).unwrap();
        let consumer = engine.register_consumer("s", "c").unwrap().id();
        let mut short = engine
            .subscribe_to_shard(&consumer, SHARD, IteratorStart::Latest)
            .unwrap();
        assert_eq!(short.next_batch(Duration::from_secs(5)).unwrap(), None);
        drop(short);
        engine.shutdown().unwrap();
    }
}
