//! SQS through the queue crate's API, no HTTP: SendMessageBatch's work
//! (`Queue::send_batch` of 10), receive + delete of a pre-filled queue, the round
//! trip, and the drain rate of a deep backlog (`sqs-backlog`, only when named).
//! Set beside the HTTP cases of [`super::sqs`], they show what the HTTP layer
//! costs. Every queue lives in a storage of its own under the run's directory,
//! with the run's `--durability`.

use super::{calls_until_done, flat_out, join_all, payload, senders_and_receivers, Sample};
use super::{queue_memory, Budget, Case, Figure, Meter, Params, WhenEmpty, WorkloadKind};
use shardlog_queue::{Queue, ReceiptHandle, ReceiveRequest, SendRequest};
use shardlog_segment::Durability;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Messages per batch call (the SQS limit).
const BATCH: usize = 10;
/// Most messages a receive + delete run fills its queue with before draining it.
const FILL_MESSAGES_MAX: u64 = 200_000;
/// Body bytes of the backlog's messages (small, so that 100 million fit on disk).
const BACKLOG_BODY_BYTES: usize = 16;
/// Durability of the backlog's fill: the drain is measured under `--durability`,
/// the fill only has to get there (221 s for 100 million this way).
const BACKLOG_FILL_DURABILITY: Durability = Durability::Interval { interval_ms: 1000 };
/// How often the backlog's queue is reclaimed while it drains: more often than the
/// server's 10 s, so that a run of a few seconds shows its segments go.
const BACKLOG_RECLAIM_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The engine SQS cases' knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct SqsEngineSettings {
    /// Body bytes of each message (not the backlog's: see [`BACKLOG_BODY_BYTES`]).
    pub message_bytes: usize,
    /// Threads of each case (the round trip splits them between senders and receivers).
    pub threads: usize,
    /// Durability of the measured sends, receives and deletes.
    pub durability: Durability,
    /// Messages queued before each backlog case drains (`--backlog-messages`).
    pub backlog_messages: Vec<u64>,
}

/// A queue in a storage of its own; closed (synced) when dropped.
struct OpenQueue {
    storage: shardlog_segment::Storage,
    queues: shardlog_queue::Queues,
    queue: Arc<Queue>,
}

impl OpenQueue {
    /// Opens the queues under `dir` with `durability` (creating the queue if needed).
    fn open(dir: &Path, durability: Durability) -> Result<OpenQueue, String> {
        let (storage, queues, _) = queue_memory::open(dir, durability)?;
        let queue = queue_memory::create(&queues)?;
        Ok(OpenQueue {
            storage,
            queues,
            queue,
        })
    }
}

impl Drop for OpenQueue {
    fn drop(&mut self) {
        if let Err(error) = queue_memory::close(&self.storage, &self.queues) {
            eprintln!("closing a bench queue: {error}");
        }
    }
}

/// The engine SQS cases among `kinds`, writing under `root`.
pub fn sqs_engine_cases<'a>(
    kinds: &[WorkloadKind],
    settings: &'a SqsEngineSettings,
    root: &'a Path,
) -> Vec<Case<'a>> {
    let mut cases = Vec::new();
    for &kind in kinds {
        match kind {
            WorkloadKind::SqsEngineSend
            | WorkloadKind::SqsEngineReceiveDelete
            | WorkloadKind::SqsEngineRoundTrip => cases.push(engine_case(kind, settings, root)),
            WorkloadKind::SqsBacklog => cases.extend(
                settings
                    .backlog_messages
                    .iter()
                    .map(|&messages| backlog_case(messages, settings, root)),
            ),
            _ => {}
        }
    }
    cases
}

fn params(settings: &SqsEngineSettings, message_bytes: usize) -> Params {
    Params {
        record_bytes: Some(message_bytes),
        batch_records: Some(BATCH),
        producers: Some(settings.threads),
        durability: Some(settings.durability.name()),
        ..Params::default()
    }
}

fn engine_case<'a>(
    kind: WorkloadKind,
    settings: &'a SqsEngineSettings,
    root: &'a Path,
) -> Case<'a> {
    let (name, latency_of) = match kind {
        WorkloadKind::SqsEngineSend => ("send_batch of 10", "send_batch call"),
        WorkloadKind::SqsEngineReceiveDelete => {
            ("receive+delete of 10, pre-filled", "receive + delete_batch")
        }
        _ => (
            "send+receive+delete, batches of 10",
            "receive + delete_batch",
        ),
    };
    let dir = root.join(kind.name());
    let mut open: Option<OpenQueue> = None;
    let run = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
        if open.is_none() {
            open = Some(OpenQueue::open(&dir, settings.durability)?);
        }
        let queue = &open.as_ref().expect("opened above").queue;
        match kind {
            WorkloadKind::SqsEngineSend => send(queue, settings, budget, meter),
            WorkloadKind::SqsEngineReceiveDelete => {
                let fill = (budget.volume_bytes / settings.message_bytes as u64)
                    .clamp(BATCH as u64, FILL_MESSAGES_MAX);
                fill_queue(queue, settings, fill)?;
                drain(
                    queue,
                    settings.threads,
                    settings.message_bytes,
                    budget,
                    meter,
                )
            }
            _ => round_trip(queue, settings, budget, meter),
        }
    };
    Case {
        kind,
        name: format!("shardlog engine API SQS {name}"),
        params: params(settings, settings.message_bytes),
        latency_of,
        baselines: &[],
        figure: Figure::Throughput,
        warmup: true,
        run: Box::new(run),
    }
}

/// Sends `count` messages of `settings.message_bytes` from `settings.threads` threads.
fn fill_queue(queue: &Queue, settings: &SqsEngineSettings, count: u64) -> Result<(), String> {
    let next = AtomicU64::new(0);
    let body = payload(settings.message_bytes, 5);
    let outcomes = std::thread::scope(|scope| {
        let threads = (0..settings.threads)
            .map(|_| {
                scope.spawn(|| loop {
                    let first = next.fetch_add(BATCH as u64, Ordering::Relaxed);
                    if first >= count {
                        return Ok(());
                    }
                    let batch = (count - first).min(BATCH as u64) as usize;
                    send_checked(queue, &body, batch)?;
                })
            })
            .collect();
        join_all(threads, "a filling thread")
    });
    outcomes.into_iter().collect()
}

/// One `send_batch` of `count` copies of `body`; any failed entry is an error.
fn send_checked(queue: &Queue, body: &[u8], count: usize) -> Result<(), String> {
    let batch = vec![
        SendRequest {
            body: body.to_vec(),
            ..SendRequest::default()
        };
        count
    ];
    for outcome in queue.send_batch(batch).map_err(|e| format!("send: {e}"))? {
        outcome.map_err(|e| format!("send: {e}"))?;
    }
    Ok(())
}

/// `settings.threads` senders of batches of 10 until the budget ends.
fn send(
    queue: &Queue,
    settings: &SqsEngineSettings,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    let body = payload(settings.message_bytes, 5);
    flat_out(
        settings.threads,
        (budget, meter),
        (settings.message_bytes, WhenEmpty::Continue),
        "an SQS engine sender",
        || send_checked(queue, &body, BATCH).map(|()| BATCH),
    )
}

/// Receives 10 (no wait) and deletes them from `threads` threads until the
/// queue has nothing visible or the budget ends; counts the messages deleted.
fn drain(
    queue: &Queue,
    threads: usize,
    message_bytes: usize,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    flat_out(
        threads,
        (budget, meter),
        (message_bytes, WhenEmpty::Stop),
        "an SQS engine receiver",
        || receive_and_delete(queue, 0),
    )
}

/// One receive of up to 10 (long poll of `wait_s`) and one `delete_batch` of what
/// came; returns how many were deleted.
fn receive_and_delete(queue: &Queue, wait_s: u32) -> Result<usize, String> {
    let request = ReceiveRequest {
        max_messages: BATCH as u32,
        wait_time_s: Some(wait_s),
        ..ReceiveRequest::default()
    };
    let received = queue
        .receive(&request, None)
        .map_err(|e| format!("receive: {e}"))?;
    if received.is_empty() {
        return Ok(0);
    }
    let handles: Vec<ReceiptHandle> = received.iter().map(|m| m.receipt_handle).collect();
    for outcome in queue
        .delete_batch(&handles)
        .map_err(|e| format!("delete: {e}"))?
    {
        outcome.map_err(|e| format!("delete: {e}"))?;
    }
    Ok(handles.len())
}

/// Half the threads send batches of 10, half receive (long poll 1 s) and delete,
/// until the budget ends; counts the messages deleted.
fn round_trip(
    queue: &Queue,
    settings: &SqsEngineSettings,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    let body = payload(settings.message_bytes, 5);
    senders_and_receivers(
        settings.threads,
        "an SQS engine round trip thread",
        || send_checked(queue, &body, BATCH),
        |started| {
            calls_until_done(
                (budget, meter),
                started,
                (settings.message_bytes, WhenEmpty::Continue),
                || receive_and_delete(queue, 1),
            )
        },
    )
}

/// Drain rate of a queue holding `messages` messages: filled once (through
/// queue-memory's fill, 16-byte bodies), then each run receives and deletes from
/// `settings.threads` threads for the run's budget.
fn backlog_case<'a>(messages: u64, settings: &'a SqsEngineSettings, root: &'a Path) -> Case<'a> {
    let dir: PathBuf = root.join(format!("sqs-backlog-{messages}"));
    let mut open: Option<OpenQueue> = None;
    let run = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
        if open.is_none() {
            let fill = queue_memory::QueueMemorySettings {
                messages,
                body_bytes: BACKLOG_BODY_BYTES,
                threads: settings.threads.min(8),
                durability: BACKLOG_FILL_DURABILITY,
            };
            let filled = Instant::now();
            let (_, per_s, disk_bytes) = queue_memory::fill(&dir, &fill)?;
            eprintln!(
                "sqs-backlog: {messages} messages queued in {:.1} s ({per_s:.0}/s), {:.1} GiB on disk",
                filled.elapsed().as_secs_f64(),
                disk_bytes as f64 / f64::from(1u32 << 30)
            );
            open = Some(OpenQueue::open(&dir, settings.durability)?);
        }
        let queue = &open.as_ref().expect("opened above").queue;
        // The volume budget counts bytes; a drain of small messages runs on time.
        let timed = Budget {
            volume_bytes: u64::MAX,
            duration: budget.duration,
        };
        let disk_before = queue_memory::disk_bytes(&dir);
        let stop = AtomicBool::new(false);
        let (sample, reclaimed) = std::thread::scope(|scope| {
            let reclaimer =
                scope.spawn(|| queue_memory::reclaim_until(queue, &stop, BACKLOG_RECLAIM_INTERVAL));
            let sample = drain(queue, settings.threads, BACKLOG_BODY_BYTES, &timed, meter);
            stop.store(true, Ordering::Relaxed);
            let reclaimed = reclaimer
                .join()
                .unwrap_or_else(|_| Err("the reclaimer panicked".into()));
            (sample, reclaimed)
        });
        reclaimed?;
        let gib = |bytes: u64| bytes as f64 / f64::from(1u32 << 30);
        eprintln!(
            "sqs-backlog: {messages}-message queue on disk: {:.2} GiB before the run, {:.2} GiB after",
            gib(disk_before),
            gib(queue_memory::disk_bytes(&dir))
        );
        sample
    };
    Case {
        kind: WorkloadKind::SqsBacklog,
        name: format!("shardlog engine API SQS drain of a {messages}-message backlog"),
        params: params(settings, BACKLOG_BODY_BYTES),
        latency_of: "receive + delete_batch",
        baselines: &[],
        figure: Figure::Throughput,
        warmup: false,
        run: Box::new(run),
    }
}

/// Most messages a backlog case may ask for.
pub const BACKLOG_MESSAGES_MAX: u64 = 1_000_000_000;

/// The drain rates of the backlog cases side by side: the deepest over the shallowest.
pub fn backlog_ratio(results: &[super::BenchResult]) -> Option<String> {
    let backlog: Vec<&super::BenchResult> = results
        .iter()
        .filter(|r| r.workload == WorkloadKind::SqsBacklog.name())
        .collect();
    let (first, last) = (backlog.first()?, backlog.last()?);
    if backlog.len() < 2 {
        return None;
    }
    let rate = |r: &super::BenchResult| r.records_per_s.unwrap_or(0.0);
    Some(format!(
        "backlog drain: {:.0} messages/s ({}) vs {:.0} messages/s ({}): {:.2}x\n",
        rate(last),
        last.name,
        rate(first),
        first.name,
        rate(last) / rate(first).max(1e-9)
    ))
}
