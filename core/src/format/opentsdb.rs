//! OpenTSDB, over telnet (spec §4.2) and over HTTP (spec §4.3).
//!
//! # Telnet
//!
//! One line per record, byte-identical to netdata's for ordinary inputs:
//!
//! ```text
//! put PREFIX.CHART.DIMENSION TIMESTAMP VALUE host=HOSTNAME[ TAGS]\n
//! ```
//!
//! with the names, value and timestamp of [graphite](super::graphite) (the hostname is a
//! tag, not part of the metric) and the host tags (`k=v k=v`) after a space.
//!
//! # HTTP
//!
//! netdata sends one `POST /api/put` request per record, whose body is one object:
//!
//! ```text
//! {  "metric": "PREFIX.CHART.DIMENSION",  "timestamp": TS,  "value": VALUE,  "tags": {    "host": "HOSTNAME[ TAGS]"  }}
//! ```
//!
//! [`write_object`] writes exactly that object. backhaul sends a JSON **array** of them
//! per request (OpenTSDB's `/api/put` takes both), built with [`JsonArray`].
//!
//! # Deviations from netdata
//!
//! Fields are cut to their [`limits`] (at a character boundary), then in both variants:
//!
//! * in PREFIX, ASCII control bytes, space and `;` become `_` (as for graphite);
//! * in HOSTNAME, ASCII control bytes and space become `_` (it is one tag value);
//! * in TAGS, ASCII control bytes (tab, CR and LF among them) become `_`; spaces stay,
//!   they separate the tags.
//!
//! In the HTTP object the strings are then JSON-escaped (`"` and `\`), so the metric
//! and the host tag are the same as over telnet. netdata cuts bodies longer than 1,023
//! bytes (and then announces 1,024, spec §8 item 4); backhaul never cuts an object.
//! A negative timestamp is printed with its sign (netdata's `%llu` would print it
//! modulo 2^64).

use super::chart::{ChartFormat, ChartPart};
use super::text::{self, line_byte, path_byte, word_byte, Emit, Pieces, Sink};
use super::{limits, truncate, BufferFull, Record, ValueBuffer};
use crate::name::{BACKEND_NAME_USABLE, BACKEND_TABLE};
use crate::number::IntBuffer;

/// The longest telnet line [`write()`] produces: every field at its limit, the longest
/// value text and the longest timestamp.
pub const MAX_LINE_LEN: usize = PUT.len()
    + limits::PREFIX
    + 1
    + BACKEND_NAME_USABLE
    + 1
    + BACKEND_NAME_USABLE
    + 1
    + IntBuffer::MAX_STR_LEN
    + 1
    + ValueBuffer::MAX_STR_LEN
    + HOST.len()
    + limits::HOSTNAME
    + 1
    + limits::TAGS
    + 1;

/// The longest object [`write_object`] produces: every field at its limit and made of
/// `"` or `\` (each escaped to two bytes; control bytes are already `_`), the longest
/// value text and the longest timestamp.
pub const MAX_OBJECT_LEN: usize = OBJECT_METRIC.len()
    + 2 * limits::PREFIX
    + 1
    + BACKEND_NAME_USABLE
    + 1
    + BACKEND_NAME_USABLE
    + OBJECT_TIMESTAMP.len()
    + IntBuffer::MAX_STR_LEN
    + OBJECT_VALUE.len()
    + ValueBuffer::MAX_STR_LEN
    + OBJECT_HOST.len()
    + 2 * limits::HOSTNAME
    + 1
    + 2 * limits::TAGS
    + OBJECT_END.len();

const PUT: &str = "put ";
const HOST: &str = " host=";
const OBJECT_METRIC: &str = "{  \"metric\": \"";
const OBJECT_TIMESTAMP: &str = "\",  \"timestamp\": ";
const OBJECT_VALUE: &str = ",  \"value\": ";
const OBJECT_HOST: &str = ",  \"tags\": {    \"host\": \"";
const OBJECT_END: &str = "\"  }}";

/// Writes the telnet `put` line of `record` at the start of `out` and returns its
/// length, or returns [`BufferFull`] without touching `out` if the whole line does not
/// fit.
///
/// # Examples
///
/// ```
/// use backhaul_core::format::{opentsdb, ChartMeta, DimensionMeta, HostMeta, Record, Value};
///
/// let record = Record {
///     host: HostMeta { prefix: "netdata", hostname: "myhost", tags: "" },
///     chart: ChartMeta {
///         id: "system.cpu",
///         name: "system.cpu",
///         family: "cpu",
///         context: "system.cpu",
///         chart_type: "system",
///         units: "percentage",
///     },
///     dimension: DimensionMeta { id: "user", name: "user" },
///     names: true,
///     value: Value::Collected(63_945),
///     timestamp: 1_609_459_195,
/// };
/// let mut out = [0u8; opentsdb::MAX_LINE_LEN];
/// let n = opentsdb::write(&record, &mut out)?;
/// assert_eq!(&out[..n], b"put netdata.system.cpu.user 1609459195 63945 host=myhost\n");
/// # Ok::<(), backhaul_core::format::BufferFull>(())
/// ```
pub fn write(record: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull> {
    let mut value = ValueBuffer::new();
    let mut timestamp = IntBuffer::new();
    text::write(
        &TelnetLine(Fields::new(record, &mut value, &mut timestamp)),
        out,
    )
}

/// The exact length of the line [`write()`] produces for `record`, at most
/// [`MAX_LINE_LEN`].
#[must_use]
pub fn len(record: &Record<'_>) -> usize {
    let mut value = ValueBuffer::new();
    let mut timestamp = IntBuffer::new();
    text::measure(&TelnetLine(Fields::new(record, &mut value, &mut timestamp)))
}

/// Writes the HTTP JSON object of `record` (netdata's request body) at the start of
/// `out` and returns its length, or returns [`BufferFull`] without touching `out` if the
/// whole object does not fit. The object has no line end.
pub fn write_object(record: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull> {
    let mut value = ValueBuffer::new();
    let mut timestamp = IntBuffer::new();
    text::write(
        &ObjectLine(Fields::new(record, &mut value, &mut timestamp)),
        out,
    )
}

/// The exact length of the object [`write_object`] produces for `record`, at most
/// [`MAX_OBJECT_LEN`].
#[must_use]
pub fn object_len(record: &Record<'_>) -> usize {
    let mut value = ValueBuffer::new();
    let mut timestamp = IntBuffer::new();
    text::measure(&ObjectLine(Fields::new(record, &mut value, &mut timestamp)))
}

/// The longest body a [`JsonArray`] of `elements` objects can have: the brackets, the
/// objects and the commas between them (saturating).
#[must_use]
pub const fn max_array_len(elements: usize) -> usize {
    let objects = elements.saturating_mul(MAX_OBJECT_LEN);
    let commas = elements.saturating_sub(1);
    objects.saturating_add(commas).saturating_add(2)
}

/// A JSON array of [`write_object`] objects being built in a caller's buffer: one HTTP
/// request body per batch.
///
/// The array is valid JSON whenever it is closed: room for the closing `]` is always
/// kept, and [`try_push`](Self::try_push) appends a whole element (with its comma) or
/// nothing. An array closed with no element is `[]`.
///
/// # Examples
///
/// ```
/// use backhaul_core::format::opentsdb::JsonArray;
/// # use backhaul_core::format::{ChartMeta, DimensionMeta, HostMeta, Record, Value};
/// # let record = Record {
/// #     host: HostMeta { prefix: "netdata", hostname: "myhost", tags: "" },
/// #     chart: ChartMeta { id: "system.cpu", name: "system.cpu", family: "cpu",
/// #         context: "system.cpu", chart_type: "system", units: "percentage" },
/// #     dimension: DimensionMeta { id: "user", name: "user" },
/// #     names: true, value: Value::Collected(1), timestamp: 2,
/// # };
///
/// let mut buf = [0u8; 512];
/// let mut array = JsonArray::new(&mut buf)?;
/// array.try_push(&record)?;
/// array.try_push(&record)?;
/// assert_eq!(array.count(), 2);
/// let n = array.finish();
/// assert!(buf[..n].starts_with(b"[{  \"metric\": \"netdata.system.cpu.user\""));
/// assert!(buf[..n].ends_with(b"}},{  \"metric\": \"netdata.system.cpu.user\",  \"timestamp\": 2,  \"value\": 1,  \"tags\": {    \"host\": \"myhost\"  }}]"));
/// # Ok::<(), backhaul_core::format::BufferFull>(())
/// ```
#[derive(Debug)]
pub struct JsonArray<'o> {
    out: &'o mut [u8],
    /// Bytes written: `[` and the elements, never more than `out.len() - 1`.
    len: usize,
    count: usize,
}

impl<'o> JsonArray<'o> {
    /// Opens an array in `out` (writing `[`). Needs at least two bytes, for `[]`;
    /// otherwise returns [`BufferFull`] and leaves `out` untouched.
    pub fn new(out: &'o mut [u8]) -> Result<Self, BufferFull> {
        match out {
            [open, _, ..] => {
                *open = b'[';
                Ok(Self {
                    out,
                    len: 1,
                    count: 0,
                })
            }
            _ => Err(BufferFull),
        }
    }

    /// Appends the object of `record` (after a comma if it is not the first) and
    /// returns the number of bytes appended; or, if it does not fit with room left for
    /// the closing `]`, appends nothing and returns [`BufferFull`].
    pub fn try_push(&mut self, record: &Record<'_>) -> Result<usize, BufferFull> {
        let comma = usize::from(self.count > 0);
        // Everything after the `[` and the elements so far, less the room for `]`.
        let room = self
            .out
            .get_mut(self.len..)
            .and_then(|rest| rest.split_last_mut())
            .map(|(_, room)| room)
            .ok_or(BufferFull)?;
        let (sep, body) = room.split_at_mut_checked(comma).ok_or(BufferFull)?;
        let n = write_object(record, body)?;
        if let [c] = sep {
            *c = b',';
        }
        self.len += comma + n;
        self.count += 1;
        Ok(comma + n)
    }

    /// The number of elements.
    #[must_use]
    pub const fn count(&self) -> usize {
        self.count
    }

    /// The length the body would have if it were closed now.
    #[must_use]
    pub const fn closed_len(&self) -> usize {
        self.len + 1
    }

    /// Closes the array (writing `]`) and returns the length of the body, which is at
    /// the start of the buffer given to [`new`](Self::new).
    pub fn finish(self) -> usize {
        if let Some(close) = self.out.get_mut(self.len) {
            *close = b']';
        }
        self.len + 1
    }
}

/// OpenTSDB telnet as a [`ChartFormat`] and as a [record
/// format](crate::engine::RecordFormat) for the engine: the chart part is
/// `put PREFIX.CHART.` and ` host=HOSTNAME[ TAGS]\n`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Telnet;

/// OpenTSDB's HTTP object ([`write_object`]) as a [`ChartFormat`] and as a [record
/// format](crate::engine::RecordFormat) for the engine: the chart part is
/// `{  "metric": "PREFIX.CHART.` and the host tag to the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HttpObject;

impl ChartFormat for Telnet {
    fn write_host_part(&self, record: &Record<'_>, part: &mut ChartPart) -> Result<(), BufferFull> {
        let f = HostChart::new(record);
        part.set_host(&TelnetHostHead(&f), &TelnetTail(&f))
    }

    fn write_chart_part(
        &self,
        record: &Record<'_>,
        part: &mut ChartPart,
    ) -> Result<(), BufferFull> {
        part.set_chart(&ChartHead(&HostChart::new(record)))
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

impl ChartFormat for HttpObject {
    fn write_host_part(&self, record: &Record<'_>, part: &mut ChartPart) -> Result<(), BufferFull> {
        let f = HostChart::new(record);
        part.set_host(&ObjectHostHead(&f), &ObjectTail(&f))
    }

    fn write_chart_part(
        &self,
        record: &Record<'_>,
        part: &mut ChartPart,
    ) -> Result<(), BufferFull> {
        part.set_chart(&ChartHead(&HostChart::new(record)))
    }

    #[inline]
    fn write_with_chart_part(
        &self,
        part: &mut ChartPart,
        record: &Record<'_>,
        out: &mut [u8],
    ) -> Result<usize, BufferFull> {
        write_object_with_chart_part(part, record, out)
    }
}

super::chart::record_format_from_chart_parts!(Telnet, write);

super::chart::record_format_from_chart_parts!(HttpObject, write_object);

/// Tell `ChartPart::with_timestamp` which literals go around the timestamp.
const TELNET_TIMESTAMP_TAG: u8 = 2;
const OBJECT_TIMESTAMP_TAG: u8 = 3;

/// Writes the telnet line of `record` from `part`, the chart part [`Telnet`] wrote for a
/// record of the same prefix, hostname, tags and chart label: the same bytes as
/// [`write()`].
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
    let (head, tail, timestamp) =
        part.with_timestamp(record.timestamp, TELNET_TIMESTAMP_TAG, b" ", b" ");
    write_prepared(head, record, timestamp, value, tail, out)
}

/// Writes the HTTP object of `record` from `part`, the chart part [`HttpObject`] wrote
/// for a record of the same prefix, hostname, tags and chart label: the same bytes as
/// [`write_object`].
///
/// # Errors
///
/// [`BufferFull`] if `out` cannot hold the whole object (`out` is left untouched).
#[inline]
pub fn write_object_with_chart_part(
    part: &mut ChartPart,
    record: &Record<'_>,
    out: &mut [u8],
) -> Result<usize, BufferFull> {
    let mut value = ValueBuffer::new();
    let value = value.bytes(record.value);
    let (head, tail, timestamp) = part.with_timestamp(
        record.timestamp,
        OBJECT_TIMESTAMP_TAG,
        OBJECT_TIMESTAMP.as_bytes(),
        OBJECT_VALUE.as_bytes(),
    );
    write_prepared(head, record, timestamp, value, tail, out)
}

/// Both variants from their chart part: the head, the dimension, the timestamp with the
/// literals around it, the value, the tail.
#[inline(always)]
fn write_prepared(
    head: &[u8],
    record: &Record<'_>,
    timestamp: &[u8],
    value: &[u8],
    tail: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferFull> {
    let dimension = record.dimension_label().as_bytes();
    let dimension = dimension.get(..BACKEND_NAME_USABLE).unwrap_or(dimension);
    let len = head.len() + dimension.len() + timestamp.len() + value.len() + tail.len();
    let mut line = Pieces::new(out, len)?;
    line.put(head);
    line.mapped(dimension, &BACKEND_TABLE);
    line.put(timestamp);
    line.put(value);
    line.put(tail);
    Ok(len)
}

/// A record's bounded host fields and chart label.
struct HostChart<'r> {
    prefix: &'r [u8],
    hostname: &'r [u8],
    tags: &'r [u8],
    chart: &'r [u8],
}

impl<'r> HostChart<'r> {
    fn new(record: &Record<'r>) -> Self {
        Self {
            prefix: truncate(record.host.prefix, limits::PREFIX).as_bytes(),
            hostname: truncate(record.host.hostname, limits::HOSTNAME).as_bytes(),
            tags: truncate(record.host.tags, limits::TAGS).as_bytes(),
            chart: record.chart_label().as_bytes(),
        }
    }
}

/// `put PREFIX.`
struct TelnetHostHead<'f, 'r>(&'f HostChart<'r>);

impl Emit for TelnetHostHead<'_, '_> {
    fn emit<S: Sink>(&self, sink: &mut S) {
        sink.raw(PUT.as_bytes());
        sink.mapped(self.0.prefix, path_byte);
        sink.raw(b".");
    }
}

/// `CHART.`, in both variants (a sanitised name has nothing to escape).
struct ChartHead<'f, 'r>(&'f HostChart<'r>);

impl Emit for ChartHead<'_, '_> {
    fn emit<S: Sink>(&self, sink: &mut S) {
        sink.sanitized(self.0.chart);
        sink.raw(b".");
    }
}

/// ` host=HOSTNAME[ TAGS]\n`
struct TelnetTail<'f, 'r>(&'f HostChart<'r>);

impl Emit for TelnetTail<'_, '_> {
    fn emit<S: Sink>(&self, sink: &mut S) {
        let f = self.0;
        sink.raw(HOST.as_bytes());
        sink.mapped(f.hostname, word_byte);
        if !f.tags.is_empty() {
            sink.raw(b" ");
            sink.mapped(f.tags, line_byte);
        }
        sink.raw(b"\n");
    }
}

/// `{  "metric": "PREFIX.`
struct ObjectHostHead<'f, 'r>(&'f HostChart<'r>);

impl Emit for ObjectHostHead<'_, '_> {
    fn emit<S: Sink>(&self, sink: &mut S) {
        sink.raw(OBJECT_METRIC.as_bytes());
        escaped(sink, self.0.prefix, path_byte);
        sink.raw(b".");
    }
}

/// `,  "tags": {    "host": "HOSTNAME[ TAGS]"  }}`
struct ObjectTail<'f, 'r>(&'f HostChart<'r>);

impl Emit for ObjectTail<'_, '_> {
    fn emit<S: Sink>(&self, sink: &mut S) {
        let f = self.0;
        sink.raw(OBJECT_HOST.as_bytes());
        escaped(sink, f.hostname, word_byte);
        if !f.tags.is_empty() {
            sink.raw(b" ");
            escaped(sink, f.tags, line_byte);
        }
        sink.raw(OBJECT_END.as_bytes());
    }
}

/// A field through `map`, then JSON-escaped, a chunk at a time.
fn escaped<S: Sink>(sink: &mut S, src: &[u8], map: fn(u8) -> u8) {
    let mut chunk = [0u8; 64];
    for part in src.chunks(chunk.len()) {
        let mapped = chunk.get_mut(..part.len()).unwrap_or(&mut []);
        for (d, &b) in mapped.iter_mut().zip(part) {
            *d = map(b);
        }
        sink.json_escaped(mapped);
    }
}

/// What follows the head of a telnet line (`object` false) or of an HTTP object: the
/// dimension, the numbers, the tail.
#[inline(always)]
fn emit_rest<S: Sink>(
    sink: &mut S,
    object: bool,
    dimension: &[u8],
    value: &[u8],
    timestamp: &[u8],
    tail: impl FnOnce(&mut S),
) {
    sink.sanitized(dimension);
    if object {
        sink.raw(OBJECT_TIMESTAMP.as_bytes());
        sink.raw(timestamp);
        sink.raw(OBJECT_VALUE.as_bytes());
        sink.raw(value);
    } else {
        sink.raw(b" ");
        sink.raw(timestamp);
        sink.raw(b" ");
        sink.raw(value);
    }
    tail(sink);
}

/// A record with its number texts and its bounded host fields.
struct Fields<'r> {
    host_chart: HostChart<'r>,
    dimension: &'r [u8],
    value: &'r [u8],
    timestamp: &'r [u8],
}

impl<'r> Fields<'r> {
    fn new(record: &Record<'r>, value: &'r mut ValueBuffer, ts: &'r mut IntBuffer) -> Self {
        Self {
            host_chart: HostChart::new(record),
            dimension: record.dimension_label().as_bytes(),
            value: value.bytes(record.value),
            timestamp: ts.i64_bytes(record.timestamp),
        }
    }
}

/// The telnet line.
struct TelnetLine<'r>(Fields<'r>);

impl Emit for TelnetLine<'_> {
    const MAX_LEN: usize = MAX_LINE_LEN;

    fn emit<S: Sink>(&self, sink: &mut S) {
        let f = &self.0;
        TelnetHostHead(&f.host_chart).emit(sink);
        ChartHead(&f.host_chart).emit(sink);
        emit_rest(sink, false, f.dimension, f.value, f.timestamp, |s| {
            TelnetTail(&f.host_chart).emit(s);
        });
    }
}

/// The HTTP object.
struct ObjectLine<'r>(Fields<'r>);

impl Emit for ObjectLine<'_> {
    const MAX_LEN: usize = MAX_OBJECT_LEN;

    fn emit<S: Sink>(&self, sink: &mut S) {
        let f = &self.0;
        ObjectHostHead(&f.host_chart).emit(sink);
        ChartHead(&f.host_chart).emit(sink);
        emit_rest(sink, true, f.dimension, f.value, f.timestamp, |s| {
            ObjectTail(&f.host_chart).emit(s);
        });
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::text::testkit::{
        check, disk_util, gateway, hostile_records, maximal, stored, system_cpu,
    };
    use super::super::{HostMeta, Record, Value};
    use super::*;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    fn line(record: &Record<'_>) -> String {
        String::from_utf8(check(write, len, MAX_LINE_LEN, record)).unwrap()
    }

    fn object(record: &Record<'_>) -> String {
        String::from_utf8(check(write_object, object_len, MAX_OBJECT_LEN, record)).unwrap()
    }

    const fn tagged(tags: &'static str) -> Record<'static> {
        let mut r = system_cpu();
        r.host.tags = tags;
        r
    }

    const fn collected() -> Record<'static> {
        let mut r = system_cpu();
        r.value = Value::Collected(63_945);
        r.timestamp = 1_609_459_195;
        r
    }

    /// `name: format(record) => expected;`
    macro_rules! golden {
        ($($name:ident: $format:ident($record:expr) => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!($format(&$record), $want);
            }
        )*};
    }

    golden! {
        spec_telnet_tags: line(tagged("env=prod dc=eu")) =>
            "put netdata.system.cpu.user 1609459180 2.3362763 host=myhost env=prod dc=eu\n";
        spec_telnet_collected: line(collected()) =>
            "put netdata.system.cpu.user 1609459195 63945 host=myhost\n";
        telnet_ids: line(Record { names: false, ..disk_util() }) =>
            "put netdata.disk_util.dm_0.utilization 1609459180 2.3362763 host=myhost\n";
        telnet_negative_zero: line(Record { value: stored(true, 0), ..system_cpu() }) =>
            "put netdata.system.cpu.user 1609459180 -0.0000000 host=myhost\n";
        telnet_saturated: line(Record {
            value: stored(false, 16_777_215 * 100u128.pow(7) * 10_000_000),
            ..system_cpu()
        }) => "put netdata.system.cpu.user 1609459180 1677721500000000000000.0000000 host=myhost\n";
        anchors_telnet: line(gateway()) =>
            "put netdata.cpu.cpu0.user 1609999997 44.4540436 host=gateway-01\n";
        anchors_telnet_collected: line(Record {
            value: Value::Collected(259_057),
            timestamp: 1_610_000_000,
            ..gateway()
        }) => "put netdata.cpu.cpu0.user 1610000000 259057 host=gateway-01\n";
        telnet_hostile_host: line(Record {
            host: HostMeta { prefix: "a b;c", hostname: "h o\ns;t", tags: "k=v\n put x 1 1 a=b\tc" },
            ..system_cpu()
        }) => "put a_b_c.system.cpu.user 1609459180 2.3362763 host=h_o_s;t k=v_ put x 1 1 a=b_c\n";
        spec_object: object(system_cpu()) =>
            "{  \"metric\": \"netdata.system.cpu.user\",  \"timestamp\": 1609459180,  \"value\": 2.3362763,  \"tags\": {    \"host\": \"myhost\"  }}";
        spec_object_collected_tags: object(Record { host: tagged("env=prod dc=eu").host, ..collected() }) =>
            "{  \"metric\": \"netdata.system.cpu.user\",  \"timestamp\": 1609459195,  \"value\": 63945,  \"tags\": {    \"host\": \"myhost env=prod dc=eu\"  }}";
        object_negative_zero: object(Record { value: stored(true, 0), ..system_cpu() }) =>
            "{  \"metric\": \"netdata.system.cpu.user\",  \"timestamp\": 1609459180,  \"value\": -0.0000000,  \"tags\": {    \"host\": \"myhost\"  }}";
        object_escapes: object(Record {
            host: HostMeta { prefix: "p\"\\", hostname: "h\"\n", tags: "k=\"v\"\r" },
            ..system_cpu()
        }) => "{  \"metric\": \"p\\\"\\\\.system.cpu.user\",  \"timestamp\": 1609459180,  \"value\": 2.3362763,  \"tags\": {    \"host\": \"h\\\"_ k=\\\"v\\\"_\"  }}";
    }

    #[test]
    fn spec_content_lengths() {
        assert_eq!(object_len(&system_cpu()), 121);
        let record = Record {
            host: tagged("env=prod dc=eu").host,
            ..collected()
        };
        assert_eq!(object_len(&record), 132);
    }

    #[test]
    fn maximal_records_are_max_len() {
        assert_eq!(line(&maximal("a")).len(), MAX_LINE_LEN);
        assert_eq!(object(&maximal("\"")).len(), MAX_OBJECT_LEN);
        // Control bytes become `_` before escaping, so they cost one byte each.
        assert_eq!(
            object(&maximal("\u{1}")).len(),
            MAX_OBJECT_LEN - limits::PREFIX - limits::HOSTNAME - limits::TAGS
        );
    }

    #[test]
    fn hostile_inputs_give_one_line_and_valid_json() {
        for record in hostile_records() {
            let text = line(&record);
            let body = text.strip_suffix('\n').expect("ends with a newline");
            assert!(!body.contains(['\n', '\r']), "{text:?}");
            let words: Vec<&str> = body.split(' ').collect();
            assert_eq!(words[0], "put");
            assert!(words[4].starts_with("host="), "{text:?}");
            assert!(!words[1].contains(';'));
            let tags = truncate(record.host.tags, limits::TAGS);
            let expected_words = 5 + if tags.is_empty() {
                0
            } else {
                tags.split(' ').count()
            };
            assert_eq!(words.len(), expected_words, "{text:?}");

            let json = object(&record);
            let value: serde_json::Value = serde_json::from_str(&json).expect(&json);
            let metric = value["metric"].as_str().unwrap();
            assert_eq!(metric, words[1]);
            let host = value["tags"]["host"].as_str().unwrap();
            let telnet_host: Vec<&str> = words[4..].to_vec();
            assert_eq!(std::format!("host={host}"), telnet_host.join(" "));
            assert!(value["timestamp"].is_i64());
            assert!(value["value"].is_number());
        }
    }

    #[test]
    fn array_batches_are_valid_json() {
        let records = hostile_records();
        for size in [2, 3, 200, 1000, 5000, 100_000] {
            let mut buf = vec![0xa5u8; size];
            let mut array = JsonArray::new(&mut buf).unwrap();
            let mut pushed = Vec::new();
            for record in &records {
                let before = array.closed_len();
                match array.try_push(record) {
                    Ok(n) => {
                        assert_eq!(array.closed_len(), before + n);
                        pushed.push(record);
                    }
                    Err(BufferFull) => assert_eq!(array.closed_len(), before),
                }
            }
            let count = array.count();
            let n = array.finish();
            assert!(n <= size && n <= max_array_len(count));
            assert!(buf[n..].iter().all(|&b| b == 0xa5), "wrote past the body");
            let value: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
            let elements = value.as_array().unwrap();
            assert_eq!(elements.len(), count);
            assert_eq!(count, pushed.len());
            for (element, record) in elements.iter().zip(pushed) {
                let one: serde_json::Value = serde_json::from_str(&object(record)).unwrap();
                assert_eq!(*element, one);
            }
        }
    }

    #[test]
    fn array_edges() {
        let mut tiny = [0u8; 1];
        assert_eq!(
            JsonArray::new(&mut tiny).map(|a| a.count()),
            Err(BufferFull)
        );
        assert_eq!(tiny, [0]);
        let mut two = [0u8; 2];
        let mut array = JsonArray::new(&mut two).unwrap();
        assert_eq!(array.try_push(&system_cpu()), Err(BufferFull));
        assert_eq!(array.finish(), 2);
        assert_eq!(&two, b"[]");

        // Exactly one element fits, then exactly two.
        let one = object_len(&system_cpu());
        for (size, want) in [
            (one + 2, 1),
            (one + 1, 0),
            (2 * one + 3, 2),
            (2 * one + 2, 1),
        ] {
            let mut buf = vec![0u8; size];
            let mut array = JsonArray::new(&mut buf).unwrap();
            while array.try_push(&system_cpu()).is_ok() {}
            assert_eq!(array.count(), want, "size {size}");
            let n = array.finish();
            assert_eq!(n, max_array_len(0) + want * one + want.saturating_sub(1));
        }
        assert_eq!(max_array_len(0), 2);
        assert_eq!(max_array_len(1), MAX_OBJECT_LEN + 2);
        assert_eq!(max_array_len(usize::MAX), usize::MAX);
    }
}
