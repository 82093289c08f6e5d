//! What the criterion benchmarks share: short settings, so that `cargo bench -p
//! backhaul-benches` finishes in a few minutes, and the population, built once.
//!
//! Wall-clock numbers on a shared machine are noisy; the regression-grade figures are the
//! callgrind instruction counts of `scripts/bench-compare.sh`.

use std::sync::OnceLock;
use std::time::Duration;

use backhaul_benches::population::Population;
use criterion::Criterion;

/// Ten samples, 0.3 s of warm-up and 1 s of measurement per benchmark.
pub(crate) fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}

/// The shared 10,000-metric population (`anchors/population.h`).
#[allow(dead_code)] // the storage-number benchmarks do not use it
pub(crate) fn population() -> &'static Population {
    static POP: OnceLock<Population> = OnceLock::new();
    POP.get_or_init(Population::new)
}
