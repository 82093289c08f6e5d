//! Naive baselines for the benchmarks: what the same work costs written the obvious way,
//! with `std::fmt` (`write!` into a `Vec<u8>`), `f64` arithmetic and heap allocation.
//!
//! They are benchmarked beside backhaul's code, on the same inputs. Their output is close
//! to backhaul's but not always equal: they print the `f64` average with `{:.7}`, which
//! differs from the exact average in the seventh decimal for a few values (netdata's
//! `long double` does too, elsewhere), they escape nothing, and their storage-number
//! encoder rounds like plain `f64` arithmetic, not like netdata's x87 build.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use backhaul_core::format::{Record, Value};
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::StorageNumber;
use backhaul_core::window;

use crate::population::{Chart, Dimension, Population, Source, AFTER, BEFORE};

/// Sign bit of a storage number.
const SIGN: u32 = 1 << 31;
/// Multiply (rather than divide) when unpacking.
const MULTIPLY: u32 = 1 << 30;
/// Shift of the three exponent bits.
const EXP_SHIFT: u32 = 27;
/// The factor is 100 instead of 10.
const BIG: u32 = 1 << 26;
/// All flag bits.
const FLAGS: u32 = 0x0700_0000;
/// Mantissa bits.
const MANTISSA: u32 = 0x00ff_ffff;

/// Packs `value` the way netdata's algorithm reads, but in `f64` (netdata computes in
/// x87 `long double`, so about 0.14% of inputs pack differently).
#[must_use]
pub fn pack(value: f64, flags: u32) -> u32 {
    let mut r = flags & FLAGS;
    if value == 0.0 || value.is_nan() {
        return r;
    }
    let mut n = value;
    if n < 0.0 {
        r += SIGN;
        n = -n;
    }
    let max = f64::from(MANTISSA);
    let mut factor = 10.0;
    if n / 10_000_000.0 > max {
        factor = 100.0;
        r |= BIG;
    }
    let mut m = 0;
    while m < 7 && n > max {
        n /= factor;
        m += 1;
    }
    if m > 0 {
        r += MULTIPLY + (m << EXP_SHIFT);
        if n > max {
            return r + MANTISSA;
        }
    } else {
        while m < 7 && n < f64::from(0x0019_999e) {
            n *= 10.0;
            m += 1;
        }
        if n > max {
            n /= 10.0;
            m -= 1;
        }
        r += m << EXP_SHIFT;
    }
    r + n.round_ties_even() as u32
}

/// Unpacks a storage number to `f64` the way netdata's loop reads: multiply or divide
/// the mantissa by the factor `m` times.
#[must_use]
pub fn unpack(sn: u32) -> f64 {
    if sn == 0 {
        return 0.0;
    }
    let mut n = f64::from(sn & MANTISSA);
    let m = (sn >> EXP_SHIFT) & 7;
    if sn & MULTIPLY != 0 {
        let factor = if sn & BIG != 0 { 100.0 } else { 10.0 };
        for _ in 0..m {
            n *= factor;
        }
    } else {
        for _ in 0..m {
            n /= 10.0;
        }
    }
    if sn & SIGN != 0 {
        -n
    } else {
        n
    }
}

/// The average of the stored samples of `(after, before]` in `f64`, with its timestamp:
/// the same window as [`window::value`], summed and divided in `f64`.
#[must_use]
pub fn average(
    values: &[StorageNumber],
    ring: &RingState,
    after: i64,
    before: i64,
) -> Option<(f64, i64)> {
    let w = window::align(ring, after, before).ok()?;
    let (mut sum, mut n) = (0.0, 0u32);
    for slot in ring.slots(w.first_timestamp, w.last_timestamp) {
        let sn = values.get(slot)?.to_bits();
        if sn & FLAGS != 0 {
            sum += unpack(sn);
            n += 1;
        }
    }
    (n > 0).then(|| (sum / f64::from(n), w.last_timestamp))
}

/// A name with every byte that is not ASCII alphanumeric or `.` shown as `_`, written
/// character by character through the formatter.
#[derive(Clone, Copy, Debug)]
pub struct Sanitized<'a>(pub &'a str);

impl fmt::Display for Sanitized<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            f.write_char(if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            })?;
        }
        Ok(())
    }
}

/// A record's value as the naive formatters print it.
#[derive(Clone, Copy, Debug)]
enum Naive {
    Stored(f64),
    Collected(i64),
}

impl fmt::Display for Naive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Stored(v) => write!(f, "{v:.7}"),
            Self::Collected(v) => write!(f, "{v}"),
        }
    }
}

/// The value and timestamp of one metric, or `None` where no line is written.
fn value(chart: &Chart, dim: &Dimension, source: Source) -> Option<(Naive, i64)> {
    if dim.collected_at < AFTER {
        return None;
    }
    match source {
        Source::Stored => {
            average(&dim.values, &chart.ring, AFTER, BEFORE).map(|(v, t)| (Naive::Stored(v), t))
        }
        Source::Collected => Some((Naive::Collected(dim.collected), dim.collected_at)),
    }
}

/// One export cycle of graphite lines with `write!`:
/// `"{}.{}.{}.{} {:.7} {}\n"`. Returns the number of lines.
///
/// # Panics
///
/// Never: writing to a `Vec` does not fail.
pub fn graphite(pop: &Population, source: Source, out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut n = 0;
    for (chart, dim) in pop.metrics() {
        if let Some((v, t)) = value(chart, dim, source) {
            writeln!(
                out,
                "{}.{}.{}.{} {} {}",
                pop.prefix,
                pop.hostname,
                Sanitized(&chart.name),
                Sanitized(&dim.name),
                v,
                t
            )
            .expect("a Vec takes every write");
            n += 1;
        }
    }
    n
}

/// One export cycle of OpenTSDB telnet lines with `write!`:
/// `"put {}.{}.{} {} {:.7} host={}\n"`. Returns the number of lines.
///
/// # Panics
///
/// Never: writing to a `Vec` does not fail.
pub fn opentsdb(pop: &Population, source: Source, out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut n = 0;
    for (chart, dim) in pop.metrics() {
        if let Some((v, t)) = value(chart, dim, source) {
            writeln!(
                out,
                "put {}.{}.{} {} {} host={}",
                pop.prefix,
                Sanitized(&chart.name),
                Sanitized(&dim.name),
                t,
                v,
                pop.hostname
            )
            .expect("a Vec takes every write");
            n += 1;
        }
    }
    n
}

/// One export cycle of netdata's JSON lines with `write!`, strings pasted unescaped.
/// Returns the number of lines.
///
/// # Panics
///
/// Never: writing to a `Vec` does not fail.
pub fn json(pop: &Population, source: Source, out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut n = 0;
    for (c, d) in pop.metrics() {
        if let Some((v, t)) = value(c, d, source) {
            writeln!(
                out,
                "{{\"prefix\":\"{}\",\"hostname\":\"{}\",\"chart_id\":\"{}\",\"chart_name\":\"{}\",\
                 \"chart_family\":\"{}\",\"chart_context\": \"{}\",\"chart_type\":\"{}\",\
                 \"units\": \"{}\",\"id\":\"{}\",\"name\":\"{}\",\"value\":{},\"timestamp\": {}}}",
                pop.prefix,
                pop.hostname,
                c.id,
                c.name,
                c.family,
                c.context,
                c.chart_type,
                c.units,
                d.id,
                d.name,
                v,
                t
            )
            .expect("a Vec takes every write");
            n += 1;
        }
    }
    n
}

/// One export cycle of `source` in `format` with the naive formatters.
pub fn export(pop: &Population, mode: crate::cycle::Mode, out: &mut Vec<u8>) -> usize {
    use crate::cycle::Format;
    match mode.format {
        Format::Graphite => graphite(pop, mode.source, out),
        Format::Opentsdb => opentsdb(pop, mode.source, out),
        Format::Json => json(pop, mode.source, out),
    }
}

/// A Prometheus name part: every byte that is not ASCII alphanumeric becomes `_`.
#[derive(Clone, Copy, Debug)]
struct PromName<'a>(&'a str);

impl fmt::Display for PromName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            f.write_char(if c.is_ascii_alphanumeric() { c } else { '_' })?;
        }
        Ok(())
    }
}

/// The Prometheus units suffix for the population's units (`/s` becomes `_persec`).
fn units_suffix(units: &str) -> String {
    let mut s = String::from("_");
    let (stem, persec) = match units.strip_suffix("/s") {
        Some(stem) => (stem, true),
        None => (units, false),
    };
    write!(s, "{}", PromName(stem)).expect("a String takes every write");
    if persec {
        s.push_str("_persec");
    }
    s
}

/// One scrape of the population's averages as Prometheus text with `write!`:
/// `PREFIX_CONTEXT_UNITS_average{chart="…",family="…",dimension="…"} VALUE MS`.
/// Returns the number of samples.
///
/// # Panics
///
/// Never: writing to a `Vec` does not fail.
pub fn prometheus(pop: &Population, out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut n = 0;
    for (c, d) in pop.metrics() {
        if let Some((v, t)) = average(&d.values, &c.ring, AFTER, BEFORE) {
            writeln!(
                out,
                "{}_{}{}_average{{chart=\"{}\",family=\"{}\",dimension=\"{}\"}} {:.7} {}",
                PromName(&pop.prefix),
                PromName(&c.context),
                units_suffix(&c.units),
                c.name,
                c.family,
                d.name,
                v,
                t * 1000
            )
            .expect("a Vec takes every write");
            n += 1;
        }
    }
    n
}

/// A protobuf varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field holding `body`.
fn field(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// One series (`__name__` and the four labels, one sample) encoded the way a typical
/// message-tree encoder does: each nested message in its own `Vec`, the name built with
/// `format!`.
fn series(out: &mut Vec<u8>, labels: &[(&str, &str)], value: f64, timestamp_ms: i64) {
    let mut ts = Vec::new();
    for (name, value) in labels {
        let mut label = Vec::new();
        field(&mut label, 0x0a, name.as_bytes());
        field(&mut label, 0x12, value.as_bytes());
        field(&mut ts, 0x0a, &label);
    }
    // proto3 leaves out fields holding their default value.
    let mut sample = Vec::new();
    if value.to_bits() != 0 {
        sample.push(0x09);
        sample.extend_from_slice(&value.to_bits().to_le_bytes());
    }
    if timestamp_ms != 0 {
        sample.push(0x10);
        varint(&mut sample, timestamp_ms as u64);
    }
    field(&mut ts, 0x12, &sample);
    field(out, 0x0a, &ts);
}

/// One remote-write `WriteRequest` of `records` (averages), encoded naively: each nested
/// message in its own `Vec`, the metric name built with `format!`. The same series, names
/// and labels as backhaul's. Returns the number of series.
pub fn remote_write(records: &[Record<'_>], out: &mut Vec<u8>) -> usize {
    out.clear();
    for r in records {
        let name = format!(
            "{}_{}{}_average",
            PromName(r.host.prefix),
            PromName(r.chart.context),
            units_suffix(r.chart.units)
        );
        let labels = [
            ("__name__", name.as_str()),
            ("chart", r.chart.name),
            ("dimension", r.dimension.name),
            ("family", r.chart.family),
            ("instance", r.host.hostname),
        ];
        let value = match r.value {
            Value::Stored(d) => d.to_f64(),
            Value::Collected(n) => n as f64,
        };
        series(out, &labels, value, r.timestamp * 1000);
    }
    records.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cycle::{self, Mode, Output};
    use crate::population;

    #[test]
    fn naive_storage_numbers_agree_on_ordinary_values() {
        for v in [0.0, 1.0, -1.0, 16.777218, 123.456, 1e10, -0.5, 99.9999999] {
            let ours = StorageNumber::pack(v, 0x0100_0000);
            assert_eq!(pack(v, 0x0100_0000), ours.to_bits(), "{v}");
            // Repeated division rounds at each step: near, not always equal.
            let (naive, exact) = (unpack(ours.to_bits()), ours.to_f64());
            assert!(
                (naive - exact).abs() <= exact.abs() * 1e-15,
                "{v}: {naive} {exact}"
            );
        }
    }

    #[test]
    fn naive_collected_lines_are_backhauls() {
        let pop = population::shared();
        let mut ours = Output::for_cycle();
        let mut naive = Vec::new();
        for mode in Mode::ALL {
            let n = cycle::export(pop, mode, &mut ours);
            assert_eq!(export(pop, mode, &mut naive), n);
            if mode.source == Source::Collected {
                assert_eq!(ours.as_bytes(), &naive[..], "{}", mode.name());
            } else {
                // The same lines, except for a few seventh decimals.
                let lines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
                assert_eq!(lines(ours.as_bytes()), lines(&naive));
            }
        }
    }
}
