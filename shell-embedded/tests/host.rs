//! The embedded exporter on the host: the same board (a counter and a synthetic sensor,
//! collected every second of a simulated clock) exported through every kind of writer:
//! `&mut [u8]`, `heapless::Vec`, std writers through `embedded-io-adapters`' `FromStd`
//! (a trickling writer and a real TCP socket), a `WriteReady` FIFO and an `nb` byte
//! sink. Each must deliver exactly the same bytes; outages and full buffers must be
//! counted, never silent.

use std::cell::Cell;
use std::io::{self, Read};
use std::net::TcpListener;
use std::rc::Rc;

use backhaul_embedded::time::Instant;
use backhaul_embedded::{
    Algorithm, Blocking, ChartDef, ChartId, CycleCounter, DimDef, Exporter, HostMeta, LossReason,
    Metrics, NbBytes, Ready, SelfCharts, Status, Transport,
};
use embedded_io_adapters::std::FromStd;

const T0: i64 = 1_700_000_000;
const HOST: HostMeta<'static> = HostMeta {
    prefix: "netdata",
    hostname: "board",
    tags: "",
};

/// The sensor's raw value (milli-degrees) at tick `k`.
fn sensor(k: i64) -> i64 {
    21_000 + 250 * ((k * 7) % 13)
}

/// A simulated board: its metrics and its clock.
struct Board {
    metrics: Metrics<'static, 8, 16, 60>,
    counter: ChartId,
    sensor: ChartId,
    /// Microseconds since the epoch, shared with the exporter's clock.
    now: Rc<Cell<i64>>,
}

impl Board {
    fn new() -> Self {
        let mut metrics = Metrics::new();
        let counter = metrics
            .add_chart(
                &ChartDef::new("demo.counter", "demo", "demo.counter", "ticks"),
                &[DimDef::new("ticks", Algorithm::Absolute, 1, 1)],
            )
            .unwrap();
        let sensor = metrics
            .add_chart(
                &ChartDef::new("demo.sensor", "demo", "demo.sensor", "Celsius"),
                &[DimDef::new("temperature", Algorithm::Absolute, 1, 1000)],
            )
            .unwrap();
        Self {
            metrics,
            counter,
            sensor,
            now: Rc::new(Cell::new(T0 * 1_000_000)),
        }
    }

    fn clock(&self) -> impl FnMut() -> Instant + use<> {
        let now = Rc::clone(&self.now);
        move || Instant::from_micros(now.get())
    }

    /// Collects tick `k` at `T0 + k` seconds.
    fn collect(&mut self, k: i64) {
        self.now.set((T0 + k) * 1_000_000);
        let now = Instant::from_secs(T0 + k);
        self.metrics.set(self.counter, 0, k);
        self.metrics.done(self.counter, now);
        self.metrics.set(self.sensor, 0, sensor(k));
        self.metrics.done(self.sensor, now);
    }

    /// `ticks` seconds of collections, each followed by a poll, and `between` called
    /// after every poll (to drain a FIFO, say).
    fn run<T, C, Y>(
        &mut self,
        exporter: &mut Exporter<'_, T, C, &mut [u8; 2048], backhaul_embedded::FormatFn, Y>,
        ticks: i64,
        mut between: impl FnMut(
            &mut Exporter<'_, T, C, &mut [u8; 2048], backhaul_embedded::FormatFn, Y>,
            Status,
        ),
    ) where
        T: Transport,
        C: backhaul_embedded::Clock,
        Y: CycleCounter,
    {
        for k in 0..ticks {
            self.collect(k);
            let status = exporter.poll(&mut self.metrics);
            between(exporter, status);
        }
    }
}

fn check_invariant(c: &backhaul_embedded::Counters) {
    assert_eq!(c.accepted, c.delivered + c.buffered + c.lost, "{c:?}");
}

/// The lines every transport must deliver for the points `T0 ..= last`, in order: per
/// second the counter, then the sensor. The first export reads the rings' first point
/// (tick 1) at the start of its window (netdata's window clamping), so the first second
/// repeats tick 1.
fn expected(last: i64) -> String {
    let mut text = String::new();
    // The first point is stored at T0 + 1 (the first collection only primes the rings).
    for ts in T0 + 1..=last {
        let k = ts - T0;
        let milli = sensor(k);
        text.push_str(&format!(
            "netdata.board.demo.counter.ticks {k}.0000000 {ts}\n\
             netdata.board.demo.sensor.temperature {}.{:03}0000 {ts}\n",
            milli / 1000,
            milli % 1000
        ));
    }
    text
}

/// The reference run: a blocking `heapless::Vec` writer with room to spare.
fn reference(ticks: i64) -> String {
    let mut board = Board::new();
    let mut buffer = [0u8; 2048];
    let out = heapless::Vec::<u8, 8192>::new();
    let mut exporter = Exporter::graphite(HOST, &mut buffer, Blocking(out), board.clock());
    board.run(&mut exporter, ticks, |_, _| {});
    let c = exporter.counters();
    check_invariant(c);
    assert_eq!((c.lost, c.buffered, c.failures), (0, 0, 0));
    String::from_utf8(exporter.transport().0.to_vec()).unwrap()
}

#[test]
fn heapless_vec_gets_every_point_once_with_exact_values() {
    // Each export covers the points up to two seconds back: after the collection of tick
    // 19, the point of tick 16 is the newest one sent.
    assert_eq!(reference(20), expected(T0 + 16));
}

#[test]
fn a_full_slice_gets_whole_lines_and_the_rest_is_counted() {
    let want = expected(T0 + 16);
    let mut board = Board::new();
    let mut buffer = [0u8; 2048];
    let mut storage = [0u8; 300];
    let mut exporter =
        Exporter::graphite(HOST, &mut buffer, Blocking(&mut storage[..]), board.clock());
    board.run(&mut exporter, 20, |_, _| {});
    let c = *exporter.counters();
    check_invariant(&c);
    assert!(c.failures > 0, "the full slice is a failed write: {c:?}");
    assert!(exporter.transport().0.is_empty());
    drop(exporter);
    // Everything in the slice is the reference's beginning (the last line may be cut by
    // the end of the slice, never by the exporter).
    assert_eq!(&want.as_bytes()[..300], &storage[..]);
}

/// A std writer that takes at most `max` bytes per call.
struct Trickle {
    out: Vec<u8>,
    max: usize,
}

impl io::Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.max);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_trickling_std_writer_through_from_std_resumes_at_the_exact_byte() {
    let mut board = Board::new();
    let mut buffer = [0u8; 2048];
    let writer = FromStd::new(Trickle {
        out: Vec::new(),
        max: 7,
    });
    let mut exporter = Exporter::graphite(HOST, &mut buffer, Blocking(writer), board.clock());
    board.run(&mut exporter, 20, |_, _| {});
    check_invariant(exporter.counters());
    assert_eq!(exporter.counters().buffered, 0);
    let got = String::from_utf8(exporter.transport().0.inner().out.clone()).unwrap();
    assert_eq!(got, expected(T0 + 16));
}

#[test]
fn a_tcp_socket_through_from_std() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut got = String::new();
        stream.read_to_string(&mut got).unwrap();
        got
    });
    let stream = std::net::TcpStream::connect(addr).unwrap();
    let mut board = Board::new();
    let mut buffer = [0u8; 2048];
    let mut exporter = Exporter::graphite(
        HOST,
        &mut buffer,
        Blocking(FromStd::new(stream)),
        board.clock(),
    );
    board.run(&mut exporter, 20, |_, _| {});
    assert_eq!(exporter.counters().delivered, 32);
    drop(exporter);
    assert_eq!(reader.join().unwrap(), expected(T0 + 16));
}

/// A UART-like writer with a transmit FIFO of `capacity` bytes, drained by the test.
struct Fifo {
    fifo: heapless::Deque<u8, 16>,
    wire: Vec<u8>,
}

impl Fifo {
    fn drain(&mut self, bytes: usize) {
        for _ in 0..bytes {
            match self.fifo.pop_front() {
                Some(b) => self.wire.push(b),
                None => break,
            }
        }
    }
}

impl embedded_io::ErrorType for Fifo {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for Fifo {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        for &b in buf {
            if self.fifo.push_back(b).is_err() {
                break;
            }
            n += 1;
        }
        // Blocking semantics for a full FIFO would spin; Ready never calls it then.
        assert!(n > 0 || buf.is_empty(), "write() on a full FIFO");
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl embedded_io::WriteReady for Fifo {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.fifo.is_full())
    }
}

#[test]
fn a_write_ready_fifo_is_never_blocked_on() {
    let mut board = Board::new();
    let mut buffer = [0u8; 2048];
    let fifo = Fifo {
        fifo: heapless::Deque::new(),
        wire: Vec::new(),
    };
    let mut exporter = Exporter::graphite(HOST, &mut buffer, Ready(fifo), board.clock());
    let mut blocked = 0;
    for k in 0..40 {
        board.collect(k);
        // Like a TX-empty interrupt: poll again whenever the FIFO has drained a little.
        for _ in 0..20 {
            let status = exporter.poll(&mut board.metrics);
            if !status.blocked {
                break;
            }
            blocked += 1;
            exporter.transport_mut().0.drain(8);
        }
    }
    assert!(blocked > 0);
    exporter.transport_mut().0.drain(16);
    let c = *exporter.counters();
    check_invariant(&c);
    assert_eq!((c.lost, c.buffered), (0, 0), "{c:?}");
    let got = String::from_utf8(exporter.transport().0.wire.clone()).unwrap();
    assert_eq!(got, expected(T0 + 36));
}

#[test]
fn an_nb_byte_sink_takes_what_it_can() {
    let wire = Rc::new(std::cell::RefCell::new(Vec::new()));
    let room = Rc::new(Cell::new(0usize));
    let sink = {
        let (wire, room) = (Rc::clone(&wire), Rc::clone(&room));
        NbBytes(move |b: u8| {
            if room.get() == 0 {
                return Err(nb::Error::<()>::WouldBlock);
            }
            room.set(room.get() - 1);
            wire.borrow_mut().push(b);
            Ok(())
        })
    };
    let mut board = Board::new();
    let mut buffer = [0u8; 2048];
    let mut exporter = Exporter::graphite(HOST, &mut buffer, sink, board.clock());
    // 64 bytes between two polls: slower than one second's two lines (119 bytes), so
    // the send buffer fills; then the line catches up.
    board.run(&mut exporter, 20, |_, _| room.set(room.get() + 64));
    for _ in 0..20 {
        room.set(room.get() + 64);
        exporter.poll_source(&board.metrics);
    }
    check_invariant(exporter.counters());
    assert_eq!(exporter.counters().lost, 0);
    assert_eq!(
        String::from_utf8(wire.borrow().clone()).unwrap(),
        expected(T0 + 16)
    );
}

/// A transport that refuses connections while `down` is set, and counts bytes.
struct Flaky {
    down: Rc<Cell<bool>>,
    wire: Vec<u8>,
    pending_connects: u32,
}

impl Transport for Flaky {
    type Error = &'static str;

    fn connect(&mut self, _destination: usize) -> nb::Result<(), Self::Error> {
        if self.down.get() {
            return Err(nb::Error::Other("refused"));
        }
        // A handshake that takes two polls.
        if self.pending_connects > 0 {
            self.pending_connects -= 1;
            return Err(nb::Error::WouldBlock);
        }
        self.pending_connects = 2;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> nb::Result<usize, Self::Error> {
        if self.down.get() {
            return Err(nb::Error::Other("reset"));
        }
        self.wire.extend_from_slice(bytes);
        Ok(bytes.len())
    }
}

#[test]
fn an_outage_shorter_than_the_rings_loses_nothing() {
    let down = Rc::new(Cell::new(false));
    let flaky = Flaky {
        down: Rc::clone(&down),
        wire: Vec::new(),
        pending_connects: 2,
    };
    let mut board = Board::new();
    let mut buffer = [0u8; 2048];
    let mut exporter = Exporter::graphite(HOST, &mut buffer, flaky, board.clock());
    for k in 0..40 {
        down.set((10..25).contains(&k));
        board.collect(k);
        exporter.poll(&mut board.metrics);
    }
    // Let the backoff pass and the replay finish.
    for k in 40..100 {
        board.now.set((T0 + 40) * 1_000_000 + (k - 40) * 250_000);
        exporter.poll_source(&board.metrics);
    }
    let c = *exporter.counters();
    check_invariant(&c);
    assert!(c.failures > 0 && c.reconnects > 1, "{c:?}");
    assert_eq!((c.lost, c.buffered), (0, 0), "{c:?}");
    // The clock went on past the last collection: every point up to it is out.
    let got = String::from_utf8(exporter.transport().wire.clone()).unwrap();
    assert_eq!(got, expected(T0 + 39));
}

#[test]
fn an_outage_longer_than_the_rings_is_counted_as_expired() {
    let down = Rc::new(Cell::new(false));
    let flaky = Flaky {
        down: Rc::clone(&down),
        wire: Vec::new(),
        pending_connects: 0,
    };
    let mut board = Board::new();
    let mut buffer = [0u8; 2048];
    let mut exporter = Exporter::graphite(HOST, &mut buffer, flaky, board.clock());
    // 60-slot rings, 100 s down.
    for k in 0..150 {
        down.set((10..110).contains(&k));
        board.collect(k);
        exporter.poll(&mut board.metrics);
    }
    let c = *exporter.counters();
    check_invariant(&c);
    assert!(c.lost_for(LossReason::Expired) > 0, "{c:?}");
    assert_eq!(c.lost, c.lost_for(LossReason::Expired));
}

/// A cycle counter that advances 1,250 counts (100 µs at 12.5 MHz) per reading.
struct FakeCycles(u32);

impl CycleCounter for FakeCycles {
    fn cycles(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(1250);
        self.0
    }

    fn frequency_hz(&self) -> u32 {
        12_500_000
    }
}

#[test]
fn self_monitoring_exports_the_counters_and_cpu_like_the_linux_shell() {
    let mut board = Board::new();
    let mut buffer = [0u8; 2048];
    let out = heapless::Vec::<u8, 16384>::new();
    let mut exporter = Exporter::graphite(HOST, &mut buffer, Blocking(out), board.clock())
        .with_cycle_counter(FakeCycles(u32::MAX - 1000));
    exporter
        .monitor(&mut board.metrics, SelfCharts::ALL)
        .unwrap();
    board.run(&mut exporter, 10, |_, _| {});
    // Each poll reads the counter twice: 1,250 counts apart, 100 µs.
    assert_eq!(exporter.cpu_micros(), 10 * 100);
    let text = String::from_utf8(exporter.transport().0.to_vec()).unwrap();
    let at = |name: &str, ts: i64| {
        let prefix = format!("netdata.board.netdata.{name} ");
        let suffix = format!(" {ts}");
        text.lines()
            .find(|l| l.starts_with(&prefix) && l.ends_with(&suffix))
            .unwrap_or_else(|| panic!("no {name} at {ts} in:\n{text}"))
            .split(' ')
            .nth(1)
            .unwrap()
            .to_owned()
    };
    // 100 µs of CPU a second: 0.1 ms/s.
    assert_eq!(at("backend_thread_cpu.user", T0 + 5), "0.1000000");
    // The first lines went out in the poll after the collection of T0 + 4 (the first
    // point, T0 + 1, is exported once the window has passed it), so the point of T0 + 5
    // counts them: 15 lines a second (the counter, the sensor and the 13
    // self-monitoring dimensions), in one write, after one connection.
    assert_eq!(at("backend_metrics.sent", T0 + 4), "0.0000000");
    assert_eq!(at("backend_metrics.sent", T0 + 5), "15.0000000");
    assert_eq!(at("backend_metrics.sent", T0 + 6), "15.0000000");
    assert_eq!(at("backend_metrics.lost", T0 + 5), "0.0000000");
    assert_eq!(at("backend_ops.reconnect", T0 + 5), "1.0000000");
    assert_eq!(at("backend_ops.reconnect", T0 + 6), "0.0000000");
    assert_eq!(at("backend_ops.write", T0 + 6), "1.0000000");
    for name in [
        "backend_metrics.buffered",
        "backend_bytes.buffered",
        "backend_bytes.lost",
        "backend_bytes.sent",
        "backend_bytes.received",
        "backend_ops.discard",
        "backend_ops.failure",
        "backend_ops.read",
    ] {
        at(name, T0 + 5);
    }
    check_invariant(exporter.counters());
}
