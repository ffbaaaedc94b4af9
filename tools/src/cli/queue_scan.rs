//! Read-only scans of a data directory's queues (`queues/`), for `inspect` and
//! `verify`: each queue's message log and state log are segment logs, checked
//! like a shard's (every batch's checksum, every index entry), and the state log
//! is replayed in memory (nothing is written) to count the messages removed,
//! received and in flight. See queue/FORMAT.md for the layout.

use super::scan::{scan_shard, Damage, SegmentScan};
use shardlog_segment::format::SEGMENT_HEADER_LEN;
use shardlog_segment::BatchView;
use std::path::{Path, PathBuf};

/// One queue as the scan found it.
#[derive(Debug)]
pub struct QueueScan {
    /// The queue's name.
    pub name: String,
    /// Its directory, `queues/<id>-<name>`.
    pub dir: PathBuf,
    /// Message log segments.
    pub messages: Vec<SegmentScan>,
    /// State log segments.
    pub state: Vec<SegmentScan>,
    /// The replayed state; `None` if the state log does not replay (see `damage`).
    pub summary: Option<shardlog_queue::StateSummary>,
    /// Problems beyond the segments': the MANIFEST, a missing directory, a state
    /// log that does not replay.
    pub damage: Vec<Damage>,
}

impl QueueScan {
    /// Messages the message log retains.
    pub fn message_count(&self) -> u64 {
        self.messages.iter().map(|s| s.records).sum()
    }

    /// Every problem: the segments' and the queue's own.
    pub fn all_damage(&self) -> impl Iterator<Item = &Damage> {
        self.messages
            .iter()
            .chain(&self.state)
            .flat_map(|s| &s.damage)
            .chain(&self.damage)
    }
}

/// Every queue the queues' MANIFEST lists, scanned; queue directories it does not
/// list are returned as notes. No `queues/` directory: no queues.
pub fn scan_queues(data_dir: &Path) -> (Vec<QueueScan>, Vec<Damage>, Vec<String>) {
    let root = data_dir.join("queues");
    let (listed, notes) = match listed(&root, "queue") {
        Ok(Some(listed)) => listed,
        Ok(None) => return (Vec::new(), Vec::new(), Vec::new()),
        Err(damage) => return (Vec::new(), vec![damage], Vec::new()),
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let scans = listed
        .iter()
        .map(|(id, name)| scan_queue(&root.join(format!("{id}-{name}")), name, now_ms))
        .collect();
    (scans, Vec::new(), notes)
}

/// The `(id, name)` entries of a MANIFEST, and notes on directories it does not list.
pub type Listing = (Vec<(u64, String)>, Vec<String>);

/// What a MANIFEST of `<kind>s` (queues, topics) in `root` lists, as `(id,
/// name)` of each `<id>-<name>` directory, and a note for each directory it
/// does not list. `Ok(None)`: no MANIFEST, nothing there; `Err`: the MANIFEST
/// does not read.
pub fn listed(root: &Path, kind: &str) -> Result<Option<Listing>, Damage> {
    let manifest_path = root.join("MANIFEST");
    if !manifest_path.exists() {
        return Ok(None);
    }
    let listed = read_manifest(&manifest_path, kind)
        .map_err(|problem| Damage::of_file(manifest_path, problem))?;
    let known: Vec<String> = listed
        .iter()
        .map(|(id, name)| format!("{id}-{name}"))
        .collect();
    let notes = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| !known.contains(name))
                .map(|name| {
                    format!(
                        "{}: a {kind} directory the MANIFEST does not list",
                        root.join(name).display()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some((listed, notes)))
}

/// `(id, name)` of every entry of a MANIFEST of `<kind>s`.
fn read_manifest(path: &Path, kind: &str) -> Result<Vec<(u64, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("the {kind}s' MANIFEST is not JSON: {e}"))?;
    let entries = json[format!("{kind}s")]
        .as_array()
        .ok_or_else(|| format!("the {kind}s' MANIFEST has no {kind}s list"))?;
    entries
        .iter()
        .map(
            |entry| match (entry["id"].as_u64(), entry["name"].as_str()) {
                (Some(id), Some(name)) => Ok((id, name.to_string())),
                _ => Err(format!(
                    "the {kind}s' MANIFEST has a {kind} without id and name: {entry}"
                )),
            },
        )
        .collect()
}

fn scan_queue(dir: &Path, name: &str, now_ms: u64) -> QueueScan {
    let mut scan = QueueScan {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        messages: Vec::new(),
        state: Vec::new(),
        summary: None,
        damage: Vec::new(),
    };
    let problem = Damage::of_file;
    for (log, segments) in [("messages", &mut scan.messages), ("state", &mut scan.state)] {
        let log_dir = dir.join(log);
        if !log_dir.is_dir() {
            let text = format!("the MANIFEST lists queue {name}, whose {log} log is missing");
            scan.damage.push(problem(log_dir, text));
            continue;
        }
        match scan_shard(&log_dir) {
            Ok(found) => *segments = found,
            Err(error) => scan.damage.push(problem(log_dir, error)),
        }
    }
    let first_position = scan.messages.first().map_or(0, |s| s.base_position);
    let mut records = Vec::new();
    for segment in &scan.state {
        records.extend(valid_records(&segment.path));
    }
    match shardlog_queue::replay_state(first_position, records.iter().map(Vec::as_slice), now_ms) {
        Ok(summary) => scan.summary = Some(summary),
        Err(reason) => {
            let text = format!("the state log does not replay: {reason}");
            scan.damage.push(problem(dir.join("state"), text));
        }
    }
    scan
}

/// The records of a segment's valid batches, up to the first invalid one (which
/// the segment scan reports).
fn valid_records(path: &Path) -> Vec<Vec<u8>> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let mut records = Vec::new();
    let mut offset = SEGMENT_HEADER_LEN;
    while offset < bytes.len() {
        let Ok(view) = BatchView::parse(&bytes[offset..]) else {
            break;
        };
        records.extend(view.records().map(|record| record.data.to_vec()));
        offset += view.header().batch_len;
    }
    records
}
