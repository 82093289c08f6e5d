//! `system.uptime` from `/proc/uptime`.
//!
//! netdata's chart: type `system`, family `uptime`, context `system.uptime`, title
//! `System Uptime`, units `seconds`, priority 1000, line; dimension `uptime`, absolute
//! ×1/1000 of the uptime in milliseconds. (netdata prefers `CLOCK_BOOTTIME` when it
//! agrees with `/proc/uptime` within a second; both count the same time.)

use std::path::Path;

use backhaul_core::collect::Algorithm;

use super::load::parse_milli;
use super::{parse_error, read, CollectError, Fixed, ParseError, ProcFile};
use crate::charts::{ChartDef, ChartSet, ChartStyle, DimDef};

const FILE: &str = "/proc/uptime";

/// Parses `/proc/uptime` (`12345.67 54321.00`) into the uptime in milliseconds, exactly.
///
/// # Errors
///
/// The first field is missing or not a decimal number.
pub fn parse_uptime(text: &str) -> Result<i64, ParseError> {
    text.split_ascii_whitespace()
        .next()
        .and_then(parse_milli)
        .ok_or(ParseError {
            line: 1,
            what: "the uptime is not a number",
        })
}

/// The `system.uptime` collector.
#[derive(Debug)]
pub(crate) struct Uptime {
    file: ProcFile,
    chart: Fixed<1>,
}

impl Uptime {
    pub(crate) fn new(set: &mut ChartSet, proc_root: &Path) -> Self {
        let chart = Fixed::add(
            set,
            &ChartDef {
                id: "system.uptime",
                name: None,
                family: "uptime",
                context: "system.uptime",
                units: "seconds",
                title: "System Uptime",
                priority: 1000,
                update_every: 0,
                style: ChartStyle::Line,
            },
            [DimDef::new("uptime", Algorithm::Absolute, 1, 1000)],
        );
        Self {
            file: ProcFile::new(proc_root.join("uptime")),
            chart,
        }
    }

    pub(crate) fn collect(&mut self, set: &mut ChartSet, now_us: i64) -> Result<(), CollectError> {
        let text = read(&mut self.file, FILE)?;
        let ms = parse_uptime(&text).map_err(|e| parse_error(FILE, e))?;
        self.chart.store(set, [ms], now_us);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_milliseconds() {
        assert_eq!(parse_uptime("350735.47 234388.90\n"), Ok(350_735_470));
        assert_eq!(parse_uptime("0.01 0.00"), Ok(10));
        assert!(parse_uptime("").is_err());
        assert!(parse_uptime("up 5 days").is_err());
    }
}
