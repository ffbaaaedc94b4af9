//! Receive: picking messages (redeliveries, delayed messages that came due, then
//! the cursor over the message log), long polling, and redrive to a dead-letter queue.

use crate::attributes::RedrivePolicy;
use crate::delivery::Tracked;
use crate::error::{Error, Result};
use crate::message::StoredMessage;
use crate::queue::{
    decode_message, for_each_record_in_reads_of, message_record, Inner, Queue,
    VISIBILITY_TIMEOUT_S_MAX,
};
use crate::state_log::Entry;
use crate::types::{BodyDigest, MessageAttributes, MessageId, ReceiptHandle, SequenceNumber};
use shardlog_segment::{PendingAppend, ReadLimits};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most messages one receive returns.
pub const RECEIVE_MESSAGES_MAX: u32 = 10;
/// Longest long-poll wait.
pub const WAIT_TIME_S_MAX: u32 = 20;

/// A receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveRequest {
    /// Most messages to return, 1..=10.
    pub max_messages: u32,
    /// Visibility timeout of the received messages; `None` takes the queue's. 0..=43200.
    pub visibility_timeout_s: Option<u32>,
    /// Long-poll wait when nothing is receivable; `None` takes the queue's. 0..=20.
    pub wait_time_s: Option<u32>,
    /// FIFO: a retry with the same id within 5 minutes returns the same messages
    /// and handles, as long as they are all still in flight from that receive.
    /// 1..=128 characters; ignored by standard queues.
    pub receive_request_attempt_id: Option<String>,
}

impl Default for ReceiveRequest {
    fn default() -> Self {
        ReceiveRequest {
            max_messages: 1,
            visibility_timeout_s: None,
            wait_time_s: None,
            receive_request_attempt_id: None,
        }
    }
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The id the send returned.
    pub message_id: MessageId,
    /// Handle of this receive, for delete and visibility changes.
    pub receipt_handle: ReceiptHandle,
    /// The body.
    pub body: Vec<u8>,
    /// The body's digest as the send stored it, if it did.
    pub body_digest: Option<BodyDigest>,
    /// Message attributes.
    pub attributes: MessageAttributes,
    /// SentTimestamp (ms).
    pub sent_ms: u64,
    /// ApproximateReceiveCount, this receive included.
    pub receive_count: u32,
    /// ApproximateFirstReceiveTimestamp (ms).
    pub first_receive_ms: u64,
    /// FIFO: MessageGroupId.
    pub group_id: Option<String>,
    /// FIFO: MessageDeduplicationId.
    pub deduplication_id: Option<String>,
    /// FIFO: SequenceNumber.
    pub sequence_number: Option<SequenceNumber>,
    /// AWSTraceHeader, if the send gave one.
    pub trace_header: Option<String>,
    /// In a dead-letter queue: the queue the message was moved from
    /// (DeadLetterQueueSourceArn).
    pub source_queue: Option<String>,
}

/// A position to deliver, with its message if the cursor read it already.
type Pick = (u64, Option<StoredMessage>);

/// Received messages whose visibility ended, oldest deadline first.
fn pick_redelivered(
    inner: &mut Inner,
    max: usize,
    now_ms: u64,
    picks: &mut Vec<Pick>,
    expired: &impl Fn(u64) -> bool,
) {
    let delivery = &inner.delivery;
    let mut gone = Vec::new();
    for &(_, position) in delivery.redelivery.range(..(now_ms + 1, 0)) {
        if picks.len() >= max {
            break;
        }
        if expired(delivery.tracked[&position].sent_ms) {
            gone.push(position);
        } else {
            picks.push((position, None));
        }
    }
    forget(inner, gone);
}

/// Removes expired messages from the delivery and FIFO state.
fn forget(inner: &mut Inner, gone: Vec<u64>) {
    for position in gone {
        inner.delivery.remove(position);
        inner.fifo.release(position);
    }
}

/// What a FIFO pick round has taken so far.
struct FifoRound {
    max: usize,
    now_ms: u64,
    /// New (never received) messages the in-flight limit still allows.
    new_allowed: usize,
    /// Last position picked of each group this round.
    last_taken: HashMap<Arc<str>, u64>,
    /// Groups looked at this round.
    seen: HashSet<Arc<str>>,
    /// Free-head entries found received.
    stale_heads: Vec<u64>,
}

/// Takes the groups of `candidates` (positions of their members) in order.
fn take_groups(
    inner: &Inner,
    candidates: impl Iterator<Item = u64>,
    free_heads: bool,
    round: &mut FifoRound,
    picks: &mut Vec<Pick>,
) {
    for position in candidates {
        if picks.len() >= round.max {
            break;
        }
        if free_heads && inner.delivery.tracked.contains_key(&position) {
            // Received since it became the head; the redelivery order has it.
            round.stale_heads.push(position);
            continue;
        }
        let Some(group) = inner.fifo.group_of(position) else {
            continue;
        };
        if round.seen.insert(Arc::clone(group)) {
            take_group(inner, group, round, picks);
        }
    }
}

/// A free group's messages from its head on, in order, until one is delayed or
/// the round is full; nothing if any of its messages is in flight.
fn take_group(inner: &Inner, group: &Arc<str>, round: &mut FifoRound, picks: &mut Vec<Pick>) {
    let delivery = &inner.delivery;
    // Received members are a prefix of the group (see `fifo.rs`).
    for position in inner.fifo.members(group) {
        match delivery.tracked.get(&position) {
            Some(tracked) if tracked.visible_at_ms > round.now_ms => return,
            Some(_) => {}
            None => break,
        }
    }
    for position in inner.fifo.members(group) {
        if picks.len() >= round.max {
            break;
        }
        if !delivery.tracked.contains_key(&position) {
            let delayed = delivery
                .delayed_info
                .get(&position)
                .is_some_and(|(visible_from_ms, _)| *visible_from_ms > round.now_ms);
            if delayed || round.new_allowed == 0 {
                break;
            }
            round.new_allowed -= 1;
        }
        picks.push((position, None));
        round.last_taken.insert(Arc::clone(group), position);
    }
}

struct Taken {
    entries: Vec<Entry>,
    messages: Vec<ReceivedMessage>,
    moves: Vec<(u64, StoredMessage, u32)>,
}

pub(crate) struct Round {
    pub messages: Vec<ReceivedMessage>,
    pub generation: u64,
    pub next_due_ms: Option<u64>,
}

/// A round whose state entries are staged, not yet durable.
pub(crate) struct StagedRound {
    pub round: Round,
    pub pending: Option<PendingAppend>,
    pub moves: Vec<(u64, StoredMessage, u32)>,
}

pub(crate) fn check_request(request: &ReceiveRequest) -> Result<()> {
    let invalid = |parameter, reason| Err(Error::InvalidParameter { parameter, reason });
    if !(1..=RECEIVE_MESSAGES_MAX).contains(&request.max_messages) {
        return invalid(
            "MaxNumberOfMessages",
            format!("{} is outside 1..=10", request.max_messages),
        );
    }
    if let Some(timeout) = request
        .visibility_timeout_s
        .filter(|t| *t > VISIBILITY_TIMEOUT_S_MAX)
    {
        return invalid(
            "VisibilityTimeout",
            format!("{timeout} is outside 0..=43200"),
        );
    }
    if let Some(id) = &request.receive_request_attempt_id {
        if id.is_empty() || id.chars().count() > 128 {
            return invalid(
                "ReceiveRequestAttemptId",
                "an attempt id has 1 to 128 characters".into(),
            );
        }
    }
    if let Some(wait) = request.wait_time_s.filter(|w| *w > WAIT_TIME_S_MAX) {
        return invalid("WaitTimeSeconds", format!("{wait} is outside 0..=20"));
    }
    Ok(())
}

impl Queue {
    /// Receives up to `max_messages`. With a wait time, blocks until a message is
    /// receivable (woken by a send, not by polling) or the wait ends. A message
    /// received as often as the redrive policy allows is moved to `dead_letter`
    /// (when given) instead of being returned.
    pub fn receive(
        &self,
        request: &ReceiveRequest,
        dead_letter: Option<&Queue>,
    ) -> Result<Vec<ReceivedMessage>> {
        self.check_usable()?;
        check_request(request)?;
        let attempt_id = request
            .receive_request_attempt_id
            .as_deref()
            .filter(|_| self.name.is_fifo());
        if let Some(id) = attempt_id {
            let now_ms = self.clock.now_ms();
            let inner = self.lock();
            if let Some(messages) = inner.fifo.repeat_attempt(id, &inner.delivery, now_ms) {
                return Ok(messages);
            }
        }
        let messages = self.receive_fresh(request, dead_letter)?;
        if let Some(id) = attempt_id {
            let now_ms = self.clock.now_ms();
            self.lock()
                .fifo
                .remember_attempt(id, now_ms, messages.clone());
        }
        Ok(messages)
    }

    fn receive_fresh(
        &self,
        request: &ReceiveRequest,
        dead_letter: Option<&Queue>,
    ) -> Result<Vec<ReceivedMessage>> {
        let wait_s = request
            .wait_time_s
            .unwrap_or_else(|| self.lock().attributes.receive_wait_s);
        let deadline = Instant::now() + Duration::from_secs(u64::from(wait_s));
        loop {
            let round = self.receive_round(request, dead_letter)?;
            let now = Instant::now();
            if !round.messages.is_empty() || now >= deadline {
                return Ok(round.messages);
            }
            let timeout = self.poll_timeout(deadline - now, round.next_due_ms);
            let mut inner = self.lock();
            if inner.closed || inner.waits_ended {
                return Ok(Vec::new());
            }
            if inner.generation == round.generation {
                inner.waiting_receivers += 1;
                let (mut inner, _) = self
                    .changed
                    .wait_timeout(inner, timeout)
                    .unwrap_or_else(|poison| poison.into_inner());
                inner.waiting_receivers -= 1;
            }
        }
    }

    /// How long a long poll waits before its next round: the `remaining` wait,
    /// or less if a message is due before (`next_due_ms`, on the queue's clock).
    pub(crate) fn poll_timeout(&self, remaining: Duration, next_due_ms: Option<u64>) -> Duration {
        match next_due_ms {
            Some(due_ms) => {
                let in_ms = due_ms.saturating_sub(self.clock.now_ms()).max(1);
                remaining.min(Duration::from_millis(in_ms))
            }
            None => remaining,
        }
    }

    fn receive_round(
        &self,
        request: &ReceiveRequest,
        dead_letter: Option<&Queue>,
    ) -> Result<Round> {
        let StagedRound {
            round,
            pending,
            moves,
        } = self.stage_round(request, dead_letter)?;
        if let Some(pending) = pending {
            pending.wait()?;
        }
        if let Some(dead_letter) = dead_letter {
            for (position, message, receive_count) in moves {
                self.move_to(dead_letter, position, message, receive_count)?;
            }
        }
        Ok(round)
    }

    /// A receive round up to its state append, which it stages without waiting.
    pub(crate) fn stage_round(
        &self,
        request: &ReceiveRequest,
        dead_letter: Option<&Queue>,
    ) -> Result<StagedRound> {
        let now_ms = self.clock.now_ms();
        let mut inner = self.lock();
        let generation = inner.generation;
        let visibility_ms = 1000
            * u64::from(
                request
                    .visibility_timeout_s
                    .unwrap_or(inner.attributes.visibility_timeout_s),
            );
        let picks = self.pick(&mut inner, request.max_messages as usize, now_ms)?;
        let redrive = inner
            .attributes
            .redrive
            .clone()
            .filter(|_| dead_letter.is_some());
        let picks = self.read_picks(picks)?;
        let Taken {
            entries,
            messages,
            moves,
        } = self.take(
            &mut inner,
            picks,
            now_ms,
            visibility_ms,
            redrive.as_ref(),
            false,
        );
        let pending = self.submit_entries(&entries)?;
        // Only future times: a due message that could not be taken (a held FIFO
        // group) must not turn the long poll into a poll loop.
        let after_now = (now_ms + 1, 0)..;
        let next_due_ms = [
            inner.delivery.redelivery.range(after_now.clone()).next(),
            inner.delivery.delayed.range(after_now).next(),
        ]
        .into_iter()
        .flatten()
        .map(|(at, _)| *at)
        .min();
        drop(inner);
        let round = Round {
            messages,
            generation,
            next_due_ms,
        };
        Ok(StagedRound {
            round,
            pending,
            moves,
        })
    }

    /// Marks picked messages received (or, past the redrive limit or with
    /// `move_all`, hidden until they are moved) and returns the state entries to
    /// append.
    fn take(
        &self,
        inner: &mut Inner,
        picks: Vec<(u64, StoredMessage)>,
        now_ms: u64,
        visibility_ms: u64,
        redrive: Option<&RedrivePolicy>,
        move_all: bool,
    ) -> Taken {
        let mut taken = Taken {
            entries: Vec::new(),
            messages: Vec::new(),
            moves: Vec::new(),
        };
        let retention_ms = 1000 * u64::from(inner.attributes.message_retention_s);
        for (position, message) in picks {
            if now_ms >= message.sent_ms + retention_ms {
                // Only FIFO messages that waited for their group are picked
                // unread; their retention is checked here.
                inner.delivery.remove(position);
                inner.fifo.release(position);
                continue;
            }
            let previous = inner.delivery.tracked.get(&position).copied();
            let previous_count = previous.map_or(message.receive_count_base, |t| t.receive_count);
            let tracked = Tracked {
                receive_count: previous_count + 1,
                visible_at_ms: now_ms + visibility_ms,
                first_receive_ms: previous.map_or(now_ms, |t| t.first_receive_ms),
                sent_ms: message.sent_ms,
            };
            inner.delivery.untrack_delayed(position);
            inner.fifo.mark_received(position);
            if move_all || redrive.is_some_and(|r| previous_count >= r.max_receive_count) {
                // Hidden (not counted as a receive) while it moves, so that no
                // other receive takes it; a crash before the move leaves it here.
                let hidden = Tracked {
                    receive_count: previous_count,
                    ..tracked
                };
                inner.delivery.set_tracked(position, hidden);
                taken.moves.push((position, message, previous_count));
                continue;
            }
            inner.delivery.set_tracked(position, tracked);
            taken.entries.push(Entry::Received {
                position,
                receive_count: tracked.receive_count,
                visible_at_ms: tracked.visible_at_ms,
                first_receive_ms: tracked.first_receive_ms,
                sent_ms: message.sent_ms,
            });
            taken
                .messages
                .push(self.received(position, message, tracked));
        }
        taken
    }

    fn received(&self, position: u64, message: StoredMessage, tracked: Tracked) -> ReceivedMessage {
        ReceivedMessage {
            message_id: message.message_id,
            receipt_handle: ReceiptHandle {
                queue_id: self.id,
                position,
                attempt: tracked.receive_count,
                message_id: message.message_id,
            },
            body: message.body,
            body_digest: message.body_digest,
            attributes: message.attributes,
            sent_ms: message.sent_ms,
            receive_count: tracked.receive_count,
            first_receive_ms: tracked.first_receive_ms,
            sequence_number: self.name.is_fifo().then_some(SequenceNumber(position)),
            group_id: message.group_id,
            deduplication_id: message.deduplication_id,
            trace_header: message.trace_header,
            source_queue: message.source_queue,
        }
    }

    /// The picked messages, read from the log where the cursor did not already.
    fn read_picks(&self, picks: Vec<Pick>) -> Result<Vec<(u64, StoredMessage)>> {
        picks
            .into_iter()
            .map(|(position, message)| match message {
                Some(message) => Ok((position, message)),
                None => self
                    .read_message(position)
                    .map(|message| (position, message)),
            })
            .collect()
    }

    fn read_message(&self, position: u64) -> Result<StoredMessage> {
        let read = self.messages.read(
            position,
            ReadLimits {
                records_max: 1,
                bytes_max: 1,
            },
        )?;
        let record = read
            .records()
            .next()
            .filter(|record| record.position == position);
        let record = record.ok_or_else(|| Error::Corrupt {
            what: self.messages.dir().display().to_string(),
            reason: format!("message at position {position} is tracked but not in the log"),
        })?;
        decode_message(self, record.data)
    }

    /// Positions to deliver, with the message when the cursor read it already.
    /// Rounds alternate between redeliveries first and new messages first, so that
    /// neither starves the other (consumers that keep failing messages with a short
    /// visibility timeout would otherwise hold back every new message).
    fn pick(&self, inner: &mut Inner, max: usize, now_ms: u64) -> Result<Vec<Pick>> {
        let retention_ms = 1000 * u64::from(inner.attributes.message_retention_s);
        let expired = |sent_ms: u64| now_ms >= sent_ms + retention_ms;
        let limit = self.inflight_max();
        let inflight = inner.delivery.tracked.len();
        inner.receive_rounds += 1;
        let mut picks = Vec::new();
        if self.name.is_fifo() {
            self.pick_fifo(inner, max, now_ms, &mut picks)?;
        } else if inner.receive_rounds.is_multiple_of(2) {
            self.pick_new(inner, max, now_ms, &mut picks, &expired)?;
            pick_redelivered(inner, max, now_ms, &mut picks, &expired);
        } else {
            pick_redelivered(inner, max, now_ms, &mut picks, &expired);
            self.pick_new(inner, max, now_ms, &mut picks, &expired)?;
        }
        if picks.is_empty() && inflight >= limit {
            return Err(Error::OverLimit { inflight, limit });
        }
        Ok(picks)
    }

    /// Messages never received: delayed ones that came due (FIFO: free group
    /// heads), then the cursor's, within the in-flight limit.
    fn pick_new(
        &self,
        inner: &mut Inner,
        max: usize,
        now_ms: u64,
        picks: &mut Vec<Pick>,
        expired: &impl Fn(u64) -> bool,
    ) -> Result<()> {
        let new_allowed = self
            .inflight_max()
            .saturating_sub(inner.delivery.tracked.len());
        let budget = max.min(picks.len() + new_allowed);
        let before = picks.len();
        let mut gone = Vec::new();
        let delivery = &inner.delivery;
        for &(_, position) in delivery.delayed.range(..(now_ms + 1, 0)) {
            if picks.len() >= budget {
                break;
            }
            if expired(delivery.delayed_info[&position].1) {
                gone.push(position);
            } else {
                picks.push((position, None));
            }
        }
        forget(inner, gone);
        let new_allowed = new_allowed - (picks.len() - before);
        if picks.len() < max && new_allowed > 0 {
            let mut no_groups = HashMap::new();
            self.walk_cursor(inner, max, now_ms, picks, new_allowed, &mut no_groups)?;
        }
        Ok(())
    }

    /// FIFO: the messages of free groups, each group's from its head on, in order
    /// (groups with a message whose visibility ended, and groups never received:
    /// which kind first alternates by round, as in a standard queue), then the
    /// cursor's new messages. Retention is checked when the picks are taken.
    fn pick_fifo(
        &self,
        inner: &mut Inner,
        max: usize,
        now_ms: u64,
        picks: &mut Vec<Pick>,
    ) -> Result<()> {
        let mut round = FifoRound {
            max,
            now_ms,
            new_allowed: self
                .inflight_max()
                .saturating_sub(inner.delivery.tracked.len()),
            last_taken: HashMap::new(),
            seen: HashSet::new(),
            stale_heads: Vec::new(),
        };
        let due = (now_ms + 1, 0);
        let redelivered = || inner.delivery.redelivery.range(..due).map(|(_, p)| *p);
        if inner.receive_rounds.is_multiple_of(2) {
            take_groups(inner, inner.fifo.free_heads(), true, &mut round, picks);
            take_groups(inner, redelivered(), false, &mut round, picks);
        } else {
            take_groups(inner, redelivered(), false, &mut round, picks);
            take_groups(inner, inner.fifo.free_heads(), true, &mut round, picks);
        }
        inner.fifo.drop_free_heads(&round.stale_heads);
        if picks.len() < max && round.new_allowed > 0 {
            let (new_allowed, mut last_taken) = (round.new_allowed, round.last_taken);
            self.walk_cursor(inner, max, now_ms, picks, new_allowed, &mut last_taken)?;
        }
        Ok(())
    }

    /// Walks the cursor over new messages until `max` are picked. FIFO: a message
    /// is picked if it heads its group, or if the message before it in its group
    /// is the last one `last_taken` says this round picked of that group.
    fn walk_cursor(
        &self,
        inner: &mut Inner,
        max: usize,
        now_ms: u64,
        picks: &mut Vec<Pick>,
        mut new_allowed: usize,
        last_taken: &mut HashMap<Arc<str>, u64>,
    ) -> Result<()> {
        let retention_ms = 1000 * u64::from(inner.attributes.message_retention_s);
        let expired = |sent_ms: u64| now_ms >= sent_ms + retention_ms;
        let fifo = self.name.is_fifo();
        let mut cursor = inner.delivery.cursor.max(self.messages.first_position());
        // Reads of `max` records: a read verifies every batch it touches, and
        // picks are usually the records right at the cursor.
        for_each_record_in_reads_of(&self.messages, cursor, max, |position, bytes| {
            if picks.len() >= max || new_allowed == 0 {
                return Ok(false);
            }
            cursor = position + 1;
            if inner.delivery.skip_at_cursor(position) {
                return Ok(true);
            }
            let message = decode_message(self, bytes)?;
            if expired(message.sent_ms) {
                return Ok(true);
            }
            let mut group = None;
            if fifo {
                let name = message.group_id.as_deref().ok_or_else(|| Error::Corrupt {
                    what: self.messages.dir().display().to_string(),
                    reason: format!("FIFO message at position {position} has no group"),
                })?;
                let head = inner.fifo.add(name, position);
                let previous = inner.fifo.previous_in_group(name, position);
                if head || (previous.is_some() && last_taken.get(name) == previous.as_ref()) {
                    group = inner.fifo.group_of(position).cloned();
                } else if message.visible_from_ms <= now_ms {
                    // Held: a message before it in its group is in flight or
                    // was not picked this round.
                    return Ok(true);
                }
            }
            if message.visible_from_ms > now_ms {
                inner
                    .delivery
                    .add_delayed(position, message.visible_from_ms, message.sent_ms);
                return Ok(true);
            }
            if let Some(group) = group {
                last_taken.insert(group, position);
            }
            picks.push((position, Some(message)));
            new_allowed -= 1;
            Ok(true)
        })?;
        inner.delivery.cursor = cursor;
        Ok(())
    }

    /// Moves a message to the dead-letter queue: appended there (durably) before it
    /// is marked moved here, so a crash in between leaves a copy in both, never none.
    fn move_to(
        &self,
        dead_letter: &Queue,
        position: u64,
        message: StoredMessage,
        receive_count: u32,
    ) -> Result<()> {
        let moved = StoredMessage {
            visible_from_ms: 0,
            receive_count_base: receive_count,
            source_queue: Some(self.name.to_string()),
            ..message
        };
        self.move_out(dead_letter, position, &moved)
    }

    /// Appends `moved` (the message at `position`, as it goes) to `destination`
    /// durably, then marks it moved here: a crash in between leaves a copy in
    /// both, never none.
    pub(crate) fn move_out(
        &self,
        destination: &Queue,
        position: u64,
        moved: &StoredMessage,
    ) -> Result<()> {
        destination.append_moved(moved)?;
        let mut inner = self.lock();
        let entry = Entry::Moved { position };
        self.apply_live(&mut inner, &entry);
        let pending = self.submit_entries(&[entry])?;
        drop(inner);
        if let Some(pending) = pending {
            pending.wait()?;
        }
        Ok(())
    }

    /// Takes up to `max` receivable messages out of delivery for a move task:
    /// hidden for `hide_ms` (in memory only, so a crash before their move leaves
    /// them here, visible, with their receive counts unchanged) until
    /// [`Queue::move_out`] marks each moved.
    pub(crate) fn take_for_move(
        &self,
        max: usize,
        hide_ms: u64,
    ) -> Result<Vec<(u64, StoredMessage)>> {
        let now_ms = self.clock.now_ms();
        let mut inner = self.lock();
        let picks = self.pick(&mut inner, max, now_ms)?;
        let picks = self.read_picks(picks)?;
        let taken = self.take(&mut inner, picks, now_ms, hide_ms, None, true);
        debug_assert!(taken.entries.is_empty() && taken.messages.is_empty());
        Ok(taken
            .moves
            .into_iter()
            .map(|(position, message, _)| (position, message))
            .collect())
    }

    /// Appends a message moved here from a source queue and wakes receivers.
    fn append_moved(&self, message: &StoredMessage) -> Result<()> {
        let data = message.encode();
        self.messages.append(&[message_record(&data)])?;
        let mut inner = self.lock();
        inner.generation += 1;
        self.wake_receivers(inner, 1);
        Ok(())
    }
}
