//! The engine under arbitrary event sequences: it never panics, its counters always add
//! up (`accepted == delivered + buffered + lost`), its buffer never exceeds its limit, and
//! once a well-behaved peer takes over, everything buffered is delivered.

use backhaul_core::config::DataSource;
use backhaul_core::engine::{Action, Config, Engine, Framing, HttpFraming, Metric, Source};
use backhaul_core::format::{graphite, ChartMeta, DimensionMeta, HostMeta};
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
use backhaul_core::time::{Duration, Instant};
use proptest::prelude::*;

struct Rings {
    ring: RingState,
    values: Vec<Vec<StorageNumber>>,
    names: Vec<String>,
}

impl Rings {
    fn new(metrics: usize, entries: usize) -> Self {
        Self {
            ring: RingState::empty(entries, 1),
            values: vec![vec![StorageNumber::EMPTY; entries]; metrics],
            names: (0..metrics).map(|i| format!("m{i}")).collect(),
        }
    }

    fn collect(&mut self, t: i64) {
        let slot = self.ring.current_entry();
        for (i, v) in self.values.iter_mut().enumerate() {
            v[slot] = StorageNumber::pack((t % 97) as f64 + i as f64 / 8.0, SN_EXISTS);
        }
        self.ring.advance(t);
    }
}

impl Source for Rings {
    fn metric_count(&self) -> usize {
        self.values.len()
    }

    fn metric(&self, index: usize) -> Option<Metric<'_>> {
        Some(Metric {
            chart: ChartMeta {
                id: "p.chart",
                name: "p.chart",
                family: "p",
                context: "p.c",
                chart_type: "p",
                units: "u",
            },
            dimension: DimensionMeta {
                id: self.names.get(index)?,
                name: &self.names[index],
            },
            ring: self.ring,
            values: &self.values[index],
            collected: Some(backhaul_core::engine::Collected {
                value: index as i64,
                time: self.ring.last_updated(),
            }),
        })
    }
}

#[derive(Debug, Clone)]
enum Event {
    Advance(u32),
    ConnectOk(bool),
    Write(u16),
    Ack(u16),
    Disconnect(Option<u16>),
    Status(u16),
    Received(u8),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (1u32..3_000_000).prop_map(Event::Advance),
        2 => any::<bool>().prop_map(Event::ConnectOk),
        4 => any::<u16>().prop_map(Event::Write),
        1 => any::<u16>().prop_map(Event::Ack),
        1 => proptest::option::of(any::<u16>()).prop_map(Event::Disconnect),
        1 => prop_oneof![Just(200u16), Just(204), Just(400), Just(429), Just(500), 100u16..600]
            .prop_map(Event::Status),
        1 => any::<u8>().prop_map(Event::Received),
    ]
}

const HTTP: HttpFraming<'static> = HttpFraming {
    path: "/write",
    host: "h",
    content_type: "text/plain",
    extra_headers: "X-A: b\r\n",
    body_open: b"[",
    separator: b",",
    body_close: b"]",
    max_body: 700,
    snappy: false,
    write_header: true,
};

fn run(events: &[Event], http: bool, source: DataSource, buffer: usize, acks: bool) {
    let cfg = Config {
        host: HostMeta {
            prefix: "netdata",
            hostname: "h",
            tags: "",
        },
        names: true,
        data_source: source,
        update_every: 2,
        destinations: 3,
        timeout: Duration::from_secs(3),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(2),
        transport_acks: acks,
        framing: if http {
            Framing::Http(HTTP)
        } else {
            Framing::Stream
        },
    };
    let mut rings = Rings::new(12, 30);
    let mut now = Instant::from_secs(1_700_000_000);
    let mut engine = Engine::new(cfg, graphite::write, vec![0u8; buffer], now);
    let mut last_collect = now.as_secs();
    let mut pending_connect = false;
    let check = |e: &Engine<'_, _, Vec<u8>>| {
        let c = e.counters();
        assert_eq!(c.accepted, c.delivered + c.buffered + c.lost);
        assert!(e.buffered_bytes() <= e.buffer_limit());
    };
    for ev in events {
        match *ev {
            Event::Advance(us) => {
                now = now.saturating_add(Duration::from_micros(u64::from(us)));
                while last_collect < now.as_secs() {
                    last_collect += 1;
                    rings.collect(last_collect);
                }
                engine.handle_timeout(now, &rings);
            }
            Event::ConnectOk(ok) => {
                if pending_connect {
                    pending_connect = false;
                    if ok {
                        engine.handle_connected(now);
                    } else {
                        engine.handle_connect_failed(now);
                    }
                }
            }
            Event::Write(n) => {
                if let Some(bytes) = engine.poll_transmit(now, &rings) {
                    let n = usize::from(n).min(bytes.len() + 3);
                    engine.handle_written(now, n);
                }
            }
            Event::Ack(outstanding) => engine.handle_unacknowledged(now, usize::from(outstanding)),
            Event::Disconnect(unacked) => engine.handle_disconnected(now, unacked.map(usize::from)),
            Event::Status(s) => engine.handle_http_status(now, s),
            Event::Received(n) => engine.handle_received(now, usize::from(n)),
        }
        // The shell obeys every action (a connect completes at a later ConnectOk event).
        while let Some(action) = engine.poll_action(now) {
            match action {
                Action::Connect { .. } => pending_connect = true,
                Action::Disconnect => {
                    pending_connect = false;
                    engine.handle_disconnected(now, None);
                }
            }
        }
        let _ = engine.poll_timeout();
        check(&engine);
    }
    // A perfect peer from now on: everything buffered must be delivered.
    if pending_connect {
        engine.handle_connected(now);
    }
    for _ in 0..400 {
        now = now.saturating_add(Duration::from_millis(50));
        engine.handle_timeout(now, &rings);
        match engine.poll_action(now) {
            Some(Action::Connect { .. }) => engine.handle_connected(now),
            Some(Action::Disconnect) => engine.handle_disconnected(now, Some(0)),
            None => {}
        }
        while let Some(bytes) = engine.poll_transmit(now, &rings) {
            let n = bytes.len();
            engine.handle_written(now, n);
            if http {
                engine.handle_http_status(now, 204);
            }
        }
        engine.handle_unacknowledged(now, 0);
        check(&engine);
    }
    let c = engine.counters();
    assert_eq!(c.buffered, 0, "{c:?}");
    assert_eq!(c.accepted, c.delivered + c.lost);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn stream_engine_invariants(events in prop::collection::vec(event(), 0..300),
                                buffer in 0usize..3000, acks in any::<bool>(),
                                collected in any::<bool>()) {
        let source = if collected { DataSource::AsCollected } else { DataSource::Average };
        run(&events, false, source, buffer, acks);
    }

    #[test]
    fn http_engine_invariants(events in prop::collection::vec(event(), 0..300),
                              buffer in 0usize..3000, collected in any::<bool>()) {
        let source = if collected { DataSource::AsCollected } else { DataSource::Sum };
        run(&events, true, source, buffer, false);
    }
}
