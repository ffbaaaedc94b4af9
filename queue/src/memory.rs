//! What a queue holds in memory, counted: the figures that must grow with the
//! messages in flight and delayed, never with the queue's depth. Benchmarks and
//! tests read them to check that bound without timing anything.

use crate::queue::Queue;

/// Entries of a queue's in-memory delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryEntries {
    /// Received messages not yet removed (in flight, or visible again).
    pub tracked: usize,
    /// Delayed messages the cursor passed.
    pub delayed: usize,
    /// Removed positions at or above the cursor (only after a recovery).
    pub removed_ahead: usize,
    /// FIFO, during recovery only: positions passed while their group was held.
    pub passed_at_replay: usize,
    /// Where the cursor is: every message log position below it is received,
    /// delayed or gone.
    pub cursor: u64,
    /// The message log's end: positions from the cursor to here are unread depth.
    pub end_position: u64,
}

impl MemoryEntries {
    /// Entries in all (the cursor and end are positions, not entries).
    pub fn total(&self) -> usize {
        self.tracked + self.delayed + self.removed_ahead + self.passed_at_replay
    }
}

impl Queue {
    /// The entries of the in-memory delivery state now.
    pub fn memory_entries(&self) -> MemoryEntries {
        let end_position = self.messages.end_position();
        let inner = self.lock();
        let delivery = &inner.delivery;
        MemoryEntries {
            tracked: delivery.tracked.len(),
            delayed: delivery.delayed_info.len(),
            removed_ahead: delivery.removed_ahead.len(),
            passed_at_replay: delivery.passed_at_replay.len(),
            cursor: delivery.cursor,
            end_position,
        }
    }
}
