//! A flush interrupted after its object became durable, whose source then loses
//! part of the range (retention or key compaction of a Kinesis stream between the
//! crash and the restart), is delivered again under the same key: the object the
//! interrupted flush wrote stands, and no second object holds its records.
//!
//! Before the flush's name was kept in the checkpoint, the redelivery named its
//! object after what it read back (the range's first arrival time and last
//! positions), so a shorter read wrote a second object with the records left:
//! the duplicates of the kill -9 torture's Kinesis-source delivery stream.

mod common;

use common::{delivered_lines, direct_put, files_under, wait_until, Switchable};
use shardlog_firehose::checkpoint::{CheckpointFile, Positions};
use shardlog_firehose::delivery::{Stop, StreamShared, Worker};
use shardlog_firehose::source::{Source, SourceRecord};
use shardlog_firehose::{Compression, Destinations, LocalDir, StreamMeta};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PARTITION: &str = "shardId-000000000000";

/// A source over a shared list of records that a test can shrink, as retention
/// shrinks a stream.
#[derive(Debug, Clone, Default)]
struct Shared {
    records: Arc<Mutex<Vec<SourceRecord>>>,
}

#[derive(Debug)]
struct ListSource {
    shared: Shared,
    after: Option<u128>,
}

impl Source for ListSource {
    fn seek(&mut self, delivered: &Positions) -> shardlog_firehose::Result<()> {
        self.after = delivered.get(PARTITION).copied();
        Ok(())
    }

    fn read(
        &mut self,
        records_max: usize,
        _bytes_max: usize,
        wait: Duration,
        out: &mut Vec<SourceRecord>,
    ) -> shardlog_firehose::Result<()> {
        let records = self.shared.records.lock().unwrap();
        let next: Vec<SourceRecord> = records
            .iter()
            .filter(|r| self.after.is_none_or(|after| r.position > after))
            .take(records_max)
            .cloned()
            .collect();
        drop(records);
        match next.last() {
            Some(last) => self.after = Some(last.position),
            // Nothing new: what a source does when it waits in vain.
            None => std::thread::park_timeout(wait),
        }
        out.extend(next);
        Ok(())
    }

    fn release(&mut self, _delivered: &Positions) -> shardlog_firehose::Result<()> {
        Ok(())
    }
}

/// Records 1..=count, one second apart, so that the object's time (the first
/// record's) changes when the first one goes.
fn records(count: u128) -> Vec<SourceRecord> {
    let partition: Arc<str> = Arc::from(PARTITION);
    (1..=count)
        .map(|position| SourceRecord {
            partition: Arc::clone(&partition),
            position,
            arrival_ms: 1_796_591_000_000 + position as u64 * 1_000,
            data: format!("record-{position}").into_bytes(),
        })
        .collect()
}

fn worker(
    dir: &Path,
    shared: &Shared,
    destination: Arc<dyn shardlog_firehose::Destination>,
) -> (Arc<StreamShared>, Worker) {
    let meta = StreamMeta {
        config: direct_put("orders", Compression::Uncompressed),
        version_id: 1,
        created_ms: 0,
        updated_ms: 0,
        tags: Default::default(),
        inferred_columns: None,
    };
    let stream = Arc::new(StreamShared::new(dir.to_path_buf(), meta));
    let source = ListSource {
        shared: shared.clone(),
        after: None,
    };
    let worker = Worker::new(
        Arc::clone(&stream),
        Box::new(source),
        Destinations::with_default(destination),
    )
    .unwrap();
    (stream, worker)
}

/// The interrupted flush's object stands after a redelivery that read back
/// fewer records, and every record is in exactly one object.
#[test]
fn redelivery_of_a_shrunk_range_writes_no_second_object() {
    let dir = tempfile::tempdir().unwrap();
    let stream_dir = dir.path().join("stream");
    std::fs::create_dir_all(&stream_dir).unwrap();
    let buckets = dir.path().join("buckets");
    let local: Arc<LocalDir> = Arc::new(LocalDir::new(&buckets));
    let shared = Shared::default();
    *shared.records.lock().unwrap() = records(5);

    // The first run writes the object, then never learns it (a crash before the
    // checkpoint moves), and stops.
    let crashing = Switchable::new(local.clone());
    crashing.write_then_fail.store(true, Ordering::SeqCst);
    let (stream, first) = worker(&stream_dir, &shared, crashing.clone());
    let running = std::thread::spawn(move || first.run());
    wait_until("the first object", || files_under(&buckets).len() == 1);
    stream.request_stop(Stop::Flush);
    assert!(running.join().unwrap().is_err(), "stopped while failing");
    let written = files_under(&buckets);
    let checkpoint = CheckpointFile::new(stream_dir.join("checkpoint.json"))
        .load()
        .unwrap();
    assert_eq!(
        checkpoint.pending,
        Some([(PARTITION.to_string(), 5)].into())
    );
    assert!(checkpoint.pending_name.is_some(), "{checkpoint:?}");

    // Retention takes the oldest record before the restart.
    shared.records.lock().unwrap().remove(0);
    let (stream, second) = worker(&stream_dir, &shared, local);
    let running = std::thread::spawn(move || second.run());
    wait_until("the redelivery", || {
        CheckpointFile::new(stream_dir.join("checkpoint.json"))
            .load()
            .unwrap()
            .pending
            .is_none()
    });
    stream.request_stop(Stop::Flush);
    running.join().unwrap().unwrap();

    assert_eq!(files_under(&buckets), written, "no second object");
    let mut lines = delivered_lines(&buckets);
    lines.sort();
    let expected: Vec<String> = (1..=5).map(|p| format!("record-{p}")).collect();
    assert_eq!(
        lines, expected,
        "each record exactly once, as first written"
    );
    let checkpoint = CheckpointFile::new(stream_dir.join("checkpoint.json"))
        .load()
        .unwrap();
    assert_eq!(checkpoint.delivered, [(PARTITION.to_string(), 5)].into());
}
