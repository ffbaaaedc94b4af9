//! `shardlog bench` as a user runs it: a tiny run prints the table and writes the
//! JSON and HTML, `--compare` reads two runs, bad options fail with clear errors,
//! and the HTTP workloads run against a real `shardlog serve`.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// Options that keep a run to a few seconds: tiny volume, short runs, no warm-up.
const TINY: [&str; 12] = [
    "--quick",
    "--volume",
    "2",
    "--duration",
    "0.3",
    "--repetitions",
    "2",
    "--warmup",
    "0",
    "--shards",
    "1,2",
    "--no-progress",
];

fn bench(args: &[&str], extra: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .arg("bench")
        .args(args)
        .args(extra)
        .output()
        .expect("run shardlog bench")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A tiny run of raw baselines, append and seek prints a table with ratios and
/// writes JSON of the documented shape and an HTML page with its charts.
#[test]
fn tiny_run_prints_table_and_writes_json_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let html = dir.path().join("report.html");
    let mut args = TINY.to_vec();
    args.extend([
        "--workload",
        "append,seek-sequence,raw-fdatasync",
        "--seek-records",
        "2000",
        "--seek-lookups",
        "50",
    ]);
    let data = dir.path().join("data");
    let json_text = json.to_str().unwrap();
    let html_text = html.to_str().unwrap();
    args.extend(["--json", json_text, "--report", html_text, "--dir"]);
    let output = bench(&args, &[&data]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("ratio"), "{stdout}");
    assert!(stdout.contains("append 2 shards buffered sync"), "{stdout}");
    assert!(stdout.contains("raw O_DIRECT write"), "{stdout}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(report["machine"]["cores"].as_u64().unwrap() > 0);
    let results = report["results"].as_array().unwrap();
    let append: Vec<&Value> = results
        .iter()
        .filter(|r| r["workload"] == "append")
        .collect();
    assert_eq!(append.len(), 2);
    for result in &append {
        assert!(result["mb_per_s"].as_f64().unwrap() > 0.0, "{result}");
        assert!(result["records_per_s"].as_f64().unwrap() > 0.0, "{result}");
        assert!(result["ratio_to_raw"].as_f64().unwrap() > 0.0, "{result}");
        for key in ["p50", "p90", "p99", "p99_9", "p99_99", "max"] {
            assert!(result["latency_us"][key].as_f64().is_some(), "{key}");
        }
    }
    let seek = results
        .iter()
        .find(|r| r["workload"] == "seek-sequence")
        .unwrap();
    // At least one seek a repetition; at most --seek-lookups (the duration may stop it first).
    let seeks = seek["latency_us"]["count"].as_u64().unwrap();
    assert!((2..=100).contains(&seeks), "{seek}");
    assert!(seek["ratio_to_raw"].is_null());

    let page = std::fs::read_to_string(&html).unwrap();
    for id in ["chart-shards", "chart-latency", "chart-time"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(!page.contains("http://") || page.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    // The data directory the run created is gone; the outputs stay.
    assert!(!data.exists());

    let compared = bench(&["--compare", json_text, json_text], &[]);
    let compared_text = text(&compared.stdout);
    assert!(compared.status.success(), "{}", text(&compared.stderr));
    assert!(
        compared_text.contains("append 1 shard buffered sync"),
        "{compared_text}"
    );
    assert!(compared_text.contains("1.00"), "{compared_text}");
}

/// Unknown workloads, zero durations, bad rates and unwritable directories fail
/// with exit status 1 and a message that names the problem.
#[test]
fn bad_options_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = file.join("dir");
    let cases: [(&[&str], &[&Path], &str); 5] = [
        (
            &["--workload", "fsync-storm"],
            &[],
            "unknown workload 'fsync-storm'",
        ),
        (&["--duration", "0"], &[], "--duration must be more than 0"),
        (&["--rate", "0"], &[], "--rate must be a positive"),
        (
            &["--subscriptions", "101"],
            &[],
            "--subscriptions must be between 1 and 100",
        ),
        (&["--dir"], &[&under_file], "is not writable"),
    ];
    for (args, paths, wanted) in cases {
        let output = bench(args, paths);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let no_server = bench(
        &["--workload", "http-append", "--url", &url, "--dir"],
        &[&dir.path().join("data")],
    );
    assert!(!no_server.status.success());
    let stderr = text(&no_server.stderr);
    assert!(
        stderr.contains("does not answer the Kinesis API"),
        "{stderr}"
    );
    let missing = bench(&["--compare"], &[&file, &dir.path().join("none.json")]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("is not a shardlog bench JSON report"));
}

/// The HTTP workloads append, replay, seek and measure put-to-visible through a
/// real server's Kinesis API.
#[test]
fn http_workloads_run_against_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = common::start(&dir.path().join("server"));
    let url = format!("http://{}", server.address);
    let json = dir.path().join("http.json");
    let mut args = TINY.to_vec();
    args.extend([
        "--workload",
        "http-append,http-replay,http-seek-sequence,http-seek-timestamp,http-e2e",
        "--seek-lookups",
        "20",
        "--e2e-rate",
        "100",
        "--url",
        &url,
        "--batch-records",
        "100",
        "--json",
        json.to_str().unwrap(),
        "--dir",
    ]);
    let output = bench(&args, &[&dir.path().join("data")]);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();
    for workload in ["http-append", "http-replay"] {
        let result = results.iter().find(|r| r["workload"] == workload).unwrap();
        assert!(result["records_per_s"].as_f64().unwrap() > 0.0, "{result}");
        assert!(result["ratio_to_raw"].as_f64().is_some(), "{result}");
    }
    for workload in ["http-seek-sequence", "http-seek-timestamp"] {
        let result = results.iter().find(|r| r["workload"] == workload).unwrap();
        let seeks = result["latency_us"]["count"].as_u64().unwrap();
        assert!((2..=40).contains(&seeks), "{result}");
    }
    let e2e = results
        .iter()
        .find(|r| r["workload"] == "http-e2e")
        .unwrap();
    assert_eq!(e2e["latency_us"]["count"].as_u64(), Some(60), "{e2e}");
}

/// `--wire cbor` appends and replays through the Kinesis CBOR wire, blobs as byte
/// strings both ways (the replay fails on a record whose data it cannot read).
#[test]
fn http_append_and_replay_over_cbor() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(&dir.path().join("server"));
    let options = ["--workload", "http-append,http-replay", "--wire", "cbor"];
    let (report, _) = run_against(&served, dir.path(), &options);
    let results = report["results"].as_array().unwrap();
    let named = |workload: &str| results.iter().find(|r| r["workload"] == workload).unwrap();
    let (append, replay) = (named("http-append"), named("http-replay"));
    assert!(
        append["name"].as_str().unwrap().contains("CBOR"),
        "{append}"
    );
    assert!(append["records_per_s"].as_f64().unwrap() > 0.0, "{append}");
    assert!(replay["mb_per_s"].as_f64().unwrap() > 0.0, "{replay}");
}

/// queue-memory runs its restarts in child processes and records every phase in
/// the JSON; after the deletes and a restart no removal is held in memory.
#[test]
fn queue_memory_records_each_phase() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("queue.json");
    let data = dir.path().join("data");
    let args = [
        "--workload",
        "queue-memory",
        "--messages",
        "3000",
        "--producers",
        "2",
        "--durability",
        "none",
        "--no-progress",
        "--json",
        json.to_str().unwrap(),
        "--dir",
    ];
    let output = bench(&args, &[&data]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("restarted after deletes"));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let phases = report["queue_memory"]["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 4, "{phases:?}");
    let last = &phases[3];
    assert_eq!(last["removed_ahead"], 0);
    assert_eq!(last["end_position"], 3000);
    assert!(last["cursor"].as_u64().unwrap() >= 300, "{last}");
}

/// The SQS workloads send, round-trip and pace messages through a real server's
/// SQS API and leave no queue behind; --compare-moto without one is refused.
#[test]
fn sqs_workloads_run_against_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(&dir.path().join("server"));
    let (report, _) = run_against(
        &served,
        dir.path(),
        &[
            "--workload",
            "sqs-send,sqs-send-batch,sqs-round-trip,sqs-send-latency",
            "--producers",
            "4",
            "--rate",
            "200",
        ],
    );
    let results = report["results"].as_array().unwrap();
    for workload in [
        "sqs-send",
        "sqs-send-batch",
        "sqs-round-trip",
        "sqs-send-latency",
    ] {
        let result = results.iter().find(|r| r["workload"] == workload).unwrap();
        assert!(result["records_per_s"].as_f64().unwrap() > 0.0, "{result}");
        assert!(
            result["latency_us"]["count"].as_u64().unwrap() > 0,
            "{result}"
        );
    }
    assert_no_queue_left(&served);

    let refused = bench(&["--compare-moto", "--workload", "append"], &[]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("--compare-moto compares the sqs-*"));
}

/// The SNS workloads fan every published message out to every subscribed queue
/// of a real server (counted per run), report every case, and leave no queue behind.
#[test]
fn sns_workloads_deliver_every_publish_to_every_queue() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(&dir.path().join("server"));
    let (report, stderr) = run_against(
        &served,
        dir.path(),
        &[
            "--workload",
            "sns-publish,sns-latency,sns-fill",
            "--subscriptions",
            "1,3",
            "--producers",
            "2",
            "--rate",
            "100",
        ],
    );
    // One line per run: "<case>: P published, D delivered to N queues".
    let mut runs = 0;
    for line in stderr.lines().filter(|l| l.contains(" published, ")) {
        let numbers: Vec<u64> = line
            .split([' ', ','])
            .filter_map(|word| word.parse().ok())
            .collect();
        let [published, delivered, queues] = numbers[..] else {
            panic!("unexpected line: {line}");
        };
        assert!(published > 0, "{line}");
        assert_eq!(delivered, published * queues, "{line}");
        runs += 1;
    }
    // 3 workloads x 2 subscription counts x 2 repetitions, no warm-up.
    assert_eq!(runs, 12, "{stderr}");
    let results = report["results"].as_array().unwrap();
    for workload in ["sns-publish", "sns-latency", "sns-fill"] {
        let cases: Vec<&Value> = results
            .iter()
            .filter(|r| r["workload"] == workload)
            .collect();
        assert_eq!(cases.len(), 2, "{results:?}");
        for case in cases {
            assert!(case["records_per_s"].as_f64().unwrap() > 0.0, "{case}");
        }
    }
    assert_no_queue_left(&served);
}

/// Runs a tiny bench of `options` against `served`, data and JSON under `dir`;
/// returns the JSON report and stderr after checking the run succeeded.
fn run_against(served: &common::Served, dir: &Path, options: &[&str]) -> (Value, String) {
    let json = dir.join("bench.json");
    let mut args = TINY.to_vec();
    args.extend(options);
    args.extend([
        "--url",
        &served.url,
        "--json",
        json.to_str().unwrap(),
        "--dir",
    ]);
    let output = bench(&args, &[&dir.join("data")]);
    let stderr = text(&output.stderr);
    assert!(
        output.status.success(),
        "{}\n{stderr}",
        text(&output.stdout)
    );
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (report, stderr)
}

/// Checks the bench deleted every queue it made on `served`.
fn assert_no_queue_left(served: &common::Served) {
    let queues = common::call_target(
        served.server.address,
        "AmazonSQS.ListQueues",
        &serde_json::json!({}),
    )
    .unwrap();
    assert_eq!(queues.0, 200, "{}", queues.1);
    assert_eq!(queues.1.get("QueueUrls"), None, "left behind: {}", queues.1);
}
