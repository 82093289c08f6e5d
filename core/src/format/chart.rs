//! Records prepared per chart: the bytes of a record that depend only on its host and its
//! chart, computed once for all the dimensions of the chart.
//!
//! Most of a line is the same for every dimension of a chart: Graphite's
//! `PREFIX.HOSTNAME.CHART.` and `;TAGS`, OpenTSDB's `put PREFIX.CHART.` and
//! ` host=HOSTNAME TAGS`, the JSON line's escaped host and chart fields, remote write's
//! `__name__`, `chart`, `family` and `instance` labels. Sanitising or escaping them again
//! for every dimension is most of the cost of a line. A [`ChartFormat`] splits a record
//! into that **chart part** ([`ChartFormat::write_chart_part`], into a [`ChartPart`]) and
//! the per-dimension rest ([`ChartFormat::write_with_chart_part`]); the bytes are exactly
//! those of the format's per-record `write` function, whatever the names (the tests
//! check it for hostile and random names, at and beyond every limit).
//!
//! A [`ChartCache`] keeps the chart part of the last chart written and prepares a new one
//! only when a record of another chart comes: that is how the
//! [engine](crate::engine::Engine) formats records (see
//! [`RecordFormat::write_cached`]).
//!
//! ```
//! use backhaul_core::format::chart::ChartCache;
//! use backhaul_core::format::graphite::{self, Graphite};
//! use backhaul_core::format::{ChartMeta, DimensionMeta, HostMeta, Record, Value};
//!
//! let mut record = Record {
//!     host: HostMeta { prefix: "netdata", hostname: "myhost", tags: "" },
//!     chart: ChartMeta {
//!         id: "system.cpu",
//!         name: "system.cpu",
//!         family: "cpu",
//!         context: "system.cpu",
//!         chart_type: "system",
//!         units: "percentage",
//!     },
//!     dimension: DimensionMeta { id: "user", name: "user" },
//!     names: true,
//!     value: Value::Collected(5),
//!     timestamp: 1_609_459_195,
//! };
//! let mut cache = ChartCache::new();
//! let mut out = [0u8; graphite::MAX_LINE_LEN];
//! let n = cache.write(&Graphite, &record, &mut out)?;
//! assert_eq!(&out[..n], b"netdata.myhost.system.cpu.user 5 1609459195\n");
//! // The next dimension of the chart reuses `netdata.myhost.system.cpu.`.
//! record.dimension = DimensionMeta { id: "system", name: "system" };
//! let n = cache.write(&Graphite, &record, &mut out)?;
//! assert_eq!(&out[..n], b"netdata.myhost.system.cpu.system 5 1609459195\n");
//! # Ok::<(), backhaul_core::format::BufferFull>(())
//! ```

use super::text::{self, Emit};
use super::{BufferFull, Record};
use crate::engine::RecordFormat;
use crate::number::IntBuffer;

/// The longest chart part a [`ChartPart`] holds (host and chart bytes together). A
/// chart whose part is longer (a host name, prefix or tags near their limits) is written
/// record by record instead, with the same bytes.
pub const CHART_PART_CAPACITY: usize = 512;

/// The most strings a chart key has (see [`ChartFormat::chart_strs`]).
pub const CHART_KEY_STRS: usize = 6;

/// The bytes of a record that depend only on its host and chart: a head, written before
/// the dimension, and a tail, written after it (where each goes is the format's
/// business). The head starts with the host's bytes and the tail is the host's (every
/// format puts the chart before the dimension), so a new chart of the same host only
/// rewrites the chart's bytes. Also remembers the text of the last timestamp written
/// with it.
#[derive(Clone, Debug)]
pub struct ChartPart {
    buf: [u8; CHART_PART_CAPACITY],
    /// `buf[..host]`: the host's part of the head.
    host: usize,
    /// `buf[..head]`: the head (host and chart).
    head: usize,
    /// `buf[tail..]`: the tail (chart, then host).
    tail: usize,
    /// `buf[host_tail..]`: the host's part of the tail.
    host_tail: usize,
    timestamp: TimestampText,
}

impl ChartPart {
    /// An empty part.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: [0; CHART_PART_CAPACITY],
            host: 0,
            head: 0,
            tail: CHART_PART_CAPACITY,
            host_tail: CHART_PART_CAPACITY,
            timestamp: TimestampText::new(),
        }
    }

    /// The bytes that go before the dimension.
    #[must_use]
    pub fn head(&self) -> &[u8] {
        self.buf.get(..self.head).unwrap_or(&[])
    }

    /// The bytes that go after the dimension.
    #[must_use]
    pub fn tail(&self) -> &[u8] {
        self.buf.get(self.tail..).unwrap_or(&[])
    }

    /// The head and tail lengths together.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.head + (CHART_PART_CAPACITY - self.tail)
    }

    /// Whether both head and tail are empty.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything but the timestamp.
    fn reset(&mut self) {
        self.host = 0;
        self.head = 0;
        self.tail = CHART_PART_CAPACITY;
        self.host_tail = CHART_PART_CAPACITY;
    }

    /// Sets the host's bytes: `head` starts the head, `tail` ends the tail; the chart's
    /// bytes are forgotten. Returns [`BufferFull`] (leaving the part empty) if they do not
    /// fit [`CHART_PART_CAPACITY`] together.
    pub(super) fn set_host<H: Emit, T: Emit>(
        &mut self,
        head: &H,
        tail: &T,
    ) -> Result<(), BufferFull> {
        self.reset();
        let t = text::measure(tail);
        let start = CHART_PART_CAPACITY.checked_sub(t).ok_or(BufferFull)?;
        let h = text::write_measured(head, self.buf.get_mut(..start).unwrap_or(&mut []))?;
        text::write_measured(tail, self.buf.get_mut(start..).unwrap_or(&mut []))?;
        self.host = h;
        self.head = h;
        self.tail = start;
        self.host_tail = start;
        Ok(())
    }

    /// [`set_host`](Self::set_host) with bytes that `fill` writes into a head of
    /// `head_len` bytes and a tail of `tail_len` bytes.
    pub(super) fn set_host_bytes(
        &mut self,
        head_len: usize,
        tail_len: usize,
        fill: impl FnOnce(&mut [u8], &mut [u8]) -> Result<(), BufferFull>,
    ) -> Result<(), BufferFull> {
        self.reset();
        let start = CHART_PART_CAPACITY
            .checked_sub(tail_len)
            .filter(|&start| head_len <= start)
            .ok_or(BufferFull)?;
        let (head, rest) = self.buf.split_at_mut(head_len);
        let tail = rest.get_mut(start - head_len..).ok_or(BufferFull)?;
        fill(head, tail)?;
        self.host = head_len;
        self.head = head_len;
        self.tail = start;
        self.host_tail = start;
        Ok(())
    }

    /// Sets the chart's bytes: a head of `head_len` bytes after the host's head and a
    /// tail of `tail_len` bytes before the host's tail, which `fill` writes. Returns
    /// [`BufferFull`] (the part is then the host's alone) if they do not fit.
    pub(super) fn set_chart_bytes(
        &mut self,
        head_len: usize,
        tail_len: usize,
        fill: impl FnOnce(&mut [u8], &mut [u8]) -> Result<(), BufferFull>,
    ) -> Result<(), BufferFull> {
        self.head = self.host;
        self.tail = self.host_tail;
        let room = self.host_tail.saturating_sub(self.host);
        if head_len.saturating_add(tail_len) > room {
            return Err(BufferFull);
        }
        let tail_start = self.host_tail - tail_len;
        let (front, back) = self.buf.split_at_mut(tail_start);
        let head = front
            .get_mut(self.host..self.host + head_len)
            .ok_or(BufferFull)?;
        let tail = back.get_mut(..tail_len).ok_or(BufferFull)?;
        fill(head, tail)?;
        self.head = self.host + head_len;
        self.tail = tail_start;
        Ok(())
    }

    /// [`with_timestamp`](Self::with_timestamp) for a piece that `make` writes from the
    /// timestamp (it returns the piece's length, at most 64 bytes).
    #[inline]
    pub(super) fn with_timestamp_piece(
        &mut self,
        timestamp: i64,
        format: u8,
        make: impl FnOnce(i64, &mut [u8; 64]) -> usize,
    ) -> (&[u8], &[u8], &[u8]) {
        let head = self.buf.get(..self.head).unwrap_or(&[]);
        let tail = self.buf.get(self.tail..).unwrap_or(&[]);
        (head, tail, self.timestamp.get_with(timestamp, format, make))
    }

    /// Sets the chart's bytes to `pieces`, copied one after the other. Returns
    /// [`BufferFull`] (the head is then the host's alone) if they do not fit.
    pub(super) fn set_chart_pieces(&mut self, pieces: &[&[u8]]) -> Result<(), BufferFull> {
        self.head = self.host;
        self.tail = self.host_tail;
        let len = pieces.iter().map(|p| p.len()).sum();
        let room = self.buf.get_mut(self.host..self.tail).unwrap_or(&mut []);
        let mut out = text::Pieces::new(room, len)?;
        for p in pieces {
            out.put(p);
        }
        self.head += len;
        Ok(())
    }

    /// Sets the chart's bytes, which follow the host's in the head. Returns
    /// [`BufferFull`] (the head is then the host's alone) if they do not fit.
    pub(super) fn set_chart<C: Emit>(&mut self, chart: &C) -> Result<(), BufferFull> {
        self.head = self.host;
        self.tail = self.host_tail;
        let room = self.buf.get_mut(self.host..self.tail).unwrap_or(&mut []);
        self.head += text::write_measured(chart, room)?;
        Ok(())
    }

    /// The head, the tail, and `before`, the decimal text of `timestamp` (`%lld`) and
    /// `after` in one piece, which is made only when the timestamp (or the `format`
    /// tag, which stands for the two literals) differs from the last one asked for: the
    /// records of one export span share their timestamp.
    #[inline]
    pub(super) fn with_timestamp(
        &mut self,
        timestamp: i64,
        format: u8,
        before: &[u8],
        after: &[u8],
    ) -> (&[u8], &[u8], &[u8]) {
        let head = self.buf.get(..self.head).unwrap_or(&[]);
        let tail = self.buf.get(self.tail..).unwrap_or(&[]);
        (
            head,
            tail,
            self.timestamp.get(timestamp, format, before, after),
        )
    }
}

impl Default for ChartPart {
    fn default() -> Self {
        Self::new()
    }
}

/// The longest piece a [`TimestampText`] holds: the literals around a timestamp.
const TIMESTAMP_PIECE: usize = 64;

/// The last timestamp's text, with the literals around it.
#[derive(Clone, Copy, Debug)]
struct TimestampText {
    value: i64,
    format: u8,
    /// 0: nothing cached.
    len: usize,
    bytes: [u8; TIMESTAMP_PIECE],
}

impl TimestampText {
    const fn new() -> Self {
        Self {
            value: 0,
            format: 0,
            len: 0,
            bytes: [0; TIMESTAMP_PIECE],
        }
    }

    #[inline]
    fn get(&mut self, value: i64, format: u8, before: &[u8], after: &[u8]) -> &[u8] {
        if self.len == 0 || self.value != value || self.format != format {
            self.make(value, format, before, after);
        }
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The piece `make` writes for `value` (it returns its length), made only when
    /// `value` or `format` differ from the last piece's.
    #[inline]
    fn get_with(
        &mut self,
        value: i64,
        format: u8,
        make: impl FnOnce(i64, &mut [u8; TIMESTAMP_PIECE]) -> usize,
    ) -> &[u8] {
        if self.len == 0 || self.value != value || self.format != format {
            self.len = make(value, &mut self.bytes).min(TIMESTAMP_PIECE);
            self.value = value;
            self.format = format;
        }
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    #[cold]
    #[inline(never)]
    fn make(&mut self, value: i64, format: u8, before: &[u8], after: &[u8]) {
        let mut buf = IntBuffer::new();
        let text = buf.i64_bytes(value);
        self.len = 0;
        let mut at = 0;
        for part in [before, text, after] {
            let Some(dst) = self.bytes.get_mut(at..at + part.len()) else {
                return;
            };
            dst.copy_from_slice(part);
            at += part.len();
        }
        self.value = value;
        self.format = format;
        self.len = at;
    }
}

/// The address and length of each of a few strings: two records whose strings have
/// equal keys borrow the very same strings, so they have the same part **as long as
/// those strings have not changed in between** (see [`ChartCache::clear`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key<const N: usize> {
    words: [usize; N],
}

impl<const N: usize> Key<N> {
    const EMPTY: Self = Self { words: [0; N] };

    /// The key of the first `n` strings of `strs`.
    #[inline(always)]
    fn new(strs: &[&str], n: usize) -> Self {
        let mut words = [0; N];
        for (pair, s) in words.chunks_exact_mut(2).zip(strs).take(n) {
            pair[0] = s.as_ptr().addr();
            pair[1] = s.len();
        }
        Self { words }
    }

    /// Whether the first `n` strings of `strs` have this key, without branching on
    /// each word.
    #[inline(always)]
    fn matches(&self, strs: &[&str], n: usize) -> bool {
        self.words
            .chunks_exact(2)
            .zip(strs)
            .take(n)
            .fold(0, |diff, (pair, s)| {
                diff | (pair[0] ^ s.as_ptr().addr()) | (pair[1] ^ s.len())
            })
            == 0
    }
}

/// A record format that can write a record from its chart part.
///
/// For every record `r` and every format `f` implementing it, if
/// `f.write_host_part(&r, &mut part)` and then `f.write_chart_part(&r, &mut part)`
/// succeed, then `f.write_with_chart_part(&mut part, &r, out)` writes exactly what the
/// format's per-record [`RecordFormat::write`] writes, and fails exactly when it fails;
/// and so does any other record with the same host strings (prefix, hostname, tags) and
/// the same [`chart_strs`](Self::chart_strs), string for string.
pub trait ChartFormat: RecordFormat {
    /// How many of [`chart_strs`](Self::chart_strs)' strings count (at most
    /// [`CHART_KEY_STRS`]). By default one: the chart's label.
    const CHART_STRS: usize = 1;

    /// The chart's strings the chart part is made from (beyond the host's prefix,
    /// hostname and tags), the first [`CHART_STRS`](Self::CHART_STRS) of them; the
    /// others are ignored. By default the chart's label (its name or id, as the record
    /// says), which is all the line formats put in a chart part.
    #[inline]
    fn chart_strs<'r>(&self, record: &Record<'r>) -> [&'r str; CHART_KEY_STRS] {
        [record.chart_label(), "", "", "", "", ""]
    }

    /// Writes the host's bytes of the chart part of `record` (made from its prefix,
    /// hostname and tags only) into `part`, and forgets the chart's.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if they do not fit [`CHART_PART_CAPACITY`].
    fn write_host_part(&self, record: &Record<'_>, part: &mut ChartPart) -> Result<(), BufferFull>;

    /// Writes the chart's bytes of the chart part of `record` into `part`, whose host
    /// bytes are `record`'s.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if the part does not fit [`CHART_PART_CAPACITY`], or if the format
    /// has no chart part for this record (records of such a chart are written with
    /// [`RecordFormat::write`]).
    fn write_chart_part(&self, record: &Record<'_>, part: &mut ChartPart)
        -> Result<(), BufferFull>;

    /// Writes `record` at the start of `out` from `part`, the chart part of a record with
    /// the same host and chart strings, and returns its length.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` cannot hold the whole record (`out` is left untouched).
    fn write_with_chart_part(
        &self,
        part: &mut ChartPart,
        record: &Record<'_>,
        out: &mut [u8],
    ) -> Result<usize, BufferFull>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Empty,
    Prepared,
    /// No part that fits: the records are written one by one.
    Unprepared,
}

/// The chart part of the last chart written, reused while the records that follow
/// belong to the same chart (and its host's bytes while they belong to the same host).
///
/// A cache serves one format (one value of it: remote write's options change its
/// parts); call [`clear`](Self::clear) before using it with another, and whenever the
/// strings the records borrow may have changed, since a chart is recognised by the
/// addresses of its strings. The [engine](crate::engine::Engine) clears its cache at
/// every call that formats records.
#[derive(Clone, Debug)]
pub struct ChartCache {
    host_key: Key<6>,
    host: State,
    chart_key: Key<{ 2 * CHART_KEY_STRS }>,
    chart: State,
    part: ChartPart,
}

impl ChartCache {
    /// An empty cache.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            host_key: Key::EMPTY,
            host: State::Empty,
            chart_key: Key::EMPTY,
            chart: State::Empty,
            part: ChartPart::new(),
        }
    }

    /// Forgets the chart and host parts.
    pub fn clear(&mut self) {
        self.host = State::Empty;
        self.chart = State::Empty;
    }

    /// Writes `record` with `format` at the start of `out` and returns its length,
    /// preparing the chart part first if `record` belongs to another chart than the
    /// record written before (and the host's bytes if it belongs to another host). The
    /// bytes are those of `format.write`.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` cannot hold the whole record (`out` is left untouched).
    #[inline]
    pub fn write<F: ChartFormat + ?Sized>(
        &mut self,
        format: &F,
        record: &Record<'_>,
        out: &mut [u8],
    ) -> Result<usize, BufferFull> {
        let host = [record.host.prefix, record.host.hostname, record.host.tags];
        let chart = format.chart_strs(record);
        if self.chart == State::Empty
            || !self.chart_key.matches(&chart, F::CHART_STRS)
            || !self.host_key.matches(&host, 3)
        {
            self.prepare(format, record);
        }
        if self.chart == State::Prepared {
            format.write_with_chart_part(&mut self.part, record, out)
        } else {
            format.write(record, out)
        }
    }

    #[cold]
    #[inline(never)]
    fn prepare<F: ChartFormat + ?Sized>(&mut self, format: &F, record: &Record<'_>) {
        let host = [record.host.prefix, record.host.hostname, record.host.tags];
        if self.host == State::Empty || !self.host_key.matches(&host, 3) {
            self.host_key = Key::new(&host, 3);
            self.host = match format.write_host_part(record, &mut self.part) {
                Ok(()) => State::Prepared,
                Err(BufferFull) => State::Unprepared,
            };
        }
        let chart = format.chart_strs(record);
        self.chart_key = Key::new(&chart, F::CHART_STRS);
        self.chart = match self.host {
            State::Prepared => match format.write_chart_part(record, &mut self.part) {
                Ok(()) => State::Prepared,
                Err(BufferFull) => State::Unprepared,
            },
            _ => State::Unprepared,
        };
    }
}

impl Default for ChartCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Implements [`RecordFormat`](crate::engine::RecordFormat) for a [`ChartFormat`]: `write`
/// is `$write`, its per-record function, and `write_cached` goes through the
/// [`ChartCache`].
macro_rules! record_format_from_chart_parts {
    ($format:ty, $write:path) => {
        impl crate::engine::RecordFormat for $format {
            fn write(
                &self,
                record: &$crate::format::Record<'_>,
                out: &mut [u8],
            ) -> Result<usize, $crate::format::BufferFull> {
                $write(record, out)
            }

            #[inline]
            fn write_cached(
                &self,
                cache: &mut $crate::format::chart::ChartCache,
                record: &$crate::format::Record<'_>,
                out: &mut [u8],
            ) -> Result<usize, $crate::format::BufferFull> {
                cache.write(self, record, out)
            }
        }
    };
}
pub(crate) use record_format_from_chart_parts;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::text::testkit::{
        gateway, hostile_records, hostile_strings, leak, maximal, stored, system_cpu, Rng,
        FIELD_SETTERS,
    };
    use super::super::{graphite, json, opentsdb, DimensionMeta, HostMeta, Record, Value};
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const SENTINEL: u8 = 0xa5;

    /// `record` through `cache` gives the per-record bytes, in a roomy buffer and in an
    /// exact one, and fails without touching a buffer one byte short.
    fn same_bytes<F: ChartFormat>(format: &F, cache: &mut ChartCache, record: &Record<'_>) {
        let mut want = vec![0u8; 64 * 1024];
        let n = format.write(record, &mut want).expect("fits 64 KiB");
        want.truncate(n);
        let mut roomy = vec![SENTINEL; n + 32];
        assert_eq!(cache.write(format, record, &mut roomy), Ok(n), "{record:?}");
        assert_eq!(roomy[..n], want[..], "{record:?}");
        assert!(
            roomy[n..].iter().all(|&b| b == SENTINEL),
            "wrote past the record"
        );
        let mut exact = vec![SENTINEL; n];
        assert_eq!(cache.write(format, record, &mut exact), Ok(n));
        assert_eq!(exact, want);
        if n > 0 {
            let mut short = vec![SENTINEL; n - 1];
            assert_eq!(cache.write(format, record, &mut short), Err(BufferFull));
            assert!(
                short.iter().all(|&b| b == SENTINEL),
                "short buffer modified"
            );
        }
    }

    /// Dimensions, values and timestamps to vary within one chart.
    fn dimensions() -> Vec<(DimensionMeta<'static>, Value, i64)> {
        let mut out = vec![
            (
                DimensionMeta {
                    id: "user",
                    name: "user",
                },
                Value::Collected(5),
                1_609_459_195,
            ),
            (
                DimensionMeta {
                    id: "a-b",
                    name: "a b",
                },
                Value::Collected(-7),
                1_609_459_195,
            ),
            (
                DimensionMeta { id: "x", name: "" },
                stored(true, 12_345_678),
                1_609_459_200,
            ),
            (
                DimensionMeta {
                    id: "",
                    name: "q\"\n",
                },
                Value::Collected(i64::MIN),
                i64::MIN,
            ),
        ];
        for s in hostile_strings() {
            out.push((DimensionMeta { id: s, name: s }, Value::Collected(1), -1));
        }
        out
    }

    /// Every record of `records` with every dimension of [`dimensions`], in chart order
    /// (so the cache reuses each chart part), then interleaved with the next chart (so
    /// it prepares a part for each record).
    fn check_format<F: ChartFormat>(format: &F, records: &[Record<'static>]) {
        let dims = dimensions();
        let mut cache = ChartCache::new();
        for record in records {
            for &(dimension, value, timestamp) in &dims {
                let r = Record {
                    dimension,
                    value,
                    timestamp,
                    ..*record
                };
                same_bytes(format, &mut cache, &r);
            }
        }
        for pair in records.windows(2) {
            for r in pair {
                same_bytes(format, &mut cache, r);
            }
        }
    }

    /// Hostile and random records, and records whose fields sit just below, at and above
    /// their limits (cut in the middle of a character or not).
    fn records() -> Vec<Record<'static>> {
        let mut out = hostile_records();
        for unit in ["a", "é", "😀", "\"", "\n"] {
            out.push(maximal(unit));
        }
        let base = system_cpu();
        for len in [98, 99, 100, 101, 199, 200, 201, 254, 255, 256, 300] {
            for unit in ["a", "é", "\u{1}"] {
                let s = leak(unit.repeat(len / unit.len() + 1)[..].into());
                let s: &'static str = &s[..s.floor_char_boundary(len)];
                for set in FIELD_SETTERS {
                    let mut r = base;
                    set(&mut r, s);
                    out.push(r);
                }
            }
        }
        // Charts of the same strings at other addresses, and hosts that change.
        let mut rng = Rng(7);
        for _ in 0..50 {
            let mut r = base;
            r.chart.name = leak(base.chart.name.into());
            r.host = HostMeta {
                prefix: rng.string(8),
                hostname: rng.string(12),
                tags: if rng.next() & 1 == 0 {
                    ""
                } else {
                    rng.string(20)
                },
            };
            out.push(r);
        }
        out
    }

    #[test]
    fn graphite_chart_parts_give_the_record_bytes() {
        check_format(&graphite::Graphite, &records());
    }

    #[test]
    fn opentsdb_chart_parts_give_the_record_bytes() {
        check_format(&opentsdb::Telnet, &records());
        check_format(&opentsdb::HttpObject, &records());
    }

    #[test]
    fn json_chart_parts_give_the_record_bytes() {
        check_format(&json::Json, &records());
    }

    #[test]
    fn a_chart_part_is_prepared_once_per_chart() {
        let mut r = gateway();
        let mut cache = ChartCache::new();
        let mut out = [0u8; 256];
        cache.write(&graphite::Graphite, &r, &mut out).unwrap();
        assert_eq!(cache.part.head(), b"netdata.gateway-01.cpu.cpu0.");
        assert_eq!(cache.part.tail(), b"");
        // Another dimension: the part stays; another chart: only its bytes change.
        r.dimension = DimensionMeta {
            id: "system",
            name: "system",
        };
        cache.write(&graphite::Graphite, &r, &mut out).unwrap();
        assert_eq!(cache.part.head(), b"netdata.gateway-01.cpu.cpu0.");
        r.chart.name = "disk.sda";
        cache.write(&graphite::Graphite, &r, &mut out).unwrap();
        assert_eq!(cache.part.head(), b"netdata.gateway-01.disk.sda.");
        r.host.tags = "a=b";
        cache.write(&graphite::Graphite, &r, &mut out).unwrap();
        assert_eq!(cache.part.tail(), b";a=b");
        // After `clear`, nothing is reused.
        cache.clear();
        assert_eq!(cache.chart, State::Empty);
        assert_eq!(cache.host, State::Empty);
    }

    #[test]
    fn too_long_parts_fall_back_to_records() {
        let r = maximal("a");
        let mut cache = ChartCache::new();
        let mut out = vec![0u8; 8192];
        let n = cache.write(&json::Json, &r, &mut out).unwrap();
        assert_eq!(cache.chart, State::Unprepared);
        assert_eq!(n, json::len(&r));
        assert_eq!(
            cache.write(&graphite::Graphite, &r, &mut out),
            graphite::write(&r, &mut vec![0u8; 8192])
        );
    }

    #[test]
    fn keys_compare_addresses_and_lengths() {
        let s = "abcdef";
        let key = Key::<4>::new(&[&s[..3], &s[3..]], 2);
        assert!(key.matches(&[&s[..3], &s[3..]], 2));
        assert!(!key.matches(&[&s[..2], &s[3..]], 2));
        let copy = leak(s.into());
        assert!(!key.matches(&[&copy[..3], &s[3..]], 2));
        // Only the first `n` strings count.
        assert!(key.matches(&[&s[..3], "zz"], 1));
    }
}
