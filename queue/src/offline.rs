//! A queue's delivery state rebuilt from its state log's records without opening
//! the queue (which may write: recovery appends a Truncated entry), for tools that
//! only read a data directory (`shardlog inspect`, `shardlog verify`).

use crate::checkpoint::Replay;

/// What a queue's state log says, replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateSummary {
    /// Every message log position below it is received, delayed or gone.
    pub cursor: u64,
    /// Received messages not removed.
    pub received: u64,
    /// Of those, the ones still invisible at the time asked about (in flight).
    pub in_flight: u64,
    /// Delayed messages the cursor had passed (from the last checkpoint).
    pub delayed: u64,
    /// Messages removed (deleted, moved, purged or expired) among those retained:
    /// below the cursor and neither received nor delayed, or removed ahead of it.
    pub removed: u64,
}

/// Replays `records` (the state log's, in order) over a message log whose oldest
/// retained position is `first_position`; `now_ms` decides what is in flight.
/// An error names the first record that does not decode or fit.
pub fn replay_state<'a>(
    first_position: u64,
    records: impl IntoIterator<Item = &'a [u8]>,
    now_ms: u64,
) -> Result<StateSummary, String> {
    let mut replay = Replay::new(first_position);
    for (index, bytes) in records.into_iter().enumerate() {
        replay
            .apply(bytes)
            .map_err(|reason| format!("state record {index}: {reason}"))?;
    }
    let delivery = replay.finish()?;
    let cursor = delivery.cursor.max(first_position);
    let below = |position: &u64| (first_position..cursor).contains(position);
    let known_below = delivery.tracked.keys().filter(|p| below(p)).count()
        + delivery.delayed_info.keys().filter(|p| below(p)).count();
    let removed = (cursor - first_position).saturating_sub(known_below as u64)
        + delivery.removed_ahead.len() as u64;
    Ok(StateSummary {
        cursor,
        received: delivery.tracked.len() as u64,
        in_flight: delivery
            .tracked
            .values()
            .filter(|t| t.visible_at_ms > now_ms)
            .count() as u64,
        delayed: delivery.delayed_info.len() as u64,
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_log::Entry;

    /// Received, deleted and moved entries count as in flight, received and removed.
    #[test]
    fn counts_from_entries() {
        let received = |position, visible_at_ms| Entry::Received {
            position,
            receive_count: 1,
            visible_at_ms,
            first_receive_ms: 1,
            sent_ms: 0,
        };
        let entries = [
            received(10, 500),
            received(11, 50),
            received(12, 500),
            Entry::Deleted { position: 10 },
            Entry::Moved { position: 14 },
        ];
        let encoded: Vec<Vec<u8>> = entries.iter().map(Entry::encode).collect();
        let summary = replay_state(10, encoded.iter().map(Vec::as_slice), 100).unwrap();
        assert_eq!(summary.cursor, 13);
        assert_eq!((summary.received, summary.in_flight), (2, 1));
        assert_eq!(summary.removed, 2, "10 below the cursor, 14 ahead of it");
        assert!(replay_state(0, [&[9u8, 9][..]], 0).is_err());
    }
}
