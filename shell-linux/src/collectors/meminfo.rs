//! `system.ram` from `/proc/meminfo`.
//!
//! netdata's chart: type `system`, family `ram`, context `system.ram`, title `System
//! RAM`, units `MiB`, priority 200, stacked; dimensions `free used cached buffers`,
//! absolute ×1/1024 of the KiB values. With netdata's formulas as of v1.28 (where shared
//! memory counts as used, not cached):
//!
//! * `cached = Cached + SReclaimable − Shmem`
//! * `used = MemTotal − MemFree − cached − Buffers`
//!
//! in wrapping unsigned arithmetic, as netdata computes them.

use std::path::Path;

use backhaul_core::collect::Algorithm;

use super::{number, parse_error, read, CollectError, Fixed, ParseError, ProcFile};
use crate::charts::{ChartDef, ChartSet, ChartStyle, DimDef};

const FILE: &str = "/proc/meminfo";

/// The `/proc/meminfo` fields `system.ram` needs, in KiB (0 when a kernel does not print
/// one, except `MemTotal`, which is required).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// `MemTotal`.
    pub total: u64,
    /// `MemFree`.
    pub free: u64,
    /// `Buffers`.
    pub buffers: u64,
    /// `Cached`.
    pub cached: u64,
    /// `SReclaimable`.
    pub sreclaimable: u64,
    /// `Shmem`.
    pub shmem: u64,
}

impl MemInfo {
    /// The chart's row in KiB: `[free, used, cached, buffers]`.
    #[must_use]
    pub fn row(&self) -> [i64; 4] {
        let cached = self
            .cached
            .wrapping_add(self.sreclaimable)
            .wrapping_sub(self.shmem);
        let used = self
            .total
            .wrapping_sub(self.free)
            .wrapping_sub(cached)
            .wrapping_sub(self.buffers);
        [self.free, used, cached, self.buffers].map(|v| v as i64)
    }
}

/// Parses `/proc/meminfo` (`Name:   value kB` lines; other lines are ignored).
///
/// # Errors
///
/// A needed field's value is not a number, or `MemTotal` is missing.
pub fn parse_meminfo(text: &str) -> Result<MemInfo, ParseError> {
    let mut m = MemInfo::default();
    let mut has_total = false;
    for (i, line) in text.lines().enumerate() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let slot = match name.trim() {
            "MemTotal" => {
                has_total = true;
                &mut m.total
            }
            "MemFree" => &mut m.free,
            "Buffers" => &mut m.buffers,
            "Cached" => &mut m.cached,
            "SReclaimable" => &mut m.sreclaimable,
            "Shmem" => &mut m.shmem,
            _ => continue,
        };
        let word = rest.split_ascii_whitespace().next().unwrap_or("");
        *slot = number(word, i + 1, "a memory size is not a number")?;
    }
    if !has_total {
        return Err(ParseError {
            line: text.lines().count().max(1),
            what: "no MemTotal line",
        });
    }
    Ok(m)
}

/// The `system.ram` collector.
#[derive(Debug)]
pub(crate) struct Ram {
    file: ProcFile,
    chart: Fixed<4>,
}

impl Ram {
    pub(crate) fn new(set: &mut ChartSet, proc_root: &Path) -> Self {
        let abs = |id| DimDef::new(id, Algorithm::Absolute, 1, 1024);
        let chart = Fixed::add(
            set,
            &ChartDef {
                id: "system.ram",
                name: None,
                family: "ram",
                context: "system.ram",
                units: "MiB",
                title: "System RAM",
                priority: 200,
                update_every: 0,
                style: ChartStyle::Stacked,
            },
            ["free", "used", "cached", "buffers"].map(abs),
        );
        Self {
            file: ProcFile::new(proc_root.join("meminfo")),
            chart,
        }
    }

    pub(crate) fn collect(&mut self, set: &mut ChartSet, now_us: i64) -> Result<(), CollectError> {
        let text = read(&mut self.file, FILE)?;
        let m = parse_meminfo(&text).map_err(|e| parse_error(FILE, e))?;
        self.chart.store(set, m.row(), now_us);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "\
MemTotal:       16318412 kB
MemFree:         1032224 kB
MemAvailable:    9876543 kB
Buffers:          412300 kB
Cached:          8123400 kB
SwapCached:            0 kB
Shmem:            523100 kB
KReclaimable:     734000 kB
Slab:            1000000 kB
SReclaimable:     700000 kB
SUnreclaim:       300000 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
";

    #[test]
    fn formulas() {
        let m = parse_meminfo(MEMINFO).unwrap();
        let cached = 8_123_400 + 700_000 - 523_100;
        let used = 16_318_412 - 1_032_224 - cached - 412_300;
        assert_eq!(m.row(), [1_032_224, used, cached, 412_300]);
        // The row adds up to MemTotal.
        assert_eq!(m.row().iter().sum::<i64>(), 16_318_412);
    }

    #[test]
    fn old_kernels_and_errors() {
        let m = parse_meminfo("MemTotal: 1000 kB\nMemFree: 10 kB\n").unwrap();
        assert_eq!(m.row(), [10, 990, 0, 0]);
        assert_eq!(
            parse_meminfo("MemFree: 10 kB\n"),
            Err(ParseError {
                line: 1,
                what: "no MemTotal line"
            })
        );
        assert_eq!(
            parse_meminfo("MemTotal: 1000 kB\nCached: lots\n"),
            Err(ParseError {
                line: 2,
                what: "a memory size is not a number"
            })
        );
    }
}
