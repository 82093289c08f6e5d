//! What can be wrong in backhaul's own sections, and the `FILE:LINE: option: what is wrong`
//! form of every configuration error.

use core::fmt;

use super::{ConfigError, InstanceType, MAX_INSTANCES};

/// What is wrong in backhaul's own sections (`[TYPE:NAME]`, `[exporting:global]`,
/// `[backhaul]`, and `[global]`'s options that backhaul reads), beyond the problems every
/// section shares. Carried by [`ConfigErrorKind::Daemon`](super::ConfigErrorKind::Daemon).
///
/// For the errors about a section header, the error's [`option`](ConfigError::option) is
/// the header as written (`[graphit:db]`) and its [`value`](ConfigError::value) the faulty
/// part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DaemonErrorKind {
    /// A section name close to one of backhaul's (`[backhual]`, `[exporting:globl]`).
    UnknownSection {
        /// The section meant, if one is close.
        suggestion: Option<&'static str>,
    },
    /// `[TYPE:NAME]` whose `TYPE` looks like an instance type but is not one.
    UnknownInstanceType {
        /// The type meant, if one is close.
        suggestion: Option<&'static str>,
    },
    /// The section is a bare type (`[graphite]`, `[opentsdb:http]`): the instance has no
    /// name.
    MissingInstanceName,
    /// The `NAME` of `[TYPE:NAME]` is empty or has a character other than ASCII letters,
    /// digits, `_`, `.` and `-`.
    BadInstanceName,
    /// Another instance already has this name.
    DuplicateInstance {
        /// The header line of that instance.
        first_line: usize,
    },
    /// There are more than [`MAX_INSTANCES`] instances.
    TooManyInstances,
    /// The value is not a byte size.
    BadSize,
    /// The option does not apply to the section's instance type.
    NotForType {
        /// The section's type.
        instance_type: InstanceType,
        /// The types it applies to, in words.
        applies_to: &'static str,
    },
    /// The option cannot be set together with another.
    Conflict {
        /// The other option.
        other: &'static str,
        /// The line the other option is set on.
        other_line: usize,
    },
    /// The option needs another one that is not set.
    Requires {
        /// The missing option.
        other: &'static str,
    },
    /// The value holds a control character.
    ControlCharacter,
    /// A user name holds `:`.
    ColonInUsername,
    /// The value is not a listen address.
    BadBindAddress,
    /// The value is not a log level word.
    UnknownLogLevel,
}

impl DaemonErrorKind {
    /// Whether the message quotes the offending value.
    pub(super) const fn quotes_value(self) -> bool {
        matches!(
            self,
            Self::UnknownInstanceType { .. }
                | Self::BadInstanceName
                | Self::DuplicateInstance { .. }
                | Self::BadSize
                | Self::BadBindAddress
                | Self::UnknownLogLevel
        )
    }
}

impl fmt::Display for DaemonErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnknownSection { suggestion: None } => f.write_str("unknown section"),
            Self::UnknownSection {
                suggestion: Some(name),
            } => write!(f, "unknown section (did you mean [{name}]?)"),
            Self::UnknownInstanceType { suggestion: None } => {
                write!(f, "is not an instance type (use {})", InstanceType::WORDS)
            }
            Self::UnknownInstanceType {
                suggestion: Some(word),
            } => write!(f, "is not an instance type (did you mean \"{word}\"?)"),
            Self::MissingInstanceName => f.write_str(
                "names a type but no instance (write [TYPE:NAME], like [json:http:db1])",
            ),
            Self::BadInstanceName => {
                f.write_str("is not an instance name (use ASCII letters, digits, '_', '.' and '-')")
            }
            Self::DuplicateInstance { first_line } => {
                write!(
                    f,
                    "is already the name of the instance on line {first_line}"
                )
            }
            Self::TooManyInstances => write!(
                f,
                "too many instances (at most {MAX_INSTANCES}, counting disabled ones and an \
                 enabled [backend])"
            ),
            Self::BadSize => f.write_str(
                "is not a byte size (use a decimal number of bytes, optionally followed by KiB, \
                 MiB or GiB, like 4 MiB)",
            ),
            Self::NotForType {
                instance_type,
                applies_to,
            } => write!(
                f,
                "does not apply to type {instance_type} (only to {applies_to})"
            ),
            Self::Conflict { other, other_line } => write!(
                f,
                "cannot be set together with \"{other}\" (set on line {other_line})"
            ),
            Self::Requires { other } => write!(f, "needs \"{other}\" to be set too"),
            Self::ControlCharacter => f.write_str("must not hold control characters"),
            Self::ColonInUsername => f.write_str("must not hold ':'"),
            Self::BadBindAddress => f.write_str(
                "is not a listen address (use IPv4:PORT, [IPv6]:PORT, an address alone for \
                 port 19999, or none)",
            ),
            Self::UnknownLogLevel => {
                f.write_str("is not a log level (use error, warn, info, debug or trace)")
            }
        }
    }
}

impl<'a> ConfigError<'a> {
    /// The error as `FILE:LINE: OPTION: what is wrong`, the form compilers use, for a
    /// configuration read from `file`.
    ///
    /// It is the [`Display`](fmt::Display) text with `line N: ` replaced by `FILE:N: `.
    ///
    /// # Examples
    ///
    /// ```
    /// use backhaul_core::config::DaemonConfig;
    ///
    /// let err = DaemonConfig::parse("[json:db]\nbuffer size = 4 MB\n").unwrap_err();
    /// assert_eq!(
    ///     err.display_with_file("/etc/backhaul.conf").to_string(),
    ///     "/etc/backhaul.conf:2: buffer size: \"4 MB\" is not a byte size (use a decimal \
    ///      number of bytes, optionally followed by KiB, MiB or GiB, like 4 MiB)"
    /// );
    /// ```
    #[must_use]
    pub const fn display_with_file<'e, 'f>(&'e self, file: &'f str) -> WithFile<'e, 'a, 'f> {
        WithFile { error: self, file }
    }
}

/// A [`ConfigError`] shown as `FILE:LINE: OPTION: what is wrong` (see
/// [`ConfigError::display_with_file`]).
#[derive(Debug, Clone, Copy)]
pub struct WithFile<'e, 'a, 'f> {
    error: &'e ConfigError<'a>,
    file: &'f str,
}

impl fmt::Display for WithFile<'_, '_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.error.line();
        write!(f, "{}:{line}: ", self.file)?;
        // The error's own text starts with `line N: `: write it without those bytes.
        let mut digits = 1;
        let mut rest = line / 10;
        while rest > 0 {
            digits += 1;
            rest /= 10;
        }
        let mut out = SkipPrefix {
            out: f,
            skip: "line ".len() + digits + ": ".len(),
        };
        fmt::write(&mut out, format_args!("{}", self.error))
    }
}

/// Writes to `out` all but the first `skip` bytes it is given (ASCII bytes, so never a part
/// of a character).
struct SkipPrefix<'f, 'o> {
    out: &'f mut fmt::Formatter<'o>,
    skip: usize,
}

impl fmt::Write for SkipPrefix<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.skip >= s.len() {
            self.skip -= s.len();
            return Ok(());
        }
        let rest = s.get(self.skip..).unwrap_or("");
        self.skip = 0;
        self.out.write_str(rest)
    }
}
