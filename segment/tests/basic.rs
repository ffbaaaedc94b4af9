//! Append, read back, reopen and read again on the real file system, both backends.

use shardlog_segment::io::RealFs;
use shardlog_segment::{
    BackendKind, Durability, LogConfig, ReadLimits, Record, Storage, StorageConfig,
};

fn all(limit: usize) -> ReadLimits {
    ReadLimits {
        records_max: limit,
        bytes_max: 64 << 20,
    }
}

fn run(backend: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig {
        backend,
        durability: Durability::Sync,
    };
    let log_config = LogConfig {
        segment_bytes_max: 64 << 10,
        ..LogConfig::default()
    };
    let storage = Storage::open(RealFs::shared(), config).unwrap();
    let (log, report) = storage.open_log(dir.path().join("s0"), log_config).unwrap();
    assert_eq!(report.end_position, 0);
    let payloads: Vec<Vec<u8>> = (0..300u32)
        .map(|i| vec![(i % 251) as u8; (i as usize * 37) % 2000])
        .collect();
    for chunk in payloads.chunks(7) {
        let records: Vec<Record<'_>> = chunk
            .iter()
            .map(|data| Record {
                partition_key: "key",
                explicit_hash_key: None,
                data,
            })
            .collect();
        log.append(&records).unwrap();
    }
    assert_eq!(log.end_position(), 300);
    assert!(log.segments().len() > 2, "small segments roll");
    let result = log.read(0, all(1000)).unwrap();
    let got: Vec<Vec<u8>> = result.records().map(|r| r.data.to_vec()).collect();
    assert_eq!(got, payloads);
    storage.shutdown().unwrap();

    let storage = Storage::open(RealFs::shared(), config).unwrap();
    let (log, report) = storage.open_log(dir.path().join("s0"), log_config).unwrap();
    assert_eq!(report.end_position, 300);
    assert_eq!(report.truncated_bytes, 0);
    assert!(report.rebuilt_indexes.is_empty(), "{report:?}");
    let result = log.read(123, all(1000)).unwrap();
    let got: Vec<Vec<u8>> = result.records().map(|r| r.data.to_vec()).collect();
    assert_eq!(got, payloads[123..]);
    let more = [Record {
        partition_key: "k",
        explicit_hash_key: Some(5),
        data: b"after reopen",
    }];
    let appended = log.append(&more).unwrap();
    assert_eq!(appended.base_position, 300);
    let last = log.read(300, all(10)).unwrap();
    let record = last.records().next().unwrap();
    assert_eq!(record.data, b"after reopen");
    assert_eq!(record.explicit_hash_key, Some(5));
    storage.shutdown().unwrap();
}

/// The buffered backend round-trips records across segments and a reopen.
#[test]
fn buffered_round_trip() {
    run(BackendKind::Buffered);
}

/// The io_uring backend round-trips records across segments and a reopen.
#[test]
fn io_uring_round_trip() {
    run(BackendKind::IoUring);
}
