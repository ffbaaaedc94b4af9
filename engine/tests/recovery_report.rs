//! Issue 14, item 7: a cut at open is never silent. The engine's open report names
//! the stream, shard, segment file, offset and bytes of every cut, and each one is
//! logged as a warning with the same facts.

use shardlog_engine::{Engine, EngineConfig, IteratorStart, PutRecord, ShardId};
use shardlog_segment::io::{write_all_at, FileSystem, MemFs, OpenOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const DATA: &str = "/d";

fn config() -> EngineConfig {
    let mut config = EngineConfig::new(DATA);
    config.retention_check_interval_ms = 0;
    config
}

/// The active segment of shard 0 of `stream`.
fn active_segment(fs: &Arc<dyn FileSystem>, engine: &Engine, stream: &str) -> PathBuf {
    let created_ms = engine
        .describe_stream(stream, 100, None)
        .unwrap()
        .created_ms;
    let dir = Path::new(DATA)
        .join("streams")
        .join(stream)
        .join(created_ms.to_string())
        .join("shardId-000000000000");
    let mut logs: Vec<String> = fs
        .list_dir(&dir)
        .unwrap()
        .into_iter()
        .filter(|name| name.ends_with(".log"))
        .collect();
    logs.sort();
    dir.join(logs.pop().expect("a segment"))
}

/// A writer the log lines go to, readable by the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Garbage after the last batch (a torn write) is cut at open; the open report
/// and a warning name the stream, the shard, the segment file, the offset and the
/// bytes cut, and the records acknowledged before it remain.
#[test]
fn a_torn_tail_is_reported_and_logged() {
    let mem = MemFs::new();
    let fs: Arc<dyn FileSystem> = mem.clone();
    let engine = Engine::open(Arc::clone(&fs), config()).unwrap();
    engine
        .create_stream("orders", Some(1), BTreeMap::new())
        .unwrap();
    for key in ["a", "b", "c"] {
        let record = PutRecord {
            partition_key: key,
            data: key.as_bytes(),
            explicit_hash_key: None,
        };
        engine.put_records("orders", &[record]).unwrap();
    }
    let segment = active_segment(&fs, &engine, "orders");
    engine.shutdown().unwrap();
    drop(engine);
    // After shutdown: an active segment runs ahead of its batches in preallocated
    // zeros, which closing cuts.
    let good_len = shardlog_segment::io::read_file(fs.as_ref(), &segment)
        .unwrap()
        .len() as u64;
    let torn = b"SLBT torn by a crash";
    let file = fs.open(&segment, OpenOptions::WRITE).unwrap();
    write_all_at(file.as_ref(), torn, good_len).unwrap();
    file.sync_data().unwrap();
    drop(file);

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let engine = tracing::subscriber::with_default(subscriber, || {
        Engine::open(Arc::clone(&fs), config()).unwrap()
    });
    let report = engine.open_report();
    assert_eq!(report.recoveries.len(), 1, "{report:?}");
    let recovery = &report.recoveries[0];
    assert_eq!(
        (recovery.stream.as_str(), recovery.shard_index),
        ("orders", 0)
    );
    let cuts = &recovery.report.truncations;
    assert_eq!(cuts.len(), 1, "{cuts:?}");
    assert_eq!(cuts[0].segment, segment);
    assert_eq!(
        (cuts[0].offset, cuts[0].bytes),
        (good_len, torn.len() as u64)
    );

    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = logged
        .lines()
        .find(|line| line.contains("recovery cut"))
        .unwrap_or_else(|| panic!("no warning logged: {logged}"));
    assert!(line.contains("WARN"), "{line}");
    for fact in [
        "stream=\"orders\"".to_string(),
        "shard=shardId-000000000000".to_string(),
        format!("segment={}", segment.display()),
        format!("offset={good_len}"),
        format!("bytes={}", torn.len()),
    ] {
        assert!(line.contains(&fact), "{fact} missing from {line}");
    }
    let iterator = engine
        .get_shard_iterator("orders", ShardId(0), IteratorStart::TrimHorizon)
        .unwrap();
    let page = engine.get_records(&iterator, 100).unwrap();
    let data: Vec<&[u8]> = page.records.iter().map(|r| &r.data[..]).collect();
    assert_eq!(data, [&b"a"[..], b"b", b"c"]);
    engine.shutdown().unwrap();
}
