//! A topic's queue subscriptions share one delivery thread: each read goes to
//! every subscription in one `deliver_batches` call, a subscription waiting
//! for a retry holds none of the others up, and subscribing or unsubscribing
//! while messages flow loses nothing and delivers nothing twice.

mod common;

use shardlog_segment::io::{is_segment_in, FileOp, Gate, HoldAtGate, Interposed, RealFs};
use shardlog_segment::{BackendKind, Durability, Storage, StorageConfig};
use shardlog_topic::{
    Delivery, Endpoint, Failure, FixedRetry, Protocol, PublishRequest, RetryConfig, Sink,
    TopicAttributes, TopicName, Topics, QUEUE_POSITIONS_FILE,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Records each `deliver_batches` call; refuses (retryably) every delivery to
/// the addresses in `refusing`.
#[derive(Default)]
struct CallSink {
    state: Mutex<SinkState>,
    changed: Condvar,
}

#[derive(Default)]
struct SinkState {
    refusing: BTreeSet<String>,
    /// Each call's batches: (address, messages).
    calls: Vec<Vec<(String, Vec<String>)>>,
    /// (address, message) as they reached the destination.
    delivered: Vec<(String, String)>,
    dead: usize,
}

impl SinkState {
    fn delivered_to(&self, address: &str) -> Vec<&str> {
        self.delivered
            .iter()
            .filter(|(to, _)| to == address)
            .map(|(_, message)| message.as_str())
            .collect()
    }
}

impl Sink for CallSink {
    fn deliver(&self, delivery: &Delivery<'_>) -> Result<(), Failure> {
        let mut state = self.state.lock().unwrap();
        let address = &delivery.subscription.endpoint.address;
        if state.refusing.contains(address) {
            return Err(Failure {
                reason: "refused by the test".into(),
                retryable: true,
            });
        }
        state
            .delivered
            .push((address.clone(), delivery.message.message.clone()));
        self.changed.notify_all();
        Ok(())
    }

    fn deliver_batches(&self, batches: &[&[Delivery<'_>]]) -> Vec<Vec<Result<(), Failure>>> {
        let call = batches
            .iter()
            .map(|batch| {
                let address = batch[0].subscription.endpoint.address.clone();
                let messages = batch.iter().map(|d| d.message.message.clone()).collect();
                (address, messages)
            })
            .collect();
        self.state.lock().unwrap().calls.push(call);
        batches
            .iter()
            .map(|batch| shardlog_topic::deliver_each(self, batch))
            .collect()
    }

    fn dead_letter(&self, _: &Delivery<'_>, _: &Failure) -> Result<(), Failure> {
        self.state.lock().unwrap().dead += 1;
        Ok(())
    }
}

impl CallSink {
    /// Waits (at most 10 s) until `done` holds of the state.
    fn wait(&self, done: impl Fn(&SinkState) -> bool) -> bool {
        common::wait_until(&self.state, &self.changed, done)
    }
}

/// Topics whose queue deliveries are retried for far longer than any wait of
/// these tests.
fn open(dir: &Path, sink: Arc<CallSink>) -> (Storage, Topics) {
    let storage = Storage::open(RealFs::shared(), StorageConfig::default()).unwrap();
    let mut config = common::quick_retries();
    config.retry = RetryConfig {
        managed: FixedRetry {
            retries: 1_000,
            delay_ms: 50,
        },
    };
    let (topics, _) = Topics::open(storage.clone(), dir, config, sink).unwrap();
    (storage, topics)
}

fn queue(address: &str) -> Endpoint {
    Endpoint {
        protocol: Protocol::Sqs,
        address: address.into(),
    }
}

fn publish(topics: &Topics, bodies: &[&str]) {
    let requests = bodies
        .iter()
        .map(|body| PublishRequest {
            message: body.to_string(),
            ..PublishRequest::default()
        })
        .collect();
    topics.topic("t").unwrap().publish(requests).unwrap();
}

fn create(topics: &Topics) {
    let name = TopicName::new("t").unwrap();
    topics
        .create_topic(&name, TopicAttributes::default(), BTreeMap::new())
        .unwrap();
}

/// One publish reaches every queue subscription in one call of the sink (so a
/// sink can make all of them durable in one commit round).
#[test]
fn one_read_goes_to_every_queue_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(CallSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics);
    for address in ["a", "b", "c"] {
        topics.subscribe("t", queue(address), |_| Ok(())).unwrap();
    }
    publish(&topics, &["m0", "m1"]);
    assert!(sink.wait(|s| s.delivered.len() == 6));
    let state = sink.state.lock().unwrap();
    let messages = vec!["m0".to_string(), "m1".to_string()];
    let expected: Vec<(String, Vec<String>)> = ["a", "b", "c"]
        .iter()
        .map(|address| (address.to_string(), messages.clone()))
        .collect();
    assert_eq!(state.calls, [expected]);
    drop(state);
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// A queue that refuses every message holds up none of the topic's other
/// queues; after a restart it still gets everything, in order, from the
/// message it was retrying on (nothing dead-lettered, nothing skipped).
#[test]
fn a_queue_in_retry_holds_up_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(CallSink::default());
    sink.state.lock().unwrap().refusing.insert("stuck".into());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics);
    topics.subscribe("t", queue("stuck"), |_| Ok(())).unwrap();
    topics.subscribe("t", queue("ok"), |_| Ok(())).unwrap();
    let bodies = ["m0", "m1", "m2", "m3", "m4"];
    for body in bodies {
        publish(&topics, &[body]);
    }
    // 1,000 retries 50 ms apart: the others would wait 50 s behind it.
    assert!(sink.wait(|s| s.delivered_to("ok") == bodies));
    topics.close().unwrap();
    storage.shutdown().unwrap();
    assert!(sink.state.lock().unwrap().delivered_to("stuck").is_empty());

    sink.state.lock().unwrap().refusing.clear();
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    assert!(sink.wait(|s| s.delivered_to("stuck") == bodies));
    let state = sink.state.lock().unwrap();
    assert_eq!(state.delivered_to("ok"), bodies, "delivered twice");
    assert_eq!(state.dead, 0);
    drop(state);
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// Subscribing and unsubscribing queues between publishes restarts the shared
/// delivery: the queues that stay lose nothing and get nothing twice, a new
/// queue gets what is published after it subscribed, and an unsubscribed one's
/// position file goes.
#[test]
fn queues_come_and_go_while_others_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(CallSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics);
    let first = topics.subscribe("t", queue("first"), |_| Ok(())).unwrap();
    let leaving = topics.subscribe("t", queue("leaving"), |_| Ok(())).unwrap();
    publish(&topics, &["m0"]);
    topics.subscribe("t", queue("late"), |_| Ok(())).unwrap();
    publish(&topics, &["m1"]);
    assert!(sink.wait(|s| s.delivered_to("leaving") == ["m0", "m1"]));
    topics.unsubscribe(leaving.id.as_str()).unwrap();
    publish(&topics, &["m2"]);
    assert!(sink.wait(|s| s.delivered_to("late") == ["m1", "m2"]));
    assert!(sink.wait(|s| s.delivered_to("first") == ["m0", "m1", "m2"]));
    assert_eq!(
        sink.state.lock().unwrap().delivered_to("leaving"),
        ["m0", "m1"]
    );
    // A position being stored meanwhile shows as its temporary file too.
    let positions: Vec<String> = std::fs::read_dir(topic_dir(dir.path()).join("positions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".tmp") && name != QUEUE_POSITIONS_FILE)
        .collect();
    assert!(positions.contains(&first.id.as_str().to_string()));
    assert!(!positions.contains(&leaving.id.as_str().to_string()));
    assert_eq!(positions.len(), 2, "{positions:?}");
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// The directory of topic `t` under `root` (`<id>-t`).
fn topic_dir(root: &Path) -> std::path::PathBuf {
    std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.is_dir() && path.file_name().unwrap().to_string_lossy().ends_with("-t"))
        .expect("the topic has a directory")
}

/// Each subscription's stored position under `dir`, by subscription id: the
/// further of its own file's and the topic's queue positions file's.
fn stored_by_id(dir: &Path) -> BTreeMap<String, u64> {
    let mut positions = BTreeMap::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.parent().and_then(Path::file_name) == Some("positions".as_ref())
                // Not a position being replaced (its temporary file).
                && path.extension().is_none_or(|e| e != "tmp")
            {
                let bytes = std::fs::read(&path).unwrap();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let found = match name == QUEUE_POSITIONS_FILE {
                    true => shardlog_topic::parse_queue_positions(&bytes).unwrap(),
                    false => [(name, shardlog_topic::parse_position(&bytes).unwrap())].into(),
                };
                for (id, position) in found {
                    let stored = positions.entry(id).or_insert(position);
                    *stored = position.max(*stored);
                }
            }
        }
    }
    positions
}

/// The subscription positions stored under `dir`, in subscription id order.
fn stored_positions(dir: &Path) -> Vec<u64> {
    stored_by_id(dir).into_values().collect()
}

/// Waits (at most 10 s) until the one stored position is `position`.
fn wait_stored(dir: &Path, position: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while stored_positions(dir) != [position] {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// A topic's log is read before its syncs: a message goes to the queues while the
/// sync of its publish is held, and neither the subscription's stored position
/// nor a new subscription's start passes the log's durable end before that sync
/// is done (a crash could take the message back, and its position would go to
/// the next one).
#[test]
fn delivery_starts_before_the_sync_and_positions_wait_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Gate::new();
    let hold = HoldAtGate::new(&gate, FileOp::Sync, |path| is_segment_in(path, "log"));
    let fs = Arc::new(Interposed::new(RealFs::shared(), hold));
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    let storage = Storage::open(fs, config).unwrap();
    let sink = Arc::new(CallSink::default());
    let (topics, _) = Topics::open(
        storage.clone(),
        dir.path(),
        common::quick_retries(),
        sink.clone(),
    )
    .unwrap();
    create(&topics);
    topics.subscribe("t", queue("a"), |_| Ok(())).unwrap();
    publish(&topics, &["m0"]);
    assert!(sink.wait(|s| s.delivered.len() == 1));
    assert!(
        wait_stored(dir.path(), 1),
        "{:?}",
        stored_positions(dir.path())
    );

    // Dropped before the topics and the storage, which wait for held syncs.
    let opener = gate.close();
    let request = PublishRequest {
        message: "m1".into(),
        ..PublishRequest::default()
    };
    let topic = topics.topic("t").unwrap();
    let pending = topic.submit_publish(vec![request]).unwrap();
    assert!(
        sink.wait(|s| s.delivered.len() == 2),
        "delivered before the sync"
    );
    assert_eq!(
        topic.subscription_start(),
        1,
        "a new subscription starts at the durable end"
    );
    // Three times the storer's interval: a position stored past the durable end
    // would be there by now.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(stored_positions(dir.path()), [1]);

    drop(opener);
    pending.wait().unwrap();
    assert!(
        wait_stored(dir.path(), 2),
        "{:?}",
        stored_positions(dir.path())
    );
    assert_eq!(topic.subscription_start(), 2);
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// Waits (at most 10 s) until the topic's queue positions file holds
/// `expected` (subscription id -> position).
fn wait_together(dir: &Path, expected: &BTreeMap<String, u64>) -> bool {
    let path = topic_dir(dir).join("positions").join(QUEUE_POSITIONS_FILE);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stored = std::fs::read(&path)
            .ok()
            .map(|bytes| shardlog_topic::parse_queue_positions(&bytes).unwrap());
        if stored.is_some_and(|stored| stored.into_iter().collect::<BTreeMap<_, _>>() == *expected)
        {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The queue subscriptions' positions are stored together, in one file of the
/// topic (a store is a new file and two syncs: one per subscription made a
/// hundred subscriptions pay a hundred times); each subscription's own file
/// keeps where it started. After a restart every queue goes on from the
/// position in that file: nothing it had is delivered again.
#[test]
fn queue_positions_are_stored_together_and_delivery_resumes_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(CallSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics);
    let addresses = ["a", "b", "c"];
    let ids: Vec<String> = addresses
        .iter()
        .map(|address| {
            let record = topics.subscribe("t", queue(address), |_| Ok(())).unwrap();
            record.id.as_str().to_string()
        })
        .collect();
    publish(&topics, &["m0", "m1", "m2"]);
    let expected: BTreeMap<String, u64> = ids.iter().map(|id| (id.clone(), 3)).collect();
    assert!(
        wait_together(dir.path(), &expected),
        "{:?}",
        stored_by_id(dir.path())
    );
    for id in &ids {
        let own = topic_dir(dir.path()).join("positions").join(id);
        let own = shardlog_topic::parse_position(&std::fs::read(own).unwrap()).unwrap();
        assert_eq!(own, 0, "a subscription's own file keeps its start");
    }
    topics.close().unwrap();
    storage.shutdown().unwrap();

    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    publish(&topics, &["m3"]);
    for address in addresses {
        assert!(
            sink.wait(|s| s.delivered_to(address) == ["m0", "m1", "m2", "m3"]),
            "{address}: {:?}",
            sink.state.lock().unwrap().delivered_to(address)
        );
    }
    // Whatever came late would have come by now.
    std::thread::sleep(Duration::from_millis(200));
    for address in addresses {
        let state = sink.state.lock().unwrap();
        assert_eq!(state.delivered_to(address), ["m0", "m1", "m2", "m3"]);
    }
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// A queue subscription's position may be in its own file only (where an older
/// build stored it), or in both files at different places: delivery resumes
/// from the further of the two, redelivering nothing before it.
#[test]
fn a_position_in_a_subscriptions_own_file_still_counts() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(CallSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics);
    let old = topics.subscribe("t", queue("old"), |_| Ok(())).unwrap();
    let ahead = topics.subscribe("t", queue("ahead"), |_| Ok(())).unwrap();
    publish(&topics, &["m0", "m1"]);
    let expected = [(old.id.as_str(), 2), (ahead.id.as_str(), 2)]
        .map(|(id, position)| (id.to_string(), position))
        .into();
    assert!(wait_together(dir.path(), &expected));
    topics.close().unwrap();
    storage.shutdown().unwrap();
    // As an older build leaves it: no common file, `old` at 1 in its own file.
    // `ahead`'s own file says 2 and the common one 1.
    let positions = topic_dir(dir.path()).join("positions");
    let together = positions.join(QUEUE_POSITIONS_FILE);
    let common = format!(
        r#"{{"version":1,"positions":{{"{}":1}}}}"#,
        ahead.id.as_str()
    );
    std::fs::write(&together, common).unwrap();
    let own = |position: u64| format!(r#"{{"version":1,"position":{position}}}"#);
    std::fs::write(positions.join(ahead.id.as_str()), own(2)).unwrap();
    std::fs::write(positions.join(old.id.as_str()), own(1)).unwrap();

    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    publish(&topics, &["m2"]);
    assert!(sink.wait(|s| s.delivered_to("old") == ["m0", "m1", "m1", "m2"]));
    assert!(sink.wait(|s| s.delivered_to("ahead") == ["m0", "m1", "m2"]));
    std::thread::sleep(Duration::from_millis(200));
    let state = sink.state.lock().unwrap();
    assert_eq!(state.delivered_to("old"), ["m0", "m1", "m1", "m2"]);
    assert_eq!(state.delivered_to("ahead"), ["m0", "m1", "m2"]);
    drop(state);
    topics.close().unwrap();
    storage.shutdown().unwrap();
}
