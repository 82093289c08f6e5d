//! Shared helpers for backhaul's cross-crate tests.
//!
//! [`peers`]: the real servers the integration tests send to (VictoriaMetrics, carbon-cache
//! with whisper, InfluxDB 1.x, Prometheus), each started on free loopback ports and killed
//! on drop, with helpers that read the stored points back.
//!
//! [`remote_write_pb`]: the remote-write messages as an independent decoder sees them.
//!
//! [`proxy`]: a byte-level fault-injecting TCP proxy to put in front of a peer: cuts in
//! the middle of a record, stalls, outages, crashes, slow reading and broken HTTP replies,
//! with a record of exactly what it forwarded.

pub mod peers;
pub mod proxy;
pub mod remote_write_pb;
