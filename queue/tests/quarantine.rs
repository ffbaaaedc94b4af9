//! A queue whose logs cannot be read at open is quarantined: the other queues
//! open and work, the damaged one is listed and refuses every operation with the
//! cause, and deleting it leaves a clean data directory.

mod common;

use common::{bodies, text, Env};
use shardlog_queue::{AttributesUpdate, Error, ReceiveRequest, Result};
use shardlog_segment::io::{write_all_at, FileSystem, OpenOptions};
use shardlog_segment::{LogConfig, Record, Storage, StorageConfig};
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The directory of the queue named `name` (`<id>-<name>` under the root).
fn queue_dir(env: &Env, name: &str) -> PathBuf {
    let root = Path::new(common::ROOT);
    let entry = env
        .fs
        .list_dir(root)
        .unwrap()
        .into_iter()
        .find(|entry| entry.ends_with(&format!("-{name}")))
        .unwrap_or_else(|| panic!("queue {name} has no directory"));
    root.join(entry)
}

/// Overwrites the magic of every segment of `log` (`messages` or `state`) of
/// queue `name`: recovery will not cut a segment it cannot identify.
fn damage_segments(env: &Env, name: &str, log: &str) {
    let dir = queue_dir(env, name).join(log);
    let segments: Vec<String> = env.fs.list_dir(&dir).unwrap();
    let segments = segments.iter().filter(|entry| entry.ends_with(".log"));
    let mut damaged = 0;
    for segment in segments {
        let file = env.fs.open(&dir.join(segment), OpenOptions::WRITE).unwrap();
        write_all_at(file.as_ref(), b"XXXX", 0).unwrap();
        file.sync_data().unwrap();
        damaged += 1;
    }
    assert!(damaged > 0, "{log} of {name} has no segment");
}

/// Appends a record to the state log of queue `name` that is no state entry:
/// the log reads back, its replay fails.
fn append_bad_state_entry(env: &Env, name: &str) {
    let fs = env.fs.session() as Arc<dyn FileSystem>;
    let storage = Storage::open(fs, StorageConfig::default()).unwrap();
    let config = LogConfig {
        segment_bytes_max: common::SEGMENT_BYTES,
        record_bytes_max: 2 << 20,
        ..LogConfig::default()
    };
    let dir = queue_dir(env, name).join("state");
    let (log, _) = storage.open_log(dir, config).unwrap();
    let record = Record {
        partition_key: "s",
        explicit_hash_key: None,
        data: b"not a state entry",
    };
    log.append(&[record]).unwrap();
    log.close().unwrap();
    storage.shutdown().unwrap();
}

/// Asserts that `result` is the quarantine error of queue `name`, with a cause.
fn assert_quarantined<T: Debug>(result: Result<T>, name: &str) {
    assert!(
        matches!(&result, Err(Error::QueueQuarantined { queue, cause })
            if queue.as_str() == name && !cause.is_empty()),
        "{result:?}"
    );
}

fn receive_now() -> ReceiveRequest {
    ReceiveRequest {
        max_messages: 10,
        visibility_timeout_s: Some(30),
        wait_time_s: Some(0),
        receive_request_attempt_id: None,
    }
}

/// A damaged message log, a damaged state log and a state log holding a record
/// that is no state entry each quarantine their queue only: the healthy queue keeps its messages, sends and receives (its dead-letter
/// queue being quarantined, a message over the limit stays in it); the damaged
/// ones are listed and found but refuse send, receive, delete, attributes and
/// purge with the cause; deleting them works and the next open is clean.
#[test]
fn damaged_queues_are_quarantined_and_the_rest_work() {
    let env = Env::new();
    let healthy = env.create_with_dead_letter("healthy", "broken-messages", 1);
    env.create("broken-state", AttributesUpdate::default());
    env.create("bad-entries.fifo", AttributesUpdate::default());
    for name in ["healthy", "broken-messages", "broken-state"] {
        let queue = env.queues.queue(name).unwrap();
        queue.send(text(&format!("before {name}"))).unwrap();
    }
    healthy.send(text("second")).unwrap();
    let held = env.queues.receive("broken-state", &receive_now()).unwrap();
    assert_eq!(bodies(&held), ["before broken-state"]);
    drop(healthy);
    let env = env.restart();
    assert!(env.report.quarantined.is_empty(), "{:?}", env.report);
    env.queues.close().unwrap();
    env.storage.shutdown().unwrap();
    damage_segments(&env, "broken-messages", "messages");
    damage_segments(&env, "broken-state", "state");
    append_bad_state_entry(&env, "bad-entries.fifo");

    let env = Env::start(env.fs.clone(), env.clock.clone());
    let mut quarantined: Vec<&str> = env
        .report
        .quarantined
        .iter()
        .map(|(name, cause)| {
            assert!(!cause.is_empty(), "{name} quarantined without a cause");
            name.as_str()
        })
        .collect();
    quarantined.sort();
    assert_eq!(
        quarantined,
        ["bad-entries.fifo", "broken-messages", "broken-state"]
    );
    let (_, cause) = env
        .report
        .quarantined
        .iter()
        .find(|(name, _)| name.as_str() == "bad-entries.fifo")
        .unwrap();
    assert!(cause.contains("corrupt queue data"), "{cause}");
    assert_eq!(env.queues.list_queues("").len(), 4);

    // The healthy queue: its messages survived and it works; receiving one over
    // its receive limit keeps it here instead of failing on the dead-letter queue.
    assert_eq!(env.receive("healthy", 1).len(), 1);
    env.queues
        .queue("healthy")
        .unwrap()
        .send(text("after"))
        .unwrap();
    let mut rest = bodies(&env.receive("healthy", 10));
    rest.sort();
    assert_eq!(rest, ["after", "before healthy", "second"]);

    for name in ["bad-entries.fifo", "broken-messages", "broken-state"] {
        let queue = env.queues.queue(name).unwrap();
        assert_quarantined(queue.send(text("refused")), name);
        let submitted = queue.submit_sends(vec![text("refused")]).map(|_| ());
        assert_quarantined(submitted, name);
        assert_quarantined(env.queues.receive(name, &receive_now()), name);
        assert_quarantined(queue.delete(&held[0].receipt_handle), name);
        let visibility = queue.change_visibility(&held[0].receipt_handle, 0);
        assert_quarantined(visibility, name);
        assert_quarantined(queue.purge(), name);
        assert_quarantined(queue.reclaim(), name);
        let update = AttributesUpdate {
            visibility_timeout_s: Some(5),
            ..AttributesUpdate::default()
        };
        assert_quarantined(env.queues.set_attributes(name, &update), name);
    }
    let moved = env.queues.start_move_task("broken-messages", None, None);
    assert_quarantined(moved, "broken-messages");

    for name in ["bad-entries.fifo", "broken-messages", "broken-state"] {
        env.queues.delete_queue(name).unwrap();
    }
    assert_eq!(env.queues.list_queues("").len(), 1);
    let env = env.restart();
    assert!(env.report.quarantined.is_empty(), "{:?}", env.report);
    assert!(env.report.unknown_entries.is_empty(), "{:?}", env.report);
    assert_eq!(env.report.queues, 1);
    env.queues.close().unwrap();
    env.storage.shutdown().unwrap();
}
