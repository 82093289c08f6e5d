//! The collect-and-export path allocates nothing in steady state.
//!
//! A counting global allocator counts the allocations made on this test's thread while
//! the daemon's steady-state work runs: collectors reading `/proc` files into the chart
//! rings, the backend charts, an engine formatting Graphite lines from the rings, and a
//! non-blocking TCP connection writing them to a local sink (with the `SIOCOUTQ`
//! acknowledgement query). After a warm-up (first collections, the connection, the
//! buffers' first use), 30 more cycles must allocate nothing at all.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration as StdDuration;

use backhaul_core::config::DataSource;
use backhaul_core::engine::{Action, Config, Counters, Engine, Framing};
use backhaul_core::format::HostMeta;
use backhaul_core::time::{Duration, Instant};
use backhaul_linux::charts::ChartSet;
use backhaul_linux::collectors::Collectors;
use backhaul_linux::net::{Link, LinkEvent, Target, TargetKind};
use backhaul_linux::wire::Wire;
use mio::{Events, Poll, Token, Waker};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting only reads
// a const-initialised thread-local and bumps an atomic, neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A copy of this machine's `/proc` files, frozen, so that no new chart (a new network
/// interface, a new disk) appears in the middle of the measurement.
fn frozen_proc() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("backhaul-no-alloc-{}", std::process::id()));
    let proc_root = dir.join("proc");
    std::fs::create_dir_all(proc_root.join("net")).unwrap();
    for file in [
        "stat",
        "loadavg",
        "meminfo",
        "uptime",
        "net/dev",
        "diskstats",
    ] {
        let text = std::fs::read(format!("/proc/{file}")).unwrap();
        std::fs::write(proc_root.join(file), text).unwrap();
    }
    proc_root
}

#[test]
fn steady_state_collect_and_export_allocates_nothing() {
    // A sink that reads and discards everything.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 65536];
            while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
        }
    });

    let proc_root = frozen_proc();
    let mut charts = ChartSet::new(600, 1);
    let mut collectors = Collectors::with_roots(&mut charts, &proc_root, "/sys".as_ref());
    let backend = charts.add_backend_charts_every("nalloc", 1);
    let config = Config {
        host: HostMeta {
            prefix: "netdata",
            hostname: "no-alloc",
            tags: "",
        },
        names: true,
        data_source: DataSource::Average,
        update_every: 1,
        destinations: 1,
        timeout: Duration::from_secs(5),
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(8),
        transport_acks: true,
        framing: Framing::Stream,
    };
    let mut now = Instant::from_secs(1_800_000_000);
    let mut engine = Engine::new(
        config,
        Wire::Graphite,
        vec![0u8; 1 << 20].into_boxed_slice(),
        now,
    );

    let mut poll = Poll::new().unwrap();
    let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
    let (tx, rx) = mpsc::channel();
    let target = Target {
        text: format!("127.0.0.1:{port}"),
        kind: TargetKind::Tcp {
            host: "127.0.0.1".to_owned(),
            port: port.to_string(),
        },
    };
    let mut link = Link::new(vec![target], Token(1), waker, tx);
    let mut events = Events::with_capacity(64);
    let mut reported = Counters::default();
    let mut delivered_before = 0;

    let mut cycle = |counting: bool| {
        now = now.saturating_add(Duration::from_secs(1));
        COUNTING.with(|c| c.set(counting));
        let report = collectors.collect(&mut charts, now.as_micros());
        assert!(report.is_empty(), "collector errors");
        let counters = *engine.counters();
        charts.update_backend_charts(
            backend,
            &reported,
            &counters,
            engine.buffered_bytes(),
            0,
            0,
            now.as_micros(),
        );
        reported = counters;
        engine.handle_timeout(now, &charts);
        COUNTING.with(|c| c.set(false));
        // Connection handling happens only during the warm-up.
        while let Some(action) = engine.poll_action(now) {
            if let Action::Connect { destination } = action {
                assert_eq!(link.connect(poll.registry(), destination), LinkEvent::None);
                let resolved = rx.recv_timeout(StdDuration::from_secs(5)).unwrap();
                assert_eq!(link.resolved(poll.registry(), resolved.1), LinkEvent::None);
                loop {
                    poll.poll(&mut events, Some(StdDuration::from_secs(5)))
                        .unwrap();
                    if link.ready(poll.registry(), &mut |_| {}) == LinkEvent::Connected {
                        engine.handle_connected(now);
                        break;
                    }
                }
            }
        }
        COUNTING.with(|c| c.set(counting));
        while let Some(bytes) = engine.poll_transmit(now, &charts) {
            match link.write(bytes) {
                Ok(0) => break,
                Ok(n) => engine.handle_written(now, n),
                Err(e) => panic!("write failed: {e:?}"),
            }
        }
        if let Some(outstanding) = link.unacknowledged() {
            engine.handle_unacknowledged(now, outstanding);
        }
        COUNTING.with(|c| c.set(false));
    };

    for _ in 0..8 {
        cycle(false);
    }
    std::thread::sleep(StdDuration::from_millis(100));
    ALLOCATIONS.store(0, Ordering::Relaxed);
    for _ in 0..30 {
        cycle(true);
        delivered_before += 1;
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(delivered_before, 30);
    assert!(
        engine.counters().accepted > 30 * 20,
        "{:?}",
        engine.counters()
    );
    assert!(engine.counters().bytes_sent > 0);
    assert_eq!(allocations, 0, "allocations in 30 steady-state cycles");
}
