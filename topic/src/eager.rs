//! Queue deliveries staged by the publish itself.
//!
//! Without this, a publish to queue subscriptions took three commit rounds one
//! after the other before a consumer held the message: the topic's append, the
//! queue sends that the delivery thread staged once that append was durable, and
//! the consumer's receive. Here a publish to a standard topic stages its queue
//! deliveries (where the sink can make them cheaply: [`Sink::stages`]) right
//! after its own append, under one lock, so that the append and the sends
//! usually share one commit round (one journal sync).
//!
//! The delivery thread stays the one that settles deliveries: it takes a staged
//! entry once the entry's topic records are acknowledged (durable), waits for the
//! staged sends, checks that the records it reads at those positions are the ones
//! staged, and only then counts their positions as delivered for the
//! subscriptions whose sends went through. So a subscription's position never
//! passes a topic record that is not durable, nor one whose delivery is not
//! durable; whatever a staged send did not deliver (refused, a failed append, a
//! subscription that changed meanwhile) the delivery thread delivers as usual.
//! A crash loses the staged entries, not a stored position: what they had
//! delivered is delivered again (at least once).

use crate::delivery::{Control, Delivery, Sink, Staged};
use crate::manifest::TopicAttributes;
use crate::recent::DecodedRead;
use crate::record::Published;
use crate::types::{SubscriptionId, TopicName};
use shardlog_segment::{Log, PendingAppend};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Most staged entries waiting for the delivery thread: past this, publishes
/// stage nothing and the delivery thread delivers as it reads (bounds the memory
/// of a delivery thread that fell behind).
const ENTRIES_MAX: usize = 1024;

/// A topic's staged deliveries and who may be delivered to at publish.
#[derive(Default)]
pub(crate) struct Eager {
    state: Mutex<EagerState>,
}

impl std::fmt::Debug for Eager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eager").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct EagerState {
    /// The queue delivery thread's subscriptions; `None` while none runs.
    target: Option<Target>,
    /// Staged entries in log order, until the delivery thread takes them.
    entries: VecDeque<Entry>,
}

/// The subscriptions a publish may deliver to, and the sink.
pub(crate) struct Target {
    pub(crate) sink: Arc<dyn Sink>,
    /// Each queue subscription's control, and whether the delivery thread
    /// lets publishes deliver to it (not while it retries or is halted).
    pub(crate) members: Vec<(Arc<Control>, Arc<AtomicBool>)>,
}

/// The deliveries one publish staged.
pub(crate) struct Entry {
    /// The topic position of the publish's first message.
    pub(crate) base: u64,
    /// Its messages' ids, in log order (positions from `base`).
    pub(crate) message_ids: Vec<String>,
    /// Each subscription it was staged for.
    pub(crate) parts: Vec<Part>,
    /// The sink's staged sends: one batch per part with passing messages, in
    /// order (`None` when no message passed any filter).
    pub(crate) staged: Option<Box<dyn Staged>>,
}

impl Entry {
    /// The position after the publish's last message.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.message_ids.len() as u64
    }
}

/// One subscription's share of an [`Entry`].
pub(crate) struct Part {
    pub(crate) subscription: SubscriptionId,
    /// Indexes of the messages that passed its filter, handed to the sink.
    pub(crate) passing: Vec<usize>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Eager {
    /// Sets (or, with `None`, ends) the subscriptions publishes deliver to.
    pub(crate) fn set_target(&self, target: Option<Target>) {
        lock(&self.state).target = target;
    }

    /// Stages `messages` as one append of `log`, then their deliveries to the
    /// target's subscriptions, under one lock: an entry is listed before the
    /// delivery thread can see its records acknowledged (it looks under the
    /// same lock), so the thread never delivers them a second time.
    pub(crate) fn publish(
        &self,
        log: &Log,
        topic: &TopicName,
        attributes: &Mutex<TopicAttributes>,
        messages: &[Published],
    ) -> shardlog_segment::Result<PendingAppend> {
        let mut state = lock(&self.state);
        let append = crate::topic::submit_published(log, messages)?;
        if state.entries.len() < ENTRIES_MAX {
            let base = append.appended().base_position;
            let entry = state.target.as_ref().and_then(|target| {
                let topic_attributes = lock(attributes).clone();
                target.stage(topic, &topic_attributes, base, messages)
            });
            state.entries.extend(entry);
        }
        Ok(append)
    }

    /// The log's acknowledged end, and the staged entries wholly below it (in
    /// log order): taken under the publishers' lock, so every record below that
    /// end that a publish staged deliveries for is among them or taken before.
    pub(crate) fn take_acknowledged(&self, log: &Log) -> (u64, Vec<Entry>) {
        let mut state = lock(&self.state);
        let end = log.end_position();
        let mut taken = Vec::new();
        while state
            .entries
            .front()
            .is_some_and(|entry| entry.end() <= end)
        {
            taken.extend(state.entries.pop_front());
        }
        (end, taken)
    }
}

impl Target {
    /// Stages the deliveries of `messages` (positions from `base`) to every
    /// subscription that takes them now; `None` when there are none or the
    /// sink cannot stage.
    fn stage(
        &self,
        topic: &TopicName,
        topic_attributes: &TopicAttributes,
        base: u64,
        messages: &[Published],
    ) -> Option<Entry> {
        let mut parts = Vec::new();
        let mut records = Vec::new();
        for (control, allowed) in &self.members {
            if !allowed.load(Ordering::Acquire) {
                continue;
            }
            let record = control.record();
            if !self.sink.stages(&record) {
                continue;
            }
            let passing: Vec<usize> = (0..messages.len())
                .filter(|&k| control.passes(&messages[k]))
                .collect();
            parts.push(Part {
                subscription: record.id.clone(),
                passing,
            });
            records.push(record);
        }
        if parts.is_empty() {
            return None;
        }
        let batches: Vec<Vec<Delivery<'_>>> = parts
            .iter()
            .zip(&records)
            .filter(|(part, _)| !part.passing.is_empty())
            .map(|(part, record)| {
                part.passing
                    .iter()
                    .map(|&k| Delivery {
                        topic,
                        topic_attributes,
                        subscription: record,
                        message: &messages[k],
                        position: base + k as u64,
                        attempt: 1,
                    })
                    .collect()
            })
            .collect();
        let staged = if batches.is_empty() {
            None
        } else {
            let handed: Vec<&[Delivery<'_>]> = batches.iter().map(Vec::as_slice).collect();
            Some(self.sink.stage_batches(&handed)?)
        };
        Some(Entry {
            base,
            message_ids: messages.iter().map(|m| m.message_id.clone()).collect(),
            parts,
            staged,
        })
    }
}

/// What a taken entry delivered: per subscription, the positions from the
/// entry's base up to which everything is delivered or filtered out.
pub(crate) struct Settled {
    pub(crate) base: u64,
    pub(crate) covered: Vec<(SubscriptionId, u64)>,
}

/// Waits for `entry`'s staged sends and says what they delivered, if `read`
/// (a read of the topic's log) holds the entry's messages at its positions;
/// `None` when it does not (nothing is counted delivered).
pub(crate) fn settle(entry: Entry, read: Option<&DecodedRead>) -> Option<Settled> {
    let end = entry.end();
    let mut outcomes = entry
        .staged
        .map(|staged| staged.outcomes())
        .unwrap_or_default()
        .into_iter();
    let found = read.map(|read| {
        let start = read
            .messages
            .partition_point(|(position, _)| *position < entry.base);
        let found = &read.messages[start..];
        &found[..found.len().min(entry.message_ids.len())]
    });
    let matches = found.is_some_and(|found| {
        found.len() == entry.message_ids.len()
            && found.iter().zip(&entry.message_ids).enumerate().all(
                |(k, ((position, message), id))| {
                    *position == entry.base + k as u64 && message.message_id == *id
                },
            )
    });
    if !matches {
        tracing::warn!(
            position = entry.base,
            "staged deliveries do not match the log; delivered again"
        );
        return None;
    }
    let mut covered = Vec::with_capacity(entry.parts.len());
    for part in entry.parts {
        let answered = if part.passing.is_empty() {
            Vec::new()
        } else {
            outcomes.next().unwrap_or_default()
        };
        let first_undelivered = part
            .passing
            .iter()
            .enumerate()
            .find(|(k, _)| !matches!(answered.get(*k), Some(Ok(()))))
            .map(|(_, &index)| entry.base + index as u64);
        covered.push((part.subscription, first_undelivered.unwrap_or(end)));
    }
    Some(Settled {
        base: entry.base,
        covered,
    })
}
