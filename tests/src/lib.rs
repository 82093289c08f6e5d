//! Shared helpers for backhaul's cross-crate tests.
//!
//! [`daemon`]: the real `backhaul` binary as a child process: started with a configuration
//! written by the test, its printed records and log collected, polled with deadlines,
//! stopped by a signal with its exit report parsed; and the comparison of what a peer
//! stored with what it printed.
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

pub mod daemon;
pub mod peers;
pub mod proxy;
pub mod remote_write_pb;
