//! The exporter as a sans-I/O state machine.
//!
//! One [`Engine`] serves one destination (a list of servers tried in order). It owns the
//! schedule (a heartbeat every `update every` seconds), decides which span of time to
//! export next, formats records into its bounded send buffer, tells the shell when to
//! connect and what to write, judges what comes back, and keeps the counters behind the
//! self-monitoring charts. It never touches a socket or a clock: the shell passes the time
//! and the outcome of every I/O operation in.
//!
//! # Call order
//!
//! Whenever something happens, the shell calls the matching `handle_*` method, then:
//!
//! 1. [`poll_action`](Engine::poll_action) until it returns `None` (connect to a
//!    destination, or close the connection);
//! 2. [`poll_transmit`](Engine::poll_transmit) for the bytes to write, writes what it can,
//!    and reports it with [`handle_written`](Engine::handle_written);
//! 3. [`poll_timeout`](Engine::poll_timeout) for when to call
//!    [`handle_timeout`](Engine::handle_timeout) next, if nothing happens before.
//!
//! Every `poll_*` call does a bounded amount of work.
//!
//! # What it does better than netdata
//!
//! * **The ring is the retry buffer.** For stored data (average, sum) the engine formats a
//!   span only when its buffer has room, from the rings, and a destination's progress is a
//!   cursor over spans: after an outage it replays every missed span, span by span, so the
//!   receiver gets exactly the points it would have got without the outage, as long as the
//!   ring still holds them. Points overwritten before they could be sent are counted as
//!   lost ([`LossReason::Expired`]). Memory never grows with an outage.
//! * **No torn or duplicated records.** A partial write resumes at the exact byte on the
//!   same connection. After a connection drops, sending restarts at the first record the
//!   peer did not acknowledge (the shell reports unacknowledged bytes when it can, e.g. from
//!   Linux's `SIOCOUTQ`), whole, never at the start of the buffer.
//! * **A bounded buffer.** The send buffer is the storage given to [`Engine::new`]; it
//!   never grows. As-collected values (which no ring keeps) that do not fit push out the
//!   oldest unsent records, whole, and every such record is counted
//!   ([`LossReason::BufferFull`]).
//! * **Failover with backoff**: servers are tried in order; after a full round of
//!   failures the engine waits (doubling from `backoff_min` to `backoff_max`).
//! * **Responses are judged**: for HTTP framings a 2xx delivers the request, 429 and 5xx
//!   retry it after a backoff, and any other status drops it, counted with the status.
//!
//! Every record the engine accepts ends as exactly one of delivered, buffered or lost:
//! `accepted == delivered + buffered + lost` holds after every call (see [`Counters`]).
//! A record that was due and never formatted is not forgotten either: an engine that
//! stops ([`Engine::stop_producing`]) while behind counts those records as lost
//! ([`LossReason::Shutdown`]).

mod buffer;
mod counters;
mod source;
#[cfg(test)]
mod tests;

pub use counters::{Counters, LossReason};
pub use source::{Collected, Metric, Source};

use buffer::{after_last_newline, count_lines, SendBuffer};

use crate::config::DataSource;
use crate::format::chart::ChartCache;
use crate::format::remote_write::snappy::{compress, max_compressed_len};
use crate::format::{BufferFull, HostMeta, Record, Value};
use crate::number::IntBuffer;
use crate::ring::RingState;
use crate::time::{Duration, Instant};
use crate::window::{Reduce, Span};

/// Writes one record in a wire format: all of it at the start of `out`, or nothing.
pub trait RecordFormat {
    /// Writes `record`; see the contract in [`crate::format`].
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` cannot hold the whole record (`out` is left untouched).
    fn write(&self, record: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull>;

    /// Writes `record` exactly as [`write`](Self::write) does, possibly from work kept in
    /// `cache` for the record written before it with the same cache: the engine passes
    /// consecutive records of one chart with one cache, which a format with a chart part
    /// (a [`ChartFormat`](crate::format::chart::ChartFormat)) prepares once per chart,
    /// with [`ChartCache::write`]. The default ignores the cache.
    ///
    /// # Errors
    ///
    /// [`BufferFull`] if `out` cannot hold the whole record (`out` is left untouched).
    #[inline]
    fn write_cached(
        &self,
        cache: &mut ChartCache,
        record: &Record<'_>,
        out: &mut [u8],
    ) -> Result<usize, BufferFull> {
        let _ = cache;
        self.write(record, out)
    }
}

impl<F: Fn(&Record<'_>, &mut [u8]) -> Result<usize, BufferFull>> RecordFormat for F {
    fn write(&self, record: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull> {
        self(record, out)
    }
}

/// How records travel to the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing<'a> {
    /// A byte stream of newline-terminated records (Graphite, OpenTSDB telnet, JSON lines).
    Stream,
    /// HTTP/1.1 `POST` requests, one batch of records per request body, one request in
    /// flight at a time.
    Http(HttpFraming<'a>),
}

/// The shape of the HTTP requests of [`Framing::Http`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpFraming<'a> {
    /// The request path, e.g. `/api/put`.
    pub path: &'a str,
    /// The `Host` header value.
    pub host: &'a str,
    /// The `Content-Type` header value.
    pub content_type: &'a str,
    /// More header lines, each ending with `\r\n` (may be empty).
    pub extra_headers: &'a str,
    /// Bytes that open a body (e.g. `[` for a JSON array).
    pub body_open: &'a [u8],
    /// Bytes between two records of a body (e.g. `,`).
    pub separator: &'a [u8],
    /// Bytes that close a body (e.g. `]`).
    pub body_close: &'a [u8],
    /// The largest body, in bytes (before compression).
    pub max_body: usize,
    /// Compress each body with snappy (raw block format), as remote write requires.
    pub snappy: bool,
    /// Write the HTTP request header in front of each body. Without it the engine hands
    /// out bare bodies, and the shell wraps each in a request of its own (see
    /// [`HttpFraming::bodies`]).
    pub write_header: bool,
}

impl<'a> HttpFraming<'a> {
    /// Prometheus remote write 1.0: a snappy-compressed protobuf `WriteRequest` per
    /// request, with the headers the protocol requires (which netdata omits). Use it
    /// with [`RemoteWriteFormat`](crate::format::remote_write::RemoteWriteFormat).
    #[must_use]
    pub const fn remote_write(path: &'a str, host: &'a str, max_body: usize) -> Self {
        Self {
            path,
            host,
            content_type: "application/x-protobuf",
            extra_headers:
                "Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n",
            body_open: b"",
            separator: b"",
            body_close: b"",
            max_body,
            snappy: true,
            write_header: true,
        }
    }

    /// Batches of records with no HTTP header around them, for protocols whose requests
    /// the shell builds itself: a Kinesis `PutRecords` call (which must be signed over the
    /// whole body) or a MongoDB `OP_MSG` insert (whose document sequence is the body).
    ///
    /// Each body is at most `max_body` bytes of records, back to back. The shell takes a
    /// body from [`Engine::poll_transmit`], sends its own request for it, reports the
    /// whole body with [`Engine::handle_written`] once the request is on the wire, and the
    /// verdict with [`Engine::handle_outcome`]. Until then the same body is offered again
    /// (after a reconnect, say), so a request can be rebuilt at any time.
    #[must_use]
    pub const fn bodies(max_body: usize) -> Self {
        Self {
            path: "",
            host: "",
            content_type: "",
            extra_headers: "",
            body_open: b"",
            separator: b"",
            body_close: b"",
            max_body,
            snappy: false,
            write_header: false,
        }
    }

    /// Room the buffer keeps free after a body to compress it into.
    const fn compression_room(&self) -> usize {
        if self.snappy {
            max_compressed_len(self.max_body)
        } else {
            0
        }
    }
}

/// An engine's settings.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    /// Prefix, hostname and host tags of every record.
    pub host: HostMeta<'a>,
    /// Names (true, netdata's default) or ids in metric names.
    pub names: bool,
    /// Average, sum or as-collected values.
    pub data_source: DataSource,
    /// Seconds between export runs (netdata's `update every`); 0 is taken as 1.
    pub update_every: u32,
    /// How many servers the destination list has (at least 1).
    pub destinations: usize,
    /// How long a connection attempt, a stalled write or an unanswered request may take.
    pub timeout: Duration,
    /// The first wait after a full round of failed connections or a retried request.
    pub backoff_min: Duration,
    /// The longest such wait.
    pub backoff_max: Duration,
    /// Whether the shell reports acknowledged bytes ([`Engine::handle_unacknowledged`]).
    /// Without that, bytes are taken as delivered once written.
    pub transport_acks: bool,
    /// Stream or HTTP.
    pub framing: Framing<'a>,
}

/// What the engine wants the shell to do with the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Action {
    /// Open a connection to this item of the destination list, then report the outcome
    /// with [`Engine::handle_connected`] or [`Engine::handle_connect_failed`].
    Connect {
        /// The index of the item in the destination list.
        destination: usize,
    },
    /// Close the connection (or abandon the attempt), then report it with
    /// [`Engine::handle_disconnected`].
    Disconnect,
}

/// The verdict on one request, for [`Engine::handle_outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// The request was taken. `rejected` of its records were refused one by one (a
    /// MongoDB write error, say) and are counted as lost; the rest are delivered.
    Delivered {
        /// Records the server refused individually (at most the request's count).
        rejected: u64,
    },
    /// Try the whole request again after a backoff (an HTTP 429 or 5xx, or a Kinesis
    /// reply with failed records, whose shell remembers which records already went in).
    Retry {
        /// The status to record as the last bad one (an HTTP status, or 0).
        status: u16,
    },
    /// The request was refused as a whole: its records are counted as lost.
    Rejected {
        /// The status to record as the last bad one (an HTTP status, or 0).
        status: u16,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Down { retry_at: Instant },
    Connecting { since: Instant },
    Up,
    Closing,
}

/// At most this many HTTP requests wait in the buffer.
const MAX_BATCHES: usize = 16;
/// Entries of the snappy hash table an engine compresses HTTP bodies with (remote
/// write): 8 KiB, on the stack only while a body is compressed. A quarter of snappy's
/// usual table: the repeats of a write request are a series or two back, and the block
/// is about 2% larger than with [`DEFAULT_TABLE_LEN`](crate::format::remote_write::snappy::DEFAULT_TABLE_LEN).
pub const COMPRESSION_TABLE_LEN: usize = 4096;
/// Spans remembered while their records are in the buffer (for [`Engine::resume_point`]).
const MAX_MARKS: usize = 64;
/// At most this many metrics are looked at per call.
const MAX_VISITS: usize = 4096;

#[derive(Clone, Copy, Debug, Default)]
struct Batch {
    /// Where the reserved header room starts.
    reserve: usize,
    /// Where the header starts once written (after `reserve`, right before `body`).
    header: usize,
    body: usize,
    end: usize,
    records: u64,
    /// Bytes of the records themselves (what `Counters::bytes_formatted` counted).
    record_bytes: u64,
    closed: bool,
}

enum Push {
    Full,
    Oversized,
}

/// The exporter for one destination. See the [module documentation](self).
///
/// `F` formats records; `B` is the send buffer's storage (`[u8; N]` in firmware, a boxed
/// slice on Linux), whose length is the buffer's byte limit.
#[derive(Debug)]
pub struct Engine<'a, F, B> {
    config: Config<'a>,
    format: F,
    buf: SendBuffer<B>,
    counters: Counters,
    step: Duration,
    next_heartbeat: Instant,
    /// The end of the newest span that is due (a heartbeat has passed it).
    due_before: i64,
    /// The span being formatted: `(span_after, span_before]`.
    span_after: i64,
    span_before: Option<i64>,
    first_span: bool,
    metric_cursor: usize,
    work_pending: bool,
    now: Instant,
    link: Link,
    destination: usize,
    failed_in_round: usize,
    backoff: Duration,
    http_backoff: Duration,
    hold_until: Instant,
    last_progress: Instant,
    batches: [Batch; MAX_BATCHES],
    batch_count: usize,
    header_reserve: usize,
    producing: bool,
    /// The failure count when [`stop_producing`](Self::stop_producing) was called.
    failures_at_stop: u64,
    /// Where each span still (partly) in the buffer begins: (bytes formatted before its
    /// first record, its `after`), oldest first.
    marks: [(u64, i64); MAX_MARKS],
    mark_count: usize,
    /// Record bytes that have left the buffer (delivered, or lost and counted).
    bytes_gone: u64,
    /// The chart part of the chart being formatted; cleared at every call that formats.
    chart_cache: ChartCache,
    /// The span of the last ring state asked for, with its ring state, `after` and
    /// `before`.
    span_cache: Option<((RingState, i64, i64), ChartSpan)>,
}

impl<'a, F: RecordFormat, B: AsRef<[u8]> + AsMut<[u8]>> Engine<'a, F, B> {
    /// An engine starting at `now`: the first span runs from `now` to the first
    /// heartbeat, as netdata's first iteration does.
    pub fn new(config: Config<'a>, format: F, storage: B, now: Instant) -> Self {
        let update_every = config.update_every.max(1);
        let step = Duration::from_secs(u64::from(update_every));
        let header_reserve = match config.framing {
            Framing::Stream => 0,
            Framing::Http(h) => header_len(&h, u64::MAX),
        };
        Self {
            config: Config {
                update_every,
                destinations: config.destinations.max(1),
                ..config
            },
            format,
            buf: SendBuffer::new(storage),
            counters: Counters::default(),
            step,
            next_heartbeat: now.next_multiple_of(step),
            due_before: now.as_secs(),
            span_after: now.as_secs(),
            span_before: None,
            first_span: true,
            metric_cursor: 0,
            work_pending: false,
            now,
            link: Link::Down { retry_at: now },
            destination: 0,
            failed_in_round: 0,
            backoff: config.backoff_min,
            http_backoff: config.backoff_min,
            hold_until: now,
            last_progress: now,
            batches: [Batch::default(); MAX_BATCHES],
            batch_count: 0,
            header_reserve,
            producing: true,
            failures_at_stop: 0,
            marks: [(0, 0); MAX_MARKS],
            mark_count: 0,
            bytes_gone: 0,
            chart_cache: ChartCache::new(),
            span_cache: None,
        }
    }

    /// The counters.
    #[must_use]
    pub const fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The end of the last span whose records have all been formatted: every point up
    /// to this time has been delivered, is buffered, or was counted as lost.
    #[must_use]
    pub const fn cursor(&self) -> i64 {
        self.span_after
    }

    /// Makes a new engine continue where another one (for the same data, e.g. before a
    /// configuration reload) stopped formatting: its first span starts at `cursor` (see
    /// [`cursor`](Self::cursor)) instead of at its creation time, so nothing between the
    /// two is skipped. Has no effect once the engine has formatted anything, or if
    /// `cursor` is not earlier than its own start.
    pub fn resume_from(&mut self, cursor: i64) {
        if self.counters.accepted == 0 && self.span_before.is_none() && cursor < self.span_after {
            self.span_after = cursor;
            self.first_span = false;
        }
    }

    /// Where a replacement engine should resume so that nothing this engine has not
    /// delivered is skipped: the start of the oldest span that still has records in the
    /// buffer, or [`cursor`](Self::cursor) if the buffer holds nothing. Records of that
    /// oldest span that were already delivered would be sent again (at least once, never
    /// lost). Pass it to the new engine's [`resume_from`](Self::resume_from).
    #[must_use]
    pub fn resume_point(&self) -> i64 {
        if self.mark_count > 0 && self.bytes_gone < self.counters.bytes_formatted {
            self.marks[0].1
        } else {
            self.span_after
        }
    }

    fn mark_span_start(&mut self) {
        let mark = (self.counters.bytes_formatted, self.span_after);
        if self.mark_count < MAX_MARKS {
            self.marks[self.mark_count] = mark;
            self.mark_count += 1;
        } else {
            // Full: keep the oldest spans (a resume point may then be earlier than needed,
            // never later).
        }
    }

    /// Record bytes left the buffer: forget the spans that are entirely gone.
    fn records_gone(&mut self, bytes: u64) {
        self.bytes_gone = self.bytes_gone.saturating_add(bytes);
        while self.mark_count >= 2 && self.marks[1].0 <= self.bytes_gone {
            self.marks.copy_within(1..self.mark_count, 0);
            self.mark_count -= 1;
        }
    }

    /// Replaces the extra header lines of the HTTP requests made from now on (e.g. a
    /// bearer token read again from its file on reconnect). Requests already complete keep
    /// the headers they were written with; the batch being filled is closed first.
    /// Does nothing for stream framing.
    pub fn set_http_extra_headers(&mut self, headers: &'a str) {
        if let Framing::Http(mut h) = self.config.framing {
            self.close_open_batch();
            h.extra_headers = headers;
            self.config.framing = Framing::Http(h);
            self.header_reserve = header_len(&h, u64::MAX);
        }
    }

    /// Stops formatting; what is buffered is still sent. For shutting down (deliver what
    /// is buffered, then exit) and for retiring an engine whose destination a reload
    /// removed. (An engine replaced by one with new settings needs no stop: take its
    /// [`resume_point`](Self::resume_point) instead, and nothing is lost.)
    ///
    /// Every record that is due and was never formatted is counted as lost,
    /// [`LossReason::Shutdown`]: the rest of the span being formatted and every later
    /// span whose heartbeat has passed (as of the last
    /// [`handle_timeout`](Self::handle_timeout)), for an engine behind because its buffer
    /// was full or because it is catching up after an outage. `source` must be what the
    /// engine exports. The count is one record per metric and span, exactly the records
    /// formatting would have made: a metric with no point in a span has no record to
    /// lose, and a record whose points have already left the ring counts as
    /// [`LossReason::Expired`], as formatting would count it. A span whose heartbeat has
    /// not been handled is not due: its records do not exist yet and are not counted.
    /// Without this, stopping behind would lose those records silently.
    ///
    /// The work is one look at each metric per due span that can still have a point
    /// (spans after every ring's newest point are skipped at once, so a clock jump costs
    /// nothing), each ring read in order: at most the rings' history, not bounded per
    /// call as [`poll_transmit`](Self::poll_transmit) is, since it happens once (about a
    /// quarter of a second for 10,000 metrics a whole 3,600-point ring behind, in the
    /// `engine_stop` benchmark). Calling it again does nothing.
    pub fn stop_producing<S: Source + ?Sized>(&mut self, source: &S) {
        if !self.producing {
            return;
        }
        self.producing = false;
        self.failures_at_stop = self.counters.failures;
        self.work_pending = false;
        self.close_open_batch();
        self.count_unformatted(source);
    }

    /// Counts every due record not formatted as lost ([`LossReason::Shutdown`]) and moves
    /// the span cursor past them: the same records [`produce`](Self::produce) would
    /// format, the rest of the open span and then every due span, without formatting.
    ///
    /// The spans after the open one are counted metric by metric (the dimensions of a
    /// chart, which share a ring, together): each ring is then read in order, where a
    /// span-by-span walk would read one window of every ring per span, each a cache miss
    /// (several times slower a whole ring behind; see the `engine_stop` benchmark).
    fn count_unformatted<S: Source + ?Sized>(&mut self, source: &S) {
        let mut lost = 0u64;
        if let Some(before) = self.span_before {
            while let Some(metric) = self.current_metric(source) {
                if self.record_for(&metric, before).is_some() {
                    lost += 1;
                }
                self.metric_cursor += 1;
            }
            self.close_span(before);
        }
        // Stored data: no span starting at or after `horizon` has a point of any metric.
        // A span's window starts at `after − 2u` rounded down to the chart's interval
        // `u`, later than `after − 3u`, so once `after ≥ newest + 3u` the window lies
        // after the ring's newest point (`window::align` reports it outside).
        let horizon = self.reduce().map(|_| {
            (0..source.metric_count())
                .filter_map(|i| source.metric(i))
                .map(|m| {
                    let u = i64::from(m.ring.update_every().max(1));
                    m.ring.last_time().saturating_add(u.saturating_mul(3))
                })
                .max()
                .unwrap_or(i64::MIN)
        });
        let spans = self.due_spans(horizon);
        let first_span = self.first_span;
        let mut group = 0;
        while let Some(first) = source.metric(group) {
            let end = (group + 1..)
                .find(|&i| source.metric(i).is_none_or(|m| m.ring != first.ring))
                .unwrap_or(group + 1);
            for (k, (after, before)) in spans.enumerate() {
                // `record_for` reads the span's start (and, as-collected, whether it is
                // the first span) from the engine.
                self.span_after = after;
                self.first_span = first_span && k == 0;
                for metric in (group..end).filter_map(|i| source.metric(i)) {
                    if self.record_for(&metric, before).is_some() {
                        lost += 1;
                    }
                }
            }
            group = end;
        }
        // The cursor: after the last due span; or, if the horizon came first, at the end
        // of the last due heartbeat interval, since nothing before it has a point.
        let mut rest = spans;
        let walked = rest.by_ref().count() > 0;
        self.span_after = rest.after;
        let beyond = horizon.is_some_and(|h| rest.after >= h);
        if let (true, Some(u)) = (beyond, spans.every) {
            let due = self.due_before.div_euclid(u).saturating_mul(u);
            self.span_after = self.span_after.max(due);
        }
        self.first_span = first_span && !walked && !beyond;
        self.span_before = None;
        self.counters.accepted += lost;
        self.counters.lose(LossReason::Shutdown, lost, 0);
    }

    /// Bytes in the send buffer (sent or not) not yet known to be delivered.
    #[must_use]
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The send buffer's byte limit.
    #[must_use]
    pub fn buffer_limit(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether a connection is up (as far as the engine was told).
    #[must_use]
    pub const fn is_connected(&self) -> bool {
        matches!(self.link, Link::Up)
    }

    /// After [`stop_producing`](Self::stop_producing): whether waiting can still see
    /// the buffer delivered. It is, while bytes are buffered and a connection is up, or
    /// is being made now without a failure since the stop (a server that closes the
    /// connection after each reply, as many HTTP servers do, leaves the engine
    /// reconnecting, not failed). It is not for an engine down and waiting out a
    /// back-off, or failing again: a shell that is stopping need not wait for it.
    #[must_use]
    pub fn can_still_deliver(&self, now: Instant) -> bool {
        if self.buf.len() == 0 {
            return false;
        }
        self.is_connected()
            || (self.counters.failures == self.failures_at_stop && self.is_reconnecting(now))
    }

    /// Whether a connection is being made, or is to be made now (the engine has
    /// something to send, and is not waiting out a back-off).
    fn is_reconnecting(&self, now: Instant) -> bool {
        match self.link {
            Link::Connecting { .. } => true,
            Link::Down { retry_at } => retry_at <= now && self.has_sendable(),
            Link::Up | Link::Closing => false,
        }
    }

    // ---------------------------------------------------------------- time and data

    /// Advances the schedule to `now` and formats what is due. Call it when
    /// [`poll_timeout`](Self::poll_timeout) says so (calling it more often is harmless).
    pub fn handle_timeout<S: Source + ?Sized>(&mut self, now: Instant, source: &S) {
        self.now = self.now.max(now);
        if now >= self.next_heartbeat {
            // The newest boundary at or before now; missed boundaries are not lost, the
            // spans between them are all due.
            let next = now.next_multiple_of(self.step);
            let boundary = Instant::from_micros(
                next.as_micros()
                    .saturating_sub(self.step.as_micros() as i64),
            );
            self.due_before = boundary.as_secs();
            self.next_heartbeat = next;
            self.work_pending = true;
        }
        self.produce(source);
    }

    /// The end of the next span to format after `span_after`, if its heartbeat has
    /// passed.
    fn next_due_span(&self) -> Option<i64> {
        self.due_spans(None).next().map(|(_, before)| before)
    }

    /// The due spans from `span_after` on, as `(after, before)`, in order, ending before
    /// `horizon` if there is one (see [`count_unformatted`](Self::count_unformatted)).
    fn due_spans(&self, horizon: Option<i64>) -> DueSpans {
        DueSpans {
            after: self.span_after,
            due_before: self.due_before,
            // Stored data: one span per heartbeat interval, replayable. As-collected
            // values exist only now: one span up to now.
            every: self
                .reduce()
                .map(|_| i64::from(self.config.update_every.max(1))),
            horizon,
        }
    }

    fn reduce(&self) -> Option<Reduce> {
        match self.config.data_source {
            DataSource::Average => Some(Reduce::Average),
            DataSource::Sum => Some(Reduce::Sum),
            _ => None,
        }
    }

    /// Formats due spans into the buffer until it is full, nothing is due, or the work
    /// bound of one call is reached.
    fn produce<S: Source + ?Sized>(&mut self, source: &S) {
        if !self.producing {
            self.work_pending = false;
            self.close_open_batch();
            return;
        }
        if !self.has_unsent() && !self.awaiting_response() && self.buf.written == self.buf.acked {
            // Idle until now: a stall is measured from the moment there is work again.
            self.last_progress = self.now;
        }
        // The records borrow the source's strings only during this call: a chart part kept
        // from an earlier call could belong to strings that have changed since.
        self.chart_cache.clear();
        if matches!(self.config.framing, Framing::Stream)
            && self.buf.start > 0
            && self.buf.len() <= self.buf.start
        {
            // Fewer live bytes than the freed room in front of them: move them to the
            // front (at most what was sent since the last move), so that the buffer keeps
            // reusing its first pages instead of touching all of them (its resident
            // memory stays near what is really buffered).
            self.buf.compact();
        }
        let mut visits = 0;
        loop {
            let Some((before, opened)) = self.open_span() else {
                // Not due yet: its heartbeat has not passed.
                self.work_pending = false;
                self.close_open_batch();
                return;
            };
            if opened {
                self.mark_span_start();
            }
            while let Some(metric) = self.current_metric(source) {
                if visits == MAX_VISITS {
                    self.work_pending = true;
                    return;
                }
                visits += 1;
                let Some(record) = self.record_for(&metric, before) else {
                    self.metric_cursor += 1;
                    continue;
                };
                match self.push(&record) {
                    Ok(()) => self.metric_cursor += 1,
                    Err(Push::Oversized) => {
                        self.counters.accepted += 1;
                        self.counters.lose(LossReason::Oversized, 1, 0);
                        self.metric_cursor += 1;
                    }
                    Err(Push::Full) => {
                        self.work_pending = false;
                        self.close_open_batch();
                        return;
                    }
                }
            }
            self.close_span(before);
        }
    }

    /// The end of the span being walked: the open one, or else the next due one, which
    /// this opens with the metric cursor on the first metric (then `true`). `None` when
    /// no span is due. [`produce`](Self::produce) and
    /// [`count_unformatted`](Self::count_unformatted) walk spans with it, so that both
    /// see the same records.
    fn open_span(&mut self) -> Option<(i64, bool)> {
        if let Some(before) = self.span_before {
            return Some((before, false));
        }
        let before = self.next_due_span()?;
        self.span_before = Some(before);
        self.metric_cursor = 0;
        Some((before, true))
    }

    /// The metric under the cursor, if the open span has metrics left.
    fn current_metric<'m, S: Source + ?Sized>(&self, source: &'m S) -> Option<Metric<'m>> {
        if self.metric_cursor < source.metric_count() {
            source.metric(self.metric_cursor)
        } else {
            None
        }
    }

    /// Every metric of the span ending at `before` has been walked: the next one starts
    /// there.
    fn close_span(&mut self, before: i64) {
        self.span_after = before;
        self.span_before = None;
        self.first_span = false;
    }

    /// What the span `(span_after, before]` is for `m`'s ring: worked out once per ring
    /// state and kept while the metrics that follow share it (the dimensions of a chart).
    #[inline]
    fn span_of(&mut self, m: &Metric<'_>, before: i64) -> ChartSpan {
        let key = (m.ring, self.span_after, before);
        match self.span_cache {
            Some((k, span)) if k == key => span,
            _ => {
                let span = chart_span(m, self.span_after, before);
                self.span_cache = Some((key, span));
                span
            }
        }
    }

    /// The record of one metric for the span ending at `before`, if it has one. Points
    /// that existed but were overwritten before the span could be exported are counted
    /// as lost here.
    fn record_for<'m>(&mut self, m: &Metric<'m>, before: i64) -> Option<Record<'m>>
    where
        'a: 'm,
    {
        let after = self.span_after;
        let value = match self.reduce() {
            Some(how) => match self.span_of(m, before) {
                // The chart stored no point in this span (its interval is longer than
                // the export interval): netdata would send its last point again.
                ChartSpan::NoNewPoint => return None,
                ChartSpan::Expired => {
                    // Some of the span's points were overwritten before it could be
                    // exported: an average over the rest would be a different number.
                    self.counters.accepted += 1;
                    self.counters.lose(LossReason::Expired, 1, 0);
                    return None;
                }
                // The window ends before the oldest point: netdata would read that
                // point under an earlier time, and send it twice.
                ChartSpan::NotReached | ChartSpan::Outside => return None,
                ChartSpan::Span(span) => match span.value(m.values, how) {
                    Ok(v) => (Value::Stored(v), span.window().last_timestamp),
                    Err(_) => return None,
                },
            },
            None => {
                let c = m.collected?;
                // (after, before], plus `after` itself on the first span.
                let fresh = c.time > after || (self.first_span && c.time == after);
                if !fresh || c.time > before {
                    return None;
                }
                (Value::Collected(c.value), c.time)
            }
        };
        Some(Record {
            host: self.config.host,
            chart: m.chart,
            dimension: m.dimension,
            names: self.config.names,
            value: value.0,
            timestamp: value.1,
        })
    }

    fn push(&mut self, record: &Record<'_>) -> Result<(), Push> {
        match self.config.framing {
            Framing::Stream => self.push_line(record),
            Framing::Http(h) => self.push_http(record, &h),
        }
    }

    fn accept(&mut self, bytes: usize) {
        self.counters.accepted += 1;
        self.counters.buffered += 1;
        self.counters.bytes_formatted += bytes as u64;
    }

    fn push_line(&mut self, record: &Record<'_>) -> Result<(), Push> {
        for attempt in 0..3 {
            if let Ok(n) = self
                .format
                .write_cached(&mut self.chart_cache, record, self.buf.tail())
            {
                self.buf.commit(n);
                self.accept(n);
                return Ok(());
            }
            match attempt {
                0 if self.buf.start > 0 => {
                    self.buf.compact();
                }
                _ if self.reduce().is_none() && self.evict_unsent() => {}
                _ => break,
            }
        }
        if self.buf.len() == 0 {
            return Err(Push::Oversized);
        }
        if self.reduce().is_none() {
            // As-collected: this value cannot wait for room. Count it lost.
            self.counters.accepted += 1;
            self.counters.lose(LossReason::BufferFull, 1, 0);
            return Ok(());
        }
        Err(Push::Full)
    }

    /// Drops the oldest unsent whole records (up to half of them) to make room for new
    /// as-collected values. Returns whether anything was dropped.
    fn evict_unsent(&mut self) -> bool {
        let (written, filled) = (self.buf.written, self.buf.filled);
        // The first record boundary at or after `written`: a record partly written on
        // this connection must be finished, not cut.
        let from = if written == self.buf.start || self.buf.bytes(written - 1, written) == b"\n" {
            written
        } else {
            match self
                .buf
                .bytes(written, filled)
                .iter()
                .position(|&b| b == b'\n')
            {
                Some(i) => written + i + 1,
                None => return false,
            }
        };
        let unsent = self.buf.bytes(from, filled);
        let half = after_last_newline(unsent.get(..unsent.len().div_ceil(2)).unwrap_or(&[]));
        let cut = if half == 0 {
            after_last_newline(unsent)
        } else {
            half
        };
        if cut == 0 {
            return false;
        }
        let records = count_lines(self.buf.bytes(from, from + cut));
        self.buf.cut(from, from + cut);
        self.records_gone(cut as u64);
        self.counters.buffered -= records;
        self.counters
            .lose(LossReason::BufferFull, records, cut as u64);
        self.buf.compact();
        true
    }

    fn push_http(&mut self, record: &Record<'_>, h: &HttpFraming<'_>) -> Result<(), Push> {
        for attempt in 0..2 {
            match self.try_push_http(record, h) {
                Ok(()) => return Ok(()),
                Err(()) if attempt == 0 => {
                    // Close the open batch (it can be sent) or make room, then retry once.
                    if self.open_batch().is_some_and(|b| b.records > 0) {
                        self.close_open_batch();
                        return Err(Push::Full);
                    }
                    self.buf
                        .compact_batches(&mut self.batches, self.batch_count);
                }
                Err(()) => {}
            }
        }
        if self.batch_count == 0 || (self.batch_count == 1 && self.open_batch().is_some()) {
            return Err(Push::Oversized);
        }
        if self.reduce().is_none() {
            self.counters.accepted += 1;
            self.counters.lose(LossReason::BufferFull, 1, 0);
            return Ok(());
        }
        Err(Push::Full)
    }

    fn open_batch(&self) -> Option<Batch> {
        let last = self.batches.get(self.batch_count.checked_sub(1)?)?;
        (!last.closed).then_some(*last)
    }

    fn try_push_http(&mut self, record: &Record<'_>, h: &HttpFraming<'_>) -> Result<(), ()> {
        if self.open_batch().is_none() {
            if self.batch_count == MAX_BATCHES {
                return Err(());
            }
            let need =
                self.header_reserve + h.body_open.len() + h.body_close.len() + h.compression_room();
            if self.buf.tail().len() < need {
                return Err(());
            }
            let reserve = self.buf.filled;
            self.buf.commit(self.header_reserve);
            let body = self.buf.filled;
            self.buf.tail()[..h.body_open.len()].copy_from_slice(h.body_open);
            self.buf.commit(h.body_open.len());
            self.batches[self.batch_count] = Batch {
                reserve,
                header: reserve,
                body,
                end: self.buf.filled,
                records: 0,
                record_bytes: 0,
                closed: false,
            };
            self.batch_count += 1;
        }
        let index = self.batch_count - 1;
        let batch = self.batches[index];
        let sep = if batch.records == 0 {
            &[][..]
        } else {
            h.separator
        };
        let body_len = self.buf.filled - batch.body;
        let tail = self.buf.tail();
        let room = tail
            .len()
            .saturating_sub(sep.len() + h.body_close.len())
            .min(
                h.max_body
                    .saturating_sub(body_len + sep.len() + h.body_close.len()),
            );
        let out = tail.get_mut(sep.len()..sep.len() + room).ok_or(())?;
        let n = self
            .format
            .write_cached(&mut self.chart_cache, record, out)
            .map_err(|_| ())?;
        tail[..sep.len()].copy_from_slice(sep);
        self.buf.commit(sep.len() + n);
        self.batches[index].records += 1;
        self.batches[index].record_bytes += n as u64;
        self.batches[index].end = self.buf.filled;
        self.accept(n);
        Ok(())
    }

    /// Closes the body of the open batch and writes its header right in front of it.
    fn close_open_batch(&mut self) {
        let Framing::Http(h) = self.config.framing else {
            return;
        };
        let Some(mut batch) = self.open_batch() else {
            return;
        };
        let index = self.batch_count - 1;
        if batch.records == 0 {
            // Nothing in it: give the room back.
            self.buf.filled = batch.reserve;
            self.batch_count -= 1;
            return;
        }
        self.buf.tail()[..h.body_close.len()].copy_from_slice(h.body_close);
        self.buf.commit(h.body_close.len());
        batch.end = self.buf.filled;
        if h.snappy {
            // Compress the body into the room kept free after it, then move it back.
            let (body, end) = (batch.body, batch.end);
            let Some(n) = compress_in_place(self.buf.storage_mut(), body, end) else {
                // Unreachable: the room was reserved. Drop the batch rather than send garbage.
                self.buf.filled = batch.reserve;
                self.batch_count -= 1;
                self.counters.buffered -= batch.records;
                self.records_gone(batch.record_bytes);
                self.counters
                    .lose(LossReason::Oversized, batch.records, (end - body) as u64);
                return;
            };
            batch.end = body + n;
            self.buf.filled = batch.end;
        }
        let body_len = (batch.end - batch.body) as u64;
        let len = header_len(&h, body_len);
        batch.header = batch.body - len;
        write_header(
            &h,
            body_len,
            &mut self.buf.storage_mut()[batch.header..batch.body],
        );
        batch.closed = true;
        self.batches[index] = batch;
    }

    // ---------------------------------------------------------------- connection

    /// What to do with the connection now, if anything.
    pub fn poll_action(&mut self, now: Instant) -> Option<Action> {
        self.now = self.now.max(now);
        match self.link {
            Link::Down { retry_at } => {
                if now >= retry_at && self.has_sendable() {
                    self.link = Link::Connecting { since: now };
                    self.counters.reconnects += 1;
                    return Some(Action::Connect {
                        destination: self.destination,
                    });
                }
                None
            }
            Link::Connecting { since } => {
                if now.saturating_duration_since(since) >= self.config.timeout {
                    self.link = Link::Closing;
                    self.connect_failed(now);
                    return Some(Action::Disconnect);
                }
                None
            }
            Link::Up => {
                let waiting = self.buf.written > self.buf.acked || self.awaiting_response();
                // While a retry waits for its backoff, nothing is expected to move; the
                // stall clock starts again when the wait ends.
                let since = self.last_progress.max(self.hold_until);
                let stalled = now >= self.hold_until
                    && (waiting || self.has_unsent())
                    && now.saturating_duration_since(since) >= self.config.timeout;
                if stalled {
                    self.counters.failures += 1;
                    self.link = Link::Closing;
                    return Some(Action::Disconnect);
                }
                None
            }
            Link::Closing => None,
        }
    }

    /// The connection to the destination chosen by the last [`Action::Connect`] is up.
    pub fn handle_connected(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.link = Link::Up;
        self.failed_in_round = 0;
        self.backoff = self.config.backoff_min;
        self.last_progress = now;
    }

    /// The connection attempt failed.
    pub fn handle_connect_failed(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if matches!(self.link, Link::Connecting { .. }) {
            self.connect_failed(now);
        }
        self.link = match self.link {
            Link::Down { retry_at } => Link::Down { retry_at },
            _ => self.down_link(now),
        };
    }

    fn connect_failed(&mut self, now: Instant) {
        self.counters.failures += 1;
        self.destination = (self.destination + 1) % self.config.destinations;
        self.failed_in_round += 1;
        self.link = self.down_link(now);
    }

    fn down_link(&mut self, now: Instant) -> Link {
        if self.failed_in_round >= self.config.destinations {
            // A full round failed: wait before the next one.
            self.failed_in_round = 0;
            let retry_at = now.saturating_add(self.backoff);
            self.backoff = Duration::from_micros(
                self.backoff
                    .as_micros()
                    .saturating_mul(2)
                    .min(self.config.backoff_max.as_micros())
                    .max(1),
            );
            Link::Down { retry_at }
        } else {
            Link::Down { retry_at: now }
        }
    }

    /// With bare bodies ([`HttpFraming::bodies`]): the connection is lost while the
    /// shell has written only part of the request it built around the current body.
    /// That is a failure (a request torn), which the engine cannot see by itself: it
    /// hears of a body only once its whole request is written. Call it just before
    /// [`handle_disconnected`](Self::handle_disconnected), which then offers the body
    /// again for the next connection. Does nothing for other framings, or after a stall
    /// ([`poll_action`](Self::poll_action) counted that one).
    pub fn handle_request_cut(&mut self, now: Instant) {
        self.now = self.now.max(now);
        let bodies = matches!(self.config.framing, Framing::Http(h) if !h.write_header);
        if bodies && self.link == Link::Up {
            self.counters.failures += 1;
        }
    }

    /// The connection closed (by either side, or after [`Action::Disconnect`]).
    ///
    /// `unacknowledged` is how many of the bytes written on this connection the peer had
    /// not acknowledged, if the shell knows (Linux: `SIOCOUTQ` just before closing);
    /// `None` means "assume everything written arrived". Sending resumes on the next
    /// connection at the first record that was not acknowledged in full.
    ///
    /// The close counts as a failure only if it interrupted something: bytes written on
    /// this connection must be written again (stream framing: unacknowledged bytes, or
    /// the acknowledged start of a record; HTTP framing: a request partly written, or
    /// written and not answered yet). Records queued and not yet written are simply sent
    /// on the next connection: a server that closes the connection after each complete
    /// reply (`Connection: close`) causes no failure. Nor does the close that follows a
    /// stall, which [`poll_action`](Self::poll_action) already counted.
    pub fn handle_disconnected(&mut self, now: Instant, unacknowledged: Option<usize>) {
        self.now = self.now.max(now);
        if !matches!(self.link, Link::Up | Link::Closing) {
            // No connection was established: nothing was written, nothing to rewind.
            return;
        }
        let interrupted = match self.config.framing {
            Framing::Stream => {
                let unacked = unacknowledged
                    .unwrap_or(0)
                    .min(self.buf.written - self.buf.acked);
                self.buf.acked = self.buf.written - unacked;
                self.deliver_acked();
                // Whatever was written after the last whole record delivered is sent again.
                let rewound = self.buf.written > self.buf.start;
                self.buf.written = self.buf.start;
                self.buf.acked = self.buf.start;
                rewound
            }
            Framing::Http(_) => match self.current_batch() {
                // The request is written again from its first byte. (With bare bodies the
                // shell reports a body written only once its whole request is on the
                // wire, so only an unanswered request shows here.)
                Some(first) => {
                    let started = self.buf.written > first.header;
                    self.buf.written = first.header;
                    started
                }
                None => false,
            },
        };
        if interrupted && self.link != Link::Closing {
            self.counters.failures += 1;
        }
        // Reconnect from the first item of the list, as netdata does: a recovered primary
        // is used again as soon as possible.
        self.destination = 0;
        self.failed_in_round = 0;
        self.link = Link::Down { retry_at: now };
    }

    // ---------------------------------------------------------------- sending

    fn has_unsent(&self) -> bool {
        match self.config.framing {
            Framing::Stream => self.buf.written < self.buf.filled,
            Framing::Http(_) => self
                .current_batch()
                .is_some_and(|b| self.buf.written < b.end),
        }
    }

    fn has_sendable(&self) -> bool {
        match self.config.framing {
            Framing::Stream => self.buf.len() > 0,
            Framing::Http(_) => self.current_batch().is_some(),
        }
    }

    fn current_batch(&self) -> Option<Batch> {
        let first = *self.batches.first()?;
        (self.batch_count > 0 && first.closed).then_some(first)
    }

    fn awaiting_response(&self) -> bool {
        self.current_batch()
            .is_some_and(|b| self.buf.written >= b.end && b.end > b.header)
    }

    /// The bytes to write now, if the connection is up and there are any. Formats due
    /// spans first if the buffer has room. Report what was written with
    /// [`handle_written`](Self::handle_written).
    pub fn poll_transmit<S: Source + ?Sized>(&mut self, now: Instant, source: &S) -> Option<&[u8]> {
        self.now = self.now.max(now);
        if self.work_pending || self.span_before.is_some() || self.due_before > self.span_after {
            self.produce(source);
        }
        if self.link != Link::Up || now < self.hold_until {
            return None;
        }
        let (from, to) = match self.config.framing {
            Framing::Stream => (self.buf.written, self.buf.filled),
            Framing::Http(_) => {
                let b = self.current_batch()?;
                if self.buf.written < b.header {
                    self.buf.written = b.header;
                    self.buf.acked = b.header;
                }
                (self.buf.written, b.end)
            }
        };
        (from < to).then(|| self.buf.bytes(from, to))
    }

    /// `n` bytes of what [`poll_transmit`](Self::poll_transmit) returned were written.
    pub fn handle_written(&mut self, now: Instant, n: usize) {
        self.now = self.now.max(now);
        let limit = match self.config.framing {
            Framing::Stream => self.buf.filled,
            Framing::Http(_) => self.current_batch().map_or(self.buf.written, |b| b.end),
        };
        let n = n.min(limit - self.buf.written);
        if n == 0 {
            return;
        }
        self.buf.written += n;
        self.counters.bytes_sent += n as u64;
        self.counters.writes += 1;
        self.last_progress = now;
        if matches!(self.config.framing, Framing::Stream) && !self.config.transport_acks {
            self.buf.acked = self.buf.written;
            self.deliver_acked();
        }
    }

    /// The peer has acknowledged all but `outstanding` of the bytes written on this
    /// connection (Linux: `SIOCOUTQ`). Only for stream framing.
    pub fn handle_unacknowledged(&mut self, now: Instant, outstanding: usize) {
        self.now = self.now.max(now);
        if !matches!(self.config.framing, Framing::Stream) {
            return;
        }
        let acked = self
            .buf
            .written
            .saturating_sub(outstanding)
            .max(self.buf.acked);
        if acked > self.buf.acked {
            self.buf.acked = acked;
            self.last_progress = now;
            self.deliver_acked();
        }
    }

    /// Counts the whole records before `acked` as delivered and frees them.
    fn deliver_acked(&mut self) {
        let (start, acked) = (self.buf.start, self.buf.acked);
        let boundary = start + after_last_newline(self.buf.bytes(start, acked));
        let records = count_lines(self.buf.bytes(start, boundary));
        self.counters.delivered += records;
        self.counters.buffered -= records;
        if records > 0 && (self.span_before.is_some() || self.due_before > self.span_after) {
            // Room for spans that waited for it: format them now, not at the next
            // heartbeat (a buffer smaller than one interval's records would fall behind).
            self.work_pending = true;
        }
        self.records_gone((boundary - start) as u64);
        self.buf.start = boundary;
        if self.buf.start == self.buf.filled {
            // Everything went out: start again at the front.
            self.buf.start = 0;
            self.buf.acked -= boundary.min(self.buf.acked);
            self.buf.written -= boundary.min(self.buf.written);
            self.buf.filled = 0;
        }
    }

    /// Response bytes arrived. Stream destinations' responses are only counted.
    ///
    /// They do not count as progress while a request waits for its response: the whole
    /// response must come within the timeout (a server dripping an endless reply would
    /// otherwise hold the destination forever).
    pub fn handle_received(&mut self, now: Instant, bytes: usize) {
        self.now = self.now.max(now);
        self.counters.bytes_received += bytes as u64;
        self.counters.reads += 1;
        if !self.awaiting_response() {
            self.last_progress = now;
        }
    }

    /// The HTTP status of the response to the request in flight: 2xx delivers the
    /// request, 429 and 5xx retry it after a backoff, anything else drops it, counted as
    /// [`LossReason::Rejected`] with the status.
    pub fn handle_http_status(&mut self, now: Instant, status: u16) {
        let outcome = match status {
            200..=299 => Outcome::Delivered { rejected: 0 },
            429 | 500..=599 => Outcome::Retry { status },
            _ => Outcome::Rejected { status },
        };
        self.handle_outcome(now, outcome);
    }

    /// The verdict on the request in flight (the oldest batch, once all of it was
    /// reported written), for shells that judge replies themselves (see
    /// [`HttpFraming::bodies`]). Ignored when no request is complete on the wire.
    pub fn handle_outcome(&mut self, now: Instant, outcome: Outcome) {
        self.now = self.now.max(now);
        self.last_progress = now;
        let Some(batch) = self.current_batch() else {
            return;
        };
        if self.buf.written < batch.end {
            return; // no request is complete on the wire: not a response to ours
        }
        match outcome {
            Outcome::Delivered { rejected } => {
                self.counters.http_ok += 1;
                let rejected = rejected.min(batch.records);
                self.counters.delivered += batch.records - rejected;
                self.counters.buffered -= batch.records;
                if rejected > 0 {
                    // The bytes of the refused records are not known one by one: count
                    // them in proportion.
                    let bytes = (batch.record_bytes as u128 * u128::from(rejected)
                        / u128::from(batch.records)) as u64;
                    self.counters.http_rejected += 1;
                    self.counters.last_rejection_status = 0;
                    self.counters.lose(LossReason::Rejected, rejected, bytes);
                }
                self.pop_batch();
                self.http_backoff = self.config.backoff_min;
            }
            Outcome::Retry { status } => {
                self.counters.http_retried += 1;
                self.counters.failures += 1;
                self.counters.last_bad_status = status;
                self.buf.written = batch.header;
                self.buf.acked = batch.header;
                self.hold_until = now.saturating_add(self.http_backoff);
                self.http_backoff = Duration::from_micros(
                    self.http_backoff
                        .as_micros()
                        .saturating_mul(2)
                        .min(self.config.backoff_max.as_micros())
                        .max(1),
                );
            }
            Outcome::Rejected { status } => {
                self.counters.http_rejected += 1;
                self.counters.last_bad_status = status;
                self.counters.last_rejection_status = status;
                self.counters.buffered -= batch.records;
                self.counters.lose(
                    LossReason::Rejected,
                    batch.records,
                    (batch.end - batch.header) as u64,
                );
                self.pop_batch();
            }
        }
    }

    fn pop_batch(&mut self) {
        if self.batch_count == 0 {
            return;
        }
        self.records_gone(self.batches[0].record_bytes);
        let end = self.batches[0].end;
        self.batches.copy_within(1..self.batch_count, 0);
        self.batch_count -= 1;
        self.buf.start = if self.batch_count == 0 {
            self.buf.filled
        } else {
            self.batches[0].reserve
        };
        self.buf.written = self
            .buf
            .written
            .max(self.buf.start)
            .max(end.min(self.buf.filled));
        self.buf.acked = self.buf.written;
        if self.batch_count == 0 {
            self.buf.start = 0;
            self.buf.written = 0;
            self.buf.acked = 0;
            self.buf.filled = 0;
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.next_heartbeat;
        if self.work_pending {
            t = t.min(self.now);
        }
        match self.link {
            Link::Down { retry_at } if self.has_sendable() => t = t.min(retry_at),
            Link::Connecting { since } => t = t.min(since.saturating_add(self.config.timeout)),
            Link::Up => {
                if self.has_unsent()
                    || self.awaiting_response()
                    || self.buf.written > self.buf.acked
                {
                    t = t.min(self.last_progress.saturating_add(self.config.timeout));
                }
                if self.hold_until > self.now {
                    t = t.min(self.hold_until);
                }
            }
            _ => {}
        }
        Some(t)
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> SendBuffer<B> {
    /// Moves the live bytes of an HTTP buffer to the front, fixing the batch offsets.
    fn compact_batches(&mut self, batches: &mut [Batch], count: usize) {
        let shift = self.compact();
        for b in batches.iter_mut().take(count) {
            b.reserve -= shift;
            b.header -= shift;
            b.body -= shift;
            b.end -= shift;
        }
    }
}

/// Snappy-compresses `storage[body..end]` into the room after `end` and moves the result
/// to `body`; returns its length, or `None` if the room is too small. Kept out of line so
/// that the hash table (8 KiB) is on the stack only while a body is compressed.
#[inline(never)]
fn compress_in_place(storage: &mut [u8], body: usize, end: usize) -> Option<usize> {
    let mut table = [0u16; COMPRESSION_TABLE_LEN];
    let (front, room) = storage.split_at_mut(end);
    let n = compress(front.get(body..)?, room, &mut table).ok()?;
    storage.copy_within(end..end + n, body);
    Some(n)
}

/// The due spans from a cursor on, as `(after, before)` (see [`Engine::due_spans`]).
#[derive(Clone, Copy, Debug)]
struct DueSpans {
    after: i64,
    due_before: i64,
    /// The export interval for stored data (a span per interval); `None` as collected
    /// (one span up to now).
    every: Option<i64>,
    /// Spans starting at or after it are not walked.
    horizon: Option<i64>,
}

impl Iterator for DueSpans {
    type Item = (i64, i64);

    fn next(&mut self) -> Option<(i64, i64)> {
        if self.horizon.is_some_and(|h| self.after >= h) {
            return None;
        }
        let before = match self.every {
            Some(u) => (self.after.div_euclid(u) + 1).saturating_mul(u),
            None => self.due_before,
        };
        if before > self.due_before || self.due_before <= self.after {
            return None;
        }
        let span = (self.after, before);
        self.after = before;
        Some(span)
    }
}

/// What a span is for one ring state (see [`Engine::span_of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChartSpan {
    /// No point in the span that the previous span did not have.
    NoNewPoint,
    /// Some of the span's points were overwritten before it could be exported.
    Expired,
    /// The span ends before the oldest point of a ring that has not wrapped.
    NotReached,
    /// The aligned window is outside the ring.
    Outside,
    /// The slots to reduce.
    Span(Span),
}

/// The [`ChartSpan`] of `(after, before]` for `m`'s ring, in the order the checks apply.
fn chart_span(m: &Metric<'_>, after: i64, before: i64) -> ChartSpan {
    if !has_new_point(m, after, before) {
        ChartSpan::NoNewPoint
    } else if expired(m, after, before) {
        ChartSpan::Expired
    } else if !reaches_stored_points(m, before) {
        ChartSpan::NotReached
    } else {
        match Span::new(&m.ring, after, before) {
            Ok(span) => ChartSpan::Span(span),
            Err(_) => ChartSpan::Outside,
        }
    }
}

/// Whether the aligned window of the span `(after, before]` contains a point that the
/// previous span's window did not: its aligned start is not after its aligned end.
fn has_new_point(m: &Metric<'_>, after: i64, before: i64) -> bool {
    let u = i64::from(m.ring.update_every().max(1));
    let aligned = |t: i64| {
        let t = t.saturating_sub(2 * u);
        t - t % u
    };
    let end = aligned(before).saturating_sub(u);
    aligned(after) <= end
}

/// Whether the span's window ends at or after the oldest point of a ring that has not
/// wrapped yet (else there is nothing in it: netdata's window would read the oldest point
/// under an earlier time). Spans before a wrapped ring's oldest point are [`expired`].
fn reaches_stored_points(m: &Metric<'_>, before: i64) -> bool {
    if m.ring.counter() >= m.ring.entries() as u64 {
        return true;
    }
    let u = i64::from(m.ring.update_every().max(1));
    let t = before.saturating_sub(2 * u);
    let end = (t - t % u).saturating_sub(u);
    end >= m.ring.first_time().saturating_add(u)
}

/// Whether some of a metric's points for the span `(after, before]` existed once but
/// are gone: the ring has wrapped and the span's aligned start (before clamping, see
/// [`crate::window::align`]) is older than the ring's oldest point.
fn expired(m: &Metric<'_>, after: i64, before: i64) -> bool {
    let u = i64::from(m.ring.update_every().max(1));
    let aligned = |t: i64| {
        let t = t.saturating_sub(2 * u);
        t - t % u
    };
    let b = aligned(before).saturating_sub(u);
    let a = aligned(after).min(b);
    // A wrapped ring's oldest point is one interval after `first_time()` (netdata's
    // first time is one interval older than the oldest point it keeps, and the window
    // reads the oldest slot for it: the next point's value under an earlier time).
    m.ring.is_usable()
        && m.ring.counter() >= m.ring.entries() as u64
        && a < m.ring.first_time().saturating_add(u)
}

/// The length of the request header for a body of `body_len` bytes.
fn header_len(h: &HttpFraming<'_>, body_len: u64) -> usize {
    if !h.write_header {
        return 0;
    }
    let mut digits = IntBuffer::new();
    "POST ".len()
        + h.path.len()
        + " HTTP/1.1\r\nHost: ".len()
        + h.host.len()
        + "\r\nContent-Type: ".len()
        + h.content_type.len()
        + "\r\nContent-Length: ".len()
        + digits.format_u64(body_len).len()
        + "\r\n".len()
        + h.extra_headers.len()
        + "\r\n".len()
}

fn write_header(h: &HttpFraming<'_>, body_len: u64, out: &mut [u8]) {
    if !h.write_header {
        return;
    }
    let mut digits = IntBuffer::new();
    let parts: [&[u8]; 11] = [
        b"POST ",
        h.path.as_bytes(),
        b" HTTP/1.1\r\nHost: ",
        h.host.as_bytes(),
        b"\r\nContent-Type: ",
        h.content_type.as_bytes(),
        b"\r\nContent-Length: ",
        digits.format_u64(body_len).as_bytes(),
        b"\r\n",
        h.extra_headers.as_bytes(),
        b"\r\n",
    ];
    let mut at = 0;
    for p in parts {
        if let Some(dst) = out.get_mut(at..at + p.len()) {
            dst.copy_from_slice(p);
        }
        at += p.len();
    }
}
