//! Batch delivery: a topic's queue delivery hands the sink every message of one
//! read at once; a message that fails in the middle of a batch is retried alone
//! (a batch of one) and dead-lettered as before, and the others still arrive
//! once each, in order.

mod common;

use shardlog_segment::io::RealFs;
use shardlog_segment::{Storage, StorageConfig};
use shardlog_topic::{
    Delivery, Endpoint, Failure, Protocol, PublishRequest, Sink, TopicAttributes, TopicName, Topics,
};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

/// How the sink treats one message body.
#[derive(Clone, Copy)]
struct Refusal {
    /// Attempts refused (`u32::MAX`: every one).
    attempts: u32,
    retryable: bool,
}

/// A sink that takes batches as a queue does: in order, stopping after a
/// retryable failure; it refuses the messages named in `refusals`.
#[derive(Default)]
struct BatchSink {
    state: Mutex<SinkState>,
    changed: Condvar,
}

#[derive(Default)]
struct SinkState {
    refusals: HashMap<String, Refusal>,
    /// (message, attempt) as they reached the destination.
    delivered: Vec<(String, u32)>,
    dead: Vec<String>,
    /// Size of each batch handed over.
    batch_sizes: Vec<usize>,
}

impl BatchSink {
    fn attempt(&self, state: &mut SinkState, delivery: &Delivery<'_>) -> Result<(), Failure> {
        let body = &delivery.message.message;
        if let Some(refusal) = state.refusals.get(body) {
            if delivery.attempt <= refusal.attempts {
                return Err(Failure {
                    reason: format!("{body} refused by the test"),
                    retryable: refusal.retryable,
                });
            }
        }
        state.delivered.push((body.clone(), delivery.attempt));
        self.changed.notify_all();
        Ok(())
    }

    /// Waits (at most 10 s) until `done` holds of the state.
    fn wait(&self, done: impl Fn(&SinkState) -> bool) -> bool {
        common::wait_until(&self.state, &self.changed, done)
    }
}

impl Sink for BatchSink {
    fn deliver(&self, delivery: &Delivery<'_>) -> Result<(), Failure> {
        let mut state = self.state.lock().unwrap();
        self.attempt(&mut state, delivery)
    }

    fn deliver_batch(&self, deliveries: &[Delivery<'_>]) -> Vec<Result<(), Failure>> {
        let mut state = self.state.lock().unwrap();
        state.batch_sizes.push(deliveries.len());
        let mut outcomes = Vec::new();
        for delivery in deliveries {
            let outcome = self.attempt(&mut state, delivery);
            let stop = outcome.as_ref().is_err_and(|f| f.retryable);
            outcomes.push(outcome);
            if stop {
                break;
            }
        }
        outcomes
    }

    fn dead_letter(&self, delivery: &Delivery<'_>, _: &Failure) -> Result<(), Failure> {
        let mut state = self.state.lock().unwrap();
        state.dead.push(delivery.message.message.clone());
        self.changed.notify_all();
        Ok(())
    }
}

fn open(dir: &Path, sink: Arc<BatchSink>) -> (Storage, Topics) {
    let storage = Storage::open(RealFs::shared(), StorageConfig::default()).unwrap();
    let config = common::quick_retries();
    let (topics, _) = Topics::open(storage.clone(), dir, config, sink).unwrap();
    (storage, topics)
}

/// Subscribes one queue endpoint to a new topic, then publishes `bodies` in
/// one PublishBatch (so that one read gives the worker all of them).
fn fan_out(topics: &Topics, bodies: &[String]) {
    let name = TopicName::new("t").unwrap();
    topics
        .create_topic(&name, TopicAttributes::default(), BTreeMap::new())
        .unwrap();
    let endpoint = Endpoint {
        protocol: Protocol::Sqs,
        address: "q".into(),
    };
    topics.subscribe("t", endpoint, |_| Ok(())).unwrap();
    let requests = bodies
        .iter()
        .map(|body| PublishRequest {
            message: body.clone(),
            ..PublishRequest::default()
        })
        .collect();
    topics.topic("t").unwrap().publish(requests).unwrap();
}

fn bodies() -> Vec<String> {
    (0..10).map(|i| format!("m{i}")).collect()
}

/// Runs one batch of ten with `refusal` for m4; returns the sink's state once
/// every message is delivered or dead-lettered.
fn run_with_m4(refusal: Refusal) -> SinkState {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(BatchSink::default());
    sink.state
        .lock()
        .unwrap()
        .refusals
        .insert("m4".into(), refusal);
    let (storage, topics) = open(dir.path(), Arc::clone(&sink));
    fan_out(&topics, &bodies());
    assert!(sink.wait(|s| s.delivered.len() + s.dead.len() == 10));
    topics.close().unwrap();
    storage.shutdown().unwrap();
    let state = std::mem::take(&mut *sink.state.lock().unwrap());
    state
}

/// A retryable failure in the middle of a batch: the message is retried alone
/// and arrives before everything behind it; nothing arrives twice.
#[test]
fn retried_message_keeps_its_place_in_the_batch() {
    let state = run_with_m4(Refusal {
        attempts: 1,
        retryable: true,
    });
    let expected: Vec<(String, u32)> = bodies()
        .into_iter()
        .map(|body| {
            let attempt = if body == "m4" { 2 } else { 1 };
            (body, attempt)
        })
        .collect();
    assert_eq!(state.delivered, expected);
    assert!(state.dead.is_empty());
    assert_eq!(
        state.batch_sizes,
        [10, 1, 5],
        "the whole read went as one batch, the retry alone, the rest after it as another"
    );
}

/// A message that no retry helps is dead-lettered; the rest of its batch is
/// delivered once each, in order, in the same batch.
#[test]
fn failure_that_retrying_cannot_fix_goes_to_the_dead_letter_queue() {
    let state = run_with_m4(Refusal {
        attempts: u32::MAX,
        retryable: false,
    });
    let expected: Vec<(String, u32)> = bodies()
        .into_iter()
        .filter(|body| body != "m4")
        .map(|body| (body, 1))
        .collect();
    assert_eq!(state.delivered, expected);
    assert_eq!(state.dead, ["m4"]);
    assert_eq!(state.batch_sizes, [10]);
}

/// A message refused on every attempt uses up its retries (2 here), goes to the
/// dead-letter queue, and only then do the messages behind it arrive, in order.
#[test]
fn retries_used_up_dead_letter_then_the_rest_follows() {
    let state = run_with_m4(Refusal {
        attempts: u32::MAX,
        retryable: true,
    });
    let delivered: Vec<&str> = state.delivered.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        delivered,
        ["m0", "m1", "m2", "m3", "m5", "m6", "m7", "m8", "m9"]
    );
    assert!(state.delivered.iter().all(|(_, attempt)| *attempt == 1));
    assert_eq!(state.dead, ["m4"]);
    // The read, each of the two retries alone, the rest.
    assert_eq!(state.batch_sizes, [10, 1, 1, 5]);
}
