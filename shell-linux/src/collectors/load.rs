//! `system.load` from `/proc/loadavg`.
//!
//! netdata's chart: type `system`, family `load`, context `system.load`, title `System
//! Load Average`, units `load`, priority 100, line; dimensions `load1 load5 load15`,
//! absolute ×1/1000 of the load × 1000. The kernel updates the averages every 5 seconds,
//! so the chart's `update_every` is at least 5 and the file is only read when the chart
//! is due, as netdata does.
//!
//! netdata computes `(long long)(strtod(word) × 1000)`, which truncates `2.01` to 2009;
//! here the decimal is read exactly (2010).

use std::path::Path;

use backhaul_core::collect::Algorithm;

use super::{parse_error, read, CollectError, Fixed, ParseError, ProcFile};
use crate::charts::{ChartDef, ChartSet, ChartStyle, DimDef};

const FILE: &str = "/proc/loadavg";

/// netdata never collects the load averages more often than this (seconds).
pub const MIN_LOADAVG_UPDATE_EVERY: u32 = 5;

/// A non-negative decimal (`12.34`) in thousandths, exactly; digits past the third
/// decimal are dropped. `None` if it is not such a number or does not fit.
#[must_use]
pub fn parse_milli(word: &str) -> Option<i64> {
    let (int, frac) = word.split_once('.').unwrap_or((word, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut milli = int.parse::<i64>().ok()?.checked_mul(1000)?;
    let mut scale = 100;
    for b in frac.bytes().take(3) {
        milli = milli.checked_add(i64::from(b - b'0') * scale)?;
        scale /= 10;
    }
    Some(milli)
}

/// Parses `/proc/loadavg` into the 1, 5 and 15-minute loads in thousandths.
///
/// # Errors
///
/// Fewer than three fields, or one that is not a decimal number.
pub fn parse_loadavg(text: &str) -> Result<[i64; 3], ParseError> {
    let mut words = text.split_ascii_whitespace();
    let mut out = [0; 3];
    let names = [
        "the 1-minute load is not a number",
        "the 5-minute load is not a number",
        "the 15-minute load is not a number",
    ];
    for (slot, what) in out.iter_mut().zip(names) {
        *slot = words
            .next()
            .and_then(parse_milli)
            .ok_or(ParseError { line: 1, what })?;
    }
    Ok(out)
}

/// The `system.load` collector.
#[derive(Debug)]
pub(crate) struct Load {
    file: ProcFile,
    chart: Fixed<3>,
    update_every: u32,
    /// When the chart is due next (µs).
    next_due: Option<i64>,
}

impl Load {
    pub(crate) fn new(set: &mut ChartSet, proc_root: &Path) -> Self {
        let update_every = set.update_every().max(MIN_LOADAVG_UPDATE_EVERY);
        let abs = |id| DimDef::new(id, Algorithm::Absolute, 1, 1000);
        let chart = Fixed::add(
            set,
            &ChartDef {
                id: "system.load",
                name: None,
                family: "load",
                context: "system.load",
                units: "load",
                title: "System Load Average",
                priority: 100,
                update_every,
                style: ChartStyle::Line,
            },
            ["load1", "load5", "load15"].map(abs),
        );
        Self {
            file: ProcFile::new(proc_root.join("loadavg")),
            chart,
            update_every,
            next_due: None,
        }
    }

    pub(crate) fn collect(&mut self, set: &mut ChartSet, now_us: i64) -> Result<(), CollectError> {
        // Half a second of slack, so that a tick a little early does not skip a round.
        if self
            .next_due
            .is_some_and(|due| now_us < due.saturating_sub(500_000))
        {
            return Ok(());
        }
        self.next_due = Some(now_us.saturating_add(i64::from(self.update_every) * 1_000_000));
        let text = read(&mut self.file, FILE)?;
        let loads = parse_loadavg(&text).map_err(|e| parse_error(FILE, e))?;
        self.chart.store(set, loads, now_us);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(
            parse_loadavg("0.52 2.01 12.34 3/1089 241553\n"),
            Ok([520, 2010, 12_340])
        );
        assert_eq!(parse_milli("7"), Some(7000));
        assert_eq!(parse_milli("1.23456"), Some(1234));
        for bad in ["", "-1.0", "1.x", ".5", "1e3"] {
            assert_eq!(parse_milli(bad), None, "{bad}");
        }
        assert_eq!(parse_milli("99999999999999999.0"), None);
        assert_eq!(
            parse_loadavg("0.1 0.2"),
            Err(ParseError {
                line: 1,
                what: "the 15-minute load is not a number"
            })
        );
    }

    #[test]
    fn collects_only_when_due() {
        let dir = std::env::temp_dir().join(format!("backhaul-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("loadavg"), "1.00 0.50 0.25 1/10 5\n").unwrap();
        let mut set = ChartSet::new(60, 1);
        let mut load = Load::new(&mut set, &dir);
        let t = 1_600_000_000_000_000;
        for s in 0..=10 {
            load.collect(&mut set, t + s * 1_000_000).unwrap();
        }
        let c = set.chart(load.chart.chart).unwrap();
        assert_eq!(c.update_every(), 5);
        // Collected at 0, 5 and 10 s: primed, then two points.
        assert_eq!(c.ring().counter(), 2);
        assert_eq!(c.values(0)[c.ring().last_slot()].to_f64(), 1.0);
        assert_eq!(c.dimensions()[2].state().collections(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
