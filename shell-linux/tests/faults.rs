//! Byte-level faults between the real `backhaul` binary and a real VictoriaMetrics, made
//! by the fault-injecting proxy of the test crate (`backhaul_tests::proxy`): connections
//! cut in the middle of a record, a stall longer than the send buffer holds, an outage
//! longer than the ring's history, crashes of the destination, and broken HTTP replies.
//!
//! Every test runs the daemon with `--print graphite` next to its destination: the
//! printed lines are exactly the records the destination's engine formats (same spans,
//! same windows, byte for byte), so the expected set is known. Each test checks three
//! things: what the daemon sent (the proxy's record: every line forwarded is a whole,
//! printed record, forwarded once, and every connection starts at a record boundary),
//! what the server stored (exactly the forwarded points, no other series, no
//! duplicate), and what the daemon says (its delivered and lost counters, its log).
//! The tests poll with generous deadlines and never assert on timing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use backhaul_tests::daemon::compare::assert_same_points;
use backhaul_tests::daemon::{wait_until, Daemon, Launch, HOST};
use backhaul_tests::peers::{self, Point, VictoriaMetrics};
use backhaul_tests::proxy::{FaultProxy, Protocol, ProxyOptions, ReplyFault};

/// How long a test waits for something that should happen within seconds.
const DEADLINE: Duration = Duration::from_secs(40);
/// The memory every daemon may use whatever its configuration: code, libc, the
/// collectors, the event loop, a few short-lived resolver threads (measured: about
/// 5 MiB with 18 metrics and no destination, debug build).
const FIXED_ALLOWANCE: u64 = 8 << 20;
/// Per metric, besides its ring: names, chart and dimension state, the filters' index
/// lists (measured: about 490 bytes).
const PER_METRIC: u64 = 1024;
/// The `--print` destination's send buffer (fixed in the daemon).
const PRINT_BUFFER: u64 = 1 << 20;
/// The metrics the daemon collects on this machine besides the synthetic ones, rounded
/// up (CPU, load, memory, uptime, network interfaces, disks, self-monitoring charts).
const OWN_METRICS: u64 = 400;

/// Starts `backhaul --config (config) --print graphite` with `args`.
fn start(config: &str, args: &[&str]) -> Daemon {
    Launch::new(env!("CARGO_BIN_EXE_backhaul"), "graphite", config)
        .args(args)
        .start()
}

/// The printed lines: every record, once.
fn printed_once(backhaul: &Daemon) -> BTreeSet<String> {
    backhaul.with_printed(|printed| {
        let set: BTreeSet<String> = printed.iter().cloned().collect();
        assert_eq!(set.len(), printed.len(), "a record was printed twice");
        set
    })
}

/// The newest timestamp printed so far.
fn newest_printed(backhaul: &Daemon) -> i64 {
    backhaul.with_printed(|printed| printed.last().map_or(0, |l| timestamp(l)))
}

/// A graphite section.
fn graphite(name: &str, destination: std::net::SocketAddr, extra: &str) -> String {
    format!(
        "[graphite:{name}]\n    destination = {destination}\n    update every = 1\n    data source = average\n    timeout ms = 10000\n{extra}\n"
    )
}

/// The timestamp of a graphite line.
fn timestamp(line: &str) -> i64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// A graphite line as the point a server stores: (name, timestamp) and value.
fn point(line: &str) -> ((String, i64), f64) {
    let mut parts = line.split(' ');
    let (Some(name), Some(value), Some(ts), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        panic!("malformed graphite line {line:?}");
    };
    (
        (name.to_owned(), ts.parse().unwrap()),
        value.parse().unwrap(),
    )
}

/// Everything a VictoriaMetrics stores, as (series, timestamp) → value, the series named
/// by `series`; panics on a duplicate sample.
fn stored(points: &[Point], series: fn(&Point) -> String) -> BTreeMap<(String, i64), f64> {
    let mut map = BTreeMap::new();
    for p in points {
        let old = map.insert((series(p), p.timestamp_s()), p.value_f64());
        assert!(old.is_none(), "stored twice: {p}");
    }
    map
}

/// Waits until VictoriaMetrics holds `want.len()` samples, then requires exactly `want`:
/// no point missing, none extra (no other series at all: a torn line would make one),
/// every value bit for bit.
fn assert_server_has_exactly(
    vm: &VictoriaMetrics,
    want: &BTreeMap<(String, i64), f64>,
    series: fn(&Point) -> String,
) {
    let got = stored(&vm.wait_for(r#"{__name__=~".+"}"#, want.len()), series);
    assert_same_points("VictoriaMetrics", &got, want);
}

/// The proxy's record, checked against the printed records: every line forwarded is a
/// printed record (whole: a torn one would not be), forwarded once; every connection
/// starts with a whole record. Returns the forwarded lines.
fn forwarded_exactly_once(proxy: &FaultProxy, printed: &BTreeSet<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for line in proxy.forwarded_lines() {
        if !printed.contains(&line) {
            let ((name, ts), _) = point(&line);
            let near: Vec<&String> = printed
                .iter()
                .filter(|l| {
                    let ((n, t), _) = point(l);
                    n == name && (t - ts).abs() <= 3
                })
                .collect();
            panic!("forwarded a line that is not a record: {line:?}; printed: {near:?}");
        }
        if !seen.insert(line.clone()) {
            let conns: Vec<usize> = proxy
                .connections()
                .iter()
                .filter(|c| c.forwarded_lines().contains(&line))
                .map(|c| c.id)
                .collect();
            panic!(
                "forwarded twice: {line:?} (connections {conns:?}); proxy: {}",
                proxy.summary()
            );
        }
    }
    for c in proxy.connections() {
        if c.received.contains(&b'\n') {
            let first = String::from_utf8_lossy(c.first_line()).into_owned();
            assert!(
                printed.contains(&first),
                "connection #{} does not start at a record boundary: {first:?}",
                c.id
            );
        }
    }
    assert!(proxy.errors().is_empty(), "proxy: {:?}", proxy.errors());
    seen
}

/// Every printed record was forwarded (`forwarded` is a subset of `printed` already).
fn assert_all_arrived(forwarded: &BTreeSet<String>, printed: &BTreeSet<String>, b: &Daemon) {
    let missing: Vec<&String> = printed.difference(forwarded).collect();
    assert!(
        missing.is_empty(),
        "{} of {} records did not arrive, e.g. {:?}; log:\n{}",
        missing.len(),
        printed.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        b.log()
    );
}

/// The upper bound of the daemon's memory for `metrics` synthetic metrics, `history`
/// points per chart and send buffers of `buffers` bytes in all: the fixed allowance,
/// per metric its state and its ring (4 bytes a point), and the buffers.
fn memory_bound(metrics: u64, history: u64, buffers: u64) -> u64 {
    let metrics = metrics + OWN_METRICS;
    FIXED_ALLOWANCE + metrics * (PER_METRIC + 4 * history) + buffers + PRINT_BUFFER
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// Waits until the proxy has forwarded every record printed for the newest second
/// printed now: the destination has caught up (it sends spans in order, so everything
/// older has been sent or counted lost).
fn wait_caught_up(backhaul: &Daemon, proxy: &FaultProxy) {
    let until = newest_printed(backhaul);
    let want: BTreeSet<String> = printed_once(backhaul)
        .into_iter()
        .filter(|l| timestamp(l) == until)
        .collect();
    wait_until("the destination to catch up", DEADLINE, || {
        let forwarded: BTreeSet<String> = proxy.forwarded_lines().into_iter().collect();
        want.is_subset(&forwarded)
    })
    .unwrap_or_else(|e| panic!("{e}; proxy: {}; log:\n{}", proxy.summary(), backhaul.log()));
}

/// Stops the daemon (SIGTERM) when its destination is in step with the `--print` one:
/// the proxy has forwarded (or, in a crash, dropped) every record of the newest printed
/// second, and it is the middle of a second, so that no new span becomes due before the
/// signal: both engines then stop after the same span. (A destination still behind at
/// the signal never formats the spans it had not reached: they are neither sent nor
/// counted, see docs/reliability.md.)
fn stop_caught_up(backhaul: &mut Daemon, proxy: &FaultProxy) {
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    let deadline = Instant::now() + DEADLINE;
    loop {
        assert!(
            Instant::now() < deadline,
            "the destination did not catch up within {DEADLINE:?}; proxy: {}; log:\n{}",
            proxy.summary(),
            backhaul.log()
        );
        // The next x.4 s of the wall clock, and x.75 s, by when the signal must be sent.
        let now = now_ms();
        let into = now % 1000;
        let target = if into < 400 {
            now - into + 400
        } else {
            now - into + 1400
        };
        let latest = target + 350;
        std::thread::sleep(Duration::from_millis((target - now) as u64));
        // This second's span has been printed entirely (a busy daemon may take a few
        // hundred milliseconds after the whole second).
        let count = backhaul.printed_count();
        std::thread::sleep(Duration::from_millis(100));
        if backhaul.printed_count() != count {
            continue;
        }
        // The newest printed second's records (printed last), and the newest records the
        // proxy forwarded (forwarded last, on the newest connections).
        let (until, want): (i64, Vec<String>) = backhaul.with_printed(|printed| {
            let until = printed.last().map_or(0, |l| timestamp(l));
            let want = printed
                .iter()
                .rev()
                .take_while(|l| timestamp(l) == until)
                .cloned()
                .collect();
            (until, want)
        });
        let mut seen = std::collections::HashSet::new();
        for c in proxy.connections().iter().rev().take(3) {
            seen.extend(c.lost_lines());
            let forwarded = String::from_utf8_lossy(&c.received[..c.forwarded]).into_owned();
            seen.extend(
                forwarded
                    .lines()
                    .rev()
                    .take_while(|l| timestamp(l) >= until - 5)
                    .map(str::to_owned),
            );
        }
        // Well before the next whole second: the daemon handles the signal before it
        // collects again.
        if want.iter().all(|l| seen.contains(l)) && now_ms() < latest {
            backhaul.stop();
            return;
        }
    }
}

/// Not a fault, the baseline: a send buffer that holds less than one second's records
/// (4 KiB for about 13 KiB a second) is refilled as soon as the server acknowledges it,
/// not once per export interval, so the destination keeps up and loses nothing. The
/// server's receive window is smaller still, so acknowledgements come after the writes,
/// as they do over a real network.
#[test]
fn a_send_buffer_smaller_than_one_second_of_records_keeps_up() {
    let vm = VictoriaMetrics::start();
    let proxy = FaultProxy::start(
        vm.graphite,
        ProxyOptions {
            protocol: Protocol::Lines,
            receive_buffer: Some(2048),
        },
    );
    let mut backhaul = start(
        &graphite("small", proxy.addr(), "    buffer size = 4 KiB\n"),
        &["--synthetic-metrics", "200", "--history", "5"],
    );
    // Three times the history: a destination that fell behind would have lost points.
    backhaul.wait_printed(15 * 200, DEADLINE);
    stop_caught_up(&mut backhaul, &proxy);
    let printed = printed_once(&backhaul);
    let forwarded = forwarded_exactly_once(&proxy, &printed);
    assert_all_arrived(&forwarded, &printed, &backhaul);
    assert_eq!(
        backhaul.delivered("small"),
        (printed.len() as u64, 0),
        "{}",
        backhaul.log()
    );
    let want: BTreeMap<(String, i64), f64> = printed.iter().map(|l| point(l)).collect();
    assert_server_has_exactly(&vm, &want, Point::series);
}

#[test]
fn connections_cut_mid_record_lose_duplicate_and_tear_nothing() {
    let vm = VictoriaMetrics::start();
    // A small receive window, so that the daemon's writes outrun it and a cut can land
    // in the middle of a record.
    let proxy = FaultProxy::start(
        vm.graphite,
        ProxyOptions {
            protocol: Protocol::Lines,
            receive_buffer: Some(4096),
        },
    );
    let mut backhaul = start(
        &graphite("cut", proxy.addr(), ""),
        &["--synthetic-metrics", "200", "--history", "120"],
    );
    backhaul.wait_printed(500, DEADLINE);
    // First a server that reads slowly (2 KiB every 100 ms, about what the daemon
    // sends): acknowledgements trickle in after the writes.
    proxy.slow(2048, Duration::from_millis(100));
    std::thread::sleep(Duration::from_secs(4));
    proxy.resume();
    let mut cuts = Vec::new();
    for _ in 0..4 {
        cuts.push(proxy.cut_mid_record(2000));
    }
    let ids: Vec<usize> = cuts.iter().map(|c| c.id).collect();
    backhaul.wait_log("cut: connected to", 5, DEADLINE);
    stop_caught_up(&mut backhaul, &proxy);

    let printed = printed_once(&backhaul);
    let forwarded = forwarded_exactly_once(&proxy, &printed);
    assert_all_arrived(&forwarded, &printed, &backhaul);
    // Each cut tore a record, and the next connection started with that record, whole.
    let conns = proxy.connections();
    for cut in &cuts {
        assert!(!cut.torn().is_empty(), "cut #{} at a boundary", cut.id);
        let next = conns
            .iter()
            .find(|c| c.id > cut.id && !c.received.is_empty())
            .expect("a connection after the cut");
        assert!(
            next.first_line().starts_with(cut.torn()),
            "connection #{} starts with {:?}, not with the torn record {:?}",
            next.id,
            String::from_utf8_lossy(next.first_line()),
            String::from_utf8_lossy(cut.torn())
        );
    }
    assert_eq!(
        backhaul.delivered("cut"),
        (printed.len() as u64, 0),
        "{}",
        backhaul.log()
    );
    assert!(backhaul.log_count("cut: connection to") >= cuts.len());
    let want: BTreeMap<(String, i64), f64> = printed.iter().map(|l| point(l)).collect();
    assert_server_has_exactly(&vm, &want, Point::series);
    eprintln!(
        "measured: {} cuts mid-record (connections {ids:?}, torn {:?} bytes); {} records printed, {} forwarded, {} stored",
        cuts.len(),
        cuts.iter().map(|c| c.torn().len()).collect::<Vec<_>>(),
        printed.len(),
        forwarded.len(),
        want.len()
    );
}

#[test]
fn a_stall_longer_than_the_buffer_loses_nothing_in_bounded_memory() {
    const METRICS: u64 = 5000;
    const HISTORY: u64 = 60;
    const BUFFER: u64 = 16 << 10;
    let vm = VictoriaMetrics::start();
    let proxy = FaultProxy::start(
        vm.graphite,
        ProxyOptions {
            protocol: Protocol::Lines,
            receive_buffer: Some(4096),
        },
    );
    // A stalled connection is closed after 3 s without progress, and a new one made:
    // several connections stall, and all of them are read again at the end.
    let config = format!(
        "[graphite:stall]\n    destination = {}\n    update every = 1\n    data source = average\n    timeout ms = 3000\n    buffer size = 16 KiB\n",
        proxy.addr()
    );
    let mut backhaul = start(
        &config,
        &[
            "--synthetic-metrics",
            &METRICS.to_string(),
            "--history",
            &HISTORY.to_string(),
        ],
    );
    backhaul.wait_printed(3 * METRICS as usize, DEADLINE);
    wait_caught_up(&backhaul, &proxy);
    let before = backhaul.peak_rss();
    proxy.stall();
    // Longer than the send buffer holds (16 KiB is a fraction of one second's records)
    // and than the daemon's patience (it reconnects every 3 s), shorter than the ring.
    let stall_start = Instant::now();
    let mut rss_samples = Vec::new();
    while stall_start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(500));
        rss_samples.push(backhaul.peak_rss());
    }
    let during = backhaul.peak_rss();
    let stalled_connections = proxy.connections().len();
    proxy.resume();
    stop_caught_up(&mut backhaul, &proxy);

    let printed = printed_once(&backhaul);
    let forwarded = forwarded_exactly_once(&proxy, &printed);
    assert_all_arrived(&forwarded, &printed, &backhaul);
    assert_eq!(
        backhaul.delivered("stall"),
        (printed.len() as u64, 0),
        "{}",
        backhaul.log()
    );
    assert!(
        backhaul.log_count("stall: closing the connection") >= 2,
        "{}",
        backhaul.log()
    );
    let want: BTreeMap<(String, i64), f64> = printed.iter().map(|l| point(l)).collect();
    assert_server_has_exactly(&vm, &want, Point::series);

    // Memory: the peak during the stall is within the configuration's bound, and the
    // stall added at most the send buffer and a small allowance to the peak before it
    // (an unbounded buffer would have grown by 15 s of records: several MiB).
    let bound = memory_bound(METRICS, HISTORY, BUFFER);
    // What 15 s of records take as text: what an unbounded buffer would have grown by.
    let seconds = printed
        .iter()
        .map(|l| timestamp(l))
        .collect::<BTreeSet<_>>()
        .len();
    let text: usize = printed.iter().map(|l| l.len() + 1).sum();
    let stall_bytes = (text / seconds.max(1) * 15) as u64;
    eprintln!(
        "measured: peak RSS {} before the stall, {} at its end (bound {}); {} connections stalled; {} records printed = forwarded = stored; 15 s of records is about {}",
        mib(before),
        mib(during),
        mib(bound),
        stalled_connections,
        printed.len(),
        mib(stall_bytes)
    );
    assert!(
        during <= bound,
        "peak RSS {} over the bound {}",
        mib(during),
        mib(bound)
    );
    assert!(
        during <= before + BUFFER + (2 << 20),
        "the stall grew the peak RSS from {} to {} (samples {:?})",
        mib(before),
        mib(during),
        rss_samples.iter().map(|&b| mib(b)).collect::<Vec<_>>()
    );
}

#[test]
fn an_outage_longer_than_the_history_loses_exactly_what_it_counts() {
    const HISTORY: i64 = 10;
    let vm = VictoriaMetrics::start();
    let proxy = FaultProxy::start(vm.graphite, ProxyOptions::default());
    let mut backhaul = start(
        &graphite("outage", proxy.addr(), "    buffer size = 8 KiB\n"),
        &[
            "--synthetic-metrics",
            "200",
            "--history",
            &HISTORY.to_string(),
        ],
    );
    backhaul.wait_printed(1000, DEADLINE);
    wait_caught_up(&backhaul, &proxy);
    assert_eq!(proxy.go_down(), 1);
    let down_at = peers::now_s();
    std::thread::sleep(Duration::from_secs(HISTORY as u64 + 4));
    proxy.come_back();
    let up_at = peers::now_s();
    backhaul.wait_log("outage: connected to", 2, DEADLINE);
    stop_caught_up(&mut backhaul, &proxy);

    let printed = printed_once(&backhaul);
    let forwarded = forwarded_exactly_once(&proxy, &printed);
    let missing: BTreeSet<&String> = printed.difference(&forwarded).collect();
    let (delivered, lost) = backhaul.delivered("outage");
    let logged = backhaul.logged_losses("outage");
    assert!(lost > 0, "nothing expired: {}", backhaul.log());
    assert_eq!(
        (delivered, lost),
        (forwarded.len() as u64, missing.len() as u64),
        "the daemon's counters against the records that did and did not arrive"
    );
    assert_eq!(
        logged,
        BTreeMap::from([("expired from the ring".to_owned(), lost)]),
        "{}",
        backhaul.log()
    );
    // Collection never waited: every metric has a printed record for every second.
    let mut per_metric: BTreeMap<String, (BTreeSet<i64>, BTreeSet<i64>)> = BTreeMap::new();
    for line in &printed {
        let ((name, ts), _) = point(line);
        let entry = per_metric.entry(name).or_default();
        entry.0.insert(ts);
        if missing.contains(line) {
            entry.1.insert(ts);
        }
    }
    for (name, (all, gone)) in &per_metric {
        // Each chart's own interval (load averages: 5 s), the smallest step between its
        // points: every step must be that one.
        let times: Vec<i64> = all.iter().copied().collect();
        let steps: BTreeSet<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        let Some(&step) = steps.first() else {
            continue;
        };
        assert_eq!(
            steps.len(),
            1,
            "{name}: collection skipped points: steps {steps:?} in {times:?}"
        );
        // What is missing is one run of points inside the outage: before it, and from
        // what the ring still held at its end on, everything arrived.
        if let (Some(&a), Some(&b)) = (gone.first(), gone.last()) {
            assert_eq!(
                gone.len() as i64,
                (b - a) / step + 1,
                "{name}: the missing points are not one run: {gone:?}"
            );
            assert!(
                a >= down_at - 3 && b <= up_at,
                "{name}: missing {a}..={b}, outage {down_at}..{up_at}"
            );
        }
    }
    let want: BTreeMap<(String, i64), f64> = forwarded.iter().map(|l| point(l)).collect();
    assert_server_has_exactly(&vm, &want, Point::series);
    eprintln!(
        "measured: outage of {} s with a history of {HISTORY} s: {} records printed, {} delivered and stored, {} missing, {} counted lost ({:?})",
        up_at - down_at,
        printed.len(),
        want.len(),
        missing.len(),
        lost,
        logged
    );
}

#[test]
fn a_destination_killed_and_restarted_loses_only_what_its_kernel_acknowledged() {
    let vm = VictoriaMetrics::start();
    let proxy = FaultProxy::start(vm.graphite, ProxyOptions::default());
    let mut backhaul = start(
        &graphite("killed", proxy.addr(), ""),
        &["--synthetic-metrics", "200", "--history", "120"],
    );
    backhaul.wait_printed(500, DEADLINE);
    let mut connected = 1;
    for round in 0..3 {
        backhaul.wait_log("killed: connected to", connected, DEADLINE);
        std::thread::sleep(Duration::from_secs(2));
        if round == 1 {
            // Busy, then crashed: what its kernel acknowledged meanwhile was never read.
            proxy.stall();
            std::thread::sleep(Duration::from_millis(2200));
        }
        assert_eq!(proxy.kill(), 1, "{}", proxy.summary());
        proxy.resume();
        std::thread::sleep(Duration::from_secs(2));
        proxy.come_back();
        connected += 1;
    }
    backhaul.wait_log("killed: connected to", connected, DEADLINE);
    stop_caught_up(&mut backhaul, &proxy);

    let printed = printed_once(&backhaul);
    let forwarded = forwarded_exactly_once(&proxy, &printed);
    let lost: BTreeSet<String> = proxy
        .connections()
        .iter()
        .flat_map(|c| c.lost_lines())
        .collect();
    assert!(
        !lost.is_empty(),
        "the crash after the stall dropped nothing: {}",
        proxy.summary()
    );
    assert!(lost.is_subset(&printed), "lost lines that are not records");
    assert!(
        lost.is_disjoint(&forwarded),
        "a lost record arrived after all"
    );
    // Every record arrived, except exactly those the crashed server's kernel had
    // acknowledged and it had not read (the daemon was told they arrived: it counts
    // them delivered).
    let arrived_or_lost: BTreeSet<String> = forwarded.union(&lost).cloned().collect();
    assert_eq!(arrived_or_lost, printed);
    assert_eq!(
        backhaul.delivered("killed"),
        (printed.len() as u64, 0),
        "{}",
        backhaul.log()
    );
    let want: BTreeMap<(String, i64), f64> = forwarded.iter().map(|l| point(l)).collect();
    assert_server_has_exactly(&vm, &want, Point::series);
    let discarded: Vec<usize> = proxy
        .connections()
        .iter()
        .map(|c| c.discarded.len())
        .collect();
    eprintln!(
        "measured: 3 crashes; {} records printed, {} forwarded and stored, {} lost in the crashed server's receive queue ({discarded:?} bytes discarded per connection)",
        printed.len(),
        forwarded.len(),
        lost.len()
    );
}

// ------------------------------------------------------------------------------ HTTP

/// The charts whose context is their id, with their units suffix.
const UNITS: [(&str, &str); 4] = [
    ("system.cpu", "_percentage"),
    ("system.load", "_load"),
    ("system.ram", "_MiB"),
    ("system.uptime", "_seconds"),
];

/// The printed records of the `system.*` charts as the samples a remote-write receiver
/// stores for a destination with `prefix`.
fn remote_write_expected(printed: &BTreeSet<String>, prefix: &str) -> BTreeMap<(String, i64), f64> {
    let mut out = BTreeMap::new();
    for line in printed {
        let ((name, ts), value) = point(line);
        let rest = name.strip_prefix(&format!("netdata.{HOST}.")).unwrap();
        let (chart, dim) = rest.rsplit_once('.').unwrap();
        let Some((_, suffix)) = UNITS.iter().find(|(c, _)| *c == chart) else {
            continue;
        };
        let context = chart.replace('.', "_");
        let series = format!(
            "{prefix}_{context}{suffix}_average{{chart={chart:?},dimension={dim:?},instance={HOST:?}}}"
        );
        out.insert((series, ts), value);
    }
    out
}

/// A remote-write series by name, chart, dimension and instance (not family, which the
/// printed records do not carry).
fn remote_write_series(p: &Point) -> String {
    let label = |k: &str| p.labels.get(k).cloned().unwrap_or_default();
    format!(
        "{}{{chart={:?},dimension={:?},instance={:?}}}",
        p.name,
        label("chart"),
        label("dimension"),
        label("instance")
    )
}

#[test]
fn broken_http_replies_end_in_bounded_counted_outcomes() {
    let vm = VictoriaMetrics::start();
    let http = ProxyOptions {
        protocol: Protocol::Http,
        receive_buffer: None,
    };
    // The whole reply must come within `timeout ms` (3 s); the dripping one takes about
    // 10 s, so its destination waits 20 s.
    let cases = [
        ("garbage", ReplyFault::Garbage, 3),
        ("hugehead", ReplyFault::HugeHeader(1 << 20), 3),
        ("bigbody", ReplyFault::HugeBody(8 << 20), 3),
        ("drip", ReplyFault::Drip(Duration::from_millis(100)), 1),
        (
            "endless",
            ReplyFault::Endless(Duration::from_millis(100)),
            2,
        ),
    ];
    let proxies: Vec<FaultProxy> = cases
        .iter()
        .map(|(_, fault, count)| {
            let p = FaultProxy::start(vm.http, http);
            p.fail_replies(*fault, *count);
            p
        })
        .collect();
    let config: String = cases
        .iter()
        .zip(&proxies)
        .map(|((name, _, _), proxy)| {
            format!(
                "[prometheus_remote_write:{name}]\n    destination = {}\n    remote write URL path = /api/v1/write\n    prefix = {name}\n    update every = 1\n    timeout ms = {}\n    send charts matching = system.*\n\n",
                proxy.addr(),
                if *name == "drip" { 20_000 } else { 3000 }
            )
        })
        .collect();
    let mut backhaul = start(&config, &["--history", "120"]);
    backhaul.wait_printed(100, DEADLINE);
    // Every fault used, and two requests answered normally after the last one (the drip
    // holds its destination for about 15 s).
    wait_until("every fault used", DEADLINE, || {
        proxies.iter().all(|p| {
            let requests = p.requests();
            let last_fault = requests.iter().rposition(|r| r.fault.is_some());
            p.pending_reply_faults() == 0 && last_fault.is_some_and(|i| requests.len() >= i + 3)
        })
    })
    .unwrap_or_else(|e| panic!("{e}; log:\n{}", backhaul.log()));
    std::thread::sleep(Duration::from_secs(2));
    let peak = backhaul.peak_rss();
    backhaul.stop();

    let printed = printed_once(&backhaul);
    let log = backhaul.log();
    let mut want = BTreeMap::new();
    for (name, fault, count) in &cases {
        let expected = remote_write_expected(&printed, name);
        let (delivered, lost) = backhaul.delivered(name);
        assert_eq!(
            (delivered, lost),
            (expected.len() as u64, 0),
            "{name} ({fault:?})\n{log}"
        );
        let requests = proxies[cases.iter().position(|c| c.0 == *name).unwrap()].requests();
        let faulted = requests.iter().filter(|r| r.fault.is_some()).count();
        assert_eq!(faulted, *count, "{name}: {requests:?}");
        match fault {
            ReplyFault::Garbage => assert_eq!(
                backhaul.log_count(&format!("{name}: malformed response")),
                *count,
                "{log}"
            ),
            ReplyFault::HugeHeader(_) => assert_eq!(
                backhaul.log_count(&format!(
                    "{name}: response head longer than 16384 bytes; closing the connection"
                )),
                *count,
                "{log}"
            ),
            // A reply that never ends is given up after `timeout ms`, and the request
            // sent again.
            ReplyFault::Endless(_) => assert_eq!(
                backhaul.log_count(&format!("{name}: closing the connection")),
                *count,
                "{log}"
            ),
            ReplyFault::HugeBody(_) | ReplyFault::Drip(_) => {
                assert!(
                    !log.contains(&format!("{name}: connection to")),
                    "{name}: the connection was dropped:\n{log}"
                );
            }
        }
        want.extend(expected);
    }
    // Retried where the reply was unusable, delivered once where it was a slow or long
    // success: the server holds every sample exactly once.
    assert_server_has_exactly(&vm, &want, remote_write_series);
    let bound = memory_bound(0, 120, 5 << 20);
    eprintln!(
        "measured: {} samples in all, each stored once; peak RSS {} (bound {})",
        want.len(),
        mib(peak),
        mib(bound)
    );
    assert!(
        peak <= bound,
        "peak RSS {} over the bound {}",
        mib(peak),
        mib(bound)
    );
}
