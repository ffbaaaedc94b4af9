//! Model-based test of a FIFO queue against a plain in-memory reference: sends to
//! a few message groups (some repeating an earlier deduplication id), receives,
//! deletes, visibility changes, clock moves and restarts (clean or power loss).
//! A receive returns as many messages as allowed from groups with no message in
//! flight, each group's oldest messages not deleted, in send order; duplicates
//! within 5 minutes return the first send's id, also across restarts.

mod common;

use common::{check_handle_op, power_cycle, HandleOp, ModelDelivery};
use proptest::prelude::*;
use shardlog_queue::{
    AttributesUpdate, Clock, ManualClock, MessageId, QueueName, Queues, QueuesConfig,
    ReceiptHandle, ReceiveRequest, SendRequest, DEDUPLICATION_WINDOW_MS,
};
use shardlog_segment::io::{FileSystem, MemFs};
use shardlog_segment::{Storage, StorageConfig};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const QUEUE: &str = "model.fifo";

#[derive(Debug, Clone)]
enum Op {
    Send { group: u8, repeat: Option<usize> },
    Receive { max: u32, visibility_s: u32 },
    Handle { pick: usize, op: HandleOp },
    Advance { ms: u64 },
    Restart { crash: Option<u64> },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u8..4, proptest::option::weighted(0.2, any::<usize>())).prop_map(|(group, repeat)| Op::Send { group, repeat }),
        4 => (1u32..=10, 0u32..=60).prop_map(|(max, visibility_s)| Op::Receive { max, visibility_s }),
        3 => any::<usize>().prop_map(|pick| Op::Handle { pick, op: HandleOp::Delete }),
        1 => (any::<usize>(), 0u32..=60)
            .prop_map(|(pick, t)| Op::Handle { pick, op: HandleOp::ChangeVisibility(t) }),
        2 => (0u64..=120_000).prop_map(|ms| Op::Advance { ms }),
        1 => proptest::option::of(any::<u64>()).prop_map(|crash| Op::Restart { crash }),
    ]
}

#[derive(Debug)]
struct Message {
    id: MessageId,
    group: u8,
    delivery: ModelDelivery,
}

#[derive(Default)]
struct Model {
    /// In send order.
    messages: Vec<Message>,
    /// Deduplication id → (sent at, index into messages).
    sent: HashMap<String, (u64, usize)>,
}

impl Model {
    fn index(&self, id: MessageId) -> usize {
        self.messages
            .iter()
            .position(|m| m.id == id)
            .expect("a message that was sent")
    }

    /// For each group not held (none of its messages in flight), the indexes of
    /// its messages not deleted, in send order.
    fn receivable(&self, now_ms: u64) -> BTreeMap<u8, Vec<usize>> {
        let mut groups: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
        for (index, message) in self.messages.iter().enumerate() {
            if !message.delivery.deleted {
                groups.entry(message.group).or_default().push(index);
            }
        }
        groups.retain(|_, members| {
            members.iter().all(|i| {
                let delivery = &self.messages[*i].delivery;
                delivery.receive_count == 0 || delivery.visible_at_ms <= now_ms
            })
        });
        groups
    }
}

fn start(fs: &Arc<MemFs>, clock: &Arc<ManualClock>) -> (Storage, Queues) {
    let storage = Storage::open(
        fs.session() as Arc<dyn FileSystem>,
        StorageConfig::default(),
    )
    .unwrap();
    let config = QueuesConfig {
        clock: clock.clone(),
        segment_bytes_max: 64 << 10,
    };
    let (queues, _) = Queues::open(storage.clone(), "/data/queues", config).unwrap();
    (storage, queues)
}

fn run(ops: Vec<Op>) {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (mut storage, mut queues) = start(&fs, &clock);
    let name = QueueName::new(QUEUE).unwrap();
    queues
        .create_queue(&name, &AttributesUpdate::default(), BTreeMap::new())
        .unwrap();
    let mut model = Model::default();
    let mut handles: Vec<ReceiptHandle> = Vec::new();
    let mut dedup_ids: Vec<String> = Vec::new();
    for op in ops {
        let queue = queues.queue(QUEUE).unwrap();
        let now_ms = clock.now_ms();
        match op {
            Op::Send { group, repeat } => {
                let dedup_id = match repeat {
                    Some(k) if !dedup_ids.is_empty() => dedup_ids[k % dedup_ids.len()].clone(),
                    _ => format!("d{}", dedup_ids.len()),
                };
                let request = SendRequest {
                    body: dedup_id.clone().into_bytes(),
                    group_id: Some(format!("g{group}")),
                    deduplication_id: Some(dedup_id.clone()),
                    ..SendRequest::default()
                };
                let outcome = queue.send(request).unwrap();
                match model.sent.get(&dedup_id) {
                    Some(&(sent_ms, index)) if now_ms < sent_ms + DEDUPLICATION_WINDOW_MS => {
                        assert_eq!(outcome.message_id, model.messages[index].id, "a duplicate");
                    }
                    _ => {
                        assert!(model.messages.iter().all(|m| m.id != outcome.message_id));
                        model
                            .sent
                            .insert(dedup_id.clone(), (now_ms, model.messages.len()));
                        model.messages.push(Message {
                            id: outcome.message_id,
                            group,
                            delivery: ModelDelivery::default(),
                        });
                        dedup_ids.push(dedup_id);
                    }
                }
            }
            Op::Receive { max, visibility_s } => {
                let request = ReceiveRequest {
                    max_messages: max,
                    visibility_timeout_s: Some(visibility_s),
                    wait_time_s: Some(0),
                    receive_request_attempt_id: None,
                };
                let received = queues.receive(QUEUE, &request).unwrap();
                let receivable = model.receivable(now_ms);
                let total: usize = receivable.values().map(Vec::len).sum();
                assert_eq!(
                    received.len(),
                    total.min(max as usize),
                    "as many as allowed"
                );
                let mut taken: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
                for message in &received {
                    let index = model.index(message.message_id);
                    taken
                        .entry(model.messages[index].group)
                        .or_default()
                        .push(index);
                }
                for (group, indexes) in &taken {
                    let members = receivable.get(group).expect("a free group");
                    assert_eq!(
                        indexes[..],
                        members[..indexes.len()],
                        "a group's oldest messages, in order"
                    );
                }
                for message in received {
                    let index = model.index(message.message_id);
                    let expected = &mut model.messages[index];
                    expected.delivery.receive_count += 1;
                    assert_eq!(message.receive_count, expected.delivery.receive_count);
                    expected.delivery.visible_at_ms = now_ms + 1000 * u64::from(visibility_s);
                    handles.push(message.receipt_handle);
                }
            }
            Op::Handle { pick, op } if !handles.is_empty() => {
                let handle = handles[pick % handles.len()];
                let index = model.index(handle.message_id);
                let expected = &mut model.messages[index];
                check_handle_op(&queue, &handle, op, &mut expected.delivery, now_ms);
            }
            Op::Handle { .. } => {}
            Op::Advance { ms } => clock.advance_ms(ms),
            Op::Restart { crash } => {
                power_cycle(&fs, crash, &queues, &storage);
                (storage, queues) = start(&fs, &clock);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The FIFO queue agrees with the reference model through every sequence of operations.
    #[test]
    fn fifo_queue_agrees_with_model(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops);
    }
}
