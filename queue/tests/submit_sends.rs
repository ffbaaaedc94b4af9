//! `Queue::submit_sends`, the internal many-message send (SNS delivery): more
//! than the wire's 10 entries in one append, FIFO order per group and
//! deduplication as with `send_batch`, and an invalid entry failing alone.

mod common;

use common::{bodies, fifo, text, Env};
use shardlog_queue::{BodyDigest, Error, SendRequest, SUBMIT_ENTRIES_MAX};

/// 25 FIFO messages in two groups, one a duplicate of an earlier send and one
/// a duplicate within the call: each gets its outcome, the duplicates their
/// original's, and the groups come out in send order.
#[test]
fn many_fifo_messages_keep_group_order_and_deduplicate() {
    let env = Env::new();
    let queue = env.create("feed.fifo", Default::default());
    let earlier = queue.send(fifo("a0", "a")).unwrap();
    let mut requests = vec![fifo("a0", "a")];
    for i in 1..=12 {
        requests.push(fifo(&format!("a{i}"), "a"));
        requests.push(fifo(&format!("b{i}"), "b"));
    }
    requests.push(fifo("b3", "b"));
    assert_eq!(requests.len(), 26);
    let outcomes = queue.submit_sends(requests).unwrap().wait().unwrap();
    let outcomes: Vec<_> = outcomes.into_iter().map(Result::unwrap).collect();
    assert_eq!(outcomes[0], earlier, "a duplicate of an earlier send");
    assert_eq!(outcomes[25], outcomes[6], "a duplicate within the call");
    let sequence: Vec<u64> = outcomes[1..25]
        .iter()
        .map(|o| o.sequence_number.unwrap().0)
        .collect();
    assert!(sequence.windows(2).all(|w| w[0] < w[1]), "{sequence:?}");
    let mut got = Vec::new();
    for _ in 0..10 {
        let received = env.receive("feed.fifo", 10);
        for message in &received {
            queue.delete(&message.receipt_handle).unwrap();
        }
        got.extend(bodies(&received));
    }
    let group =
        |g: &str| -> Vec<String> { got.iter().filter(|b| b.starts_with(g)).cloned().collect() };
    let expected =
        |g: &str, from: usize| -> Vec<String> { (from..=12).map(|i| format!("{g}{i}")).collect() };
    assert_eq!(group("a"), expected("a", 0));
    assert_eq!(group("b"), expected("b", 1));
}

/// An empty body fails alone; the rest of the call is sent. The call's size is
/// bounded (1 to SUBMIT_ENTRIES_MAX).
#[test]
fn invalid_entry_fails_alone_and_limits_hold() {
    let env = Env::new();
    let queue = env.create("plain", Default::default());
    let mut requests: Vec<_> = (0..15).map(|i| text(&format!("m{i}"))).collect();
    requests[7] = text("");
    let pending = queue.submit_sends(requests).unwrap();
    let outcomes = pending.wait().unwrap();
    assert!(matches!(outcomes[7], Err(Error::InvalidParameter { .. })));
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 14);
    let mut got = bodies(&env.receive("plain", 10));
    got.extend(bodies(&env.receive("plain", 10)));
    got.sort();
    let mut expected: Vec<String> = (0..15)
        .filter(|i| *i != 7)
        .map(|i| format!("m{i}"))
        .collect();
    expected.sort();
    assert_eq!(got, expected);
    let too_many = vec![text("x"); SUBMIT_ENTRIES_MAX + 1];
    assert!(matches!(
        queue.submit_sends(too_many),
        Err(Error::BatchSize { .. })
    ));
    assert!(matches!(
        queue.submit_sends(Vec::new()),
        Err(Error::BatchSize { .. })
    ));
}

/// A send's body digest is stored with its message: a receive after a restart
/// returns it, and a message sent without one (as SNS delivers) comes back with none.
#[test]
fn body_digest_is_stored_and_survives_a_restart() {
    let env = Env::new();
    let queue = env.create("digests", Default::default());
    let with_digest = SendRequest {
        body_digest: Some(BodyDigest::of(b"digested")),
        ..text("digested")
    };
    queue
        .send_batch(vec![with_digest, text("plain")])
        .unwrap()
        .into_iter()
        .for_each(|outcome| assert!(outcome.is_ok()));
    let env = env.restart();
    let received = env.receive("digests", 10);
    assert_eq!(bodies(&received), ["digested", "plain"]);
    assert_eq!(received[0].body_digest, Some(BodyDigest::of(b"digested")));
    assert_eq!(received[1].body_digest, None);
}

/// A standard queue's sends, checked without its lock, refuse entry by entry
/// what only a FIFO queue takes (group or deduplication id) and a delay past 900
/// s, and send the rest in order; a FIFO queue refuses a per-message delay.
#[test]
fn each_kind_of_queue_refuses_what_it_does_not_take() {
    let env = Env::new();
    let queue = env.create("plain", Default::default());
    let delayed = |delay_s| SendRequest {
        delay_s: Some(delay_s),
        ..text("late")
    };
    let requests = vec![
        text("m0"),
        fifo("m1", "g"),
        delayed(901),
        text("m3"),
        delayed(0),
    ];
    let outcomes = queue.submit_sends(requests).unwrap().wait().unwrap();
    let parameter = |k: usize| match &outcomes[k] {
        Err(Error::InvalidParameter { parameter, .. }) => *parameter,
        other => panic!("entry {k}: {other:?}"),
    };
    assert_eq!(parameter(1), "MessageGroupId");
    assert_eq!(parameter(2), "DelaySeconds");
    assert!(outcomes[0].is_ok() && outcomes[3].is_ok() && outcomes[4].is_ok());
    assert_eq!(bodies(&env.receive("plain", 10)), ["m0", "m3", "late"]);
    let ordered = env.create("ordered.fifo", Default::default());
    let outcomes = ordered
        .submit_sends(vec![SendRequest {
            delay_s: Some(0),
            ..fifo("f0", "g")
        }])
        .unwrap()
        .wait()
        .unwrap();
    assert!(matches!(
        &outcomes[0],
        Err(Error::InvalidParameter {
            parameter: "DelaySeconds",
            ..
        })
    ));
}
