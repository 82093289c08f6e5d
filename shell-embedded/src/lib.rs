#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]
#![doc = include_str!("../README.md")]

// First: the logging macros the other modules use.
#[macro_use]
mod fmt;

mod clock;
mod driver;
mod metrics;
pub mod monitor;
pub mod transport;

pub use clock::{Clock, CycleCounter, NoCycles};
pub use driver::{stream_config, Exporter, FormatFn, Status};
pub use metrics::{ChartDef, ChartId, DimDef, Full, Metrics};
pub use monitor::SelfCharts;
pub use transport::{Blocking, NbBytes, Ready, Transport};

pub use backhaul_core::collect::{Algorithm, Done};
pub use backhaul_core::engine::{Config, Counters, LossReason};
pub use backhaul_core::format::HostMeta;
pub use backhaul_core::time;
