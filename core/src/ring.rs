//! Slot-ring arithmetic: which slot of a round-robin ring holds which time.
//!
//! A chart keeps one ring position shared by all its dimensions (how many points were
//! stored, which slot comes next, the time of the newest point), and each dimension owns a
//! slice of storage numbers of the same length. [`RingState`] is that shared position;
//! the slices stay with the caller (a `static` array in firmware, a heap allocation in the
//! Linux daemon), so this module never allocates.
//!
//! The arithmetic follows netdata's ring memory modes exactly, including its behaviour on
//! inconsistent state (a `current_entry` that does not match the counter, a newest time
//! that is off the `update_every` grid), so that the exporter windows of
//! [`crate::window`] pick exactly the slots netdata picks.

/// The position of a chart's ring: everything except the stored values.
///
/// `entries` is the length of every dimension's slice. A ring with zero entries or an
/// `update_every` of zero holds nothing: every query on it reports an empty database
/// instead of dividing by zero.
///
/// # Examples
///
/// ```
/// use backhaul_core::ring::RingState;
///
/// // 10 slots, one point a second, 25 points stored, slot 5 is next, newest at t=1000.
/// let ring = RingState::new(10, 1, 25, 5, 1000);
/// assert_eq!((ring.first_time(), ring.last_time()), (990, 1000));
/// assert_eq!((ring.first_slot(), ring.last_slot()), (5, 4));
/// assert_eq!(ring.time_to_slot(997), 1);
/// let slots: Vec<usize> = ring.slots(990, 997).collect();
/// assert_eq!(slots, [5, 6, 7, 8, 9, 0, 1]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RingState {
    entries: usize,
    update_every: u32,
    counter: u64,
    current_entry: usize,
    last_updated: i64,
}

impl RingState {
    /// A ring position: `entries` slots, one point every `update_every` seconds,
    /// `counter` points stored so far, `current_entry` the slot the next point goes to,
    /// `last_updated` the time of the newest point (seconds).
    #[must_use]
    pub const fn new(
        entries: usize,
        update_every: u32,
        counter: u64,
        current_entry: usize,
        last_updated: i64,
    ) -> Self {
        Self {
            entries,
            update_every,
            counter,
            current_entry,
            last_updated,
        }
    }

    /// An empty ring of `entries` slots.
    #[must_use]
    pub const fn empty(entries: usize, update_every: u32) -> Self {
        Self::new(entries, update_every, 0, 0, 0)
    }

    /// The number of slots.
    #[must_use]
    pub const fn entries(&self) -> usize {
        self.entries
    }

    /// Seconds between points.
    #[must_use]
    pub const fn update_every(&self) -> u32 {
        self.update_every
    }

    /// Points stored since the ring was created or reset.
    #[must_use]
    pub const fn counter(&self) -> u64 {
        self.counter
    }

    /// The slot the next point will be written to.
    #[must_use]
    pub const fn current_entry(&self) -> usize {
        self.current_entry
    }

    /// The time of the newest point (0 for a ring that never stored one).
    #[must_use]
    pub const fn last_updated(&self) -> i64 {
        self.last_updated
    }

    /// Whether queries can return anything: at least one slot and a non-zero interval.
    #[must_use]
    pub const fn is_usable(&self) -> bool {
        self.entries > 0 && self.update_every > 0
    }

    /// How many points the ring holds: `min(counter, entries)`.
    #[must_use]
    pub const fn len(&self) -> usize {
        if self.counter < self.entries as u64 {
            self.counter as usize
        } else {
            self.entries
        }
    }

    /// Whether the ring holds no point.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The span the ring covers: `len() × update_every` seconds.
    #[must_use]
    pub const fn duration(&self) -> i64 {
        (self.len() as i64).saturating_mul(self.update_every as i64)
    }

    /// The time of the newest point.
    #[must_use]
    pub const fn last_time(&self) -> i64 {
        self.last_updated
    }

    /// The start of the database as netdata reports it: `last_time() − duration()`, which
    /// is one interval *before* the oldest stored point (equal to `last_time()` for an
    /// empty ring). Windows are clamped to it, so a window may begin one interval before
    /// the first point actually read.
    #[must_use]
    pub const fn first_time(&self) -> i64 {
        self.last_updated.saturating_sub(self.duration())
    }

    /// The slot of the newest point: the one before `current_entry`, wrapping.
    #[must_use]
    pub const fn last_slot(&self) -> usize {
        if self.current_entry == 0 {
            self.entries.saturating_sub(1)
        } else {
            self.current_entry - 1
        }
    }

    /// The slot of the oldest point: `current_entry` once the ring has wrapped, else 0.
    #[must_use]
    pub const fn first_slot(&self) -> usize {
        if self.counter >= self.entries as u64 {
            self.current_entry
        } else {
            0
        }
    }

    /// The slot holding time `t`, always a valid index (for a usable ring). Times after
    /// the newest point map to the newest slot, times at or before
    /// [`first_time`](Self::first_time) to the oldest; a time between two points maps to
    /// the slot of the later one.
    #[must_use]
    pub const fn time_to_slot(&self, t: i64) -> usize {
        let last_t = self.last_time();
        let first_t = self.first_time();
        let slot = if t >= last_t {
            self.last_slot()
        } else if t <= first_t {
            self.first_slot()
        } else {
            let u = if self.update_every == 0 {
                1
            } else {
                self.update_every as u64
            };
            // Both operands are positive here: t < last_t.
            let back = last_t.abs_diff(t) / u;
            let last_slot = self.last_slot() as u64;
            if last_slot >= back {
                (last_slot - back) as usize
            } else {
                // back < duration / u ≤ entries, so this does not underflow.
                (last_slot + self.entries as u64).saturating_sub(back) as usize
            }
        };
        // Inconsistent state can point outside the ring: clamp, as netdata does.
        if slot >= self.entries {
            self.entries.saturating_sub(1)
        } else {
            slot
        }
    }

    /// The slots to read for the time range `[after, before]`: from
    /// `time_to_slot(after)` forward, wrapping, up to and including
    /// `time_to_slot(before)`. At most `entries()` slots; none for an unusable ring.
    ///
    /// There is no per-slot time check: with inconsistent state the walk may go once
    /// round the whole ring, exactly as netdata's query does.
    #[must_use]
    pub const fn slots(&self, after: i64, before: i64) -> Slots {
        if !self.is_usable() {
            return Slots {
                next: 0,
                stop: 0,
                entries: 0,
                done: true,
            };
        }
        Slots {
            next: self.time_to_slot(after),
            stop: self.time_to_slot(before),
            entries: self.entries,
            done: false,
        }
    }

    /// Records that one more point was stored at time `t` in slot `current_entry()`
    /// (which the caller has just written in every dimension): advances the slot,
    /// counts the point and makes `t` the newest time. Returns the slot written.
    pub fn advance(&mut self, t: i64) -> usize {
        let written = self.current_entry;
        self.current_entry = if self.entries == 0 {
            0
        } else {
            (self.current_entry + 1) % self.entries
        };
        self.counter = self.counter.saturating_add(1);
        self.last_updated = t;
        written
    }

    /// Forgets every stored point (netdata does this when a chart was not updated for
    /// longer than the ring covers).
    pub fn reset(&mut self) {
        self.counter = 0;
        self.current_entry = 0;
        self.last_updated = 0;
    }
}

/// The slots of a time range, oldest first. Created by [`RingState::slots`].
#[derive(Clone, Debug)]
pub struct Slots {
    next: usize,
    stop: usize,
    entries: usize,
    done: bool,
}

impl Iterator for Slots {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.done {
            return None;
        }
        let slot = self.next;
        if slot == self.stop {
            self.done = true;
        } else {
            self.next = if slot + 1 >= self.entries {
                0
            } else {
                slot + 1
            };
        }
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn spec_example() {
        let ring = RingState::new(10, 1, 25, 5, 1000);
        assert_eq!(ring.time_to_slot(990), 5);
        assert_eq!(ring.time_to_slot(2000), 4);
        assert_eq!(ring.time_to_slot(0), 5);
        let all: Vec<usize> = ring.slots(990, 997).collect();
        assert_eq!(all, [5, 6, 7, 8, 9, 0, 1]);
    }

    #[test]
    fn not_yet_wrapped() {
        let ring = RingState::new(100, 10, 5, 5, 1050);
        assert_eq!(ring.first_slot(), 0);
        assert_eq!(ring.last_slot(), 4);
        assert_eq!(ring.first_time(), 1000);
        // 1015 is between the points of 1010 (slot 0) and 1020 (slot 1): the later one.
        assert_eq!(ring.time_to_slot(1015), 1);
    }

    #[test]
    fn empty_and_degenerate_rings_never_panic() {
        let empty = RingState::empty(10, 1);
        assert!(empty.is_empty());
        assert_eq!((empty.first_time(), empty.last_time()), (0, 0));
        let zero = RingState::new(0, 1, 7, 3, 100);
        assert_eq!(zero.slots(0, 100).count(), 0);
        let no_interval = RingState::new(4, 0, 7, 3, 100);
        assert_eq!(no_interval.slots(0, 100).count(), 0);
        let _ = no_interval.time_to_slot(50);
        let wild = RingState::new(4, 1, u64::MAX, usize::MAX, i64::MIN);
        assert!(wild.time_to_slot(i64::MAX) < 4);
        assert!(wild.slots(i64::MIN, i64::MAX).count() <= 4);
    }

    #[test]
    fn advancing_wraps() {
        let mut ring = RingState::empty(3, 1);
        for t in 1..=4 {
            ring.advance(t);
        }
        assert_eq!(ring.current_entry(), 1);
        assert_eq!(ring.counter(), 4);
        assert_eq!((ring.first_slot(), ring.last_slot()), (1, 0));
        assert_eq!((ring.first_time(), ring.last_time()), (1, 4));
        let slots: Vec<usize> = ring.slots(2, 4).collect();
        assert_eq!(slots, [1, 2, 0]);
        ring.reset();
        assert!(ring.is_empty());
    }
}
