//! netdata's `[backend]` section.

use core::fmt;

use super::ini::Lexer;
use super::options::{Layer, Opt};
use super::{
    check_duplicate, unknown_option, ConfigError, ConfigErrorKind, InstanceConfig, InstanceType,
    Result,
};
use crate::destination::Destinations;

/// The kind of server a backend sends to (the `type` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum BackendType {
    /// Graphite plaintext: `graphite`, `graphite:plaintext` (the default).
    #[default]
    Graphite,
    /// OpenTSDB telnet `put` lines: `opentsdb`, `opentsdb:telnet`.
    OpenTsdbTelnet,
    /// OpenTSDB HTTP `/api/put`: `opentsdb:http`.
    OpenTsdbHttp,
    /// OpenTSDB HTTP `/api/put` over TLS: `opentsdb:https`.
    OpenTsdbHttps,
    /// JSON lines: `json`, `json:plaintext`.
    Json,
    /// Prometheus remote write: `prometheus_remote_write`.
    PrometheusRemoteWrite,
    /// AWS Kinesis: `kinesis`, `kinesis:plaintext`.
    Kinesis,
    /// MongoDB: `mongodb`, `mongodb:plaintext`.
    MongoDb,
}

impl BackendType {
    /// Every accepted `type` word, as an error message lists them.
    pub const WORDS: &'static str = "graphite, graphite:plaintext, opentsdb, opentsdb:telnet, \
        opentsdb:http, opentsdb:https, json, json:plaintext, prometheus_remote_write, kinesis, \
        kinesis:plaintext, mongodb or mongodb:plaintext";

    const TABLE: [(&'static str, Self); 13] = [
        ("graphite", Self::Graphite),
        ("graphite:plaintext", Self::Graphite),
        ("opentsdb", Self::OpenTsdbTelnet),
        ("opentsdb:telnet", Self::OpenTsdbTelnet),
        ("opentsdb:http", Self::OpenTsdbHttp),
        ("opentsdb:https", Self::OpenTsdbHttps),
        ("json", Self::Json),
        ("json:plaintext", Self::Json),
        ("prometheus_remote_write", Self::PrometheusRemoteWrite),
        ("kinesis", Self::Kinesis),
        ("kinesis:plaintext", Self::Kinesis),
        ("mongodb", Self::MongoDb),
        ("mongodb:plaintext", Self::MongoDb),
    ];

    /// The type a `type` word names (exact, lower-case words, as in netdata).
    ///
    /// # Examples
    ///
    /// ```
    /// use backhaul_core::config::BackendType;
    ///
    /// assert_eq!(BackendType::from_word("opentsdb:telnet"), Some(BackendType::OpenTsdbTelnet));
    /// assert_eq!(BackendType::from_word("Graphite"), None);
    /// ```
    #[must_use]
    pub fn from_word(word: &str) -> Option<Self> {
        Self::TABLE
            .iter()
            .find(|(w, _)| *w == word)
            .map(|&(_, kind)| kind)
    }

    /// The canonical `type` word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Graphite => "graphite",
            Self::OpenTsdbTelnet => "opentsdb",
            Self::OpenTsdbHttp => "opentsdb:http",
            Self::OpenTsdbHttps => "opentsdb:https",
            Self::Json => "json",
            Self::PrometheusRemoteWrite => "prometheus_remote_write",
            Self::Kinesis => "kinesis",
            Self::MongoDb => "mongodb",
        }
    }

    /// The port used for a destination without one: graphite 2003, opentsdb 4242, json 5448;
    /// `None` for remote write (netdata's 0, which cannot connect) and for the types that do
    /// not use a destination list.
    #[must_use]
    pub const fn default_port(self) -> Option<u16> {
        match self {
            Self::Graphite => Some(2003),
            Self::OpenTsdbTelnet | Self::OpenTsdbHttp | Self::OpenTsdbHttps => Some(4242),
            Self::Json => Some(5448),
            Self::PrometheusRemoteWrite | Self::Kinesis | Self::MongoDb => None,
        }
    }

    /// Whether `destination` is a list of servers (5.1). It is the AWS region for
    /// [`Kinesis`](Self::Kinesis) and is ignored by [`MongoDb`](Self::MongoDb).
    #[must_use]
    pub const fn uses_destination_list(self) -> bool {
        !matches!(self, Self::Kinesis | Self::MongoDb)
    }
}

impl fmt::Display for BackendType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which value is exported for each dimension (the `data source` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DataSource {
    /// The average of the stored values over the window: `average` (the default).
    #[default]
    Average,
    /// The sum of the stored values over the window: `sum`, `volume`.
    Sum,
    /// The last collected raw value: `as collected`, `as-collected`, `as_collected`,
    /// `ascollected`, `raw`.
    AsCollected,
}

impl DataSource {
    /// Every accepted `data source` word, as an error message lists them.
    pub const WORDS: &'static str =
        "average, sum, volume, as collected, as-collected, as_collected, ascollected or raw";

    const TABLE: [(&'static str, Self); 8] = [
        ("average", Self::Average),
        ("sum", Self::Sum),
        ("volume", Self::Sum),
        ("as collected", Self::AsCollected),
        ("as-collected", Self::AsCollected),
        ("as_collected", Self::AsCollected),
        ("ascollected", Self::AsCollected),
        ("raw", Self::AsCollected),
    ];

    /// The data source a word names (exact, lower-case words, as in netdata).
    ///
    /// # Examples
    ///
    /// ```
    /// use backhaul_core::config::DataSource;
    ///
    /// assert_eq!(DataSource::from_word("volume"), Some(DataSource::Sum));
    /// assert_eq!(DataSource::from_word("mean"), None);
    /// ```
    #[must_use]
    pub fn from_word(word: &str) -> Option<Self> {
        Self::TABLE
            .iter()
            .find(|(w, _)| *w == word)
            .map(|&(_, source)| source)
    }

    /// The canonical word: `average`, `sum` or `as collected`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Average => "average",
            Self::Sum => "sum",
            Self::AsCollected => "as collected",
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an option of [`BackendConfig::OPTIONS`] is read: `None` for `type`, which only
/// `[backend]` has; every other option as the instance option of the same name (the old
/// name `opentsdb host tags` as `host tags`), so that its value is parsed, checked and
/// reported once, in `options.rs`, for every section.
fn read_as(name: &str) -> Option<Opt> {
    match name {
        "type" => None,
        "opentsdb host tags" => Some(Opt::HostTags),
        _ => Opt::from_name(name),
    }
}

/// netdata's `[backend]` section, borrowing its strings from the configuration text.
///
/// [`parse`](Self::parse) reads the `[backend]` options of a netdata.conf text, and
/// `hostname` from `[global]`; every other section is skipped (but every line of the text
/// must be well formed, see [`ini`](super::ini)). An option that is not in the text keeps
/// netdata's default ([`new`](Self::new)).
///
/// All options are read and checked even when `enabled = no`, as netdata does (its
/// Prometheus API uses the same filter, prefix, data source and update every).
///
/// # Differences from netdata
///
/// netdata logs most mistakes and goes on with a default, or silently reads them as
/// something else. backhaul refuses the configuration instead, with a [`ConfigError`] naming
/// the line and the option:
///
/// | input | netdata | backhaul |
/// | --- | --- | --- |
/// | an option name `[backend]` does not have (`update evry`) | ignored, default used | [`UnknownOption`](ConfigErrorKind::UnknownOption), with the closest known name |
/// | the same option (or `host tags` and `opentsdb host tags`) twice | the last one wins (`host tags` wins over its alias) | [`Duplicate`](ConfigErrorKind::Duplicate), naming the first line |
/// | a boolean other than `yes`/`true`/`on`/`auto`/`on demand`/`no`/`false`/`off` (e.g. `1`) | false | [`NotABoolean`](ConfigErrorKind::NotABoolean) |
/// | a number with trailing junk (`10s`), an empty or a garbage number | the leading digits, or 0 | [`NotANumber`](ConfigErrorKind::NotANumber) |
/// | a number beyond `i64` | clamped | [`OutOfRange`](ConfigErrorKind::OutOfRange) |
/// | `update every` < 1 | the exporter silently stops | [`OutOfRange`](ConfigErrorKind::OutOfRange) 1 to 2147483647 (use `enabled = no` to stop it) |
/// | `timeout ms` < 1 | the default, with a logged error | [`OutOfRange`](ConfigErrorKind::OutOfRange) 1 to `i64::MAX` |
/// | `buffer on failures` < 0 | every iteration counts as a data loss, even a successful one | [`OutOfRange`](ConfigErrorKind::OutOfRange) 0 to 2147483647 (0 already drops the data at the first failure) |
/// | an unknown `type` | the exporter stops, with a logged error | [`UnknownType`](ConfigErrorKind::UnknownType), listing the words |
/// | an unknown `data source` | `average`, with a logged error | [`UnknownDataSource`](ConfigErrorKind::UnknownDataSource), listing the words |
/// | a bad `destination` item | a failed connection, logged at every iteration | [`Destination`](ConfigErrorKind::Destination), with the item (see [`destination`](crate::destination)) |
/// | remote write with a destination without a port | connects to port 0 and fails | [`Destination`](ConfigErrorKind::Destination) [`MissingPort`](crate::destination::ErrorKind::MissingPort) |
/// | a kinesis region that is not letters, digits and `-` | passed to the AWS SDK | [`BadRegion`](ConfigErrorKind::BadRegion) |
/// | an empty `[backend] hostname` | an empty host name in every metric | [`EmptyValue`](ConfigErrorKind::EmptyValue) |
/// | a `remote write URL path` not starting with `/`, or with anything but visible ASCII | pasted into the HTTP request line | [`BadUrlPath`](ConfigErrorKind::BadUrlPath) |
/// | a malformed line anywhere in the file | skipped | [`Syntax`](ConfigErrorKind::Syntax) |
///
/// The destination of a `mongodb` backend is not checked at all: netdata ignores it.
/// `[global] hostname` is taken as netdata takes it: the last one wins, and an empty one
/// counts as absent.
///
/// # Examples
///
/// ```
/// use backhaul_core::config::{BackendConfig, BackendType, DataSource};
///
/// let text = "\
/// [global]
///     hostname = gateway-7
///
/// [backend]
///     enabled = yes
///     type = opentsdb
///     destination = tsdb1 tsdb2:4243
///     data source = sum
///     update every = 5
/// ";
/// let config = BackendConfig::parse(text).unwrap();
/// assert!(config.enabled);
/// assert_eq!(config.backend_type, BackendType::OpenTsdbTelnet);
/// assert_eq!(config.data_source, DataSource::Sum);
/// assert_eq!(config.hostname, Some("gateway-7"));
/// assert_eq!(config.timeout_ms, 10_000);
///
/// let ports: Vec<_> = config
///     .destinations()
///     .unwrap()
///     .map(|d| d.unwrap().port().unwrap().number())
///     .collect();
/// assert_eq!(ports, [Some(4242), Some(4243)]);
///
/// let err = BackendConfig::parse("[backend]\nenabled = 1\n").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "line 2: enabled: \"1\" is not a boolean (use yes, true, on, auto or on demand; or no, false or off)"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct BackendConfig<'a> {
    /// `enabled`: run the exporter at all. Default `no`.
    pub enabled: bool,
    /// `type`. Default `graphite`.
    pub backend_type: BackendType,
    /// `destination`: the server list (see [`destinations`](Self::destinations)), the AWS
    /// region for kinesis, ignored by mongodb. Default `localhost`.
    pub destination: &'a str,
    /// `data source`. Default `average`.
    pub data_source: DataSource,
    /// `prefix`: the first metric-name component. Default `netdata`.
    pub prefix: &'a str,
    /// `hostname`, else `[global] hostname`; `None` when neither is set, and the shell then
    /// uses the machine's host name, as netdata does.
    pub hostname: Option<&'a str>,
    /// `update every`: seconds between iterations, 1 to 2147483647. Default 10.
    pub update_every: u32,
    /// `buffer on failures`: the data are dropped once more iterations than this have failed
    /// in a row, 0 to 2147483647. Default 10.
    pub buffer_on_failures: u32,
    /// `timeout ms`: connect and send timeout, at least 1. Default `2 · update every · 1000`
    /// (computed from the `update every` of the same text).
    pub timeout_ms: u64,
    /// `send hosts matching`: a simple pattern on host names. Default `localhost *`; empty
    /// sends every host.
    pub send_hosts_matching: &'a str,
    /// `send charts matching`: a simple pattern on chart ids and names. Default `*`; empty
    /// sends no chart.
    pub send_charts_matching: &'a str,
    /// `send names instead of ids`. Default `yes`.
    pub send_names_instead_of_ids: bool,
    /// `host tags` (old name `opentsdb host tags`): tag text appended verbatim. Default empty.
    pub host_tags: &'a str,
    /// `remote write URL path`: the HTTP path for remote write. Default `/receive`.
    pub remote_write_url_path: &'a str,
}

impl Default for BackendConfig<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> BackendConfig<'a> {
    /// The section name.
    pub const SECTION: &'static str = "backend";

    /// Every option name of the section, including the alias `opentsdb host tags`.
    pub const OPTIONS: [&'static str; 15] = [
        "enabled",
        "type",
        "destination",
        "data source",
        "prefix",
        "hostname",
        "update every",
        "buffer on failures",
        "timeout ms",
        "send hosts matching",
        "send charts matching",
        "send names instead of ids",
        "host tags",
        "opentsdb host tags",
        "remote write URL path",
    ];

    /// netdata's defaults, with no host name.
    ///
    /// # Examples
    ///
    /// ```
    /// use backhaul_core::config::BackendConfig;
    ///
    /// let config = BackendConfig::new();
    /// assert!(!config.enabled);
    /// assert_eq!((config.update_every, config.timeout_ms), (10, 20_000));
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            enabled: false,
            backend_type: BackendType::Graphite,
            destination: "localhost",
            data_source: DataSource::Average,
            prefix: "netdata",
            hostname: None,
            update_every: 10,
            buffer_on_failures: 10,
            timeout_ms: 20_000,
            send_hosts_matching: "localhost *",
            send_charts_matching: "*",
            send_names_instead_of_ids: true,
            host_tags: "",
            remote_write_url_path: "/receive",
        }
    }

    /// Reads the `[backend]` section (and `[global] hostname`) of a netdata.conf text.
    ///
    /// # Errors
    ///
    /// The first problem, in line order (the destination, which depends on `type`, is
    /// checked last): a malformed line anywhere, or a bad `[backend]` option (see the table
    /// above). A destination error for a destination left at its default is reported on
    /// the `type` line.
    pub fn parse(text: &'a str) -> Result<'a, Self> {
        let mut layer = Layer::backend();
        let (mut backend_type, mut type_line) = (BackendType::Graphite, 0);
        let mut global_hostname = None;
        for entry in Lexer::new(text).entries() {
            let entry = entry?;
            if entry.section == Self::SECTION {
                if !Self::OPTIONS.contains(&entry.name) {
                    return Err(unknown_option(entry, &Self::OPTIONS));
                }
                if let Some(opt) = read_as(entry.name) {
                    layer.read(opt, entry)?;
                    continue;
                }
                check_duplicate(entry, Some(&mut type_line))?;
                backend_type = BackendType::from_word(entry.value).ok_or_else(|| {
                    let kind = ConfigErrorKind::UnknownType;
                    ConfigError::new(entry.line, Some(entry.name), Some(entry.value), kind)
                })?;
            } else if entry.section == "global" && entry.name == "hostname" {
                global_hostname = Some(entry.value).filter(|v| !v.is_empty());
            }
        }
        let kind = InstanceType::from(backend_type);
        let config = layer.finish_backend(kind, type_line, global_hostname)?;
        Ok(Self::from_instance(backend_type, &config))
    }

    /// The `[backend]` of `backend_type` with the options read into `config` (the inverse
    /// of [`InstanceConfig::from_backend`]).
    fn from_instance(backend_type: BackendType, config: &InstanceConfig<'a>) -> Self {
        Self {
            enabled: config.enabled,
            backend_type,
            destination: config.destination,
            data_source: config.data_source,
            prefix: config.prefix,
            hostname: config.hostname,
            update_every: config.update_every,
            buffer_on_failures: config.buffer_on_failures,
            timeout_ms: config.timeout_ms,
            send_hosts_matching: config.send_hosts_matching,
            send_charts_matching: config.send_charts_matching,
            send_names_instead_of_ids: config.send_names_instead_of_ids,
            host_tags: config.host_tags,
            remote_write_url_path: config.remote_write_url_path,
        }
    }

    /// The destination list, with the type's default port; `None` for kinesis and mongodb,
    /// which do not connect to a list of servers.
    #[must_use]
    pub fn destinations(&self) -> Option<Destinations<'a>> {
        self.backend_type
            .uses_destination_list()
            .then(|| Destinations::new(self.destination, self.backend_type.default_port()))
    }

    /// The AWS region of a kinesis backend (its `destination`); `None` for other types.
    #[must_use]
    pub fn region(&self) -> Option<&'a str> {
        (self.backend_type == BackendType::Kinesis).then_some(self.destination)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::destination::{self, Port, Protocol};
    use std::format;
    use std::string::ToString;
    use std::vec::Vec;

    fn backend(options: &str) -> Result<'_, BackendConfig<'_>> {
        BackendConfig::parse(options)
    }

    #[test]
    fn every_backend_option_but_type_is_read_as_an_instance_option() {
        for name in BackendConfig::OPTIONS {
            // `None` would send the option down the `type` path.
            assert_eq!(read_as(name).is_none(), name == "type", "{name}");
        }
        assert_eq!(read_as("opentsdb host tags"), Some(Opt::HostTags));
    }

    fn with(body: &str) -> &'static str {
        format!("[backend]\n{body}\n").leak()
    }

    /// A realistic netdata.conf excerpt: other sections, comments, commented-out defaults.
    const NETDATA_CONF: &str = "\
# netdata configuration
#
# You can download the latest version of this file, using:
#
#  wget -O /etc/netdata/netdata.conf http://localhost:19999/netdata.conf

[global]
\trun as user = netdata
\tweb files owner = root
\thostname = db-primary
\thistory = 3996
\t# update every = 1
\tmemory mode = dbengine

[web]
\tbind to = 127.0.0.1 ::1
\t# allow connections from = localhost *

[plugins]
\tproc = yes
\tpython.d = no

[plugin:proc:/proc/diskstats]
\tperformance metrics for physical disks = auto

[backend]
\t# host tags =
\tenabled = yes
\tdata source = as collected
\ttype = opentsdb:http
\tdestination = tsdb-a.example:4242, [2001:db8::7]:4242 tsdb-c.example
\tprefix = netdata_prod
\tupdate every = 15
\tbuffer on failures = 3
\ttimeout ms = 45000
\tsend hosts matching = localhost !child-* *
\tsend charts matching = !*.cpu_* apps.* system.*
\tsend names instead of ids = no
\topentsdb host tags = dc=eu1 rack=r7
\tremote write URL path = /api/v1/write

[health]
\tenabled = yes
";

    #[test]
    fn realistic_netdata_conf() {
        let c = backend(NETDATA_CONF).unwrap();
        let mut want = BackendConfig::new();
        want.enabled = true;
        want.backend_type = BackendType::OpenTsdbHttp;
        want.destination = "tsdb-a.example:4242, [2001:db8::7]:4242 tsdb-c.example";
        want.data_source = DataSource::AsCollected;
        want.prefix = "netdata_prod";
        want.hostname = Some("db-primary");
        want.update_every = 15;
        want.buffer_on_failures = 3;
        want.timeout_ms = 45_000;
        want.send_hosts_matching = "localhost !child-* *";
        want.send_charts_matching = "!*.cpu_* apps.* system.*";
        want.send_names_instead_of_ids = false;
        want.host_tags = "dc=eu1 rack=r7";
        want.remote_write_url_path = "/api/v1/write";
        assert_eq!(c, want);

        let items: Vec<_> = c.destinations().unwrap().map(|d| d.unwrap()).collect();
        let hosts: Vec<_> = items.iter().map(|d| (d.host(), d.port())).collect();
        assert_eq!(
            hosts,
            [
                ("tsdb-a.example", Some(Port::Number(4242))),
                ("2001:db8::7", Some(Port::Number(4242))),
                ("tsdb-c.example", Some(Port::Default(4242))),
            ]
        );
        assert!(items.iter().all(|d| d.protocol() == Protocol::Tcp));
        assert_eq!(c.region(), None);
    }

    #[test]
    fn defaults() {
        let want = BackendConfig::new();
        assert_eq!(BackendConfig::default(), want);
        assert_eq!(backend(""), Ok(want));
        assert_eq!(backend("[global]\nx = y\n[backend]\n"), Ok(want));
        assert!(!want.enabled);
        assert_eq!(want.backend_type, BackendType::Graphite);
        assert_eq!(want.destination, "localhost");
        assert_eq!(want.data_source, DataSource::Average);
        assert_eq!(want.prefix, "netdata");
        assert_eq!(want.hostname, None);
        assert_eq!(want.update_every, 10);
        assert_eq!(want.buffer_on_failures, 10);
        assert_eq!(want.timeout_ms, 20_000);
        assert_eq!(want.send_hosts_matching, "localhost *");
        assert_eq!(want.send_charts_matching, "*");
        assert!(want.send_names_instead_of_ids);
        assert_eq!(want.host_tags, "");
        assert_eq!(want.remote_write_url_path, "/receive");
        let d: Vec<_> = want.destinations().unwrap().collect();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].unwrap().port(), Some(Port::Default(2003)));
    }

    #[test]
    fn every_type_word() {
        use BackendType::*;
        let words = [
            ("graphite", Graphite),
            ("graphite:plaintext", Graphite),
            ("opentsdb", OpenTsdbTelnet),
            ("opentsdb:telnet", OpenTsdbTelnet),
            ("opentsdb:http", OpenTsdbHttp),
            ("opentsdb:https", OpenTsdbHttps),
            ("json", Json),
            ("json:plaintext", Json),
            ("prometheus_remote_write", PrometheusRemoteWrite),
            ("kinesis", Kinesis),
            ("kinesis:plaintext", Kinesis),
            ("mongodb", MongoDb),
            ("mongodb:plaintext", MongoDb),
        ];
        for (word, kind) in words {
            let place = if kind == Kinesis { "eu-north-1" } else { "h:1" };
            let text = with(&format!("type = {word}\ndestination = {place}"));
            assert_eq!(backend(text).map(|c| c.backend_type), Ok(kind), "{word}");
            assert_eq!(BackendType::from_word(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            assert!(BackendType::WORDS.contains(word));
        }
    }

    #[test]
    fn default_ports() {
        use BackendType::*;
        assert_eq!(Graphite.default_port(), Some(2003));
        assert_eq!(OpenTsdbTelnet.default_port(), Some(4242));
        assert_eq!(OpenTsdbHttp.default_port(), Some(4242));
        assert_eq!(OpenTsdbHttps.default_port(), Some(4242));
        assert_eq!(Json.default_port(), Some(5448));
        assert_eq!(PrometheusRemoteWrite.default_port(), None);
        let c = backend("[backend]\ntype = json").unwrap();
        let d = c.destinations().unwrap().next().unwrap().unwrap();
        assert_eq!(d.port(), Some(Port::Default(5448)));
    }

    #[test]
    fn every_data_source_word() {
        use DataSource::*;
        let words = [
            ("average", Average),
            ("sum", Sum),
            ("volume", Sum),
            ("as collected", AsCollected),
            ("as-collected", AsCollected),
            ("as_collected", AsCollected),
            ("ascollected", AsCollected),
            ("raw", AsCollected),
        ];
        for (word, source) in words {
            let text = with(&format!("data source = {word}"));
            assert_eq!(backend(text).map(|c| c.data_source), Ok(source), "{word}");
            assert_eq!(DataSource::from_word(source.as_str()), Some(source));
            assert_eq!(source.to_string(), source.as_str());
            assert!(DataSource::WORDS.contains(word));
        }
    }

    #[test]
    fn host_tags_and_its_alias() {
        let c = backend("[backend]\nhost tags = a=1").unwrap();
        assert_eq!(c.host_tags, "a=1");
        let c = backend("[backend]\nopentsdb host tags = b=2").unwrap();
        assert_eq!(c.host_tags, "b=2");
    }

    #[test]
    fn hostname_sources() {
        let c = |t| backend(t).unwrap().hostname;
        assert_eq!(
            c("[global]\nhostname = g\n[backend]\nhostname = b"),
            Some("b")
        );
        assert_eq!(
            c("[backend]\nhostname = b\n[global]\nhostname = g"),
            Some("b")
        );
        assert_eq!(c("[backend]\n[global]\nhostname = g"), Some("g"));
        assert_eq!(c("[global]\nhostname = g1\nhostname = g2"), Some("g2"));
        assert_eq!(c("[global]\nhostname ="), None);
        assert_eq!(c("[web]\nhostname = w"), None);
    }

    #[test]
    fn booleans_and_numbers() {
        let c = backend(with(
            "enabled = On Demand\nsend names instead of ids = OFF\nupdate every = 0x1e\n\
             buffer on failures = 0\ntimeout ms = 010",
        ))
        .unwrap();
        assert!(c.enabled && !c.send_names_instead_of_ids);
        assert_eq!(
            (c.update_every, c.buffer_on_failures, c.timeout_ms),
            (30, 0, 8)
        );
        let c = backend(with(
            "update every = 2147483647\nbuffer on failures = +2147483647",
        ));
        let c = c.unwrap();
        assert_eq!(
            (c.update_every, c.buffer_on_failures),
            (2_147_483_647, 2_147_483_647)
        );
        assert_eq!(c.timeout_ms, 4_294_967_294_000);
        let c = backend(with("timeout ms = 9223372036854775807")).unwrap();
        assert_eq!(c.timeout_ms, 9_223_372_036_854_775_807);
    }

    #[test]
    fn timeout_default_follows_update_every() {
        assert_eq!(backend(with("update every = 1")).unwrap().timeout_ms, 2000);
        let t = backend(with("timeout ms = 5\nupdate every = 3")).unwrap();
        assert_eq!(t.timeout_ms, 5);
    }

    #[test]
    fn kinesis_and_mongodb_destinations() {
        let c = backend(with("type = kinesis\ndestination = eu-west-1")).unwrap();
        assert_eq!(
            (c.region(), c.destinations().is_none()),
            (Some("eu-west-1"), true)
        );
        let c = backend(with("type = kinesis")).unwrap();
        assert_eq!(c.region(), Some("localhost"));
        let c = backend(with("type = mongodb\ndestination = [not checked")).unwrap();
        assert_eq!((c.region(), c.destinations().is_none()), (None, true));
        assert_eq!(c.destination, "[not checked");
    }

    #[test]
    fn unix_and_udp_destinations() {
        let c = backend(with("destination = unix:/run/carbon.sock udp:h")).unwrap();
        let d: Vec<_> = c.destinations().unwrap().map(|d| d.unwrap()).collect();
        assert_eq!(d[0].path(), Some("/run/carbon.sock"));
        assert_eq!(
            (d[1].protocol(), d[1].port()),
            (Protocol::Udp, Some(Port::Default(2003)))
        );
    }

    #[test]
    fn remote_write_needs_a_port() {
        let c = backend(with(
            "type = prometheus_remote_write\ndestination = vm:8428",
        ));
        assert_eq!(c.unwrap().remote_write_url_path, "/receive");
    }

    /// `(text, line, option, kind, Display)`
    macro_rules! bad {
        ($($name:ident: $text:expr => $line:expr, $option:expr, $kind:expr, $msg:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    let text: &str = $text;
                    let err = backend(text).unwrap_err();
                    assert_eq!(err.line(), $line, "line");
                    assert_eq!(err.option(), $option, "option");
                    assert_eq!(err.kind(), $kind, "kind");
                    let msg: &str = $msg;
                    assert_eq!(err.to_string(), msg);
                }
            )*
        };
    }

    use ConfigErrorKind as K;

    const fn range(min: i64, max: i64) -> ConfigErrorKind {
        K::OutOfRange { min, max }
    }

    fn dest(list: &str, default_port: Option<u16>) -> ConfigErrorKind {
        K::Destination(destination::validate(list, default_port).unwrap_err())
    }

    const BOOL_MSG: &str =
        "is not a boolean (use yes, true, on, auto or on demand; or no, false or off)";

    bad! {
        err_syntax: "[global]\nhostname box\n" => 2, None,
            K::Syntax(crate::config::ini::ErrorKind::MissingEquals),
            "line 2: expected \"name = value\", \"[section]\" or a comment starting with # or ;";
        err_syntax_elsewhere: "[backend]\nenabled = yes\n[web\n" => 3, None,
            K::Syntax(crate::config::ini::ErrorKind::UnterminatedSection),
            "line 3: section header has no closing ']'";
        err_unknown_option: "[backend]\n\nupdate evry = 5" => 3, Some("update evry"),
            K::UnknownOption { suggestion: Some("update every") },
            "line 3: update evry: unknown option (did you mean \"update every\"?)";
        err_unknown_option_case: "[backend]\nRemote Write URL Path = /x" => 2,
            Some("Remote Write URL Path"),
            K::UnknownOption { suggestion: Some("remote write URL path") },
            "line 2: Remote Write URL Path: unknown option (did you mean \"remote write URL path\"?)";
        err_unknown_option_far: "[backend]\ncolour = blue" => 2, Some("colour"),
            K::UnknownOption { suggestion: None },
            "line 2: colour: unknown option";
        err_unknown_option_control: "[backend]\ncol\x1b[2Jour = blue" => 2, Some("col\x1b[2Jour"),
            K::UnknownOption { suggestion: None },
            "line 2: col\\u{1b}[2Jour: unknown option";
        err_duplicate: "[backend]\nprefix = a\n\n[global]\n[backend]\nprefix = b" => 6,
            Some("prefix"), K::Duplicate { first_line: 2 },
            "line 6: prefix: set more than once (first on line 2)";
        err_duplicate_alias: "[backend]\nopentsdb host tags = a\nhost tags = b" => 3,
            Some("host tags"), K::Duplicate { first_line: 2 },
            "line 3: host tags: set more than once (first on line 2)";
        err_bool_one: "[backend]\nenabled = 1" => 2, Some("enabled"), K::NotABoolean,
            &format!("line 2: enabled: \"1\" {BOOL_MSG}");
        err_bool_zero: "[backend]\nsend names instead of ids = 0" => 2,
            Some("send names instead of ids"), K::NotABoolean,
            &format!("line 2: send names instead of ids: \"0\" {BOOL_MSG}");
        err_bool_empty: "[backend]\nenabled =" => 2, Some("enabled"), K::NotABoolean,
            &format!("line 2: enabled: \"\" {BOOL_MSG}");
        err_not_a_number: "[backend]\nupdate every = 10s" => 2, Some("update every"),
            K::NotANumber,
            "line 2: update every: \"10s\" is not a number (use decimal, 0x hexadecimal or 0-prefixed octal digits)";
        err_empty_number: "[backend]\ntimeout ms =" => 2, Some("timeout ms"), K::NotANumber,
            "line 2: timeout ms: \"\" is not a number (use decimal, 0x hexadecimal or 0-prefixed octal digits)";
        err_update_every_zero: "[backend]\nupdate every = 0" => 2, Some("update every"),
            range(1, 2_147_483_647),
            "line 2: update every: \"0\" is out of range (use 1 to 2147483647)";
        err_update_every_negative: "[backend]\nupdate every = -5" => 2, Some("update every"),
            range(1, 2_147_483_647),
            "line 2: update every: \"-5\" is out of range (use 1 to 2147483647)";
        err_update_every_huge: "[backend]\nupdate every = 2147483648" => 2,
            Some("update every"), range(1, 2_147_483_647),
            "line 2: update every: \"2147483648\" is out of range (use 1 to 2147483647)";
        err_timeout_zero: "[backend]\ntimeout ms = 0" => 2, Some("timeout ms"),
            range(1, i64::MAX),
            "line 2: timeout ms: \"0\" is out of range (use 1 to 9223372036854775807)";
        err_timeout_overflow: "[backend]\ntimeout ms = 0x8000000000000000" => 2,
            Some("timeout ms"), range(1, i64::MAX),
            "line 2: timeout ms: \"0x8000000000000000\" is out of range (use 1 to 9223372036854775807)";
        err_buffer_negative: "[backend]\nbuffer on failures = -1" => 2,
            Some("buffer on failures"), range(0, 2_147_483_647),
            "line 2: buffer on failures: \"-1\" is out of range (use 0 to 2147483647)";
        err_empty_hostname: "[global]\nhostname = g\n[backend]\nhostname =" => 4,
            Some("hostname"), K::EmptyValue, "line 4: hostname: must not be empty";
        err_unknown_type: "[backend]\ntype = Graphite" => 2, Some("type"), K::UnknownType,
            "line 2: type: \"Graphite\" is not a backend type (use graphite, graphite:plaintext, \
             opentsdb, opentsdb:telnet, opentsdb:http, opentsdb:https, json, json:plaintext, \
             prometheus_remote_write, kinesis, kinesis:plaintext, mongodb or mongodb:plaintext)";
        err_unknown_data_source: "[backend]\ndata source = mean" => 2, Some("data source"),
            K::UnknownDataSource,
            "line 2: data source: \"mean\" is not a data source (use average, sum, volume, \
             as collected, as-collected, as_collected, ascollected or raw)";
        err_destination_item: "[backend]\ndestination = a:2003 [::1\ntype = json" => 2,
            Some("destination"), dest("a:2003 [::1", Some(5448)),
            "line 2: destination: \"[::1\": '[' has no closing ']'";
        err_destination_slash: "[backend]\ndestination = graphite:2003/tcp" => 2,
            Some("destination"), dest("graphite:2003/tcp", Some(2003)),
            "line 2: destination: \"graphite:2003/tcp\": '/' is only allowed in a unix: socket path";
        err_destination_empty: "[backend]\ndestination = ," => 2, Some("destination"),
            dest(",", Some(2003)), "line 2: destination: the destination list is empty";
        err_remote_write_default_destination: "[backend]\nenabled = no\ntype = prometheus_remote_write"
            => 3, Some("destination"), dest("localhost", None),
            "line 3: destination: \"localhost\": no port given, and this backend type has no default port";
        err_remote_write_no_port: "[backend]\ndestination = vm\ntype = prometheus_remote_write"
            => 2, Some("destination"), dest("vm", None),
            "line 2: destination: \"vm\": no port given, and this backend type has no default port";
        err_kinesis_region: "[backend]\ntype = kinesis\ndestination = eu west 1" => 3,
            Some("destination"), K::BadRegion,
            "line 3: destination: \"eu west 1\" is not an AWS region (use letters, digits and '-', like us-east-1)";
        err_url_path_relative: "[backend]\nremote write URL path = receive" => 2,
            Some("remote write URL path"), K::BadUrlPath,
            "line 2: remote write URL path: \"receive\" is not a URL path (it must start with '/' and hold only visible ASCII characters)";
        err_url_path_space: "[backend]\nremote write URL path = /a b" => 2,
            Some("remote write URL path"), K::BadUrlPath,
            "line 2: remote write URL path: \"/a b\" is not a URL path (it must start with '/' and hold only visible ASCII characters)";
    }

    #[test]
    fn error_accessors() {
        let err = backend("[backend]\nenabled = 1").unwrap_err();
        assert_eq!(err.value(), Some("1"));
        let err = backend("[backend]\ncolour = blue").unwrap_err();
        assert_eq!(err.value(), None);
    }

    #[test]
    fn first_error_in_line_order() {
        let err = backend("[backend]\nenabled = 1\ncolour = x").unwrap_err();
        assert_eq!(err.line(), 2);
    }

    /// Random texts over the bytes that matter to the grammar never panic.
    #[test]
    fn never_panics_on_random_text() {
        const ALPHABET: &[u8] = b"[]=#;\n\r \t:%,/0x19-abkend\xc3\xa9";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut buf = Vec::new();
        for round in 0..20_000 {
            buf.clear();
            if round % 2 == 0 {
                buf.extend_from_slice(b"[backend]\n");
            }
            for _ in 0..(round % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                buf.push(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
            }
            let text = std::string::String::from_utf8_lossy(&buf);
            if let Err(e) = backend(&text) {
                let _ = e.to_string();
            }
            let _ = destination::validate(&text, Some(1));
            let _ = destination::validate(&text, None);
        }
    }
}
