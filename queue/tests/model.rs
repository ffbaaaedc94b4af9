//! Model-based test of a standard queue against a plain in-memory reference:
//! sends with delays, receives with visibility timeouts, deletes and visibility
//! changes with current and stale handles, clock moves, and restarts that are
//! either clean or power losses (only synced bytes survive, or a random torn
//! subset of the unsynced ones). After every step the queue agrees with the model:
//! nothing acknowledged is lost, deleted messages never come back, receive counts
//! and visibility deadlines survive restarts.

mod common;

use common::{check_handle_op, power_cycle, HandleOp, ModelDelivery};
use proptest::prelude::*;
use shardlog_queue::{
    AttributesUpdate, Error, ManualClock, MessageId, QueueName, Queues, QueuesConfig,
    ReceiptHandle, ReceiveRequest, SendRequest, PURGE_INTERVAL_MS,
};
use shardlog_segment::io::{FileSystem, MemFs};
use shardlog_segment::{Storage, StorageConfig};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Op {
    Send { delay_s: u32 },
    Receive { max: u32, visibility_s: Option<u32> },
    Handle { pick: usize, op: HandleOp },
    Advance { ms: u64 },
    Restart { crash: Option<u64> },
    Reclaim,
    Purge,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop_oneof![Just(0u32), Just(0), Just(5), Just(40)].prop_map(|delay_s| Op::Send { delay_s }),
        4 => (1u32..=10, proptest::option::of(0u32..=60)).prop_map(|(max, visibility_s)| Op::Receive { max, visibility_s }),
        3 => any::<usize>().prop_map(|pick| Op::Handle { pick, op: HandleOp::Delete }),
        1 => (any::<usize>(), 0u32..=60)
            .prop_map(|(pick, t)| Op::Handle { pick, op: HandleOp::ChangeVisibility(t) }),
        2 => (0u64..=45_000).prop_map(|ms| Op::Advance { ms }),
        1 => proptest::option::of(any::<u64>()).prop_map(|crash| Op::Restart { crash }),
        1 => Just(Op::Reclaim),
        1 => Just(Op::Purge),
    ]
}

#[derive(Debug)]
struct ModelMessage {
    body: Vec<u8>,
    delivery: ModelDelivery,
}

impl ModelMessage {
    fn visible(&self, now_ms: u64) -> bool {
        !self.delivery.deleted && self.delivery.visible_at_ms <= now_ms
    }
}

struct Harness {
    fs: Arc<MemFs>,
    clock: Arc<ManualClock>,
    storage: Storage,
    queues: Queues,
}

const QUEUE: &str = "model";

fn start(fs: &Arc<MemFs>, clock: &Arc<ManualClock>) -> (Storage, Queues) {
    let storage = Storage::open(
        fs.session() as Arc<dyn FileSystem>,
        StorageConfig::default(),
    )
    .unwrap();
    let (queues, report) = Queues::open(
        storage.clone(),
        "/data/queues",
        QueuesConfig {
            clock: clock.clone(),
            segment_bytes_max: 64 << 10,
        },
    )
    .unwrap();
    assert!(report.unknown_entries.is_empty(), "{report:?}");
    (storage, queues)
}

impl Harness {
    fn new() -> Harness {
        let fs = MemFs::new();
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let (storage, queues) = start(&fs, &clock);
        let name = QueueName::new(QUEUE).unwrap();
        queues
            .create_queue(&name, &AttributesUpdate::default(), BTreeMap::new())
            .unwrap();
        Harness {
            fs,
            clock,
            storage,
            queues,
        }
    }

    fn restart(&mut self, crash: Option<u64>) {
        power_cycle(&self.fs, crash, &self.queues, &self.storage);
        let (storage, queues) = start(&self.fs, &self.clock);
        self.storage = storage;
        self.queues = queues;
    }
}

fn run(ops: Vec<Op>) {
    let mut harness = Harness::new();
    let mut model: HashMap<MessageId, ModelMessage> = HashMap::new();
    let mut handles: Vec<ReceiptHandle> = Vec::new();
    let mut sent = 0u64;
    // The 60-second purge interval is kept in memory: a restart resets it.
    let mut last_purge_ms: Option<u64> = None;
    for op in ops {
        let queue = harness.queues.queue(QUEUE).unwrap();
        let now_ms = harness.clock.now_ms_for_test();
        match op {
            Op::Send { delay_s } => {
                sent += 1;
                // About 1 KiB, so that a run fills several 64 KiB segments.
                let body = format!("message {sent} {}", "x".repeat(1000)).into_bytes();
                let request = SendRequest {
                    body: body.clone(),
                    delay_s: Some(delay_s),
                    ..SendRequest::default()
                };
                let outcome = queue.send(request).unwrap();
                let visible_at_ms = now_ms + 1000 * u64::from(delay_s);
                model.insert(
                    outcome.message_id,
                    ModelMessage {
                        body,
                        delivery: ModelDelivery {
                            visible_at_ms,
                            ..ModelDelivery::default()
                        },
                    },
                );
            }
            Op::Receive { max, visibility_s } => {
                let request = ReceiveRequest {
                    max_messages: max,
                    visibility_timeout_s: visibility_s,
                    wait_time_s: Some(0),
                    receive_request_attempt_id: None,
                };
                let received = harness.queues.receive(QUEUE, &request).unwrap();
                let visible = model.values().filter(|m| m.visible(now_ms)).count();
                assert_eq!(
                    received.len(),
                    visible.min(max as usize),
                    "receivable messages"
                );
                for message in received {
                    let expected = model
                        .get_mut(&message.message_id)
                        .expect("a message that was sent");
                    assert!(
                        expected.visible(now_ms),
                        "received a message that is not visible"
                    );
                    assert_eq!(message.body, expected.body);
                    expected.delivery.receive_count += 1;
                    assert_eq!(message.receive_count, expected.delivery.receive_count);
                    expected.delivery.visible_at_ms =
                        now_ms + 1000 * u64::from(visibility_s.unwrap_or(30));
                    handles.push(message.receipt_handle);
                }
            }
            Op::Handle { pick, op } if !handles.is_empty() => {
                let handle = handles[pick % handles.len()];
                let expected = model.get_mut(&handle.message_id).unwrap();
                check_handle_op(&queue, &handle, op, &mut expected.delivery, now_ms);
            }
            Op::Handle { .. } => {}
            Op::Advance { ms } => harness.clock.advance_ms(ms),
            Op::Restart { crash } => {
                harness.restart(crash);
                last_purge_ms = None;
            }
            Op::Purge => {
                let result = queue.purge();
                if last_purge_ms.is_some_and(|last| now_ms < last + PURGE_INTERVAL_MS) {
                    assert!(
                        matches!(result, Err(Error::PurgeInProgress { .. })),
                        "{result:?}"
                    );
                } else {
                    result.unwrap();
                    last_purge_ms = Some(now_ms);
                    model.values_mut().for_each(|m| m.delivery.deleted = true);
                }
            }
            Op::Reclaim => {
                queue.reclaim().unwrap();
            }
        }
        let queue = harness.queues.queue(QUEUE).unwrap();
        let now_ms = harness.clock.now_ms_for_test();
        let counters = queue.counters();
        let live = model.values().filter(|m| !m.delivery.deleted).count() as u64;
        let in_flight = model
            .values()
            .filter(|m| {
                !m.delivery.deleted
                    && m.delivery.receive_count > 0
                    && m.delivery.visible_at_ms > now_ms
            })
            .count();
        assert_eq!(counters.not_visible, in_flight as u64, "{counters:?}");
        assert_eq!(
            counters.visible + counters.not_visible + counters.delayed,
            live,
            "{counters:?}"
        );
    }
}

trait NowForTest {
    fn now_ms_for_test(&self) -> u64;
}

impl NowForTest for ManualClock {
    fn now_ms_for_test(&self) -> u64 {
        shardlog_queue::Clock::now_ms(self)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The queue agrees with the reference model through every sequence of operations.
    #[test]
    fn queue_agrees_with_model(ops in proptest::collection::vec(op(), 1..150)) {
        run(ops);
    }
}

/// A fixed sequence that crosses a crash with messages in flight, delayed and deleted.
#[test]
fn crash_with_inflight_delayed_and_deleted_messages() {
    run(vec![
        Op::Send { delay_s: 0 },
        Op::Send { delay_s: 40 },
        Op::Send { delay_s: 0 },
        Op::Receive {
            max: 10,
            visibility_s: Some(60),
        },
        Op::Handle {
            pick: 0,
            op: HandleOp::Delete,
        },
        Op::Restart { crash: Some(2) },
        Op::Receive {
            max: 10,
            visibility_s: None,
        },
        Op::Advance { ms: 45_000 },
        Op::Receive {
            max: 10,
            visibility_s: Some(0),
        },
        Op::Restart { crash: Some(3) },
        Op::Receive {
            max: 10,
            visibility_s: None,
        },
        Op::Handle {
            pick: 3,
            op: HandleOp::Delete,
        },
        Op::Advance { ms: 30_000 },
        Op::Restart { crash: None },
        Op::Receive {
            max: 10,
            visibility_s: None,
        },
    ]);
}
