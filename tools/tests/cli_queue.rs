//! `shardlog queue` against a real `shardlog serve`: administration, send and
//! receive in batches, FIFO JSON lines, redrive from a dead-letter queue, and the
//! one-line errors (a missing queue, an unreachable server).

mod cli_common;
mod common;
use cli_common::{json_lines, lines, shardlog, sorted};
use common::serve;

/// Runs `shardlog queue <args> --url <url>`.
fn queue(url: &str, args: &[&str], stdin: &[u8]) -> cli_common::Run {
    let mut all = vec!["queue"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--url", url]);
    shardlog(&all, stdin)
}

/// The value of `name` in `queue attributes` output (NAME=VALUE lines).
fn attribute(url: &str, queue_name: &str, name: &str) -> String {
    let run = queue(url, &["attributes", queue_name], b"").ok();
    run.stdout
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {}", run.stdout))
        .to_string()
}

/// Create, list, attributes, send 25 lines (three batches), receive them all with
/// --delete, purge and delete: each command does what it says.
#[test]
fn admin_send_receive_purge_delete() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let url = served.url.as_str();
    let run = queue(
        url,
        &["create", "jobs", "--attribute", "VisibilityTimeout=45"],
        b"",
    )
    .ok();
    assert!(run.stdout.contains("created queue jobs"), "{}", run.stdout);
    queue(url, &["create", "other"], b"").ok();
    let run = queue(url, &["list", "--prefix", "jo"], b"").ok();
    assert_eq!(run.stdout.trim(), "jobs");
    assert_eq!(attribute(url, "jobs", "VisibilityTimeout"), "45");
    queue(url, &["attributes", "jobs", "--set", "DelaySeconds=0"], b"").ok();

    let bodies: Vec<String> = (0..25).map(|i| format!("job {i}")).collect();
    let run = queue(url, &["send", "jobs"], &lines(bodies.clone())).ok();
    assert!(run.stdout.contains("sent 25 messages"), "{}", run.stdout);
    assert_eq!(attribute(url, "jobs", "ApproximateNumberOfMessages"), "25");

    let run = queue(url, &["receive", "jobs", "--max", "100", "--delete"], b"").ok();
    let received: Vec<String> = run.stdout.lines().map(str::to_string).collect();
    assert_eq!(sorted(received), sorted(bodies));
    assert_eq!(attribute(url, "jobs", "ApproximateNumberOfMessages"), "0");
    assert_eq!(
        attribute(url, "jobs", "ApproximateNumberOfMessagesNotVisible"),
        "0"
    );

    queue(url, &["send", "jobs"], b"left\n").ok();
    queue(url, &["purge", "jobs"], b"").ok();
    assert_eq!(attribute(url, "jobs", "ApproximateNumberOfMessages"), "0");
    queue(url, &["delete", "jobs"], b"").ok();
    let run = queue(url, &["list"], b"").ok();
    assert_eq!(run.stdout.trim(), "other");
}

/// FIFO JSON lines keep their group, attributes and order; receive --json prints
/// one object a message with its attributes.
#[test]
fn fifo_json_lines_keep_group_attributes_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let url = served.url.as_str();
    let run = queue(url, &["create", "orders.fifo"], b"");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("add --fifo"), "{}", run.stderr);
    let run = queue(url, &["create", "orders", "--fifo"], b"");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("ends in .fifo"), "{}", run.stderr);
    queue(url, &["create", "orders.fifo", "--fifo"], b"").ok();
    let input = lines((0..12).map(|i| {
        format!(r#"{{"body": "order {i}", "group": "g", "dedup_id": "d{i}", "attributes": {{"n": {i}, "kind": "test"}}}}"#)
    }));
    queue(url, &["send", "orders.fifo", "--json"], &input).ok();
    // A duplicate deduplication id is accepted and not delivered twice.
    queue(
        url,
        &["send", "orders.fifo", "--json"],
        br#"{"body": "again", "group": "g", "dedup_id": "d0"}"#,
    )
    .ok();

    let run = queue(
        url,
        &[
            "receive",
            "orders.fifo",
            "--max",
            "12",
            "--delete",
            "--json",
        ],
        b"",
    )
    .ok();
    let messages = json_lines(&run.stdout);
    let bodies: Vec<&str> = messages
        .iter()
        .map(|m| m["Body"].as_str().unwrap())
        .collect();
    let wanted: Vec<String> = (0..12).map(|i| format!("order {i}")).collect();
    assert_eq!(bodies, wanted);
    assert_eq!(messages[3]["Attributes"]["MessageGroupId"], "g");
    assert_eq!(messages[3]["MessageAttributes"]["n"]["StringValue"], "3");
    assert_eq!(messages[3]["MessageAttributes"]["n"]["DataType"], "Number");
    let run = queue(url, &["receive", "orders.fifo"], b"").ok();
    assert_eq!(run.stdout, "", "the duplicate was delivered");

    let run = queue(url, &["send", "orders.fifo", "--json"], b"{\"bodi\": 1}\n");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("line 1: unknown field 'bodi'"),
        "{}",
        run.stderr
    );
}

/// Messages that reached the dead-letter queue go back to their source queue
/// with their bodies and attributes.
#[test]
fn redrive_moves_dead_letters_back() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let url = served.url.as_str();
    queue(url, &["create", "dlq"], b"").ok();
    let policy = r#"RedrivePolicy={"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"1"}"#;
    queue(url, &["create", "work", "--attribute", policy], b"").ok();
    let input =
        lines((0..15).map(|i| format!(r#"{{"body": "m{i}", "attributes": {{"i": "{i}"}}}}"#)));
    queue(url, &["send", "work", "--json"], &input).ok();
    // The first receive counts 1; visible again at once, the next receive moves them.
    let run = queue(
        url,
        &[
            "receive",
            "work",
            "--max",
            "15",
            "--visibility-timeout",
            "0",
        ],
        b"",
    )
    .ok();
    assert_eq!(run.stdout.lines().count(), 15, "{}", run.stdout);
    // Each receive call moves at most the 10 it looks at: a bounded number of rounds.
    for _ in 0..5 {
        let run = queue(url, &["receive", "work", "--max", "15"], b"").ok();
        assert_eq!(run.stdout, "", "over maxReceiveCount: moved, not delivered");
        if attribute(url, "dlq", "ApproximateNumberOfMessages") == "15" {
            break;
        }
    }
    assert_eq!(attribute(url, "dlq", "ApproximateNumberOfMessages"), "15");

    let run = queue(url, &["redrive", "dlq"], b"").ok();
    assert!(
        run.stdout.contains("moved 15 messages from dlq to work")
            || run.stdout.contains("started moving"),
        "{}",
        run.stdout
    );
    // A server with StartMessageMoveTask moves them in the background: collect
    // them over a bounded number of long polls.
    let mut messages = Vec::new();
    for _ in 0..20 {
        let args = [
            "receive", "work", "--max", "15", "--wait", "1", "--json", "--delete",
        ];
        messages.extend(json_lines(&queue(url, &args, b"").ok().stdout));
        if messages.len() >= 15 {
            break;
        }
    }
    let mut pairs: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            let body = m["Body"].as_str().unwrap().to_string();
            let i = m["MessageAttributes"]["i"]["StringValue"]
                .as_str()
                .unwrap()
                .to_string();
            (body, format!("m{i}"))
        })
        .collect();
    pairs.sort();
    assert_eq!(pairs.len(), 15);
    assert!(
        pairs
            .iter()
            .all(|(body, from_attribute)| body == from_attribute),
        "{pairs:?}"
    );
    assert_eq!(attribute(url, "dlq", "ApproximateNumberOfMessages"), "0");
}

/// A missing queue and an unreachable server are one-line errors with exit 1;
/// no --url is a usage error (exit 2).
#[test]
fn errors_are_one_line_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    for args in [
        &["send", "nope"][..],
        &["receive", "nope"],
        &["purge", "nope"],
        &["attributes", "nope"],
        &["redrive", "nope"],
    ] {
        let run = queue(&served.url, args, b"x\n");
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert_eq!(
            run.stderr.trim(),
            "error: queue 'nope' does not exist",
            "{args:?}"
        );
    }
    // A port nothing listens on: the server's, after it stopped.
    let stopped = served.url.clone();
    drop(served);
    let run = queue(&stopped, &["list"], b"");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("cannot reach the server"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    let run = shardlog(&["queue", "list"], b"");
    assert_eq!(run.code, 2, "{run:?}");
}
