//! `shardlog verify` names the file and offset of damage and exits 3;
//! `shardlog repair` truncates a torn tail, says what it dropped, and verify
//! passes after.

mod cli_common;
use cli_common::{create_stream, damaged_range, lines, replay_all, segment_files, shardlog};
use std::io::Write;

const SEGMENT_HEADER_LEN: u64 = 64;

fn stream_with_records(dir: &str, count: u32, calls: u32) {
    create_stream(dir, "s", 1);
    for call in 0..calls {
        let records = (0..count).map(|i| format!("call {call} record {i}"));
        shardlog(
            &["put", "--data-dir", dir, "--stream", "s"],
            &lines(records),
        )
        .ok();
    }
}

/// Appends `torn` to the first segment of stream `s` (a write a crash tore);
/// returns the segment and its length before.
fn tear_tail(data_dir: &std::path::Path, torn: &[u8]) -> (std::path::PathBuf, u64) {
    let log = segment_files(data_dir, "s", "shardId-000000000000").remove(0);
    let good_len = std::fs::metadata(&log).unwrap().len();
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    file.write_all(torn).unwrap();
    (log, good_len)
}

/// A flipped payload byte: verify names the segment file and the damaged batch's
/// offset range, which holds the flipped byte, and exits 3.
#[test]
fn verify_names_file_and_offset_of_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    stream_with_records(d, 50, 3);
    shardlog(&["verify", "--data-dir", d], b"").ok();
    let log = segment_files(dir.path(), "s", "shardId-000000000000").remove(0);
    let mut bytes = std::fs::read(&log).unwrap();
    let flipped = SEGMENT_HEADER_LEN as usize + 100;
    bytes[flipped] ^= 0x40;
    std::fs::write(&log, &bytes).unwrap();

    let run = shardlog(&["verify", "--data-dir", d], b"");
    assert_eq!(run.code, 3, "{run:?}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("DAMAGE"))
        .expect("a DAMAGE line");
    assert!(line.contains(log.to_str().unwrap()), "{line}");
    assert!(
        line.contains(&format!("offset {SEGMENT_HEADER_LEN}:")),
        "{line}"
    );
    assert!(line.contains("checksum mismatch"), "{line}");
    let range = damaged_range(line);
    assert!(range.contains(&flipped), "{range:?} holds {flipped}");
    assert!(run.stderr.contains("damaged"), "{}", run.stderr);

    let json: serde_json::Value =
        serde_json::from_str(&shardlog(&["verify", "--data-dir", d, "--json"], b"").stdout)
            .unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["damage"][0]["offset"], SEGMENT_HEADER_LEN);
    assert_eq!(json["damage"][0]["file"], log.to_str().unwrap());

    // Batches follow the damage: repair refuses rather than drop acknowledged records.
    let run = shardlog(&["repair", "--data-dir", d], b"");
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("NOT REPAIRED"), "{run:?}");
}

/// A flipped byte in an index entry is named by the index file and the entry's offset.
#[test]
fn verify_names_a_damaged_index_entry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    stream_with_records(d, 2000, 2);
    let idx = segment_files(dir.path(), "s", "shardId-000000000000")
        .remove(0)
        .with_extension("idx");
    let mut bytes = std::fs::read(&idx).unwrap();
    assert!(bytes.len() >= 32 + 24, "at least one index entry");
    bytes[32 + 3] ^= 1;
    std::fs::write(&idx, &bytes).unwrap();
    let run = shardlog(&["verify", "--data-dir", d], b"");
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("DAMAGE {}: offset 32:", idx.display())),
        "{}",
        run.stdout
    );
    // An index is derived data: repair rebuilds it.
    let run = shardlog(&["repair", "--data-dir", d], b"").ok();
    assert!(run.stdout.contains("rebuilt"), "{run:?}");
    shardlog(&["verify", "--data-dir", d], b"").ok();
}

/// Garbage appended after the last batch (a torn write): verify flags it at the old
/// end of the file, repair cuts exactly it and says so, and every record remains.
#[test]
fn repair_truncates_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    stream_with_records(d, 100, 2);
    let (log, good_len) = tear_tail(dir.path(), b"SLBT this is a torn batch that never finished");

    let run = shardlog(&["verify", "--data-dir", d], b"");
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout.contains(&format!("offset {good_len}:")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("torn tail"), "{}", run.stdout);

    let run = shardlog(&["repair", "--data-dir", d], b"").ok();
    assert!(
        run.stdout.contains("dropped 45 bytes (1 batches"),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::metadata(&log).unwrap().len(), good_len);
    shardlog(&["verify", "--data-dir", d], b"").ok();
    let run = shardlog(&["repair", "--data-dir", d], b"").ok();
    assert!(run.stdout.contains("nothing to repair"), "{}", run.stdout);
    let replayed = replay_all(d, "s");
    assert_eq!(replayed.len(), 200);
}

/// A torn tail that an ordinary open cut (here a `put`) is not forgotten: verify
/// passes and shows the cut, with its segment file, offset and bytes.
#[test]
fn verify_shows_what_an_open_cut() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    stream_with_records(d, 10, 1);
    let torn = b"SLBT torn by a crash";
    let (log, good_len) = tear_tail(dir.path(), torn);
    shardlog(
        &["put", "--data-dir", d, "--stream", "s"],
        &lines(["after the cut".to_string()]),
    )
    .ok();

    let run = shardlog(&["verify", "--data-dir", d], b"").ok();
    let expected = format!(
        "CUT {}: offset {good_len}: {} bytes (1 batches) cut by recovery at",
        log.display(),
        torn.len()
    );
    assert!(run.stdout.contains(&expected), "{}", run.stdout);
    let run = shardlog(&["verify", "--data-dir", d, "--json"], b"").ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["ok"], true);
    let cut = &json["truncations"][0];
    assert_eq!(cut["file"], log.to_str().unwrap());
    assert_eq!(cut["offset"], good_len);
    assert_eq!(cut["bytes"], torn.len());
    assert_eq!(replay_all(d, "s").len(), 11);
}

/// The last batch cut short (a crash mid-write): repair drops that batch only.
#[test]
fn repair_drops_a_cut_last_batch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    stream_with_records(d, 10, 3);
    let log = segment_files(dir.path(), "s", "shardId-000000000000").remove(0);
    let len = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let run = shardlog(&["repair", "--data-dir", d, "--json"], b"").ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let action = report["repaired"][0]["action"].as_str().unwrap();
    assert!(
        action.starts_with("dropped ") && action.contains("(1 batches"),
        "{action}"
    );
    shardlog(&["verify", "--data-dir", d], b"").ok();
    let replayed = replay_all(d, "s");
    assert_eq!(replayed.len(), 20, "the two whole batches remain");
}

/// A damaged MANIFEST is reported by name; repair leaves it alone.
#[test]
fn verify_reports_a_damaged_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    stream_with_records(d, 5, 1);
    let manifest = dir.path().join("MANIFEST");
    let mut bytes = std::fs::read(&manifest).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x01;
    std::fs::write(&manifest, &bytes).unwrap();
    let run = shardlog(&["verify", "--data-dir", d], b"");
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("DAMAGE {}: offset 0:", manifest.display())),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("checksum mismatch"), "{}", run.stdout);
    let run = shardlog(&["repair", "--data-dir", d], b"");
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("move it aside"), "{run:?}");
    assert_eq!(
        std::fs::read(&manifest).unwrap(),
        bytes,
        "repair left it alone"
    );
}

/// Damage in the last batch of a shard that its index already names (so it was
/// synced and acknowledged) is not a torn tail: repair refuses to cut it.
#[test]
fn repair_keeps_a_damaged_batch_the_index_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    stream_with_records(d, 20, 1);
    let log = segment_files(dir.path(), "s", "shardId-000000000000").remove(0);
    let mut bytes = std::fs::read(&log).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&log, &bytes).unwrap();
    let run = shardlog(&["verify", "--data-dir", d], b"");
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("acknowledged data"), "{}", run.stdout);
    let run = shardlog(&["repair", "--data-dir", d], b"");
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("NOT REPAIRED"), "{}", run.stdout);
    assert_eq!(std::fs::read(&log).unwrap(), bytes, "nothing was cut");
}

/// The operator's case from issue 14: MANIFEST moved away. Every command refuses
/// the directory (naming `repair`) and deletes nothing; `repair` rebuilds the
/// MANIFEST from the shards' files, and every record replays again.
#[test]
fn moved_manifest_is_refused_then_rebuilt_by_repair() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    stream_with_records(d, 40, 2);
    let before = replay_all(d, "s");
    let log = segment_files(dir.path(), "s", "shardId-000000000000").remove(0);
    let size = std::fs::metadata(&log).unwrap().len();
    std::fs::rename(
        dir.path().join("MANIFEST"),
        dir.path().join("MANIFEST.away"),
    )
    .unwrap();

    let refused = shardlog(&["stream", "list", "--data-dir", d], b"");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("shardlog repair"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::metadata(&log).unwrap().len(),
        size,
        "nothing was cut"
    );

    let repaired = shardlog(&["repair", "--data-dir", d], b"");
    assert_eq!(repaired.code, 0, "{repaired:?}");
    assert!(
        repaired
            .stderr
            .contains("rebuilt MANIFEST entry for stream s"),
        "{}",
        repaired.stderr
    );
    assert_eq!(replay_all(d, "s"), before);
}
