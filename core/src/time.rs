//! Time as the engine sees it: an integer count of microseconds, passed in by the shell.
//!
//! The core never reads a clock. Shells pass the wall-clock time (microseconds since the
//! Unix epoch) into every engine call; the engine derives its schedule and the export
//! windows from it. Every operation comes as a `checked_*` / `saturating_*` pair, so no
//! time arithmetic can panic.

use core::fmt;

/// A point in time: microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant {
    micros: i64,
}

/// A span of time in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Duration {
    micros: u64,
}

impl Instant {
    /// The Unix epoch.
    pub const EPOCH: Self = Self { micros: 0 };

    /// From microseconds since the epoch.
    #[must_use]
    pub const fn from_micros(micros: i64) -> Self {
        Self { micros }
    }

    /// From milliseconds since the epoch (saturating).
    #[must_use]
    pub const fn from_millis(millis: i64) -> Self {
        Self {
            micros: millis.saturating_mul(1000),
        }
    }

    /// From whole seconds since the epoch (saturating).
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        Self {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// Microseconds since the epoch.
    #[must_use]
    pub const fn as_micros(self) -> i64 {
        self.micros
    }

    /// Whole seconds since the epoch, rounded down (netdata's `now_realtime_sec()`).
    #[must_use]
    pub const fn as_secs(self) -> i64 {
        self.micros.div_euclid(1_000_000)
    }

    /// Milliseconds since the epoch, rounded down.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.micros.div_euclid(1000)
    }

    /// `self + d`, or `None` on overflow.
    #[must_use]
    pub const fn checked_add(self, d: Duration) -> Option<Self> {
        if d.micros > i64::MAX as u64 {
            return None;
        }
        match self.micros.checked_add(d.micros as i64) {
            Some(micros) => Some(Self { micros }),
            None => None,
        }
    }

    /// `self + d`, saturating at the largest instant.
    #[must_use]
    pub const fn saturating_add(self, d: Duration) -> Self {
        match self.checked_add(d) {
            Some(t) => t,
            None => Self { micros: i64::MAX },
        }
    }

    /// `self − earlier`, or `None` if `earlier` is later than `self`.
    #[must_use]
    pub const fn checked_duration_since(self, earlier: Self) -> Option<Duration> {
        if self.micros < earlier.micros {
            return None;
        }
        Some(Duration {
            micros: self.micros.abs_diff(earlier.micros),
        })
    }

    /// `self − earlier`, or zero if `earlier` is later than `self`.
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        match self.checked_duration_since(earlier) {
            Some(d) => d,
            None => Duration::ZERO,
        }
    }

    /// The first multiple of `step` (counted from the epoch) strictly after `self`:
    /// netdata's heartbeat boundary. A zero step gives `self`.
    #[must_use]
    pub const fn next_multiple_of(self, step: Duration) -> Self {
        if step.micros == 0 || step.micros > i64::MAX as u64 {
            return self;
        }
        let s = step.micros as i64;
        let base = self.micros - self.micros.rem_euclid(s);
        match base.checked_add(s) {
            Some(micros) => Self { micros },
            None => Self { micros: i64::MAX },
        }
    }
}

impl Duration {
    /// No time.
    pub const ZERO: Self = Self { micros: 0 };

    /// From microseconds.
    #[must_use]
    pub const fn from_micros(micros: u64) -> Self {
        Self { micros }
    }

    /// From milliseconds (saturating).
    #[must_use]
    pub const fn from_millis(millis: u64) -> Self {
        Self {
            micros: millis.saturating_mul(1000),
        }
    }

    /// From seconds (saturating).
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        Self {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// Microseconds.
    #[must_use]
    pub const fn as_micros(self) -> u64 {
        self.micros
    }

    /// Milliseconds, rounded down.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.micros / 1000
    }

    /// `self × n`, saturating.
    #[must_use]
    pub const fn saturating_mul(self, n: u64) -> Self {
        Self {
            micros: self.micros.saturating_mul(n),
        }
    }

    /// `self × n`, or `None` on overflow.
    #[must_use]
    pub const fn checked_mul(self, n: u64) -> Option<Self> {
        match self.micros.checked_mul(n) {
            Some(micros) => Some(Self { micros }),
            None => None,
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.micros / 1_000_000,
            self.micros % 1_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_boundaries() {
        let step = Duration::from_secs(10);
        assert_eq!(
            Instant::from_secs(100).next_multiple_of(step),
            Instant::from_secs(110)
        );
        assert_eq!(
            Instant::from_micros(100_000_001).next_multiple_of(step),
            Instant::from_secs(110)
        );
        assert_eq!(
            Instant::from_micros(-1).next_multiple_of(step),
            Instant::EPOCH
        );
        assert_eq!(
            Instant::from_micros(i64::MAX).next_multiple_of(step),
            Instant::from_micros(i64::MAX)
        );
    }

    #[test]
    fn arithmetic_never_panics() {
        let t = Instant::from_micros(i64::MAX);
        assert_eq!(t.checked_add(Duration::from_micros(1)), None);
        assert_eq!(t.saturating_add(Duration::from_micros(u64::MAX)), t);
        assert_eq!(Instant::EPOCH.saturating_duration_since(t), Duration::ZERO);
        assert_eq!(Instant::from_micros(-1_500_000).as_secs(), -2);
        assert_eq!(Duration::from_secs(u64::MAX).as_micros(), u64::MAX);
    }
}
