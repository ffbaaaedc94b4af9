//! Under a durability policy that acknowledges before syncing (`none`), a power
//! loss may cut the message log below positions the state log already mentions.
//! The queue must reopen and treat messages sent afterwards at those positions as
//! new: received once, with a receive count of 1, never taken for deleted.

mod common;

use common::{text, ROOT};
use shardlog_queue::{Clock, ManualClock, Queues, ReceiveRequest};
use shardlog_segment::io::{CrashMode, FileSystem, MemFs};
use shardlog_segment::{BackendKind, Durability, Storage, StorageConfig};
use std::collections::HashSet;
use std::sync::Arc;

const RELAXED: StorageConfig = StorageConfig {
    backend: BackendKind::Buffered,
    durability: Durability::None,
};

/// Thirty power losses with random survival of unsynced writes; after each, a new
/// message is delivered exactly once, as a first receive.
#[test]
fn messages_after_a_power_loss_start_clean() {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let request = ReceiveRequest {
        max_messages: 10,
        visibility_timeout_s: Some(600),
        ..ReceiveRequest::default()
    };
    for round in 0..30u64 {
        let storage = Storage::open(fs.session() as Arc<dyn FileSystem>, RELAXED).unwrap();
        let (queues, _) = Queues::open(storage.clone(), ROOT, common::config(&clock)).unwrap();
        let name = shardlog_queue::QueueName::new("relaxed").unwrap();
        let queue = queues
            .create_queue(&name, &Default::default(), Default::default())
            .unwrap();
        let marker = queue.send(text(&format!("marker {round}"))).unwrap();
        let mut seen = HashSet::new();
        let mut marker_count = None;
        loop {
            let received = queues.receive("relaxed", &request).unwrap();
            if received.is_empty() {
                break;
            }
            for message in received {
                assert!(
                    seen.insert(message.message_id),
                    "received twice in one round"
                );
                if message.message_id == marker.message_id {
                    marker_count = Some(message.receive_count);
                }
                if message.receive_count % 2 == 0 {
                    queue.delete(&message.receipt_handle).unwrap();
                }
            }
        }
        assert_eq!(
            marker_count,
            Some(1),
            "round {round}: the new message is a first receive"
        );
        for i in 0..5 {
            queue.send(text(&format!("filler {round} {i}"))).unwrap();
        }
        queues.receive("relaxed", &request).unwrap();
        clock.advance_ms(601_000);
        fs.crash(CrashMode::Random {
            seed: 0xc0ffee + round,
        });
        let _ = queues.close();
        let _ = storage.shutdown();
    }
    assert!(clock.now_ms() > 1_700_000_000_000);
}
