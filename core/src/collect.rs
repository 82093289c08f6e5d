//! The collection step: from raw collected values to stored points in the rings.
//!
//! A collector hands over one raw integer per dimension and then closes the collection;
//! netdata calls that `rrdset_done`. This module is that step, sans-I/O (spec §2.2–§2.3):
//! per dimension it turns the raw value into a *calculated* value (by the dimension's
//! [`Algorithm`], multiplier and divisor, in x87 extended precision like netdata's
//! `long double`), then writes one point for every grid time of the chart that the
//! collection has passed, interpolating between collections, into the caller's rings.
//!
//! # Shape
//!
//! * [`ChartClock`] is the per-chart state: the [`RingState`] shared by the chart's
//!   dimensions, the time of the latest collection, the row totals of the percentage
//!   algorithms and the `gap when lost iterations above` setting.
//! * [`DimensionState`] is the per-dimension state: algorithm, multiplier, divisor, the
//!   value set for the current collection, the last collected value, and the carried
//!   calculated values.
//! * The storage stays with the caller: [`ChartClock::store_due_points`] takes a mutable
//!   slice of anything implementing [`DimensionRing`], which lends one dimension's state
//!   and its slice of storage numbers (`entries` long). Tuples
//!   `(DimensionState, &mut [StorageNumber])`, `(&mut DimensionState, &mut
//!   [StorageNumber])` and `(DimensionState, [StorageNumber; N])` implement it; a shell
//!   implements it for its own dimension type, so closing a collection never allocates.
//!   [`ChartClock::store_due_points_flat`] takes the rings of all the chart's dimensions
//!   in one slice instead, for a shell that keeps them in one allocation per chart.
//!
//! # One collection
//!
//! ```
//! use backhaul_core::collect::{Algorithm, ChartClock, DimensionState};
//! use backhaul_core::storage_number::StorageNumber;
//! use backhaul_core::time::Instant;
//!
//! let mut clock = ChartClock::new(60, 1);
//! let mut ring = [StorageNumber::EMPTY; 60];
//! let mut dims = [(DimensionState::new(Algorithm::Incremental, 8, 1000), &mut ring[..])];
//! let t0 = 1_600_000_000;
//! for (i, bytes) in [5_000, 6_000, 7_000].into_iter().enumerate() {
//!     dims[0].0.set(bytes);
//!     clock.store_due_points(&mut dims, Instant::from_secs(t0 + i as i64));
//! }
//! // The first collection only primes; the next two store 8 kilobits/s each.
//! assert_eq!(clock.ring().counter(), 2);
//! assert_eq!(dims[0].1[1].to_f64(), 8.0);
//! ```
//!
//! # What it reproduces
//!
//! * **Times.** The first collection of a chart (and the first after a reset) only primes
//!   it: its collection time becomes the start of its `update_every` interval plus half a
//!   second, the newest point time becomes the start of the interval, and nothing is
//!   stored. Every later collection at time `now` stores the grid times
//!   `last + U, last + 2U, … ≤ now`.
//! * **Calculated values**, in extended precision and in netdata's order of operations:
//!   absolute `v × m ÷ d`; incremental `(v − v₀) × m ÷ d`, split across the grid points
//!   crossed in proportion to time, the part after the last point carried to the next
//!   collection, each point divided by `update_every`; percentage of the row
//!   `100 × v ÷ Σv` (0 for a zero row); percentage of the incremental row
//!   `100 × (v − v₀) ÷ (Σv − Σv₀)` (0 for an unchanged row).
//! * **Counter resets.** An incremental value below the previous one (compared as
//!   unsigned 64-bit numbers) is an overflow when the wrap-around delta is below 10 % of
//!   the 32-bit range (or of the 64-bit range once any absolute value above `u32::MAX`
//!   was collected), and then counts that delta; otherwise it is a reset and counts 0. A
//!   percentage-of-incremental-row value below the previous one (signed) restarts at 0.
//!   Either way the first point stored by that collection carries
//!   [`SN_EXISTS_RESET`] instead of [`SN_EXISTS`] in every dimension of the chart. (If
//!   the collection stores no point, the flag is lost, as in netdata.)
//! * **Interpolation.** An absolute or percentage value at a grid time strictly between
//!   two collections is interpolated linearly between their calculated values; the last
//!   point a collection stores takes the current value itself, unless that collection
//!   fell exactly on a grid time, where netdata's iteration count makes it interpolate
//!   too (the same value, up to one rounding).
//! * **Empty slots** ([`SN_EMPTY_SLOT`](crate::storage_number::SN_EMPTY_SLOT)) for a
//!   dimension not collected this time, collected only once so far, or when the
//!   collection crossed `gap when lost iterations above + 2` grid times or more (counted
//!   as netdata counts them) for the points before that limit.
//! * **Chart resets.** When the previous collection, or the newest point, is more than
//!   `entries × update_every` seconds old, the ring and every dimension's collection
//!   count are reset and the collection primes the chart again; its dimensions then need
//!   two more collections before they store values, as in netdata.
//!
//! # Where it differs
//!
//! * **Time going backwards.** A collection whose time is earlier than the time passed
//!   with the previous one is ignored: the values set for it are discarded and nothing
//!   else changes ([`Done::Ignored`]). (netdata takes the absolute difference and moves
//!   its collection clock *forward*.) A clock stepped far back therefore pauses the chart
//!   until real time catches up with its previous collection.
//! * netdata records a dimension's collection time when the value is set; here it is the
//!   time passed to [`ChartClock::store_due_points`].
//! * The collection time is the time passed in, not the previous collection time plus a
//!   measured interval (which is the same thing for a steady clock).

use crate::extended::Extended;
use crate::ring::RingState;
use crate::storage_number::{StorageNumber, SN_EXISTS, SN_EXISTS_RESET};
use crate::time::Instant;

pub use crate::format::prometheus::Algorithm;

const USEC_PER_SEC: i64 = 1_000_000;

/// netdata's default `[global] gap when lost iterations above`.
pub const DEFAULT_GAP_WHEN_LOST_ITERATIONS_ABOVE: u32 = 1;

/// An incremental decrease counts as an overflow only if the wrapped delta is below this
/// percentage of the counter's range.
const MAX_INCREMENTAL_PERCENT_RATE: u64 = 10;

/// One dimension's collection state: how its raw values become calculated ones, and what
/// it carries from one collection to the next.
///
/// A daemon keeps one per metric (10,000 at its design load), so it is packed into 64
/// bytes: flags share one byte, an [`Extended`] is kept as its significand and exponent
/// with its sign among the flags, the collection count is 32 bits, and one slot holds the
/// raw value set for a collection until it is calculated, then the calculated value
/// until the collection is closed (netdata keeps both for the whole cycle; here the
/// calculated value is always `+0` between collections, see its private `work` method).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DimensionState {
    multiplier: i64,
    divisor: i64,
    /// The raw value of the latest completed collection.
    last_collected: i64,
    /// When the latest completed collection took place (µs), if [`COLLECTED_ONCE`].
    last_collected_at: i64,
    /// The significand of the calculated value carried to the next point (its sign is
    /// [`LAST_CALCULATED_NEGATIVE`]).
    last_calculated_significand: u64,
    /// The raw value set for the current collection (as `u64` bits), until
    /// [`calculate`](Self::calculate); then the significand of the calculated value
    /// (its sign is [`WORK_NEGATIVE`]) until [`finish`](Self::finish), which zeroes it.
    /// Zero is both "no value set" and `+0`.
    work_significand: u64,
    last_calculated_exponent: i32,
    work_exponent: i32,
    /// Completed collections that counted (netdata's `collections_counter`), saturating:
    /// 32 bits last 136 years at one collection a second.
    collections: u32,
    algorithm: Algorithm,
    /// [`UPDATED`], [`WIDE`], [`COLLECTED_ONCE`], [`WORK_NEGATIVE`],
    /// [`LAST_CALCULATED_NEGATIVE`].
    flags: u8,
}

// Pinned: a daemon holds one per metric (it was 104 bytes).
const _: () = assert!(size_of::<DimensionState>() <= 64);

/// A value was set for the current collection.
const UPDATED: u8 = 1;
/// A magnitude above `u32::MAX` was collected (netdata's `collected_value_max` above it):
/// counter overflows are then detected in the 64-bit range.
const WIDE: u8 = 1 << 1;
/// A collection completed: `last_collected_at` is meaningful.
const COLLECTED_ONCE: u8 = 1 << 2;
/// The sign of the calculated value in the work slot.
const WORK_NEGATIVE: u8 = 1 << 3;
/// The sign of `last_calculated`.
const LAST_CALCULATED_NEGATIVE: u8 = 1 << 4;

impl DimensionState {
    /// A dimension that was never collected. A multiplier or divisor of 0 is taken as 1,
    /// as netdata does.
    #[must_use]
    pub const fn new(algorithm: Algorithm, multiplier: i64, divisor: i64) -> Self {
        Self {
            multiplier: if multiplier == 0 { 1 } else { multiplier },
            divisor: if divisor == 0 { 1 } else { divisor },
            last_collected: 0,
            last_collected_at: 0,
            last_calculated_significand: 0,
            work_significand: 0,
            last_calculated_exponent: 0,
            work_exponent: 0,
            collections: 0,
            algorithm,
            flags: 0,
        }
    }

    /// Sets the raw value of the current collection (netdata's `rrddim_set`). Setting it
    /// twice before the collection is closed keeps the second value.
    pub fn set(&mut self, value: i64) {
        self.work_significand = value as u64;
        self.flags |= UPDATED;
    }

    /// Whether a value was set for the current collection.
    #[must_use]
    pub const fn is_updated(&self) -> bool {
        self.flags & UPDATED != 0
    }

    /// The algorithm.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The multiplier (never 0).
    #[must_use]
    pub const fn multiplier(&self) -> i64 {
        self.multiplier
    }

    /// The divisor (never 0).
    #[must_use]
    pub const fn divisor(&self) -> i64 {
        self.divisor
    }

    /// How many collections counted since the dimension was created or its chart reset
    /// (netdata's `collections_counter`; it stops at `u32::MAX`).
    #[must_use]
    pub const fn collections(&self) -> u64 {
        self.collections as u64
    }

    /// The raw value of the latest completed collection (0 before the first).
    #[must_use]
    pub const fn last_collected_value(&self) -> i64 {
        self.last_collected
    }

    /// When the latest completed collection took place, `None` before the first.
    #[must_use]
    pub const fn last_collected_time(&self) -> Option<Instant> {
        if self.flags & COLLECTED_ONCE != 0 {
            Some(Instant::from_micros(self.last_collected_at))
        } else {
            None
        }
    }

    /// The raw value set for the current collection (0 if none); only before
    /// [`calculate`](Self::calculate).
    const fn collected(&self) -> i64 {
        self.work_significand as i64
    }

    /// The calculated value of the current collection; only from
    /// [`calculate`](Self::calculate) to [`finish`](Self::finish).
    ///
    /// Both are the whole of the slot's use: `set` fills it, `calculate` turns it into
    /// the calculated value, `finish` and `discard` zero it. In netdata (and in this
    /// type before it was packed) the calculated value outlives the collection, but it
    /// is always `+0` by then: `finish` zeroes it, an uncollected dimension's is zeroed
    /// by `calculate` and an incremental one's stays `+0` through the points
    /// (`+0 − (±0) = +0`). So the next collection starts from `+0`, which
    /// `calculate` writes out.
    const fn work(&self) -> Extended {
        Extended::from_parts(
            self.flags & WORK_NEGATIVE != 0,
            self.work_significand,
            self.work_exponent,
        )
    }

    fn set_work(&mut self, value: Extended) {
        let (significand, exponent) = value.to_parts();
        self.work_significand = significand;
        self.work_exponent = exponent;
        self.set_flag(WORK_NEGATIVE, value.is_sign_negative());
    }

    const fn last_calculated(&self) -> Extended {
        Extended::from_parts(
            self.flags & LAST_CALCULATED_NEGATIVE != 0,
            self.last_calculated_significand,
            self.last_calculated_exponent,
        )
    }

    fn set_last_calculated(&mut self, value: Extended) {
        let (significand, exponent) = value.to_parts();
        self.last_calculated_significand = significand;
        self.last_calculated_exponent = exponent;
        self.set_flag(LAST_CALCULATED_NEGATIVE, value.is_sign_negative());
    }

    fn set_flag(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    /// Counts the collection when a value was set (before any reset zeroes the count).
    fn count_collection(&mut self) {
        if self.is_updated() {
            self.collections = self.collections.saturating_add(1);
            let collected = self.collected();
            // netdata's `collected_value_max` only ever matters compared with
            // `u32::MAX`; `i64::MIN` has no positive magnitude and never raised it.
            let magnitude = if collected >= 0 {
                collected
            } else {
                collected.wrapping_neg()
            };
            if magnitude > i64::from(u32::MAX) {
                self.flags |= WIDE;
            }
        }
    }

    /// Computes the calculated value of this collection into the work slot, and makes
    /// the raw value the last collected one; returns whether a counter reset or overflow
    /// was detected.
    fn calculate(&mut self, total: i64, last_total: i64) -> bool {
        if !self.is_updated() {
            self.set_work(Extended::ZERO);
            return false;
        }
        let collected = self.collected();
        let (calculated, reset) = self.calculated(collected, total, last_total);
        self.last_collected = collected;
        self.set_work(calculated);
        reset
    }

    /// The calculated value of `collected` and whether a counter reset or overflow was
    /// detected.
    fn calculated(&self, collected: i64, total: i64, last_total: i64) -> (Extended, bool) {
        let e = Extended::from_i64;
        let hundred = Extended::from_u64(100);
        // The calculated value carried from the previous collection: always +0 (see
        // `work`), kept in the sums to round exactly as netdata does (`+0 + −0` is +0).
        let carried = Extended::ZERO;
        match self.algorithm {
            Algorithm::Absolute => (e(collected) * e(self.multiplier) / e(self.divisor), false),
            Algorithm::PercentageOfAbsoluteRow => {
                let value = if total == 0 {
                    Extended::ZERO
                } else {
                    hundred * e(collected) / e(total)
                };
                (value, false)
            }
            Algorithm::Incremental => {
                if self.collections <= 1 {
                    return (Extended::ZERO, false);
                }
                let (last, new) = (self.last_collected as u64, collected as u64);
                if last > new {
                    let cap = if self.flags & WIDE != 0 {
                        u64::MAX
                    } else {
                        u64::from(u32::MAX)
                    };
                    let delta = cap.wrapping_sub(last).wrapping_add(new);
                    let value = if delta < (cap / 100) * MAX_INCREMENTAL_PERCENT_RATE {
                        carried + Extended::from_u64(delta) * e(self.multiplier) / e(self.divisor)
                    } else {
                        carried
                    };
                    (value, true)
                } else {
                    let delta = collected.wrapping_sub(self.last_collected);
                    (
                        carried + e(delta) * e(self.multiplier) / e(self.divisor),
                        false,
                    )
                }
            }
            Algorithm::PercentageOfIncrementalRow => {
                if self.collections <= 1 {
                    return (Extended::ZERO, false);
                }
                let reset = self.last_collected > collected;
                // After a decrease the row restarts from the new value: a delta of 0.
                let last = if reset {
                    collected
                } else {
                    self.last_collected
                };
                let value = if total == last_total {
                    Extended::ZERO
                } else {
                    let delta = collected.wrapping_sub(last);
                    hundred * e(delta) / e(total.wrapping_sub(last_total))
                };
                (value, reset)
            }
        }
    }

    /// The value of the grid point at `t` (µs) between the collections at `last` and
    /// `now` (µs, `last < t ≤ now`), `iterations` as netdata counts them.
    fn point_value(&mut self, t: i64, last: i64, now: i64, iterations: i64, u: u32) -> Extended {
        let part = Extended::from_i64(t.saturating_sub(last));
        let whole = Extended::from_i64(now.saturating_sub(last));
        let calculated = self.work();
        let last_calculated = self.last_calculated();
        if self.algorithm == Algorithm::Incremental {
            let share = calculated * part / whole;
            self.set_work(calculated - share);
            let value = share + last_calculated;
            self.set_last_calculated(Extended::ZERO);
            // netdata extrapolates when the point is closer than `update_every` to the
            // previous one; points here are always exactly `update_every` apart.
            value / Extended::from_u64(u64::from(u))
        } else if iterations == 1 {
            calculated
        } else {
            (calculated - last_calculated) * part / whole + last_calculated
        }
    }

    /// Ends the collection: the calculated value becomes the previous one (the raw value
    /// already became the last collected one in [`calculate`](Self::calculate)).
    fn finish(&mut self, first_entry: bool, now: Instant) {
        if !self.is_updated() {
            return;
        }
        self.last_collected_at = now.as_micros();
        self.flags |= COLLECTED_ONCE;
        if self.algorithm == Algorithm::Incremental {
            if !first_entry {
                self.set_last_calculated(self.last_calculated() + self.work());
            }
        } else {
            self.set_last_calculated(self.work());
        }
        self.discard();
    }

    /// Drops the value set (or calculated) for the collection.
    fn discard(&mut self) {
        self.set_work(Extended::ZERO);
        self.flags &= !UPDATED;
    }
}

impl AsMut<Self> for DimensionState {
    fn as_mut(&mut self) -> &mut Self {
        self
    }
}

/// Lends one dimension's state and its slice of the chart's ring to
/// [`ChartClock::store_due_points`].
///
/// The slice should be `entries` long (the chart's [`RingState::entries`]); a shorter
/// slice only loses the points whose slot it lacks, it never panics.
pub trait DimensionRing {
    /// The dimension's state and its storage numbers.
    fn parts(&mut self) -> (&mut DimensionState, &mut [StorageNumber]);
}

impl DimensionRing for (DimensionState, &mut [StorageNumber]) {
    fn parts(&mut self) -> (&mut DimensionState, &mut [StorageNumber]) {
        (&mut self.0, &mut *self.1)
    }
}

impl DimensionRing for (&mut DimensionState, &mut [StorageNumber]) {
    fn parts(&mut self) -> (&mut DimensionState, &mut [StorageNumber]) {
        (&mut *self.0, &mut *self.1)
    }
}

impl<const N: usize> DimensionRing for (DimensionState, [StorageNumber; N]) {
    fn parts(&mut self) -> (&mut DimensionState, &mut [StorageNumber]) {
        (&mut self.0, &mut self.1)
    }
}

/// A chart's dimensions as [`ChartClock`] walks them: in order, each with its state and
/// its slice of storage numbers. Two layouts implement it: a slice of [`DimensionRing`]s
/// (a ring per dimension) and [`Flat`] (one slice for all the rings).
trait Rows {
    /// Calls `f` with every dimension's state, in order.
    fn each_state(&mut self, f: impl FnMut(&mut DimensionState));
    /// Calls `f` with every dimension's state, in order, and writes the word it returns
    /// into that dimension's `slot` (nowhere if its slice is too short).
    fn store(&mut self, slot: usize, f: impl FnMut(&mut DimensionState) -> StorageNumber);
}

impl<D: DimensionRing> Rows for [D] {
    fn each_state(&mut self, mut f: impl FnMut(&mut DimensionState)) {
        for d in self.iter_mut() {
            f(d.parts().0);
        }
    }

    fn store(&mut self, slot: usize, mut f: impl FnMut(&mut DimensionState) -> StorageNumber) {
        for d in self.iter_mut() {
            let (state, values) = d.parts();
            let word = f(state);
            if let Some(v) = values.get_mut(slot) {
                *v = word;
            }
        }
    }
}

/// The dimensions of [`ChartClock::store_due_points_flat`]: dimension `i`'s ring is
/// `values[i × entries..(i + 1) × entries]`.
struct Flat<'a, S> {
    dims: &'a mut [S],
    values: &'a mut [StorageNumber],
    entries: usize,
}

impl<S: AsMut<DimensionState>> Rows for Flat<'_, S> {
    fn each_state(&mut self, mut f: impl FnMut(&mut DimensionState)) {
        for d in self.dims.iter_mut() {
            f(d.as_mut());
        }
    }

    fn store(&mut self, slot: usize, mut f: impl FnMut(&mut DimensionState) -> StorageNumber) {
        let mut rings = self.values.chunks_mut(self.entries.max(1));
        for d in self.dims.iter_mut() {
            let word = f(d.as_mut());
            if let Some(v) = rings.next().and_then(|ring| ring.get_mut(slot)) {
                *v = word;
            }
        }
    }
}

/// What one call of [`ChartClock::store_due_points`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Done {
    /// The chart's first collection: it only primed the chart; nothing was stored.
    Primed,
    /// A collection that stored `points` grid points (0 when it fell in the same
    /// interval as the previous one) in every dimension. `counter_reset`: a dimension
    /// detected a counter reset or overflow.
    Stored {
        /// Grid points written, each in every dimension.
        points: usize,
        /// A counter reset or overflow was detected in this collection.
        counter_reset: bool,
    },
    /// The chart had not been collected for longer than its ring covers (`idle_us`
    /// microseconds since its previous collection or newest point): its history and its
    /// dimensions' collection counts were reset, and this collection primed it again.
    Reset {
        /// How long the chart had not been updated, in microseconds.
        idle_us: i64,
    },
    /// The time was earlier than the previous collection: the collection was ignored and
    /// the values set for it discarded.
    Ignored,
}

/// One chart's collection clock and ring position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChartClock {
    ring: RingState,
    /// The chart's latest collection time (µs), if [`CLOCK_COLLECTED`].
    last_collected: i64,
    /// The time passed with the latest accepted collection (µs), if [`CLOCK_CALLED`].
    last_call: i64,
    /// The sum of the raw values of the latest collection (for the percentage of the
    /// incremental row).
    last_collected_total: i64,
    /// netdata's `gap when lost iterations above` (at least 1).
    gap: u32,
    /// [`CLOCK_COLLECTED`], [`CLOCK_CALLED`].
    flags: u8,
}

// Pinned: a daemon holds one per chart (it was 96 bytes).
const _: () = assert!(size_of::<ChartClock>() <= 72);

/// The chart was collected since it was created or reset: `last_collected` is meaningful.
const CLOCK_COLLECTED: u8 = 1;
/// A collection was accepted: `last_call` is meaningful.
const CLOCK_CALLED: u8 = 1 << 1;

impl ChartClock {
    /// An empty chart of `entries` slots per dimension, one point every `update_every`
    /// seconds (0 is taken as 1), with netdata's default `gap when lost iterations above`
    /// ([`DEFAULT_GAP_WHEN_LOST_ITERATIONS_ABOVE`]).
    #[must_use]
    pub const fn new(entries: usize, update_every: u32) -> Self {
        let update_every = if update_every == 0 { 1 } else { update_every };
        Self {
            ring: RingState::empty(entries, update_every),
            last_collected: 0,
            last_call: 0,
            last_collected_total: 0,
            gap: DEFAULT_GAP_WHEN_LOST_ITERATIONS_ABOVE,
            flags: 0,
        }
    }

    /// Sets netdata's `gap when lost iterations above` (values below 1 are taken as 1,
    /// as netdata does).
    #[must_use]
    pub const fn with_gap_when_lost_iterations_above(mut self, gap: u32) -> Self {
        self.gap = if gap < 1 { 1 } else { gap };
        self
    }

    /// The ring position the chart's dimensions share.
    #[must_use]
    pub const fn ring(&self) -> RingState {
        self.ring
    }

    /// Seconds between points.
    #[must_use]
    pub const fn update_every(&self) -> u32 {
        self.ring.update_every()
    }

    /// The time of the latest collection as the chart counts it (the first collection is
    /// moved to its interval's start plus half a second), `None` before the first.
    #[must_use]
    pub const fn last_collected(&self) -> Option<Instant> {
        match self.last_collected_us() {
            Some(us) => Some(Instant::from_micros(us)),
            None => None,
        }
    }

    const fn last_collected_us(&self) -> Option<i64> {
        if self.flags & CLOCK_COLLECTED != 0 {
            Some(self.last_collected)
        } else {
            None
        }
    }

    fn set_last_collected(&mut self, us: i64) {
        self.last_collected = us;
        self.flags |= CLOCK_COLLECTED;
    }

    /// netdata's per-chart `gap_when_lost_iterations_above`: the setting plus 2.
    fn gap_limit(&self) -> i64 {
        i64::from(self.gap) + 2
    }

    /// Closes one collection at time `now`: computes every dimension's calculated value
    /// from the values [`set`](DimensionState::set) since the previous call, and writes
    /// one point per due grid time into every dimension's slice (see the module docs).
    ///
    /// Every dimension of the chart must be passed, in the same order each time (the
    /// percentage algorithms need the whole row). Never panics; writes at most
    /// `entries` points.
    pub fn store_due_points<D: DimensionRing>(&mut self, dims: &mut [D], now: Instant) -> Done {
        self.store(dims, now)
    }

    /// [`store_due_points`](Self::store_due_points) for rings kept in one slice,
    /// dimension after dimension: dimension `i`'s ring is `values[i × entries..(i + 1) ×
    /// entries]`, `entries` being the chart's [`RingState::entries`]. A daemon that keeps
    /// a chart's rings in one allocation saves an allocation and a slice pointer per
    /// dimension. A `values` shorter than `dims.len() × entries` only loses the points
    /// whose slot it lacks; it never panics.
    ///
    /// ```
    /// use backhaul_core::collect::{Algorithm, ChartClock, DimensionState};
    /// use backhaul_core::storage_number::StorageNumber;
    /// use backhaul_core::time::Instant;
    ///
    /// let mut clock = ChartClock::new(4, 1);
    /// let mut dims = [
    ///     DimensionState::new(Algorithm::Absolute, 1, 1),
    ///     DimensionState::new(Algorithm::Absolute, 10, 1),
    /// ];
    /// let mut rings = [StorageNumber::EMPTY; 2 * 4];
    /// for t in 0..3 {
    ///     for d in &mut dims {
    ///         d.set(t);
    ///     }
    ///     clock.store_due_points_flat(&mut dims, &mut rings, Instant::from_secs(1000 + t));
    /// }
    /// // Two points stored, in slots 0 and 1 of each ring.
    /// assert_eq!((rings[1].to_f64(), rings[4 + 1].to_f64()), (2.0, 20.0));
    /// ```
    pub fn store_due_points_flat<S: AsMut<DimensionState>>(
        &mut self,
        dims: &mut [S],
        values: &mut [StorageNumber],
        now: Instant,
    ) -> Done {
        let entries = self.ring.entries();
        self.store(
            &mut Flat {
                dims,
                values,
                entries,
            },
            now,
        )
    }

    fn reset<R: Rows + ?Sized>(&mut self, dims: &mut R) {
        self.ring.reset();
        self.flags &= !CLOCK_COLLECTED;
        self.last_collected = 0;
        dims.each_state(|d| d.collections = 0);
    }

    fn store<R: Rows + ?Sized>(&mut self, dims: &mut R, now: Instant) -> Done {
        let now_us = now.as_micros();
        if self.flags & CLOCK_CALLED != 0 && now_us < self.last_call {
            dims.each_state(DimensionState::discard);
            return Done::Ignored;
        }
        self.last_call = now_us;
        self.flags |= CLOCK_CALLED;
        dims.each_state(DimensionState::count_collection);

        let u = self.ring.update_every().max(1);
        let u_us = i64::from(u) * USEC_PER_SEC;
        let entries = self.ring.entries();
        let span_us = i64::try_from(entries)
            .unwrap_or(i64::MAX)
            .saturating_mul(u_us);

        let mut reset_idle = None;
        if let Some(last) = self.last_collected_us() {
            let since_collected = now_us.saturating_sub(last);
            let newest_us = self.ring.last_updated().saturating_mul(USEC_PER_SEC);
            let since_stored = now_us.saturating_sub(newest_us);
            if since_collected > span_us || since_stored > span_us {
                self.reset(dims);
                reset_idle = Some(since_collected);
            }
        }

        let first_entry = self.last_collected_us().is_none();
        let last_collect_us = if let Some(last) = self.last_collected_us() {
            self.set_last_collected(now_us);
            last
        } else {
            // Prime: the collection moves to its interval's start plus half a second,
            // and the newest point time to the interval's start.
            let secs = now_us.div_euclid(USEC_PER_SEC);
            let start = secs - secs.rem_euclid(i64::from(u));
            let t = start
                .saturating_mul(USEC_PER_SEC)
                .saturating_add(USEC_PER_SEC / 2);
            self.set_last_collected(t);
            self.ring = RingState::new(entries, u, 0, 0, start);
            t.saturating_sub(u_us)
        };
        let now_collect_us = self.last_collected;

        let mut collected_total: i64 = 0;
        dims.each_state(|state| {
            if state.is_updated() {
                collected_total = collected_total.wrapping_add(state.collected());
            }
        });
        let mut counter_reset = false;
        let last_total = self.last_collected_total;
        dims.each_state(|state| {
            counter_reset |= state.calculate(collected_total, last_total);
        });

        let points = if first_entry {
            0
        } else {
            self.interpolate(dims, last_collect_us, now_collect_us, counter_reset)
        };

        self.last_collected_total = collected_total;
        dims.each_state(|state| state.finish(first_entry, now));

        match (reset_idle, first_entry) {
            (Some(idle_us), _) => Done::Reset { idle_us },
            (None, true) => Done::Primed,
            (None, false) => Done::Stored {
                points,
                counter_reset,
            },
        }
    }

    /// Writes the due points; returns how many.
    fn interpolate<R: Rows + ?Sized>(
        &mut self,
        dims: &mut R,
        mut last_collect_us: i64,
        now_collect_us: i64,
        counter_reset: bool,
    ) -> usize {
        let u = self.ring.update_every().max(1);
        let u_us = i64::from(u) * USEC_PER_SEC;
        let last_stored_us = self.ring.last_updated().saturating_mul(USEC_PER_SEC);
        let elapsed = now_collect_us.saturating_sub(last_stored_us);
        if elapsed < u_us {
            return 0;
        }
        // The reset check bounds this by `entries`; the clamp only bounds the work.
        let due = usize::try_from(elapsed / u_us).unwrap_or(usize::MAX);
        let points = due.min(self.ring.entries());
        let mut iterations = elapsed / u_us;
        if now_collect_us.rem_euclid(u_us) == 0 {
            iterations += 1;
        }
        let gap_limit = self.gap_limit();
        let mut flags = if counter_reset {
            SN_EXISTS_RESET
        } else {
            SN_EXISTS
        };
        let mut next_store_us = last_stored_us.saturating_add(u_us);
        for _ in 0..points {
            let slot = self.ring.current_entry();
            dims.store(slot, |state| {
                let value = state.point_value(
                    next_store_us,
                    last_collect_us,
                    now_collect_us,
                    iterations,
                    u,
                );
                if state.is_updated() && state.collections > 1 && iterations < gap_limit {
                    StorageNumber::pack_extended(value, flags)
                } else {
                    StorageNumber::EMPTY
                }
            });
            flags = SN_EXISTS;
            self.ring.advance(next_store_us.div_euclid(USEC_PER_SEC));
            last_collect_us = next_store_us;
            next_store_us = next_store_us.saturating_add(u_us);
            iterations -= 1;
        }
        points
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::storage_number::SN_EMPTY_SLOT;
    use std::vec;
    use std::vec::Vec;

    const T: i64 = 1_600_000_000;

    /// A chart with owned rings, for tests.
    struct Chart {
        clock: ChartClock,
        dims: Vec<(DimensionState, Vec<StorageNumber>)>,
    }

    impl DimensionRing for (DimensionState, Vec<StorageNumber>) {
        fn parts(&mut self) -> (&mut DimensionState, &mut [StorageNumber]) {
            (&mut self.0, &mut self.1)
        }
    }

    impl Chart {
        fn new(entries: usize, update_every: u32, dims: &[(Algorithm, i64, i64)]) -> Self {
            Self {
                clock: ChartClock::new(entries, update_every),
                dims: dims
                    .iter()
                    .map(|&(a, m, d)| {
                        (
                            DimensionState::new(a, m, d),
                            vec![StorageNumber::EMPTY; entries],
                        )
                    })
                    .collect(),
            }
        }

        /// Sets `values` (None = not collected) and closes the collection at `us`.
        fn collect(&mut self, us: i64, values: &[Option<i64>]) -> Done {
            for (d, v) in self.dims.iter_mut().zip(values) {
                if let Some(v) = *v {
                    d.0.set(v);
                }
            }
            self.clock
                .store_due_points(&mut self.dims, Instant::from_micros(us))
        }

        /// [`collect`](Self::collect) through
        /// [`store_due_points_flat`](ChartClock::store_due_points_flat), the rings copied
        /// into one slice and back.
        fn collect_flat(&mut self, us: i64, values: &[Option<i64>]) -> Done {
            for (d, v) in self.dims.iter_mut().zip(values) {
                if let Some(v) = *v {
                    d.0.set(v);
                }
            }
            let entries = self.clock.ring().entries();
            let mut states: Vec<DimensionState> = self.dims.iter().map(|d| d.0).collect();
            let mut rings: Vec<StorageNumber> =
                self.dims.iter().flat_map(|d| d.1.iter().copied()).collect();
            let done =
                self.clock
                    .store_due_points_flat(&mut states, &mut rings, Instant::from_micros(us));
            for ((d, state), ring) in self.dims.iter_mut().zip(states).zip(rings.chunks(entries)) {
                d.0 = state;
                d.1.copy_from_slice(ring);
            }
            done
        }

        fn at(&mut self, secs: i64, values: &[i64]) -> Done {
            let v: Vec<Option<i64>> = values.iter().map(|&x| Some(x)).collect();
            self.collect(secs * USEC_PER_SEC, &v)
        }

        /// The word stored for time `t` in dimension `dim`, if the ring holds `t`.
        fn word(&self, dim: usize, t: i64) -> Option<StorageNumber> {
            let ring = self.clock.ring();
            if ring.is_empty() || t > ring.last_time() || t <= ring.first_time() {
                return None;
            }
            Some(self.dims[dim].1[ring.time_to_slot(t)])
        }

        fn value(&self, dim: usize, t: i64) -> f64 {
            let w = self.word(dim, t).expect("point stored");
            assert!(w.exists(), "slot of {t} is empty");
            w.to_f64()
        }
    }

    fn ext(x: i64) -> Extended {
        Extended::from_i64(x)
    }

    #[test]
    fn absolute_gauge_on_the_grid_stores_its_values() {
        let mut c = Chart::new(10, 1, &[(Algorithm::Absolute, 1, 1)]);
        assert_eq!(c.at(T, &[10]), Done::Primed);
        assert_eq!(c.clock.ring().counter(), 0);
        for (i, v) in [20, 30, 40].into_iter().enumerate() {
            let done = c.at(T + 1 + i as i64, &[v]);
            assert_eq!(
                done,
                Done::Stored {
                    points: 1,
                    counter_reset: false
                }
            );
        }
        let ring = c.clock.ring();
        assert_eq!((ring.counter(), ring.last_updated()), (3, T + 3));
        for (t, v) in [(T + 1, 20.0), (T + 2, 30.0), (T + 3, 40.0)] {
            assert_eq!(c.word(0, t), Some(StorageNumber::pack(v, SN_EXISTS)));
        }
        let state = c.dims[0].0;
        assert_eq!(state.last_collected_value(), 40);
        assert_eq!(state.last_collected_time(), Some(Instant::from_secs(T + 3)));
        assert_eq!(state.collections(), 4);
    }

    #[test]
    fn absolute_multiplier_and_divisor_are_extended_precision() {
        let mut c = Chart::new(10, 1, &[(Algorithm::Absolute, 7, 3)]);
        c.at(T, &[1]);
        c.at(T + 1, &[1]);
        c.at(T + 2, &[2]);
        // At T+2: (2·7/3 − 1·7/3)·1e6/1e6 + 1·7/3, each step rounded to 64 bits.
        let last = ext(7) / ext(3);
        let cur = ext(2) * ext(7) / ext(3);
        let expected = (cur - last) * ext(1_000_000) / ext(1_000_000) + last;
        assert_eq!(
            c.word(0, T + 2),
            Some(StorageNumber::pack_extended(expected, SN_EXISTS))
        );
    }

    #[test]
    fn incremental_counter_stores_its_rate() {
        let mut c = Chart::new(10, 1, &[(Algorithm::Incremental, 1, 1)]);
        for i in 0..5 {
            c.at(T + i, &[1000 + 100 * i]);
        }
        for t in T + 1..=T + 4 {
            assert_eq!(c.word(0, t), Some(StorageNumber::pack(100.0, SN_EXISTS)));
        }
    }

    #[test]
    fn incremental_rate_divides_by_update_every() {
        let mut c = Chart::new(10, 5, &[(Algorithm::Incremental, 8, 1000)]);
        // 5-second grid; collections on it; +5000 bytes per 5 s = 8 kilobits/s.
        for i in 0..4 {
            c.at(T + 5 * i, &[5000 * i]);
        }
        assert_eq!(c.clock.ring().counter(), 3);
        for t in [T + 5, T + 10, T + 15] {
            assert_eq!(c.value(0, t), 8.0);
        }
    }

    #[test]
    fn interpolation_between_collections_2_5_s_apart() {
        let mut c = Chart::new(
            10,
            1,
            &[(Algorithm::Absolute, 1, 1), (Algorithm::Incremental, 1, 1)],
        );
        c.at(T, &[0, 0]);
        c.at(T + 1, &[10, 100]);
        let done = c.collect(T * USEC_PER_SEC + 3_500_000, &[Some(20), Some(350)]);
        assert_eq!(
            done,
            Done::Stored {
                points: 2,
                counter_reset: false
            }
        );
        // Absolute: T+2 is interpolated (10 + 10 · 1/2.5), T+3 takes the current value.
        assert_eq!(c.value(0, T + 2), 14.0);
        assert_eq!(c.value(0, T + 3), 20.0);
        // Incremental: 250 over 2.5 s is 100/s at every point; the last half second is
        // carried to the next collection.
        assert_eq!(c.value(1, T + 2), 100.0);
        assert_eq!(c.value(1, T + 3), 100.0);
        c.collect(T * USEC_PER_SEC + 4_500_000, &[Some(20), Some(450)]);
        assert_eq!(c.value(1, T + 4), 100.0);
    }

    #[test]
    fn first_points_off_the_grid_follow_netdata() {
        // Collections at .3 s: the first is moved to .5 s, so the first interval looks
        // 0.8 s long and its point gets 0.5/0.8 of the first delta; the rest is carried.
        let mut c = Chart::new(10, 1, &[(Algorithm::Incremental, 1, 1)]);
        let at = |i: i64| T * USEC_PER_SEC + i * USEC_PER_SEC + 300_000;
        c.collect(at(0), &[Some(0)]);
        c.collect(at(1), &[Some(800)]);
        assert_eq!(c.value(0, T + 1), 500.0);
        c.collect(at(2), &[Some(1800)]);
        // 300 carried + 700 (0.7 of the next 1000).
        assert_eq!(c.value(0, T + 2), 1000.0);
    }

    #[test]
    fn counter_reset_stores_a_reset_flagged_point() {
        let mut c = Chart::new(
            10,
            1,
            &[(Algorithm::Incremental, 1, 1), (Algorithm::Absolute, 1, 1)],
        );
        c.at(T, &[1000, 1]);
        c.at(T + 1, &[1100, 1]);
        c.at(T + 2, &[1200, 1]);
        let done = c.at(T + 3, &[5, 1]);
        assert_eq!(
            done,
            Done::Stored {
                points: 1,
                counter_reset: true
            }
        );
        // A reset counts nothing; the flag is chart-wide and only on this point.
        let w = c.word(0, T + 3).unwrap();
        assert_eq!(w, StorageNumber::pack(0.0, SN_EXISTS_RESET));
        assert!(w.did_reset());
        assert_eq!(
            c.word(1, T + 3),
            Some(StorageNumber::pack(1.0, SN_EXISTS_RESET))
        );
        c.at(T + 4, &[105, 1]);
        assert_eq!(
            c.word(0, T + 4),
            Some(StorageNumber::pack(100.0, SN_EXISTS))
        );
    }

    #[test]
    fn counter_overflow_counts_the_wrapped_delta() {
        let mut c = Chart::new(10, 1, &[(Algorithm::Incremental, 1, 1)]);
        c.at(T, &[0xFFFF_FF00]);
        c.at(T + 1, &[0xFFFF_FFF0]);
        c.at(T + 2, &[0x10]);
        // netdata's wrap delta: 0xFFFFFFFF − 0xFFFFFFF0 + 0x10 = 31 (one short of 32).
        assert_eq!(
            c.word(0, T + 2),
            Some(StorageNumber::pack(31.0, SN_EXISTS_RESET))
        );
        // 64-bit once a value above u32::MAX was seen: the same delta is a reset.
        let mut c = Chart::new(10, 1, &[(Algorithm::Incremental, 1, 1)]);
        c.at(T, &[1 << 40]);
        c.at(T + 1, &[(1 << 40) + 5]);
        c.at(T + 2, &[3]);
        assert_eq!(
            c.word(0, T + 2),
            Some(StorageNumber::pack(0.0, SN_EXISTS_RESET))
        );
        // Signed values compare as unsigned: −1 → 2 is a decrease; with small magnitudes
        // the 32-bit wrap delta is far too large, so it is a reset.
        let mut c = Chart::new(10, 1, &[(Algorithm::Incremental, 1, 1)]);
        c.at(T, &[-1]);
        c.at(T + 1, &[-1]);
        c.at(T + 2, &[2]);
        assert_eq!(
            c.word(0, T + 2),
            Some(StorageNumber::pack(0.0, SN_EXISTS_RESET))
        );
        // With a 64-bit range (a magnitude above u32::MAX was seen), −5 → 3 wraps by 7.
        let mut c = Chart::new(10, 1, &[(Algorithm::Incremental, 1, 1)]);
        c.at(T, &[-(1 << 40)]);
        c.at(T + 1, &[-5]);
        c.at(T + 2, &[3]);
        assert_eq!(
            c.word(0, T + 2),
            Some(StorageNumber::pack(7.0, SN_EXISTS_RESET))
        );
    }

    #[test]
    fn uncollected_dimension_stores_empty() {
        let mut c = Chart::new(
            10,
            1,
            &[(Algorithm::Absolute, 1, 1), (Algorithm::Absolute, 1, 1)],
        );
        c.at(T, &[1, 1]);
        c.at(T + 1, &[2, 2]);
        c.collect((T + 2) * USEC_PER_SEC, &[Some(3), None]);
        assert_eq!(c.value(0, T + 2), 3.0);
        assert_eq!(c.word(1, T + 2), Some(StorageNumber::EMPTY));
        c.at(T + 3, &[4, 4]);
        assert_eq!(c.value(1, T + 3), 4.0);
    }

    #[test]
    fn dimension_collected_once_stores_empty() {
        let mut c = Chart::new(
            10,
            1,
            &[(Algorithm::Absolute, 1, 1), (Algorithm::Absolute, 1, 1)],
        );
        c.collect(T * USEC_PER_SEC, &[Some(1), None]);
        c.collect((T + 1) * USEC_PER_SEC, &[Some(1), Some(7)]);
        assert_eq!(
            c.word(1, T + 1).map(StorageNumber::to_bits),
            Some(SN_EMPTY_SLOT)
        );
        c.at(T + 2, &[1, 8]);
        assert_eq!(c.value(1, T + 2), 8.0);
    }

    #[test]
    fn percentages_of_rows() {
        let row = (Algorithm::PercentageOfIncrementalRow, 1, 1);
        let mut c = Chart::new(10, 1, &[row, row]);
        c.at(T, &[0, 0]);
        c.at(T + 1, &[30, 70]);
        assert_eq!(c.value(0, T + 1), 30.0);
        assert_eq!(c.value(1, T + 1), 70.0);
        // An unchanged row gives 0.
        c.at(T + 2, &[30, 70]);
        assert_eq!(c.value(0, T + 2), 0.0);
        let row = (Algorithm::PercentageOfAbsoluteRow, 5, 7);
        let mut c = Chart::new(10, 1, &[row, row]);
        c.at(T, &[1, 3]);
        c.at(T + 1, &[25, 75]);
        assert_eq!(c.value(0, T + 1), 25.0);
        assert_eq!(c.value(1, T + 1), 75.0);
        // A zero row gives 0.
        c.at(T + 2, &[0, 0]);
        assert_eq!(c.value(1, T + 2), 0.0);
    }

    #[test]
    fn gaps_store_empty_slots() {
        let mut c = Chart::new(20, 1, &[(Algorithm::Absolute, 1, 1)]);
        c.at(T, &[1]);
        c.at(T + 1, &[1]);
        // 5 s later, on the grid: iterations 6, 5, 4, 3 are not below 3 (empty), the
        // last point (iteration 2) is stored.
        c.at(T + 6, &[6]);
        for t in T + 2..=T + 5 {
            assert_eq!(c.word(0, t), Some(StorageNumber::EMPTY), "{t}");
        }
        assert_eq!(c.value(0, T + 6), 6.0);
        // A larger gap setting keeps them all. netdata moves the start of each step to
        // the previous grid point but keeps the previous value as the base, so only the
        // first intermediate point lies on the straight line.
        let mut c = Chart::new(20, 1, &[(Algorithm::Absolute, 1, 1)]);
        c.clock = c.clock.with_gap_when_lost_iterations_above(10);
        c.at(T, &[1]);
        c.at(T + 1, &[1]);
        c.at(T + 6, &[6]);
        assert_eq!(c.value(0, T + 2), 2.0);
        assert_eq!(c.value(0, T + 3), 2.25);
        assert_eq!(c.value(0, T + 5), 3.5);
        assert_eq!(c.value(0, T + 6), 6.0);
    }

    #[test]
    fn long_silence_resets_the_chart() {
        let mut c = Chart::new(5, 1, &[(Algorithm::Absolute, 1, 1)]);
        c.at(T, &[1]);
        c.at(T + 1, &[1]);
        assert_eq!(c.clock.ring().counter(), 1);
        assert_eq!(
            c.at(T + 10, &[1]),
            Done::Reset {
                idle_us: 9 * USEC_PER_SEC
            }
        );
        assert_eq!(c.clock.ring().counter(), 0);
        assert_eq!(c.dims[0].0.collections(), 0);
        // Two more collections before values are stored again, as in netdata.
        c.at(T + 11, &[2]);
        assert_eq!(c.word(0, T + 11), Some(StorageNumber::EMPTY));
        c.at(T + 12, &[3]);
        assert_eq!(c.value(0, T + 12), 3.0);
    }

    #[test]
    fn time_going_backwards_is_ignored() {
        let mut c = Chart::new(10, 1, &[(Algorithm::Incremental, 1, 1)]);
        c.at(T, &[0]);
        c.at(T + 1, &[100]);
        let before = (c.clock, c.dims[0].0);
        assert_eq!(c.at(T - 50, &[5]), Done::Ignored);
        assert_eq!((c.clock, c.dims[0].0), before);
        c.at(T + 2, &[200]);
        assert_eq!(c.value(0, T + 2), 100.0);
    }

    #[test]
    fn a_quick_second_collection_is_not_ignored() {
        // The first collection, at .2 s, counts as .5 s; one at .4 s is still later in
        // real time, so it is taken (and stores nothing: no grid time passed).
        let mut c = Chart::new(10, 1, &[(Algorithm::Incremental, 1, 1)]);
        c.collect(T * USEC_PER_SEC + 200_000, &[Some(0)]);
        let done = c.collect(T * USEC_PER_SEC + 400_000, &[Some(10)]);
        assert_eq!(
            done,
            Done::Stored {
                points: 0,
                counter_reset: false
            }
        );
        c.collect((T + 1) * USEC_PER_SEC + 400_000, &[Some(110)]);
        // The +10 of the .4 s collection is carried to the point of T+1, with 0.6 of the
        // +100 that followed.
        assert_eq!(c.value(0, T + 1), 70.0);
    }

    #[test]
    fn same_interval_collections_store_nothing_new() {
        let mut c = Chart::new(10, 1, &[(Algorithm::Incremental, 1, 1)]);
        c.at(T, &[0]);
        c.at(T + 1, &[100]);
        let done = c.collect((T + 1) * USEC_PER_SEC + 400_000, &[Some(140)]);
        assert_eq!(
            done,
            Done::Stored {
                points: 0,
                counter_reset: false
            }
        );
        c.at(T + 2, &[200]);
        // 40 carried plus 60 of the rest.
        assert_eq!(c.value(0, T + 2), 100.0);
    }

    #[test]
    fn ring_wraps_around() {
        let mut c = Chart::new(3, 1, &[(Algorithm::Absolute, 1, 1)]);
        for i in 0..10 {
            c.at(T + i, &[i]);
        }
        let ring = c.clock.ring();
        assert_eq!((ring.counter(), ring.last_updated()), (9, T + 9));
        for t in T + 7..=T + 9 {
            assert_eq!(c.value(0, t), (t - T) as f64);
        }
    }

    #[test]
    fn tuple_and_array_storage() {
        let mut clock = ChartClock::new(4, 1);
        let mut arr = [(
            DimensionState::new(Algorithm::Absolute, 1, 1),
            [StorageNumber::EMPTY; 4],
        )];
        for i in 0..3 {
            arr[0].0.set(i);
            clock.store_due_points(&mut arr, Instant::from_secs(T + i));
        }
        assert_eq!(arr[0].1[1], StorageNumber::pack(2.0, SN_EXISTS));
        // A too-short slice loses points instead of panicking.
        let mut short: [StorageNumber; 1] = [StorageNumber::EMPTY];
        let mut state = DimensionState::new(Algorithm::Absolute, 1, 1);
        let mut clock = ChartClock::new(4, 1);
        for i in 0..4 {
            state.set(i);
            let mut dims = [(&mut state, &mut short[..])];
            clock.store_due_points(&mut dims, Instant::from_secs(T + i));
        }
        assert_eq!(clock.ring().counter(), 3);
    }

    /// xorshift64*: deterministic inputs without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn pick(&mut self, choices: &[i64]) -> i64 {
            choices[(self.next() % choices.len() as u64) as usize]
        }
    }

    /// FNV-1a over everything a random run of collections produces.
    struct Digest(u64);

    impl Digest {
        fn add(&mut self, x: u64) {
            for b in x.to_le_bytes() {
                self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }

    /// Every stored word, every [`Done`], every dimension's collection count, last value
    /// and time, and every ring position, over a random mix of algorithms, factors,
    /// values (extremes included), clock jumps, gaps and uncollected dimensions.
    fn digest_of_random_collections(round_trip_flat: bool) -> u64 {
        let extremes = [
            i64::MIN,
            i64::MIN + 1,
            -1,
            0,
            1,
            i64::from(u32::MAX),
            i64::MAX - 1,
            i64::MAX,
        ];
        let factors = [1, 1, 8, -8, 1000, 1024, 100, -1, 7, 3];
        let algorithms = [
            Algorithm::Absolute,
            Algorithm::Incremental,
            Algorithm::PercentageOfAbsoluteRow,
            Algorithm::PercentageOfIncrementalRow,
        ];
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let mut digest = Digest(0xcbf2_9ce4_8422_2325);
        for round in 0..400 {
            let entries = 1 + (rng.next() % 9) as usize;
            let every = [1, 1, 1, 2, 5][(rng.next() % 5) as usize];
            let specs: Vec<(Algorithm, i64, i64)> = (0..1 + rng.next() % 4)
                .map(|_| {
                    let pick = |rng: &mut Rng| {
                        if rng.next().is_multiple_of(8) {
                            rng.pick(&extremes)
                        } else {
                            rng.pick(&factors)
                        }
                    };
                    (
                        algorithms[(rng.next() % 4) as usize],
                        pick(&mut rng),
                        pick(&mut rng),
                    )
                })
                .collect();
            let mut c = Chart::new(entries, every, &specs);
            if round % 3 == 0 {
                c.clock = c
                    .clock
                    .with_gap_when_lost_iterations_above((rng.next() % 6) as u32);
            }
            let mut now = T * USEC_PER_SEC + (rng.next() % 3_000_000) as i64;
            let mut counters: Vec<i64> = specs.iter().map(|_| (rng.next() % 5000) as i64).collect();
            for _ in 0..60 {
                now = match rng.next() % 16 {
                    0 => now.wrapping_sub((rng.next() % 5_000_000) as i64),
                    1 => now.saturating_add((rng.next() % 40_000_000) as i64),
                    2 => rng.pick(&extremes),
                    3..=5 => now.saturating_add((rng.next() % 3_000_000) as i64),
                    _ => now.saturating_add(i64::from(every) * USEC_PER_SEC),
                };
                let values: Vec<Option<i64>> = counters
                    .iter_mut()
                    .map(|v| {
                        *v = match rng.next() % 12 {
                            0 => return None,
                            1 => rng.pick(&extremes),
                            2 => (rng.next() % 1000) as i64,
                            3 => v.wrapping_add(i64::from(u32::MAX)),
                            _ => v.wrapping_add((rng.next() % 100_000) as i64),
                        };
                        Some(*v)
                    })
                    .collect();
                let done = if round_trip_flat {
                    c.collect_flat(now, &values)
                } else {
                    c.collect(now, &values)
                };
                match done {
                    Done::Primed => digest.add(1),
                    Done::Stored {
                        points,
                        counter_reset,
                    } => {
                        digest.add(2);
                        digest.add(points as u64);
                        digest.add(u64::from(counter_reset));
                    }
                    Done::Reset { idle_us } => {
                        digest.add(3);
                        digest.add(idle_us as u64);
                    }
                    Done::Ignored => digest.add(4),
                }
                let ring = c.clock.ring();
                digest.add(ring.counter());
                digest.add(ring.current_entry() as u64);
                digest.add(ring.last_updated() as u64);
                digest.add(c.clock.last_collected().map_or(7, Instant::as_micros) as u64);
                for (state, words) in &c.dims {
                    digest.add(state.collections());
                    digest.add(state.last_collected_value() as u64);
                    digest.add(state.last_collected_time().map_or(7, Instant::as_micros) as u64);
                    for w in words {
                        digest.add(u64::from(w.to_bits()));
                    }
                }
            }
        }
        digest.0
    }

    #[test]
    fn random_collections_store_the_recorded_words() {
        // Recorded with the 104-byte `DimensionState` (before its fields were packed):
        // any change to a stored word, a count or a time changes it.
        const RECORDED: u64 = 14_539_965_759_702_682_445;
        assert_eq!(digest_of_random_collections(false), RECORDED);
        // Rings in one slice store the same words.
        assert_eq!(digest_of_random_collections(true), RECORDED);
    }

    #[test]
    fn never_panics() {
        let extremes = [
            i64::MIN,
            i64::MIN + 1,
            -1,
            0,
            1,
            i64::from(u32::MAX),
            i64::MAX - 1,
            i64::MAX,
        ];
        let algorithms = [
            Algorithm::Absolute,
            Algorithm::Incremental,
            Algorithm::PercentageOfAbsoluteRow,
            Algorithm::PercentageOfIncrementalRow,
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..300 {
            let entries = (rng.next() % 8) as usize;
            let every = [0, 1, 2, 7, u32::MAX][(rng.next() % 5) as usize];
            let specs: Vec<(Algorithm, i64, i64)> = (0..1 + rng.next() % 4)
                .map(|_| {
                    (
                        algorithms[(rng.next() % 4) as usize],
                        rng.pick(&extremes),
                        rng.pick(&extremes),
                    )
                })
                .collect();
            let mut c = Chart::new(entries, every, &specs);
            if round % 3 == 0 {
                c.clock = c
                    .clock
                    .with_gap_when_lost_iterations_above(rng.next() as u32);
            }
            let mut now = rng.pick(&extremes);
            for _ in 0..40 {
                now = match rng.next() % 6 {
                    0 => rng.pick(&extremes),
                    1 => now.wrapping_sub((rng.next() % 5_000_000) as i64),
                    _ => now.saturating_add((rng.next() % 3_000_000) as i64),
                };
                let values: Vec<Option<i64>> = specs
                    .iter()
                    .map(|_| match rng.next() % 4 {
                        0 => None,
                        1 => Some(rng.pick(&extremes)),
                        _ => Some((rng.next() % 1000) as i64),
                    })
                    .collect();
                let _ = c.collect(now, &values);
                assert!(c.clock.ring().counter() <= 40 * entries.max(1) as u64);
            }
        }
    }
}
