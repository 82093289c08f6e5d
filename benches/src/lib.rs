//! Benchmarks for backhaul and the shared synthetic metric population.
//!
//! [`population`] rebuilds the population of `anchors/population.h` exactly, and
//! [`cycle`] formats one export cycle of it into one buffer, as the benchmarks and the C
//! baseline (`anchors/baseline.c`) do. [`wire`] does the same for remote write and the
//! Prometheus text format, and [`naive`] holds the `std::fmt` / `f64` baselines each
//! benchmark measures beside backhaul's code.
//!
//! The criterion benchmarks are in `benches/` (`cargo bench -p backhaul-benches`); the
//! comparison with netdata's C cost is `scripts/bench-compare.sh`, which runs the
//! `cycle` binary next to the C baseline (see `docs/performance.md`).

pub mod cycle;
pub mod naive;
pub mod population;
pub mod wire;
