//! A small tour of the storage core: open a log (recovering it), append durable
//! batches, read them back, look a time up, and show what recovery reported.
//!
//! `cargo run --release -p shardlog-segment --example demo [DATA_DIR]`

use shardlog_segment::io::RealFs;
use shardlog_segment::{LogConfig, ReadLimits, Record, Storage, StorageConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shardlog-data".into());
    let config = StorageConfig::default();
    let storage = Storage::open(RealFs::shared(), config)?;
    let dir = std::path::Path::new(&data_dir).join("demo-shard");
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
