//! The daemon's chart store: every chart, its dimensions and their rings.
//!
//! A [`ChartSet`] owns the charts the collectors define ([`ChartSet::add_chart`],
//! [`ChartSet::add_dimension`]), takes their raw values ([`ChartSet::set`]) and closes
//! each collection ([`ChartSet::done`]) with the core's
//! [`ChartClock::store_due_points_flat`], which writes the stored points into each
//! dimension's ring: `history` storage numbers in its chart's one allocation of rings,
//! dimension after dimension. Setting values and closing collections never allocate.
//!
//! It is also what the engines export: [`ChartSet`] implements
//! [`Source`] over a flat metric index, one entry per (chart, dimension), in the order the
//! dimensions were added. The index is only ever appended to (a dimension added later to
//! an old chart goes to the end), so an engine's cursor stays valid across calls.
//!
//! # Filtering
//!
//! netdata caches the `send charts matching` verdict in the chart itself, shared by every
//! consumer (weakness 8.11). Here each destination has its own [`SendFilter`]: it decides
//! once per chart (the pattern tested against the chart id, then its name; either
//! matching positively selects the chart), remembers the verdict, and keeps the list of
//! the allowed metrics' indices, appended to as charts appear. Its
//! [`view`](SendFilter::view) is a [`Source`] over just those metrics, whose index space
//! is as stable as the set's.
//!
//! # Self-monitoring charts
//!
//! [`ChartSet::add_backend_charts`] defines netdata's four `netdata.backend_*` charts for
//! one destination (spec §7.6) and [`ChartSet::update_backend_charts`] fills them from the
//! engine's [`Counters`]. The first destination gets netdata's ids exactly; each further
//! destination gets the same ids with `_NAME` appended (its name sanitised), e.g.
//! `netdata.backend_metrics_graphite2`, and the same context, so that all destinations'
//! charts group together.

use backhaul_core::collect::{Algorithm, ChartClock, DimensionState, Done};
use backhaul_core::config::DataSource;
use backhaul_core::engine::{Collected, Counters, Metric, Source};
use backhaul_core::format::prometheus::{
    is_homogeneous, Exposition, PromChart, PromDimension, PromQuery, Scrape, MAX_PIECE_LEN,
};
use backhaul_core::format::{BufferFull, ChartMeta, DimensionMeta};
use backhaul_core::pattern::SimplePattern;
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::StorageNumber;
use backhaul_core::time::Instant;
use backhaul_core::window::{self, Reduce};
use std::sync::Arc;

/// netdata's default ring size (`[global] history`).
pub const DEFAULT_HISTORY: usize = 3600;
/// The smallest ring netdata allows.
pub const MIN_HISTORY: usize = 5;

/// A chart of a [`ChartSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChartId(usize);

/// A dimension of one chart (valid with that chart's [`ChartId`] only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DimId(usize);

impl DimId {
    /// The dimension at `index` of its chart, in the order they were added.
    #[must_use]
    pub const fn at(index: usize) -> Self {
        Self(index)
    }

    /// Its position in its chart.
    #[must_use]
    pub const fn index(self) -> usize {
        self.0
    }
}

/// How a chart is drawn (netdata's chart type: `line`, `area`, `stacked`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ChartStyle {
    /// `line`.
    #[default]
    Line,
    /// `area`.
    Area,
    /// `stacked`.
    Stacked,
}

impl ChartStyle {
    /// netdata's word for it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Line => "line",
            Self::Area => "area",
            Self::Stacked => "stacked",
        }
    }
}

/// What defines a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChartDef<'a> {
    /// The full id, `type.id` (e.g. `system.cpu`); the type is the part before the dot.
    pub id: &'a str,
    /// The full name (e.g. `disk.vg0-root`); `None` uses the id.
    pub name: Option<&'a str>,
    /// The family (dashboard submenu).
    pub family: &'a str,
    /// The context (e.g. `disk.io`).
    pub context: &'a str,
    /// The units.
    pub units: &'a str,
    /// The title.
    pub title: &'a str,
    /// The dashboard priority.
    pub priority: i64,
    /// Seconds between points; 0 uses the set's default.
    pub update_every: u32,
    /// How it is drawn.
    pub style: ChartStyle,
}

/// What defines a dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DimDef<'a> {
    /// The id.
    pub id: &'a str,
    /// The name; `None` uses the id.
    pub name: Option<&'a str>,
    /// How collected values become stored ones.
    pub algorithm: Algorithm,
    /// The multiplier (0 is taken as 1).
    pub multiplier: i64,
    /// The divisor (0 is taken as 1).
    pub divisor: i64,
}

impl<'a> DimDef<'a> {
    /// A dimension named by its id.
    #[must_use]
    pub const fn new(id: &'a str, algorithm: Algorithm, multiplier: i64, divisor: i64) -> Self {
        Self {
            id,
            name: None,
            algorithm,
            multiplier,
            divisor,
        }
    }
}

/// An id and a name, stored once: inside the struct when they are short (most
/// dimension names: `user`, `received`, …), else in one allocation; the name only when it
/// differs from the id. At 10,000 metrics this saves about half a MiB of small
/// allocations.
#[derive(Clone, Debug)]
enum Names {
    /// `bytes[..id_len]` is the id, `bytes[id_len..id_len + name_len]` the name, or the
    /// id when `name_len` is [`SAME`].
    Inline {
        bytes: [u8; INLINE_NAMES],
        id_len: u8,
        name_len: u8,
    },
    /// The id, then the name if it differs.
    Heap {
        text: Box<str>,
        id_len: u32,
        same: bool,
    },
}

const _: () = assert!(size_of::<Names>() == 24);

/// Bytes of names kept inside a [`Names`] (so that a `Names` is 24 bytes: the inline
/// variant fits before the heap variant's flag, which holds the enum's tag).
const INLINE_NAMES: usize = 18;
/// `name_len` of an inline name that is the id.
const SAME: u8 = u8::MAX;

impl Names {
    fn new(id: &str, name: Option<&str>) -> Self {
        let name = name.filter(|&n| n != id);
        let total = id.len() + name.map_or(0, str::len);
        if total <= INLINE_NAMES {
            let mut bytes = [0u8; INLINE_NAMES];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            if let Some(n) = name {
                bytes[id.len()..total].copy_from_slice(n.as_bytes());
            }
            return Self::Inline {
                bytes,
                id_len: id.len() as u8,
                name_len: name.map_or(SAME, |n| n.len() as u8),
            };
        }
        // Ids are cut at 4 GiB, far beyond any name a collector makes.
        let id = id.get(..id.len().min(u32::MAX as usize)).unwrap_or(id);
        match name {
            Some(name) => Self::Heap {
                text: [id, name].concat().into(),
                id_len: id.len() as u32,
                same: false,
            },
            None => Self::Heap {
                text: id.into(),
                id_len: id.len() as u32,
                same: true,
            },
        }
    }

    fn id(&self) -> &str {
        match self {
            Self::Inline { bytes, id_len, .. } => inline_str(bytes, 0, usize::from(*id_len)),
            Self::Heap { text, id_len, .. } => text.get(..*id_len as usize).unwrap_or(""),
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Inline {
                bytes,
                id_len,
                name_len,
            } => {
                if *name_len == SAME {
                    self.id()
                } else {
                    let start = usize::from(*id_len);
                    inline_str(bytes, start, start + usize::from(*name_len))
                }
            }
            Self::Heap { text, id_len, same } => {
                if *same {
                    self.id()
                } else {
                    text.get(*id_len as usize..).unwrap_or("")
                }
            }
        }
    }
}

/// `bytes[start..end]` as text (always valid: it was copied from a `&str` at character
/// boundaries).
fn inline_str(bytes: &[u8], start: usize, end: usize) -> &str {
    bytes
        .get(start..end)
        .and_then(|b| core::str::from_utf8(b).ok())
        .unwrap_or("")
}

/// One dimension: its names and collection state (its ring is in its chart's
/// [`Chart::values`]).
#[derive(Clone, Debug)]
pub struct Dimension {
    names: Names,
    state: DimensionState,
}

// Pinned: 10,000 metrics hold 10,000 of them (it was 144 bytes with a ring pointer and
// the unpacked collection state).
const _: () = assert!(size_of::<Dimension>() <= 88);

impl Dimension {
    /// The id.
    #[must_use]
    pub fn id(&self) -> &str {
        self.names.id()
    }

    /// The name (the id if it has none).
    #[must_use]
    pub fn name(&self) -> &str {
        self.names.name()
    }

    /// The collection state (algorithm, multiplier, divisor, last collected value).
    #[must_use]
    pub const fn state(&self) -> &DimensionState {
        &self.state
    }

    /// The last collected raw value and its time (Unix seconds), if ever collected.
    #[must_use]
    pub fn collected(&self) -> Option<Collected> {
        self.state.last_collected_time().map(|t| Collected {
            value: self.state.last_collected_value(),
            time: t.as_secs(),
        })
    }

    /// Id and name as the formats take them.
    #[must_use]
    pub fn meta(&self) -> DimensionMeta<'_> {
        DimensionMeta {
            id: self.names.id(),
            name: self.names.name(),
        }
    }
}

impl AsMut<DimensionState> for Dimension {
    fn as_mut(&mut self) -> &mut DimensionState {
        &mut self.state
    }
}

/// One chart: metadata, collection clock and dimensions.
#[derive(Clone, Debug)]
pub struct Chart {
    names: Names,
    /// Shared with the chart added before when it is the same (collectors add charts
    /// of one kind one after the other).
    info: Arc<ChartInfo>,
    clock: ChartClock,
    dims: Vec<Dimension>,
    /// The dimensions' rings, `history` storage numbers each, in the order of `dims`:
    /// one allocation per chart instead of one per dimension saves the allocator's
    /// per-block overhead and a 16-byte slice pointer per metric.
    values: Vec<StorageNumber>,
}

// Pinned: one per chart (2,000 at 10,000 metrics); the ring list did not grow it.
const _: () = assert!(size_of::<Chart>() <= 152);

impl Chart {
    /// The full id (`type.id`).
    #[must_use]
    pub fn id(&self) -> &str {
        self.names.id()
    }

    /// The full name (the id if it has none).
    #[must_use]
    pub fn name(&self) -> &str {
        self.names.name()
    }

    /// The type: the part of the id before the first dot.
    #[must_use]
    pub fn chart_type(&self) -> &str {
        let id = self.id();
        id.split_once('.').map_or(id, |(t, _)| t)
    }

    /// The family.
    #[must_use]
    pub fn family(&self) -> &str {
        &self.info.family
    }

    /// The context.
    #[must_use]
    pub fn context(&self) -> &str {
        &self.info.context
    }

    /// The units.
    #[must_use]
    pub fn units(&self) -> &str {
        &self.info.units
    }

    /// The title.
    #[must_use]
    pub fn title(&self) -> &str {
        &self.info.title
    }

    /// The dashboard priority.
    #[must_use]
    pub fn priority(&self) -> i64 {
        self.info.priority
    }

    /// How it is drawn.
    #[must_use]
    pub fn style(&self) -> ChartStyle {
        self.info.style
    }

    /// Seconds between points.
    #[must_use]
    pub const fn update_every(&self) -> u32 {
        self.clock.update_every()
    }

    /// The ring position its dimensions share.
    #[must_use]
    pub const fn ring(&self) -> RingState {
        self.clock.ring()
    }

    /// Its dimensions, in the order they were added.
    #[must_use]
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    /// The ring of its dimension at `index`: one storage number per slot of its
    /// [`RingState`] (empty for an unknown index).
    #[must_use]
    pub fn values(&self, index: usize) -> &[StorageNumber] {
        let entries = self.clock.ring().entries();
        index
            .checked_mul(entries)
            .and_then(|start| self.values.get(start..start.checked_add(entries)?))
            .unwrap_or(&[])
    }

    /// The metadata the formats print.
    #[must_use]
    pub fn meta(&self) -> ChartMeta<'_> {
        ChartMeta {
            id: self.id(),
            name: self.name(),
            family: &self.info.family,
            context: &self.info.context,
            chart_type: self.chart_type(),
            units: &self.info.units,
        }
    }
}

/// What a chart shares with the others of its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ChartInfo {
    family: Box<str>,
    context: Box<str>,
    units: Box<str>,
    title: Box<str>,
    priority: i64,
    style: ChartStyle,
}

/// The four self-monitoring charts of one destination.
#[derive(Clone, Debug)]
struct BackendCharts {
    name: Box<str>,
    metrics: ChartId,
    bytes: ChartId,
    ops: ChartId,
    cpu: ChartId,
}

/// Every chart of the daemon.
#[derive(Clone, Debug)]
pub struct ChartSet {
    history: usize,
    update_every: u32,
    gap: u32,
    charts: Vec<Chart>,
    /// Metric index → (chart, dimension), append-only (32 bits each: 8 bytes a metric).
    index: Vec<(u32, u32)>,
    backends: Vec<BackendCharts>,
}

impl ChartSet {
    /// An empty set whose charts keep `history` points per dimension (at least
    /// [`MIN_HISTORY`]) and collect every `update_every` seconds by default (0 is taken
    /// as 1).
    #[must_use]
    pub fn new(history: usize, update_every: u32) -> Self {
        Self {
            history: history.max(MIN_HISTORY),
            update_every: update_every.max(1),
            gap: backhaul_core::collect::DEFAULT_GAP_WHEN_LOST_ITERATIONS_ABOVE,
            charts: Vec::new(),
            index: Vec::new(),
            backends: Vec::new(),
        }
    }

    /// Sets netdata's `gap when lost iterations above` for the charts added from now on.
    #[must_use]
    pub const fn with_gap_when_lost_iterations_above(mut self, gap: u32) -> Self {
        self.gap = gap;
        self
    }

    /// Points kept per dimension.
    #[must_use]
    pub const fn history(&self) -> usize {
        self.history
    }

    /// The default seconds between points.
    #[must_use]
    pub const fn update_every(&self) -> u32 {
        self.update_every
    }

    /// How many charts there are.
    #[must_use]
    pub fn chart_count(&self) -> usize {
        self.charts.len()
    }

    /// How many metrics (dimensions of all charts) there are, filtered or not.
    #[must_use]
    pub fn metric_count_total(&self) -> usize {
        self.index.len()
    }

    /// The charts, in the order they were added.
    #[must_use]
    pub fn charts(&self) -> &[Chart] {
        &self.charts
    }

    /// One chart.
    #[must_use]
    pub fn chart(&self, chart: ChartId) -> Option<&Chart> {
        self.charts.get(chart.0)
    }

    /// The chart with this full id.
    #[must_use]
    pub fn find_chart(&self, id: &str) -> Option<ChartId> {
        self.charts.iter().position(|c| c.id() == id).map(ChartId)
    }

    /// Defines a chart, or returns the one that already has this id (unchanged).
    pub fn add_chart(&mut self, def: &ChartDef<'_>) -> ChartId {
        if let Some(id) = self.find_chart(def.id) {
            return id;
        }
        let every = if def.update_every == 0 {
            self.update_every
        } else {
            def.update_every
        };
        let info = ChartInfo {
            family: def.family.into(),
            context: def.context.into(),
            units: def.units.into(),
            title: def.title.into(),
            priority: def.priority,
            style: def.style,
        };
        let info = match self.charts.last() {
            Some(last) if *last.info == info => Arc::clone(&last.info),
            _ => Arc::new(info),
        };
        let chart = Chart {
            names: Names::new(def.id, def.name),
            info,
            clock: ChartClock::new(self.history, every)
                .with_gap_when_lost_iterations_above(self.gap),
            dims: Vec::new(),
            values: Vec::new(),
        };
        self.charts.push(chart);
        ChartId(self.charts.len() - 1)
    }

    /// Makes room in a chart for `additional` more dimensions and their rings, so that
    /// adding them allocates nothing more (for a collector that knows how many it will
    /// add).
    pub fn reserve_dimensions(&mut self, chart: ChartId, additional: usize) {
        let history = self.history;
        if let Some(c) = self.charts.get_mut(chart.0) {
            c.dims.reserve_exact(additional);
            c.values.reserve_exact(additional.saturating_mul(history));
        }
    }

    /// Adds a dimension to a chart, or returns the one that already has this id. Its
    /// metric goes to the end of the metric index. `None` for an unknown chart.
    pub fn add_dimension(&mut self, chart: ChartId, def: &DimDef<'_>) -> Option<DimId> {
        let history = self.history;
        let c = self.charts.get_mut(chart.0)?;
        if let Some(i) = c.dims.iter().position(|d| d.id() == def.id) {
            return Some(DimId(i));
        }
        // Exactly the room needed: a chart's dimensions are added one by one at start-up,
        // and the doubling growth of a `Vec` would keep up to half of them (and of their
        // rings) unused.
        c.dims.reserve_exact(1);
        c.dims.push(Dimension {
            names: Names::new(def.id, def.name),
            state: DimensionState::new(def.algorithm, def.multiplier, def.divisor),
        });
        c.values.reserve_exact(history);
        c.values
            .resize(c.values.len() + history, StorageNumber::EMPTY);
        let dim = c.dims.len() - 1;
        let (Ok(c32), Ok(d32)) = (u32::try_from(chart.0), u32::try_from(dim)) else {
            return None;
        };
        self.index.push((c32, d32));
        Some(DimId(dim))
    }

    /// Sets a dimension's raw value for the chart's current collection. Unknown ids are
    /// ignored.
    pub fn set(&mut self, chart: ChartId, dim: DimId, raw: i64) {
        if let Some(d) = self
            .charts
            .get_mut(chart.0)
            .and_then(|c| c.dims.get_mut(dim.0))
        {
            d.state.set(raw);
        }
    }

    /// Closes the chart's current collection at `now_us` (microseconds since the Unix
    /// epoch) and stores the points it completes. `None` for an unknown chart.
    pub fn done(&mut self, chart: ChartId, now_us: i64) -> Option<Done> {
        let c = self.charts.get_mut(chart.0)?;
        Some(c.clock.store_due_points_flat(
            &mut c.dims,
            &mut c.values,
            Instant::from_micros(now_us),
        ))
    }

    /// Defines the four self-monitoring charts of the destination `name`, updated every
    /// [`update_every`](Self::update_every) seconds; see
    /// [`add_backend_charts_every`](Self::add_backend_charts_every).
    pub fn add_backend_charts(&mut self, name: &str) -> usize {
        self.add_backend_charts_every(name, self.update_every)
    }

    /// Defines the four self-monitoring charts of the destination `name` (spec §7.6),
    /// with `update_every` the destination's `update every` (the interval at which
    /// [`update_backend_charts`](Self::update_backend_charts) will be called). Returns the
    /// handle to pass to it. A name seen before gets its existing charts back.
    ///
    /// The first destination's charts have netdata's ids; later ones append `_NAME`
    /// (ASCII letters, digits, `-` and `_` kept, anything else `_`).
    pub fn add_backend_charts_every(&mut self, name: &str, update_every: u32) -> usize {
        if let Some(i) = self.backends.iter().position(|b| &*b.name == name) {
            return i;
        }
        let suffix = if self.backends.is_empty() {
            String::new()
        } else {
            format!("_{}", sanitize_id(name))
        };
        let mut add =
            |base: &str, title: &str, units: &str, priority, style, dims: &[DimDef<'_>]| {
                let id = format!("netdata.{base}{suffix}");
                let chart = self.add_chart(&ChartDef {
                    id: &id,
                    name: None,
                    family: "backend",
                    context: &format!("netdata.{base}"),
                    units,
                    title,
                    priority,
                    update_every: update_every.max(1),
                    style,
                });
                for d in dims {
                    self.add_dimension(chart, d);
                }
                chart
            };
        use Algorithm::{Absolute, Incremental};
        let metrics = add(
            "backend_metrics",
            "Netdata Buffered Metrics",
            "metrics",
            130_600,
            ChartStyle::Line,
            &[
                DimDef::new("buffered", Absolute, 1, 1),
                DimDef::new("lost", Absolute, 1, 1),
                DimDef::new("sent", Absolute, 1, 1),
            ],
        );
        let bytes = add(
            "backend_bytes",
            "Netdata Backend Data Size",
            "KiB",
            130_610,
            ChartStyle::Area,
            &[
                DimDef::new("buffered", Absolute, 1, 1024),
                DimDef::new("lost", Absolute, 1, 1024),
                DimDef::new("sent", Absolute, 1, 1024),
                DimDef::new("received", Absolute, 1, 1024),
            ],
        );
        let ops = add(
            "backend_ops",
            "Netdata Backend Operations",
            "operations",
            130_630,
            ChartStyle::Line,
            &[
                DimDef::new("write", Absolute, 1, 1),
                DimDef::new("discard", Absolute, 1, 1),
                DimDef::new("reconnect", Absolute, 1, 1),
                DimDef::new("failure", Absolute, 1, 1),
                DimDef::new("read", Absolute, 1, 1),
            ],
        );
        let cpu = add(
            "backend_thread_cpu",
            "NetData Backend Thread CPU usage",
            "milliseconds/s",
            130_630,
            ChartStyle::Stacked,
            &[
                DimDef::new("user", Incremental, 1, 1000),
                DimDef::new("system", Incremental, 1, 1000),
            ],
        );
        self.backends.push(BackendCharts {
            name: name.into(),
            metrics,
            bytes,
            ops,
            cpu,
        });
        self.backends.len() - 1
    }

    /// Fills one destination's self-monitoring charts for the iteration that ends at
    /// `now_us`: per-iteration figures are `current − previous` (the engine's cumulative
    /// [`Counters`] at the previous and at this update), `buffered` ones are current
    /// levels, and the CPU chart takes the thread's cumulative user and system CPU time
    /// in microseconds. Allocation-free; an unknown handle is ignored.
    #[allow(clippy::too_many_arguments)]
    pub fn update_backend_charts(
        &mut self,
        set: usize,
        previous: &Counters,
        current: &Counters,
        buffered_bytes: usize,
        cpu_user_us: u64,
        cpu_system_us: u64,
        now_us: i64,
    ) {
        let Some(b) = self.backends.get(set) else {
            return;
        };
        let (metrics, bytes, ops, cpu) = (b.metrics, b.bytes, b.ops, b.cpu);
        let delta = |a: u64, b: u64| clamp(b.saturating_sub(a));
        let rows: [(ChartId, &[i64]); 4] = [
            (
                metrics,
                &[
                    clamp(current.buffered),
                    delta(previous.lost, current.lost),
                    delta(previous.delivered, current.delivered),
                ],
            ),
            (
                bytes,
                &[
                    clamp(buffered_bytes as u64),
                    delta(previous.bytes_lost, current.bytes_lost),
                    delta(previous.bytes_sent, current.bytes_sent),
                    delta(previous.bytes_received, current.bytes_received),
                ],
            ),
            (
                ops,
                &[
                    delta(previous.writes, current.writes),
                    delta(previous.discards, current.discards),
                    delta(previous.reconnects, current.reconnects),
                    delta(previous.failures, current.failures),
                    delta(previous.reads, current.reads),
                ],
            ),
            (cpu, &[clamp(cpu_user_us), clamp(cpu_system_us)]),
        ];
        for (chart, values) in rows {
            for (i, &v) in values.iter().enumerate() {
                self.set(chart, DimId(i), v);
            }
            self.done(chart, now_us);
        }
    }

    /// Writes the Prometheus text exposition of every chart for one scrape (spec §4.6)
    /// into `out`: the header (with `help`), `netdata_info` (application `backhaul`),
    /// the host tags, then per chart with a dimension its comment and, per dimension
    /// collected at least once, its as-collected sample (if collected since the scrape's
    /// `after`) or its average / sum over the scrape's window (if it has one).
    pub fn render_prometheus(
        &self,
        exposition: &Exposition<'_>,
        scrape: &Scrape<'_>,
        query: &PromQuery<'_>,
        now: Instant,
        out: &mut Vec<u8>,
    ) {
        let now_ms = now.as_millis();
        put(out, |b| exposition.write_header(scrape, b));
        put(out, |b| {
            exposition.write_info("backhaul", VERSION, now_ms, b)
        });
        put(out, |b| exposition.write_host_tags(now_ms, b));
        let reduce = match query.source {
            DataSource::Average => Some(Reduce::Average),
            DataSource::Sum => Some(Reduce::Sum),
            _ => None,
        };
        let mut dims: Vec<PromDimension<'_>> = Vec::new();
        for c in self.charts.iter().filter(|c| !c.dims.is_empty()) {
            dims.clear();
            dims.extend(c.dims.iter().map(|d| PromDimension {
                meta: d.meta(),
                algorithm: d.state.algorithm(),
                multiplier: d.state.multiplier(),
                divisor: d.state.divisor(),
                last_collected_value: d.state.last_collected_value(),
                last_collected_ms: d.state.last_collected_time().map_or(0, Instant::as_millis),
            }));
            let chart = PromChart {
                meta: c.meta(),
                homogeneous: is_homogeneous(&dims),
            };
            put(out, |b| exposition.write_chart(&chart, b));
            let ring = c.ring();
            for ((i, d), pd) in c.dims.iter().enumerate().zip(&dims) {
                if d.state.collections() == 0 {
                    continue;
                }
                match reduce {
                    None if pd.collected_since(scrape.after) => {
                        put(out, |b| exposition.write_collected(&chart, pd, b));
                    }
                    None => {}
                    Some(how) => {
                        let Ok((value, w)) =
                            window::value(c.values(i), &ring, scrape.after, scrape.before, how)
                        else {
                            continue;
                        };
                        put(out, |b| {
                            exposition.write_stored(&chart, &pd.meta, value, &w, b)
                        });
                    }
                }
            }
        }
    }

    fn metric_at(&self, chart: usize, dim: usize) -> Option<Metric<'_>> {
        let c = self.charts.get(chart)?;
        let d = c.dims.get(dim)?;
        Some(Metric {
            chart: c.meta(),
            dimension: d.meta(),
            ring: c.clock.ring(),
            values: c.values(dim),
            collected: d.collected(),
        })
    }
}

impl Default for ChartSet {
    /// [`DEFAULT_HISTORY`] points, one a second.
    fn default() -> Self {
        Self::new(DEFAULT_HISTORY, 1)
    }
}

impl Source for ChartSet {
    fn metric_count(&self) -> usize {
        self.index.len()
    }

    fn metric(&self, index: usize) -> Option<Metric<'_>> {
        let &(chart, dim) = self.index.get(index)?;
        let (chart, dim) = (chart as usize, dim as usize);
        self.metric_at(chart, dim)
    }
}

/// `v{version}` of this build, for `netdata_info`.
const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// Appends one whole exposition piece to `out` (nothing if the writer refuses).
fn put(out: &mut Vec<u8>, write: impl FnOnce(&mut [u8]) -> Result<usize, BufferFull>) {
    let start = out.len();
    out.resize(start + MAX_PIECE_LEN, 0);
    let n = write(&mut out[start..]).unwrap_or(0);
    out.truncate(start + n);
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A chart-id-safe copy of `s`: ASCII letters, digits, `.`, `-` and `_` are kept, every
/// other character becomes `_` (as netdata fixes chart and dimension ids).
#[must_use]
pub fn sanitize_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One destination's `send charts matching`, decided once per chart.
///
/// Call [`refresh`](Self::refresh) after charts or dimensions were added (it only looks
/// at metrics it has not seen; with none it does nothing and allocates nothing), then
/// export [`view`](Self::view).
#[derive(Clone, Debug)]
pub struct SendFilter {
    pattern: Box<str>,
    /// The verdict per chart, by chart index.
    verdicts: Vec<bool>,
    /// Indices into the set's metric index of the allowed metrics, ascending (32 bits
    /// each).
    allowed: Vec<u32>,
    /// How many of the set's metrics were looked at.
    scanned: usize,
}

impl SendFilter {
    /// A filter for the pattern text (netdata's default is `*`; an empty pattern selects
    /// nothing, as in netdata).
    #[must_use]
    pub fn new(pattern: &str) -> Self {
        Self {
            pattern: pattern.into(),
            verdicts: Vec::new(),
            allowed: Vec::new(),
            scanned: 0,
        }
    }

    /// The pattern text.
    #[must_use]
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether the chart is sent, once [`refresh`](Self::refresh) has seen it.
    #[must_use]
    pub fn allows(&self, chart: ChartId) -> Option<bool> {
        self.verdicts.get(chart.0).copied()
    }

    /// Decides the charts and metrics added to `set` since the last call.
    pub fn refresh(&mut self, set: &ChartSet) {
        let pattern = SimplePattern::new(self.pattern.as_bytes());
        while self.verdicts.len() < set.charts.len() {
            let c = &set.charts[self.verdicts.len()];
            let send = pattern.matches(c.id().as_bytes()) || pattern.matches(c.name().as_bytes());
            self.verdicts.push(send);
        }
        for (i, &(chart, _)) in set.index.iter().enumerate().skip(self.scanned) {
            if self.verdicts.get(chart as usize).copied().unwrap_or(false) {
                if let Ok(i) = u32::try_from(i) {
                    self.allowed.push(i);
                }
            }
        }
        self.scanned = set.index.len();
    }

    /// [`refresh`](Self::refresh)es the verdicts with what `set` holds now, then
    /// returns its [`view`](Self::view): what a destination exports at this moment.
    pub fn current_view<'a>(&'a mut self, set: &'a ChartSet) -> Filtered<'a> {
        self.refresh(set);
        self.view(set)
    }

    /// The metrics of `set` this filter allows, as a [`Source`].
    #[must_use]
    pub fn view<'a>(&'a self, set: &'a ChartSet) -> Filtered<'a> {
        Filtered {
            set,
            allowed: &self.allowed,
        }
    }
}

/// The metrics of a [`ChartSet`] that a [`SendFilter`] allows, indexed from 0.
#[derive(Clone, Copy, Debug)]
pub struct Filtered<'a> {
    set: &'a ChartSet,
    allowed: &'a [u32],
}

impl Source for Filtered<'_> {
    fn metric_count(&self) -> usize {
        self.allowed.len()
    }

    fn metric(&self, index: usize) -> Option<Metric<'_>> {
        self.set.metric(*self.allowed.get(index)? as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backhaul_core::config::DataSource;
    use backhaul_core::format::HostMeta;
    use backhaul_core::storage_number::SN_EXISTS;

    const T: i64 = 1_600_000_000;
    const S: i64 = 1_000_000;

    fn def<'a>(id: &'a str) -> ChartDef<'a> {
        ChartDef {
            id,
            name: None,
            family: "fam",
            context: id,
            units: "u",
            title: "t",
            priority: 1,
            update_every: 0,
            style: ChartStyle::Line,
        }
    }

    fn value_at(set: &ChartSet, chart: ChartId, dim: usize, t: i64) -> StorageNumber {
        let c = set.chart(chart).unwrap();
        c.values(dim)[c.ring().time_to_slot(t)]
    }

    #[test]
    fn collects_into_rings() {
        let mut set = ChartSet::new(10, 1);
        let c = set.add_chart(&def("test.a"));
        let d = set
            .add_dimension(c, &DimDef::new("x", Algorithm::Incremental, 8, 1000))
            .unwrap();
        for i in 0..3 {
            set.set(c, d, 1000 * i);
            set.done(c, (T + i) * S);
        }
        assert_eq!(set.chart(c).unwrap().ring().counter(), 2);
        assert_eq!(
            value_at(&set, c, 0, T + 2),
            StorageNumber::pack(8.0, SN_EXISTS)
        );
        let m = set.metric(0).unwrap();
        assert_eq!(
            m.collected,
            Some(Collected {
                value: 2000,
                time: T + 2
            })
        );
        assert_eq!((m.chart.chart_type, m.chart.name), ("test", "test.a"));
        // Unknown ids are ignored.
        set.set(ChartId(9), DimId(9), 1);
        assert_eq!(set.done(ChartId(9), T * S), None);
    }

    #[test]
    fn each_dimension_has_its_own_ring_in_the_charts_allocation() {
        let mut set = ChartSet::new(10, 1);
        let c = set.add_chart(&def("test.rings"));
        set.reserve_dimensions(c, 2);
        let a = set
            .add_dimension(c, &DimDef::new("a", Algorithm::Absolute, 1, 1))
            .unwrap();
        let b = set
            .add_dimension(c, &DimDef::new("b", Algorithm::Absolute, 10, 1))
            .unwrap();
        for i in 0..3 {
            set.set(c, a, i);
            set.set(c, b, i);
            set.done(c, (T + i) * S);
        }
        // A dimension added after points were stored starts with an empty ring and
        // leaves the others' rings as they were.
        let late = set
            .add_dimension(c, &DimDef::new("late", Algorithm::Absolute, 100, 1))
            .unwrap();
        for i in 3..5 {
            for d in [a, b, late] {
                set.set(c, d, i);
            }
            set.done(c, (T + i) * S);
        }
        let chart = set.chart(c).unwrap();
        for d in 0..3 {
            assert_eq!(chart.values(d).len(), 10);
        }
        assert!(chart.values(3).is_empty());
        assert!(chart.values(usize::MAX).is_empty());
        for t in T + 1..=T + 4 {
            let v = (t - T) as f64;
            assert_eq!(value_at(&set, c, 0, t).to_f64(), v);
            assert_eq!(value_at(&set, c, 1, t).to_f64(), 10.0 * v);
        }
        // Its first collection only primes it (netdata's `collections_counter`).
        assert_eq!(value_at(&set, c, 2, T + 3), StorageNumber::EMPTY);
        assert_eq!(value_at(&set, c, 2, T + 4).to_f64(), 400.0);
        assert_eq!(value_at(&set, c, 2, T + 2), StorageNumber::EMPTY);
        // The engines read each metric's own ring.
        let late_metric = set.metric(2).unwrap();
        assert_eq!(late_metric.dimension.id, "late");
        assert_eq!(late_metric.values, chart.values(2));
    }

    #[test]
    fn history_has_a_minimum_and_ids_are_reused() {
        let mut set = ChartSet::new(0, 0);
        assert_eq!((set.history(), set.update_every()), (MIN_HISTORY, 1));
        let a = set.add_chart(&def("t.a"));
        assert_eq!(set.add_chart(&def("t.a")), a);
        let x = set.add_dimension(a, &DimDef::new("x", Algorithm::Absolute, 1, 1));
        assert_eq!(
            set.add_dimension(a, &DimDef::new("x", Algorithm::Absolute, 1, 1)),
            x
        );
        assert_eq!(set.metric_count_total(), 1);
        assert_eq!(set.chart(a).unwrap().values(0).len(), MIN_HISTORY);
    }

    #[test]
    fn metric_index_only_appends() {
        let mut set = ChartSet::new(10, 1);
        let a = set.add_chart(&def("t.a"));
        set.add_dimension(a, &DimDef::new("a1", Algorithm::Absolute, 1, 1));
        let b = set.add_chart(&def("t.b"));
        set.add_dimension(b, &DimDef::new("b1", Algorithm::Absolute, 1, 1));
        // A dimension added later to the first chart goes to the end.
        set.add_dimension(a, &DimDef::new("a2", Algorithm::Absolute, 1, 1));
        let ids: Vec<(String, String)> = (0..set.metric_count())
            .map(|i| {
                let m = set.metric(i).unwrap();
                (m.chart.id.to_owned(), m.dimension.id.to_owned())
            })
            .collect();
        let expected = [("t.a", "a1"), ("t.b", "b1"), ("t.a", "a2")];
        assert_eq!(ids.len(), 3);
        for (got, want) in ids.iter().zip(expected) {
            assert_eq!((got.0.as_str(), got.1.as_str()), want);
        }
        assert!(set.metric(3).is_none());
    }

    #[test]
    fn send_filter_views_are_stable() {
        let mut set = ChartSet::new(10, 1);
        let cpu = set.add_chart(&def("system.cpu"));
        set.add_dimension(cpu, &DimDef::new("user", Algorithm::Absolute, 1, 1));
        let net = set.add_chart(&ChartDef {
            name: Some("net.wan"),
            ..def("net.eth0")
        });
        set.add_dimension(net, &DimDef::new("received", Algorithm::Absolute, 1, 1));
        let mut f = SendFilter::new("!net.* system.*");
        f.refresh(&set);
        // Rejected by its id and by its name.
        assert_eq!(f.allows(net), Some(false));
        assert_eq!(f.view(&set).metric_count(), 1);
        // Either the id or the name matching positively selects a chart.
        let mut by_name = SendFilter::new("!*.eth0 net.wan");
        by_name.refresh(&set);
        assert_eq!(by_name.allows(net), Some(true));
        assert_eq!(by_name.allows(cpu), Some(false));
        // New charts and dimensions append to the view.
        set.add_dimension(cpu, &DimDef::new("system", Algorithm::Absolute, 1, 1));
        let disk = set.add_chart(&def("system.io"));
        set.add_dimension(disk, &DimDef::new("in", Algorithm::Absolute, 1, 1));
        f.refresh(&set);
        let view = f.view(&set);
        let names: Vec<&str> = (0..view.metric_count())
            .map(|i| view.metric(i).unwrap().dimension.id)
            .collect();
        assert_eq!(names, ["user", "system", "in"]);
        assert!(view.metric(3).is_none());
        // An empty pattern sends nothing.
        let mut none = SendFilter::new("");
        none.refresh(&set);
        assert_eq!(none.view(&set).metric_count(), 0);
        // `current_view` decides what was added since, as the daemon needs each time.
        let disk2 = set.add_chart(&def("system.io2"));
        set.add_dimension(disk2, &DimDef::new("out", Algorithm::Absolute, 1, 1));
        assert_eq!(f.view(&set).metric_count(), 3);
        assert_eq!(f.current_view(&set).metric_count(), 4);
        assert_eq!(f.allows(disk2), Some(true));
    }

    #[test]
    fn backend_charts_follow_netdata() {
        let mut set = ChartSet::new(60, 1);
        let first = set.add_backend_charts_every("graphite", 10);
        let second = set.add_backend_charts_every("json 2", 10);
        assert_eq!(set.add_backend_charts("graphite"), first);
        assert_ne!(first, second);
        let expect = [
            (
                "netdata.backend_metrics",
                "Netdata Buffered Metrics",
                "metrics",
                ChartStyle::Line,
                130_600,
                "buffered lost sent",
            ),
            (
                "netdata.backend_bytes",
                "Netdata Backend Data Size",
                "KiB",
                ChartStyle::Area,
                130_610,
                "buffered lost sent received",
            ),
            (
                "netdata.backend_ops",
                "Netdata Backend Operations",
                "operations",
                ChartStyle::Line,
                130_630,
                "write discard reconnect failure read",
            ),
            (
                "netdata.backend_thread_cpu",
                "NetData Backend Thread CPU usage",
                "milliseconds/s",
                ChartStyle::Stacked,
                130_630,
                "user system",
            ),
        ];
        for (id, title, units, style, priority, dims) in expect {
            for suffix in ["", "_json_2"] {
                let c = set
                    .chart(set.find_chart(&format!("{id}{suffix}")).unwrap())
                    .unwrap();
                assert_eq!(
                    (c.title(), c.units(), c.style(), c.priority()),
                    (title, units, style, priority)
                );
                assert_eq!(
                    (c.family(), c.context(), c.chart_type()),
                    ("backend", id, "netdata")
                );
                assert_eq!(c.update_every(), 10);
                let names: Vec<&str> = c.dimensions().iter().map(Dimension::id).collect();
                assert_eq!(names.join(" "), dims);
            }
        }
        let bytes = set
            .chart(set.find_chart("netdata.backend_bytes").unwrap())
            .unwrap();
        let d = bytes.dimensions()[0].state();
        assert_eq!(
            (d.algorithm(), d.multiplier(), d.divisor()),
            (Algorithm::Absolute, 1, 1024)
        );
        let cpu = set
            .chart(set.find_chart("netdata.backend_thread_cpu").unwrap())
            .unwrap();
        let d = cpu.dimensions()[1].state();
        assert_eq!(
            (d.algorithm(), d.multiplier(), d.divisor()),
            (Algorithm::Incremental, 1, 1000)
        );
    }

    #[test]
    fn backend_charts_take_deltas() {
        let mut set = ChartSet::new(60, 1);
        let b = set.add_backend_charts("x");
        let mut prev = Counters::default();
        let mut cur = Counters::default();
        for i in 0..3u64 {
            cur.buffered = 7;
            cur.delivered += 100;
            cur.bytes_sent += 2048;
            cur.writes += 1;
            cur.reconnects += u64::from(i == 0);
            set.update_backend_charts(
                b,
                &prev,
                &cur,
                4096,
                5_000 * i,
                1_000 * i,
                (T + i as i64) * S,
            );
            prev = cur;
        }
        let id = |s: &str| set.find_chart(s).unwrap();
        let metrics = id("netdata.backend_metrics");
        assert_eq!(value_at(&set, metrics, 0, T + 2).to_f64(), 7.0);
        assert_eq!(value_at(&set, metrics, 2, T + 2).to_f64(), 100.0);
        let bytes = id("netdata.backend_bytes");
        assert_eq!(value_at(&set, bytes, 0, T + 2).to_f64(), 4.0);
        assert_eq!(value_at(&set, bytes, 2, T + 2).to_f64(), 2.0);
        let ops = id("netdata.backend_ops");
        assert_eq!(value_at(&set, ops, 0, T + 2).to_f64(), 1.0);
        assert_eq!(value_at(&set, ops, 2, T + 2).to_f64(), 0.0);
        // 5000 µs of user CPU per second: 5 ms/s.
        let cpu = id("netdata.backend_thread_cpu");
        assert_eq!(value_at(&set, cpu, 0, T + 2).to_f64(), 5.0);
        assert_eq!(value_at(&set, cpu, 1, T + 2).to_f64(), 1.0);
    }

    #[test]
    fn renders_prometheus() {
        let mut set = ChartSet::new(60, 1);
        let c = set.add_chart(&ChartDef {
            context: "system.cpu",
            family: "cpu",
            units: "percentage",
            ..def("system.cpu")
        });
        let d = set
            .add_dimension(c, &DimDef::new("user", Algorithm::Absolute, 1, 1))
            .unwrap();
        set.add_dimension(c, &DimDef::new("never", Algorithm::Absolute, 1, 1));
        for i in 0..5 {
            set.set(c, d, 2);
            set.done(c, (T + i) * S);
        }
        let host = HostMeta {
            prefix: "netdata",
            hostname: "h",
            tags: "",
        };
        let q = PromQuery::parse("format=prometheus", DataSource::Average, true);
        let scrape = Scrape::new("s", T + 4, Some(T), 1);
        let mut out = Vec::new();
        set.render_prometheus(
            &Exposition::new(host, &q),
            &scrape,
            &q,
            Instant::from_secs(T + 4),
            &mut out,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("netdata_info{instance=\"h\",application=\"backhaul\""),
            "{text}"
        );
        assert!(text.contains(
            "netdata_system_cpu_percentage_average{chart=\"system.cpu\",family=\"cpu\",dimension=\"user\"} 2.0000000 "
        ), "{text}");
        assert!(!text.contains("never"), "{text}");
        let q = PromQuery::parse(
            "format=prometheus&source=as-collected",
            DataSource::Average,
            true,
        );
        let mut out = Vec::new();
        set.render_prometheus(
            &Exposition::new(host, &q),
            &scrape,
            &q,
            Instant::from_secs(T + 4),
            &mut out,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                "netdata_system_cpu{chart=\"system.cpu\",family=\"cpu\",dimension=\"user\"} 2 "
            ),
            "{text}"
        );
    }

    #[test]
    fn sanitizes_ids() {
        assert_eq!(sanitize_id("eth0:1 x/é"), "eth0_1_x__");
        assert_eq!(sanitize_id("vg0-root.a_b"), "vg0-root.a_b");
    }
}
