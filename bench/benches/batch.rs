//! Batch encode and verified decode of 500 records of 1 KiB.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shardlog_segment::batch::{encode_batch, BatchLimits};
use shardlog_segment::{BatchView, Record};
use std::hint::black_box;

fn batch(c: &mut Criterion) {
    let payload = vec![0xA5u8; 1024];
    let keys: Vec<String> = (0..500).map(|i| format!("partition-{i}")).collect();
    let records: Vec<Record<'_>> = keys
        .iter()
        .map(|key| Record {
            partition_key: key,
            explicit_hash_key: None,
            data: &payload,
        })
        .collect();
    let limits = BatchLimits {
        record_bytes_max: 1 << 20,
        batch_bytes_max: 64 << 20,
    };
    let encoded = encode_batch(0, 1_700_000_000_000, &records, &limits).unwrap();
    let mut group = c.benchmark_group("batch_500x1KiB");
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("encode", |b| {
        b.iter(|| {
            encode_batch(
                black_box(7),
                1_700_000_000_000,
                black_box(&records),
                &limits,
            )
        })
    });
    group.bench_function("decode_verify", |b| {
        b.iter(|| {
            let view = BatchView::parse(black_box(&encoded)).unwrap();
            view.records().map(|r| r.data.len()).sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
