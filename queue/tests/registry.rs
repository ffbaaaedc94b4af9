//! The registry of queues: names, attributes and their ranges, tags, create and
//! delete, purge, and that all of it is durable through a power loss.

mod common;

use common::{text, Env};
use shardlog_queue::{
    AttributesUpdate, Error, QueueName, Queues, RedriveAllowPolicy, RedrivePolicy,
    QUEUE_NAME_REUSE_MS,
};
use shardlog_segment::io::{CrashMode, FileSystem};
use shardlog_segment::{Storage, StorageConfig};
use std::collections::BTreeMap;
use std::sync::Arc;

fn name(text: &str) -> QueueName {
    QueueName::new(text).unwrap()
}

fn crash_and_restart(env: Env) -> Env {
    env.fs.crash(CrashMode::DropUnsynced);
    let _ = env.queues.close();
    let _ = env.storage.shutdown();
    Env::start(env.fs.clone(), env.clock.clone())
}

/// Names are checked, listing filters by prefix, and creating an existing queue
/// returns it with the same attributes and fails with others.
#[test]
fn names_listing_and_idempotent_create() {
    let env = Env::new();
    for bad in ["", "has space", "dot.name", ".fifo", &"x".repeat(81)] {
        assert!(
            matches!(QueueName::new(bad), Err(Error::InvalidQueueName { .. })),
            "{bad:?}"
        );
    }
    let a = env.create("alpha", Default::default());
    env.create("beta", Default::default());
    env.create("alpha-2.fifo", Default::default());
    assert_eq!(
        env.queues.list_queues(""),
        [name("alpha"), name("alpha-2.fifo"), name("beta")]
    );
    assert_eq!(
        env.queues.list_queues("al"),
        [name("alpha"), name("alpha-2.fifo")]
    );
    let again = env
        .queues
        .create_queue(&name("alpha"), &Default::default(), BTreeMap::new())
        .unwrap();
    assert_eq!(again.id(), a.id());
    let other = AttributesUpdate {
        delay_s: Some(5),
        ..Default::default()
    };
    let clash = env
        .queues
        .create_queue(&name("alpha"), &other, BTreeMap::new());
    assert!(matches!(clash, Err(Error::QueueExists { .. })), "{clash:?}");
    assert!(matches!(
        env.queues.queue("gamma"),
        Err(Error::QueueNotFound { .. })
    ));
}

/// Attributes out of range, FIFO-only attributes on a standard queue and bad
/// dead-letter queues are refused with the attribute named.
#[test]
fn attribute_ranges_and_dead_letter_rules() {
    let env = Env::new();
    let refused = |update: AttributesUpdate, queue: &str| {
        env.queues
            .create_queue(&name(queue), &update, BTreeMap::new())
            .unwrap_err()
    };
    let cases = [
        (
            AttributesUpdate {
                visibility_timeout_s: Some(43_201),
                ..Default::default()
            },
            "VisibilityTimeout",
        ),
        (
            AttributesUpdate {
                message_retention_s: Some(59),
                ..Default::default()
            },
            "MessageRetentionPeriod",
        ),
        (
            AttributesUpdate {
                delay_s: Some(901),
                ..Default::default()
            },
            "DelaySeconds",
        ),
        (
            AttributesUpdate {
                maximum_message_bytes: Some(1023),
                ..Default::default()
            },
            "MaximumMessageSize",
        ),
        (
            AttributesUpdate {
                receive_wait_s: Some(21),
                ..Default::default()
            },
            "ReceiveMessageWaitTimeSeconds",
        ),
        (
            AttributesUpdate {
                content_based_deduplication: Some(true),
                ..Default::default()
            },
            "FifoQueue",
        ),
    ];
    for (update, attribute) in cases {
        let error = refused(update, "q");
        assert!(
            matches!(error, Error::InvalidAttribute { attribute: a, .. } if a == attribute),
            "{error:?}"
        );
    }
    let to = |dlq: &str, max_receive_count| AttributesUpdate {
        redrive: Some(Some(RedrivePolicy {
            dead_letter_queue: name(dlq),
            max_receive_count,
        })),
        ..Default::default()
    };
    assert!(matches!(
        refused(to("missing", 3), "q"),
        Error::QueueNotFound { .. }
    ));
    env.create("dlq.fifo", Default::default());
    env.create("dlq", Default::default());
    assert!(matches!(
        refused(to("dlq.fifo", 3), "q"),
        Error::InvalidAttribute {
            attribute: "RedrivePolicy",
            ..
        }
    ));
    assert!(matches!(
        refused(to("dlq", 0), "q"),
        Error::InvalidAttribute {
            attribute: "RedrivePolicy",
            ..
        }
    ));
    env.create("q", to("dlq", 1000));
}

/// Attribute changes (the policy and the time of the change too) and tags survive
/// a power loss; tag limits are enforced.
#[test]
fn attributes_and_tags_are_durable() {
    let env = Env::new();
    env.create("settings", Default::default());
    let created = env.queues.timestamps("settings").unwrap();
    assert_eq!(created.created_ms, created.modified_ms);
    env.clock.advance_ms(5_000);
    let update = AttributesUpdate {
        visibility_timeout_s: Some(120),
        delay_s: Some(3),
        policy: Some(Some(r#"{"Statement":[]}"#.to_string())),
        ..Default::default()
    };
    env.queues.set_attributes("settings", &update).unwrap();
    let tags = BTreeMap::from([
        ("team".to_string(), "core".to_string()),
        ("env".to_string(), "test".to_string()),
    ]);
    env.queues.tag_queue("settings", &tags).unwrap();
    env.queues
        .untag_queue("settings", &["env".to_string()])
        .unwrap();
    let env = crash_and_restart(env);
    let attributes = env.queues.queue("settings").unwrap().attributes();
    assert_eq!(
        (attributes.visibility_timeout_s, attributes.delay_s),
        (120, 3)
    );
    assert_eq!(attributes.policy.as_deref(), Some(r#"{"Statement":[]}"#));
    let times = env.queues.timestamps("settings").unwrap();
    assert_eq!(times.created_ms, created.created_ms);
    assert_eq!(times.modified_ms, created.created_ms + 5_000);
    assert_eq!(
        env.queues.tags("settings").unwrap(),
        BTreeMap::from([("team".into(), "core".into())])
    );
    let many: BTreeMap<String, String> =
        (0..51).map(|i| (format!("k{i}"), String::new())).collect();
    assert!(matches!(
        env.queues.tag_queue("settings", &many),
        Err(Error::InvalidParameter {
            parameter: "Tags",
            ..
        })
    ));
}

/// A deleted queue is gone after a power loss; a new queue of the same name starts
/// empty with a new id, and handles of the old one are refused.
#[test]
fn delete_and_recreate() {
    let env = Env::new();
    let old = env.create("cycle", Default::default());
    old.send(text("old message")).unwrap();
    let handle = env.receive("cycle", 1)[0].receipt_handle;
    env.queues.delete_queue("cycle").unwrap();
    assert!(matches!(
        env.queues.queue("cycle"),
        Err(Error::QueueNotFound { .. })
    ));
    let env = crash_and_restart(env);
    assert!(env.queues.list_queues("").is_empty());
    let new = env.create("cycle", Default::default());
    assert_ne!(new.id(), handle.queue_id);
    assert!(env.receive("cycle", 10).is_empty());
    assert!(matches!(
        new.delete(&handle),
        Err(Error::ReceiptHandleInvalid { .. })
    ));
}

/// A purge removes every message sent before it, durably; a second purge within
/// 60 seconds is refused.
#[test]
fn purge_is_durable_and_rate_limited() {
    let env = Env::new();
    let queue = env.create("purged", Default::default());
    for i in 0..5 {
        queue.send(text(&format!("{i}"))).unwrap();
    }
    let in_flight = env.receive("purged", 2);
    queue.purge().unwrap();
    assert!(matches!(queue.purge(), Err(Error::PurgeInProgress { .. })));
    queue.send(text("after")).unwrap();
    let env = crash_and_restart(env);
    let queue = env.queues.queue("purged").unwrap();
    env.clock.advance_ms(60_000);
    let received = env.receive("purged", 10);
    assert_eq!(common::bodies(&received), ["after"]);
    assert!(
        queue.delete(&in_flight[0].receipt_handle).is_ok(),
        "already gone: deleting succeeds"
    );
    queue.purge().unwrap();
}

/// A directory the MANIFEST does not list is reported and left alone; queue data
/// without a MANIFEST is an error, not an empty set of queues.
#[test]
fn unknown_entries_and_missing_manifest() {
    let env = Env::new();
    env.create("kept", Default::default());
    let root = std::path::Path::new(common::ROOT);
    env.fs.create_dir_all(&root.join("99-stray")).unwrap();
    let env = env.restart();
    assert_eq!(env.report.queues, 1);
    assert_eq!(env.report.unknown_entries, ["99-stray"]);
    assert!(env.fs.exists(&root.join("99-stray")));
    env.queues.close().unwrap();
    env.storage.shutdown().unwrap();
    env.fs.remove_file(&root.join("MANIFEST")).unwrap();
    let storage = Storage::open(
        env.fs.session() as Arc<dyn FileSystem>,
        StorageConfig::default(),
    )
    .unwrap();
    let reopened = Queues::open(storage, common::ROOT, common::config(&env.clock));
    assert!(
        matches!(reopened, Err(Error::Corrupt { .. })),
        "{reopened:?}"
    );
}

/// A queue's name cannot be used again within 60 s of its deletion; afterwards it can.
#[test]
fn deleted_name_waits_60_seconds() {
    let env = Env::new();
    env.create("gone", AttributesUpdate::default());
    env.queues.delete_queue("gone").unwrap();
    let name = QueueName::new("gone").unwrap();
    let again = env
        .queues
        .create_queue(&name, &AttributesUpdate::default(), BTreeMap::new());
    assert!(
        matches!(again, Err(Error::QueueDeletedRecently { .. })),
        "{again:?}"
    );
    env.clock.advance_ms(QUEUE_NAME_REUSE_MS);
    env.create("gone", AttributesUpdate::default());
}

/// A dead-letter queue's redrive allow policy decides which sources may name it.
#[test]
fn redrive_allow_policy_is_enforced() {
    let env = Env::new();
    let allowed = QueueName::new("allowed").unwrap();
    env.create(
        "dlq",
        AttributesUpdate {
            redrive_allow: Some(Some(RedriveAllowPolicy::ByQueue(vec![allowed]))),
            ..Default::default()
        },
    );
    let redrive = AttributesUpdate {
        redrive: Some(Some(RedrivePolicy {
            dead_letter_queue: QueueName::new("dlq").unwrap(),
            max_receive_count: 3,
        })),
        ..Default::default()
    };
    env.create("allowed", redrive.clone());
    let other = QueueName::new("other").unwrap();
    let refused = env.queues.create_queue(&other, &redrive, BTreeMap::new());
    assert!(
        matches!(refused, Err(Error::RedriveNotAllowed { .. })),
        "{refused:?}"
    );
    let too_many = AttributesUpdate {
        redrive_allow: Some(Some(RedriveAllowPolicy::ByQueue(Vec::new()))),
        ..Default::default()
    };
    let refused = env.queues.set_attributes("dlq", &too_many);
    assert!(
        matches!(refused, Err(Error::InvalidAttribute { .. })),
        "{refused:?}"
    );
}

/// Deleting a queue removes its directory with both logs, and a power loss right
/// after does not bring any of it back; the other queues keep theirs.
#[test]
fn deleted_queue_leaves_no_directory() {
    let env = Env::new();
    let kept = env.create("kept", AttributesUpdate::default());
    let gone = env.create("gone", AttributesUpdate::default());
    for queue in [&kept, &gone] {
        queue.send(text("m")).unwrap();
    }
    let entries = |env: &Env| env.fs.list_dir(std::path::Path::new(common::ROOT)).unwrap();
    assert_eq!(entries(&env).len(), 3, "{:?}", entries(&env));
    env.queues.delete_queue("gone").unwrap();
    let after_delete = entries(&env);
    assert_eq!(after_delete.len(), 2, "{after_delete:?}");
    assert!(!after_delete.iter().any(|entry| entry.ends_with("-gone")));
    let env = crash_and_restart(env);
    assert_eq!(entries(&env), after_delete);
    assert!(
        env.report.unknown_entries.is_empty(),
        "{:?}",
        env.report.unknown_entries
    );
    assert_eq!(env.report.queues, 1);
}
