//! A receive with a wait time blocks until a send makes a message receivable and
//! returns it; without a send it returns empty once the wait ends.

mod common;

use common::{text, wait_until_polling, Env};
use shardlog_queue::ReceiveRequest;
use std::time::{Duration, Instant};

/// A receive of one message that waits up to 20 s.
fn poll_20_s() -> ReceiveRequest {
    ReceiveRequest {
        max_messages: 1,
        visibility_timeout_s: None,
        wait_time_s: Some(20),
        receive_request_attempt_id: None,
    }
}

/// A long poll wakes on a send (within its 20 s bound) and returns the message.
#[test]
fn long_poll_wakes_on_send() {
    let env = Env::new();
    let queue = env.create("poll", Default::default());
    let request = poll_20_s();
    let received = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| env.queues.receive("poll", &request).unwrap());
        // Send only once the receiver is blocked, so that the send is what wakes it.
        wait_until_polling(&queue, 1);
        queue.send(text("wake up")).unwrap();
        waiter.join().unwrap()
    });
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, b"wake up");
}

/// A long poll with nothing to receive returns empty once its (1 s) wait is over.
#[test]
fn long_poll_without_send_returns_empty() {
    let env = Env::new();
    env.create("idle", Default::default());
    let request = ReceiveRequest {
        max_messages: 10,
        visibility_timeout_s: None,
        wait_time_s: Some(1),
        receive_request_attempt_id: None,
    };
    assert!(env.queues.receive("idle", &request).unwrap().is_empty());
}

/// Ending waits (a stopping server) makes a blocked 20 s long poll return empty
/// at once.
#[test]
fn end_waits_releases_long_polls() {
    let env = Env::new();
    let queue = env.create("stopping", Default::default());
    let request = poll_20_s();
    let received = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| env.queues.receive("stopping", &request).unwrap());
        wait_until_polling(&queue, 1);
        env.queues.end_waits();
        // Well before the poll's own 20 s: it returned because the waits ended.
        let ended = Instant::now();
        while !waiter.is_finished() {
            assert!(
                ended.elapsed() < Duration::from_secs(10),
                "the long poll kept waiting after end_waits"
            );
            std::thread::yield_now();
        }
        waiter.join().unwrap()
    });
    assert!(received.is_empty());
    assert_eq!(queue.waiting_receivers(), 0);
}
