//! AWS Kinesis: a buffer of JSON lines cut into Kinesis records and PutRecords batches
//! (spec §4.7).
//!
//! The exporter fills one buffer with newline-terminated JSON lines (§4.4) per iteration.
//! Kinesis takes records of at most [`MAX_RECORD_BYTES`], counting the data **and** the
//! partition key, and PutRecords requests of at most [`MAX_BATCH_RECORDS`] records and
//! [`MAX_BATCH_BYTES`] (data and keys again). This module does the cutting, without copying
//! anything: every record and batch is a sub-slice of the input.
//!
//! * [`Splitter`] yields [`Chunk`]s: a [`Chunk::Record`] is one or more whole lines, cut
//!   only just *after* a newline, so each record ends with its own `\n` (netdata cuts just
//!   before it, so the newline that ends one record starts the next). A single line that
//!   cannot fit a record is a [`Chunk::Oversized`], which the caller counts as lost, and
//!   splitting goes on after it (netdata loops forever there, weakness §8.8).
//! * [`Batches`] groups consecutive records into [`Batch`]es that respect both request
//!   limits; an oversized line ends the batch before it and is reported on its own.
//! * [`PartitionKeys`] numbers the records `netdata_0`, `netdata_1`, … with a counter the
//!   caller keeps for the exporter's lifetime, so keys (and so shards) keep moving from one
//!   iteration to the next instead of restarting at `netdata_0` every time (§8.8).
//!
//! # Keys and sizes
//!
//! Cutting does not depend on the key: every record reserves room for the longest key
//! this module makes, [`MAX_KEY_LEN`] bytes, so a record's data is at most
//! [`MAX_DATA_BYTES`] and any key from [`PartitionKeys`] keeps it within
//! [`MAX_RECORD_BYTES`]. This costs at most 19 bytes per 1 MiB record against an exact
//! fit, and makes the cut deterministic: splitting a batch's bytes again gives the same
//! records (that is how [`Batch::records`] works). Batches count the same reservation.
//!
//! # Input without a final newline
//!
//! The engine only hands over whole lines. Should the input not end with `\n`, the end of
//! the input ends the last line as a newline would: it is sent with the record before it,
//! or as a record of its own, or reported as oversized, like any other line. So the chunks
//! always concatenate back to the input, and every record but possibly the last ends with
//! `\n`.
//!
//! # Examples
//!
//! ```
//! use backhaul_core::format::kinesis::{Batches, Group, PartitionKeys};
//!
//! let mut keys = PartitionKeys::new(); // kept across iterations
//! let buffer = b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n";
//! for group in Batches::new(buffer) {
//!     match group {
//!         Group::Batch(batch) => {
//!             for record in batch.records() {
//!                 let key = keys.next_key();
//!                 // PutRecords entry: Data = record, PartitionKey = key.as_str()
//!                 assert_eq!(key.as_str(), "netdata_0");
//!                 assert_eq!(record, &buffer[..]);
//!             }
//!         }
//!         Group::Oversized(range) => { /* count buffer[range] as lost */ let _ = range; }
//!     }
//! }
//! assert_eq!(keys.next_key().as_str(), "netdata_1");
//! ```

use core::iter::FusedIterator;
use core::ops::Range;

use crate::number::IntBuffer;

/// The largest Kinesis record: data plus partition key, 1 MiB.
pub const MAX_RECORD_BYTES: usize = 1_048_576;

/// The most records one PutRecords request may carry.
pub const MAX_BATCH_RECORDS: usize = 500;

/// The most bytes (data plus partition keys) one PutRecords request may carry: 5 MiB.
pub const MAX_BATCH_BYTES: usize = 5 * 1_048_576;

/// What every partition key starts with.
pub const KEY_PREFIX: &str = "netdata_";

/// The longest partition key: [`KEY_PREFIX`] and a 20-digit `u64`.
pub const MAX_KEY_LEN: usize = KEY_PREFIX.len() + IntBuffer::MAX_STR_LEN;

/// The most data bytes in one record: [`MAX_RECORD_BYTES`] less room for the longest key.
pub const MAX_DATA_BYTES: usize = MAX_RECORD_BYTES - MAX_KEY_LEN;

const _: () = assert!(MAX_KEY_LEN == 28);
const _: () = assert!(MAX_BATCH_BYTES / MAX_RECORD_BYTES == 5);

// ---------------------------------------------------------------------------------------
// Partition keys

/// One partition key, `netdata_N`, in a stack buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PartitionKey {
    bytes: [u8; MAX_KEY_LEN],
    len: usize,
}

impl PartitionKey {
    /// The key for sequence number `n`.
    #[must_use]
    pub fn new(n: u64) -> Self {
        let mut bytes = [0; MAX_KEY_LEN];
        let mut digits = IntBuffer::new();
        let mut len = 0;
        for (dst, src) in bytes
            .iter_mut()
            .zip(KEY_PREFIX.bytes().chain(digits.format_u64(n).bytes()))
        {
            *dst = src;
            len += 1;
        }
        Self { bytes, len }
    }

    /// The key's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or(KEY_PREFIX)
    }

    /// The key's bytes (ASCII).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The key's length in bytes: what it adds to the record's size.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a key holds at least its prefix.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsRef<str> for PartitionKey {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl core::fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The partition-key sequence `netdata_0`, `netdata_1`, …, wrapping after `u64::MAX`.
///
/// Keep one for the exporter's lifetime and take a key for every record sent, so that
/// successive iterations use new keys. As an [`Iterator`] it never ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PartitionKeys {
    next: u64,
}

impl PartitionKeys {
    /// A sequence starting at `netdata_0`.
    #[must_use]
    pub const fn new() -> Self {
        Self { next: 0 }
    }

    /// A sequence starting at `netdata_{n}`, for example seeded from the start time so a
    /// restarted exporter does not replay the same keys.
    #[must_use]
    pub const fn starting_at(n: u64) -> Self {
        Self { next: n }
    }

    /// The number the next key will carry.
    #[must_use]
    pub const fn peek(&self) -> u64 {
        self.next
    }

    /// The next key.
    pub fn next_key(&mut self) -> PartitionKey {
        let key = PartitionKey::new(self.next);
        self.next = self.next.wrapping_add(1);
        key
    }
}

impl Iterator for PartitionKeys {
    type Item = PartitionKey;

    fn next(&mut self) -> Option<PartitionKey> {
        Some(self.next_key())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl FusedIterator for PartitionKeys {}

// ---------------------------------------------------------------------------------------
// Records

/// A piece of the input, as [`Splitter`] cuts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Chunk<'a> {
    /// One Kinesis record's data: whole lines, each with its `\n`, within the limit.
    Record(&'a [u8]),
    /// One line (with its `\n`) longer than the limit on its own: it cannot be sent.
    Oversized(&'a [u8]),
}

impl<'a> Chunk<'a> {
    /// The chunk's bytes.
    #[must_use]
    pub const fn bytes(self) -> &'a [u8] {
        match self {
            Self::Record(b) | Self::Oversized(b) => b,
        }
    }
}

/// Cuts a buffer of newline-terminated lines into records of at most `limit` bytes.
///
/// Each [`Chunk`] is non-empty, so the iteration ends after at most `input.len()` steps;
/// each step scans at most `limit` bytes plus the length of an oversized line. The chunks
/// concatenate back to the input. Records are as long as they can be: a record ends at
/// the last newline within `limit` bytes.
///
/// ```
/// use backhaul_core::format::kinesis::{Chunk, Splitter};
///
/// let chunks: Vec<_> = Splitter::with_limit(b"ab\ncd\nlong line\nef\n", 6).collect();
/// assert_eq!(
///     chunks,
///     [
///         Chunk::Record(b"ab\ncd\n"),
///         Chunk::Oversized(b"long line\n"),
///         Chunk::Record(b"ef\n"),
///     ]
/// );
/// ```
#[derive(Clone, Debug)]
pub struct Splitter<'a> {
    rest: &'a [u8],
    limit: usize,
}

impl<'a> Splitter<'a> {
    /// Splits `input` into records of at most [`MAX_DATA_BYTES`].
    #[must_use]
    pub const fn new(input: &'a [u8]) -> Self {
        Self::with_limit(input, MAX_DATA_BYTES)
    }

    /// Splits `input` into records of at most `limit` data bytes. Any limit works; with 0
    /// every line is oversized.
    #[must_use]
    pub const fn with_limit(input: &'a [u8], limit: usize) -> Self {
        Self { rest: input, limit }
    }

    /// The input not cut yet.
    #[must_use]
    pub const fn remainder(&self) -> &'a [u8] {
        self.rest
    }

    /// Takes the first `n` bytes of the rest (`n` ≤ its length).
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.rest.split_at_checked(n).unwrap_or((self.rest, &[]));
        self.rest = tail;
        head
    }
}

impl<'a> Iterator for Splitter<'a> {
    type Item = Chunk<'a>;

    fn next(&mut self) -> Option<Chunk<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() <= self.limit {
            return Some(Chunk::Record(self.take(self.rest.len())));
        }
        let window = self.rest.get(..self.limit).unwrap_or(&[]);
        if let Some(last) = window.iter().rposition(|&b| b == b'\n') {
            return Some(Chunk::Record(self.take(last + 1)));
        }
        // No newline within the limit: the first line alone is too long. It ends at the
        // first newline past the limit, or at the end of the input.
        let beyond = self.rest.get(self.limit..).unwrap_or(&[]);
        let end = beyond
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.rest.len(), |i| self.limit + i + 1);
        Some(Chunk::Oversized(self.take(end)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(!self.rest.is_empty()), Some(self.rest.len()))
    }
}

impl FusedIterator for Splitter<'_> {}

// ---------------------------------------------------------------------------------------
// Batches

/// The limits [`Batches`] works to. [`Limits::KINESIS`] are the service's; others are for
/// tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// The most bytes in one record, data and key.
    pub record_bytes: usize,
    /// The room reserved for the partition key in every record and batch.
    pub key_bytes: usize,
    /// The most records in one batch.
    pub batch_records: usize,
    /// The most bytes in one batch, data and keys.
    pub batch_bytes: usize,
}

impl Limits {
    /// Kinesis's PutRecords limits, with room for keys from [`PartitionKeys`].
    pub const KINESIS: Self = Self {
        record_bytes: MAX_RECORD_BYTES,
        key_bytes: MAX_KEY_LEN,
        batch_records: MAX_BATCH_RECORDS,
        batch_bytes: MAX_BATCH_BYTES,
    };

    /// The most data bytes in one record.
    #[must_use]
    pub const fn record_data(&self) -> usize {
        self.record_bytes.saturating_sub(self.key_bytes)
    }

    /// What a record of `data` bytes costs a batch: its data and its reserved key.
    const fn cost(&self, data: usize) -> usize {
        data.saturating_add(self.key_bytes)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::KINESIS
    }
}

/// Consecutive records that make one PutRecords request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Batch<'a> {
    bytes: &'a [u8],
    range: Range<usize>,
    records: usize,
    record_data: usize,
}

impl<'a> Batch<'a> {
    /// Where the batch lies in the input.
    #[must_use]
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }

    /// The data of all its records, one after the other.
    #[must_use]
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// How many records it holds (at least one).
    #[must_use]
    pub const fn len(&self) -> usize {
        self.records
    }

    /// Always `false`: a batch holds at least one record.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Its records' data, in order.
    #[must_use]
    pub fn records(&self) -> Records<'a> {
        Records {
            splitter: Splitter::with_limit(self.bytes, self.record_data),
        }
    }
}

/// The records of a [`Batch`]; see [`Batch::records`].
#[derive(Clone, Debug)]
pub struct Records<'a> {
    splitter: Splitter<'a>,
}

impl<'a> Iterator for Records<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // A batch starts on a record boundary and holds whole records, so splitting it
        // again gives exactly those records, never an oversized line.
        self.splitter.next().map(Chunk::bytes)
    }
}

impl FusedIterator for Records<'_> {}

/// What [`Batches`] yields.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Group<'a> {
    /// Records to send in one request.
    Batch(Batch<'a>),
    /// Where an oversized line lies in the input; it cannot be sent.
    Oversized(Range<usize>),
}

/// Groups the records of a buffer into PutRecords batches.
///
/// A batch holds at most `batch_records` records and `batch_bytes` bytes (each record
/// counted with its reserved key), and at least one record, so odd limits never stall.
/// Batches and oversized lines come in input order and their ranges tile the input.
#[derive(Clone, Debug)]
pub struct Batches<'a> {
    input: &'a [u8],
    splitter: Splitter<'a>,
    pending: Option<Chunk<'a>>,
    pos: usize,
    limits: Limits,
}

impl<'a> Batches<'a> {
    /// Batches for Kinesis: [`Limits::KINESIS`].
    #[must_use]
    pub const fn new(input: &'a [u8]) -> Self {
        Self::with_limits(input, Limits::KINESIS)
    }

    /// Batches within `limits`.
    #[must_use]
    pub const fn with_limits(input: &'a [u8], limits: Limits) -> Self {
        Self {
            input,
            splitter: Splitter::with_limit(input, limits.record_data()),
            pending: None,
            pos: 0,
            limits,
        }
    }

    /// The next chunk, and where it starts in the input.
    fn next_chunk(&mut self) -> Option<(usize, Chunk<'a>)> {
        let chunk = self.pending.take().or_else(|| self.splitter.next())?;
        let start = self.pos;
        self.pos = start.saturating_add(chunk.bytes().len());
        Some((start, chunk))
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Group<'a>;

    fn next(&mut self) -> Option<Group<'a>> {
        let (start, first) = self.next_chunk()?;
        let first = match first {
            Chunk::Oversized(line) => {
                return Some(Group::Oversized(start..start.saturating_add(line.len())));
            }
            Chunk::Record(record) => record,
        };
        let mut end = start.saturating_add(first.len());
        let mut records = 1;
        let mut bytes = self.limits.cost(first.len());
        while records < self.limits.batch_records {
            match self.splitter.next() {
                None => break,
                Some(Chunk::Record(record))
                    if bytes.saturating_add(self.limits.cost(record.len()))
                        <= self.limits.batch_bytes =>
                {
                    records += 1;
                    bytes += self.limits.cost(record.len());
                    end = end.saturating_add(record.len());
                    self.pos = end;
                }
                Some(other) => {
                    self.pending = Some(other);
                    break;
                }
            }
        }
        Some(Group::Batch(Batch {
            bytes: self.input.get(start..end).unwrap_or(&[]),
            range: start..end,
            records,
            record_data: self.limits.record_data(),
        }))
    }
}

impl FusedIterator for Batches<'_> {}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn split(input: &[u8], limit: usize) -> Vec<Chunk<'_>> {
        Splitter::with_limit(input, limit).collect()
    }

    macro_rules! split_cases {
        ($($name:ident: $input:expr, $limit:expr => [$($chunk:expr),* $(,)?];)*) => {
            $(
                #[test]
                fn $name() {
                    #[allow(unused_imports)]
                    use Chunk::{Oversized as O, Record as R};
                    let expected: &[Chunk<'_>] = &[$($chunk),*];
                    assert_eq!(split($input, $limit), expected);
                }
            )*
        };
    }

    split_cases! {
        empty_input: b"", 4 => [];
        empty_input_zero_limit: b"", 0 => [];
        line_ending_exactly_at_limit: b"abc\nde\n", 4 => [R(b"abc\n"), R(b"de\n")];
        line_one_byte_over_limit: b"abcd\nde\n", 4 => [O(b"abcd\n"), R(b"de\n")];
        whole_input_exactly_at_limit: b"a\nb\n", 4 => [R(b"a\nb\n")];
        whole_input_one_byte_over: b"a\nbc\n", 4 => [R(b"a\n"), R(b"bc\n")];
        lines_are_packed: b"a\nb\nc\nd\ne\n", 4 => [R(b"a\nb\n"), R(b"c\nd\n"), R(b"e\n")];
        newline_stays_with_its_record: b"ab\ncd\n", 3 => [R(b"ab\n"), R(b"cd\n")];
        oversized_between_records: b"a\nxxxxxxx\nb\n", 4 => [R(b"a\n"), O(b"xxxxxxx\n"), R(b"b\n")];
        oversized_at_end_without_newline: b"a\nxxxxxx", 4 => [R(b"a\n"), O(b"xxxxxx")];
        trailing_fragment_joins_last_record: b"a\nbc", 4 => [R(b"a\nbc")];
        trailing_fragment_own_record: b"ab\ncd", 3 => [R(b"ab\n"), R(b"cd")];
        fragment_only: b"abc", 4 => [R(b"abc")];
        empty_lines: b"\n\n\n", 2 => [R(b"\n\n"), R(b"\n")];
        zero_limit: b"a\n\n", 0 => [O(b"a\n"), O(b"\n")];
    }

    #[test]
    fn a_line_longer_than_a_record_terminates() {
        let mut input = vec![b'x'; MAX_DATA_BYTES + 1];
        input.push(b'\n');
        input.extend_from_slice(b"ok\n");
        let chunks: Vec<_> = Splitter::new(&input).collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0], Chunk::Oversized(&input[..MAX_DATA_BYTES + 2]));
        assert_eq!(chunks[1], Chunk::Record(b"ok\n"));
    }

    #[test]
    fn a_line_of_exactly_the_data_limit_is_a_record() {
        let mut input = vec![b'x'; MAX_DATA_BYTES - 1];
        input.push(b'\n');
        input.extend_from_slice(b"ok\n");
        let chunks: Vec<_> = Splitter::new(&input).collect();
        assert_eq!(
            chunks,
            [
                Chunk::Record(&input[..MAX_DATA_BYTES]),
                Chunk::Record(b"ok\n")
            ]
        );
        let longest_key = PartitionKey::new(u64::MAX);
        assert_eq!(MAX_DATA_BYTES + longest_key.len(), MAX_RECORD_BYTES);
    }

    #[test]
    fn partition_keys_continue() {
        let mut keys = PartitionKeys::new();
        assert_eq!(keys.next_key().as_str(), "netdata_0");
        assert_eq!(keys.next_key().as_str(), "netdata_1");
        assert_eq!(keys.peek(), 2);
        let more: Vec<_> = keys.by_ref().take(9).collect();
        assert_eq!(more[8].as_str(), "netdata_10");
        assert_eq!(std::format!("{}", keys.next_key()), "netdata_11");
    }

    #[test]
    fn partition_keys_wrap() {
        let mut keys = PartitionKeys::starting_at(u64::MAX);
        let last = keys.next_key();
        assert_eq!(last.as_str(), "netdata_18446744073709551615");
        assert_eq!(last.len(), MAX_KEY_LEN);
        assert!(!last.is_empty());
        assert_eq!(keys.next_key().as_ref(), "netdata_0");
    }

    /// A small deterministic generator (xorshift64*), enough to vary the property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: u64) -> usize {
            usize::try_from(self.next() % n).unwrap()
        }
    }

    /// Lines of random lengths (some empty, some long), newline-terminated or not at the end.
    fn random_input(rng: &mut Rng) -> Vec<u8> {
        let mut input = Vec::new();
        for _ in 0..rng.below(40) {
            let len = if rng.below(8) == 0 {
                rng.below(80)
            } else {
                rng.below(12)
            };
            input.extend((0..len).map(|i| b'a' + (i % 26) as u8));
            input.push(b'\n');
        }
        if rng.below(4) == 0 {
            input.extend_from_slice(&b"tail"[..rng.below(5)]);
        }
        input
    }

    #[test]
    fn property_records_tile_the_input_within_the_limit() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..5_000 {
            let input = random_input(&mut rng);
            let limit = rng.below(40);
            let chunks = split(&input, limit);
            let joined: Vec<u8> = chunks
                .iter()
                .flat_map(|c| c.bytes().iter().copied())
                .collect();
            assert_eq!(joined, input, "limit {limit}");
            let whole_lines = input.last().is_none_or(|&b| b == b'\n');
            for (i, chunk) in chunks.iter().enumerate() {
                let is_last = i + 1 == chunks.len();
                let bytes = chunk.bytes();
                assert!(!bytes.is_empty());
                if whole_lines || !is_last {
                    assert_eq!(bytes.last(), Some(&b'\n'));
                }
                match chunk {
                    Chunk::Record(r) => assert!(r.len() <= limit),
                    Chunk::Oversized(line) => {
                        assert!(line.len() > limit);
                        // One line only.
                        let newlines = line.iter().filter(|&&b| b == b'\n').count();
                        assert!(newlines <= 1);
                        assert!(newlines == 0 || line.last() == Some(&b'\n'));
                    }
                }
                // Greedy: the next line would not have fitted.
                if let (Chunk::Record(r), Some(next)) = (chunk, chunks.get(i + 1)) {
                    let next = next.bytes();
                    let line = next
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(next.len(), |p| p + 1);
                    assert!(r.len() + line > limit);
                }
            }
        }
    }

    fn small_limits() -> Limits {
        Limits {
            record_bytes: 10,
            key_bytes: 2,
            batch_records: 3,
            batch_bytes: 25,
        }
    }

    #[test]
    fn batches_respect_record_count() {
        let limits = Limits {
            batch_bytes: 1000,
            ..small_limits()
        };
        let input = b"1234567\n1234567\n1234567\n1234567\n";
        let groups: Vec<_> = Batches::with_limits(input, limits).collect();
        assert_eq!(groups.len(), 2);
        let Group::Batch(first) = &groups[0] else {
            panic!("{groups:?}")
        };
        assert_eq!((first.range(), first.len()), (0..24, 3));
        assert_eq!(first.records().collect::<Vec<_>>(), [b"1234567\n"; 3]);
        let Group::Batch(second) = &groups[1] else {
            panic!("{groups:?}")
        };
        assert_eq!((second.range(), second.len()), (24..32, 1));
        assert!(!second.is_empty());
    }

    #[test]
    fn batches_respect_bytes_with_keys() {
        // Records of 8 data bytes cost 10 each: two fit 25 bytes, a third does not.
        let input = b"1234567\n1234567\n1234567\n";
        let groups: Vec<_> = Batches::with_limits(input, small_limits()).collect();
        let lens: Vec<_> = groups
            .iter()
            .map(|g| match g {
                Group::Batch(b) => (b.range(), b.len()),
                Group::Oversized(r) => panic!("oversized {r:?}"),
            })
            .collect();
        assert_eq!(lens, [(0..16, 2), (16..24, 1)]);
    }

    #[test]
    fn oversized_line_ends_a_batch() {
        let input = b"a\nb\n0123456789\nc\n";
        let groups: Vec<_> = Batches::with_limits(input, small_limits()).collect();
        assert_eq!(groups.len(), 3);
        let Group::Batch(first) = &groups[0] else {
            panic!("{groups:?}")
        };
        assert_eq!((first.bytes(), first.len()), (&b"a\nb\n"[..], 1));
        assert_eq!(groups[1], Group::Oversized(4..15));
        let Group::Batch(last) = &groups[2] else {
            panic!("{groups:?}")
        };
        assert_eq!(last.range(), 15..17);
    }

    #[test]
    fn batches_of_nothing() {
        assert_eq!(Batches::new(b"").count(), 0);
        assert_eq!(Limits::default(), Limits::KINESIS);
        assert_eq!(Limits::KINESIS.record_data(), MAX_DATA_BYTES);
    }

    #[test]
    fn full_size_records_make_five_per_batch() {
        let line = {
            let mut l = vec![b'x'; MAX_DATA_BYTES - 1];
            l.push(b'\n');
            l
        };
        let input: Vec<u8> = line.iter().copied().cycle().take(line.len() * 11).collect();
        let sizes: Vec<_> = Batches::new(&input)
            .map(|g| match g {
                Group::Batch(b) => b.len(),
                Group::Oversized(r) => panic!("oversized {r:?}"),
            })
            .collect();
        assert_eq!(sizes, [5, 5, 1]);
    }

    #[test]
    fn property_batches_tile_the_input_within_limits() {
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        for _ in 0..3_000 {
            let input = random_input(&mut rng);
            let limits = Limits {
                record_bytes: rng.below(50),
                key_bytes: rng.below(4),
                batch_records: rng.below(6),
                batch_bytes: rng.below(120),
            };
            let mut pos = 0;
            let mut records = Vec::new();
            for group in Batches::with_limits(&input, limits) {
                match group {
                    Group::Batch(batch) => {
                        assert_eq!(batch.range().start, pos);
                        pos = batch.range().end;
                        assert_eq!(batch.bytes(), &input[batch.range()]);
                        let rs: Vec<_> = batch.records().collect();
                        assert_eq!(rs.len(), batch.len());
                        assert!(!rs.is_empty());
                        let cost: usize = rs.iter().map(|r| r.len() + limits.key_bytes).sum();
                        assert!(rs.len() == 1 || rs.len() <= limits.batch_records);
                        assert!(rs.len() == 1 || cost <= limits.batch_bytes);
                        records.extend(rs.iter().map(|r| Chunk::Record(r)));
                    }
                    Group::Oversized(range) => {
                        assert_eq!(range.start, pos);
                        pos = range.end;
                        records.push(Chunk::Oversized(&input[range]));
                    }
                }
            }
            assert_eq!(pos, input.len());
            assert_eq!(records, split(&input, limits.record_data()));
        }
    }
}
