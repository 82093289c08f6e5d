//! Snappy raw-block compression (no framing), as remote write sends its body.
//!
//! # The block format
//!
//! A block is the varint of the uncompressed length followed by elements, each starting
//! with a tag byte whose low two bits give its kind:
//!
//! | low bits | element | rest of the tag | then |
//! |---|---|---|---|
//! | `00` | literal | `len − 1` in the high six bits if below 60; 60–63 mean 1–4 length bytes follow | the length bytes (little-endian `len − 1`), then `len` bytes |
//! | `01` | copy, 1-byte offset | bits 2–4: `len − 4` (len 4–11); bits 5–7: offset bits 8–10 | the low 8 bits of the offset (offset < 2048) |
//! | `10` | copy, 2-byte offset | `len − 1` (len 1–64) | the offset, 16 bits little-endian |
//! | `11` | copy, 4-byte offset | `len − 1` | the offset, 32 bits little-endian |
//!
//! A copy repeats `len` bytes starting `offset` bytes back in the output (they may overlap
//! what it writes). Any valid block decodes the same way, whichever compressor made it.
//!
//! # This compressor
//!
//! The input is cut into 64 KiB fragments compressed independently (so an offset always
//! fits in 16 bits and the hash table holds 16-bit positions). Inside a fragment a
//! multiplicative hash of every 4-byte sequence indexes a table of the last position where
//! a sequence with that hash was seen; a hit whose four bytes really match starts a copy,
//! which is extended as far as the bytes agree. Runs without matches are searched with a
//! growing stride (one more byte skipped per 32 misses), so incompressible input costs
//! little time. Copies use the 1-byte-offset form when they can (length 4–11, offset
//! below 2048), the 2-byte form otherwise, cut in pieces of at most 64 bytes; the 4-byte
//! form is never needed.
//!
//! The table is the caller's: [`compress`] takes any `&mut [u16]`, [`Compressor`] owns a
//! fixed one. [`DEFAULT_TABLE_LEN`] entries (32 KiB) give the usual snappy ratio; a
//! smaller table compresses less but still correctly, down to an empty one, which makes
//! an all-literal block.

use super::varint::{fill_varint, sizeof_varint};
use crate::format::BufferFull;

/// The fragment size: input is compressed in independent pieces of at most 64 KiB.
pub const FRAGMENT_LEN: usize = 1 << 16;

/// The hash-table size that gives snappy's usual ratio: 2^14 entries.
pub const DEFAULT_TABLE_LEN: usize = 1 << 14;

/// The largest table [`compress`] uses; the rest of a longer slice is ignored.
pub const MAX_TABLE_LEN: usize = 1 << 15;

/// The longest input a block can describe: its length is a 32-bit varint.
pub const MAX_INPUT_LEN: usize = u32::MAX as usize;

/// The output buffer [`compress`] needs for `input_len` bytes: `32 + n + n/6`, snappy's
/// bound. Saturates at `usize::MAX`, and is `usize::MAX` for an input longer than
/// [`MAX_INPUT_LEN`], which no buffer can take.
#[must_use]
pub const fn max_compressed_len(input_len: usize) -> usize {
    // Compared as u64: on 32-bit targets every length fits.
    if input_len as u64 > u32::MAX as u64 {
        return usize::MAX;
    }
    32usize
        .saturating_add(input_len)
        .saturating_add(input_len / 6)
}

/// Literals up to this long are copied with one fixed-size copy (see `Out::literal_at`).
const SHORT_LITERAL: usize = 16;
/// Inputs shorter than this are not searched for matches: one literal.
const MIN_SEARCH_LEN: usize = 16;
/// A match search stops this far before the end of a fragment, so that every 4-byte load
/// and every hash insertion stays inside it.
const INPUT_MARGIN: usize = 15;
/// A 32-bit multiplicative hash constant (the golden ratio, 2^32 / φ, made odd).
const HASH_MUL: u32 = 0x9e37_79b1;

/// Compresses `input` into `output` as one snappy raw block and returns the block's length.
///
/// `table` is the hash table's storage; its content on entry does not matter. The largest
/// power of two not above `table.len()` (and [`MAX_TABLE_LEN`]) entries are used.
///
/// Bytes of `output` past the returned length may have been written to (a short literal
/// is copied as a fixed-size piece); only the block itself is meaningful.
///
/// # Errors
///
/// [`BufferFull`] when `output` is shorter than [`max_compressed_len`]`(input.len())`:
/// nothing is written then. (With that much room the block always fits.)
///
/// # Examples
///
/// ```
/// use backhaul_core::format::remote_write::snappy::{compress, max_compressed_len};
///
/// let input = b"abcdabcdabcdabcdabcdabcdabcdabcd";
/// let mut output = [0u8; max_compressed_len(32)];
/// let mut table = [0u16; 256];
/// let n = compress(input, &mut output, &mut table).unwrap();
/// assert_eq!(&output[..n], b"\x20\x0cabcd\x6e\x04\x00");
/// ```
pub fn compress(input: &[u8], output: &mut [u8], table: &mut [u16]) -> Result<usize, BufferFull> {
    if output.len() < max_compressed_len(input.len()) {
        return Err(BufferFull);
    }
    let table_len = usable_table_len(table.len());
    let table = table.get_mut(..table_len).unwrap_or(&mut []);
    let mut out = Out {
        buf: output,
        pos: 0,
        overflow: false,
    };
    out.varint(input.len() as u64);
    for fragment in input.chunks(FRAGMENT_LEN) {
        compress_fragment(fragment, table, &mut out);
    }
    if out.overflow {
        // Unreachable with the size check above; reported rather than trusted.
        return Err(BufferFull);
    }
    Ok(out.pos)
}

/// A snappy compressor with its own hash table of `N` entries (`2·N` bytes).
///
/// # Examples
///
/// ```
/// use backhaul_core::format::remote_write::snappy::{max_compressed_len, Compressor};
///
/// let mut compressor: Compressor = Compressor::new();
/// let mut output = [0u8; max_compressed_len(5)];
/// let n = compressor.compress(b"hello", &mut output).unwrap();
/// assert_eq!(&output[..n], b"\x05\x10hello");
/// ```
#[derive(Clone, Debug)]
pub struct Compressor<const N: usize = DEFAULT_TABLE_LEN> {
    table: [u16; N],
}

impl<const N: usize> Compressor<N> {
    /// A compressor.
    #[must_use]
    pub const fn new() -> Self {
        Self { table: [0; N] }
    }

    /// Compresses `input` into `output`, as [`compress`].
    ///
    /// # Errors
    ///
    /// [`BufferFull`], writing nothing, when `output` is shorter than
    /// [`max_compressed_len`]`(input.len())`.
    pub fn compress(&mut self, input: &[u8], output: &mut [u8]) -> Result<usize, BufferFull> {
        compress(input, output, &mut self.table)
    }
}

impl<const N: usize> Default for Compressor<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The largest power of two `<= len`, at most [`MAX_TABLE_LEN`]; 0 for 0.
const fn usable_table_len(len: usize) -> usize {
    if len == 0 {
        0
    } else if len >= MAX_TABLE_LEN {
        MAX_TABLE_LEN
    } else {
        1 << (usize::BITS - 1 - len.leading_zeros())
    }
}

/// The output cursor. Writes past the end are dropped and remembered.
#[derive(Debug)]
struct Out<'b> {
    buf: &'b mut [u8],
    pos: usize,
    overflow: bool,
}

impl Out<'_> {
    /// Appends `src`. The sum cannot overflow: `pos` is at most the buffer's length
    /// (or one element past it, once), and both are far below `usize::MAX`.
    #[inline(always)]
    fn bytes(&mut self, src: &[u8]) {
        let end = self.pos + src.len();
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => dst.copy_from_slice(src),
            None => self.overflow = true,
        }
        self.pos = end;
    }

    /// Appends the `N` bytes of `src`: fixed-size stores, no call to `memcpy`.
    #[inline(always)]
    fn array<const N: usize>(&mut self, src: [u8; N]) {
        let end = self.pos + N;
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => dst.copy_from_slice(&src),
            None => self.overflow = true,
        }
        self.pos = end;
    }

    fn varint(&mut self, value: u64) {
        let end = self.pos + sizeof_varint(value);
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => fill_varint(value, dst),
            None => self.overflow = true,
        }
        self.pos = end;
    }

    /// A literal element holding `fragment[start..end]` (`start < end`). One of at most
    /// [`SHORT_LITERAL`] bytes, the usual kind between two matches, is written as its tag
    /// and a fixed-size copy of [`SHORT_LITERAL`] bytes when the input and the output
    /// have that many: the bytes copied past the literal are overwritten by what
    /// follows, or lie past the end of the block.
    #[inline(always)]
    fn literal_at(&mut self, fragment: &[u8], start: usize, end: usize) {
        let len = end.wrapping_sub(start);
        if (1..=SHORT_LITERAL).contains(&len) {
            let src = fragment
                .get(start..)
                .and_then(<[u8]>::first_chunk::<SHORT_LITERAL>);
            let dst = self
                .buf
                .get_mut(self.pos..)
                .and_then(<[u8]>::first_chunk_mut::<{ SHORT_LITERAL + 1 }>);
            if let (Some(src), Some(dst)) = (src, dst) {
                let (tag, body) = dst.split_at_mut(1);
                tag[0] = ((len - 1) as u8) << 2;
                body.copy_from_slice(src);
                self.pos += 1 + len;
                return;
            }
        }
        self.literal(fragment.get(start..end).unwrap_or(&[]));
    }

    /// A literal element holding `bytes` (1 to 2^32 bytes; an empty one writes nothing).
    fn literal(&mut self, bytes: &[u8]) {
        let Some(n) = bytes.len().checked_sub(1) else {
            return;
        };
        let n = n as u32;
        if n < 60 {
            self.array([(n as u8) << 2]);
        } else {
            // 1 to 4 little-endian length bytes, announced by 60 to 63.
            let count = (4 - n.leading_zeros() / 8) as usize;
            let le = n.to_le_bytes();
            self.array([(59 + count as u8) << 2]);
            self.bytes(le.get(..count).unwrap_or(&le));
        }
        self.bytes(bytes);
    }

    /// Copy elements repeating `len >= 4` bytes from `offset` (1 to 65535) bytes back.
    #[inline(always)]
    fn copy(&mut self, offset: usize, mut len: usize) {
        // Pieces of 64; the last piece is kept at 4 or more bytes.
        while len >= 68 {
            self.copy_2(offset, 64);
            len -= 64;
        }
        if len > 64 {
            self.copy_2(offset, 60);
            len -= 60;
        }
        if len < 12 && offset < 2048 {
            let tag = 0b01 | ((len - 4) << 2) | ((offset >> 8) << 5);
            self.array([tag as u8, offset as u8]);
        } else {
            self.copy_2(offset, len);
        }
    }

    #[inline(always)]
    fn copy_2(&mut self, offset: usize, len: usize) {
        let tag = 0b10 | ((len - 1) << 2);
        let offset = (offset as u16).to_le_bytes();
        self.array([tag as u8, offset[0], offset[1]]);
    }
}

/// The four bytes at `at` as a little-endian word (zero past the end, which callers avoid).
#[inline(always)]
fn load32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..).and_then(<[u8]>::first_chunk::<4>) {
        Some(word) => u32::from_le_bytes(*word),
        None => 0,
    }
}

/// The table slot of `word`: the top `32 − shift` bits of its product with
/// [`HASH_MUL`] (none for a shift of 32 or more).
#[inline(always)]
fn hash(word: u32, shift: u32) -> usize {
    (u64::from(word.wrapping_mul(HASH_MUL)) >> (shift & 63)) as usize
}

/// How many bytes agree from `a` and from `b` onwards (`a < b`), up to the end of `bytes`.
#[inline(always)]
fn match_len(bytes: &[u8], a: usize, b: usize) -> usize {
    let (Some(x), Some(y)) = (bytes.get(a..), bytes.get(b..)) else {
        return 0;
    };
    // Eight bytes at a time (`y`, the later one, is the shorter), then byte by byte.
    let (mut xs, mut ys) = (x.chunks_exact(8), y.chunks_exact(8));
    let mut n = 0;
    for (cx, cy) in (&mut xs).zip(&mut ys) {
        let (Ok(cx), Ok(cy)) = (<[u8; 8]>::try_from(cx), <[u8; 8]>::try_from(cy)) else {
            break;
        };
        let diff = u64::from_le_bytes(cx) ^ u64::from_le_bytes(cy);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    let rest = x.get(n..).unwrap_or(&[]);
    n + rest
        .iter()
        .zip(ys.remainder())
        .take_while(|(p, q)| p == q)
        .count()
}

/// Compresses one fragment (at most 64 KiB) with the table, appending its elements.
fn compress_fragment(fragment: &[u8], table: &mut [u16], out: &mut Out<'_>) {
    // Use no more table than the fragment can fill: faster for short inputs.
    let size = table.len().min(fragment.len().next_power_of_two());
    let Some(table) = table.get_mut(..size) else {
        return out.literal(fragment);
    };
    if fragment.len() < MIN_SEARCH_LEN || table.is_empty() {
        return out.literal(fragment);
    }
    table.fill(0);
    let shift = 32 - size.trailing_zeros();
    // Matches start at most here; they may extend to the end of the fragment.
    let limit = fragment.len() - INPUT_MARGIN;
    let mut emitted = 0;
    let mut ip = 1;
    'search: loop {
        // Look for a 4-byte match, stepping faster the longer none is found.
        let mut misses = 32u32;
        let candidate = loop {
            if ip > limit {
                break 'search;
            }
            let word = load32(fragment, ip);
            let slot = table.get_mut(hash(word, shift));
            let candidate = slot.map_or(0, |s| core::mem::replace(s, ip as u16)) as usize;
            if candidate < ip && load32(fragment, candidate) == word {
                break candidate;
            }
            ip += (misses >> 5) as usize;
            misses += 1;
        };
        out.literal_at(fragment, emitted, ip);
        // Emit copies for as long as the next position also starts a match.
        let mut candidate = candidate;
        loop {
            let len = 4 + match_len(fragment, candidate + 4, ip + 4);
            out.copy(ip - candidate, len);
            ip += len;
            emitted = ip;
            if ip >= limit {
                break 'search;
            }
            let before = ip - 1;
            if let Some(slot) = table.get_mut(hash(load32(fragment, before), shift)) {
                *slot = before as u16;
            }
            let word = load32(fragment, ip);
            let slot = table.get_mut(hash(word, shift));
            candidate = slot.map_or(0, |s| core::mem::replace(s, ip as u16)) as usize;
            if candidate >= ip || load32(fragment, candidate) != word {
                ip += 1;
                break;
            }
        }
    }
    out.literal(fragment.get(emitted..).unwrap_or(&[]));
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::format::remote_write::varint::read_varint;
    use std::vec::Vec;

    /// A strict decoder for the tests: every element checked against the format.
    fn decompress(block: &[u8]) -> Option<Vec<u8>> {
        let (len, mut at) = read_varint(block)?;
        let mut out = Vec::new();
        while at < block.len() {
            let tag = block[at];
            at += 1;
            let (offset, len) = match tag & 3 {
                0 => {
                    let mut n = usize::from(tag >> 2);
                    if n >= 60 {
                        let count = n - 59;
                        let bytes = block.get(at..at + count)?;
                        n = bytes
                            .iter()
                            .rev()
                            .fold(0, |acc, &b| acc << 8 | usize::from(b));
                        at += count;
                    }
                    out.extend_from_slice(block.get(at..at + n + 1)?);
                    at += n + 1;
                    continue;
                }
                1 => {
                    let low = usize::from(*block.get(at)?);
                    at += 1;
                    (
                        usize::from(tag >> 5) << 8 | low,
                        usize::from(tag >> 2 & 7) + 4,
                    )
                }
                2 => {
                    let bytes = block.get(at..at + 2)?;
                    at += 2;
                    (
                        usize::from(u16::from_le_bytes([bytes[0], bytes[1]])),
                        usize::from(tag >> 2) + 1,
                    )
                }
                _ => return None,
            };
            if offset == 0 || offset > out.len() {
                return None;
            }
            for _ in 0..len {
                out.push(out[out.len() - offset]);
            }
        }
        (out.len() as u64 == len).then_some(out)
    }

    fn round_trip(input: &[u8], table_len: usize) -> usize {
        let mut output = std::vec![0u8; max_compressed_len(input.len())];
        let mut table = std::vec![0xffffu16; table_len];
        let n = compress(input, &mut output, &mut table).unwrap();
        assert_eq!(decompress(&output[..n]).as_deref(), Some(input));
        n
    }

    /// A deterministic pseudo-random byte stream (xorshift), `alphabet` symbols wide.
    fn noise(len: usize, alphabet: u8, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % u64::from(alphabet)) as u8
            })
            .collect()
    }

    /// The first, straightforward version of the compressor's search (byte-wise match
    /// extension), kept as the oracle of the faster one: same table, same input, the
    /// very same block.
    fn reference_block(input: &[u8], table_len: usize) -> Vec<u8> {
        fn reference_match_len(bytes: &[u8], a: usize, b: usize) -> usize {
            let mut n = 0;
            while b + n < bytes.len() && bytes[a + n] == bytes[b + n] {
                n += 1;
            }
            n
        }
        let mut output = std::vec![0u8; max_compressed_len(input.len())];
        let table_len = usable_table_len(table_len);
        let mut table = std::vec![0u16; table_len];
        let mut out = Out {
            buf: &mut output,
            pos: 0,
            overflow: false,
        };
        out.varint(input.len() as u64);
        for fragment in input.chunks(FRAGMENT_LEN) {
            let size = table.len().min(fragment.len().next_power_of_two());
            let table = &mut table[..size];
            if fragment.len() < MIN_SEARCH_LEN || table.is_empty() {
                out.literal(fragment);
                continue;
            }
            table.fill(0);
            let shift = 32 - size.trailing_zeros();
            let limit = fragment.len() - INPUT_MARGIN;
            let (mut emitted, mut ip) = (0, 1);
            'search: loop {
                let mut misses = 32u32;
                let mut candidate = loop {
                    if ip > limit {
                        break 'search;
                    }
                    let word = load32(fragment, ip);
                    let slot = &mut table[hash(word, shift)];
                    let candidate = core::mem::replace(slot, ip as u16) as usize;
                    if candidate < ip && load32(fragment, candidate) == word {
                        break candidate;
                    }
                    ip += (misses >> 5) as usize;
                    misses += 1;
                };
                out.literal(&fragment[emitted..ip]);
                loop {
                    let len = 4 + reference_match_len(fragment, candidate + 4, ip + 4);
                    out.copy(ip - candidate, len);
                    ip += len;
                    emitted = ip;
                    if ip >= limit {
                        break 'search;
                    }
                    table[hash(load32(fragment, ip - 1), shift)] = (ip - 1) as u16;
                    let word = load32(fragment, ip);
                    candidate =
                        core::mem::replace(&mut table[hash(word, shift)], ip as u16) as usize;
                    if candidate >= ip || load32(fragment, candidate) != word {
                        ip += 1;
                        break;
                    }
                }
            }
            out.literal(&fragment[emitted..]);
        }
        let n = out.pos;
        output.truncate(n);
        output
    }

    #[test]
    fn blocks_match_the_reference_compressor() {
        // Remote-write-like input: long repeated label runs with a few bytes changing.
        let mut series = Vec::new();
        for i in 0u32..3000 {
            series.extend_from_slice(
                b"\x0a\x3b\x0a\x08__name__\x12\x2fnetdata_system_cpu_percentage_average",
            );
            series.extend_from_slice(&(i % 7).to_le_bytes());
            series.extend_from_slice(
                &u64::from(i)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    .to_le_bytes(),
            );
        }
        let text = b"the quick brown fox jumps over the lazy dog; ".repeat(300);
        let mut inputs = std::vec![series, text, std::vec![0u8; 140_000]];
        for (alphabet, len) in [(2u8, 5000), (4, 70_000), (16, 3000), (255, 1000), (3, 17)] {
            inputs.push(noise(len, alphabet, u64::from(alphabet) * 31 + 1));
        }
        for len in 0..64 {
            inputs.push(noise(len, 2, len as u64 + 5));
        }
        for input in &inputs {
            for table_len in [16, 256, DEFAULT_TABLE_LEN] {
                let mut output = std::vec![0u8; max_compressed_len(input.len())];
                let mut table = std::vec![0xffffu16; table_len];
                let n = compress(input, &mut output, &mut table).unwrap();
                assert_eq!(
                    output[..n],
                    reference_block(input, table_len)[..],
                    "{} bytes, table {table_len}",
                    input.len()
                );
            }
        }
    }

    #[test]
    fn exact_small_blocks() {
        let mut table = [0u16; 64];
        let mut out = [0u8; 64];
        let cases: [(&[u8], &[u8]); 3] = [
            (b"", b"\x00"),
            (b"a", b"\x01\x00a"),
            // 20 identical bytes: a literal of one, then a copy of 19 from one back.
            (&[b'z'; 20], b"\x14\x00z\x4a\x01\x00"),
        ];
        for (input, expected) in cases {
            let n = compress(input, &mut out, &mut table).unwrap();
            assert_eq!(&out[..n], expected, "{input:?}");
        }
    }

    #[test]
    fn literal_length_forms() {
        // Incompressible literals of every length class.
        for len in [
            1,
            59,
            60,
            61,
            256,
            257,
            1000,
            FRAGMENT_LEN,
            FRAGMENT_LEN + 1,
        ] {
            let input = noise(len, 255, len as u64 + 1);
            let n = round_trip(&input, DEFAULT_TABLE_LEN);
            assert!(n <= len + 8, "{len}: {n}");
        }
    }

    #[test]
    fn copy_forms() {
        let mut out = Out {
            buf: &mut [0u8; 64],
            pos: 0,
            overflow: false,
        };
        out.copy(1, 4);
        out.copy(2047, 11);
        out.copy(2048, 4);
        out.copy(5, 12);
        out.copy(7, 67);
        let n = out.pos;
        assert_eq!(
            &out.buf[..n],
            b"\x01\x01\xfd\xff\x0e\x00\x08\x2e\x05\x00\xee\x07\x00\x0d\x07"
        );
    }

    #[test]
    fn round_trips_with_any_table() {
        let text = b"the quick brown fox jumps over the lazy dog; ".repeat(300);
        for table_len in [
            0,
            1,
            2,
            255,
            256,
            4096,
            DEFAULT_TABLE_LEN,
            MAX_TABLE_LEN * 2,
        ] {
            round_trip(&text, table_len);
            round_trip(&noise(70_000, 4, 7), table_len);
            round_trip(&[0u8; 140_000], table_len);
        }
        // Runs: tiny for repeated data, almost nothing wasted for noise.
        assert!(round_trip(&[7u8; 200_000], DEFAULT_TABLE_LEN) < 10_000);
        assert!(round_trip(&noise(200_000, 255, 3), DEFAULT_TABLE_LEN) < 200_000 + 100);
    }

    #[test]
    fn short_output_is_untouched() {
        let mut table = [0u16; 16];
        // max_compressed_len(10) = 43.
        let mut out = [0xaau8; 43];
        assert_eq!(compress(b"0123456789", &mut out, &mut table), Ok(12));
        let mut out = [0xaau8; 42];
        assert_eq!(
            compress(b"0123456789", &mut out, &mut table),
            Err(BufferFull)
        );
        assert_eq!(out, [0xaa; 42]);
    }

    #[test]
    fn sizes() {
        assert_eq!(max_compressed_len(0), 32);
        assert_eq!(max_compressed_len(600), 732);
        assert_eq!(max_compressed_len(usize::MAX), usize::MAX);
        assert_eq!(usable_table_len(0), 0);
        assert_eq!(usable_table_len(1), 1);
        assert_eq!(usable_table_len(1000), 512);
        assert_eq!(usable_table_len(usize::MAX), MAX_TABLE_LEN);
    }
}
