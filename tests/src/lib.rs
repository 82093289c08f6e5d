//! Shared helpers for backhaul's cross-crate tests.
//!
//! [`peers`]: the real servers the integration tests send to (VictoriaMetrics, carbon-cache
//! with whisper, InfluxDB 1.x, Prometheus), each started on free loopback ports and killed
//! on drop, with helpers that read the stored points back.
//!
//! [`remote_write_pb`]: the remote-write messages as an independent decoder sees them.

pub mod peers;
pub mod remote_write_pb;
