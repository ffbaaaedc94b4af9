//! The calls that await durability and long polls instead of blocking a thread
//! (`submit_batch`, `submit_delete_batch`, `submit_change_visibility_batch`,
//! `receive_unblocked`) keep the blocking calls' meaning: what they acknowledge
//! survives a restart, long polls wake on sends and end with `end_waits`, and a
//! receive that has to block is handed back rather than run.

mod common;

use common::{bodies, fifo, text, wait_until_polling, Env};
use shardlog_queue::{AttributesUpdate, ReceiveRequest};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to its end on this thread (at most 30 s).
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        assert!(Instant::now() < deadline, "the future never resolved");
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

/// Runs `future` to its end on this thread, polling it again only when it wakes
/// the task: a wake that never comes fails the test after 30 s (a watchdog
/// thread unparks it then).
fn block_on_woken<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    let (done, watched) = std::sync::mpsc::channel::<()>();
    let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let (fired, thread) = (Arc::clone(&fired), std::thread::current());
        std::thread::spawn(move || {
            if watched.recv_timeout(Duration::from_secs(30)).is_err() {
                fired.store(true, std::sync::atomic::Ordering::SeqCst);
                thread.unpark();
            }
        })
    };
    let output = loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            break output;
        }
        std::thread::park();
        assert!(
            !fired.load(std::sync::atomic::Ordering::SeqCst),
            "the future was not woken within 30 s"
        );
    };
    drop(done);
    watchdog.join().unwrap();
    output
}

/// A long poll's timer that never ends: only a wake can end the poll.
fn never(_: Duration) -> std::future::Pending<()> {
    std::future::pending()
}

/// The long polls' timer: ready once `duration` has passed (`block_on` polls
/// again at least every 100 ms).
async fn sleep(duration: Duration) {
    let until = Instant::now() + duration;
    std::future::poll_fn(|_| {
        if Instant::now() >= until {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

fn receive_now(max_messages: u32, wait_time_s: u32) -> ReceiveRequest {
    ReceiveRequest {
        max_messages,
        visibility_timeout_s: None,
        wait_time_s: Some(wait_time_s),
        receive_request_attempt_id: None,
    }
}

/// Sent, received and deleted through the awaiting calls; a restart keeps the
/// undeleted message with its receive count, and the deleted ones stay gone.
#[test]
fn awaited_round_trip_survives_a_restart() {
    let env = Env::new();
    let queue = env.create("q", AttributesUpdate::default());
    let sends = vec![text("a"), text("b"), text("c")];
    let outcomes = block_on(queue.submit_batch(sends).unwrap().acknowledged()).unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let received = block_on(
        env.queues
            .receive_unblocked("q", &receive_now(10, 0), sleep),
    )
    .expect("a receive that finds messages does not block")
    .unwrap();
    assert_eq!(bodies(&received), ["a", "b", "c"]);
    let handles: Vec<_> = received[..2].iter().map(|m| m.receipt_handle).collect();
    let deleted = block_on(queue.submit_delete_batch(&handles).unwrap().acknowledged()).unwrap();
    assert!(deleted.iter().all(Result::is_ok), "{deleted:?}");
    let change = [(received[2].receipt_handle, 0)];
    let pending = queue.submit_change_visibility_batch(&change).unwrap();
    assert!(block_on(pending.acknowledged()).unwrap()[0].is_ok());
    drop(queue);
    let env = env.restart();
    let again = env.receive("q", 10);
    assert_eq!(bodies(&again), ["c"]);
    assert_eq!(again[0].receive_count, 2, "the awaited receive was durable");
}

/// An empty queue answers a receive without a wait at once, and a long poll once
/// its (1 s) wait is over, both empty; a FIFO receive with an attempt id and a
/// receive that may move messages to a dead-letter queue are handed back to the
/// blocking receive.
#[test]
fn receives_that_must_block_are_handed_back() {
    let env = Env::new();
    env.create("empty", AttributesUpdate::default());
    for wait_time_s in [0, 1] {
        let request = receive_now(10, wait_time_s);
        let got = block_on(env.queues.receive_unblocked("empty", &request, sleep));
        assert!(matches!(got, Some(Ok(ref m)) if m.is_empty()), "{got:?}");
    }

    let queue = env.create("f.fifo", AttributesUpdate::default());
    queue.send(fifo("x", "g")).unwrap();
    let attempt = ReceiveRequest {
        receive_request_attempt_id: Some("try-1".into()),
        ..receive_now(1, 0)
    };
    assert!(block_on(env.queues.receive_unblocked("f.fifo", &attempt, sleep)).is_none());
    assert_eq!(
        bodies(&env.queues.receive("f.fifo", &attempt).unwrap()),
        ["x"]
    );

    let source = env.create_with_dead_letter("src", "dlq", 1);
    source.send(text("m")).unwrap();
    let dead_letter = block_on(
        env.queues
            .receive_unblocked("src", &receive_now(1, 0), sleep),
    );
    assert!(dead_letter.is_none());
    let missing = block_on(
        env.queues
            .receive_unblocked("nope", &receive_now(1, 0), sleep),
    );
    assert!(matches!(missing, Some(Err(_))), "{missing:?}");
}

/// Three long polls and three messages sent one at a time: every message is
/// received once, though each send wakes only as many polls as it brought messages.
#[test]
fn each_send_wakes_enough_long_polls() {
    let env = Env::new();
    let queue = env.create("polls", AttributesUpdate::default());
    let request = receive_now(1, 20);
    let received = std::thread::scope(|scope| {
        let waiters: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| env.queues.receive("polls", &request).unwrap()))
            .collect();
        wait_until_polling(&queue, 3);
        for body in ["1", "2", "3"] {
            queue.send(text(body)).unwrap();
        }
        let mut all: Vec<String> = waiters
            .into_iter()
            .flat_map(|waiter| bodies(&waiter.join().unwrap()))
            .collect();
        all.sort();
        all
    });
    assert_eq!(received, ["1", "2", "3"]);
}

/// An awaited long poll is woken by a send and returns the message; another is
/// ended, empty, by `end_waits`. Their timers never end and they are polled only
/// when woken, so only the queue's wakes can end them.
#[test]
fn awaited_long_polls_wake_on_a_send_and_end_with_waits() {
    let env = Env::new();
    let queue = env.create("wake", AttributesUpdate::default());
    let request = receive_now(10, 20);
    let received = std::thread::scope(|scope| {
        scope.spawn(|| {
            wait_until_polling(&queue, 1);
            queue.send(text("wake up")).unwrap();
        });
        block_on_woken(env.queues.receive_unblocked("wake", &request, never))
    });
    assert_eq!(bodies(&received.unwrap().unwrap()), ["wake up"]);
    assert_eq!(
        queue.waiting_receivers(),
        0,
        "a woken poll leaves no waker behind"
    );
    let ended = std::thread::scope(|scope| {
        scope.spawn(|| {
            wait_until_polling(&queue, 1);
            env.queues.end_waits();
        });
        block_on_woken(env.queues.receive_unblocked("wake", &request, never))
    });
    assert!(
        matches!(ended, Some(Ok(ref m)) if m.is_empty()),
        "{ended:?}"
    );
}

/// A send whose awaiting caller went away (its future dropped while pending)
/// still wakes a long poll, which receives the message.
#[test]
fn a_dropped_send_still_wakes_long_polls() {
    let env = Env::new();
    let queue = env.create("orphan", AttributesUpdate::default());
    let request = receive_now(1, 20);
    let received = std::thread::scope(|scope| {
        // A timer that never ends: only the send's wake can end this poll.
        let poll = || env.queues.receive_unblocked("orphan", &request, never);
        let waiter = scope.spawn(move || block_on_woken(poll()).unwrap().unwrap());
        wait_until_polling(&queue, 1);
        let pending = queue.submit_batch(vec![text("orphan")]).unwrap();
        let mut future = Box::pin(pending.acknowledged());
        let mut context = Context::from_waker(Waker::noop());
        let _ = future.as_mut().poll(&mut context);
        drop(future);
        waiter.join().unwrap()
    });
    assert_eq!(bodies(&received), ["orphan"]);
}
