//! Running the `shardlog` binary in tests and reading what it printed.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Panics with everything printed unless the run exited 0.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

/// Runs `shardlog args...` with `stdin` as its standard input.
pub fn shardlog(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args(args)
        .env_remove("SHARDLOG_URL")
        .env_remove("SHARDLOG_DATA_DIR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shardlog");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The command may exit without reading everything (an error): ignore EPIPE.
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().expect("wait for shardlog");
    writer.join().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `lines` joined with newlines, as `put` reads them.
pub fn lines(records: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        out.extend_from_slice(record.as_bytes());
        out.push(b'\n');
    }
    out
}

/// The JSON lines of a replay or tail.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

/// The decoded `data` of a JSON line, as text.
pub fn data_of(record: &serde_json::Value) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(record["data"].as_str().unwrap())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

/// The segment files (`.log`) of one shard of a stream, in order.
pub fn segment_files(data_dir: &Path, stream: &str, shard: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for generation in std::fs::read_dir(data_dir.join("streams").join(stream)).unwrap() {
        let dir = generation.unwrap().path().join(shard);
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "log") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Creates stream `name` with `shards` shards in the data directory `dir`.
pub fn create_stream(dir: &str, name: &str, shards: u32) {
    let shards = shards.to_string();
    shardlog(
        &[
            "stream",
            "create",
            name,
            "--shards",
            &shards,
            "--data-dir",
            dir,
        ],
        b"",
    )
    .ok();
}

/// Splits `shard` of stream `name` in the data directory `dir` at the middle of its range.
pub fn split_shard(dir: &str, name: &str, shard: &str) {
    shardlog(
        &["stream", "split", name, "--shard", shard, "--data-dir", dir],
        b"",
    )
    .ok();
}

/// Every record of stream `name` in the data directory `dir`, as replay's JSON lines.
pub fn replay_all(dir: &str, name: &str) -> Vec<serde_json::Value> {
    json_lines(
        &shardlog(&["replay", "--data-dir", dir, "--stream", name], b"")
            .ok()
            .stdout,
    )
}

/// The items, sorted (to compare multisets).
pub fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

/// The byte range of the damaged batch a `DAMAGE` line of verify names
/// (`... (offsets A..B, positions ...)`).
pub fn damaged_range(line: &str) -> std::ops::Range<usize> {
    let range = line
        .split("offsets ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no byte range in {line}"));
    let (start, end) = range.split_once("..").unwrap();
    start.parse().unwrap()..end.parse().unwrap()
}
