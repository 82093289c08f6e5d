//! The destination list grammar: which servers a backend connects to.
//!
//! A destination list is the value of the `destination` option: items separated by any run of
//! whitespace (space, `\t`, `\n`, `\v`, `\f`, `\r`) and/or commas. Each item is
//!
//! ```text
//! [PROTOCOL:]HOST[%INTERFACE][:PORT]
//! unix:PATH
//! ```
//!
//! * `PROTOCOL` is `tcp` (the default), `udp` or `unix`, in any letter case.
//! * `HOST` is a host name, an IPv4 address, or an address in brackets (`[2001:db8::1]`,
//!   `[::1]`). IPv6 addresses must be in brackets, because an unbracketed host ends at the
//!   first `:` or `%`.
//! * `%INTERFACE` names the network interface used as the IPv6 scope id. It goes after the
//!   closing bracket (`[fe80::1]%eth0:2003`); a scope written inside the brackets
//!   (`[fe80::1%eth0]`) is accepted too.
//! * `PORT` is a number from 1 to 65535 or a service name (`carbon`). When it is absent or
//!   empty, the item gets the default port the caller passes in ([`Port::Default`]).
//! * `unix:PATH` is a stream unix socket; the path runs to the end of the item, so
//!   `unix:/run/carbon.sock` works.
//!
//! [`Destinations`] walks a list and yields one [`Destination`] (or one [`Error`]) per item,
//! borrowing from the list, without allocating; [`validate`] checks a whole list.
//!
//! # Differences from netdata
//!
//! netdata ends an item at any `/` and silently skips the rest of it up to the next
//! separator; when that tail runs to the end of the option, netdata reads past the end of the
//! string (spec 8.14). backhaul never reads past the end of its input, and:
//!
//! * a `unix:` item runs to the next separator, so absolute paths work (netdata cut
//!   `unix:/run/x.sock` to `unix:` and failed to connect);
//! * in every other item a `/` is an error ([`ErrorKind::Slash`]). netdata's silent skip turns
//!   a typo such as `graphite:2003/tcp` or `host/24` into a connection to somewhere the user
//!   did not write; an error says so at start-up instead;
//! * every item is checked up front: a bad port, an unterminated `[`, an unbracketed IPv6
//!   address or an unknown protocol (`ssl:host:2003`) is an error with the item's position,
//!   where netdata only logs a failed connection at every iteration;
//! * an unbracketed host name may only have letters, digits, `-`, `.` and `_`, and brackets
//!   must hold an IP address (netdata hands any text to the resolver, so a typo such as
//!   `host;2003` only shows up as a failed lookup);
//! * port `0` is an error (nothing can be connected to it), and so is an item without a port
//!   when the caller has no default port (netdata connects to port 0 for remote write);
//! * protocol prefixes are matched in any letter case (`TCP:host` is `tcp:host`, where
//!   netdata would read `TCP` as a host name and `host` as a service).

use core::fmt;
use core::iter::FusedIterator;
use core::ops::Range;

/// The result of parsing a destination.
pub type Result<T> = core::result::Result<T, Error>;

/// The transport of one destination item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Protocol {
    /// A TCP stream (`tcp:`, or no prefix).
    Tcp,
    /// A UDP socket (`udp:`): every send is one datagram.
    Udp,
    /// A stream unix socket (`unix:PATH`).
    Unix,
}

impl Protocol {
    /// The protocol's prefix word, without the colon: `tcp`, `udp` or `unix`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Unix => "unix",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The port of a TCP or UDP destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Port<'a> {
    /// A port number written in the item (1 to 65535).
    Number(u16),
    /// A service name written in the item, to be resolved by the shell (`carbon`).
    Service(&'a str),
    /// No port (or an empty one) was written: the default port the caller passed in.
    Default(u16),
}

impl Port<'_> {
    /// The port number, unless it is a service name still to be resolved.
    ///
    /// # Examples
    ///
    /// ```
    /// use backhaul_core::destination::Port;
    ///
    /// assert_eq!(Port::Number(2003).number(), Some(2003));
    /// assert_eq!(Port::Default(4242).number(), Some(4242));
    /// assert_eq!(Port::Service("carbon").number(), None);
    /// ```
    #[must_use]
    pub const fn number(self) -> Option<u16> {
        match self {
            Self::Number(n) | Self::Default(n) => Some(n),
            Self::Service(_) => None,
        }
    }
}

impl fmt::Display for Port<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) | Self::Default(n) => write!(f, "{n}"),
            Self::Service(s) => f.write_str(s),
        }
    }
}

/// One parsed item of a destination list, borrowing from the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Destination<'a> {
    text: &'a str,
    offset: usize,
    protocol: Protocol,
    host: &'a str,
    interface: Option<&'a str>,
    port: Option<Port<'a>>,
}

impl<'a> Destination<'a> {
    /// The item exactly as written in the list.
    #[must_use]
    pub const fn as_str(&self) -> &'a str {
        self.text
    }

    /// The byte range of the item within the list.
    #[must_use]
    pub const fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.text.len()
    }

    /// The transport.
    #[must_use]
    pub const fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The host without brackets (`::1` for `[::1]:2003`), or the socket path of a `unix:`
    /// item.
    #[must_use]
    pub const fn host(&self) -> &'a str {
        self.host
    }

    /// The socket path of a `unix:` item; `None` for TCP and UDP.
    #[must_use]
    pub fn path(&self) -> Option<&'a str> {
        (self.protocol == Protocol::Unix).then_some(self.host)
    }

    /// The network interface (IPv6 scope id) written after `%`, if any.
    #[must_use]
    pub const fn interface(&self) -> Option<&'a str> {
        self.interface
    }

    /// The port; `None` for a `unix:` item, which has none.
    #[must_use]
    pub const fn port(&self) -> Option<Port<'a>> {
        self.port
    }
}

impl fmt::Display for Destination<'_> {
    /// Writes the item back exactly as it was written in the list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// What is wrong with a destination list or one of its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ErrorKind {
    /// The list holds no item at all (only separators, or nothing).
    EmptyList,
    /// The item starts with `WORD:` that is not `tcp:`, `udp:` or `unix:` (`ssl:host:2003`).
    UnknownProtocol,
    /// `unix:` is not followed by a path.
    EmptyPath,
    /// An IPv6 address is written without brackets (`::1`).
    UnbracketedIpv6,
    /// A `/` in an item other than `unix:PATH`.
    Slash,
    /// A `[` without its `]`.
    UnterminatedBracket,
    /// The text in brackets is not an IP address.
    BadAddress,
    /// Something other than `%INTERFACE` or `:PORT` follows the `]`.
    JunkAfterBracket,
    /// The host is empty (`:2003`, `[]`).
    EmptyHost,
    /// The host name has a character other than letters, digits, `-`, `.` and `_`.
    BadHost,
    /// `%` is not followed by an interface name.
    EmptyInterface,
    /// The interface name has a `[`, `]` or `%`.
    BadInterface,
    /// The interface is given both inside and after the brackets.
    DuplicateInterface,
    /// The port is `0`.
    PortZero,
    /// The port number is above 65535.
    PortOutOfRange,
    /// The port is neither a number nor a service name.
    BadPort,
    /// No port is written and the caller has no default port.
    MissingPort,
}

impl ErrorKind {
    /// A short description of the problem, without the item.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EmptyList => "the destination list is empty",
            Self::UnknownProtocol => "unknown protocol (use tcp:, udp: or unix:)",
            Self::EmptyPath => "unix: needs a socket path",
            Self::UnbracketedIpv6 => "an IPv6 address must be written in brackets, like [::1]:2003",
            Self::Slash => "'/' is only allowed in a unix: socket path",
            Self::UnterminatedBracket => "'[' has no closing ']'",
            Self::BadAddress => "brackets must hold an IP address, like [2001:db8::1]",
            Self::JunkAfterBracket => "only %INTERFACE or :PORT may follow ']'",
            Self::EmptyHost => "empty host",
            Self::BadHost => "a host name may only have letters, digits, '-', '.' and '_'",
            Self::EmptyInterface => "empty interface name after '%'",
            Self::BadInterface => "an interface name cannot have '[', ']' or '%'",
            Self::DuplicateInterface => "the interface is given twice",
            Self::PortZero => "port 0 cannot be connected to (use 1 to 65535)",
            Self::PortOutOfRange => "port number above 65535",
            Self::BadPort => {
                "the port is neither a number nor a service name (letters, digits and '-')"
            }
            Self::MissingPort => "no port given, and this backend type has no default port",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bad destination list: what is wrong, and which item (as a byte range of the list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Error {
    kind: ErrorKind,
    start: usize,
    end: usize,
}

impl Error {
    /// What is wrong.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte range of the bad item within the list (the whole list for
    /// [`ErrorKind::EmptyList`]).
    #[must_use]
    pub const fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The bad item, cut out of the list the error came from.
    ///
    /// Returns `""` if `list` is not that list and the range does not fit it.
    ///
    /// # Examples
    ///
    /// ```
    /// use backhaul_core::destination::{validate, ErrorKind};
    ///
    /// let list = "a:2003, b:99999";
    /// let err = validate(list, Some(2003)).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::PortOutOfRange);
    /// assert_eq!(err.item(list), "b:99999");
    /// ```
    #[must_use]
    pub fn item<'a>(&self, list: &'a str) -> &'a str {
        list.get(self.start..self.end).unwrap_or("")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::EmptyList => f.write_str(self.kind.as_str()),
            kind => write!(f, "{kind} (item at bytes {}..{})", self.start, self.end),
        }
    }
}

impl core::error::Error for Error {}

/// An iterator over the items of a destination list.
///
/// Each item yields a [`Destination`] or, if it is malformed, an [`Error`]; the iterator then
/// goes on with the next item, so the caller may skip bad items or stop at the first one.
/// An empty list yields nothing ([`validate`] reports it as [`ErrorKind::EmptyList`]).
///
/// # Examples
///
/// ```
/// use backhaul_core::destination::{Destinations, Port, Protocol};
///
/// let mut items = Destinations::new("[2001:db8::1]:2003, udp:statsd.local", Some(2003));
///
/// let first = items.next().unwrap().unwrap();
/// assert_eq!(first.protocol(), Protocol::Tcp);
/// assert_eq!(first.host(), "2001:db8::1");
/// assert_eq!(first.port(), Some(Port::Number(2003)));
///
/// let second = items.next().unwrap().unwrap();
/// assert_eq!(second.protocol(), Protocol::Udp);
/// assert_eq!(second.port(), Some(Port::Default(2003)));
/// assert_eq!(second.to_string(), "udp:statsd.local");
///
/// assert!(items.next().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Destinations<'a> {
    list: &'a str,
    pos: usize,
    default_port: Option<u16>,
}

impl<'a> Destinations<'a> {
    /// Walks `list`; items without a port get `default_port`.
    ///
    /// `None` (or `Some(0)`) means there is no default port: an item without a port is then
    /// an error ([`ErrorKind::MissingPort`]).
    #[must_use]
    pub const fn new(list: &'a str, default_port: Option<u16>) -> Self {
        Self {
            list,
            pos: 0,
            default_port,
        }
    }
}

impl<'a> Iterator for Destinations<'a> {
    type Item = Result<Destination<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.list.as_bytes();
        let rest = bytes.get(self.pos..)?;
        let start = self.pos + rest.iter().position(|&b| !is_separator(b))?;
        let len = bytes
            .get(start..)?
            .iter()
            .position(|&b| is_separator(b))
            .unwrap_or(bytes.len() - start);
        let end = start + len;
        self.pos = end;
        // Separators are ASCII, so `start` and `end` are on character boundaries.
        let text = self.list.get(start..end)?;
        Some(parse_item(text, start, self.default_port).map_err(|kind| Error { kind, start, end }))
    }
}

impl FusedIterator for Destinations<'_> {}

/// Checks a whole destination list and returns how many items it holds.
///
/// `default_port` is as for [`Destinations::new`].
///
/// # Errors
///
/// The first bad item, or [`ErrorKind::EmptyList`] if the list has no item.
///
/// # Examples
///
/// ```
/// use backhaul_core::destination::{validate, ErrorKind};
///
/// assert_eq!(validate("10.11.14.2:4242 10.11.14.3:4242", Some(4242)), Ok(2));
///
/// let err = validate(" , ", Some(4242)).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::EmptyList);
///
/// let err = validate("graphite:2003/tcp", Some(2003)).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Slash);
/// assert_eq!(err.range(), 0..17);
/// ```
pub fn validate(list: &str, default_port: Option<u16>) -> Result<usize> {
    let mut count = 0usize;
    for item in Destinations::new(list, default_port) {
        item?;
        count = count.saturating_add(1);
    }
    if count == 0 {
        return Err(Error {
            kind: ErrorKind::EmptyList,
            start: 0,
            end: list.len(),
        });
    }
    Ok(count)
}

/// Whether `b` separates items: C `isspace` or a comma.
const fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b',')
}

/// Parses one item (a non-empty run of non-separators) found at `offset` in the list.
fn parse_item(
    text: &str,
    offset: usize,
    default_port: Option<u16>,
) -> core::result::Result<Destination<'_>, ErrorKind> {
    let (protocol, rest) = split_protocol(text);
    let mut dest = Destination {
        text,
        offset,
        protocol,
        host: rest,
        interface: None,
        port: None,
    };
    if protocol == Protocol::Unix {
        return if rest.is_empty() {
            Err(ErrorKind::EmptyPath)
        } else {
            Ok(dest)
        };
    }
    if !rest.starts_with('[') {
        check_colons(rest)?;
    }
    if rest.contains('/') {
        return Err(ErrorKind::Slash);
    }

    let after = if let Some(inner) = rest.strip_prefix('[') {
        let (inside, after) = inner
            .split_once(']')
            .ok_or(ErrorKind::UnterminatedBracket)?;
        let (address, scope) = match inside.split_once('%') {
            Some((address, scope)) => (address, Some(scope)),
            None => (inside, None),
        };
        if address.is_empty() {
            return Err(ErrorKind::EmptyHost);
        }
        if !is_ip_literal(address) || scope.is_some_and(|s| s.contains(['[', ']'])) {
            return Err(ErrorKind::BadAddress);
        }
        if scope == Some("") {
            return Err(ErrorKind::EmptyInterface);
        }
        if scope.is_some_and(|s| s.contains('%')) {
            return Err(ErrorKind::BadInterface);
        }
        if !(after.is_empty() || after.starts_with([':', '%'])) {
            return Err(ErrorKind::JunkAfterBracket);
        }
        if scope.is_some() && after.starts_with('%') {
            return Err(ErrorKind::DuplicateInterface);
        }
        dest.host = address;
        dest.interface = scope;
        after
    } else {
        let (host, after) = match rest.find([':', '%']) {
            Some(at) => (rest.get(..at).unwrap_or(""), rest.get(at..).unwrap_or("")),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(ErrorKind::EmptyHost);
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(ErrorKind::BadHost);
        }
        dest.host = host;
        after
    };

    let after = match after.strip_prefix('%') {
        Some(scope) => {
            let (interface, after) = match scope.split_once(':') {
                Some((interface, port)) => (interface, Some(port)),
                None => (scope, None),
            };
            if interface.is_empty() {
                return Err(ErrorKind::EmptyInterface);
            }
            if interface.contains(['[', ']', '%']) {
                return Err(ErrorKind::BadInterface);
            }
            dest.interface = Some(interface);
            after
        }
        // `after` is empty or starts with ':' here.
        None => after.strip_prefix(':'),
    };
    dest.port = Some(parse_port(after.unwrap_or(""), default_port)?);
    Ok(dest)
}

/// Splits off a `tcp:`, `udp:` or `unix:` prefix (any letter case).
fn split_protocol(text: &str) -> (Protocol, &str) {
    if let Some((word, rest)) = text.split_once(':') {
        for protocol in [Protocol::Tcp, Protocol::Udp, Protocol::Unix] {
            if word.eq_ignore_ascii_case(protocol.as_str()) {
                return (protocol, rest);
            }
        }
    }
    (Protocol::Tcp, text)
}

/// Rejects an unbracketed item with more than one `:` before its `%`: an IPv6 address
/// without brackets, or a protocol word backhaul does not know.
fn check_colons(rest: &str) -> core::result::Result<(), ErrorKind> {
    let head = rest.split('%').next().unwrap_or(rest);
    let first = head.split(':').next().unwrap_or("");
    if head.bytes().filter(|&b| b == b':').count() >= 2
        && !first.contains('.')
        && head
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
    {
        return Err(ErrorKind::UnbracketedIpv6);
    }
    if let Some((word, tail)) = rest.split_once(':') {
        let scheme = word.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && word
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if scheme && (tail.contains(':') || tail.starts_with(['[', '/'])) {
            return Err(ErrorKind::UnknownProtocol);
        }
    }
    Ok(())
}

/// Whether the text in brackets looks like an IPv6 (or IPv4) address.
fn is_ip_literal(address: &str) -> bool {
    address.contains([':', '.'])
        && address
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
}

/// Parses the text after the port's `:` (empty when there is none).
fn parse_port(text: &str, default_port: Option<u16>) -> core::result::Result<Port<'_>, ErrorKind> {
    if text.is_empty() {
        return match default_port {
            Some(port) if port != 0 => Ok(Port::Default(port)),
            _ => Err(ErrorKind::MissingPort),
        };
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let mut n = 0u16;
        for b in text.bytes() {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u16::from(b - b'0')))
                .ok_or(ErrorKind::PortOutOfRange)?;
        }
        return if n == 0 {
            Err(ErrorKind::PortZero)
        } else {
            Ok(Port::Number(n))
        };
    }
    let service = text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && text.bytes().any(|b| b.is_ascii_alphabetic());
    if service {
        Ok(Port::Service(text))
    } else {
        Err(ErrorKind::BadPort)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn all(list: &str, default_port: Option<u16>) -> Vec<Result<Destination<'_>>> {
        Destinations::new(list, default_port).collect()
    }

    fn one(item: &str) -> Destination<'_> {
        let items = all(item, Some(2003));
        assert_eq!(items.len(), 1, "{item:?}");
        items[0].unwrap()
    }

    fn kind(item: &str) -> ErrorKind {
        let items = all(item, Some(2003));
        assert_eq!(items.len(), 1, "{item:?}");
        items[0].unwrap_err().kind()
    }

    /// `(item, protocol, host, interface, port)`
    macro_rules! good {
        ($($name:ident: $item:expr => $proto:ident, $host:expr, $iface:expr, $port:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    let d = one($item);
                    assert_eq!(d.protocol(), Protocol::$proto, "protocol");
                    assert_eq!(d.host(), $host, "host");
                    assert_eq!(d.interface(), $iface, "interface");
                    assert_eq!(d.port(), $port, "port");
                    assert_eq!(d.as_str(), $item);
                    assert_eq!(d.to_string(), $item);
                }
            )*
        };
    }

    good! {
        plain_host: "localhost" => Tcp, "localhost", None, Some(Port::Default(2003));
        ipv4_port: "10.11.14.2:4242" => Tcp, "10.11.14.2", None, Some(Port::Number(4242));
        ipv6_port: "[2001:db8::1]:2003" => Tcp, "2001:db8::1", None, Some(Port::Number(2003));
        ipv6_loopback: "[::1]" => Tcp, "::1", None, Some(Port::Default(2003));
        udp: "udp:statsd.local:2003" => Udp, "statsd.local", None, Some(Port::Number(2003));
        service: "tcp:graphite:carbon" => Tcp, "graphite", None, Some(Port::Service("carbon"));
        scope_after: "[fe80::1]%eth0:2003" => Tcp, "fe80::1", Some("eth0"), Some(Port::Number(2003));
        scope_inside: "[fe80::1%eth0]:2003" => Tcp, "fe80::1", Some("eth0"), Some(Port::Number(2003));
        scope_no_port: "[fe80::1]%eth0" => Tcp, "fe80::1", Some("eth0"), Some(Port::Default(2003));
        host_scope: "host%eth0:7" => Tcp, "host", Some("eth0"), Some(Port::Number(7));
        empty_port: "host:" => Tcp, "host", None, Some(Port::Default(2003));
        max_port: "host:65535" => Tcp, "host", None, Some(Port::Number(65535));
        leading_zeros: "host:0002003" => Tcp, "host", None, Some(Port::Number(2003));
        upper_proto: "UDP:host" => Udp, "host", None, Some(Port::Default(2003));
        bracket_v4: "[10.0.0.1]:9" => Tcp, "10.0.0.1", None, Some(Port::Number(9));
        unix_abs: "unix:/run/carbon.sock" => Unix, "/run/carbon.sock", None, None;
        unix_rel: "unix:carbon.sock" => Unix, "carbon.sock", None, None;
        unix_colon: "unix:/tmp/a:b" => Unix, "/tmp/a:b", None, None;
        underscore: "my_host-1.example:2003" => Tcp, "my_host-1.example", None, Some(Port::Number(2003));
    }

    #[test]
    fn unix_path_accessor() {
        assert_eq!(one("unix:/x").path(), Some("/x"));
        assert_eq!(one("x").path(), None);
    }

    #[test]
    fn spec_examples() {
        let hosts = |list, port| -> Vec<(&str, Option<u16>)> {
            all(list, Some(port))
                .into_iter()
                .map(|d| {
                    let d = d.unwrap();
                    (d.host(), d.port().and_then(Port::number))
                })
                .collect()
        };
        assert_eq!(
            hosts("10.11.14.2:4242 10.11.14.3:4242", 4242),
            [("10.11.14.2", Some(4242)), ("10.11.14.3", Some(4242))]
        );
        assert_eq!(
            hosts("[2001:db8::1]:2003 10.11.12.1:2003", 2003),
            [("2001:db8::1", Some(2003)), ("10.11.12.1", Some(2003))]
        );
        assert_eq!(
            hosts("a:2003,b:2003", 2003),
            [("a", Some(2003)), ("b", Some(2003))]
        );
        assert_eq!(hosts("localhost", 5448), [("localhost", Some(5448))]);
        assert_eq!(
            hosts("udp:statsd.local:2003", 1),
            [("statsd.local", Some(2003))]
        );
        assert_eq!(hosts("tcp:graphite:carbon", 1), [("graphite", None)]);
        assert_eq!(hosts("[fe80::1]%eth0:2003", 1), [("fe80::1", Some(2003))]);
    }

    #[test]
    fn separators_and_ranges() {
        let list = " \t,a:1,, \n\x0b\x0c\rb ,";
        let items = all(list, Some(9));
        assert_eq!(items.len(), 2);
        let (a, b) = (items[0].unwrap(), items[1].unwrap());
        assert_eq!((a.as_str(), a.range()), ("a:1", 3..6));
        assert_eq!((b.as_str(), b.range()), ("b", 13..14));
        assert_eq!(&list[b.range()], "b");
        assert_eq!(validate(list, Some(9)), Ok(2));
    }

    #[test]
    fn continues_after_a_bad_item() {
        let list = "a:0 b:1";
        let items = all(list, Some(9));
        let err = items[0].unwrap_err();
        assert_eq!(
            (err.kind(), err.range(), err.item(list)),
            (ErrorKind::PortZero, 0..3, "a:0")
        );
        assert_eq!(items[1].unwrap().host(), "b");
        let mut it = Destinations::new(list, Some(9));
        it.by_ref().for_each(drop);
        assert!(it.next().is_none());
    }

    #[test]
    fn empty_lists() {
        for list in ["", " ", ",", " ,\t,\n"] {
            assert!(all(list, Some(1)).is_empty());
            let err = validate(list, Some(1)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::EmptyList);
            assert_eq!(err.range(), 0..list.len());
        }
    }

    #[test]
    fn missing_port_without_default() {
        for default in [None, Some(0)] {
            let err = validate("localhost", default).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::MissingPort);
            assert_eq!(validate("localhost:9201", default), Ok(1));
            assert_eq!(validate("unix:/run/x", default), Ok(1));
        }
    }

    /// `(item, error kind)`
    macro_rules! bad {
        ($($name:ident: $item:expr => $kind:ident;)*) => {
            $(
                #[test]
                fn $name() {
                    assert_eq!(kind($item), ErrorKind::$kind, "{:?}", $item);
                }
            )*
        };
    }

    bad! {
        err_unknown_protocol: "ssl:host:2003" => UnknownProtocol;
        err_unknown_protocol_bracket: "sctp:[::1]:2003" => UnknownProtocol;
        err_url: "http://host:2003" => UnknownProtocol;
        err_empty_path: "unix:" => EmptyPath;
        err_unbracketed_v6: "fe80::1" => UnbracketedIpv6;
        err_unbracketed_v6_scope: "2001:db8::1%eth0:2003" => UnbracketedIpv6;
        err_unbracketed_loopback: "::1" => UnbracketedIpv6;
        err_slash_tail: "graphite:2003/tcp" => Slash;
        err_slash_host: "host/24" => Slash;
        err_slash_bracket: "[::1]/x" => Slash;
        err_unterminated: "[::1" => UnterminatedBracket;
        err_unterminated_port: "[::1:2003" => UnterminatedBracket;
        err_bad_address: "[localhost]:2003" => BadAddress;
        err_bad_address_digits: "[1234]" => BadAddress;
        err_junk_after_bracket: "[::1]x" => JunkAfterBracket;
        err_junk_after_bracket2: "[::1]]:2003" => JunkAfterBracket;
        err_empty_host_port: ":2003" => EmptyHost;
        err_empty_host_bracket: "[]:2003" => EmptyHost;
        err_empty_host_tcp: "tcp:" => EmptyHost;
        err_empty_host_scope: "%eth0" => EmptyHost;
        err_bad_host: "ho;st:2003" => BadHost;
        err_bad_host_bracket: "a]b" => BadHost;
        err_bad_host_unicode: "h\u{e9}te" => BadHost;
        err_empty_interface: "[fe80::1]%:2003" => EmptyInterface;
        err_empty_interface_end: "host%" => EmptyInterface;
        err_empty_interface_inside: "[fe80::1%]" => EmptyInterface;
        err_duplicate_interface: "[fe80::1%a]%b" => DuplicateInterface;
        err_bad_interface: "host%a%b:1" => BadInterface;
        err_bad_interface_bracket: "[fe80::1]%a]" => BadInterface;
        err_bad_interface_inside: "[fe80::1%eth%0]:2003" => BadInterface;
        err_port_zero: "host:0" => PortZero;
        err_port_zeros: "host:000" => PortZero;
        err_port_range: "host:65536" => PortOutOfRange;
        err_port_huge: "host:99999999999999999999999" => PortOutOfRange;
        err_bad_port: "host:20_03" => BadPort;
        err_bad_port_sign: "host:-1" => BadPort;
        err_bad_port_colon: "10.0.0.1:12:34" => BadPort;
    }

    #[test]
    fn error_display() {
        let list = "ok:1 [::1";
        let err = validate(list, Some(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'[' has no closing ']' (item at bytes 5..9)"
        );
        let err = validate("", Some(1)).unwrap_err();
        assert_eq!(err.to_string(), "the destination list is empty");
        assert_eq!(
            ErrorKind::PortZero.to_string(),
            "port 0 cannot be connected to (use 1 to 65535)"
        );
    }

    #[test]
    fn display_of_parts() {
        assert_eq!(Protocol::Unix.to_string(), "unix");
        assert_eq!(Port::Number(1).to_string(), "1");
        assert_eq!(Port::Default(2003).to_string(), "2003");
        assert_eq!(Port::Service("carbon").to_string(), "carbon");
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        let samples = [
            "[",
            "]",
            "%",
            ":",
            "[%",
            "[]%",
            "[:]",
            "[::1]%",
            "[::1]:",
            "unix",
            "udp:[",
            "\u{1f600}:1",
            "a\u{1f600}b",
            "[\u{1f600}]",
            "x%\u{1f600}",
            "x:\u{1f600}",
            "tcp:udp:x",
            "::",
            ":::::",
            "%%:",
            "[::1%[]",
            "a:b:c",
        ];
        for s in samples {
            for d in [None, Some(1)] {
                let _ = all(s, d);
                let _ = validate(s, d);
            }
        }
    }
}
