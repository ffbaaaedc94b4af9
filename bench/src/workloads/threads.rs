//! The loops the message workloads share: threads calling a request until the
//! budget ends, each call counting the messages it moved, and the round trip's
//! split between senders and receivers.

use super::{join_all, merge_concurrent, Budget, Meter, Sample};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What a loop of [`calls_until_done`] does after a call that moved nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenEmpty {
    /// Stop: the queue is drained.
    Stop,
    /// Call again (a long poll that found nothing yet).
    Continue,
}

/// One thread's loop: `call` until the budget, counted from `started`, ends; each
/// call returns how many messages of `message_bytes` it moved. A call that moved
/// some is timed and counted; after one that moved none, `when_empty` decides.
pub fn calls_until_done(
    (budget, meter): (&Budget, &Meter),
    started: Instant,
    (message_bytes, when_empty): (usize, WhenEmpty),
    mut call: impl FnMut() -> Result<usize, String>,
) -> Result<Sample, String> {
    let mut sample = Sample::new();
    while !budget.done(meter.bytes(), started) {
        let begun = Instant::now();
        let count = call()?;
        if count == 0 {
            match when_empty {
                WhenEmpty::Stop => break,
                WhenEmpty::Continue => continue,
            }
        }
        crate::stats::record_ns(&mut sample.latency_ns, begun.elapsed());
        let bytes = (count * message_bytes) as u64;
        meter.add(bytes, count as u64);
        sample.bytes += bytes;
        sample.records += count as u64;
    }
    Ok(sample)
}

/// `threads` threads each running [`calls_until_done`] with `call`; their samples
/// merged and timed from the start until the last one ended.
pub fn flat_out(
    threads: usize,
    (budget, meter): (&Budget, &Meter),
    moved: (usize, WhenEmpty),
    who: &str,
    call: impl Fn() -> Result<usize, String> + Sync,
) -> Result<Sample, String> {
    let started = Instant::now();
    let outcomes = std::thread::scope(|scope| {
        let threads = (0..threads)
            .map(|_| scope.spawn(|| calls_until_done((budget, meter), started, moved, &call)))
            .collect();
        join_all(threads, who)
    });
    let mut sample = merge_concurrent(outcomes)?;
    sample.elapsed = started.elapsed();
    Ok(sample)
}

/// Half of `threads` (at least one) call `send` until a receiver is done; the
/// others (at least one) run `receive` from the start it is given. The samples
/// merged (senders count nothing), timed from the start until all ended.
pub fn senders_and_receivers(
    threads: usize,
    who: &str,
    send: impl Fn() -> Result<(), String> + Sync,
    receive: impl Fn(Instant) -> Result<Sample, String> + Sync,
) -> Result<Sample, String> {
    let senders = (threads / 2).max(1);
    let receivers = threads.saturating_sub(senders).max(1);
    let started = Instant::now();
    let stop = AtomicBool::new(false);
    let outcomes = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for _ in 0..senders {
            handles.push(scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    send()?;
                }
                Ok(Sample::new())
            }));
        }
        for _ in 0..receivers {
            handles.push(scope.spawn(|| {
                let outcome = receive(started);
                stop.store(true, Ordering::Relaxed);
                outcome
            }));
        }
        join_all(handles, who)
    });
    let mut sample = merge_concurrent(outcomes)?;
    sample.elapsed = started.elapsed();
    Ok(sample)
}
