//! A publish stages its queue deliveries itself (one commit round with its own
//! append): the delivery thread delivers none of them again, counts them toward
//! the subscriptions' stored positions only once they went through, and
//! delivers itself whatever a staged send did not deliver.

mod common;

use shardlog_segment::io::RealFs;
use shardlog_segment::{Storage, StorageConfig};
use shardlog_topic::{
    Delivery, Endpoint, Failure, FilterSpec, Protocol, PublishRequest, Sink, Staged,
    SubscriptionRecord, TopicAttributes, TopicName, Topics,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

/// Stages deliveries to queues; `refusing` addresses have the staged send of
/// their second message of a publish refused (retryably), and nothing after it
/// answered, as a queue whose append failed midway would.
#[derive(Default)]
struct StagingSink {
    state: Mutex<SinkState>,
    changed: Condvar,
}

#[derive(Default)]
struct SinkState {
    refusing: BTreeSet<String>,
    /// (address, message, staged by a publish) as they reached the destination.
    delivered: Vec<(String, String, bool)>,
}

impl SinkState {
    fn delivered_to(&self, address: &str) -> Vec<&str> {
        self.delivered
            .iter()
            .filter(|(to, _, _)| to == address)
            .map(|(_, message, _)| message.as_str())
            .collect()
    }

    fn staged(&self) -> usize {
        self.delivered
            .iter()
            .filter(|(_, _, staged)| *staged)
            .count()
    }
}

/// What a publish staged, answered when the delivery thread waits for it.
struct StagedBatches {
    sink: Arc<StagingSink>,
    /// Per batch: the address and its messages.
    batches: Vec<(String, Vec<String>)>,
}

impl Staged for StagedBatches {
    fn outcomes(self: Box<Self>) -> Vec<Vec<Result<(), Failure>>> {
        let mut state = self.sink.state.lock().unwrap();
        let mut outcomes = Vec::new();
        for (address, messages) in self.batches {
            let refusing = state.refusing.contains(&address);
            let mut answered = Vec::new();
            for (k, message) in messages.into_iter().enumerate() {
                if refusing && k == 1 {
                    answered.push(Err(Failure {
                        reason: "refused by the test".into(),
                        retryable: true,
                    }));
                    break;
                }
                state.delivered.push((address.clone(), message, true));
                answered.push(Ok(()));
            }
            outcomes.push(answered);
        }
        self.sink.changed.notify_all();
        outcomes
    }
}

/// The sink, with a handle to itself for the staged batches it returns.
struct Handle(Arc<StagingSink>);

impl Sink for Handle {
    fn deliver(&self, delivery: &Delivery<'_>) -> Result<(), Failure> {
        let mut state = self.0.state.lock().unwrap();
        let address = delivery.subscription.endpoint.address.clone();
        state
            .delivered
            .push((address, delivery.message.message.clone(), false));
        self.0.changed.notify_all();
        Ok(())
    }

    fn stages(&self, subscription: &SubscriptionRecord) -> bool {
        subscription.endpoint.protocol == Protocol::Sqs
    }

    fn stage_batches(&self, batches: &[&[Delivery<'_>]]) -> Option<Box<dyn Staged>> {
        let batches = batches
            .iter()
            .map(|batch| {
                let address = batch[0].subscription.endpoint.address.clone();
                let messages = batch.iter().map(|d| d.message.message.clone()).collect();
                (address, messages)
            })
            .collect();
        Some(Box::new(StagedBatches {
            sink: Arc::clone(&self.0),
            batches,
        }))
    }

    fn dead_letter(&self, _: &Delivery<'_>, _: &Failure) -> Result<(), Failure> {
        panic!("nothing is dead-lettered in these tests");
    }
}

fn open(dir: &Path, sink: &Arc<StagingSink>) -> (Storage, Topics) {
    let storage = Storage::open(RealFs::shared(), StorageConfig::default()).unwrap();
    let handle = Arc::new(Handle(Arc::clone(sink)));
    let (topics, _) = Topics::open(storage.clone(), dir, common::quick_retries(), handle).unwrap();
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

/// Every delivery of a publish to the topic's queues is staged by the publish
/// (a body filter included), none is delivered a second time by the delivery
/// thread, and the stored positions pass them: after a restart nothing comes
/// again.
#[test]
fn publishes_stage_their_queue_deliveries_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(StagingSink::default());
    let (storage, topics) = open(dir.path(), &sink);
    create(&topics);
    topics.subscribe("t", queue("a"), |_| Ok(())).unwrap();
    topics
        .subscribe("t", queue("b"), |s| {
            s.filter = Some(FilterSpec {
                policy: r#"{"kind": ["keep"]}"#.into(),
                body_scope: true,
            });
            Ok(())
        })
        .unwrap();
    let keep = r#"{"kind": "keep"}"#;
    let drop_it = r#"{"kind": "drop"}"#;
    publish(&topics, &["m0"]);
    publish(&topics, &[keep, drop_it]);
    publish(&topics, &["m3"]);
    assert!(sink.wait(|s| s.delivered_to("a").len() == 4 && s.delivered_to("b").len() == 1));
    topics.close().unwrap();
    storage.shutdown().unwrap();
    {
        let state = sink.state.lock().unwrap();
        assert_eq!(state.delivered_to("a"), ["m0", keep, drop_it, "m3"]);
        assert_eq!(state.delivered_to("b"), [keep]);
        assert_eq!(state.staged(), 5, "{:?}", state.delivered);
    }
    let (storage, topics) = open(dir.path(), &sink);
    publish(&topics, &["m4"]);
    assert!(sink.wait(|s| s.delivered_to("a").len() == 5));
    topics.close().unwrap();
    storage.shutdown().unwrap();
    let state = sink.state.lock().unwrap();
    assert_eq!(state.delivered_to("a"), ["m0", keep, drop_it, "m3", "m4"]);
    assert_eq!(state.delivered_to("b"), [keep], "delivered again");
}

/// A staged send that refused a message and answered nothing after it leaves
/// both to the delivery thread, which delivers each of them once; the
/// messages before it are not delivered again.
#[test]
fn what_a_staged_send_did_not_deliver_the_thread_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(StagingSink::default());
    sink.state.lock().unwrap().refusing.insert("flaky".into());
    let (storage, topics) = open(dir.path(), &sink);
    create(&topics);
    topics.subscribe("t", queue("flaky"), |_| Ok(())).unwrap();
    topics.subscribe("t", queue("fine"), |_| Ok(())).unwrap();
    publish(&topics, &["m0", "m1", "m2"]);
    publish(&topics, &["m3"]);
    assert!(sink.wait(|s| s.delivered_to("flaky").len() == 4));
    assert!(sink.wait(|s| s.delivered_to("fine").len() == 4));
    topics.close().unwrap();
    storage.shutdown().unwrap();
    let state = sink.state.lock().unwrap();
    assert_eq!(state.delivered_to("fine"), ["m0", "m1", "m2", "m3"]);
    let mut flaky: Vec<(&str, bool)> = state
        .delivered
        .iter()
        .filter(|(to, _, _)| to == "flaky")
        .map(|(_, message, staged)| (message.as_str(), *staged))
        .collect();
    flaky.sort();
    assert_eq!(
        flaky,
        [("m0", true), ("m1", false), ("m2", false), ("m3", true)]
    );
}

impl StagingSink {
    /// Waits (at most 10 s) until `done` holds of the state.
    fn wait(&self, done: impl Fn(&SinkState) -> bool) -> bool {
        common::wait_until(&self.state, &self.changed, done)
    }
}
