//! Segments of the message log are reclaimed once every message in them is deleted
//! or past retention, and what is reclaimed never comes back after a restart.

mod common;

use common::{text, Env};
use shardlog_queue::{AttributesUpdate, ReceiveRequest};
use shardlog_segment::io::CrashMode;
use std::collections::HashMap;

fn segment_count(env: &Env, name: &str) -> usize {
    let queue = env.queues.queue(name).unwrap();
    let dir = format!("{}/{}-{}/messages", common::ROOT, queue.id(), name);
    let files =
        shardlog_segment::io::FileSystem::list_dir(env.fs.as_ref(), std::path::Path::new(&dir))
            .unwrap();
    files.iter().filter(|f| f.ends_with(".log")).count()
}

/// Deleting every message of full segments lets reclaim remove them; a restart
/// delivers only the messages that were not deleted.
#[test]
fn deleted_messages_free_their_segments() {
    let env = Env::new();
    let queue = env.create("work", Default::default());
    for i in 0..300 {
        queue
            .send(text(&format!("{i:04} {}", "y".repeat(1000))))
            .unwrap();
    }
    let before = segment_count(&env, "work");
    assert!(
        before >= 4,
        "300 KiB fill several 64 KiB segments: {before}"
    );
    let request = ReceiveRequest {
        max_messages: 10,
        visibility_timeout_s: Some(600),
        wait_time_s: Some(0),
        receive_request_attempt_id: None,
    };
    for _ in 0..25 {
        for message in env.queues.receive("work", &request).unwrap() {
            queue.delete(&message.receipt_handle).unwrap();
        }
    }
    let removed = queue.reclaim().unwrap().message_segments;
    assert!(
        removed >= 2,
        "the first 250 messages' segments go: {removed}"
    );
    assert_eq!(segment_count(&env, "work"), before - removed);
    let env = env.restart();
    let left: Vec<String> = (0..10)
        .flat_map(|_| env.receive("work", 10))
        .map(|m| String::from_utf8(m.body[..4].to_vec()).unwrap())
        .collect();
    let expected: Vec<String> = (250..300).map(|i| format!("{i:04}")).collect();
    let mut left_sorted = left.clone();
    left_sorted.sort();
    assert_eq!(left_sorted, expected);
}

/// Messages past the retention period are never delivered, and reclaim removes
/// their segments without any receive.
#[test]
fn expired_messages_are_dropped_and_reclaimed() {
    let env = Env::new();
    let update = AttributesUpdate {
        message_retention_s: Some(60),
        ..Default::default()
    };
    let queue = env.create("short", update);
    for i in 0..200 {
        queue
            .send(text(&format!("{i} {}", "z".repeat(1000))))
            .unwrap();
    }
    env.clock.advance_ms(60_000);
    assert!(queue.reclaim().unwrap().message_segments >= 2);
    assert!(env.receive("short", 10).is_empty());
    queue.send(text("fresh")).unwrap();
    let received = env.receive("short", 10);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, b"fresh");
}

/// Once state segments fill, reclaim checkpoints the delivery state and removes
/// them; after a power loss the checkpoint and the entries after it restore the
/// receive counts and deletions exactly.
#[test]
fn checkpoint_replaces_old_state_segments() {
    let env = Env::new();
    let queue = env.create("busy", Default::default());
    for i in 0..10 {
        queue.send(text(&format!("m{i}"))).unwrap();
    }
    let request = ReceiveRequest {
        max_messages: 10,
        visibility_timeout_s: Some(0),
        wait_time_s: Some(0),
        receive_request_attempt_id: None,
    };
    let mut latest = HashMap::new();
    for _ in 0..150 {
        for message in env.queues.receive("busy", &request).unwrap() {
            latest.insert(message.body.clone(), message);
        }
    }
    let report = queue.reclaim().unwrap();
    assert!(report.state_segments >= 1, "{report:?}");
    let mut doomed: Vec<_> = latest.values().take(5).cloned().collect();
    for message in &doomed {
        queue.delete(&message.receipt_handle).unwrap();
    }
    env.fs.crash(CrashMode::DropUnsynced);
    let _ = env.queues.close();
    let _ = env.storage.shutdown();
    let env = Env::start(env.fs.clone(), env.clock.clone());
    let again = env.queues.receive("busy", &request).unwrap();
    assert_eq!(again.len(), 5);
    doomed.sort_by(|a, b| a.body.cmp(&b.body));
    for message in again {
        assert!(
            doomed.iter().all(|d| d.body != message.body),
            "a deleted message came back"
        );
        assert_eq!(
            message.receive_count,
            latest[&message.body].receive_count + 1
        );
    }
}
