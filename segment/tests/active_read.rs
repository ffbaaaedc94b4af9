//! Reads of the active segment go through recycled buffers: records a reader
//! still holds must never change, whatever is read after them.

mod common;

use common::mem_storage;
use shardlog_segment::io::MemFs;
use shardlog_segment::{Durability, LogConfig, ReadLimits, Record};

fn payload(position: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (position as usize * 31 + i) as u8)
        .collect()
}

/// Batches from a few bytes to past the largest pooled buffer (8 MiB), read back
/// with limits of every size; the data of every earlier read is kept and checked
/// again at the end, after the buffers under it would have been reused.
#[test]
fn held_records_survive_later_reads() {
    let fs = MemFs::new();
    let storage = mem_storage(&fs, Durability::None);
    let (log, _) = storage.open_log("/d/s", LogConfig::default()).unwrap();
    // (records per batch, bytes per record)
    let shapes = [
        (1, 10),
        (500, 1000),
        (3, 300_000),
        (9, 1_000_000),
        (200, 70),
        (1, 5),
    ];
    let mut lens = Vec::new();
    let mut keys = Vec::new();
    for round in 0..3 {
        for (count, len) in shapes {
            let base = lens.len() as u64;
            let datas: Vec<Vec<u8>> = (0..count).map(|i| payload(base + i as u64, len)).collect();
            let key = format!("key-{round}");
            let records: Vec<Record<'_>> = datas
                .iter()
                .map(|data| Record {
                    partition_key: &key,
                    explicit_hash_key: None,
                    data,
                })
                .collect();
            log.append(&records).unwrap();
            lens.extend(std::iter::repeat_n(len, count));
            keys.extend(std::iter::repeat_n(key.clone(), count));
        }
    }
    let total = lens.len() as u64;
    assert_eq!(log.end_position(), total);

    for limits in [
        ReadLimits {
            records_max: 1,
            bytes_max: usize::MAX,
        },
        ReadLimits {
            records_max: 7,
            bytes_max: 4096,
        },
        ReadLimits {
            records_max: 10_000,
            bytes_max: 10 << 20,
        },
        ReadLimits {
            records_max: usize::MAX,
            bytes_max: usize::MAX,
        },
    ] {
        let mut held = Vec::new();
        let mut position = 0;
        while position < total {
            let result = log.read(position, limits).unwrap();
            assert!(result.record_count >= 1 && result.record_count <= limits.records_max);
            for record in result.records_with_data() {
                assert_eq!(record.position, position);
                assert_eq!(record.data.len(), lens[position as usize]);
                held.push((position, record.data, record.partition_key));
                position += 1;
            }
            assert_eq!(result.next_position, position);
        }
        for (position, data, key) in held {
            assert!(
                data[..] == payload(position, lens[position as usize])[..],
                "record {position} changed under its reader ({limits:?})"
            );
            assert_eq!(&key[..], keys[position as usize], "record {position}'s key");
        }
    }
}
