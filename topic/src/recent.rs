//! The newest read of a topic's log, decoded once and shared by the topic's
//! delivery workers. A publish wakes every subscription's worker at the same
//! position; without this each of them read the same records from the log (a
//! `pread` of the active segment each) and decoded the same JSON, ten times over
//! with ten subscriptions. Log records never change once written, so a read
//! taken by one worker is what any other worker's read from the same position
//! would have returned then; a worker that finds it gets every record that was
//! durable when it was taken, and reads the log itself for anything newer.

use crate::error::Result;
use crate::record::Published;
use crate::types::TopicName;
use shardlog_segment::{Log, ReadLimits};
use std::sync::{Arc, Mutex};

/// Largest read kept for the other workers, in message bytes: a worker's usual
/// read is the few records of the last commit round; a large catch-up read is
/// not kept, so that an idle topic does not hold megabytes.
const SHARED_BYTES_MAX: usize = 1 << 20;

/// The decoded records of one read of a topic's log.
#[derive(Debug)]
pub(crate) struct DecodedRead {
    /// Where the read started.
    from: u64,
    /// The records it was limited to.
    records_max: usize,
    /// The position after the last record read.
    pub(crate) next_position: u64,
    /// Each readable record's position and message, in log order (an
    /// unreadable record is logged and skipped).
    pub(crate) messages: Vec<(u64, Published)>,
}

/// The newest non-empty read of one topic's log.
#[derive(Debug, Default)]
pub(crate) struct RecentRead {
    newest: Mutex<Option<Arc<DecodedRead>>>,
}

impl RecentRead {
    /// The records of `log` from `from` within `limits`: the kept read if one
    /// started at `from` with the same record limit, else a read of the log
    /// (kept for the others if it found records and is small).
    pub(crate) fn read(
        &self,
        topic: &TopicName,
        log: &Log,
        from: u64,
        limits: ReadLimits,
    ) -> Result<Arc<DecodedRead>> {
        if let Some(kept) = self.kept(from, limits.records_max) {
            return Ok(kept);
        }
        let read = log.read(from, limits)?;
        let mut messages = Vec::new();
        for record in read.records() {
            match Published::decode(record.data) {
                Ok(message) => messages.push((record.position, message)),
                Err(reason) => {
                    tracing::error!(topic = %topic, position = record.position, %reason, "unreadable message skipped");
                }
            }
        }
        let decoded = Arc::new(DecodedRead {
            from,
            records_max: limits.records_max,
            next_position: read.next_position,
            messages,
        });
        // An empty read is never kept: a worker that found it would wait for
        // records that it then never reads.
        if decoded.next_position > from && read.data_bytes <= SHARED_BYTES_MAX {
            let mut newest = self.newest.lock().unwrap_or_else(|p| p.into_inner());
            // A worker catching up does not displace the read the others are at.
            if newest.as_ref().is_none_or(|kept| kept.from <= from) {
                *newest = Some(Arc::clone(&decoded));
            }
        }
        Ok(decoded)
    }

    fn kept(&self, from: u64, records_max: usize) -> Option<Arc<DecodedRead>> {
        let newest = self.newest.lock().unwrap_or_else(|p| p.into_inner());
        newest
            .as_ref()
            .filter(|kept| kept.from == from && kept.records_max == records_max)
            .map(Arc::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardlog_segment::io::RealFs;
    use shardlog_segment::{LogConfig, Storage, StorageConfig};

    fn publish(log: &Log, bodies: &[&str]) {
        let messages: Vec<Published> = bodies
            .iter()
            .map(|body| Published {
                message_id: format!("id-{body}"),
                published_ms: 1,
                subject: None,
                message: body.to_string(),
                attributes: Default::default(),
                group_id: None,
                deduplication_id: None,
                structure_json: false,
            })
            .collect();
        crate::topic::append_published(log, &messages).unwrap();
    }

    fn bodies(read: &DecodedRead) -> Vec<&str> {
        read.messages
            .iter()
            .map(|(_, message)| message.message.as_str())
            .collect()
    }

    /// Workers at the same position share one read; an empty read (a worker
    /// caught up) is not kept, so records published after it are read; a
    /// catch-up read from behind does not displace the newest read.
    #[test]
    fn workers_at_one_position_share_a_read_and_see_later_records() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(RealFs::shared(), StorageConfig::default()).unwrap();
        let (log, _) = storage
            .open_log(dir.path().join("log"), LogConfig::default())
            .unwrap();
        let topic = TopicName::new("t").unwrap();
        let limits = ReadLimits {
            records_max: 100,
            bytes_max: 4 << 20,
        };
        let recent = RecentRead::default();
        let empty = recent.read(&topic, &log, 0, limits).unwrap();
        assert_eq!(empty.next_position, 0);
        publish(&log, &["a", "b"]);
        let first = recent.read(&topic, &log, 0, limits).unwrap();
        assert_eq!(bodies(&first), ["a", "b"]);
        publish(&log, &["c"]);
        let second = recent.read(&topic, &log, 0, limits).unwrap();
        assert!(
            Arc::ptr_eq(&first, &second),
            "the second worker re-read the log"
        );
        let newer = recent
            .read(&topic, &log, first.next_position, limits)
            .unwrap();
        assert_eq!(bodies(&newer), ["c"]);
        let behind = recent.read(&topic, &log, 1, limits).unwrap();
        assert_eq!(bodies(&behind), ["b", "c"]);
        let again = recent.read(&topic, &log, newer.from, limits).unwrap();
        assert!(
            Arc::ptr_eq(&newer, &again),
            "a read from behind displaced the newest"
        );
        drop(log);
        storage.shutdown().unwrap();
    }
}
