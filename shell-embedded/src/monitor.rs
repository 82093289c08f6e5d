//! The exporter's self-monitoring charts, as the Linux shell keeps them.
//!
//! netdata's four `netdata.backend_*` charts (family `backend`), with the same ids,
//! dimensions and units as the Linux daemon's, filled from the engine's
//! [`Counters`] once per export interval and exported like any other chart:
//!
//! | chart | dimensions | value |
//! | --- | --- | --- |
//! | `netdata.backend_metrics` | `buffered`, `lost`, `sent` | records buffered now; lost and delivered since the last update |
//! | `netdata.backend_bytes` (KiB) | `buffered`, `lost`, `sent`, `received` | bytes in the send buffer now; lost, written, read since the last update |
//! | `netdata.backend_ops` | `write`, `discard`, `reconnect`, `failure`, `read` | operations since the last update |
//! | `netdata.backend_thread_cpu` (ms/s) | `user` | the exporter's own CPU time, from the board's [`CycleCounter`](crate::CycleCounter) |
//!
//! The CPU chart has one dimension: a microcontroller has no kernel to split the time
//! with (netdata's `system` dimension would always be 0).
//!
//! Each chart costs RAM for its rings (dimensions × `SLOTS` × 4 bytes) and one line per
//! dimension per interval on the wire, so a firmware picks the ones it wants with
//! [`SelfCharts`].

use backhaul_core::collect::Algorithm::{Absolute, Incremental};
use backhaul_core::engine::Counters;
use backhaul_core::time::Instant;

use crate::metrics::{ChartDef, ChartId, DimDef, Full, Metrics};

/// Which self-monitoring charts to keep (see the [module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[allow(clippy::struct_excessive_bools)]
pub struct SelfCharts {
    /// `netdata.backend_metrics` (3 dimensions).
    pub metrics: bool,
    /// `netdata.backend_bytes` (4 dimensions).
    pub bytes: bool,
    /// `netdata.backend_ops` (5 dimensions).
    pub ops: bool,
    /// `netdata.backend_thread_cpu` (1 dimension).
    pub cpu: bool,
}

impl SelfCharts {
    /// All four charts (13 dimensions).
    pub const ALL: Self = Self {
        metrics: true,
        bytes: true,
        ops: true,
        cpu: true,
    };

    /// None.
    pub const NONE: Self = Self {
        metrics: false,
        bytes: false,
        ops: false,
        cpu: false,
    };

    /// Only the CPU chart.
    pub const CPU: Self = Self {
        cpu: true,
        ..Self::NONE
    };

    /// How many dimensions (and so rings) the selected charts have.
    #[must_use]
    pub const fn dimensions(self) -> usize {
        3 * self.metrics as usize
            + 4 * self.bytes as usize
            + 5 * self.ops as usize
            + self.cpu as usize
    }
}

const METRICS_DIMS: [DimDef<'static>; 3] = [
    DimDef::new("buffered", Absolute, 1, 1),
    DimDef::new("lost", Absolute, 1, 1),
    DimDef::new("sent", Absolute, 1, 1),
];
const BYTES_DIMS: [DimDef<'static>; 4] = [
    DimDef::new("buffered", Absolute, 1, 1024),
    DimDef::new("lost", Absolute, 1, 1024),
    DimDef::new("sent", Absolute, 1, 1024),
    DimDef::new("received", Absolute, 1, 1024),
];
const OPS_DIMS: [DimDef<'static>; 5] = [
    DimDef::new("write", Absolute, 1, 1),
    DimDef::new("discard", Absolute, 1, 1),
    DimDef::new("reconnect", Absolute, 1, 1),
    DimDef::new("failure", Absolute, 1, 1),
    DimDef::new("read", Absolute, 1, 1),
];
const CPU_DIMS: [DimDef<'static>; 1] = [DimDef::new("user", Incremental, 1, 1000)];

/// The self-monitoring charts of one exporter, and what they last reported.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Monitor {
    metrics: Option<ChartId>,
    bytes: Option<ChartId>,
    ops: Option<ChartId>,
    cpu: Option<ChartId>,
    reported: Counters,
    next: Instant,
    update_every: u32,
}

fn chart(id: &'static str, units: &'static str, update_every: u32) -> ChartDef<'static> {
    ChartDef {
        update_every,
        ..ChartDef::new(id, "backend", id, units)
    }
}

impl Monitor {
    /// Adds the selected charts to `metrics`, updated every `update_every` seconds from
    /// `now` on.
    pub(crate) fn add<const C: usize, const D: usize, const S: usize>(
        metrics: &mut Metrics<'_, C, D, S>,
        which: SelfCharts,
        update_every: u32,
        now: Instant,
    ) -> Result<Self, Full> {
        // Check the room first, so that a failure adds nothing.
        let count = [which.metrics, which.bytes, which.ops, which.cpu]
            .iter()
            .filter(|&&b| b)
            .count();
        if metrics.chart_count() + count > C {
            return Err(Full::Charts);
        }
        if backhaul_core::engine::Source::metric_count(metrics) + which.dimensions() > D {
            return Err(Full::Dimensions);
        }
        let u = update_every.max(1);
        let mut add = |on: bool, id, units, dims: &[DimDef<'static>]| {
            if on {
                metrics.add_chart(&chart(id, units, u), dims).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(Self {
            metrics: add(
                which.metrics,
                "netdata.backend_metrics",
                "metrics",
                &METRICS_DIMS,
            )?,
            bytes: add(which.bytes, "netdata.backend_bytes", "KiB", &BYTES_DIMS)?,
            ops: add(which.ops, "netdata.backend_ops", "operations", &OPS_DIMS)?,
            cpu: add(
                which.cpu,
                "netdata.backend_thread_cpu",
                "milliseconds/s",
                &CPU_DIMS,
            )?,
            reported: Counters::default(),
            next: now,
            update_every: u,
        })
    }

    /// When the next update is due.
    pub(crate) const fn next(&self) -> Instant {
        self.next
    }

    /// Collects the charts at `now` if an update is due: deltas of `current` against the
    /// last update, levels for the `buffered` dimensions, and the cumulative CPU time.
    pub(crate) fn update<const C: usize, const D: usize, const S: usize>(
        &mut self,
        metrics: &mut Metrics<'_, C, D, S>,
        current: &Counters,
        buffered_bytes: usize,
        cpu_micros: u64,
        now: Instant,
    ) {
        if now < self.next {
            return;
        }
        let previous = self.reported;
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let delta = |a: u64, b: u64| clamp(b.saturating_sub(a));
        let rows: [(Option<ChartId>, &[i64]); 4] = [
            (
                self.metrics,
                &[
                    clamp(current.buffered),
                    delta(previous.lost, current.lost),
                    delta(previous.delivered, current.delivered),
                ],
            ),
            (
                self.bytes,
                &[
                    clamp(buffered_bytes as u64),
                    delta(previous.bytes_lost, current.bytes_lost),
                    delta(previous.bytes_sent, current.bytes_sent),
                    delta(previous.bytes_received, current.bytes_received),
                ],
            ),
            (
                self.ops,
                &[
                    delta(previous.writes, current.writes),
                    delta(previous.discards, current.discards),
                    delta(previous.reconnects, current.reconnects),
                    delta(previous.failures, current.failures),
                    delta(previous.reads, current.reads),
                ],
            ),
            (self.cpu, &[clamp(cpu_micros)]),
        ];
        for (chart, values) in rows {
            let Some(chart) = chart else {
                continue;
            };
            for (i, &v) in values.iter().enumerate() {
                metrics.set(chart, i, v);
            }
            metrics.done(chart, now);
        }
        self.reported = *current;
        let step = backhaul_core::time::Duration::from_secs(u64::from(self.update_every));
        self.next = now.next_multiple_of(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backhaul_core::engine::Source;

    #[test]
    fn dimension_counts() {
        assert_eq!(SelfCharts::ALL.dimensions(), 13);
        assert_eq!(SelfCharts::CPU.dimensions(), 1);
        assert_eq!(SelfCharts::NONE.dimensions(), 0);
    }

    #[test]
    fn charts_have_netdatas_ids_and_fail_whole() {
        let now = Instant::from_secs(1_700_000_000);
        let mut small = Metrics::<'static, 4, 12, 5>::new();
        assert_eq!(
            Monitor::add(&mut small, SelfCharts::ALL, 1, now).err(),
            Some(Full::Dimensions)
        );
        assert_eq!(small.chart_count(), 0);
        let mut few = Metrics::<'static, 3, 13, 5>::new();
        assert_eq!(
            Monitor::add(&mut few, SelfCharts::ALL, 1, now).err(),
            Some(Full::Charts)
        );

        let mut m = Metrics::<'static, 4, 13, 5>::new();
        Monitor::add(&mut m, SelfCharts::ALL, 1, now).unwrap();
        let names: heapless::Vec<(&str, &str), 13> = (0..m.metric_count())
            .map(|i| {
                let metric = m.metric(i).unwrap();
                (metric.chart.id, metric.dimension.id)
            })
            .collect();
        assert_eq!(names[0], ("netdata.backend_metrics", "buffered"));
        assert_eq!(names[6], ("netdata.backend_bytes", "received"));
        assert_eq!(names[7], ("netdata.backend_ops", "write"));
        assert_eq!(names[12], ("netdata.backend_thread_cpu", "user"));
        assert_eq!(m.metric(12).unwrap().chart.units, "milliseconds/s");
        assert_eq!(m.metric(12).unwrap().chart.family, "backend");
    }
}
