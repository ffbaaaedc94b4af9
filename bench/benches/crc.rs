//! CRC-32 (crc32fast) over batch-sized buffers.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn crc(c: &mut Criterion) {
    let mut group = c.benchmark_group("crc32");
    for size in [4096usize, 64 << 10, 512 << 10] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31) as u8).collect();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, data| {
            b.iter(|| crc32fast::hash(black_box(data)))
        });
    }
    group.finish();
}

criterion_group!(benches, crc);
criterion_main!(benches);
