//! When to ask the kernel again how many written bytes the peer has not acknowledged.
//!
//! No readiness event says "the peer acknowledged bytes": the daemon asks (`SIOCOUTQ`)
//! when it wakes up. While bytes are outstanding it must wake up on its own, or the room
//! they hold in the send buffer is freed only at the next export interval. Looking every
//! few milliseconds keeps a healthy destination's buffer flowing; a destination whose
//! peer has stalled, though, would cost a wake-up every few milliseconds for as long as
//! the stall lasts. [`AckPoll`] looks soon while acknowledgements come and less and less
//! often while nothing moves: after a stall of any length, the first acknowledgement is
//! seen within [`AckPoll::MAX`], and from then on within [`AckPoll::MIN`] again.

use backhaul_core::time::{Duration, Instant};

/// The schedule of one connection's acknowledgement checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckPoll {
    /// The outstanding byte count seen at the last look (0: none outstanding).
    outstanding: usize,
    /// The wait before the next look.
    interval: Duration,
    /// When to look next.
    at: Instant,
}

impl AckPoll {
    /// The wait while acknowledgements come.
    pub const MIN: Duration = Duration::from_millis(10);
    /// The longest wait, reached after about six looks that saw nothing move.
    pub const MAX: Duration = Duration::from_millis(500);

    /// Nothing outstanding yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            outstanding: 0,
            interval: Self::MIN,
            at: Instant::from_micros(0),
        }
    }

    /// When to look again, given that `outstanding` bytes are unacknowledged `now`
    /// (`None` when none are: nothing to wait for). A count that changed since the last
    /// look (bytes acknowledged or written) brings the next look to [`MIN`](Self::MIN)
    /// from now; a look that found the same count doubles the wait, up to
    /// [`MAX`](Self::MAX). Calling it again before the time it returned changes nothing.
    pub fn next(&mut self, now: Instant, outstanding: usize) -> Option<Instant> {
        if outstanding == 0 {
            *self = Self::new();
            return None;
        }
        if outstanding != self.outstanding {
            self.outstanding = outstanding;
            self.interval = Self::MIN;
            self.at = now.saturating_add(self.interval);
        } else if now >= self.at {
            self.interval = self.interval.saturating_mul(2).min(Self::MAX);
            self.at = now.saturating_add(self.interval);
        }
        Some(self.at)
    }
}

impl Default for AckPoll {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: i64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn progress_looks_again_soon() {
        let mut poll = AckPoll::new();
        assert_eq!(poll.next(ms(1000), 500), Some(ms(1010)));
        // Acknowledgements came: the count moved, so the next look is soon again.
        assert_eq!(poll.next(ms(1010), 300), Some(ms(1020)));
        assert_eq!(poll.next(ms(1020), 100), Some(ms(1030)));
    }

    #[test]
    fn a_stall_backs_off_to_the_maximum_and_recovers_at_once() {
        let mut poll = AckPoll::new();
        let mut now = ms(0);
        let mut waits = Vec::new();
        let mut at = poll.next(now, 4096).unwrap();
        for _ in 0..10 {
            waits.push((at.as_micros() - now.as_micros()) / 1000);
            now = at;
            at = poll.next(now, 4096).unwrap();
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 500, 500, 500, 500]);
        // The peer reads again: one look later the waits are short again.
        assert_eq!(poll.next(now, 1024), Some(now.saturating_add(AckPoll::MIN)));
    }

    #[test]
    fn an_early_wake_up_keeps_the_schedule() {
        let mut poll = AckPoll::new();
        assert_eq!(poll.next(ms(0), 10), Some(ms(10)));
        assert_eq!(poll.next(ms(10), 10), Some(ms(30)));
        // Woken by something else before the look is due: same time, same wait.
        assert_eq!(poll.next(ms(15), 10), Some(ms(30)));
        assert_eq!(poll.next(ms(29), 10), Some(ms(30)));
        assert_eq!(poll.next(ms(30), 10), Some(ms(70)));
    }

    #[test]
    fn nothing_outstanding_resets() {
        let mut poll = AckPoll::new();
        poll.next(ms(0), 10);
        poll.next(ms(10), 10);
        assert_eq!(poll.next(ms(20), 0), None);
        assert_eq!(poll, AckPoll::new());
        // The same count as before the reset is new again: a short wait.
        assert_eq!(poll.next(ms(25), 10), Some(ms(35)));
    }
}
