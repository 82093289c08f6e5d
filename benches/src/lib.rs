//! Benchmarks for backhaul and the shared synthetic metric population.
//!
//! [`population`] rebuilds the population of `anchors/population.h` exactly, and
//! [`cycle`] formats one export cycle of it into one buffer, as the benchmarks and the C
//! baseline (`anchors/baseline.c`) do.

pub mod cycle;
pub mod population;
