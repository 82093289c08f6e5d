//! Shared helpers for backhaul's cross-crate tests.
