//! FIFO topics' deduplication: a message whose deduplication id was published
//! in the last 5 minutes is acknowledged again without being appended. The
//! window is rebuilt from the log at open, so it survives restarts.

use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};

/// How long a deduplication id is remembered (ms): 5 minutes, as SNS.
pub const DEDUPLICATION_WINDOW_MS: u64 = 5 * 60 * 1000;

/// What the first publish of a deduplication id was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstPublish {
    /// Its message id.
    pub message_id: String,
    /// Its position (sequence number).
    pub position: u64,
}

/// The deduplication ids of the last 5 minutes.
#[derive(Debug, Default)]
pub(crate) struct Dedup {
    seen: HashMap<String, (FirstPublish, u64)>,
    /// (published ms, id) in publish order, for expiry.
    order: VecDeque<(u64, String)>,
}

impl Dedup {
    fn expire(&mut self, now_ms: u64) {
        while let Some((at_ms, _)) = self.order.front() {
            if at_ms.saturating_add(DEDUPLICATION_WINDOW_MS) > now_ms {
                break;
            }
            let (at_ms, id) = self.order.pop_front().expect("front exists");
            if self
                .seen
                .get(&id)
                .is_some_and(|(_, seen_ms)| *seen_ms == at_ms)
            {
                self.seen.remove(&id);
            }
        }
    }

    /// The first publish of `id` within the window, if any.
    pub(crate) fn lookup(&mut self, id: &str, now_ms: u64) -> Option<FirstPublish> {
        self.expire(now_ms);
        self.seen.get(id).map(|(first, _)| first.clone())
    }

    /// Remembers `id` as published at `at_ms`.
    pub(crate) fn insert(&mut self, id: String, first: FirstPublish, at_ms: u64) {
        self.seen.insert(id.clone(), (first, at_ms));
        self.order.push_back((at_ms, id));
    }
}

/// The content-based deduplication id: hex SHA-256 of the message.
pub fn content_deduplication_id(message: &str) -> String {
    Sha256::digest(message.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An id is found within 5 minutes and forgotten after.
    #[test]
    fn ids_expire_after_the_window() {
        let mut dedup = Dedup::default();
        let first = FirstPublish {
            message_id: "m".into(),
            position: 7,
        };
        dedup.insert("a".into(), first.clone(), 1_000);
        assert_eq!(
            dedup.lookup("a", 1_000 + DEDUPLICATION_WINDOW_MS - 1),
            Some(first)
        );
        assert_eq!(dedup.lookup("b", 2_000), None);
        assert_eq!(dedup.lookup("a", 1_000 + DEDUPLICATION_WINDOW_MS), None);
        assert_eq!(content_deduplication_id("").len(), 64);
    }
}
