//! The Kinesis-speaking commands against a real `shardlog serve` (--url), tail
//! following a stream through a split, and offline commands refusing a data
//! directory the server holds.

mod cli_common;
mod common;
use cli_common::{data_of, json_lines, lines, shardlog, sorted};
use common::serve;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Stream admin and put through the server; tail reads every record of every
/// shard, parents before children, through a split.
#[test]
fn admin_put_and_tail_through_a_split() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let url = served.url.as_str();
    shardlog(
        &["stream", "create", "s", "--shards", "1", "--url", url],
        b"",
    )
    .ok();
    let first = lines((0..100).map(|i| format!("a{i}")));
    shardlog(&["put", "--url", url, "--stream", "s"], &first).ok();
    shardlog(
        &[
            "stream",
            "split",
            "s",
            "--shard",
            "shardId-000000000000",
            "--url",
            url,
        ],
        b"",
    )
    .ok();
    let second = lines((0..100).map(|i| format!("b{i}")));
    shardlog(&["put", "--url", url, "--stream", "s"], &second).ok();
    let run = shardlog(&["stream", "describe", "s", "--url", url], b"").ok();
    assert!(run.stdout.contains("open shards 2"), "{}", run.stdout);

    let run = shardlog(
        &[
            "tail",
            "--url",
            url,
            "--stream",
            "s",
            "--from",
            "trim-horizon",
            "--format",
            "jsonl",
            "--no-follow",
        ],
        b"",
    )
    .ok();
    let records = json_lines(&run.stdout);
    assert_eq!(records.len(), 200);
    let data: Vec<String> = records.iter().map(data_of).collect();
    assert_eq!(
        data[..100],
        (0..100).map(|i| format!("a{i}")).collect::<Vec<_>>()[..],
        "the parent first, in order"
    );
    assert_eq!(
        sorted(data[100..].to_vec()),
        sorted((0..100).map(|i| format!("b{i}")).collect())
    );
}

/// tail -f: a follower started before new records arrive prints them and stops
/// at --max-records.
#[test]
fn tail_follows_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let url = served.url.as_str();
    shardlog(
        &["stream", "create", "s", "--shards", "2", "--url", url],
        b"",
    )
    .ok();
    shardlog(
        &["put", "--url", url, "--stream", "s"],
        &lines((0..5).map(|i| format!("old{i}"))),
    )
    .ok();
    let mut tail = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args([
            "tail",
            "--url",
            url,
            "--stream",
            "s",
            "--from",
            "trim-horizon",
            "--max-records",
            "15",
            "--poll-ms",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(tail.stdout.take().unwrap());
    let mut seen = Vec::new();
    // The old records show the follower is reading before the new ones are put.
    for _ in 0..5 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        seen.push(line.trim().to_string());
    }
    shardlog(
        &["put", "--url", url, "--stream", "s"],
        &lines((0..10).map(|i| format!("new{i}"))),
    )
    .ok();
    for line in reader.lines() {
        seen.push(line.unwrap());
    }
    let status = tail.wait().unwrap();
    assert!(status.success());
    let expected = (0..5)
        .map(|i| format!("old{i}"))
        .chain((0..10).map(|i| format!("new{i}")));
    assert_eq!(sorted(seen), sorted(expected.collect()));
}

/// While a server holds the data directory, offline commands that write refuse it
/// with a clear message; verify still reads it.
#[test]
fn offline_commands_refuse_a_served_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    shardlog(&["stream", "create", "s", "--url", &served.url], b"").ok();
    let d = dir.path().to_str().unwrap();
    for args in [
        &["stream", "list", "--data-dir", d][..],
        &["replay", "--data-dir", d, "--stream", "s"][..],
        &["repair", "--data-dir", d][..],
    ] {
        let run = shardlog(args, b"");
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("in use by another shardlog process"),
            "{args:?}: {}",
            run.stderr
        );
    }
    let run = shardlog(&["verify", "--data-dir", d], b"").ok();
    assert!(
        run.stderr.contains("reading alongside it"),
        "{}",
        run.stderr
    );
    let run = shardlog(&["stream", "describe", "nope", "--url", &served.url], b"");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("ResourceNotFoundException"),
        "{}",
        run.stderr
    );
}
