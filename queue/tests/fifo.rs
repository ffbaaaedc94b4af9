//! FIFO queues: order per message group, a group held while one of its messages is
//! in flight, sequence numbers, and deduplication within 5 minutes that survives a
//! restart.

mod common;

use common::{bodies, fifo, Env};
use shardlog_queue::{AttributesUpdate, Error, ReceiveRequest, SendRequest, INFLIGHT_MAX_FIFO};

/// Messages of a group come in send order, several in one receive; a group is
/// held while any of its messages is in flight; other groups are not held up.
#[test]
fn groups_keep_order_and_are_held_while_in_flight() {
    let env = Env::new();
    let queue = env.create("orders.fifo", Default::default());
    for (body, group) in [
        ("a1", "a"),
        ("b1", "b"),
        ("a2", "a"),
        ("a3", "a"),
        ("b2", "b"),
    ] {
        queue.send(fifo(body, group)).unwrap();
    }
    let first = env.receive("orders.fifo", 2);
    assert_eq!(bodies(&first), ["a1", "b1"]);
    assert!(
        env.receive("orders.fifo", 10).is_empty(),
        "both groups are held"
    );
    queue.delete(&first[0].receipt_handle).unwrap();
    assert_eq!(
        bodies(&env.receive("orders.fifo", 10)),
        ["a2", "a3"],
        "the rest of group a at once; b still held by b1"
    );
    let env = env.restart();
    assert!(
        env.receive("orders.fifo", 10).is_empty(),
        "still held after a restart"
    );
    env.clock.advance_ms(31_000);
    let again = env.receive("orders.fifo", 10);
    assert_eq!(
        bodies(&again),
        ["b1", "b2", "a2", "a3"],
        "whole groups, each in send order"
    );
    let counts: Vec<u32> = again.iter().map(|m| m.receive_count).collect();
    assert_eq!(counts, [2, 1, 2, 2]);
    assert!(again[0].sequence_number < again[1].sequence_number);
    assert!(again[2].sequence_number < again[3].sequence_number);
}

/// A group with one message in flight is held even when an earlier one of the
/// same receive became visible again; once none is in flight, the group comes
/// back from its oldest message on, in order.
#[test]
fn group_is_held_while_any_message_is_in_flight() {
    let env = Env::new();
    let queue = env.create("held.fifo", Default::default());
    for body in ["g1", "g2", "g3"] {
        queue.send(fifo(body, "g")).unwrap();
    }
    let all = env.receive("held.fifo", 10);
    assert_eq!(bodies(&all), ["g1", "g2", "g3"]);
    queue.change_visibility(&all[0].receipt_handle, 0).unwrap();
    assert!(
        env.receive("held.fifo", 10).is_empty(),
        "g2 and g3 are in flight"
    );
    queue.delete(&all[1].receipt_handle).unwrap();
    queue.change_visibility(&all[2].receipt_handle, 0).unwrap();
    let again = env.receive("held.fifo", 10);
    assert_eq!(bodies(&again), ["g1", "g3"]);
    assert!(again.iter().all(|m| m.receive_count == 2));
}

/// A second send with the same deduplication id within 5 minutes is accepted but
/// not stored, also after a restart; after the window it is a new message.
#[test]
fn deduplication_window_survives_restart() {
    let env = Env::new();
    let queue = env.create("dedup.fifo", Default::default());
    let first = queue.send(fifo("once", "g")).unwrap();
    let env = env.restart();
    let queue = env.queues.queue("dedup.fifo").unwrap();
    env.clock.advance_ms(60_000);
    let again = queue.send(fifo("once", "g")).unwrap();
    assert_eq!(again.message_id, first.message_id);
    assert_eq!(again.sequence_number, first.sequence_number);
    assert_eq!(queue.counters().visible, 1);
    env.clock.advance_ms(5 * 60_000);
    let later = queue.send(fifo("once", "g")).unwrap();
    assert_ne!(later.message_id, first.message_id);
    assert_eq!(queue.counters().visible, 2);
}

/// Content-based deduplication uses the body's SHA-256; without it (and without an
/// id) a send is refused, as is a send without a group.
#[test]
fn content_based_deduplication_and_required_ids() {
    let env = Env::new();
    let plain = env.create("plain.fifo", Default::default());
    let no_id = SendRequest {
        deduplication_id: None,
        ..fifo("x", "g")
    };
    assert!(matches!(
        plain.send(no_id.clone()),
        Err(Error::InvalidParameter {
            parameter: "MessageDeduplicationId",
            ..
        })
    ));
    let no_group = SendRequest {
        group_id: None,
        ..fifo("x", "g")
    };
    assert!(matches!(
        plain.send(no_group),
        Err(Error::InvalidParameter {
            parameter: "MessageGroupId",
            ..
        })
    ));
    let update = AttributesUpdate {
        content_based_deduplication: Some(true),
        ..Default::default()
    };
    let content = env.create("content.fifo", update);
    let first = content.send(no_id.clone()).unwrap();
    let second = content.send(no_id).unwrap();
    assert_eq!(first.message_id, second.message_id);
    let received = env.receive("content.fifo", 10);
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].deduplication_id.as_deref().map(str::len),
        Some(64)
    );
}

/// A receive retried with the same ReceiveRequestAttemptId returns the same
/// messages and handles while they are in flight; once one is deleted, the retry
/// is a new receive.
#[test]
fn receive_attempt_id_repeats_the_same_messages() {
    let env = Env::new();
    let queue = env.create("retry.fifo", Default::default());
    for (body, group) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
        queue.send(fifo(body, group)).unwrap();
    }
    let request = ReceiveRequest {
        max_messages: 10,
        visibility_timeout_s: None,
        wait_time_s: Some(0),
        receive_request_attempt_id: Some("attempt-1".into()),
    };
    let first = env.queues.receive("retry.fifo", &request).unwrap();
    assert_eq!(bodies(&first), ["a1", "a2", "b1"]);
    env.clock.advance_ms(10_000);
    let retry = env.queues.receive("retry.fifo", &request).unwrap();
    assert_eq!(retry, first, "same messages, same receipt handles");
    queue.delete(&first[0].receipt_handle).unwrap();
    queue.send(fifo("c1", "c")).unwrap();
    let after_delete = env.queues.receive("retry.fifo", &request).unwrap();
    assert_eq!(bodies(&after_delete), ["c1"], "a new receive");
}

/// A FIFO queue refuses a receive once 20,000 messages are in flight.
#[test]
fn in_flight_limit_is_enforced() {
    let env = Env::new();
    let queue = env.create("limit.fifo", Default::default());
    for batch in 0..(INFLIGHT_MAX_FIFO / 10 + 1) {
        let requests: Vec<SendRequest> = (0..10)
            .map(|k| {
                let id = format!("{}", batch * 10 + k);
                fifo(&id, &id)
            })
            .collect();
        let outcomes = queue.send_batch(requests).unwrap();
        assert!(outcomes.iter().all(Result::is_ok));
    }
    for _ in 0..INFLIGHT_MAX_FIFO / 10 {
        assert_eq!(env.receive("limit.fifo", 10).len(), 10);
    }
    let request = ReceiveRequest {
        max_messages: 10,
        wait_time_s: Some(0),
        ..ReceiveRequest::default()
    };
    let refused = env.queues.receive("limit.fifo", &request);
    assert!(
        matches!(
            refused,
            Err(Error::OverLimit {
                inflight: INFLIGHT_MAX_FIFO,
                limit: INFLIGHT_MAX_FIFO
            })
        ),
        "{refused:?}"
    );
}

/// A checkpoint keeps the messages the cursor passed while their group was held:
/// after the old state segments are gone and the power is lost, the group goes on
/// in order.
#[test]
fn checkpoint_keeps_messages_waiting_behind_their_group() {
    let env = Env::new();
    let queue = env.create("long.fifo", Default::default());
    queue.send(fifo("a1", "a")).unwrap();
    let held = env.receive("long.fifo", 1);
    assert_eq!(bodies(&held), ["a1"]);
    for (body, group) in [("a2", "a"), ("a3", "a"), ("b1", "b")] {
        queue.send(fifo(body, group)).unwrap();
    }
    let request = ReceiveRequest {
        max_messages: 10,
        visibility_timeout_s: Some(0),
        wait_time_s: Some(0),
        ..Default::default()
    };
    for _ in 0..600 {
        let only_b = env.queues.receive("long.fifo", &request).unwrap();
        assert_eq!(bodies(&only_b), ["b1"], "a2 and a3 wait behind a1");
    }
    let report = queue.reclaim().unwrap();
    assert!(report.state_segments >= 1, "{report:?}");
    env.fs.crash(shardlog_segment::io::CrashMode::DropUnsynced);
    let _ = env.queues.close();
    let _ = env.storage.shutdown();
    let env = Env::start(env.fs.clone(), env.clock.clone());
    let queue = env.queues.queue("long.fifo").unwrap();
    queue.delete(&held[0].receipt_handle).unwrap();
    let mut next = env.queues.receive("long.fifo", &request).unwrap();
    // Across groups the order is free; within a group it is the send order.
    next.sort_by(|x, y| x.body.cmp(&y.body));
    assert_eq!(bodies(&next), ["a2", "a3", "b1"]);
    assert_eq!(next[2].receive_count, 601);
    queue.delete(&next[0].receipt_handle).unwrap();
    let mut after = env.queues.receive("long.fifo", &request).unwrap();
    after.sort_by(|x, y| x.body.cmp(&y.body));
    assert_eq!(bodies(&after), ["a3", "b1"]);
}
