//! Window reduction: every metric of the population averaged over its export window of
//! 10 ring slots, exactly (backhaul) and in `f64` (naive).

use std::hint::black_box;

use backhaul_benches::naive;
use backhaul_benches::population::{Population, AFTER, BEFORE, METRICS};
use backhaul_core::window::{self, Reduce};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod common;

fn window_10_slots(c: &mut Criterion) {
    let pop = common::population();
    let mut g = c.benchmark_group("window_10_slots");
    g.throughput(Throughput::Elements(METRICS as u64));
    for (name, how) in [
        ("backhaul_average", Reduce::Average),
        ("backhaul_sum", Reduce::Sum),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                for (chart, dim) in black_box(pop).metrics() {
                    let v = window::value(&dim.values, &chart.ring, AFTER, BEFORE, how);
                    black_box(v.ok());
                }
            });
        });
    }
    g.bench_function("naive_f64_average", |b| {
        b.iter(|| {
            for (chart, dim) in black_box(pop).metrics() {
                black_box(naive::average(&dim.values, &chart.ring, AFTER, BEFORE));
            }
        });
    });
    g.finish();
}

/// The window of one metric, to check the benchmark reads ten slots.
fn slots_read(pop: &Population) -> usize {
    let (chart, dim) = pop.metrics().next().expect("a metric");
    let w = window::align(&chart.ring, AFTER, BEFORE).expect("a window");
    window::reduce(&dim.values, &chart.ring, &w).slots_visited
}

fn check(_: &mut Criterion) {
    assert_eq!(slots_read(common::population()), 10);
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = check, window_10_slots
}
criterion_main!(benches);
