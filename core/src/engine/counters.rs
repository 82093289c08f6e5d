//! The engine's counters: what netdata's self-monitoring charts show, and more.

/// Why records were lost. Every record the engine accepted ends as delivered, still
/// buffered, or lost for exactly one of these reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LossReason {
    /// The destination was unreachable for longer than the ring's history: the points
    /// were overwritten before they could be sent.
    Expired,
    /// The send buffer was full of undelivered data (as-collected values, which no ring
    /// keeps): the oldest unsent records were dropped.
    BufferFull,
    /// A single record (or HTTP request) is larger than the whole send buffer.
    Oversized,
    /// The server rejected the request with an HTTP 4xx status other than 429.
    Rejected,
    /// Production stopped (a shutdown, or a destination removed by a reload) while the
    /// engine was behind: these records were due (their span's heartbeat had passed) but
    /// never formatted, because the buffer was full or the engine was still catching up.
    /// What was already buffered is not counted here: it is still sent, and what is left
    /// at exit stays in [`Counters::buffered`].
    Shutdown,
}

impl LossReason {
    /// Every reason, in the order of [`Counters::lost_by_reason`].
    pub const ALL: [Self; 5] = [
        Self::Expired,
        Self::BufferFull,
        Self::Oversized,
        Self::Rejected,
        Self::Shutdown,
    ];

    const fn index(self) -> usize {
        match self {
            Self::Expired => 0,
            Self::BufferFull => 1,
            Self::Oversized => 2,
            Self::Rejected => 3,
            Self::Shutdown => 4,
        }
    }

    /// A short name for logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired from the ring",
            Self::BufferFull => "send buffer full",
            Self::Oversized => "record larger than the send buffer",
            Self::Rejected => "rejected by the server",
            Self::Shutdown => "due but not yet formatted at shutdown",
        }
    }
}

impl core::fmt::Display for LossReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Cumulative counters since the engine started. The shells turn them into netdata's
/// self-monitoring charts (`netdata.backend_metrics`, `_bytes`, `_ops`) by taking the
/// difference between two readings.
///
/// The invariant `accepted == delivered + buffered + lost` holds after every call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Counters {
    /// Records (one value of one dimension) the engine produced or decided to send.
    pub accepted: u64,
    /// Records known delivered (written and acknowledged, or answered with 2xx).
    pub delivered: u64,
    /// Records in the send buffer now.
    pub buffered: u64,
    /// Records lost, for every reason. A record is one metric's value for one span,
    /// whether or not it was ever formatted: a record lost before it was formatted
    /// (every [`LossReason::Expired`] and [`LossReason::Shutdown`] one, and an
    /// as-collected value or a record that found no room) counts here and adds no bytes
    /// to `bytes_lost`.
    pub lost: u64,
    lost_by_reason: [u64; LossReason::ALL.len()],
    /// Bytes formatted into the send buffer.
    pub bytes_formatted: u64,
    /// Bytes the transport accepted (including bytes later sent again after a drop).
    pub bytes_sent: u64,
    /// Bytes of records that were lost.
    pub bytes_lost: u64,
    /// Response bytes received.
    pub bytes_received: u64,
    /// Successful writes (netdata's `ops.write`).
    pub writes: u64,
    /// Loss events (netdata's `ops.discard`).
    pub discards: u64,
    /// Connection attempts (netdata's `ops.reconnect`).
    pub reconnects: u64,
    /// Failed connections, dropped connections and failed requests (`ops.failure`).
    pub failures: u64,
    /// Reads of response data (`ops.read`).
    pub reads: u64,
    /// HTTP responses with a 2xx status.
    pub http_ok: u64,
    /// HTTP responses with status 429 or 5xx (retried).
    pub http_retried: u64,
    /// HTTP responses with another status (dropped).
    pub http_rejected: u64,
    /// The last HTTP status that was not 2xx (0 if none).
    pub last_bad_status: u16,
    /// The HTTP status that made the most recent records
    /// [`Rejected`](LossReason::Rejected): 0 when they had none (records refused one by
    /// one inside an accepted reply, or a protocol's own refusal), so that a log line
    /// never names a status that was not the cause.
    pub last_rejection_status: u16,
}

impl Counters {
    /// Records lost for one reason.
    #[must_use]
    pub const fn lost_for(&self, reason: LossReason) -> u64 {
        self.lost_by_reason[reason.index()]
    }

    /// Records lost per reason, in the order of [`LossReason::ALL`].
    #[must_use]
    pub const fn lost_by_reason(&self) -> [u64; LossReason::ALL.len()] {
        self.lost_by_reason
    }

    pub(crate) fn lose(&mut self, reason: LossReason, records: u64, bytes: u64) {
        if records == 0 && bytes == 0 {
            return;
        }
        self.lost = self.lost.saturating_add(records);
        let slot = &mut self.lost_by_reason[reason.index()];
        *slot = slot.saturating_add(records);
        self.bytes_lost = self.bytes_lost.saturating_add(bytes);
        self.discards = self.discards.saturating_add(1);
    }
}
