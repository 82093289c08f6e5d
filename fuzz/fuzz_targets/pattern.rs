//! Simple patterns: `SimplePattern::evaluate` on any pattern and string never panics and
//! gives the verdict of netdata's own algorithm (`backhaul_fuzz::pattern_reference`,
//! a transcription of simple_pattern.c that allocates a node chain per word).

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::pattern::{SimplePattern, Verdict};
use backhaul_fuzz::pattern_reference::Reference;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Bytes {
    /// Any bytes.
    Raw(Vec<u8>),
    /// Bytes from a small alphabet full of pattern syntax, so that words match often.
    Small(Vec<u8>),
}

const ALPHABET: &[u8] = b"ab*\\! \t.";

impl Bytes {
    fn get(&self) -> Vec<u8> {
        match self {
            Self::Raw(b) => b.clone(),
            Self::Small(b) => b
                .iter()
                .map(|&i| ALPHABET[usize::from(i) % ALPHABET.len()])
                .collect(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    pattern: Bytes,
    strings: Vec<Bytes>,
}

fuzz_target!(|input: Input| {
    let text = input.pattern.get();
    let pattern = SimplePattern::new(&text);
    let reference = Reference::new(&text);
    assert_eq!(pattern.is_empty(), reference.is_empty(), "{pattern:?}");
    let _ = format!("{pattern:?}");
    for s in input.strings.iter().take(16) {
        let s = s.get();
        let verdict = pattern.evaluate(&s);
        let want = match reference.evaluate(&s) {
            Some(true) => Verdict::Positive,
            Some(false) => Verdict::Negative,
            None => Verdict::Unmatched,
        };
        assert_eq!(
            verdict,
            want,
            "{pattern:?} on {:?}",
            s.escape_ascii().to_string()
        );
        assert_eq!(pattern.matches(&s), verdict.is_positive());
    }
});
