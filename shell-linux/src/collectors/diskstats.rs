//! `disk.DEV` from `/proc/diskstats`.
//!
//! netdata's chart per disk: type `disk`, id `disk.DEV`, name `disk.NAME`, family
//! `NAME`, context `disk.io`, title `Disk I/O Bandwidth`, units `KiB/s`, priority 2000,
//! area; dimensions `reads` (×512/1024) and `writes` (×−512/1024), incremental over the
//! sector counters. `NAME` is the device-mapper name for `dm-N` devices
//! (`/sys/block/dm-N/dm/name`, e.g. `vg0-root`), the kernel name otherwise. Sectors are
//! always 512 bytes in `/proc/diskstats`, whatever the device's sector size.
//!
//! A disk gets its chart once it has read or written a sector (netdata's `auto`).
//! Partitions (`/sys/dev/block/MAJOR:MINOR/partition` exists) and the disks matching
//! netdata's default `exclude disks` (`loop* ram*`) get none. When `/sys` cannot be read
//! every device counts as a whole disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use backhaul_core::collect::Algorithm;
use backhaul_core::pattern::SimplePattern;

use super::{number, parse_error, read, CollectError, Fixed, ParseError, ProcFile};
use crate::charts::{sanitize_id, ChartDef, ChartSet, ChartStyle, DimDef};

const FILE: &str = "/proc/diskstats";

/// netdata's default `exclude disks`.
pub const EXCLUDED_DISKS: &str = "loop* ram*";

/// One line of `/proc/diskstats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskLine<'a> {
    /// The major device number.
    pub major: u32,
    /// The minor device number.
    pub minor: u32,
    /// The kernel's device name.
    pub name: &'a str,
    /// Reads completed.
    pub reads: u64,
    /// Sectors (512 bytes) read.
    pub sectors_read: u64,
    /// Writes completed.
    pub writes: u64,
    /// Sectors (512 bytes) written.
    pub sectors_written: u64,
}

/// Parses one line of `/proc/diskstats`: `None` for a blank line.
///
/// Accepts the 2.6 partition format (4 counters), the classic 11 counters and the longer
/// lines of 4.18+ (discards) and 5.5+ (flushes).
///
/// # Errors
///
/// Another number of fields, or a field that is not a number.
pub fn parse_line(line: &str, line_no: usize) -> Option<Result<DiskLine<'_>, ParseError>> {
    let mut words = line.split_ascii_whitespace();
    let major = words.next()?;
    Some(parse_words(major, words, line_no))
}

fn parse_words<'a>(
    major: &str,
    mut words: impl Iterator<Item = &'a str>,
    line_no: usize,
) -> Result<DiskLine<'a>, ParseError> {
    let bad_number = "a field is not a number";
    let short = ParseError {
        line: line_no,
        what: "too few fields",
    };
    let major = number(major, line_no, bad_number)?;
    let minor = number(words.next().ok_or(short)?, line_no, bad_number)?;
    let name = words.next().ok_or(short)?;
    let mut f = [0u64; 11];
    let mut n = 0;
    for word in words {
        let v = number(word, line_no, bad_number)?;
        if let Some(slot) = f.get_mut(n) {
            *slot = v;
        }
        n += 1;
    }
    let (reads, sectors_read, writes, sectors_written) = match n {
        4 => (f[0], f[1], f[2], f[3]),
        11.. => (f[0], f[2], f[4], f[6]),
        _ => {
            return Err(ParseError {
                line: line_no,
                what: "neither 4 nor at least 11 counters after the device name",
            })
        }
    };
    Ok(DiskLine {
        major: u32::try_from(major).unwrap_or(u32::MAX),
        minor: u32::try_from(minor).unwrap_or(u32::MAX),
        name,
        reads,
        sectors_read,
        writes,
        sectors_written,
    })
}

/// Parses every line of `/proc/diskstats`.
pub fn parse_diskstats(text: &str) -> impl Iterator<Item = Result<DiskLine<'_>, ParseError>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| parse_line(line, i + 1))
}

#[derive(Debug)]
struct Disk {
    /// `None` until it has traffic, or forever when excluded.
    chart: Option<Fixed<2>>,
    excluded: bool,
    /// The name charts use (the device-mapper name for `dm-N`).
    display: String,
}

/// The `disk.DEV` collector.
#[derive(Debug)]
pub(crate) struct DiskStats {
    file: ProcFile,
    sys_root: PathBuf,
    disks: HashMap<String, Disk>,
}

impl DiskStats {
    pub(crate) fn new(proc_root: &Path, sys_root: &Path) -> Self {
        Self {
            file: ProcFile::new(proc_root.join("diskstats")),
            sys_root: sys_root.to_owned(),
            disks: HashMap::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn update(
        &mut self,
        set: &mut ChartSet,
        text: &str,
        now_us: i64,
    ) -> Result<(), ParseError> {
        update(&mut self.disks, &self.sys_root, set, text, now_us)
    }

    pub(crate) fn collect(&mut self, set: &mut ChartSet, now_us: i64) -> Result<(), CollectError> {
        let text = read(&mut self.file, FILE)?;
        update(&mut self.disks, &self.sys_root, set, &text, now_us)
            .map_err(|e| parse_error(FILE, e))
    }
}

/// What `/sys` says about a device seen for the first time.
fn discover(sys_root: &Path, line: &DiskLine<'_>) -> Disk {
    let excluded = SimplePattern::new(EXCLUDED_DISKS.as_bytes()).matches(line.name.as_bytes())
        || sys_root
            .join(format!("dev/block/{}:{}/partition", line.major, line.minor))
            .exists();
    let dm_name = std::fs::read_to_string(sys_root.join("block").join(line.name).join("dm/name"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    Disk {
        chart: None,
        excluded,
        display: dm_name.unwrap_or_else(|| line.name.to_owned()),
    }
}

fn define(set: &mut ChartSet, name: &str, display: &str) -> Fixed<2> {
    let id = format!("disk.{}", sanitize_id(name));
    let chart_name = format!("disk.{}", sanitize_id(display));
    Fixed::add(
        set,
        &ChartDef {
            id: &id,
            name: Some(&chart_name),
            family: display,
            context: "disk.io",
            units: "KiB/s",
            title: "Disk I/O Bandwidth",
            priority: 2000,
            update_every: 0,
            style: ChartStyle::Area,
        },
        [
            DimDef::new("reads", Algorithm::Incremental, 512, 1024),
            DimDef::new("writes", Algorithm::Incremental, -512, 1024),
        ],
    )
}

/// Stores one collection of every disk; returns the first bad line, if any (the other
/// lines are still collected).
fn update(
    disks: &mut HashMap<String, Disk>,
    sys_root: &Path,
    set: &mut ChartSet,
    text: &str,
    now_us: i64,
) -> Result<(), ParseError> {
    let mut first_error = None;
    for parsed in parse_diskstats(text) {
        let line = match parsed {
            Ok(line) => line,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let disk = match disks.get_mut(line.name) {
            Some(d) => d,
            None => disks
                .entry(line.name.to_owned())
                .or_insert_with(|| discover(sys_root, &line)),
        };
        if disk.excluded {
            continue;
        }
        if disk.chart.is_none() && (line.sectors_read != 0 || line.sectors_written != 0) {
            disk.chart = Some(define(set, line.name, &disk.display));
        }
        if let Some(chart) = &disk.chart {
            let row = [line.sectors_read as i64, line.sectors_written as i64];
            chart.store(set, row, now_us);
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};

    /// 5.5+ lines (20 fields), a 4.18 line (18 fields), a classic line (14 fields) and a
    /// 2.6 partition line (7 fields).
    const DISKSTATS: &str = "\
 259       0 nvme0n1 1093567 233498 69624482 183946 2395040 1593236 142297752 2468577 0 1283584 2744862 0 0 0 0 213391 92338
 259       1 nvme0n1p1 312 1262 14006 63 2 0 2 0 0 124 64 0 0 0 0 0 0
 253       0 dm-0 1322346 0 69349250 282340 3990270 0 142297752 7016488 0 1309456 7298828 0 0 0 0
   7       0 loop0 489 0 6436 42 0 0 0 0 0 108 42 0 0 0 0 0 0
   8       0 sda 10 0 80 5 0 0 0 0 0 4 5
   8       1 sda1 5 40 0 0
   8      16 sdb 0 0 0 0 0 0 0 0 0 0 0
";

    #[test]
    fn parses_every_format() {
        let lines: Vec<DiskLine<'_>> = parse_diskstats(DISKSTATS).map(Result::unwrap).collect();
        assert_eq!(lines.len(), 7);
        let nvme = lines[0];
        assert_eq!((nvme.major, nvme.minor, nvme.name), (259, 0, "nvme0n1"));
        assert_eq!(
            (
                nvme.reads,
                nvme.sectors_read,
                nvme.writes,
                nvme.sectors_written
            ),
            (1_093_567, 69_624_482, 2_395_040, 142_297_752)
        );
        assert_eq!((lines[4].name, lines[4].sectors_read), ("sda", 80));
        let part = lines[5];
        assert_eq!(
            (
                part.reads,
                part.sectors_read,
                part.writes,
                part.sectors_written
            ),
            (5, 40, 0, 0)
        );
    }

    #[test]
    fn bad_lines() {
        let errors: Vec<ParseError> = parse_diskstats("8 0\n8 0 sda 1 2 3\n8 x sda 1 2 3 4\n\n")
            .filter_map(Result::err)
            .collect();
        assert_eq!(
            errors,
            [
                ParseError {
                    line: 1,
                    what: "too few fields"
                },
                ParseError {
                    line: 2,
                    what: "neither 4 nor at least 11 counters after the device name"
                },
                ParseError {
                    line: 3,
                    what: "a field is not a number"
                },
            ]
        );
    }

    #[test]
    fn charts_whole_disks_with_traffic() {
        let dir = std::env::temp_dir().join(format!("backhaul-disks-{}", std::process::id()));
        let sys = dir.join("sys");
        std::fs::create_dir_all(sys.join("dev/block/259:1/partition")).unwrap();
        std::fs::create_dir_all(sys.join("block/dm-0/dm")).unwrap();
        std::fs::write(sys.join("block/dm-0/dm/name"), "vg0-root\n").unwrap();
        let mut set = ChartSet::new(10, 1);
        let mut disks = DiskStats::new(&dir, &sys);
        disks
            .update(&mut set, DISKSTATS, 1_600_000_000_000_000)
            .unwrap();
        let ids: Vec<(&str, &str, &str)> = set
            .charts()
            .iter()
            .map(|c| (c.id(), c.name(), c.family()))
            .collect();
        // nvme0n1p1 is a partition (sysfs), loop0 excluded, sdb idle; sda1 counts as a
        // disk here because this fake /sys does not know it.
        assert_eq!(
            ids,
            [
                ("disk.nvme0n1", "disk.nvme0n1", "nvme0n1"),
                ("disk.dm-0", "disk.vg0-root", "vg0-root"),
                ("disk.sda", "disk.sda", "sda"),
                ("disk.sda1", "disk.sda1", "sda1"),
            ]
        );
        let c = set.chart(set.find_chart("disk.sda").unwrap()).unwrap();
        assert_eq!(
            (c.context(), c.units(), c.title(), c.priority()),
            ("disk.io", "KiB/s", "Disk I/O Bandwidth", 2000)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn kib_per_second() {
        let mut set = ChartSet::new(10, 1);
        let mut disks = DiskStats::new(Path::new("/nonexistent"), Path::new("/nonexistent"));
        let t = 1_600_000_000_000_000;
        disks
            .update(&mut set, "8 0 sda 1 0 100 0 1 0 100 0 0 0 0\n", t)
            .unwrap();
        // +2048 sectors read (1 MiB) and +512 written in one second.
        disks
            .update(
                &mut set,
                "8 0 sda 1 0 2148 0 1 0 612 0 0 0 0\n",
                t + 1_000_000,
            )
            .unwrap();
        let c = set.chart(set.find_chart("disk.sda").unwrap()).unwrap();
        let slot = c.ring().last_slot();
        assert_eq!(c.values(0)[slot], StorageNumber::pack(1024.0, SN_EXISTS));
        assert_eq!(c.values(1)[slot], StorageNumber::pack(-256.0, SN_EXISTS));
    }
}
