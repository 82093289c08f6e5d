//! netdata.conf-compatible configuration, parsed by borrowing from the text.
//!
//! * [`ini`]: the line lexer (sections, `name = value`, comments), a building block for every
//!   section backhaul reads;
//! * [`value`]: strict booleans and integers;
//! * [`BackendConfig`]: netdata's `[backend]` section, with netdata's defaults and aliases;
//! * [`DaemonConfig`]: the daemon's whole file: `[backend]`, the instance sections
//!   `[TYPE:NAME]` ([`InstanceConfig`]) with their defaults in `[exporting:global]`,
//!   `[global]` ([`GlobalConfig`]) and `[backhaul]` ([`WebConfig`]).
//!
//! Every problem is a [`ConfigError`]: the 1-based line, the option (when there is one), the
//! offending value and a [`ConfigErrorKind`]. Its `Display` reads
//! `line N: OPTION: what is wrong`; the shell puts the file name in front.

use core::fmt;

use crate::destination;

mod backend;
mod daemon;
mod error;
mod global;
pub mod ini;
mod instance;
mod options;
pub mod value;

pub use backend::{BackendConfig, BackendType, DataSource};
pub use daemon::{DaemonConfig, Instances, MAX_INSTANCES};
pub use error::{DaemonErrorKind, WithFile};
pub use global::{GlobalConfig, LogLevel, WebConfig};
pub use instance::{HttpConfig, InstanceConfig, InstanceType, Secret, TlsConfig};
pub use options::parse_byte_size;

/// The result of reading configuration from a text that lives for `'a`.
pub type Result<'a, T> = core::result::Result<T, ConfigError<'a>>;

/// What is wrong with a configuration line or option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The line itself is malformed.
    Syntax(ini::ErrorKind),
    /// The section has no option of this name.
    UnknownOption {
        /// The known option with the closest name, if one is close.
        suggestion: Option<&'static str>,
    },
    /// The option (or an alias of it) is set twice in the section.
    Duplicate {
        /// The line that set it first.
        first_line: usize,
    },
    /// The value is not one of the boolean words.
    NotABoolean,
    /// The value is not an integer.
    NotANumber,
    /// The integer is outside the option's range.
    OutOfRange {
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// The value is empty, and the option needs one.
    EmptyValue,
    /// The value is not a backend type word.
    UnknownType,
    /// The value is not a data source word.
    UnknownDataSource,
    /// The destination list is bad.
    Destination(destination::Error),
    /// The value is not an AWS region name (the `destination` of `kinesis`).
    BadRegion,
    /// The value is not an HTTP request path.
    BadUrlPath,
    /// A problem in backhaul's own sections (see [`DaemonConfig`]).
    Daemon(DaemonErrorKind),
}

impl ConfigErrorKind {
    /// Whether the message quotes the offending value.
    const fn quotes_value(self) -> bool {
        if let Self::Daemon(kind) = self {
            return kind.quotes_value();
        }
        matches!(
            self,
            Self::NotABoolean
                | Self::NotANumber
                | Self::OutOfRange { .. }
                | Self::UnknownType
                | Self::UnknownDataSource
                | Self::BadRegion
                | Self::BadUrlPath
        )
    }
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Syntax(kind) => f.write_str(kind.as_str()),
            Self::UnknownOption { suggestion: None } => f.write_str("unknown option"),
            Self::UnknownOption {
                suggestion: Some(name),
            } => write!(f, "unknown option (did you mean \"{name}\"?)"),
            Self::Duplicate { first_line } => {
                write!(f, "set more than once (first on line {first_line})")
            }
            Self::NotABoolean => f.write_str(
                "is not a boolean (use yes, true, on, auto or on demand; or no, false or off)",
            ),
            Self::NotANumber => f.write_str(
                "is not a number (use decimal, 0x hexadecimal or 0-prefixed octal digits)",
            ),
            Self::OutOfRange { min, max } => write!(f, "is out of range (use {min} to {max})"),
            Self::EmptyValue => f.write_str("must not be empty"),
            Self::UnknownType => write!(f, "is not a backend type (use {})", BackendType::WORDS),
            Self::UnknownDataSource => {
                write!(f, "is not a data source (use {})", DataSource::WORDS)
            }
            Self::Destination(error) => f.write_str(error.kind().as_str()),
            Self::BadRegion => {
                f.write_str("is not an AWS region (use letters, digits and '-', like us-east-1)")
            }
            Self::BadUrlPath => f.write_str(
                "is not a URL path (it must start with '/' and hold only visible ASCII characters)",
            ),
            Self::Daemon(kind) => kind.fmt(f),
        }
    }
}

/// A configuration error: where, which option, and what is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfigError<'a> {
    line: usize,
    option: Option<&'a str>,
    value: Option<&'a str>,
    kind: ConfigErrorKind,
}

impl<'a> ConfigError<'a> {
    /// An error on 1-based `line`, about `option` and its `value` when there are some.
    #[must_use]
    pub const fn new(
        line: usize,
        option: Option<&'a str>,
        value: Option<&'a str>,
        kind: ConfigErrorKind,
    ) -> Self {
        Self {
            line,
            option,
            value,
            kind,
        }
    }

    /// The 1-based line number.
    #[must_use]
    pub const fn line(&self) -> usize {
        self.line
    }

    /// The option name as written, if the error is about an option.
    #[must_use]
    pub const fn option(&self) -> Option<&'a str> {
        self.option
    }

    /// The offending value as written, if the error is about a value.
    #[must_use]
    pub const fn value(&self) -> Option<&'a str> {
        self.value
    }

    /// What is wrong.
    #[must_use]
    pub const fn kind(&self) -> ConfigErrorKind {
        self.kind
    }
}

impl From<ini::Error> for ConfigError<'_> {
    fn from(error: ini::Error) -> Self {
        Self::new(error.line, None, None, ConfigErrorKind::Syntax(error.kind))
    }
}

impl fmt::Display for ConfigError<'_> {
    /// Writes `line N: OPTION: what is wrong`, quoting the offending value (or destination
    /// item) when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        if let Some(option) = self.option {
            write_visible(f, option)?;
            f.write_str(": ")?;
        }
        match (self.kind, self.value) {
            (ConfigErrorKind::Destination(error), Some(list))
                if error.kind() != destination::ErrorKind::EmptyList =>
            {
                write!(f, "{:?}: ", error.item(list))?;
            }
            (kind, Some(value)) if kind.quotes_value() => write!(f, "{value:?} ")?,
            _ => {}
        }
        write!(f, "{}", self.kind)
    }
}

impl core::error::Error for ConfigError<'_> {}

/// Writes `text` with its control characters escaped (`\u{1}`), so that an option name
/// read from a file cannot move the cursor or hide text on the terminal that shows it.
fn write_visible(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    use fmt::Write as _;
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            f.write_char(c)?;
        }
    }
    Ok(())
}

#[cfg(feature = "defmt")]
impl defmt::Format for ConfigError<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "line {=usize}: {=str}: {=str} {}",
            self.line,
            self.option.unwrap_or(""),
            self.value.unwrap_or(""),
            self.kind
        );
    }
}

/// The error for an option the section does not have, suggesting the closest of the
/// section's option `names`. Shared by every section with a fixed list of options, so that
/// the message is the same in all of them.
fn unknown_option<'a>(entry: ini::Entry<'a>, names: &[&'static str]) -> ConfigError<'a> {
    let suggestion = closest_match(entry.name, names);
    let kind = ConfigErrorKind::UnknownOption { suggestion };
    ConfigError::new(entry.line, Some(entry.name), None, kind)
}

/// Records in `slot` the line `entry` sets its option on, or refuses the entry if the
/// option was already set (`slot` is not 0). Aliases of an option share its slot.
fn check_duplicate<'a>(entry: ini::Entry<'a>, slot: Option<&mut usize>) -> Result<'a, ()> {
    if let Some(slot) = slot {
        if *slot != 0 {
            let kind = ConfigErrorKind::Duplicate { first_line: *slot };
            return Err(ConfigError::new(entry.line, Some(entry.name), None, kind));
        }
        *slot = entry.line;
    }
    Ok(())
}

/// The candidate closest to `name` (by edit distance, ignoring ASCII case), if it is close
/// enough to be a likely typo: at most 2 edits, or a third of the candidate's length.
///
/// Candidates longer than 32 bytes are skipped, which keeps the work on the stack.
///
/// # Examples
///
/// ```
/// use backhaul_core::config::closest_match;
///
/// let names = ["update every", "timeout ms", "prefix"];
/// assert_eq!(closest_match("update evry", &names), Some("update every"));
/// assert_eq!(closest_match("Timeout", &names), Some("timeout ms"));
/// assert_eq!(closest_match("colour", &names), None);
/// ```
#[must_use]
pub fn closest_match<'k>(name: &str, candidates: &[&'k str]) -> Option<&'k str> {
    const MAX: usize = 32;
    let mut best: Option<(usize, &'k str)> = None;
    for &candidate in candidates {
        let want = candidate.as_bytes();
        if want.len() > MAX {
            continue;
        }
        let limit = (want.len() / 3).max(2);
        if name.len().abs_diff(want.len()) > limit {
            continue;
        }
        // One row of the Levenshtein table, over the candidate's bytes.
        let mut buf = [0usize; MAX + 1];
        let Some(row) = buf.get_mut(..=want.len()) else {
            continue;
        };
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = j;
        }
        for (i, a) in name.bytes().enumerate() {
            let Some((first, rest)) = row.split_first_mut() else {
                break;
            };
            let mut diagonal = *first;
            *first = i + 1;
            let mut left = *first;
            for (cell, b) in rest.iter_mut().zip(want) {
                let up = *cell;
                let cost = usize::from(!a.eq_ignore_ascii_case(b));
                let here = (diagonal + cost).min(up + 1).min(left + 1);
                diagonal = up;
                *cell = here;
                left = here;
            }
        }
        let distance = row.last().copied().unwrap_or(usize::MAX);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::ToString;

    #[test]
    fn suggestions() {
        let names = [
            "update every",
            "timeout ms",
            "host tags",
            "opentsdb host tags",
        ];
        assert_eq!(closest_match("update every", &names), Some("update every"));
        assert_eq!(closest_match("Update Every", &names), Some("update every"));
        assert_eq!(closest_match("updateevery", &names), Some("update every"));
        assert_eq!(closest_match("host tag", &names), Some("host tags"));
        assert_eq!(
            closest_match("opentsdb host tag", &names),
            Some("opentsdb host tags")
        );
        assert_eq!(closest_match("x", &names), None);
        assert_eq!(closest_match("", &names), None);
        assert_eq!(closest_match("", &["ab"]), Some("ab"));
        assert_eq!(closest_match("anything", &[]), None);
        let long = "a".repeat(40);
        assert_eq!(closest_match(&long, &[long.as_str()]), None);
        assert_eq!(closest_match(&"x".repeat(100_000), &names), None);
    }

    #[test]
    fn display_without_option_or_value() {
        let e = ConfigError::from(ini::Error {
            line: 3,
            kind: ini::ErrorKind::EmptyName,
        });
        assert_eq!(e.to_string(), "line 3: option has no name before '='");
        assert_eq!((e.line(), e.option(), e.value()), (3, None, None));
        let e = ConfigError::new(4, Some("x"), Some("v"), ConfigErrorKind::EmptyValue);
        assert_eq!(e.to_string(), "line 4: x: must not be empty");
    }
}
