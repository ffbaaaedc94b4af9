//! One queue: its message log, its state log and the in-memory delivery state,
//! with send, delete, visibility changes, purge, counters and reclaim. Receive is
//! in `receive.rs`.

use crate::attributes::QueueAttributes;
use crate::checkpoint;
use crate::delivery::Delivery;
use crate::error::{Error, Result};
use crate::message::{message_size_bytes, StoredMessage};
use crate::send::SendLimits;
use crate::state_log::Entry;
use crate::types::{
    BodyDigest, Clock, MessageAttributes, MessageId, QueueName, ReceiptHandle, SequenceNumber,
};
use shardlog_segment::{Appended, Log, LogConfig, PendingAppend, ReadLimits, Record};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Partition keys of the two logs' records (the segment layer requires one).
pub(crate) const MESSAGE_KEY: &str = "m";
pub(crate) const STATE_KEY: &str = "s";
/// Most entries in one batch call.
pub const BATCH_ENTRIES_MAX: usize = 10;
/// Most messages in one [`Queue::submit_sends`] (an SNS delivery batch is at
/// most a topic log read, far fewer).
pub const SUBMIT_ENTRIES_MAX: usize = 10_000;
/// Most messages in flight in a standard queue.
pub const INFLIGHT_MAX_STANDARD: usize = 120_000;
/// Most messages in flight in a FIFO queue.
pub const INFLIGHT_MAX_FIFO: usize = 20_000;
/// Time between two purges of a queue.
pub const PURGE_INTERVAL_MS: u64 = 60_000;
/// Largest visibility timeout.
pub const VISIBILITY_TIMEOUT_S_MAX: u32 = 43_200;

/// A message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendRequest {
    /// The body.
    pub body: Vec<u8>,
    /// Message attributes (at most 10).
    pub attributes: MessageAttributes,
    /// Delay of this message; `None` takes the queue's. Range 0..=900. Standard queues only.
    pub delay_s: Option<u32>,
    /// FIFO: the message group (required).
    pub group_id: Option<String>,
    /// FIFO: the deduplication id (required unless content-based deduplication).
    pub deduplication_id: Option<String>,
    /// The AWSTraceHeader system attribute, kept and returned as given (1..=4096 bytes).
    pub trace_header: Option<String>,
    /// The body's digest, if the sender took it ([`BodyDigest::of`] the body):
    /// stored with the message and returned with each receive of it.
    pub body_digest: Option<BodyDigest>,
}

/// What a send returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOutcome {
    /// The message's id (for a deduplicated FIFO send: the first send's).
    pub message_id: MessageId,
    /// FIFO: the sequence number.
    pub sequence_number: Option<SequenceNumber>,
}

/// Approximate counts of a queue's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCounters {
    /// Messages available for receive (ApproximateNumberOfMessages).
    pub visible: u64,
    /// Received messages not visible again yet (ApproximateNumberOfMessagesNotVisible).
    pub not_visible: u64,
    /// Messages whose delay has not ended (ApproximateNumberOfMessagesDelayed), among
    /// those the delivery cursor has looked at.
    pub delayed: u64,
}

/// What [`Queue::reclaim`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReclaimReport {
    /// Message log segments whose messages were all gone.
    pub message_segments: usize,
    /// State log segments made obsolete by a checkpoint.
    pub state_segments: usize,
}

/// One queue. Shared by the registry and every operation in progress.
#[derive(Debug)]
pub struct Queue {
    pub(crate) id: u64,
    pub(crate) name: QueueName,
    pub(crate) messages: Log,
    pub(crate) state: Log,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) inner: Mutex<Inner>,
    /// Signalled when a message may have become receivable (a send, a visibility
    /// change to zero, a purge) or the queue closed.
    pub(crate) changed: Condvar,
    /// Why the queue's logs could not be read at open, if they could not: it
    /// then refuses everything but deletion (see `quarantine.rs`).
    pub(crate) quarantined: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub attributes: QueueAttributes,
    pub delivery: Delivery,
    /// Counts sends, so that a long poll knows whether one came since it looked.
    pub generation: u64,
    pub closed: bool,
    /// Set when the process is stopping: long polls return at once, empty.
    pub waits_ended: bool,
    /// Receives blocked in a long poll.
    pub waiting_receivers: usize,
    /// Receive rounds so far (which kind of message a round takes first).
    pub receive_rounds: u64,
    pub last_purge_ms: Option<u64>,
    pub fifo: crate::fifo::FifoState,
    /// Long polls awaiting (not blocked) on this queue.
    pub poll_wakers: crate::long_poll::PollWakers,
}

/// Log settings for queues: records up to the largest message plus headers; the
/// segment size comes from [`crate::QueuesConfig`]. Written through the page cache
/// whatever the storage's backend: a queue's rounds are small and its calls wait
/// for them (see [`LogConfig::page_cache`]).
pub(crate) fn log_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 20,
        record_bytes_max: 2 << 20,
        page_cache: true,
        ..LogConfig::default()
    }
}

impl Queue {
    /// A queue over its logs and recovered delivery state.
    pub(crate) fn over(
        id: u64,
        name: QueueName,
        (messages, state): (Log, Log),
        attributes: QueueAttributes,
        clock: Arc<dyn Clock>,
        delivery: Delivery,
        fifo: crate::fifo::FifoState,
    ) -> Queue {
        Queue {
            id,
            name,
            messages,
            state,
            clock,
            inner: Mutex::new(Inner {
                attributes,
                delivery,
                generation: 0,
                closed: false,
                waits_ended: false,
                waiting_receivers: 0,
                receive_rounds: 0,
                last_purge_ms: None,
                fifo,
                poll_wakers: Default::default(),
            }),
            changed: Condvar::new(),
            quarantined: None,
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &QueueName {
        &self.name
    }

    /// The queue's id (never reused).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The current attributes.
    pub fn attributes(&self) -> QueueAttributes {
        self.lock().attributes.clone()
    }

    pub(crate) fn set_attributes(&self, attributes: QueueAttributes) {
        let mut inner = self.lock();
        inner.attributes = attributes;
        self.wake_receivers(inner, usize::MAX);
    }

    /// Receives in a long poll right now (blocked or awaiting).
    pub fn waiting_receivers(&self) -> usize {
        let inner = self.lock();
        inner.waiting_receivers + inner.poll_wakers.len()
    }

    /// Most messages in flight for this kind of queue.
    pub fn inflight_max(&self) -> usize {
        if self.name.is_fifo() {
            INFLIGHT_MAX_FIFO
        } else {
            INFLIGHT_MAX_STANDARD
        }
    }

    /// Sends one message; returns once it is durable under the storage's policy.
    pub fn send(&self, request: SendRequest) -> Result<SendOutcome> {
        let mut outcomes = self.send_batch(vec![request])?;
        outcomes.pop().expect("one outcome per entry")
    }

    /// Sends up to 10 messages as one append. Each entry gets its own outcome (an
    /// invalid entry fails alone); the call fails as a whole only for a bad batch
    /// size or a storage failure.
    pub fn send_batch(&self, requests: Vec<SendRequest>) -> Result<Vec<Result<SendOutcome>>> {
        self.submit_batch(requests)?.wait()
    }

    /// [`Queue::send_batch`] without the wait: checks and stages the batch and
    /// returns at once, for callers that await [`PendingSend::acknowledged`].
    pub fn submit_batch(&self, requests: Vec<SendRequest>) -> Result<PendingSend<'_>> {
        if requests.is_empty() || requests.len() > BATCH_ENTRIES_MAX {
            return Err(Error::BatchSize {
                count: requests.len(),
            });
        }
        let max_bytes = self.lock().attributes.maximum_message_bytes as usize;
        let total: usize = requests
            .iter()
            .map(|r| message_size_bytes(&r.body, &r.attributes))
            .sum();
        if requests.len() > 1 && total > max_bytes {
            return Err(Error::BatchTooLarge {
                size_bytes: total,
                max_bytes,
            });
        }
        self.submit_sends(requests)
    }

    /// Checks, deduplicates and stages up to [`SUBMIT_ENTRIES_MAX`] messages as one
    /// append and returns at once; [`PendingSend::wait`] waits until they are
    /// durable. For callers inside the server (SNS delivery) that send many
    /// messages to one queue: the wire's 10-entry and total-size limits of
    /// SendMessageBatch do not apply, each message's own limits do. Messages keep
    /// their order in the queue (FIFO groups included), and a FIFO duplicate
    /// within the window is answered with its original, as in [`Queue::send_batch`].
    pub fn submit_sends(&self, requests: Vec<SendRequest>) -> Result<PendingSend<'_>> {
        self.check_usable()?;
        if requests.is_empty() || requests.len() > SUBMIT_ENTRIES_MAX {
            return Err(Error::BatchSize {
                count: requests.len(),
            });
        }
        let now_ms = self.clock.now_ms();
        if !self.name.is_fifo() {
            return self.submit_standard_sends(requests, now_ms);
        }
        let mut inner = self.lock();
        let limits = SendLimits::of(&inner);
        let mut outcomes: Vec<Result<SendOutcome>> = Vec::with_capacity(requests.len());
        let mut stored = Vec::new();
        for request in requests {
            let outcome = self
                .build(limits, request, now_ms)
                .and_then(|message| crate::fifo::prepare_send(&mut inner, message, now_ms))
                .map(|prepared| match prepared {
                    SendPrepared::Duplicate(outcome) => outcome,
                    // The sequence number is filled in below, once the append has
                    // its positions.
                    SendPrepared::New(message) => crate::send::keep_new(&mut stored, message),
                });
            outcomes.push(outcome);
        }
        let scope = inner.attributes.deduplication_scope;
        if stored.is_empty() {
            // Duplicates only: answered once their originals, which another send
            // staged, are acknowledged, or the answer would promise a message that a
            // crash or a failed sync can still lose. (A batch with new messages waits
            // for its own append, which is acknowledged after every earlier one.)
            let end = outcomes
                .iter()
                .flatten()
                .filter_map(|outcome| outcome.sequence_number)
                .map(|sequence_number| sequence_number.0 + 1)
                .max();
            let append = end
                .filter(|end| *end > self.messages.acknowledged_end())
                .map(|end| self.messages.pending_until(end));
            return Ok(PendingSend {
                queue: self,
                outcomes,
                append,
                stored,
                scope,
                told: false,
            });
        }
        let pending = match self.stage_messages(&stored) {
            Ok(pending) => pending,
            Err(error) => {
                inner.fifo.forget_sends(stored.iter(), scope);
                return Err(error);
            }
        };
        {
            let base = pending.appended().base_position;
            let positions: Vec<(MessageId, u64)> = stored
                .iter()
                .enumerate()
                .map(|(k, message)| (message.message_id, base + k as u64))
                .collect();
            for (message, (_, position)) in stored.iter().zip(&positions) {
                inner.fifo.remember_send(message, *position, scope);
            }
            // Duplicates within this batch learn their original's position too.
            for outcome in outcomes.iter_mut().flatten() {
                let found = positions.iter().find(|(id, _)| *id == outcome.message_id);
                if let Some((_, position)) = found {
                    outcome.sequence_number = Some(SequenceNumber(*position));
                }
            }
        }
        Ok(PendingSend {
            queue: self,
            outcomes,
            append: Some(pending),
            stored,
            scope,
            told: false,
        })
    }

    /// Deletes the message a receipt handle names.
    pub fn delete(&self, handle: &ReceiptHandle) -> Result<()> {
        let mut outcomes = self.delete_batch(std::slice::from_ref(handle))?;
        outcomes.pop().expect("one outcome per entry")
    }

    /// Deletes up to 10 messages with one state append. Deleting a message that is
    /// already gone succeeds; a handle from an earlier receive fails.
    pub fn delete_batch(&self, handles: &[ReceiptHandle]) -> Result<Vec<Result<()>>> {
        self.submit_delete_batch(handles)?.wait()
    }

    /// [`Queue::delete_batch`] without the wait: the deletions are decided and
    /// staged, and acknowledged once [`PendingChanges`] is waited for or awaited.
    pub fn submit_delete_batch(&self, handles: &[ReceiptHandle]) -> Result<PendingChanges<'_>> {
        // Deleting frees a FIFO group; in a standard queue it makes nothing receivable.
        let wakes = self.name.is_fifo();
        self.submit_changes(handles, wakes, |inner, handle, _now| {
            current_receive(inner, handle, self)?;
            Ok(Some(Entry::Deleted {
                position: handle.position,
            }))
        })
    }

    /// Changes when a received message becomes visible again: `timeout_s` from now
    /// (0..=43200). Only for a message in flight, with the handle of its last receive.
    pub fn change_visibility(&self, handle: &ReceiptHandle, timeout_s: u32) -> Result<()> {
        let mut outcomes = self.change_visibility_batch(&[(*handle, timeout_s)])?;
        outcomes.pop().expect("one outcome per entry")
    }

    /// [`Queue::change_visibility`] for up to 10 messages, with one state append.
    pub fn change_visibility_batch(
        &self,
        changes: &[(ReceiptHandle, u32)],
    ) -> Result<Vec<Result<()>>> {
        self.submit_change_visibility_batch(changes)?.wait()
    }

    /// [`Queue::change_visibility_batch`] without the wait (see [`PendingChanges`]).
    pub fn submit_change_visibility_batch(
        &self,
        changes: &[(ReceiptHandle, u32)],
    ) -> Result<PendingChanges<'_>> {
        let handles: Vec<ReceiptHandle> = changes.iter().map(|(handle, _)| *handle).collect();
        let mut timeouts = changes.iter().map(|(_, timeout_s)| *timeout_s);
        self.submit_changes(&handles, true, |inner, handle, now_ms| {
            let timeout_s = timeouts.next().expect("one timeout per handle");
            if timeout_s > VISIBILITY_TIMEOUT_S_MAX {
                return Err(Error::InvalidParameter {
                    parameter: "VisibilityTimeout",
                    reason: format!("{timeout_s} is outside 0..={VISIBILITY_TIMEOUT_S_MAX}"),
                });
            }
            let Some(tracked) = current_receive(inner, handle, self)? else {
                return Err(Error::MessageNotInflight {
                    message_id: handle.message_id,
                });
            };
            if tracked.visible_at_ms <= now_ms {
                return Err(Error::MessageNotInflight {
                    message_id: handle.message_id,
                });
            }
            Ok(Some(Entry::Visibility {
                position: handle.position,
                receive_count: handle.attempt,
                visible_at_ms: now_ms + 1000 * u64::from(timeout_s),
            }))
        })
    }

    /// Runs `decide` for each handle under the lock, applies the entries it
    /// returns and stages them as one batch, to be acknowledged through the result.
    fn submit_changes(
        &self,
        handles: &[ReceiptHandle],
        wakes: bool,
        mut decide: impl FnMut(&Inner, &ReceiptHandle, u64) -> Result<Option<Entry>>,
    ) -> Result<PendingChanges<'_>> {
        self.check_usable()?;
        if handles.is_empty() || handles.len() > BATCH_ENTRIES_MAX {
            return Err(Error::BatchSize {
                count: handles.len(),
            });
        }
        let now_ms = self.clock.now_ms();
        let mut inner = self.lock();
        let mut outcomes = Vec::with_capacity(handles.len());
        let mut entries = Vec::new();
        for handle in handles {
            let outcome = if handle.queue_id != self.id {
                Err(Error::ReceiptHandleInvalid {
                    reason: "it belongs to another queue",
                })
            } else {
                decide(&inner, handle, now_ms)
            };
            match outcome {
                Ok(Some(entry)) => {
                    self.apply_live(&mut inner, &entry);
                    entries.push(entry);
                    outcomes.push(Ok(()));
                }
                Ok(None) => outcomes.push(Ok(())),
                Err(error) => outcomes.push(Err(error)),
            }
        }
        let append = self.submit_entries(&entries)?;
        Ok(PendingChanges {
            queue: self,
            outcomes,
            wakes: wakes && append.is_some(),
            append,
        })
    }

    pub(crate) fn apply_live(&self, inner: &mut Inner, entry: &Entry) {
        if let Entry::Deleted { position } | Entry::Moved { position } = *entry {
            inner.fifo.release(position);
        }
        inner.delivery.apply(entry);
    }

    /// Stages state entries as one batch (in the order the lock holder applied them).
    pub(crate) fn submit_entries(&self, entries: &[Entry]) -> Result<Option<PendingAppend>> {
        if entries.is_empty() {
            return Ok(None);
        }
        // One buffer for the batch: a receive or delete of 10 stages 10 entries.
        let mut encoded = Vec::with_capacity(entries.len() * 48);
        let lens: Vec<usize> = entries
            .iter()
            .map(|e| e.encode_into(&mut encoded))
            .collect();
        let records = crate::send::split_records(&encoded, &lens, state_record);
        Ok(Some(self.state.submit(&records)?))
    }

    /// Removes every message sent before the purge. At most one purge per 60 s.
    pub fn purge(&self) -> Result<()> {
        self.check_usable()?;
        let now_ms = self.clock.now_ms();
        let mut inner = self.lock();
        if inner
            .last_purge_ms
            .is_some_and(|last| now_ms < last + PURGE_INTERVAL_MS)
        {
            return Err(Error::PurgeInProgress {
                queue: self.name.clone(),
            });
        }
        let entry = Entry::Purged {
            end_position: self.messages.end_position(),
        };
        inner.fifo.purge(self.messages.end_position());
        inner.delivery.apply(&entry);
        inner.last_purge_ms = Some(now_ms);
        let pending = self.submit_entries(&[entry])?;
        drop(inner);
        if let Some(pending) = pending {
            pending.wait()?;
        }
        Ok(())
    }

    /// Approximate message counts.
    pub fn counters(&self) -> QueueCounters {
        let now_ms = self.clock.now_ms();
        let inner = self.lock();
        let delivery = &inner.delivery;
        let end = self.messages.end_position();
        let ahead_tracked = delivery
            .tracked
            .keys()
            .filter(|p| **p >= delivery.cursor)
            .count();
        let unread = end
            .saturating_sub(delivery.cursor)
            .saturating_sub((delivery.removed_ahead.len() + ahead_tracked) as u64);
        let not_visible = delivery.not_visible_count(now_ms) as u64;
        let delayed_due = delivery.delayed.range(..(now_ms + 1, 0)).count() as u64;
        QueueCounters {
            visible: unread + (delivery.tracked.len() as u64 - not_visible) + delayed_due,
            not_visible,
            delayed: delivery.delayed.len() as u64 - delayed_due,
        }
    }

    /// Drops expired messages, removes message log segments that hold only removed
    /// or expired messages, and once a state log segment is sealed, writes a
    /// checkpoint and removes the state segments before it.
    pub fn reclaim(&self) -> Result<ReclaimReport> {
        self.check_usable()?;
        let low_water = self.drop_expired()?;
        let message_segments = self
            .messages
            .remove_oldest_segments(|segment| segment.sealed && segment.end_position <= low_water)?
            .len();
        let state_segments = self.checkpoint()?;
        Ok(ReclaimReport {
            message_segments,
            state_segments,
        })
    }

    /// Forgets expired messages (received, delayed, and unread ones at the cursor)
    /// and returns the oldest message log position still needed.
    fn drop_expired(&self) -> Result<u64> {
        let now_ms = self.clock.now_ms();
        let mut inner = self.lock();
        let retention_ms = 1000 * u64::from(inner.attributes.message_retention_s);
        let expired = |sent_ms: u64| now_ms >= sent_ms + retention_ms;
        let delivery = &inner.delivery;
        let received = delivery.tracked.iter().map(|(p, t)| (*p, t.sent_ms));
        let delayed = delivery
            .delayed_info
            .iter()
            .map(|(p, (_, sent_ms))| (*p, *sent_ms));
        let gone: Vec<u64> = received
            .chain(delayed)
            .filter(|(_, sent_ms)| expired(*sent_ms))
            .map(|(position, _)| position)
            .collect();
        for position in gone {
            inner.delivery.remove(position);
            inner.fifo.release(position);
        }
        let delivery = &mut inner.delivery;
        let mut next = delivery.cursor.max(self.messages.first_position());
        for_each_record(&self.messages, next, |position, bytes| {
            if !delivery.skip_at_cursor(position) && !expired(decode_message(self, bytes)?.sent_ms)
            {
                return Ok(false);
            }
            next = position + 1;
            Ok(true)
        })?;
        delivery.cursor = next;
        let low_water = delivery.low_water();
        Ok(inner.fifo.reclaim_floor(low_water, now_ms))
    }

    /// Writes a checkpoint if a state segment was sealed since the last one, then
    /// removes the state segments before it. Returns how many went.
    fn checkpoint(&self) -> Result<usize> {
        if !self.state.segments().iter().any(|segment| segment.sealed) {
            return Ok(0);
        }
        let inner = self.lock();
        let passed = inner.fifo.passed(&inner.delivery);
        let records = checkpoint::encode(&inner.delivery, &passed);
        let bytes: usize = records.iter().map(|r| r.len() + 64).sum();
        if bytes > self.state.config().batch_bytes_max {
            // Only with millions of delayed messages; the state log keeps growing
            // until fewer are pending, and recovery replays it all meanwhile.
            return Ok(0);
        }
        let records: Vec<Record<'_>> = records.iter().map(|data| state_record(data)).collect();
        let pending = self.state.submit(&records)?;
        let checkpoint_position = pending.appended().base_position;
        drop(inner);
        pending.wait()?;
        let removed = self.state.remove_oldest_segments(|segment| {
            segment.sealed && segment.end_position <= checkpoint_position
        })?;
        Ok(removed.len())
    }

    /// Syncs and closes both logs; operations after this fail.
    /// Makes every long poll of this queue, now and later, return at once (with
    /// what a receive round found). For a server that stops: clients get their
    /// (empty) answers instead of waiting out the shutdown.
    pub fn end_waits(&self) {
        let mut inner = self.lock();
        inner.waits_ended = true;
        self.wake_receivers(inner, usize::MAX);
    }

    pub(crate) fn close(&self) -> Result<()> {
        let mut inner = self.lock();
        inner.closed = true;
        self.wake_receivers(inner, usize::MAX);
        self.messages.close()?;
        self.state.close()?;
        Ok(())
    }
}

/// Messages staged by [`Queue::submit_sends`], not yet durable.
#[must_use = "a send is acknowledged only once wait returns"]
#[derive(Debug)]
pub struct PendingSend<'a> {
    pub(crate) queue: &'a Queue,
    /// One per request, in order (sequence numbers already known).
    pub(crate) outcomes: Vec<Result<SendOutcome>>,
    /// `None` when every request was invalid or a duplicate.
    pub(crate) append: Option<PendingAppend>,
    /// The new messages of the append: a failed append forgets their FIFO ids.
    pub(crate) stored: Vec<StoredMessage>,
    pub(crate) scope: crate::attributes::DeduplicationScope,
    /// Long polls were told of the messages (they are readable).
    pub(crate) told: bool,
}

impl PendingSend<'_> {
    /// Waits until the staged messages are readable, which is before they are
    /// durable (see `recovery.rs`), and wakes long polls for them: a receive can
    /// take them while their commit round syncs. Their senders are still answered
    /// only once they are durable. Done at most once; `wait` and `acknowledged`
    /// do it first.
    pub fn wait_readable(&mut self) {
        if let Some(append) = self.append.as_ref().filter(|_| !self.told) {
            // A failure is the acknowledgement's to report.
            if append.wait_readable().is_ok() {
                self.tell_receivers();
            }
        }
    }

    /// Wakes one long poll per new message at most: each takes one or more.
    fn tell_receivers(&mut self) {
        self.told = true;
        let mut inner = self.queue.lock();
        inner.generation += 1;
        self.queue.wake_receivers(inner, self.stored.len());
    }

    /// Waits until the staged messages are durable under the storage's policy;
    /// then each request's outcome. Fails as a whole for a storage failure.
    pub fn wait(mut self) -> Result<Vec<Result<SendOutcome>>> {
        self.wait_readable();
        let acknowledged = self.append.take().map(PendingAppend::wait);
        self.finish(acknowledged)
    }

    /// [`PendingSend::wait`] for async callers: no thread blocks meanwhile.
    pub async fn acknowledged(mut self) -> Result<Vec<Result<SendOutcome>>> {
        let readable = match &self.append {
            Some(append) if !self.told => append.readable().await.is_ok(),
            _ => false,
        };
        if readable {
            self.tell_receivers();
        }
        let acknowledged = match &self.append {
            Some(append) => Some(append.acknowledged().await),
            None => None,
        };
        // Kept until here: a caller that stops awaiting leaves it to `drop`.
        self.append = None;
        self.finish(acknowledged)
    }

    /// The outcomes once the append (if any) is acknowledged or failed.
    fn finish(
        &mut self,
        acknowledged: Option<shardlog_segment::Result<Appended>>,
    ) -> Result<Vec<Result<SendOutcome>>> {
        let queue = self.queue;
        match acknowledged {
            None => {}
            Some(Err(error)) => {
                // The log refuses writes until reopened, and reopening rebuilds the
                // window from what is stored: these ids must not suppress a retry.
                queue
                    .lock()
                    .fifo
                    .forget_sends(self.stored.iter(), self.scope);
                return Err(error.into());
            }
            // Told when readable, unless that wait failed and this one did not.
            Some(Ok(_)) if !self.told => self.tell_receivers(),
            Some(Ok(_)) => {}
        }
        Ok(std::mem::take(&mut self.outcomes))
    }
}

impl Drop for PendingSend<'_> {
    /// An async caller that stopped awaiting (its client went away) leaves the
    /// append in flight: it is finished here, blocking for one commit at most, so
    /// that long polls learn of the messages and a failed append forgets their
    /// FIFO ids. `wait` and `acknowledged` leave nothing to do.
    fn drop(&mut self) {
        if let Some(append) = self.append.take() {
            // Nobody is left to answer.
            let _ = self.finish(Some(append.wait()));
        }
    }
}

/// Deletions or visibility changes staged by [`Queue::submit_delete_batch`] or
/// [`Queue::submit_change_visibility_batch`], not yet durable.
#[must_use = "a change is acknowledged only once wait returns"]
#[derive(Debug)]
pub struct PendingChanges<'a> {
    queue: &'a Queue,
    /// One per handle, in order.
    outcomes: Vec<Result<()>>,
    /// Whether the changes, once durable, may make messages receivable (a
    /// visibility change, a deletion that frees a FIFO group): long polls wake.
    wakes: bool,
    /// `None` when no handle changed anything.
    append: Option<PendingAppend>,
}

impl PendingChanges<'_> {
    /// Waits until the changes are durable; then each handle's outcome. Fails as
    /// a whole for a storage failure.
    pub fn wait(mut self) -> Result<Vec<Result<()>>> {
        if let Some(append) = self.append.take() {
            append.wait()?;
        }
        Ok(self.finish())
    }

    /// [`PendingChanges::wait`] for async callers: no thread blocks meanwhile.
    pub async fn acknowledged(mut self) -> Result<Vec<Result<()>>> {
        if let Some(append) = &self.append {
            let acknowledged = append.acknowledged().await;
            // Kept until here: a caller that stops awaiting leaves it to `drop`.
            self.append = None;
            acknowledged?;
        }
        Ok(self.finish())
    }

    fn finish(&mut self) -> Vec<Result<()>> {
        if self.wakes {
            self.queue.wake_receivers(self.queue.lock(), usize::MAX);
        }
        std::mem::take(&mut self.outcomes)
    }
}

impl Drop for PendingChanges<'_> {
    /// Changes whose async caller stopped awaiting still wake the long polls
    /// once durable (see `PendingSend`'s drop).
    fn drop(&mut self) {
        if let Some(append) = self.append.take() {
            if append.wait().is_ok() {
                self.finish();
            }
        }
    }
}

/// A send checked: a new message, or a duplicate of one sent within the window.
pub(crate) enum SendPrepared {
    New(StoredMessage),
    Duplicate(SendOutcome),
}

/// The tracked state of the receive a handle names: `Some` if it is the message's
/// latest receive, `None` if the message is already gone; an error for a handle of
/// an earlier receive or of a receive that never happened.
fn current_receive(
    inner: &Inner,
    handle: &ReceiptHandle,
    queue: &Queue,
) -> Result<Option<crate::delivery::Tracked>> {
    let delivery = &inner.delivery;
    match delivery.tracked.get(&handle.position) {
        Some(tracked) if tracked.receive_count == handle.attempt => Ok(Some(*tracked)),
        Some(tracked) if handle.attempt < tracked.receive_count => Err(Error::ReceiptHandleStale {
            message_id: handle.message_id,
            attempt: handle.attempt,
            current: tracked.receive_count,
        }),
        Some(_) => Err(Error::ReceiptHandleInvalid {
            reason: "no such receive",
        }),
        None => {
            let position = handle.position;
            let passed =
                position < delivery.cursor && !delivery.delayed_info.contains_key(&position);
            let gone = position < queue.messages.end_position()
                && (passed || delivery.removed_ahead.contains(&position));
            if gone {
                Ok(None)
            } else {
                Err(Error::ReceiptHandleInvalid {
                    reason: "the message was never received",
                })
            }
        }
    }
}

pub(crate) fn state_record(data: &[u8]) -> Record<'_> {
    Record {
        partition_key: STATE_KEY,
        explicit_hash_key: None,
        data,
    }
}

pub(crate) fn message_record(data: &[u8]) -> Record<'_> {
    Record {
        partition_key: MESSAGE_KEY,
        explicit_hash_key: None,
        data,
    }
}

pub(crate) fn decode_message(queue: &Queue, bytes: &[u8]) -> Result<StoredMessage> {
    StoredMessage::decode(bytes).map_err(|reason| Error::Corrupt {
        what: queue.messages.dir().display().to_string(),
        reason,
    })
}

/// Calls `visit(position, bytes)` for each record of `log` from `from` on, until it
/// returns `Ok(false)` or the log ends.
pub(crate) fn for_each_record(
    log: &Log,
    from: u64,
    visit: impl FnMut(u64, &[u8]) -> Result<bool>,
) -> Result<()> {
    for_each_record_in_reads_of(log, from, 256, visit)
}

/// [`for_each_record`], reading at most `records_max` records at a time: a caller
/// that stops after a few (a receive of 10) does not read and verify 256.
pub(crate) fn for_each_record_in_reads_of(
    log: &Log,
    from: u64,
    records_max: usize,
    mut visit: impl FnMut(u64, &[u8]) -> Result<bool>,
) -> Result<()> {
    let limits = ReadLimits {
        records_max,
        bytes_max: 4 << 20,
    };
    let mut next = from.max(log.first_position());
    while next < log.end_position() {
        let read = log.read(next, limits)?;
        if read.record_count == 0 {
            break;
        }
        for record in read.records() {
            if !visit(record.position, record.data)? {
                return Ok(());
            }
        }
        next = read.next_position;
    }
    Ok(())
}
