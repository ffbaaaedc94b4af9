//! `shardlog inspect`: what a data directory (streams and queues) or a segment file holds.

use super::output::{print_json, CliError, CliResult};
use super::queue_scan::{scan_queues, QueueScan};
use super::scan::{scan_segment, scan_shard, shard_dirs, SegmentScan};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Show segments, batches, sequence and time ranges, index density and sizes.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// A data directory, or one segment file (`<first-position>.log`).
    path: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `shardlog inspect`.
pub fn run(args: InspectArgs) -> CliResult {
    let (rows, queues) = if args.path.is_file() {
        let scan = scan_segment(&args.path, true);
        (vec![(String::new(), String::new(), scan)], Vec::new())
    } else {
        let _lock = super::verify::lock_if_free(&args.path)?;
        let mut rows = Vec::new();
        for shard in shard_dirs(&args.path).map_err(CliError::failed)? {
            for scan in scan_shard(&shard.path).map_err(CliError::failed)? {
                rows.push((shard.stream.clone(), shard.shard.clone(), scan));
            }
        }
        // The queues' MANIFEST and stray directories are verify's to report.
        (rows, scan_queues(&args.path).0)
    };
    if args.json {
        let segments: Vec<Value> = rows
            .iter()
            .map(|(stream, shard, scan)| segment_json(stream, shard, scan))
            .collect();
        let queues: Vec<Value> = queues.iter().map(queue_json).collect();
        return print_json(&json!({ "segments": segments, "queues": queues }));
    }
    crate::outln!(
        "{:<16} {:<21} {:>12} {:>12} {:>9} {:>10} {:>12} {:>9} {:<6} {:<49} file",
        "stream",
        "shard",
        "first-pos",
        "end-pos",
        "batches",
        "records",
        "bytes",
        "B/entry",
        "state",
        "arrival (ms)"
    )?;
    let mut damaged = 0;
    for (stream, shard, scan) in &rows {
        let arrival = scan
            .arrival_ms
            .map_or("-".to_string(), |(first, last)| format!("{first}..{last}"));
        crate::outln!(
            "{:<16} {:<21} {:>12} {:>12} {:>9} {:>10} {:>12} {:>9} {:<6} {:<49} {}",
            stream,
            shard,
            scan.base_position,
            scan.end_position,
            scan.batches,
            scan.records,
            scan.file_bytes,
            density(scan).map_or("-".to_string(), |d| d.to_string()),
            state(scan),
            arrival,
            scan.path.display()
        )?;
        damaged += scan.damage.len();
    }
    let bytes: u64 = rows.iter().map(|(_, _, s)| s.file_bytes).sum();
    let records: u64 = rows.iter().map(|(_, _, s)| s.records).sum();
    crate::outln!("{} segments, {records} records, {bytes} bytes", rows.len())?;
    for queue in &queues {
        crate::outln!("{}", queue_text(queue))?;
        damaged += queue.all_damage().count();
    }
    if damaged > 0 {
        crate::outln!("{damaged} problems found: run `shardlog verify` for details")?;
    }
    Ok(())
}

/// A queue's counts and its segments, for people.
fn queue_text(queue: &QueueScan) -> String {
    let counts = match &queue.summary {
        Some(s) => {
            let messages = queue.message_count();
            let unread = messages.saturating_sub(s.removed + s.received + s.delayed);
            format!(
                "{messages} messages retained: {} removed, {} received ({} in flight), {} delayed, {unread} not yet received",
                s.removed, s.received, s.in_flight, s.delayed
            )
        }
        None => "state log does not replay".to_string(),
    };
    let mut text = format!("queue {} ({}): {counts}", queue.name, queue.dir.display());
    for (log, scans) in [("messages", &queue.messages), ("state", &queue.state)] {
        for scan in scans {
            text.push_str(&format!(
                "\n  {log:<8} {:>12} {:>12} {:>9} {:>10} {:>12} {:<6} {}",
                scan.base_position,
                scan.end_position,
                scan.batches,
                scan.records,
                scan.file_bytes,
                state(scan),
                scan.path.display()
            ));
        }
    }
    text
}

fn queue_json(queue: &QueueScan) -> Value {
    let segments = |scans: &[SegmentScan], log: &str| -> Vec<Value> {
        scans
            .iter()
            .map(|scan| segment_json(&queue.name, log, scan))
            .collect()
    };
    json!({
        "queue": queue.name,
        "dir": queue.dir.display().to_string(),
        "messages_retained": queue.message_count(),
        "removed": queue.summary.map(|s| s.removed),
        "received": queue.summary.map(|s| s.received),
        "in_flight": queue.summary.map(|s| s.in_flight),
        "delayed": queue.summary.map(|s| s.delayed),
        "message_segments": segments(&queue.messages, "messages"),
        "state_segments": segments(&queue.state, "state"),
        "problems": queue.all_damage().count(),
    })
}

/// Bytes of batches per position-index entry.
fn density(scan: &SegmentScan) -> Option<u64> {
    (scan.index_entries.0 > 0).then(|| scan.batch_bytes / scan.index_entries.0 as u64)
}

fn state(scan: &SegmentScan) -> &'static str {
    match (scan.sealed, scan.compacted) {
        (_, true) => "compac",
        (true, false) => "sealed",
        (false, false) => "active",
    }
}

fn segment_json(stream: &str, shard: &str, scan: &SegmentScan) -> Value {
    json!({
        "stream": stream,
        "shard": shard,
        "file": scan.path.display().to_string(),
        "first_position": scan.base_position,
        "end_position": scan.end_position,
        "batches": scan.batches,
        "records": scan.records,
        "file_bytes": scan.file_bytes,
        "batch_bytes": scan.batch_bytes,
        "first_arrival_ms": scan.arrival_ms.map(|(first, _)| first),
        "last_arrival_ms": scan.arrival_ms.map(|(_, last)| last),
        "created_ms": scan.created_ms,
        "sealed": scan.sealed,
        "compacted": scan.compacted,
        "idx_entries": scan.index_entries.0,
        "tix_entries": scan.index_entries.1,
        "bytes_per_idx_entry": density(scan),
        "problems": scan.damage.len(),
    })
}
