//! The exporter's time window and its reduction to one value per dimension.
//!
//! Each export run covers `(after, before]` in wall-clock seconds. For every chart,
//! [`align`] turns that into a span of whole ring points, exactly as netdata does:
//! step back two intervals (late collectors get time to store their point), align down to
//! the chart's grid, leave out the newest point (it is exported next time), and clamp to
//! what the ring holds. Consecutive runs then cover consecutive points, each exactly once.
//!
//! [`reduce`] reads the span's slots and sums the stored samples **exactly** (storage
//! numbers are decimals with at most seven fractional digits). The average is that sum
//! divided by the sample count, rounded once, half to even, to the seven decimals every
//! format prints. netdata does the same in x87 `long double` and prints with `%0.7Lf`; in
//! the rare cases where its rounding errors change the seventh decimal, backhaul's text is
//! the one nearer to the true average.

use crate::decimal::{Decimal, SCALE};
use crate::ring::RingState;
use crate::storage_number::StorageNumber;

/// A window of ring points, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Window {
    /// The aligned and clamped start. It may be one interval before the first point
    /// actually read, when clamped to [`RingState::first_time`].
    pub first_timestamp: i64,
    /// The aligned and clamped end: the timestamp every format puts on the wire.
    pub last_timestamp: i64,
}

/// Why a dimension has no value for a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Missing {
    /// The window lies entirely before the oldest or after the newest point (or the ring
    /// holds nothing at all).
    Outside,
    /// The window overlaps the ring but every slot in it is empty.
    NoValues,
    /// The exact sum does not fit 128 bits (needs more than about 17 billion slots of the
    /// largest storage number); never happens with a real ring.
    Overflow,
}

impl core::fmt::Display for Missing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Outside => "the window is outside the stored data",
            Self::NoValues => "no stored sample in the window",
            Self::Overflow => "the sum over the window does not fit 128 bits",
        })
    }
}

impl core::error::Error for Missing {}

/// How a window is reduced to one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reduce {
    /// The mean of the stored samples (netdata's `average`).
    Average,
    /// Their sum (netdata's `sum`, alias `volume`).
    Sum,
}

/// Aligns the export span `(after, before]` to the points of a chart's ring.
///
/// # Errors
///
/// [`Missing::Outside`] when, after alignment and clamping, the window lies entirely
/// before the oldest point or after the newest one, or the ring is unusable (no slots or
/// a zero interval).
///
/// # Examples
///
/// ```
/// use backhaul_core::ring::RingState;
/// use backhaul_core::window::{align, Missing, Window};
///
/// let ring = RingState::new(100, 1, 5000, 0, 1_609_459_199);
/// let w = align(&ring, 1_609_459_190, 1_609_459_200).unwrap();
/// assert_eq!(w, Window { first_timestamp: 1_609_459_188, last_timestamp: 1_609_459_197 });
/// assert_eq!(align(&ring, 1_609_460_000, 1_609_460_010), Err(Missing::Outside));
/// ```
pub fn align(ring: &RingState, after: i64, before: i64) -> Result<Window, Missing> {
    if !ring.is_usable() {
        return Err(Missing::Outside);
    }
    let u = i64::from(ring.update_every());
    let step_back = |t: i64| {
        let t = t.saturating_sub(2 * u);
        // C's `%` truncates toward zero, like Rust's.
        t - t % u
    };
    let mut a = step_back(after);
    let mut b = step_back(before).saturating_sub(u);
    if a > b {
        a = b;
    }
    let (first_t, last_t) = (ring.first_time(), ring.last_time());
    if a < first_t {
        a = first_t;
    }
    if b > last_t {
        b = last_t;
    }
    if b < first_t || a > last_t {
        return Err(Missing::Outside);
    }
    Ok(Window {
        first_timestamp: a,
        last_timestamp: b,
    })
}

/// The exact sum of a window's stored samples and how many there were.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reduction {
    positive: u128,
    negative: u128,
    overflow: bool,
    /// Slots read (empty ones included).
    pub slots_visited: usize,
    /// Slots that held a sample (any flag bit set).
    pub samples: usize,
}

impl Reduction {
    /// The exact sum, in 10^-7 units. An all-zero or cancelling sum is `+0`, as netdata's
    /// sum starts at `+0`.
    ///
    /// # Errors
    ///
    /// [`Missing::NoValues`] if no slot held a sample, [`Missing::Overflow`] if the sum
    /// does not fit.
    pub fn sum(&self) -> Result<Decimal, Missing> {
        if self.overflow {
            return Err(Missing::Overflow);
        }
        if self.samples == 0 {
            return Err(Missing::NoValues);
        }
        Ok(if self.positive >= self.negative {
            Decimal::from_units(false, self.positive - self.negative)
        } else {
            Decimal::from_units(true, self.negative - self.positive)
        })
    }

    /// The exact mean rounded half to even to seven decimals. A negative mean that
    /// rounds to zero keeps its sign (`-0.0000000`, as `%0.7Lf` prints it).
    ///
    /// # Errors
    ///
    /// As [`sum`](Self::sum).
    pub fn average(&self) -> Result<Decimal, Missing> {
        let sum = self.sum()?;
        Decimal::from_ratio(sum.is_sign_negative(), sum.units(), self.samples as u128)
            .ok_or(Missing::NoValues)
    }

    /// The value the exporter sends for this reduction.
    ///
    /// # Errors
    ///
    /// As [`sum`](Self::sum).
    pub fn value(&self, how: Reduce) -> Result<Decimal, Missing> {
        match how {
            Reduce::Average => self.average(),
            Reduce::Sum => self.sum(),
        }
    }
}

/// Reads a window's slots from one dimension's values and sums its samples exactly.
///
/// `values` is the dimension's slice of the ring described by `ring`; if it is shorter
/// than `ring.entries()` (a caller bug), missing slots read as empty instead of
/// panicking.
#[must_use]
pub fn reduce(values: &[StorageNumber], ring: &RingState, window: &Window) -> Reduction {
    let (mut positive, mut negative, mut overflow) = (0u128, 0u128, false);
    let (mut slots_visited, mut samples) = (0, 0);
    // The slots of `ring.slots(first, last)`: from the first slot forward, wrapping, up to
    // and including the last; read here as one or two runs of `values`.
    if ring.is_usable() {
        let first = ring.time_to_slot(window.first_timestamp);
        let last = ring.time_to_slot(window.last_timestamp);
        let runs = if first <= last {
            [first..last + 1, 0..0]
        } else {
            [first..ring.entries(), 0..last + 1]
        };
        for run in runs {
            slots_visited += run.len();
            // Slots past the end of `values` read as empty.
            let end = run.end.min(values.len());
            let present = values.get(run.start.min(end)..end).unwrap_or(&[]);
            // Terms below 2^64 (almost all) are summed without overflow checks, 2^16 of
            // them at most (below 2^80) before they join the exact sums; the others join
            // at once.
            for chunk in present.chunks(1 << 16) {
                let (mut small_positive, mut small_negative) = (0u128, 0u128);
                for &sn in chunk {
                    if !sn.exists() {
                        continue;
                    }
                    samples += 1;
                    if let Some(units) = sn.small_units() {
                        if sn.is_sign_negative() {
                            small_negative += u128::from(units);
                        } else {
                            small_positive += u128::from(units);
                        }
                    } else {
                        let d = sn.unpack();
                        let sum = if d.is_sign_negative() {
                            &mut negative
                        } else {
                            &mut positive
                        };
                        overflow |= add_exact(sum, d.units());
                    }
                }
                overflow |= add_exact(&mut positive, small_positive);
                overflow |= add_exact(&mut negative, small_negative);
            }
        }
    }
    Reduction {
        positive,
        negative,
        overflow,
        slots_visited,
        samples,
    }
}

/// Adds `term` to `sum` if the result fits; returns whether it did not (the sum is then
/// left as it was).
fn add_exact(sum: &mut u128, term: u128) -> bool {
    match sum.checked_add(term) {
        Some(v) => {
            *sum = v;
            false
        }
        None => true,
    }
}

/// [`align`] and [`reduce`] in one step: the value netdata's exporter computes for one
/// dimension, with the window it belongs to.
///
/// # Errors
///
/// [`Missing`] says why there is no value (netdata's NaN cases).
pub fn value(
    values: &[StorageNumber],
    ring: &RingState,
    after: i64,
    before: i64,
    how: Reduce,
) -> Result<(Decimal, Window), Missing> {
    let window = align(ring, after, before)?;
    let value = reduce(values, ring, &window).value(how)?;
    Ok((value, window))
}

const _: () = assert!(SCALE == 10_000_000);

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::storage_number::SN_EXISTS;
    use std::string::ToString;
    use std::vec::Vec;

    fn words(w: &[u32]) -> Vec<StorageNumber> {
        w.iter().copied().map(StorageNumber::from_bits).collect()
    }

    #[test]
    fn spec_first_example() {
        let mut v = [0x3998_9680u32; 10];
        v[0] = 0x2919_999a;
        v[1] = 0x0100_0000;
        v[2] = 0;
        let values = words(&v);
        let ring = RingState::new(10, 1, 25, 5, 1000);
        let window = align(&ring, 990, 1000).unwrap();
        assert_eq!((window.first_timestamp, window.last_timestamp), (990, 997));
        let r = reduce(&values, &ring, &window);
        assert_eq!((r.slots_visited, r.samples), (7, 7));
        assert_eq!(r.average().unwrap().to_string(), "3.1110314");
        assert_eq!(r.sum().unwrap().to_string(), "21.7772200");
    }

    #[test]
    fn exporter_slower_than_chart_repeats_the_point() {
        let values = words(&[SN_EXISTS | 0x3998_9680; 100]);
        let ring = RingState::new(100, 10, 5000, 0, 1_609_459_190);
        let (_, w1) = value(
            &values,
            &ring,
            1_609_459_195,
            1_609_459_205,
            Reduce::Average,
        )
        .unwrap();
        let (_, w2) = value(
            &values,
            &ring,
            1_609_459_205,
            1_609_459_215,
            Reduce::Average,
        )
        .unwrap();
        assert_eq!(
            (w1.first_timestamp, w1.last_timestamp),
            (1_609_459_170, 1_609_459_170)
        );
        assert_eq!(
            (w2.first_timestamp, w2.last_timestamp),
            (1_609_459_180, 1_609_459_180)
        );
    }

    #[test]
    fn missing_values() {
        let values = words(&[0; 10]);
        let ring = RingState::new(10, 1, 25, 5, 1000);
        assert_eq!(
            value(&values, &ring, 1100, 1200, Reduce::Sum),
            Err(Missing::Outside)
        );
        assert_eq!(
            value(&values, &ring, 990, 1000, Reduce::Sum),
            Err(Missing::NoValues)
        );
        // A slice shorter than the ring reads as empty, never panics.
        assert_eq!(
            value(&values[..2], &ring, 990, 1000, Reduce::Sum),
            Err(Missing::NoValues)
        );
    }

    #[test]
    fn negative_averages_that_round_to_zero_keep_their_sign() {
        // -1e-7, 0, 0: the mean is -3.3e-8.
        let values = words(&[0xb900_0001, 0x0100_0000, 0x0100_0000]);
        let ring = RingState::new(3, 1, 3, 0, 102);
        let r = reduce(
            &values,
            &ring,
            &Window {
                first_timestamp: 100,
                last_timestamp: 102,
            },
        );
        assert_eq!(r.average().unwrap().to_string(), "-0.0000000");
        // A sum that cancels is +0.
        let values = words(&[0xb900_0001, 0x3900_0001, 0x0100_0000]);
        let r = reduce(
            &values,
            &ring,
            &Window {
                first_timestamp: 100,
                last_timestamp: 102,
            },
        );
        assert_eq!(r.sum().unwrap().to_string(), "0.0000000");
    }

    #[test]
    fn extreme_times_never_panic() {
        let ring = RingState::new(5, 7, 3, 3, i64::MIN + 3);
        let _ = align(&ring, i64::MIN, i64::MAX);
        let _ = align(&ring, i64::MAX, i64::MIN);
        let ring = RingState::new(5, u32::MAX, u64::MAX, 4, i64::MAX);
        let _ = align(&ring, i64::MIN, i64::MAX);
    }
}
