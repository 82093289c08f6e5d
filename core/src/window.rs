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
    Span::from_window(ring, *window).reduce(values)
}

/// A window aligned to one ring, with the slots it reads: what every dimension of a
/// chart shares. [`Span::new`] does the work of [`align`] and of finding the slots once
/// per chart; [`Span::reduce`] and [`Span::value`] then read one dimension's values, with
/// exactly the results of [`reduce`] and [`value`].
///
/// # Examples
///
/// ```
/// use backhaul_core::ring::RingState;
/// use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
/// use backhaul_core::window::{self, Reduce, Span};
///
/// let ring = RingState::new(100, 1, 5000, 0, 1_609_459_199);
/// let values = [StorageNumber::pack(1.5, SN_EXISTS); 100];
/// let span = Span::new(&ring, 1_609_459_190, 1_609_459_200)?;
/// let (average, w) = window::value(&values, &ring, 1_609_459_190, 1_609_459_200, Reduce::Average)?;
/// assert_eq!(span.value(&values, Reduce::Average)?, average);
/// assert_eq!(span.window(), w);
/// # Ok::<(), backhaul_core::window::Missing>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Span {
    window: Window,
    /// The slots, as one or two runs of the ring: `first..end`, then `0..wrapped`.
    first: usize,
    end: usize,
    wrapped: usize,
}

impl Span {
    /// The span of `(after, before]` on `ring` (see [`align`]).
    ///
    /// # Errors
    ///
    /// As [`align`].
    pub fn new(ring: &RingState, after: i64, before: i64) -> Result<Self, Missing> {
        Ok(Self::from_window(ring, align(ring, after, before)?))
    }

    /// The slots of `window` on `ring`: from the window's first slot forward, wrapping,
    /// up to and including its last ([`RingState::slots`]); none for an unusable ring.
    #[must_use]
    pub const fn from_window(ring: &RingState, window: Window) -> Self {
        if !ring.is_usable() {
            return Self {
                window,
                first: 0,
                end: 0,
                wrapped: 0,
            };
        }
        let first = ring.time_to_slot(window.first_timestamp);
        let last = ring.time_to_slot(window.last_timestamp);
        let (end, wrapped) = if first <= last {
            (last + 1, 0)
        } else {
            (ring.entries(), last + 1)
        };
        Self {
            window,
            first,
            end,
            wrapped,
        }
    }

    /// The aligned window.
    #[must_use]
    pub const fn window(&self) -> Window {
        self.window
    }

    /// The exact sum of the samples of `values` (one dimension's slice of the ring) in
    /// the span, as [`reduce`].
    #[must_use]
    pub fn reduce(&self, values: &[StorageNumber]) -> Reduction {
        let mut sums = Sums::default();
        for run in [self.first..self.end, 0..self.wrapped] {
            sums.slots_visited += run.len();
            // Slots past the end of `values` read as empty.
            let end = run.end.min(values.len());
            sums.add(values.get(run.start.min(end)..end).unwrap_or(&[]));
        }
        sums.finish()
    }

    /// The value of `values` in the span, as [`value`] computes it.
    ///
    /// # Errors
    ///
    /// [`Missing`] says why there is no value.
    #[inline]
    pub fn value(&self, values: &[StorageNumber], how: Reduce) -> Result<Decimal, Missing> {
        // The usual span is a few slots of small terms: summed in one batch, then
        // divided, without the general reduction's bookkeeping (same result).
        if self.end - self.first + self.wrapped <= 1 << 16 {
            let first = slots_of(values, self.first, self.end);
            let second = slots_of(values, 0, self.wrapped);
            let (sum, kinds) = batch_sum(first, second);
            if kinds >> 32 == 0 {
                let samples = kinds & 0xffff_ffff;
                if samples == 0 {
                    return Err(Missing::NoValues);
                }
                let (negative, units) = (sum < 0, sum.unsigned_abs());
                return match how {
                    Reduce::Sum => Ok(Decimal::from_units(negative, units)),
                    Reduce::Average => Decimal::from_ratio(negative, units, u128::from(samples))
                        .ok_or(Missing::NoValues),
                };
            }
        }
        self.reduce(values).value(how)
    }
}

/// `values[start..end]`, cut to what `values` has (slots past its end read as empty).
#[inline(always)]
fn slots_of(values: &[StorageNumber], start: usize, end: usize) -> &[StorageNumber] {
    let end = end.min(values.len());
    values.get(start.min(end)..end).unwrap_or(&[])
}

/// The sum of the fast-path terms of the samples of `first` and `second` (together at
/// most 2^16 slots, so below 2^79), and their [`SAMPLE_KINDS`] added up.
#[inline(always)]
fn batch_sum(first: &[StorageNumber], second: &[StorageNumber]) -> (i128, u64) {
    let mut sum = 0i128;
    let mut kinds = 0u64;
    for run in [first, second] {
        for &sn in run {
            let bits = sn.to_bits();
            let top = (bits >> 24) as usize;
            kinds += SAMPLE_KINDS[top];
            sum += i128::from(i64::from(bits & 0x00ff_ffff) * SIGNED_STEPS[top]);
        }
    }
    (sum, kinds)
}

/// Per storage-number word's top byte (flags, factor, exponent, direction, sign): the
/// signed multiple of 10^-7 its 24-bit mantissa stands for when the product fits an
/// `i64`, else 0 (and so for an empty slot).
const SIGNED_STEPS: [i64; 256] = {
    let mut steps = [0i64; 256];
    let mut i = 0;
    while i < 256 {
        let word = (i as u32) << 24;
        let sn = StorageNumber::from_bits(word | 1);
        if sn.exists() {
            if let Some(step) = sn.small_units() {
                // small_units of mantissa 1 is the step itself.
                if step < 1 << 39 {
                    let step = step as i64;
                    steps[i] = if word & 0x8000_0000 != 0 { -step } else { step };
                }
            }
        }
        i += 1;
    }
    steps
};

/// Per top byte: 1 for a sample whose term [`SIGNED_STEPS`] gives, `1 << 32` for a sample
/// that needs the exact path, 0 for an empty slot.
const SAMPLE_KINDS: [u64; 256] = {
    let mut kinds = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let sn = StorageNumber::from_bits((i as u32) << 24 | 1);
        if sn.exists() {
            kinds[i] = if SIGNED_STEPS[i] != 0 { 1 } else { 1 << 32 };
        }
        i += 1;
    }
    kinds
};

// The products of the fast path fit an i64: 24-bit mantissas times steps below 2^39.
const _: () = {
    let mut i = 0;
    while i < 256 {
        assert!(SIGNED_STEPS[i].unsigned_abs() < 1 << 39);
        i += 1;
    }
};

/// The running exact sums of a reduction.
#[derive(Default)]
struct Sums {
    positive: u128,
    negative: u128,
    overflow: bool,
    slots_visited: usize,
    samples: usize,
}

impl Sums {
    /// Adds the samples of `slots`. Most terms are a table lookup and a multiply, summed
    /// without overflow checks in batches of 2^16 (below 2^79 each); the rest (mantissas
    /// multiplied by 10^5 and more) are added exactly by a second pass.
    #[inline]
    fn add(&mut self, slots: &[StorageNumber]) {
        for chunk in slots.chunks(1 << 16) {
            let (sum, kinds) = batch_sum(chunk, &[]);
            let (small, large) = ((kinds & 0xffff_ffff) as usize, (kinds >> 32) as usize);
            self.samples += small + large;
            if sum >= 0 {
                self.overflow |= add_exact(&mut self.positive, sum.unsigned_abs());
            } else {
                self.overflow |= add_exact(&mut self.negative, sum.unsigned_abs());
            }
            if large > 0 {
                self.add_large(chunk);
            }
        }
    }

    /// The exact terms of the samples the fast path left out.
    #[cold]
    #[inline(never)]
    fn add_large(&mut self, chunk: &[StorageNumber]) {
        for &sn in chunk {
            if SAMPLE_KINDS[(sn.to_bits() >> 24) as usize] >> 32 == 0 {
                continue;
            }
            let d = sn.unpack();
            let sum = if d.is_sign_negative() {
                &mut self.negative
            } else {
                &mut self.positive
            };
            self.overflow |= add_exact(sum, d.units());
        }
    }

    fn finish(self) -> Reduction {
        Reduction {
            positive: self.positive,
            negative: self.negative,
            overflow: self.overflow,
            slots_visited: self.slots_visited,
            samples: self.samples,
        }
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
    let span = Span::new(ring, after, before)?;
    Ok((span.value(values, how)?, span.window()))
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
