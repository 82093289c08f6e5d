//! What the engine exports: the shell's metrics, seen through a small trait.

use crate::format::{ChartMeta, DimensionMeta};
use crate::ring::RingState;
use crate::storage_number::StorageNumber;

/// The last collected raw value of a dimension and when it was collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Collected {
    /// The raw value the collector handed over.
    pub value: i64,
    /// When it was collected, in Unix seconds.
    pub time: i64,
}

/// One dimension as the engine reads it.
#[derive(Clone, Copy, Debug)]
pub struct Metric<'a> {
    /// Its chart.
    pub chart: ChartMeta<'a>,
    /// The dimension itself.
    pub dimension: DimensionMeta<'a>,
    /// The position of the chart's ring.
    pub ring: RingState,
    /// The dimension's slice of the ring.
    pub values: &'a [StorageNumber],
    /// The last collected value, if the dimension was ever collected.
    pub collected: Option<Collected>,
}

/// The metrics an engine exports, in a stable order.
///
/// The engine walks the metrics by index and may stop in the middle (when its buffer is
/// full) and resume later at the same index, so a source should only ever *append*
/// metrics while an engine is running; removing or reordering them can make one export
/// span skip or repeat some metrics. Filtering (netdata's `send charts matching`) is the
/// source's job: it knows when a chart changes and can cache the decision per chart.
pub trait Source {
    /// How many metrics there are now.
    fn metric_count(&self) -> usize;

    /// The metric at `index`, or `None` past the end.
    fn metric(&self, index: usize) -> Option<Metric<'_>>;
}

impl<S: Source + ?Sized> Source for &S {
    fn metric_count(&self) -> usize {
        (**self).metric_count()
    }

    fn metric(&self, index: usize) -> Option<Metric<'_>> {
        (**self).metric(index)
    }
}
