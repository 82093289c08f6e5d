//! What the board supplies: the time, and optionally a cycle counter.

use backhaul_core::time::Instant;

/// The board's wall clock.
///
/// The exporter reads it once per [`poll`](crate::Exporter::poll). It must be Unix time
/// (metric timestamps are Unix seconds, and receivers drop points far in the past) and
/// should not go backwards. A board without a real-time clock sets a base once (from
/// the network, a host, a GPS fix) and adds a monotonic timer to it.
///
/// Any `FnMut() -> Instant` is a clock.
pub trait Clock {
    /// Now, in microseconds since the Unix epoch.
    fn now(&mut self) -> Instant;
}

impl<F: FnMut() -> Instant> Clock for F {
    fn now(&mut self) -> Instant {
        self()
    }
}

/// A free-running cycle counter (Cortex-M: `DWT.CYCCNT`, or SysTick ticks; any timer
/// that counts at a known rate will do), from which the exporter measures its own CPU
/// use (the `user` dimension of `netdata.backend_thread_cpu`).
///
/// The counter may wrap at 2^32: the exporter only subtracts two readings taken within
/// one call, so one call must take less than one full turn of the counter.
pub trait CycleCounter {
    /// The counter now.
    fn cycles(&mut self) -> u32;

    /// How many counts make one second (at least 1).
    fn frequency_hz(&self) -> u32;
}

/// No cycle counter: the exporter reports no CPU use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NoCycles;

impl CycleCounter for NoCycles {
    fn cycles(&mut self) -> u32 {
        0
    }

    fn frequency_hz(&self) -> u32 {
        1
    }
}

/// `cycles` counted at `hz` as microseconds, rounded down, without 128-bit arithmetic
/// (which would pull a large division routine into a Cortex-M0 image).
#[must_use]
pub(crate) const fn cycles_to_micros(cycles: u64, hz: u32) -> u64 {
    let hz = if hz == 0 { 1 } else { hz as u64 };
    // cycles % hz < 2^32, times 10^6 < 2^52: no overflow.
    (cycles / hz)
        .saturating_mul(1_000_000)
        .saturating_add((cycles % hz) * 1_000_000 / hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_convert_exactly() {
        assert_eq!(cycles_to_micros(0, 12_500_000), 0);
        assert_eq!(cycles_to_micros(12_500_000, 12_500_000), 1_000_000);
        assert_eq!(cycles_to_micros(12_500_001, 12_500_000), 1_000_000);
        assert_eq!(cycles_to_micros(25, 12_500_000), 2);
        assert_eq!(cycles_to_micros(u64::MAX, 1), u64::MAX);
        assert_eq!(cycles_to_micros(7, 0), 7_000_000);
        // Large counts at a high rate stay exact.
        let hz = 480_000_000;
        let c = 3 * u64::from(hz) * 86_400 + 480;
        assert_eq!(cycles_to_micros(c, hz), 3 * 86_400 * 1_000_000 + 1);
    }

    #[test]
    fn closures_are_clocks() {
        let mut t = 0;
        let mut clock = || {
            t += 1;
            Instant::from_secs(t)
        };
        assert_eq!(Clock::now(&mut clock), Instant::from_secs(1));
        assert_eq!(Clock::now(&mut clock), Instant::from_secs(2));
    }
}
