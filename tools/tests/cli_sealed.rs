//! Data directories with sealed segments (written through the engine with small
//! segments): verify accepts them, inspect shows them sealed, replay crosses
//! segment boundaries, and damage inside a sealed segment is reported and never cut.

mod cli_common;
use cli_common::{damaged_range, json_lines, segment_files, shardlog};
use shardlog_engine::{Engine, EngineConfig, PutRecord};
use shardlog_segment::io::RealFs;

const RECORDS: usize = 3000;

/// Writes RECORDS records of 100 bytes into stream `s` (1 shard) with 64 KiB segments.
fn write_sealed_segments(dir: &std::path::Path) {
    let mut config = EngineConfig::new(dir);
    config.log.segment_bytes_max = 64 << 10;
    let engine = Engine::open(RealFs::shared(), config).unwrap();
    engine
        .create_stream("s", Some(1), Default::default())
        .unwrap();
    for chunk in 0..RECORDS / 100 {
        let payloads: Vec<Vec<u8>> = (0..100)
            .map(|i| format!("{:0100}", chunk * 100 + i).into_bytes())
            .collect();
        let records: Vec<PutRecord<'_>> = payloads
            .iter()
            .map(|data| PutRecord {
                partition_key: "k",
                data,
                explicit_hash_key: None,
            })
            .collect();
        let results = engine.put_records("s", &records).unwrap();
        assert!(results.iter().all(|r| r.is_ok()));
    }
    engine.shutdown().unwrap();
}

/// Sealed segments verify, inspect as sealed, and replay whole and in order.
#[test]
fn sealed_segments_verify_inspect_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    write_sealed_segments(dir.path());
    let d = dir.path().to_str().unwrap();
    let segments = segment_files(dir.path(), "s", "shardId-000000000000");
    assert!(segments.len() >= 3, "{segments:?}");

    let run = shardlog(&["verify", "--data-dir", d], b"").ok();
    assert!(
        run.stdout
            .contains(&format!("{RECORDS} records checked: ok")),
        "{}",
        run.stdout
    );
    let run = shardlog(&["inspect", d, "--json"], b"").ok();
    let inspected: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = inspected["segments"].as_array().unwrap();
    assert_eq!(rows.len(), segments.len());
    assert!(
        rows[..rows.len() - 1].iter().all(|r| r["sealed"] == true),
        "{rows:?}"
    );
    assert!(rows
        .iter()
        .all(|r| r["bytes_per_idx_entry"].as_u64().is_some()));
    let replayed = json_lines(
        &shardlog(
            &[
                "replay",
                "--data-dir",
                d,
                "--stream",
                "s",
                "--format",
                "jsonl",
            ],
            b"",
        )
        .ok()
        .stdout,
    );
    assert_eq!(replayed.len(), RECORDS);
    for (i, record) in replayed.iter().enumerate() {
        assert_eq!(cli_common::data_of(record), format!("{i:0100}"));
    }
}

/// A flipped byte in a sealed segment: verify names it; repair refuses, even with
/// --force (recovery will not cut a sealed segment), and changes nothing.
#[test]
fn damage_in_a_sealed_segment_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    write_sealed_segments(dir.path());
    let d = dir.path().to_str().unwrap();
    let sealed = segment_files(dir.path(), "s", "shardId-000000000000").remove(1);
    let mut bytes = std::fs::read(&sealed).unwrap();
    let flipped = bytes.len() / 2;
    bytes[flipped] ^= 0x10;
    std::fs::write(&sealed, &bytes).unwrap();

    let run = shardlog(&["verify", "--data-dir", d], b"");
    assert_eq!(run.code, 3, "{run:?}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("DAMAGE"))
        .unwrap();
    assert!(
        line.starts_with(&format!("DAMAGE {}: offset ", sealed.display())),
        "{line}"
    );
    let range = damaged_range(line);
    assert!(range.contains(&flipped), "{range:?} holds {flipped}");

    for args in [
        &["repair", "--data-dir", d][..],
        &["repair", "--data-dir", d, "--force"][..],
    ] {
        let run = shardlog(args, b"");
        assert_eq!(run.code, 3, "{args:?}: {run:?}");
    }
    assert_eq!(
        std::fs::read(&sealed).unwrap(),
        bytes,
        "repair left the segment alone"
    );
}
