//! The firmware's metrics: charts, their dimensions and rings, in fixed-size storage.
//!
//! [`Metrics`] holds up to `CHARTS` charts with up to `DIMS` dimensions in all, each
//! dimension with a ring of `SLOTS` storage numbers (4 bytes a slot). Everything is sized
//! by the const generics: nothing is allocated, and [`Metrics::new`] is a `const fn`, so
//! the whole store can be a `static` (its rings are zero bytes, so they cost RAM in
//! `.bss`, not flash).
//!
//! A collection works as netdata's does: [`set`](Metrics::set) the raw value of each
//! dimension of a chart, then close the collection with [`done`](Metrics::done), which
//! stores one point per due grid time into every ring of the chart (the core's
//! [`ChartClock::store_due_points`]). [`Metrics`] is the [`Source`] the exporter reads.

use backhaul_core::collect::{Algorithm, ChartClock, DimensionState, Done};
use backhaul_core::engine::{Collected, Metric, Source};
use backhaul_core::format::{ChartMeta, DimensionMeta};
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::StorageNumber;
use backhaul_core::time::Instant;
use heapless::Vec;

/// What defines a chart. Only the id is needed for Graphite and OpenTSDB names; the
/// other fields appear in the JSON format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChartDef<'n> {
    /// The full id, `type.id` (e.g. `sensor.temperature`); the type is the part before
    /// the first dot.
    pub id: &'n str,
    /// The full name; `None` uses the id.
    pub name: Option<&'n str>,
    /// The family.
    pub family: &'n str,
    /// The context.
    pub context: &'n str,
    /// The units.
    pub units: &'n str,
    /// Seconds between points; 0 is taken as 1.
    pub update_every: u32,
}

impl<'n> ChartDef<'n> {
    /// A chart with no name of its own, one point a second.
    #[must_use]
    pub const fn new(id: &'n str, family: &'n str, context: &'n str, units: &'n str) -> Self {
        Self {
            id,
            name: None,
            family,
            context,
            units,
            update_every: 1,
        }
    }
}

/// What defines a dimension of a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DimDef<'n> {
    /// The id.
    pub id: &'n str,
    /// The name; `None` uses the id.
    pub name: Option<&'n str>,
    /// How a raw value becomes a stored one.
    pub algorithm: Algorithm,
    /// Multiplier (0 is taken as 1).
    pub multiplier: i64,
    /// Divisor (0 is taken as 1).
    pub divisor: i64,
}

impl<'n> DimDef<'n> {
    /// A dimension with no name of its own.
    #[must_use]
    pub const fn new(id: &'n str, algorithm: Algorithm, multiplier: i64, divisor: i64) -> Self {
        Self {
            id,
            name: None,
            algorithm,
            multiplier,
            divisor,
        }
    }
}

/// A chart of a [`Metrics`] store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChartId(usize);

/// A [`Metrics`] store is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Full {
    /// It already has `CHARTS` charts.
    Charts,
    /// The chart's dimensions do not fit in the `DIMS` left.
    Dimensions,
}

impl core::fmt::Display for Full {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Charts => "no room for another chart (CHARTS)",
            Self::Dimensions => "no room for the chart's dimensions (DIMS)",
        })
    }
}

impl core::error::Error for Full {}

#[derive(Clone, Copy, Debug)]
struct Chart<'n> {
    meta: ChartMeta<'n>,
    clock: ChartClock,
    /// Its dimensions are `first..first + len` (contiguous: a chart is added whole).
    first: usize,
    len: usize,
}

#[derive(Clone, Copy, Debug)]
struct Dim<'n> {
    meta: DimensionMeta<'n>,
    state: DimensionState,
    chart: usize,
}

/// Charts, dimensions and rings in fixed-size storage.
///
/// A collection works as netdata's does: [`set`](Self::set) the raw value of each
/// dimension of a chart, then close the collection with [`done`](Self::done), which
/// stores one point per due grid time into every ring of the chart. The store is the
/// [`Source`] the exporter reads; [`new`](Self::new) is a `const fn`, so it can be a
/// `static` (its rings are zero bytes: RAM in `.bss`, no flash).
///
/// `CHARTS` charts at most, `DIMS` dimensions in all, `SLOTS` points per dimension (the
/// history, e.g. 60 for a minute of one-second points; the exporter can resend from it
/// after an outage that short). RAM: `DIMS × SLOTS × 4` bytes of rings, plus the charts'
/// and dimensions' state: on a 32-bit target 832 bytes for 3 charts of one dimension
/// each (the QEMU demo's store).
///
/// ```
/// use backhaul_embedded::{Algorithm, ChartDef, DimDef, Metrics};
/// use backhaul_embedded::time::Instant;
///
/// // 2 charts, 3 dimensions, 60 one-second slots each: 720 bytes of rings.
/// let mut metrics = Metrics::<'static, 2, 3, 60>::new();
/// let sensor = metrics
///     .add_chart(
///         &ChartDef::new("sensor.temperature", "sensor", "sensor.temperature", "Celsius"),
///         &[DimDef::new("board", Algorithm::Absolute, 1, 1000)],
///     )
///     .unwrap();
/// let t0 = 1_700_000_000;
/// for (i, milli_celsius) in [21_250, 21_500, 21_750].into_iter().enumerate() {
///     metrics.set(sensor, 0, milli_celsius);
///     metrics.done(sensor, Instant::from_secs(t0 + i as i64));
/// }
/// // The first collection primes the chart; the next two store a point each.
/// assert_eq!(metrics.ring(sensor).map(|r| r.counter()), Some(2));
/// ```
#[derive(Debug)]
pub struct Metrics<'n, const CHARTS: usize, const DIMS: usize, const SLOTS: usize> {
    charts: Vec<Chart<'n>, CHARTS>,
    dims: Vec<Dim<'n>, DIMS>,
    rings: [[StorageNumber; SLOTS]; DIMS],
}

impl<const CHARTS: usize, const DIMS: usize, const SLOTS: usize> Default
    for Metrics<'_, CHARTS, DIMS, SLOTS>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<'n, const CHARTS: usize, const DIMS: usize, const SLOTS: usize>
    Metrics<'n, CHARTS, DIMS, SLOTS>
{
    /// An empty store (usable in a `static`).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            charts: Vec::new(),
            dims: Vec::new(),
            rings: [[StorageNumber::EMPTY; SLOTS]; DIMS],
        }
    }

    /// Adds a chart with its dimensions (all at once: a chart's dimensions share its
    /// ring position, and the percentage algorithms need the whole row).
    ///
    /// # Errors
    ///
    /// [`Full`] when `CHARTS` charts exist already, or the dimensions do not fit; the
    /// store is unchanged.
    pub fn add_chart(
        &mut self,
        chart: &ChartDef<'n>,
        dims: &[DimDef<'n>],
    ) -> Result<ChartId, Full> {
        if self.charts.is_full() {
            return Err(Full::Charts);
        }
        if self.dims.len() + dims.len() > DIMS {
            return Err(Full::Dimensions);
        }
        let index = self.charts.len();
        let first = self.dims.len();
        for d in dims {
            let dim = Dim {
                meta: DimensionMeta {
                    id: d.id,
                    name: d.name.unwrap_or(d.id),
                },
                state: DimensionState::new(d.algorithm, d.multiplier, d.divisor),
                chart: index,
            };
            // Cannot fail: checked above.
            let _ = self.dims.push(dim);
        }
        let meta = ChartMeta {
            id: chart.id,
            name: chart.name.unwrap_or(chart.id),
            family: chart.family,
            context: chart.context,
            chart_type: match chart.id.split_once('.') {
                Some((t, _)) => t,
                None => chart.id,
            },
            units: chart.units,
        };
        let _ = self.charts.push(Chart {
            meta,
            clock: ChartClock::new(SLOTS, chart.update_every),
            first,
            len: dims.len(),
        });
        Ok(ChartId(index))
    }

    /// Sets the raw value of dimension `dim` (its position in the chart) for the
    /// current collection of `chart`. Unknown charts and dimensions are ignored.
    pub fn set(&mut self, chart: ChartId, dim: usize, value: i64) {
        let Some(c) = self.charts.get(chart.0) else {
            return;
        };
        if dim < c.len {
            if let Some(d) = self.dims.get_mut(c.first + dim) {
                d.state.set(value);
            }
        }
    }

    /// Closes the current collection of `chart` at `now`: stores the points that are due
    /// in every ring of the chart. `None` for an unknown chart.
    pub fn done(&mut self, chart: ChartId, now: Instant) -> Option<Done> {
        let c = self.charts.get_mut(chart.0)?;
        let (first, len) = (c.first, c.len);
        let states = self.dims.get_mut(first..first + len)?;
        let rings = self.rings.get_mut(first..first + len)?;
        let mut row: Vec<(&mut DimensionState, &mut [StorageNumber]), DIMS> = Vec::new();
        for (d, r) in states.iter_mut().zip(rings.iter_mut()) {
            // Cannot fail: a chart has at most DIMS dimensions.
            let _ = row.push((&mut d.state, &mut r[..]));
        }
        Some(c.clock.store_due_points(&mut row, now))
    }

    /// The ring position of `chart`.
    #[must_use]
    pub fn ring(&self, chart: ChartId) -> Option<RingState> {
        self.charts.get(chart.0).map(|c| c.clock.ring())
    }

    /// The storage numbers of dimension `dim` of `chart`, slot by slot.
    #[must_use]
    pub fn values(&self, chart: ChartId, dim: usize) -> Option<&[StorageNumber]> {
        let c = self.charts.get(chart.0)?;
        if dim >= c.len {
            return None;
        }
        self.rings.get(c.first + dim).map(|r| &r[..])
    }

    /// How many charts there are.
    #[must_use]
    pub fn chart_count(&self) -> usize {
        self.charts.len()
    }

    /// The chart with this id, if there is one.
    #[must_use]
    pub fn find_chart(&self, id: &str) -> Option<ChartId> {
        self.charts
            .iter()
            .position(|c| c.meta.id == id)
            .map(ChartId)
    }
}

impl<const CHARTS: usize, const DIMS: usize, const SLOTS: usize> Source
    for Metrics<'_, CHARTS, DIMS, SLOTS>
{
    fn metric_count(&self) -> usize {
        self.dims.len()
    }

    fn metric(&self, index: usize) -> Option<Metric<'_>> {
        let d = self.dims.get(index)?;
        let c = self.charts.get(d.chart)?;
        Some(Metric {
            chart: c.meta,
            dimension: d.meta,
            ring: c.clock.ring(),
            values: self.rings.get(index)?,
            collected: d.state.last_collected_time().map(|t| Collected {
                value: d.state.last_collected_value(),
                time: t.as_secs(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backhaul_core::storage_number::SN_EXISTS;

    const T: i64 = 1_700_000_000;

    fn def(id: &str) -> ChartDef<'_> {
        ChartDef::new(id, "family", "context", "units")
    }

    #[test]
    fn charts_and_dimensions_fill_up_cleanly() {
        let mut m = Metrics::<'static, 2, 3, 4>::new();
        let a = m
            .add_chart(
                &def("a.one"),
                &[
                    DimDef::new("x", Algorithm::Absolute, 1, 1),
                    DimDef::new("y", Algorithm::Absolute, 1, 1),
                ],
            )
            .unwrap();
        let two = [
            DimDef::new("p", Algorithm::Absolute, 1, 1),
            DimDef::new("q", Algorithm::Absolute, 1, 1),
        ];
        assert_eq!(m.add_chart(&def("b.two"), &two), Err(Full::Dimensions));
        let b = m.add_chart(&def("b.two"), &two[..1]).unwrap();
        assert_eq!(m.add_chart(&def("c.three"), &[]), Err(Full::Charts));
        assert_eq!((m.chart_count(), m.metric_count()), (2, 3));
        assert_eq!(m.find_chart("b.two"), Some(b));
        assert_eq!(m.find_chart("a.one"), Some(a));
        assert_eq!(m.find_chart("nope"), None);

        let metric = m.metric(2).unwrap();
        assert_eq!(metric.chart.id, "b.two");
        assert_eq!(metric.chart.chart_type, "b");
        assert_eq!(metric.dimension.name, "p");
        assert_eq!(metric.values.len(), 4);
        assert!(metric.collected.is_none());
        assert!(m.metric(3).is_none());
    }

    #[test]
    fn collections_store_points_in_the_right_rings() {
        let mut m = Metrics::<'static, 2, 3, 10>::new();
        let a = m
            .add_chart(&def("a.a"), &[DimDef::new("x", Algorithm::Absolute, 1, 1)])
            .unwrap();
        let b = m
            .add_chart(
                &def("b.b"),
                &[
                    DimDef::new("y", Algorithm::Absolute, 1, 1),
                    DimDef::new("z", Algorithm::Absolute, 1, 10),
                ],
            )
            .unwrap();
        for i in 0..4 {
            m.set(a, 0, 100 + i);
            m.set(b, 0, 200 + i);
            m.set(b, 1, 300 + i);
            m.set(b, 7, 1); // ignored
            m.done(a, Instant::from_secs(T + i));
            m.done(b, Instant::from_secs(T + i));
        }
        assert_eq!(m.done(ChartId(9), Instant::from_secs(T)), None);
        let ring = m.ring(b).unwrap();
        assert_eq!((ring.counter(), ring.last_updated()), (3, T + 3));
        let at = |chart, dim| m.values(chart, dim).unwrap()[ring.time_to_slot(T + 3)];
        assert_eq!(at(a, 0), StorageNumber::pack(103.0, SN_EXISTS));
        assert_eq!(at(b, 0), StorageNumber::pack(203.0, SN_EXISTS));
        assert_eq!(at(b, 1), StorageNumber::pack(30.3, SN_EXISTS));
        assert!(m.values(b, 2).is_none());

        let collected = m.metric(2).unwrap().collected.unwrap();
        assert_eq!((collected.value, collected.time), (303, T + 3));
    }
}
