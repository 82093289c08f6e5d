//! Graphite plaintext (spec §4.1): one line per record,
//!
//! ```text
//! PREFIX.HOSTNAME.CHART.DIMENSION[;TAGS] VALUE TIMESTAMP\n
//! ```
//!
//! byte-identical to netdata's for ordinary inputs:
//!
//! * CHART and DIMENSION are the chart and dimension names (or ids, see
//!   [`Record::names`]) through the backend name sanitiser
//!   ([`name::sanitize_backend`](crate::name::sanitize_backend), 200 bytes);
//! * VALUE is `%0.7Lf` of a stored value or `%lld` of a collected one
//!   ([`ValueBuffer`]), TIMESTAMP the Unix seconds;
//! * `;TAGS` is there only when the host has tags (graphite's `k=v;k=v`).
//!
//! # Deviations from netdata
//!
//! netdata pastes the prefix, hostname and tags raw, so a space, newline or `;` in them
//! breaks the line or injects another one. Here every field is first cut to its
//! [`limits`] (at a character boundary) and then:
//!
//! * in PREFIX and HOSTNAME, ASCII control bytes (tab, CR and LF among them), space and
//!   `;` (which would start the tags) become `_`;
//! * in TAGS, ASCII control bytes and space become `_` (`;` and `=` are the tag syntax
//!   and stay).
//!
//! Everything else, dots, dashes and UTF-8 included, is kept, so `gateway-01` stays
//! `gateway-01`. A negative timestamp is printed with its sign (netdata's `%llu` would
//! print it modulo 2^64).

use super::chart::{ChartFormat, ChartPart};
use super::text::{self, path_byte, word_byte, Emit, Pieces, Sink};
use super::{limits, truncate, BufferFull, Record, ValueBuffer};
use crate::name::{BACKEND_NAME_USABLE, BACKEND_TABLE};
use crate::number::IntBuffer;

/// The longest line [`write()`] produces: every field at its limit, the longest value
/// text (`-` and 39 digits) and the longest timestamp (`i64::MIN`).
pub const MAX_LINE_LEN: usize = limits::PREFIX
    + 1
    + limits::HOSTNAME
    + 1
    + BACKEND_NAME_USABLE
    + 1
    + BACKEND_NAME_USABLE
    + 1
    + limits::TAGS
    + 1
    + ValueBuffer::MAX_STR_LEN
    + 1
    + IntBuffer::MAX_STR_LEN
    + 1;

// The sanitiser's own cut is the name limit.
const _: () = assert!(BACKEND_NAME_USABLE == limits::NAME);

/// Writes the graphite line of `record` at the start of `out` and returns its length,
/// or returns [`BufferFull`] without touching `out` if the whole line does not fit.
///
/// # Examples
///
/// ```
/// use backhaul_core::decimal::Decimal;
/// use backhaul_core::format::{graphite, ChartMeta, DimensionMeta, HostMeta, Record, Value};
///
/// let record = Record {
///     host: HostMeta { prefix: "netdata", hostname: "myhost", tags: "" },
///     chart: ChartMeta {
///         id: "disk_util.dm-0",
///         name: "disk_util.vg0-root",
///         family: "vg0-root",
///         context: "disk.util",
///         chart_type: "disk_util",
///         units: "% of time working",
///     },
///     dimension: DimensionMeta { id: "utilization", name: "utilization" },
///     names: true,
///     value: Value::Stored(Decimal::from_units(false, 23_362_763)),
///     timestamp: 1_609_459_180,
/// };
/// let mut out = [0u8; graphite::MAX_LINE_LEN];
/// let n = graphite::write(&record, &mut out)?;
/// assert_eq!(&out[..n], b"netdata.myhost.disk_util.vg0_root.utilization 2.3362763 1609459180\n");
/// assert_eq!(n, graphite::len(&record));
/// # Ok::<(), backhaul_core::format::BufferFull>(())
/// ```
pub fn write(record: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull> {
    let mut value = ValueBuffer::new();
    let mut timestamp = IntBuffer::new();
    text::write(&Line::new(record, &mut value, &mut timestamp), out)
}

/// The exact length of the line [`write()`] produces for `record`, at most
/// [`MAX_LINE_LEN`].
#[must_use]
pub fn len(record: &Record<'_>) -> usize {
    let mut value = ValueBuffer::new();
    let mut timestamp = IntBuffer::new();
    text::measure(&Line::new(record, &mut value, &mut timestamp))
}

/// Graphite as a [`ChartFormat`] and as a [record format](crate::engine::RecordFormat)
/// for the engine: the chart part is `PREFIX.HOSTNAME.CHART.` and `;TAGS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Graphite;

impl ChartFormat for Graphite {
    fn write_host_part(&self, record: &Record<'_>, part: &mut ChartPart) -> Result<(), BufferFull> {
        part.set_host(&HostHead(record), &Tail(record))
    }

    fn write_chart_part(
        &self,
        record: &Record<'_>,
        part: &mut ChartPart,
    ) -> Result<(), BufferFull> {
        part.set_chart(&ChartHead(record))
    }

    #[inline]
    fn write_with_chart_part(
        &self,
        part: &mut ChartPart,
        record: &Record<'_>,
        out: &mut [u8],
    ) -> Result<usize, BufferFull> {
        write_with_chart_part(part, record, out)
    }
}

super::chart::record_format_from_chart_parts!(Graphite, write);

/// Writes the graphite line of `record` from `part`, the chart part
/// [`Graphite::write_chart_part`] wrote for a record of the same prefix, hostname, tags
/// and chart label: the same bytes as [`write()`], with only the dimension sanitised and
/// the numbers printed.
///
/// # Errors
///
/// [`BufferFull`] if `out` cannot hold the whole line (`out` is left untouched).
#[inline]
pub fn write_with_chart_part(
    part: &mut ChartPart,
    record: &Record<'_>,
    out: &mut [u8],
) -> Result<usize, BufferFull> {
    let mut value = ValueBuffer::new();
    let value = value.bytes(record.value);
    let (head, tail, timestamp) = part.with_timestamp(record.timestamp, TIMESTAMP_TAG, b" ", b"\n");
    let dimension = record.dimension_label().as_bytes();
    let dimension = dimension.get(..BACKEND_NAME_USABLE).unwrap_or(dimension);
    let len = head.len() + dimension.len() + tail.len() + 1 + value.len() + timestamp.len();
    let mut line = Pieces::new(out, len)?;
    line.put(head);
    line.mapped(dimension, &BACKEND_TABLE);
    if !tail.is_empty() {
        line.put(tail);
    }
    line.byte(b' ');
    line.put(value);
    // ` TIMESTAMP\n`
    line.put(timestamp);
    Ok(len)
}

/// Tells `ChartPart::with_timestamp` which literals go around the timestamp.
const TIMESTAMP_TAG: u8 = 1;

/// `PREFIX.HOSTNAME.`
struct HostHead<'r, 'a>(&'r Record<'a>);

impl Emit for HostHead<'_, '_> {
    fn emit<S: Sink>(&self, sink: &mut S) {
        let host = &self.0.host;
        sink.mapped(truncate(host.prefix, limits::PREFIX).as_bytes(), path_byte);
        sink.raw(b".");
        sink.mapped(
            truncate(host.hostname, limits::HOSTNAME).as_bytes(),
            path_byte,
        );
        sink.raw(b".");
    }
}

/// `CHART.`
struct ChartHead<'r, 'a>(&'r Record<'a>);

impl Emit for ChartHead<'_, '_> {
    fn emit<S: Sink>(&self, sink: &mut S) {
        sink.sanitized(self.0.chart_label().as_bytes());
        sink.raw(b".");
    }
}

/// `;TAGS`, or nothing.
struct Tail<'r, 'a>(&'r Record<'a>);

impl Emit for Tail<'_, '_> {
    fn emit<S: Sink>(&self, sink: &mut S) {
        let tags = truncate(self.0.host.tags, limits::TAGS);
        if !tags.is_empty() {
            sink.raw(b";");
            sink.mapped(tags.as_bytes(), word_byte);
        }
    }
}

/// What follows the head: the dimension, the tail, the numbers.
#[inline(always)]
fn emit_rest<S: Sink>(
    sink: &mut S,
    dimension: &[u8],
    tail: impl FnOnce(&mut S),
    value: &[u8],
    timestamp: &[u8],
) {
    sink.sanitized(dimension);
    tail(sink);
    sink.raw(b" ");
    sink.raw(value);
    sink.raw(b" ");
    sink.raw(timestamp);
    sink.raw(b"\n");
}

/// A record with its number texts.
struct Line<'r, 'a> {
    record: &'r Record<'a>,
    value: &'r [u8],
    timestamp: &'r [u8],
}

impl<'r, 'a> Line<'r, 'a> {
    fn new(record: &'r Record<'a>, value: &'r mut ValueBuffer, ts: &'r mut IntBuffer) -> Self {
        Self {
            record,
            value: value.bytes(record.value),
            timestamp: ts.i64_bytes(record.timestamp),
        }
    }
}

impl Emit for Line<'_, '_> {
    const MAX_LEN: usize = MAX_LINE_LEN;

    fn emit<S: Sink>(&self, sink: &mut S) {
        HostHead(self.record).emit(sink);
        ChartHead(self.record).emit(sink);
        emit_rest(
            sink,
            self.record.dimension_label().as_bytes(),
            |s| Tail(self.record).emit(s),
            self.value,
            self.timestamp,
        );
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::text::testkit::{
        check, disk_util, gateway, hostile_records, maximal, stored, system_cpu,
    };
    use super::super::{Record, Value};
    use super::{len, write, MAX_LINE_LEN};
    use std::string::String;
    use std::vec::Vec;

    fn line(record: &Record<'_>) -> String {
        String::from_utf8(check(write, len, MAX_LINE_LEN, record)).unwrap()
    }

    /// `name: record-expression => expected line;`
    macro_rules! golden {
        ($($name:ident: $record:expr => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(line(&$record), $want);
            }
        )*};
    }

    golden! {
        spec_names: disk_util() =>
            "netdata.myhost.disk_util.vg0_root.utilization 2.3362763 1609459180\n";
        spec_ids: Record { names: false, ..disk_util() } =>
            "netdata.myhost.disk_util.dm_0.utilization 2.3362763 1609459180\n";
        spec_collected_tags: Record {
            value: Value::Collected(63_945),
            timestamp: 1_609_459_195,
            host: super::super::HostMeta { tags: "env=prod;dc=eu", ..system_cpu().host },
            ..system_cpu()
        } => "netdata.myhost.system.cpu.user;env=prod;dc=eu 63945 1609459195\n";
        spec_negative_zero: Record { value: stored(true, 0), ..system_cpu() } =>
            "netdata.myhost.system.cpu.user -0.0000000 1609459180\n";
        spec_saturated: Record {
            value: stored(false, 16_777_215 * 100u128.pow(7) * 10_000_000),
            ..system_cpu()
        } => "netdata.myhost.system.cpu.user 1677721500000000000000.0000000 1609459180\n";
        anchors_stored: gateway() =>
            "netdata.gateway-01.cpu.cpu0.user 44.4540436 1609999997\n";
        anchors_collected: Record {
            value: Value::Collected(259_057),
            timestamp: 1_610_000_000,
            ..gateway()
        } => "netdata.gateway-01.cpu.cpu0.user 259057 1610000000\n";
        negative_collected: Record { value: Value::Collected(-5), ..system_cpu() } =>
            "netdata.myhost.system.cpu.user -5 1609459180\n";
        hostile_host_fields: Record {
            host: super::super::HostMeta {
                prefix: "net data;x",
                hostname: "my\nhost\t1",
                tags: "k=v w;a=\r\nb",
            },
            ..system_cpu()
        } => "net_data_x.my_host_1.system.cpu.user;k=v_w;a=__b 2.3362763 1609459180\n";
        names_sanitised: Record {
            dimension: super::super::DimensionMeta { id: "x", name: "a b;c\n°" },
            ..system_cpu()
        } => "netdata.myhost.system.cpu.a_b_c___ 2.3362763 1609459180\n";
        utf8_host_kept: Record {
            host: super::super::HostMeta { hostname: "hôte", ..system_cpu().host },
            ..system_cpu()
        } => "netdata.hôte.system.cpu.user 2.3362763 1609459180\n";
    }

    #[test]
    fn maximal_record_is_max_line_len() {
        let record = maximal("a");
        assert_eq!(len(&record), MAX_LINE_LEN);
        assert_eq!(line(&record).len(), MAX_LINE_LEN);
    }

    #[test]
    fn fields_are_cut_at_their_limits() {
        let long = "h".repeat(300);
        let record = Record {
            host: super::super::HostMeta {
                prefix: &"p".repeat(150),
                hostname: &long,
                tags: &"t".repeat(2000),
            },
            ..system_cpu()
        };
        let text = line(&record);
        let fields: Vec<&str> = text.trim_end().split(['.', ';', ' ']).collect();
        assert_eq!(fields[0].len(), 100);
        assert_eq!(fields[1].len(), 255);
        assert_eq!(fields[5].len(), 1024);
        // A cut never splits a character: 99 `a` then `é` leaves the `é` out.
        let record = Record {
            host: super::super::HostMeta {
                prefix: &std::format!("{}é", "a".repeat(99)),
                ..system_cpu().host
            },
            ..system_cpu()
        };
        assert!(line(&record).starts_with(&std::format!("{}.myhost.", "a".repeat(99))));
    }

    #[test]
    fn hostile_inputs_give_one_well_formed_line() {
        for record in hostile_records() {
            let text = line(&record);
            let body = text.strip_suffix('\n').expect("ends with a newline");
            assert!(!body.contains(['\n', '\r']), "{text:?}");
            let parts: Vec<&str> = body.split(' ').collect();
            assert_eq!(parts.len(), 3, "{text:?}");
            let (path, tags) = parts[0].split_once(';').unwrap_or((parts[0], ""));
            assert_eq!(tags.is_empty(), record.host.tags.is_empty(), "{text:?}");
            // The sanitised names add no `.`-free junk: the path ends with them.
            let mut chart = String::new();
            let mut dim = String::new();
            for (dst, src) in [
                (&mut chart, record.chart_label()),
                (&mut dim, record.dimension_label()),
            ] {
                dst.extend(src.bytes().take(200).map(|b| {
                    if b.is_ascii_alphanumeric() || b == b'.' {
                        char::from(b)
                    } else {
                        '_'
                    }
                }));
            }
            assert!(path.ends_with(&std::format!(".{chart}.{dim}")), "{text:?}");
            assert!(!parts[1].is_empty() && !parts[2].is_empty());
        }
    }
}
