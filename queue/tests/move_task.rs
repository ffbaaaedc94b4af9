//! Message move tasks: a dead-letter queue's messages go back to the queues they
//! came from (or to one destination) with their ids, bodies and attributes and a
//! fresh receive count; a task is refused for a queue that is no dead-letter
//! queue and while another runs; a cancelled task stops; a task interrupted by a
//! restart is failed.

mod common;

use common::{text, Env};
use shardlog_queue::{
    AttributeValue, Error, MessageAttribute, MoveTaskStatus, QUEUE_NAME_REUSE_MS,
};

/// Sets up `source` (redrive to `dlq` after one receive) and moves `count`
/// messages into `dlq`; returns their ids.
fn fill_dead_letter_queue(env: &Env, count: usize) -> Vec<shardlog_queue::MessageId> {
    let source = env.create_with_dead_letter("source", "dlq", 1);
    let mut ids = Vec::new();
    for k in 0..count {
        let mut message = text(&format!("m{k}"));
        message.attributes.insert(
            "k".into(),
            MessageAttribute {
                data_type: "Number".into(),
                value: AttributeValue::String(k.to_string()),
            },
        );
        message.trace_header = Some(format!("Root=1-{k}"));
        ids.push(source.send(message).unwrap().message_id);
    }
    assert_eq!(env.receive("source", 10).len(), count);
    assert!(env.receive("source", 10).is_empty(), "all moved to the DLQ");
    assert_eq!(
        env.queues.queue("dlq").unwrap().counters().visible,
        count as u64
    );
    ids
}

/// A task without a destination moves every message back to its source queue,
/// keeping id, body, attributes and trace header, with its receive count reset.
#[test]
fn moves_messages_back_to_their_source() {
    let env = Env::new();
    let ids = fill_dead_letter_queue(&env, 3);
    let task = env.queues.start_move_task("dlq", None, None).unwrap();
    assert_eq!((task.status, task.to_move), (MoveTaskStatus::Running, 3));
    let done = env.queues.run_move_task(task.id).unwrap();
    assert_eq!((done.status, done.moved), (MoveTaskStatus::Completed, 3));
    assert!(env.receive("dlq", 10).is_empty());
    let mut back = env.receive("source", 10);
    back.sort_by_key(|m| m.body.clone());
    let got: Vec<_> = back.iter().map(|m| m.message_id).collect();
    assert_eq!(got, ids);
    for (k, message) in back.iter().enumerate() {
        assert_eq!(message.body, format!("m{k}").into_bytes());
        assert_eq!(message.receive_count, 1, "counted afresh");
        assert_eq!(message.trace_header, Some(format!("Root=1-{k}")));
        assert_eq!(
            message.attributes["k"].value,
            AttributeValue::String(k.to_string())
        );
        assert_eq!(message.source_queue, None);
    }
    let listed = env.queues.move_tasks("dlq").unwrap();
    assert_eq!(listed, vec![done]);
}

/// A task with a destination moves there; only a dead-letter queue can be a
/// source, and one task per source runs at a time.
#[test]
fn destination_and_refusals() {
    let env = Env::new();
    fill_dead_letter_queue(&env, 2);
    env.create("elsewhere", Default::default());
    let refused = env.queues.start_move_task("source", None, None);
    assert!(
        matches!(refused, Err(Error::NotDeadLetterQueue { .. })),
        "{refused:?}"
    );
    let rate = env.queues.start_move_task("dlq", None, Some(0));
    assert!(
        matches!(rate, Err(Error::InvalidParameter { .. })),
        "{rate:?}"
    );
    let task = env
        .queues
        .start_move_task("dlq", Some("elsewhere"), Some(100))
        .unwrap();
    let second = env.queues.start_move_task("dlq", None, None);
    assert!(
        matches!(second, Err(Error::MoveTaskRunning { .. })),
        "{second:?}"
    );
    let done = env.queues.run_move_task(task.id).unwrap();
    assert_eq!((done.status, done.moved), (MoveTaskStatus::Completed, 2));
    assert_eq!(env.receive("elsewhere", 10).len(), 2);
    assert!(env.receive("source", 10).is_empty());
}

/// A cancelled task stops without moving; a task running when the process
/// stopped is failed at the next open, and the messages stay in the DLQ; a
/// deleted queue's tasks go with it.
#[test]
fn cancel_and_restart() {
    let env = Env::new();
    fill_dead_letter_queue(&env, 2);
    let task = env.queues.start_move_task("dlq", None, Some(1)).unwrap();
    let cancelling = env.queues.cancel_move_task(task.id).unwrap();
    assert_eq!(cancelling.status, MoveTaskStatus::Cancelling);
    let stopped = env.queues.run_move_task(task.id).unwrap();
    assert_eq!(
        (stopped.status, stopped.moved),
        (MoveTaskStatus::Cancelled, 0)
    );
    let again = env.queues.cancel_move_task(task.id);
    assert!(
        matches!(again, Err(Error::MoveTaskNotRunning { .. })),
        "{again:?}"
    );
    let interrupted = env.queues.start_move_task("dlq", None, None).unwrap();
    let env = env.restart();
    let listed = env.queues.move_tasks("dlq").unwrap();
    assert_eq!(listed[0].id, interrupted.id);
    assert_eq!(listed[0].status, MoveTaskStatus::Failed);
    assert!(listed[0].failure.is_some());
    assert_eq!(listed[1].status, MoveTaskStatus::Cancelled);
    assert_eq!(env.receive("dlq", 10).len(), 2, "nothing moved");
    env.queues.delete_queue("dlq").unwrap();
    env.clock.advance_ms(QUEUE_NAME_REUSE_MS);
    env.create("dlq", Default::default());
    assert!(
        env.queues.move_tasks("dlq").unwrap().is_empty(),
        "a new queue of the same name has none of the old one's tasks"
    );
}
