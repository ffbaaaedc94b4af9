//! Publish, fan-out to subscriptions through a test sink, retries, dead letters,
//! FIFO deduplication, and delivery that resumes from its durable position after
//! a restart.

mod common;

use shardlog_segment::io::RealFs;
use shardlog_segment::{Storage, StorageConfig};
use shardlog_topic::{
    AttributeValue, Clock, Delivery, Endpoint, Error, Failure, FilterSpec, ManualClock,
    MessageAttribute, OpenReport, Protocol, PublishRequest, Sink, SystemClock, TopicAttributes,
    TopicName, Topics, TopicsConfig,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Records what it is given; refuses the first `refusals` attempts of each message.
#[derive(Default)]
struct TestSink {
    state: Mutex<SinkState>,
    changed: Condvar,
}

#[derive(Default)]
struct SinkState {
    /// (endpoint address, message, attempt)
    delivered: Vec<(String, String, u32)>,
    dead: Vec<(String, String)>,
    refusals: u32,
}

impl Sink for TestSink {
    fn deliver(&self, delivery: &Delivery<'_>) -> Result<(), Failure> {
        let mut state = self.state.lock().unwrap();
        if delivery.attempt <= state.refusals {
            return Err(Failure {
                reason: "refused by the test".into(),
                retryable: true,
            });
        }
        state.delivered.push((
            delivery.subscription.endpoint.address.clone(),
            delivery.message.message.clone(),
            delivery.attempt,
        ));
        self.changed.notify_all();
        Ok(())
    }

    fn dead_letter(&self, delivery: &Delivery<'_>, _: &Failure) -> Result<(), Failure> {
        let mut state = self.state.lock().unwrap();
        state.dead.push((
            delivery.subscription.endpoint.address.clone(),
            delivery.message.message.clone(),
        ));
        self.changed.notify_all();
        Ok(())
    }
}

impl TestSink {
    /// Waits (at most 10 s) until `done` holds of the state.
    fn wait(&self, done: impl Fn(&SinkState) -> bool) -> bool {
        common::wait_until(&self.state, &self.changed, done)
    }
}

fn open(dir: &Path, sink: Arc<TestSink>) -> (Storage, Topics) {
    let (storage, topics, report) = open_reporting(dir, sink, Arc::new(SystemClock));
    assert!(report.quarantined.is_empty(), "{report:?}");
    (storage, topics)
}

fn open_reporting(
    dir: &Path,
    sink: Arc<TestSink>,
    clock: Arc<dyn Clock>,
) -> (Storage, Topics, OpenReport) {
    let storage = Storage::open(RealFs::shared(), StorageConfig::default()).unwrap();
    let config = TopicsConfig {
        clock,
        ..common::quick_retries()
    };
    let mut config = config;
    // Small segments, so that a test rolls several.
    config.log.segment_bytes_max = 64 * 1024;
    let (topics, report) = Topics::open(storage.clone(), dir, config, sink).unwrap();
    assert!(report.unknown_entries.is_empty(), "{report:?}");
    (storage, topics, report)
}

/// Creates a standard topic, asserting that it is new.
fn create(topics: &Topics, name: &str) {
    let name = TopicName::new(name).unwrap();
    assert!(topics
        .create_topic(&name, TopicAttributes::default(), BTreeMap::new())
        .unwrap());
}

fn endpoint(address: &str) -> Endpoint {
    Endpoint {
        protocol: Protocol::Sqs,
        address: address.into(),
    }
}

fn publish(topics: &Topics, topic: &str, message: &str) {
    let request = PublishRequest {
        message: message.into(),
        ..PublishRequest::default()
    };
    topics.topic(topic).unwrap().publish(vec![request]).unwrap();
}

/// Every subscription gets every message published after it subscribed, and
/// after a restart delivery resumes where it stood (nothing lost, nothing
/// delivered before the restart delivered again).
#[test]
fn fan_out_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(TestSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics, "news");
    publish(&topics, "news", "before any subscription");
    topics.subscribe("news", endpoint("a"), |_| Ok(())).unwrap();
    topics.subscribe("news", endpoint("b"), |_| Ok(())).unwrap();
    for i in 0..5 {
        publish(&topics, "news", &format!("m{i}"));
    }
    assert!(sink.wait(|s| s.delivered.len() == 10));
    topics.close().unwrap();
    storage.shutdown().unwrap();

    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    publish(&topics, "news", "after restart");
    assert!(sink.wait(|s| s.delivered.len() == 12));
    let state = sink.state.lock().unwrap();
    for address in ["a", "b"] {
        let got: Vec<&str> = state
            .delivered
            .iter()
            .filter(|(a, _, _)| a == address)
            .map(|(_, m, _)| m.as_str())
            .collect();
        assert_eq!(got, ["m0", "m1", "m2", "m3", "m4", "after restart"]);
    }
    drop(state);
    assert_eq!(topics.subscriptions(Some("news")).unwrap().len(), 2);
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// A refused message is retried by the schedule, then dead-lettered, and
/// delivery goes on with the next message.
#[test]
fn retries_then_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(TestSink::default());
    sink.state.lock().unwrap().refusals = 2;
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics, "t");
    topics.subscribe("t", endpoint("q"), |_| Ok(())).unwrap();
    publish(&topics, "t", "third time lucky");
    assert!(sink.wait(|s| s.delivered.len() == 1));
    assert_eq!(sink.state.lock().unwrap().delivered[0].2, 3);
    sink.state.lock().unwrap().refusals = 10;
    publish(&topics, "t", "never");
    assert!(sink.wait(|s| s.dead.len() == 1));
    sink.state.lock().unwrap().refusals = 0;
    publish(&topics, "t", "next");
    assert!(sink.wait(|s| s.delivered.len() == 2));
    assert_eq!(sink.state.lock().unwrap().delivered[1].1, "next");
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// HTTP subscriptions wait for confirmation; a wrong token is refused; an
/// unsubscribed endpoint gets nothing more; a deleted topic leaves no directory.
#[test]
fn confirmation_and_unsubscribe() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(TestSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics, "t");
    let http = Endpoint {
        protocol: Protocol::Http,
        address: "http://127.0.0.1:1/".into(),
    };
    let pending = topics.subscribe("t", http, |_| Ok(())).unwrap();
    let token = pending.pending_token.clone().unwrap();
    publish(&topics, "t", "not for the pending one");
    assert!(matches!(
        topics.confirm("t", "wrong"),
        Err(Error::InvalidToken { .. })
    ));
    let confirmed = topics.confirm("t", &token).unwrap();
    assert!(confirmed.is_confirmed());
    publish(&topics, "t", "for it");
    assert!(sink.wait(|s| s.delivered.len() == 1));
    assert_eq!(sink.state.lock().unwrap().delivered[0].1, "for it");
    topics.unsubscribe(confirmed.id.as_str()).unwrap();
    assert!(matches!(
        topics.subscription(confirmed.id.as_str()),
        Err(Error::SubscriptionNotFound { .. })
    ));
    let topic_dirs = |path: &Path| {
        std::fs::read_dir(path)
            .unwrap()
            .filter(|entry| entry.as_ref().unwrap().path().is_dir())
            .count()
    };
    assert_eq!(topic_dirs(dir.path()), 1);
    topics.delete_topic("t").unwrap();
    assert!(matches!(
        topics.topic("t"),
        Err(Error::TopicNotFound { .. })
    ));
    // Its directory goes with it: nothing is left for `verify` to report.
    assert_eq!(topic_dirs(dir.path()), 0);
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// A FIFO topic needs a group, deduplicates by id or content for 5 minutes,
/// across a restart, and numbers messages in order.
#[test]
fn fifo_deduplicates_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(TestSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    let name = TopicName::new("o.fifo").unwrap();
    let attributes = TopicAttributes {
        content_based_deduplication: true,
        ..TopicAttributes::default()
    };
    topics
        .create_topic(&name, attributes, BTreeMap::new())
        .unwrap();
    let request = |message: &str, dedup: Option<&str>| PublishRequest {
        message: message.into(),
        group_id: Some("g".into()),
        deduplication_id: dedup.map(str::to_string),
        ..PublishRequest::default()
    };
    // Creating it again without the attribute returns it as it is.
    assert!(!topics
        .create_topic(&name, TopicAttributes::default(), BTreeMap::new())
        .unwrap());
    let topic = topics.topic("o.fifo").unwrap();
    let no_group = PublishRequest {
        message: "x".into(),
        ..PublishRequest::default()
    };
    assert!(matches!(
        topic.publish(vec![no_group]),
        Err(Error::InvalidParameter { .. })
    ));
    let first = topic
        .publish(vec![
            request("a", None),
            request("b", Some("id-b")),
            request("a", None),
        ])
        .unwrap();
    assert_eq!(
        first[0], first[2],
        "a duplicate in the batch gets the first's answer"
    );
    assert!(first[0].sequence_number < first[1].sequence_number);
    topics.close().unwrap();
    storage.shutdown().unwrap();

    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    let topic = topics.topic("o.fifo").unwrap();
    let again = topic
        .publish(vec![
            request("other body", Some("id-b")),
            request("c", None),
        ])
        .unwrap();
    assert_eq!(again[0], first[1]);
    assert!(again[1].sequence_number > first[1].sequence_number);
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// A filter policy lets only matching messages through (the others are
/// skipped, not retried), at attribute scope and, once changed, at body scope.
#[test]
fn filter_policy_selects_messages() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(TestSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics, "t");
    let subscription = topics
        .subscribe("t", endpoint("q"), |s| {
            s.filter = Some(FilterSpec {
                policy: r#"{"color": ["red"]}"#.into(),
                body_scope: false,
            });
            Ok(())
        })
        .unwrap();
    let colored = |message: &str, color: &str| PublishRequest {
        message: message.into(),
        attributes: [(
            "color".to_string(),
            MessageAttribute {
                data_type: "String".into(),
                value: AttributeValue::String(color.into()),
            },
        )]
        .into(),
        ..PublishRequest::default()
    };
    let topic = topics.topic("t").unwrap();
    topic
        .publish(vec![colored("blue one", "blue"), colored("red one", "red")])
        .unwrap();
    assert!(sink.wait(|s| s.delivered.len() == 1));
    topics
        .update_subscription(subscription.id.as_str(), |s| {
            s.filter = Some(FilterSpec {
                policy: r#"{"n": [{"numeric": [">", 5]}]}"#.into(),
                body_scope: true,
            });
            Ok(())
        })
        .unwrap();
    publish(&topics, "t", r#"{"n": 1}"#);
    publish(&topics, "t", r#"{"n": 7}"#);
    assert!(sink.wait(|s| s.delivered.len() == 2));
    let state = sink.state.lock().unwrap();
    let got: Vec<&str> = state.delivered.iter().map(|(_, m, _)| m.as_str()).collect();
    assert_eq!(got, ["red one", r#"{"n": 7}"#]);
    drop(state);
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// Sealed segments that every subscription has passed are removed; delivery
/// and a restart carry on past the removed ones.
#[test]
fn delivered_segments_are_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(TestSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics, "t");
    topics.subscribe("t", endpoint("q"), |_| Ok(())).unwrap();
    let log_dir = dir.path().join("1-t").join("log");
    let segments = || {
        std::fs::read_dir(&log_dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "log")
            })
            .count()
    };
    let payload = "x".repeat(1024);
    for _ in 0..200 {
        publish(&topics, "t", &payload);
    }
    assert!(sink.wait(|s| s.delivered.len() == 200));
    // The last batch's reclaim (right after its position is stored) removes
    // every sealed segment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while segments() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(segments(), 1, "only the active segment is left");
    topics.close().unwrap();
    storage.shutdown().unwrap();
    let delivered = sink.state.lock().unwrap().delivered.len();
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    publish(&topics, "t", "after restart");
    assert!(sink.wait(|s| s.delivered.len() == delivered + 1));
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// The directory of the topic named `name` under `root` (`<id>-<name>`).
fn topic_dir(root: &Path, name: &str) -> std::path::PathBuf {
    std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with(&format!("-{name}"))
        })
        .expect("the topic has a directory")
}

/// A topic whose log, and one whose delivery position, cannot be read no
/// longer stop the others from opening: both are quarantined (reported, listed,
/// publishes refused with the cause, deletable) and the healthy topic publishes
/// and delivers.
#[test]
fn damaged_topics_are_quarantined_and_the_rest_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(TestSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    for name in ["healthy", "broken-log", "broken-position"] {
        create(&topics, name);
        topics.subscribe(name, endpoint(name), |_| Ok(())).unwrap();
        publish(&topics, name, "before");
    }
    assert!(sink.wait(|s| s.delivered.len() == 3));
    topics.close().unwrap();
    storage.shutdown().unwrap();
    // Damage a segment header (recovery will not cut a segment it cannot
    // identify) and overwrite a delivery position with garbage.
    let log_dir = topic_dir(dir.path(), "broken-log").join("log");
    let segment = std::fs::read_dir(&log_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "log"))
        .expect("the log has a segment");
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[..4].copy_from_slice(b"XXXX");
    std::fs::write(&segment, bytes).unwrap();
    let positions = topic_dir(dir.path(), "broken-position").join("positions");
    for entry in std::fs::read_dir(positions).unwrap() {
        std::fs::write(entry.unwrap().path(), b"{not json").unwrap();
    }

    let (storage, topics, report) =
        open_reporting(dir.path(), Arc::clone(&sink), Arc::new(SystemClock));
    let mut quarantined: Vec<String> = report
        .quarantined
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    quarantined.sort();
    assert_eq!(quarantined, ["broken-log", "broken-position"], "{report:?}");
    assert_eq!(topics.list_topics().len(), 3);
    publish(&topics, "healthy", "after restart");
    assert!(sink.wait(|s| s.delivered.iter().any(|(_, m, _)| m == "after restart")));
    for name in ["broken-log", "broken-position"] {
        let request = PublishRequest {
            message: "refused".into(),
            ..PublishRequest::default()
        };
        let refused = topics.topic(name).unwrap().publish(vec![request]);
        assert!(
            matches!(&refused, Err(Error::TopicQuarantined { topic, .. }) if topic == name),
            "{refused:?}"
        );
        let subscribed = topics.subscribe(name, endpoint("late"), |_| Ok(()));
        assert!(matches!(subscribed, Err(Error::TopicQuarantined { .. })));
    }
    topics.delete_topic("broken-log").unwrap();
    assert_eq!(topics.list_topics().len(), 2);
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// Confirms an HTTP subscription of `topic` whose DeliveryPolicy allows
/// `per_second` requests a second.
fn subscribe_throttled(topics: &Topics, topic: &str, per_second: u32) {
    let http = Endpoint {
        protocol: Protocol::Http,
        address: "http://127.0.0.1:1/".into(),
    };
    let policy = format!(r#"{{"throttlePolicy": {{"maxReceivesPerSecond": {per_second}}}}}"#);
    let pending = topics
        .subscribe(topic, http, |record| {
            record.delivery_policy = Some(policy);
            Ok(())
        })
        .unwrap();
    topics
        .confirm(topic, pending.pending_token.as_deref().unwrap())
        .unwrap();
}

/// A throttled HTTP subscription still gets every message, in order; stopping
/// it while it waits for its throttle neither loses nor dead-letters the
/// waiting message (it is delivered after a restart).
#[test]
fn throttled_http_subscription_delivers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(TestSink::default());
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    create(&topics, "t");
    subscribe_throttled(&topics, "t", 200);
    let sent: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    for message in &sent {
        publish(&topics, "t", message);
    }
    assert!(sink.wait(|s| s.delivered.len() == sent.len()));
    let got: Vec<String> = sink
        .state
        .lock()
        .unwrap()
        .delivered
        .iter()
        .map(|d| d.1.clone())
        .collect();
    assert_eq!(got, sent);

    create(&topics, "slow");
    subscribe_throttled(&topics, "slow", 1);
    publish(&topics, "slow", "first");
    publish(&topics, "slow", "second");
    assert!(sink.wait(|s| s.delivered.iter().any(|d| d.1 == "first")));
    topics.close().unwrap();
    storage.shutdown().unwrap();
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    assert!(sink.wait(|s| s.delivered.iter().any(|d| d.1 == "second")));
    assert!(sink.state.lock().unwrap().dead.is_empty());
    topics.close().unwrap();
    storage.shutdown().unwrap();
}

/// An HTTP subscription left unconfirmed for 48 hours (AWS's limit) is
/// deleted: gone from the lists and its token refused, also when the time ran
/// out while the server was down (its creation time is durable); a younger
/// one stays and can be confirmed.
#[test]
fn pending_subscriptions_expire_after_48_hours() {
    const HOUR_MS: u64 = 3600 * 1000;
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(TestSink::default());
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (storage, topics, _) = open_reporting(dir.path(), Arc::clone(&sink), clock.clone());
    create(&topics, "t");
    let http = |n: u32| Endpoint {
        protocol: Protocol::Http,
        address: format!("http://127.0.0.1:1/{n}"),
    };
    let old = topics.subscribe("t", http(1), |_| Ok(())).unwrap();
    clock.advance_ms(47 * HOUR_MS);
    let young = topics.subscribe("t", http(2), |_| Ok(())).unwrap();
    assert_eq!(topics.subscriptions(None).unwrap().len(), 2);
    clock.advance_ms(HOUR_MS - 1);
    assert_eq!(topics.describe("t").unwrap().pending, 2);
    topics.close().unwrap();
    storage.shutdown().unwrap();

    clock.advance_ms(1);
    let (storage, topics, _) = open_reporting(dir.path(), Arc::clone(&sink), clock.clone());
    let left: Vec<_> = topics.subscriptions(Some("t")).unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].record.id, young.id);
    assert!(matches!(
        topics.subscription(old.id.as_str()),
        Err(Error::SubscriptionNotFound { .. })
    ));
    let old_token = old.pending_token.unwrap();
    assert!(matches!(
        topics.confirm("t", &old_token),
        Err(Error::InvalidToken { .. })
    ));
    clock.advance_ms(47 * HOUR_MS - 1);
    let token = young.pending_token.unwrap();
    assert!(topics.confirm("t", &token).unwrap().is_confirmed());
    clock.advance_ms(HOUR_MS);
    assert_eq!(
        topics.subscriptions(None).unwrap().len(),
        1,
        "a confirmed one stays"
    );
    topics.close().unwrap();
    storage.shutdown().unwrap();
}
