//! Unit tests of the engine's accounting at the edges the simulations do not pin down
//! exactly: what a stop loses, and which closed connections are failures.
//!
//! The records are fixed-width lines (`a1048\n`: the dimension and the timestamp), so a
//! buffer size is a number of records and every count below can be worked out by hand.

extern crate std;

use std::format;
use std::vec::Vec;

use super::*;
use crate::format::testkit::Rng;
use crate::format::{ChartMeta, DimensionMeta};
use crate::storage_number::{StorageNumber, SN_EXISTS};

/// Bytes of one record.
const LINE: usize = 6;

fn fixed(record: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull> {
    let line = format!("{}{}\n", record.dimension.id, record.timestamp);
    assert_eq!(
        line.len(),
        LINE,
        "timestamps of these tests have four digits"
    );
    let dst = out.get_mut(..line.len()).ok_or(BufferFull)?;
    dst.copy_from_slice(line.as_bytes());
    Ok(line.len())
}

type FormatFn = fn(&Record<'_>, &mut [u8]) -> Result<usize, BufferFull>;
type TestEngine = Engine<'static, FormatFn, Vec<u8>>;

/// One chart whose dimensions (`a`, `b`, `c`, `a`, …) share a ring of one point a
/// second and their values.
struct Rings {
    ring: RingState,
    values: Vec<StorageNumber>,
    collected: Option<Collected>,
    dimensions: usize,
}

impl Rings {
    /// A ring of `entries` slots holding a point for every second from 1000 to `last`
    /// (the older ones overwritten if it wrapped).
    fn filled(entries: usize, last: i64) -> Self {
        let counter = (last - 999) as u64;
        Self {
            ring: RingState::new(
                entries,
                1,
                counter,
                (counter % entries as u64) as usize,
                last,
            ),
            values: std::vec![StorageNumber::pack(1.5, SN_EXISTS); entries],
            collected: None,
            dimensions: 3,
        }
    }
}

const DIMS: [&str; 3] = ["a", "b", "c"];

/// Dimension `index` (named `a`, `b`, `c`, `a`, …) of the test chart, over `values`.
fn test_metric(
    index: usize,
    ring: RingState,
    values: &[StorageNumber],
    collected: Option<Collected>,
) -> Metric<'_> {
    let id = DIMS[index % DIMS.len()];
    Metric {
        chart: ChartMeta {
            id: "t.chart",
            name: "t.chart",
            family: "t",
            context: "t.context",
            chart_type: "t",
            units: "things",
        },
        dimension: DimensionMeta { id, name: id },
        ring,
        values,
        collected,
    }
}

impl Source for Rings {
    fn metric_count(&self) -> usize {
        self.dimensions
    }

    fn metric(&self, index: usize) -> Option<Metric<'_>> {
        if index >= self.dimensions {
            return None;
        }
        Some(test_metric(index, self.ring, &self.values, self.collected))
    }
}

fn config(framing: Framing<'static>, data_source: DataSource) -> Config<'static> {
    Config {
        host: HostMeta {
            prefix: "p",
            hostname: "h",
            tags: "",
        },
        names: true,
        data_source,
        update_every: 1,
        destinations: 1,
        timeout: Duration::from_secs(5),
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(8),
        transport_acks: true,
        framing,
    }
}

/// An engine started at second 1050 with a buffer of `buffer` bytes.
fn engine(framing: Framing<'static>, data_source: DataSource, buffer: usize) -> TestEngine {
    Engine::new(
        config(framing, data_source),
        fixed as FormatFn,
        std::vec![0u8; buffer],
        Instant::from_secs(1050),
    )
}

fn at(secs: i64) -> Instant {
    Instant::from_secs(secs)
}

fn connect(e: &mut TestEngine, now: Instant) {
    assert_eq!(e.poll_action(now), Some(Action::Connect { destination: 0 }));
    e.handle_connected(now);
}

#[track_caller]
fn check_invariant(c: &Counters) {
    assert_eq!(c.accepted, c.delivered + c.buffered + c.lost, "{c:?}");
}

// ------------------------------------------------------------------ stopping

#[test]
fn a_stop_counts_every_due_record_not_yet_formatted_as_lost() {
    let src = Rings::filled(200, 1100);
    // Seven records fit: the spans ending at 1051 and 1052, and `a` of the one ending at
    // 1053, before the buffer is full (the destination is down).
    let mut e = engine(Framing::Stream, DataSource::Average, 7 * LINE);
    e.handle_timeout(at(1060), &src);
    let c = *e.counters();
    assert_eq!((c.accepted, c.buffered, c.lost), (7, 7, 0), "{c:?}");
    assert_eq!(e.cursor(), 1052);
    e.stop_producing(&src);
    // Due and never formatted: `b` and `c` of the span ending at 1053, and the seven
    // spans ending at 1054 to 1060, three records each.
    let c = *e.counters();
    assert_eq!(c.lost_for(LossReason::Shutdown), 2 + 7 * 3, "{c:?}");
    assert_eq!(
        (c.accepted, c.buffered, c.lost, c.delivered),
        (30, 7, 23, 0)
    );
    assert_eq!(c.discards, 1, "one loss event");
    assert_eq!(c.bytes_lost, 0, "never formatted: no bytes");
    check_invariant(&c);
    assert_eq!(e.cursor(), 1060, "every due span is accounted for");
    // What is buffered is still sent; nothing more is formatted or counted.
    e.handle_timeout(at(1070), &src);
    e.stop_producing(&src);
    assert_eq!(*e.counters(), c);
    connect(&mut e, at(1070));
    let bytes = e.poll_transmit(at(1070), &src).unwrap();
    assert_eq!(bytes, b"a1048\nb1048\nc1048\na1049\nb1049\nc1049\na1050\n");
}

#[test]
fn records_expired_from_the_ring_at_the_stop_are_counted_as_expired() {
    let mut src = Rings::filled(20, 1060);
    let mut e = engine(Framing::Stream, DataSource::Average, 6 * LINE);
    e.handle_timeout(at(1060), &src);
    e.handle_timeout(at(1075), &src);
    let c = *e.counters();
    assert_eq!((c.accepted, c.lost), (6, 0), "{c:?}");
    // The destination stays down while the 20-slot ring wraps: its oldest point is now
    // 1056, so the records of the spans ending at 1053 to 1058 (whose one point is at
    // 1051 to 1056 − 1) are gone.
    src = Rings::filled(20, 1075);
    e.stop_producing(&src);
    let c = *e.counters();
    assert_eq!(c.lost_for(LossReason::Expired), 6 * 3, "{c:?}");
    // The spans ending at 1059 to 1075 were still in the ring.
    assert_eq!(c.lost_for(LossReason::Shutdown), 17 * 3, "{c:?}");
    assert_eq!((c.accepted, c.buffered, c.lost), (6 + 69, 6, 69));
    check_invariant(&c);
}

#[test]
fn a_stop_after_a_clock_jump_counts_only_spans_with_points() {
    let src = Rings::filled(200, 1060);
    let mut e = engine(Framing::Stream, DataSource::Average, 6 * LINE);
    e.handle_timeout(at(1060), &src);
    // A billion seconds later: a walk over every span would never end. Only the spans
    // ending at 1053 to 1063 have a point (their window's point is at most 1060).
    let later = 1060 + 1_000_000_000;
    e.handle_timeout(at(later), &src);
    e.stop_producing(&src);
    let c = *e.counters();
    assert_eq!(c.lost_for(LossReason::Shutdown), 11 * 3, "{c:?}");
    assert_eq!(c.lost, 33);
    check_invariant(&c);
    assert_eq!(e.cursor(), later);
}

#[test]
fn collected_values_not_reached_at_the_stop_are_counted() {
    let mut src = Rings::filled(200, 1100);
    src.dimensions = 5000;
    src.collected = Some(Collected {
        value: 7,
        time: 1055,
    });
    let mut e = engine(Framing::Stream, DataSource::AsCollected, 64 * 1024);
    // One call looks at 4,096 metrics at most: the stop comes before the next one.
    e.handle_timeout(at(1056), &src);
    assert_eq!(e.counters().buffered, MAX_VISITS as u64);
    e.stop_producing(&src);
    let c = *e.counters();
    assert_eq!(c.lost_for(LossReason::Shutdown), 5000 - 4096, "{c:?}");
    assert_eq!((c.accepted, c.buffered, c.lost), (5000, 4096, 904));
    check_invariant(&c);
}

#[test]
fn a_stop_in_step_loses_nothing() {
    let src = Rings::filled(200, 1100);
    let mut e = engine(Framing::Stream, DataSource::Average, 1024);
    e.handle_timeout(at(1060), &src);
    let before = *e.counters();
    assert_eq!(before.accepted, 30);
    e.stop_producing(&src);
    assert_eq!(*e.counters(), before);
    assert_eq!(e.cursor(), 1060);
}

/// Charts of their own rings (interval, length, newest point and gaps vary), two or
/// three dimensions each, listed chart after chart as the daemon lists them.
struct Charts {
    charts: Vec<(RingState, Vec<Vec<StorageNumber>>)>,
    collected: Option<Collected>,
}

impl Charts {
    /// Random charts from `seed` whose newest points are before `now`.
    fn random(seed: u64, now: i64) -> Self {
        let mut rng = Rng(seed);
        let charts = (0..1 + rng.next() % 6)
            .map(|_| {
                let every = [1u32, 1, 2, 3, 5][(rng.next() % 5) as usize];
                let entries = 5 + (rng.next() % 60) as usize;
                let last = now - (rng.next() % 40) as i64;
                // Collected for long enough to have wrapped, or not.
                let counter = 1 + rng.next() % (2 * entries as u64);
                let ring = RingState::new(
                    entries,
                    every,
                    counter,
                    (counter % entries as u64) as usize,
                    last,
                );
                let dims = (0..2 + rng.next() % 2)
                    .map(|_| {
                        (0..entries)
                            .map(|_| match rng.next() % 4 {
                                0 => StorageNumber::EMPTY,
                                _ => StorageNumber::pack(2.5, SN_EXISTS),
                            })
                            .collect()
                    })
                    .collect();
                (ring, dims)
            })
            .collect();
        Self {
            charts,
            collected: None,
        }
    }
}

impl Source for Charts {
    fn metric_count(&self) -> usize {
        self.charts.iter().map(|(_, dims)| dims.len()).sum()
    }

    fn metric(&self, mut index: usize) -> Option<Metric<'_>> {
        for (ring, dims) in &self.charts {
            if let Some(values) = dims.get(index) {
                return Some(test_metric(index, *ring, values, self.collected));
            }
            index -= dims.len();
        }
        None
    }
}

/// One byte per record: any number of them fits a test buffer.
fn tiny(_: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull> {
    *out.first_mut().ok_or(BufferFull)? = b'r';
    Ok(1)
}

#[test]
fn a_stop_counts_the_records_formatting_would_have_made() {
    // Two engines from the same start over the same charts: one formats every due span
    // (a roomy buffer), the other falls behind (a buffer of a few records) and stops.
    // The stop must account for exactly the records the first one made, whatever the
    // rings, the export interval and how far behind.
    for seed in 0..400 {
        let mut rng = Rng(seed);
        let start = 1000 + (rng.next() % 30) as i64;
        let now = start + 1 + (rng.next() % 150) as i64;
        let mut src = Charts::random(seed, now);
        let source = [
            DataSource::Average,
            DataSource::Sum,
            DataSource::AsCollected,
        ][(rng.next() % 3) as usize];
        if source == DataSource::AsCollected {
            src.collected = Some(Collected {
                value: 1,
                time: now - (rng.next() % 3) as i64,
            });
        }
        let config = Config {
            update_every: 1 + (rng.next() % 4) as u32,
            data_source: source,
            ..config(Framing::Stream, source)
        };
        let engine = |buffer: usize| {
            Engine::new(
                config,
                tiny as FormatFn,
                std::vec![0u8; buffer],
                Instant::from_secs(start),
            )
        };
        let mut all = engine(1 << 20);
        for _ in 0..64 {
            all.handle_timeout(at(now), &src);
        }
        let mut behind = engine((rng.next() % 8) as usize);
        behind.handle_timeout(at(now), &src);
        behind.stop_producing(&src);
        let (a, b) = (*all.counters(), *behind.counters());
        assert_eq!(a.accepted, b.accepted, "seed {seed}: {a:?} {b:?}");
        assert_eq!(
            a.lost_for(LossReason::Expired),
            b.lost_for(LossReason::Expired),
            "seed {seed}"
        );
        // The roomy engine loses only expired records; every record it made, the other
        // buffered or counted as lost (at the stop, or as it went along: a buffer too
        // small for one record, as-collected values that found it full).
        assert_eq!(
            a.lost,
            a.lost_for(LossReason::Expired),
            "seed {seed}: {a:?}"
        );
        assert_eq!(
            a.buffered,
            b.accepted - b.lost_for(LossReason::Expired),
            "seed {seed}"
        );
        assert_eq!(all.cursor(), behind.cursor(), "seed {seed}");
        check_invariant(&b);
    }
}

// ------------------------------------------------------------------ closed connections

/// Two records per request body.
const HTTP: HttpFraming<'static> = HttpFraming {
    path: "/p",
    host: "h",
    content_type: "text/plain",
    extra_headers: "",
    body_open: b"",
    separator: b"",
    body_close: b"",
    max_body: 2 * LINE,
    snappy: false,
    write_header: true,
};

/// An HTTP engine with its first request ready on an open connection: returns the
/// engine and the request's bytes. Later requests are queued behind it.
fn http_request_ready(src: &Rings) -> (TestEngine, Vec<u8>) {
    let mut e = engine(Framing::Http(HTTP), DataSource::Average, 2048);
    e.handle_timeout(at(1060), src);
    connect(&mut e, at(1060));
    // Each call formats one more request body.
    for _ in 0..3 {
        let _ = e.poll_transmit(at(1060), src);
    }
    let request = e.poll_transmit(at(1060), src).unwrap().to_vec();
    assert!(request.starts_with(b"POST /p HTTP/1.1\r\n"));
    assert!(request.ends_with(b"a1048\nb1048\n"));
    assert!(e.batch_count > 2, "requests are queued");
    (e, request)
}

#[test]
fn a_close_after_a_complete_reply_is_not_a_failure() {
    let src = Rings::filled(200, 1100);
    let (mut e, request) = http_request_ready(&src);
    e.handle_written(at(1060), request.len());
    e.handle_http_status(at(1060), 204);
    assert_eq!(e.counters().delivered, 2);
    // The server closes after its reply (`Connection: close`), with requests queued
    // that were never written: nothing failed.
    e.handle_disconnected(at(1060), None);
    assert_eq!(e.counters().failures, 0);
    connect(&mut e, at(1060));
    let next = e.poll_transmit(at(1060), &src).unwrap();
    assert!(next.starts_with(b"POST /p HTTP/1.1\r\n"));
    assert!(next.ends_with(b"c1048\na1049\n"));
    check_invariant(e.counters());
}

#[test]
fn a_close_with_a_request_half_written_is_a_failure() {
    let src = Rings::filled(200, 1100);
    let (mut e, request) = http_request_ready(&src);
    e.handle_written(at(1060), request.len() / 2);
    e.handle_disconnected(at(1060), None);
    assert_eq!(e.counters().failures, 1);
    // The request is sent again, whole.
    connect(&mut e, at(1060));
    assert_eq!(e.poll_transmit(at(1060), &src).unwrap(), request);
}

#[test]
fn a_close_with_a_request_unanswered_is_a_failure() {
    let src = Rings::filled(200, 1100);
    let (mut e, request) = http_request_ready(&src);
    e.handle_written(at(1060), request.len());
    e.handle_disconnected(at(1060), None);
    assert_eq!(e.counters().failures, 1);
    connect(&mut e, at(1060));
    assert_eq!(e.poll_transmit(at(1060), &src).unwrap(), request);
    assert_eq!(e.counters().delivered, 0);
}

/// An engine of bare bodies (the shell writes the requests) with its first body taken
/// on an open connection: returns the engine and the body.
fn body_ready(src: &Rings) -> (TestEngine, Vec<u8>) {
    let mut e = engine(
        Framing::Http(HttpFraming::bodies(2 * LINE)),
        DataSource::Average,
        2048,
    );
    e.handle_timeout(at(1060), src);
    connect(&mut e, at(1060));
    let body = e.poll_transmit(at(1060), src).unwrap().to_vec();
    assert_eq!(body, b"a1048\nb1048\n");
    (e, body)
}

#[test]
fn a_close_with_a_bare_body_request_half_written_is_a_failure() {
    let src = Rings::filled(200, 1100);
    let (mut e, body) = body_ready(&src);
    // The shell wrote part of its request around the body when the connection broke.
    e.handle_request_cut(at(1060));
    e.handle_disconnected(at(1060), None);
    assert_eq!(e.counters().failures, 1);
    // The body is offered again, whole.
    connect(&mut e, at(1060));
    assert_eq!(e.poll_transmit(at(1060), &src).unwrap(), body);
    check_invariant(e.counters());
}

#[test]
fn a_close_before_a_bare_body_request_is_written_is_not_a_failure() {
    let src = Rings::filled(200, 1100);
    let (mut e, body) = body_ready(&src);
    e.handle_disconnected(at(1060), None);
    assert_eq!(e.counters().failures, 0);
    connect(&mut e, at(1060));
    assert_eq!(e.poll_transmit(at(1060), &src).unwrap(), body);
    // Written whole and then cut before the reply: one failure, counted once.
    e.handle_written(at(1060), body.len());
    e.handle_disconnected(at(1060), None);
    assert_eq!(e.counters().failures, 1);
}

#[test]
fn a_request_cut_means_nothing_for_other_framings() {
    let src = Rings::filled(200, 1100);
    let mut e = stream_ready(&src);
    e.handle_request_cut(at(1060));
    assert_eq!(e.counters().failures, 0);
    let (mut e, _) = http_request_ready(&src);
    e.handle_request_cut(at(1060));
    assert_eq!(e.counters().failures, 0);
}

#[test]
fn reconnecting_means_a_connection_on_its_way_not_a_back_off() {
    let src = Rings::filled(200, 1100);
    let mut e = engine(Framing::Stream, DataSource::Average, 1024);
    // Nothing to send yet: no reason to connect.
    assert!(!e.is_reconnecting(at(1050)));
    e.handle_timeout(at(1060), &src);
    assert!(e.is_reconnecting(at(1060)), "records to send, no back-off");
    assert_eq!(
        e.poll_action(at(1060)),
        Some(Action::Connect { destination: 0 })
    );
    assert!(e.is_reconnecting(at(1060)), "connecting");
    e.handle_connected(at(1060));
    assert!(e.is_connected() && !e.is_reconnecting(at(1060)));
    // The server closes the connection: the engine connects again at once.
    e.handle_disconnected(at(1061), None);
    assert!(!e.is_connected() && e.is_reconnecting(at(1061)));
    // A refused attempt (the only destination: a whole round) waits out a back-off.
    assert_eq!(
        e.poll_action(at(1061)),
        Some(Action::Connect { destination: 0 })
    );
    e.handle_connect_failed(at(1061));
    assert!(!e.is_reconnecting(at(1061)), "backing off");
    assert!(e.is_reconnecting(at(1062)), "the back-off (1 s) is over");
}

#[test]
fn a_stopped_engine_is_waited_for_while_it_can_still_deliver() {
    let src = Rings::filled(200, 1100);
    let mut e = stream_ready(&src);
    e.stop_producing(&src);
    assert!(e.can_still_deliver(at(1060)), "connected, bytes buffered");
    // The server closes the connection after a reply: reconnecting is still delivering.
    e.handle_disconnected(at(1061), None);
    assert!(e.can_still_deliver(at(1061)));
    assert_eq!(
        e.poll_action(at(1061)),
        Some(Action::Connect { destination: 0 })
    );
    assert!(e.can_still_deliver(at(1061)), "connecting");
    // A refused attempt after the stop: not worth waiting for, even once the back-off
    // is over.
    e.handle_connect_failed(at(1061));
    assert!(!e.can_still_deliver(at(1061)));
    assert!(!e.can_still_deliver(at(1070)));
    // Delivered: nothing to wait for.
    let mut e = stream_ready(&src);
    e.stop_producing(&src);
    e.handle_written(at(1060), 30 * LINE);
    e.handle_unacknowledged(at(1060), 0);
    assert!(!e.can_still_deliver(at(1060)));
}

/// A stream engine with 30 records (180 bytes) buffered on an open connection.
fn stream_ready(src: &Rings) -> TestEngine {
    let mut e = engine(Framing::Stream, DataSource::Average, 1024);
    e.handle_timeout(at(1060), src);
    connect(&mut e, at(1060));
    assert_eq!(e.poll_transmit(at(1060), src).unwrap().len(), 30 * LINE);
    e
}

#[test]
fn a_close_with_unacknowledged_bytes_is_a_failure() {
    let src = Rings::filled(200, 1100);
    let mut e = stream_ready(&src);
    e.handle_written(at(1060), 30 * LINE);
    e.handle_unacknowledged(at(1060), 2 * LINE);
    e.handle_disconnected(at(1060), Some(2 * LINE));
    let c = *e.counters();
    assert_eq!((c.failures, c.delivered, c.buffered), (1, 28, 2));
    connect(&mut e, at(1060));
    assert_eq!(e.poll_transmit(at(1060), &src).unwrap(), b"b1057\nc1057\n");
}

#[test]
fn a_close_with_everything_written_acknowledged_is_not_a_failure() {
    let src = Rings::filled(200, 1100);
    let mut e = stream_ready(&src);
    // Ten records written and acknowledged; twenty more wait, never written.
    e.handle_written(at(1060), 10 * LINE);
    e.handle_unacknowledged(at(1060), 0);
    e.handle_disconnected(at(1060), Some(0));
    let c = *e.counters();
    assert_eq!((c.failures, c.delivered, c.buffered), (0, 10, 20));
    connect(&mut e, at(1060));
    assert_eq!(e.poll_transmit(at(1060), &src).unwrap().len(), 20 * LINE);
}

#[test]
fn a_record_torn_by_a_close_is_a_failure() {
    let src = Rings::filled(200, 1100);
    let mut e = stream_ready(&src);
    // Acknowledged up to the middle of the eleventh record: it must be sent again.
    e.handle_written(at(1060), 10 * LINE + 3);
    e.handle_unacknowledged(at(1060), 0);
    e.handle_disconnected(at(1060), Some(0));
    let c = *e.counters();
    assert_eq!((c.failures, c.delivered, c.buffered), (1, 10, 20));
}

#[test]
fn a_stalled_connection_is_one_failure() {
    let src = Rings::filled(200, 1100);
    let mut e = stream_ready(&src);
    e.handle_written(at(1060), 30 * LINE);
    e.handle_unacknowledged(at(1060), 30 * LINE);
    // Nothing acknowledged for the whole timeout: the engine closes the connection.
    assert_eq!(e.poll_action(at(1065)), Some(Action::Disconnect));
    assert_eq!(e.counters().failures, 1);
    e.handle_disconnected(at(1065), Some(30 * LINE));
    assert_eq!(e.counters().failures, 1, "the stall was counted once");
    assert_eq!(e.counters().buffered, 30);
}

/// The status a `records lost: rejected` log line names is the one that caused the
/// latest rejection, never an older one.
#[test]
fn the_rejection_status_is_that_of_the_latest_rejection() {
    let src = Rings::filled(200, 1100);
    let (mut e, request) = http_request_ready(&src);
    // A retried status first, then the whole request refused with 400.
    e.handle_written(at(1060), request.len());
    e.handle_http_status(at(1060), 503);
    assert_eq!(e.counters().last_rejection_status, 0);
    assert_eq!(e.counters().last_bad_status, 503);
    // Sent again after the back-off, on the same connection.
    let again = e.poll_transmit(at(1062), &src).unwrap().len();
    e.handle_written(at(1062), again);
    e.handle_http_status(at(1062), 400);
    assert_eq!(e.counters().last_rejection_status, 400);
    assert_eq!(e.counters().lost_for(LossReason::Rejected), 2);
    // Then records refused one by one inside an accepted reply: no HTTP status caused
    // those, and the 400 must not be named for them.
    let next = e.poll_transmit(at(1062), &src).unwrap().len();
    e.handle_written(at(1062), next);
    e.handle_outcome(at(1062), Outcome::Delivered { rejected: 1 });
    assert_eq!(e.counters().lost_for(LossReason::Rejected), 3);
    assert_eq!(e.counters().last_rejection_status, 0);
    assert_eq!(e.counters().last_bad_status, 400);
    check_invariant(e.counters());
}
