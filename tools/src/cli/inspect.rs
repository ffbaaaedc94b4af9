//! `shardlog inspect`: what a data directory or a segment file holds.

use super::output::{print_json, CliError, CliResult};
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
    let rows: Vec<(String, String, SegmentScan)> = if args.path.is_file() {
        vec![(String::new(), String::new(), scan_segment(&args.path, true))]
    } else {
        let _lock = super::verify::lock_if_free(&args.path)?;
        let mut rows = Vec::new();
        for shard in shard_dirs(&args.path).map_err(CliError::failed)? {
            for scan in scan_shard(&shard.path).map_err(CliError::failed)? {
                rows.push((shard.stream.clone(), shard.shard.clone(), scan));
            }
        }
        rows
    };
    if args.json {
        let segments: Vec<Value> = rows
            .iter()
            .map(|(stream, shard, scan)| segment_json(stream, shard, scan))
            .collect();
        return print_json(&json!({ "segments": segments }));
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
    if damaged > 0 {
        crate::outln!("{damaged} problems found: run `shardlog verify` for details")?;
    }
    Ok(())
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
