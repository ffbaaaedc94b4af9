//! Index lookups: binary search over an encoded (mapped-shape) index of a full
//! 1 GiB segment indexed every 4 KiB (262,144 entries).

use criterion::{criterion_group, criterion_main, Criterion};
use shardlog_index::{encode_file, Entry, IndexKind, IndexView};
use std::hint::black_box;

fn index(c: &mut Criterion) {
    let count = 262_144u64;
    let entries: Vec<Entry> = (0..count)
        .map(|i| Entry {
            key: i * 4,
            value: 64 + i * 4096,
        })
        .collect();
    let bytes = encode_file(IndexKind::Position, 0, &entries, None);
    let view = IndexView::parse(&bytes, IndexKind::Position, 0).unwrap();
    let mut probe = 0u64;
    c.bench_function("index_floor_262144", |b| {
        b.iter(|| {
            probe = (probe + 7_919) % (count * 4);
            black_box(view.floor(black_box(probe)))
        })
    });
    c.bench_function("index_parse_262144", |b| {
        b.iter(|| {
            IndexView::parse(black_box(&bytes), IndexKind::Position, 0)
                .unwrap()
                .len()
        })
    });
}

criterion_group!(benches, index);
criterion_main!(benches);
