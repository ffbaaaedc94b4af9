//! Helpers shared by the segment integration tests.
#![allow(dead_code)]

use shardlog_segment::io::{FileSystem, MemFs};
use shardlog_segment::{BackendKind, Durability, Log, ReadLimits, Record, Storage, StorageConfig};
use std::sync::Arc;

/// Storage on `fs` with the buffered backend.
pub fn mem_storage(fs: &Arc<MemFs>, durability: Durability) -> Storage {
    Storage::open(
        fs.clone() as Arc<dyn FileSystem>,
        StorageConfig {
            backend: BackendKind::Buffered,
            durability,
        },
    )
    .unwrap()
}

/// A record as the tests keep it: partition key, explicit hash key, payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub key: String,
    pub hash: Option<u128>,
    pub data: Vec<u8>,
}

/// Records of batch `batch` (count `count`), with payloads that say where they belong.
pub fn make_batch(batch: u64, count: usize, data_len: usize) -> Vec<Owned> {
    (0..count)
        .map(|i| {
            let mut data = format!("b{batch}:r{i}:n{count}:").into_bytes();
            data.resize(data.len() + data_len, (batch as u8).wrapping_add(i as u8));
            Owned {
                key: format!("key-{batch}-{i}"),
                hash: (i % 3 == 0).then_some(u128::from(batch) << 64 | i as u128),
                data,
            }
        })
        .collect()
}

pub fn borrow(records: &[Owned]) -> Vec<Record<'_>> {
    records
        .iter()
        .map(|r| Record {
            partition_key: &r.key,
            explicit_hash_key: r.hash,
            data: &r.data,
        })
        .collect()
}

/// Every record from `from` to the end of the log, in order.
pub fn read_all(log: &Log, from: u64) -> Vec<(u64, Owned)> {
    let mut out = Vec::new();
    let mut position = from;
    loop {
        let result = log
            .read(
                position,
                ReadLimits {
                    records_max: 1000,
                    bytes_max: 4 << 20,
                },
            )
            .unwrap();
        if result.record_count == 0 {
            return out;
        }
        for record in result.records() {
            out.push((
                record.position,
                Owned {
                    key: record.partition_key.to_string(),
                    hash: record.explicit_hash_key,
                    data: record.data.to_vec(),
                },
            ));
        }
        position = result.next_position;
    }
}
