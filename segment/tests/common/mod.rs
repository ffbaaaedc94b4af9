//! Helpers shared by the segment integration tests.
#![allow(dead_code)]

pub mod hook_fs;

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

/// A small deterministic generator (xorshift64*), so that a failing run replays
/// from the seed it prints.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // xorshift must not start at zero; the odd multiplier spreads nearby seeds.
        Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// A count from the environment variable `name`, or `default` (for long runs
/// outside CI, e.g. `SHARDLOG_POWER_LOSS_CUTS=20000`).
pub fn count_from_env(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}")),
        Err(_) => default,
    }
}

/// Every record acknowledged to each log, by position, across every life of the
/// logs (crashes and reopens): what no fault may lose or reuse.
#[derive(Debug)]
pub struct Ledger {
    logs: Vec<std::collections::BTreeMap<u64, Owned>>,
    /// The last position acknowledged to each log, trimmed or not.
    last: Vec<Option<u64>>,
}

impl Ledger {
    pub fn new(logs: usize) -> Ledger {
        Ledger {
            logs: vec![Default::default(); logs],
            last: vec![None; logs],
        }
    }

    /// Notes an acknowledged batch of log `log`. Acknowledgements of one log come
    /// from one producer at a time, so each batch must start after every position
    /// acknowledged before it, in this life or an earlier one: otherwise a position
    /// was reused or went backwards.
    pub fn record(&mut self, log: usize, base_position: u64, records: Vec<Owned>, context: &str) {
        if let Some(last) = self.last[log] {
            assert!(
                base_position > last,
                "{context}: log {log} acknowledged position {base_position} after {last}"
            );
        }
        self.last[log] = Some(base_position + records.len() as u64 - 1);
        for (k, record) in records.into_iter().enumerate() {
            self.logs[log].insert(base_position + k as u64, record);
        }
    }

    /// How many records are owed, over every log.
    pub fn len(&self) -> usize {
        self.logs.iter().map(std::collections::BTreeMap::len).sum()
    }

    /// Retention may remove the records of `log` below `position`: no longer owed.
    pub fn trim(&mut self, log: usize, position: u64) {
        self.logs[log] = self.logs[log].split_off(&position);
    }

    /// Checks that `log` (log number `index`, just reopened) holds every record
    /// acknowledged to it and not trimmed, byte-exact at its position, and that its
    /// positions run from its first one without a gap. Returns how many
    /// acknowledged records it checked.
    pub fn verify(&self, index: usize, log: &Log, context: &str) -> usize {
        let first = log.first_position();
        let recovered = read_all(log, first);
        for (i, (position, _)) in recovered.iter().enumerate() {
            assert_eq!(
                *position,
                first + i as u64,
                "{context}: log {index} positions out of order"
            );
        }
        let acked = &self.logs[index];
        for (position, record) in acked {
            let found = position
                .checked_sub(first)
                .and_then(|i| recovered.get(usize::try_from(i).ok()?))
                .map(|(_, record)| record);
            assert!(
                found == Some(record),
                "{context}: log {index} lost acknowledged position {position} (first {first}, {} recovered, {} acknowledged)",
                recovered.len(),
                acked.len()
            );
        }
        acked.len()
    }
}
