//! The daemon-wide settings: `[global]` (shared with netdata) and `[backhaul]`.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use super::ini::Entry;
use super::value::parse_integer_in;
use super::{
    check_duplicate, unknown_option, ConfigError, ConfigErrorKind, DaemonErrorKind, Result,
};

/// The options backhaul reads from netdata's `[global]` section.
///
/// `[global]` belongs to netdata and holds many options backhaul does not use, so options
/// other than these three are ignored there (not reported as unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct GlobalConfig<'a> {
    /// `hostname`: the host name of every instance that sets none. `None` when it is not
    /// set or empty (as netdata reads it); the shell then uses the machine's host name.
    pub hostname: Option<&'a str>,
    /// `history`: how many entries each chart's ring keeps, [`MIN_HISTORY`](Self::MIN_HISTORY)
    /// to [`MAX_HISTORY`](Self::MAX_HISTORY). Default 3600 (one hour at one second).
    pub history: u32,
    /// `update every`: the collection interval in seconds, 1 to
    /// [`MAX_UPDATE_EVERY`](Self::MAX_UPDATE_EVERY). Default 1.
    pub update_every: u32,
}

impl Default for GlobalConfig<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl GlobalConfig<'_> {
    /// The section name.
    pub const SECTION: &'static str = "global";
    /// The options backhaul reads from the section.
    pub const OPTIONS: [&'static str; 3] = ["hostname", "history", "update every"];
    /// The default `history`.
    pub const DEFAULT_HISTORY: u32 = 3600;
    /// The smallest `history` (netdata's smallest too).
    pub const MIN_HISTORY: u32 = 5;
    /// The largest `history`: one week of one-second entries. A ring entry is a 4-byte
    /// storage number, so this is about 2.4 MB per dimension.
    pub const MAX_HISTORY: u32 = 7 * 86_400;
    /// The largest `update every`: one hour.
    pub const MAX_UPDATE_EVERY: u32 = 3600;

    /// The defaults.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            hostname: None,
            history: Self::DEFAULT_HISTORY,
            update_every: 1,
        }
    }
}

impl<'a> GlobalConfig<'a> {
    /// Applies one `[global]` option; `lines` holds the line each of [`Self::OPTIONS`] was
    /// set on.
    pub(super) fn set(&mut self, entry: Entry<'a>, lines: &mut [usize; 3]) -> Result<'a, ()> {
        let Some(index) = Self::OPTIONS.iter().position(|n| *n == entry.name) else {
            return Ok(());
        };
        check_duplicate(entry, lines.get_mut(index))?;
        let value = entry.value;
        let error = |kind| ConfigError::new(entry.line, Some(entry.name), Some(value), kind);
        let int = |max: u32| parse_integer_in(value, 1, i64::from(max)).map_err(error);
        match index {
            0 => self.hostname = Some(value).filter(|v| !v.is_empty()),
            1 => {
                let (min, max) = (Self::MIN_HISTORY, Self::MAX_HISTORY);
                let n = parse_integer_in(value, i64::from(min), i64::from(max)).map_err(error)?;
                self.history = u32::try_from(n).unwrap_or(min);
            }
            _ => self.update_every = u32::try_from(int(Self::MAX_UPDATE_EVERY)?).unwrap_or(1),
        }
        Ok(())
    }
}

/// How much the daemon logs (the `[backhaul]` option `log level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LogLevel {
    /// `error`: failures only.
    Error,
    /// `warn`: failures and data loss.
    Warn,
    /// `info`: also connections and start-up (the default).
    #[default]
    Info,
    /// `debug`: also every exchange.
    Debug,
    /// `trace`: everything.
    Trace,
}

impl LogLevel {
    const ALL: [Self; 5] = [
        Self::Error,
        Self::Warn,
        Self::Info,
        Self::Debug,
        Self::Trace,
    ];

    /// The level a word names (exact, lower-case words).
    #[must_use]
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.as_str() == word)
    }

    /// The level's word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The daemon's own settings, from the `[backhaul]` section: the pull endpoint (the
/// Prometheus text exposition) and logging.
///
/// Unlike `[global]`, this section is backhaul's alone: an unknown option is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct WebConfig {
    /// `bind to`: the address the pull endpoint listens on; `None` (`bind to = none`) for
    /// no endpoint. Default `127.0.0.1:19999`.
    pub bind_to: Option<SocketAddr>,
    /// `log level`. Default `info`.
    pub log_level: LogLevel,
}

// defmt formats `core::net` addresses only with its `ip_in_core` feature: go through
// `core::fmt` instead.
#[cfg(feature = "defmt")]
impl defmt::Format for WebConfig {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "WebConfig {{ bind_to: {}, log_level: {} }}",
            self.bind_to.as_ref().map(defmt::Display2Format),
            self.log_level
        );
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl WebConfig {
    /// The section name.
    pub const SECTION: &'static str = "backhaul";
    /// Every option of the section.
    pub const OPTIONS: [&'static str; 2] = ["bind to", "log level"];
    /// The port of a `bind to` address without one (netdata's web port).
    pub const DEFAULT_PORT: u16 = 19999;
    /// The default `bind to`.
    pub const DEFAULT_BIND_TO: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, Self::DEFAULT_PORT));

    /// The defaults.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            bind_to: Some(Self::DEFAULT_BIND_TO),
            log_level: LogLevel::Info,
        }
    }

    /// Applies one `[backhaul]` option; `lines` holds the line each of [`Self::OPTIONS`]
    /// was set on.
    pub(super) fn set<'a>(&mut self, entry: Entry<'a>, lines: &mut [usize; 2]) -> Result<'a, ()> {
        let Some(index) = Self::OPTIONS.iter().position(|n| *n == entry.name) else {
            return Err(unknown_option(entry, &Self::OPTIONS));
        };
        check_duplicate(entry, lines.get_mut(index))?;
        let value = entry.value;
        let error = |kind| {
            let kind = ConfigErrorKind::Daemon(kind);
            ConfigError::new(entry.line, Some(entry.name), Some(value), kind)
        };
        if index == 0 {
            self.bind_to =
                parse_bind_to(value).ok_or_else(|| error(DaemonErrorKind::BadBindAddress))?;
        } else {
            self.log_level = LogLevel::from_word(value)
                .ok_or_else(|| error(DaemonErrorKind::UnknownLogLevel))?;
        }
        Ok(())
    }
}

/// Reads `none`, `IPv4:PORT`, `[IPv6]:PORT`, or an address alone (with
/// [`WebConfig::DEFAULT_PORT`]); `None` for anything else, including port 0.
fn parse_bind_to(value: &str) -> Option<Option<SocketAddr>> {
    if value == "none" {
        return Some(None);
    }
    let address = if let Ok(address) = value.parse::<SocketAddr>() {
        address
    } else if let Ok(ip) = value.parse::<IpAddr>() {
        SocketAddr::new(ip, WebConfig::DEFAULT_PORT)
    } else {
        let inner = value.strip_prefix('[')?.strip_suffix(']')?;
        let ip = inner.parse::<Ipv6Addr>().ok()?;
        SocketAddr::new(IpAddr::V6(ip), WebConfig::DEFAULT_PORT)
    };
    (address.port() != 0).then_some(Some(address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(text: &str) -> Option<Option<SocketAddr>> {
        parse_bind_to(text)
    }

    fn addr(text: &str) -> Option<Option<SocketAddr>> {
        Some(Some(text.parse().unwrap()))
    }

    #[test]
    fn bind_to_forms() {
        assert_eq!(bind("none"), Some(None));
        assert_eq!(bind("127.0.0.1:19999"), addr("127.0.0.1:19999"));
        assert_eq!(bind("0.0.0.0:9100"), addr("0.0.0.0:9100"));
        assert_eq!(bind("10.1.2.3"), addr("10.1.2.3:19999"));
        assert_eq!(bind("[::]:80"), addr("[::]:80"));
        assert_eq!(bind("[::1]"), addr("[::1]:19999"));
        assert_eq!(bind("::1"), addr("[::1]:19999"));
        assert_eq!(bind("[fe80::1%2]:1"), addr("[fe80::1%2]:1"));
        for text in [
            "",
            "None",
            "*",
            "localhost",
            "localhost:19999",
            "1.2.3.4:0",
            "[::1]:0",
            "1.2.3.4:",
            "1.2.3.4:65536",
            "[::1",
            "::1]",
            "1.2.3",
            "unix:/run/b.sock",
            "1.2.3.4:80 ::1",
        ] {
            assert_eq!(bind(text), None, "{text:?}");
        }
        assert_eq!(WebConfig::new().bind_to, addr("127.0.0.1:19999").unwrap());
    }

    #[test]
    fn log_levels() {
        for level in LogLevel::ALL {
            assert_eq!(LogLevel::from_word(level.as_str()), Some(level));
        }
        assert!(LogLevel::Error < LogLevel::Trace);
        assert_eq!(LogLevel::default(), LogLevel::Info);
        assert_eq!(LogLevel::from_word("INFO"), None);
        assert_eq!(LogLevel::from_word("warning"), None);
    }

    #[test]
    fn global_defaults() {
        let global = GlobalConfig::default();
        assert_eq!(
            (global.hostname, global.history, global.update_every),
            (None, 3600, 1)
        );
        assert_eq!(GlobalConfig::MAX_HISTORY, 604_800);
    }
}
