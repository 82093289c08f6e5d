//! netdata's *simple patterns*: the space-separated glob lists behind
//! `send hosts matching` and `send charts matching` (spec §6).
//!
//! A pattern is a list of words separated by ASCII whitespace (space, `\t`, `\r`, `\n`,
//! `\f`, `\v`). A word starting with `!` is negative. `\` makes the next byte literal,
//! so `\ ` puts a space inside a word and `\!x` is the positive word `!x`; a lone `\`
//! at the very end of the pattern is dropped. `*` is the only wildcard, and an escaped
//! `\*` is still one. Words are tried left to right and the first one that matches
//! decides: a positive word selects, a negative word rejects. A string no word matches,
//! and the empty string, are not selected.
//!
//! The matching of one word reproduces netdata's exactly, including its corners: only
//! one `*` is stripped at each end of a word, so `**b` matches the literal `*b` and not
//! `ab`, and a substring is found at its *first* occurrence without backtracking.
//!
//! # Design
//!
//! [`SimplePattern`] only borrows the pattern text and never allocates; there is no
//! compiled form and no length limit. Each call walks the text again:
//!
//! * Splitting into words only has to know which bytes are escaped, so a word is kept
//!   as its raw, still escaped, sub-slice of the pattern.
//! * After unescaping, every `*` of a word is a wildcard, and each of them comes from
//!   exactly one raw `*` byte (a `*` is never an escape character, and `\*` still yields
//!   a `*`). So the pieces of a word between stars are the raw pieces between raw `*`
//!   bytes, each unescaped on the fly, dropping a lone `\` at its end (that `\` escaped
//!   the following star, or ended the pattern).
//! * netdata compiles a word into a chain of nodes, each a run of literal `*`s followed
//!   by one piece, matched as a prefix, suffix, substring or whole string, with the rest
//!   of the word (starting at a `*`) as its child. The chain is walked in a loop, never
//!   by recursion, so a word with many stars cannot exhaust the stack.
//!
//! Matching a word against a string of length `n` costs at most `O(n · w)` byte
//! comparisons for a word of length `w` (the substring search is the naive one).
//! netdata decides once per host and chart and caches the result; callers should too.

use core::fmt;
use core::iter;

/// A simple pattern borrowed from its text.
///
/// Creating one costs nothing: the text is parsed each time it is used.
///
/// # Examples
///
/// ```
/// use backhaul_core::pattern::{SimplePattern, Verdict};
///
/// let charts = SimplePattern::new(b"!*child* *db*");
/// assert!(charts.matches(b"db-server"));
/// assert!(!charts.matches(b"child-db1"));
/// assert_eq!(charts.evaluate(b"child-db1"), Verdict::Negative);
/// assert_eq!(charts.evaluate(b"web"), Verdict::Unmatched);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SimplePattern<'a> {
    text: &'a [u8],
}

/// What a [`SimplePattern`] says about a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Verdict {
    /// The first word that matched is positive: the string is selected.
    Positive,
    /// The first word that matched is negative (`!word`): the string is rejected.
    Negative,
    /// No word matched (always the case for the empty string and for an empty pattern).
    Unmatched,
}

impl Verdict {
    /// Whether the string is selected, i.e. the verdict is [`Verdict::Positive`].
    #[must_use]
    pub const fn is_positive(self) -> bool {
        matches!(self, Self::Positive)
    }

    /// The verdict as `Some(true)` (positive word), `Some(false)` (negative word) or
    /// `None` (no word matched).
    #[must_use]
    pub const fn as_option(self) -> Option<bool> {
        match self {
            Self::Positive => Some(true),
            Self::Negative => Some(false),
            Self::Unmatched => None,
        }
    }
}

impl<'a> SimplePattern<'a> {
    /// Borrows `text` as a pattern. Any bytes are accepted; a NUL byte is an ordinary
    /// byte (netdata's patterns are C strings and never contain one).
    #[must_use]
    pub const fn new(text: &'a [u8]) -> Self {
        Self { text }
    }

    /// The pattern text, as given.
    #[must_use]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.text
    }

    /// Whether the pattern has no word at all: it is empty, all separators, or only
    /// lone `!`s and escapes that leave nothing.
    ///
    /// Such a pattern matches nothing, but callers give it a meaning of its own:
    /// an empty `send hosts matching` sends **all** hosts, while an empty
    /// `send charts matching` sends no chart (spec §5).
    ///
    /// # Examples
    ///
    /// ```
    /// use backhaul_core::pattern::SimplePattern;
    ///
    /// assert!(SimplePattern::new(b" \t ! ").is_empty());
    /// assert!(!SimplePattern::new(b"localhost *").is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words().next().is_none()
    }

    /// Tries the words left to right on `s`; the first one that matches decides.
    ///
    /// The empty string is always [`Verdict::Unmatched`], even for the pattern `*`.
    #[must_use]
    pub fn evaluate(&self, s: &[u8]) -> Verdict {
        if s.is_empty() {
            return Verdict::Unmatched;
        }
        match self.words().find(|word| word_matches(word.raw, s)) {
            Some(Word { negative: true, .. }) => Verdict::Negative,
            Some(Word {
                negative: false, ..
            }) => Verdict::Positive,
            None => Verdict::Unmatched,
        }
    }

    /// Whether `s` is selected: the first word that matches it is positive.
    ///
    /// # Examples
    ///
    /// ```
    /// use backhaul_core::pattern::SimplePattern;
    ///
    /// let p = SimplePattern::new(b"*foobar* !foo* !*bar *");
    /// assert!(p.matches(b"hello world"));
    /// assert!(p.matches(b"hello world foobar"));
    /// assert!(!p.matches(b"hello world bar"));
    /// assert!(!p.matches(b""));
    /// ```
    #[must_use]
    pub fn matches(&self, s: &[u8]) -> bool {
        self.evaluate(s).is_positive()
    }

    fn words(&self) -> Words<'a> {
        Words { rest: self.text }
    }
}

impl<'a> From<&'a [u8]> for SimplePattern<'a> {
    fn from(text: &'a [u8]) -> Self {
        Self::new(text)
    }
}

impl<'a> From<&'a str> for SimplePattern<'a> {
    fn from(text: &'a str) -> Self {
        Self::new(text.as_bytes())
    }
}

impl fmt::Debug for SimplePattern<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimplePattern(\"{}\")", self.text.escape_ascii())
    }
}

/// The word separators: C's `isspace` in the C locale.
const fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// Whether a raw (escaped) piece of text unescapes to nothing: it is empty or a lone `\`.
/// Two or more raw bytes always leave at least one.
fn unescapes_to_empty(raw: &[u8]) -> bool {
    matches!(raw, [] | [b'\\'])
}

/// One word of a pattern: its sign and its raw, still escaped, text (never empty once
/// unescaped).
#[derive(Debug, Clone, Copy)]
struct Word<'a> {
    negative: bool,
    raw: &'a [u8],
}

/// The words of a pattern text, left to right, empty ones skipped.
#[derive(Debug, Clone)]
struct Words<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Words<'a> {
    type Item = Word<'a>;

    fn next(&mut self) -> Option<Word<'a>> {
        loop {
            let start = self.rest.iter().position(|&b| !is_separator(b))?;
            let mut word = self.rest.get(start..).unwrap_or_default();
            let negative = word.first() == Some(&b'!');
            if negative {
                word = word.get(1..).unwrap_or_default();
            }
            let (raw, rest) = word
                .split_at_checked(raw_word_len(word))
                .unwrap_or((word, &[]));
            self.rest = rest;
            // A lone `!`, or a word that unescapes to nothing, is dropped.
            if !unescapes_to_empty(raw) {
                return Some(Word { negative, raw });
            }
        }
    }
}

/// The length of the raw word at the start of `text`: up to the first unescaped separator.
fn raw_word_len(text: &[u8]) -> usize {
    let mut len = 0usize;
    let mut bytes = text.iter();
    while let Some(&b) = bytes.next() {
        if b == b'\\' {
            // The escaped byte, if any, belongs to the word whatever it is.
            len += 1 + usize::from(bytes.next().is_some());
        } else if is_separator(b) {
            break;
        } else {
            len += 1;
        }
    }
    len
}

/// The bytes a raw piece of text stands for: `\` makes the next byte literal, and a lone
/// `\` at the end stands for nothing.
#[derive(Debug, Clone)]
struct Unescaped<'a> {
    raw: &'a [u8],
}

impl Iterator for Unescaped<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (b, rest) = match self.raw {
            [] | [b'\\'] => return None,
            [b'\\', b, rest @ ..] | [b, rest @ ..] => (*b, rest),
        };
        self.raw = rest;
        Some(b)
    }
}

/// How one node of a compiled word compares its text with the string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The string equals the text.
    Exact,
    /// The string starts with the text.
    Prefix,
    /// The string ends with the text.
    Suffix,
    /// The string contains the text (first occurrence).
    Substring,
}

/// One node of a compiled word: its text is `stars` literal `*`s followed by the
/// unescaped `piece`; `child` is the raw rest of the word, starting at a `*`.
#[derive(Debug, Clone, Copy)]
struct Node<'a> {
    mode: Mode,
    stars: usize,
    piece: &'a [u8],
    child: Option<&'a [u8]>,
}

impl<'a> Node<'a> {
    /// Compiles the first node of the raw word `word` (spec §6, "Compiling a word").
    ///
    /// With `m` leading stars and the first piece `p` that is not empty:
    /// `*^m p * rest` (rest not empty) is a node matching `*^(m-1) p` as a substring
    /// (or `p` as a prefix when `m == 0`) with child `* rest`; `*^m p *` is the same
    /// node without child; `*^m p` is a suffix `*^(m-1) p` (or exact `p`). A word of
    /// `k` stars only is a substring of `k - 2` stars (`k >= 2`), or for `*` an empty
    /// suffix; both match anything.
    fn parse(word: &'a [u8]) -> Self {
        let mut leading = 0usize;
        let mut offset = 0usize;
        for piece in word.split(|&b| b == b'*') {
            // The byte offset of the star that follows this piece, if there is one.
            let star = offset.saturating_add(piece.len());
            let Some(after) = word.get(star..).and_then(|w| w.get(1..)) else {
                // The last piece: no star follows, so no child.
                let (mode, stars) = match (unescapes_to_empty(piece), leading) {
                    (_, 0) => (Mode::Exact, 0),
                    (false, m) => (Mode::Suffix, m - 1),
                    (true, 1) => (Mode::Suffix, 0),
                    (true, k) => (Mode::Substring, k - 2),
                };
                return Self {
                    mode,
                    stars,
                    piece,
                    child: None,
                };
            };
            if unescapes_to_empty(piece) {
                leading += 1;
                offset = star.saturating_add(1);
                continue;
            }
            // The first star after the leading ones: the word is cut just after it, and
            // if anything follows, the rest starting at that star is the child.
            let child = if unescapes_to_empty(after) {
                None
            } else {
                word.get(star..)
            };
            let (mode, stars) = match leading {
                0 => (Mode::Prefix, 0),
                m => (Mode::Substring, m - 1),
            };
            return Self {
                mode,
                stars,
                piece,
                child,
            };
        }
        // `split` yields at least one piece, so this is not reached; an exact empty
        // text never matches a non-empty string.
        Self {
            mode: Mode::Exact,
            stars: 0,
            piece: &[],
            child: None,
        }
    }

    /// The node's text, unescaped.
    fn text(&self) -> impl Iterator<Item = u8> + 'a {
        iter::repeat_n(b'*', self.stars).chain(Unescaped { raw: self.piece })
    }

    /// The length of the node's text.
    fn len(&self) -> usize {
        self.stars
            .saturating_add(Unescaped { raw: self.piece }.count())
    }

    /// Whether `s` is exactly the node's text.
    fn text_eq(&self, s: &[u8]) -> bool {
        self.text().eq(s.iter().copied())
    }
}

/// Matches the raw word `word` against the whole of `s` (netdata's node chain, walked
/// iteratively: every child match is a tail call).
fn word_matches(word: &[u8], s: &[u8]) -> bool {
    let mut node = Node::parse(word);
    let mut s = s;
    loop {
        let t = node.len();
        if t > s.len() {
            return false;
        }
        let rest = match node.mode {
            Mode::Exact => return node.child.is_none() && node.text_eq(s),
            Mode::Suffix => {
                let tail = s.get(s.len() - t..).unwrap_or_default();
                return node.child.is_none() && node.text_eq(tail);
            }
            Mode::Prefix => {
                if !node.text_eq(s.get(..t).unwrap_or_default()) {
                    return false;
                }
                s.get(t..).unwrap_or_default()
            }
            Mode::Substring => {
                if t == 0 {
                    return true;
                }
                let found = (0..=s.len() - t)
                    .find(|&i| s.get(i..i + t).is_some_and(|window| node.text_eq(window)));
                match found {
                    Some(i) => s.get(i + t..).unwrap_or_default(),
                    None => return false,
                }
            }
        };
        match node.child {
            Some(child) => node = Node::parse(child),
            None => return true,
        }
        s = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::{Mode, Node, SimplePattern, Verdict};

    /// `case!(name: pattern, string => verdict)` checks one evaluation.
    macro_rules! cases {
        ($($name:ident: $pattern:expr, $string:expr => $verdict:ident;)*) => {
            $(
                #[test]
                fn $name() {
                    let p = SimplePattern::new($pattern);
                    assert_eq!(
                        p.evaluate($string),
                        Verdict::$verdict,
                        "{:?} on {:?}",
                        p,
                        $string.escape_ascii().to_string(),
                    );
                }
            )*
        };
    }

    extern crate std;
    use std::string::ToString;

    cases! {
        // Splitting, separators and negation.
        star_matches_anything: b"*", b"x" => Positive;
        empty_string_never: b"*", b"" => Unmatched;
        empty_pattern: b"", b"a" => Unmatched;
        all_separators: b" \t\r\n\x0b\x0c", b"a" => Unmatched;
        tab_separates: b"x\ty", b"y" => Positive;
        vt_separates: b"x\x0by", b"y" => Positive;
        ff_separates: b"x\x0cy", b"y" => Positive;
        cr_separates: b"x\ry", b"y" => Positive;
        negative_word: b"!a *", b"a" => Negative;
        negative_then_positive: b"!a *", b"b" => Positive;
        first_word_decides: b"* !a", b"a" => Positive;
        lone_bang_dropped: b"! a", b"a" => Positive;
        lone_bang_at_end: b"!", b"!" => Unmatched;
        double_bang: b"!!a", b"!a" => Negative;
        double_bang_not_a: b"!!a", b"a" => Unmatched;
        spec_hosts_child: b"!*child* *db*", b"child-db1" => Negative;
        spec_hosts_db: b"!*child* *db*", b"db-server" => Positive;
        spec_list_plain: b"*foobar* !foo* !*bar *", b"hello world" => Positive;
        spec_list_bar: b"*foobar* !foo* !*bar *", b"hello world bar" => Negative;
        spec_list_foobar: b"*foobar* !foo* !*bar *", b"hello world foobar" => Positive;
        // Escapes.
        escaped_bang: b"\\!x", b"!x" => Positive;
        escaped_bang_not_x: b"\\!x", b"x" => Unmatched;
        escaped_space: b"a\\ b", b"a b" => Positive;
        escaped_space_not_a: b"a\\ b", b"a" => Unmatched;
        escaped_backslash: b"a\\\\b", b"a\\b" => Positive;
        trailing_backslash_dropped: b"end\\", b"end" => Positive;
        trailing_backslash_not_kept: b"end\\", b"end\\" => Unmatched;
        lone_backslash_word: b"\\", b"\\" => Unmatched;
        escaped_star_is_wildcard: b"a\\*", b"abc" => Positive;
        escaped_star_mid: b"a\\*c", b"abc" => Positive;
        escaped_backslash_then_star: b"a\\\\*", b"a\\x" => Positive;
        escaped_backslash_then_star_no: b"a\\\\*", b"ax" => Unmatched;
        // Modes.
        exact: b"abc", b"abc" => Positive;
        exact_longer: b"abc", b"abcd" => Unmatched;
        prefix: b"ab*", b"abc" => Positive;
        prefix_equal: b"ab*", b"ab" => Positive;
        prefix_no: b"ab*", b"xab" => Unmatched;
        suffix: b"*bc", b"abc" => Positive;
        suffix_no: b"*bc", b"bca" => Unmatched;
        substring: b"*b*", b"abc" => Positive;
        substring_no: b"*b*", b"ac" => Unmatched;
        glob_a_b_c: b"a*b*c", b"aXbXc" => Positive;
        glob_abcabc: b"a*b*c", b"abcabc" => Positive;
        glob_no_c: b"a*b*c", b"abcab" => Unmatched;
        // Only one star stripped at each end; consecutive stars not collapsed.
        double_star_suffix_literal: b"**b", b"*b" => Positive;
        double_star_suffix_not_ab: b"**b", b"ab" => Unmatched;
        double_star_middle: b"a**b", b"a*b" => Positive;
        double_star_middle_not_ab: b"a**b", b"ab" => Unmatched;
        triple_stars: b"***a***", b"x**a*y" => Positive;
        triple_stars_not_xay: b"***a***", b"xay" => Unmatched;
        two_stars_anything: b"**", b"x" => Positive;
        three_stars_need_one: b"***", b"x" => Unmatched;
        three_stars_star: b"***", b"*" => Positive;
        // First occurrence, no backtracking.
        first_occurrence: b"*ab*cd", b"abXcd" => Positive;
        substring_then_suffix: b"*a*b", b"aab" => Positive;
    }

    #[test]
    fn compile_shapes() {
        /// (word, mode, stars, piece, child)
        type Shape = (
            &'static [u8],
            Mode,
            usize,
            &'static [u8],
            Option<&'static [u8]>,
        );
        let shapes: &[Shape] = &[
            (b"abc", Mode::Exact, 0, b"abc", None),
            (b"ab*", Mode::Prefix, 0, b"ab", None),
            (b"*ab", Mode::Suffix, 0, b"ab", None),
            (b"*ab*", Mode::Substring, 0, b"ab", None),
            (b"**b", Mode::Suffix, 1, b"b", None),
            (b"a**b", Mode::Prefix, 0, b"a", Some(b"**b")),
            (b"***a***", Mode::Substring, 2, b"a", Some(b"***")),
            (b"***", Mode::Substring, 1, b"", None),
            (b"*", Mode::Suffix, 0, b"", None),
            (b"a*b*c", Mode::Prefix, 0, b"a", Some(b"*b*c")),
            (b"*b*c", Mode::Substring, 0, b"b", Some(b"*c")),
            (b"a\\*b", Mode::Prefix, 0, b"a\\", Some(b"*b")),
        ];
        for &(word, mode, stars, piece, child) in shapes {
            let node = Node::parse(word);
            assert_eq!(node.mode, mode, "{word:?}");
            assert_eq!(node.stars, stars, "{word:?}");
            assert_eq!(node.piece, piece, "{word:?}");
            assert_eq!(node.child, child, "{word:?}");
        }
    }

    #[test]
    fn emptiness() {
        for text in [&b""[..], b" ", b"\t\n", b"!", b"! !", b"\\", b" !\\"] {
            assert!(SimplePattern::new(text).is_empty(), "{text:?}");
        }
        for text in [&b"a"[..], b"!a", b"*", b"\\ ", b"\\!"] {
            assert!(!SimplePattern::new(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn verdict_conversions() {
        assert_eq!(Verdict::Positive.as_option(), Some(true));
        assert_eq!(Verdict::Negative.as_option(), Some(false));
        assert_eq!(Verdict::Unmatched.as_option(), None);
        assert!(!Verdict::Negative.is_positive());
        let p: SimplePattern<'_> = "a*".into();
        assert!(p.matches(b"ab"));
        assert_eq!(std::format!("{p:?}"), "SimplePattern(\"a*\")");
    }

    #[test]
    fn many_stars_do_not_recurse() {
        // 100 000 stars separated by `a`: deep for a recursive matcher.
        let word: std::vec::Vec<u8> = b"a*".iter().copied().cycle().take(200_000).collect();
        let p = SimplePattern::new(&word);
        assert!(p.matches(&std::vec![b'a'; 100_000]));
        assert!(!p.matches(&std::vec![b'a'; 99_999]));
    }

    #[test]
    fn never_panics_on_short_byte_strings() {
        // Every pattern and string of up to 3 bytes over an alphabet of the special bytes.
        let alphabet = [b'a', b'*', b'\\', b'!', b' ', 0u8, 0xff];
        let mut all = std::vec![std::vec::Vec::new()];
        for len in 1..=3u32 {
            for mut n in 0..alphabet.len().pow(len) {
                let mut v = std::vec::Vec::new();
                for _ in 0..len {
                    v.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                all.push(v);
            }
        }
        for pattern in &all {
            let p = SimplePattern::new(pattern);
            let _ = p.is_empty();
            for s in &all {
                let _ = p.evaluate(s);
            }
        }
    }
}
