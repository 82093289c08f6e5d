//! The Rust population against the C baseline of `anchors/` (`build/baseline`), which
//! reproduces netdata's output bytes.
//!
//! Collected values must print byte-identically. Stored averages may differ only where
//! backhaul's exactly rounded average is nearer to the true average than netdata's x87
//! `long double` result (or an exact tie, rounded half to even); every such line is checked
//! with exact integer arithmetic on the window's stored samples, and the number of such
//! lines per mode is pinned so that a change is noticed.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use backhaul_benches::cycle::{self, Format, Mode, Output};
use backhaul_benches::population::{Chart, Dimension, Population, Source, AFTER, BEFORE};

/// The C baseline binary, built with `make`, or `None` (with a message) when the anchors
/// folder, `make` or a C compiler is missing.
fn baseline() -> Option<&'static PathBuf> {
    static BASELINE: OnceLock<Option<PathBuf>> = OnceLock::new();
    BASELINE
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/anchors");
            if !dir.join("baseline.c").is_file() {
                eprintln!("skipped: no C baseline at {}", dir.display());
                return None;
            }
            match Command::new("make").arg("-C").arg(&dir).output() {
                Err(e) => {
                    eprintln!("skipped: cannot run make: {e}");
                    None
                }
                Ok(out) if !out.status.success() => {
                    eprintln!(
                        "skipped: make -C {} failed (no C compiler?):\n{}",
                        dir.display(),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    None
                }
                Ok(_) => Some(dir.join("build/baseline")),
            }
        })
        .as_ref()
}

/// `baseline dump MODE`.
fn c_dump(exe: &PathBuf, mode: &str) -> Vec<u8> {
    let out = Command::new(exe)
        .args(["dump", mode])
        .output()
        .expect("run the C baseline");
    assert!(out.status.success(), "baseline dump {mode} failed");
    out.stdout
}

fn population() -> &'static Population {
    static POP: OnceLock<Population> = OnceLock::new();
    POP.get_or_init(Population::new)
}

/// A `%0.7Lf` text as a signed count of 10^-7 units (`-0.0000000` is 0).
fn parse_units(text: &str) -> i128 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').expect("a decimal point");
    assert_eq!(frac.len(), 7, "seven decimals in {text:?}");
    let units: i128 = format!("{int}{frac}").parse().expect("digits");
    if negative {
        -units
    } else {
        units
    }
}

/// The exact sum (10^-7 units) and count of the stored samples in the export window: the
/// points at `AFTER − 2 ..= BEFORE − 3` (`baseline.c`'s `window_average` for one-second
/// charts), read by time.
fn window_samples(chart: &Chart, dim: &Dimension) -> (i128, i128) {
    let (mut sum, mut n) = (0i128, 0i128);
    for t in AFTER - 2..=BEFORE - 3 {
        let sn = dim.values[chart.ring.time_to_slot(t)];
        if sn.exists() {
            sum += sn.unpack().signed_units().expect("fits i128");
            n += 1;
        }
    }
    (sum, n)
}

/// Why backhaul's text may differ from C's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    /// Strictly nearer to the exact average.
    Nearer,
    /// The exact average lies halfway between the two texts; backhaul's is the even one.
    Tie,
}

/// Why backhaul's text `ours` may differ from the C text `theirs` for an exact average
/// `sum / n` (in 10^-7 units): it is strictly nearer, or the exact average is a tie
/// between the two and `ours` is the even one. `Err` says why not.
fn justify(ours: &str, theirs: &str, sum: i128, n: i128) -> Result<Why, String> {
    let (a, b) = (parse_units(ours), parse_units(theirs));
    let (da, db) = ((a * n - sum).abs(), (b * n - sum).abs());
    if da < db {
        Ok(Why::Nearer)
    } else if da == db && a != b && a % 2 == 0 {
        Ok(Why::Tie)
    } else {
        Err(format!(
            "backhaul {ours} is not nearer than C {theirs} to {sum}/{n} (x 10^-7): \
             distances {da} vs {db} (x 10^-7 / {n})"
        ))
    }
}

#[test]
fn justify_accepts_only_nearer_texts_and_even_ties() {
    // 12.34567845 exactly: a tie, 12.3456784 is the even neighbour.
    assert_eq!(
        justify("12.3456784", "12.3456785", 1_234_567_845, 10),
        Ok(Why::Tie)
    );
    assert!(justify("12.3456785", "12.3456784", 1_234_567_845, 10).is_err());
    // -0.66666666...: -0.6666667 is nearer than -0.6666666.
    assert_eq!(
        justify("-0.6666667", "-0.6666666", -20_000_000, 3),
        Ok(Why::Nearer)
    );
    assert!(justify("-0.6666666", "-0.6666667", -20_000_000, 3).is_err());
    // The same value, whatever the sign of zero, is no improvement.
    assert!(justify("0.0000000", "-0.0000000", -1, 3).is_err());
}

/// What each mode must produce: bytes and FNV-1a 64 of one cycle, and how many lines
/// differ from the C baseline because backhaul's average is strictly nearer to the exact
/// one, or an exact tie rounded half to even.
struct Expected {
    mode: &'static str,
    bytes: usize,
    fnv1a64: u64,
    nearer: usize,
    ties: usize,
}

/// Collected modes: the anchors README's table. Stored modes: the README's byte counts
/// (a differing seventh decimal keeps the length) with backhaul's own FNV-1a 64; the C
/// baseline's are 105c03dee1aafc92, 3451d3aeffa58ff4 and a8787b2592b3fd04.
///
/// All 21 stored exceptions per mode are exact ties: the ten samples sum to a multiple of
/// 10^-7 ending in 5, so the average ends in exactly 5 at the eighth decimal, and the C
/// baseline's `long double` quotient, which cannot hold it exactly, rounds it by its
/// representation error instead of to even.
const EXPECTED: [Expected; 6] = [
    Expected {
        mode: "graphite_stored",
        bytes: 672_171,
        fnv1a64: 0x1845_02d5_a4b8_4364,
        nearer: 0,
        ties: 21,
    },
    Expected {
        mode: "graphite_collected",
        bytes: 631_038,
        fnv1a64: 0x2e9d_ade2_28c4_43df,
        nearer: 0,
        ties: 0,
    },
    Expected {
        mode: "opentsdb_stored",
        bytes: 762_171,
        fnv1a64: 0x1804_97a8_70e2_fece,
        nearer: 0,
        ties: 21,
    },
    Expected {
        mode: "opentsdb_collected",
        bytes: 721_038,
        fnv1a64: 0xcef5_1365_9a0a_8363,
        nearer: 0,
        ties: 0,
    },
    Expected {
        mode: "json_stored",
        bytes: 2_789_071,
        fnv1a64: 0xa7ec_6d40_781c_d62a,
        nearer: 0,
        ties: 21,
    },
    Expected {
        mode: "json_collected",
        bytes: 2_747_938,
        fnv1a64: 0x2eaa_5a96_7ed8_e059,
        nearer: 0,
        ties: 0,
    },
];

/// One export cycle of `mode` with backhaul's formatters.
fn our_dump(mode: Mode) -> Vec<u8> {
    let mut out = Output::for_cycle();
    cycle::export(population(), mode, &mut out);
    out.as_bytes().to_vec()
}

/// The byte range of the value text in one line of `format`.
fn value_span(format: Format, line: &str) -> (usize, usize) {
    let (start, end_marker) = match format {
        // NAME VALUE TIMESTAMP
        Format::Graphite => (line.find(' ').expect("a space") + 1, " "),
        // put NAME TIMESTAMP VALUE host=HOST
        Format::Opentsdb => {
            let mut spaces = line.match_indices(' ').map(|(i, _)| i);
            (spaces.nth(2).expect("three spaces") + 1, " ")
        }
        Format::Json => (
            line.find("\"value\":").expect("a value") + 8,
            ",\"timestamp\"",
        ),
    };
    let len = line[start..]
        .find(end_marker)
        .expect("the end of the value");
    (start, start + len)
}

/// Without formatters: the C baseline's graphite lines carry exactly our window values,
/// timestamps and collected values (this isolates the population from the formatters).
#[test]
fn values_match_the_c_baseline() {
    let Some(exe) = baseline() else { return };
    let pop = population();
    let metrics: Vec<(&Chart, &Dimension)> = pop.metrics().collect();

    let stored = String::from_utf8(c_dump(exe, "graphite_stored")).unwrap();
    let lines: Vec<&str> = stored.lines().collect();
    assert_eq!(lines.len(), metrics.len());
    let mut ties = 0;
    for (line, &(chart, dim)) in lines.iter().zip(&metrics) {
        let fields: Vec<&str> = line.split(' ').collect();
        let name = format!("netdata.gateway-01.{}.{}", chart.name, dim.name);
        assert_eq!(fields[0], name);
        let (avg, window) = Population::stored(chart, dim, AFTER, BEFORE).unwrap();
        assert_eq!(fields[2], window.last_timestamp.to_string(), "{line}");
        let ours = avg.to_string();
        if ours != fields[1] {
            let (sum, n) = window_samples(chart, dim);
            let why = justify(&ours, fields[1], sum, n).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(why, Why::Tie, "{line}");
            ties += 1;
        }
    }
    assert_eq!(ties, EXPECTED[0].ties);

    let collected = String::from_utf8(c_dump(exe, "graphite_collected")).unwrap();
    let lines: Vec<&str> = collected.lines().collect();
    assert_eq!(lines.len(), metrics.len());
    for (line, &(_, dim)) in lines.iter().zip(&metrics) {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[1], dim.collected.to_string(), "{line}");
        assert_eq!(fields[2], dim.collected_at.to_string(), "{line}");
    }
}

/// Every mode's output against the C baseline's, line by line: collected modes
/// byte-identical, stored modes identical except in justified value texts.
#[test]
fn dumps_match_the_c_baseline() {
    let Some(exe) = baseline() else { return };
    let metrics: Vec<(&Chart, &Dimension)> = population().metrics().collect();
    for (mode, expected) in Mode::ALL.into_iter().zip(&EXPECTED) {
        assert_eq!(mode.name(), expected.mode);
        let ours = String::from_utf8(our_dump(mode)).unwrap();
        let theirs = String::from_utf8(c_dump(exe, mode.name())).unwrap();
        let (ours_lines, their_lines): (Vec<&str>, Vec<&str>) = (
            ours.split_inclusive('\n').collect(),
            theirs.split_inclusive('\n').collect(),
        );
        assert_eq!(
            ours_lines.len(),
            their_lines.len(),
            "{}: line count",
            mode.name()
        );
        assert_eq!(
            ours_lines.len(),
            metrics.len(),
            "{}: line count",
            mode.name()
        );
        let (mut nearer, mut ties) = (0, 0);
        for ((a, b), &(chart, dim)) in ours_lines.iter().zip(&their_lines).zip(&metrics) {
            if a == b {
                continue;
            }
            assert_eq!(mode.source, Source::Stored, "{}:\n{a}{b}", mode.name());
            let (sa, ea) = value_span(mode.format, a);
            let (sb, eb) = value_span(mode.format, b);
            assert_eq!(
                (&a[..sa], &a[ea..]),
                (&b[..sb], &b[eb..]),
                "only the value may differ:\n{a}{b}"
            );
            let (sum, n) = window_samples(chart, dim);
            match justify(&a[sa..ea], &b[sb..eb], sum, n) {
                Ok(Why::Nearer) => nearer += 1,
                Ok(Why::Tie) => ties += 1,
                Err(e) => panic!("{}: {e}\n{a}{b}", mode.name()),
            }
        }
        eprintln!(
            "{}: {} lines, {} bytes; differs from C in {nearer} nearer and {ties} tied averages",
            mode.name(),
            ours_lines.len(),
            ours.len()
        );
        assert_eq!(
            (nearer, ties),
            (expected.nearer, expected.ties),
            "{}",
            mode.name()
        );
        if mode.source == Source::Collected {
            assert_eq!(ours, theirs);
        }
    }
}

/// Our own bytes and checksums, with or without the C baseline; the collected ones are
/// the anchors README's.
#[test]
fn checksums() {
    let mut out = Output::for_cycle();
    let capacity = out.capacity();
    for (mode, expected) in Mode::ALL.into_iter().zip(&EXPECTED) {
        let n = cycle::export(population(), mode, &mut out);
        assert_eq!(n, backhaul_benches::population::METRICS);
        let got = (mode.name(), out.len(), cycle::fnv1a64(out.as_bytes()));
        assert_eq!(got, (expected.mode, expected.bytes, expected.fnv1a64));
    }
    assert_eq!(out.capacity(), capacity, "the pre-sized buffer never grows");
}

/// `population checksum` prints the table above in `baseline checksum`'s format, and
/// the collected lines equal the C baseline's.
#[test]
fn binary_checksum_and_usage() {
    let exe = env!("CARGO_BIN_EXE_population");
    let out = Command::new(exe).arg("checksum").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let want: String = EXPECTED
        .iter()
        .map(|e| {
            format!(
                "{m}_output_bytes {}\n{m}_output_fnv1a64 {:016x}\n",
                e.bytes,
                e.fnv1a64,
                m = e.mode
            )
        })
        .collect();
    assert_eq!(text, want);
    if let Some(c) = baseline() {
        let c_out = Command::new(c).arg("checksum").output().unwrap();
        let c_text = String::from_utf8(c_out.stdout).unwrap();
        let collected = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| l.contains("_collected_"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(collected(&text), collected(&c_text));
        assert_eq!(text.lines().count(), c_text.lines().count());
    }
    for args in [
        &[][..],
        &["dump"],
        &["dump", "graphite"],
        &["bench"],
        &["checksum", "x"],
    ] {
        let out = Command::new(exe).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
    }
}
