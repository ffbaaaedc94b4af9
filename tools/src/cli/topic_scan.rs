//! Read-only scans of a data directory's topics (`topics/`), for `verify`: each
//! topic's log is a segment log, checked like a shard's, and each delivery
//! position file must read. A topic failing either is one the server
//! quarantines at startup.

use super::queue_scan::listed;
use super::scan::{scan_shard, Damage, SegmentScan};
use std::path::Path;

/// One topic as the scan found it.
#[derive(Debug)]
pub struct TopicScan {
    /// Its log's segments.
    pub segments: Vec<SegmentScan>,
    /// Problems beyond the segments': a missing log, an unreadable position.
    pub damage: Vec<Damage>,
}

/// Every topic the topics' MANIFEST lists, scanned; topic directories it does
/// not list are returned as notes. No `topics/` MANIFEST: no topics.
pub fn scan_topics(data_dir: &Path) -> (Vec<TopicScan>, Vec<Damage>, Vec<String>) {
    let root = data_dir.join("topics");
    match listed(&root, "topic") {
        Ok(Some((listed, notes))) => {
            let scans = listed
                .iter()
                .map(|(id, name)| scan_topic(&root.join(format!("{id}-{name}")), name))
                .collect();
            (scans, Vec::new(), notes)
        }
        Ok(None) => (Vec::new(), Vec::new(), Vec::new()),
        Err(damage) => (Vec::new(), vec![damage], Vec::new()),
    }
}

fn scan_topic(dir: &Path, name: &str) -> TopicScan {
    let mut scan = TopicScan {
        segments: Vec::new(),
        damage: Vec::new(),
    };
    let problem = Damage::of_file;
    let log = dir.join("log");
    if !log.is_dir() {
        let text = format!("the MANIFEST lists topic {name}, whose log is missing");
        scan.damage.push(problem(log, text));
    } else {
        match scan_shard(&log) {
            Ok(found) => scan.segments = found,
            Err(error) => scan.damage.push(problem(log, error)),
        }
    }
    // A topic without confirmed subscriptions has no positions directory.
    let Ok(entries) = std::fs::read_dir(dir.join("positions")) else {
        return scan;
    };
    for path in entries.flatten().map(|entry| entry.path()) {
        // A `.tmp` file is an atomic replace a crash interrupted; it is never read.
        if path.extension().is_some_and(|e| e == "tmp") {
            continue;
        }
        let read = std::fs::read(&path).map_err(|e| format!("cannot read: {e}"));
        // The queue subscriptions' positions are stored together, the others'
        // one file each.
        let together = path.file_name() == Some(shardlog_topic::QUEUE_POSITIONS_FILE.as_ref());
        let (parsed, what, verb) = match together {
            true => (
                read.and_then(|bytes| shardlog_topic::parse_queue_positions(&bytes).map(drop)),
                "the queue subscriptions' delivery positions",
                "do",
            ),
            false => (
                read.and_then(|bytes| shardlog_topic::parse_position(&bytes).map(drop)),
                "the delivery position",
                "does",
            ),
        };
        if let Err(reason) = parsed {
            let text = format!("{what} of topic {name} {verb} not read: {reason}");
            scan.damage.push(problem(path, text));
        }
    }
    scan
}
