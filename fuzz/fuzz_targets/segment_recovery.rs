//! Recovery of a log whose segment holds arbitrary bytes never panics, and a log
//! it opens reads back and takes an append.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_segment::io::{write_all_at, FileSystem, MemFs, OpenOptions};
use shardlog_segment::{
    BackendKind, Durability, LogConfig, ReadLimits, Record, Storage, StorageConfig,
};
use std::path::Path;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/s")).unwrap();
    let file = fs
        .open(
            Path::new("/s/00000000000000000000.log"),
            OpenOptions::CREATE,
        )
        .unwrap();
    write_all_at(file.as_ref(), data, 0).unwrap();
    file.sync_data().unwrap();
    drop(file);
    let config = StorageConfig {
        backend: BackendKind::Buffered,
        durability: Durability::Sync,
    };
    let storage = Storage::open(fs.clone() as Arc<dyn FileSystem>, config).unwrap();
    if let Ok((log, _report)) = storage.open_log("/s", LogConfig::default()) {
        let limits = ReadLimits {
            records_max: 10_000,
            bytes_max: 1 << 20,
        };
        let _ = log
            .read(log.first_position(), limits)
            .map(|r| r.records().count());
        let record = Record {
            partition_key: "k",
            explicit_hash_key: None,
            data: b"after",
        };
        log.append(&[record])
            .expect("a recovered log takes appends");
    }
    let _ = storage.shutdown();
});
