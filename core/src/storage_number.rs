//! netdata's 32-bit "storage number": one stored sample of the round-robin database.
//!
//! Layout (bit 0 is the least significant):
//!
//! | bits | meaning |
//! | --- | --- |
//! | 31 | sign: 1 = negative |
//! | 30 | direction: 1 = unpack multiplies the mantissa by `factor^m`, 0 = divides by `10^m` |
//! | 29..27 | `m`, 0..=7 |
//! | 26 | [`SN_EXISTS_100`]: the factor of the multiply direction is 100 instead of 10 |
//! | 25 | [`SN_EXISTS_RESET`]: the sample follows a counter reset |
//! | 24 | [`SN_EXISTS`]: the sample exists |
//! | 23..0 | mantissa, 0..=16,777,215 |
//!
//! [`StorageNumber::pack`] is bit-exact with netdata's default x86-64 build, which does
//! its steps in x87 `long double`; it emulates them with [`Extended`]. Unpacking is exact:
//! a storage number *is* a decimal with at most seven fractional digits, so
//! [`StorageNumber::unpack`] returns a [`Decimal`] with no rounding at all, and
//! [`StorageNumber::to_f64`] is correctly rounded (netdata's repeated `long double`
//! divisions differ from that in a handful of words).

use crate::decimal::{Decimal, SCALE};
use crate::extended::Extended;

/// The sample exists (bit 24).
pub const SN_EXISTS: u32 = 0x0100_0000;
/// The sample follows a counter reset or overflow (bit 25). netdata writes it *instead
/// of* [`SN_EXISTS`] on the first point after a reset.
pub const SN_EXISTS_RESET: u32 = 0x0200_0000;
/// The multiply direction uses a factor of 100 (bit 26). Also counts as "exists".
pub const SN_EXISTS_100: u32 = 0x0400_0000;
/// All three flag bits.
pub const SN_FLAGS: u32 = SN_EXISTS | SN_EXISTS_RESET | SN_EXISTS_100;
/// An empty slot: no value was stored.
pub const SN_EMPTY_SLOT: u32 = 0;

const SIGN: u32 = 0x8000_0000;
const MULTIPLY: u32 = 0x4000_0000;
const M_SHIFT: u32 = 27;
const MANTISSA: u32 = 0x00FF_FFFF;
/// The largest mantissa.
const MANTISSA_MAX: u64 = 16_777_215;
/// The encoder keeps multiplying by ten while the value is below this.
const GROW_LIMIT: u64 = 1_677_726;
/// The largest magnitude: 16,777,215 × 100^7.
pub const MAX_MAGNITUDE: f64 = 1.677_721_5e21;

const _: () = assert!(size_of::<StorageNumber>() == 4);

/// The 10^-7 units of one mantissa step when unpack divides by 10^m: 10^(7 − m).
const DIVIDE_UNITS: [u64; 8] = {
    let mut units = [0u64; 8];
    let mut m = 0;
    while m < 8 {
        units[m] = 10u64.pow(7 - m as u32);
        m += 1;
    }
    units
};

/// The 10^-7 units of one mantissa step for bits 26..=30 of a word (the factor bit, m
/// and the direction bit), or 0 when a mantissa times it could pass 2^64 (a step above
/// 2^40).
const SMALL_UNITS: [u64; 32] = {
    let mut steps = [0u64; 32];
    let mut i = 0;
    while i < 32 {
        let hundred = i & 1 != 0;
        let m = (i >> 1) & 7;
        let step = if i & 0x10 == 0 {
            DIVIDE_UNITS[m]
        } else if hundred {
            let units = MULTIPLY_100_UNITS[m];
            if units <= 1 << 40 {
                units as u64
            } else {
                0
            }
        } else {
            let units = MULTIPLY_10_UNITS[m];
            if units <= 1 << 40 {
                units as u64
            } else {
                0
            }
        };
        steps[i] = step;
        i += 1;
    }
    steps
};

// The mantissa has 24 bits, so a step up to 2^40 keeps the product below 2^64.
const _: () = assert!(MANTISSA as u64 * (1 << 40) < u64::MAX);

/// The 10^-7 units of one mantissa step when unpack multiplies by 10^m: 10^m × 10^7.
const MULTIPLY_10_UNITS: [u128; 8] = multiply_units(10);

/// The 10^-7 units of one mantissa step when unpack multiplies by 100^m: 100^m × 10^7.
const MULTIPLY_100_UNITS: [u128; 8] = multiply_units(100);

const fn multiply_units(factor: u128) -> [u128; 8] {
    let mut units = [0u128; 8];
    let mut m = 0;
    while m < 8 {
        units[m] = factor.pow(m as u32) * SCALE;
        m += 1;
    }
    units
}

/// One stored sample, as netdata stores it: a `u32` word.
///
/// # Examples
///
/// ```
/// use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
///
/// let sn = StorageNumber::pack(16.777218, SN_EXISTS);
/// assert_eq!(sn.to_bits(), 0x2919_999a);
/// assert!(sn.exists());
/// assert_eq!(sn.unpack().to_string(), "16.7772200");
/// assert_eq!(sn.to_f64(), 16.77722);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(transparent)]
pub struct StorageNumber(u32);

impl StorageNumber {
    /// The empty slot.
    pub const EMPTY: Self = Self(SN_EMPTY_SLOT);

    /// Wraps a raw word.
    #[must_use]
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The raw word.
    #[must_use]
    pub const fn to_bits(self) -> u32 {
        self.0
    }

    /// The flag bits (24, 25 and 26).
    #[must_use]
    pub const fn flags(self) -> u32 {
        self.0 & SN_FLAGS
    }

    /// Whether a sample is stored here: any of the three flag bits is set. (Bit 26 alone
    /// counts, and a reset sample carries bit 25 without bit 24.)
    #[must_use]
    pub const fn exists(self) -> bool {
        self.flags() != 0
    }

    /// Whether this sample follows a counter reset: the flags are exactly
    /// [`SN_EXISTS_RESET`] (a reset sample that also needed bit 26 does not report it).
    #[must_use]
    pub const fn did_reset(self) -> bool {
        self.flags() == SN_EXISTS_RESET
    }

    /// Encodes `value` with `flags` (only bits 24..=26 are used), bit-exact with netdata.
    ///
    /// Zero (of either sign) gives the bare flags; NaN does too (as netdata's x86-64 build
    /// does); infinities and magnitudes above [`MAX_MAGNITUDE`] saturate; magnitudes below
    /// about 5e-8 become zero with the sign kept.
    #[must_use]
    pub fn pack(value: f64, flags: u32) -> Self {
        let flags = flags & SN_FLAGS;
        match Extended::from_f64(value) {
            Some(x) => Self::pack_extended(x, flags),
            None if value.is_nan() => Self(flags),
            None => {
                // ±∞: the ×100 path, seven divisions leave ∞, the mantissa saturates.
                let sign = if value < 0.0 { SIGN } else { 0 };
                Self(sign | flags | SN_EXISTS_100 | MULTIPLY | 7 << M_SHIFT | MANTISSA)
            }
        }
    }

    /// Encodes an extended-precision value (netdata's `calculated_number`), bit-exact with
    /// netdata: every step is one rounded x87 operation.
    #[must_use]
    pub fn pack_extended(value: Extended, flags: u32) -> Self {
        let mut r = flags & SN_FLAGS;
        if value.is_zero() {
            return Self(r);
        }
        if value.is_sign_negative() {
            r += SIGN;
        }
        let mut n = value.abs();
        let mantissa_max = Extended::from_u64(MANTISSA_MAX);
        let above_max = |n: Extended| n.total_cmp_value(mantissa_max).is_gt();
        let mut factor = 10;
        if above_max(n.div_u64(10_000_000)) {
            factor = 100;
            r |= SN_EXISTS_100;
        }
        let mut m = 0u32;
        while m < 7 && above_max(n) {
            n = n.div_u64(factor);
            m += 1;
        }
        if m > 0 {
            r += MULTIPLY + (m << M_SHIFT);
            if above_max(n) {
                return Self(r + MANTISSA);
            }
        } else {
            let grow_limit = Extended::from_u64(GROW_LIMIT);
            while m < 7 && n.total_cmp_value(grow_limit).is_lt() {
                n = n.mul_u64(10);
                m += 1;
            }
            if above_max(n) {
                n = n.div_u64(10);
                m -= 1;
            }
            r += m << M_SHIFT;
        }
        // C rounds the long double to a double, then lrint() rounds that to an integer,
        // both ties to even. The mantissa is at most 16,777,215 here, so it never carries.
        Self(r + round_half_even_to_u32(n.to_f64()))
    }

    /// The exact value of the word. Any word unpacks, whatever its flags; a zero mantissa
    /// with the sign bit set is `-0`.
    #[must_use]
    pub const fn unpack(self) -> Decimal {
        let word = self.0;
        if word == 0 {
            return Decimal::ZERO;
        }
        let negative = word & SIGN != 0;
        let m = ((word >> M_SHIFT) & 7) as usize;
        let mantissa = word & MANTISSA;
        let units = if word & MULTIPLY != 0 {
            // mantissa × factor^m × 10^7
            let unit = if word & SN_EXISTS_100 != 0 {
                MULTIPLY_100_UNITS[m]
            } else {
                MULTIPLY_10_UNITS[m]
            };
            mantissa as u128 * unit
        } else {
            // Unpack divides by 10^m (the factor is not used in this direction):
            // mantissa × 10^(7 − m), below 2^48.
            (mantissa as u64 * DIVIDE_UNITS[m]) as u128
        };
        Decimal::from_units(negative, units)
    }

    /// The magnitude of [`unpack`](Self::unpack) in 10^-7 units when it is below 2^64:
    /// always when unpack divides, and when it multiplies by at most 10^5 or 100^2.
    /// `None` otherwise (use [`unpack`](Self::unpack)).
    pub(crate) const fn small_units(self) -> Option<u64> {
        // Indexed by bits 26..=30: the factor bit, m, and the direction bit.
        let step = SMALL_UNITS[((self.0 >> 26) & 0x1f) as usize];
        if step == 0 {
            return None;
        }
        Some((self.0 & MANTISSA) as u64 * step)
    }

    /// Whether the sign bit is set (also for a zero mantissa, which unpacks to `-0`).
    #[cfg(test)]
    pub(crate) const fn is_sign_negative(self) -> bool {
        self.0 & SIGN != 0
    }

    /// The value as the nearest `f64` (correctly rounded).
    #[must_use]
    pub fn to_f64(self) -> f64 {
        self.unpack().to_f64()
    }
}

impl From<StorageNumber> for u32 {
    fn from(sn: StorageNumber) -> Self {
        sn.0
    }
}

impl From<u32> for StorageNumber {
    fn from(bits: u32) -> Self {
        Self(bits)
    }
}

/// `lrint()` of a non-negative double below 2^24 (plus rounding slack), in the default
/// rounding mode: nearest, ties to even.
fn round_half_even_to_u32(x: f64) -> u32 {
    let Some(e) = Extended::from_f64(x) else {
        return 0;
    };
    let (significand, exponent) = e.to_parts();
    if significand == 0 {
        return 0;
    }
    if exponent >= 0 {
        // Only reachable for values ≥ 2^63, which the encoder never produces.
        return MANTISSA;
    }
    let shift = exponent.unsigned_abs();
    match shift {
        // Below one half: rounds to zero.
        65.. => 0,
        // In [1/2, 1): above one half rounds up, exactly one half goes to the even zero.
        64 => u32::from(significand > 1 << 63),
        _ => {
            let whole = significand >> shift;
            let rest = significand & ((1u64 << shift) - 1);
            let half = 1u64 << (shift - 1);
            let up = rest > half || (rest == half && whole & 1 == 1);
            (whole + u64::from(up)) as u32
        }
    }
}

#[cfg(test)]
mod small_units_tests {
    use super::*;

    #[test]
    fn small_units_are_unpack_when_they_fit() {
        // Every direction, factor and exponent, with small and large mantissas and signs.
        for high in 0..64u32 {
            for mantissa in [0, 1, 9, 12_345, 1_677_721, MANTISSA - 1, MANTISSA] {
                let word = high << 26 | mantissa;
                let sn = StorageNumber::from_bits(word);
                let exact = sn.unpack();
                match sn.small_units() {
                    Some(units) => assert_eq!(u128::from(units), exact.units(), "{word:#x}"),
                    None => assert!(word & MULTIPLY != 0, "{word:#x}"),
                }
                assert_eq!(sn.is_sign_negative(), exact.is_sign_negative() && word != 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    macro_rules! pack_cases {
        ($($name:ident: $value:expr, $flags:expr => $word:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(StorageNumber::pack($value, $flags).to_bits(), $word);
            }
        )*};
    }

    pack_cases! {
        one: 1.0, SN_EXISTS => 0x3998_9680;
        divide_m5: 16.777218, SN_EXISTS => 0x2919_999a;
        negative: -42.5, SN_EXISTS => 0xa940_d990;
        half: 0.5, SN_EXISTS => 0x394c_4b40;
        hundred: 100.0, SN_EXISTS => 0x2998_9680;
        mantissa_max: 16_777_215.0, SN_EXISTS => 0x01ff_ffff;
        multiply_m1: 16_777_216.0, SN_EXISTS => 0x4919_999a;
        multiply_m4: 123_456_789_012.0, SN_EXISTS => 0x61bc_614f;
        multiply_m7: 1e14, SN_EXISTS => 0x7998_9680;
        factor_100: 167_772_160_000_000.0, SN_EXISTS => 0x6519_999a;
        factor_100_m5: 2e15, SN_EXISTS => 0x6d03_0d40;
        tiny: 5e-8, SN_EXISTS => 0x3900_0000;
        zero: 0.0, SN_EXISTS => 0x0100_0000;
        negative_zero: -0.0, SN_EXISTS => 0x0100_0000;
        nan: f64::NAN, SN_EXISTS => 0x0100_0000;
        infinity: f64::INFINITY, SN_EXISTS => 0x7dff_ffff;
        negative_infinity: f64::NEG_INFINITY, SN_EXISTS => 0xfdff_ffff;
        divide_back: 1_677_725.5, SN_EXISTS => 0x0119_999e;
        tie_down: 1_677_726.5, SN_EXISTS => 0x0119_999e;
        tie_up: 1_677_727.5, SN_EXISTS => 0x0119_99a0;
        long_double_differs_from_double: 31.931625, SN_EXISTS => 0x2930_b94a;
        reset_flag: 1.0, SN_EXISTS_RESET => 0x3a98_9680;
        ignores_other_bits: 1.0, 0xffff_ffff => 0x3f98_9680;
    }

    #[test]
    fn flags() {
        let sn = StorageNumber::pack(1.0, SN_EXISTS_RESET);
        assert!(sn.exists() && sn.did_reset());
        assert!(!StorageNumber::EMPTY.exists());
        assert!(StorageNumber::from_bits(SN_EXISTS_100).exists());
        assert!(!StorageNumber::from_bits(SN_EXISTS_RESET | SN_EXISTS_100).did_reset());
    }

    #[test]
    fn unpack_is_exact() {
        let sn = StorageNumber::from_bits(0x7dff_ffff);
        assert_eq!(sn.unpack().to_string(), "1677721500000000000000.0000000");
        assert_eq!(sn.to_f64(), 1.677_721_5e21);
        let neg_zero = StorageNumber::from_bits(0xb900_0000);
        assert_eq!(neg_zero.unpack().to_string(), "-0.0000000");
        assert_eq!(
            StorageNumber::from_bits(0x3900_0001).unpack().to_string(),
            "0.0000001"
        );
        assert_eq!(StorageNumber::from_bits(0).unpack(), Decimal::ZERO);
    }

    #[test]
    fn lrint_ties_to_even() {
        assert_eq!(round_half_even_to_u32(2.5), 2);
        assert_eq!(round_half_even_to_u32(3.5), 4);
        assert_eq!(round_half_even_to_u32(0.5), 0);
        assert_eq!(round_half_even_to_u32(0.75), 1);
        assert_eq!(round_half_even_to_u32(0.25), 0);
        assert_eq!(round_half_even_to_u32(16_777_215.0), 16_777_215);
        assert_eq!(round_half_even_to_u32(0.0), 0);
    }
}
