//! Base-128 varints: protobuf's integer encoding, also the length prefix of a snappy block.
//!
//! A varint stores an unsigned integer seven bits per byte, least significant group first;
//! the high bit of each byte says whether another byte follows. A `u64` takes 1 to
//! [`MAX_VARINT_LEN`] bytes. Protobuf's `int64` is the two's-complement `u64` of the value,
//! so every negative number takes the full ten bytes.

use crate::format::BufferFull;

/// The longest varint of a `u64`: ten bytes.
pub const MAX_VARINT_LEN: usize = 10;

/// The number of bytes [`write_varint`] writes for `value`: 1 to [`MAX_VARINT_LEN`].
///
/// # Examples
///
/// ```
/// use backhaul_core::format::remote_write::varint::sizeof_varint;
///
/// assert_eq!(sizeof_varint(0), 1);
/// assert_eq!(sizeof_varint(127), 1);
/// assert_eq!(sizeof_varint(128), 2);
/// assert_eq!(sizeof_varint(u64::MAX), 10);
/// ```
#[must_use]
pub const fn sizeof_varint(value: u64) -> usize {
    if value < 0x80 {
        return 1; // the usual case for lengths
    }
    // Significant bits (at least one, so that zero takes one byte), seven per byte.
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// The size of a protobuf `int64` field value: negative numbers take ten bytes.
#[must_use]
pub const fn sizeof_varint_i64(value: i64) -> usize {
    sizeof_varint(value as u64)
}

/// Writes `value` as a varint at the start of `out` and returns its length.
///
/// # Errors
///
/// [`BufferFull`] if `out` is shorter than [`sizeof_varint`]`(value)`; `out` is then left
/// untouched.
///
/// # Examples
///
/// ```
/// use backhaul_core::format::remote_write::varint::write_varint;
///
/// let mut out = [0u8; 10];
/// assert_eq!(write_varint(300, &mut out), Ok(2));
/// assert_eq!(&out[..2], &[0xac, 0x02]);
/// assert!(write_varint(300, &mut out[..1]).is_err());
/// ```
pub fn write_varint(value: u64, out: &mut [u8]) -> Result<usize, BufferFull> {
    let len = sizeof_varint(value);
    let dst = out.get_mut(..len).ok_or(BufferFull)?;
    fill_varint(value, dst);
    Ok(len)
}

/// Writes the groups of `value` into `dst`, which must be exactly `sizeof_varint(value)`
/// bytes long (a shorter one receives a prefix).
pub(crate) fn fill_varint(value: u64, dst: &mut [u8]) {
    let mut rest = value;
    let last = dst.len().saturating_sub(1);
    for (i, byte) in dst.iter_mut().enumerate() {
        let group = (rest & 0x7f) as u8;
        rest >>= 7;
        *byte = if i == last { group } else { group | 0x80 };
    }
}

/// Reads a varint from the start of `input`: the value and the number of bytes it took.
///
/// Non-minimal encodings (extra `0x80` groups) are accepted, as protobuf decoders accept
/// them. Returns `None` when `input` ends inside the varint, or when it is longer than ten
/// bytes or its value does not fit in a `u64`.
///
/// # Examples
///
/// ```
/// use backhaul_core::format::remote_write::varint::read_varint;
///
/// assert_eq!(read_varint(&[0xac, 0x02, 0xff]), Some((300, 2)));
/// assert_eq!(read_varint(&[0x80]), None);
/// ```
#[must_use]
pub fn read_varint(input: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in input.iter().take(MAX_VARINT_LEN).enumerate() {
        let group = u64::from(byte & 0x7f);
        // The tenth byte holds only the top bit of a u64.
        if i == MAX_VARINT_LEN - 1 && group > 1 {
            return None;
        }
        value |= group << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! varint_cases {
        ($($name:ident: $value:expr => [$($byte:expr),*];)*) => {$(
            #[test]
            fn $name() {
                const EXPECTED: &[u8] = &[$($byte),*];
                let mut out = [0u8; MAX_VARINT_LEN];
                let n = write_varint($value, &mut out).unwrap();
                assert_eq!(&out[..n], EXPECTED);
                assert_eq!(sizeof_varint($value), EXPECTED.len());
                assert_eq!(read_varint(EXPECTED), Some(($value, EXPECTED.len())));
            }
        )*};
    }

    varint_cases! {
        zero: 0 => [0x00];
        one: 1 => [0x01];
        max_one_byte: 127 => [0x7f];
        min_two_bytes: 128 => [0x80, 0x01];
        three_hundred: 300 => [0xac, 0x02];
        max_two_bytes: 16_383 => [0xff, 0x7f];
        min_three_bytes: 16_384 => [0x80, 0x80, 0x01];
        timestamp: 1_609_459_200_123 => [0xfb, 0xe0, 0xf9, 0xd9, 0xeb, 0x2e];
        minus_one: u64::MAX => [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        min_ten_bytes: 1 << 63 => [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    }

    #[test]
    fn sizes_at_every_group_boundary() {
        for groups in 1..MAX_VARINT_LEN {
            let first_longer = 1u64 << (7 * groups);
            assert_eq!(sizeof_varint(first_longer - 1), groups);
            assert_eq!(sizeof_varint(first_longer), groups + 1);
        }
        assert_eq!(sizeof_varint_i64(-1), 10);
        assert_eq!(sizeof_varint_i64(i64::MIN), 10);
        assert_eq!(sizeof_varint_i64(i64::MAX), 9);
    }

    #[test]
    fn full_buffer_is_untouched() {
        let mut out = [0x55u8; 5];
        assert_eq!(write_varint(u64::MAX, &mut out), Err(BufferFull));
        assert_eq!(out, [0x55; 5]);
        assert_eq!(write_varint(0, &mut []), Err(BufferFull));
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert_eq!(read_varint(&[]), None);
        assert_eq!(read_varint(&[0xff, 0xff]), None);
        // Eleven bytes, or a tenth byte with more than the top bit.
        assert_eq!(read_varint(&[0x80; 11]), None);
        let mut ten = [0xffu8; 10];
        ten[9] = 0x02;
        assert_eq!(read_varint(&ten), None);
        // A non-minimal zero is accepted.
        assert_eq!(read_varint(&[0x80, 0x00]), Some((0, 2)));
    }
}
