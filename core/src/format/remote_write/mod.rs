//! Prometheus remote write 1.0 (`type = prometheus_remote_write`, spec section 4.5).
//!
//! An iteration's request is built in three stages, each into a caller buffer:
//!
//! 1. **series**: [`push_info`], [`push_host_tags`] and one [`push_record`] per record
//!    turn netdata's data into labelled samples, appended to a [`WriteRequestEncoder`];
//! 2. **protobuf**: the encoder writes each `TimeSeries` whole or not at all
//!    ([`protobuf`]); its bytes are always a complete `WriteRequest`;
//! 3. **snappy**: the finished request is compressed as one raw block ([`snappy`]), the
//!    HTTP body.
//!
//! # Series
//!
//! | series | `__name__` | other labels | value | timestamp (ms) |
//! |---|---|---|---|---|
//! | info | `netdata_info` | `application`, `instance`, `version` | 1 | now |
//! | host tags | `netdata_host_tags_info` | `instance` and the parsed tags | 1 | now |
//! | average | `PREFIX_CONTEXT` UNITS `_average` | `chart`, `dimension`, `family`, `instance` | the average | window end · 1000 |
//! | sum | `PREFIX_CONTEXT_sum` | `chart`, `dimension`, `family`, `instance` | the sum | window end · 1000 |
//! | collected, homogeneous chart | `PREFIX_CONTEXT` (+ `_total`) | `chart`, `dimension`, `family`, `instance` | the raw value | collection time |
//! | collected, heterogeneous chart | `PREFIX_CONTEXT_DIMENSION` (+ `_total`) | `chart`, `family`, `instance` | the raw value | collection time |
//!
//! CONTEXT, DIMENSION and the prefix are name-sanitised (every byte that is not ASCII
//! alphanumeric becomes `_`), UNITS is the units suffix of spec section 4.9 (for example
//! `_percentage`, `_KiB_persec`). Label values are the chart name or id, family, dimension
//! name or id and hostname as UTF-8, **not** escaped (escaping belongs to the text format;
//! protobuf strings are raw), cut at a character boundary to [`limits`]. `_total` is added
//! to counters only with [`Options::counter_total`].
//!
//! # Where backhaul differs from netdata (spec 8.7), on purpose
//!
//! * **Labels are sorted by name**, bytewise, as the remote-write spec requires; netdata
//!   sends them in insertion order (`__name__, chart, family, dimension, instance`).
//!   `__name__` comes first whenever every other name starts with a lowercase letter (`_`
//!   is 0x5F, below `a`), which holds for every label backhaul makes itself; a host tag
//!   spelt with a leading capital (`Env`) or a digit (`2nd`, sent as `_2nd`) sorts
//!   *before* `__name__`, as bytewise order requires.
//! * **Every series is valid for a strict receiver**: the prefix is name-sanitised too
//!   (netdata pastes it raw) and gets a leading `_` if it starts with a digit; labels with
//!   an empty value are left out (the spec forbids them; netdata sends the name alone);
//!   host-tag names are sanitised and deduplicated, and reserved or clashing ones dropped
//!   (see [`push_host_tags`]).
//! * **Host tags**: netdata's parser, without its bugs (see [`HostTags`]).
//! * **`_total`**: netdata's remote write leaves it off counters in as-collected mode
//!   while its text exposition adds it. The default, [`Options::new`], keeps netdata's
//!   names so that series keep their identity for anyone moving from netdata;
//!   [`Options::with_counter_total`] gives the text exposition's (and OpenMetrics') names.
//!
//! # Examples
//!
//! ```
//! use backhaul_core::decimal::Decimal;
//! use backhaul_core::format::remote_write::{
//!     push_info, push_record, snappy, Options, SeriesKind, WriteRequestEncoder,
//! };
//! use backhaul_core::format::{ChartMeta, DimensionMeta, HostMeta, Record, Value};
//! use backhaul_core::window::Reduce;
//!
//! let host = HostMeta { prefix: "netdata", hostname: "myhost", tags: "" };
//! let record = Record {
//!     host,
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
//!     value: Value::Stored(Decimal::from_units(false, 23_362_762)),
//!     timestamp: 1_609_459_190,
//! };
//!
//! let mut request = [0u8; 1024];
//! let mut encoder = WriteRequestEncoder::new(&mut request);
//! push_info(&mut encoder, &host, "netdata", "v1.28.0", 1_609_459_200_123).unwrap();
//! push_record(&mut encoder, &record, SeriesKind::Stored(Reduce::Average), Options::new())
//!     .unwrap();
//! let len = encoder.finish();
//!
//! let mut body = [0u8; snappy::max_compressed_len(1024)];
//! let mut compressor: snappy::Compressor = snappy::Compressor::new();
//! let body_len = compressor.compress(&request[..len], &mut body).unwrap();
//! assert!(body_len < len);
//! ```

pub mod protobuf;
pub mod snappy;
pub mod varint;

pub use protobuf::{Label, Sample, TimeSeries, WriteRequestEncoder};

use crate::format::chart::{ChartCache, ChartFormat, ChartPart, CHART_KEY_STRS};
use crate::format::{limits, truncate, BufferFull, HostMeta, Record, Value};
use crate::name::{sanitize_prometheus, units_suffix, UnitNames, PROMETHEUS_USABLE};
use crate::window::Reduce;

/// The label that holds a series' metric name.
pub const NAME_LABEL: &str = "__name__";

/// The metric name of the info series.
pub const INFO_METRIC: &str = "netdata_info";

/// The metric name of the host-tags series.
pub const HOST_TAGS_METRIC: &str = "netdata_host_tags_info";

/// The longest metric name (netdata builds names in 1024-byte buffers; backhaul's are at
/// most 566 bytes, see [`MetricName`]).
pub const MAX_METRIC_NAME_LEN: usize = 1024;

/// The most host tags sent: netdata splits the tags into at most 127 words, 63 pairs.
pub const MAX_HOST_TAGS: usize = 63;

// The longest name of each shape fits: prefix (+1 for a leading `_`), `_` context, then
// the units suffix and `_average`, or `_` dimension and `_total`.
const _: () = {
    let stem = limits::PREFIX + 1 + 1 + limits::NAME;
    assert!(stem + PROMETHEUS_USABLE + "_average".len() <= MAX_METRIC_NAME_LEN);
    assert!(stem + 1 + limits::NAME + "_total".len() <= MAX_METRIC_NAME_LEN);
};

/// Naming choices for the series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Options {
    /// The units spelling in `_average` names. Default: the chart's units, as netdata's
    /// remote write uses them.
    pub unit_names: UnitNames,
    /// Append `_total` to the names of as-collected counters, as the text exposition
    /// does. Default off, netdata's remote-write names.
    pub counter_total: bool,
}

impl Options {
    /// netdata's names: current units, no `_total`.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            unit_names: UnitNames::Current,
            counter_total: false,
        }
    }

    /// These options with another units spelling.
    #[must_use]
    pub const fn with_unit_names(mut self, unit_names: UnitNames) -> Self {
        self.unit_names = unit_names;
        self
    }

    /// These options with `_total` on counters, or without.
    #[must_use]
    pub const fn with_counter_total(mut self, counter_total: bool) -> Self {
        self.counter_total = counter_total;
        self
    }
}

/// What a record's value is, as far as its series name is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SeriesKind {
    /// An average or sum of stored points (`data source = average` or `sum`).
    Stored(Reduce),
    /// The last collected value (`data source = as collected`).
    Collected(Collected),
}

/// What an as-collected record needs beyond a [`Record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Collected {
    /// Whether the chart is homogeneous: all its dimensions have the first one's algorithm
    /// and absolute multiplier and divisor. Homogeneous charts share one metric name with
    /// a `dimension` label; heterogeneous ones put the dimension in the name.
    pub homogeneous: bool,
    /// Whether the dimension is a counter (an incremental or percentage-of-incremental-row
    /// algorithm): only used with [`Options::counter_total`].
    pub counter: bool,
    /// The milliseconds of the collection time past [`Record::timestamp`]'s second
    /// (netdata sends the collection time in ms); values above 999 count as 999.
    pub subsec_millis: u16,
}

/// Sorts labels by name, bytewise, keeping the order of equal names (an insertion sort:
/// no allocation, quick on the handful of labels a series has).
///
/// # Examples
///
/// ```
/// use backhaul_core::format::remote_write::{sort_labels, Label};
///
/// let mut labels = [
///     Label::new("instance", "h"),
///     Label::new("__name__", "m"),
///     Label::new("chart", "c"),
///     Label::new("Zone", "z"),
/// ];
/// sort_labels(&mut labels);
/// let names = labels.map(|l| l.name);
/// // `Z` (0x5A) sorts before `_` (0x5F), which sorts before lowercase letters.
/// assert_eq!(names, ["Zone", "__name__", "chart", "instance"]);
/// ```
pub fn sort_labels(labels: &mut [Label<'_>]) {
    for i in 1..labels.len() {
        let mut j = i;
        while j > 0 && labels[j - 1].name > labels[j].name {
            labels.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
#[must_use]
pub fn is_valid_metric_name(name: &str) -> bool {
    is_valid_name(name, true)
}

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
#[must_use]
pub fn is_valid_label_name(name: &str) -> bool {
    is_valid_name(name, false)
}

fn is_valid_name(name: &str, colon: bool) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || (colon && b == b':');
    match name.as_bytes() {
        [first, rest @ ..] => !first.is_ascii_digit() && ok(*first) && rest.iter().all(|&b| ok(b)),
        [] => false,
    }
}

/// A metric name, built in a stack buffer.
#[derive(Clone, Copy, Debug)]
pub struct MetricName {
    buf: [u8; MAX_METRIC_NAME_LEN],
    len: usize,
}

impl MetricName {
    /// The name of `record`'s series (see the [module documentation](self)).
    #[must_use]
    pub fn new(record: &Record<'_>, kind: SeriesKind, options: Options) -> Self {
        let mut name = Self::empty();
        name.build(record, kind, options);
        name
    }

    /// An empty name.
    const fn empty() -> Self {
        Self {
            buf: [0; MAX_METRIC_NAME_LEN],
            len: 0,
        }
    }

    /// Appends the name of `record`'s series (built in place: the name is a large value).
    fn build(&mut self, record: &Record<'_>, kind: SeriesKind, options: Options) {
        let name = self;
        let prefix = truncate(record.host.prefix, limits::PREFIX).as_bytes();
        if prefix.first().is_some_and(u8::is_ascii_digit) {
            name.push(b"_");
        }
        name.push_sanitized(prefix);
        name.push(b"_");
        name.push_sanitized(truncate(record.chart.context, limits::NAME).as_bytes());
        match kind {
            SeriesKind::Stored(Reduce::Average) => {
                let units = truncate(record.chart.units, limits::NAME).as_bytes();
                let out = name.buf.get_mut(name.len..).unwrap_or(&mut []);
                name.len += units_suffix(units, PROMETHEUS_USABLE, options.unit_names, out);
                name.push(b"_average");
            }
            SeriesKind::Stored(Reduce::Sum) => name.push(b"_sum"),
            SeriesKind::Collected(collected) => {
                if !collected.homogeneous {
                    name.push(b"_");
                    let dimension = truncate(record.dimension_label(), limits::NAME);
                    name.push_sanitized(dimension.as_bytes());
                }
                if collected.counter && options.counter_total {
                    name.push(b"_total");
                }
            }
        }
    }

    /// The name's bytes (ASCII).
    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        self.buf
            .get(..self.len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    fn push(&mut self, bytes: &[u8]) {
        // What fits of `bytes` (the name is sized so that everything fits).
        let rest = self.buf.get_mut(self.len..).unwrap_or(&mut []);
        let n = bytes.len().min(rest.len());
        if let (Some(dst), Some(src)) = (rest.get_mut(..n), bytes.get(..n)) {
            crate::format::text::copy_bytes(dst, src);
            self.len += n;
        }
    }

    fn push_sanitized(&mut self, src: &[u8]) {
        let out = self.buf.get_mut(self.len..).unwrap_or(&mut []);
        self.len += sanitize_prometheus(src, src.len(), out);
    }
}

/// Appends the labels that have a value, in the given (sorted) order.
#[inline]
fn collect_labels<'a, const N: usize>(pairs: [(&'a str, &'a str); N]) -> ([Label<'a>; N], usize) {
    let mut labels = [Label::default(); N];
    let mut n = 0;
    for (name, value) in pairs {
        if !value.is_empty() {
            if let Some(slot) = labels.get_mut(n) {
                *slot = Label::new(name, value);
                n += 1;
            }
        }
    }
    (labels, n)
}

/// Appends the `netdata_info` series of a host: labels `application`, `instance` and
/// `version`, value 1, at `now_ms`.
///
/// # Errors
///
/// [`BufferFull`] if the series does not fit; nothing is written then.
pub fn push_info(
    encoder: &mut WriteRequestEncoder<'_>,
    host: &HostMeta<'_>,
    application: &str,
    version: &str,
    now_ms: i64,
) -> Result<(), BufferFull> {
    let (labels, n) = collect_labels([
        (NAME_LABEL, INFO_METRIC),
        ("application", truncate(application, limits::NAME)),
        ("instance", truncate(host.hostname, limits::HOSTNAME)),
        ("version", truncate(version, limits::NAME)),
    ]);
    encoder.push_series(labels.get(..n).unwrap_or(&[]), Sample::new(1.0, now_ms))
}

/// Appends the `netdata_host_tags_info` series of a host, if its tags give any label, and
/// returns the number of tag labels sent (0: nothing was appended).
///
/// The tags are parsed by [`HostTags`]. Then, unlike netdata, each tag is checked so that
/// the receiver accepts the series:
///
/// * a tag with an empty name or value is skipped;
/// * the name is name-sanitised (every byte that is not ASCII alphanumeric becomes `_`)
///   and gets a leading `_` if it starts with a digit;
/// * a name that then starts with `__` (reserved) or is `instance` (the host's own label)
///   is skipped, and of several equal names only the first tag is kept;
/// * at most [`MAX_HOST_TAGS`] tags are used.
///
/// # Errors
///
/// [`BufferFull`] if the series does not fit; nothing is written then.
///
/// # Examples
///
/// ```
/// use backhaul_core::format::remote_write::{push_host_tags, WriteRequestEncoder};
/// use backhaul_core::format::HostMeta;
///
/// let mut buf = [0u8; 256];
/// let mut encoder = WriteRequestEncoder::new(&mut buf);
/// let host = HostMeta { prefix: "netdata", hostname: "h", tags: "env=\"prod\", rack-id=7" };
/// assert_eq!(push_host_tags(&mut encoder, &host, 1_000), Ok(2)); // env, rack_id
/// let host = HostMeta { tags: "a=1 b=2", ..host };
/// assert_eq!(push_host_tags(&mut encoder, &host, 1_000), Ok(0));
/// assert_eq!(encoder.series(), 1);
/// ```
pub fn push_host_tags(
    encoder: &mut WriteRequestEncoder<'_>,
    host: &HostMeta<'_>,
    now_ms: i64,
) -> Result<usize, BufferFull> {
    // Sanitised names: within the first `TAGS` bytes, plus a possible `_` each.
    let mut names = [0u8; limits::TAGS + MAX_HOST_TAGS];
    let mut spans = [(0usize, 0usize, ""); MAX_HOST_TAGS];
    let mut used = 0;
    let mut count = 0;
    for tag in HostTags::new(host.tags) {
        if count == MAX_HOST_TAGS {
            break;
        }
        if tag.name.is_empty() || tag.value.is_empty() {
            continue;
        }
        let start = used;
        let rest = names.get_mut(used..).unwrap_or(&mut []);
        if tag.name.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            if let Some(slot) = rest.first_mut() {
                *slot = b'_';
                used += 1;
            }
        }
        let rest = names.get_mut(used..).unwrap_or(&mut []);
        used += sanitize_prometheus(tag.name.as_bytes(), tag.name.len(), rest);
        let name = names.get(start..used).unwrap_or(&[]);
        if name.starts_with(b"__") || name == b"instance" {
            used = start;
            continue;
        }
        if let Some(span) = spans.get_mut(count) {
            *span = (start, used, tag.value);
            count += 1;
        }
    }
    if count == 0 {
        return Ok(0);
    }

    let mut labels = [Label::default(); 2 + MAX_HOST_TAGS];
    let (fixed, n_fixed) = collect_labels([
        (NAME_LABEL, HOST_TAGS_METRIC),
        ("instance", truncate(host.hostname, limits::HOSTNAME)),
    ]);
    let mut n = 0;
    for label in fixed.iter().take(n_fixed) {
        labels[n] = *label;
        n += 1;
    }
    for &(start, end, value) in spans.iter().take(count) {
        let name = names
            .get(start..end)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("");
        if let Some(slot) = labels.get_mut(n) {
            *slot = Label::new(name, truncate(value, limits::NAME));
            n += 1;
        }
    }
    let labels = labels.get_mut(..n).unwrap_or(&mut []);
    sort_labels(labels);
    // Drop repeated names; the sort is stable, so the first tag of a name stays.
    let mut kept = 0;
    for i in 0..labels.len() {
        if kept == 0 || labels[kept - 1].name != labels[i].name {
            labels[kept] = labels[i];
            kept += 1;
        }
    }
    let labels = labels.get(..kept).unwrap_or(&[]);
    encoder.push_series(labels, Sample::new(1.0, now_ms))?;
    Ok(kept - n_fixed)
}

/// Appends the series of one record (see the [module documentation](self) for its name
/// and labels).
///
/// The value is [`Decimal::to_f64`](crate::decimal::Decimal::to_f64) of a stored value
/// (correctly rounded) or a collected integer rounded to the nearest `f64`; the naming
/// follows `kind`, whatever the value's variant. The timestamp is
/// `record.timestamp · 1000` ms, plus [`Collected::subsec_millis`] for collected values
/// (saturating at the `i64` range).
///
/// # Errors
///
/// [`BufferFull`] if the series does not fit; nothing is written then.
pub fn push_record(
    encoder: &mut WriteRequestEncoder<'_>,
    record: &Record<'_>,
    kind: SeriesKind,
    options: Options,
) -> Result<(), BufferFull> {
    let mut name = MetricName::empty();
    name.build(record, kind, options);
    let (sample, dimension) = sample_of(record, kind);
    let dimension = if dimension {
        truncate(record.dimension_label(), limits::NAME)
    } else {
        ""
    };
    let (labels, n) = collect_labels([
        (NAME_LABEL, name.as_str()),
        ("chart", truncate(record.chart_label(), limits::NAME)),
        ("dimension", dimension),
        ("family", truncate(record.chart.family, limits::NAME)),
        ("instance", truncate(record.host.hostname, limits::HOSTNAME)),
    ]);
    encoder.push_series(labels.get(..n).unwrap_or(&[]), sample)
}

/// The sample of `record` as a series of `kind`, and whether the series has a
/// `dimension` label.
#[inline]
fn sample_of(record: &Record<'_>, kind: SeriesKind) -> (Sample, bool) {
    let value = match record.value {
        Value::Stored(decimal) => decimal.to_f64(),
        Value::Collected(raw) => raw as f64,
    };
    let seconds_ms = record.timestamp.saturating_mul(1000);
    let (timestamp, dimension) = match kind {
        SeriesKind::Stored(_) => (seconds_ms, true),
        SeriesKind::Collected(collected) => (
            seconds_ms.saturating_add(i64::from(collected.subsec_millis.min(999))),
            collected.homogeneous,
        ),
    };
    (Sample::new(value, timestamp), dimension)
}

/// One `name=value` pair of the host tags, as written (not yet checked, see
/// [`push_host_tags`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HostTag<'a> {
    /// The name.
    pub name: &'a str,
    /// The value, without its quotes.
    pub value: &'a str,
}

/// The host-tags parser of netdata's remote write, as an iterator over the pairs.
///
/// The grammar is netdata's: skip whitespace; a name runs to whitespace or `=`, and must
/// be followed by `=`; skip whitespace and one optional `"`; the value runs to whitespace
/// or `,`, and one `"` just before its end is removed; a `,` ends the pair. So
/// `a="1",b="2"` and `a=1, b=2` both give `a`=`1`, `b`=`2`. Whitespace is the C locale's
/// (space, `\t`, `\n`, `\v`, `\f`, `\r`).
///
/// Parsing **stops** at the first pair that does not follow the grammar; the pairs before
/// it are kept, that pair and everything after it are not used, and
/// [`unparsed`](Self::unparsed) returns the text from that pair on, for the caller to
/// report. In particular **`a=1 b=2` gives no pair** (a value followed by a second word:
/// netdata's rule, so that `a="x y"` is not read as `a`=`x`), and `c=3,a=1 b=2` gives
/// only `c`.
///
/// Where backhaul departs from netdata:
///
/// * whitespace between a value and the `,` after it or the end of the text is allowed
///   (netdata drops such a pair and stops);
/// * only pairs that end within the first [`limits::TAGS`] bytes are used: the pair that
///   crosses that limit stops parsing, where netdata cut it mid-value (and then read on
///   past its buffer, which had no terminator).
///
/// # Examples
///
/// ```
/// use backhaul_core::format::remote_write::HostTags;
///
/// let pairs = |text| HostTags::new(text).map(|t| (t.name, t.value)).collect::<Vec<_>>();
/// assert_eq!(pairs(r#"a="1",b="2""#), [("a", "1"), ("b", "2")]);
/// assert_eq!(pairs("a=1, b=2"), [("a", "1"), ("b", "2")]);
/// assert_eq!(pairs("a=1 b=2"), []);
///
/// let mut tags = HostTags::new("c=3,a=1 b=2");
/// assert_eq!(tags.next().map(|t| t.name), Some("c"));
/// assert_eq!(tags.next(), None);
/// assert_eq!(tags.unparsed(), "a=1 b=2");
/// ```
#[derive(Clone, Debug)]
pub struct HostTags<'a> {
    text: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> HostTags<'a> {
    /// A parser over the host-tags text.
    #[must_use]
    pub const fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            done: false,
        }
    }

    /// The text not used: empty when every pair was read, the text from the offending
    /// pair on when parsing stopped early (or the text not read yet, while iterating).
    #[must_use]
    pub fn unparsed(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn stop(&mut self) -> Option<HostTag<'a>> {
        self.done = true;
        None
    }
}

const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

impl<'a> Iterator for HostTags<'a> {
    type Item = HostTag<'a>;

    fn next(&mut self) -> Option<HostTag<'a>> {
        if self.done {
            return None;
        }
        let bytes = self.text.as_bytes();
        let at = |i: usize| bytes.get(i).copied();
        let skip_space = |mut i: usize| {
            while at(i).is_some_and(is_space) {
                i += 1;
            }
            i
        };
        // Every position below is at an ASCII byte or the end, so a char boundary.
        let start = skip_space(self.pos);
        self.pos = start;
        if start == bytes.len() {
            return self.stop();
        }
        let mut i = start;
        while at(i).is_some_and(|b| !is_space(b) && b != b'=') {
            i += 1;
        }
        if at(i) != Some(b'=') {
            return self.stop();
        }
        let name = self.text.get(start..i).unwrap_or("");
        i = skip_space(i + 1);
        if at(i) == Some(b'"') {
            i += 1;
        }
        let value_start = i;
        while at(i).is_some_and(|b| !is_space(b) && b != b',') {
            i += 1;
        }
        let value_end = i;
        i = skip_space(i);
        match at(i) {
            Some(b',') => i += 1,
            None => {}
            Some(_) => return self.stop(),
        }
        if value_end > limits::TAGS {
            return self.stop();
        }
        let mut value = self.text.get(value_start..value_end).unwrap_or("");
        if let Some(unquoted) = value.strip_suffix('"') {
            value = unquoted;
        }
        self.pos = i;
        Some(HostTag { name, value })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::decimal::Decimal;
    use crate::format::{ChartMeta, DimensionMeta};
    use std::string::String;
    use std::vec::Vec;

    fn pairs(text: &str) -> (Vec<(&str, &str)>, &str) {
        let mut tags = HostTags::new(text);
        let pairs = tags.by_ref().map(|t| (t.name, t.value)).collect();
        (pairs, tags.unparsed())
    }

    macro_rules! host_tag_cases {
        ($($name:ident: $text:expr => [$(($k:expr, $v:expr)),*], $rest:expr;)*) => {$(
            #[test]
            fn $name() {
                let expected: &[(&str, &str)] = &[$(($k, $v)),*];
                assert_eq!(pairs($text), (expected.to_vec(), $rest));
            }
        )*};
    }

    host_tag_cases! {
        tags_quoted: r#"a="1",b="2""# => [("a", "1"), ("b", "2")], "";
        tags_bare_with_spaces: "a=1, b=2" => [("a", "1"), ("b", "2")], "";
        tags_space_separated_give_none: "a=1 b=2" => [], "a=1 b=2";
        tags_kept_before_the_stop: "c=3,a=1 b=2" => [("c", "3")], "a=1 b=2";
        tags_quoted_space_stops: r#"a="x y",b=2"# => [], r#"a="x y",b=2"#;
        tags_empty: "" => [], "";
        tags_blank: " \t\n" => [], "";
        tags_trailing_comma: "a=1," => [("a", "1")], "";
        tags_name_without_value: "a=1,b" => [("a", "1")], "b";
        tags_name_then_space: "a =1" => [], "a =1";
        tags_space_after_equals: "a= 1" => [("a", "1")], "";
        tags_space_before_comma: "a=1 ,b=2 " => [("a", "1"), ("b", "2")], "";
        tags_empty_value: "a=,b=2" => [("a", ""), ("b", "2")], "";
        tags_empty_name: "=1" => [("", "1")], "";
        tags_lone_quote: r#"a=""# => [("a", "")], "";
        tags_closing_quote_only: r#"a=1""# => [("a", "1")], "";
        tags_inner_quote_kept: r#"a="1"2""# => [("a", "1\"2")], "";
        tags_utf8: "zone=zürich" => [("zone", "zürich")], "";
        tags_equals_in_value: "a=b=c" => [("a", "b=c")], "";
    }

    #[test]
    fn tags_beyond_the_limit_are_not_used() {
        let mut text = String::from("a=1,");
        let filler = limits::TAGS - text.len() - "b=".len();
        text.push_str("b=");
        text.push_str(&"x".repeat(filler));
        // `b`'s value ends exactly at the limit: used.
        let (got, rest) = pairs(&text);
        assert_eq!(got.len(), 2);
        assert_eq!(rest, "");
        // One byte more: `b` crosses it and stops the parse.
        text.push('y');
        text.push_str(",c=3");
        let (got, rest) = pairs(&text);
        assert_eq!(got, [("a", "1")]);
        assert!(rest.starts_with("b=xx"));
    }

    fn record<'a>(value: Value, units: &'a str) -> Record<'a> {
        Record {
            host: HostMeta {
                prefix: "netdata",
                hostname: "myhost",
                tags: "",
            },
            chart: ChartMeta {
                id: "mem.x",
                name: "mem.named",
                family: "fam \"q\"",
                context: "mem.ctx",
                chart_type: "mem",
                units,
            },
            dimension: DimensionMeta {
                id: "a-id",
                name: "a.name",
            },
            names: true,
            value,
            timestamp: 1_609_459_190,
        }
    }

    macro_rules! name_cases {
        ($($name:ident: $units:expr, $kind:expr, $options:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                let r = record(Value::Collected(1), $units);
                let name = MetricName::new(&r, $kind, $options);
                assert_eq!(name.as_str(), $expected);
                assert!(is_valid_metric_name(name.as_str()));
            }
        )*};
    }

    const fn collected(homogeneous: bool, counter: bool) -> SeriesKind {
        SeriesKind::Collected(Collected {
            homogeneous,
            counter,
            subsec_millis: 0,
        })
    }

    name_cases! {
        name_average: "KiB/s", SeriesKind::Stored(Reduce::Average), Options::new()
            => "netdata_mem_ctx_KiB_persec_average";
        name_average_old_units: "KiB/s", SeriesKind::Stored(Reduce::Average),
            Options::new().with_unit_names(UnitNames::Old) => "netdata_mem_ctx_kilobytes_persec_average";
        name_average_percent: "%", SeriesKind::Stored(Reduce::Average), Options::new()
            => "netdata_mem_ctx_percent_average";
        name_sum: "KiB/s", SeriesKind::Stored(Reduce::Sum), Options::new() => "netdata_mem_ctx_sum";
        name_homogeneous: "x", collected(true, true), Options::new() => "netdata_mem_ctx";
        name_homogeneous_total: "x", collected(true, true), Options::new().with_counter_total(true)
            => "netdata_mem_ctx_total";
        name_gauge_no_total: "x", collected(true, false), Options::new().with_counter_total(true)
            => "netdata_mem_ctx";
        name_heterogeneous: "x", collected(false, false), Options::new() => "netdata_mem_ctx_a_name";
        name_heterogeneous_total: "x", collected(false, true), Options::new().with_counter_total(true)
            => "netdata_mem_ctx_a_name_total";
    }

    #[test]
    fn prefix_is_sanitised() {
        let mut r = record(Value::Collected(1), "x");
        for (prefix, expected) in [
            ("my-app", "my_app_mem_ctx"),
            ("9x", "_9x_mem_ctx"),
            ("", "_mem_ctx"),
        ] {
            r.host.prefix = prefix;
            let name = MetricName::new(&r, collected(true, false), Options::new());
            assert_eq!(name.as_str(), expected);
        }
    }

    #[test]
    fn longest_names_fit() {
        let long = "é".repeat(400);
        let mut r = record(Value::Collected(1), &long);
        r.host.prefix = &long;
        r.chart.context = &long;
        r.dimension.name = &long;
        for kind in [SeriesKind::Stored(Reduce::Average), collected(false, true)] {
            let name = MetricName::new(&r, kind, Options::new().with_counter_total(true));
            assert!(name.as_str().len() <= 566, "{}", name.as_str().len());
            assert!(name.as_str().ends_with("_average") || name.as_str().ends_with("_total"));
        }
    }

    /// Decodes the labels of the single series of a request (test helper; no prost here).
    fn labels_of(request: &[u8]) -> Vec<(String, String)> {
        use crate::format::remote_write::varint::read_varint;
        fn fields(mut bytes: &[u8]) -> Vec<(u8, &[u8])> {
            let mut out = Vec::new();
            while let [tag, rest @ ..] = bytes {
                let (len, n) = read_varint(rest).unwrap();
                out.push((*tag, &rest[n..n + len as usize]));
                bytes = &rest[n + len as usize..];
                if *tag & 7 != 2 {
                    break;
                }
            }
            out
        }
        let [(0x0a, series)] = fields(request)[..] else {
            panic!("one series expected")
        };
        fields(series)
            .into_iter()
            .filter(|(tag, _)| *tag == 0x0a)
            .map(|(_, label)| {
                let mut name = String::new();
                let mut value = String::new();
                for (tag, bytes) in fields(label) {
                    let s = String::from(core::str::from_utf8(bytes).unwrap());
                    if tag == 0x0a {
                        name = s
                    } else {
                        value = s
                    }
                }
                (name, value)
            })
            .collect()
    }

    fn one_series(push: impl FnOnce(&mut WriteRequestEncoder<'_>)) -> Vec<(String, String)> {
        let mut buf = [0u8; 4096];
        let mut encoder = WriteRequestEncoder::new(&mut buf);
        push(&mut encoder);
        let len = encoder.finish();
        labels_of(&buf[..len])
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|&(k, v)| (k.into(), v.into())).collect()
    }

    #[test]
    fn record_labels_are_sorted_and_raw() {
        let r = record(Value::Stored(Decimal::from_units(false, 5)), "KiB/s");
        let got = one_series(|e| {
            push_record(e, &r, SeriesKind::Stored(Reduce::Average), Options::new()).unwrap()
        });
        assert_eq!(
            got,
            owned(&[
                ("__name__", "netdata_mem_ctx_KiB_persec_average"),
                ("chart", "mem.named"),
                ("dimension", "a.name"),
                ("family", "fam \"q\""),
                ("instance", "myhost"),
            ])
        );
        let got =
            one_series(|e| push_record(e, &r, collected(false, false), Options::new()).unwrap());
        let names: Vec<_> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["__name__", "chart", "family", "instance"]);
    }

    #[test]
    fn empty_label_values_are_left_out() {
        let mut r = record(Value::Collected(3), "x");
        r.chart.family = "";
        r.host.hostname = "";
        let got =
            one_series(|e| push_record(e, &r, collected(true, false), Options::new()).unwrap());
        assert_eq!(
            got,
            owned(&[
                ("__name__", "netdata_mem_ctx"),
                ("chart", "mem.named"),
                ("dimension", "a.name")
            ])
        );
    }

    #[test]
    fn info_series() {
        let host = HostMeta {
            prefix: "netdata",
            hostname: "myhost",
            tags: "",
        };
        let got = one_series(|e| push_info(e, &host, "netdata", "v1.28.0", 1).unwrap());
        assert_eq!(
            got,
            owned(&[
                ("__name__", "netdata_info"),
                ("application", "netdata"),
                ("instance", "myhost"),
                ("version", "v1.28.0"),
            ])
        );
    }

    #[test]
    fn host_tag_labels_are_checked() {
        let host = HostMeta {
            prefix: "netdata",
            hostname: "myhost",
            tags:
                "rack-id=7, 2nd=x, __name__=evil, instance=other, Zone=eu, rack_id=8, e=, k=\"v\"",
        };
        let got = one_series(|e| assert_eq!(push_host_tags(e, &host, 1), Ok(4)));
        assert_eq!(
            got,
            owned(&[
                ("Zone", "eu"),
                ("_2nd", "x"),
                ("__name__", "netdata_host_tags_info"),
                ("instance", "myhost"),
                ("k", "v"),
                ("rack_id", "7"),
            ])
        );
        for (_, name) in got.iter().map(|(k, v)| (v, k)) {
            assert!(is_valid_label_name(name), "{name}");
        }
    }

    #[test]
    fn no_valid_tag_no_series() {
        let mut buf = [0u8; 64];
        let mut encoder = WriteRequestEncoder::new(&mut buf);
        for tags in ["", "a=1 b=2", "__x=1", "a="] {
            let host = HostMeta {
                prefix: "p",
                hostname: "h",
                tags,
            };
            assert_eq!(push_host_tags(&mut encoder, &host, 1), Ok(0));
        }
        assert!(encoder.is_empty());
    }

    #[test]
    fn at_most_63_tags() {
        let mut tags = String::new();
        for i in 0..100 {
            tags.push_str(&std::format!("t{i}=v,"));
        }
        let host = HostMeta {
            prefix: "p",
            hostname: "h",
            tags: &tags,
        };
        let got = one_series(|e| assert_eq!(push_host_tags(e, &host, 1), Ok(MAX_HOST_TAGS)));
        assert_eq!(got.len(), 2 + MAX_HOST_TAGS);
    }

    #[test]
    fn collected_timestamps_and_values() {
        let mut r = record(Value::Collected(i64::MAX), "x");
        let kind = SeriesKind::Collected(Collected {
            homogeneous: true,
            counter: false,
            subsec_millis: 5000,
        });
        let mut buf = [0u8; 512];
        let mut encoder = WriteRequestEncoder::new(&mut buf);
        push_record(&mut encoder, &r, kind, Options::new()).unwrap();
        r.timestamp = i64::MAX;
        push_record(&mut encoder, &r, kind, Options::new()).unwrap();
        let len = encoder.finish();
        // Sample { value 2^63, timestamp 1609459190999 }, then the saturated timestamp.
        let first = &buf[..len];
        let sample = b"\x12\x10\x09\x00\x00\x00\x00\x00\x00\xe0\x43\x10\xd7\x99\xf9\xd9\xeb\x2e";
        assert!(first.windows(sample.len()).any(|w| w == sample));
        let saturated = b"\x10\xff\xff\xff\xff\xff\xff\xff\xff\x7f";
        assert!(first.ends_with(saturated));
    }

    #[test]
    fn sort_is_stable_and_bytewise() {
        let mut labels = [
            Label::new("b", "1"),
            Label::new("a", "1"),
            Label::new("b", "2"),
            Label::new("B", "3"),
            Label::new("_", "4"),
        ];
        sort_labels(&mut labels);
        let got: Vec<_> = labels.iter().map(|l| (l.name, l.value)).collect();
        assert_eq!(
            got,
            [("B", "3"), ("_", "4"), ("a", "1"), ("b", "1"), ("b", "2")]
        );
        sort_labels(&mut []);
    }

    #[test]
    fn name_validity() {
        assert!(is_valid_metric_name("a:b_1"));
        assert!(!is_valid_metric_name("1a"));
        assert!(!is_valid_metric_name(""));
        assert!(is_valid_label_name("_1"));
        assert!(!is_valid_label_name("a:b"));
        assert!(!is_valid_label_name("é"));
    }
}

/// Remote write as a record format for the [engine](crate::engine): each record becomes
/// one whole `TimeSeries` field, and a request body is the concatenation of such fields
/// (which is exactly a serialised `WriteRequest`). The engine compresses each body with
/// snappy when its framing asks for it ([`HttpFraming::remote_write`]).
///
/// [`HttpFraming::remote_write`]: crate::engine::HttpFraming::remote_write
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RemoteWriteFormat {
    /// Stored (average or sum) or as-collected series.
    pub kind: SeriesKind,
    /// Naming options.
    pub options: Options,
}

impl crate::engine::RecordFormat for RemoteWriteFormat {
    fn write(&self, record: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull> {
        let mut encoder = WriteRequestEncoder::new(out);
        push_record(&mut encoder, record, self.kind, self.options)?;
        Ok(encoder.finish())
    }

    #[inline]
    fn write_cached(
        &self,
        cache: &mut ChartCache,
        record: &Record<'_>,
        out: &mut [u8],
    ) -> Result<usize, BufferFull> {
        cache.write(self, record, out)
    }
}

/// Tells `ChartPart::with_timestamp_piece` the piece is a remote-write timestamp field.
const TIMESTAMP_TAG: u8 = 5;

/// Remote write's chart part: the `__name__` and `chart` labels (head) and the `family`
/// and `instance` labels (tail), encoded once per chart; each record adds its
/// `dimension` label and its sample. A heterogeneous as-collected chart (whose metric
/// names hold the dimension) has no chart part: its records are encoded one by one.
impl ChartFormat for RemoteWriteFormat {
    const CHART_STRS: usize = 4;

    #[inline]
    fn chart_strs<'r>(&self, record: &Record<'r>) -> [&'r str; CHART_KEY_STRS] {
        let c = &record.chart;
        [record.chart_label(), c.family, c.context, c.units, "", ""]
    }

    fn write_host_part(&self, record: &Record<'_>, part: &mut ChartPart) -> Result<(), BufferFull> {
        let (labels, n) =
            collect_labels([("instance", truncate(record.host.hostname, limits::HOSTNAME))]);
        let labels = labels.get(..n).unwrap_or(&[]);
        part.set_host_bytes(0, protobuf::labels_len(labels), |_, tail| {
            protobuf::write_labels(labels, tail)
        })
    }

    fn write_chart_part(
        &self,
        record: &Record<'_>,
        part: &mut ChartPart,
    ) -> Result<(), BufferFull> {
        if let SeriesKind::Collected(Collected {
            homogeneous: false, ..
        }) = self.kind
        {
            return Err(BufferFull);
        }
        // Built in place: returned by value, the 1 KiB name would be copied once more.
        let mut name = MetricName::empty();
        name.build(record, self.kind, self.options);
        // As bytes: the name is ASCII by construction, no UTF-8 check is needed.
        let head: [(&[u8], &[u8]); 2] = [
            (NAME_LABEL.as_bytes(), name.as_bytes()),
            (
                b"chart",
                truncate(record.chart_label(), limits::NAME).as_bytes(),
            ),
        ];
        let tail: [(&[u8], &[u8]); 1] = [(
            b"family",
            truncate(record.chart.family, limits::NAME).as_bytes(),
        )];
        part.set_chart_bytes(
            protobuf::byte_labels_len(&head),
            protobuf::byte_labels_len(&tail),
            |head_out, tail_out| {
                protobuf::write_byte_labels(&head, head_out)?;
                protobuf::write_byte_labels(&tail, tail_out)
            },
        )
    }

    #[inline]
    fn write_with_chart_part(
        &self,
        part: &mut ChartPart,
        record: &Record<'_>,
        out: &mut [u8],
    ) -> Result<usize, BufferFull> {
        // Only charts whose series have a `dimension` label have a part.
        let (sample, _) = sample_of(record, self.kind);
        let dimension = truncate(record.dimension_label(), limits::NAME);
        let label = [Label::new("dimension", dimension)];
        let labels = if dimension.is_empty() {
            &[][..]
        } else {
            &label[..]
        };
        // The timestamp field is the same for every record of an export span.
        let (head, tail, timestamp) =
            part.with_timestamp_piece(sample.timestamp, TIMESTAMP_TAG, |t, out| {
                protobuf::timestamp_field(t, out)
            });
        protobuf::encode_series_parts(head, labels, tail, sample.value.to_bits(), timestamp, out)
    }
}
