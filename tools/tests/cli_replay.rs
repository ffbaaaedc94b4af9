//! `shardlog replay` follows lineage: from the middle of a closed parent shard
//! into its children, each record after the start exactly once, in order.

mod cli_common;
use cli_common::{
    create_stream, data_of, json_lines, lines, replay_all, shardlog, sorted, split_shard,
};
use std::collections::BTreeMap;

/// Puts `r<from>..r<to>` with partition keys that spread them over the shards.
fn put_range(dir: &str, from: u32, to: u32) {
    let records = (from..to).map(|i| format!("r{i:05}"));
    shardlog(
        &["put", "--data-dir", dir, "--stream", "s"],
        &lines(records),
    )
    .ok();
}

fn number(record: &serde_json::Value) -> u32 {
    data_of(record)[1..].parse().unwrap()
}

/// Replay from the middle of a parent that was split gives the rest of the parent,
/// then both children, every record once, each shard in order.
#[test]
fn replay_from_the_middle_of_a_closed_parent_into_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    create_stream(d, "s", 1);
    put_range(d, 0, 300);
    split_shard(d, "s", "shardId-000000000000");
    put_range(d, 300, 600);

    let all = replay_all(d, "s");
    assert_eq!(all.len(), 600, "every record, once");
    let parent: Vec<&serde_json::Value> = all
        .iter()
        .filter(|r| r["shard_id"] == "shardId-000000000000")
        .collect();
    assert_eq!(parent.len(), 300);
    let middle = parent[150];
    assert_eq!(number(middle), 150);
    for field in [
        "shard_id",
        "sequence_number",
        "arrival_ms",
        "partition_key",
        "data",
    ] {
        assert!(!middle[field].is_null(), "field {field} in {middle}");
    }

    let seq = middle["sequence_number"].as_str().unwrap();
    let run = shardlog(
        &[
            "replay",
            "--data-dir",
            d,
            "--stream",
            "s",
            "--from-seq",
            seq,
        ],
        b"",
    )
    .ok();
    let replayed = json_lines(&run.stdout);
    let numbers: Vec<u32> = replayed.iter().map(number).collect();
    // The rest of the parent first, in order.
    assert_eq!(numbers[..150], (150..300).collect::<Vec<_>>()[..]);
    assert!(replayed[..150]
        .iter()
        .all(|r| r["shard_id"] == "shardId-000000000000"));
    // Then the children: every later record exactly once, each child in order.
    let mut by_shard: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for record in &replayed[150..] {
        by_shard
            .entry(record["shard_id"].as_str().unwrap().to_string())
            .or_default()
            .push(number(record));
    }
    assert_eq!(
        by_shard.keys().collect::<Vec<_>>(),
        ["shardId-000000000001", "shardId-000000000002"]
    );
    for numbers in by_shard.values() {
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    }
    let rest = sorted(by_shard.into_values().flatten().collect::<Vec<u32>>());
    assert_eq!(rest, (300..600).collect::<Vec<_>>());
    assert!(
        run.stderr.contains("replayed 450 records"),
        "{}",
        run.stderr
    );
}

/// --to-seq stops its shard after that record and skips the shard's children;
/// --shard limits the replay to one shard and its descendants; raw output and
/// --output write the payloads to a file.
#[test]
fn replay_bounds_shard_choice_and_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    create_stream(d, "s", 2);
    put_range(d, 0, 200);
    split_shard(d, "s", "shardId-000000000001");
    put_range(d, 200, 400);
    let all = replay_all(d, "s");
    assert_eq!(all.len(), 400);

    let of_one: Vec<&serde_json::Value> = all
        .iter()
        .filter(|r| r["shard_id"] == "shardId-000000000001")
        .collect();
    let end = of_one[of_one.len() / 2];
    let run = shardlog(
        &[
            "replay",
            "--data-dir",
            d,
            "--stream",
            "s",
            "--to-seq",
            end["sequence_number"].as_str().unwrap(),
        ],
        b"",
    )
    .ok();
    let bounded = json_lines(&run.stdout);
    let from_one: Vec<&serde_json::Value> = bounded
        .iter()
        .filter(|r| r["shard_id"] == "shardId-000000000001")
        .collect();
    assert_eq!(
        from_one.len(),
        of_one.len() / 2 + 1,
        "shard 1 up to and including the end"
    );
    assert!(bounded.iter().all(
        |r| r["shard_id"] != "shardId-000000000002" && r["shard_id"] != "shardId-000000000003"
    ));
    assert_eq!(
        bounded
            .iter()
            .filter(|r| r["shard_id"] == "shardId-000000000000")
            .count(),
        all.iter()
            .filter(|r| r["shard_id"] == "shardId-000000000000")
            .count(),
        "the other root shard is read whole"
    );

    let out = dir.path().join("out.raw");
    let run = shardlog(
        &[
            "replay",
            "--data-dir",
            d,
            "--stream",
            "s",
            "--shard",
            "shardId-000000000001",
            "--format",
            "raw",
            "--output",
            out.to_str().unwrap(),
        ],
        b"",
    )
    .ok();
    assert!(run.stdout.is_empty());
    let text = std::fs::read_to_string(&out).unwrap();
    let expected = all
        .iter()
        .filter(|r| r["shard_id"] != "shardId-000000000000")
        .count();
    assert_eq!(text.lines().count(), expected, "shard 1 and its children");
    assert!(text.lines().all(|line| line.starts_with('r')));

    let last_ms = all
        .iter()
        .map(|r| r["arrival_ms"].as_u64().unwrap())
        .max()
        .unwrap();
    let run = shardlog(
        &[
            "replay",
            "--data-dir",
            d,
            "--stream",
            "s",
            "--from-time",
            &(last_ms + 1).to_string(),
        ],
        b"",
    )
    .ok();
    assert_eq!(run.stdout, "", "nothing arrived after the last record");
}

/// After a merge, replay and tail read both parents whole before the child.
#[test]
fn replay_and_tail_read_both_parents_of_a_merge_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    create_stream(d, "s", 2);
    put_range(d, 0, 200);
    shardlog(
        &[
            "stream",
            "merge",
            "s",
            "--shard",
            "shardId-000000000000",
            "--adjacent",
            "shardId-000000000001",
            "--data-dir",
            d,
        ],
        b"",
    )
    .ok();
    put_range(d, 200, 300);
    for command in ["replay", "tail"] {
        let mut args = vec![
            command,
            "--data-dir",
            d,
            "--stream",
            "s",
            "--format",
            "jsonl",
        ];
        if command == "tail" {
            args.extend(["--from", "trim-horizon"]);
        }
        let records = json_lines(&shardlog(&args, b"").ok().stdout);
        let shards: Vec<&str> = records
            .iter()
            .map(|r| r["shard_id"].as_str().unwrap())
            .collect();
        let child_from = shards
            .iter()
            .position(|s| *s == "shardId-000000000002")
            .unwrap();
        assert!(
            shards[..child_from]
                .iter()
                .all(|s| *s != "shardId-000000000002"),
            "{command}"
        );
        assert!(
            shards[child_from..]
                .iter()
                .all(|s| *s == "shardId-000000000002"),
            "{command}: the child comes after both parents"
        );
        let numbers: Vec<u32> = records.iter().map(number).collect();
        assert_eq!(
            numbers[child_from..],
            (200..300).collect::<Vec<_>>()[..],
            "{command}"
        );
        assert_eq!(
            sorted(numbers[..child_from].to_vec()),
            (0..200).collect::<Vec<_>>(),
            "{command}"
        );
    }
}
