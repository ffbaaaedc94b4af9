//! `shardlog inspect` and `shardlog verify` on queue data: counts from the state
//! log, checksums of both logs, and a damaged queue segment reported like a
//! damaged shard segment; `verify` on topic data: the topic log's checksums and
//! the delivery positions, whose damage makes the server quarantine a topic.

mod cli_common;
mod common;
use cli_common::{lines, shardlog};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};

/// The one segment file of a queue log (`messages` or `state`).
fn segment_of(data_dir: &Path, queue: &str, log: &str) -> PathBuf {
    let queues = data_dir.join("queues");
    let dir = std::fs::read_dir(&queues)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(&format!("-{queue}")))
        .unwrap_or_else(|| panic!("no directory of queue {queue}"));
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir.join(log))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs.remove(0)
}

/// Flips one byte in the middle of `path`, inside a batch.
fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

/// A queue with 20 messages, 5 of them deleted and 4 in flight, is counted so by
/// inspect and passes verify; a flipped byte in its message log, then in its state
/// log, is damage (exit 3) naming the file.
#[test]
fn queue_counts_and_damaged_segments() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = common::start(&data);
    let url = format!("http://{}", server.address);
    let queue = |args: &[&str], stdin: &[u8]| {
        let mut all = vec!["queue"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--url", &url]);
        shardlog(&all, stdin).ok()
    };
    queue(&["create", "jobs"], b"");
    queue(
        &["send", "jobs"],
        &lines((0..20).map(|i| format!("job {i}"))),
    );
    queue(&["receive", "jobs", "--max", "5", "--delete"], b"");
    queue(
        &[
            "receive",
            "jobs",
            "--max",
            "4",
            "--visibility-timeout",
            "600",
        ],
        b"",
    );
    assert!(common::stop(server), "the server did not stop cleanly");
    let data_text = data.to_str().unwrap();

    let run = shardlog(&["inspect", data_text, "--json"], b"").ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let jobs = &report["queues"][0];
    assert_eq!(jobs["queue"], "jobs");
    assert_eq!(jobs["messages_retained"], 20);
    assert_eq!(jobs["removed"], 5);
    assert_eq!(jobs["received"], 4);
    assert_eq!(jobs["in_flight"], 4);
    assert_eq!(jobs["problems"], 0);
    let run = shardlog(&["inspect", data_text], b"").ok();
    assert!(
        run.stdout
            .contains("20 messages retained: 5 removed, 4 received (4 in flight)"),
        "{}",
        run.stdout
    );
    let run = shardlog(&["verify", "--data-dir", data_text], b"").ok();
    assert!(run.stdout.contains("checked: ok"), "{}", run.stdout);

    for log in ["messages", "state"] {
        let segment = segment_of(&data, "jobs", log);
        let pristine = std::fs::read(&segment).unwrap();
        flip_byte(&segment);
        let run = shardlog(&["verify", "--data-dir", data_text], b"");
        assert_eq!(run.code, 3, "{log}: {run:?}");
        let damage = run
            .stdout
            .lines()
            .find(|line| line.starts_with("DAMAGE"))
            .unwrap_or_else(|| panic!("{log}: no DAMAGE line in {}", run.stdout));
        assert!(damage.contains(&segment.display().to_string()), "{damage}");
        let run = shardlog(&["inspect", data_text], b"").ok();
        assert!(
            run.stdout.contains("problems found"),
            "{log}: {}",
            run.stdout
        );
        std::fs::write(&segment, pristine).unwrap();
    }
}

/// Posts an unsigned SNS query-protocol form (an SNS-only action, so SNS's) and
/// returns the answer's status line and body.
fn sns(address: SocketAddr, form: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// A topic with a queue subscription passes verify; a flipped byte in its log,
/// then an unreadable delivery position, is damage (exit 3) naming the file.
#[test]
fn damaged_topic_files_fail_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = common::start(&data);
    let url = format!("http://{}", server.address);
    shardlog(&["queue", "create", "inbox", "--url", &url], b"").ok();
    let topic = "arn:aws:sns:us-east-1:000000000000:news";
    for form in [
        "Action=CreateTopic&Name=news".to_string(),
        format!("Action=Subscribe&TopicArn={topic}&Protocol=sqs&Endpoint=arn:aws:sqs:us-east-1:000000000000:inbox"),
        format!("Action=Publish&TopicArn={topic}&Message=hello"),
    ] {
        let answer = sns(server.address, &form);
        assert!(answer.starts_with("HTTP/1.1 200"), "{form}: {answer}");
    }
    // Delivered before the stop, so that the delivery's position is stored.
    let received = shardlog(
        &[
            "queue", "receive", "inbox", "--url", &url, "--max", "1", "--wait", "10",
        ],
        b"",
    )
    .ok();
    assert!(received.stdout.contains("hello"), "{}", received.stdout);
    assert!(common::stop(server), "the server did not stop cleanly");
    let data_text = data.to_str().unwrap();
    let run = shardlog(&["verify", "--data-dir", data_text], b"").ok();
    assert!(run.stdout.contains("checked: ok"), "{}", run.stdout);

    let topic_dir = std::fs::read_dir(data.join("topics"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-news"))
        .expect("the topic has a directory");
    let segment = std::fs::read_dir(topic_dir.join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .expect("the topic log has a segment");
    // The subscription's own position file, and the file of the topic's queue
    // positions once its delivery stored one.
    let mut positions: Vec<_> = std::fs::read_dir(topic_dir.join("positions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "tmp"))
        .collect();
    positions.sort();
    let together = shardlog_topic::QUEUE_POSITIONS_FILE;
    assert_eq!(positions.len(), 2, "{positions:?}");
    assert!(
        positions.iter().any(|p| p.ends_with(together)),
        "{positions:?}"
    );
    let garbage = |path: &Path| std::fs::write(path, b"{").unwrap();
    let damaged = [(&segment, flip_byte as fn(&Path))]
        .into_iter()
        .chain(positions.iter().map(|p| (p, garbage as fn(&Path))));
    for (file, damage) in damaged {
        let pristine = std::fs::read(file).unwrap();
        damage(file);
        let run = shardlog(&["verify", "--data-dir", data_text], b"");
        assert_eq!(run.code, 3, "{run:?}");
        assert!(
            run.stdout.lines().any(
                |line| line.starts_with("DAMAGE") && line.contains(&file.display().to_string())
            ),
            "{}",
            run.stdout
        );
        std::fs::write(file, pristine).unwrap();
    }
}
