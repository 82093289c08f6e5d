//! `system.cpu` from the `cpu` line of `/proc/stat`.
//!
//! netdata's chart: type `system`, family `cpu`, context `system.cpu`, title `Total CPU
//! utilization`, units `percentage`, priority 100, stacked; ten dimensions in this order,
//! each percentage-of-incremental-row ×1/1: `guest_nice guest steal softirq irq user
//! system nice iowait idle` (netdata hides `idle` on its dashboard; exporters send it).
//! As in netdata, guest time is taken out of `user` and guest-nice time out of `nice`
//! (the kernel counts them in both).

use std::path::Path;

use backhaul_core::collect::Algorithm;

use super::{number, parse_error, read, CollectError, Fixed, ParseError, ProcFile};
use crate::charts::{ChartDef, ChartSet, ChartStyle, DimDef};

const FILE: &str = "/proc/stat";

/// The `cpu` line of `/proc/stat`, in USER_HZ ticks. Fields an old kernel does not print
/// are 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Time in user mode (guest time included).
    pub user: u64,
    /// Time in user mode with low priority (guest-nice time included).
    pub nice: u64,
    /// Time in kernel mode.
    pub system: u64,
    /// Idle time.
    pub idle: u64,
    /// Waiting for I/O.
    pub iowait: u64,
    /// Servicing interrupts.
    pub irq: u64,
    /// Servicing softirqs.
    pub softirq: u64,
    /// Stolen by the hypervisor.
    pub steal: u64,
    /// Running guests.
    pub guest: u64,
    /// Running niced guests.
    pub guest_nice: u64,
}

impl CpuTimes {
    /// The dimension values in the chart's order, guest times taken out of user and
    /// nice (wrapping, as netdata's unsigned subtraction does).
    #[must_use]
    pub fn row(&self) -> [i64; 10] {
        [
            self.guest_nice,
            self.guest,
            self.steal,
            self.softirq,
            self.irq,
            self.user.wrapping_sub(self.guest),
            self.system,
            self.nice.wrapping_sub(self.guest_nice),
            self.iowait,
            self.idle,
        ]
        .map(|v| v as i64)
    }
}

/// Parses the total `cpu` line of `/proc/stat` (at least the four fields every kernel
/// prints).
///
/// # Errors
///
/// No `cpu` line, fewer than four fields, or a field that is not a number.
pub fn parse_stat(text: &str) -> Result<CpuTimes, ParseError> {
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split_ascii_whitespace();
        if words.next() != Some("cpu") {
            continue;
        }
        let line_no = i + 1;
        let mut f = [0u64; 10];
        let mut n = 0;
        for (slot, word) in f.iter_mut().zip(words) {
            *slot = number(word, line_no, "a CPU time is not a number")?;
            n += 1;
        }
        if n < 4 {
            return Err(ParseError {
                line: line_no,
                what: "the cpu line has fewer than 4 fields",
            });
        }
        let [user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice] = f;
        return Ok(CpuTimes {
            user,
            nice,
            system,
            idle,
            iowait,
            irq,
            softirq,
            steal,
            guest,
            guest_nice,
        });
    }
    Err(ParseError {
        line: text.lines().count().max(1),
        what: "no cpu line",
    })
}

/// The `system.cpu` collector.
#[derive(Debug)]
pub(crate) struct Cpu {
    file: ProcFile,
    chart: Fixed<10>,
}

impl Cpu {
    pub(crate) fn new(set: &mut ChartSet, proc_root: &Path) -> Self {
        let pct = |id| DimDef::new(id, Algorithm::PercentageOfIncrementalRow, 1, 1);
        let chart = Fixed::add(
            set,
            &ChartDef {
                id: "system.cpu",
                name: None,
                family: "cpu",
                context: "system.cpu",
                units: "percentage",
                title: "Total CPU utilization",
                priority: 100,
                update_every: 0,
                style: ChartStyle::Stacked,
            },
            [
                "guest_nice",
                "guest",
                "steal",
                "softirq",
                "irq",
                "user",
                "system",
                "nice",
                "iowait",
                "idle",
            ]
            .map(pct),
        );
        Self {
            file: ProcFile::new(proc_root.join("stat")),
            chart,
        }
    }

    pub(crate) fn collect(&mut self, set: &mut ChartSet, now_us: i64) -> Result<(), CollectError> {
        let text = read(&mut self.file, FILE)?;
        let times = parse_stat(&text).map_err(|e| parse_error(FILE, e))?;
        self.chart.store(set, times.row(), now_us);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backhaul_core::storage_number::StorageNumber;

    const STAT: &str = "\
cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
intr 1462898 0 0 0
ctxt 2104845
btime 1769000000
";

    #[test]
    fn parses_the_total_line() {
        let t = parse_stat(STAT).unwrap();
        assert_eq!(
            (t.user, t.idle, t.guest, t.guest_nice),
            (10_132_153, 46_828_483, 175_628, 0)
        );
        // user − guest.
        assert_eq!(t.row()[5], 10_132_153 - 175_628);
        assert_eq!(t.row()[9], 46_828_483);
    }

    #[test]
    fn old_kernels_and_bad_lines() {
        let t = parse_stat("cpu 1 2 3 4\n").unwrap();
        assert_eq!((t.idle, t.steal), (4, 0));
        assert_eq!(
            parse_stat("cpu0 1 2 3 4\n"),
            Err(ParseError {
                line: 1,
                what: "no cpu line"
            })
        );
        assert_eq!(
            parse_stat("intr 1\ncpu 1 2 x 4\n"),
            Err(ParseError {
                line: 2,
                what: "a CPU time is not a number"
            })
        );
        assert_eq!(
            parse_stat("cpu 1 2\n").unwrap_err().what,
            "the cpu line has fewer than 4 fields"
        );
        assert_eq!(parse_stat("").unwrap_err().line, 1);
    }

    #[test]
    fn percentages_of_the_row() {
        let mut set = ChartSet::new(10, 1);
        let cpu = Cpu::new(&mut set, Path::new("/nonexistent"));
        let t = 1_600_000_000_000_000;
        let row = |user: u64, idle: u64| {
            CpuTimes {
                user,
                idle,
                ..CpuTimes::default()
            }
            .row()
        };
        cpu.chart.store(&mut set, row(0, 0), t);
        cpu.chart.store(&mut set, row(25, 75), t + 1_000_000);
        let c = set.chart(cpu.chart.chart).unwrap();
        let slot = c.ring().last_slot();
        let v = |i: usize| c.values(i)[slot];
        assert_eq!(
            v(5),
            StorageNumber::pack(25.0, backhaul_core::storage_number::SN_EXISTS)
        );
        assert_eq!(v(9).to_f64(), 75.0);
        assert_eq!(v(0).to_f64(), 0.0);
    }
}
