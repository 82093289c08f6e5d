//! Link-time proof that `backhaul-core` needs no allocator. See `README.md`.
//!
//! Build with (from this folder):
//!
//! ```text
//! cargo build --release --target thumbv7em-none-eabihf
//! ```

#![no_std]
#![no_main]

use backhaul_core::collect::{Algorithm, ChartClock, DimensionState};
use backhaul_core::config::DataSource;
use backhaul_core::config::{BackendConfig, DaemonConfig};
use backhaul_core::destination::Destinations;
use backhaul_core::engine::{Action, Config, Engine, Framing, HttpFraming, Metric, Source};
use backhaul_core::extended::Extended;
use backhaul_core::format::chart::ChartCache;
use backhaul_core::format::prometheus::{Exposition, PromChart, PromQuery};
use backhaul_core::format::remote_write::{
    self, snappy, Options, RemoteWriteFormat, SeriesKind, WriteRequestEncoder,
};
use backhaul_core::format::{
    bson, graphite, json, kinesis, opentsdb, ChartMeta, DimensionMeta, HostMeta, Record, Value,
};
use backhaul_core::name::{self, UnitNames};
use backhaul_core::number::{DecimalBuffer, Fixed7Buffer, IntBuffer};
use backhaul_core::pattern::SimplePattern;
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
use backhaul_core::time::{Duration, Instant};
use backhaul_core::window::{self, Reduce, Span};
use core::hint::black_box;
use core::panic::PanicInfo;

const HOST: HostMeta<'static> = HostMeta {
    prefix: "netdata",
    hostname: "probe",
    tags: "a=b",
};
const CHART: ChartMeta<'static> = ChartMeta {
    id: "system.cpu",
    name: "system.cpu",
    family: "cpu",
    context: "system.cpu",
    chart_type: "system",
    units: "percentage",
};
const DIM: DimensionMeta<'static> = DimensionMeta {
    id: "user",
    name: "user",
};

/// One metric over a static ring.
struct Probe([StorageNumber; 16]);

impl Source for Probe {
    fn metric_count(&self) -> usize {
        black_box(1)
    }

    fn metric(&self, index: usize) -> Option<Metric<'_>> {
        (index == 0).then(|| Metric {
            chart: CHART,
            dimension: DIM,
            ring: RingState::new(16, 1, 40, 8, black_box(1000)),
            values: &self.0,
            collected: None,
        })
    }
}

fn config(framing: Framing<'_>) -> Config<'_> {
    Config {
        host: HOST,
        names: true,
        data_source: DataSource::Average,
        update_every: 1,
        destinations: 2,
        timeout: Duration::from_secs(5),
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        transport_acks: black_box(true),
        framing,
    }
}

/// Drives an engine through one export: connect, transmit, acknowledge, disconnect.
fn drive<F: backhaul_core::engine::RecordFormat>(
    mut engine: Engine<'_, F, [u8; 4096]>,
    source: &Probe,
) {
    let mut now = Instant::from_secs(black_box(1000));
    for _ in 0..3 {
        now = now.saturating_add(Duration::from_secs(1));
        engine.handle_timeout(now, source);
        if let Some(Action::Connect { .. }) = engine.poll_action(now) {
            engine.handle_connected(now);
        }
        if let Some(bytes) = engine.poll_transmit(now, source) {
            let n = black_box(bytes.len());
            engine.handle_written(now, n);
        }
        engine.handle_unacknowledged(now, black_box(0));
        engine.handle_http_status(now, black_box(204));
        engine.handle_received(now, black_box(3));
        black_box(engine.poll_timeout());
    }
    engine.handle_disconnected(now, black_box(Some(0)));
    engine.handle_connect_failed(now);
    black_box(engine.resume_point());
    engine.set_http_extra_headers(black_box("X-A: b\r\n"));
    engine.stop_producing(source);
    black_box(engine.counters().delivered);
}

static CONFIG: &str = "[backend]\n enabled = yes\n destination = a:2003 [::1]:2004\n";

/// Calls core's public entry points on inputs the optimiser cannot see through, and hands
/// every result to `black_box`, so that LTO keeps all of them in the final image.
///
/// Add one block per entry point here as core grows.
#[inline(never)]
fn exercise() {
    // Storage numbers, extended precision and exact decimals.
    let sn = StorageNumber::pack(black_box(16.777218), SN_EXISTS);
    let x = Extended::from_f64(black_box(1.5)).unwrap_or(Extended::ZERO);
    black_box(StorageNumber::pack_extended(
        x / Extended::from_u64(3) + x * x - x,
        SN_EXISTS,
    ));
    black_box(sn.to_f64());
    let mut decimal = DecimalBuffer::new();
    black_box(decimal.format(black_box(sn).unpack()).len());
    let mut fixed = Fixed7Buffer::new();
    black_box(fixed.format_f64(black_box(1e300)).len());
    let mut int = IntBuffer::new();
    black_box(int.format_i64(black_box(-42)).len());

    // Rings and windows.
    let values = [black_box(sn); 16];
    let ring = RingState::new(16, black_box(1), 40, 8, black_box(1000));
    black_box(window::value(&values, &ring, black_box(990), 1000, Reduce::Average).is_ok());
    black_box(ring.slots(black_box(985), 999).count());

    // Patterns, names, destinations and configuration.
    let pattern = SimplePattern::new(black_box(b"!*child* *db*"));
    black_box(pattern.matches(black_box(b"db-server")));
    let mut out = [0u8; 256];
    black_box(name::sanitize_backend(
        black_box(b"disk.vg0-root"),
        200,
        &mut out,
    ));
    black_box(name::escape_label(black_box(b"a\"b"), 256, &mut out));
    black_box(name::units_suffix(
        black_box(b"KiB/s"),
        256,
        UnitNames::Old,
        &mut out,
    ));
    black_box(Destinations::new(black_box("tcp:a:2003,[::1]:4242"), Some(2003)).count());
    black_box(BackendConfig::parse(black_box(CONFIG)).is_ok());
    black_box(DaemonConfig::parse(black_box(CONFIG)).is_ok());

    // Collection into rings.
    let mut clock = ChartClock::new(16, 1);
    let mut dims = [
        (
            DimensionState::new(Algorithm::Incremental, 8, 1000),
            [StorageNumber::EMPTY; 16],
        ),
        (
            DimensionState::new(Algorithm::Absolute, 1, 1),
            [StorageNumber::EMPTY; 16],
        ),
    ];
    for t in 0..4 {
        for (d, _) in &mut dims {
            d.set(black_box(t * 1000));
        }
        black_box(clock.store_due_points(&mut dims, Instant::from_secs(1000 + t)));
    }

    // Every formatter.
    let record = Record {
        host: HOST,
        chart: CHART,
        dimension: DIM,
        names: black_box(true),
        value: Value::Stored(sn.unpack()),
        timestamp: black_box(1000),
    };
    let mut line = [0u8; 4096];
    black_box(graphite::write(&record, &mut line).is_ok());
    black_box(opentsdb::write(&record, &mut line).is_ok());
    black_box(opentsdb::write_object(&record, &mut line).is_ok());
    if let Ok(mut array) = opentsdb::JsonArray::new(&mut line) {
        black_box(array.try_push(&record).is_ok());
        black_box(array.finish());
    }
    black_box(json::write(&record, &mut line).is_ok());
    // The same formats through a chart part, prepared once per chart.
    let mut cache = ChartCache::new();
    black_box(cache.write(&graphite::Graphite, &record, &mut line).is_ok());
    cache.clear();
    black_box(cache.write(&opentsdb::Telnet, &record, &mut line).is_ok());
    cache.clear();
    black_box(
        cache
            .write(&opentsdb::HttpObject, &record, &mut line)
            .is_ok(),
    );
    cache.clear();
    black_box(cache.write(&json::Json, &record, &mut line).is_ok());
    cache.clear();
    if let Ok(span) = Span::new(&ring, black_box(990), 1000) {
        black_box(span.value(&values, Reduce::Sum).is_ok());
        black_box(span.reduce(&values).samples);
    }
    black_box(bson::write_document(&record, &mut line).is_ok());
    let mut encoder = WriteRequestEncoder::new(&mut line);
    black_box(remote_write::push_info(&mut encoder, &HOST, "backhaul", "0.1.0", 1).is_ok());
    black_box(remote_write::push_host_tags(&mut encoder, &HOST, 1).is_ok());
    let kind = SeriesKind::Stored(Reduce::Average);
    black_box(remote_write::push_record(&mut encoder, &record, kind, Options::new()).is_ok());
    let encoded = encoder.finish();
    let mut compressed = [0u8; 4096];
    let mut table = [0u16; 1024];
    black_box(snappy::compress(&line[..encoded.min(1024)], &mut compressed, &mut table).is_ok());
    for chunk in kinesis::Splitter::new(black_box(b"a 1\nb 2\n")) {
        black_box(chunk.bytes().len());
    }
    for group in kinesis::Batches::new(black_box(b"a 1\nb 2\n")) {
        black_box(&group);
    }
    black_box(kinesis::PartitionKeys::new().next_key().len());
    let query = PromQuery::parse(
        black_box("format=prometheus&help=yes"),
        DataSource::Average,
        true,
    );
    let exposition = Exposition::new(HOST, &query);
    let chart = PromChart {
        meta: CHART,
        homogeneous: true,
    };
    black_box(exposition.write_chart(&chart, &mut line).is_ok());
    if let Ok((value, window)) = window::value(&values, &ring, 990, 1000, Reduce::Average) {
        black_box(
            exposition
                .write_stored(&chart, &DIM, value, &window, &mut line)
                .is_ok(),
        );
    }
    black_box(
        exposition
            .write_info("backhaul", "0.1.0", 1, &mut line)
            .is_ok(),
    );

    // The engine, over a stream and over HTTP with snappy remote write.
    let source = Probe([black_box(sn); 16]);
    let now = Instant::from_secs(black_box(999));
    drive(
        Engine::new(config(Framing::Stream), graphite::write, [0u8; 4096], now),
        &source,
    );
    drive(
        Engine::new(config(Framing::Stream), json::Json, [0u8; 4096], now),
        &source,
    );
    let rw = RemoteWriteFormat {
        kind,
        options: Options::new(),
    };
    let framing = Framing::Http(HttpFraming::remote_write("/api/v1/write", "probe", 1024));
    drive(Engine::new(config(framing), rw, [0u8; 4096], now), &source);
}

/// The entry point: `rust-lld`'s default entry symbol.
#[no_mangle]
pub extern "C" fn _start() -> ! {
    loop {
        exercise();
    }
}

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
