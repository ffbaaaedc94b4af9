//! Delivery: each confirmed subscription walks the topic's log from its durable
//! position, hands each message to the [`Sink`], retries what the sink refuses,
//! dead-letters what it keeps refusing, and only then advances the position
//! durably. A crash re-delivers what was in hand (at least once), never skips it.
//! A topic's queue subscriptions share one thread (`fanout.rs`); HTTP(S)
//! endpoints and delivery streams have a [`Worker`] thread each.

use crate::error::{Error, Result};
use crate::fifo::DEDUPLICATION_WINDOW_MS;
use crate::filter::{FilterPolicy, FilterScope};
use crate::manifest::{SubscriptionRecord, TopicAttributes};
use crate::recent::{DecodedRead, RecentRead};
use crate::record::Published;
use crate::retry::DeliveryPolicy;
use crate::throttle::Throttle;
use crate::types::{Protocol, SubscriptionId, TopicName};
use shardlog_segment::io::{read_file, write_file_atomic, FileSystem};
use shardlog_segment::{Log, ReadLimits};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One message on its way to one subscription.
#[derive(Debug)]
pub struct Delivery<'a> {
    /// The topic.
    pub topic: &'a TopicName,
    /// The topic's attributes, as they stand now.
    pub topic_attributes: &'a TopicAttributes,
    /// The subscription, as it stands now.
    pub subscription: &'a SubscriptionRecord,
    /// The message.
    pub message: &'a Published,
    /// Its position in the topic's log (a FIFO topic's sequence number).
    pub position: u64,
    /// 1 for the first attempt, then one more per retry.
    pub attempt: u32,
}

impl Delivery<'_> {
    /// The HTTP(S) delivery policy that applies to this delivery (retries,
    /// request content type, throttle).
    pub fn endpoint_policy(&self) -> DeliveryPolicy {
        endpoint_policy(self.subscription, self.topic_attributes)
    }
}

/// Why a sink did not take a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong, for the log.
    pub reason: String,
    /// Whether trying again may help (an endpoint down) or not (a queue deleted).
    pub retryable: bool,
}

/// Where messages go: the server implements it with queues, delivery streams and
/// HTTP endpoints. Called from delivery threads; may block (bounded by its own timeouts).
pub trait Sink: Send + Sync + 'static {
    /// Delivers one message; `Ok` once the destination holds it durably.
    fn deliver(&self, delivery: &Delivery<'_>) -> std::result::Result<(), Failure>;

    /// Delivers several messages of one subscription, in order, as one step (a
    /// queue takes them in one commit round). Returns an outcome for each of a
    /// prefix of `deliveries`, at least the first: a sink stops after a retryable
    /// failure, because nothing behind a message may reach the destination ahead
    /// of it (FIFO order); the worker retries that message alone and then hands
    /// over the rest again. A failure that retrying cannot fix does not stop the
    /// batch (that message goes to the dead-letter queue). The default delivers
    /// one at a time.
    fn deliver_batch(&self, deliveries: &[Delivery<'_>]) -> Vec<std::result::Result<(), Failure>> {
        deliver_each(self, deliveries)
    }

    /// Delivers the batches of several subscriptions of one topic, each as
    /// [`Sink::deliver_batch`] would (one outcome list per batch, in order), as
    /// one step: a sink that can stages every batch before it waits for any, so
    /// that one commit round makes them all durable. Called by a topic's queue
    /// subscriptions' delivery thread. The default delivers batch after batch.
    fn deliver_batches(
        &self,
        batches: &[&[Delivery<'_>]],
    ) -> Vec<Vec<std::result::Result<(), Failure>>> {
        batches
            .iter()
            .map(|deliveries| self.deliver_batch(deliveries))
            .collect()
    }

    /// Takes a message that could not be delivered (retries exhausted, or a
    /// failure that retrying cannot fix): to the subscription's dead-letter
    /// queue if it has one. `Ok` when handled (kept or knowingly dropped).
    fn dead_letter(
        &self,
        delivery: &Delivery<'_>,
        failure: &Failure,
    ) -> std::result::Result<(), Failure>;
}

/// [`Sink::deliver_batch`] one message at a time: what a sink without a batch
/// step does (also for the protocols of a sink that batches only some).
pub fn deliver_each<S: Sink + ?Sized>(
    sink: &S,
    deliveries: &[Delivery<'_>],
) -> Vec<std::result::Result<(), Failure>> {
    let mut outcomes = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        let outcome = sink.deliver(delivery);
        let stop = outcome.as_ref().is_err_and(|failure| failure.retryable);
        outcomes.push(outcome);
        if stop {
            break;
        }
    }
    outcomes
}

/// A fixed retry schedule: how often and how long apart a refused message is
/// tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedRetry {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before each retry (ms).
    pub delay_ms: u64,
}

/// How deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Queues and delivery streams of this server. Default: 100,015 retries, AWS's
    /// count for its own services, 1 s apart (a local destination that refuses is
    /// full or failing, not far away). HTTP(S) endpoints follow their
    /// `DeliveryPolicy` (the subscription's, else the topic's, else AWS's
    /// default: 3 retries 20 s apart).
    pub managed: FixedRetry,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            managed: FixedRetry {
                retries: 100_015,
                delay_ms: 1_000,
            },
        }
    }
}

/// The HTTP(S) delivery policy that applies: the topic's when it disables
/// overrides or the subscription has none, else the subscription's.
fn endpoint_policy(subscription: &SubscriptionRecord, topic: &TopicAttributes) -> DeliveryPolicy {
    let parse = |json: &Option<String>, topic_level: bool| {
        json.as_deref().and_then(|json| {
            let parsed = if topic_level {
                DeliveryPolicy::parse_topic(json)
            } else {
                DeliveryPolicy::parse_subscription(json)
            };
            // The server validated the policy before storing it.
            parsed.ok()
        })
    };
    let topic_policy = parse(&topic.delivery_policy, true);
    let own = parse(&subscription.delivery_policy, false);
    match (topic_policy, own) {
        (Some(topic), _) if topic.disable_subscription_overrides => topic,
        (_, Some(own)) => own,
        (Some(topic), None) => topic,
        (None, None) => DeliveryPolicy::default(),
    }
}

/// The wait before retry number `retry` (1-based) of `subscription`, or `None`
/// when its retries are used up. The one place retry timing is decided.
pub(crate) fn retry_delay(
    config: &RetryConfig,
    subscription: &SubscriptionRecord,
    topic: &TopicAttributes,
    retry: u32,
) -> Option<Duration> {
    match subscription.endpoint.protocol {
        Protocol::Http | Protocol::Https => {
            let schedule = endpoint_policy(subscription, topic).retry;
            (retry <= schedule.retries())
                .then(|| schedule.jittered_delay_before(retry, fastrand::f64()))
        }
        Protocol::Sqs | Protocol::Firehose => {
            let schedule = config.managed;
            (retry <= schedule.retries).then(|| Duration::from_millis(schedule.delay_ms))
        }
    }
}

/// A subscription's compiled filter policy: `None` when it has none, `Err`
/// when the stored policy no longer compiles (then nothing passes).
fn compile_filter(record: &SubscriptionRecord) -> Option<std::result::Result<FilterPolicy, ()>> {
    let spec = record.filter.as_ref()?;
    let scope = if spec.body_scope {
        FilterScope::MessageBody
    } else {
        FilterScope::MessageAttributes
    };
    Some(FilterPolicy::parse(&spec.policy, scope).map_err(|error| {
        tracing::error!(subscription = %record.id, %error, "stored filter policy does not compile; nothing passes it");
    }))
}

/// Whether `message` passes a compiled filter policy (see [`compile_filter`]).
fn passes(filter: &Option<std::result::Result<FilterPolicy, ()>>, message: &Published) -> bool {
    match filter {
        None => true,
        Some(Ok(policy)) => policy.matches(&message.attributes, &message.message),
        Some(Err(())) => false,
    }
}

/// A subscription's worker: its current record, and how to stop it.
#[derive(Debug)]
pub(crate) struct Control {
    state: Mutex<ControlState>,
    /// The durable delivery position (lock-free: peers read it to reclaim).
    pub(crate) position: AtomicU64,
    changed: Condvar,
}

#[derive(Debug)]
struct ControlState {
    record: SubscriptionRecord,
    filter: Option<std::result::Result<FilterPolicy, ()>>,
    stop: bool,
    /// Removed (unsubscribed, topic deleted): the worker deletes its position on exit.
    removed: bool,
}

impl Control {
    pub(crate) fn new(record: SubscriptionRecord, position: u64) -> Arc<Control> {
        Arc::new(Control {
            position: AtomicU64::new(position),
            state: Mutex::new(ControlState {
                filter: compile_filter(&record),
                record,
                stop: false,
                removed: false,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn record(&self) -> SubscriptionRecord {
        self.lock().record.clone()
    }

    pub(crate) fn set_record(&self, record: SubscriptionRecord) {
        let filter = compile_filter(&record);
        let mut state = self.lock();
        state.filter = filter;
        state.record = record;
    }

    /// Calls `f` with the subscription's record and whether a message passes its
    /// filter policy ([`Control::passes`]), under one lock.
    pub(crate) fn with_record<T>(
        &self,
        f: impl FnOnce(&SubscriptionRecord, &dyn Fn(&Published) -> bool) -> T,
    ) -> T {
        let state = self.lock();
        f(&state.record, &|message| passes(&state.filter, message))
    }

    /// Whether `message` passes the subscription's filter policy. The one place
    /// filtering is decided.
    pub(crate) fn passes(&self, message: &Published) -> bool {
        passes(&self.lock().filter, message)
    }

    /// Asks the worker to stop (and, if `removed`, to delete its position).
    pub(crate) fn stop(&self, removed: bool) {
        let mut state = self.lock();
        state.stop = true;
        state.removed |= removed;
        drop(state);
        self.changed.notify_all();
    }

    fn stopping(&self) -> bool {
        self.lock().stop
    }

    /// Waits `delay` unless stopped first; returns whether to go on.
    fn pause(&self, delay: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, delay, |state| !state.stop)
            .unwrap_or_else(|p| p.into_inner());
        !state.stop
    }
}

/// The file holding a subscription's delivery position.
pub(crate) fn position_path(topic_dir: &Path, record: &SubscriptionRecord) -> PathBuf {
    topic_dir.join("positions").join(record.id.as_str())
}

/// Reads a delivery position.
pub(crate) fn load_position(fs: &dyn FileSystem, path: &Path) -> Result<Option<u64>> {
    read_parsed(fs, path, parse_position)
}

/// Reads the file at `path` with `parse` (`None` if it is missing); a file that
/// does not parse is `Corrupt`, naming it.
fn read_parsed<T>(
    fs: &dyn FileSystem,
    path: &Path,
    parse: fn(&[u8]) -> std::result::Result<T, String>,
) -> Result<Option<T>> {
    if !fs.exists(path) {
        return Ok(None);
    }
    let bytes = read_file(fs, path).map_err(|source| Error::Metadata {
        op: "read",
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes).map(Some).map_err(|reason| Error::Corrupt {
        what: path.display().to_string(),
        reason,
    })
}

/// Parses the bytes of a delivery position file (`{"version": 1, "position": N}`);
/// the error says what is wrong. Also what `shardlog verify` checks them with.
pub fn parse_position(bytes: &[u8]) -> std::result::Result<u64, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    match (value["version"].as_u64(), value["position"].as_u64()) {
        (Some(1), Some(position)) => Ok(position),
        _ => Err("not a version 1 delivery position".into()),
    }
}

/// Replaces a delivery position atomically (durable when it returns).
pub(crate) fn store_position(fs: &dyn FileSystem, path: &Path, position: u64) -> Result<()> {
    replace_json(
        fs,
        path,
        serde_json::json!({"version": 1, "position": position}),
    )
}

/// Replaces the file at `path` with `value` atomically (durable when it returns).
fn replace_json(fs: &dyn FileSystem, path: &Path, value: serde_json::Value) -> Result<()> {
    let bytes = value.to_string();
    write_file_atomic(fs, path, bytes.as_bytes()).map_err(|source| Error::Metadata {
        op: "write",
        path: path.to_path_buf(),
        source,
    })
}

/// The name, in a topic's `positions` directory, of the file that holds the
/// positions of all its queue subscriptions (a subscription id is a UUID, so no
/// subscription's own file has it).
pub const QUEUE_POSITIONS_FILE: &str = "queues.json";

/// The file holding the delivery positions of a topic's queue subscriptions:
/// their one fan-out thread stores them together, one atomic replace for all
/// instead of one per subscription.
pub(crate) fn queue_positions_path(topic_dir: &Path) -> PathBuf {
    topic_dir.join("positions").join(QUEUE_POSITIONS_FILE)
}

/// Reads the queue subscriptions' positions by subscription id (none if the
/// file is missing: nothing was stored together yet).
pub(crate) fn load_queue_positions(
    fs: &dyn FileSystem,
    path: &Path,
) -> Result<HashMap<String, u64>> {
    Ok(read_parsed(fs, path, parse_queue_positions)?.unwrap_or_default())
}

/// Parses the bytes of a topic's queue positions file (`{"version": 1,
/// "positions": {"<subscription id>": N, ...}}`); the error says what is wrong.
/// Also what `shardlog verify` checks it with.
pub fn parse_queue_positions(bytes: &[u8]) -> std::result::Result<HashMap<String, u64>, String> {
    #[derive(serde::Deserialize)]
    struct Stored {
        version: u32,
        positions: HashMap<String, u64>,
    }
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    match stored.version {
        1 => Ok(stored.positions),
        other => Err(format!(
            "queue positions of version {other}; this build reads version 1"
        )),
    }
}

/// Replaces the queue subscriptions' positions atomically (durable when it returns).
pub(crate) fn store_queue_positions<'a>(
    fs: &dyn FileSystem,
    path: &Path,
    positions: impl Iterator<Item = (&'a str, u64)>,
) -> Result<()> {
    let positions: serde_json::Map<String, serde_json::Value> = positions
        .map(|(id, position)| (id.to_string(), position.into()))
        .collect();
    replace_json(
        fs,
        path,
        serde_json::json!({"version": 1, "positions": positions}),
    )
}

/// What every delivery thread of a topic works with.
pub(crate) struct DeliveryContext {
    pub(crate) topic: TopicName,
    /// The topic's directory.
    pub(crate) topic_dir: PathBuf,
    pub(crate) log: Log,
    /// The topic's newest log read, shared by its delivery threads.
    pub(crate) recent: Arc<RecentRead>,
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) topic_attributes: Arc<Mutex<TopicAttributes>>,
    /// Every subscription's control, for reclaiming the log behind them all.
    pub(crate) peers: crate::topic::Workers,
    pub(crate) fifo: bool,
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) retry: RetryConfig,
}

/// Most records one delivery read takes.
pub(crate) const READ_RECORDS_MAX: usize = 100;

/// How long a delivery thread waits for a new message before looking at its
/// stop flag again.
pub(crate) const IDLE_WAIT: Duration = Duration::from_millis(500);

/// Most time between a delivery and the durable store of the position after it,
/// while messages keep coming. Storing after every batch would cost each batch a
/// second commit (two syncs, in fact); storing this often instead bounds what a
/// crash re-delivers to this much delivery, and at-least-once allows that. A
/// subscription that runs out of messages is stored at once.
pub(crate) const POSITION_STORE_INTERVAL: Duration = Duration::from_millis(100);

impl DeliveryContext {
    /// The records from `position` on that one read returns (shared with the
    /// topic's other delivery threads, see [`RecentRead`]), and where it started.
    pub(crate) fn read(&self, position: u64) -> Result<(u64, Arc<DecodedRead>)> {
        let from = position.max(self.log.first_position());
        let limits = ReadLimits {
            records_max: READ_RECORDS_MAX,
            bytes_max: 4 << 20,
        };
        Ok((
            from,
            self.recent.read(&self.topic, &self.log, from, limits)?,
        ))
    }

    /// Stores `position` of the subscription `control` durably at `path`, or the
    /// topic log's durable end if that is before it: the log is read before its
    /// syncs, and a position past a record that a crash takes back would skip the
    /// record that takes its place. Returns the position stored (the one stored
    /// before if nothing is new); `None` (logged) if it cannot be stored: then its
    /// delivery stops, as re-delivering without end would be worse.
    pub(crate) fn store(&self, control: &Control, path: &Path, position: u64) -> Option<u64> {
        let stored = control.position.load(Ordering::Acquire);
        let position = position.min(self.log.durable_end());
        if position <= stored {
            return Some(stored);
        }
        if let Err(error) = store_position(self.fs.as_ref(), path, position) {
            tracing::error!(topic = %self.topic, %error, "cannot store a delivery position; delivery stops");
            return None;
        }
        // Reclaim goes by stored positions only: a crash restarts from them.
        control.position.store(position, Ordering::Release);
        Some(position)
    }

    /// [`DeliveryContext::store`] for the queue subscriptions of the fan-out
    /// thread, all in the topic's [`queue_positions_path`]: each of `members` at its position of
    /// `delivered` (`None`: where it stands), or the log's durable end if that is
    /// before it, or where it stands if that is further. Nothing is written
    /// unless one moves. Returns the positions stored and whether one moved;
    /// `None` (logged) if they cannot be stored.
    pub(crate) fn store_queues(
        &self,
        members: &[(Arc<Control>, SubscriptionId)],
        delivered: &[Option<u64>],
    ) -> Option<(Vec<u64>, bool)> {
        let durable_end = self.log.durable_end();
        let stored: Vec<u64> = members
            .iter()
            .map(|(control, _)| control.position.load(Ordering::Acquire))
            .collect();
        let positions: Vec<u64> = stored
            .iter()
            .zip(delivered)
            .map(|(&stored, delivered)| {
                delivered.map_or(stored, |d| d.min(durable_end).max(stored))
            })
            .collect();
        let moved = positions != stored;
        if !moved {
            return Some((positions, false));
        }
        let entries = members.iter().map(|(_, id)| id.as_str());
        let entries = entries.zip(positions.iter().copied());
        let path = queue_positions_path(&self.topic_dir);
        if let Err(error) = store_queue_positions(self.fs.as_ref(), &path, entries) {
            tracing::error!(topic = %self.topic, %error, "cannot store the queue subscriptions' delivery positions; their delivery stops");
            return None;
        }
        for ((control, _), &position) in members.iter().zip(&positions) {
            control.position.store(position, Ordering::Release);
        }
        Some((positions, true))
    }

    /// Removes the log's sealed segments that every subscription has passed (a
    /// FIFO topic keeps its deduplication window's). A failure is logged: the
    /// segments stay, nothing is lost.
    pub(crate) fn reclaim(&self) {
        let slowest = self
            .peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|(control, _)| control.position.load(Ordering::Acquire))
            .min();
        let Some(slowest) = slowest else {
            return;
        };
        let keep_since_ms = crate::types::now_ms().saturating_sub(DEDUPLICATION_WINDOW_MS);
        let removable = |segment: &shardlog_segment::SegmentInfo| {
            let outside_window = !self.fifo
                || segment
                    .last_arrival_ms
                    .is_none_or(|last| last < keep_since_ms);
            segment.end_position <= slowest && outside_window
        };
        if let Err(error) = self.log.remove_oldest_segments(removable) {
            tracing::warn!(topic = %self.topic, %error, "removing delivered topic log segments failed");
        }
    }

    pub(crate) fn topic_attributes(&self) -> TopicAttributes {
        self.topic_attributes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The wait before the next attempt at `delivery`, which failed with
    /// `failure` on its attempt number `delivery.attempt`; `None` when it is to
    /// be dead-lettered now (retries used up, or retrying cannot help).
    pub(crate) fn retry_after(
        &self,
        delivery: &Delivery<'_>,
        failure: &Failure,
    ) -> Option<Duration> {
        let retry = delivery.attempt;
        failure
            .retryable
            .then(|| {
                retry_delay(
                    &self.retry,
                    delivery.subscription,
                    delivery.topic_attributes,
                    retry,
                )
            })
            .flatten()
    }

    /// Hands `delivery`, which failed for good with `failure`, to the sink's
    /// dead-letter step; a message that step refuses is dropped (logged).
    pub(crate) fn dead_letter(&self, delivery: &Delivery<'_>, failure: &Failure) {
        if let Err(dead) = self.sink.dead_letter(delivery, failure) {
            tracing::warn!(topic = %self.topic, subscription = %delivery.subscription.id,
                reason = %failure.reason, dead_letter = %dead.reason,
                "undeliverable message dropped");
        }
    }
}

/// A delivery thread of one subscription (HTTP(S) endpoints and delivery
/// streams: they block on their destination, so each has its own thread).
pub(crate) struct Worker {
    pub(crate) context: Arc<DeliveryContext>,
    pub(crate) position_path: PathBuf,
    pub(crate) control: Arc<Control>,
    /// Spaces HTTP(S) requests by the DeliveryPolicy's `throttlePolicy`.
    pub(crate) throttle: RefCell<Throttle>,
}

impl Worker {
    /// Delivers from `position` until stopped.
    pub(crate) fn run(self, mut position: u64) {
        let log = &self.context.log;
        // The position last stored durably, and when.
        let mut stored = position;
        let mut stored_at = Instant::now();
        while !self.control.stopping() {
            match self.deliver_batch(position) {
                Ok(Some(next)) if next > position => {
                    position = next;
                    if stored_at.elapsed() < POSITION_STORE_INTERVAL {
                        continue;
                    }
                }
                Ok(Some(_)) if stored == position => {
                    log.wait_for(position, IDLE_WAIT);
                    continue;
                }
                // Caught up with a position not stored yet: store it unless
                // more comes at once.
                Ok(Some(_)) => {
                    if log.wait_for(position, POSITION_STORE_INTERVAL) {
                        continue;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::error!(topic = %self.context.topic, %error, "reading the topic log failed");
                    if !self.control.pause(IDLE_WAIT) {
                        break;
                    }
                    continue;
                }
            }
            if stored < position {
                match self.store(position) {
                    Some(now_stored) => stored = now_stored,
                    None => return,
                }
            }
            stored_at = Instant::now();
        }
        if self.control.lock().removed {
            let _ = self.context.fs.remove_file(&self.position_path);
        } else if stored < position {
            // What was delivered is stored once durable in the topic's log.
            let _ = log.settle_submitted();
            self.store(position);
        }
    }

    /// [`DeliveryContext::store`], then reclaims what every subscription passed.
    fn store(&self, position: u64) -> Option<u64> {
        let stored = self
            .context
            .store(&self.control, &self.position_path, position)?;
        self.context.reclaim();
        Some(stored)
    }

    /// The most deliveries a second the subscription takes: HTTP(S) with a
    /// `throttlePolicy` only.
    fn throttle_rate(delivery: &Delivery<'_>) -> Option<u32> {
        match delivery.subscription.endpoint.protocol {
            Protocol::Http | Protocol::Https => delivery.endpoint_policy().max_receives_per_second,
            Protocol::Sqs | Protocol::Firehose => None,
        }
    }

    /// Waits until the subscription's throttle admits `delivery`; false if the
    /// worker was stopped first.
    fn wait_for_throttle(&self, delivery: &Delivery<'_>) -> bool {
        let per_second = Self::throttle_rate(delivery);
        loop {
            let admitted = self.throttle.borrow_mut().admit(per_second, Instant::now());
            match admitted {
                None => return true,
                Some(wait) if !self.control.pause(wait) => return false,
                Some(_) => {}
            }
        }
    }

    /// Delivers the records from `position` on that one read returns; the
    /// position after the last one handled, or `None` when stopped before
    /// handling any.
    fn deliver_batch(&self, position: u64) -> Result<Option<u64>> {
        let (from, read) = self.context.read(position)?;
        let passing: Vec<(u64, &Published)> = read
            .messages
            .iter()
            .filter(|(_, message)| self.control.passes(message))
            .map(|(position, message)| (*position, message))
            .collect();
        let handled = self.deliver_all(&passing);
        match passing.get(handled) {
            // Stopped: everything before the first unhandled message is done.
            Some((stopped_at, _)) => Ok((*stopped_at > position).then_some(*stopped_at)),
            None => Ok(Some(from.max(read.next_position))),
        }
    }

    /// Hands `messages` (position, message; in log order) to the sink in
    /// batches, settling each failure before going on. Returns how many were
    /// handled (delivered or dead-lettered): fewer than all only when stopped.
    fn deliver_all(&self, messages: &[(u64, &Published)]) -> usize {
        let mut handled = 0;
        while handled < messages.len() {
            if self.control.stopping() {
                return handled;
            }
            let record = self.control.record();
            let topic_attributes = self.context.topic_attributes();
            let deliveries: Vec<Delivery<'_>> = messages[handled..]
                .iter()
                .map(|(position, message)| Delivery {
                    topic: &self.context.topic,
                    topic_attributes: &topic_attributes,
                    subscription: &record,
                    message,
                    position: *position,
                    attempt: 1,
                })
                .collect();
            // A throttled subscription is handed one message at a time, each
            // when its throttle admits it.
            let mut deliveries = deliveries;
            if deliveries.first().and_then(Self::throttle_rate).is_some() {
                deliveries.truncate(1);
                if !self.wait_for_throttle(&deliveries[0]) {
                    return handled;
                }
            }
            let outcomes = self.context.sink.deliver_batch(&deliveries);
            check_outcomes(outcomes.len(), deliveries.len());
            for (delivery, outcome) in deliveries.iter().zip(outcomes) {
                if let Err(failure) = outcome {
                    if !self.settle(delivery.message, delivery.position, failure) {
                        return handled;
                    }
                }
                handled += 1;
            }
        }
        handled
    }

    /// Settles a message whose first attempt failed with `failure`: retries it
    /// alone as its schedule says, then dead-letters it if it never went
    /// through. Returns false if stopped before it was handled.
    fn settle(&self, message: &Published, position: u64, mut failure: Failure) -> bool {
        let mut attempt = 1;
        loop {
            let record = self.control.record();
            let topic_attributes = self.context.topic_attributes();
            let mut delivery = Delivery {
                topic: &self.context.topic,
                topic_attributes: &topic_attributes,
                subscription: &record,
                message,
                position,
                attempt,
            };
            let Some(delay) = self.context.retry_after(&delivery, &failure) else {
                self.context.dead_letter(&delivery, &failure);
                return true;
            };
            if !self.control.pause(delay) {
                return false;
            }
            attempt += 1;
            delivery.attempt = attempt;
            if !self.wait_for_throttle(&delivery) {
                return false;
            }
            match self.context.sink.deliver(&delivery) {
                Ok(()) => return true,
                Err(next) => failure = next,
            }
        }
    }
}

/// Checks that a sink answered a batch of `deliveries` with `outcomes`
/// outcomes, as [`Sink::deliver_batch`] promises: at least one, at most one
/// per delivery.
pub(crate) fn check_outcomes(outcomes: usize, deliveries: usize) {
    assert!(
        outcomes >= 1 && outcomes <= deliveries,
        "a sink answered {outcomes} outcomes for {deliveries} deliveries"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Endpoint, SubscriptionId};
    use std::collections::BTreeMap;

    fn subscription(protocol: Protocol, policy: Option<&str>) -> SubscriptionRecord {
        SubscriptionRecord {
            id: SubscriptionId("s".into()),
            endpoint: Endpoint {
                protocol,
                address: "a".into(),
            },
            attributes: BTreeMap::new(),
            filter: None,
            delivery_policy: policy.map(str::to_string),
            pending_token: None,
            created_ms: 0,
        }
    }

    fn retry_policy(retries: u32, delay_s: u32) -> String {
        format!(
            r#"{{"minDelayTarget": {delay_s}, "maxDelayTarget": {delay_s}, "numRetries": {retries}, "numNoDelayRetries": 0, "numMinDelayRetries": 0, "numMaxDelayRetries": 0, "backoffFunction": "linear"}}"#
        )
    }

    /// HTTP retries follow the subscription's policy, else the topic's, else
    /// AWS's default; a topic that disables overrides wins; queues keep the
    /// managed schedule whatever the policies say.
    #[test]
    fn retry_delay_picks_the_policy_that_applies() {
        let config = RetryConfig::default();
        let own = format!(r#"{{"healthyRetryPolicy": {}}}"#, retry_policy(1, 2));
        let topic_policy = |disable: bool| TopicAttributes {
            delivery_policy: Some(format!(
                r#"{{"http": {{"defaultHealthyRetryPolicy": {}, "disableSubscriptionOverrides": {disable}}}}}"#,
                retry_policy(5, 7)
            )),
            ..TopicAttributes::default()
        };
        let plain = TopicAttributes::default();
        let http = subscription(Protocol::Http, None);
        assert_eq!(
            retry_delay(&config, &http, &plain, 3),
            Some(Duration::from_secs(20))
        );
        assert_eq!(retry_delay(&config, &http, &plain, 4), None);
        assert_eq!(
            retry_delay(&config, &http, &topic_policy(false), 5),
            Some(Duration::from_secs(7))
        );
        let tuned = subscription(Protocol::Https, Some(&own));
        assert_eq!(
            retry_delay(&config, &tuned, &topic_policy(false), 1),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_delay(&config, &tuned, &topic_policy(false), 2), None);
        assert_eq!(
            retry_delay(&config, &tuned, &topic_policy(true), 2),
            Some(Duration::from_secs(7))
        );
        let queue = subscription(Protocol::Sqs, Some(&own));
        assert_eq!(
            retry_delay(&config, &queue, &topic_policy(true), 100_015),
            Some(Duration::from_secs(1))
        );
        assert_eq!(retry_delay(&config, &queue, &plain, 100_016), None);
    }
}
