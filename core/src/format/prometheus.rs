//! The Prometheus text exposition of `GET /api/v1/allmetrics?format=prometheus` and
//! `format=prometheus_all_hosts` (spec §4.6), byte for byte as netdata writes it, so
//! that existing scrape configurations keep working.
//!
//! [`PromQuery::parse`] reads the URL's query string. An [`Exposition`] (one per host
//! and scrape) then writes the body piece by piece, each piece whole or not at all:
//!
//! 1. [`Exposition::write_header`]: the `# COMMENT netdata "HOST" to …` line (with
//!    `help=yes`; once per scrape, for the requested host, also in all-hosts mode);
//! 2. per host: [`Exposition::write_info`], [`Exposition::write_host_tags`];
//! 3. with `variables=yes`, if the host has custom variables:
//!    [`Exposition::write_variables_header`], then [`Exposition::write_variable`] for each
//!    host and chart variable;
//! 4. per eligible chart (§4.0 rules 1–3): [`Exposition::write_chart`], then per dimension
//!    with `collections_counter > 0` that is not obsolete:
//!    * as collected: [`Exposition::write_collected`], only for dimensions that
//!      [`PromDimension::collected_since`] the scrape's `after`;
//!    * average / sum: [`Exposition::write_stored`] with the dimension's
//!      [`window::value`](crate::window::value), skipped when that has no value.
//!
//! Pieces that an output switch turns off (help comments, variables) write nothing and
//! return `Ok(0)`. Each piece is at most its `MAX_*_LEN` constant long, and no line of it
//! is longer than [`MAX_LINE_LEN`].
//!
//! # Differences from netdata
//!
//! Identical output for every realistic input. The exceptions, all about text netdata
//! pastes unchecked, keep every line a line:
//!
//! * `# COMMENT` lines carry raw strings (hostname, server, chart, context, family,
//!   dimension, units, variable names) as netdata does, quotes unescaped, but each is cut at
//!   256 bytes (at a character boundary) and a newline or carriage return in it becomes a
//!   space. The prefix (cut at [`limits::PREFIX`]) and the host tags (cut at
//!   [`limits::TAGS`]) get the same newline treatment.
//! * A newline in a label value is written `\n` (backslash, letter n), the Prometheus
//!   escape; netdata's escaper puts a raw newline after the backslash, breaking the line.
//! * `application` and `version` of `netdata_info` are label-escaped like every other
//!   label value.
//! * Times and counts print as signed numbers; netdata's unsigned casts would print a time
//!   before 1970 as a 20-digit number. Products (`× 1000`) saturate.

use super::text::{self, Emit, Sink};
use super::{limits, truncate, BufferFull, ChartMeta, DimensionMeta, HostMeta};
use crate::config::DataSource;
use crate::decimal::Decimal;
use crate::name::{self, UnitNames, PROMETHEUS_USABLE};
use crate::number::{DecimalBuffer, Fixed7Buffer, IntBuffer};
use crate::window::Window;

/// The result of every writer: the number of bytes written, or [`BufferFull`] with the
/// buffer untouched.
pub type Result<T> = core::result::Result<T, BufferFull>;

// ---------------------------------------------------------------------------------------
// Query

/// The `format` URL parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Format<'a> {
    /// `shell` (the default when `format` is absent); not produced by this module.
    #[default]
    Shell,
    /// `json`; not produced by this module.
    Json,
    /// `prometheus`: this host only.
    Prometheus,
    /// `prometheus_all_hosts`: every host, each series with an `instance` label.
    PrometheusAllHosts,
    /// Any other word: netdata answers 400 ("Which format? '…' is not supported.").
    Unsupported(&'a str),
}

/// The output switches of the URL (`name=yes|1|true`, anything else turns one off).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PromOptions {
    /// `help`: the `# COMMENT` lines.
    pub help: bool,
    /// `types`: the `# TYPE` lines.
    pub types: bool,
    /// `names`: chart and dimension names instead of ids.
    pub names: bool,
    /// `timestamps`: a timestamp on every sample (on by default).
    pub timestamps: bool,
    /// `variables`: host and chart custom variables.
    pub variables: bool,
    /// `oldunits`: the pre-v1.12 units names in average metric names.
    pub old_units: bool,
    /// `hideunits`: no units in average metric names.
    pub hide_units: bool,
}

impl PromOptions {
    /// The defaults: only `timestamps` on, `names` as `send names instead of ids` says.
    #[must_use]
    pub const fn new(names: bool) -> Self {
        Self {
            help: false,
            types: false,
            names,
            timestamps: true,
            variables: false,
            old_units: false,
            hide_units: false,
        }
    }

    /// The units spelling `oldunits` selects.
    #[must_use]
    pub const fn unit_names(&self) -> UnitNames {
        if self.old_units {
            UnitNames::Old
        } else {
            UnitNames::Current
        }
    }
}

/// The parameters of an `/api/v1/allmetrics` request, borrowed from the query string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PromQuery<'a> {
    /// The requested format.
    pub format: Format<'a>,
    /// `server=`: the scraper's identity; `None` means the client's IP address.
    pub server: Option<&'a str>,
    /// `prefix=`: the metric prefix; `None` means the configured prefix.
    pub prefix: Option<&'a str>,
    /// The data source: the configured one unless a data-source parameter names another.
    pub source: DataSource,
    /// The last data-source word that named no data source (netdata logs it and keeps the
    /// source it had).
    pub invalid_source: Option<&'a str>,
    /// The output switches.
    pub options: PromOptions,
}

/// The names of the data-source parameter.
const SOURCE_PARAMS: [&str; 6] = [
    "data",
    "source",
    "data source",
    "data-source",
    "data_source",
    "datasource",
];

impl<'a> PromQuery<'a> {
    /// The parameters of an empty query: `source` and `names` come from the configuration
    /// (`data source`, `send names instead of ids`).
    #[must_use]
    pub const fn new(source: DataSource, names: bool) -> Self {
        Self {
            format: Format::Shell,
            server: None,
            prefix: None,
            source,
            invalid_source: None,
            options: PromOptions::new(names),
        }
    }

    /// Parses a query string (without the leading `?`, already percent-decoded as
    /// netdata decodes it before splitting): `&`-separated `name=value` pairs, names
    /// matched exactly; pairs with an empty name or value, without `=`, or with an
    /// unknown name are ignored; a later pair overrides an earlier one.
    ///
    /// # Examples
    ///
    /// ```
    /// use backhaul_core::config::DataSource;
    /// use backhaul_core::format::prometheus::{Format, PromQuery};
    ///
    /// let q = PromQuery::parse("format=prometheus&source=sum&help=yes&timestamps=no",
    ///                          DataSource::Average, true);
    /// assert_eq!(q.format, Format::Prometheus);
    /// assert_eq!(q.source, DataSource::Sum);
    /// assert!(q.options.help && !q.options.timestamps && q.options.names);
    /// ```
    #[must_use]
    pub fn parse(query: &'a str, source: DataSource, names: bool) -> Self {
        let mut q = Self::new(source, names);
        for pair in query.split('&') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if name.is_empty() || value.is_empty() {
                continue;
            }
            q.apply(name, value);
        }
        q
    }

    fn apply(&mut self, name: &str, value: &'a str) {
        let on = matches!(value, "yes" | "1" | "true");
        let o = &mut self.options;
        match name {
            "format" => {
                self.format = match value {
                    "shell" => Format::Shell,
                    "json" => Format::Json,
                    "prometheus" => Format::Prometheus,
                    "prometheus_all_hosts" => Format::PrometheusAllHosts,
                    other => Format::Unsupported(other),
                };
            }
            "server" => self.server = Some(value),
            "prefix" => self.prefix = Some(value),
            "help" => o.help = on,
            "types" => o.types = on,
            "names" => o.names = on,
            "timestamps" => o.timestamps = on,
            "variables" => o.variables = on,
            "oldunits" => o.old_units = on,
            "hideunits" => o.hide_units = on,
            _ if SOURCE_PARAMS.contains(&name) => match DataSource::from_word(value) {
                Some(source) => self.source = source,
                None => self.invalid_source = Some(value),
            },
            _ => {}
        }
    }

    /// Whether every host is exported (`format=prometheus_all_hosts`).
    #[must_use]
    pub const fn all_hosts(&self) -> bool {
        matches!(self.format, Format::PrometheusAllHosts)
    }
}

/// One scrape's time range, as netdata derives it from the scraper's previous visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Scrape<'a> {
    /// The scraper's identity (`server=`, or its IP address).
    pub server: &'a str,
    /// No previous scrape by this server of this host is remembered.
    pub first_seen: bool,
    /// The window start (seconds).
    pub after: i64,
    /// The window end: now (seconds).
    pub before: i64,
}

impl<'a> Scrape<'a> {
    /// The range for a scrape at `now` by `server`, whose previous scrape of this host was
    /// at `previous` (`None` on the first): `after` is `previous`, or `now − update_every`
    /// on the first scrape and when `previous` lies in the future.
    #[must_use]
    pub const fn new(server: &'a str, now: i64, previous: Option<i64>, update_every: u32) -> Self {
        let fallback = now.saturating_sub(update_every as i64);
        let after = match previous {
            Some(t) if t <= now => t,
            _ => fallback,
        };
        Self {
            server,
            first_seen: previous.is_none(),
            after,
            before: now,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Charts and dimensions

/// How a dimension's collected values become stored ones (netdata's `algorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Algorithm {
    /// `absolute`: the value as collected.
    #[default]
    Absolute,
    /// `incremental`: the rate of a counter.
    Incremental,
    /// `percentage-of-absolute-row`.
    PercentageOfAbsoluteRow,
    /// `percentage-of-incremental-row`.
    PercentageOfIncrementalRow,
}

impl Algorithm {
    /// Whether the collected value is a counter: `incremental` and
    /// `percentage-of-incremental-row` (a `_total` metric of type `counter`).
    #[must_use]
    pub const fn is_counter(self) -> bool {
        matches!(self, Self::Incremental | Self::PercentageOfIncrementalRow)
    }
}

/// A chart, as the exposition needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PromChart<'a> {
    /// Ids, names, family, context and units.
    pub meta: ChartMeta<'a>,
    /// [`is_homogeneous`] over **all** the chart's dimensions (it only matters as
    /// collected).
    pub homogeneous: bool,
}

/// A dimension, as the as-collected exposition needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PromDimension<'a> {
    /// Id and name.
    pub meta: DimensionMeta<'a>,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The multiplier.
    pub multiplier: i64,
    /// The divisor.
    pub divisor: i64,
    /// The last collected raw value.
    pub last_collected_value: i64,
    /// When it was collected, in Unix milliseconds (`tv_sec·1000 + tv_usec/1000`).
    pub last_collected_ms: i64,
}

impl PromDimension<'_> {
    /// Whether the dimension is exported as collected by a scrape starting at `after`
    /// (seconds): netdata skips it if the collection's whole second is before `after`.
    #[must_use]
    pub const fn collected_since(&self, after: i64) -> bool {
        self.last_collected_ms.div_euclid(1000) >= after
    }
}

/// Whether a chart is homogeneous: every dimension has the first one's algorithm, and the
/// same absolute multiplier and divisor (exact 64-bit absolute values, saturating for
/// `i64::MIN`, where netdata applies the `int` `abs()`). An empty chart is homogeneous.
pub fn is_homogeneous<'d, 'a: 'd>(dims: impl IntoIterator<Item = &'d PromDimension<'a>>) -> bool {
    let key = |d: &PromDimension<'_>| {
        (
            d.algorithm,
            d.multiplier.saturating_abs(),
            d.divisor.saturating_abs(),
        )
    };
    let mut dims = dims.into_iter();
    let Some(first) = dims.next() else {
        return true;
    };
    let first = key(first);
    dims.all(|d| key(d) == first)
}

// ---------------------------------------------------------------------------------------
// Line lengths

/// The longest raw string in a `# COMMENT` line.
const RAW: usize = PROMETHEUS_USABLE;
/// The longest escaped label value.
const LABEL: usize = name::max_label_len(PROMETHEUS_USABLE);
/// The longest sanitised name part.
const PART: usize = name::max_sanitized_len(PROMETHEUS_USABLE);
/// The longest units suffix.
const UNITS: usize = name::max_units_len(PROMETHEUS_USABLE);
/// The longest prefix.
const PREFIX: usize = limits::PREFIX;
/// The longest integer.
const INT: usize = IntBuffer::MAX_STR_LEN;
/// `,instance="H"`.
const INSTANCE: usize = ",instance=\"\"".len() + LABEL;

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The longest piece [`Exposition::write_header`] writes (one line and an empty one); an
/// upper bound (its three numbers cannot all have 20 digits at once).
pub const MAX_HEADER_LEN: usize = "# COMMENT netdata \"\" to FIRST SEEN prometheus \"\", \
     source \"as collected\", last seen  seconds ago, time range  to \n\n"
    .len()
    + 2 * RAW
    + 3 * INT;

/// The longest piece [`Exposition::write_info`] writes (one line).
pub const MAX_INFO_LEN: usize =
    "netdata_info{instance=\"\",application=\"\",version=\"\"} 1 \n".len() + 3 * LABEL + INT;

/// The longest line [`Exposition::write_host_tags`] writes.
const MAX_TAGS_LINE_LEN: usize =
    "netdata_host_tags_info{instance=\"\",} 1 \n".len() + LABEL + limits::TAGS + INT;

/// The longest piece [`Exposition::write_host_tags`] writes (two lines).
pub const MAX_HOST_TAGS_LEN: usize = 2 * MAX_TAGS_LINE_LEN - "_info".len();

/// The piece [`Exposition::write_variables_header`] writes.
const VARIABLES_HEADER: &str = "\n# COMMENT global host and chart variables\n";

/// The longest piece [`Exposition::write_variables_header`] writes.
pub const MAX_VARIABLES_HEADER_LEN: usize = VARIABLES_HEADER.len();

/// The longest piece [`Exposition::write_variable`] writes (one line).
pub const MAX_VARIABLE_LEN: usize = max(
    "_{instance=\"\"}  \n".len() + PREFIX + PART + LABEL + Fixed7Buffer::MAX_STR_LEN + INT,
    "# COMMENT variable \"\" is NAN. Skipped.\n".len() + RAW,
);

/// The longest piece [`Exposition::write_chart`] writes (an empty line and one line).
pub const MAX_CHART_LEN: usize = "\n# COMMENT heterogeneous chart \"\", context \"\", \
     family \"\", units \"\"\n"
    .len()
    + 4 * RAW;

/// The longest as-collected metric name of a homogeneous chart (a counter).
const COLLECTED_NAME_HOM: usize = PREFIX + "__total".len() + PART;
/// The longest as-collected metric name of a heterogeneous chart (a counter).
const COLLECTED_NAME_HET: usize = COLLECTED_NAME_HOM + "_".len() + PART;
/// The longest average/sum metric name.
const STORED_NAME: usize = PREFIX + "__average".len() + PART + UNITS;

const fn collected_help(name: usize) -> usize {
    "# COMMENT : chart \"\", context \"\", family \"\", dimension \"\", \
     value *  /  delta gives  (counter)\n"
        .len()
        + name
        + 5 * RAW
        + 2 * INT
}
const fn collected_type(name: usize) -> usize {
    "# TYPE  counter\n".len() + name
}
/// Homogeneous: no dimension in the name, a `dimension` label.
const COLLECTED_SAMPLE_HOM: usize = COLLECTED_NAME_HOM
    + "{chart=\"\",family=\"\",dimension=\"\"}  \n".len()
    + 3 * LABEL
    + INSTANCE
    + 2 * INT;
/// Heterogeneous: the dimension in the name, no `dimension` label.
const COLLECTED_SAMPLE_HET: usize =
    COLLECTED_NAME_HET + "{chart=\"\",family=\"\"}  \n".len() + 2 * LABEL + INSTANCE + 2 * INT;

/// The longest piece [`Exposition::write_collected`] writes (three lines).
pub const MAX_COLLECTED_LEN: usize = max(
    collected_help(COLLECTED_NAME_HOM) + collected_type(COLLECTED_NAME_HOM) + COLLECTED_SAMPLE_HOM,
    collected_help(COLLECTED_NAME_HET) + collected_type(COLLECTED_NAME_HET) + COLLECTED_SAMPLE_HET,
);

const STORED_HELP: usize = "# COMMENT : dimension \"\", value is , gauge, dt  to  inclusive\n"
    .len()
    + STORED_NAME
    + 2 * RAW
    + 2 * INT;
const STORED_TYPE: usize = "# TYPE  gauge\n".len() + STORED_NAME;
const STORED_SAMPLE: usize = STORED_NAME
    + "{chart=\"\",family=\"\",dimension=\"\"}  \n".len()
    + 3 * LABEL
    + INSTANCE
    + DecimalBuffer::MAX_STR_LEN
    + INT;

/// The longest piece [`Exposition::write_stored`] writes (three lines).
pub const MAX_STORED_LEN: usize = STORED_HELP + STORED_TYPE + STORED_SAMPLE;

/// The longest line (its `\n` included) any writer of this module produces: a buffer of
/// this size always has room for one more line.
pub const MAX_LINE_LEN: usize = {
    let a = max(MAX_HEADER_LEN, MAX_INFO_LEN);
    let b = max(MAX_TAGS_LINE_LEN, MAX_VARIABLE_LEN);
    let c = max(
        max(MAX_CHART_LEN, collected_help(COLLECTED_NAME_HET)),
        max(COLLECTED_SAMPLE_HOM, COLLECTED_SAMPLE_HET),
    );
    let d = max(STORED_HELP, STORED_SAMPLE);
    max(max(a, b), max(c, d))
};

/// The longest piece any writer of this module produces.
pub const MAX_PIECE_LEN: usize = {
    let a = max(MAX_HEADER_LEN, MAX_INFO_LEN);
    let b = max(MAX_HOST_TAGS_LEN, MAX_VARIABLE_LEN);
    let c = max(MAX_CHART_LEN, max(MAX_COLLECTED_LEN, MAX_STORED_LEN));
    max(max(a, b), c)
};

const _: () = assert!(MAX_LINE_LEN <= MAX_PIECE_LEN);

// ---------------------------------------------------------------------------------------
// Writers

/// Everything the lines of one host in one scrape share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Exposition<'a> {
    /// The prefix (the query's `prefix=` or the configured one), the hostname and the
    /// host tags (empty for none).
    pub host: HostMeta<'a>,
    /// The data source.
    pub source: DataSource,
    /// The output switches.
    pub options: PromOptions,
    /// `format=prometheus_all_hosts`: every sample gets `instance="HOST"`.
    pub all_hosts: bool,
}

impl<'a> Exposition<'a> {
    /// The exposition of `host` for a parsed query.
    #[must_use]
    pub const fn new(host: HostMeta<'a>, query: &PromQuery<'_>) -> Self {
        Self {
            host,
            source: query.source,
            options: query.options,
            all_hosts: query.all_hosts(),
        }
    }

    /// With `help`, the scrape header and an empty line:
    /// `# COMMENT netdata "HOST" to [FIRST SEEN ]prometheus "SERVER", source "MODE",
    /// last seen N seconds ago|0 never, time range AFTER to BEFORE`.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` is shorter than the piece; `out` is then unchanged.
    pub fn write_header(&self, scrape: &Scrape<'_>, out: &mut [u8]) -> Result<usize> {
        self.write_if(self.options.help, Piece::Header(scrape), out)
    }

    /// `netdata_info{instance="HOST",application="APP",version="VER"} 1 NOW_MS`.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` is shorter than the piece; `out` is then unchanged.
    pub fn write_info(
        &self,
        application: &str,
        version: &str,
        now_ms: i64,
        out: &mut [u8],
    ) -> Result<usize> {
        self.write_if(true, Piece::Info(application, version, now_ms), out)
    }

    /// If the host has tags: `netdata_host_tags_info{TAGS} 1 NOW_MS` and the deprecated
    /// `netdata_host_tags{TAGS} 1 NOW_MS` (`{instance="HOST",TAGS}` for all hosts), the
    /// tags verbatim.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` is shorter than the piece; `out` is then unchanged.
    pub fn write_host_tags(&self, now_ms: i64, out: &mut [u8]) -> Result<usize> {
        self.write_if(!self.host.tags.is_empty(), Piece::Tags(now_ms), out)
    }

    /// With `help` and `variables`, the line before the first variable:
    /// `\n# COMMENT global host and chart variables\n`. Call it only when the host has a
    /// custom variable.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` is shorter than the piece; `out` is then unchanged.
    pub fn write_variables_header(&self, out: &mut [u8]) -> Result<usize> {
        let on = self.options.help && self.options.variables;
        self.write_if(on, Piece::VariablesHeader, out)
    }

    /// With `variables`, one custom host or chart variable:
    /// `PREFIX_NAME[{instance="HOST"}] VALUE NOW·1000`, `now_s` in seconds. A NaN or
    /// infinite value is skipped, with `help` saying so
    /// (`# COMMENT variable "NAME" is NAN|INF. Skipped.`).
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` is shorter than the piece; `out` is then unchanged.
    pub fn write_variable(
        &self,
        name: &str,
        value: f64,
        now_s: i64,
        out: &mut [u8],
    ) -> Result<usize> {
        let on = self.options.variables && (value.is_finite() || self.options.help);
        self.write_if(on, Piece::Variable(name, value, now_s), out)
    }

    /// With `help`, the chart's comment after an empty line:
    /// `# COMMENT homogeneous|heterogeneous chart "C", context "X", family "F", units "U"`
    /// (heterogeneous only as collected).
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` is shorter than the piece; `out` is then unchanged.
    pub fn write_chart(&self, chart: &PromChart<'_>, out: &mut [u8]) -> Result<usize> {
        self.write_if(self.options.help, Piece::Chart(chart), out)
    }

    /// One dimension as collected: the help comment (with `help`), the `# TYPE` line (with
    /// `types`) and the sample `NAME{chart=…,family=…[,dimension=…][,instance=…]} VALUE
    /// MS`. Counters (see [`Algorithm::is_counter`]) are `PREFIX_CTX[_DIM]_total`, others
    /// gauges `PREFIX_CTX[_DIM]`; `_DIM` and no `dimension` label when the chart is
    /// heterogeneous.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` is shorter than the piece; `out` is then unchanged.
    pub fn write_collected(
        &self,
        chart: &PromChart<'_>,
        dim: &PromDimension<'_>,
        out: &mut [u8],
    ) -> Result<usize> {
        self.write_if(true, Piece::Collected(chart, dim), out)
    }

    /// One dimension's average or sum over `window` (from
    /// [`window::value`](crate::window::value)): the help comment (with `help`), the
    /// `# TYPE` line (with `types`) and the sample
    /// `PREFIX_CTX[UNITS]_average|_sum{chart=…,family=…,dimension=…[,instance=…]} VALUE
    /// LAST·1000`. The units suffix is there for averages unless `hideunits`.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` is shorter than the piece; `out` is then unchanged.
    pub fn write_stored(
        &self,
        chart: &PromChart<'_>,
        dim: &DimensionMeta<'_>,
        value: Decimal,
        window: &Window,
        out: &mut [u8],
    ) -> Result<usize> {
        self.write_if(true, Piece::Stored(chart, dim, value, window), out)
    }

    fn write_if(&self, on: bool, piece: Piece<'_>, out: &mut [u8]) -> Result<usize> {
        if on {
            text::write(&Job { exp: self, piece }, out)
        } else {
            Ok(0)
        }
    }

    fn emit_header<S: Sink>(&self, scrape: &Scrape<'_>, s: &mut S) {
        s.raw(b"# COMMENT netdata \"");
        raw(s, self.host.hostname, RAW);
        s.raw(b"\" to ");
        if scrape.first_seen {
            s.raw(b"FIRST SEEN ");
        }
        s.raw(b"prometheus \"");
        raw(s, scrape.server, RAW);
        s.raw(b"\", source \"");
        s.raw(self.source.as_str().as_bytes());
        s.raw(b"\", last seen ");
        if scrape.first_seen {
            s.raw(b"0 never");
        } else {
            int(s, scrape.before.saturating_sub(scrape.after));
            s.raw(b" seconds ago");
        }
        s.raw(b", time range ");
        int(s, scrape.after);
        s.raw(b" to ");
        int(s, scrape.before);
        s.raw(b"\n\n");
    }

    fn emit_info<S: Sink>(&self, application: &str, version: &str, now_ms: i64, s: &mut S) {
        s.raw(b"netdata_info{instance=\"");
        label(s, self.host.hostname);
        s.raw(b"\",application=\"");
        label(s, application);
        s.raw(b"\",version=\"");
        label(s, version);
        s.raw(b"\"} 1");
        self.end_sample(s, now_ms);
    }

    fn emit_tags<S: Sink>(&self, now_ms: i64, s: &mut S) {
        for metric in [&b"netdata_host_tags_info{"[..], b"netdata_host_tags{"] {
            s.raw(metric);
            if self.all_hosts {
                s.raw(b"instance=\"");
                label(s, self.host.hostname);
                s.raw(b"\",");
            }
            raw(s, self.host.tags, limits::TAGS);
            s.raw(b"} 1");
            self.end_sample(s, now_ms);
        }
    }

    fn emit_variable<S: Sink>(&self, name: &str, value: f64, now_s: i64, s: &mut S) {
        if !value.is_finite() {
            s.raw(b"# COMMENT variable \"");
            raw(s, name, RAW);
            s.raw(if value.is_nan() {
                b"\" is NAN"
            } else {
                b"\" is INF"
            });
            s.raw(b". Skipped.\n");
            return;
        }
        self.prefix(s);
        name_part(s, name);
        if self.all_hosts {
            s.raw(b"{instance=\"");
            label(s, self.host.hostname);
            s.raw(b"\"}");
        }
        s.raw(b" ");
        s.raw(Fixed7Buffer::new().format_f64(value).as_bytes());
        self.end_sample(s, now_s.saturating_mul(1000));
    }

    fn emit_chart<S: Sink>(&self, chart: &PromChart<'_>, s: &mut S) {
        let homogeneous = chart.homogeneous || self.source != DataSource::AsCollected;
        s.raw(if homogeneous {
            b"\n# COMMENT homogeneous chart \""
        } else {
            b"\n# COMMENT heterogeneous chart \""
        });
        raw(s, self.chart_label(&chart.meta), RAW);
        s.raw(b"\", context \"");
        raw(s, chart.meta.context, RAW);
        s.raw(b"\", family \"");
        raw(s, chart.meta.family, RAW);
        s.raw(b"\", units \"");
        raw(s, chart.meta.units, RAW);
        s.raw(b"\"\n");
    }

    fn emit_collected<S: Sink>(&self, chart: &PromChart<'_>, dim: &PromDimension<'_>, s: &mut S) {
        let counter = dim.algorithm.is_counter();
        let kind: &[u8] = if counter { b"counter" } else { b"gauge" };
        let dim_label = self.dim_label(&dim.meta);
        let metric = Metric::Collected {
            context: chart.meta.context,
            dimension: (!chart.homogeneous).then_some(dim_label),
            counter,
        };
        if self.options.help {
            s.raw(b"# COMMENT ");
            self.metric(s, &metric);
            s.raw(b": chart \"");
            raw(s, self.chart_label(&chart.meta), RAW);
            s.raw(b"\", context \"");
            raw(s, chart.meta.context, RAW);
            s.raw(b"\", family \"");
            raw(s, chart.meta.family, RAW);
            s.raw(b"\", dimension \"");
            raw(s, dim_label, RAW);
            s.raw(b"\", value * ");
            int(s, dim.multiplier);
            s.raw(b" / ");
            int(s, dim.divisor);
            s.raw(if counter {
                b" delta gives "
            } else {
                b" gives "
            });
            raw(s, chart.meta.units, RAW);
            s.raw(b" (");
            s.raw(kind);
            s.raw(b")\n");
        }
        self.type_line(s, &metric, kind);
        self.metric(s, &metric);
        self.chart_labels(s, &chart.meta);
        if chart.homogeneous {
            s.raw(b",dimension=\"");
            label(s, dim_label);
            s.raw(b"\"");
        }
        self.instance(s);
        s.raw(b"} ");
        int(s, dim.last_collected_value);
        self.end_sample(s, dim.last_collected_ms);
    }

    fn emit_stored<S: Sink>(
        &self,
        chart: &PromChart<'_>,
        dim: &DimensionMeta<'_>,
        value: Decimal,
        window: &Window,
        s: &mut S,
    ) {
        let dim_label = self.dim_label(dim);
        let metric = Metric::Stored {
            context: chart.meta.context,
            units: chart.meta.units,
        };
        if self.options.help {
            s.raw(b"# COMMENT ");
            self.metric(s, &metric);
            s.raw(b": dimension \"");
            raw(s, dim_label, RAW);
            s.raw(b"\", value is ");
            raw(s, chart.meta.units, RAW);
            s.raw(b", gauge, dt ");
            int(s, window.first_timestamp);
            s.raw(b" to ");
            int(s, window.last_timestamp);
            s.raw(b" inclusive\n");
        }
        self.type_line(s, &metric, b"gauge");
        self.metric(s, &metric);
        self.chart_labels(s, &chart.meta);
        s.raw(b",dimension=\"");
        label(s, dim_label);
        s.raw(b"\"");
        self.instance(s);
        s.raw(b"} ");
        s.raw(DecimalBuffer::new().format(value).as_bytes());
        self.end_sample(s, window.last_timestamp.saturating_mul(1000));
    }

    /// A metric name: `PREFIX_CTX[_DIM][_total]` or `PREFIX_CTX[UNITS]_average|_sum`.
    fn metric<S: Sink>(&self, s: &mut S, metric: &Metric<'_>) {
        self.prefix(s);
        match *metric {
            Metric::Collected {
                context,
                dimension,
                counter,
            } => {
                name_part(s, context);
                if let Some(dimension) = dimension {
                    s.raw(b"_");
                    name_part(s, dimension);
                }
                if counter {
                    s.raw(b"_total");
                }
            }
            Metric::Stored { context, units } => {
                name_part(s, context);
                // Only averages carry units; a source that is not stored (which netdata
                // never gets here) has neither units nor suffix.
                match self.source {
                    DataSource::Average => {
                        if !self.options.hide_units {
                            let names = self.options.unit_names();
                            let mut buf = [0u8; UNITS];
                            let n = name::units_suffix(
                                units.as_bytes(),
                                PROMETHEUS_USABLE,
                                names,
                                &mut buf,
                            );
                            s.raw(buf.get(..n).unwrap_or(&[]));
                        }
                        s.raw(b"_average");
                    }
                    DataSource::Sum => s.raw(b"_sum"),
                    DataSource::AsCollected => {}
                }
            }
        }
    }

    /// With `types`: `# TYPE NAME KIND`.
    fn type_line<S: Sink>(&self, s: &mut S, metric: &Metric<'_>, kind: &[u8]) {
        if self.options.types {
            s.raw(b"# TYPE ");
            self.metric(s, metric);
            s.raw(b" ");
            s.raw(kind);
            s.raw(b"\n");
        }
    }

    /// `PREFIX_`.
    fn prefix<S: Sink>(&self, s: &mut S) {
        raw(s, self.host.prefix, limits::PREFIX);
        s.raw(b"_");
    }

    /// `{chart="C",family="F"` (escaped).
    fn chart_labels<S: Sink>(&self, s: &mut S, chart: &ChartMeta<'_>) {
        s.raw(b"{chart=\"");
        label(s, self.chart_label(chart));
        s.raw(b"\",family=\"");
        label(s, chart.family);
        s.raw(b"\"");
    }

    /// `,instance="HOST"` for all hosts.
    fn instance<S: Sink>(&self, s: &mut S) {
        if self.all_hosts {
            s.raw(b",instance=\"");
            label(s, self.host.hostname);
            s.raw(b"\"");
        }
    }

    /// ` MS` with `timestamps`, then the end of the line.
    fn end_sample<S: Sink>(&self, s: &mut S, ms: i64) {
        if self.options.timestamps {
            s.raw(b" ");
            int(s, ms);
        }
        s.raw(b"\n");
    }

    /// The chart name or id, as `names` selects.
    const fn chart_label<'c>(&self, chart: &ChartMeta<'c>) -> &'c str {
        if self.options.names {
            chart.name
        } else {
            chart.id
        }
    }

    /// The dimension name or id, as `names` selects.
    const fn dim_label<'d>(&self, dim: &DimensionMeta<'d>) -> &'d str {
        if self.options.names {
            dim.name
        } else {
            dim.id
        }
    }
}

/// A metric name's parts.
enum Metric<'m> {
    /// As collected: the dimension only for heterogeneous charts.
    Collected {
        context: &'m str,
        dimension: Option<&'m str>,
        counter: bool,
    },
    /// Average or sum.
    Stored { context: &'m str, units: &'m str },
}

/// One piece of the exposition and its inputs.
enum Piece<'p> {
    Header(&'p Scrape<'p>),
    Info(&'p str, &'p str, i64),
    Tags(i64),
    VariablesHeader,
    Variable(&'p str, f64, i64),
    Chart(&'p PromChart<'p>),
    Collected(&'p PromChart<'p>, &'p PromDimension<'p>),
    Stored(
        &'p PromChart<'p>,
        &'p DimensionMeta<'p>,
        Decimal,
        &'p Window,
    ),
}

/// A piece with its exposition, described once for measuring and writing.
struct Job<'j> {
    exp: &'j Exposition<'j>,
    piece: Piece<'j>,
}

impl Emit for Job<'_> {
    fn emit<S: Sink>(&self, s: &mut S) {
        let e = self.exp;
        match self.piece {
            Piece::Header(scrape) => e.emit_header(scrape, s),
            Piece::Info(application, version, now_ms) => {
                e.emit_info(application, version, now_ms, s);
            }
            Piece::Tags(now_ms) => e.emit_tags(now_ms, s),
            Piece::VariablesHeader => s.raw(VARIABLES_HEADER.as_bytes()),
            Piece::Variable(name, value, now_s) => e.emit_variable(name, value, now_s, s),
            Piece::Chart(chart) => e.emit_chart(chart, s),
            Piece::Collected(chart, dim) => e.emit_collected(chart, dim, s),
            Piece::Stored(chart, dim, value, window) => e.emit_stored(chart, dim, value, window, s),
        }
    }
}

/// Raw text cut at `max` bytes (at a character boundary), each newline and carriage
/// return replaced by a space so that it cannot end the line.
fn raw<S: Sink>(s: &mut S, text: &str, max: usize) {
    s.mapped(truncate(text, max).as_bytes(), |b| {
        if matches!(b, b'\n' | b'\r') {
            b' '
        } else {
            b
        }
    });
}

/// A label value escaped as netdata escapes it (256 bytes), except that a newline is
/// written `\n` where netdata leaves it raw after its backslash, and that a value cut at
/// the limit is cut at a character boundary (netdata cuts bytes, which can leave half a
/// character, and Prometheus then rejects the whole scrape).
fn label<S: Sink>(s: &mut S, value: &str) {
    let mut buf = [0u8; LABEL];
    let n = name::escape_label(value.as_bytes(), PROMETHEUS_USABLE, &mut buf);
    // The value is UTF-8 and escaping only adds ASCII: an error can only be a character
    // cut at the end.
    let n = match core::str::from_utf8(buf.get(..n).unwrap_or(&[])) {
        Ok(_) => n,
        Err(e) => e.valid_up_to(),
    };
    let escaped = buf.get_mut(..n).unwrap_or(&mut []);
    for b in escaped.iter_mut().filter(|b| **b == b'\n') {
        *b = b'n';
    }
    s.raw(escaped);
}

/// A name part: at most 256 bytes, every byte not ASCII alphanumeric turned into `_`.
fn name_part<S: Sink>(s: &mut S, part: &str) {
    let mut buf = [0u8; PART];
    let n = name::sanitize_prometheus(part.as_bytes(), PROMETHEUS_USABLE, &mut buf);
    s.raw(buf.get(..n).unwrap_or(&[]));
}

/// `%lld`.
fn int<S: Sink>(s: &mut S, n: i64) {
    s.raw(IntBuffer::new().format_i64(n).as_bytes());
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::ring::RingState;
    use crate::storage_number::StorageNumber;
    use crate::window::{self, Reduce};
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    /// `format=prometheus&help=yes&types=yes&variables=yes`, spec §4.6 (netdata's output).
    static EXPECTED_AVERAGE: &str = r#"# COMMENT netdata "my"host" to FIRST SEEN prometheus "srv1", source "average", last seen 0 never, time range 1609459190 to 1609459200

netdata_info{instance="my\"host",application="netdata",version="v1.28.0"} 1 1609459200123
netdata_host_tags_info{env="prod"} 1 1609459200123
netdata_host_tags{env="prod"} 1 1609459200123

# COMMENT global host and chart variables
netdata_my_var 3.2500000 1609459200000
# COMMENT variable "nanvar" is NAN. Skipped.

# COMMENT homogeneous chart "system.cpu", context "system.cpu", family "cpu", units "percentage"
# COMMENT netdata_system_cpu_percentage_average: dimension "user", value is percentage, gauge, dt 1609459188 to 1609459190 inclusive
# TYPE netdata_system_cpu_percentage_average gauge
netdata_system_cpu_percentage_average{chart="system.cpu",family="cpu",dimension="user"} 6.2590733 1609459190000
# COMMENT netdata_system_cpu_percentage_average: dimension "system", value is percentage, gauge, dt 1609459188 to 1609459190 inclusive
# TYPE netdata_system_cpu_percentage_average gauge
netdata_system_cpu_percentage_average{chart="system.cpu",family="cpu",dimension="system"} 6.2590733 1609459190000

# COMMENT homogeneous chart "mem.named", context "mem.ctx", family "fam "q"", units "KiB/s"
# COMMENT netdata_mem_ctx_KiB_persec_average: dimension "a.name", value is KiB/s, gauge, dt 1609459188 to 1609459190 inclusive
# TYPE netdata_mem_ctx_KiB_persec_average gauge
netdata_mem_ctx_KiB_persec_average{chart="mem.named",family="fam \"q\"",dimension="a.name"} 6.2590733 1609459190000
# COMMENT netdata_mem_ctx_KiB_persec_average: dimension "b", value is KiB/s, gauge, dt 1609459188 to 1609459190 inclusive
# TYPE netdata_mem_ctx_KiB_persec_average gauge
netdata_mem_ctx_KiB_persec_average{chart="mem.named",family="fam \"q\"",dimension="b"} 6.2590733 1609459190000
"#;

    /// `source=as-collected&help=yes&types=yes&names=no&timestamps=no`, spec §4.6.
    static EXPECTED_AS_COLLECTED: &str = r#"# COMMENT netdata "my"host" to FIRST SEEN prometheus "srv2", source "as collected", last seen 0 never, time range 1609459200 to 1609459210

netdata_info{instance="my\"host",application="netdata",version="v1.28.0"} 1
netdata_host_tags_info{env="prod"} 1
netdata_host_tags{env="prod"} 1

# COMMENT homogeneous chart "system.cpu", context "system.cpu", family "cpu", units "percentage"
# COMMENT netdata_system_cpu_total: chart "system.cpu", context "system.cpu", family "cpu", dimension "user", value * 1 / 1 delta gives percentage (counter)
# TYPE netdata_system_cpu_total counter
netdata_system_cpu_total{chart="system.cpu",family="cpu",dimension="user"} 63945
# COMMENT netdata_system_cpu_total: chart "system.cpu", context "system.cpu", family "cpu", dimension "system", value * 1 / 1 delta gives percentage (counter)
# TYPE netdata_system_cpu_total counter
netdata_system_cpu_total{chart="system.cpu",family="cpu",dimension="system"} 1234

# COMMENT heterogeneous chart "mem.x", context "mem.ctx", family "fam "q"", units "KiB/s"
# COMMENT netdata_mem_ctx_a_id: chart "mem.x", context "mem.ctx", family "fam "q"", dimension "a-id", value * 1 / 1024 gives KiB/s (gauge)
# TYPE netdata_mem_ctx_a_id gauge
netdata_mem_ctx_a_id{chart="mem.x",family="fam \"q\""} -7
# COMMENT netdata_mem_ctx_b_total: chart "mem.x", context "mem.ctx", family "fam "q"", dimension "b", value * 8 / 1 delta gives KiB/s (counter)
# TYPE netdata_mem_ctx_b_total counter
netdata_mem_ctx_b_total{chart="mem.x",family="fam \"q\""} 42
"#;

    /// The spec's two short examples (average and as collected, defaults).
    static EXPECTED_SHORT_AVERAGE: &str = "\
netdata_info{instance=\"myhost\",application=\"netdata\",version=\"v1.28.0\"} 1 1609459200123
netdata_system_cpu_percentage_average{chart=\"system.cpu\",family=\"cpu\",dimension=\"user\"} 2.3362763 1609459180000
";
    static EXPECTED_SHORT_COLLECTED: &str = "netdata_system_cpu_total{chart=\"system.cpu\",family=\"cpu\",dimension=\"user\"} 63945 1609459195123\n";

    const NOW_S: i64 = 1_609_459_200;
    const NOW_MS: i64 = 1_609_459_200_123;

    const HOST: HostMeta<'static> = HostMeta {
        prefix: "netdata",
        hostname: "my\"host",
        tags: "env=\"prod\"",
    };

    const SYSTEM_CPU: ChartMeta<'static> = ChartMeta {
        id: "system.cpu",
        name: "system.cpu",
        family: "cpu",
        context: "system.cpu",
        chart_type: "system",
        units: "percentage",
    };

    const MEM_X: ChartMeta<'static> = ChartMeta {
        id: "mem.x",
        name: "mem.named",
        family: "fam \"q\"",
        context: "mem.ctx",
        chart_type: "mem",
        units: "KiB/s",
    };

    const fn dim(
        id: &'static str,
        name: &'static str,
        algorithm: Algorithm,
        multiplier: i64,
        divisor: i64,
        value: i64,
    ) -> PromDimension<'static> {
        PromDimension {
            meta: DimensionMeta { id, name },
            algorithm,
            multiplier,
            divisor,
            last_collected_value: value,
            last_collected_ms: 1_609_459_210_456,
        }
    }

    /// The spec's synthetic host: its charts with their dimensions.
    fn charts() -> [(ChartMeta<'static>, Vec<PromDimension<'static>>); 2] {
        use Algorithm::{Absolute, Incremental};
        [
            (
                SYSTEM_CPU,
                vec![
                    dim("user", "user", Incremental, 1, 1, 63_945),
                    dim("system", "system", Incremental, 1, 1, 1234),
                ],
            ),
            (
                MEM_X,
                vec![
                    dim("a-id", "a.name", Absolute, 1, 1024, -7),
                    dim("b", "b", Incremental, 8, 1, 42),
                ],
            ),
        ]
    }

    /// A ring with update_every 1 whose newest point is 1609459190, every slot 1.0
    /// except the point of 1609459188 (16.77722).
    fn ring() -> (RingState, Vec<StorageNumber>) {
        let ring = RingState::new(60, 1, 60, 0, 1_609_459_190);
        let mut values = vec![StorageNumber::from_bits(0x3998_9680); 60];
        values[ring.time_to_slot(1_609_459_188)] = StorageNumber::from_bits(0x2919_999a);
        (ring, values)
    }

    /// A scrape body, assembled piece by piece the way a shell does. Every piece is also
    /// checked against the buffer contract and the length limits.
    struct Body(Vec<u8>);

    impl Body {
        fn push(&mut self, max: usize, write: impl Fn(&mut [u8]) -> Result<usize>) {
            let piece = checked(max, write);
            self.0.extend_from_slice(&piece);
        }

        fn text(&self) -> &str {
            std::str::from_utf8(&self.0).unwrap()
        }
    }

    /// Writes a piece into a roomy buffer and checks that it is within `max` (and
    /// [`MAX_PIECE_LEN`]), that no line of it exceeds [`MAX_LINE_LEN`], that it fits a
    /// buffer of exactly its length, and that every shorter buffer gets `BufferFull` and
    /// stays untouched.
    fn checked(max: usize, write: impl Fn(&mut [u8]) -> Result<usize>) -> Vec<u8> {
        let mut big = vec![0xAA; MAX_PIECE_LEN + 64];
        let n = write(&mut big).unwrap();
        assert!(n <= max && max <= MAX_PIECE_LEN, "{n} > {max}");
        assert!(big[n..].iter().all(|&b| b == 0xAA), "wrote past its length");
        let piece = big[..n].to_vec();
        for line in piece.split_inclusive(|&b| b == b'\n') {
            assert!(line.len() <= MAX_LINE_LEN, "line of {} bytes", line.len());
        }
        if n > 0 {
            assert_eq!(piece.last(), Some(&b'\n'), "a piece ends its line");
        }
        let mut exact = vec![0u8; n];
        assert_eq!(write(&mut exact), Ok(n));
        assert_eq!(exact, piece);
        for len in 0..n {
            let mut short = vec![0x55; len];
            assert_eq!(write(&mut short), Err(BufferFull));
            assert!(short.iter().all(|&b| b == 0x55), "touched on BufferFull");
        }
        piece
    }

    /// The whole body for `query` as the spec's synthetic host, scraped at `now`.
    fn scrape(query: &str, now: i64, now_ms: i64) -> String {
        let q = PromQuery::parse(query, DataSource::Average, true);
        let host = HostMeta {
            prefix: q.prefix.unwrap_or("netdata"),
            ..HOST
        };
        let exp = Exposition::new(host, &q);
        let s = Scrape::new(q.server.unwrap_or("10.0.0.1"), now, None, 10);
        let (ring, values) = ring();
        let mut body = Body(Vec::new());
        body.push(MAX_HEADER_LEN, |o| exp.write_header(&s, o));
        body.push(MAX_INFO_LEN, |o| {
            exp.write_info("netdata", "v1.28.0", now_ms, o)
        });
        body.push(MAX_HOST_TAGS_LEN, |o| exp.write_host_tags(now_ms, o));
        if exp.options.variables {
            body.push(MAX_VARIABLES_HEADER_LEN, |o| exp.write_variables_header(o));
            for (name, value) in [("my.var", 3.25), ("nanvar", f64::NAN)] {
                body.push(MAX_VARIABLE_LEN, |o| {
                    exp.write_variable(name, value, now, o)
                });
            }
        }
        for (meta, dims) in charts() {
            let chart = PromChart {
                meta,
                homogeneous: is_homogeneous(&dims),
            };
            body.push(MAX_CHART_LEN, |o| exp.write_chart(&chart, o));
            for d in &dims {
                if exp.source == DataSource::AsCollected {
                    if d.collected_since(s.after) {
                        body.push(MAX_COLLECTED_LEN, |o| exp.write_collected(&chart, d, o));
                    }
                } else {
                    let how = if exp.source == DataSource::Sum {
                        Reduce::Sum
                    } else {
                        Reduce::Average
                    };
                    let Ok((value, w)) = window::value(&values, &ring, s.after, s.before, how)
                    else {
                        continue;
                    };
                    body.push(MAX_STORED_LEN, |o| {
                        exp.write_stored(&chart, &d.meta, value, &w, o)
                    });
                }
            }
        }
        String::from(body.text())
    }

    #[test]
    fn spec_average_example() {
        let got = scrape(
            "format=prometheus&help=yes&types=yes&variables=yes&server=srv1",
            NOW_S,
            NOW_MS,
        );
        assert_eq!(got, EXPECTED_AVERAGE);
    }

    #[test]
    fn spec_as_collected_example() {
        let got = scrape(
            "source=as-collected&help=yes&types=yes&names=no&timestamps=no&server=srv2",
            NOW_S + 10,
            NOW_MS + 10_000,
        );
        assert_eq!(got, EXPECTED_AS_COLLECTED);
    }

    #[test]
    fn spec_short_examples() {
        let exp = Exposition::new(
            HostMeta {
                hostname: "myhost",
                tags: "",
                ..HOST
            },
            &PromQuery::parse("format=prometheus", DataSource::Average, true),
        );
        let chart = PromChart {
            meta: SYSTEM_CPU,
            homogeneous: true,
        };
        let window = Window {
            first_timestamp: 1_609_459_171,
            last_timestamp: 1_609_459_180,
        };
        let mut body = Body(Vec::new());
        body.push(MAX_INFO_LEN, |o| {
            exp.write_info("netdata", "v1.28.0", NOW_MS, o)
        });
        body.push(0, |o| exp.write_host_tags(NOW_MS, o));
        body.push(0, |o| exp.write_chart(&chart, o));
        let value = Decimal::from_units(false, 23_362_763);
        let user = DimensionMeta {
            id: "user",
            name: "user",
        };
        body.push(MAX_STORED_LEN, |o| {
            exp.write_stored(&chart, &user, value, &window, o)
        });
        assert_eq!(body.text(), EXPECTED_SHORT_AVERAGE);

        let exp = Exposition {
            source: DataSource::AsCollected,
            ..exp
        };
        let user = PromDimension {
            last_collected_ms: 1_609_459_195_123,
            ..dim("user", "user", Algorithm::Incremental, 1, 1, 63_945)
        };
        let mut body = Body(Vec::new());
        body.push(MAX_COLLECTED_LEN, |o| exp.write_collected(&chart, &user, o));
        assert_eq!(body.text(), EXPECTED_SHORT_COLLECTED);
    }

    /// The sample lines' metric names of a body.
    fn names(body: &str) -> Vec<&str> {
        body.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.split(['{', ' ']).next())
            .collect()
    }

    #[test]
    fn units_switches() {
        let q = "format=prometheus&timestamps=no";
        let old = scrape(&std::format!("{q}&oldunits=yes"), NOW_S, NOW_MS);
        let hide = scrape(&std::format!("{q}&hideunits=1&oldunits=yes"), NOW_S, NOW_MS);
        let sum = scrape(&std::format!("{q}&data=volume"), NOW_S, NOW_MS);
        // After netdata_info and the two host tags lines.
        let tail = |body: &str| -> Vec<String> {
            names(body)[3..].iter().map(|&n| String::from(n)).collect()
        };
        assert_eq!(
            tail(&old),
            [
                "netdata_system_cpu_percent_average",
                "netdata_system_cpu_percent_average",
                "netdata_mem_ctx_kilobytes_persec_average",
                "netdata_mem_ctx_kilobytes_persec_average",
            ]
        );
        assert_eq!(
            tail(&hide),
            [
                "netdata_system_cpu_average",
                "netdata_system_cpu_average",
                "netdata_mem_ctx_average",
                "netdata_mem_ctx_average",
            ]
        );
        assert_eq!(
            tail(&sum),
            [
                "netdata_system_cpu_sum",
                "netdata_system_cpu_sum",
                "netdata_mem_ctx_sum",
                "netdata_mem_ctx_sum",
            ]
        );
        // The sum of 16.77722 + 1 + 1.
        assert!(sum.contains("dimension=\"b\"} 18.7772200\n"), "{sum}");
    }

    #[test]
    fn all_hosts_adds_instance() {
        let got = scrape(
            "format=prometheus_all_hosts&variables=yes&source=raw&timestamps=false&prefix=nd",
            NOW_S + 10,
            NOW_MS,
        );
        let expected = r#"netdata_info{instance="my\"host",application="netdata",version="v1.28.0"} 1
netdata_host_tags_info{instance="my\"host",env="prod"} 1
netdata_host_tags{instance="my\"host",env="prod"} 1
nd_my_var{instance="my\"host"} 3.2500000
nd_system_cpu_total{chart="system.cpu",family="cpu",dimension="user",instance="my\"host"} 63945
nd_system_cpu_total{chart="system.cpu",family="cpu",dimension="system",instance="my\"host"} 1234
nd_mem_ctx_a_name{chart="mem.named",family="fam \"q\"",instance="my\"host"} -7
nd_mem_ctx_b_total{chart="mem.named",family="fam \"q\"",instance="my\"host"} 42
"#;
        assert_eq!(got, expected);
    }

    #[test]
    fn header_after_a_previous_scrape() {
        let exp = Exposition::new(
            HOST,
            &PromQuery::parse("help=yes&source=sum", DataSource::Average, true),
        );
        let s = Scrape::new("srv", NOW_S, Some(NOW_S - 7), 10);
        assert!(!s.first_seen);
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = exp.write_header(&s, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            b"# COMMENT netdata \"my\"host\" to prometheus \"srv\", source \"sum\", \
              last seen 7 seconds ago, time range 1609459193 to 1609459200\n\n"
        );
        // A remembered time in the future falls back to now - update every.
        let s = Scrape::new("srv", NOW_S, Some(NOW_S + 5), 10);
        assert_eq!(
            (s.first_seen, s.after, s.before),
            (false, NOW_S - 10, NOW_S)
        );
    }

    #[test]
    fn switches_turn_pieces_off() {
        let exp = Exposition::new(HOST, &PromQuery::new(DataSource::AsCollected, true));
        let chart = PromChart {
            meta: MEM_X,
            homogeneous: false,
        };
        let mut out = [0u8; 4];
        let s = Scrape::new("srv", NOW_S, None, 10);
        assert_eq!(exp.write_header(&s, &mut out), Ok(0));
        assert_eq!(exp.write_variables_header(&mut out), Ok(0));
        assert_eq!(exp.write_variable("v", 1.0, NOW_S, &mut out), Ok(0));
        assert_eq!(exp.write_chart(&chart, &mut out), Ok(0));
        let exp = Exposition {
            options: PromOptions {
                variables: true,
                ..exp.options
            },
            ..exp
        };
        assert_eq!(exp.write_variables_header(&mut out), Ok(0));
        assert_eq!(
            exp.write_variable("v", f64::INFINITY, NOW_S, &mut out),
            Ok(0)
        );
        let exp = Exposition {
            options: PromOptions {
                help: true,
                ..exp.options
            },
            ..exp
        };
        let mut out = [0u8; 64];
        let n = exp
            .write_variable("v", f64::NEG_INFINITY, NOW_S, &mut out)
            .unwrap();
        assert_eq!(&out[..n], b"# COMMENT variable \"v\" is INF. Skipped.\n");
    }

    #[test]
    fn nothing_breaks_a_line() {
        let evil = "a\nb\r\"c\\";
        let exp = Exposition {
            host: HostMeta {
                prefix: "p\nq",
                hostname: evil,
                tags: "k=\"v\"\nx",
            },
            source: DataSource::AsCollected,
            options: PromOptions {
                help: true,
                types: true,
                variables: true,
                ..PromOptions::new(true)
            },
            all_hosts: true,
        };
        let meta = ChartMeta {
            id: evil,
            name: evil,
            family: evil,
            context: evil,
            chart_type: evil,
            units: evil,
        };
        let chart = PromChart {
            meta,
            homogeneous: true,
        };
        let d = PromDimension {
            meta: DimensionMeta {
                id: evil,
                name: evil,
            },
            ..dim("", "", Algorithm::Absolute, 1, 1, 5)
        };
        let s = Scrape::new(evil, NOW_S, None, 10);
        let mut body = Body(Vec::new());
        body.push(MAX_HEADER_LEN, |o| exp.write_header(&s, o));
        body.push(MAX_INFO_LEN, |o| exp.write_info(evil, evil, NOW_MS, o));
        body.push(MAX_HOST_TAGS_LEN, |o| exp.write_host_tags(NOW_MS, o));
        body.push(MAX_VARIABLE_LEN, |o| {
            exp.write_variable(evil, 1.5, NOW_S, o)
        });
        body.push(MAX_VARIABLE_LEN, |o| {
            exp.write_variable(evil, f64::NAN, NOW_S, o)
        });
        body.push(MAX_CHART_LEN, |o| exp.write_chart(&chart, o));
        body.push(MAX_COLLECTED_LEN, |o| exp.write_collected(&chart, &d, o));
        let w = Window {
            first_timestamp: 1,
            last_timestamp: 2,
        };
        let exp = Exposition {
            source: DataSource::Average,
            ..exp
        };
        body.push(MAX_STORED_LEN, |o| {
            exp.write_stored(&chart, &d.meta, Decimal::ZERO, &w, o)
        });
        let expected = r#"# COMMENT netdata "a b "c\" to FIRST SEEN prometheus "a b "c\", source "as collected", last seen 0 never, time range 1609459190 to 1609459200

netdata_info{instance="a\nb"\"c\\",application="a\nb"\"c\\",version="a\nb"\"c\\"} 1 1609459200123
netdata_host_tags_info{instance="a\nb"\"c\\",k="v" x} 1 1609459200123
netdata_host_tags{instance="a\nb"\"c\\",k="v" x} 1 1609459200123
p q_a_b__c_{instance="a\nb"\"c\\"} 1.5000000 1609459200000
# COMMENT variable "a b "c\" is NAN. Skipped.

# COMMENT homogeneous chart "a b "c\", context "a b "c\", family "a b "c\", units "a b "c\"
# COMMENT p q_a_b__c_: chart "a b "c\", context "a b "c\", family "a b "c\", dimension "a b "c\", value * 1 / 1 gives a b "c\ (gauge)
# TYPE p q_a_b__c_ gauge
p q_a_b__c_{chart="a\nb"\"c\\",family="a\nb"\"c\\",dimension="a\nb"\"c\\",instance="a\nb"\"c\\"} 5 1609459210456
# COMMENT p q_a_b__c__a_b__c__average: dimension "a b "c\", value is a b "c\, gauge, dt 1 to 2 inclusive
# TYPE p q_a_b__c__a_b__c__average gauge
p q_a_b__c__a_b__c__average{chart="a\nb"\"c\\",family="a\nb"\"c\\",dimension="a\nb"\"c\\",instance="a\nb"\"c\\"} 0.0000000 2000
"#;
        // The raw carriage return stays in label values (Prometheus only ends lines at
        // `\n`); everywhere else it became a space.
        let got = body.text().replace('\r', "\"");
        assert_eq!(got, expected);
    }

    #[test]
    fn worst_cases_reach_the_maxima() {
        let quotes = "\"".repeat(300);
        let q = quotes.as_str();
        let tags = "t".repeat(2000);
        let meta = ChartMeta {
            id: q,
            name: q,
            family: q,
            context: q,
            chart_type: q,
            units: q,
        };
        let exp = Exposition {
            host: HostMeta {
                prefix: q,
                hostname: q,
                tags: &tags,
            },
            source: DataSource::AsCollected,
            options: PromOptions {
                help: true,
                types: true,
                variables: true,
                ..PromOptions::new(true)
            },
            all_hosts: true,
        };
        let d = PromDimension {
            meta: DimensionMeta { id: q, name: q },
            algorithm: Algorithm::Incremental,
            multiplier: i64::MIN,
            divisor: i64::MIN,
            last_collected_value: i64::MIN,
            last_collected_ms: i64::MIN,
        };
        let w = Window {
            first_timestamp: i64::MIN,
            last_timestamp: i64::MIN,
        };
        let exact = |max: usize, write: &dyn Fn(&mut [u8]) -> Result<usize>| {
            assert_eq!(checked(max, write).len(), max);
        };
        for (after, before) in [(i64::MIN, i64::MAX), (i64::MAX, -2), (i64::MIN, i64::MIN)] {
            for first_seen in [false, true] {
                let s = Scrape {
                    server: q,
                    first_seen,
                    after,
                    before,
                };
                checked(MAX_HEADER_LEN, |o| exp.write_header(&s, o));
            }
        }
        exact(MAX_INFO_LEN, &|o| exp.write_info(q, q, i64::MIN, o));
        exact(MAX_HOST_TAGS_LEN, &|o| exp.write_host_tags(i64::MIN, o));
        exact(MAX_VARIABLES_HEADER_LEN, &|o| exp.write_variables_header(o));
        exact(MAX_VARIABLE_LEN, &|o| {
            exp.write_variable(q, -f64::MAX, i64::MIN, o)
        });
        let het = PromChart {
            meta,
            homogeneous: false,
        };
        let hom = PromChart {
            homogeneous: true,
            ..het
        };
        exact(MAX_CHART_LEN, &|o| exp.write_chart(&het, o));
        exact(MAX_COLLECTED_LEN, &|o| exp.write_collected(&het, &d, o));
        checked(MAX_COLLECTED_LEN, |o| exp.write_collected(&hom, &d, o));
        let exp = Exposition {
            source: DataSource::Average,
            ..exp
        };
        let value = Decimal::from_units(true, u128::MAX);
        exact(MAX_STORED_LEN, &|o| {
            exp.write_stored(&hom, &d.meta, value, &w, o)
        });
        assert_eq!(
            MAX_PIECE_LEN,
            MAX_COLLECTED_LEN.max(MAX_STORED_LEN).max(MAX_HOST_TAGS_LEN)
        );
    }

    #[test]
    fn homogeneity() {
        use Algorithm::{Absolute, Incremental};
        let a = dim("a", "a", Incremental, 1, 1, 0);
        assert!(is_homogeneous([] as [&PromDimension<'_>; 0]));
        assert!(is_homogeneous([&a]));
        assert!(is_homogeneous(&[a, dim("b", "b", Incremental, -1, -1, 0)]));
        assert!(!is_homogeneous(&[a, dim("b", "b", Absolute, 1, 1, 0)]));
        assert!(!is_homogeneous(&[a, dim("b", "b", Incremental, 8, 1, 0)]));
        assert!(!is_homogeneous(&[
            a,
            dim("b", "b", Incremental, 1, 1024, 0)
        ]));
        // 64-bit magnitudes are compared whole (netdata's int abs() truncates them).
        let big = dim("b", "b", Incremental, 1 << 32, 1, 0);
        assert!(!is_homogeneous(&[a, big]));
        let min = dim("m", "m", Incremental, i64::MIN, i64::MIN, 0);
        let max = dim("m", "m", Incremental, i64::MAX, i64::MAX, 0);
        assert!(is_homogeneous(&[min, max]));
        assert!(Algorithm::PercentageOfIncrementalRow.is_counter());
        assert!(!Algorithm::PercentageOfAbsoluteRow.is_counter());
    }

    #[test]
    fn collected_since_uses_whole_seconds() {
        let mut d = dim("a", "a", Algorithm::Absolute, 1, 1, 0);
        d.last_collected_ms = 1_609_459_200_999;
        assert!(d.collected_since(1_609_459_200));
        assert!(!d.collected_since(1_609_459_201));
        d.last_collected_ms = -1;
        assert!(!d.collected_since(0));
        assert!(d.collected_since(-1));
    }

    #[test]
    fn query_parsing() {
        let q = PromQuery::parse("", DataSource::Sum, false);
        assert_eq!(q, PromQuery::new(DataSource::Sum, false));
        assert_eq!(q.format, Format::Shell);
        assert!(q.options.timestamps && !q.options.names && !q.options.help);

        let q = PromQuery::parse(
            "format=prometheus_all_hosts&server=s=1&prefix=p&help=true&types=1\
             &names=yes&timestamps=no&variables=yes&oldunits=yes&hideunits=yes",
            DataSource::Average,
            false,
        );
        assert_eq!(q.format, Format::PrometheusAllHosts);
        assert!(q.all_hosts());
        assert_eq!((q.server, q.prefix), (Some("s=1"), Some("p")));
        let o = q.options;
        assert!(o.help && o.types && o.names && !o.timestamps && o.variables);
        assert!(o.old_units && o.hide_units);
        assert_eq!(o.unit_names(), UnitNames::Old);

        for name in SOURCE_PARAMS {
            let query = std::format!("{name}=as collected");
            let q = PromQuery::parse(&query, DataSource::Average, true);
            assert_eq!(q.source, DataSource::AsCollected, "{name}");
        }
        // Unknown words keep the source, and are reported; empty values are ignored;
        // anything but yes/1/true turns a switch off; later pairs win; names are exact.
        let q = PromQuery::parse(
            "source=mean&&=x&help&timestamps=&types=yes&types=YES&Help=yes&format=xml&x=1",
            DataSource::Sum,
            true,
        );
        assert_eq!(
            (q.source, q.invalid_source),
            (DataSource::Sum, Some("mean"))
        );
        assert!(q.options.timestamps && !q.options.types && !q.options.help);
        assert_eq!(q.format, Format::Unsupported("xml"));
        let q = PromQuery::parse("format=json&names=on", DataSource::Sum, true);
        assert_eq!(q.format, Format::Json);
        assert!(!q.options.names);
        let q = PromQuery::parse("format=xml&format=shell", DataSource::Sum, true);
        assert_eq!(q.format, Format::Shell);
    }

    #[test]
    fn long_labels_are_cut_at_a_character_boundary() {
        struct Collect(Vec<u8>);
        impl Sink for Collect {
            fn raw(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
            fn mapped<F: Fn(u8) -> u8>(&mut self, src: &[u8], map: F) {
                self.0.extend(src.iter().map(|&b| map(b)));
            }
            fn sanitized(&mut self, src: &[u8]) {
                self.0.extend_from_slice(src);
            }
            fn json_escaped(&mut self, src: &[u8]) {
                self.0.extend_from_slice(src);
            }
        }
        let value: String = core::iter::repeat_n('é', 300).collect();
        let mut out = Collect(Vec::new());
        label(&mut out, &value);
        assert!(core::str::from_utf8(&out.0).is_ok());
        assert_eq!(out.0.len(), 254, "127 whole two-byte characters");
    }
}
