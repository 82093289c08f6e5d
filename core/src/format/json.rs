//! JSON plaintext (spec §4.4): one object per line, the format Kinesis and MongoDB
//! reuse. Fields in netdata's order and spacing (a space after the colon only for
//! `chart_context`, `units` and `timestamp`):
//!
//! ```text
//! {"prefix":"P","hostname":"H",[TAGS]"chart_id":"CID","chart_name":"CNAME","chart_family":"FAM","chart_context": "CTX","chart_type":"TYPE","units": "UNITS","id":"DID","name":"DNAME","value":V,"timestamp": TS}\n
//! ```
//!
//! `[TAGS]` is `"host_tags":TAGS,` or `"host_tags":"TAGS",`, absent when the host has no
//! tags. V is `%0.7Lf` of a stored value or `%lld` of a collected one: always a finite
//! JSON number (JSON has no spelling for NaN or infinities, and a [`Value`](super::Value)
//! cannot hold them; stored NaN is never formatted at all, spec §4.0).
//!
//! # Deviations from netdata
//!
//! The output is byte-identical to netdata's for ordinary inputs. netdata pastes every
//! string raw, so a `"` or a newline in a name produces invalid JSON or a second record
//! (spec §8 item 6). Here every field is cut to its [`limits`] (at a character
//! boundary) and JSON-escaped (`"`, `\` and control bytes); and host tags that start
//! with `{`, `[` or `"` (which netdata pastes raw) are pasted raw only if they are
//! exactly one valid JSON value, nested at most [`MAX_TAGS_DEPTH`] deep (line breaks
//! between its tokens become spaces, to keep one object per line); otherwise they are
//! written as an escaped string. A negative timestamp is printed with its sign
//! (netdata's `%llu` would print it modulo 2^64).

use super::chart::{ChartFormat, ChartPart, CHART_KEY_STRS};
use super::text::{self, Emit, Pieces, Sink};
use super::{limits, truncate, BufferFull, Record, ValueBuffer};
use crate::number::IntBuffer;

/// The deepest nesting of arrays and objects accepted in raw host tags.
pub const MAX_TAGS_DEPTH: usize = 64;

/// The longest line [`write()`] produces: every string field at its limit and made of
/// control bytes (each escaped to six bytes, `\u00XX`), host tags written as such a
/// string, the longest value text and the longest timestamp.
pub const MAX_LINE_LEN: usize = K_PREFIX.len()
    + K_HOSTNAME.len()
    + HOST_END.len()
    + K_CHART_ID.len()
    + K_CHART_NAME.len()
    + K_FAMILY.len()
    + K_CONTEXT.len()
    + K_TYPE.len()
    + K_UNITS.len()
    + K_DIM_ID.len()
    + K_DIM_NAME.len()
    + K_VALUE.len()
    + K_TIMESTAMP.len()
    + END.len()
    + TAGS_QUOTED.len()
    + TAGS_STRING_END.len()
    + 6 * (limits::PREFIX + limits::HOSTNAME + limits::TAGS + 8 * limits::NAME)
    + ValueBuffer::MAX_STR_LEN
    + IntBuffer::MAX_STR_LEN;

// The fixed text around the fields, in order.
const K_PREFIX: &str = "{\"prefix\":\"";
const K_HOSTNAME: &str = "\",\"hostname\":\"";
const HOST_END: &str = "\",";
const K_CHART_ID: &str = "\"chart_id\":\"";
const K_CHART_NAME: &str = "\",\"chart_name\":\"";
const K_FAMILY: &str = "\",\"chart_family\":\"";
const K_CONTEXT: &str = "\",\"chart_context\": \"";
const K_TYPE: &str = "\",\"chart_type\":\"";
const K_UNITS: &str = "\",\"units\": \"";
const K_DIM_ID: &str = "\",\"id\":\"";
const K_DIM_NAME: &str = "\",\"name\":\"";
const K_VALUE: &str = "\",\"value\":";
const K_TIMESTAMP: &str = ",\"timestamp\": ";
const END: &str = "}\n";
const TAGS_RAW: &str = "\"host_tags\":";
const TAGS_RAW_END: &str = ",";
const TAGS_QUOTED: &str = "\"host_tags\":\"";
const TAGS_STRING_END: &str = "\",";

/// Writes the JSON line of `record` at the start of `out` and returns its length, or
/// returns [`BufferFull`] without touching `out` if the whole line does not fit.
///
/// # Examples
///
/// ```
/// use backhaul_core::format::{json, ChartMeta, DimensionMeta, HostMeta, Record, Value};
///
/// let record = Record {
///     host: HostMeta { prefix: "netdata", hostname: "myhost", tags: "{\"env\":\"prod\"}" },
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
/// let mut out = [0u8; 512];
/// let n = json::write(&record, &mut out)?;
/// assert!(out[..n].starts_with(br#"{"prefix":"netdata","hostname":"myhost","host_tags":{"env":"prod"},"chart_id""#));
/// assert!(out[..n].ends_with(b"\"value\":63945,\"timestamp\": 1609459195}\n"));
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

/// JSON lines as a [`ChartFormat`] and as a [record format](crate::engine::RecordFormat)
/// for the engine: the chart part is everything up to the dimension id (the escaped
/// prefix, hostname, host tags and chart fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Json;

impl ChartFormat for Json {
    const CHART_STRS: usize = 6;

    #[inline]
    fn chart_strs<'r>(&self, record: &Record<'r>) -> [&'r str; CHART_KEY_STRS] {
        let c = &record.chart;
        [c.id, c.name, c.family, c.context, c.chart_type, c.units]
    }

    fn write_host_part(&self, record: &Record<'_>, part: &mut ChartPart) -> Result<(), BufferFull> {
        part.set_host(&HostHead::new(record), &Nothing)
    }

    fn write_chart_part(
        &self,
        record: &Record<'_>,
        part: &mut ChartPart,
    ) -> Result<(), BufferFull> {
        let c = &record.chart;
        let fields = [c.id, c.name, c.family, c.context, c.chart_type, c.units]
            .map(|f| truncate(f, limits::NAME).as_bytes());
        if fields.iter().all(|f| text::is_plain_json(f)) {
            // Nothing to escape, the usual case: the literals and fields as they are.
            let [id, name, family, context, chart_type, units] = fields;
            part.set_chart_pieces(&[
                K_CHART_ID.as_bytes(),
                id,
                K_CHART_NAME.as_bytes(),
                name,
                K_FAMILY.as_bytes(),
                family,
                K_CONTEXT.as_bytes(),
                context,
                K_TYPE.as_bytes(),
                chart_type,
                K_UNITS.as_bytes(),
                units,
                K_DIM_ID.as_bytes(),
            ])
        } else {
            part.set_chart(&ChartHead(record))
        }
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

super::chart::record_format_from_chart_parts!(Json, write);

/// Writes the JSON line of `record` from `part`, the chart part [`Json::write_chart_part`]
/// wrote for a record of the same host and chart fields: the same bytes as [`write()`],
/// with only the dimension's id and name escaped and the numbers printed.
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
    let (head, _, timestamp) = part.with_timestamp(
        record.timestamp,
        TIMESTAMP_TAG,
        K_TIMESTAMP.as_bytes(),
        END.as_bytes(),
    );
    let id = truncate(record.dimension.id, limits::NAME).as_bytes();
    let name = truncate(record.dimension.name, limits::NAME).as_bytes();
    if !(text::is_plain_json(id) && text::is_plain_json(name)) {
        return text::write(
            &Prepared {
                head,
                record,
                value,
                timestamp,
            },
            out,
        );
    }
    // Nothing to escape, the usual case: every piece is copied as it is.
    let len = head.len()
        + id.len()
        + K_DIM_NAME.len()
        + name.len()
        + K_VALUE.len()
        + value.len()
        + timestamp.len();
    let mut line = Pieces::new(out, len)?;
    line.put(head);
    line.put(id);
    line.put(K_DIM_NAME.as_bytes());
    line.put(name);
    line.put(K_VALUE.as_bytes());
    line.put(value);
    line.put(timestamp);
    Ok(len)
}

/// Nothing at all (the JSON chart part has no tail).
struct Nothing;

impl Emit for Nothing {
    fn emit<S: Sink>(&self, _sink: &mut S) {}
}

/// The host's fields.
struct HostHead<'r, 'a> {
    record: &'r Record<'a>,
    tags: &'a str,
    raw_tags: bool,
}

impl<'r, 'a> HostHead<'r, 'a> {
    fn new(record: &'r Record<'a>) -> Self {
        let tags = truncate(record.host.tags, limits::TAGS);
        let raw_tags = matches!(tags.as_bytes().first(), Some(b'{' | b'[' | b'"'))
            && is_json_value(tags.as_bytes());
        Self {
            record,
            tags,
            raw_tags,
        }
    }
}

/// A literal, then a string field cut to its limit and escaped. A macro rather than a
/// closure, so that each literal is copied with its known length.
macro_rules! field {
    ($sink:expr, $literal:expr, $text:expr, $max:expr) => {{
        $sink.raw($literal.as_bytes());
        $sink.json_escaped(truncate($text, $max).as_bytes());
    }};
}

impl Emit for HostHead<'_, '_> {
    fn emit<S: Sink>(&self, sink: &mut S) {
        let r = self.record;
        field!(sink, K_PREFIX, r.host.prefix, limits::PREFIX);
        field!(sink, K_HOSTNAME, r.host.hostname, limits::HOSTNAME);
        sink.raw(HOST_END.as_bytes());
        if self.raw_tags {
            sink.raw(TAGS_RAW.as_bytes());
            // Valid JSON holds raw CR and LF only as whitespace between tokens.
            sink.mapped(self.tags.as_bytes(), |b| match b {
                b'\n' | b'\r' => b' ',
                b => b,
            });
            sink.raw(TAGS_RAW_END.as_bytes());
        } else if !self.tags.is_empty() {
            sink.raw(TAGS_QUOTED.as_bytes());
            sink.json_escaped(self.tags.as_bytes());
            sink.raw(TAGS_STRING_END.as_bytes());
        }
    }
}

/// The chart's fields, up to the opening quote of the dimension id.
struct ChartHead<'r, 'a>(&'r Record<'a>);

impl Emit for ChartHead<'_, '_> {
    fn emit<S: Sink>(&self, sink: &mut S) {
        let r = self.0;
        field!(sink, K_CHART_ID, r.chart.id, limits::NAME);
        field!(sink, K_CHART_NAME, r.chart.name, limits::NAME);
        field!(sink, K_FAMILY, r.chart.family, limits::NAME);
        field!(sink, K_CONTEXT, r.chart.context, limits::NAME);
        field!(sink, K_TYPE, r.chart.chart_type, limits::NAME);
        field!(sink, K_UNITS, r.chart.units, limits::NAME);
        sink.raw(K_DIM_ID.as_bytes());
    }
}

/// What follows the head: the dimension's id and name, the numbers.
#[inline(always)]
fn emit_rest<S: Sink>(sink: &mut S, record: &Record<'_>, value: &[u8], timestamp: &[u8]) {
    sink.json_escaped(truncate(record.dimension.id, limits::NAME).as_bytes());
    field!(sink, K_DIM_NAME, record.dimension.name, limits::NAME);
    sink.raw(K_VALUE.as_bytes());
    sink.raw(value);
    sink.raw(K_TIMESTAMP.as_bytes());
    sink.raw(timestamp);
    sink.raw(END.as_bytes());
}

/// A record with its number texts.
struct Line<'r, 'a> {
    head: HostHead<'r, 'a>,
    value: &'r [u8],
    timestamp: &'r [u8],
}

impl<'r, 'a> Line<'r, 'a> {
    fn new(record: &'r Record<'a>, value: &'r mut ValueBuffer, ts: &'r mut IntBuffer) -> Self {
        Self {
            head: HostHead::new(record),
            value: value.bytes(record.value),
            timestamp: ts.i64_bytes(record.timestamp),
        }
    }
}

impl Emit for Line<'_, '_> {
    const MAX_LEN: usize = MAX_LINE_LEN;

    fn emit<S: Sink>(&self, sink: &mut S) {
        self.head.emit(sink);
        ChartHead(self.head.record).emit(sink);
        emit_rest(sink, self.head.record, self.value, self.timestamp);
    }
}

/// Tells `ChartPart::with_timestamp` which literals go around the timestamp.
const TIMESTAMP_TAG: u8 = 4;

/// A record from its chart part.
struct Prepared<'r, 'a> {
    head: &'r [u8],
    record: &'r Record<'a>,
    value: &'r [u8],
    /// The timestamp with the literals around it, to the end of the line.
    timestamp: &'r [u8],
}

impl Emit for Prepared<'_, '_> {
    #[inline]
    fn max_len(&self) -> usize {
        self.head.len()
            + 6 * 2 * limits::NAME
            + K_DIM_NAME.len()
            + K_VALUE.len()
            + ValueBuffer::MAX_STR_LEN
            + self.timestamp.len()
    }

    #[inline(always)]
    fn emit<S: Sink>(&self, sink: &mut S) {
        let r = self.record;
        sink.raw(self.head);
        sink.json_escaped(truncate(r.dimension.id, limits::NAME).as_bytes());
        field!(sink, K_DIM_NAME, r.dimension.name, limits::NAME);
        sink.raw(K_VALUE.as_bytes());
        sink.raw(self.value);
        sink.raw(self.timestamp);
    }
}

/// Whether `text` is exactly one JSON value (RFC 8259), with optional whitespace
/// around it, nested at most [`MAX_TAGS_DEPTH`] deep, and with no unpaired UTF-16
/// surrogate escape. Iterative: the open arrays and objects are bits of a `u64`.
fn is_json_value(text: &[u8]) -> bool {
    let mut p = Parser { s: text, i: 0 };
    let mut open = Nest { bits: 0, depth: 0 };
    let mut want_value = true;
    loop {
        p.skip_ws();
        if want_value {
            let ok = match p.peek() {
                Some(b'{') => {
                    p.i += 1;
                    p.skip_ws();
                    if !open.push(true) {
                        false
                    } else if p.eat(b'}') {
                        open.pop();
                        want_value = false;
                        true
                    } else {
                        p.key()
                    }
                }
                Some(b'[') => {
                    p.i += 1;
                    p.skip_ws();
                    let pushed = open.push(false);
                    if pushed && p.eat(b']') {
                        open.pop();
                        want_value = false;
                    }
                    pushed
                }
                Some(b'"') => {
                    want_value = false;
                    p.string()
                }
                Some(b'-' | b'0'..=b'9') => {
                    want_value = false;
                    p.number()
                }
                Some(b't') => {
                    want_value = false;
                    p.literal(b"true")
                }
                Some(b'f') => {
                    want_value = false;
                    p.literal(b"false")
                }
                Some(b'n') => {
                    want_value = false;
                    p.literal(b"null")
                }
                _ => false,
            };
            if !ok {
                return false;
            }
        } else {
            let Some(object) = open.top() else {
                return p.i == text.len();
            };
            if p.eat(b',') {
                want_value = true;
                if object && !p.key() {
                    return false;
                }
            } else if p.eat(if object { b'}' } else { b']' }) {
                open.pop();
            } else {
                return false;
            }
        }
    }
}

/// The open arrays (0) and objects (1), innermost in the lowest used bit.
struct Nest {
    bits: u64,
    depth: usize,
}

impl Nest {
    fn push(&mut self, object: bool) -> bool {
        if self.depth >= MAX_TAGS_DEPTH {
            return false;
        }
        self.bits = self.bits << 1 | u64::from(object);
        self.depth += 1;
        true
    }

    fn pop(&mut self) {
        self.bits >>= 1;
        self.depth = self.depth.saturating_sub(1);
    }

    fn top(&self) -> Option<bool> {
        (self.depth > 0).then_some(self.bits & 1 == 1)
    }
}

const _: () = assert!(MAX_TAGS_DEPTH <= u64::BITS as usize);

/// A position in the text being validated.
struct Parser<'s> {
    s: &'s [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.i += usize::from(hit);
        hit
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self
            .s
            .get(self.i..)
            .is_some_and(|rest| rest.starts_with(word));
        if hit {
            self.i += word.len();
        }
        hit
    }

    /// An object member's name and colon (whitespace around them skipped).
    fn key(&mut self) -> bool {
        self.skip_ws();
        if self.peek() != Some(b'"') || !self.string() {
            return false;
        }
        self.skip_ws();
        self.eat(b':')
    }

    /// A string starting at its opening quote. The text is UTF-8 already (a `str`).
    fn string(&mut self) -> bool {
        self.i += 1;
        loop {
            match self.next() {
                Some(b'"') => return true,
                Some(b'\\') => match self.next() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    Some(b'u') => match self.hex4() {
                        Some(0xd800..=0xdbff) => {
                            let low = if self.eat(b'\\') && self.eat(b'u') {
                                self.hex4()
                            } else {
                                None
                            };
                            if !matches!(low, Some(0xdc00..=0xdfff)) {
                                return false;
                            }
                        }
                        Some(0xdc00..=0xdfff) | None => return false,
                        Some(_) => {}
                    },
                    _ => return false,
                },
                Some(0x00..=0x1f) | None => return false,
                Some(_) => {}
            }
        }
    }

    fn hex4(&mut self) -> Option<u16> {
        let mut v = 0u16;
        for _ in 0..4 {
            let d = char::from(self.next()?).to_digit(16)?;
            v = v << 4 | d as u16;
        }
        Some(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> bool {
        self.eat(b'-');
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return false,
        }
        if self.eat(b'.') && self.digits() == 0 {
            return false;
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _sign = self.eat(b'+') || self.eat(b'-');
            if self.digits() == 0 {
                return false;
            }
        }
        true
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

    fn line(record: &Record<'_>) -> String {
        String::from_utf8(check(write, len, MAX_LINE_LEN, record)).unwrap()
    }

    const fn tagged(tags: &'static str) -> Record<'static> {
        let mut r = system_cpu();
        r.host.tags = tags;
        r.value = Value::Collected(63_945);
        r.timestamp = 1_609_459_195;
        r
    }

    /// The spec's elided `…` of `system.cpu`.
    const SYSTEM_CPU: &str = r#""chart_id":"system.cpu","chart_name":"system.cpu","chart_family":"cpu","chart_context": "system.cpu","chart_type":"system","units": "percentage","id":"user","name":"user""#;

    /// `name: record => expected line;`
    macro_rules! golden {
        ($($name:ident: $record:expr => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(line(&$record), $want);
            }
        )*};
    }

    golden! {
        spec_disk_util: disk_util() =>
            "{\"prefix\":\"netdata\",\"hostname\":\"myhost\",\"chart_id\":\"disk_util.dm-0\",\"chart_name\":\"disk_util.vg0-root\",\"chart_family\":\"vg0-root\",\"chart_context\": \"disk.util\",\"chart_type\":\"disk_util\",\"units\": \"% of time working\",\"id\":\"utilization\",\"name\":\"utilization\",\"value\":2.3362763,\"timestamp\": 1609459180}\n";
        ids_do_not_matter: Record { names: false, ..disk_util() } => line(&disk_util());
        spec_string_tags: tagged("env=prod;dc=eu") => std::format!(
            "{{\"prefix\":\"netdata\",\"hostname\":\"myhost\",\"host_tags\":\"env=prod;dc=eu\",{SYSTEM_CPU},\"value\":63945,\"timestamp\": 1609459195}}\n"
        );
        spec_raw_tags: tagged("{\"env\":\"prod\"}") => std::format!(
            "{{\"prefix\":\"netdata\",\"hostname\":\"myhost\",\"host_tags\":{{\"env\":\"prod\"}},{SYSTEM_CPU},\"value\":63945,\"timestamp\": 1609459195}}\n"
        );
        raw_array_and_string_tags: tagged("[1, \"a\"]") => std::format!(
            "{{\"prefix\":\"netdata\",\"hostname\":\"myhost\",\"host_tags\":[1, \"a\"],{SYSTEM_CPU},\"value\":63945,\"timestamp\": 1609459195}}\n"
        );
        invalid_json_tags_are_a_string: tagged("{\"env\":prod}") => std::format!(
            "{{\"prefix\":\"netdata\",\"hostname\":\"myhost\",\"host_tags\":\"{{\\\"env\\\":prod}}\",{SYSTEM_CPU},\"value\":63945,\"timestamp\": 1609459195}}\n"
        );
        raw_tags_lose_line_breaks: tagged("{\"a\":\r\n1}\n") => std::format!(
            "{{\"prefix\":\"netdata\",\"hostname\":\"myhost\",\"host_tags\":{{\"a\":  1}} ,{SYSTEM_CPU},\"value\":63945,\"timestamp\": 1609459195}}\n"
        );
        anchors_stored: gateway() =>
            String::from(r#"{"prefix":"netdata","hostname":"gateway-01","chart_id":"cpu.cpu0","chart_name":"cpu.cpu0","chart_family":"utilization","chart_context": "cpu.cpu","chart_type":"cpu","units": "percentage","id":"user","name":"user","value":44.4540436,"timestamp": 1609999997}"#) + "\n";
        anchors_collected: Record { value: Value::Collected(259_057), timestamp: 1_610_000_000, ..gateway() } =>
            String::from(r#"{"prefix":"netdata","hostname":"gateway-01","chart_id":"cpu.cpu0","chart_name":"cpu.cpu0","chart_family":"utilization","chart_context": "cpu.cpu","chart_type":"cpu","units": "percentage","id":"user","name":"user","value":259057,"timestamp": 1610000000}"#) + "\n";
        negative_zero: Record { value: stored(true, 0), ..system_cpu() } => std::format!(
            "{{\"prefix\":\"netdata\",\"hostname\":\"myhost\",{SYSTEM_CPU},\"value\":-0.0000000,\"timestamp\": 1609459180}}\n"
        );
        saturated: Record { value: stored(false, 16_777_215 * 100u128.pow(7) * 10_000_000), ..system_cpu() } => std::format!(
            "{{\"prefix\":\"netdata\",\"hostname\":\"myhost\",{SYSTEM_CPU},\"value\":1677721500000000000000.0000000,\"timestamp\": 1609459180}}\n"
        );
        escaped_strings: Record {
            host: HostMeta { prefix: "a\"b", hostname: "h\\\n", tags: "" },
            ..system_cpu()
        } => std::format!(
            "{{\"prefix\":\"a\\\"b\",\"hostname\":\"h\\\\\\n\",{SYSTEM_CPU},\"value\":2.3362763,\"timestamp\": 1609459180}}\n"
        );
    }

    /// `name: "text" => valid?;` for the host tags validator, checked against serde_json.
    macro_rules! validator {
        ($($name:ident: $text:expr => $valid:expr;)*) => {$(
            #[test]
            fn $name() {
                let text: &str = $text;
                assert_eq!(is_json_value(text.as_bytes()), $valid, "{text:?}");
                let serde = serde_json::from_str::<serde_json::Value>(text).is_ok();
                assert_eq!(serde, $valid, "serde_json disagrees on {text:?}");
            }
        )*};
    }

    validator! {
        v_object: r#"{"a": [1, -2.5e+3, true, false, null, "x"], "b": {}}"# => true;
        v_array: "[]" => true;
        v_nested: r#"[[[{"a":[{}]}]]]"# => true;
        v_string: r#""tag""# => true;
        v_escapes: r#""\" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00""# => true;
        v_trailing_ws: "{\"a\":1} \t\r\n" => true;
        v_inner_ws: "[ 1 ,\n2 ]" => true;
        v_numbers: "[0, -0, 1.5, 1e5, 1E-5, 10.01e+2]" => true;
        v_empty: "" => false;
        v_two_values: "{} {}" => false;
        v_trailing_comma: "[1,]" => false;
        v_object_trailing_comma: r#"{"a":1,}"# => false;
        v_missing_colon: r#"{"a" 1}"# => false;
        v_bare_key: "{a:1}" => false;
        v_number_key: "{1:1}" => false;
        v_unclosed: r#"{"a":[1}"# => false;
        v_mismatched: "[1}" => false;
        v_unterminated_string: r#""abc"# => false;
        v_raw_newline_in_string: "\"a\nb\"" => false;
        v_raw_tab_in_string: "\"a\tb\"" => false;
        v_bad_escape: r#""\x""# => false;
        v_short_unicode: r#""\u12""# => false;
        v_lone_high_surrogate: r#""\ud83d""# => false;
        v_lone_low_surrogate: r#""\ude00""# => false;
        v_leading_zero: "[01]" => false;
        v_bare_minus: "[-]" => false;
        v_dot_without_digits: "[1.]" => false;
        v_exponent_without_digits: "[1e]" => false;
        v_plus_sign: "[+1]" => false;
        v_bad_literal: "[tru]" => false;
        v_nan: "[NaN]" => false;
        v_single_quotes: "{'a':1}" => false;
        v_comment: "[1 /* c */]" => false;
        v_lone_close: "]" => false;
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = "[".repeat(MAX_TAGS_DEPTH) + &"]".repeat(MAX_TAGS_DEPTH);
        assert!(is_json_value(ok.as_bytes()));
        let deep = "[".repeat(MAX_TAGS_DEPTH + 1) + &"]".repeat(MAX_TAGS_DEPTH + 1);
        assert!(!is_json_value(deep.as_bytes()));
        let objects = r#"{"a":"#.repeat(MAX_TAGS_DEPTH) + "1" + &"}".repeat(MAX_TAGS_DEPTH);
        assert!(is_json_value(objects.as_bytes()));
        // Too deep: written as a string, and the line is still valid JSON.
        let record = Record {
            host: HostMeta {
                tags: &deep,
                ..system_cpu().host
            },
            ..system_cpu()
        };
        let text = line(&record);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["host_tags"], deep.as_str());
    }

    #[test]
    fn maximal_record_is_max_line_len() {
        assert_eq!(line(&maximal("\u{1}")).len(), MAX_LINE_LEN);
        // Quotes cost two bytes each, raw tags at most their own length.
        assert!(line(&maximal("\"")).len() < MAX_LINE_LEN);
    }

    #[test]
    fn hostile_inputs_give_one_valid_object_per_line() {
        for record in hostile_records() {
            let text = line(&record);
            let body = text.strip_suffix('\n').expect("ends with a newline");
            assert!(!body.contains(['\n', '\r']), "{text:?}");
            let value: serde_json::Value = serde_json::from_str(body).expect(&text);
            let object = value.as_object().unwrap();
            let mut keys: std::vec::Vec<&str> = object.keys().map(String::as_str).collect();
            keys.sort_unstable();
            let mut want = std::vec![
                "prefix",
                "hostname",
                "host_tags",
                "chart_id",
                "chart_name",
                "chart_family",
                "chart_context",
                "chart_type",
                "units",
                "id",
                "name",
                "value",
                "timestamp",
            ];
            if record.host.tags.is_empty() {
                want.remove(2);
            }
            let mut sorted = want.clone();
            sorted.sort_unstable();
            assert_eq!(keys, sorted, "{text:?}");
            // Every string field round-trips to the (cut) original.
            for (key, original, max) in [
                ("prefix", record.host.prefix, limits::PREFIX),
                ("hostname", record.host.hostname, limits::HOSTNAME),
                ("chart_id", record.chart.id, limits::NAME),
                ("chart_name", record.chart.name, limits::NAME),
                ("chart_family", record.chart.family, limits::NAME),
                ("chart_context", record.chart.context, limits::NAME),
                ("chart_type", record.chart.chart_type, limits::NAME),
                ("units", record.chart.units, limits::NAME),
                ("id", record.dimension.id, limits::NAME),
                ("name", record.dimension.name, limits::NAME),
            ] {
                assert_eq!(object[key], truncate(original, max), "{key} in {text:?}");
            }
            let tags = truncate(record.host.tags, limits::TAGS);
            if let Some(host_tags) = object.get("host_tags") {
                match host_tags.as_str() {
                    Some(s) if s == tags => {}
                    _ => {
                        let pasted: serde_json::Value = serde_json::from_str(tags).unwrap();
                        assert_eq!(*host_tags, pasted, "{text:?}");
                    }
                }
            }
            assert!(object["value"].is_number() && object["timestamp"].is_i64());
        }
    }
}
