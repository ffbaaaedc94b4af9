//! After maxReceiveCount receives, the next receive moves a message to the
//! dead-letter queue instead of delivering it; the move survives a restart and the
//! message keeps its id, body and receive count.

mod common;

use common::{text, Env};
use shardlog_queue::{AttributesUpdate, QueueName, RedrivePolicy};

/// A message received twice with maxReceiveCount 2 lands in the DLQ on the third receive.
#[test]
fn third_receive_moves_to_dead_letter_queue() {
    let env = Env::new();
    env.create("dlq", Default::default());
    let redrive = RedrivePolicy {
        dead_letter_queue: QueueName::new("dlq").unwrap(),
        max_receive_count: 2,
    };
    let source = env.create(
        "source",
        AttributesUpdate {
            redrive: Some(Some(redrive)),
            visibility_timeout_s: Some(0),
            ..Default::default()
        },
    );
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
