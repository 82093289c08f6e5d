//! The wall clock, as the core's [`Instant`].

use backhaul_core::time::Instant;
use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in microseconds since the Unix epoch (the core's time base). A clock before 1970
/// reads as the epoch.
pub fn now() -> Instant {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    Instant::from_micros(micros)
}

/// How long until `deadline`, for `mio::Poll::poll` (zero if it has passed).
pub fn until(deadline: Instant, now: Instant) -> std::time::Duration {
    std::time::Duration::from_micros(deadline.saturating_duration_since(now).as_micros())
}
