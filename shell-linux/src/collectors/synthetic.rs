//! Synthetic metrics for load tests (`--synthetic-metrics N`): charts of five gauges
//! whose values come from a fixed hash of (chart, dimension, time), so runs are
//! reproducible and the daemon's cost can be measured at any scale.

use crate::charts::{ChartDef, ChartId, ChartSet, ChartStyle, DimDef, DimId};
use backhaul_core::collect::Algorithm;

/// Dimensions per synthetic chart.
const DIMS: usize = 5;
const DIM_IDS: [&str; DIMS] = ["a", "b", "c", "d", "e"];

/// N synthetic metrics, in charts `synthetic.chartK` of five absolute dimensions.
#[derive(Debug)]
pub struct Synthetic {
    /// The charts; each has the dimensions `DimId::at(0..DIMS)`.
    charts: Vec<ChartId>,
}

/// splitmix64's finaliser.
const fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Synthetic {
    /// Defines `metrics` metrics (rounded up to whole charts of five).
    pub fn new(set: &mut ChartSet, metrics: usize) -> Self {
        let mut charts = Vec::with_capacity(metrics.div_ceil(DIMS));
        for c in 0..metrics.div_ceil(DIMS) {
            let id = format!("synthetic.chart{c}");
            let chart = set.add_chart(&ChartDef {
                id: &id,
                name: None,
                family: "synthetic",
                context: "synthetic.values",
                units: "value",
                title: "Synthetic values",
                priority: 900_000,
                update_every: 0,
                style: ChartStyle::Line,
            });
            set.reserve_dimensions(chart, DIMS);
            for (i, d) in DIM_IDS.iter().enumerate() {
                let dim = set
                    .add_dimension(chart, &DimDef::new(d, Algorithm::Absolute, 1, 1000))
                    .expect("a new chart takes dimensions");
                debug_assert_eq!(dim, DimId::at(i));
            }
            charts.push(chart);
        }
        Self { charts }
    }

    /// Sets every metric's value for the collection at `now_us` and stores it.
    pub fn collect(&mut self, set: &mut ChartSet, now_us: i64) {
        let second = u64::try_from(now_us / 1_000_000).unwrap_or(0);
        for (c, &chart) in self.charts.iter().enumerate() {
            for d in 0..DIMS {
                let h = mix((c as u64) << 40 ^ (d as u64) << 32 ^ second);
                set.set(chart, DimId::at(d), (h % 100_000_000) as i64);
            }
            set.done(chart, now_us);
        }
    }
}
