//! A line lexer for netdata.conf-style files.
//!
//! The grammar, one line at a time (lines end at `\n`; a `\r` before it is trimmed):
//!
//! * blank lines, and lines whose first non-blank byte is `#` or `;`, are skipped;
//! * `[NAME]` starts section `NAME` (the name inside the brackets is trimmed);
//! * `NAME = VALUE` sets an option of the current section: the line is split at its first
//!   `=`, and both sides are trimmed (so a value may hold `=`, `#` and `;`; there are no
//!   comments at the end of a line, as in netdata).
//!
//! Trimming removes the bytes C `isspace` accepts (space, `\t`, `\n`, `\v`, `\f`, `\r`). A
//! UTF-8 byte order mark at the start of the text is ignored.
//!
//! Unlike netdata, which skips lines it cannot read, every malformed line is an [`Error`]
//! carrying its 1-based line number: a line that is neither a section, an option nor a
//! comment, a `[` without its `]`, an empty section name, an option before the first
//! section, and an option without a name.
//!
//! [`Lexer`] yields every section header and option ([`Token`]); [`Entries`] yields only the
//! options, each with the section it belongs to. Both borrow from the text and go on after an
//! error, so a caller may report every bad line or stop at the first.
//!
//! # Examples
//!
//! ```
//! use backhaul_core::config::ini::Lexer;
//!
//! let text = "# netdata.conf\n[global]\n    hostname = box1\n[backend]\n    enabled = yes\n";
//! let mut entries = Lexer::new(text).entries();
//!
//! let entry = entries.next().unwrap().unwrap();
//! assert_eq!((entry.line, entry.section, entry.name, entry.value), (3, "global", "hostname", "box1"));
//!
//! let entry = entries.next().unwrap().unwrap();
//! assert_eq!((entry.line, entry.section, entry.name, entry.value), (5, "backend", "enabled", "yes"));
//!
//! assert!(entries.next().is_none());
//! ```

use core::fmt;
use core::iter::FusedIterator;

/// The result of lexing one line.
pub type Result<T> = core::result::Result<T, Error>;

/// One `NAME = VALUE` line, with the section it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Entry<'a> {
    /// The 1-based line number.
    pub line: usize,
    /// The name of the section the option is in (trimmed, without brackets).
    pub section: &'a str,
    /// The option name (trimmed, never empty).
    pub name: &'a str,
    /// The value (trimmed, possibly empty).
    pub value: &'a str,
}

/// One meaningful line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Token<'a> {
    /// A `[NAME]` section header.
    Section {
        /// The 1-based line number.
        line: usize,
        /// The section name (trimmed, never empty).
        name: &'a str,
    },
    /// A `NAME = VALUE` line.
    Entry(Entry<'a>),
}

/// What is wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ErrorKind {
    /// The line is not a section header, an option or a comment (it has no `=`).
    MissingEquals,
    /// A line starting with `[` does not end with `]`.
    UnterminatedSection,
    /// The line is `[]`.
    EmptySection,
    /// An option comes before the first section header.
    OutsideSection,
    /// Nothing comes before the `=`.
    EmptyName,
}

impl ErrorKind {
    /// A short description of the problem.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingEquals => {
                "expected \"name = value\", \"[section]\" or a comment starting with # or ;"
            }
            Self::UnterminatedSection => "section header has no closing ']'",
            Self::EmptySection => "empty section name",
            Self::OutsideSection => "option before the first [section] header",
            Self::EmptyName => "option has no name before '='",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A malformed line: its 1-based number and what is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Error {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl core::error::Error for Error {}

/// Trims the bytes C `isspace` accepts from both ends.
#[must_use]
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'))
}

/// An iterator over the section headers and options of a netdata.conf-style text.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    rest: Option<&'a str>,
    line: usize,
    section: Option<&'a str>,
}

impl<'a> Lexer<'a> {
    /// Lexes `text`.
    #[must_use]
    pub fn new(text: &'a str) -> Self {
        Self {
            rest: Some(text.strip_prefix('\u{feff}').unwrap_or(text)),
            line: 0,
            section: None,
        }
    }

    /// Only the options, each with its section.
    #[must_use]
    pub const fn entries(self) -> Entries<'a> {
        Entries { lexer: self }
    }

    /// Reads one line; `None` for blank and comment lines.
    fn lex_line(&mut self, raw: &'a str) -> Option<Result<Token<'a>>> {
        let line = self.line;
        let text = trim(raw);
        if text.is_empty() || text.starts_with(['#', ';']) {
            return None;
        }
        let error = |kind| Some(Err(Error { line, kind }));
        if let Some(inner) = text.strip_prefix('[') {
            let Some(name) = inner.strip_suffix(']') else {
                return error(ErrorKind::UnterminatedSection);
            };
            let name = trim(name);
            if name.is_empty() {
                return error(ErrorKind::EmptySection);
            }
            self.section = Some(name);
            return Some(Ok(Token::Section { line, name }));
        }
        let Some((name, value)) = text.split_once('=') else {
            return error(ErrorKind::MissingEquals);
        };
        let name = trim(name);
        if name.is_empty() {
            return error(ErrorKind::EmptyName);
        }
        let Some(section) = self.section else {
            return error(ErrorKind::OutsideSection);
        };
        Some(Ok(Token::Entry(Entry {
            line,
            section,
            name,
            value: trim(value),
        })))
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<Token<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let text = self.rest?;
            let (raw, rest) = match text.split_once('\n') {
                Some((raw, rest)) => (raw, Some(rest)),
                None if text.is_empty() => (text, None),
                None => (text, Some("")),
            };
            self.rest = rest;
            self.line = self.line.saturating_add(1);
            if let Some(token) = self.lex_line(raw) {
                return Some(token);
            }
        }
    }
}

impl FusedIterator for Lexer<'_> {}

/// An iterator over the options of a netdata.conf-style text (see [`Lexer::entries`]).
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    lexer: Lexer<'a>,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.lexer.find_map(|token| match token {
            Ok(Token::Section { .. }) => None,
            Ok(Token::Entry(entry)) => Some(Ok(entry)),
            Err(error) => Some(Err(error)),
        })
    }
}

impl FusedIterator for Entries<'_> {}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn tokens(text: &str) -> Vec<Result<Token<'_>>> {
        Lexer::new(text).collect()
    }

    fn entry<'a>(line: usize, section: &'a str, name: &'a str, value: &'a str) -> Token<'a> {
        Token::Entry(Entry {
            line,
            section,
            name,
            value,
        })
    }

    const SAMPLE: &str = "\u{feff}# comment\r\n\
        ; other comment\n\
        \n\
        [global]\n\
        \thostname = box = 1 \r\n\
        [ plugin:proc:/proc/stat ]\n\
        \x20 # indented comment\n\
        empty =\n\
        url = http://x/#frag;x\n\
        [backend]\n\
        send charts matching = !*child* *db*";

    #[test]
    fn lexes_sample() {
        assert_eq!(
            tokens(SAMPLE),
            [
                Ok(Token::Section {
                    line: 4,
                    name: "global"
                }),
                Ok(entry(5, "global", "hostname", "box = 1")),
                Ok(Token::Section {
                    line: 6,
                    name: "plugin:proc:/proc/stat"
                }),
                Ok(entry(8, "plugin:proc:/proc/stat", "empty", "")),
                Ok(entry(
                    9,
                    "plugin:proc:/proc/stat",
                    "url",
                    "http://x/#frag;x"
                )),
                Ok(Token::Section {
                    line: 10,
                    name: "backend"
                }),
                Ok(entry(
                    11,
                    "backend",
                    "send charts matching",
                    "!*child* *db*"
                )),
            ]
        );
    }

    #[test]
    fn entries_skip_sections() {
        let names: Vec<_> = Lexer::new(SAMPLE)
            .entries()
            .map(|e| e.unwrap().name)
            .collect();
        assert_eq!(names, ["hostname", "empty", "url", "send charts matching"]);
    }

    #[test]
    fn empty_texts() {
        for text in ["", "\n", "\n\n", "# x", "  \r\n\t"] {
            assert!(tokens(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn line_numbers_count_every_line() {
        let t = tokens("[a]\n\n\nx = 1\n");
        assert_eq!(t[1], Ok(entry(4, "a", "x", "1")));
        let t = tokens("[a]\r\n\r\nx=1");
        assert_eq!(t[1], Ok(entry(3, "a", "x", "1")));
    }

    macro_rules! bad {
        ($($name:ident: $text:expr => $line:expr, $kind:ident, $msg:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    let got: Vec<_> = tokens($text).into_iter().filter_map(|t| t.err()).collect();
                    let want = Error { line: $line, kind: ErrorKind::$kind };
                    assert_eq!(got, [want]);
                    assert_eq!(want.to_string(), $msg);
                }
            )*
        };
    }

    bad! {
        err_missing_equals: "[a]\nenabled yes\n" => 2, MissingEquals,
            "line 2: expected \"name = value\", \"[section]\" or a comment starting with # or ;";
        err_unterminated: "[backend" => 1, UnterminatedSection,
            "line 1: section header has no closing ']'";
        err_trailing_comment: "[backend] # x" => 1, UnterminatedSection,
            "line 1: section header has no closing ']'";
        err_empty_section: "\n[ ]" => 2, EmptySection, "line 2: empty section name";
        err_outside: "x = 1\n[a]" => 1, OutsideSection,
            "line 1: option before the first [section] header";
        err_empty_name: "[a]\n  = 1" => 2, EmptyName, "line 2: option has no name before '='";
    }

    #[test]
    fn goes_on_after_errors() {
        let t = tokens("[a]\nbad\nx = 1\n[b\ny = 2");
        assert_eq!(t.len(), 5);
        assert!(t[1].is_err() && t[3].is_err());
        assert_eq!(t[2], Ok(entry(3, "a", "x", "1")));
        // A broken header does not change the section.
        assert_eq!(t[4], Ok(entry(5, "a", "y", "2")));
        let mut lexer = Lexer::new("x");
        assert!(lexer.next().unwrap().is_err());
        assert!(lexer.next().is_none() && lexer.next().is_none());
    }

    #[test]
    fn trims_c_space_only() {
        assert_eq!(trim("\x0b\x0c a \t\r\n"), "a");
        assert_eq!(trim("\u{a0}a"), "\u{a0}a");
    }
}
