//! The Linux shell of backhaul: the `backhaul` daemon's parts, around the sans-I/O core.
//!
//! * [`collectors`] read `/proc` into the rings of [`charts`];
//! * [`daemon`] runs one mio event loop: collection ticks, one engine per destination,
//!   non-blocking connections ([`net`]), the pull endpoint ([`pull`]) and signals.

pub mod ack_poll;
pub mod charts;
pub mod clock;
pub mod codec;
pub mod collectors;
pub mod daemon;
pub mod http;
pub mod kinesis;
pub mod mongo;
pub mod net;
pub mod pull;
pub mod rusage;
pub mod settings;
pub mod tls;
pub mod wire;
