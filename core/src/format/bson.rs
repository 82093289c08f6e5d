//! MongoDB: one record as the BSON document netdata's MongoDB backend inserts (spec §4.8),
//! and the BSON primitives ([`BsonWriter`]) a MongoDB client needs for its commands.
//!
//! netdata formats each record as a JSON line (§4.4) and has libbson parse the line into a
//! document. [`write_document`] writes that document directly, with the same fields in the
//! same order and the same number types:
//!
//! | field | BSON type |
//! | --- | --- |
//! | `prefix`, `hostname` | string |
//! | `host_tags` (only if the host has tags) | string, see below |
//! | `chart_id`, `chart_name`, `chart_family`, `chart_context`, `chart_type`, `units`, `id`, `name` | string |
//! | `value` | collected: int32 if it fits, else int64; stored: double |
//! | `timestamp` | int32 if it fits, else int64 |
//!
//! libbson types a JSON integer as int32 when it fits and int64 otherwise, and a number with
//! a decimal point as a double. A stored value is printed with seven decimals (`%0.7Lf`), so
//! it is always a double; [`Decimal::to_f64`] rounds correctly, as the parser's `strtod`
//! does, so the double is the one netdata inserts (`-0.0000000` stays `-0.0`).
//!
//! # Deviations from netdata
//!
//! * **Host tags are always a string.** netdata pastes tags that start with `{`, `[` or `"`
//!   raw into the JSON line, so libbson embeds them as a document, an array or an unquoted
//!   string, and tags that are not valid JSON make the line, and with it the whole
//!   iteration's batch, fail to parse (§8.10). backhaul stores the tags text verbatim as a
//!   string: nothing the user writes can fail a batch, at the price of a document where
//!   netdata had a structured value.
//! * **Fields are bounded and NUL-free.** Each text field is cut to its [`limits`] (at a
//!   character boundary), so [`MAX_DOCUMENT_LEN`] bounds every document. A NUL byte is
//!   replaced by `_` (the same length, so sizes are unchanged): netdata's C strings cannot
//!   hold one, a BSON key cannot, and in a string value many readers take it for the end.
//!   Quotes, backslashes and newlines, which break netdata's JSON line and so its
//!   document, are stored exactly here: every string is length-prefixed.
//!
//! # Examples
//!
//! Building the `insert` command document of an OP_MSG request (the records go in a
//! separate document-sequence section):
//!
//! ```
//! use backhaul_core::format::bson::BsonWriter;
//!
//! let mut buf = [0u8; 64];
//! let mut w = BsonWriter::new(&mut buf);
//! let doc = w.document_start()?;
//! w.write_string("insert", "netdata_metrics")?;
//! w.write_string("$db", "netdata")?;
//! w.write_bool("ordered", false)?;
//! w.document_end(doc)?;
//! let len = w.position();
//! assert_eq!(len, 60);
//! assert_eq!(&buf[..4], &60i32.to_le_bytes());
//! # Ok::<(), backhaul_core::format::BufferFull>(())
//! ```

use super::{limits, truncate, BufferFull, Record, Value};
use crate::decimal::Decimal;

/// The result of the functions of this module.
pub type Result<T> = core::result::Result<T, BufferFull>;

/// BSON element types used here.
mod tag {
    pub(super) const DOUBLE: u8 = 0x01;
    pub(super) const STRING: u8 = 0x02;
    pub(super) const DOCUMENT: u8 = 0x03;
    pub(super) const ARRAY: u8 = 0x04;
    pub(super) const BOOL: u8 = 0x08;
    pub(super) const INT32: u8 = 0x10;
    pub(super) const INT64: u8 = 0x12;
}

/// What a NUL byte in a key or string becomes.
const NUL_REPLACEMENT: u8 = b'_';

/// The length of a document's header (its int32 length) and trailer (a NUL).
const DOCUMENT_OVERHEAD: usize = 4 + 1;

/// The length of an element holding a number of `value_len` bytes (4 or 8).
const fn number_element_len(key: &str, value_len: usize) -> usize {
    key.len().saturating_add(2 + value_len)
}

/// The length of a string element: type, key, NUL, int32 length, bytes, NUL.
const fn string_element_len(key: &str, value_len: usize) -> usize {
    key.len().saturating_add(value_len).saturating_add(7)
}

// The record's keys, in netdata's order.
const PREFIX: &str = "prefix";
const HOSTNAME: &str = "hostname";
const HOST_TAGS: &str = "host_tags";
const CHART_ID: &str = "chart_id";
const CHART_NAME: &str = "chart_name";
const CHART_FAMILY: &str = "chart_family";
const CHART_CONTEXT: &str = "chart_context";
const CHART_TYPE: &str = "chart_type";
const UNITS: &str = "units";
const ID: &str = "id";
const NAME: &str = "name";
const VALUE: &str = "value";
const TIMESTAMP: &str = "timestamp";

/// The string fields after the host's, each bounded by [`limits::NAME`].
const NAME_KEYS: [&str; 8] = [
    CHART_ID,
    CHART_NAME,
    CHART_FAMILY,
    CHART_CONTEXT,
    CHART_TYPE,
    UNITS,
    ID,
    NAME,
];

/// The longest document [`write_document`] writes (3,182 bytes).
pub const MAX_DOCUMENT_LEN: usize = {
    let mut len = DOCUMENT_OVERHEAD
        + string_element_len(PREFIX, limits::PREFIX)
        + string_element_len(HOSTNAME, limits::HOSTNAME)
        + string_element_len(HOST_TAGS, limits::TAGS)
        + number_element_len(VALUE, 8)
        + number_element_len(TIMESTAMP, 8);
    let mut i = 0;
    while i < NAME_KEYS.len() {
        len += string_element_len(NAME_KEYS[i], limits::NAME);
        i += 1;
    }
    len
};

const _: () = assert!(MAX_DOCUMENT_LEN == 3182);

/// A number as libbson's JSON parser types it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Number {
    Int32(i32),
    Int64(i64),
    Double(f64),
}

impl Number {
    /// An integer: int32 if it fits, else int64.
    fn integer(n: i64) -> Self {
        i32::try_from(n).map_or(Self::Int64(n), Self::Int32)
    }

    fn value(value: Value) -> Self {
        match value {
            Value::Collected(n) => Self::integer(n),
            Value::Stored(d) => Self::Double(Decimal::to_f64(d)),
        }
    }

    fn element_len(self, key: &str) -> usize {
        number_element_len(key, if let Self::Int32(_) = self { 4 } else { 8 })
    }
}

/// A record's fields, bounded, in order.
struct Fields<'r> {
    /// `prefix`, `hostname`, `host_tags` (empty: absent), then the [`NAME_KEYS`].
    strings: [(&'static str, &'r str); 11],
    value: Number,
    timestamp: Number,
}

impl<'r> Fields<'r> {
    fn new(record: &Record<'r>) -> Self {
        let name = |s| truncate(s, limits::NAME);
        let (host, chart, dim) = (&record.host, &record.chart, &record.dimension);
        Self {
            strings: [
                (PREFIX, truncate(host.prefix, limits::PREFIX)),
                (HOSTNAME, truncate(host.hostname, limits::HOSTNAME)),
                (HOST_TAGS, truncate(host.tags, limits::TAGS)),
                (CHART_ID, name(chart.id)),
                (CHART_NAME, name(chart.name)),
                (CHART_FAMILY, name(chart.family)),
                (CHART_CONTEXT, name(chart.context)),
                (CHART_TYPE, name(chart.chart_type)),
                (UNITS, name(chart.units)),
                (ID, name(dim.id)),
                (NAME, name(dim.name)),
            ],
            value: Number::value(record.value),
            timestamp: Number::integer(record.timestamp),
        }
    }

    /// The string fields that are written: all but empty host tags.
    fn present(&self) -> impl Iterator<Item = (&'static str, &'r str)> + '_ {
        self.strings
            .iter()
            .copied()
            .filter(|&(key, s)| key != HOST_TAGS || !s.is_empty())
    }

    fn len(&self) -> usize {
        DOCUMENT_OVERHEAD
            + self
                .present()
                .map(|(key, s)| string_element_len(key, s.len()))
                .sum::<usize>()
            + self.value.element_len(VALUE)
            + self.timestamp.element_len(TIMESTAMP)
    }
}

/// The exact length of the document [`write_document`] writes for `record`, at most
/// [`MAX_DOCUMENT_LEN`].
#[must_use]
pub fn document_len(record: &Record<'_>) -> usize {
    Fields::new(record).len()
}

/// Writes `record` as one BSON document at the start of `out` and returns its length.
///
/// All or nothing: if `out` is shorter than [`document_len`], returns [`BufferFull`] and
/// leaves `out` untouched. A buffer of [`MAX_DOCUMENT_LEN`] bytes always suffices.
///
/// # Errors
///
/// [`BufferFull`] if the document does not fit `out`.
pub fn write_document(record: &Record<'_>, out: &mut [u8]) -> Result<usize> {
    let fields = Fields::new(record);
    let len = fields.len();
    let out = out.get_mut(..len).ok_or(BufferFull)?;
    let mut w = BsonWriter::new(out);
    let doc = w.document_start()?;
    for (key, s) in fields.present() {
        w.write_string(key, s)?;
    }
    w.write_number(VALUE, fields.value)?;
    w.write_number(TIMESTAMP, fields.timestamp)?;
    w.document_end(doc)?;
    Ok(w.position())
}

/// Where a document being written starts; [`BsonWriter::document_end`] takes it back to
/// fill in the document's length.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "a document must be ended with BsonWriter::document_end"]
pub struct DocumentStart {
    at: usize,
}

/// Writes BSON into a caller's buffer: documents, arrays and the elements a MongoDB
/// command needs.
///
/// Each `write_*` call writes its whole element or, returning [`BufferFull`], nothing;
/// the writer can go on with smaller elements after a failure. A document is opened with
/// [`document_start`](Self::document_start) (or, inside another document,
/// [`embedded_document_start`](Self::embedded_document_start) or
/// [`array_start`](Self::array_start)) and closed with
/// [`document_end`](Self::document_end), which fills in its length. The trailing NUL of
/// every open document is reserved as it opens, so a document that was opened can
/// always be closed. Abandoning a document half-written leaves bytes before
/// [`position`](Self::position) that the caller must not send.
///
/// Keys and strings are written as given, with NUL bytes replaced by `_`. Array elements
/// are ordinary elements whose keys are the indexes `"0"`, `"1"`, …, which the caller
/// writes. The writer handles at most `i32::MAX` bytes, so every length fits BSON's int32.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BsonWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    /// The bytes reserved for the NULs that end the open documents.
    reserved: usize,
}

impl<'a> BsonWriter<'a> {
    /// A writer at the start of `buf`.
    #[must_use]
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            reserved: 0,
        }
    }

    /// How many bytes have been written.
    #[must_use]
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes the next elements may take (after room for ending the open
    /// documents).
    #[must_use]
    pub fn remaining(&self) -> usize {
        let capacity = self.buf.len().min(i32::MAX as usize);
        capacity
            .saturating_sub(self.pos)
            .saturating_sub(self.reserved)
    }

    /// Fails unless `n` more bytes fit.
    fn reserve(&self, n: usize) -> Result<()> {
        if n <= self.remaining() {
            Ok(())
        } else {
            Err(BufferFull)
        }
    }

    /// Copies `bytes`, replacing NULs; only called after [`reserve`](Self::reserve).
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            for (d, &s) in dst.iter_mut().zip(bytes) {
                *d = if s == 0 { NUL_REPLACEMENT } else { s };
            }
            self.pos = end;
        }
    }

    /// Copies one byte (which may be NUL); only called after [`reserve`](Self::reserve).
    fn put_byte(&mut self, byte: u8) {
        if let Some(dst) = self.buf.get_mut(self.pos) {
            *dst = byte;
            self.pos += 1;
        }
    }

    /// Writes an element's type and key; the caller has reserved the whole element.
    fn put_header(&mut self, tag: u8, key: &str) {
        self.put_byte(tag);
        self.put(key.as_bytes());
        self.put_byte(0);
    }

    /// Writes a length prefix; lengths are below the capacity, which fits an `i32`.
    fn put_len(&mut self, len: usize) {
        let len = i32::try_from(len).unwrap_or(i32::MAX);
        for byte in len.to_le_bytes() {
            self.put_byte(byte);
        }
    }

    fn open(&mut self, header_len: usize, header: Option<(u8, &str)>) -> Result<DocumentStart> {
        self.reserve(header_len.saturating_add(DOCUMENT_OVERHEAD))?;
        if let Some((tag, key)) = header {
            self.put_header(tag, key);
        }
        let at = self.pos;
        self.put_len(0);
        self.reserved += 1;
        Ok(DocumentStart { at })
    }

    /// Opens a top-level document.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if its length and trailing NUL do not fit.
    pub fn document_start(&mut self) -> Result<DocumentStart> {
        self.open(0, None)
    }

    /// Opens a document as the value of element `key` of the current document.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if the element's header and the empty document do not fit.
    pub fn embedded_document_start(&mut self, key: &str) -> Result<DocumentStart> {
        self.open(key.len().saturating_add(2), Some((tag::DOCUMENT, key)))
    }

    /// Opens an array as the value of element `key` of the current document. Its
    /// elements take the keys `"0"`, `"1"`, ….
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if the element's header and the empty array do not fit.
    pub fn array_start(&mut self, key: &str) -> Result<DocumentStart> {
        self.open(key.len().saturating_add(2), Some((tag::ARRAY, key)))
    }

    /// Closes the document opened at `start`: writes its trailing NUL and its length.
    /// Documents must be closed innermost first.
    ///
    /// # Errors
    ///
    /// Never for a `start` from this writer, whose NUL was reserved. A `start` from another
    /// writer gives [`BufferFull`] or a meaningless length, never a panic.
    pub fn document_end(&mut self, start: DocumentStart) -> Result<()> {
        self.reserved = self.reserved.saturating_sub(1);
        self.reserve(1)?;
        self.put_byte(0);
        let len = self.pos.saturating_sub(start.at);
        let len = i32::try_from(len).unwrap_or(i32::MAX).to_le_bytes();
        if let Some(dst) = self.buf.get_mut(start.at..start.at.saturating_add(4)) {
            dst.copy_from_slice(&len);
        }
        Ok(())
    }

    /// Writes a 32-bit integer element (type 0x10).
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if the element does not fit; nothing is written.
    pub fn write_int32(&mut self, key: &str, value: i32) -> Result<()> {
        self.write_number(key, Number::Int32(value))
    }

    /// Writes a 64-bit integer element (type 0x12).
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if the element does not fit; nothing is written.
    pub fn write_int64(&mut self, key: &str, value: i64) -> Result<()> {
        self.write_number(key, Number::Int64(value))
    }

    /// Writes a double element (type 0x01).
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if the element does not fit; nothing is written.
    pub fn write_double(&mut self, key: &str, value: f64) -> Result<()> {
        self.write_number(key, Number::Double(value))
    }

    fn write_number(&mut self, key: &str, value: Number) -> Result<()> {
        self.reserve(value.element_len(key))?;
        match value {
            Number::Int32(n) => {
                self.put_header(tag::INT32, key);
                n.to_le_bytes().into_iter().for_each(|b| self.put_byte(b));
            }
            Number::Int64(n) => {
                self.put_header(tag::INT64, key);
                n.to_le_bytes().into_iter().for_each(|b| self.put_byte(b));
            }
            Number::Double(x) => {
                self.put_header(tag::DOUBLE, key);
                x.to_le_bytes().into_iter().for_each(|b| self.put_byte(b));
            }
        }
        Ok(())
    }

    /// Writes a boolean element (type 0x08).
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if the element does not fit; nothing is written.
    pub fn write_bool(&mut self, key: &str, value: bool) -> Result<()> {
        self.reserve(number_element_len(key, 1))?;
        self.put_header(tag::BOOL, key);
        self.put_byte(u8::from(value));
        Ok(())
    }

    /// Writes a UTF-8 string element (type 0x02), NUL bytes replaced by `_`.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if the element does not fit; nothing is written.
    pub fn write_string(&mut self, key: &str, value: &str) -> Result<()> {
        self.reserve(string_element_len(key, value.len()))?;
        self.put_header(tag::STRING, key);
        self.put_len(value.len() + 1);
        self.put(value.as_bytes());
        self.put_byte(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::format::{ChartMeta, DimensionMeta, HostMeta};
    use bson::{Bson, Document};
    use std::string::{String, ToString};
    use std::vec;
    use std::vec::Vec;

    /// The first record of spec §4.4, a stored value; bytes worked out by hand.
    const STORED_GOLDEN: &[u8] = b"\
    \x25\x01\x00\x00\
    \x02prefix\x00\x08\x00\x00\x00netdata\x00\
    \x02hostname\x00\x07\x00\x00\x00myhost\x00\
    \x02chart_id\x00\x0f\x00\x00\x00disk_util.dm-0\x00\
    \x02chart_name\x00\x13\x00\x00\x00disk_util.vg0-root\x00\
    \x02chart_family\x00\x09\x00\x00\x00vg0-root\x00\
    \x02chart_context\x00\x0a\x00\x00\x00disk.util\x00\
    \x02chart_type\x00\x0a\x00\x00\x00disk_util\x00\
    \x02units\x00\x12\x00\x00\x00% of time working\x00\
    \x02id\x00\x0c\x00\x00\x00utilization\x00\
    \x02name\x00\x0c\x00\x00\x00utilization\x00\
    \x01value\x00\xed\x5b\xf7\xa0\xb1\xb0\x02\x40\
    \x10timestamp\x00\xec\x65\xee\x5f\
    \x00";

    /// The second record of spec §4.4, a collected value with host tags.
    const COLLECTED_GOLDEN: &[u8] = b"\
    \x17\x01\x00\x00\
    \x02prefix\x00\x08\x00\x00\x00netdata\x00\
    \x02hostname\x00\x07\x00\x00\x00myhost\x00\
    \x02host_tags\x00\x0f\x00\x00\x00env=prod;dc=eu\x00\
    \x02chart_id\x00\x0b\x00\x00\x00system.cpu\x00\
    \x02chart_name\x00\x0b\x00\x00\x00system.cpu\x00\
    \x02chart_family\x00\x04\x00\x00\x00cpu\x00\
    \x02chart_context\x00\x0b\x00\x00\x00system.cpu\x00\
    \x02chart_type\x00\x07\x00\x00\x00system\x00\
    \x02units\x00\x0b\x00\x00\x00percentage\x00\
    \x02id\x00\x05\x00\x00\x00user\x00\
    \x02name\x00\x05\x00\x00\x00user\x00\
    \x10value\x00\xc9\xf9\x00\x00\
    \x10timestamp\x00\xfb\x65\xee\x5f\
    \x00";

    fn stored() -> Record<'static> {
        Record {
            host: HostMeta {
                prefix: "netdata",
                hostname: "myhost",
                tags: "",
            },
            chart: ChartMeta {
                id: "disk_util.dm-0",
                name: "disk_util.vg0-root",
                family: "vg0-root",
                context: "disk.util",
                chart_type: "disk_util",
                units: "% of time working",
            },
            dimension: DimensionMeta {
                id: "utilization",
                name: "utilization",
            },
            names: true,
            value: Value::Stored(Decimal::from_units(false, 23_362_763)),
            timestamp: 1_609_459_180,
        }
    }

    fn collected() -> Record<'static> {
        Record {
            host: HostMeta {
                tags: "env=prod;dc=eu",
                ..stored().host
            },
            chart: ChartMeta {
                id: "system.cpu",
                name: "system.cpu",
                family: "cpu",
                context: "system.cpu",
                chart_type: "system",
                units: "percentage",
            },
            dimension: DimensionMeta {
                id: "user",
                name: "user",
            },
            names: false,
            value: Value::Collected(63_945),
            timestamp: 1_609_459_195,
        }
    }

    fn encode(record: &Record<'_>) -> Vec<u8> {
        let mut out = vec![0xAA; MAX_DOCUMENT_LEN + 8];
        let len = write_document(record, &mut out).unwrap();
        assert_eq!(len, document_len(record));
        assert!(len <= MAX_DOCUMENT_LEN);
        assert!(
            out[len..].iter().all(|&b| b == 0xAA),
            "wrote past the document"
        );
        out.truncate(len);
        out
    }

    fn decode(bytes: &[u8]) -> Document {
        let doc = Document::from_reader(bytes).unwrap();
        let mut again = Vec::new();
        doc.to_writer(&mut again).unwrap();
        assert_eq!(again, bytes, "the bson crate re-encodes differently");
        doc
    }

    fn keys(doc: &Document) -> Vec<&str> {
        doc.keys().map(String::as_str).collect()
    }

    const ALL_KEYS: [&str; 13] = [
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

    #[test]
    fn stored_record_golden() {
        let bytes = encode(&stored());
        assert_eq!(bytes, STORED_GOLDEN);
        let doc = decode(&bytes);
        let mut expected = ALL_KEYS.to_vec();
        expected.remove(2);
        assert_eq!(keys(&doc), expected);
        assert_eq!(doc.get("value"), Some(&Bson::Double(2.336_276_3)));
        assert_eq!(doc.get("timestamp"), Some(&Bson::Int32(1_609_459_180)));
        assert_eq!(doc.get_str("chart_name"), Ok("disk_util.vg0-root"));
        assert_eq!(doc.get_str("units"), Ok("% of time working"));
    }

    #[test]
    fn collected_record_golden() {
        let bytes = encode(&collected());
        assert_eq!(bytes, COLLECTED_GOLDEN);
        let doc = decode(&bytes);
        assert_eq!(keys(&doc), ALL_KEYS);
        assert_eq!(doc.get_str("host_tags"), Ok("env=prod;dc=eu"));
        // Ids and names both, whatever `names` says (the JSON line has both).
        assert_eq!(doc.get_str("id"), Ok("user"));
        assert_eq!(doc.get("value"), Some(&Bson::Int32(63_945)));
        assert_eq!(doc.get("timestamp"), Some(&Bson::Int32(1_609_459_195)));
    }

    #[test]
    fn golden_matches_the_bson_crate() {
        let mut doc = Document::new();
        for (key, value) in [
            ("prefix", "netdata"),
            ("hostname", "myhost"),
            ("chart_id", "disk_util.dm-0"),
            ("chart_name", "disk_util.vg0-root"),
            ("chart_family", "vg0-root"),
            ("chart_context", "disk.util"),
            ("chart_type", "disk_util"),
            ("units", "% of time working"),
            ("id", "utilization"),
            ("name", "utilization"),
        ] {
            doc.insert(key, value);
        }
        doc.insert("value", 2.336_276_3_f64);
        doc.insert("timestamp", 1_609_459_180_i32);
        let mut bytes = Vec::new();
        doc.to_writer(&mut bytes).unwrap();
        assert_eq!(bytes, STORED_GOLDEN);
    }

    macro_rules! integer_cases {
        ($($name:ident: $n:expr => $bson:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    let n: i64 = $n;
                    let record = Record {
                        value: Value::Collected(n),
                        timestamp: n,
                        ..collected()
                    };
                    let doc = decode(&encode(&record));
                    assert_eq!(doc.get("value"), Some(&$bson));
                    assert_eq!(doc.get("timestamp"), Some(&$bson));
                }
            )*
        };
    }

    integer_cases! {
        int_zero: 0 => Bson::Int32(0);
        int_i32_max: i64::from(i32::MAX) => Bson::Int32(i32::MAX);
        int_i32_max_plus_one: i64::from(i32::MAX) + 1 => Bson::Int64(1 << 31);
        int_i32_min: i64::from(i32::MIN) => Bson::Int32(i32::MIN);
        int_i32_min_minus_one: i64::from(i32::MIN) - 1 => Bson::Int64(-(1 << 31) - 1);
        int_i64_max: i64::MAX => Bson::Int64(i64::MAX);
        int_i64_min: i64::MIN => Bson::Int64(i64::MIN);
    }

    #[test]
    fn stored_values_are_doubles() {
        for (negative, units, expected) in [
            (false, 0, 0.0_f64),
            (true, 0, -0.0),
            (true, 425_000_000, -42.5),
            (false, 50_000_000, 5.0),
            (false, 16_777_215 * 10_u128.pow(21), 1.677_721_5e21),
        ] {
            let record = Record {
                value: Value::Stored(Decimal::from_units(negative, units)),
                ..stored()
            };
            let doc = decode(&encode(&record));
            let value = doc.get_f64("value").unwrap();
            assert_eq!(value.to_bits(), expected.to_bits(), "{negative} {units}");
        }
    }

    #[test]
    fn buffer_full_leaves_out_untouched() {
        for record in [stored(), collected()] {
            let len = document_len(&record);
            for short in [0, 1, 4, len / 2, len - 1] {
                let mut out = vec![0xAA; short];
                assert_eq!(write_document(&record, &mut out), Err(BufferFull));
                assert!(out.iter().all(|&b| b == 0xAA));
            }
            let mut exact = vec![0; len];
            assert_eq!(write_document(&record, &mut exact), Ok(len));
        }
    }

    #[test]
    fn hostile_strings_round_trip() {
        let hostile = "a\"b\\c\nd\re\tf}{\",: \u{7f}é→😀";
        let record = Record {
            host: HostMeta {
                prefix: hostile,
                hostname: "host\0name",
                tags: "{\"env\":\"prod\"}",
            },
            chart: ChartMeta {
                id: hostile,
                name: "\0",
                family: "",
                ..collected().chart
            },
            dimension: DimensionMeta {
                id: "\n",
                name: "名前",
            },
            ..collected()
        };
        let doc = decode(&encode(&record));
        assert_eq!(keys(&doc), ALL_KEYS);
        assert_eq!(doc.get_str("prefix"), Ok(hostile));
        assert_eq!(doc.get_str("hostname"), Ok("host_name"));
        assert_eq!(doc.get_str("host_tags"), Ok("{\"env\":\"prod\"}"));
        assert_eq!(doc.get_str("chart_id"), Ok(hostile));
        assert_eq!(doc.get_str("chart_name"), Ok("_"));
        assert_eq!(doc.get_str("chart_family"), Ok(""));
        assert_eq!(doc.get_str("id"), Ok("\n"));
        assert_eq!(doc.get_str("name"), Ok("名前"));
    }

    #[test]
    fn fields_are_cut_to_their_limits() {
        let long = "é".repeat(2000);
        let record = Record {
            host: HostMeta {
                prefix: &long,
                hostname: &long,
                tags: &long,
            },
            chart: ChartMeta {
                id: &long,
                name: &long,
                family: &long,
                context: &long,
                chart_type: &long,
                units: &long,
            },
            dimension: DimensionMeta {
                id: &long,
                name: &long,
            },
            value: Value::Collected(i64::MIN),
            timestamp: i64::MIN,
            ..stored()
        };
        let bytes = encode(&record);
        // 'é' is two bytes: the odd limit (255) loses one more byte.
        assert_eq!(bytes.len(), MAX_DOCUMENT_LEN - 1);
        let doc = decode(&bytes);
        assert_eq!(doc.get_str("prefix").unwrap().len(), limits::PREFIX);
        assert_eq!(doc.get_str("hostname").unwrap().len(), limits::HOSTNAME - 1);
        assert_eq!(doc.get_str("host_tags").unwrap().len(), limits::TAGS);
        assert_eq!(doc.get_str("units").unwrap().len(), limits::NAME);

        let ascii = "x".repeat(2000);
        let record = Record {
            host: HostMeta {
                prefix: &ascii,
                hostname: &ascii,
                tags: &ascii,
            },
            chart: ChartMeta {
                id: &ascii,
                name: &ascii,
                family: &ascii,
                context: &ascii,
                chart_type: &ascii,
                units: &ascii,
            },
            dimension: DimensionMeta {
                id: &ascii,
                name: &ascii,
            },
            value: Value::Collected(i64::MIN),
            timestamp: i64::MAX,
            ..stored()
        };
        assert_eq!(encode(&record).len(), MAX_DOCUMENT_LEN);
    }

    #[test]
    fn insert_command_document() {
        let mut buf = [0u8; 128];
        let mut w = BsonWriter::new(&mut buf);
        let doc = w.document_start().unwrap();
        w.write_string("insert", "metrics").unwrap();
        w.write_string("$db", "netdata").unwrap();
        w.write_bool("ordered", false).unwrap();
        w.document_end(doc).unwrap();
        let len = w.position();
        let mut expected = Document::new();
        expected.insert("insert", "metrics");
        expected.insert("$db", "netdata");
        expected.insert("ordered", false);
        let mut bytes = Vec::new();
        expected.to_writer(&mut bytes).unwrap();
        assert_eq!(&buf[..len], bytes);
        assert_eq!(
            &buf[..len],
            b"\
            \x34\x00\x00\x00\
            \x02insert\x00\x08\x00\x00\x00metrics\x00\
            \x02$db\x00\x08\x00\x00\x00netdata\x00\
            \x08ordered\x00\x00\
            \x00"
        );
    }

    #[test]
    fn nested_documents_and_arrays() {
        let mut record_doc = vec![0; MAX_DOCUMENT_LEN];
        let record_len = write_document(&collected(), &mut record_doc).unwrap();
        let mut buf = vec![0u8; 1024];
        let mut w = BsonWriter::new(&mut buf);
        let top = w.document_start().unwrap();
        w.write_string("insert", "metrics").unwrap();
        let docs = w.array_start("documents").unwrap();
        let first = w.embedded_document_start("0").unwrap();
        w.write_int32("a", -1).unwrap();
        w.write_int64("b", 1 << 40).unwrap();
        w.write_double("c", 0.5).unwrap();
        w.document_end(first).unwrap();
        let second = w.embedded_document_start("1").unwrap();
        w.document_end(second).unwrap();
        w.document_end(docs).unwrap();
        w.write_bool("ordered", true).unwrap();
        w.document_end(top).unwrap();
        let len = w.position();
        let mut first = Document::new();
        first.insert("a", -1_i32);
        first.insert("b", 1_i64 << 40);
        first.insert("c", 0.5_f64);
        let mut expected = Document::new();
        expected.insert("insert", "metrics");
        let documents = vec![Bson::Document(first), Bson::Document(Document::new())];
        expected.insert("documents", documents);
        expected.insert("ordered", true);
        let mut bytes = Vec::new();
        expected.to_writer(&mut bytes).unwrap();
        assert_eq!(&buf[..len], bytes);
        assert!(record_len > 0);
    }

    #[test]
    fn writer_elements_are_all_or_nothing() {
        // Room for an empty document and 16 bytes of elements.
        let mut buf = [0xAAu8; 21];
        let mut w = BsonWriter::new(&mut buf);
        let doc = w.document_start().unwrap();
        assert_eq!(w.remaining(), 16);
        assert_eq!(w.write_string("key", "too long a value"), Err(BufferFull));
        assert_eq!(w.embedded_document_start("sub-document"), Err(BufferFull));
        assert_eq!(w.position(), 4);
        assert_eq!(w.write_int64("key", 1), Ok(()));
        assert_eq!(w.remaining(), 3);
        assert_eq!(w.write_bool("k", true), Err(BufferFull));
        assert_eq!(w.write_bool("", true), Ok(()));
        assert_eq!(w.remaining(), 0);
        assert_eq!(w.write_int32("", 0), Err(BufferFull));
        assert_eq!(w.position(), 20);
        // The NUL that ends the document was kept in reserve.
        assert_eq!(w.document_end(doc), Ok(()));
        assert_eq!(w.position(), 21);
        let decoded = decode(&buf);
        assert_eq!(decoded.get("key"), Some(&Bson::Int64(1)));
        assert_eq!(decoded.get(""), Some(&Bson::Boolean(true)));
    }

    #[test]
    fn writer_replaces_nul_in_keys() {
        let mut buf = [0u8; 32];
        let mut w = BsonWriter::new(&mut buf);
        let doc = w.document_start().unwrap();
        w.write_int32("a\0b", 7).unwrap();
        w.document_end(doc).unwrap();
        let len = w.position();
        let decoded = Document::from_reader(&buf[..len]).unwrap();
        assert_eq!(decoded.get("a_b"), Some(&Bson::Int32(7)));
        assert_eq!("a_b".to_string(), keys(&decoded)[0]);
    }

    #[test]
    fn writer_on_an_empty_buffer() {
        let mut w = BsonWriter::new(&mut []);
        assert_eq!(w.remaining(), 0);
        assert_eq!(w.document_start(), Err(BufferFull));
        assert_eq!(w.document_end(DocumentStart { at: 7 }), Err(BufferFull));
        assert_eq!(w.position(), 0);
    }
}
