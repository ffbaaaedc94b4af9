//! Producers and consumers on one queue at once: every message sent is received
//! exactly once (the visibility timeout outlasts the test) and deleted, and the
//! queue ends empty, also after a restart.

mod common;

use common::{text, Env};
use shardlog_queue::{MessageId, ReceiveRequest};
use std::collections::HashSet;
use std::sync::Mutex;

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
const MESSAGES_PER_PRODUCER: usize = 300;

/// Four producers and four long-polling consumers: no message is lost or delivered twice.
#[test]
fn producers_and_consumers_agree() {
    let env = Env::new();
    let queue = env.create("shared", Default::default());
    let sent = Mutex::new(HashSet::new());
    let received: Mutex<Vec<MessageId>> = Mutex::new(Vec::new());
    let total = PRODUCERS * MESSAGES_PER_PRODUCER;
    std::thread::scope(|scope| {
        for producer in 0..PRODUCERS {
            let (queue, sent) = (&queue, &sent);
            scope.spawn(move || {
                for i in 0..MESSAGES_PER_PRODUCER {
                    let outcome = queue.send(text(&format!("{producer}-{i}"))).unwrap();
                    sent.lock().unwrap().insert(outcome.message_id);
                }
            });
        }
        for _ in 0..CONSUMERS {
            let (env, queue, received) = (&env, &queue, &received);
            scope.spawn(move || {
                let request = ReceiveRequest {
                    max_messages: 10,
                    wait_time_s: Some(1),
                    ..ReceiveRequest::default()
                };
                // Bounded: each round takes at least one message or waits at most 1 s.
                for _ in 0..total + 100 {
                    if received.lock().unwrap().len() >= total {
                        break;
                    }
                    for message in env.queues.receive("shared", &request).unwrap() {
                        queue.delete(&message.receipt_handle).unwrap();
                        received.lock().unwrap().push(message.message_id);
                    }
                }
            });
        }
    });
    let received = received.into_inner().unwrap();
    let unique: HashSet<MessageId> = received.iter().copied().collect();
    assert_eq!(
        unique.len(),
        received.len(),
        "a message was delivered twice"
    );
    assert_eq!(unique, sent.into_inner().unwrap());
    let env = env.restart();
    assert!(
        env.receive("shared", 10).is_empty(),
        "deleted messages stay deleted"
    );
    assert_eq!(
        env.queues.queue("shared").unwrap().counters(),
        Default::default()
    );
}
