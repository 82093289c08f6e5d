//! The options of instance sections and `[exporting:global]`: how each is read and checked,
//! and how an instance section inherits from `[exporting:global]`.
//!
//! netdata's `[backend]` reads its options here too (all but `type`), so that a value means
//! the same, has the same range and gets the same message in every section.

use super::ini::Entry;
use super::instance::{HttpConfig, Secret, TlsConfig};
use super::value::{parse_bool, parse_integer_in};
use super::{
    check_duplicate, unknown_option, BackendConfig, ConfigError, ConfigErrorKind, DaemonErrorKind,
    DataSource, InstanceConfig, InstanceType, Result,
};
use crate::destination;

/// Reads a byte size: decimal digits, then optionally blanks and `KiB`, `MiB` or `GiB`
/// (exactly so spelled), within [`InstanceConfig::MIN_BUFFER_SIZE`] to
/// [`InstanceConfig::MAX_BUFFER_SIZE`].
///
/// # Errors
///
/// [`DaemonErrorKind::BadSize`] (inside [`ConfigErrorKind::Daemon`]) for anything else
/// (signs, `0x`, `K`, `KB`, `MB`: a kilobyte could mean 1000 or 1024 bytes);
/// [`ConfigErrorKind::OutOfRange`] with the byte limits for a size outside them.
///
/// # Examples
///
/// ```
/// use backhaul_core::config::{parse_byte_size, ConfigErrorKind, DaemonErrorKind};
///
/// assert_eq!(parse_byte_size("4 MiB"), Ok(4 << 20));
/// assert_eq!(parse_byte_size("65536"), Ok(65536));
/// assert_eq!(parse_byte_size("4MB"), Err(ConfigErrorKind::Daemon(DaemonErrorKind::BadSize)));
/// ```
pub fn parse_byte_size(value: &str) -> core::result::Result<u32, ConfigErrorKind> {
    let bad = ConfigErrorKind::Daemon(DaemonErrorKind::BadSize);
    let range = ConfigErrorKind::OutOfRange {
        min: i64::from(InstanceConfig::MIN_BUFFER_SIZE),
        max: i64::from(InstanceConfig::MAX_BUFFER_SIZE),
    };
    let end = value
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, suffix) = value.split_at_checked(end).ok_or(bad)?;
    let unit: u64 = match suffix.trim_start_matches([' ', '\t']) {
        "" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(bad),
    };
    if digits.is_empty() {
        return Err(bad);
    }
    // Only ASCII digits are left, so the parse can fail on overflow alone.
    let bytes = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or(range)?;
    u32::try_from(bytes)
        .ok()
        .filter(|n| (InstanceConfig::MIN_BUFFER_SIZE..=InstanceConfig::MAX_BUFFER_SIZE).contains(n))
        .ok_or(range)
}

/// The options of an instance section, in the order of [`InstanceConfig::OPTIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opt {
    Enabled,
    Destination,
    DataSource,
    Prefix,
    Hostname,
    UpdateEvery,
    BufferOnFailures,
    BufferSize,
    TimeoutMs,
    SendHostsMatching,
    SendChartsMatching,
    SendNamesInsteadOfIds,
    HostTags,
    RemoteWriteUrlPath,
    Username,
    Password,
    PasswordFile,
    BearerTokenFile,
    CaFile,
    ClientCertificate,
    ClientKey,
    SkipCertificateVerification,
    StreamName,
    AwsAccessKeyId,
    AwsSecretAccessKey,
    Database,
    Collection,
}

const OPT_COUNT: usize = InstanceConfig::OPTIONS.len();

/// Whether an option applies to an instance type.
type Admits = fn(InstanceType) -> bool;
const _: () = assert!(Opt::Collection as usize + 1 == OPT_COUNT);

const OPT_TABLE: [Opt; OPT_COUNT] = [
    Opt::Enabled,
    Opt::Destination,
    Opt::DataSource,
    Opt::Prefix,
    Opt::Hostname,
    Opt::UpdateEvery,
    Opt::BufferOnFailures,
    Opt::BufferSize,
    Opt::TimeoutMs,
    Opt::SendHostsMatching,
    Opt::SendChartsMatching,
    Opt::SendNamesInsteadOfIds,
    Opt::HostTags,
    Opt::RemoteWriteUrlPath,
    Opt::Username,
    Opt::Password,
    Opt::PasswordFile,
    Opt::BearerTokenFile,
    Opt::CaFile,
    Opt::ClientCertificate,
    Opt::ClientKey,
    Opt::SkipCertificateVerification,
    Opt::StreamName,
    Opt::AwsAccessKeyId,
    Opt::AwsSecretAccessKey,
    Opt::Database,
    Opt::Collection,
];

impl Opt {
    pub(super) fn from_name(name: &str) -> Option<Self> {
        let index = InstanceConfig::OPTIONS.iter().position(|n| *n == name)?;
        OPT_TABLE.get(index).copied()
    }

    fn name(self) -> &'static str {
        InstanceConfig::OPTIONS
            .get(self as usize)
            .copied()
            .unwrap_or("")
    }

    /// The instance types the option applies to, as a test and as words for the error;
    /// `None` for the options of every type.
    fn scope(self) -> Option<(Admits, &'static str)> {
        match self {
            Self::RemoteWriteUrlPath => Some((
                InstanceType::is_remote_write,
                "the prometheus_remote_write types",
            )),
            Self::Username | Self::Password | Self::PasswordFile | Self::BearerTokenFile => {
                Some((InstanceType::is_http, "the HTTP and HTTPS types"))
            }
            Self::CaFile
            | Self::ClientCertificate
            | Self::ClientKey
            | Self::SkipCertificateVerification => Some((InstanceType::is_tls, "the HTTPS types")),
            Self::StreamName | Self::AwsAccessKeyId | Self::AwsSecretAccessKey => {
                Some((|kind| kind == InstanceType::Kinesis, "kinesis"))
            }
            Self::Database | Self::Collection => {
                Some((|kind| kind == InstanceType::MongoDb, "mongodb"))
            }
            _ => None,
        }
    }
}

/// The options one section sets on top of the defaults it inherits, with the line each was
/// set on (0: not set).
#[derive(Debug, Clone, Copy)]
pub(super) struct Layer<'a> {
    config: InstanceConfig<'a>,
    http: HttpConfig<'a>,
    tls: TlsConfig<'a>,
    /// `None` for `[exporting:global]`.
    instance_type: Option<InstanceType>,
    lines: [usize; OPT_COUNT],
    inherited: [usize; OPT_COUNT],
}

impl<'a> Layer<'a> {
    /// `[exporting:global]` over netdata's defaults.
    pub(super) const fn global() -> Self {
        Self {
            config: InstanceConfig::new("", InstanceType::Graphite, 0),
            http: HttpConfig {
                username: None,
                password: None,
                password_file: None,
                bearer_token_file: None,
                tls: None,
            },
            tls: TlsConfig {
                ca_file: None,
                client_certificate: None,
                client_key: None,
                skip_certificate_verification: false,
            },
            instance_type: None,
            lines: [0; OPT_COUNT],
            inherited: [0; OPT_COUNT],
        }
    }

    /// netdata's `[backend]` over its own defaults ([`BackendConfig::new`]), not over
    /// `[exporting:global]`. Its options are read with [`read`](Self::read) and it is
    /// completed by [`finish_backend`](Self::finish_backend).
    pub(super) fn backend() -> Self {
        Self {
            config: InstanceConfig::from_backend(&BackendConfig::new(), 0),
            ..Self::global()
        }
    }

    /// An instance section over this `[exporting:global]`.
    pub(super) fn instance(&self, name: &'a str, kind: InstanceType, line: usize) -> Self {
        Self {
            config: InstanceConfig {
                name,
                instance_type: kind,
                line,
                ..self.config
            },
            instance_type: Some(kind),
            lines: [0; OPT_COUNT],
            inherited: self.lines,
            ..*self
        }
    }

    fn line_of(lines: &[usize; OPT_COUNT], opt: Opt) -> usize {
        lines.get(opt as usize).copied().unwrap_or(0)
    }

    /// The line `opt` was set on, in the section or else in `[exporting:global]`; 0 if it
    /// was not set.
    fn effective_line(&self, opt: Opt) -> usize {
        match Self::line_of(&self.lines, opt) {
            0 => Self::line_of(&self.inherited, opt),
            line => line,
        }
    }

    /// Applies one option of the section.
    pub(super) fn set(&mut self, entry: Entry<'a>) -> Result<'a, ()> {
        let Some(opt) = Opt::from_name(entry.name) else {
            return Err(unknown_option(entry, &InstanceConfig::OPTIONS));
        };
        // Before `read`'s duplicate check, which changes nothing: the type is the
        // section's, so an option it refuses is refused the first time it is set.
        if let (Some(kind), Some((admits, applies_to))) = (self.instance_type, opt.scope()) {
            if !admits(kind) {
                let kind = DaemonErrorKind::NotForType {
                    instance_type: kind,
                    applies_to,
                };
                let kind = ConfigErrorKind::Daemon(kind);
                return Err(ConfigError::new(entry.line, Some(entry.name), None, kind));
            }
        }
        self.read(opt, entry)?;
        if opt == Opt::Destination {
            match self.instance_type {
                Some(kind) => check_destination(kind, entry.value),
                // The type is not known yet: check the shape only.
                None => destination::validate(entry.value, Some(1))
                    .map(drop)
                    .map_err(ConfigErrorKind::Destination),
            }
            .map_err(|kind| {
                ConfigError::new(entry.line, Some(entry.name), Some(entry.value), kind)
            })?;
        }
        Ok(())
    }

    /// Reads the value of `opt` from `entry`, refusing an option set twice; the one place
    /// where each option's value is parsed and range-checked. The destination is stored
    /// unchecked: [`set`](Self::set) checks it at once, `[backend]` once its `type` is read.
    pub(super) fn read(&mut self, opt: Opt, entry: Entry<'a>) -> Result<'a, ()> {
        let (line, name, value) = (entry.line, entry.name, entry.value);
        let error = |kind| ConfigError::new(line, Some(name), Some(value), kind);
        // For errors that must not repeat the value (passwords).
        let hidden = |kind| ConfigError::new(line, Some(name), None, kind);
        check_duplicate(entry, self.lines.get_mut(opt as usize))?;
        let int = |min, max| parse_integer_in(value, min, max).map_err(error);
        let max_int = i64::from(i32::MAX);
        let config = &mut self.config;
        match opt {
            Opt::Enabled => config.enabled = parse_bool(value).map_err(error)?,
            Opt::Destination => config.destination = value,
            Opt::DataSource => {
                config.data_source = DataSource::from_word(value)
                    .ok_or_else(|| error(ConfigErrorKind::UnknownDataSource))?;
            }
            Opt::Prefix => config.prefix = value,
            Opt::Hostname if value.is_empty() => {
                return Err(error(ConfigErrorKind::EmptyValue));
            }
            Opt::Hostname => config.hostname = Some(value),
            Opt::UpdateEvery => config.update_every = to_u32(int(1, max_int)?),
            Opt::BufferOnFailures => config.buffer_on_failures = to_u32(int(0, max_int)?),
            Opt::BufferSize => config.buffer_size = parse_byte_size(value).map_err(error)?,
            Opt::TimeoutMs => config.timeout_ms = int(1, i64::MAX)?.unsigned_abs(),
            Opt::SendHostsMatching => config.send_hosts_matching = value,
            Opt::SendChartsMatching => config.send_charts_matching = value,
            Opt::SendNamesInsteadOfIds => {
                config.send_names_instead_of_ids = parse_bool(value).map_err(error)?;
            }
            Opt::HostTags => config.host_tags = value,
            Opt::RemoteWriteUrlPath => {
                if !value.starts_with('/') || !value.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(error(ConfigErrorKind::BadUrlPath));
                }
                config.remote_write_url_path = value;
            }
            Opt::Username if value.contains(':') => {
                return Err(hidden(ConfigErrorKind::Daemon(
                    DaemonErrorKind::ColonInUsername,
                )));
            }
            Opt::Username => self.http.username = Some(check_text(value).map_err(hidden)?),
            Opt::Password => {
                self.http.password = Some(Secret(check_text(value).map_err(hidden)?));
            }
            Opt::PasswordFile => self.http.password_file = Some(check_text(value).map_err(error)?),
            Opt::BearerTokenFile => {
                self.http.bearer_token_file = Some(check_text(value).map_err(error)?);
            }
            Opt::CaFile => self.tls.ca_file = Some(check_text(value).map_err(error)?),
            Opt::ClientCertificate => {
                self.tls.client_certificate = Some(check_text(value).map_err(error)?);
            }
            Opt::ClientKey => self.tls.client_key = Some(check_text(value).map_err(error)?),
            Opt::SkipCertificateVerification => {
                self.tls.skip_certificate_verification = parse_bool(value).map_err(error)?;
            }
            Opt::StreamName => config.stream_name = Some(check_text(value).map_err(error)?),
            Opt::AwsAccessKeyId => {
                config.aws_access_key_id = Some(check_text(value).map_err(error)?);
            }
            Opt::AwsSecretAccessKey => {
                config.aws_secret_access_key = Some(Secret(check_text(value).map_err(hidden)?));
            }
            Opt::Database => config.database = Some(check_text(value).map_err(error)?),
            Opt::Collection => config.collection = Some(check_text(value).map_err(error)?),
        }
        Ok(())
    }

    /// Completes an instance section: the defaults that depend on other options, the
    /// inherited destination, and the checks between options.
    ///
    /// `hostname` is `[global] hostname`.
    pub(super) fn finish(mut self, hostname: Option<&'a str>) -> Result<'a, InstanceConfig<'a>> {
        let kind = self.config.instance_type;
        self.fill_defaults(hostname);
        if Self::line_of(&self.lines, Opt::Destination) == 0 {
            // Inherited or default: report it where it was set, else on the header.
            let line = match self.effective_line(Opt::Destination) {
                0 => self.config.line,
                line => line,
            };
            check_destination_at(kind, self.config.destination, line)?;
        }
        if kind.is_http() {
            self.check_pairs(kind)?;
            self.config.http = Some(HttpConfig {
                tls: kind.is_tls().then_some(self.tls),
                ..self.http
            });
        }
        Ok(self.config)
    }

    /// Completes `[backend]`, whose `type` (`kind`, set on `type_line`, 0 if not set) is not
    /// one of its options here: as [`finish`](Self::finish), but the destination is always
    /// checked now, and a destination left at its default is reported on the `type` line.
    ///
    /// `hostname` is `[global] hostname`.
    pub(super) fn finish_backend(
        mut self,
        kind: InstanceType,
        type_line: usize,
        hostname: Option<&'a str>,
    ) -> Result<'a, InstanceConfig<'a>> {
        self.fill_defaults(hostname);
        let line = match self.effective_line(Opt::Destination) {
            0 => type_line,
            line => line,
        };
        check_destination_at(kind, self.config.destination, line)?;
        Ok(self.config)
    }

    /// The defaults that depend on other options: `timeout ms` (twice `update every`) and
    /// `hostname` (`[global] hostname`).
    fn fill_defaults(&mut self, hostname: Option<&'a str>) {
        if self.effective_line(Opt::TimeoutMs) == 0 {
            self.config.timeout_ms = u64::from(self.config.update_every).saturating_mul(2000);
        }
        if self.config.hostname.is_none() {
            self.config.hostname = hostname;
        }
    }

    /// The checks between HTTP options.
    fn check_pairs(&self, kind: InstanceType) -> Result<'a, ()> {
        let at = |opt| self.effective_line(opt);
        let fail = |opt: Opt, error| {
            let kind = ConfigErrorKind::Daemon(error);
            Err(ConfigError::new(at(opt), Some(opt.name()), None, kind))
        };
        let conflict = |a: Opt, b: Opt| {
            let (first, second) = if at(a) < at(b) { (a, b) } else { (b, a) };
            let error = DaemonErrorKind::Conflict {
                other: first.name(),
                other_line: at(first),
            };
            fail(second, error)
        };
        let requires = |opt: Opt, other: Opt| {
            fail(
                opt,
                DaemonErrorKind::Requires {
                    other: other.name(),
                },
            )
        };
        let set = |opt| at(opt) != 0;
        if set(Opt::Password) && set(Opt::PasswordFile) {
            return conflict(Opt::Password, Opt::PasswordFile);
        }
        if set(Opt::BearerTokenFile) && set(Opt::Username) {
            return conflict(Opt::Username, Opt::BearerTokenFile);
        }
        for secret in [Opt::Password, Opt::PasswordFile] {
            if set(secret) && !set(Opt::Username) {
                return requires(secret, Opt::Username);
            }
        }
        if kind.is_tls() {
            if set(Opt::ClientCertificate) && !set(Opt::ClientKey) {
                return requires(Opt::ClientCertificate, Opt::ClientKey);
            }
            if set(Opt::ClientKey) && !set(Opt::ClientCertificate) {
                return requires(Opt::ClientKey, Opt::ClientCertificate);
            }
        }
        Ok(())
    }
}

/// Checks `destination` for an instance type (or `[backend]`'s `type`).
fn check_destination(kind: InstanceType, list: &str) -> core::result::Result<(), ConfigErrorKind> {
    match kind {
        InstanceType::MongoDb => Ok(()),
        InstanceType::Kinesis => {
            if !list.is_empty() && list.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                Ok(())
            } else {
                Err(ConfigErrorKind::BadRegion)
            }
        }
        kind => destination::validate(list, kind.default_port())
            .map(drop)
            .map_err(ConfigErrorKind::Destination),
    }
}

/// Checks `list` as [`check_destination`] does, as an error on `line`.
fn check_destination_at(kind: InstanceType, list: &str, line: usize) -> Result<'_, ()> {
    check_destination(kind, list)
        .map_err(|error| ConfigError::new(line, Some("destination"), Some(list), error))
}

/// Checks a user name, password or file name: not empty, no control characters.
fn check_text(value: &str) -> core::result::Result<&str, ConfigErrorKind> {
    if value.is_empty() {
        Err(ConfigErrorKind::EmptyValue)
    } else if value.chars().any(char::is_control) {
        Err(ConfigErrorKind::Daemon(DaemonErrorKind::ControlCharacter))
    } else {
        Ok(value)
    }
}

/// Narrows a value already checked to be within `0..=i32::MAX`.
fn to_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD: core::result::Result<u32, ConfigErrorKind> =
        Err(ConfigErrorKind::Daemon(DaemonErrorKind::BadSize));
    const RANGE: core::result::Result<u32, ConfigErrorKind> = Err(ConfigErrorKind::OutOfRange {
        min: 1024,
        max: 1_073_741_824,
    });

    #[test]
    fn byte_sizes() {
        let good = [
            ("1024", 1024),
            ("1 KiB", 1024),
            ("1KiB", 1024),
            ("64\tKiB", 64 << 10),
            ("1  MiB", 1 << 20),
            ("0010 KiB", 10 << 10),
            ("1023 MiB", 1023 << 20),
            ("1 GiB", 1 << 30),
            ("1073741824", 1 << 30),
            ("1048576 KiB", 1 << 30),
        ];
        for (text, want) in good {
            assert_eq!(parse_byte_size(text), Ok(want), "{text}");
        }
        for text in [
            "",
            "KiB",
            " 1 KiB",
            "1 kib",
            "1 KB",
            "1 K",
            "1k",
            "1 MB",
            "1 B",
            "1 TiB",
            "+1024",
            "-1024",
            "0x400",
            "1.5 MiB",
            "1 KiB ",
            "1_024",
            "1 KiBs",
            "\u{661}\u{660}\u{662}\u{664}",
        ] {
            assert_eq!(parse_byte_size(text), BAD, "{text:?}");
        }
        for text in [
            "0",
            "1023",
            "0 KiB",
            "2 GiB",
            "1073741825",
            "1048577 KiB",
            "18446744073709551616",
            "99999999999999999999 GiB",
            "17179869184 GiB",
        ] {
            assert_eq!(parse_byte_size(text), RANGE, "{text}");
        }
    }

    #[test]
    fn option_table_matches_names() {
        for (index, opt) in OPT_TABLE.into_iter().enumerate() {
            assert_eq!(opt as usize, index);
            assert_eq!(Opt::from_name(opt.name()), Some(opt));
        }
        assert_eq!(Opt::from_name("Enabled"), None);
    }
}
