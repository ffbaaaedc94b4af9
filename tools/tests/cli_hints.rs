//! What the command line tells a newcomer when something is in the way: hints that
//! name only options the command has, argument mistakes reported before the data
//! directory's lock is looked at, the URL that could not be reached, the note
//! that `tail` waits for new records, and server logs without colour escapes
//! when they do not go to a terminal.

mod cli_common;
mod common;
use cli_common::{lines, shardlog};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Longest any step here may take before the test fails instead of hanging.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Kills the child (a server or a tail) when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server on a fresh data directory with stream `s` (1 shard); its URL.
fn served(dir: &std::path::Path) -> (Killed, String) {
    let server = common::start(dir);
    let url = format!("http://{}", server.address);
    let served = Killed(server.child);
    shardlog(&["stream", "create", "s", "--url", &url], b"").ok();
    (served, url)
}

/// The first line `reader` gives, or a failure after STEP_TIMEOUT.
fn first_line(reader: impl Read + Send + 'static) -> String {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(reader).read_line(&mut line);
        let _ = sender.send(line);
    });
    receiver
        .recv_timeout(STEP_TIMEOUT)
        .expect("a line within the timeout")
}

/// With a server running, replay's hint does not offer a --url it does not have
/// (it offers tail through the server); the commands that have --url offer it.
#[test]
fn in_use_hints_name_only_options_the_command_has() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, _url) = served(dir.path());
    let d = dir.path().to_str().unwrap();

    let run = shardlog(&["replay", "--data-dir", d, "--stream", "s"], b"");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("in use by another shardlog process"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("or use --url"),
        "replay has no --url: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("shardlog tail --url URL --stream NAME --from trim-horizon"),
        "{}",
        run.stderr
    );

    let run = shardlog(&["stream", "list", "--data-dir", d], b"");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("stop the server first, or use --url to work through it"),
        "{}",
        run.stderr
    );
}

/// Argument mistakes are reported as such (exit 2, or the missing file) even
/// while a server holds the data directory: they are checked before its lock.
#[test]
fn arguments_are_checked_before_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, _url) = served(dir.path());
    let d = dir.path().to_str().unwrap();
    let missing = dir.path().join("no-such-input.txt");
    let missing = missing.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 4] = [
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
            "'12x' is not a sequence number",
        ),
        (
            &["replay", "--data-dir", d, "--stream", "s", "--to-seq", "0"],
            2,
            "'0' is not a sequence number",
        ),
        (
            &[
                "stream",
                "split",
                "s",
                "--shard",
                "shardId-000000000000",
                "--hash-key",
                "middle",
                "--data-dir",
                d,
            ],
            2,
            "--hash-key 'middle' is not a hash key",
        ),
        (
            &["put", "--data-dir", d, "--stream", "s", missing],
            1,
            "cannot open",
        ),
    ];
    for (args, code, message) in cases {
        let run = shardlog(args, b"");
        assert_eq!(run.code, code, "{args:?}: {run:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains("in use"),
            "{args:?}: the argument, not the lock: {}",
            run.stderr
        );
    }
}

/// A server that cannot be reached is named by its URL, from --url or SHARDLOG_URL.
#[test]
fn unreachable_server_is_named() {
    let run = shardlog(&["stream", "list", "--url", "http://127.0.0.1:1"], b"");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("cannot reach the server at http://127.0.0.1:1: "),
        "{}",
        run.stderr
    );
    let output = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args(["stream", "describe", "s"])
        .env("SHARDLOG_URL", "http://127.0.0.1:1/")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach the server at http://127.0.0.1:1: "),
        "{stderr}"
    );
}

/// `tail` from LATEST says on stderr that it waits for new records and how to
/// see the ones already kept, then prints a record put after it started.
#[test]
fn tail_from_latest_says_it_is_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = served(dir.path());
    shardlog(&["put", "--url", &url, "--stream", "s"], b"old\n").ok();
    let mut tail = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args([
            "tail",
            "--url",
            &url,
            "--stream",
            "s",
            "--max-records",
            "1",
            "--poll-ms",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = tail.stdout.take().unwrap();
    let stderr = tail.stderr.take().unwrap();
    let tail = Killed(tail);
    let note = first_line(stderr);
    assert!(
        note.contains("waiting for new records of s")
            && note.contains("--from trim-horizon prints the records already kept"),
        "{note}"
    );
    // The note comes after the iterators were taken: a record put now is new.
    shardlog(
        &["put", "--url", &url, "--stream", "s"],
        &lines(["new".to_string()]),
    )
    .ok();
    assert_eq!(first_line(stdout), "new\n");
    drop(tail);
}

/// Server logs written to a pipe carry no ANSI colour escapes.
#[test]
fn server_logs_have_no_colour_escapes_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .env_remove("SHARDLOG_CREDENTIALS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut server = Killed(child);
    // The log lines of the start come before "listening on".
    assert!(first_line(stdout).starts_with("listening on http://"));
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let mut logs = String::new();
    BufReader::new(stderr).read_to_string(&mut logs).unwrap();
    assert!(
        logs.contains("shardlog serving the Kinesis API"),
        "{logs:?}"
    );
    assert!(!logs.contains('\u{1b}'), "colour escapes in {logs:?}");
}
