//! Wire formats: one formatter per destination format, each writing whole records into a
//! caller-owned buffer, or nothing.
//!
//! Every formatter has the shape `fn write(…, out: &mut [u8]) -> Result<usize, BufferFull>`:
//! it computes the record's exact length first and, if `out` is too short, returns
//! [`BufferFull`] **without modifying `out` at all**; otherwise it writes the whole record
//! at the start of `out` and returns its length. A receiver therefore never sees half a
//! record because a buffer filled up. Each format also documents a worst-case record length
//! (`MAX_LINE_LEN` or a `const fn`) so that shells can size buffers at compile time.
//!
//! The bytes of a record that depend only on its host and chart can be prepared once per
//! chart and reused for each of its dimensions, with the same result: see [`chart`].
//!
//! The metadata of a record ([`HostMeta`], [`ChartMeta`], [`DimensionMeta`]) is borrowed
//! from the caller. Every text field is bounded before it is written (see [`limits`]), and
//! every byte that could break a record (a separator, a newline, a quote) is replaced or
//! escaped as each format requires, so no name, hostname or tag can inject a record.

use crate::decimal::Decimal;

pub mod remote_write;

pub mod chart;
pub mod graphite;
pub mod json;
pub mod opentsdb;
pub mod prometheus;
mod text;
#[cfg(test)]
pub(crate) use text::testkit;

pub mod bson;
pub mod kinesis;

pub mod limits {
    //! The longest field, in bytes, that a formatter copies; longer fields are cut (at a
    //! UTF-8 character boundary). netdata limits ids and names to 200 bytes.

    /// Metric prefix (`[backend] prefix`).
    pub const PREFIX: usize = 100;
    /// Hostname (a DNS name is at most 253 bytes).
    pub const HOSTNAME: usize = 255;
    /// Host tags.
    pub const TAGS: usize = 1024;
    /// Chart and dimension ids and names, chart family, context, type and units.
    pub const NAME: usize = 200;
}

/// The output buffer cannot hold the whole record; nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferFull;

impl core::fmt::Display for BufferFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the output buffer is too small for the whole record")
    }
}

impl core::error::Error for BufferFull {}

/// What every record of one host carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HostMeta<'a> {
    /// The first metric-name component (`[backend] prefix`, default `netdata`).
    pub prefix: &'a str,
    /// The host's name on the wire (`[backend] hostname`).
    pub hostname: &'a str,
    /// Host tags, verbatim as configured (`[backend] host tags`); empty for none.
    pub tags: &'a str,
}

/// A chart: the group of dimensions that share a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChartMeta<'a> {
    /// The chart id, `type.id` (e.g. `disk_util.dm-0`).
    pub id: &'a str,
    /// The chart name (e.g. `disk_util.vg0-root`); the id if it has none.
    pub name: &'a str,
    /// The family (e.g. `vg0-root`).
    pub family: &'a str,
    /// The context (e.g. `disk.util`).
    pub context: &'a str,
    /// The type: the part of the id before the first dot (e.g. `disk_util`).
    pub chart_type: &'a str,
    /// The units (e.g. `% of time working`).
    pub units: &'a str,
}

/// One dimension (metric) of a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DimensionMeta<'a> {
    /// The dimension id.
    pub id: &'a str,
    /// The dimension name; the id if it has none.
    pub name: &'a str,
}

/// The value of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Value {
    /// An average or sum over stored points, printed with seven decimals (`%0.7Lf`).
    Stored(Decimal),
    /// The last collected raw value, printed as an integer (`%lld`).
    Collected(i64),
}

/// One record: a value of one dimension at one time, with everything the formats print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Record<'a> {
    /// The host.
    pub host: HostMeta<'a>,
    /// The chart.
    pub chart: ChartMeta<'a>,
    /// The dimension.
    pub dimension: DimensionMeta<'a>,
    /// Use names (`send names instead of ids = yes`, the default) or ids in metric names.
    pub names: bool,
    /// The value.
    pub value: Value,
    /// Unix seconds: the window's last timestamp (stored values) or the collection time
    /// (collected values).
    pub timestamp: i64,
}

impl<'a> Record<'a> {
    /// The chart name or id, as `names` selects.
    #[must_use]
    pub const fn chart_label(&self) -> &'a str {
        if self.names {
            self.chart.name
        } else {
            self.chart.id
        }
    }

    /// The dimension name or id, as `names` selects.
    #[must_use]
    pub const fn dimension_label(&self) -> &'a str {
        if self.names {
            self.dimension.name
        } else {
            self.dimension.id
        }
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
#[must_use]
#[inline]
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    truncate_long(s, max)
}

/// [`truncate`] of a string longer than `max`.
#[inline(never)]
fn truncate_long(s: &str, max: usize) -> &str {
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// A stack buffer for a record's value text: seven decimals for stored values, an integer
/// for collected ones.
#[derive(Clone, Copy, Debug, Default)]
pub struct ValueBuffer {
    decimal: crate::number::DecimalBuffer,
    int: crate::number::IntBuffer,
}

impl ValueBuffer {
    /// The longest value text.
    pub const MAX_STR_LEN: usize = crate::number::DecimalBuffer::MAX_STR_LEN;

    /// A new buffer.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            decimal: crate::number::DecimalBuffer::new(),
            int: crate::number::IntBuffer::new(),
        }
    }

    /// The text of `value`, as netdata prints it (`%0.7Lf` or `%lld`).
    pub fn format(&mut self, value: Value) -> &str {
        match value {
            Value::Stored(d) => self.decimal.format(d),
            Value::Collected(n) => self.int.format_i64(n),
        }
    }

    /// [`format`](Self::format) as bytes, for the formatters (no UTF-8 check).
    pub(crate) fn bytes(&mut self, value: Value) -> &[u8] {
        match value {
            Value::Stored(d) => self.decimal.bytes(d),
            Value::Collected(n) => self.int.i64_bytes(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_char_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn value_text() {
        let mut buf = ValueBuffer::new();
        assert_eq!(buf.format(Value::Collected(-5)), "-5");
        assert_eq!(
            buf.format(Value::Stored(Decimal::from_units(false, 23_362_763))),
            "2.3362763"
        );
    }
}
