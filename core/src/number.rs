//! Number printing into stack buffers, byte-identical to the C formats netdata uses.
//!
//! * [`DecimalBuffer`] prints a [`Decimal`] with seven fixed decimals, like `%0.7Lf`.
//! * [`Fixed7Buffer`] prints any `f64` exactly with seven decimals, rounded half to
//!   even, like glibc's `%0.7f` (which prints the exact binary value, so even
//!   `1e300` comes out with all of its 301 digits).
//! * [`IntBuffer`] prints `i64`/`u64` like `%lld`/`%llu`.
//!
//! Each buffer is a small array on the stack (the API shape of the `itoa` crate): `format`
//! writes into it and returns the text, so no call allocates and none can fail.

use crate::decimal::{Decimal, SCALE};

/// Two ASCII digits for every value 0..100, for printing two digits per division.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// [`DIGIT_PAIRS`] as pairs, so that a pair is one indexed load.
const PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        pairs[i] = [DIGIT_PAIRS[2 * i], DIGIT_PAIRS[2 * i + 1]];
        i += 1;
    }
    pairs
};

/// The eight decimal digits of `n` (below 10^8, zero-padded) as byte values 0..=9, the
/// most significant in the lowest byte (the first in memory, little-endian): two halves
/// of four digits, each split into pairs and then into digits, all lanes at once.
const fn eight_digit_values(n: u64) -> u64 {
    // Lanes of 32 bits: the first four digits, the last four.
    let merged = (n / 10_000) | ((n % 10_000) << 32);
    // ×10486 / 2^20 is ÷100 for every lane value below 10,000.
    let top = ((merged * 10_486) >> 20) & ((0x7f << 32) | 0x7f);
    let bottom = merged - 100 * top;
    // Lanes of 16 bits, below 100 each: the four pairs, in order.
    let pairs = (bottom << 16) + top;
    // ×103 / 2^10 is ÷10 for every lane value below 100.
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    tens + ((pairs - 10 * tens) << 8)
}

/// ASCII zero in every byte.
const ZEROS: u64 = 0x3030_3030_3030_3030;

/// Writes the decimal digits of `n` so that they end at `buf[end]` (exclusive); returns
/// the index of the first digit. `buf[..end]` must have room for 20 digits; the bytes
/// before the first digit may be overwritten.
#[inline]
fn write_u64_backwards(n: u64, buf: &mut [u8], end: usize) -> usize {
    // Eight digits at a time, stored whole; leading zeros are skipped, not stored around.
    let Some(chunks) = end
        .checked_sub(20)
        .and_then(|start| buf.get_mut(start..end))
        .and_then(|chunks| <&mut [u8; 20]>::try_from(chunks).ok())
    else {
        return write_u64_backwards_by_pairs(n, buf, end);
    };
    let start = end - 20;
    if n < E8 {
        // Up to eight digits, the usual case: at least one digit, even for 0.
        let digits = eight_digit_values(n);
        store8(chunks, 12, digits | ZEROS);
        let zeros = (digits.trailing_zeros() / 8).min(7) as usize;
        return start + 12 + zeros;
    }
    start + write_long_u64(n, chunks)
}

/// 10^8.
const E8: u64 = 100_000_000;

/// Stores the eight bytes of `word` (little-endian) at `at`.
#[inline(always)]
fn store8(chunks: &mut [u8; 20], at: usize, word: u64) {
    if let Some(dst) = chunks.get_mut(at..at + 8) {
        dst.copy_from_slice(&word.to_le_bytes());
    }
}

/// [`write_u64_backwards`] of `n` ≥ 10^8 into the 20 bytes it ends in; returns the
/// offset of the first digit.
#[inline(never)]
fn write_long_u64(n: u64, chunks: &mut [u8; 20]) -> usize {
    let (high, low) = (n / E8, n % E8);
    store8(chunks, 12, eight_digit_values(low) | ZEROS);
    if high < 100 {
        // Nine or ten digits (a Unix time): a pair in front of the eight.
        let pair = PAIRS[high as usize];
        chunks[10] = pair[0];
        chunks[11] = pair[1];
        return 10 + usize::from(pair[0] == b'0');
    }
    let (top, middle) = (high / E8, high % E8);
    let middle_digits = eight_digit_values(middle);
    store8(chunks, 4, middle_digits | ZEROS);
    if top == 0 {
        // middle ≥ 100: it has a non-zero digit.
        let zeros = (middle_digits.trailing_zeros() / 8) as usize;
        return 4 + zeros;
    }
    // top is 1..=1844: its digits are the last four of eight.
    let top_digits = eight_digit_values(top) >> 32;
    if let Some(dst) = chunks.get_mut(..4) {
        dst.copy_from_slice(&((top_digits as u32) | ZEROS as u32).to_le_bytes());
    }
    (top_digits.trailing_zeros() / 8) as usize
}

/// [`write_u64_backwards`] for a buffer with less than 20 bytes before `end`, two digits
/// at a time.
fn write_u64_backwards_by_pairs(mut n: u64, buf: &mut [u8], mut end: usize) -> usize {
    while n >= 100 {
        let pair = (n % 100) as usize;
        n /= 100;
        end -= 2;
        buf[end..end + 2].copy_from_slice(&PAIRS[pair]);
    }
    if n >= 10 {
        end -= 2;
        buf[end..end + 2].copy_from_slice(&PAIRS[n as usize]);
    } else {
        end -= 1;
        buf[end] = b'0' + n as u8;
    }
    end
}

/// Writes exactly `width` digits of `n` (zero-padded) ending at `buf[end]`.
fn write_padded_backwards(mut n: u64, width: usize, buf: &mut [u8], end: usize) {
    for slot in buf[end - width..end].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Writes exactly seven digits of `n` (below 10^7, zero-padded) ending at `buf[end]`;
/// `buf[end - 8]` is overwritten too (with `0`).
fn write_7_digits_backwards(n: u64, buf: &mut [u8], end: usize) {
    let digits = eight_digit_values(n % 10_000_000) | ZEROS;
    buf[end - 8..end].copy_from_slice(&digits.to_le_bytes());
}

/// Writes the decimal digits of a `u128` ending at `buf[end]`; returns the first index.
/// Needs room for 39 digits.
fn write_u128_backwards(mut n: u128, buf: &mut [u8], mut end: usize) -> usize {
    const CHUNK: u128 = 10_000_000_000_000_000_000; // 10^19
    while n > u128::from(u64::MAX) {
        let low = (n % CHUNK) as u64;
        n /= CHUNK;
        write_padded_backwards(low, 19, buf, end);
        end -= 19;
    }
    write_u64_backwards(n as u64, buf, end)
}

/// A stack buffer for printing integers like C's `%lld` / `%llu`.
///
/// # Examples
///
/// ```
/// use backhaul_core::number::IntBuffer;
///
/// let mut buf = IntBuffer::new();
/// assert_eq!(buf.format_i64(i64::MIN), "-9223372036854775808");
/// assert_eq!(buf.format_u64(1_609_459_180), "1609459180");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct IntBuffer {
    bytes: [u8; Self::MAX_STR_LEN],
}

impl IntBuffer {
    /// The longest text: `-9223372036854775808` and `18446744073709551615` have 20 bytes.
    pub const MAX_STR_LEN: usize = 20;

    /// A new buffer.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            bytes: [0; Self::MAX_STR_LEN],
        }
    }

    /// Prints an unsigned integer.
    pub fn format_u64(&mut self, n: u64) -> &str {
        let start = write_u64_backwards(n, &mut self.bytes, Self::MAX_STR_LEN);
        ascii(&self.bytes[start..])
    }

    /// Prints a signed integer.
    pub fn format_i64(&mut self, n: i64) -> &str {
        ascii(self.i64_bytes(n))
    }

    /// [`format_i64`](Self::format_i64) as bytes, for the formatters (no UTF-8 check).
    pub(crate) fn i64_bytes(&mut self, n: i64) -> &[u8] {
        let mut start = write_u64_backwards(n.unsigned_abs(), &mut self.bytes, Self::MAX_STR_LEN);
        if n < 0 {
            start -= 1;
            self.bytes[start] = b'-';
        }
        &self.bytes[start..]
    }
}

impl Default for IntBuffer {
    fn default() -> Self {
        Self::new()
    }
}

/// A stack buffer for printing a [`Decimal`] with seven decimals.
///
/// # Examples
///
/// ```
/// use backhaul_core::decimal::Decimal;
/// use backhaul_core::number::DecimalBuffer;
///
/// let mut buf = DecimalBuffer::new();
/// assert_eq!(buf.format(Decimal::from_units(false, 23_362_763)), "2.3362763");
/// assert_eq!(buf.format(Decimal::from_units(true, 0)), "-0.0000000");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct DecimalBuffer {
    bytes: [u8; Self::MAX_STR_LEN],
}

impl DecimalBuffer {
    /// The longest text: a sign, 32 integer digits (`u128::MAX / 10^7` has 32), a point
    /// and seven decimals.
    pub const MAX_STR_LEN: usize = 1 + 32 + 1 + 7;

    /// A new buffer.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            bytes: [0; Self::MAX_STR_LEN],
        }
    }

    /// Prints `value` as `[-]INTEGER.FFFFFFF`.
    pub fn format(&mut self, value: Decimal) -> &str {
        ascii(self.bytes(value))
    }

    /// [`format`](Self::format) as bytes, for the formatters (no UTF-8 check).
    pub(crate) fn bytes(&mut self, value: Decimal) -> &[u8] {
        let units = value.units();
        let end = Self::MAX_STR_LEN;
        let (int_part, frac) = if units <= u128::from(u64::MAX) {
            let u = units as u64;
            (u128::from(u / SCALE as u64), u % SCALE as u64)
        } else {
            (units / SCALE, (units % SCALE) as u64)
        };
        write_7_digits_backwards(frac, &mut self.bytes, end);
        self.bytes[end - 8] = b'.';
        let mut start = if int_part <= u128::from(u64::MAX) {
            write_u64_backwards(int_part as u64, &mut self.bytes, end - 8)
        } else {
            write_u128_backwards(int_part, &mut self.bytes, end - 8)
        };
        if value.is_sign_negative() {
            start -= 1;
            self.bytes[start] = b'-';
        }
        &self.bytes[start..]
    }
}

impl Default for DecimalBuffer {
    fn default() -> Self {
        Self::new()
    }
}

/// A stack buffer for printing any `f64` exactly with seven decimals, rounded half to
/// even, byte-identical to glibc's `printf("%0.7f")` (and to `%0.7Lf` of the same value
/// widened to `long double`).
///
/// NaN prints as `nan` or `-nan` and infinities as `inf` or `-inf`, as glibc does.
///
/// # Examples
///
/// ```
/// use backhaul_core::number::Fixed7Buffer;
///
/// let mut buf = Fixed7Buffer::new();
/// assert_eq!(buf.format_f64(0.00390625), "0.0039062"); // an exact tie goes to even
/// assert_eq!(buf.format_f64(-1e-8), "-0.0000000");
/// // The double nearest to 1.6777215e21 is printed with all of its digits:
/// assert_eq!(buf.format_f64(1.6777215e21), "1677721499999999885312.0000000");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Fixed7Buffer {
    bytes: [u8; Self::MAX_STR_LEN],
}

impl Fixed7Buffer {
    /// The longest text: `-` and the 309 digits of `f64::MAX`, a point and seven decimals.
    pub const MAX_STR_LEN: usize = 1 + 309 + 1 + 7;

    /// A new buffer.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            bytes: [0; Self::MAX_STR_LEN],
        }
    }

    /// Prints `value` with exactly seven decimals.
    pub fn format_f64(&mut self, value: f64) -> &str {
        let negative = value.is_sign_negative();
        if value.is_nan() {
            return if negative { "-nan" } else { "nan" };
        }
        if value.is_infinite() {
            return if negative { "-inf" } else { "inf" };
        }
        let bits = value.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        let (mantissa, exponent) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | 1 << 52, biased - 1075)
        };
        if exponent <= 0 {
            // |value| × 10^7 = mantissa × 10^7 / 2^-exponent, below 2^77 / 2^-exponent.
            let shift = exponent.unsigned_abs();
            let scaled = u128::from(mantissa) * SCALE;
            let units = if shift >= 128 {
                0 // below 2^-51: far less than half a unit
            } else {
                let q = scaled >> shift;
                let rest = scaled - (q << shift);
                let half = if shift == 0 { 0 } else { 1u128 << (shift - 1) };
                let up = shift > 0 && (rest > half || (rest == half && q & 1 == 1));
                q + u128::from(up)
            };
            let mut buf = DecimalBuffer::new();
            let text = buf.format(Decimal::from_units(negative, units));
            let len = text.len();
            self.bytes[..len].copy_from_slice(text.as_bytes());
            return ascii(&self.bytes[..len]);
        }
        // An integer: mantissa × 2^exponent, up to 1024 bits; no fraction to round.
        let end = Self::MAX_STR_LEN;
        self.bytes[end - 8..end].copy_from_slice(b".0000000");
        let mut start =
            write_big_integer(mantissa, exponent.unsigned_abs(), &mut self.bytes, end - 8);
        if negative {
            start -= 1;
            self.bytes[start] = b'-';
        }
        ascii(&self.bytes[start..])
    }
}

impl Default for Fixed7Buffer {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes the digits of `mantissa × 2^shift` (at most 1024 bits) ending at `buf[end]`.
fn write_big_integer(mantissa: u64, shift: u32, buf: &mut [u8], mut end: usize) -> usize {
    // Little-endian 32-bit limbs; 2^1024 needs 33 of them.
    const LIMBS: usize = 34;
    let mut limbs = [0u32; LIMBS];
    let word = (shift / 32) as usize;
    let bit = shift % 32;
    let wide = u128::from(mantissa) << bit; // < 2^85
    for (i, limb) in limbs.iter_mut().skip(word).take(3).enumerate() {
        *limb = (wide >> (32 * i)) as u32;
    }
    let mut len = (word + 3).min(LIMBS);
    while len > 0 && limbs[len - 1] == 0 {
        len -= 1;
    }
    // Peel off nine digits at a time until the rest fits a u64.
    const BILLION: u64 = 1_000_000_000;
    while len > 2 {
        let mut rem = 0u64;
        for limb in limbs[..len].iter_mut().rev() {
            let cur = rem << 32 | u64::from(*limb);
            *limb = (cur / BILLION) as u32;
            rem = cur % BILLION;
        }
        write_padded_backwards(rem, 9, buf, end);
        end -= 9;
        while len > 0 && limbs[len - 1] == 0 {
            len -= 1;
        }
    }
    let rest = u64::from(limbs[0]) | u64::from(limbs[1]) << 32;
    if rest == 0 && end < buf.len() {
        // Everything was printed in nine-digit groups: strip their leading zeros.
        while buf[end] == b'0' {
            end += 1;
        }
        end
    } else {
        write_u64_backwards(rest, buf, end)
    }
}

/// The buffers only ever hold ASCII digits, signs and points.
fn ascii(bytes: &[u8]) -> &str {
    core::str::from_utf8(bytes).unwrap_or("")
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn integers_match_core_fmt() {
        let mut buf = IntBuffer::new();
        for n in [
            0i64,
            1,
            -1,
            9,
            10,
            99,
            100,
            12345,
            i64::MAX,
            i64::MIN,
            -1_000_000_007,
        ] {
            assert_eq!(buf.format_i64(n), format!("{n}"));
        }
        for n in [0u64, 7, 10, 100, 1 << 40, u64::MAX] {
            assert_eq!(buf.format_u64(n), format!("{n}"));
        }
    }

    /// A xorshift64 sequence, for wide coverage without a dependency.
    fn xorshift(mut x: u64) -> impl Iterator<Item = u64> {
        core::iter::from_fn(move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Some(x)
        })
    }

    #[test]
    fn integers_of_every_length_match_core_fmt() {
        let mut buf = IntBuffer::new();
        let mut check = |n: u64| {
            assert_eq!(buf.format_u64(n), format!("{n}"));
            let i = n as i64;
            assert_eq!(buf.format_i64(i), format!("{i}"));
            assert_eq!(buf.i64_bytes(i), format!("{i}").as_bytes());
        };
        for k in 0..20 {
            let p = 10u64.pow(k);
            for n in [p - 1, p, p + 1, p.wrapping_mul(9), p.wrapping_mul(9) + 9] {
                check(n);
            }
        }
        for x in xorshift(0x9e37_79b9_7f4a_7c15).take(200_000) {
            check(x >> (x % 64));
        }
    }

    #[test]
    fn decimals_of_every_length_match_core_fmt() {
        let mut buf = DecimalBuffer::new();
        for x in xorshift(0x2545_f491_4f6c_dd1d).take(200_000) {
            let units = u128::from(x >> (x % 64)) << (x % 3 * 20);
            let negative = x & 1 == 1;
            let sign = if negative { "-" } else { "" };
            let want = format!("{sign}{}.{:07}", units / SCALE, units % SCALE);
            assert_eq!(buf.format(Decimal::from_units(negative, units)), want);
        }
    }

    #[test]
    fn decimals() {
        let mut buf = DecimalBuffer::new();
        assert_eq!(buf.format(Decimal::ZERO), "0.0000000");
        assert_eq!(buf.format(Decimal::from_units(false, 1)), "0.0000001");
        assert_eq!(
            buf.format(Decimal::from_units(true, 425_000_000)),
            "-42.5000000"
        );
        assert_eq!(
            buf.format(Decimal::from_units(false, u128::MAX)),
            format!("{}.{:07}", u128::MAX / SCALE, u128::MAX % SCALE)
        );
        assert_eq!(
            buf.format(Decimal::from_units(true, u128::MAX)).len(),
            DecimalBuffer::MAX_STR_LEN
        );
    }

    #[test]
    fn doubles_match_std_formatting_of_exact_values() {
        // Rust's `{:.7}` also prints the exact binary value rounded half to even.
        let mut buf = Fixed7Buffer::new();
        for x in [
            0.0,
            -0.0,
            1.0,
            0.5,
            0.000_000_05,
            0.000_000_15,
            0.000_000_25,
            0.00390625,
            123.456_789_012_345,
            -99.999_999_99,
            1e15,
            9.007_199_254_740_993e15,
            1.8446744073709552e19,
            1.6777215e21,
            1e300,
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            assert_eq!(buf.format_f64(x), format!("{x:.7}"), "{x:e}");
        }
        assert_eq!(
            buf.format_f64(f64::MAX).len(),
            Fixed7Buffer::MAX_STR_LEN - 1
        );
        assert_eq!(buf.format_f64(f64::NAN), "nan");
        assert_eq!(buf.format_f64(-f64::NAN), "-nan");
        assert_eq!(buf.format_f64(f64::NEG_INFINITY), "-inf");
    }
}
