//! A queue's messages are readable once written, before their sync: a receive
//! takes a message while the sync of its send is held, and neither the send nor
//! the receive is answered before that sync is done (the receive's own state is
//! made durable in a later commit round).

mod common;

use common::{bodies, config, text, ROOT};
use shardlog_queue::{
    AttributesUpdate, Clock, ManualClock, QueueName, Queues, ReceiveRequest, ReceivedMessage,
};
use shardlog_segment::io::{
    is_segment_in, FileOp, FileSystem, Gate, HoldAtGate, Interposed, MemFs,
};
use shardlog_segment::{BackendKind, Durability, Storage, StorageConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn receive(queues: &Queues, wait_s: u32) -> Vec<ReceivedMessage> {
    let request = ReceiveRequest {
        max_messages: 10,
        visibility_timeout_s: None,
        wait_time_s: Some(wait_s),
        receive_request_attempt_id: None,
    };
    queues.receive("q", &request).unwrap()
}

#[test]
fn a_receive_takes_a_message_while_its_send_syncs() {
    let mem = MemFs::new();
    let gate = Gate::new();
    let hold = HoldAtGate::new(&gate, FileOp::Sync, |path| is_segment_in(path, "messages"));
    let fs = Arc::new(Interposed::new(mem.session() as Arc<dyn FileSystem>, hold));
    let storage_config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    let storage = Storage::open(fs, storage_config).unwrap();
    let clock = Arc::new(ManualClock::new(shardlog_queue::SystemClock.now_ms()));
    let (queues, _) = Queues::open(storage.clone(), ROOT, config(&clock)).unwrap();
    let name = QueueName::new("q").unwrap();
    let queue = queues
        .create_queue(&name, &AttributesUpdate::default(), BTreeMap::new())
        .unwrap();
    // Both logs have their segments: later appends take the committer's plain path.
    queue.send(text("m0")).unwrap();
    let first = receive(&queues, 0);
    assert_eq!(bodies(&first), ["m0"]);
    queue.delete(&first[0].receipt_handle).unwrap();

    {
        std::thread::scope(|scope| {
            // Dropped before the scope joins its threads, which wait for held syncs.
            let opener = gate.close();
            let send = scope.spawn(|| queue.submit_sends(vec![text("m1")]).unwrap().wait());
            let received = scope.spawn(|| receive(&queues, 10));
            let deadline = Instant::now() + Duration::from_secs(10);
            while queue.counters().not_visible == 0 {
                assert!(
                    Instant::now() < deadline,
                    "no receive took the message while its send synced"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(50));
            assert!(!send.is_finished(), "the send was answered before its sync");
            assert!(
                !received.is_finished(),
                "the receive was answered before the message's sync"
            );
            drop(opener);
            assert_eq!(bodies(&received.join().unwrap()), ["m1"]);
            assert!(send.join().unwrap().unwrap()[0].is_ok());
        });
    }
    queues.close().unwrap();
    storage.shutdown().unwrap();
}
