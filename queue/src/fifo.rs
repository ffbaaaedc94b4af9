//! FIFO queues: deduplication within a 5-minute window, and order per message
//! group (a group is held while any of its messages is in flight).
//!
//! Invariants: `groups[g]` holds every position of group `g` that the delivery
//! cursor passed and that is not removed, in order. A receive takes a free group's
//! messages from its head on, in order, so the received members of a group are
//! always a prefix of `groups[g]` (removals keep it one): whether a group is held
//! is read off that prefix alone.

use crate::attributes::DeduplicationScope;
use crate::delivery::Delivery;
use crate::error::{Error, Result};
use crate::message::StoredMessage;
use crate::queue::{for_each_record, Inner, SendOutcome, SendPrepared};
use crate::receive::ReceivedMessage;
use crate::types::{MessageId, SequenceNumber};
use sha2::{Digest, Sha256};
use shardlog_segment::{Log, ReadLimits};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

/// How long a deduplication id suppresses another send.
pub const DEDUPLICATION_WINDOW_MS: u64 = 5 * 60 * 1000;

#[derive(Debug, Clone, Copy)]
struct Sent {
    message_id: MessageId,
    /// `None` while the first send's append is in progress.
    position: Option<u64>,
    sent_ms: u64,
}

/// Deduplication window and message groups of a FIFO queue.
#[derive(Debug, Default)]
pub struct FifoState {
    dedup: HashMap<String, Sent>,
    /// Deduplication keys in send order, to expire them.
    dedup_order: VecDeque<(u64, String)>,
    groups: HashMap<Arc<str>, BTreeSet<u64>>,
    group_of: HashMap<u64, Arc<str>>,
    /// Receives by ReceiveRequestAttemptId, in memory only: after a restart a
    /// retry receives afresh (the first receive's messages stay invisible until
    /// their visibility timeout, as after any lost response).
    attempts: HashMap<String, (u64, Vec<ReceivedMessage>)>,
    /// Heads of groups whose head was never received, in position order. A head
    /// may be received after it got here (when the message before it is removed
    /// while it is in flight): receive drops such entries as it meets them.
    free_heads: BTreeSet<u64>,
    attempt_order: VecDeque<(u64, String)>,
}

/// Most remembered receive attempts; the oldest are forgotten first.
const ATTEMPTS_MAX: usize = 10_000;

fn dedup_key(scope: DeduplicationScope, group_id: &str, deduplication_id: &str) -> String {
    match scope {
        DeduplicationScope::Queue => deduplication_id.to_string(),
        DeduplicationScope::MessageGroup => format!("{group_id}\u{0}{deduplication_id}"),
    }
}

/// Checks a FIFO send (group id, deduplication id) and finds duplicates within the window.
pub(crate) fn prepare_send(
    inner: &mut Inner,
    mut message: StoredMessage,
    now_ms: u64,
) -> Result<SendPrepared> {
    let Some(group_id) = message.group_id.clone() else {
        return Err(Error::InvalidParameter {
            parameter: "MessageGroupId",
            reason: "a FIFO queue needs a message group id".into(),
        });
    };
    if message.deduplication_id.is_none() {
        if !inner.attributes.content_based_deduplication {
            return Err(Error::InvalidParameter {
                parameter: "MessageDeduplicationId",
                reason: "the queue has no content-based deduplication, so each message needs a deduplication id".into(),
            });
        }
        let digest = Sha256::digest(&message.body);
        message.deduplication_id = Some(digest.iter().map(|b| format!("{b:02x}")).collect());
    }
    let id = message.deduplication_id.as_deref().expect("set above");
    let key = dedup_key(inner.attributes.deduplication_scope, &group_id, id);
    let fifo = &mut inner.fifo;
    fifo.expire(now_ms);
    if let Some(sent) = fifo.dedup.get(&key) {
        return Ok(SendPrepared::Duplicate(SendOutcome {
            message_id: sent.message_id,
            sequence_number: sent.position.map(SequenceNumber),
        }));
    }
    fifo.dedup.insert(
        key.clone(),
        Sent {
            message_id: message.message_id,
            position: None,
            sent_ms: now_ms,
        },
    );
    fifo.dedup_order.push_back((now_ms, key));
    Ok(SendPrepared::New(message))
}

impl FifoState {
    fn expire(&mut self, now_ms: u64) {
        while let Some((sent_ms, _)) = self.dedup_order.front() {
            if now_ms < sent_ms + DEDUPLICATION_WINDOW_MS {
                break;
            }
            let (sent_ms, key) = self.dedup_order.pop_front().expect("front exists");
            if self
                .dedup
                .get(&key)
                .is_some_and(|sent| sent.sent_ms == sent_ms)
            {
                self.dedup.remove(&key);
            }
        }
    }

    /// The messages of an earlier receive with this attempt id, if it was within
    /// the window and all of them are still in flight from it.
    pub(crate) fn repeat_attempt(
        &self,
        id: &str,
        delivery: &Delivery,
        now_ms: u64,
    ) -> Option<Vec<ReceivedMessage>> {
        let (at_ms, messages) = self.attempts.get(id)?;
        if now_ms >= at_ms + DEDUPLICATION_WINDOW_MS {
            return None;
        }
        let in_flight = messages.iter().all(|m| {
            delivery
                .tracked
                .get(&m.receipt_handle.position)
                .is_some_and(|t| {
                    t.receive_count == m.receipt_handle.attempt && t.visible_at_ms > now_ms
                })
        });
        in_flight.then(|| messages.clone())
    }

    /// Remembers what a receive with an attempt id returned.
    pub(crate) fn remember_attempt(
        &mut self,
        id: &str,
        now_ms: u64,
        messages: Vec<ReceivedMessage>,
    ) {
        while self
            .attempt_order
            .front()
            .is_some_and(|(at_ms, _)| now_ms >= at_ms + DEDUPLICATION_WINDOW_MS)
            || self.attempt_order.len() >= ATTEMPTS_MAX
        {
            let (at_ms, key) = self.attempt_order.pop_front().expect("front exists");
            if self.attempts.get(&key).is_some_and(|(at, _)| *at == at_ms) {
                self.attempts.remove(&key);
            }
        }
        self.attempts.insert(id.to_string(), (now_ms, messages));
        self.attempt_order.push_back((now_ms, id.to_string()));
    }

    /// Forgets the deduplication ids of sends whose append failed.
    pub(crate) fn forget_sends<'a>(
        &mut self,
        messages: impl Iterator<Item = &'a StoredMessage>,
        scope: DeduplicationScope,
    ) {
        for message in messages {
            let (Some(group), Some(id)) = (&message.group_id, &message.deduplication_id) else {
                continue;
            };
            let key = dedup_key(scope, group, id);
            if self
                .dedup
                .get(&key)
                .is_some_and(|sent| sent.message_id == message.message_id)
            {
                self.dedup.remove(&key);
            }
        }
    }

    /// Records where an accepted send landed.
    pub(crate) fn remember_send(
        &mut self,
        message: &StoredMessage,
        position: u64,
        scope: DeduplicationScope,
    ) {
        let (Some(group), Some(id)) = (&message.group_id, &message.deduplication_id) else {
            return;
        };
        if let Some(sent) = self.dedup.get_mut(&dedup_key(scope, group, id)) {
            if sent.message_id == message.message_id {
                sent.position = Some(position);
            }
        }
    }

    fn remember_recovered(&mut self, key: String, message: &StoredMessage, position: u64) {
        self.dedup.insert(
            key.clone(),
            Sent {
                message_id: message.message_id,
                position: Some(position),
                sent_ms: message.sent_ms,
            },
        );
        self.dedup_order.push_back((message.sent_ms, key));
    }

    /// Rebuilds the window from the message log's last minutes and the groups of
    /// the messages the state log says were received.
    pub(crate) fn recover(
        &mut self,
        messages: &Log,
        delivery: &mut Delivery,
        scope: DeduplicationScope,
        now_ms: u64,
    ) -> Result<()> {
        // Segment arrival times are wall-clock; a minute of slack covers clock skew
        // between them and the queue's clock.
        let wall_ms = crate::types::Clock::now_ms(&crate::types::SystemClock);
        let horizon = wall_ms.saturating_sub(DEDUPLICATION_WINDOW_MS + 60_000);
        let from = messages.position_at_time(horizon)?;
        for_each_record(messages, from, |position, bytes| {
            let message = StoredMessage::decode(bytes).map_err(|reason| Error::Corrupt {
                what: messages.dir().display().to_string(),
                reason,
            })?;
            if now_ms < message.sent_ms + DEDUPLICATION_WINDOW_MS {
                if let (Some(group), Some(id)) = (&message.group_id, &message.deduplication_id) {
                    self.remember_recovered(dedup_key(scope, group, id), &message, position);
                }
            }
            Ok(true)
        })?;
        let passed = std::mem::take(&mut delivery.passed_at_replay);
        let mut positions: Vec<u64> = delivery
            .tracked
            .keys()
            .chain(delivery.delayed_info.keys())
            .chain(passed.iter())
            .copied()
            .collect();
        positions.sort_unstable();
        for position in positions {
            let read = messages.read(
                position,
                ReadLimits {
                    records_max: 1,
                    bytes_max: 1,
                },
            )?;
            let group = read
                .records()
                .find(|r| r.position == position)
                .map(|record| StoredMessage::decode(record.data))
                .transpose()
                .map_err(|reason| Error::Corrupt {
                    what: messages.dir().display().to_string(),
                    reason,
                })?
                .and_then(|message| message.group_id);
            if let Some(group) = group {
                self.add(&group, position);
            }
        }
        self.free_heads
            .retain(|head| !delivery.tracked.contains_key(head));
        Ok(())
    }

    /// Adds a position the cursor passed (or a received one at recovery) to its group.
    /// Returns whether it is the group's head.
    pub(crate) fn add(&mut self, group: &str, position: u64) -> bool {
        let group: Arc<str> = match self.groups.get_key_value(group) {
            Some((key, _)) => Arc::clone(key),
            None => Arc::from(group),
        };
        let members = self.groups.entry(Arc::clone(&group)).or_default();
        let old_head = members.first().copied();
        members.insert(position);
        let head = members.first() == Some(&position);
        if head {
            if let Some(old_head) = old_head {
                self.free_heads.remove(&old_head);
            }
            self.free_heads.insert(position);
        }
        self.group_of.insert(position, group);
        head
    }

    /// Records that a message was received: its group is held until it is removed
    /// or its visibility ends (which the redelivery order covers).
    pub(crate) fn mark_received(&mut self, position: u64) {
        self.free_heads.remove(&position);
    }

    /// Heads of groups whose head was never received, in position order.
    pub(crate) fn free_heads(&self) -> impl Iterator<Item = u64> + '_ {
        self.free_heads.iter().copied()
    }

    /// Forgets free-head entries that turned out to be received.
    pub(crate) fn drop_free_heads(&mut self, positions: &[u64]) {
        for position in positions {
            self.free_heads.remove(position);
        }
    }

    /// The group of a position the cursor passed.
    pub(crate) fn group_of(&self, position: u64) -> Option<&Arc<str>> {
        self.group_of.get(&position)
    }

    /// A group's positions, in order (empty for an unknown group).
    pub(crate) fn members(&self, group: &str) -> impl Iterator<Item = u64> + '_ {
        self.groups.get(group).into_iter().flatten().copied()
    }

    /// The position before `position` in its group, if any.
    pub(crate) fn previous_in_group(&self, group: &str, position: u64) -> Option<u64> {
        let members = self.groups.get(group)?;
        members.range(..position).next_back().copied()
    }

    /// Positions the cursor passed that wait in a group, neither received nor
    /// delayed (what a checkpoint must record for them).
    pub(crate) fn passed(&self, delivery: &Delivery) -> Vec<u64> {
        self.group_of
            .keys()
            .filter(|p| !delivery.tracked.contains_key(p) && !delivery.delayed_info.contains_key(p))
            .copied()
            .collect()
    }

    /// Forgets a removed message; the next of its group becomes the head.
    pub(crate) fn release(&mut self, position: u64) {
        if let Some(group) = self.group_of.remove(&position) {
            let members = self
                .groups
                .get_mut(&group)
                .expect("grouped positions have a group");
            let was_head = members.first() == Some(&position);
            members.remove(&position);
            self.free_heads.remove(&position);
            // The next one may be received already (several of a group are
            // received at once); receive drops it from the free heads then.
            match members.first() {
                Some(next) if was_head => {
                    self.free_heads.insert(*next);
                }
                Some(_) => {}
                None => {
                    self.groups.remove(&group);
                }
            }
        }
    }

    /// Forgets every message below `end_position`.
    pub(crate) fn purge(&mut self, end_position: u64) {
        let doomed: Vec<u64> = self
            .group_of
            .keys()
            .filter(|p| **p < end_position)
            .copied()
            .collect();
        for position in doomed {
            self.release(position);
        }
    }

    /// Oldest message log position that reclaim must keep: below `low_water`, and
    /// not a message whose deduplication id is still within the window (its
    /// segment is the record that makes the window survive a restart).
    pub(crate) fn reclaim_floor(&self, low_water: u64, now_ms: u64) -> u64 {
        self.dedup
            .values()
            .filter(|sent| now_ms < sent.sent_ms + DEDUPLICATION_WINDOW_MS)
            .filter_map(|sent| sent.position)
            .chain(self.group_of.keys().copied())
            .fold(low_water, u64::min)
    }
}
