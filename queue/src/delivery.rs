//! In-memory delivery state of one queue: the cursor over the message log, the
//! messages received and not yet removed, and the delayed messages the cursor
//! passed. Nothing else of the queue's depth is held in memory.
//!
//! Invariant: every message log position below `cursor` is tracked, delayed, or
//! gone (deleted, moved, purged or expired). Positions at or above `cursor` may be
//! tracked or removed too, after recovery (the cursor restarts at the oldest
//! retained message and steps over them).

use crate::state_log::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};

/// A received message that is not removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    /// Receives so far (including receives counted in a source queue).
    pub receive_count: u32,
    /// When it becomes visible again (ms).
    pub visible_at_ms: u64,
    /// When it was first received (ms).
    pub first_receive_ms: u64,
    /// When it was sent (ms).
    pub sent_ms: u64,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Next message log position the cursor looks at.
    pub cursor: u64,
    /// Received and not removed, by position.
    pub tracked: HashMap<u64, Tracked>,
    /// `(visible_at_ms, position)` of every tracked message: the redelivery order.
    pub redelivery: BTreeSet<(u64, u64)>,
    /// `(visible_from_ms, position)` of messages the cursor passed before their delay ended.
    pub delayed: BTreeSet<(u64, u64)>,
    /// `(visible_from_ms, sent_ms)` of each delayed message, by position.
    pub delayed_info: HashMap<u64, (u64, u64)>,
    /// Removed positions at or above the cursor.
    pub removed_ahead: HashSet<u64>,
    /// FIFO, during replay only: positions a checkpoint says the cursor passed
    /// while their group was held (handed to the FIFO state after replay).
    pub passed_at_replay: HashSet<u64>,
}

impl Delivery {
    /// State with the cursor at `cursor` and nothing received.
    pub fn new(cursor: u64) -> Delivery {
        Delivery {
            cursor,
            ..Delivery::default()
        }
    }

    /// Applies one entry. Live receives use [`Delivery::set_tracked`] instead: the
    /// cursor has passed their messages already, which replay reads as "gone".
    pub fn apply(&mut self, entry: &Entry) {
        match *entry {
            Entry::Received {
                position,
                receive_count,
                visible_at_ms,
                first_receive_ms,
                sent_ms,
            } => {
                if self.removed_ahead.contains(&position) {
                    return;
                }
                let previous = self.tracked.get(&position).copied();
                let known = self.is_delayed(position) || self.passed_at_replay.remove(&position);
                if previous.is_none() && position < self.cursor && !known {
                    // Below the cursor and neither tracked nor delayed: already gone.
                    return;
                }
                self.untrack_delayed(position);
                let first_receive_ms = previous.map_or(first_receive_ms, |p| p.first_receive_ms);
                self.set_tracked(
                    position,
                    Tracked {
                        receive_count: receive_count.max(previous.map_or(0, |p| p.receive_count)),
                        visible_at_ms,
                        first_receive_ms,
                        sent_ms,
                    },
                );
            }
            Entry::Visibility {
                position,
                receive_count,
                visible_at_ms,
            } => {
                if let Some(tracked) = self.tracked.get(&position).copied() {
                    if tracked.receive_count == receive_count {
                        self.set_tracked(
                            position,
                            Tracked {
                                visible_at_ms,
                                ..tracked
                            },
                        );
                    }
                }
            }
            Entry::Deleted { position } | Entry::Moved { position } => self.remove(position),
            Entry::Purged { end_position } => self.purge(end_position),
            Entry::Truncated { end_position } => self.forget_from(end_position),
        }
    }

    /// Forgets everything about positions at or above `end_position`.
    pub fn forget_from(&mut self, end_position: u64) {
        self.cursor = self.cursor.min(end_position);
        self.tracked.retain(|position, _| *position < end_position);
        self.redelivery
            .retain(|(_, position)| *position < end_position);
        self.delayed
            .retain(|(_, position)| *position < end_position);
        self.delayed_info
            .retain(|position, _| *position < end_position);
        self.removed_ahead
            .retain(|position| *position < end_position);
        self.passed_at_replay
            .retain(|position| *position < end_position);
    }

    /// The highest position anything here mentions, if any.
    pub fn highest_known(&self) -> Option<u64> {
        let tracked = self.tracked.keys().max();
        let removed = self.removed_ahead.iter().max();
        let delayed = self.delayed_info.keys().max();
        let passed = self.passed_at_replay.iter().max();
        [tracked, removed, delayed, passed]
            .into_iter()
            .flatten()
            .max()
            .copied()
    }

    fn is_delayed(&self, position: u64) -> bool {
        self.delayed_info.contains_key(&position)
    }

    /// Forgets a delayed message (received or removed).
    pub fn untrack_delayed(&mut self, position: u64) {
        if let Some((visible_from_ms, _)) = self.delayed_info.remove(&position) {
            self.delayed.remove(&(visible_from_ms, position));
        }
    }

    /// Inserts or replaces a tracked message, keeping the redelivery order.
    pub fn set_tracked(&mut self, position: u64, tracked: Tracked) {
        if let Some(old) = self.tracked.insert(position, tracked) {
            self.redelivery.remove(&(old.visible_at_ms, position));
        }
        self.redelivery.insert((tracked.visible_at_ms, position));
    }

    /// Removes a message for good (deleted, moved or expired).
    pub fn remove(&mut self, position: u64) {
        if let Some(old) = self.tracked.remove(&position) {
            self.redelivery.remove(&(old.visible_at_ms, position));
        }
        self.untrack_delayed(position);
        self.passed_at_replay.remove(&position);
        if position >= self.cursor {
            self.removed_ahead.insert(position);
        }
    }

    /// Removes every message below `end_position`.
    pub fn purge(&mut self, end_position: u64) {
        self.cursor = self.cursor.max(end_position);
        self.tracked.retain(|position, _| *position >= end_position);
        self.redelivery
            .retain(|(_, position)| *position >= end_position);
        self.delayed
            .retain(|(_, position)| *position >= end_position);
        self.delayed_info
            .retain(|position, _| *position >= end_position);
        self.removed_ahead
            .retain(|position| *position >= end_position);
        self.passed_at_replay
            .retain(|position| *position >= end_position);
    }

    /// Replay only: steps the cursor over positions that are received (tracked) or
    /// removed, as the live cursor did when it received them. Without this, every
    /// removal since the last checkpoint would stay in `removed_ahead` after a
    /// restart: memory that grows with the messages deleted, not with those in
    /// flight. Never passes a position that is neither (unread, delayed, or FIFO
    /// passed), so recovery still reads those from the message log.
    pub fn advance_cursor(&mut self) {
        loop {
            if self.removed_ahead.remove(&self.cursor) || self.tracked.contains_key(&self.cursor) {
                self.cursor += 1;
            } else {
                return;
            }
        }
    }

    /// Whether the cursor steps over `position` (tracked, or removed, after recovery).
    pub fn skip_at_cursor(&mut self, position: u64) -> bool {
        self.removed_ahead.remove(&position) || self.tracked.contains_key(&position)
    }

    /// Records that the cursor passed a message whose delay has not ended.
    pub fn add_delayed(&mut self, position: u64, visible_from_ms: u64, sent_ms: u64) {
        self.delayed.insert((visible_from_ms, position));
        self.delayed_info
            .insert(position, (visible_from_ms, sent_ms));
    }

    /// Oldest position still needed: nothing below it is tracked, delayed or unread.
    pub fn low_water(&self) -> u64 {
        let tracked = self.tracked.keys().min().copied();
        let delayed = self.delayed_info.keys().min().copied();
        [Some(self.cursor), tracked, delayed]
            .into_iter()
            .flatten()
            .min()
            .expect("the cursor is always there")
    }

    /// Messages received and not visible again at `now_ms`.
    pub fn not_visible_count(&self, now_ms: u64) -> usize {
        self.redelivery.range((now_ms + 1, 0)..).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(position: u64, receive_count: u32, visible_at_ms: u64) -> Entry {
        Entry::Received {
            position,
            receive_count,
            visible_at_ms,
            first_receive_ms: 1,
            sent_ms: 0,
        }
    }

    /// Replay keeps the highest receive count, and a deleted message is not brought
    /// back by a receive entry that comes after its deletion.
    #[test]
    fn replay_counts_and_deletions() {
        let mut delivery = Delivery::new(0);
        delivery.apply(&received(3, 1, 100));
        delivery.apply(&received(3, 2, 200));
        delivery.apply(&Entry::Visibility {
            position: 3,
            receive_count: 1,
            visible_at_ms: 5,
        });
        assert_eq!(delivery.tracked[&3].receive_count, 2);
        assert_eq!(delivery.tracked[&3].visible_at_ms, 200);
        delivery.apply(&Entry::Deleted { position: 3 });
        delivery.apply(&received(3, 3, 300));
        assert!(delivery.tracked.is_empty());
        assert!(delivery.skip_at_cursor(3));
        delivery.apply(&Entry::Purged { end_position: 10 });
        assert_eq!(delivery.cursor, 10);
        assert_eq!(delivery.low_water(), 10);
    }

    /// Advancing the cursor passes received and removed positions in any order of
    /// their entries, stops at the first position that is neither, and leaves no
    /// removal below the cursor.
    #[test]
    fn advance_cursor_passes_received_and_removed_positions() {
        let mut delivery = Delivery::new(0);
        for entry in [
            received(1, 1, 100),
            Entry::Deleted { position: 2 },
            received(0, 1, 100),
            Entry::Deleted { position: 1 },
            Entry::Deleted { position: 5 },
        ] {
            delivery.apply(&entry);
            delivery.advance_cursor();
        }
        assert_eq!(delivery.cursor, 3, "position 3 was never received");
        assert_eq!(delivery.tracked.keys().copied().collect::<Vec<_>>(), [0]);
        assert_eq!(delivery.removed_ahead, HashSet::from([5]));
    }
}
