//! Formatting: one export cycle of the 10,000-metric population into one buffer for each
//! of the six modes of the C baseline, remote write (protobuf encoding and snappy) and the
//! Prometheus text format, each beside a naive `std::fmt` (or allocating) version. All
//! throughputs are per metric (sample).

use std::hint::black_box;

use backhaul_benches::cycle::{self, Mode, Output, CYCLE_BYTES_PER_METRIC};
use backhaul_benches::naive;
use backhaul_benches::population::{Source, METRICS};
use backhaul_benches::wire::{self, RemoteWrite};
use backhaul_core::format::{Value, ValueBuffer};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Write as _;

mod common;

const PER_METRIC: Throughput = Throughput::Elements(METRICS as u64);

fn cycles(c: &mut Criterion) {
    let pop = common::population();
    let mut out = Output::for_cycle();
    let mut naive_out = Vec::with_capacity(out.capacity());
    for mode in Mode::ALL {
        let mut g = c.benchmark_group(format!("cycle_{}", mode.name()));
        g.throughput(PER_METRIC);
        g.bench_function("backhaul", |b| {
            b.iter(|| cycle::export(black_box(pop), mode, &mut out));
        });
        g.bench_function("naive_fmt", |b| {
            b.iter(|| naive::export(black_box(pop), mode, &mut naive_out));
        });
        g.finish();
    }
}

fn value_text(c: &mut Criterion) {
    let records: Vec<_> = common::population().cycle_records(Source::Stored).collect();
    let mut g = c.benchmark_group("value_text_7_decimals");
    g.throughput(PER_METRIC);
    g.bench_function("backhaul", |b| {
        let mut buf = ValueBuffer::new();
        b.iter(|| {
            for r in &records {
                black_box(buf.format(black_box(r.value)).len());
            }
        });
    });
    g.bench_function("naive_fmt_f64", |b| {
        let values: Vec<f64> = records
            .iter()
            .map(|r| match r.value {
                Value::Stored(d) => d.to_f64(),
                Value::Collected(n) => n as f64,
            })
            .collect();
        let mut buf = Vec::with_capacity(64);
        b.iter(|| {
            for &v in &values {
                buf.clear();
                write!(buf, "{:.7}", black_box(v)).expect("a Vec takes every write");
                black_box(buf.len());
            }
        });
    });
    g.finish();
}

fn remote_write(c: &mut Criterion) {
    let pop = common::population();
    let mut rw = RemoteWrite::new(pop);
    rw.cycle();
    let mut g = c.benchmark_group("remote_write_encode");
    g.throughput(PER_METRIC);
    g.bench_function("backhaul", |b| b.iter(|| black_box(rw.encode())));
    let mut naive_out = Vec::with_capacity(rw.request().len());
    g.bench_function("naive_alloc", |b| {
        b.iter(|| naive::remote_write(black_box(rw.records()), &mut naive_out));
    });
    g.finish();

    let mut g = c.benchmark_group("remote_write_snappy");
    g.throughput(PER_METRIC);
    g.bench_function("backhaul", |b| b.iter(|| black_box(rw.compress())));
    g.bench_function("literal_only_copy", |b| {
        b.iter(|| black_box(rw.compress_literal()));
    });
    g.finish();

    let mut g = c.benchmark_group("remote_write_encode_and_snappy");
    g.throughput(PER_METRIC);
    g.bench_function("backhaul", |b| b.iter(|| black_box(rw.cycle())));
    g.finish();
}

fn prometheus(c: &mut Criterion) {
    let pop = common::population();
    let mut out = vec![0u8; METRICS * CYCLE_BYTES_PER_METRIC];
    let mut naive_out = Vec::with_capacity(out.len());
    let mut g = c.benchmark_group("prometheus_text");
    g.throughput(PER_METRIC);
    g.bench_function("backhaul", |b| {
        b.iter(|| wire::prometheus(black_box(pop), &mut out));
    });
    g.bench_function("naive_fmt", |b| {
        b.iter(|| naive::prometheus(black_box(pop), &mut naive_out));
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = cycles, value_text, remote_write, prometheus
}
criterion_main!(benches);
