//! After maxReceiveCount receives, the next receive moves a message to the
//! dead-letter queue instead of delivering it; the move survives a restart and the
//! message keeps its id, body and receive count.

mod common;

use common::{text, Env};
use shardlog_queue::{
    AttributesUpdate, ManualClock, QueueName, Queues, ReceiveRequest, RedrivePolicy,
};
use shardlog_segment::io::{Fault, FaultAction, FaultyFs, FileSystem, IoOp, MemFs};
use shardlog_segment::{Storage, StorageConfig};
use std::sync::Arc;

/// A message received twice with maxReceiveCount 2 lands in the DLQ on the third receive.
#[test]
fn third_receive_moves_to_dead_letter_queue() {
    let env = Env::new();
    let source = env.create_with_dead_letter("source", "dlq", 2);
    let sent = source.send(text("poison")).unwrap();
    for count in 1..=2 {
        let received = env.receive("source", 10);
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].receive_count, count);
    }
    assert!(env.receive("source", 10).is_empty(), "moved, not delivered");
    let env = env.restart();
    assert!(
        env.receive("source", 10).is_empty(),
        "the move survived the restart"
    );
    let moved = env.receive("dlq", 10);
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].message_id, sent.message_id);
    assert_eq!(moved[0].body, b"poison");
    assert_eq!(moved[0].receive_count, 3);
    let sources = env.queues.dead_letter_sources("dlq").unwrap();
    assert_eq!(sources, vec![QueueName::new("source").unwrap()]);
}

/// If marking the move fails after the message was appended to the dead-letter
/// queue, the message is in both queues after a restart, never in neither.
#[test]
fn failed_move_leaves_a_copy_not_a_hole() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.clone() as Arc<dyn FileSystem>);
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let storage = Storage::open(faulty.clone(), StorageConfig::default()).unwrap();
    let (queues, _) = Queues::open(storage.clone(), common::ROOT, common::config(&clock)).unwrap();
    let dlq = QueueName::new("dlq").unwrap();
    queues
        .create_queue(&dlq, &Default::default(), Default::default())
        .unwrap();
    let redrive = RedrivePolicy {
        dead_letter_queue: dlq,
        max_receive_count: 1,
    };
    let update = AttributesUpdate {
        redrive: Some(Some(redrive)),
        visibility_timeout_s: Some(0),
        ..Default::default()
    };
    let source = queues
        .create_queue(
            &QueueName::new("source").unwrap(),
            &update,
            Default::default(),
        )
        .unwrap();
    let sent = source.send(text("poison")).unwrap();
    let request = ReceiveRequest {
        max_messages: 1,
        wait_time_s: Some(0),
        ..ReceiveRequest::default()
    };
    assert_eq!(queues.receive("source", &request).unwrap().len(), 1);
    faulty.inject(Fault {
        op: IoOp::Sync,
        path_contains: Some("source/state".into()),
        skip: 0,
        times: u64::MAX,
        action: FaultAction::Error(5),
    });
    assert!(
        queues.receive("source", &request).is_err(),
        "the move could not be recorded"
    );
    faulty.clear();
    let _ = queues.close();
    let _ = storage.shutdown();
    let env = Env::start(mem, clock);
    let in_dlq = env.receive("dlq", 10);
    assert_eq!(in_dlq.len(), 1, "appended to the dead-letter queue first");
    assert_eq!(in_dlq[0].message_id, sent.message_id);
    assert!(
        env.receive("source", 10).is_empty(),
        "over its limit: moved again, not delivered"
    );
    assert_eq!(
        env.receive("dlq", 10).len(),
        1,
        "the second move left a second copy"
    );
}
