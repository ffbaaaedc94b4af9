//! Stream administration, put, tail and inspect on a data directory offline,
//! shell completions, and clear errors (exit code and message) for bad arguments.

mod cli_common;
use cli_common::{create_stream, data_of, json_lines, lines, segment_files, shardlog, sorted};

/// create, list, describe, split, merge, scale and delete, with text and --json output.
#[test]
fn stream_admin_offline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let run = shardlog(
        &[
            "stream",
            "create",
            "orders",
            "--shards",
            "2",
            "--data-dir",
            d,
        ],
        b"",
    )
    .ok();
    assert_eq!(run.stdout.trim(), "created stream orders with 2 shards");
    shardlog(&["stream", "create", "clicks", "--data-dir", d], b"").ok();
    let run = shardlog(&["stream", "list", "--data-dir", d], b"").ok();
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), ["clicks", "orders"]);

    shardlog(
        &[
            "stream",
            "split",
            "orders",
            "--shard",
            "shardId-000000000000",
            "--data-dir",
            d,
        ],
        b"",
    )
    .ok();
    let run = shardlog(
        &["stream", "describe", "orders", "--data-dir", d, "--json"],
        b"",
    )
    .ok();
    let described: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let shards = described["Shards"].as_array().unwrap();
    assert_eq!(shards.len(), 4);
    assert_eq!(described["StreamDescriptionSummary"]["OpenShardCount"], 3);
    assert_eq!(shards[2]["ParentShardId"], "shardId-000000000000");

    let run = shardlog(
        &[
            "stream",
            "merge",
            "orders",
            "--shard",
            "shardId-000000000002",
            "--adjacent",
            "shardId-000000000003",
            "--data-dir",
            d,
        ],
        b"",
    )
    .ok();
    assert!(run.stdout.contains("merged"), "{run:?}");
    let run = shardlog(&["stream", "describe", "orders", "--data-dir", d], b"").ok();
    assert!(run.stdout.contains("open shards 2"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("shardId-000000000002,shardId-000000000003"),
        "merge child lists both parents: {}",
        run.stdout
    );

    shardlog(
        &["stream", "scale", "clicks", "--count", "2", "--data-dir", d],
        b"",
    )
    .ok();
    let run = shardlog(&["stream", "describe", "clicks", "--data-dir", d], b"").ok();
    assert!(run.stdout.contains("open shards 2"), "{}", run.stdout);

    shardlog(&["stream", "delete", "clicks", "--data-dir", d], b"").ok();
    let run = shardlog(&["stream", "list", "--data-dir", d], b"").ok();
    assert_eq!(run.stdout.trim(), "orders");
}

/// put reads JSON lines with partition keys and text or base64 data; tail on a data
/// directory prints what is stored, all shards, and stops; inspect shows the segments.
#[test]
fn put_jsonl_tail_and_inspect_offline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    create_stream(d, "s", 2);
    let input = b"{\"partition_key\":\"a\",\"data\":\"hello\"}\n\n{\"partition_key\":\"b\",\"data_base64\":\"AAEC\"}\n{\"data\":\"no key\"}\n";
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, input).unwrap();
    let run = shardlog(
        &[
            "put",
            "--data-dir",
            d,
            "--stream",
            "s",
            "--input",
            "jsonl",
            "--json",
            file.to_str().unwrap(),
        ],
        b"",
    )
    .ok();
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(summary["records"], 3);

    let run = shardlog(
        &[
            "tail",
            "--data-dir",
            d,
            "--stream",
            "s",
            "--from",
            "trim-horizon",
            "--format",
            "jsonl",
        ],
        b"",
    )
    .ok();
    let records = json_lines(&run.stdout);
    assert_eq!(records.len(), 3);
    let hello = records.iter().find(|r| r["partition_key"] == "a").unwrap();
    assert_eq!(data_of(hello), "hello");
    let binary = records.iter().find(|r| r["partition_key"] == "b").unwrap();
    assert_eq!(binary["data"], "AAEC");
    let run = shardlog(
        &[
            "tail",
            "--data-dir",
            d,
            "--stream",
            "s",
            "--from",
            "trim-horizon",
            "--format",
            "hex",
        ],
        b"",
    )
    .ok();
    assert!(run.stdout.lines().any(|l| l == "000102"), "{}", run.stdout);

    let run = shardlog(&["inspect", d], b"").ok();
    assert!(
        run.stdout.contains("2 segments, 3 records"),
        "{}",
        run.stdout
    );
    let run = shardlog(&["inspect", d, "--json"], b"").ok();
    let inspected: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let records: u64 = inspected["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["records"].as_u64().unwrap())
        .sum();
    assert_eq!(records, 3);
    let segment = segment_files(dir.path(), "s", "shardId-000000000000").remove(0);
    let run = shardlog(&["inspect", segment.to_str().unwrap(), "--json"], b"").ok();
    let one: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(one["segments"].as_array().unwrap().len(), 1);
    assert_eq!(one["segments"][0]["first_position"], 0);
}

/// A large lines input is split into several PutRecords calls and all of it lands.
#[test]
fn put_many_lines_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    create_stream(d, "s", 3);
    let input = lines((0..5000).map(|i| format!("line {i}")));
    let run = shardlog(&["put", "--data-dir", d, "--stream", "s"], &input).ok();
    assert!(run.stderr.contains("put 5000 records"), "{}", run.stderr);
    let run = shardlog(
        &[
            "replay",
            "--data-dir",
            d,
            "--stream",
            "s",
            "--format",
            "raw",
        ],
        b"",
    )
    .ok();
    let got = sorted(run.stdout.lines().map(str::to_string).collect());
    assert_eq!(
        got,
        sorted((0..5000).map(|i| format!("line {i}")).collect())
    );
}

/// Offline put hands records to the engine: an explicit hash key routes a record
/// to the shard whose range holds it, and records the engine refuses stop the put
/// with the engine's error, naming the input line.
#[test]
fn put_offline_routes_by_hash_key_and_reports_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    create_stream(d, "s", 2);
    let top = u128::MAX.to_string();
    let input = format!(
        "{{\"data\":\"low\",\"explicit_hash_key\":\"0\"}}\n{{\"data\":\"high\",\"explicit_hash_key\":\"{top}\"}}\n"
    );
    let put = ["put", "--data-dir", d, "--stream", "s", "--input", "jsonl"];
    shardlog(&put, input.as_bytes()).ok();
    for (shard, data) in [
        ("shardId-000000000000", "low"),
        ("shardId-000000000001", "high"),
    ] {
        let run = shardlog(
            &[
                "replay",
                "--data-dir",
                d,
                "--stream",
                "s",
                "--shard",
                shard,
                "--format",
                "raw",
            ],
            b"",
        )
        .ok();
        assert_eq!(run.stdout, format!("{data}\n"), "{shard}");
    }
    let cases: [(&[u8], &str); 3] = [
        (
            b"{\"data\":\"x\",\"explicit_hash_key\":\"12x\"}\n",
            "stdin line 1 on: ValidationException: 1 validation error detected: Value '12x' at 'explicitHashKey'",
        ),
        (
            b"{\"data\":\"x\",\"partition_key\":\"\"}\n",
            "stdin line 1 on: ValidationException",
        ),
        (
            b"{\"data_base64\":\"%%\"}\n",
            "stdin:1: data_base64 is not base64",
        ),
    ];
    for (input, message) in cases {
        let run = shardlog(&put, input);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains(message), "{}", run.stderr);
    }
}

/// Completion scripts come out for the shells clap_complete knows.
#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let run = shardlog(&["completions", shell], b"").ok();
        assert!(run.stdout.contains("replay"), "{shell}");
    }
    let run = shardlog(&["completions", "tcsh"], b"");
    assert_eq!(run.code, 2);
}

/// Bad arguments: exit 2 with a message saying what is wrong; failures exit 1.
#[test]
fn bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let cases: [(&[&str], i32, &str); 10] = [
        (
            &["stream", "list", "--data-dir", d],
            1,
            "is not a shardlog data directory",
        ),
        (&["replay", "--data-dir", d], 2, "--stream"),
        (
            &["stream", "create", "x"],
            2,
            "--data-dir DIR (offline) or --url URL",
        ),
        (
            &[
                "stream",
                "list",
                "--data-dir",
                d,
                "--url",
                "http://127.0.0.1:1",
            ],
            2,
            "not both",
        ),
        (
            &["stream", "list", "--url", "ftp://host"],
            2,
            "not an http:// or https:// URL",
        ),
        (
            &[
                "replay",
                "--data-dir",
                d,
                "--stream",
                "s",
                "--from-time",
                "yesterday",
            ],
            2,
            "is not a time",
        ),
        (
            &["tail", "--data-dir", d, "--stream", "s", "--format", "xml"],
            2,
            "invalid value 'xml'",
        ),
        (
            &["replay", "--data-dir", d, "--stream", "s"],
            1,
            "not a shardlog data directory",
        ),
        (
            &["verify", "--data-dir", d],
            1,
            "not a shardlog data directory",
        ),
        (
            &["stream", "list", "--url", "http://127.0.0.1:1"],
            1,
            "cannot reach the server",
        ),
    ];
    for (args, code, message) in cases {
        let run = shardlog(args, b"");
        assert_eq!(run.code, code, "{args:?}: {run:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: errors go to stderr");
    }
    shardlog(&["stream", "create", "s", "--data-dir", d], b"").ok();
    let cases: [(&[&str], i32, &str); 4] = [
        (
            &["put", "--data-dir", d, "--stream", "nope"],
            1,
            "ResourceNotFoundException",
        ),
        (
            &[
                "replay",
                "--data-dir",
                d,
                "--stream",
                "s",
                "--from-seq",
                "12x",
            ],
            2,
            "is not a sequence number",
        ),
        (
            &[
                "replay",
                "--data-dir",
                d,
                "--stream",
                "s",
                "--shard",
                "shardId-000000000009",
            ],
            1,
            "has no shard shardId-000000000009",
        ),
        (
            &["put", "--data-dir", d, "--stream", "s", "--input", "jsonl"],
            1,
            "stdin:1: not a JSON object",
        ),
    ];
    for (args, code, message) in cases {
        let run = shardlog(args, b"not json\n");
        assert_eq!(run.code, code, "{args:?}: {run:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
}

/// SHARDLOG_URL is the default target, and an explicit --data-dir overrides it.
#[test]
fn shardlog_url_from_the_environment_yields_to_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_shardlog"))
            .args(args)
            .env("SHARDLOG_URL", "http://127.0.0.1:1")
            .output()
            .unwrap()
    };
    let created = run(&["stream", "create", "s", "--data-dir", d]);
    assert!(created.status.success(), "{created:?}");
    let remote = run(&["stream", "list"]);
    assert_eq!(remote.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&remote.stderr).contains("cannot reach the server"));
}

/// A reader that goes away (`| head`) ends the output quietly: no panic, and the
/// exit code still says how the command went.
#[test]
fn closed_stdout_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    create_stream(d, "s", 3);
    shardlog(
        &["put", "--data-dir", d, "--stream", "s"],
        &lines((0..3000).map(|i| format!("{i}"))),
    )
    .ok();
    let cases: [(&[&str], i32); 5] = [
        (&["stream", "describe", "s", "--data-dir", d], 0),
        (&["replay", "--data-dir", d, "--stream", "s"], 0),
        (&["inspect", d], 0),
        (&["completions", "bash"], 0),
        (&["verify", "--data-dir", d, "--json"], 0),
    ];
    for (args, code) in cases {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shardlog"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
