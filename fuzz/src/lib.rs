//! What the fuzz targets share: inputs built with `#[derive(Arbitrary)]` that reach the
//! corners of backhaul's formats (control bytes, quotes, escapes, fields longer than their
//! limits), the all-or-nothing check every formatter must pass, and independent reference
//! implementations (netdata's simple-pattern matcher, value printing) to compare with.
//!
//! The targets are in `fuzz_targets/`; `scripts/fuzz.sh` runs them all, and
//! `docs/reliability.md` says what each one checks.

use arbitrary::Arbitrary;
use backhaul_core::decimal::Decimal;
use backhaul_core::format::{BufferFull, ChartMeta, DimensionMeta, HostMeta, Record, Value};

pub mod conf;
pub mod pattern_reference;

/// Whether to check the rules that backhaul is known to break today (the open findings of
/// docs/reliability.md): set `FUZZ_KNOWN_FINDINGS=1`. Off by default, so that a run finds
/// new problems instead of the same ones again.
#[must_use]
pub fn known_findings() -> bool {
    std::env::var_os("FUZZ_KNOWN_FINDINGS").is_some_and(|v| v == "1")
}

// ---------------------------------------------------------------------------------------
// Text

/// Pieces of text that matter to some parser or formatter: separators, quotes, escapes,
/// JSON and config syntax, multi-byte and invisible characters.
pub const SPECIALS: &[&str] = &[
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "\"",
    "\\",
    ";",
    "=",
    ",",
    ":",
    "{",
    "}",
    "[",
    "]",
    "#",
    "!",
    "*",
    "%",
    "/",
    ".",
    "-",
    "_",
    "\0",
    "\u{7f}",
    "\u{1b}",
    "\u{b}",
    "\u{c}",
    "é",
    "€",
    "😀",
    "\u{2028}",
    "\u{feff}",
    "\u{85}",
    "\\u0000",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\\n",
    "null",
    "true",
    "false",
    "1e400",
    "-0",
    "0.5",
    "01",
    "\"k\":",
    "k=v",
    "a=\"b\"",
    "KiB",
    "MiB",
    "GiB",
    "0x",
    "localhost",
    "netdata",
    "yes",
    "no",
    "127.0.0.1",
    "[::1]",
    "unix:",
    "tcp:",
    "udp:",
    "2003",
    "65536",
    "0",
    "fe80::1",
    "%eth0",
    "__name__",
    "instance",
];

/// An arbitrary string, with a better chance than uniform characters of holding the bytes
/// that break records, and of being longer than a format's field limit.
#[derive(Arbitrary, Debug, Clone)]
pub enum Text {
    /// Any string.
    Plain(String),
    /// A concatenation of tokens.
    Pieces(Vec<Token>),
    /// One string repeated: long fields, cut at their limit (maybe inside a character).
    Repeat(String, u16),
    /// `depth` brackets or braces around a text: JSON nesting limits.
    Nested {
        /// How deep.
        depth: u8,
        /// Objects (`{"k":…}`) or arrays.
        objects: bool,
        /// What is inside.
        inner: String,
        /// Whether the brackets are closed.
        closed: bool,
    },
}

/// One token of [`Text::Pieces`].
#[derive(Arbitrary, Debug, Clone)]
pub enum Token {
    /// One of [`SPECIALS`] (index modulo its length).
    Special(u8),
    /// Any character.
    Char(char),
    /// An ASCII byte repeated.
    Run(u8, u16),
    /// A short plain word.
    Word(String),
}

/// The longest [`Text`] rendered, to keep executions fast.
pub const MAX_TEXT: usize = 8192;

impl Text {
    /// The string this input stands for (at most about [`MAX_TEXT`] bytes).
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        match self {
            Self::Plain(p) => s.push_str(p),
            Self::Pieces(tokens) => {
                for t in tokens {
                    if s.len() > MAX_TEXT {
                        break;
                    }
                    match t {
                        Token::Special(i) => s.push_str(SPECIALS[usize::from(*i) % SPECIALS.len()]),
                        Token::Char(c) => s.push(*c),
                        Token::Run(b, n) => {
                            let c = char::from(b & 0x7f);
                            s.extend(std::iter::repeat_n(c, usize::from(*n) % 2048));
                        }
                        Token::Word(w) => s.push_str(w),
                    }
                }
            }
            Self::Repeat(unit, n) => {
                if !unit.is_empty() {
                    let times = (usize::from(*n) % 2048).min(MAX_TEXT / unit.len() + 1);
                    s = unit.repeat(times);
                }
            }
            Self::Nested {
                depth,
                objects,
                inner,
                closed,
            } => {
                let depth = usize::from(*depth) % 80;
                for _ in 0..depth {
                    s.push_str(if *objects { "{\"k\":" } else { "[" });
                }
                s.push_str(inner);
                if *closed {
                    for _ in 0..depth {
                        s.push(if *objects { '}' } else { ']' });
                    }
                }
            }
        }
        if s.len() > MAX_TEXT + 2048 {
            let cut = backhaul_core::format::truncate(&s, MAX_TEXT).len();
            s.truncate(cut);
        }
        s
    }
}

// ---------------------------------------------------------------------------------------
// Records

/// A record's value.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FuzzValue {
    /// Any decimal, up to 39 digits.
    Stored(bool, u128),
    /// A decimal of ordinary size.
    StoredSmall(bool, u32),
    /// A collected integer.
    Collected(i64),
}

impl FuzzValue {
    /// The core's value.
    #[must_use]
    pub const fn value(self) -> Value {
        match self {
            Self::Stored(negative, units) => Value::Stored(Decimal::from_units(negative, units)),
            Self::StoredSmall(negative, units) => {
                Value::Stored(Decimal::from_units(negative, units as u128))
            }
            Self::Collected(n) => Value::Collected(n),
        }
    }
}

/// The text netdata prints for a value (`%0.7Lf` or `%lld`), computed independently of
/// the core's printer.
#[must_use]
pub fn value_text(value: Value) -> String {
    match value {
        Value::Collected(n) => n.to_string(),
        Value::Stored(d) => {
            let units = d.units();
            let sign = if d.is_sign_negative() { "-" } else { "" };
            format!("{sign}{}.{:07}", units / 10_000_000, units % 10_000_000)
        }
    }
}

/// An arbitrary record, owned.
#[derive(Arbitrary, Debug, Clone)]
pub struct FuzzRecord {
    /// Host prefix.
    pub prefix: Text,
    /// Host name.
    pub hostname: Text,
    /// Host tags.
    pub tags: Text,
    /// Chart id, name, family, context, type, units; dimension id and name.
    pub fields: [Text; 8],
    /// Names or ids.
    pub names: bool,
    /// The value.
    pub value: FuzzValue,
    /// The timestamp.
    pub timestamp: i64,
}

/// A [`FuzzRecord`] rendered to strings, from which [`Record`]s borrow.
#[derive(Debug, Clone)]
pub struct OwnedRecord {
    /// Prefix, hostname, tags.
    pub host: [String; 3],
    /// Chart id, name, family, context, type, units; dimension id and name.
    pub fields: [String; 8],
    /// Names or ids.
    pub names: bool,
    /// The value.
    pub value: Value,
    /// The timestamp.
    pub timestamp: i64,
}

impl FuzzRecord {
    /// Renders every text.
    #[must_use]
    pub fn render(&self) -> OwnedRecord {
        OwnedRecord {
            host: [
                self.prefix.render(),
                self.hostname.render(),
                self.tags.render(),
            ],
            fields: self.fields.clone().map(|t| t.render()),
            names: self.names,
            value: self.value.value(),
            timestamp: self.timestamp,
        }
    }
}

impl OwnedRecord {
    /// The core's record.
    #[must_use]
    pub fn record(&self) -> Record<'_> {
        let [prefix, hostname, tags] = &self.host;
        let [id, name, family, context, chart_type, units, dim_id, dim_name] = &self.fields;
        Record {
            host: HostMeta {
                prefix,
                hostname,
                tags,
            },
            chart: ChartMeta {
                id,
                name,
                family,
                context,
                chart_type,
                units,
            },
            dimension: DimensionMeta {
                id: dim_id,
                name: dim_name,
            },
            names: self.names,
            value: self.value,
            timestamp: self.timestamp,
        }
    }
}

// ---------------------------------------------------------------------------------------
// All-or-nothing writes

/// The size of the output buffer offered to a formatter, relative to the record's exact
/// length `len` and the format's declared maximum.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Room {
    /// Exactly the record.
    Exact,
    /// A few bytes short.
    Short(u8),
    /// A few bytes more.
    Long(u8),
    /// The declared maximum.
    Max,
    /// Nothing.
    Zero,
    /// Any size up to 64 KiB.
    Any(u16),
}

impl Room {
    /// The buffer size.
    #[must_use]
    pub fn size(self, len: usize, max: usize) -> usize {
        match self {
            Self::Exact => len,
            Self::Short(k) => len.saturating_sub(usize::from(k).max(1)),
            Self::Long(k) => len + usize::from(k),
            Self::Max => max,
            Self::Zero => 0,
            Self::Any(n) => usize::from(n),
        }
    }
}

/// Runs a formatter on a buffer of `room` filled with `fill`, and checks its contract:
/// the record's length is `len` and at most `max`; it is written whole at the start of
/// the buffer, nothing after it is touched, and when it does not fit the result is
/// [`BufferFull`] with the buffer untouched. Returns the record's bytes, if written.
///
/// # Panics
///
/// When the contract does not hold: that is the finding.
pub fn all_or_nothing(
    len: usize,
    max: usize,
    room: Room,
    fill: u8,
    write: impl FnOnce(&mut [u8]) -> Result<usize, BufferFull>,
) -> Option<Vec<u8>> {
    assert!(
        len <= max,
        "record of {len} bytes, longer than the maximum {max}"
    );
    let size = room.size(len, max);
    let mut buf = vec![fill; size];
    match write(&mut buf) {
        Ok(n) => {
            assert!(
                size >= len,
                "wrote {n} bytes into {size}, but the record has {len}"
            );
            assert_eq!(n, len, "written length differs from the measured one");
            assert!(
                buf[n..].iter().all(|&b| b == fill),
                "bytes after the record were touched"
            );
            buf.truncate(n);
            Some(buf)
        }
        Err(BufferFull) => {
            assert!(
                size < len,
                "BufferFull with {size} bytes for a record of {len}"
            );
            assert!(
                buf.iter().all(|&b| b == fill),
                "BufferFull, but the buffer was touched"
            );
            None
        }
    }
}

/// Checks that `bytes` is one line: it ends with `\n` and has no other `\n`.
///
/// # Panics
///
/// When it is not.
pub fn assert_one_line(bytes: &[u8]) {
    assert_eq!(
        bytes.last(),
        Some(&b'\n'),
        "the record does not end with a newline"
    );
    assert!(
        !bytes[..bytes.len() - 1].contains(&b'\n'),
        "the record holds more than one line: {:?}",
        String::from_utf8_lossy(bytes)
    );
}

/// Parses `bytes` as exactly one JSON value.
///
/// # Panics
///
/// When it is not valid JSON.
#[must_use]
pub fn parse_json(bytes: &[u8]) -> serde_json::Value {
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => panic!("invalid JSON ({e}): {:?}", String::from_utf8_lossy(bytes)),
    }
}

/// The byte maps of the line formats, written independently of the core's tables.
pub mod maps {
    /// ASCII control bytes (with DEL).
    #[must_use]
    pub const fn is_control(b: u8) -> bool {
        b < 0x20 || b == 0x7f
    }

    /// A field inside a metric path (graphite prefix and hostname, OpenTSDB prefix).
    #[must_use]
    pub const fn path(b: u8) -> u8 {
        if is_control(b) || b == b' ' || b == b';' {
            b'_'
        } else {
            b
        }
    }

    /// A field that must stay one word.
    #[must_use]
    pub const fn word(b: u8) -> u8 {
        if is_control(b) || b == b' ' {
            b'_'
        } else {
            b
        }
    }

    /// A field that must stay on its line.
    #[must_use]
    pub const fn line(b: u8) -> u8 {
        if is_control(b) {
            b'_'
        } else {
            b
        }
    }

    /// A chart or dimension name in graphite and OpenTSDB: `[A-Za-z0-9.]` kept, 200 bytes.
    #[must_use]
    pub fn backend_name(s: &str) -> Vec<u8> {
        s.bytes()
            .take(200)
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'.' {
                    b
                } else {
                    b'_'
                }
            })
            .collect()
    }

    /// `s` cut to `max` bytes at a character boundary, through `map`.
    #[must_use]
    pub fn mapped(s: &str, max: usize, map: fn(u8) -> u8) -> Vec<u8> {
        backhaul_core::format::truncate(s, max)
            .bytes()
            .map(map)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_texts() {
        assert_eq!(value_text(Value::Collected(-5)), "-5");
        assert_eq!(
            value_text(Value::Stored(Decimal::from_units(false, 23_362_763))),
            "2.3362763"
        );
        assert_eq!(
            value_text(Value::Stored(Decimal::from_units(true, 0))),
            "-0.0000000"
        );
        let mut buf = backhaul_core::format::ValueBuffer::new();
        let v = Value::Stored(Decimal::from_units(false, u128::MAX));
        assert_eq!(buf.format(v), value_text(v));
    }
}
