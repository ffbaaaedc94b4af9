//! The queue-memory workload's phases on a small queue: the in-memory delivery
//! state holds no entry per message of depth after the fill, after a restart,
//! and after 10 % of the messages were received and deleted out of order and the
//! queue restarted (no removal set that grows with the deletes).

use shardlog_bench::workloads::queue_memory::{fill, reopen, QueueMemorySettings};
use shardlog_segment::Durability;

/// Entry counts stay at zero while the depth is thousands of messages, and the
/// restart after the deletes finds the cursor where the receives left it.
#[test]
fn delivery_state_does_not_grow_with_depth_or_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let settings = QueueMemorySettings {
        messages: 5_000,
        body_bytes: 16,
        threads: 2,
        durability: Durability::None,
    };
    let (sent, _, disk_bytes) = fill(dir.path(), &settings).unwrap();
    assert!(disk_bytes > 5_000 * 16, "{disk_bytes} bytes on disk");
    assert_eq!(sent.end_position, 5_000);
    assert_eq!((sent.tracked, sent.removed_ahead, sent.delayed), (0, 0, 0));

    let phases = reopen(dir.path(), &settings, true).unwrap();
    let [restarted, deleted] = phases.as_slice() else {
        panic!("{phases:?}")
    };
    assert_eq!((restarted.tracked, restarted.removed_ahead), (0, 0));
    assert_eq!((deleted.tracked, deleted.removed_ahead), (0, 0));
    assert!(
        (500..2_500).contains(&deleted.cursor),
        "deleted about 10 %, not the queue: cursor {}",
        deleted.cursor
    );

    let phases = reopen(dir.path(), &settings, false).unwrap();
    let [after] = phases.as_slice() else {
        panic!("{phases:?}")
    };
    assert_eq!(after.removed_ahead, 0, "the deletes came back as a set");
    assert_eq!(after.tracked, 0);
    assert_eq!(after.cursor, deleted.cursor);
    assert_eq!(after.end_position, 5_000);
}
