//! The real `backhaul` binary against real databases on loopback: VictoriaMetrics
//! (Graphite and OpenTSDB telnet), graphite carbon-cache with whisper, and InfluxDB 1.x
//! (Graphite and OpenTSDB inputs). Every test runs the daemon with `--print graphite`
//! next to its destinations: the printed lines are exactly the records the engines
//! format (same spans, same windows), so each test reads the points back from the
//! servers and compares names, timestamps and values with them.
//!
//! The servers come from `scripts/peers.sh install` (the test command runs it).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backhaul_tests::daemon::compare::assert_same_points;
use backhaul_tests::daemon::{Daemon, Launch, HOST};
use backhaul_tests::peers::{self, influx, Carbon, Influx, Point, Prometheus, VictoriaMetrics};

/// Starts the daemon with `config`, printing graphite lines.
fn start(config: &str) -> Daemon {
    Launch::new(env!("CARGO_BIN_EXE_backhaul"), "graphite", config).start()
}

/// The printed records, as (metric, timestamp) → value text.
fn printed_records(backhaul: &Daemon) -> BTreeMap<(String, i64), String> {
    let mut map = BTreeMap::new();
    for line in backhaul.printed() {
        let mut parts = line.split(' ');
        let (Some(name), Some(value), Some(ts)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("malformed printed line {line:?}");
        };
        let ts: i64 = ts.parse().unwrap();
        let old = map.insert((name.to_owned(), ts), value.to_owned());
        assert!(old.is_none(), "printed twice: {line}");
    }
    map
}

fn instance(kind: &str, name: &str, destination: &str) -> String {
    format!(
        "[{kind}:{name}]\n    destination = {destination}\n    update every = 1\n    data source = average\n    timeout ms = 3000\n\n"
    )
}

/// The printed records converted to what a server stores: graphite names as printed;
/// OpenTSDB names without the hostname component (it becomes the `host` tag).
fn expected(
    records: &BTreeMap<(String, i64), String>,
    opentsdb: bool,
) -> BTreeMap<(String, i64), f64> {
    records
        .iter()
        .map(|((name, ts), value)| {
            let name = if opentsdb {
                name.replacen(&format!(".{HOST}."), ".", 1)
            } else {
                name.clone()
            };
            ((name, *ts), value.parse::<f64>().unwrap())
        })
        .collect()
}

fn stored(points: &[Point]) -> BTreeMap<(String, i64), f64> {
    let mut map = BTreeMap::new();
    for p in points {
        if let Some(host) = p.labels.get("host") {
            assert_eq!(host, HOST, "{p}");
        }
        let previous = map.insert((p.name.clone(), p.timestamp_s()), p.value_f64());
        assert!(previous.is_none(), "stored twice: {p}");
    }
    map
}

#[test]
fn graphite_and_opentsdb_reach_victoria_metrics_carbon_and_influxdb() {
    let vm = VictoriaMetrics::start();
    let carbon = Carbon::start();
    let influx = Influx::start();
    let config = [
        instance("graphite", "vm", &vm.graphite.to_string()),
        instance("graphite", "carbon", &carbon.line.to_string()),
        instance("graphite", "influx", &influx.graphite.to_string()),
        instance("opentsdb", "vm_tsdb", &vm.opentsdb.to_string()),
        instance("opentsdb", "influx_tsdb", &influx.opentsdb.to_string()),
    ]
    .concat();
    let mut backhaul = start(&config);
    backhaul.wait_printed(40, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(4));
    backhaul.stop();
    let records = printed_records(&backhaul);
    assert!(records.len() >= 40, "{}", records.len());
    let graphite = expected(&records, false);
    let tsdb = expected(&records, true);

    // Every destination delivered every record, and lost none.
    for name in ["vm", "carbon", "influx", "vm_tsdb", "influx_tsdb"] {
        assert_eq!(
            backhaul.delivered(name),
            (records.len() as u64, 0),
            "{name}"
        );
    }

    let vm_graphite: Vec<Point> = vm
        .wait_for(
            &format!(r#"{{__name__=~"netdata\\.{HOST}\\..*"}}"#),
            graphite.len(),
        )
        .into_iter()
        .collect();
    assert_same_points("VictoriaMetrics graphite", &stored(&vm_graphite), &graphite);
    let vm_tsdb = vm.wait_for(
        &format!(r#"{{__name__=~"netdata\\..*",host="{HOST}"}}"#),
        tsdb.len(),
    );
    assert_same_points("VictoriaMetrics opentsdb", &stored(&vm_tsdb), &tsdb);

    let influx_graphite = influx.wait_for(influx::GRAPHITE_DB, graphite.len());
    assert_same_points("InfluxDB graphite", &stored(&influx_graphite), &graphite);
    let influx_tsdb = influx.wait_for(influx::OPENTSDB_DB, tsdb.len());
    assert_same_points("InfluxDB opentsdb", &stored(&influx_tsdb), &tsdb);

    let (from, until) = (
        records.keys().map(|k| k.1).min().unwrap() - 1,
        records.keys().map(|k| k.1).max().unwrap() + 1,
    );
    let metrics: BTreeSet<&String> = graphite.keys().map(|k| &k.0).collect();
    let mut whisper = Vec::new();
    for metric in metrics {
        let want = graphite.keys().filter(|k| &k.0 == metric).count();
        whisper.extend(carbon.wait_for(metric, from, until, want));
    }
    assert_same_points("carbon/whisper", &stored(&whisper), &graphite);
}

#[test]
fn a_server_that_starts_late_gets_everything_from_the_ring() {
    let mut vm = VictoriaMetrics::start();
    vm.stop(); // its ports are known; nothing listens yet
    let mut backhaul = start(&instance("graphite", "late", &vm.graphite.to_string()));
    backhaul.wait_printed(30, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    vm.restart();
    std::thread::sleep(Duration::from_secs(4));
    backhaul.stop();
    let records = expected(&printed_records(&backhaul), false);
    assert_eq!(backhaul.delivered("late"), (records.len() as u64, 0));
    let got = vm.wait_for(
        &format!(r#"{{__name__=~"netdata\\.{HOST}\\..*"}}"#),
        records.len(),
    );
    assert_same_points("VictoriaMetrics", &stored(&got), &records);
    assert!(
        backhaul.log().contains("late: cannot connect to"),
        "{}",
        backhaul.log()
    );
}

#[test]
fn a_server_restarted_mid_run_loses_nothing() {
    let mut vm = VictoriaMetrics::start();
    let mut backhaul = start(&instance("graphite", "restart", &vm.graphite.to_string()));
    backhaul.wait_printed(30, Duration::from_secs(20));
    // A graceful stop (SIGTERM: the server processes what it has received), an outage
    // of several export intervals, then the same server again.
    let pid = vm.server().pid().unwrap().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_secs(5));
    vm.restart();
    std::thread::sleep(Duration::from_secs(5));
    backhaul.stop();
    let records = expected(&printed_records(&backhaul), false);
    let (delivered, lost) = backhaul.delivered("restart");
    assert_eq!((delivered, lost), (records.len() as u64, 0));
    let got = vm.wait_for(
        &format!(r#"{{__name__=~"netdata\\.{HOST}\\..*"}}"#),
        records.len(),
    );
    assert_same_points("VictoriaMetrics", &stored(&got), &records);
    let log = backhaul.log();
    assert!(log.contains("restart: connection to"), "{log}");
}

#[test]
fn failover_to_the_second_destination() {
    let vm = VictoriaMetrics::start();
    let dead = peers::free_addr();
    let list = format!("{dead} {}", vm.graphite);
    let mut backhaul = start(&instance("graphite", "failover", &list));
    backhaul.wait_printed(20, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    backhaul.stop();
    let records = expected(&printed_records(&backhaul), false);
    let got = vm.wait_for(
        &format!(r#"{{__name__=~"netdata\\.{HOST}\\..*"}}"#),
        records.len(),
    );
    assert_same_points("VictoriaMetrics", &stored(&got), &records);
    let log = backhaul.log();
    assert!(
        log.contains(&format!("failover: cannot connect to {dead}")),
        "{log}"
    );
    assert!(
        log.contains(&format!("failover: connected to {}", vm.graphite)),
        "{log}"
    );
}

#[test]
fn a_destination_that_never_reads_delays_nothing_else() {
    let vm = VictoriaMetrics::start();
    // A server that accepts connections and never reads from them, with the smallest
    // receive buffer the kernel allows, so that its window closes within seconds.
    let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let size: libc::c_int = 256;
    // SAFETY: setsockopt reads one c_int through the pointer, which points to a live
    // value; the descriptor belongs to `stuck`.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&stuck),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            std::ptr::from_ref(&size).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    let stuck_addr = stuck.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = Arc::clone(&held);
    std::thread::spawn(move || {
        for conn in stuck.incoming().flatten() {
            h.lock().unwrap().push(conn); // keep it open, never read
        }
    });
    let config = [
        instance("graphite", "stuck", &stuck_addr.to_string()),
        instance("graphite", "vm", &vm.graphite.to_string()),
    ]
    .concat();
    let mut backhaul = start(&config);
    backhaul.wait_printed(60, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(12));
    backhaul.stop();
    let records = expected(&printed_records(&backhaul), false);
    // Collection went on every second: the per-second CPU chart has a point for each.
    let cpu = format!("netdata.{HOST}.system.cpu.user");
    let seconds: BTreeSet<i64> = records.keys().filter(|k| k.0 == cpu).map(|k| k.1).collect();
    let (first, last) = (*seconds.first().unwrap(), *seconds.last().unwrap());
    let missing: Vec<i64> = (first..=last).filter(|s| !seconds.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "no records for the seconds {missing:?} of {first}..={last}"
    );
    let got = vm.wait_for(
        &format!(r#"{{__name__=~"netdata\\.{HOST}\\..*"}}"#),
        records.len(),
    );
    assert_same_points("VictoriaMetrics", &stored(&got), &records);
    assert_eq!(backhaul.delivered("vm"), (records.len() as u64, 0));
    let log = backhaul.log();
    assert!(log.contains("stuck: closing the connection"), "{log}");
}

#[test]
fn sighup_reload_keeps_progress_and_buffered_data() {
    let vm1 = VictoriaMetrics::start();
    let vm2 = VictoriaMetrics::start();
    let keep = instance("graphite", "keep", &vm1.graphite.to_string());
    let moved = |to: &std::net::SocketAddr| instance("graphite", "moved", &to.to_string());
    // `moved` first points at a port where nothing listens, so its data waits in the
    // rings; the reload moves it to vm2.
    let dead = peers::free_addr();
    let mut backhaul = start(&[keep.clone(), moved(&dead)].concat());
    backhaul.wait_printed(30, Duration::from_secs(20));
    backhaul.reload(&[keep, moved(&vm2.graphite)].concat());
    std::thread::sleep(Duration::from_secs(6));
    backhaul.stop();
    let records = expected(&printed_records(&backhaul), false);
    assert!(
        backhaul.log().contains("configuration reloaded"),
        "{}",
        backhaul.log()
    );
    // The unchanged destination kept its engine: one continuous delivery report.
    let got = vm1.wait_for(
        &format!(r#"{{__name__=~"netdata\\.{HOST}\\..*"}}"#),
        records.len(),
    );
    assert_same_points(
        "VictoriaMetrics (unchanged destination)",
        &stored(&got),
        &records,
    );
    // The moved destination resumed where it was: vm2 has every point, including those
    // from before the reload (formatted again from the rings).
    assert!(backhaul
        .log()
        .contains("moved: settings changed; resuming from"));
    let got = vm2.wait_for(
        &format!(r#"{{__name__=~"netdata\\.{HOST}\\..*"}}"#),
        records.len(),
    );
    assert_same_points(
        "VictoriaMetrics (moved destination)",
        &stored(&got),
        &records,
    );
}

#[test]
fn send_charts_matching_selects_charts_per_destination() {
    let vm = VictoriaMetrics::start();
    let config = instance("graphite", "some", &vm.graphite.to_string())
        + "    send charts matching = !system.uptime system.*\n";
    let mut backhaul = start(&config);
    backhaul.wait_printed(40, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    backhaul.stop();
    let selected: BTreeMap<(String, i64), f64> = expected(&printed_records(&backhaul), false)
        .into_iter()
        .filter(|((name, _), _)| {
            name.starts_with(&format!("netdata.{HOST}.system."))
                && !name.starts_with(&format!("netdata.{HOST}.system.uptime."))
        })
        .collect();
    assert!(!selected.is_empty());
    let got = vm.wait_for(
        &format!(r#"{{__name__=~"netdata\\.{HOST}\\..*"}}"#),
        selected.len(),
    );
    assert_same_points("VictoriaMetrics", &stored(&got), &selected);
}

// ------------------------------------------------------------------------------ HTTP

/// An HTTP section: `[TYPE:NAME]` with a destination and, for remote write, its path.
fn http_instance(kind: &str, name: &str, destination: &str, extra: &str) -> String {
    instance(kind, name, destination) + extra
}

/// The printed graphite records as remote-write samples: the series a remote-write
/// receiver stores for each (metric name with units and `_average`, chart and dimension
/// labels), with the millisecond timestamp and the exact value.
fn remote_write_expected(
    records: &BTreeMap<(String, i64), String>,
    units: &BTreeMap<&str, &str>,
) -> BTreeMap<(String, i64), f64> {
    let mut out = BTreeMap::new();
    for ((name, ts), value) in records {
        let rest = name.strip_prefix(&format!("netdata.{HOST}.")).unwrap();
        let (chart, dim) = rest.rsplit_once('.').unwrap();
        let Some(suffix) = units.get(chart) else {
            continue;
        };
        let context = chart.replace('.', "_");
        let key =
            format!("netdata_{context}{suffix}_average{{chart=\"{chart}\",dimension=\"{dim}\"}}");
        out.insert((key, *ts), value.parse::<f64>().unwrap());
    }
    out
}

fn remote_write_stored(points: &[Point]) -> BTreeMap<(String, i64), f64> {
    let mut map = BTreeMap::new();
    for p in points {
        assert_eq!(
            p.labels.get("instance").map(String::as_str),
            Some(HOST),
            "{p}"
        );
        let key = format!(
            "{}{{chart=\"{}\",dimension=\"{}\"}}",
            p.name, p.labels["chart"], p.labels["dimension"]
        );
        let previous = map.insert((key, p.timestamp_s()), p.value_f64());
        assert!(previous.is_none(), "stored twice: {p}");
    }
    map
}

/// The charts whose context is their id, with their units suffix.
fn units() -> BTreeMap<&'static str, &'static str> {
    [
        ("system.cpu", "_percentage"),
        ("system.load", "_load"),
        ("system.ram", "_MiB"),
        ("system.uptime", "_seconds"),
    ]
    .into_iter()
    .collect()
}

#[test]
fn opentsdb_http_reaches_victoria_metrics() {
    let vm = VictoriaMetrics::start();
    let mut backhaul = start(&http_instance(
        "opentsdb:http",
        "tsdbhttp",
        &vm.opentsdb_http.to_string(),
        "",
    ));
    backhaul.wait_printed(40, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    backhaul.stop();
    let records = printed_records(&backhaul);
    let tsdb = expected(&records, true);
    assert_eq!(backhaul.delivered("tsdbhttp"), (records.len() as u64, 0));
    let got = vm.wait_for(
        &format!(r#"{{__name__=~"netdata\\..*",host="{HOST}"}}"#),
        tsdb.len(),
    );
    assert_same_points("VictoriaMetrics OpenTSDB HTTP", &stored(&got), &tsdb);
}

#[test]
fn remote_write_reaches_prometheus_and_victoria_metrics() {
    let prometheus = Prometheus::start();
    let vm = VictoriaMetrics::start();
    let config = [
        http_instance(
            "prometheus_remote_write",
            "prom",
            &prometheus.http.to_string(),
            "    remote write URL path = /api/v1/write\n",
        ),
        http_instance(
            "prometheus_remote_write",
            "vmrw",
            &vm.http.to_string(),
            "    remote write URL path = /api/v1/write\n    send charts matching = system.*\n",
        ),
    ]
    .concat();
    let mut backhaul = start(&config);
    backhaul.wait_printed(60, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(4));
    backhaul.stop();
    let records = printed_records(&backhaul);
    let want = remote_write_expected(&records, &units());
    assert!(want.len() > 30, "{}", want.len());
    assert_eq!(backhaul.delivered("prom").1, 0, "{}", backhaul.log());
    // Prometheus is strict: out-of-order or malformed samples would be rejected (400) and
    // logged as lost.
    let got = prometheus.wait_for(r#"{__name__=~"netdata_system_.*_average"}"#, want.len());
    assert_same_points("Prometheus remote write", &remote_write_stored(&got), &want);
    let got = vm.wait_for(r#"{__name__=~"netdata_system_.*_average"}"#, want.len());
    assert_same_points(
        "VictoriaMetrics remote write",
        &remote_write_stored(&got),
        &want,
    );
    assert!(
        !backhaul.log().contains("answered HTTP"),
        "{}",
        backhaul.log()
    );
}

/// Reads one HTTP response (head and `Content-Length` body) from `stream`.
fn read_response(stream: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if out.len() >= end + 4 + len {
                out.truncate(end + 4 + len);
                return out;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A fault-injecting HTTP proxy in front of a real server: it answers the first `fail`
/// requests itself with `status`, then forwards every request to `upstream`.
fn failing_proxy(upstream: std::net::SocketAddr, fail: usize, status: u16) -> std::net::SocketAddr {
    proxy(upstream, fail, status, None)
}

/// A proxy that forwards only requests carrying exactly the `Authorization` header
/// `auth`; others get 401.
fn auth_proxy(upstream: std::net::SocketAddr, auth: &str) -> std::net::SocketAddr {
    proxy(upstream, 0, 0, Some(auth.to_owned()))
}

fn proxy(
    upstream: std::net::SocketAddr,
    fail: usize,
    status: u16,
    auth: Option<String>,
) -> std::net::SocketAddr {
    use std::sync::atomic::AtomicUsize;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (answered, auth) = (Arc::clone(&answered), auth.clone());
            std::thread::spawn(move || serve(client, upstream, fail, status, auth, &answered));
        }
    });
    addr
}

/// One proxied connection: requests in, one response each.
fn serve(
    mut client: std::net::TcpStream,
    upstream: std::net::SocketAddr,
    fail: usize,
    status: u16,
    auth: Option<String>,
    answered: &std::sync::atomic::AtomicUsize,
) {
    use std::io::{Read as _, Write as _};
    use std::sync::atomic::Ordering;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        // One request: head, then Content-Length bytes.
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match client.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + 4 + len {
            match client.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let request: Vec<u8> = buf.drain(..head_end + 4 + len).collect();
        let authorized = auth.as_ref().is_none_or(|want| {
            head.lines()
                .any(|l| l.strip_prefix("Authorization: ") == Some(want.as_str()))
        });
        let response = if !authorized {
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 13\r\n\r\nunauthorized\n".to_vec()
        } else if answered.fetch_add(1, Ordering::SeqCst) < fail {
            format!("HTTP/1.1 {status} Injected\r\nContent-Length: 9\r\n\r\ninjected\n")
                .into_bytes()
        } else {
            let mut up = std::net::TcpStream::connect(upstream).unwrap();
            // Ask the server to close after its response, so it ends with EOF.
            let line_end = request.windows(2).position(|w| w == b"\r\n").unwrap();
            up.write_all(&request[..line_end + 2]).unwrap();
            up.write_all(b"Connection: close\r\n").unwrap();
            up.write_all(&request[line_end + 2..]).unwrap();
            read_response(&mut up)
        };
        if client.write_all(&response).is_err() {
            return;
        }
    }
}

#[test]
fn a_server_answering_500_loses_nothing() {
    let vm = VictoriaMetrics::start();
    // Three failures: the retries back off 1, 2 and 4 s.
    let proxy = failing_proxy(vm.http, 3, 500);
    let config = http_instance(
        "prometheus_remote_write",
        "flaky",
        &proxy.to_string(),
        "    remote write URL path = /api/v1/write\n    send charts matching = system.*\n",
    );
    let mut backhaul = start(&config);
    backhaul.wait_printed(60, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(12));
    backhaul.stop();
    let records = printed_records(&backhaul);
    let want = remote_write_expected(&records, &units());
    let got = vm.wait_for(r#"{__name__=~"netdata_system_.*_average"}"#, want.len());
    assert_same_points(
        "VictoriaMetrics behind a failing proxy",
        &remote_write_stored(&got),
        &want,
    );
    let log = backhaul.log();
    assert_eq!(log.matches("answered HTTP 500").count(), 3, "{log}");
    assert_eq!(backhaul.delivered("flaky").1, 0, "{log}");
}

#[test]
fn basic_authentication_is_sent_and_a_wrong_password_is_counted() {
    let vm = VictoriaMetrics::start();
    // "metrics:s3cret" in base64.
    let proxy = auth_proxy(vm.http, "Basic bWV0cmljczpzM2NyZXQ=");
    let dir = std::env::temp_dir().join(format!("backhaul-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let password_file = dir.join("password");
    std::fs::write(&password_file, "s3cret\n").unwrap();
    let section = |name: &str, password: &str| {
        http_instance(
            "prometheus_remote_write",
            name,
            &proxy.to_string(),
            &format!(
                "    remote write URL path = /api/v1/write\n    send charts matching = system.*\n    username = metrics\n    {password}\n"
            ),
        )
    };
    let config = [
        section(
            "good",
            &format!("password file = {}", password_file.display()),
        ),
        section("bad", "password = wrong"),
    ]
    .concat();
    let mut backhaul = start(&config);
    backhaul.wait_printed(40, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(4));
    backhaul.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let want = remote_write_expected(&printed_records(&backhaul), &units());
    let got = vm.wait_for(r#"{__name__=~"netdata_system_.*_average"}"#, want.len());
    assert_same_points(
        "VictoriaMetrics behind an authenticating proxy",
        &remote_write_stored(&got),
        &want,
    );
    let log = backhaul.log();
    assert!(
        log.contains("bad: ") && log.contains("answered HTTP 401"),
        "{log}"
    );
    assert!(
        log.contains("records lost: rejected by the server (HTTP 401)"),
        "{log}"
    );
    assert!(
        !log.contains("s3cret") && !log.contains("wrong"),
        "a secret was logged:\n{log}"
    );
    let (delivered, lost) = backhaul.delivered("bad");
    assert_eq!(delivered, 0, "{log}");
    assert!(lost > 0, "{log}");
}

#[test]
fn remote_write_survives_the_server_going_away() {
    let mut vm = VictoriaMetrics::start();
    let config = http_instance(
        "prometheus_remote_write",
        "away",
        &vm.http.to_string(),
        "    remote write URL path = /api/v1/write\n    send charts matching = system.*\n",
    );
    let mut backhaul = start(&config);
    backhaul.wait_printed(30, Duration::from_secs(20));
    let pid = vm.server().pid().unwrap().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_secs(5));
    vm.restart();
    std::thread::sleep(Duration::from_secs(6));
    backhaul.stop();
    let want = remote_write_expected(&printed_records(&backhaul), &units());
    let got = vm.wait_for(r#"{__name__=~"netdata_system_.*_average"}"#, want.len());
    assert_same_points(
        "VictoriaMetrics restarted mid-run",
        &remote_write_stored(&got),
        &want,
    );
    assert_eq!(backhaul.delivered("away").1, 0, "{}", backhaul.log());
}
