//! `net.IFACE` from `/proc/net/dev`.
//!
//! netdata's chart per interface: type `net`, id `net.IFACE`, family `IFACE`, context
//! `net.net`, title `Bandwidth`, units `kilobits/s`, priority 7000, area; dimensions
//! `received` (×8/1000) and `sent` (×−8/1000, drawn below the axis), incremental over the
//! byte counters.
//!
//! An interface gets its chart once it has moved a byte (netdata's `auto`), unless its
//! name matches netdata's default `disable by default interfaces matching`
//! (`lo fireqos* *-ifb fwpr* fwbr* fwln*`). Chart ids keep ASCII letters, digits, `.`,
//! `-` and `_` of the name and turn anything else into `_`; the family keeps the name.

use std::collections::HashMap;
use std::path::Path;

use backhaul_core::collect::Algorithm;
use backhaul_core::pattern::SimplePattern;

use super::{number, parse_error, read, CollectError, Fixed, ParseError, ProcFile};
use crate::charts::{sanitize_id, ChartDef, ChartSet, ChartStyle, DimDef};

const FILE: &str = "/proc/net/dev";

/// netdata's default `disable by default interfaces matching`.
pub const DISABLED_INTERFACES: &str = "lo fireqos* *-ifb fwpr* fwbr* fwln*";

/// One interface line of `/proc/net/dev`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetDevLine<'a> {
    /// The interface name.
    pub name: &'a str,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
}

/// Parses one line of `/proc/net/dev`: `None` for the two header lines and blank lines.
///
/// The name is everything before the line's *last* colon, trimmed (so an old-style alias
/// such as `eth0:1` keeps its colon), and the counters may follow the colon without a
/// space (the kernel pads to 8 digits only).
///
/// # Errors
///
/// No colon, fewer than 9 counters, or a counter that is not a number.
pub fn parse_line(line: &str, line_no: usize) -> Option<Result<NetDevLine<'_>, ParseError>> {
    if line.contains('|') || line.trim().is_empty() {
        return None;
    }
    let Some((name, rest)) = line.rsplit_once(':') else {
        return Some(Err(ParseError {
            line: line_no,
            what: "no colon after the interface name",
        }));
    };
    let mut f = [0u64; 10];
    let mut n = 0;
    for word in rest.split_ascii_whitespace() {
        if n < f.len() {
            match number(word, line_no, "a counter is not a number") {
                Ok(v) => f[n] = v,
                Err(e) => return Some(Err(e)),
            }
        }
        n += 1;
    }
    if n < 9 {
        return Some(Err(ParseError {
            line: line_no,
            what: "fewer than 9 counters after the interface name",
        }));
    }
    Some(Ok(NetDevLine {
        name: name.trim(),
        rx_bytes: f[0],
        rx_packets: f[1],
        tx_bytes: f[8],
        tx_packets: f[9],
    }))
}

/// Parses every interface line of `/proc/net/dev`.
pub fn parse_net_dev(text: &str) -> impl Iterator<Item = Result<NetDevLine<'_>, ParseError>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| parse_line(line, i + 1))
}

#[derive(Debug)]
struct Interface {
    /// `None` until it has traffic, or forever when disabled.
    chart: Option<Fixed<2>>,
    disabled: bool,
}

/// The `net.IFACE` collector.
#[derive(Debug)]
pub(crate) struct NetDev {
    file: ProcFile,
    interfaces: HashMap<String, Interface>,
}

impl NetDev {
    pub(crate) fn new(proc_root: &Path) -> Self {
        Self {
            file: ProcFile::new(proc_root.join("net/dev")),
            interfaces: HashMap::new(),
        }
    }

    fn define(set: &mut ChartSet, name: &str) -> Fixed<2> {
        let id = format!("net.{}", sanitize_id(name));
        Fixed::add(
            set,
            &ChartDef {
                id: &id,
                name: None,
                family: name,
                context: "net.net",
                units: "kilobits/s",
                title: "Bandwidth",
                priority: 7000,
                update_every: 0,
                style: ChartStyle::Area,
            },
            [
                DimDef::new("received", Algorithm::Incremental, 8, 1000),
                DimDef::new("sent", Algorithm::Incremental, -8, 1000),
            ],
        )
    }

    /// Collects from the file's text (the part of `collect` after reading).
    #[cfg(test)]
    pub(crate) fn update(
        &mut self,
        set: &mut ChartSet,
        text: &str,
        now_us: i64,
    ) -> Result<(), ParseError> {
        update(&mut self.interfaces, set, text, now_us)
    }

    pub(crate) fn collect(&mut self, set: &mut ChartSet, now_us: i64) -> Result<(), CollectError> {
        let text = read(&mut self.file, FILE)?;
        update(&mut self.interfaces, set, &text, now_us).map_err(|e| parse_error(FILE, e))
    }
}

/// Stores one collection of every interface; returns the first bad line, if any (the
/// other lines are still collected).
fn update(
    interfaces: &mut HashMap<String, Interface>,
    set: &mut ChartSet,
    text: &str,
    now_us: i64,
) -> Result<(), ParseError> {
    let mut first_error = None;
    for parsed in parse_net_dev(text) {
        let line = match parsed {
            Ok(line) => line,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let iface = match interfaces.get_mut(line.name) {
            Some(i) => i,
            None => {
                let disabled = SimplePattern::new(DISABLED_INTERFACES.as_bytes())
                    .matches(line.name.as_bytes());
                interfaces.entry(line.name.to_owned()).or_insert(Interface {
                    chart: None,
                    disabled,
                })
            }
        };
        if iface.disabled {
            continue;
        }
        if iface.chart.is_none() && (line.rx_bytes != 0 || line.tx_bytes != 0) {
            iface.chart = Some(NetDev::define(set, line.name));
        }
        if let Some(chart) = &iface.chart {
            chart.store(set, [line.rx_bytes as i64, line.tx_bytes as i64], now_us);
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 98765432  123456    0    0    0     0          0         0 98765432  123456    0    0    0     0       0          0
  eth0: 1234567890 9876543    0   12    0     0          0      4321 987654321 7654321    0    0    0     0       0          0
wlp0s20f3:123456789012 99999 0 0 0 0 0 0 5555 66 0 0 0 0 0 0
eth0:1:      100       1    0    0    0     0          0         0      200       2    0    0    0     0       0          0
 docker0:        0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
";

    #[test]
    fn parses_odd_lines() {
        let lines: Vec<NetDevLine<'_>> = parse_net_dev(NET_DEV).map(Result::unwrap).collect();
        let names: Vec<&str> = lines.iter().map(|l| l.name).collect();
        assert_eq!(names, ["lo", "eth0", "wlp0s20f3", "eth0:1", "docker0"]);
        assert_eq!(
            (lines[1].rx_bytes, lines[1].tx_bytes),
            (1_234_567_890, 987_654_321)
        );
        assert_eq!(
            (lines[1].rx_packets, lines[1].tx_packets),
            (9_876_543, 7_654_321)
        );
        // Counters right after the colon.
        assert_eq!(
            (lines[2].rx_bytes, lines[2].tx_bytes),
            (123_456_789_012, 5555)
        );
        assert_eq!((lines[3].rx_bytes, lines[3].tx_bytes), (100, 200));
    }

    #[test]
    fn bad_lines() {
        let errors: Vec<ParseError> =
            parse_net_dev("h|\nh|\nno colon here\n x: 1 2 3\n y: 1 2 3 4 5 6 7 8 z\n")
                .filter_map(Result::err)
                .collect();
        assert_eq!(
            errors,
            [
                ParseError {
                    line: 3,
                    what: "no colon after the interface name"
                },
                ParseError {
                    line: 4,
                    what: "fewer than 9 counters after the interface name"
                },
                ParseError {
                    line: 5,
                    what: "a counter is not a number"
                },
            ]
        );
    }

    #[test]
    fn charts_interfaces_with_traffic() {
        let mut set = ChartSet::new(10, 1);
        let mut net = NetDev::new(Path::new("/nonexistent"));
        net.update(&mut set, NET_DEV, 1_600_000_000_000_000)
            .unwrap();
        let ids: Vec<&str> = set.charts().iter().map(|c| c.id()).collect();
        // lo is disabled, docker0 has no traffic yet; the alias's colon is sanitised.
        assert_eq!(ids, ["net.eth0", "net.wlp0s20f3", "net.eth0_1"]);
        let c = set.chart(set.find_chart("net.eth0_1").unwrap()).unwrap();
        assert_eq!(
            (c.family(), c.context(), c.units(), c.title()),
            ("eth0:1", "net.net", "kilobits/s", "Bandwidth")
        );
        assert_eq!((c.priority(), c.style()), (7000, ChartStyle::Area));
        let sent = c.dimensions()[1].state();
        assert_eq!((sent.multiplier(), sent.divisor()), (-8, 1000));
    }

    #[test]
    fn rate_math() {
        // Two collections 1 s apart, +1000 bytes received and sent: 8 kilobits/s.
        let mut set = ChartSet::new(10, 1);
        let mut net = NetDev::new(Path::new("/nonexistent"));
        let t = 1_600_000_000_000_000;
        let text = |rx: u64| format!("h|\nh|\n eth0: {rx} 1 0 0 0 0 0 0 {rx} 1 0 0 0 0 0 0\n");
        net.update(&mut set, &text(5000), t).unwrap();
        net.update(&mut set, &text(6000), t + 1_000_000).unwrap();
        let c = set.chart(set.find_chart("net.eth0").unwrap()).unwrap();
        assert_eq!(c.ring().counter(), 1);
        let slot = c.ring().last_slot();
        assert_eq!(c.values(0)[slot], StorageNumber::pack(8.0, SN_EXISTS));
        assert_eq!(c.values(1)[slot], StorageNumber::pack(-8.0, SN_EXISTS));
    }
}
