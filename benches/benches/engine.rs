//! The engine's stop when it is a whole ring behind: counting every due record it never
//! formatted as lost (`Engine::stop_producing`), the one step of the engine not bounded
//! per call, done synchronously when the daemon exits.
//!
//! The population's 10,000 metrics with every one of their 3,600 ring slots holding a
//! point, exported every 10 seconds, by an engine that started one ring ago and whose
//! destination never came up: 360 spans × 10,000 metrics = 3.6 million records to count
//! (less the few that fit the buffer).

use std::hint::black_box;

use backhaul_benches::population::{
    Chart, Population, BACKEND_EVERY, BEFORE, ENTRIES, METRICS, UPDATE_EVERY,
};
use backhaul_core::config::DataSource;
use backhaul_core::engine::{Collected, Config, Engine, Framing, LossReason, Metric, Source};
use backhaul_core::format::graphite::Graphite;
use backhaul_core::format::DimensionMeta;
use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
use backhaul_core::time::{Duration, Instant};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

mod common;

/// The population as an engine's source.
struct Metrics<'p>(Vec<(&'p Chart, usize)>);

impl Source for Metrics<'_> {
    fn metric_count(&self) -> usize {
        self.0.len()
    }

    fn metric(&self, index: usize) -> Option<Metric<'_>> {
        let &(chart, d) = self.0.get(index)?;
        let dim = chart.dimensions.get(d)?;
        Some(Metric {
            chart: chart.meta(),
            dimension: DimensionMeta {
                id: &dim.id,
                name: &dim.name,
            },
            ring: chart.ring,
            values: &dim.values,
            collected: Some(Collected {
                value: dim.collected,
                time: dim.collected_at,
            }),
        })
    }
}

/// The population with every ring slot holding a point: every span of the ring has a
/// record for every metric.
fn full_rings() -> Population {
    let mut pop = Population::new();
    for chart in &mut pop.charts {
        for dim in &mut chart.dimensions {
            dim.values = vec![StorageNumber::pack(1.5, SN_EXISTS); ENTRIES];
        }
    }
    pop
}

/// Spans of the ring: the records one metric has to count at the stop.
const SPANS: u64 = ENTRIES as u64 / BACKEND_EVERY as u64;

/// An engine started one ring ago and behind by every span since (its destination never
/// came up, and it has worked through only its first call's share of the oldest span).
fn behind<'p>(pop: &'p Population, source: &Metrics<'_>) -> Engine<'p, Graphite, Vec<u8>> {
    let config = Config {
        host: pop.host(),
        names: pop.names,
        data_source: DataSource::Average,
        update_every: BACKEND_EVERY as u32,
        destinations: 1,
        timeout: Duration::from_secs(10),
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        transport_acks: true,
        framing: Framing::Stream,
    };
    let start = BEFORE - ENTRIES as i64 * i64::from(UPDATE_EVERY);
    let mut engine = Engine::new(
        config,
        Graphite,
        vec![0; 64 * 1024],
        Instant::from_secs(start),
    );
    engine.handle_timeout(Instant::from_secs(BEFORE + 1), source);
    engine
}

fn stop_a_ring_behind(c: &mut Criterion) {
    let pop = full_rings();
    let source = Metrics(
        pop.charts
            .iter()
            .flat_map(|c| (0..c.dimensions.len()).map(move |d| (c, d)))
            .collect(),
    );
    // The figure is only meaningful if the stop really counts a ring's worth: every
    // record of every span is accounted for, all but the oldest span's as never
    // formatted (that span's oldest point has been overwritten: expired).
    let mut engine = behind(&pop, &source);
    engine.stop_producing(&source);
    let counters = *engine.counters();
    let counted = counters.lost_for(LossReason::Shutdown);
    assert_eq!(counters.accepted, SPANS * METRICS as u64, "{counters:?}");
    assert_eq!(counted, (SPANS - 1) * METRICS as u64, "{counters:?}");

    let mut g = c.benchmark_group("engine_stop");
    g.throughput(Throughput::Elements(counted));
    g.bench_function("count_unformatted_one_ring_behind", |b| {
        b.iter_batched_ref(
            || behind(&pop, &source),
            |engine| engine.stop_producing(black_box(&source)),
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = stop_a_ring_behind
}
criterion_main!(benches);
