//! Redeliveries do not starve new messages: a consumer that keeps failing a message
//! with a zero visibility timeout still gets the messages sent after it.

mod common;

use common::{bodies, text, Env};
use shardlog_queue::ReceiveRequest;

/// With one poison message redelivered on every receive, the other messages still
/// come through, one receive in two.
#[test]
fn new_messages_come_through_a_redelivery_loop() {
    let env = Env::new();
    let queue = env.create("fair", Default::default());
    queue.send(text("poison")).unwrap();
    let request = ReceiveRequest {
        max_messages: 1,
        visibility_timeout_s: Some(0),
        wait_time_s: Some(0),
        ..Default::default()
    };
    assert_eq!(
        bodies(&env.queues.receive("fair", &request).unwrap()),
        ["poison"]
    );
    for i in 0..5 {
        queue.send(text(&format!("new {i}"))).unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..10 {
        for message in env.queues.receive("fair", &request).unwrap() {
            if message.body != b"poison" {
                queue.delete(&message.receipt_handle).unwrap();
            }
            seen.extend(bodies(&[message]));
        }
    }
    let new: Vec<&String> = seen.iter().filter(|b| b.starts_with("new")).collect();
    assert_eq!(new.len(), 5, "every new message was delivered: {seen:?}");
}
