//! Exact decimals with seven fractional digits.
//!
//! Every value a storage number can hold is an exact multiple of 10^-7 (its mantissa
//! times a power of ten between 10^-7 and 100^7), and every value the exporters print is
//! shown with exactly seven decimals. So the core represents stored values, their sums and
//! their averages as an integer count of 10^-7 units: sums are exact, an average is the
//! exact quotient rounded **once**, half to even, and printing needs no floating point at
//! all. netdata instead sums and divides in x87 `long double` and prints with
//! `%0.7Lf`; the two agree except where netdata's rounding errors cross a rounding
//! boundary, and there backhaul's text is the one nearer to the true value.

use core::cmp::Ordering;
use core::fmt;

/// The number of 10^-7 units in one.
pub const SCALE: u128 = 10_000_000;

/// An exact decimal `±units × 10^-7`.
///
/// The sign is kept separately from the magnitude so that negative zero exists: netdata
/// prints `-0.0000000` for a stored `-0` and for a negative value that rounds to zero, and
/// backhaul reproduces that text.
///
/// # Examples
///
/// ```
/// use backhaul_core::decimal::Decimal;
///
/// let d = Decimal::from_units(true, 425_000_000);
/// assert_eq!(d.to_f64(), -42.5);
/// assert_eq!(Decimal::from_i64(3).units(), 30_000_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Decimal {
    negative: bool,
    units: u128,
}

impl Decimal {
    /// Positive zero.
    pub const ZERO: Self = Self {
        negative: false,
        units: 0,
    };

    /// The value `±units × 10^-7`. `negative` with zero units is `-0`.
    #[must_use]
    pub const fn from_units(negative: bool, units: u128) -> Self {
        Self { negative, units }
    }

    /// The exact value of an integer.
    #[must_use]
    pub const fn from_i64(value: i64) -> Self {
        Self {
            negative: value < 0,
            units: value.unsigned_abs() as u128 * SCALE,
        }
    }

    /// The magnitude in 10^-7 units.
    #[must_use]
    pub const fn units(self) -> u128 {
        self.units
    }

    /// Whether the sign is negative (also for `-0`).
    #[must_use]
    pub const fn is_sign_negative(self) -> bool {
        self.negative
    }

    /// Whether the value is zero, of either sign.
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.units == 0
    }

    /// The value as a signed count of 10^-7 units, if it fits an `i128` (every value a
    /// storage number can hold does: at most 1.6777215e28 units).
    #[must_use]
    pub const fn signed_units(self) -> Option<i128> {
        if self.units > i128::MAX as u128 {
            return None;
        }
        let u = self.units as i128;
        Some(if self.negative { -u } else { u })
    }

    /// The exact quotient `±numerator / denominator` (both in 10^-7 units, so the result
    /// is `numerator / denominator` units) rounded half to even to a whole unit, i.e. to
    /// seven decimals. The sign is kept even when the result rounds to zero, as C's
    /// `printf` keeps it. A zero denominator gives `None`.
    #[must_use]
    pub const fn from_ratio(negative: bool, numerator: u128, denominator: u128) -> Option<Self> {
        if denominator == 0 {
            return None;
        }
        if numerator <= u64::MAX as u128 && denominator <= u64::MAX as u128 {
            // The same in 64 bits, which is one division instead of a 128-bit one.
            let (n, d) = (numerator as u64, denominator as u64);
            let (q, r) = (n / d, n % d);
            let up = if r > d - r {
                true
            } else if r == d - r {
                q & 1 == 1
            } else {
                false
            };
            // Rounding up needs r > 0, so d ≥ 2 and q + 1 ≤ n / 2 + 1 fits.
            return Some(Self {
                negative,
                units: (q + up as u64) as u128,
            });
        }
        let q = numerator / denominator;
        let r = numerator % denominator;
        // Compare 2r with the denominator without overflowing: r < denominator.
        let up = if r > denominator - r {
            true
        } else if r == denominator - r {
            q & 1 == 1
        } else {
            false
        };
        Some(Self {
            negative,
            units: q + up as u128,
        })
    }

    /// Numerical comparison (`-0 == +0`).
    #[must_use]
    pub fn cmp_value(self, other: Self) -> Ordering {
        let key = |d: Self| -> (i8, u128) {
            if d.units == 0 {
                (0, 0)
            } else if d.negative {
                (-1, u128::MAX - d.units)
            } else {
                (1, d.units)
            }
        };
        key(self).cmp(&key(other))
    }

    /// The nearest `f64`, ties to even (a correctly rounded conversion).
    #[must_use]
    #[inline]
    pub fn to_f64(self) -> f64 {
        let magnitude = if self.units <= 1 << 53 {
            // Both operands are exact doubles, so IEEE division rounds the quotient
            // correctly (ties to even): the same double as the exact path below.
            self.units as u64 as f64 / SCALE as f64
        } else {
            ratio_to_f64(self.units, SCALE)
        };
        if self.negative {
            -magnitude
        } else {
            magnitude
        }
    }
}

impl fmt::Display for Decimal {
    /// Writes the value with exactly seven decimals, as C's `%0.7Lf` would.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = crate::number::DecimalBuffer::new();
        f.write_str(buf.format(*self))
    }
}

/// `numerator / denominator` correctly rounded to an `f64` (ties to even), for
/// `denominator ≤ 2^24`. Results are far from the subnormal and overflow ranges for every
/// decimal this module holds, so only normal doubles are produced.
fn ratio_to_f64(numerator: u128, denominator: u128) -> f64 {
    if numerator == 0 || denominator == 0 {
        return 0.0;
    }
    // Scale the numerator so the quotient has at least 55 significant bits.
    let bits = 128 - numerator.leading_zeros();
    let shift = 103u32.saturating_sub(bits);
    let scaled = numerator << shift;
    let q = scaled / denominator;
    let sticky = !scaled.is_multiple_of(denominator);
    // value = q × 2^-shift (+ tail). Round q to 53 significant bits.
    let q_bits = 128 - q.leading_zeros();
    let drop = q_bits - 53;
    let kept = q >> drop;
    let rest = q & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    let up = rest > half || (rest == half && (sticky || kept & 1 == 1));
    let mut kept = kept as u64 + u64::from(up);
    // exponent of the leading bit of the result
    let mut top = q_bits as i32 - 1 - shift as i32;
    if kept >> 53 != 0 {
        kept >>= 1;
        top += 1;
    }
    if top > 1023 {
        return f64::INFINITY;
    }
    let biased = (top + 1023) as u64;
    f64::from_bits(biased << 52 | (kept & ((1 << 52) - 1)))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn small_values_convert_like_the_exact_path() {
        // Below 2^53 units `to_f64` divides two doubles; the exact path must agree.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let units = match i % 4 {
                0 => x >> 11,
                1 => x >> (11 + (i % 50)),
                2 => (1 << 53) - (x % 1000),
                _ => x % 100_000_000,
            };
            let d = Decimal::from_units(i % 3 == 0, u128::from(units));
            let exact = ratio_to_f64(u128::from(units), SCALE);
            let exact = if d.is_sign_negative() { -exact } else { exact };
            assert_eq!(d.to_f64().to_bits(), exact.to_bits(), "{units}");
        }
    }

    #[test]
    fn ratio_rounds_half_to_even() {
        assert_eq!(Decimal::from_ratio(false, 5, 2).unwrap().units(), 2);
        assert_eq!(Decimal::from_ratio(false, 7, 2).unwrap().units(), 4);
        assert_eq!(Decimal::from_ratio(false, 7, 3).unwrap().units(), 2);
        assert_eq!(Decimal::from_ratio(false, 8, 3).unwrap().units(), 3);
        assert_eq!(Decimal::from_ratio(false, 1, 0), None);
        let neg_zero = Decimal::from_ratio(true, 1, 3).unwrap();
        assert!(neg_zero.is_zero() && neg_zero.is_sign_negative());
        assert_eq!(neg_zero.to_string(), "-0.0000000");
    }

    #[test]
    fn conversion_to_f64_is_correctly_rounded() {
        for units in [
            1u128,
            3,
            10_000_000,
            167_772_150_000_000,
            12_345_679_000_000_000_000,
            16_777_215 * 100u128.pow(7) * SCALE,
            99_999_999,
            314_159_265,
        ] {
            let want: f64 = Decimal::from_units(false, units)
                .to_string()
                .parse()
                .unwrap();
            assert_eq!(Decimal::from_units(false, units).to_f64(), want, "{units}");
        }
        assert_eq!(
            Decimal::from_units(true, 0).to_f64().to_bits(),
            (-0.0f64).to_bits()
        );
    }

    #[test]
    fn compares_by_value() {
        let a = Decimal::from_i64(-2);
        let b = Decimal::from_units(true, 0);
        let c = Decimal::ZERO;
        assert_eq!(a.cmp_value(b), Ordering::Less);
        assert_eq!(b.cmp_value(c), Ordering::Equal);
        assert_eq!(
            Decimal::from_i64(5).cmp_value(Decimal::from_i64(4)),
            Ordering::Greater
        );
    }
}
