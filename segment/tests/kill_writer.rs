//! A library-level writer (a child process appending with the `sync` policy and
//! printing each acknowledgement) is killed with SIGKILL at random moments; after
//! each kill the log reopens with every acknowledged batch byte-exact and takes
//! appends again.

mod common;

use common::{borrow, make_batch, read_all};
use shardlog_segment::io::RealFs;
use shardlog_segment::{BackendKind, Durability, LogConfig, Storage, StorageConfig};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DIR_VAR: &str = "SHARDLOG_KILL_WRITER_DIR";

fn config() -> (StorageConfig, LogConfig) {
    let storage = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    let log = LogConfig {
        segment_bytes_max: 64 << 10,
        ..LogConfig::default()
    };
    (storage, log)
}

/// The writer: runs only as the child of `sigkill_library_writer`.
#[test]
fn writer_child() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let (storage_config, log_config) = config();
    let storage = Storage::open(RealFs::shared(), storage_config).unwrap();
    let (log, _) = storage.open_log(&dir, log_config).unwrap();
    let first = std::env::var("SHARDLOG_KILL_WRITER_FIRST")
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let stdout = std::io::stdout();
    for batch in first..first + 100_000 {
        let records = make_batch(batch, 1 + (batch % 4) as usize, (batch * 61 % 900) as usize);
        let appended = log.append(&borrow(&records)).unwrap();
        let mut out = stdout.lock();
        writeln!(out, "acked {batch} {}", appended.base_position).unwrap();
        out.flush().unwrap();
    }
}

/// Twenty kills (SHARDLOG_TORTURE_CYCLES for more) of a writing child; nothing
/// it saw acknowledged is lost.
#[test]
fn sigkill_library_writer() {
    if std::env::var_os(DIR_VAR).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let mut acked: Vec<(u64, u64)> = Vec::new();
    let mut next_batch = 0u64;
    let mut rng = fastrand::Rng::with_seed(0x2545_f491_4f6c_dd1d);
    let cycles: usize = std::env::var("SHARDLOG_TORTURE_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for _cycle in 0..cycles {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
            .env(DIR_VAR, &log_dir)
            .env("SHARDLOG_KILL_WRITER_FIRST", next_batch.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let kill_at = Instant::now() + Duration::from_millis(rng.u64(20..170));
        let mut lines = stdout.lines();
        // Read acknowledgements until the kill time, then kill and read what was
        // already printed (printed only after the append returned).
        while Instant::now() < kill_at {
            match lines.next() {
                Some(Ok(line)) => record(&line, &mut acked),
                _ => break,
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        for line in lines.map_while(Result::ok) {
            record(&line, &mut acked);
        }
        next_batch = acked.last().map_or(next_batch, |(batch, _)| batch + 1) + 1_000_000;
        verify(&log_dir, &acked);
    }
    assert!(
        acked.len() > 20,
        "the writers got work acknowledged: {}",
        acked.len()
    );
}

fn record(line: &str, acked: &mut Vec<(u64, u64)>) {
    let mut parts = line
        .strip_prefix("acked ")
        .into_iter()
        .flat_map(|rest| rest.split(' '));
    if let (Some(batch), Some(position)) = (parts.next(), parts.next()) {
        acked.push((batch.parse().unwrap(), position.parse().unwrap()));
    }
}

fn verify(log_dir: &std::path::Path, acked: &[(u64, u64)]) {
    let (storage_config, log_config) = config();
    let storage = Storage::open(RealFs::shared(), storage_config).unwrap();
    let (log, _) = storage.open_log(log_dir, log_config).unwrap();
    let found: std::collections::BTreeMap<u64, common::Owned> =
        read_all(&log, 0).into_iter().collect();
    for (batch, base) in acked {
        let records = make_batch(
            *batch,
            1 + (batch % 4) as usize,
            (batch * 61 % 900) as usize,
        );
        for (k, record) in records.iter().enumerate() {
            assert_eq!(
                found.get(&(base + k as u64)),
                Some(record),
                "batch {batch} at {base}"
            );
        }
    }
    log.append(&borrow(&make_batch(9_999_999, 1, 5))).unwrap();
    storage.shutdown().unwrap();
}
