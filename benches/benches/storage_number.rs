//! Storage numbers: backhaul's bit-exact pack (netdata's x87 rounding, emulated in
//! integers) and exact unpack, beside the naive `f64` versions.

use std::hint::black_box;

use backhaul_benches::naive;
use backhaul_benches::population::{stored_value, BEFORE, CHARTS, DIMS, METRICS};
use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod common;

/// Values of the population, as `anchors/baseline.c`'s storage-number loops take them.
fn values() -> Vec<f64> {
    (0..4096)
        .map(|i| {
            stored_value(
                i % CHARTS,
                (i / CHARTS) % DIMS,
                BEFORE - (i / METRICS) as i64,
            )
        })
        .collect()
}

fn pack(c: &mut Criterion) {
    let values = values();
    let mut g = c.benchmark_group("storage_number_pack");
    g.throughput(Throughput::Elements(values.len() as u64));
    g.bench_function("backhaul", |b| {
        b.iter(|| {
            for &v in &values {
                black_box(StorageNumber::pack(black_box(v), SN_EXISTS));
            }
        });
    });
    g.bench_function("naive_f64", |b| {
        b.iter(|| {
            for &v in &values {
                black_box(naive::pack(black_box(v), SN_EXISTS));
            }
        });
    });
    g.finish();
}

fn unpack(c: &mut Criterion) {
    let words: Vec<StorageNumber> = values()
        .into_iter()
        .map(|v| StorageNumber::pack(v, SN_EXISTS))
        .collect();
    let mut g = c.benchmark_group("storage_number_unpack");
    g.throughput(Throughput::Elements(words.len() as u64));
    g.bench_function("backhaul_exact", |b| {
        b.iter(|| {
            for &sn in &words {
                black_box(black_box(sn).unpack());
            }
        });
    });
    g.bench_function("backhaul_f64", |b| {
        b.iter(|| {
            for &sn in &words {
                black_box(black_box(sn).to_f64());
            }
        });
    });
    g.bench_function("naive_f64", |b| {
        b.iter(|| {
            for &sn in &words {
                black_box(naive::unpack(black_box(sn).to_bits()));
            }
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = pack, unpack
}
criterion_main!(benches);
