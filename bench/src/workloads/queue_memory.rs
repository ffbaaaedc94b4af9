//! `--workload queue-memory`: how much memory a queue's state takes as its depth
//! grows. Sends `--messages` small messages through the queue crate's API (batches
//! of 10, several producers), then, each in a fresh process so that nothing of
//! the fill is counted, reopens the queue (recovery), receives and deletes 10 % of
//! the messages in shuffled windows, and reopens it again.
//!
//! Memory is the process's anonymous resident memory (`RssAnon` of
//! /proc/self/status: the heap, not the page cache or mapped segment files) above
//! what the process held with the storage open and no queue yet, and the counted
//! entries of the queue's delivery state ([`shardlog_queue::MemoryEntries`]). The
//! allocator may keep freed memory, so RssAnon is an upper bound; the entry counts
//! are exact.

use serde::{Deserialize, Serialize};
use shardlog_queue::{
    AttributesUpdate, MemoryEntries, QueueName, Queues, QueuesConfig, ReceiveRequest, SendRequest,
};
use shardlog_segment::io::RealFs;
use shardlog_segment::{Durability, Storage, StorageConfig};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The queue the workload fills.
const QUEUE: &str = "queue-memory";
/// Messages per send and receive call (the SQS batch limit).
const BATCH: usize = 10;
/// Messages all deleting threads together hold in flight before deleting them,
/// shuffled (below the 120,000 a standard queue allows).
const DELETE_WINDOW_ALL: usize = 100_000;
/// How often the queue is reclaimed (checkpointed), as `shardlog serve` does.
const RECLAIM_INTERVAL: Duration = Duration::from_secs(10);
/// Percent of the messages the delete phase removes.
pub const DELETE_PERCENT: u64 = 10;

/// What the workload is asked to do.
#[derive(Debug, Clone)]
pub struct QueueMemorySettings {
    /// Messages to send.
    pub messages: u64,
    /// Body bytes of each.
    pub body_bytes: usize,
    /// Sending (and deleting) threads.
    pub threads: usize,
    /// Durability of the queue's logs.
    pub durability: Durability,
}

/// Memory at one point of the workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryPhase {
    /// What had just happened.
    pub phase: String,
    /// How long it took, seconds.
    pub seconds: f64,
    /// RssAnon above the process's baseline (storage open, no queue), bytes.
    pub state_bytes: i64,
    /// RssAnon of the whole process, bytes.
    pub rss_anon_bytes: u64,
    /// Received messages not removed.
    pub tracked: usize,
    /// Delayed messages the cursor passed.
    pub delayed: usize,
    /// Removed positions ahead of the cursor.
    pub removed_ahead: usize,
    /// Message log positions: the cursor and the end.
    pub cursor: u64,
    /// The message log's end position.
    pub end_position: u64,
}

/// The whole workload's figures (the JSON's `queue_memory`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueMemoryReport {
    /// Messages sent.
    pub messages: u64,
    /// Body bytes of each.
    pub body_bytes: usize,
    /// Sending and deleting threads.
    pub threads: usize,
    /// Durability policy.
    pub durability: String,
    /// Messages sent per second.
    pub send_messages_per_s: f64,
    /// Bytes the queue's files took after the fill.
    pub disk_bytes: u64,
    /// Memory after each phase.
    pub phases: Vec<MemoryPhase>,
}

/// The process's anonymous resident memory, bytes (0 where /proc is missing).
pub fn rss_anon_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// The queue's storage and registry under `dir`, and the RssAnon before the queues opened.
pub(crate) fn open(dir: &Path, durability: Durability) -> Result<(Storage, Queues, u64), String> {
    let config = StorageConfig {
        durability,
        ..StorageConfig::default()
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let storage =
        Storage::open_in(RealFs::shared(), config, dir).map_err(|e| format!("storage: {e}"))?;
    let baseline = rss_anon_bytes();
    let (queues, _) = Queues::open(storage.clone(), dir.join("queues"), QueuesConfig::default())
        .map_err(|e| format!("opening the queues: {e}"))?;
    Ok((storage, queues, baseline))
}

/// The workload's queue in `queues`, created if it is not there yet.
pub(crate) fn create(queues: &Queues) -> Result<std::sync::Arc<shardlog_queue::Queue>, String> {
    let name = QueueName::new(QUEUE).map_err(|e| e.to_string())?;
    queues
        .create_queue(&name, &AttributesUpdate::default(), Default::default())
        .map_err(|e| format!("creating the queue: {e}"))
}

/// Closes the queues (syncing them), then the storage.
pub(crate) fn close(storage: &Storage, queues: &Queues) -> Result<(), String> {
    queues
        .close()
        .map_err(|e| format!("closing the queues: {e}"))?;
    storage
        .shutdown()
        .map_err(|e| format!("storage shutdown: {e}"))
}

fn phase(name: &str, started: Instant, baseline: u64, entries: MemoryEntries) -> MemoryPhase {
    let rss = rss_anon_bytes();
    MemoryPhase {
        phase: name.to_string(),
        seconds: started.elapsed().as_secs_f64(),
        state_bytes: rss as i64 - baseline as i64,
        rss_anon_bytes: rss,
        tracked: entries.tracked,
        delayed: entries.delayed,
        removed_ahead: entries.removed_ahead,
        cursor: entries.cursor,
        end_position: entries.end_position,
    }
}

/// Creates the queue under `dir` and sends `settings.messages` messages; the
/// memory after the fill, the send rate and the disk used.
pub fn fill(dir: &Path, settings: &QueueMemorySettings) -> Result<(MemoryPhase, f64, u64), String> {
    let (storage, queues, baseline) = open(dir, settings.durability)?;
    let queue = create(&queues)?;
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let body = crate::workloads::payload(settings.body_bytes, 7);
    let outcome: Result<(), String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..settings.threads)
            .map(|_| {
                scope.spawn(|| loop {
                    let first = next.fetch_add(BATCH as u64, Ordering::Relaxed);
                    if first >= settings.messages {
                        return Ok(());
                    }
                    let count = (settings.messages - first).min(BATCH as u64) as usize;
                    let batch = vec![
                        SendRequest {
                            body: body.clone(),
                            ..SendRequest::default()
                        };
                        count
                    ];
                    for sent in queue.send_batch(batch).map_err(|e| format!("send: {e}"))? {
                        sent.map_err(|e| format!("send: {e}"))?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| "a sender panicked".to_string())?)
    });
    outcome?;
    let seconds = started.elapsed().as_secs_f64();
    let measured = phase("sent", started, baseline, queue.memory_entries());
    drop(queue);
    close(&storage, &queues)?;
    let disk = disk_bytes(&dir.join("queues"));
    Ok((measured, settings.messages as f64 / seconds.max(1e-9), disk))
}

/// Reopens the queue under `dir` (recovery) and measures; with `delete`, then
/// receives and deletes [`DELETE_PERCENT`] % of `messages` in shuffled windows
/// and measures again.
pub fn reopen(
    dir: &Path,
    settings: &QueueMemorySettings,
    delete: bool,
) -> Result<Vec<MemoryPhase>, String> {
    let started = Instant::now();
    let (storage, queues, baseline) = open(dir, settings.durability)?;
    let queue = queues.queue(QUEUE).map_err(|e| e.to_string())?;
    let mut phases = vec![phase(
        if delete {
            "restarted"
        } else {
            "restarted after deletes"
        },
        started,
        baseline,
        queue.memory_entries(),
    )];
    if delete {
        let started = Instant::now();
        let target = settings.messages * DELETE_PERCENT / 100;
        let deleted = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let outcome: Result<(), String> = std::thread::scope(|scope| {
            let reclaimer = scope.spawn(|| reclaim_until(&queue, &stop, RECLAIM_INTERVAL));
            let workers: Vec<_> = (0..settings.threads)
                .map(|seed| {
                    let (queues, deleted) = (&queues, &deleted);
                    // Small windows for small queues, so that a test's deletes
                    // leave most of the queue unread.
                    let window = (target / settings.threads as u64)
                        .clamp(BATCH as u64, (DELETE_WINDOW_ALL / settings.threads) as u64)
                        as usize;
                    scope
                        .spawn(move || delete_windows(queues, deleted, target, window, seed as u64))
                })
                .collect();
            let result = workers
                .into_iter()
                .try_for_each(|w| w.join().map_err(|_| "a deleter panicked".to_string())?);
            stop.store(true, Ordering::Relaxed);
            result.and(
                reclaimer
                    .join()
                    .map_err(|_| "the reclaimer panicked".to_string())?,
            )
        });
        outcome?;
        phases.push(phase(
            &format!("{DELETE_PERCENT} % received and deleted"),
            started,
            baseline,
            queue.memory_entries(),
        ));
    }
    drop(queue);
    close(&storage, &queues)?;
    Ok(phases)
}

/// Reclaims the queue every `interval` until `stop`, as the server does (every
/// [`RECLAIM_INTERVAL`]).
pub(crate) fn reclaim_until(
    queue: &shardlog_queue::Queue,
    stop: &AtomicBool,
    interval: Duration,
) -> Result<(), String> {
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if last.elapsed() >= interval {
            queue.reclaim().map_err(|e| format!("reclaim: {e}"))?;
            last = Instant::now();
        }
    }
    Ok(())
}

/// Receives windows of `window` messages and deletes each window in shuffled
/// order, until `deleted` reaches `target` or the queue has nothing visible.
fn delete_windows(
    queues: &Queues,
    deleted: &AtomicU64,
    target: u64,
    window: usize,
    seed: u64,
) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let request = ReceiveRequest {
        max_messages: BATCH as u32,
        visibility_timeout_s: Some(43_200),
        wait_time_s: Some(0),
        receive_request_attempt_id: None,
    };
    while deleted.load(Ordering::Relaxed) < target {
        let mut handles = Vec::with_capacity(window);
        while handles.len() < window {
            let received = queues
                .receive(QUEUE, &request)
                .map_err(|e| format!("receive: {e}"))?;
            if received.is_empty() {
                break;
            }
            handles.extend(received.into_iter().map(|m| m.receipt_handle));
        }
        if handles.is_empty() {
            return Ok(());
        }
        rng.shuffle(&mut handles);
        let queue = queues.queue(QUEUE).map_err(|e| e.to_string())?;
        for chunk in handles.chunks(BATCH) {
            for outcome in queue
                .delete_batch(chunk)
                .map_err(|e| format!("delete: {e}"))?
            {
                outcome.map_err(|e| format!("delete: {e}"))?;
            }
        }
        deleted.fetch_add(handles.len() as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Bytes of the files under `dir`.
pub fn disk_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => disk_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// The phase argument of the child process that reopens and deletes.
const PHASE_DELETE: &str = "reopen-delete";
/// The phase argument of the child process that only reopens.
const PHASE_REOPEN: &str = "reopen";
/// The stdout line prefix a child's phases follow, as JSON.
const CHILD_LINE: &str = "queue-memory-phases ";

/// The whole workload under `root`: the fill here, then each reopen in a child
/// process (this binary, `bench --queue-memory-phase ...`), so that what the fill
/// allocated is not counted after the restart. `durability` is the option's text.
pub fn run(
    settings: &QueueMemorySettings,
    root: &Path,
    durability: &str,
) -> Result<QueueMemoryReport, String> {
    let dir = root.join("queue-memory");
    println!(
        "queue-memory: sending {} messages of {} bytes ({} threads, durability {durability})",
        settings.messages, settings.body_bytes, settings.threads
    );
    let (sent, send_messages_per_s, disk_bytes) = fill(&dir, settings)?;
    let mut phases = vec![sent];
    for phase in [PHASE_DELETE, PHASE_REOPEN] {
        phases.extend(child(&dir, settings, durability, phase)?);
    }
    Ok(QueueMemoryReport {
        messages: settings.messages,
        body_bytes: settings.body_bytes,
        threads: settings.threads,
        durability: durability.to_string(),
        send_messages_per_s,
        disk_bytes,
        phases,
    })
}

fn child(
    dir: &Path,
    settings: &QueueMemorySettings,
    durability: &str,
    phase: &str,
) -> Result<Vec<MemoryPhase>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
    let output = std::process::Command::new(&exe)
        .arg("bench")
        .arg("--dir")
        .arg(dir)
        .args(["--workload", "queue-memory", "--durability", durability])
        .args(["--messages", &settings.messages.to_string()])
        .args(["--message-bytes", &settings.body_bytes.to_string()])
        .args(["--producers", &settings.threads.to_string()])
        .args(["--queue-memory-phase", phase])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("running {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix(CHILD_LINE));
    match line {
        Some(json) if output.status.success() => {
            serde_json::from_str(json).map_err(|e| format!("the {phase} phase's figures: {e}"))
        }
        _ => Err(format!(
            "the {phase} phase failed ({}): {}",
            output.status,
            stdout.trim()
        )),
    }
}

/// Runs one child phase (`--queue-memory-phase`) on `dir` and prints its figures.
pub fn run_phase(settings: &QueueMemorySettings, dir: &Path, phase: &str) -> Result<(), String> {
    let delete = match phase {
        PHASE_DELETE => true,
        PHASE_REOPEN => false,
        other => return Err(format!("unknown queue-memory phase '{other}'")),
    };
    let phases = reopen(dir, settings, delete)?;
    let json = serde_json::to_string(&phases).map_err(|e| e.to_string())?;
    println!("{CHILD_LINE}{json}");
    Ok(())
}

/// The report as text: a line of settings and a table of phases.
pub fn render(report: &QueueMemoryReport) -> String {
    let mib = |bytes: f64| bytes / f64::from(1u32 << 20);
    let mut out = format!(
        "queue-memory: {} messages of {} bytes, {} threads, durability {}: {:.0} messages/s sent, {:.1} MiB on disk\n",
        report.messages,
        report.body_bytes,
        report.threads,
        report.durability,
        report.send_messages_per_s,
        mib(report.disk_bytes as f64),
    );
    out.push_str(&format!(
        "{:<30} {:>9} {:>10} {:>12} {:>9} {:>8} {:>13} {:>12} {:>12}\n",
        "phase",
        "seconds",
        "state MiB",
        "RssAnon MiB",
        "tracked",
        "delayed",
        "removed ahead",
        "cursor",
        "end"
    ));
    for p in &report.phases {
        out.push_str(&format!(
            "{:<30} {:>9.1} {:>10.1} {:>12.1} {:>9} {:>8} {:>13} {:>12} {:>12}\n",
            p.phase,
            p.seconds,
            mib(p.state_bytes as f64),
            mib(p.rss_anon_bytes as f64),
            p.tracked,
            p.delayed,
            p.removed_ahead,
            p.cursor,
            p.end_position
        ));
    }
    out.push_str(
        "state MiB: RssAnon (heap, not page cache or mapped files) above the process's own with the storage open and no queue;\n\
         an upper bound (the allocator keeps some freed memory). Each restart is a fresh process.\n",
    );
    out
}
