//! `/proc` collectors with netdata's chart ids, names, units and algorithms.
//!
//! | chart | source | dimensions | algorithm | units |
//! | --- | --- | --- | --- | --- |
//! | `system.cpu` | `/proc/stat` | `guest_nice guest steal softirq irq user system nice iowait idle` | percentage of incremental row | `percentage` |
//! | `system.load` | `/proc/loadavg` | `load1 load5 load15` | absolute ×1/1000 | `load` |
//! | `system.ram` | `/proc/meminfo` | `free used cached buffers` | absolute ×1/1024 | `MiB` |
//! | `system.uptime` | `/proc/uptime` | `uptime` | absolute ×1/1000 | `seconds` |
//! | `net.IFACE` | `/proc/net/dev` | `received sent` | incremental ×8/1000, ×−8/1000 | `kilobits/s` |
//! | `disk.DEV` | `/proc/diskstats` | `reads writes` | incremental ×512/1024, ×−512/1024 | `KiB/s` |
//!
//! Each source file has a parser that takes the file's text (`parse_*`, so tests feed
//! fixtures) and a collector that reads the file into a buffer it keeps (the file stays
//! open and is read again from the start each time, as netdata does), so a collection
//! allocates nothing once every chart exists. A file that cannot be read or parsed skips
//! its chart(s) for that round; [`Collectors::collect`] returns a [`CollectError`] naming
//! the file and the problem when a collector's error changes (a persistent problem is
//! reported once, not every second).
//!
//! Interfaces and disks get a chart the first time they show traffic (netdata's `auto`):
//! interfaces matching netdata's `disable by default interfaces matching` default
//! (`lo fireqos* *-ifb fwpr* fwbr* fwln*`) never, and neither do disks matching its
//! `exclude disks` default (`loop* ram*`) nor partitions.

pub mod cpu;
pub mod diskstats;
pub mod load;
pub mod meminfo;
pub mod netdev;
pub mod synthetic;
pub mod uptime;

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::charts::{ChartDef, ChartId, ChartSet, DimDef, DimId};

/// Why a line of a `/proc` file could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub what: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for ParseError {}

/// What went wrong with one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be opened or read.
    Read(io::ErrorKind),
    /// A line could not be parsed.
    Parse(ParseError),
}

/// A collector's problem, for the log: `FILE: cannot read: REASON` or
/// `FILE: line N: WHAT; its chart is skipped`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CollectError {
    /// The file.
    pub file: &'static str,
    /// The problem.
    pub kind: ErrorKind,
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::Read(kind) => write!(
                f,
                "{}: cannot read: {kind}; its charts are not collected",
                self.file
            ),
            ErrorKind::Parse(e) => write!(f, "{}: {e}; that line is skipped", self.file),
        }
    }
}

impl std::error::Error for CollectError {}

/// A `/proc` file kept open and read again from its start each time.
#[derive(Debug)]
pub(crate) struct ProcFile {
    path: PathBuf,
    file: Option<File>,
    buf: Vec<u8>,
}

impl ProcFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Reads the whole file (opening it if needed) and returns its text; invalid UTF-8
    /// is replaced (which only then allocates).
    pub(crate) fn read(&mut self) -> io::Result<Cow<'_, str>> {
        self.buf.clear();
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(File::open(&self.path)?),
        };
        let result = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_end(&mut self.buf));
        if let Err(e) = result {
            // Open it again next time: the file may have been replaced.
            self.file = None;
            return Err(e);
        }
        Ok(String::from_utf8_lossy(&self.buf))
    }
}

/// Parses an unsigned decimal field.
pub(crate) fn number(word: &str, line: usize, what: &'static str) -> Result<u64, ParseError> {
    word.parse().map_err(|_| ParseError { line, what })
}

/// A chart with a fixed list of dimensions, as the collectors define them.
#[derive(Debug)]
pub(crate) struct Fixed<const N: usize> {
    pub(crate) chart: ChartId,
    pub(crate) dims: [DimId; N],
}

impl<const N: usize> Fixed<N> {
    /// Defines the chart and its dimensions in `set`.
    pub(crate) fn add(set: &mut ChartSet, def: &ChartDef<'_>, dims: [DimDef<'_>; N]) -> Self {
        let chart = set.add_chart(def);
        let dims = dims.map(|d| set.add_dimension(chart, &d).unwrap_or(DimId::at(0)));
        Self { chart, dims }
    }

    /// Sets every dimension and closes the collection.
    pub(crate) fn store(&self, set: &mut ChartSet, values: [i64; N], now_us: i64) {
        for (dim, v) in self.dims.iter().zip(values) {
            set.set(self.chart, *dim, v);
        }
        set.done(self.chart, now_us);
    }
}

/// The per-round result of [`Collectors::collect`]: the collectors' new problems.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    errors: [Option<CollectError>; SOURCES],
}

impl Report {
    /// Whether there is nothing to report.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.errors.iter().all(Option::is_none)
    }

    /// The problems.
    pub fn iter(&self) -> impl Iterator<Item = &CollectError> {
        self.errors.iter().flatten()
    }
}

impl IntoIterator for Report {
    type Item = CollectError;
    type IntoIter = std::iter::Flatten<std::array::IntoIter<Option<CollectError>, SOURCES>>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter().flatten()
    }
}

const SOURCES: usize = 6;

/// Every collector of this module.
#[derive(Debug)]
pub struct Collectors {
    cpu: cpu::Cpu,
    load: load::Load,
    ram: meminfo::Ram,
    uptime: uptime::Uptime,
    net: netdev::NetDev,
    disks: diskstats::DiskStats,
    /// The last error of each collector, to report changes only.
    last: [Option<CollectError>; SOURCES],
}

impl Collectors {
    /// Collectors of this machine's `/proc` and `/sys`; defines the charts that always
    /// exist (`system.cpu`, `system.load`, `system.ram`, `system.uptime`) in `set`.
    pub fn new(set: &mut ChartSet) -> Self {
        Self::with_roots(set, Path::new("/proc"), Path::new("/sys"))
    }

    /// Collectors of the `/proc` and `/sys` trees under other roots (for tests, or a
    /// host's trees mounted in a container).
    pub fn with_roots(set: &mut ChartSet, proc_root: &Path, sys_root: &Path) -> Self {
        Self {
            cpu: cpu::Cpu::new(set, proc_root),
            load: load::Load::new(set, proc_root),
            ram: meminfo::Ram::new(set, proc_root),
            uptime: uptime::Uptime::new(set, proc_root),
            net: netdev::NetDev::new(proc_root),
            disks: diskstats::DiskStats::new(proc_root, sys_root),
            last: [None; SOURCES],
        }
    }

    /// Collects every source at `now_us` (microseconds since the Unix epoch) into `set`.
    /// Returns the problems that are new since the previous round (a problem that
    /// persists is reported once; a collector that recovers reports nothing).
    pub fn collect(&mut self, set: &mut ChartSet, now_us: i64) -> Report {
        let results = [
            self.cpu.collect(set, now_us).err(),
            self.load.collect(set, now_us).err(),
            self.ram.collect(set, now_us).err(),
            self.uptime.collect(set, now_us).err(),
            self.net.collect(set, now_us).err(),
            self.disks.collect(set, now_us).err(),
        ];
        let mut report = Report::default();
        for ((now, last), out) in results
            .into_iter()
            .zip(&mut self.last)
            .zip(&mut report.errors)
        {
            if now.is_some() && now != *last {
                *out = now;
            }
            *last = now;
        }
        report
    }
}

/// Reads `file` into its text, or the error as a [`CollectError`] of `name`.
pub(crate) fn read<'f>(
    file: &'f mut ProcFile,
    name: &'static str,
) -> Result<Cow<'f, str>, CollectError> {
    file.read().map_err(|e| CollectError {
        file: name,
        kind: ErrorKind::Read(e.kind()),
    })
}

/// A parse error of `name` as a [`CollectError`].
pub(crate) fn parse_error(name: &'static str, e: ParseError) -> CollectError {
    CollectError {
        file: name,
        kind: ErrorKind::Parse(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backhaul_core::engine::Source;

    #[test]
    fn collects_this_machine() {
        let mut set = ChartSet::new(60, 1);
        let mut c = Collectors::new(&mut set);
        let t = 1_700_000_000_000_000;
        let mut errors = Vec::new();
        for i in 0..3 {
            if i == 2 {
                // Let the CPU counters move (the percentages only need the deltas).
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
            let report = c.collect(&mut set, t + i * 1_000_000);
            errors.extend(report.into_iter().map(|e| e.to_string()));
        }
        assert!(errors.is_empty(), "{errors:?}");
        let chart = |id: &str| {
            let c = set.find_chart(id).unwrap_or_else(|| panic!("{id} missing"));
            set.chart(c).unwrap()
        };
        // The CPU percentages of the last point add up to 100 (idle included).
        let cpu = chart("system.cpu");
        assert_eq!(cpu.ring().counter(), 2);
        let slot = cpu.ring().last_slot();
        let total: f64 = (0..cpu.dimensions().len())
            .map(|i| cpu.values(i)[slot].to_f64())
            .sum();
        assert!((99.0..=101.0).contains(&total), "{total}");
        // RAM: the dimensions add up to MemTotal (in MiB), all non-negative but used.
        let ram = chart("system.ram");
        let slot = ram.ring().last_slot();
        let sum: f64 = (0..ram.dimensions().len())
            .map(|i| ram.values(i)[slot].to_f64())
            .sum();
        assert!(sum > 16.0, "{sum} MiB of RAM");
        let uptime = chart("system.uptime");
        let up = uptime.values(0)[uptime.ring().last_slot()].to_f64();
        assert!(up > 0.0, "uptime {up}");
        // Load is collected (update every 5 s: primed only) and plausible.
        let load = chart("system.load");
        assert_eq!(load.update_every(), 5);
        let l1 = load.dimensions()[0].state().last_collected_value();
        assert!((0..1_000_000).contains(&l1), "{l1}");
        // Every metric is exportable.
        for i in 0..set.metric_count() {
            assert!(set.metric(i).is_some());
        }
    }

    #[test]
    fn errors_are_reported_once() {
        let dir = std::env::temp_dir().join(format!("backhaul-collectors-{}", std::process::id()));
        let proc_root = dir.join("proc");
        std::fs::create_dir_all(proc_root.join("net")).unwrap();
        std::fs::write(proc_root.join("stat"), "cpu  1 2 3 4 5 6 7 8 0 0\n").unwrap();
        std::fs::write(proc_root.join("loadavg"), "0.50 x 0.10 1/100 42\n").unwrap();
        let mut set = ChartSet::new(60, 1);
        let mut c = Collectors::with_roots(&mut set, &proc_root, &dir.join("sys"));
        let first: Vec<String> = c
            .collect(&mut set, 1_000_000)
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert!(
            first.contains(
                &"/proc/loadavg: line 1: the 5-minute load is not a number; that line is skipped"
                    .to_owned()
            ),
            "{first:?}"
        );
        assert!(
            first
                .iter()
                .any(|e| e.starts_with("/proc/meminfo: cannot read: ")),
            "{first:?}"
        );
        assert_eq!(first.len(), 5, "{first:?}");
        assert!(c.collect(&mut set, 2_000_000).is_empty());
        std::fs::write(proc_root.join("loadavg"), "0.50 0.20 0.10 1/100 42\n").unwrap();
        assert!(c.collect(&mut set, 8_000_000).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
