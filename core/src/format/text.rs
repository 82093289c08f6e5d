//! The text plumbing the line formats share: a measuring sink and a writing sink behind
//! one trait, so that each format describes its record once and gets both its exact
//! length and its bytes from the same description; byte maps for fields that must not
//! break a line; and JSON string escaping.

use super::BufferFull;
use crate::name::{sanitize_backend, sanitized_len, BACKEND_NAME_USABLE};

/// Where a record's bytes go: [`Measure`] only counts them, [`LineBuf`] writes them.
pub(super) trait Sink {
    /// Appends `bytes` as they are.
    fn raw(&mut self, bytes: &[u8]);
    /// Appends `src` with every byte passed through `map` (a one-to-one byte map, so
    /// the length is `src.len()`).
    fn mapped<F: Fn(u8) -> u8>(&mut self, src: &[u8], map: F);
    /// Appends `src` through the backend name sanitiser (spec §4.0), which also cuts it
    /// at [`BACKEND_NAME_USABLE`] bytes.
    fn sanitized(&mut self, src: &[u8]);
    /// Appends the body of a JSON string for `src` (no quotes), see [`escape_json`].
    fn json_escaped(&mut self, src: &[u8]);
}

/// A record, described once for both sinks.
pub(super) trait Emit {
    /// No record of this kind is longer (its format's documented worst case).
    const MAX_LEN: usize = usize::MAX;

    /// No record of this value is longer; [`MAX_LEN`](Self::MAX_LEN) unless a record
    /// knows a tighter bound.
    #[inline]
    fn max_len(&self) -> usize {
        Self::MAX_LEN
    }

    /// Sends every byte of the record to `sink`, in order.
    fn emit<S: Sink>(&self, sink: &mut S);
}

/// The exact length of `record`.
pub(super) fn measure<E: Emit>(record: &E) -> usize {
    let mut m = Measure(0);
    record.emit(&mut m);
    m.0
}

/// At least the length of `record`, computed without looking at the bytes of the fields
/// that JSON escaping can lengthen (counted at their longest). Equal to [`measure`] for a
/// record without such fields.
fn bound<E: Emit>(record: &E) -> usize {
    let mut b = Bound(0);
    record.emit(&mut b);
    b.0
}

/// Writes `record` at the start of `out` if it fits whole; otherwise leaves `out`
/// untouched and returns [`BufferFull`].
pub(super) fn write<E: Emit>(record: &E, out: &mut [u8]) -> Result<usize, BufferFull> {
    // When the record fits even at its longest, write it in one pass, without measuring
    // it first: the bytes are the same and the record fits, so the result is too.
    if out.len() >= record.max_len() || bound(record) <= out.len() {
        let mut line = LineBuf { out, pos: 0 };
        record.emit(&mut line);
        debug_assert_eq!(
            line.pos,
            measure(record),
            "measured and written lengths differ"
        );
        return Ok(line.pos);
    }
    let n = measure(record);
    let dst = out.get_mut(..n).ok_or(BufferFull)?;
    let mut line = LineBuf { out: dst, pos: 0 };
    record.emit(&mut line);
    debug_assert_eq!(line.pos, n, "measured and written lengths differ");
    Ok(n)
}

/// [`write`] for a record that seldom fits at its longest (a chart part): measured
/// first, then written.
pub(super) fn write_measured<E: Emit>(record: &E, out: &mut [u8]) -> Result<usize, BufferFull> {
    let n = measure(record);
    let dst = out.get_mut(..n).ok_or(BufferFull)?;
    let mut line = LineBuf { out: dst, pos: 0 };
    record.emit(&mut line);
    debug_assert_eq!(line.pos, n, "measured and written lengths differ");
    Ok(n)
}

/// Counts bytes.
#[derive(Debug)]
pub(super) struct Measure(usize);

impl Measure {
    fn add(&mut self, n: usize) {
        self.0 = self.0.saturating_add(n);
    }
}

impl Sink for Measure {
    fn raw(&mut self, bytes: &[u8]) {
        self.add(bytes.len());
    }
    fn mapped<F: Fn(u8) -> u8>(&mut self, src: &[u8], _map: F) {
        self.add(src.len());
    }
    fn sanitized(&mut self, src: &[u8]) {
        self.add(sanitized_len(src, BACKEND_NAME_USABLE));
    }
    fn json_escaped(&mut self, src: &[u8]) {
        let n = if is_plain_json(src) {
            src.len()
        } else {
            json_escaped_len(src)
        };
        self.add(n);
    }
}

/// Counts bytes like [`Measure`], except that a JSON-escaped field counts as six bytes
/// per byte (its longest escaped form), so that its bytes need not be read.
#[derive(Debug)]
struct Bound(usize);

impl Sink for Bound {
    fn raw(&mut self, bytes: &[u8]) {
        self.0 = self.0.saturating_add(bytes.len());
    }
    fn mapped<F: Fn(u8) -> u8>(&mut self, src: &[u8], _map: F) {
        self.0 = self.0.saturating_add(src.len());
    }
    fn sanitized(&mut self, src: &[u8]) {
        self.0 = self
            .0
            .saturating_add(sanitized_len(src, BACKEND_NAME_USABLE));
    }
    fn json_escaped(&mut self, src: &[u8]) {
        self.0 = self.0.saturating_add(src.len().saturating_mul(6));
    }
}

/// The line cursor: writes into a buffer that [`write()`] has already checked to be long
/// enough for the record. Should a write ever not fit, it is dropped rather than
/// panicking (the length check makes that unreachable).
#[derive(Debug)]
pub(super) struct LineBuf<'o> {
    out: &'o mut [u8],
    pos: usize,
}

impl LineBuf<'_> {
    fn rest(&mut self) -> &mut [u8] {
        self.out.get_mut(self.pos..).unwrap_or(&mut [])
    }

    /// The next `len` bytes of the buffer, if there are that many.
    fn next(&mut self, len: usize) -> Option<&mut [u8]> {
        self.out.get_mut(self.pos..self.pos.checked_add(len)?)
    }
}

impl Sink for LineBuf<'_> {
    #[inline]
    fn raw(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.next(bytes.len()) {
            copy_bytes(dst, bytes);
            self.pos += bytes.len();
        }
    }
    #[inline]
    fn mapped<F: Fn(u8) -> u8>(&mut self, src: &[u8], map: F) {
        if let Some(dst) = self.next(src.len()) {
            for (d, &b) in dst.iter_mut().zip(src) {
                *d = map(b);
            }
            self.pos += src.len();
        }
    }
    #[inline]
    fn sanitized(&mut self, src: &[u8]) {
        let n = sanitize_backend(src, BACKEND_NAME_USABLE, self.rest());
        self.pos += n;
    }
    #[inline(always)]
    fn json_escaped(&mut self, src: &[u8]) {
        // Most fields need no escape: they are copied as they are.
        if let Some(dst) = self.next(src.len()) {
            if copy_if_plain_json(dst, src) {
                self.pos += src.len();
                return;
            }
        }
        self.json_escaped_slowly(src);
    }
}

impl LineBuf<'_> {
    /// [`Sink::json_escaped`] for a field with bytes to escape, or that does not fit.
    #[cold]
    #[inline(never)]
    fn json_escaped_slowly(&mut self, src: &[u8]) {
        let n = escape_json(src, self.rest());
        self.pos += n;
    }
}

/// A buffer cut to the exact length of a record, filled piece by piece: what the
/// prepared (per-chart) paths write with once they have computed that length.
#[derive(Debug)]
pub(super) struct Pieces<'o> {
    rest: &'o mut [u8],
}

impl<'o> Pieces<'o> {
    /// The first `len` bytes of `out`, or [`BufferFull`] if it is shorter.
    #[inline(always)]
    pub(super) fn new(out: &'o mut [u8], len: usize) -> Result<Self, BufferFull> {
        Ok(Self {
            rest: out.get_mut(..len).ok_or(BufferFull)?,
        })
    }

    /// The next `n` bytes (all that is left if fewer: the length was computed wrong,
    /// which the tests rule out).
    #[inline(always)]
    fn next(&mut self, n: usize) -> &'o mut [u8] {
        let rest = core::mem::take(&mut self.rest);
        let n = n.min(rest.len());
        let (dst, rest) = rest.split_at_mut(n);
        self.rest = rest;
        dst
    }

    /// Appends `src`.
    #[inline(always)]
    pub(super) fn put(&mut self, src: &[u8]) {
        copy_bytes(self.next(src.len()), src);
    }

    /// Appends `src`, which is often 65 to 128 bytes long (a remote-write chart part's
    /// head of labels): those are copied as two overlapping 64-byte pieces instead of a
    /// call to `memcpy`. (Not in [`copy_bytes`], whose other callers would pay for the
    /// extra case.)
    #[inline(always)]
    pub(super) fn put_long(&mut self, src: &[u8]) {
        let dst = self.next(src.len());
        let n = src.len().min(dst.len());
        if (65..=128).contains(&n) {
            copy_chunk::<64>(dst, src, 0);
            copy_chunk::<64>(dst, src, n - 64);
        } else {
            copy_bytes(dst, src);
        }
    }

    /// Appends one byte.
    #[inline(always)]
    pub(super) fn byte(&mut self, b: u8) {
        if let Some(slot) = self.next(1).first_mut() {
            *slot = b;
        }
    }

    /// Appends `src`, already cut to its limit, through the byte map `table`.
    #[inline(always)]
    pub(super) fn mapped(&mut self, src: &[u8], table: &[u8; 256]) {
        for (d, &b) in self.next(src.len()).iter_mut().zip(src) {
            *d = table[usize::from(b)];
        }
    }
}

/// Whether no byte of `src` needs a JSON escape; eight bytes are checked at a time.
#[inline(always)]
pub(super) fn is_plain_json(src: &[u8]) -> bool {
    let n = src.len();
    if n < 8 {
        // Every byte in one word, some of them twice (which changes nothing): no copy of
        // a variable length, which would be a call to `memcpy`.
        let word = match (
            load::<4>(src, 0),
            n.checked_sub(4).and_then(|at| load::<4>(src, at)),
        ) {
            (Some(low), Some(high)) => {
                u64::from(u32::from_le_bytes(low)) | u64::from(u32::from_le_bytes(high)) << 32
            }
            _ => match src {
                [] => return true,
                [a, .., b] | [a @ b] => {
                    let middle = src.get(n / 2).copied().unwrap_or(*a);
                    u64::from_le_bytes([*a, *b, middle, 0x20, 0x20, 0x20, 0x20, 0x20])
                }
            },
        };
        return json_special_bytes(word) == 0;
    }
    let mut at = 0;
    loop {
        let Some(word) = load::<8>(src, at) else {
            return false;
        };
        if json_special_bytes(u64::from_le_bytes(word)) != 0 {
            return false;
        }
        if at + 8 >= n {
            return true;
        }
        at = (at + 8).min(n - 8);
    }
}

/// Copies `src` into `dst` (of the same length). Short copies, the usual case in a
/// record, are two overlapping loads and stores instead of a call to `memcpy`.
#[inline]
pub(super) fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    if (33..=64).contains(&n) {
        copy_chunk::<32>(dst, src, 0);
        copy_chunk::<32>(dst, src, n - 32);
    } else if (17..=32).contains(&n) {
        copy_chunk::<16>(dst, src, 0);
        copy_chunk::<16>(dst, src, n - 16);
    } else if (8..=16).contains(&n) {
        copy_chunk::<8>(dst, src, 0);
        copy_chunk::<8>(dst, src, n - 8);
    } else if (4..8).contains(&n) {
        copy_chunk::<4>(dst, src, 0);
        copy_chunk::<4>(dst, src, n - 4);
    } else if (2..4).contains(&n) {
        // Not a byte loop: the compiler turns one into a call to `memcpy`.
        copy_chunk::<2>(dst, src, 0);
        copy_chunk::<2>(dst, src, n - 2);
    } else if n == 1 {
        if let (Some(d), Some(&b)) = (dst.first_mut(), src.first()) {
            *d = b;
        }
    } else if let (Some(dst), Some(src)) = (dst.get_mut(..n), src.get(..n)) {
        dst.copy_from_slice(src);
    }
}

/// Copies the `N` bytes at `at` from `src` to `dst`, if both have them.
#[inline]
fn copy_chunk<const N: usize>(dst: &mut [u8], src: &[u8], at: usize) {
    if let (Some(d), Some(s)) = (dst.get_mut(at..at + N), src.get(at..at + N)) {
        d.copy_from_slice(s);
    }
}

/// `0x01` in every byte.
const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Non-zero if and only if a byte of `x` must be escaped in a JSON string: below 0x20,
/// `"` or `\`. (Each test is exact as a whole: a borrow can only mark a byte above one
/// that is itself marked.)
#[inline]
const fn json_special_bytes(x: u64) -> u64 {
    let below_space = x.wrapping_sub(ONES * 0x20) & !x;
    let quote = x ^ (ONES * b'"' as u64);
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = x ^ (ONES * b'\\' as u64);
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | quote | backslash) & HIGHS
}

/// The `N` bytes of `src` at `at` as a little-endian word, if there are that many.
#[inline]
fn load<const N: usize>(src: &[u8], at: usize) -> Option<[u8; N]> {
    src.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Copies `src` into `dst` (of the same length) and returns `true` if no byte of it needs
/// a JSON escape; otherwise returns `false`, with `dst` possibly written in part. Eight
/// bytes are checked and copied at a time.
#[inline(always)]
fn copy_if_plain_json(dst: &mut [u8], src: &[u8]) -> bool {
    let n = src.len();
    if n < 4 {
        if src.iter().any(|&b| JSON_SPECIAL[usize::from(b)]) {
            return false;
        }
        copy_bytes(dst, src);
        return true;
    }
    if n < 8 {
        // Two overlapping halves, checked as one word.
        let (Some(a), Some(b)) = (load::<4>(src, 0), load::<4>(src, n - 4)) else {
            return false;
        };
        let x = u64::from(u32::from_le_bytes(a)) | u64::from(u32::from_le_bytes(b)) << 32;
        if json_special_bytes(x) != 0 {
            return false;
        }
        copy_chunk::<4>(dst, src, 0);
        copy_chunk::<4>(dst, src, n - 4);
        return true;
    }
    // Words at 0, 8, 16, … and a last one ending at `n` (overlapping the one before).
    let mut at = 0;
    loop {
        let Some(word) = load::<8>(src, at) else {
            return false;
        };
        if json_special_bytes(u64::from_le_bytes(word)) != 0 {
            return false;
        }
        if let Some(d) = dst.get_mut(at..at + 8) {
            d.copy_from_slice(&word);
        }
        if at + 8 >= n {
            return true;
        }
        at = (at + 8).min(n - 8);
    }
}

/// Whether `b` is an ASCII control byte (`0x00..=0x1f` or DEL).
const fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// A byte map as a table, one load per byte: `byte_table!(rule)[b]` is `rule(b)`.
macro_rules! byte_table {
    ($rule:ident) => {{
        let mut table = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            table[i] = $rule(i as u8);
            i += 1;
        }
        table
    }};
}

const fn path_rule(b: u8) -> u8 {
    if is_control(b) || b == b' ' || b == b';' {
        b'_'
    } else {
        b
    }
}

const fn word_rule(b: u8) -> u8 {
    if is_control(b) || b == b' ' {
        b'_'
    } else {
        b
    }
}

const fn line_rule(b: u8) -> u8 {
    if is_control(b) {
        b'_'
    } else {
        b
    }
}

const PATH_TABLE: [u8; 256] = byte_table!(path_rule);
const WORD_TABLE: [u8; 256] = byte_table!(word_rule);
const LINE_TABLE: [u8; 256] = byte_table!(line_rule);

/// For a field that sits inside a graphite metric path or an OpenTSDB metric name
/// (prefix, graphite hostname): control bytes, space and `;` (graphite's tag start)
/// become `_`.
pub(super) const fn path_byte(b: u8) -> u8 {
    PATH_TABLE[b as usize]
}

/// For a field that must stay one space-separated word (graphite tags, OpenTSDB
/// hostname): control bytes (tab, newline, carriage return among them) and space
/// become `_`.
pub(super) const fn word_byte(b: u8) -> u8 {
    WORD_TABLE[b as usize]
}

/// For a field that may hold several words but must stay on its line (OpenTSDB tags):
/// control bytes become `_`, spaces stay.
pub(super) const fn line_byte(b: u8) -> u8 {
    LINE_TABLE[b as usize]
}

/// The escape of `b` inside a JSON string: `None` if it stands for itself, else the
/// short escape letter (`\n` → `n`) or `0` for a `\u00XX` escape.
const fn json_escape(b: u8) -> Option<u8> {
    match b {
        b'"' => Some(b'"'),
        b'\\' => Some(b'\\'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        b'\t' => Some(b't'),
        0x08 => Some(b'b'),
        0x0c => Some(b'f'),
        0x00..=0x1f => Some(0),
        _ => None,
    }
}

/// The length of each byte's escaped form (see [`escape_json`]): 1, 2 or 6.
const JSON_ESCAPED_LEN: [u8; 256] = {
    let mut table = [1u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match json_escape(i as u8) {
            None => 1,
            Some(0) => 6,
            Some(_) => 2,
        };
        i += 1;
    }
    table
};

/// Whether a byte is escaped inside a JSON string.
const JSON_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = json_escape(i as u8).is_some();
        i += 1;
    }
    table
};

/// The length of the escaped form of `src` (see [`escape_json`]).
pub(super) fn json_escaped_len(src: &[u8]) -> usize {
    src.iter().fold(0usize, |n, &b| {
        n.saturating_add(usize::from(JSON_ESCAPED_LEN[usize::from(b)]))
    })
}

/// Writes the body of a JSON string holding `src`: `"` and `\` are escaped, control bytes
/// below 0x20 become `\n`, `\r`, `\t`, `\b`, `\f` or `\u00xx` (lowercase hex, as
/// `serde_json` writes them), and every other byte (DEL and UTF-8 included) is copied.
/// Returns the number of bytes written; stops before the first byte or escape that
/// does not fit `out`.
pub(super) fn escape_json(src: &[u8], out: &mut [u8]) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pos = 0;
    let mut run = 0; // start of the pending run of bytes that stand for themselves
    for (i, &b) in src.iter().enumerate() {
        let Some(letter) = json_escape(b) else {
            continue;
        };
        let plain = src.get(run..i).unwrap_or(&[]);
        let hex = [
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ];
        let short = [b'\\', letter];
        let escape: &[u8] = if letter == 0 { &hex } else { &short };
        if !put(out, &mut pos, plain) || !put(out, &mut pos, escape) {
            return pos;
        }
        run = i + 1;
    }
    put(out, &mut pos, src.get(run..).unwrap_or(&[]));
    pos
}

/// Copies `bytes` to `out[*pos..]` and advances `pos` if they fit whole; else copies
/// what fits of them and returns `false`.
fn put(out: &mut [u8], pos: &mut usize, bytes: &[u8]) -> bool {
    let rest = out.get_mut(*pos..).unwrap_or(&mut []);
    match rest.get_mut(..bytes.len()) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            *pos += bytes.len();
            true
        }
        None => {
            // Copy what fits, but never part of an escape.
            if bytes.first() != Some(&b'\\') {
                let n = rest.len();
                rest.copy_from_slice(bytes.get(..n).unwrap_or(&[]));
                *pos += n;
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    fn escaped(s: &str) -> String {
        let mut out = vec![0u8; json_escaped_len(s.as_bytes())];
        let n = escape_json(s.as_bytes(), &mut out);
        assert_eq!(n, out.len());
        String::from_utf8(out).unwrap()
    }

    macro_rules! escapes {
        ($($name:ident: $input:expr => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(escaped($input), $want);
                // serde_json writes the same body between its quotes.
                let serde = serde_json::to_string($input).unwrap();
                assert_eq!(serde[1..serde.len() - 1], *$want);
            }
        )*};
    }

    escapes! {
        plain: "netdata.system.cpu" => "netdata.system.cpu";
        empty: "" => "";
        quote_and_backslash: r#"a"b\c"# => r#"a\"b\\c"#;
        short_escapes: "\n\r\t\u{8}\u{c}" => r"\n\r\t\b\f";
        other_controls: "\u{0}x\u{1f}" => r"\u0000x\u001f";
        del_and_utf8_stay: "\u{7f}é\u{2028}" => "\u{7f}é\u{2028}";
        only_escapes: "\"\"" => r#"\"\""#;
    }

    #[test]
    fn plain_json_is_decided_for_every_length_and_position() {
        for n in 0..24 {
            let plain = [b'a', 0x7f, 0x80, 0xff, b' ', b'~'];
            let base: Vec<u8> = (0..n).map(|i| plain[i % plain.len()]).collect();
            assert!(is_plain_json(&base), "{base:?}");
            for at in 0..n {
                for special in [0x00, 0x1f, b'"', b'\\'] {
                    let mut src = base.clone();
                    src[at] = special;
                    assert!(!is_plain_json(&src), "{src:?}");
                }
            }
        }
    }

    #[test]
    fn copy_bytes_copies_every_length_exactly() {
        let src: Vec<u8> = (0..200u8).map(|b| b.wrapping_mul(37) | 1).collect();
        for n in 0..=src.len() {
            // The destination one byte longer: the byte after the copy stays as it was.
            let mut dst = vec![0u8; n + 1];
            copy_bytes(&mut dst[..n], &src[..n]);
            assert_eq!(dst[..n], src[..n], "{n} bytes");
            assert_eq!(dst[n], 0, "{n} bytes: wrote past the copy");
        }
    }

    #[test]
    fn put_long_copies_every_length_exactly() {
        let src: Vec<u8> = (0..200u8).map(|b| b.wrapping_mul(37) | 1).collect();
        for n in 0..=src.len() {
            // A byte before and one after the copy, which stay as they were.
            let mut dst = vec![0u8; n + 2];
            let mut pieces = Pieces::new(&mut dst[1..], n + 1).unwrap();
            pieces.put_long(&src[..n]);
            pieces.byte(0xee);
            assert_eq!(dst[1..=n], src[..n], "{n} bytes");
            assert_eq!(
                (dst[0], dst[n + 1]),
                (0, 0xee),
                "{n} bytes: wrote outside the copy"
            );
        }
    }

    #[test]
    fn every_byte_agrees_with_serde_json() {
        for b in 0u8..0x80 {
            let s = String::from(char::from(b));
            let serde = serde_json::to_string(&s).unwrap();
            assert_eq!(escaped(&s), serde[1..serde.len() - 1], "byte {b:#x}");
        }
    }

    #[test]
    fn short_output_never_splits_an_escape() {
        let src = b"ab\"c";
        let mut out = [b'#'; 3];
        assert_eq!(escape_json(src, &mut out), 2);
        assert_eq!(&out, b"ab#");
        let mut out = [b'#'; 1];
        assert_eq!(escape_json(b"abc", &mut out), 1);
        assert_eq!(escape_json(b"", &mut []), 0);
    }

    #[test]
    fn fast_json_copy_agrees_with_escaping() {
        for len in 0..40 {
            for pos in 0..=len {
                for special in [b'"', b'\\', b'\n', 0x1f, 0x00, 0x20, 0x7f, 0x21, 0xc3, 0xff] {
                    let mut src = vec![b'a'; len];
                    if let Some(b) = src.get_mut(pos) {
                        *b = special;
                    }
                    let mut want = vec![0u8; 6 * len];
                    let n = escape_json(&src, &mut want);
                    want.truncate(n);
                    let mut out = vec![b'#'; 6 * len + 8];
                    let mut line = LineBuf {
                        out: &mut out,
                        pos: 0,
                    };
                    line.json_escaped(&src);
                    let end = line.pos;
                    assert_eq!(out[..end], want[..], "{src:?}");
                    assert!(out[end..].iter().all(|&b| b == b'#'), "{src:?}");
                }
            }
        }
    }

    #[test]
    fn raw_copies_of_every_length() {
        let src: Vec<u8> = (1..=60).collect();
        for len in 0..=src.len() {
            let mut out = vec![0u8; 70];
            let mut line = LineBuf {
                out: &mut out,
                pos: 0,
            };
            line.raw(b"x");
            line.raw(&src[..len]);
            line.raw(b"y");
            assert_eq!(line.pos, len + 2);
            assert_eq!(out[0], b'x');
            assert_eq!(out[1..=len], src[..len]);
            assert_eq!(out[len + 1], b'y');
            assert!(out[len + 2..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn byte_maps() {
        let all: Vec<u8> = (0..=255u8).collect();
        for &b in &all {
            let control = b < 0x20 || b == 0x7f;
            assert_eq!(line_byte(b) == b'_', control || b == b'_');
            assert_eq!(word_byte(b) == b'_', control || b == b' ' || b == b'_');
            assert_eq!(
                path_byte(b) == b'_',
                control || b == b' ' || b == b';' || b == b'_'
            );
        }
        assert_eq!(path_byte(b'-'), b'-');
        assert_eq!(path_byte(b'.'), b'.');
        assert_eq!(word_byte(b';'), b';');
        assert_eq!(line_byte(b' '), b' ');
        assert_eq!(line_byte(0xc3), 0xc3);
    }
}

/// Records, hostile inputs and checks the format tests share.
#[cfg(test)]
pub(crate) mod testkit {
    extern crate std;
    use super::super::{BufferFull, ChartMeta, DimensionMeta, HostMeta, Record, Value};
    use crate::decimal::Decimal;
    use std::boxed::Box;
    use std::string::String;
    use std::vec::Vec;
    use std::{format, vec};

    /// A formatter under test.
    pub(crate) type WriteFn = fn(&Record<'_>, &mut [u8]) -> Result<usize, BufferFull>;
    /// Its exact-length function.
    pub(crate) type LenFn = fn(&Record<'_>) -> usize;

    /// A stored value with seven decimals, from its 10^-7 units.
    pub(crate) const fn stored(negative: bool, units: u128) -> Value {
        Value::Stored(Decimal::from_units(negative, units))
    }

    /// The spec's chart `system.cpu`, dimension `user` on `myhost`, stored 2.3362763.
    pub(crate) const fn system_cpu() -> Record<'static> {
        Record {
            host: HostMeta {
                prefix: "netdata",
                hostname: "myhost",
                tags: "",
            },
            chart: ChartMeta {
                id: "system.cpu",
                name: "system.cpu",
                family: "cpu",
                context: "system.cpu",
                chart_type: "system",
                units: "percentage",
            },
            dimension: DimensionMeta {
                id: "user",
                name: "user",
            },
            names: true,
            value: stored(false, 23_362_763),
            timestamp: 1_609_459_180,
        }
    }

    /// The spec's chart `disk_util.dm-0` named `disk_util.vg0-root`.
    pub(crate) const fn disk_util() -> Record<'static> {
        let mut r = system_cpu();
        r.chart = ChartMeta {
            id: "disk_util.dm-0",
            name: "disk_util.vg0-root",
            family: "vg0-root",
            context: "disk.util",
            chart_type: "disk_util",
            units: "% of time working",
        };
        r.dimension = DimensionMeta {
            id: "utilization",
            name: "utilization",
        };
        r
    }

    /// The first metric of the anchors' synthetic population (`gateway-01`, `cpu.cpu0`,
    /// `user`), stored.
    pub(crate) const fn gateway() -> Record<'static> {
        Record {
            host: HostMeta {
                prefix: "netdata",
                hostname: "gateway-01",
                tags: "",
            },
            chart: ChartMeta {
                id: "cpu.cpu0",
                name: "cpu.cpu0",
                family: "utilization",
                context: "cpu.cpu",
                chart_type: "cpu",
                units: "percentage",
            },
            dimension: DimensionMeta {
                id: "user",
                name: "user",
            },
            names: true,
            value: stored(false, 444_540_436),
            timestamp: 1_609_999_997,
        }
    }

    /// A `'static` copy of `s` (tests only).
    pub(crate) fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    /// Every field at its limit, made of `unit` repeated, with the longest value and
    /// timestamp texts.
    pub(crate) fn maximal(unit: &str) -> Record<'static> {
        use super::super::limits;
        let fill = |n: usize| leak(unit.repeat(n / unit.len()));
        Record {
            host: HostMeta {
                prefix: fill(limits::PREFIX),
                hostname: fill(limits::HOSTNAME),
                tags: fill(limits::TAGS),
            },
            chart: ChartMeta {
                id: fill(limits::NAME),
                name: fill(limits::NAME),
                family: fill(limits::NAME),
                context: fill(limits::NAME),
                chart_type: fill(limits::NAME),
                units: fill(limits::NAME),
            },
            dimension: DimensionMeta {
                id: fill(limits::NAME),
                name: fill(limits::NAME),
            },
            names: true,
            value: stored(true, u128::MAX),
            timestamp: i64::MIN,
        }
    }

    /// Checks the all-or-nothing contract for `record` and returns its bytes: the
    /// length agrees with `len` and stays within `max`, one byte too few changes
    /// nothing, an exact buffer works, and a larger one is written only at its start.
    pub(crate) fn check(write: WriteFn, len: LenFn, max: usize, record: &Record<'_>) -> Vec<u8> {
        const SENTINEL: u8 = 0xa5;
        let n = len(record);
        assert!(n <= max, "{n} > {max}");
        if n > 0 {
            let mut short = vec![SENTINEL; n - 1];
            assert_eq!(write(record, &mut short), Err(BufferFull));
            assert!(
                short.iter().all(|&b| b == SENTINEL),
                "short buffer modified"
            );
        }
        let mut exact = vec![SENTINEL; n];
        assert_eq!(write(record, &mut exact), Ok(n));
        let mut roomy = vec![SENTINEL; n + 16];
        assert_eq!(write(record, &mut roomy), Ok(n));
        assert_eq!(roomy[..n], exact[..]);
        assert!(
            roomy[n..].iter().all(|&b| b == SENTINEL),
            "wrote past the record"
        );
        exact
    }

    /// Strings that try to break records: separators, quotes, controls, non-ASCII,
    /// JSON look-alikes and strings far over every limit.
    pub(crate) fn hostile_strings() -> Vec<&'static str> {
        let mut v = vec![
            "",
            " ",
            "a b",
            "x\ny 1 2\nput evil 1 1 host=h",
            "evil.metric 1 1\r\n",
            "tab\there",
            "semi;colon=1",
            "quote\"back\\slash",
            "\"}]{[",
            "{\"k\":\"v\"}",
            "{\"k\":\n\"v\"}",
            "[1,2,\r3]",
            "\"str\"",
            "{not json",
            "\u{0}\u{1}\u{1f}\u{7f}",
            "é°C\u{2028}\u{feff}😀",
            "=;=; ;",
        ];
        for unit in ["a", "\n", "\"", "é", "😀", "\u{1}", "ab\"", "{"] {
            v.push(leak(unit.repeat(2000)));
        }
        v.push(leak(format!("{{\"a\":\"{}\"}}", "x".repeat(1100))));
        v.push(leak(format!("{}{}", "[".repeat(100), "]".repeat(100))));
        v
    }

    /// One setter per string field of a record: host, chart and dimension.
    pub(crate) const FIELD_SETTERS: [fn(&mut Record<'static>, &'static str); 11] = [
        |r, s| r.host.prefix = s,
        |r, s| r.host.hostname = s,
        |r, s| r.host.tags = s,
        |r, s| r.chart.id = s,
        |r, s| r.chart.name = s,
        |r, s| r.chart.family = s,
        |r, s| r.chart.context = s,
        |r, s| r.chart.chart_type = s,
        |r, s| r.chart.units = s,
        |r, s| r.dimension.id = s,
        |r, s| r.dimension.name = s,
    ];

    /// Records with one hostile string in one field each (every field, names and ids),
    /// and with all fields hostile at once; plus random records.
    pub(crate) fn hostile_records() -> Vec<Record<'static>> {
        let mut out = Vec::new();
        let strings = hostile_strings();
        let fields = FIELD_SETTERS;
        for &s in &strings {
            for names in [true, false] {
                for set in &fields {
                    let mut r = system_cpu();
                    r.names = names;
                    set(&mut r, s);
                    out.push(r);
                }
                let mut all = system_cpu();
                all.names = names;
                all.value = Value::Collected(i64::MIN);
                for set in &fields {
                    set(&mut all, s);
                }
                out.push(all);
            }
        }
        let mut rng = Rng(0x5eed);
        for _ in 0..300 {
            let mut r = system_cpu();
            for set in &fields {
                let s = rng.string(40);
                set(&mut r, s);
            }
            r.names = rng.next() & 1 == 0;
            r.timestamp = rng.next() as i64;
            r.value = if rng.next() & 1 == 0 {
                Value::Collected(rng.next() as i64)
            } else {
                stored(rng.next() & 1 == 0, u128::from(rng.next()))
            };
            out.push(r);
        }
        out
    }

    /// splitmix64, for reproducible random inputs.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// A string of up to `max` characters drawn mostly from JSON and line syntax.
        pub(crate) fn string(&mut self, max: u64) -> &'static str {
            const POOL: &[char] = &[
                'a', 'Z', '0', '9', '.', '-', '_', ' ', '\t', '\n', '\r', ';', '=', '"', '\\', '{',
                '}', '[', ']', ':', ',', '\u{0}', '\u{1f}', '\u{7f}', 'é', '😀', '\u{2028}', 't',
                'r', 'u', 'e', 'n', 'l', '+', 'E',
            ];
            let n = self.next() % (max + 1);
            let s: String = (0..n)
                .map(|_| POOL[(self.next() % POOL.len() as u64) as usize])
                .collect();
            leak(s)
        }
    }
}
