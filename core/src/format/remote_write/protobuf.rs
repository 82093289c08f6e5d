//! The protobuf encoding of a remote-write 1.0 `WriteRequest`, written into a caller
//! buffer one whole `TimeSeries` at a time.
//!
//! ```text
//! message WriteRequest { repeated TimeSeries timeseries = 1; }
//! message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//! message Label        { string name = 1; string value = 2; }
//! message Sample       { double value = 1; int64 timestamp = 2; }
//! ```
//!
//! The bytes are the ones libprotobuf writes for these proto3 messages: fields in field
//! number order, repeated fields in the order given, nested messages length-delimited.
//! Fields holding their default value are omitted: an empty string, a zero timestamp and a
//! `+0.0` value. `-0.0` is *not* the default (proto3 compares a float field's bit pattern,
//! as libprotobuf, protobuf-java and protobuf-go do), so it is written and survives the
//! round trip. Every `TimeSeries` carries exactly one `Sample`.
//!
//! The encoder sizes each message before writing it ([`TimeSeries::compute_size`]), so a
//! series is appended whole or not at all. A `WriteRequest` is nothing but its sequence of
//! `timeseries` fields, so the bytes written so far are always a complete message.

use super::varint::{fill_varint, sizeof_varint, sizeof_varint_i64};
use crate::format::text::{copy_bytes, Pieces};
use crate::format::BufferFull;

/// Field 1, wire type 2 (length-delimited): `WriteRequest.timeseries`,
/// `TimeSeries.labels` and `Label.name`.
const TAG_1_LEN: u8 = 0x0a;
/// Field 2, wire type 2: `TimeSeries.samples` and `Label.value`.
const TAG_2_LEN: u8 = 0x12;
/// Field 1, wire type 1 (64-bit): `Sample.value`.
const TAG_1_FIXED64: u8 = 0x09;
/// Field 2, wire type 0 (varint): `Sample.timestamp`.
const TAG_2_VARINT: u8 = 0x10;

/// One label of a series: a name and a UTF-8 value, sent as they are (no escaping).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Label<'a> {
    /// The label name, e.g. `__name__` or `instance`.
    pub name: &'a str,
    /// The label value.
    pub value: &'a str,
}

impl<'a> Label<'a> {
    /// A label.
    #[must_use]
    pub const fn new(name: &'a str, value: &'a str) -> Self {
        Self { name, value }
    }

    /// The size of the encoded `Label` message, without its own tag and length.
    #[must_use]
    pub const fn compute_size(&self) -> usize {
        label_size(self.name.len(), self.value.len())
    }
}

/// One sample: a value and a timestamp in milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sample {
    /// The value; any `f64`, NaN payloads (such as Prometheus' stale marker) included,
    /// is sent bit for bit.
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
}

impl Sample {
    /// A sample.
    #[must_use]
    pub const fn new(value: f64, timestamp: i64) -> Self {
        Self { value, timestamp }
    }

    /// The size of the encoded `Sample` message, without its own tag and length.
    #[must_use]
    pub const fn compute_size(&self) -> usize {
        let value = if self.value.to_bits() == 0 { 0 } else { 1 + 8 };
        let timestamp = if self.timestamp == 0 {
            0
        } else {
            1 + sizeof_varint_i64(self.timestamp)
        };
        value + timestamp
    }
}

/// One series: its labels, in the order they are sent, and one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TimeSeries<'a> {
    /// The labels, sent in this order (remote write wants them sorted by name, see
    /// [`sort_labels`](super::sort_labels)).
    pub labels: &'a [Label<'a>],
    /// The sample.
    pub sample: Sample,
}

impl TimeSeries<'_> {
    /// The size of the encoded `TimeSeries` message, without its own tag and length.
    #[must_use]
    pub const fn compute_size(&self) -> usize {
        let mut size = nested_field_len(self.sample.compute_size());
        let mut i = 0;
        while i < self.labels.len() {
            size = size.saturating_add(nested_field_len(self.labels[i].compute_size()));
            i += 1;
        }
        size
    }

    /// The number of bytes this series adds to a `WriteRequest`: its
    /// [`compute_size`](Self::compute_size) plus the field tag and length.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        nested_field_len(self.compute_size())
    }

    /// Writes this series as one `WriteRequest.timeseries` field at the start of `out` and
    /// returns its length ([`encoded_len`](Self::encoded_len)). Concatenated fields form a
    /// `WriteRequest`.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` is shorter than the field; `out` is then left untouched.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferFull> {
        let size = self.compute_size();
        let len = nested_field_len(size);
        let dst = out.get_mut(..len).ok_or(BufferFull)?;
        let mut sink = Sink { buf: dst, pos: 0 };
        sink.len_prefix(TAG_1_LEN, size);
        for label in self.labels {
            sink.label(label);
        }
        sink.len_prefix(TAG_2_LEN, self.sample.compute_size());
        let bits = self.sample.value.to_bits();
        if bits != 0 {
            sink.byte(TAG_1_FIXED64);
            sink.bytes(&bits.to_le_bytes());
        }
        if self.sample.timestamp != 0 {
            sink.byte(TAG_2_VARINT);
            sink.varint(self.sample.timestamp as u64);
        }
        debug_assert_eq!(sink.pos, len, "compute_size disagrees with the writer");
        Ok(len)
    }
}

/// The bytes `labels` take as label fields of a `TimeSeries`.
#[inline]
pub(crate) const fn labels_len(labels: &[Label<'_>]) -> usize {
    let mut size = 0usize;
    let mut i = 0;
    while i < labels.len() {
        size = size.saturating_add(nested_field_len(labels[i].compute_size()));
        i += 1;
    }
    size
}

/// The length of the label fields of the `(name, value)` pairs of `labels` whose value
/// is not empty, as [`write_byte_labels`] writes them: [`labels_len`] for names and
/// values already known to be text (names built from ASCII), without a UTF-8 check.
pub(crate) fn byte_labels_len(labels: &[(&[u8], &[u8])]) -> usize {
    labels
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| nested_field_len(label_size(name.len(), value.len())))
        .fold(0, usize::saturating_add)
}

/// Writes the `(name, value)` pairs of `labels` whose value is not empty as label fields
/// into `out`, which must be exactly [`byte_labels_len`] long ([`BufferFull`] otherwise,
/// with `out` holding a part of the labels).
pub(crate) fn write_byte_labels(
    labels: &[(&[u8], &[u8])],
    out: &mut [u8],
) -> Result<(), BufferFull> {
    let len = out.len();
    let mut sink = Sink { buf: out, pos: 0 };
    for &(name, value) in labels {
        if !value.is_empty() {
            sink.label_bytes(name, value);
        }
    }
    // The sink drops what does not fit: a length other than `out`'s is reported, as
    // a wrong `out` would be.
    if sink.pos == len {
        Ok(())
    } else {
        Err(BufferFull)
    }
}

/// Writes `labels` as label fields of a `TimeSeries` into `out`, which must be exactly
/// [`labels_len`] long.
pub(crate) fn write_labels(labels: &[Label<'_>], out: &mut [u8]) -> Result<(), BufferFull> {
    if out.len() != labels_len(labels) {
        return Err(BufferFull);
    }
    let mut sink = Sink { buf: out, pos: 0 };
    for label in labels {
        sink.label(label);
    }
    Ok(())
}

/// Writes one `WriteRequest.timeseries` field made of `head` (label fields already
/// encoded, see [`write_labels`]), `labels`, `tail` (encoded label fields) and a sample
/// of the value `bits` (an `f64`'s) and `timestamp`, the sample's encoded timestamp field
/// ([`timestamp_field`]), at the start of `out`; returns its length: the bytes of a
/// [`TimeSeries`] of all those labels in that order.
///
/// # Errors
///
/// [`BufferFull`] if `out` is shorter than the field; `out` is then left untouched.
#[inline]
pub(crate) fn encode_series_parts(
    head: &[u8],
    labels: &[Label<'_>],
    tail: &[u8],
    bits: u64,
    timestamp: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferFull> {
    let sample_size = if bits == 0 { 0 } else { 1 + 8 } + timestamp.len();
    if let [label] = labels {
        if let Some(n) = encode_one_label_fast(head, label, tail, bits, timestamp, sample_size, out)
        {
            return n;
        }
    }
    let size = head.len() + labels_len(labels) + tail.len() + nested_field_len(sample_size);
    let len = nested_field_len(size);
    let dst = out.get_mut(..len).ok_or(BufferFull)?;
    let mut sink = Sink { buf: dst, pos: 0 };
    sink.len_prefix(TAG_1_LEN, size);
    sink.bytes(head);
    for label in labels {
        sink.label(label);
    }
    sink.bytes(tail);
    sink.len_prefix(TAG_2_LEN, sample_size);
    if bits != 0 {
        sink.byte(TAG_1_FIXED64);
        sink.bytes(&bits.to_le_bytes());
    }
    sink.bytes(timestamp);
    debug_assert_eq!(sink.pos, len, "the size disagrees with the writer");
    Ok(len)
}

/// [`encode_series_parts`] with one label when every length is one byte (a label name
/// and value below 128 bytes together, a sample below 128 bytes) and the series is
/// below 2^14 bytes, the usual case: the same bytes, written in one pass without the
/// general size arithmetic. `None` when the case does not apply.
#[inline(always)]
fn encode_one_label_fast(
    head: &[u8],
    label: &Label<'_>,
    tail: &[u8],
    bits: u64,
    timestamp: &[u8],
    sample_size: usize,
    out: &mut [u8],
) -> Option<Result<usize, BufferFull>> {
    let (name, value) = (label.name.as_bytes(), label.value.as_bytes());
    let label_size = 4 + name.len() + value.len();
    if name.is_empty() || value.is_empty() || label_size >= 0x80 || sample_size >= 0x80 {
        return None;
    }
    let size = head.len() + 2 + label_size + tail.len() + 2 + sample_size;
    if size >= 0x4000 {
        return None;
    }
    let (prefix, prefix_len) = if size < 0x80 {
        ([TAG_1_LEN, size as u8, 0], 2)
    } else {
        ([TAG_1_LEN, size as u8 | 0x80, (size >> 7) as u8], 3)
    };
    let len = prefix_len + size;
    let Ok(mut w) = Pieces::new(out, len) else {
        return Some(Err(BufferFull));
    };
    w.put(prefix.get(..prefix_len).unwrap_or(&prefix));
    w.put_long(head);
    w.put(&[TAG_1_LEN, label_size as u8, TAG_1_LEN, name.len() as u8]);
    w.put(name);
    w.put(&[TAG_2_LEN, value.len() as u8]);
    w.put(value);
    w.put(tail);
    w.put(&[TAG_2_LEN, sample_size as u8]);
    if bits != 0 {
        w.put(&[TAG_1_FIXED64]);
        w.put(&bits.to_le_bytes());
    }
    w.put(timestamp);
    Some(Ok(len))
}

/// Writes a sample's timestamp field for `timestamp` (ms) into `out` and returns its
/// length: nothing for 0 (the default), else the tag and the varint (at most 11 bytes).
pub(crate) fn timestamp_field(timestamp: i64, out: &mut [u8]) -> usize {
    if timestamp == 0 {
        return 0;
    }
    let n = sizeof_varint(timestamp as u64);
    match out.get_mut(..1 + n) {
        Some(dst) => {
            dst[0] = TAG_2_VARINT;
            fill_varint(timestamp as u64, &mut dst[1..]);
            1 + n
        }
        None => 0,
    }
}

/// The length of a string field holding `len` bytes: nothing when empty (the default).
const fn string_field_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        nested_field_len(len)
    }
}

/// The size of a `Label` message of a name and a value of these lengths (an empty string
/// is left out).
const fn label_size(name_len: usize, value_len: usize) -> usize {
    string_field_len(name_len).saturating_add(string_field_len(value_len))
}

/// The length of a length-delimited field (one-byte tag) whose payload is `size` bytes.
const fn nested_field_len(size: usize) -> usize {
    (1 + sizeof_varint(size as u64)).saturating_add(size)
}

/// The writing end of the encoder: a cursor over a slice already checked to be exactly
/// as long as what is written, so no write can fail; a write past the end (a sizing bug)
/// is dropped rather than panicking.
#[derive(Debug)]
struct Sink<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Sink<'_> {
    #[inline]
    fn bytes(&mut self, src: &[u8]) {
        let end = self.pos.saturating_add(src.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            copy_bytes(dst, src);
        }
        self.pos = end;
    }

    #[inline]
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.pos) {
            *slot = b;
        }
        self.pos = self.pos.saturating_add(1);
    }

    #[inline]
    fn varint(&mut self, value: u64) {
        if value < 0x80 {
            // One byte: the usual length of a label or a string.
            return self.byte(value as u8);
        }
        if value < 0x4000 {
            // Two bytes: the usual length of a series.
            if let Some(dst) = self.buf.get_mut(self.pos..self.pos + 2) {
                dst.copy_from_slice(&[value as u8 | 0x80, (value >> 7) as u8]);
            }
            self.pos = self.pos.saturating_add(2);
            return;
        }
        let end = self.pos.saturating_add(sizeof_varint(value));
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            fill_varint(value, dst);
        }
        self.pos = end;
    }

    #[inline]
    fn len_prefix(&mut self, tag: u8, size: usize) {
        self.byte(tag);
        self.varint(size as u64);
    }

    /// One `TimeSeries.labels` field.
    #[inline]
    fn label(&mut self, label: &Label<'_>) {
        self.label_bytes(label.name.as_bytes(), label.value.as_bytes());
    }

    /// One `TimeSeries.labels` field from the bytes of its name and value.
    #[inline]
    fn label_bytes(&mut self, name: &[u8], value: &[u8]) {
        let size = 4 + name.len() + value.len();
        // Both strings present and every length one byte, the usual case: the same bytes
        // as the general path below, with fewer steps.
        if !name.is_empty() && !value.is_empty() && size < 0x80 {
            let end = self.pos.saturating_add(2 + size);
            if let Some(dst) = self.buf.get_mut(self.pos..end) {
                if let Some((head, rest)) = dst.split_first_chunk_mut::<4>() {
                    *head = [TAG_1_LEN, size as u8, TAG_1_LEN, name.len() as u8];
                    let (name_dst, rest) = rest.split_at_mut(name.len().min(rest.len()));
                    copy_bytes(name_dst, name);
                    if let Some((tag, value_dst)) = rest.split_first_chunk_mut::<2>() {
                        *tag = [TAG_2_LEN, value.len() as u8];
                        copy_bytes(value_dst, value);
                    }
                }
            }
            self.pos = end;
            return;
        }
        self.len_prefix(TAG_1_LEN, label_size(name.len(), value.len()));
        self.string(TAG_1_LEN, name);
        self.string(TAG_2_LEN, value);
    }

    #[inline]
    fn string(&mut self, tag: u8, s: &[u8]) {
        if !s.is_empty() {
            self.len_prefix(tag, s.len());
            self.bytes(s);
        }
    }
}

/// Builds a `WriteRequest` in a caller buffer, one whole series at a time.
///
/// # Examples
///
/// ```
/// use backhaul_core::format::remote_write::{Label, Sample, WriteRequestEncoder};
///
/// let mut buf = [0u8; 64];
/// let mut request = WriteRequestEncoder::new(&mut buf);
/// let labels = [Label::new("__name__", "up")];
/// request.push_series(&labels, Sample::new(1.0, 1_000)).unwrap();
/// assert_eq!(request.series(), 1);
/// let len = request.finish();
/// assert_eq!(len, 32);
/// assert_eq!(&buf[..4], &[0x0a, 0x1e, 0x0a, 0x0e]);
/// ```
#[derive(Debug)]
pub struct WriteRequestEncoder<'o> {
    out: &'o mut [u8],
    len: usize,
    series: usize,
}

impl<'o> WriteRequestEncoder<'o> {
    /// An empty request that will be written at the start of `out`.
    #[must_use]
    pub fn new(out: &'o mut [u8]) -> Self {
        Self {
            out,
            len: 0,
            series: 0,
        }
    }

    /// Appends one `TimeSeries` with these labels, in this order, and one sample.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if the whole series does not fit in the rest of the buffer; nothing
    /// is written then, and the request stays as it was.
    pub fn push_series(&mut self, labels: &[Label<'_>], sample: Sample) -> Result<(), BufferFull> {
        self.push(&TimeSeries { labels, sample })
    }

    /// Appends one `TimeSeries`, as [`push_series`](Self::push_series).
    ///
    /// # Errors
    ///
    /// [`BufferFull`], writing nothing, if it does not fit.
    pub fn push(&mut self, series: &TimeSeries<'_>) -> Result<(), BufferFull> {
        let rest = self.out.get_mut(self.len..).ok_or(BufferFull)?;
        self.len += series.encode(rest)?;
        self.series += 1;
        Ok(())
    }

    /// The request's length so far, in bytes.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no series was written yet (an empty `WriteRequest` has no bytes).
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of series written.
    #[must_use]
    pub const fn series(&self) -> usize {
        self.series
    }

    /// The free space left in the buffer.
    #[must_use]
    pub const fn remaining(&self) -> usize {
        self.out.len() - self.len
    }

    /// The request written so far.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.out.get(..self.len).unwrap_or(&[])
    }

    /// Forgets every series, to build the next request in the same buffer.
    pub fn clear(&mut self) {
        self.len = 0;
        self.series = 0;
    }

    /// Ends the request: its length, the bytes at the start of the buffer.
    #[must_use]
    pub const fn finish(self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    /// The three series of the specification's example, labels in netdata's order.
    const INFO: [Label<'static>; 4] = [
        Label::new("__name__", "netdata_info"),
        Label::new("instance", "myhost"),
        Label::new("application", "netdata"),
        Label::new("version", "v1.28.0"),
    ];
    const USER: [Label<'static>; 5] = [
        Label::new("__name__", "netdata_system_cpu_percentage_average"),
        Label::new("chart", "system.cpu"),
        Label::new("family", "cpu"),
        Label::new("dimension", "user"),
        Label::new("instance", "myhost"),
    ];
    const IDLE: [Label<'static>; 5] = [
        USER[0],
        USER[1],
        USER[2],
        Label::new("dimension", "idle"),
        USER[4],
    ];

    /// The specification's 395 bytes (section 4.5), one series per line.
    static EXAMPLE: [&[u8]; 3] = [
        b"\x0a\x6c\x0a\x18\x0a\x08__name__\x12\x0cnetdata_info\x0a\x12\x0a\x08instance\x12\x06myhost\
          \x0a\x16\x0a\x0bapplication\x12\x07netdata\x0a\x12\x0a\x07version\x12\x07v1.28.0\
          \x12\x10\x09\x00\x00\x00\x00\x00\x00\xf0\x3f\x10\xfb\xe0\xf9\xd9\xeb\x2e",
        b"\x0a\x90\x01\x0a\x31\x0a\x08__name__\x12\x25netdata_system_cpu_percentage_average\
          \x0a\x13\x0a\x05chart\x12\x0asystem.cpu\x0a\x0d\x0a\x06family\x12\x03cpu\
          \x0a\x11\x0a\x09dimension\x12\x04user\x0a\x12\x0a\x08instance\x12\x06myhost\
          \x12\x10\x09\x9f\x62\x8b\x93\xb1\xb0\x02\x40\x10\xf0\x91\xf9\xd9\xeb\x2e",
        b"\x0a\x87\x01\x0a\x31\x0a\x08__name__\x12\x25netdata_system_cpu_percentage_average\
          \x0a\x13\x0a\x05chart\x12\x0asystem.cpu\x0a\x0d\x0a\x06family\x12\x03cpu\
          \x0a\x11\x0a\x09dimension\x12\x04idle\x0a\x12\x0a\x08instance\x12\x06myhost\
          \x12\x07\x10\xf0\x91\xf9\xd9\xeb\x2e",
    ];

    #[test]
    fn reproduces_the_specification_example() {
        let mut buf = [0u8; 512];
        let mut request = WriteRequestEncoder::new(&mut buf);
        request
            .push_series(&INFO, Sample::new(1.0, 1_609_459_200_123))
            .unwrap();
        request
            .push_series(&USER, Sample::new(2.336_276_2, 1_609_459_190_000))
            .unwrap();
        request
            .push_series(&IDLE, Sample::new(0.0, 1_609_459_190_000))
            .unwrap();
        assert_eq!(request.series(), 3);
        let len = request.finish();
        assert_eq!(len, 395);
        let mut at = 0;
        for expected in EXAMPLE {
            assert_eq!(&buf[at..at + expected.len()], expected);
            at += expected.len();
        }
        assert_eq!(at, len);
    }

    #[test]
    fn defaults_are_omitted_but_negative_zero_is_not() {
        let labels = [Label::new("a", "")];
        let mut buf = [0u8; 64];
        let n = TimeSeries {
            labels: &labels,
            sample: Sample::new(0.0, 0),
        }
        .encode(&mut buf)
        .unwrap();
        // timeseries { labels { name "a" } samples {} }
        assert_eq!(&buf[..n], b"\x0a\x07\x0a\x03\x0a\x01a\x12\x00");
        let n = TimeSeries {
            labels: &[],
            sample: Sample::new(-0.0, -1),
        }
        .encode(&mut buf)
        .unwrap();
        assert_eq!(
            &buf[..n],
            b"\x0a\x16\x12\x14\x09\x00\x00\x00\x00\x00\x00\x00\x80\
              \x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"
        );
        let empty = Label::default();
        assert_eq!(empty.compute_size(), 0);
        let n = TimeSeries {
            labels: &[empty],
            sample: Sample::default(),
        }
        .encode(&mut buf)
        .unwrap();
        assert_eq!(&buf[..n], b"\x0a\x04\x0a\x00\x12\x00");
    }

    #[test]
    fn nan_payloads_are_sent_bit_for_bit() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let mut buf = [0u8; 32];
        let n = TimeSeries {
            labels: &[],
            sample: Sample::new(stale, 0),
        }
        .encode(&mut buf)
        .unwrap();
        assert_eq!(
            &buf[..n],
            b"\x0a\x0b\x12\x09\x09\x02\x00\x00\x00\x00\x00\xf0\x7f"
        );
    }

    #[test]
    fn sizes_match_what_is_written() {
        // 200 bytes: the lengths need two varint bytes.
        let long = "x".repeat(200);
        let long = long.as_str();
        let labels = [
            Label::new(long, long),
            Label::new("", long),
            Label::new(long, ""),
        ];
        for sample in [
            Sample::new(1.5, 1),
            Sample::new(0.0, i64::MIN),
            Sample::default(),
        ] {
            let series = TimeSeries {
                labels: &labels,
                sample,
            };
            let mut buf = [0u8; 1024];
            assert_eq!(series.encode(&mut buf), Ok(series.encoded_len()));
        }
    }

    #[test]
    fn a_series_that_does_not_fit_is_not_written() {
        let mut buf = [0xeeu8; 150];
        let mut request = WriteRequestEncoder::new(&mut buf);
        request.push_series(&USER, Sample::new(1.0, 1)).unwrap();
        let first = request.len();
        assert_eq!(
            request.push_series(&USER, Sample::new(1.0, 1)),
            Err(BufferFull)
        );
        assert_eq!(request.len(), first);
        assert_eq!(request.series(), 1);
        assert_eq!(request.remaining(), 150 - first);
        let len = request.finish();
        assert!(buf[len..].iter().all(|&b| b == 0xee));
        let mut nothing = WriteRequestEncoder::new(&mut []);
        assert_eq!(nothing.push_series(&[], Sample::default()), Err(BufferFull));
        assert!(nothing.is_empty());
        assert_eq!(nothing.as_bytes(), b"");
    }
}
