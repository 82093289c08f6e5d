//! What an instance section `[TYPE:NAME]` describes: its type, and its settings once read
//! (the reading is in `options.rs`).

use core::fmt;

use super::backend::{BackendConfig, BackendType, DataSource};
use crate::destination::Destinations;

/// The kind of server an instance sends to: the `TYPE` of an `[TYPE:NAME]` section.
///
/// The words are those of netdata's exporting engine. The `:http` and `:https` variants send
/// the same records in HTTP requests (with TLS for `:https`); the bare words send a plain
/// stream, except `prometheus_remote_write`, which is always HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InstanceType {
    /// Graphite plaintext over TCP, UDP or a unix socket: `graphite`.
    Graphite,
    /// Graphite plaintext in HTTP requests: `graphite:http`.
    GraphiteHttp,
    /// Graphite plaintext in HTTPS requests: `graphite:https`.
    GraphiteHttps,
    /// OpenTSDB telnet `put` lines: `opentsdb`.
    OpenTsdb,
    /// OpenTSDB HTTP `/api/put`: `opentsdb:http`.
    OpenTsdbHttp,
    /// OpenTSDB HTTPS `/api/put`: `opentsdb:https`.
    OpenTsdbHttps,
    /// JSON lines: `json`.
    Json,
    /// JSON in HTTP requests: `json:http`.
    JsonHttp,
    /// JSON in HTTPS requests: `json:https`.
    JsonHttps,
    /// Prometheus remote write over HTTP: `prometheus_remote_write`.
    PrometheusRemoteWrite,
    /// Prometheus remote write over HTTPS: `prometheus_remote_write:https`.
    PrometheusRemoteWriteHttps,
    /// AWS Kinesis: `kinesis`.
    Kinesis,
    /// MongoDB: `mongodb`.
    MongoDb,
}

impl InstanceType {
    /// Every type, in the order of [`WORDS`](Self::WORDS).
    pub const ALL: [Self; 13] = [
        Self::Graphite,
        Self::GraphiteHttp,
        Self::GraphiteHttps,
        Self::OpenTsdb,
        Self::OpenTsdbHttp,
        Self::OpenTsdbHttps,
        Self::Json,
        Self::JsonHttp,
        Self::JsonHttps,
        Self::PrometheusRemoteWrite,
        Self::PrometheusRemoteWriteHttps,
        Self::Kinesis,
        Self::MongoDb,
    ];

    /// Every type word, as an error message lists them.
    pub const WORDS: &'static str = "graphite, graphite:http, graphite:https, opentsdb, \
        opentsdb:http, opentsdb:https, json, json:http, json:https, prometheus_remote_write, \
        prometheus_remote_write:https, kinesis or mongodb";

    /// The words a section name must start with to be taken for an instance section (the
    /// part before the first `:`).
    pub(super) const BASE_WORDS: [&'static str; 6] = [
        "graphite",
        "opentsdb",
        "json",
        "prometheus_remote_write",
        "kinesis",
        "mongodb",
    ];

    /// The type a word names (exact, lower-case words).
    ///
    /// # Examples
    ///
    /// ```
    /// use backhaul_core::config::InstanceType;
    ///
    /// assert_eq!(InstanceType::from_word("json:https"), Some(InstanceType::JsonHttps));
    /// assert_eq!(InstanceType::from_word("graphite:plaintext"), None);
    /// ```
    #[must_use]
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == word)
    }

    /// The type word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Graphite => "graphite",
            Self::GraphiteHttp => "graphite:http",
            Self::GraphiteHttps => "graphite:https",
            Self::OpenTsdb => "opentsdb",
            Self::OpenTsdbHttp => "opentsdb:http",
            Self::OpenTsdbHttps => "opentsdb:https",
            Self::Json => "json",
            Self::JsonHttp => "json:http",
            Self::JsonHttps => "json:https",
            Self::PrometheusRemoteWrite => "prometheus_remote_write",
            Self::PrometheusRemoteWriteHttps => "prometheus_remote_write:https",
            Self::Kinesis => "kinesis",
            Self::MongoDb => "mongodb",
        }
    }

    /// Whether records travel in HTTP requests (every `:http` and `:https` type, and both
    /// remote write types).
    #[must_use]
    pub const fn is_http(self) -> bool {
        !matches!(
            self,
            Self::Graphite | Self::OpenTsdb | Self::Json | Self::Kinesis | Self::MongoDb
        )
    }

    /// Whether the connection uses TLS (the `:https` types).
    #[must_use]
    pub const fn is_tls(self) -> bool {
        matches!(
            self,
            Self::GraphiteHttps
                | Self::OpenTsdbHttps
                | Self::JsonHttps
                | Self::PrometheusRemoteWriteHttps
        )
    }

    /// Whether this is a Prometheus remote write type.
    #[must_use]
    pub const fn is_remote_write(self) -> bool {
        matches!(
            self,
            Self::PrometheusRemoteWrite | Self::PrometheusRemoteWriteHttps
        )
    }

    /// The port of a destination without one: the port of the format (graphite 2003,
    /// opentsdb 4242, json 5448) whatever the transport; `None` for remote write (the
    /// destination must name its port) and for the types without a destination list.
    #[must_use]
    pub const fn default_port(self) -> Option<u16> {
        match self {
            Self::Graphite | Self::GraphiteHttp | Self::GraphiteHttps => Some(2003),
            Self::OpenTsdb | Self::OpenTsdbHttp | Self::OpenTsdbHttps => Some(4242),
            Self::Json | Self::JsonHttp | Self::JsonHttps => Some(5448),
            Self::PrometheusRemoteWrite
            | Self::PrometheusRemoteWriteHttps
            | Self::Kinesis
            | Self::MongoDb => None,
        }
    }

    /// Whether `destination` is a list of servers. It is the AWS region for
    /// [`Kinesis`](Self::Kinesis) and is ignored by [`MongoDb`](Self::MongoDb).
    #[must_use]
    pub const fn uses_destination_list(self) -> bool {
        !matches!(self, Self::Kinesis | Self::MongoDb)
    }
}

impl From<BackendType> for InstanceType {
    /// The instance type of a `[backend]` `type`.
    fn from(kind: BackendType) -> Self {
        match kind {
            BackendType::Graphite => Self::Graphite,
            BackendType::OpenTsdbTelnet => Self::OpenTsdb,
            BackendType::OpenTsdbHttp => Self::OpenTsdbHttp,
            BackendType::OpenTsdbHttps => Self::OpenTsdbHttps,
            BackendType::Json => Self::Json,
            BackendType::PrometheusRemoteWrite => Self::PrometheusRemoteWrite,
            BackendType::Kinesis => Self::Kinesis,
            BackendType::MongoDb => Self::MongoDb,
        }
    }
}

impl fmt::Display for InstanceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A password: its `Debug` (and `defmt::Format`) output never shows it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Secret<'a>(pub(super) &'a str);

impl<'a> Secret<'a> {
    /// The secret text.
    #[must_use]
    pub const fn expose(&self) -> &'a str {
        self.0
    }
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Secret<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Secret(<redacted>)");
    }
}

/// The HTTP options of an instance whose type [is HTTP](InstanceType::is_http).
///
/// They are checked for shape only: the files are not opened, and at most one way of
/// authenticating is set (a user name with a password or a password file, or a bearer
/// token file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct HttpConfig<'a> {
    /// `username`: the basic-authentication user (no `:`). Default none.
    pub username: Option<&'a str>,
    /// `password`: the basic-authentication password, given in the file. Default none.
    pub password: Option<Secret<'a>>,
    /// `password file`: a file holding the password. Default none.
    pub password_file: Option<&'a str>,
    /// `bearer token file`: a file holding a bearer token. Default none.
    pub bearer_token_file: Option<&'a str>,
    /// The TLS options, `Some` for the `:https` types.
    pub tls: Option<TlsConfig<'a>>,
}

/// The TLS options of an instance whose type [is TLS](InstanceType::is_tls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct TlsConfig<'a> {
    /// `CA file`: the certificates to verify the server with; none means the system's.
    pub ca_file: Option<&'a str>,
    /// `client certificate`: a certificate to authenticate with (needs `client key`).
    pub client_certificate: Option<&'a str>,
    /// `client key`: the key of `client certificate` (needs it).
    pub client_key: Option<&'a str>,
    /// `skip certificate verification`: accept any server certificate. Default `no`.
    pub skip_certificate_verification: bool,
}

/// One destination instance: an `[TYPE:NAME]` section, or netdata's `[backend]` when it is
/// enabled.
///
/// An option an instance section does not set takes its value from `[exporting:global]`,
/// and then netdata's default (the same as `[backend]`'s). See `docs/configuration.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct InstanceConfig<'a> {
    /// The `NAME` of the section (`backend` for `[backend]`).
    pub name: &'a str,
    /// The `TYPE` of the section (from `type` for `[backend]`).
    pub instance_type: InstanceType,
    /// The 1-based line of the section header (the first `[backend]` header for `[backend]`).
    pub line: usize,
    /// `enabled`. Default `yes` (netdata's `[backend]` defaults to `no`).
    pub enabled: bool,
    /// `destination`: the server list, the AWS region for kinesis, ignored by mongodb.
    /// Default `localhost`.
    pub destination: &'a str,
    /// `data source`. Default `average`.
    pub data_source: DataSource,
    /// `prefix`: the first metric-name component. Default `netdata`.
    pub prefix: &'a str,
    /// `hostname`, else `[exporting:global] hostname`, else `[global] hostname`; `None`
    /// when none is set (the shell then uses the machine's host name).
    pub hostname: Option<&'a str>,
    /// `update every`: seconds between exports, 1 to 2147483647. Default 10.
    pub update_every: u32,
    /// `buffer on failures`: accepted and checked (0 to 2147483647, default 10) for
    /// compatibility, but not used: the send buffer is bounded by
    /// [`buffer_size`](Self::buffer_size) instead.
    pub buffer_on_failures: u32,
    /// `buffer size`: the send buffer's byte limit, 1 KiB to 1 GiB. Default 1 MiB.
    pub buffer_size: u32,
    /// `timeout ms`: connect, send and response timeout, at least 1. Default
    /// `2 · update every · 1000` (the instance's own `update every`).
    pub timeout_ms: u64,
    /// `send hosts matching`: a simple pattern on host names. Default `localhost *`.
    pub send_hosts_matching: &'a str,
    /// `send charts matching`: a simple pattern on chart ids and names. Default `*`.
    pub send_charts_matching: &'a str,
    /// `send names instead of ids`. Default `yes`.
    pub send_names_instead_of_ids: bool,
    /// `host tags`: tag text appended verbatim. Default empty.
    pub host_tags: &'a str,
    /// `remote write URL path`: the HTTP path of the remote write types. Default `/receive`.
    pub remote_write_url_path: &'a str,
    /// The HTTP options, `Some` for the types that [are HTTP](InstanceType::is_http).
    pub http: Option<HttpConfig<'a>>,
    /// `stream name` (kinesis only): the Kinesis stream. `None` when not set (netdata's
    /// `[backend]` reads it from `aws_kinesis.conf` instead).
    pub stream_name: Option<&'a str>,
    /// `aws_access_key_id` (kinesis only). `None` when not set.
    pub aws_access_key_id: Option<&'a str>,
    /// `aws_secret_access_key` (kinesis only). `None` when not set.
    pub aws_secret_access_key: Option<Secret<'a>>,
    /// `database` (mongodb only). `None` when not set (netdata's `[backend]` reads it from
    /// `mongodb.conf` instead).
    pub database: Option<&'a str>,
    /// `collection` (mongodb only). `None` when not set.
    pub collection: Option<&'a str>,
}

impl<'a> InstanceConfig<'a> {
    /// The section that gives instance sections their defaults.
    pub const GLOBAL_SECTION: &'static str = "exporting:global";

    /// The default `buffer size`: 1 MiB.
    pub const DEFAULT_BUFFER_SIZE: u32 = 1 << 20;
    /// The smallest `buffer size`: 1 KiB.
    pub const MIN_BUFFER_SIZE: u32 = 1 << 10;
    /// The largest `buffer size`: 1 GiB.
    pub const MAX_BUFFER_SIZE: u32 = 1 << 30;

    /// Every option name of an instance section (and of `[exporting:global]`).
    pub const OPTIONS: [&'static str; 27] = [
        "enabled",
        "destination",
        "data source",
        "prefix",
        "hostname",
        "update every",
        "buffer on failures",
        "buffer size",
        "timeout ms",
        "send hosts matching",
        "send charts matching",
        "send names instead of ids",
        "host tags",
        "remote write URL path",
        "username",
        "password",
        "password file",
        "bearer token file",
        "CA file",
        "client certificate",
        "client key",
        "skip certificate verification",
        "stream name",
        "aws_access_key_id",
        "aws_secret_access_key",
        "database",
        "collection",
    ];

    /// The defaults of an instance section without `[exporting:global]`.
    pub(super) const fn new(name: &'a str, instance_type: InstanceType, line: usize) -> Self {
        Self {
            name,
            instance_type,
            line,
            enabled: true,
            destination: "localhost",
            data_source: DataSource::Average,
            prefix: "netdata",
            hostname: None,
            update_every: 10,
            buffer_on_failures: 10,
            buffer_size: Self::DEFAULT_BUFFER_SIZE,
            timeout_ms: 20_000,
            send_hosts_matching: "localhost *",
            send_charts_matching: "*",
            send_names_instead_of_ids: true,
            host_tags: "",
            remote_write_url_path: "/receive",
            http: None,
            stream_name: None,
            aws_access_key_id: None,
            aws_secret_access_key: None,
            database: None,
            collection: None,
        }
    }

    /// The instance netdata's `[backend]` section defines (named `backend`, with the
    /// default `buffer size`, and no HTTP option set); `line` is its header line.
    pub(super) fn from_backend(backend: &BackendConfig<'a>, line: usize) -> Self {
        let instance_type = InstanceType::from(backend.backend_type);
        let http = instance_type.is_http().then(|| HttpConfig {
            tls: instance_type.is_tls().then(TlsConfig::default),
            ..HttpConfig::default()
        });
        Self {
            enabled: backend.enabled,
            destination: backend.destination,
            data_source: backend.data_source,
            prefix: backend.prefix,
            hostname: backend.hostname,
            update_every: backend.update_every,
            buffer_on_failures: backend.buffer_on_failures,
            timeout_ms: backend.timeout_ms,
            send_hosts_matching: backend.send_hosts_matching,
            send_charts_matching: backend.send_charts_matching,
            send_names_instead_of_ids: backend.send_names_instead_of_ids,
            host_tags: backend.host_tags,
            remote_write_url_path: backend.remote_write_url_path,
            http,
            ..Self::new(BackendConfig::SECTION, instance_type, line)
        }
    }

    /// The destination list, with the type's default port; `None` for kinesis and mongodb.
    #[must_use]
    pub fn destinations(&self) -> Option<Destinations<'a>> {
        self.instance_type
            .uses_destination_list()
            .then(|| Destinations::new(self.destination, self.instance_type.default_port()))
    }

    /// The AWS region of a kinesis instance (its `destination`); `None` for other types.
    #[must_use]
    pub fn region(&self) -> Option<&'a str> {
        (self.instance_type == InstanceType::Kinesis).then_some(self.destination)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::format;
    use std::string::ToString;

    #[test]
    fn type_words() {
        assert_eq!(InstanceType::ALL.len(), 13);
        for kind in InstanceType::ALL {
            assert_eq!(InstanceType::from_word(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            let base = kind.as_str().split(':').next().unwrap();
            assert!(InstanceType::BASE_WORDS.contains(&base));
            assert_eq!(kind.is_tls(), kind.as_str().ends_with(":https"), "{kind}");
            if kind.as_str().contains(":http") {
                assert!(kind.is_http(), "{kind}");
            }
        }
        let words: std::vec::Vec<_> = InstanceType::ALL.map(InstanceType::as_str).to_vec();
        let listed = words[..12].join(", ") + " or " + words[12];
        assert_eq!(InstanceType::WORDS, listed);
        assert!(InstanceType::PrometheusRemoteWrite.is_http());
        assert!(!InstanceType::PrometheusRemoteWrite.is_tls());
        assert!(InstanceType::PrometheusRemoteWriteHttps.is_remote_write());
        assert!(!InstanceType::Kinesis.is_http() && !InstanceType::MongoDb.is_http());
        assert_eq!(InstanceType::from_word("Json"), None);
        assert_eq!(InstanceType::from_word("opentsdb:telnet"), None);
    }

    #[test]
    fn default_ports() {
        use InstanceType::*;
        for (kind, port) in [
            (Graphite, Some(2003)),
            (GraphiteHttp, Some(2003)),
            (GraphiteHttps, Some(2003)),
            (OpenTsdb, Some(4242)),
            (OpenTsdbHttp, Some(4242)),
            (OpenTsdbHttps, Some(4242)),
            (Json, Some(5448)),
            (JsonHttp, Some(5448)),
            (JsonHttps, Some(5448)),
            (PrometheusRemoteWrite, None),
            (PrometheusRemoteWriteHttps, None),
            (Kinesis, None),
            (MongoDb, None),
        ] {
            assert_eq!(kind.default_port(), port, "{kind}");
            assert_eq!(
                kind.uses_destination_list(),
                !matches!(kind, Kinesis | MongoDb)
            );
        }
    }

    #[test]
    fn backend_types_map() {
        use BackendType as B;
        use InstanceType as I;
        for (backend, instance) in [
            (B::Graphite, I::Graphite),
            (B::OpenTsdbTelnet, I::OpenTsdb),
            (B::OpenTsdbHttp, I::OpenTsdbHttp),
            (B::OpenTsdbHttps, I::OpenTsdbHttps),
            (B::Json, I::Json),
            (B::PrometheusRemoteWrite, I::PrometheusRemoteWrite),
            (B::Kinesis, I::Kinesis),
            (B::MongoDb, I::MongoDb),
        ] {
            assert_eq!(I::from(backend), instance);
            assert_eq!(backend.default_port(), instance.default_port());
        }
    }

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(secret.expose(), "hunter2");
    }
}
