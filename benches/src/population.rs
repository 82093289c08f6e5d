//! The shared synthetic population of `anchors/population.h`, rebuilt in Rust.
//!
//! One host (`gateway-01`, prefix `netdata`), 2,000 charts × 5 dimensions = 10,000
//! metrics, each chart collected every second into a ring of 3,600 slots, exported by a
//! backend every 10 seconds (the average of 10 slots). Everything is deterministic
//! (splitmix64), and every function here is a faithful port of its C namesake, with the
//! same `f64` arithmetic, so this population holds exactly the inputs of the C baseline
//! (`anchors/baseline.c`): the same names, the same storage numbers in the same ring
//! slots, the same collected values and timestamps.
//!
//! The rings are built as `baseline.c` builds them: every chart has written
//! `3 × ENTRIES` points, its next slot is [`current_entry`], its newest point is at
//! [`BEFORE`], and only the [`FILL_SLOTS`] slots of times `BEFORE − 31 ..= BEFORE` hold a
//! sample (packed with `SN_EXISTS`); every other slot is empty. Each dimension's last
//! collected value is [`collected_value`], collected at [`BEFORE`].

use backhaul_core::format::{ChartMeta, DimensionMeta, HostMeta, Record, Value};
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
use backhaul_core::window::{self, Missing, Reduce, Window};

/// Charts in the population.
pub const CHARTS: usize = 2000;
/// Dimensions per chart.
pub const DIMS: usize = 5;
/// Metrics (dimensions) in the population.
pub const METRICS: usize = CHARTS * DIMS;
/// Slots per ring (netdata's default history).
pub const ENTRIES: usize = 3600;
/// Chart collection interval, seconds.
pub const UPDATE_EVERY: u32 = 1;
/// Backend interval, seconds.
pub const BACKEND_EVERY: i64 = 10;
/// End of the exported span (unix seconds).
pub const BEFORE: i64 = 1_610_000_000;
/// Start of the exported span (exclusive).
pub const AFTER: i64 = BEFORE - BACKEND_EVERY;
/// Slots filled up to [`BEFORE`] (inclusive).
pub const FILL_SLOTS: i64 = 32;
/// The metric prefix.
pub const PREFIX: &str = "netdata";
/// The host name.
pub const HOSTNAME: &str = "gateway-01";

/// One of the ten chart shapes (`struct pop_template`).
#[derive(Clone, Copy, Debug)]
struct Template {
    /// printf pattern with one `%d`: the instance number.
    id_fmt: &'static str,
    chart_type: &'static str,
    /// May contain `%d`.
    family_fmt: &'static str,
    context: &'static str,
    units: &'static str,
    dims: [&'static str; DIMS],
}

/// Chart `c` uses template `c % 10` and instance `c / 10` (0..199).
const TEMPLATES: [Template; 10] = [
    Template {
        id_fmt: "cpu.cpu%d",
        chart_type: "cpu",
        family_fmt: "utilization",
        context: "cpu.cpu",
        units: "percentage",
        dims: ["user", "system", "nice", "iowait", "softirq"],
    },
    Template {
        id_fmt: "disk_ops.nvme%dn1",
        chart_type: "disk_ops",
        family_fmt: "nvme%dn1",
        context: "disk.ops",
        units: "operations/s",
        dims: ["reads", "writes", "discards", "flushes", "merged"],
    },
    Template {
        id_fmt: "net.veth%d",
        chart_type: "net",
        family_fmt: "veth%d",
        context: "net.net",
        units: "kilobits/s",
        dims: ["received", "sent", "errors", "drops", "fifo"],
    },
    Template {
        id_fmt: "cgroup_app%d.cpu",
        chart_type: "cgroup_app",
        family_fmt: "cpu",
        context: "cgroup.cpu",
        units: "percentage",
        dims: ["user", "system", "throttled", "nr_periods", "nr_throttled"],
    },
    Template {
        id_fmt: "cgroup_app%d.mem",
        chart_type: "cgroup_app",
        family_fmt: "mem",
        context: "cgroup.mem",
        units: "MiB",
        dims: ["cache", "rss", "rss_huge", "mapped_file", "swap"],
    },
    Template {
        id_fmt: "net_packets.veth%d",
        chart_type: "net_packets",
        family_fmt: "veth%d",
        context: "net.packets",
        units: "packets/s",
        dims: ["received", "sent", "multicast", "compressed", "frames"],
    },
    Template {
        id_fmt: "disk.nvme%dn1",
        chart_type: "disk",
        family_fmt: "nvme%dn1",
        context: "disk.io",
        units: "KiB/s",
        dims: ["reads", "writes", "read_bytes", "write_bytes", "busy"],
    },
    Template {
        id_fmt: "mem.numa_node%d",
        chart_type: "mem",
        family_fmt: "numa",
        context: "mem.numa_nodes",
        units: "events/s",
        dims: ["hit", "miss", "local", "foreign", "interleave"],
    },
    Template {
        id_fmt: "users.user%d_cpu",
        chart_type: "users",
        family_fmt: "cpu",
        context: "users.cpu",
        units: "percentage",
        dims: ["root", "netdata", "www_data", "postgres", "nobody"],
    },
    Template {
        id_fmt: "sensors.temp%d",
        chart_type: "sensors",
        family_fmt: "temperature",
        context: "sensors.temperature",
        units: "Celsius",
        dims: ["temp1", "temp2", "temp3", "core0", "core1"],
    },
];

/// `snprintf(buf, 64, fmt, n)` for a pattern whose only conversion is (at most) one
/// `%d`: the pattern with its `%d` replaced by `n`, cut to 63 bytes.
fn sprintf_d(fmt: &str, n: i32) -> String {
    let mut s = match fmt.split_once("%d") {
        Some((head, tail)) => format!("{head}{n}{tail}"),
        None => fmt.to_owned(),
    };
    debug_assert!(!s.contains('%'), "only one %d is supported: {fmt}");
    s.truncate(63); // the patterns are ASCII
    s
}

fn template(c: usize) -> &'static Template {
    &TEMPLATES[c % TEMPLATES.len()]
}

/// Chart `c`'s id (`pop_chart_strings`), e.g. `cpu.cpu0`.
#[must_use]
pub fn chart_id(c: usize) -> String {
    sprintf_d(template(c).id_fmt, (c / 10) as i32)
}

/// Chart `c`'s family (`pop_chart_strings`), e.g. `nvme3n1`.
#[must_use]
pub fn chart_family(c: usize) -> String {
    sprintf_d(template(c).family_fmt, (c / 10) as i32)
}

/// The name of dimension `d` of chart `c` (`pop_dim_name`).
#[must_use]
pub fn dim_name(c: usize, d: usize) -> &'static str {
    template(c).dims[d]
}

/// The slot chart `c`'s ring was about to write next when the export ran
/// (`pop_current_entry`).
#[must_use]
pub const fn current_entry(c: usize) -> usize {
    ((c as i64 * 7919 + 5) % ENTRIES as i64) as usize
}

/// The splitmix64 finaliser (`pop_mix`).
#[must_use]
pub const fn mix(x: u64) -> u64 {
    let x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Which kind of values `(chart, dim)` carries, 0..=3 (`pop_kind`).
#[must_use]
pub const fn kind(c: usize, d: usize) -> usize {
    (c * DIMS + d) % 4
}

/// The value stored for `(chart, dim)` at unix time `t` (`pop_stored_value`): percentages,
/// signed rates, small integers and large byte rates, 1 in 16 samples exactly zero.
#[must_use]
pub fn stored_value(c: usize, d: usize, t: i64) -> f64 {
    let h = mix(((c as u64) << 40) ^ ((d as u64) << 32) ^ (t - BEFORE + 100_000) as u64);
    let u = (h >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0);
    if h & 15 == 0 {
        return 0.0;
    }
    match kind(c, d) {
        0 => u * 100.0,
        1 => {
            if (h >> 4) & 1 != 0 {
                -(u * 100_000.0)
            } else {
                u * 100_000.0
            }
        }
        // C's (double)(long)x truncates toward zero, as `as i64` does.
        2 => (u * 1000.0) as i64 as f64,
        _ => 1e6 + u * 1e10,
    }
}

/// The last collected raw value of `(chart, dim)` (`pop_collected_value`).
#[must_use]
pub const fn collected_value(c: usize, d: usize) -> i64 {
    let h = mix(((c as u64) << 40) ^ ((d as u64) << 32) ^ 0x5151);
    // Every branch is below 10^15 + 10^12, so the casts are exact.
    match kind(c, d) {
        0 => (h % 1_000_000) as i64,
        1 => 1_000_000 + (h % 1_000_000_000_000) as i64,
        2 => (h % 1000) as i64,
        _ => (h % 1_000_000_000_000_000) as i64,
    }
}

/// Which value a record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The average of the stored points of the export window (`average`).
    Stored,
    /// The last collected raw value (`as collected`).
    Collected,
}

/// One dimension of a chart, with its ring slice and last collected value.
#[derive(Clone, Debug)]
pub struct Dimension {
    /// The dimension id.
    pub id: String,
    /// The dimension name (the id, as in the C baseline).
    pub name: String,
    /// The dimension's ring: [`ENTRIES`] storage numbers laid out as the chart's
    /// [`RingState`] says.
    pub values: Vec<StorageNumber>,
    /// The last collected raw value.
    pub collected: i64,
    /// When it was collected (unix seconds).
    pub collected_at: i64,
}

/// One chart: its metadata, its ring position and its dimensions.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The chart id, e.g. `cpu.cpu0`.
    pub id: String,
    /// The chart name (the id, as in the C baseline).
    pub name: String,
    /// The family.
    pub family: String,
    /// The context.
    pub context: String,
    /// The type (the part of the id before the first dot).
    pub chart_type: String,
    /// The units.
    pub units: String,
    /// The ring position shared by all dimensions.
    pub ring: RingState,
    /// The dimensions, in the C baseline's order.
    pub dimensions: Vec<Dimension>,
}

impl Chart {
    /// This chart's metadata for records.
    #[must_use]
    pub fn meta(&self) -> ChartMeta<'_> {
        ChartMeta {
            id: &self.id,
            name: &self.name,
            family: &self.family,
            context: &self.context,
            chart_type: &self.chart_type,
            units: &self.units,
        }
    }
}

/// The whole population: one host and its charts, all in owned memory.
#[derive(Clone, Debug)]
pub struct Population {
    /// The metric prefix ([`PREFIX`]).
    pub prefix: String,
    /// The host name ([`HOSTNAME`]).
    pub hostname: String,
    /// Host tags (none).
    pub tags: String,
    /// Send names instead of ids. The C baseline prints names, which equal the ids.
    pub names: bool,
    /// The charts, in the C baseline's order.
    pub charts: Vec<Chart>,
}

impl Population {
    /// Builds the population exactly as `baseline.c`'s `build_population` does.
    #[must_use]
    pub fn new() -> Self {
        let charts = (0..CHARTS).map(build_chart).collect();
        Self {
            prefix: PREFIX.to_owned(),
            hostname: HOSTNAME.to_owned(),
            tags: String::new(),
            names: true,
            charts,
        }
    }

    /// The host metadata for records.
    #[must_use]
    pub fn host(&self) -> HostMeta<'_> {
        HostMeta {
            prefix: &self.prefix,
            hostname: &self.hostname,
            tags: &self.tags,
        }
    }

    /// Every metric as `(chart, dimension)`, in export order.
    pub fn metrics(&self) -> impl Iterator<Item = (&Chart, &Dimension)> + '_ {
        self.charts
            .iter()
            .flat_map(|c| c.dimensions.iter().map(move |d| (c, d)))
    }

    /// The average a stored record of `dim` carries for the span `(after, before]`, with
    /// its window (`window::value`, [`Reduce::Average`]).
    ///
    /// # Errors
    ///
    /// [`Missing`] when the window holds no sample (the C baseline skips the metric).
    pub fn stored(
        chart: &Chart,
        dim: &Dimension,
        after: i64,
        before: i64,
    ) -> Result<(backhaul_core::decimal::Decimal, Window), Missing> {
        window::value(&dim.values, &chart.ring, after, before, Reduce::Average)
    }

    /// The record of one metric for the span `(after, before]`, or `None` where the C
    /// baseline writes no line: a collected value older than `after`, or a stored window
    /// without samples.
    #[must_use]
    pub fn record<'a>(
        &'a self,
        source: Source,
        chart: &'a Chart,
        dim: &'a Dimension,
        after: i64,
        before: i64,
    ) -> Option<Record<'a>> {
        if dim.collected_at < after {
            return None;
        }
        let (value, timestamp) = match source {
            Source::Stored => {
                let (avg, w) = Self::stored(chart, dim, after, before).ok()?;
                (Value::Stored(avg), w.last_timestamp)
            }
            Source::Collected => (Value::Collected(dim.collected), dim.collected_at),
        };
        Some(Record {
            host: self.host(),
            chart: chart.meta(),
            dimension: DimensionMeta {
                id: &dim.id,
                name: &dim.name,
            },
            names: self.names,
            value,
            timestamp,
        })
    }

    /// One export cycle's records for the span `(after, before]`, in the C baseline's
    /// order: every chart, every dimension collected inside the span.
    pub fn records(
        &self,
        source: Source,
        after: i64,
        before: i64,
    ) -> impl Iterator<Item = Record<'_>> + '_ {
        self.metrics()
            .filter_map(move |(c, d)| self.record(source, c, d, after, before))
    }

    /// The records of the benchmarks' export cycle, `(AFTER, BEFORE]`.
    pub fn cycle_records(&self, source: Source) -> impl Iterator<Item = Record<'_>> + '_ {
        self.records(source, AFTER, BEFORE)
    }
}

impl Default for Population {
    fn default() -> Self {
        Self::new()
    }
}

fn build_chart(c: usize) -> Chart {
    let t = template(c);
    let id = chart_id(c);
    let ring = RingState::new(
        ENTRIES,
        UPDATE_EVERY,
        3 * ENTRIES as u64,
        current_entry(c),
        BEFORE,
    );
    let dimensions = (0..DIMS)
        .map(|d| {
            let mut values = vec![StorageNumber::EMPTY; ENTRIES];
            for t in BEFORE - FILL_SLOTS + 1..=BEFORE {
                values[ring.time_to_slot(t)] =
                    StorageNumber::pack(stored_value(c, d, t), SN_EXISTS);
            }
            Dimension {
                id: dim_name(c, d).to_owned(),
                name: dim_name(c, d).to_owned(),
                values,
                collected: collected_value(c, d),
                collected_at: BEFORE,
            }
        })
        .collect();
    Chart {
        name: id.clone(),
        id,
        family: chart_family(c),
        context: t.context.to_owned(),
        chart_type: t.chart_type.to_owned(),
        units: t.units.to_owned(),
        ring,
        dimensions,
    }
}

/// One population shared by the unit tests (building one takes a while in debug builds).
#[cfg(test)]
pub(crate) fn shared() -> &'static Population {
    static POP: std::sync::OnceLock<Population> = std::sync::OnceLock::new();
    POP.get_or_init(Population::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(chart_id(0), "cpu.cpu0");
        assert_eq!(chart_id(1999), "sensors.temp199");
        assert_eq!(chart_family(11), "nvme1n1");
        assert_eq!(chart_family(12), "veth1");
        assert_eq!(chart_family(13), "cpu");
        assert_eq!(dim_name(8, 2), "www_data");
    }

    #[test]
    fn ring_layout() {
        assert_eq!(current_entry(0), 5);
        assert_eq!(current_entry(1), 7924 % 3600);
        let pop = shared();
        assert_eq!(pop.charts.len(), CHARTS);
        assert_eq!(pop.metrics().count(), METRICS);
        for chart in &pop.charts {
            for dim in &chart.dimensions {
                assert_eq!(dim.values.len(), ENTRIES);
                let filled = dim.values.iter().filter(|sn| sn.exists()).count();
                assert_eq!(filled as i64, FILL_SLOTS);
            }
        }
        // The newest point sits just before the next slot, wrapping.
        let c0 = &pop.charts[0];
        assert_eq!(c0.ring.time_to_slot(BEFORE), 4);
        assert!(c0.dimensions[0].values[4].exists());
        assert!(!c0.dimensions[0].values[5].exists());
    }

    #[test]
    fn every_metric_has_a_record() {
        let pop = shared();
        for source in [Source::Stored, Source::Collected] {
            let n = pop.cycle_records(source).count();
            assert_eq!(n, METRICS);
        }
        let r = pop.cycle_records(Source::Stored).next().unwrap();
        assert_eq!(r.timestamp, BEFORE - 3);
        assert_eq!((r.chart.id, r.dimension.name), ("cpu.cpu0", "user"));
    }
}
