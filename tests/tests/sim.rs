//! Deterministic simulations of the exporter engine.
//!
//! A fake clock drives a fake collector (which stores one point a second into real rings
//! of storage numbers), the engine, and a scripted peer with seeded faults: refused
//! connections, partial writes of random sizes, connections cut mid-buffer with bytes lost
//! in flight, a peer that stops reading, outages shorter and longer than the ring's
//! history, and HTTP servers answering 500, 429 and 400. Each test compares what the
//! receiver stored with a fault-free run of the same collector: for outages within the
//! ring's history the two must be identical (nothing lost, duplicated or torn), and every
//! record missing beyond it must be counted, exactly, as lost.

use backhaul_core::config::DataSource;
use backhaul_core::engine::{
    Action, Collected, Config, Engine, Framing, HttpFraming, LossReason, Metric,
    Outcome as EngineOutcome, Source,
};
use backhaul_core::format::{graphite, ChartMeta, DimensionMeta, HostMeta};
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
use backhaul_core::time::{Duration, Instant};

/// splitmix64: a small deterministic generator for values and faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Chart {
    id: String,
    dims: Vec<String>,
    ring: RingState,
    values: Vec<Vec<StorageNumber>>,
    collected: Vec<Option<Collected>>,
}

/// A collector: `charts` charts of three dimensions, one point a second.
struct Collector {
    charts: Vec<Chart>,
    rng: Rng,
    index: Vec<(usize, usize)>,
}

impl Collector {
    fn new(charts: usize, entries: usize, seed: u64) -> Self {
        let charts: Vec<Chart> = (0..charts)
            .map(|c| Chart {
                id: format!("sim.chart{c}"),
                dims: vec!["a".into(), "b".into(), "c".into()],
                ring: RingState::empty(entries, 1),
                values: vec![vec![StorageNumber::EMPTY; entries]; 3],
                collected: vec![None; 3],
            })
            .collect();
        let index = (0..charts.len())
            .flat_map(|c| (0..3).map(move |d| (c, d)))
            .collect();
        Self {
            charts,
            rng: Rng(seed),
            index,
        }
    }

    /// Stores the point of second `t` in every chart.
    fn collect(&mut self, t: i64) {
        for chart in &mut self.charts {
            let slot = chart.ring.current_entry();
            for (d, values) in chart.values.iter_mut().enumerate() {
                let raw = self.rng.below(1_000_000) as i64;
                values[slot] = StorageNumber::pack(raw as f64 / 1000.0, SN_EXISTS);
                chart.collected[d] = Some(Collected {
                    value: raw,
                    time: t,
                });
            }
            chart.ring.advance(t);
        }
    }
}

impl Source for Collector {
    fn metric_count(&self) -> usize {
        self.index.len()
    }

    fn metric(&self, index: usize) -> Option<Metric<'_>> {
        let &(c, d) = self.index.get(index)?;
        let chart = &self.charts[c];
        let meta = ChartMeta {
            id: &chart.id,
            name: &chart.id,
            family: "sim",
            context: "sim.context",
            chart_type: "sim",
            units: "things",
        };
        Some(Metric {
            chart: meta,
            dimension: DimensionMeta {
                id: &chart.dims[d],
                name: &chart.dims[d],
            },
            ring: chart.ring,
            values: &chart.values[d],
            collected: chart.collected[d],
        })
    }
}

/// What can go wrong, and when.
#[derive(Clone, Default)]
struct Faults {
    /// Seconds during which every connection attempt to a destination is refused.
    refuse: Vec<(usize, i64, i64)>,
    /// Probability (per mille) that a write call accepts only part of what it is offered.
    partial_writes: u64,
    /// Probability (per mille, per step) that the connection is cut, losing a random part
    /// of the bytes in flight.
    cuts: u64,
    /// Seconds during which the peer accepts no bytes at all (but stays connected).
    stall: Option<(i64, i64)>,
    /// Seconds at which the connection is cut, whatever is in flight.
    cut_at: Vec<i64>,
}

/// The receiving side: complete lines per destination; an unterminated line at the end
/// of a connection is discarded, as line-oriented receivers such as carbon do.
#[derive(Default)]
struct Receiver {
    lines: Vec<String>,
    partial: Vec<u8>,
    /// Bytes written by the engine that have not reached the receiver yet.
    in_flight: Vec<u8>,
}

impl Receiver {
    fn arrive(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            self.lines
                .push(String::from_utf8(line[..line.len() - 1].to_vec()).unwrap());
        }
    }

    fn close(&mut self) {
        self.partial.clear();
        self.in_flight.clear();
    }
}

struct Outcome {
    lines: Vec<String>,
    cuts: usize,
    counters: backhaul_core::engine::Counters,
    max_buffered: usize,
    limit: usize,
    connects: Vec<usize>,
}

const START: i64 = 1_700_000_000;

fn config(
    framing: Framing<'static>,
    data_source: DataSource,
    destinations: usize,
) -> Config<'static> {
    Config {
        host: HostMeta {
            prefix: "netdata",
            hostname: "sim-host",
            tags: "",
        },
        names: true,
        data_source,
        update_every: 10,
        destinations,
        timeout: Duration::from_secs(5),
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(8),
        transport_acks: true,
        framing,
    }
}

/// Runs `seconds` of simulated time in steps of 100 ms.
fn run_stream(
    cfg: Config<'static>,
    buffer: usize,
    charts: usize,
    entries: usize,
    seconds: i64,
    faults: &Faults,
    seed: u64,
) -> Outcome {
    let mut collector = Collector::new(charts, entries, 7);
    let mut rng = Rng(seed);
    let t0 = Instant::from_micros(START * 1_000_000 + 300_000);
    let mut engine = Engine::new(cfg, graphite::write, vec![0u8; buffer], t0);
    let mut rx = Receiver::default();
    let mut connected: Option<usize> = None;
    let mut connects = Vec::new();
    let mut max_buffered = 0;
    let mut cuts = 0;
    let steps = seconds * 10;
    for step in 0..=steps {
        let now = Instant::from_micros(t0.as_micros() + step * 100_000);
        let sec = now.as_secs();
        if now.as_micros() % 1_000_000 < 100_000 && step < (seconds - 60) * 10 {
            collector.collect(sec);
        }
        engine.handle_timeout(now, &collector);
        // The network: bytes in flight arrive, then a cut may lose what has not. A
        // destination that refuses connections has also dropped the established one.
        if let Some(dest) = connected {
            let down = faults
                .refuse
                .iter()
                .any(|&(d, from, to)| d == dest && (from..to).contains(&(sec - START)));
            let cut_now =
                faults.cut_at.contains(&(sec - START)) && now.as_micros() % 1_000_000 < 100_000;
            if down || cut_now || rng.below(1000) < faults.cuts {
                cuts += 1;
                let arrived = rng.below(rx.in_flight.len() as u64 + 1) as usize;
                let bytes: Vec<u8> = rx.in_flight.drain(..arrived).collect();
                rx.arrive(&bytes);
                let lost = rx.in_flight.len();
                rx.close();
                connected = None;
                engine.handle_disconnected(now, Some(lost));
            } else {
                let bytes = std::mem::take(&mut rx.in_flight);
                rx.arrive(&bytes);
                engine.handle_unacknowledged(now, 0);
            }
        }
        while let Some(action) = engine.poll_action(now) {
            match action {
                Action::Connect { destination } => {
                    connects.push(destination);
                    let refused = faults.refuse.iter().any(|&(d, from, to)| {
                        d == destination && (from..to).contains(&(sec - START))
                    });
                    if refused {
                        engine.handle_connect_failed(now);
                    } else {
                        connected = Some(destination);
                        engine.handle_connected(now);
                    }
                }
                Action::Disconnect => {
                    let lost = rx.in_flight.len();
                    rx.close();
                    connected = None;
                    engine.handle_disconnected(now, Some(lost));
                }
            }
        }
        let stalled = faults
            .stall
            .is_some_and(|(from, to)| (from..to).contains(&(sec - START)));
        if connected.is_some() && !stalled {
            for _ in 0..4 {
                let Some(bytes) = engine.poll_transmit(now, &collector) else {
                    break;
                };
                let mut n = bytes.len();
                if rng.below(1000) < faults.partial_writes {
                    n = rng.below(n as u64 + 1) as usize;
                }
                rx.in_flight.extend_from_slice(&bytes[..n]);
                engine.handle_written(now, n);
                if n == 0 {
                    break;
                }
            }
        } else {
            let _ = engine.poll_transmit(now, &collector);
        }
        let c = engine.counters();
        assert_eq!(c.accepted, c.delivered + c.buffered + c.lost, "step {step}");
        assert!(engine.buffered_bytes() <= buffer);
        max_buffered = max_buffered.max(engine.buffered_bytes());
        assert!(engine.poll_timeout().is_some());
    }
    // Let everything drain with no faults.
    let bytes = std::mem::take(&mut rx.in_flight);
    rx.arrive(&bytes);
    engine.handle_unacknowledged(Instant::from_micros(t0.as_micros() + steps * 100_000), 0);
    let mut now = Instant::from_micros(t0.as_micros() + steps * 100_000);
    for _ in 0..200 {
        now = now.saturating_add(Duration::from_millis(100));
        if let Some(Action::Connect { .. }) = engine.poll_action(now) {
            engine.handle_connected(now);
            connected = Some(0);
        }
        while let Some(bytes) = engine.poll_transmit(now, &collector) {
            let n = bytes.len();
            rx.arrive(bytes);
            engine.handle_written(now, n);
        }
        engine.handle_unacknowledged(now, 0);
    }
    let _ = connected;
    Outcome {
        lines: rx.lines,
        cuts,
        counters: *engine.counters(),
        max_buffered,
        limit: buffer,
        connects,
    }
}

fn stored(faults: &Faults, buffer: usize, entries: usize, seconds: i64, seed: u64) -> Outcome {
    run_stream(
        config(Framing::Stream, DataSource::Average, 2),
        buffer,
        20,
        entries,
        seconds,
        faults,
        seed,
    )
}

/// Asserts two runs received the same lines, printing only the first difference.
#[track_caller]
fn assert_same(got: &[String], want: &[String], what: &str) {
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: line {i} differs: got {:?}, want {:?}",
            got[i], want[i]
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: different number of lines");
}

fn assert_no_duplicates(lines: &[String]) {
    let mut seen = std::collections::HashSet::new();
    for l in lines {
        assert!(seen.insert(l), "duplicate line {l}");
    }
}

#[test]
fn fault_free_run_exports_every_span_once() {
    let out = stored(&Faults::default(), 1 << 20, 600, 300, 1);
    // 60 metrics, one record per 10 s span, 240 s of collection: about 23 spans.
    assert!(out.lines.len() >= 60 * 23, "{}", out.lines.len());
    assert_no_duplicates(&out.lines);
    assert_eq!(out.counters.lost, 0);
    assert_eq!(out.counters.delivered, out.lines.len() as u64);
    assert!(out.lines[0].starts_with("netdata.sim-host.sim.chart0.a "));
}

#[test]
fn a_small_buffer_splits_spans_but_changes_nothing() {
    let big = stored(&Faults::default(), 1 << 20, 600, 300, 1);
    let small = stored(&Faults::default(), 700, 600, 300, 1);
    assert_same(&small.lines, &big.lines, "small buffer");
    assert!(small.max_buffered <= small.limit);
}

#[test]
fn partial_writes_and_cuts_lose_and_duplicate_nothing() {
    let reference = stored(&Faults::default(), 1 << 20, 600, 300, 1);
    for seed in 1..6 {
        let faults = Faults {
            partial_writes: 500,
            cuts: 30,
            ..Faults::default()
        };
        let out = stored(&faults, 4096, 600, 300, seed);
        assert_same(&out.lines, &reference.lines, &format!("seed {seed}"));
        assert_eq!(out.counters.lost, 0);
        assert!(out.cuts > 0, "seed {seed}: no fault happened");
    }
}

#[test]
fn an_outage_within_the_ring_history_loses_nothing() {
    let reference = stored(&Faults::default(), 1 << 20, 600, 400, 1);
    let faults = Faults {
        refuse: vec![(0, 50, 250), (1, 50, 250)],
        ..Faults::default()
    };
    let out = stored(&faults, 2048, 600, 400, 2);
    assert_same(&out.lines, &reference.lines, "faulty run");
    assert_eq!(out.counters.lost, 0);
    assert!(out.max_buffered <= 2048);
}

#[test]
fn an_outage_longer_than_the_history_counts_every_missing_record() {
    // 120 s of history, 300 s of outage.
    let reference = stored(&Faults::default(), 1 << 20, 120, 500, 1);
    let faults = Faults {
        refuse: vec![(0, 50, 350), (1, 50, 350)],
        ..Faults::default()
    };
    let out = stored(&faults, 4096, 120, 500, 3);
    assert_no_duplicates(&out.lines);
    let got: std::collections::HashSet<&String> = out.lines.iter().collect();
    // Everything received is what the fault-free run received, in the same order.
    let mut it = reference.lines.iter();
    for line in &out.lines {
        assert!(it.any(|r| r == line), "unexpected or reordered line {line}");
    }
    let missing = reference.lines.iter().filter(|l| !got.contains(l)).count() as u64;
    assert!(missing > 0);
    assert_eq!(out.counters.lost_for(LossReason::Expired), missing);
    assert_eq!(out.counters.lost, missing);
}

#[test]
fn failover_uses_the_second_destination_and_returns_to_the_first() {
    let reference = stored(&Faults::default(), 1 << 20, 600, 300, 1);
    let faults = Faults {
        refuse: vec![(0, 0, 100)],
        cut_at: vec![150],
        ..Faults::default()
    };
    let out = stored(&faults, 1 << 20, 600, 300, 4);
    assert_same(&out.lines, &reference.lines, "faulty run");
    assert!(out.connects.contains(&1));
    // After the first destination recovered, a reconnect goes to it first.
    let last = *out.connects.last().unwrap();
    assert_eq!(last, 0);
}

#[test]
fn refused_connections_back_off() {
    let faults = Faults {
        refuse: vec![(0, 0, 200), (1, 0, 200)],
        ..Faults::default()
    };
    let out = stored(&faults, 1 << 20, 600, 250, 5);
    // Backoff doubles from 1 s to 8 s: far fewer attempts than one per step.
    let attempts = out.connects.len();
    assert!(attempts < 100, "{attempts} attempts");
    let reference = stored(&Faults::default(), 1 << 20, 600, 250, 1);
    assert_same(&out.lines, &reference.lines, "faulty run");
}

#[test]
fn a_peer_that_stops_reading_is_dropped_and_nothing_is_lost() {
    let reference = stored(&Faults::default(), 1 << 20, 600, 300, 1);
    let faults = Faults {
        stall: Some((60, 120)),
        ..Faults::default()
    };
    let out = stored(&faults, 2048, 600, 300, 6);
    assert_same(&out.lines, &reference.lines, "faulty run");
    assert!(out.counters.failures > 0, "the stall was not detected");
    assert_eq!(out.counters.lost, 0);
}

#[test]
fn as_collected_values_overflowing_the_buffer_are_dropped_oldest_first_and_counted() {
    let cfg = config(Framing::Stream, DataSource::AsCollected, 1);
    let reference = run_stream(cfg, 1 << 20, 20, 600, 300, &Faults::default(), 1);
    assert!(!reference.lines.is_empty());
    let faults = Faults {
        refuse: vec![(0, 30, 200)],
        ..Faults::default()
    };
    let out = run_stream(cfg, 3000, 20, 600, 300, &faults, 2);
    assert_no_duplicates(&out.lines);
    let got: std::collections::HashSet<&String> = out.lines.iter().collect();
    let missing = reference.lines.iter().filter(|l| !got.contains(l)).count() as u64;
    assert!(missing > 0);
    assert_eq!(out.counters.lost_for(LossReason::BufferFull), missing);
    assert!(out.max_buffered <= 3000);
    // The newest values survive: the last line of the reference run arrived.
    assert!(got.contains(reference.lines.last().unwrap()));
}

// ---------------------------------------------------------------------------- HTTP

const HTTP: HttpFraming<'static> = HttpFraming {
    path: "/api/put",
    host: "sim-server",
    content_type: "text/plain",
    extra_headers: "",
    body_open: b"",
    separator: b"",
    body_close: b"",
    max_body: 1500,
    snappy: false,
    write_header: true,
};

/// An HTTP server: parses whole requests, answers the scripted statuses, stores the
/// lines of accepted bodies.
fn run_http(seconds: i64, statuses: &[u16], seed: u64) -> (Vec<String>, Vec<String>, Outcome) {
    let cfg = config(Framing::Http(HTTP), DataSource::Average, 1);
    let mut collector = Collector::new(20, 600, 7);
    let mut rng = Rng(seed);
    let t0 = Instant::from_micros(START * 1_000_000 + 300_000);
    let mut engine = Engine::new(cfg, graphite::write, vec![0u8; 8192], t0);
    let mut stored_lines = Vec::new();
    let mut rejected_lines = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut statuses = statuses.iter().copied();
    let mut connected = false;
    for step in 0..=seconds * 10 {
        let now = Instant::from_micros(t0.as_micros() + step * 100_000);
        if now.as_micros() % 1_000_000 < 100_000 && step < (seconds - 60) * 10 {
            collector.collect(now.as_secs());
        }
        engine.handle_timeout(now, &collector);
        while let Some(action) = engine.poll_action(now) {
            match action {
                Action::Connect { .. } => {
                    connected = true;
                    engine.handle_connected(now);
                }
                Action::Disconnect => {
                    connected = false;
                    pending.clear();
                    engine.handle_disconnected(now, None);
                }
            }
        }
        if !connected {
            continue;
        }
        if let Some(bytes) = engine.poll_transmit(now, &collector) {
            let n = if rng.below(2) == 0 {
                bytes.len()
            } else {
                rng.below(bytes.len() as u64 + 1) as usize
            };
            pending.extend_from_slice(&bytes[..n]);
            engine.handle_written(now, n);
        }
        // One complete request?
        let text = String::from_utf8_lossy(&pending).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let head = &text[..head_end];
            assert!(
                head.starts_with("POST /api/put HTTP/1.1\r\nHost: sim-server\r\n"),
                "{head}"
            );
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            if pending.len() >= head_end + 4 + len {
                let body =
                    String::from_utf8(pending[head_end + 4..head_end + 4 + len].to_vec()).unwrap();
                pending.drain(..head_end + 4 + len);
                let status = statuses.next().unwrap_or(204);
                let lines = body.lines().map(str::to_owned);
                match status {
                    200..=299 => stored_lines.extend(lines),
                    429 | 500..=599 => {}
                    _ => rejected_lines.extend(lines),
                }
                engine.handle_received(now, 20);
                engine.handle_http_status(now, status);
            }
        }
        let c = engine.counters();
        assert_eq!(c.accepted, c.delivered + c.buffered + c.lost);
        assert!(engine.buffered_bytes() <= 8192);
    }
    let outcome = Outcome {
        lines: Vec::new(),
        cuts: 0,
        counters: *engine.counters(),
        max_buffered: 0,
        limit: 8192,
        connects: Vec::new(),
    };
    (stored_lines, rejected_lines, outcome)
}

#[test]
fn http_statuses_are_judged() {
    let (reference, none, _) = run_http(200, &[], 1);
    assert!(none.is_empty());
    assert!(reference.len() > 60 * 12, "{}", reference.len());
    assert_no_duplicates(&reference);
    // 500 and 429 are retried after a backoff: nothing lost.
    let (lines, rejected, out) = run_http(200, &[500, 429, 500], 2);
    assert_same(&lines, &reference, "retried requests");
    assert!(rejected.is_empty());
    assert_eq!(out.counters.http_retried, 3);
    assert_eq!(out.counters.lost, 0);
    // 400 drops exactly that request, counted with its records.
    let (lines, rejected, out) = run_http(200, &[204, 400], 3);
    assert!(!rejected.is_empty());
    assert_eq!(
        out.counters.lost_for(LossReason::Rejected),
        rejected.len() as u64
    );
    assert_eq!(out.counters.last_bad_status, 400);
    let mut expected: Vec<String> = reference
        .iter()
        .filter(|l| !rejected.contains(l))
        .cloned()
        .collect();
    expected.sort();
    let mut got = lines.clone();
    got.sort();
    assert_same(&got, &expected, "after a rejected request");
}

// ---------------------------------------------------------------------------- bare bodies

/// A shell that wraps each bare body in a request of its own (as the Kinesis and MongoDB
/// destinations do): it writes the body in random pieces, sometimes loses the connection
/// before the request is complete, and answers each complete request with the next
/// scripted verdict. `Delivered { rejected: k }` refuses the first `k` lines.
fn run_bodies(
    seconds: i64,
    verdicts: &[EngineOutcome],
    seed: u64,
) -> (Vec<String>, Vec<String>, Outcome) {
    let cfg = config(
        Framing::Http(HttpFraming::bodies(1500)),
        DataSource::Average,
        1,
    );
    let mut collector = Collector::new(20, 600, 7);
    let mut rng = Rng(seed);
    let t0 = Instant::from_micros(START * 1_000_000 + 300_000);
    let mut engine = Engine::new(cfg, graphite::write, vec![0u8; 8192], t0);
    let (mut stored, mut refused) = (Vec::new(), Vec::new());
    let mut verdicts = verdicts.iter().copied();
    let mut connected = false;
    let mut sent_of_request = 0usize;
    for step in 0..=seconds * 10 {
        let now = Instant::from_micros(t0.as_micros() + step * 100_000);
        if now.as_micros() % 1_000_000 < 100_000 && step < (seconds - 60) * 10 {
            collector.collect(now.as_secs());
        }
        engine.handle_timeout(now, &collector);
        while let Some(action) = engine.poll_action(now) {
            match action {
                Action::Connect { .. } => {
                    connected = true;
                    engine.handle_connected(now);
                }
                Action::Disconnect => {
                    connected = false;
                    engine.handle_disconnected(now, None);
                }
            }
        }
        if !connected {
            continue;
        }
        let Some(body) = engine.poll_transmit(now, &collector) else {
            continue;
        };
        // The same body is offered until the whole request is on the wire.
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.starts_with("POST"), "no header: {text}");
        assert!(text.ends_with('\n'), "whole records only");
        sent_of_request += 1 + rng.below(3) as usize;
        if rng.below(20) == 0 {
            // The connection drops before the request is complete: it is rebuilt.
            sent_of_request = 0;
            connected = false;
            engine.handle_disconnected(now, None);
            continue;
        }
        if sent_of_request < 3 {
            continue;
        }
        sent_of_request = 0;
        let n = body.len();
        engine.handle_written(now, n);
        let verdict = verdicts
            .next()
            .unwrap_or(EngineOutcome::Delivered { rejected: 0 });
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        match verdict {
            EngineOutcome::Delivered { rejected } => {
                let k = (rejected as usize).min(lines.len());
                refused.extend_from_slice(&lines[..k]);
                stored.extend_from_slice(&lines[k..]);
            }
            EngineOutcome::Retry { .. } => {}
            EngineOutcome::Rejected { .. } => refused.extend(lines),
        }
        engine.handle_outcome(now, verdict);
        let c = engine.counters();
        assert_eq!(c.accepted, c.delivered + c.buffered + c.lost);
        assert!(engine.buffered_bytes() <= 8192);
    }
    let outcome = Outcome {
        lines: Vec::new(),
        cuts: 0,
        counters: *engine.counters(),
        max_buffered: 0,
        limit: 8192,
        connects: Vec::new(),
    };
    (stored, refused, outcome)
}

#[test]
fn bare_bodies_are_judged_by_the_shell() {
    use EngineOutcome::{Delivered, Rejected, Retry};
    let (reference, none, _) = run_bodies(200, &[], 11);
    assert!(none.is_empty());
    assert!(reference.len() > 60 * 12, "{}", reference.len());
    assert_no_duplicates(&reference);
    // The same points as the HTTP run: the framing only leaves the header out.
    let (http, _, _) = run_http(200, &[], 1);
    let (mut a, mut b) = (reference.clone(), http);
    a.sort();
    b.sort();
    assert_same(&a, &b, "bare bodies against HTTP requests");
    // Retries lose nothing and duplicate nothing.
    let (lines, refused, out) = run_bodies(200, &[Retry { status: 0 }, Retry { status: 503 }], 12);
    assert!(refused.is_empty());
    let (mut got, mut want) = (lines.clone(), reference.clone());
    got.sort();
    want.sort();
    assert_same(&got, &want, "retried bodies");
    assert_eq!(out.counters.http_retried, 2);
    assert_eq!(out.counters.last_bad_status, 503);
    // Records refused one by one and whole requests refused are counted, exactly.
    let verdicts = [
        Delivered { rejected: 2 },
        Rejected { status: 0 },
        Delivered { rejected: 1 },
        Delivered { rejected: 0 },
    ];
    let (lines, refused, out) = run_bodies(200, &verdicts, 13);
    assert!(refused.len() > 3, "{}", refused.len());
    assert_eq!(
        out.counters.lost_for(LossReason::Rejected),
        refused.len() as u64
    );
    assert_eq!(out.counters.lost, refused.len() as u64);
    assert_eq!(out.counters.delivered, lines.len() as u64);
    let mut expected: Vec<String> = reference
        .iter()
        .filter(|l| !refused.contains(l))
        .cloned()
        .collect();
    expected.sort();
    let mut got = lines;
    got.sort();
    assert_same(&got, &expected, "after refused records");
}

// ---------------------------------------------------------------------------- remote write

use backhaul_tests::remote_write_pb as pb;

/// Remote write through the engine to a strict receiver: every request must carry the
/// protocol's headers, decompress with an independent snappy decoder and decode with an
/// independent protobuf decoder; a 500 is retried. The decoded samples must be exactly
/// the points the graphite run exported (same chart, dimension, value, timestamp).
#[test]
fn remote_write_requests_decode_to_the_points_of_the_stream_run() {
    use backhaul_core::format::remote_write::{Options, RemoteWriteFormat, SeriesKind};
    use backhaul_core::window::Reduce;
    use prost::Message;

    let reference = stored(&Faults::default(), 1 << 20, 600, 200, 1);
    let framing = HttpFraming::remote_write("/api/v1/write", "sim-server", 4096);
    let cfg = config(Framing::Http(framing), DataSource::Average, 1);
    let format = RemoteWriteFormat {
        kind: SeriesKind::Stored(Reduce::Average),
        options: Options::new(),
    };
    let mut collector = Collector::new(20, 600, 7);
    let t0 = Instant::from_micros(START * 1_000_000 + 300_000);
    let mut engine = Engine::new(cfg, format, vec![0u8; 16384], t0);
    let mut pending: Vec<u8> = Vec::new();
    let mut got = Vec::new();
    let mut requests = 0;
    let mut connected = false;
    for step in 0..=200 * 10 {
        let now = Instant::from_micros(t0.as_micros() + step * 100_000);
        if now.as_micros() % 1_000_000 < 100_000 && step < 140 * 10 {
            collector.collect(now.as_secs());
        }
        engine.handle_timeout(now, &collector);
        while let Some(action) = engine.poll_action(now) {
            if let Action::Connect { .. } = action {
                connected = true;
                engine.handle_connected(now);
            }
        }
        if !connected {
            continue;
        }
        while let Some(bytes) = engine.poll_transmit(now, &collector) {
            let n = bytes.len();
            pending.extend_from_slice(bytes);
            engine.handle_written(now, n);
        }
        let Some(head_end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8(pending[..head_end].to_vec()).unwrap();
        for header in [
            "Content-Type: application/x-protobuf",
            "Content-Encoding: snappy",
            "X-Prometheus-Remote-Write-Version: 0.1.0",
        ] {
            assert!(
                head.lines().any(|l| l == header),
                "{header} missing in {head}"
            );
        }
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let body: Vec<u8> = pending
            .drain(..head_end + 4 + len)
            .skip(head_end + 4)
            .collect();
        requests += 1;
        if requests == 2 {
            engine.handle_http_status(now, 500);
            continue;
        }
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let request = pb::WriteRequest::decode(raw.as_slice()).unwrap();
        for series in request.timeseries {
            let names: Vec<&str> = series.labels.iter().map(|l| l.name.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted, "labels must be sorted");
            let label = |k: &str| {
                series
                    .labels
                    .iter()
                    .find(|l| l.name == k)
                    .map(|l| l.value.clone())
                    .unwrap()
            };
            assert_eq!(label("__name__"), "netdata_sim_context_things_average");
            assert_eq!(label("instance"), "sim-host");
            let sample = &series.samples[0];
            got.push((
                format!("{}.{}", label("chart"), label("dimension")),
                sample.value,
                sample.timestamp,
            ));
        }
        engine.handle_http_status(now, 204);
    }
    let want: Vec<(String, f64, i64)> = reference
        .lines
        .iter()
        .map(|l| {
            let mut parts = l.split(' ');
            let name = parts.next().unwrap();
            let value: f64 = parts.next().unwrap().parse().unwrap();
            let ts: i64 = parts.next().unwrap().parse().unwrap();
            let key = name.strip_prefix("netdata.sim-host.").unwrap().to_owned();
            (key, value, ts * 1000)
        })
        .filter(|(_, _, ts)| *ts <= (START + 140) * 1000)
        .collect();
    let got: Vec<(String, f64, i64)> = got
        .into_iter()
        .filter(|(_, _, ts)| *ts <= (START + 140) * 1000)
        .collect();
    assert!(requests > 3);
    assert!(want.len() > 600, "{}", want.len());
    assert_eq!(engine.counters().http_retried, 1);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "decoded samples differ from the stream run");
}

/// A replacement engine (a configuration reload) resumes at the old engine's resume
/// point: together they deliver every record at least once, and only records of the one
/// span that was partly delivered can arrive twice.
#[test]
fn a_replacement_engine_resumes_without_losing_anything() {
    let reference = stored(&Faults::default(), 1 << 20, 600, 300, 1);
    let cfg = config(Framing::Stream, DataSource::Average, 1);
    let mut collector = Collector::new(20, 600, 7);
    let t0 = Instant::from_micros(START * 1_000_000 + 300_000);
    let mut engine = Engine::new(cfg, graphite::write, vec![0u8; 1500], t0);
    let mut rx = Receiver::default();
    let mut connected = false;
    for step in 0..=300 * 10 {
        let now = Instant::from_micros(t0.as_micros() + step * 100_000);
        if now.as_micros() % 1_000_000 < 100_000 && step < 240 * 10 {
            collector.collect(now.as_secs());
        }
        if step == 1234 {
            // The reload: a new engine with the same settings replaces the old one, whose
            // buffer (with a partly written record) is dropped.
            let resume = engine.resume_point();
            engine = Engine::new(cfg, graphite::write, vec![0u8; 1500], now);
            engine.resume_from(resume);
            rx.close();
            connected = false;
        }
        engine.handle_timeout(now, &collector);
        while let Some(action) = engine.poll_action(now) {
            if let Action::Connect { .. } = action {
                connected = true;
                engine.handle_connected(now);
            }
        }
        if connected {
            // A slow peer: at most 700 bytes per step, so the buffer is busy at the reload.
            if let Some(bytes) = engine.poll_transmit(now, &collector) {
                let n = bytes.len().min(700);
                rx.arrive(&bytes[..n]);
                engine.handle_written(now, n);
                engine.handle_unacknowledged(now, 0);
            }
        }
    }
    let mut unique = rx.lines.clone();
    unique.sort();
    unique.dedup();
    let mut want = reference.lines.clone();
    want.sort();
    assert_same(&unique, &want, "after a reload");
    let duplicates = rx.lines.len() - unique.len();
    assert!(
        duplicates <= 60,
        "{duplicates} records sent twice (at most one span's)"
    );
}
