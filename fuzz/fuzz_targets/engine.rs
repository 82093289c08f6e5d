//! The sans-I/O engine fed arbitrary event sequences, by a shell that obeys its actions
//! or by one that calls anything at any time: it never panics; after every call
//! `accepted == delivered + buffered + lost`, the counters never go back, and the buffer
//! stays within its limit; every connection's byte stream starts at a record boundary,
//! so each complete line a receiver gets is a whole graphite or JSON record, and each
//! complete HTTP request carries exactly its Content-Length of body (a remote-write body
//! decompresses and decodes); and, with an obedient shell, once a perfect peer takes over
//! everything buffered is delivered.

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::config::DataSource;
use backhaul_core::engine::{
    Action, Collected, Config, Counters, Engine, Framing, HttpFraming, Metric, RecordFormat, Source,
};
use backhaul_core::format::remote_write::{Options, RemoteWriteFormat, SeriesKind};
use backhaul_core::format::{
    graphite, json, opentsdb, BufferFull, ChartMeta, DimensionMeta, HostMeta, Record,
};
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
use backhaul_core::time::{Duration, Instant};
use backhaul_core::window::Reduce;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Format {
    Graphite,
    Json,
    OpenTsdbHttp,
    GraphiteHttp,
    RemoteWrite,
}

#[derive(Arbitrary, Debug)]
struct Setup {
    format: Format,
    source: u8,
    update_every: u8,
    destinations: u8,
    timeout_ms: u16,
    backoff_min_ms: u16,
    backoff_max_ms: u16,
    acks: bool,
    buffer: u16,
    max_body: u16,
    metrics: u8,
    entries: u8,
    seed: u32,
    obey: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Event {
    Advance(u32),
    Jump(u16),
    ConnectOk(bool),
    Connected,
    ConnectFailed,
    Write(u16),
    WriteAll,
    Ack(u16),
    Disconnect(Option<u16>),
    Status(u16),
    Received(u8),
    StopProducing,
    Headers(bool),
    Timeout,
}

#[derive(Arbitrary, Debug)]
struct Input {
    setup: Setup,
    events: Vec<Event>,
}

struct Fmt(Format, RemoteWriteFormat);

impl RecordFormat for Fmt {
    fn write(&self, record: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull> {
        match self.0 {
            Format::Graphite | Format::GraphiteHttp => graphite::write(record, out),
            Format::Json => json::write(record, out),
            Format::OpenTsdbHttp => opentsdb::write_object(record, out),
            Format::RemoteWrite => self.1.write(record, out),
        }
    }
}

struct Rings {
    ring: RingState,
    values: Vec<Vec<StorageNumber>>,
    names: Vec<String>,
    seed: u32,
}

impl Rings {
    fn collect(&mut self, t: i64) {
        let slot = self.ring.current_entry();
        for (i, v) in self.values.iter_mut().enumerate() {
            let x = (t as u32 ^ self.seed)
                .wrapping_mul(2_654_435_761)
                .rotate_left(i as u32);
            v[slot] = if x.is_multiple_of(17) {
                StorageNumber::EMPTY
            } else {
                StorageNumber::pack(f64::from(x % 100_000) / 8.0 - 4000.0, SN_EXISTS)
            };
        }
        self.ring.advance(t);
    }
}

impl Source for Rings {
    fn metric_count(&self) -> usize {
        self.values.len()
    }

    fn metric(&self, index: usize) -> Option<Metric<'_>> {
        let name = self.names.get(index)?;
        Some(Metric {
            chart: ChartMeta {
                id: "f.chart",
                name: "f.chart",
                family: "f",
                context: "f.c",
                chart_type: "f",
                units: "u",
            },
            dimension: DimensionMeta { id: name, name },
            ring: self.ring,
            values: &self.values[index],
            collected: (index % 3 != 2).then(|| Collected {
                value: index as i64 - 5,
                time: self.ring.last_updated(),
            }),
        })
    }
}

/// What the receiver got on one connection.
#[derive(Default)]
struct Received {
    streams: Vec<Vec<u8>>,
}

impl Received {
    fn current(&mut self) -> &mut Vec<u8> {
        if self.streams.is_empty() {
            self.streams.push(Vec::new());
        }
        self.streams.last_mut().unwrap()
    }
}

fn check_line(format: Format, line: &[u8]) {
    let text = std::str::from_utf8(line).expect("a UTF-8 record");
    match format {
        Format::Graphite => {
            let fields: Vec<&str> = text.split(' ').collect();
            assert_eq!(fields.len(), 3, "torn graphite line {text:?}");
            assert!(
                fields[0].starts_with("netdata.h.f.chart.m"),
                "torn graphite line {text:?}"
            );
            assert!(
                fields[1].parse::<f64>().is_ok() && fields[2].parse::<i64>().is_ok(),
                "{text:?}"
            );
        }
        Format::Json => {
            let v: serde_json::Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("torn JSON line {text:?}: {e}"));
            assert_eq!(v["chart_id"], "f.chart");
        }
        _ => unreachable!(),
    }
}

fn check_stream(format: Format, stream: &[u8]) {
    match format {
        Format::Graphite | Format::Json => {
            let mut lines: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
            lines.pop(); // the part after the last newline: cut in flight, or empty
            for line in lines {
                check_line(format, line);
            }
        }
        _ => {
            let mut rest = stream;
            loop {
                let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
                    return;
                };
                let head = std::str::from_utf8(&rest[..end]).expect("an ASCII header");
                assert!(
                    head.starts_with("POST /p HTTP/1.1\r\n"),
                    "a request starting mid-way: {head:?}"
                );
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .expect("a Content-Length")
                    .parse()
                    .expect("a number");
                let body_start = end + 4;
                if rest.len() < body_start + len {
                    return; // cut in flight
                }
                let body = &rest[body_start..body_start + len];
                match format {
                    Format::OpenTsdbHttp => {
                        let v: serde_json::Value =
                            serde_json::from_slice(body).expect("a JSON body");
                        assert!(!v.as_array().expect("an array").is_empty());
                    }
                    Format::GraphiteHttp => {
                        assert!(body.ends_with(b"\n"));
                        for line in body[..body.len() - 1].split(|&b| b == b'\n') {
                            check_line(Format::Graphite, line);
                        }
                    }
                    Format::RemoteWrite => {
                        let raw = snap::raw::Decoder::new()
                            .decompress_vec(body)
                            .expect("snappy");
                        assert!(!raw.is_empty());
                    }
                    _ => unreachable!(),
                }
                rest = &rest[body_start + len..];
            }
        }
    }
}

fn check(e: &Engine<'_, Fmt, Vec<u8>>, last: &mut Counters) {
    let c = *e.counters();
    assert_eq!(c.accepted, c.delivered + c.buffered + c.lost, "{c:?}");
    assert!(e.buffered_bytes() <= e.buffer_limit());
    assert!(c.accepted >= last.accepted && c.delivered >= last.delivered && c.lost >= last.lost);
    assert!(c.bytes_formatted >= last.bytes_formatted && c.bytes_sent >= last.bytes_sent);
    *last = c;
}

fuzz_target!(|input: Input| {
    let s = &input.setup;
    let format = s.format;
    let http = HttpFraming {
        path: "/p",
        host: "h",
        content_type: "text/plain",
        extra_headers: "",
        body_open: b"",
        separator: b"",
        body_close: b"",
        max_body: usize::from(s.max_body),
        snappy: false,
        write_header: true,
    };
    let framing = match format {
        Format::Graphite | Format::Json => Framing::Stream,
        Format::GraphiteHttp => Framing::Http(http),
        Format::OpenTsdbHttp => Framing::Http(HttpFraming {
            content_type: "application/json",
            body_open: b"[",
            separator: b",",
            body_close: b"]",
            ..http
        }),
        Format::RemoteWrite => Framing::Http(HttpFraming::remote_write(
            "/p",
            "h",
            usize::from(s.max_body),
        )),
    };
    let data_source = [
        DataSource::Average,
        DataSource::Sum,
        DataSource::AsCollected,
    ][usize::from(s.source % 3)];
    let kind = match data_source {
        DataSource::Sum => SeriesKind::Stored(Reduce::Sum),
        DataSource::AsCollected => SeriesKind::Collected(Default::default()),
        _ => SeriesKind::Stored(Reduce::Average),
    };
    let cfg = Config {
        host: HostMeta {
            prefix: "netdata",
            hostname: "h",
            tags: "",
        },
        names: true,
        data_source,
        update_every: u32::from(s.update_every % 6),
        destinations: usize::from(s.destinations % 4),
        timeout: Duration::from_millis(u64::from(s.timeout_ms % 5000) + 1),
        backoff_min: Duration::from_millis(u64::from(s.backoff_min_ms % 1000)),
        backoff_max: Duration::from_millis(u64::from(s.backoff_max_ms % 3000)),
        transport_acks: s.acks,
        framing,
    };
    let entries = usize::from(s.entries % 60) + 5;
    let metrics = usize::from(s.metrics % 24);
    let mut rings = Rings {
        ring: RingState::empty(entries, 1),
        values: vec![vec![StorageNumber::EMPTY; entries]; metrics],
        names: (0..metrics).map(|i| format!("m{i}")).collect(),
        seed: s.seed,
    };
    let mut now = Instant::from_secs(1_700_000_000);
    let storage = vec![0u8; usize::from(s.buffer)];
    let fmt = Fmt(
        format,
        RemoteWriteFormat {
            kind,
            options: Options::new(),
        },
    );
    let mut engine = Engine::new(cfg, fmt, storage, now);
    let mut last = Counters::default();
    let mut last_collect = now.as_secs();
    let mut pending_connect = false;
    let mut received = Received::default();
    let obey = s.obey;
    let headers_a = "X-A: 1\r\n";

    let advance = |now: Instant, rings: &mut Rings, last_collect: &mut i64| {
        while *last_collect < now.as_secs() {
            *last_collect += 1;
            rings.collect(*last_collect);
        }
    };

    for ev in input.events.iter().take(400) {
        match *ev {
            Event::Advance(us) => {
                now = now.saturating_add(Duration::from_micros(u64::from(us % 5_000_000)));
                advance(now, &mut rings, &mut last_collect);
                engine.handle_timeout(now, &rings);
            }
            Event::Jump(secs) => {
                // An outage longer than the ring: points expire.
                now = now.saturating_add(Duration::from_secs(u64::from(secs)));
                let from = now.as_secs() - (entries as i64) * 2;
                last_collect = last_collect.max(from);
                advance(now, &mut rings, &mut last_collect);
                engine.handle_timeout(now, &rings);
            }
            Event::ConnectOk(ok) => {
                if pending_connect || !obey {
                    pending_connect = false;
                    if ok {
                        received.streams.push(Vec::new());
                        engine.handle_connected(now);
                    } else {
                        engine.handle_connect_failed(now);
                    }
                }
            }
            Event::Connected if !obey => {
                received.streams.push(Vec::new());
                engine.handle_connected(now);
            }
            Event::ConnectFailed if !obey => engine.handle_connect_failed(now),
            Event::Connected | Event::ConnectFailed => {}
            Event::Write(n) => {
                if let Some(bytes) = engine.poll_transmit(now, &rings) {
                    let n = usize::from(n).min(bytes.len() + if obey { 0 } else { 3 });
                    let taken = n.min(bytes.len());
                    received.current().extend_from_slice(&bytes[..taken]);
                    engine.handle_written(now, n);
                }
            }
            Event::WriteAll => {
                if let Some(bytes) = engine.poll_transmit(now, &rings) {
                    let n = bytes.len();
                    received.current().extend_from_slice(bytes);
                    engine.handle_written(now, n);
                }
            }
            Event::Ack(outstanding) => engine.handle_unacknowledged(now, usize::from(outstanding)),
            Event::Disconnect(unacked) => {
                if let Some(u) = unacked {
                    let stream = received.current();
                    let keep = stream.len().saturating_sub(usize::from(u));
                    stream.truncate(keep);
                }
                received.streams.push(Vec::new());
                engine.handle_disconnected(now, unacked.map(usize::from));
            }
            Event::Status(st) => engine.handle_http_status(now, st),
            Event::Received(n) => engine.handle_received(now, usize::from(n)),
            Event::StopProducing => engine.stop_producing(&rings),
            Event::Headers(a) => engine.set_http_extra_headers(if a { headers_a } else { "" }),
            Event::Timeout => {
                if let Some(t) = engine.poll_timeout() {
                    if t > now {
                        now = t.min(now.saturating_add(Duration::from_secs(60)));
                        advance(now, &mut rings, &mut last_collect);
                    }
                }
                engine.handle_timeout(now, &rings);
            }
        }
        if obey {
            while let Some(action) = engine.poll_action(now) {
                match action {
                    Action::Connect { destination } => {
                        assert!(destination < usize::from(s.destinations % 4).max(1));
                        pending_connect = true;
                    }
                    Action::Disconnect => {
                        pending_connect = false;
                        received.streams.push(Vec::new());
                        engine.handle_disconnected(now, None);
                    }
                }
            }
        } else {
            let _ = engine.poll_action(now);
        }
        let _ = engine.poll_timeout();
        check(&engine, &mut last);
    }
    for stream in &received.streams {
        check_stream(format, stream);
    }
    if !obey {
        return;
    }

    // A perfect peer from now on: everything buffered is delivered.
    if pending_connect {
        received.streams.push(Vec::new());
        engine.handle_connected(now);
    }
    for _ in 0..600 {
        now = now.saturating_add(Duration::from_millis(100));
        advance(now, &mut rings, &mut last_collect);
        engine.handle_timeout(now, &rings);
        while let Some(action) = engine.poll_action(now) {
            match action {
                Action::Connect { .. } => {
                    received.streams.push(Vec::new());
                    engine.handle_connected(now);
                }
                Action::Disconnect => engine.handle_disconnected(now, Some(0)),
            }
        }
        while let Some(bytes) = engine.poll_transmit(now, &rings) {
            let n = bytes.len();
            received.current().extend_from_slice(bytes);
            engine.handle_written(now, n);
            if !matches!(format, Format::Graphite | Format::Json) {
                engine.handle_http_status(now, 204);
            }
        }
        engine.handle_unacknowledged(now, 0);
        check(&engine, &mut last);
    }
    let c = engine.counters();
    assert_eq!(c.buffered, 0, "{c:?}");
    for stream in &received.streams {
        check_stream(format, stream);
    }
});
