//! A small tour of the storage core: open a log (recovering it), append durable
//! batches, read them back, look a time up, and show what recovery reported.
//!
//! `cargo run --release -p shardlog-segment --example demo [DIR]`
//!
//! DIR defaults to `shardlog-demo` under the system's temporary directory. The
//! demo takes `DIR/LOCK` as `shardlog serve` does, so it refuses a directory a
//! server (or another demo) has open instead of writing under its feet.

use shardlog_segment::io::RealFs;
use shardlog_segment::{LogConfig, ReadLimits, Record, Storage, StorageConfig};
use std::path::{Path, PathBuf};

/// Locks `DIR/LOCK` (creating the directory), or says that someone holds it.
fn lock(dir: &Path) -> Result<std::fs::File, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let mut options = std::fs::OpenOptions::new();
    let file = options
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("LOCK"))?;
    file.try_lock().map_err(|_| {
        format!(
            "{} is in use by another shardlog process (a server?): give the demo another directory",
            dir.display()
        )
    })?;
    Ok(file)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("shardlog-demo"));
    // Held until main returns.
    let _lock = lock(&data_dir)?;
    let config = StorageConfig::default();
    let storage = Storage::open(RealFs::shared(), config)?;
    let dir = data_dir.join("demo-shard");
    let (log, report) = storage.open_log(&dir, LogConfig::default())?;
    println!(
        "opened {} with the {} backend, durability {}",
        dir.display(),
        config.backend.name(),
        config.durability.name()
    );
    println!("recovery: {report:?}");
    let start = log.end_position();
    for batch in 0..3 {
        let bodies: Vec<String> = (0..4)
            .map(|i| format!("{{\"batch\":{batch},\"event\":{i}}}"))
            .collect();
        let records: Vec<Record<'_>> = bodies
            .iter()
            .map(|body| Record {
                partition_key: "sensor-7",
                explicit_hash_key: None,
                data: body.as_bytes(),
            })
            .collect();
        let appended = log.append(&records)?;
        println!(
            "appended positions {}..{} at {} ms (acknowledged after fdatasync)",
            appended.base_position,
            appended.base_position + appended.count,
            appended.arrival_ms
        );
    }
    let limits = ReadLimits {
        records_max: 100,
        bytes_max: 1 << 20,
    };
    for record in log.read(start, limits)?.records() {
        println!(
            "  position {:>6}  key {}  {}",
            record.position,
            record.partition_key,
            String::from_utf8_lossy(record.data)
        );
    }
    if let Some(last) = log.last_arrival_ms() {
        println!(
            "first record at or after {last} ms: position {}",
            log.position_at_time(last)?
        );
    }
    println!("segments: {:?}", log.segments());
    storage.shutdown()?;
    Ok(())
}
