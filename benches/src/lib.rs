//! Benchmarks for backhaul.
