//! A software model of the x87 80-bit "extended precision" float.
//!
//! netdata computes every derived value (rates, averages, unpacked samples, the storage
//! number encoder's intermediate steps) in C `long double`, which on x86-64 is the x87
//! extended format: a 64-bit significand with an explicit integer bit, rounded to nearest
//! with ties to even after **every** operation. Reproducing netdata's storage-number words
//! bit for bit needs exactly that rounding; plain `f64` arithmetic encodes about 0.14% of
//! inputs differently.
//!
//! [`Extended`] is that format for finite values, in integers only (no FPU, no `unsafe`), so
//! it also runs on microcontrollers without floating-point hardware. It has no subnormals
//! and no overflow: its exponent is an `i32`, far wider than the x87's 15 bits, which is
//! indistinguishable for every magnitude netdata's values can take. NaN and infinities are
//! not values of this type; conversions from `f64` report them as `None`.

use core::cmp::Ordering;

/// A finite x87 extended-precision value: `(-1)^negative × significand × 2^exponent`,
/// with a 64-bit significand that is either zero or has its top bit set.
///
/// Every arithmetic method rounds its exact result once to 64 significant bits, ties to
/// even, exactly as an x87 FPU in its default precision and rounding mode does.
///
/// # Examples
///
/// ```
/// use backhaul_core::extended::Extended;
///
/// let third = Extended::from_u64(1) / Extended::from_u64(3);
/// // 1/3 in 64 bits is not 1/3 in 53 bits:
/// assert_ne!(Extended::from_f64(1.0 / 3.0), Some(third));
/// assert_eq!(third.to_f64(), 1.0 / 3.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Extended {
    negative: bool,
    significand: u64,
    exponent: i32,
}

const TOP: u64 = 1 << 63;

impl Extended {
    /// Positive zero.
    pub const ZERO: Self = Self {
        negative: false,
        significand: 0,
        exponent: 0,
    };

    /// Builds a value from its parts, rounding nothing: `significand × 2^exponent`,
    /// normalised. Zero significands give a zero of the given sign.
    #[must_use]
    pub const fn from_parts(negative: bool, significand: u64, exponent: i32) -> Self {
        if significand == 0 {
            return Self {
                negative,
                significand: 0,
                exponent: 0,
            };
        }
        let lz = significand.leading_zeros();
        Self {
            negative,
            significand: significand << lz,
            exponent: exponent.saturating_sub(lz as i32),
        }
    }

    /// The exact value of an `f64`, or `None` for NaN and infinities.
    #[must_use]
    pub const fn from_f64(value: f64) -> Option<Self> {
        let bits = value.to_bits();
        let negative = bits >> 63 != 0;
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        match biased {
            0x7ff => None,
            0 => Some(Self::from_parts(negative, fraction, -1074)),
            _ => Some(Self::from_parts(
                negative,
                fraction | 1 << 52,
                biased - 1075,
            )),
        }
    }

    /// The exact value of an unsigned integer (every `u64` fits in 64 bits).
    #[must_use]
    pub const fn from_u64(value: u64) -> Self {
        Self::from_parts(false, value, 0)
    }

    /// The exact value of a signed integer.
    #[must_use]
    pub const fn from_i64(value: i64) -> Self {
        Self::from_parts(value < 0, value.unsigned_abs(), 0)
    }

    /// Whether the sign bit is set (true for negative values and for `-0`).
    #[must_use]
    pub const fn is_sign_negative(self) -> bool {
        self.negative
    }

    /// Whether the value is zero (of either sign).
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.significand == 0
    }

    /// The significand (zero, or with its top bit set) and the binary exponent:
    /// `|self| = significand × 2^exponent`.
    #[must_use]
    pub const fn to_parts(self) -> (u64, i32) {
        (self.significand, self.exponent)
    }

    /// The absolute value.
    #[must_use]
    pub const fn abs(self) -> Self {
        Self {
            negative: false,
            ..self
        }
    }

    /// The value with its sign flipped (zero becomes `-0` and back).
    #[must_use]
    pub const fn negate(self) -> Self {
        Self {
            negative: !self.negative,
            ..self
        }
    }

    /// Rounds an exact magnitude `mag × 2^exp` (plus a nonzero tail below `mag`'s lowest
    /// bit when `sticky`) to 64 bits, ties to even.
    fn round(negative: bool, mag: u128, exp: i32, sticky: bool) -> Self {
        if mag == 0 {
            // A zero magnitude with a sticky tail cannot arise: callers keep enough bits.
            return Self {
                negative,
                significand: 0,
                exponent: 0,
            };
        }
        let lz = mag.leading_zeros();
        let mag = mag << lz;
        let exp = exp.saturating_sub(lz as i32);
        let mut significand = (mag >> 64) as u64;
        let low = mag as u64;
        let mut exponent = exp.saturating_add(64);
        let round_up = match low.cmp(&TOP) {
            Ordering::Greater => true,
            Ordering::Equal => sticky || significand & 1 == 1,
            Ordering::Less => false,
        };
        if round_up {
            significand = significand.wrapping_add(1);
            if significand == 0 {
                significand = TOP;
                exponent = exponent.saturating_add(1);
            }
        }
        Self {
            negative,
            significand,
            exponent,
        }
    }

    /// `self × rhs`, rounded once (also available as `*`).
    #[must_use]
    pub fn mul_rounded(self, rhs: Self) -> Self {
        let negative = self.negative != rhs.negative;
        let mag = u128::from(self.significand) * u128::from(rhs.significand);
        Self::round(
            negative,
            mag,
            self.exponent.saturating_add(rhs.exponent),
            false,
        )
    }

    /// `self ÷ rhs`, rounded once. Division by zero gives zero (x87 would give an
    /// infinity, which this type does not represent); callers that can divide by zero
    /// must check first.
    ///
    /// Also available as `/`.
    #[must_use]
    pub fn div_rounded(self, rhs: Self) -> Self {
        let negative = self.negative != rhs.negative;
        if rhs.significand == 0 || self.significand == 0 {
            return Self {
                negative,
                significand: 0,
                exponent: 0,
            };
        }
        // Long division in base 2^64, three digits: q0 ∈ {0, 1}, then two full digits.
        let a = u128::from(self.significand);
        let b = u128::from(rhs.significand);
        let (q0, r0) = (a / b, a % b);
        let n1 = r0 << 64;
        let (q1, r1) = (n1 / b, n1 % b);
        let n2 = r1 << 64;
        let (q2, r2) = (n2 / b, n2 % b);
        // quotient = q0 + q1·2^-64 + q2·2^-128 (+ a tail iff r2 ≠ 0); keep 127 bits of it.
        let (mag, sticky) = if q0 == 1 {
            ((1 << 127) | (q1 << 63) | (q2 >> 1), q2 & 1 != 0 || r2 != 0)
        } else {
            ((q1 << 64) | q2, r2 != 0)
        };
        let shift = if q0 == 1 { 127 } else { 128 };
        let exp = self
            .exponent
            .saturating_sub(rhs.exponent)
            .saturating_sub(shift);
        Self::round(negative, mag, exp, sticky)
    }

    /// `self + rhs`, rounded once. An exact zero sum is `+0`, as in the default rounding
    /// mode (`-0 + -0` stays `-0`). Also available as `+`.
    #[must_use]
    pub fn add_rounded(self, rhs: Self) -> Self {
        if rhs.significand == 0 {
            if self.significand == 0 {
                return Self {
                    negative: self.negative && rhs.negative,
                    significand: 0,
                    exponent: 0,
                };
            }
            return self;
        }
        if self.significand == 0 {
            return rhs;
        }
        // Order by magnitude so that `big` ≥ `small`.
        let (big, small) = if (self.exponent, self.significand) >= (rhs.exponent, rhs.significand) {
            (self, rhs)
        } else {
            (rhs, self)
        };
        // Place the big significand at bits 126..63 of a u128: 63 guard bits below it.
        let big_mag = u128::from(big.significand) << 63;
        let gap = big.exponent.abs_diff(small.exponent);
        let small_full = u128::from(small.significand) << 63;
        let (small_mag, sticky) = if gap >= 127 {
            (0, true)
        } else {
            let kept = small_full >> gap;
            (kept, kept << gap != small_full)
        };
        let exp = big.exponent.saturating_sub(63);
        if big.negative == small.negative {
            // Jam the sticky bit into the lowest position: 63 guard bits make that exact
            // enough for a correct rounding to 64 bits.
            Self::round(big.negative, big_mag + small_mag, exp, sticky)
        } else {
            // big ≥ small, so the difference is non-negative. A sticky tail of `small`
            // lowers the true difference slightly: borrow one unit and keep a tail.
            let diff = big_mag - small_mag;
            if diff == 0 && !sticky {
                return Self::ZERO;
            }
            if sticky {
                Self::round(big.negative, diff - 1, exp, true)
            } else {
                Self::round(big.negative, diff, exp, false)
            }
        }
    }

    /// `self − rhs`, rounded once (also available as `-`).
    #[must_use]
    pub fn sub_rounded(self, rhs: Self) -> Self {
        self.add_rounded(rhs.negate())
    }

    /// `self ÷ divisor` for a small positive integer, rounded once (the encoder's
    /// `÷ 10`, `÷ 100` and `÷ 10^7` steps).
    #[must_use]
    pub fn div_u64(self, divisor: u64) -> Self {
        self.div_rounded(Self::from_u64(divisor))
    }

    /// `self × factor` for a small integer, rounded once.
    #[must_use]
    pub fn mul_u64(self, factor: u64) -> Self {
        self.mul_rounded(Self::from_u64(factor))
    }

    /// Compares two values numerically (`-0 == +0`).
    #[must_use]
    pub fn total_cmp_value(self, rhs: Self) -> Ordering {
        let sign = |x: Self| {
            if x.significand == 0 {
                0
            } else if x.negative {
                -1
            } else {
                1
            }
        };
        let (sa, sb) = (sign(self), sign(rhs));
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let mag = (self.exponent, self.significand).cmp(&(rhs.exponent, rhs.significand));
        if sa < 0 {
            mag.reverse()
        } else {
            mag
        }
    }

    /// Rounds to the nearest `f64`, ties to even (C's conversion of `long double` to
    /// `double`), including the step into subnormals; magnitudes beyond `f64::MAX` become
    /// infinities.
    #[must_use]
    pub fn to_f64(self) -> f64 {
        let sign = if self.negative { -1.0 } else { 1.0 };
        if self.significand == 0 {
            return sign * 0.0;
        }
        // Exponent of the leading bit.
        let top = self.exponent.saturating_add(63);
        if top > 1023 {
            return sign * f64::INFINITY;
        }
        // Where the lowest kept bit sits: 2^(top-52) when normal, 2^-1074 when subnormal.
        let unit = if top >= -1022 { top - 52 } else { -1074 };
        let drop = unit - self.exponent; // bits of the significand to drop (≥ 11)
        let (kept, round_up) = if drop >= 65 {
            // Below half a unit: rounds to zero.
            (0, false)
        } else if drop == 64 {
            // Only the rounding bit survives: more than half a unit rounds up, a tie
            // goes to the even zero.
            (0, self.significand > TOP)
        } else {
            let d = drop as u32;
            let kept = self.significand >> d;
            let rest = self.significand & ((1u64 << d) - 1);
            let half = 1u64 << (d - 1);
            let up = rest > half || (rest == half && kept & 1 == 1);
            (kept, up)
        };
        let kept = kept + u64::from(round_up);
        // `kept` now counts units of 2^unit: assemble the bit pattern directly.
        let bits = if top >= -1022 {
            // Normal: kept is in [2^52, 2^53]; 2^53 means the rounding carried.
            let (kept, top) = if kept >> 53 != 0 {
                (kept >> 1, top + 1)
            } else {
                (kept, top)
            };
            if top > 1023 {
                return sign * f64::INFINITY;
            }
            ((top + 1023) as u64) << 52 | (kept & ((1 << 52) - 1))
        } else {
            // Subnormal: kept < 2^52, or exactly 2^52 when rounding reached the smallest
            // normal, whose bit pattern is the same integer.
            kept
        };
        let magnitude = f64::from_bits(bits);
        if self.negative {
            -magnitude
        } else {
            magnitude
        }
    }
}

macro_rules! rounded_operator {
    ($trait:ident, $method:ident, $inherent:ident) => {
        impl core::ops::$trait for Extended {
            type Output = Self;

            fn $method(self, rhs: Self) -> Self {
                self.$inherent(rhs)
            }
        }
    };
}

rounded_operator!(Add, add, add_rounded);
rounded_operator!(Sub, sub, sub_rounded);
rounded_operator!(Mul, mul, mul_rounded);
rounded_operator!(Div, div, div_rounded);

impl core::ops::Neg for Extended {
    type Output = Self;

    fn neg(self) -> Self {
        self.negate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(x: f64) -> Extended {
        Extended::from_f64(x).unwrap()
    }

    #[test]
    fn round_trips_doubles() {
        for x in [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -2.5e-320,
            123_456.789,
        ] {
            let y = e(x).to_f64();
            assert_eq!(y.to_bits(), x.to_bits(), "{x}");
        }
        assert_eq!(Extended::from_f64(f64::NAN), None);
        assert_eq!(Extended::from_f64(f64::INFINITY), None);
    }

    #[test]
    fn exact_small_integer_arithmetic() {
        let a = Extended::from_u64(16_777_215);
        assert_eq!(a.mul_u64(10).to_f64(), 167_772_150.0);
        assert_eq!(a.div_u64(5).to_f64(), 3_355_443.0);
        assert_eq!((a + Extended::from_u64(1)).to_f64(), 16_777_216.0);
        assert_eq!(a - a, Extended::ZERO);
        assert_eq!(Extended::from_i64(-3).to_f64(), -3.0);
        assert_eq!(
            Extended::from_i64(i64::MIN).to_f64(),
            -9.223_372_036_854_776e18
        );
    }

    #[test]
    fn one_tenth_has_64_bits() {
        // 0x1.999999999999999ap-4 rounded to 64 bits: 0xcccccccccccccccd × 2^-67.
        let tenth = Extended::from_u64(1).div_u64(10);
        assert_eq!(tenth.to_parts(), (0xcccc_cccc_cccc_cccd, -67));
        // Its double is the usual 0.1.
        assert_eq!(tenth.to_f64(), 0.1);
    }

    #[test]
    fn ties_round_to_even() {
        // 2^64 + 1 is a tie between 2^64 and 2^64 + 2 at 64 bits: stays 2^64.
        let big = Extended::from_u64(u64::MAX) + Extended::from_u64(2);
        assert_eq!(big.to_parts(), (TOP, 1));
        // 2^64 + 3 is a tie between 2^64 + 2 and 2^64 + 4: goes to + 4.
        let big = Extended::from_u64(u64::MAX) + Extended::from_u64(4);
        assert_eq!(big.to_parts(), (TOP + 2, 1));
    }

    #[test]
    fn subtraction_with_a_sticky_tail() {
        // 2^64 − 2^-100: the exact result is just below 2^64 and rounds to it.
        let a = Extended::from_parts(false, 1, 64);
        let b = Extended::from_parts(false, 1, -100);
        assert_eq!(a - b, a);
        // 2^64 − 1 − 2^-100 rounds to 2^64 − 1 (exactly representable neighbour).
        let c = Extended::from_u64(u64::MAX);
        assert_eq!(a - Extended::from_u64(1) - b, c);
    }

    #[test]
    fn double_rounding_to_f64_is_ties_even() {
        // 1 + 2^-53 is a tie at 53 bits: rounds to 1.
        let x = Extended::from_parts(false, TOP | 1 << 10, -63);
        assert_eq!(x.to_f64(), 1.0);
        // 1 + 3·2^-53 is a tie too: rounds up to 1 + 2^-51.
        let x = Extended::from_parts(false, TOP | 3 << 10, -63);
        assert_eq!(x.to_f64(), 1.0 + 2f64.powi(-51));
        // Just above the tie rounds up.
        let x = Extended::from_parts(false, TOP | 1 << 10 | 1, -63);
        assert_eq!(x.to_f64(), 1.0 + 2f64.powi(-52));
    }

    #[test]
    fn comparison() {
        assert_eq!(e(-0.0).total_cmp_value(e(0.0)), Ordering::Equal);
        assert_eq!(e(-2.0).total_cmp_value(e(-1.0)), Ordering::Less);
        assert_eq!(e(3.0).total_cmp_value(e(2.5)), Ordering::Greater);
    }
}
