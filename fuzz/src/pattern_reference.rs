//! netdata's simple-pattern matcher (`libnetdata/simple_pattern/simple_pattern.c`),
//! transcribed as directly as Rust allows, to check backhaul's allocation-free
//! `SimplePattern` against: the words are unescaped into owned buffers, each word is
//! compiled into netdata's chain of nodes by the same recursion, and matched by the same
//! recursion. Strings are byte slices (a NUL is an ordinary byte, as in backhaul).

/// How a node compares its text with the string (netdata's `SIMPLE_PREFIX_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exact,
    Prefix,
    Suffix,
    Substring,
}

/// netdata's `struct simple_pattern`.
#[derive(Debug)]
struct Node {
    matched: Vec<u8>,
    mode: Mode,
    child: Option<Box<Node>>,
}

/// A compiled pattern: its words, in order, with their sign.
#[derive(Debug)]
pub struct Reference {
    words: Vec<(bool, Node)>,
}

/// `isspace()` in the C locale: netdata's default separators.
const fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// netdata's `parse_pattern()`: `s` is one unescaped word.
fn parse_pattern(s: &[u8]) -> Node {
    // Skip the asterisks in front, then find the next asterisk.
    let mut c = 0;
    while c < s.len() && s[c] == b'*' {
        c += 1;
    }
    while c < s.len() && s[c] != b'*' {
        c += 1;
    }
    // An asterisk in the middle: the rest, from it, is the child; this node keeps the
    // text up to and including it (`c[1] = '\0'`).
    let mut child = None;
    let mut s = s;
    if c < s.len() && c + 1 < s.len() {
        child = Some(Box::new(parse_pattern(&s[c..])));
        s = &s[..=c];
    }
    let len = s.len();
    let (mode, text): (Mode, &[u8]) = if len >= 2 && s[0] == b'*' && s[len - 1] == b'*' {
        (Mode::Substring, &s[1..len - 1])
    } else if len >= 1 && s[0] == b'*' {
        (Mode::Suffix, &s[1..])
    } else if len >= 1 && s[len - 1] == b'*' {
        (Mode::Prefix, &s[..len - 1])
    } else {
        (Mode::Exact, s)
    };
    Node {
        matched: text.to_vec(),
        mode,
        child,
    }
}

/// The first occurrence of `needle` in `hay` (`strstr`).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// netdata's `match_pattern()`.
fn match_pattern(m: &Node, s: &[u8]) -> bool {
    let mlen = m.matched.len();
    if mlen > s.len() {
        return false;
    }
    match m.mode {
        Mode::Substring => {
            if mlen == 0 {
                return true;
            }
            match find(s, &m.matched) {
                Some(at) => match &m.child {
                    None => true,
                    Some(child) => match_pattern(child, &s[at + mlen..]),
                },
                None => false,
            }
        }
        Mode::Prefix => {
            if s.starts_with(&m.matched) {
                match &m.child {
                    None => true,
                    Some(child) => match_pattern(child, &s[mlen..]),
                }
            } else {
                false
            }
        }
        Mode::Suffix => s.ends_with(&m.matched) && m.child.is_none(),
        Mode::Exact => s == m.matched.as_slice() && m.child.is_none(),
    }
}

impl Reference {
    /// netdata's `simple_pattern_create()` with the default separators.
    #[must_use]
    pub fn new(list: &[u8]) -> Self {
        let mut words = Vec::new();
        let mut s = 0;
        while s < list.len() {
            let mut buf = Vec::new();
            while s < list.len() && is_separator(list[s]) {
                s += 1;
            }
            let mut negative = false;
            if s < list.len() && list[s] == b'!' {
                negative = true;
                s += 1;
            }
            if s >= list.len() {
                break;
            }
            let mut escape = false;
            while s < list.len() {
                if list[s] == b'\\' && !escape {
                    escape = true;
                    s += 1;
                } else {
                    if is_separator(list[s]) && !escape {
                        s += 1;
                        break;
                    }
                    buf.push(list[s]);
                    s += 1;
                    escape = false;
                }
            }
            if buf.is_empty() {
                continue;
            }
            words.push((negative, parse_pattern(&buf)));
        }
        Self { words }
    }

    /// Whether the pattern has no word.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// netdata's `simple_pattern_matches()`, three-valued: `Some(true)` when the first
    /// word that matches is positive, `Some(false)` when it is negative, `None` when no
    /// word matches (always for the empty string).
    #[must_use]
    pub fn evaluate(&self, s: &[u8]) -> Option<bool> {
        if s.is_empty() {
            return None;
        }
        self.words
            .iter()
            .find(|(_, node)| match_pattern(node, s))
            .map(|(negative, _)| !negative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unescape(cell: &str) -> Vec<u8> {
        let b = cell.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' {
                if b[i + 1] == b'\\' {
                    out.push(b'\\');
                    i += 2;
                } else {
                    assert_eq!(b[i + 1], b'x');
                    out.push(u8::from_str_radix(&cell[i + 2..i + 4], 16).unwrap());
                    i += 4;
                }
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    /// The reference agrees with every row of netdata's own vectors.
    #[test]
    fn netdata_vectors() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/netdata/simple_pattern.tsv"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let mut rows = 0;
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split('\t').collect();
            let (pattern, string, want) = (unescape(cells[0]), unescape(cells[1]), cells[2]);
            let got = Reference::new(&pattern).evaluate(&string) == Some(true);
            assert_eq!(got, want == "1", "{line}");
            rows += 1;
        }
        assert!(rows > 1000);
    }

    #[test]
    fn corners() {
        let m = |p: &str, s: &str| Reference::new(p.as_bytes()).evaluate(s.as_bytes());
        assert_eq!(m("**b", "ab"), None);
        assert_eq!(m("**b", "a*b"), Some(true));
        assert_eq!(m("***", "a*b"), Some(true));
        assert_eq!(m("***", "ab"), None);
        assert_eq!(m("!a* *", "abc"), Some(false));
        assert_eq!(m("\\!a", "!a"), Some(true));
        assert_eq!(m("a\\ b", "a b"), Some(true));
        assert_eq!(m("*", ""), None);
        assert!(Reference::new(b" ! \\").is_empty());
    }
}
