//! Self-tests of the peers harness (`backhaul_tests::peers`): each real server is started,
//! fed a few points over plain TCP in its own protocol (graphite plaintext, OpenTSDB
//! `put`, OpenTSDB HTTP `/api/put`, Prometheus remote write), and read back through its own
//! API; names, timestamps and values must come back exactly.
//!
//! The values are chosen to show how each server writes numbers back: `42.5`, a tiny
//! negative `-0.0000001` (kept by VictoriaMetrics, `-1e-07` from whisper and Prometheus,
//! `-1e-7` from InfluxDB) and
//! `1234567.1234567` (14 significant digits). Every value is also compared as an `f64`,
//! bit for bit.
//!
//! Needs the peers installed (`scripts/peers.sh install`); without them every test fails
//! with `peer not installed: ...`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use backhaul_tests::peers::{self, influx, Carbon, Influx, Point, Prometheus, VictoriaMetrics};

/// The values sent, as text, at `now - 60`, `now - 30` and `now`.
const VALUES: [&str; 3] = ["42.5", "-0.0000001", "1234567.1234567"];

fn timestamps(now: i64) -> [i64; 3] {
    [now - 60, now - 30, now]
}

/// Graphite plaintext lines for `name`: `name value timestamp`.
fn graphite_lines(name: &str, now: i64) -> String {
    VALUES
        .iter()
        .zip(timestamps(now))
        .map(|(v, t)| format!("{name} {v} {t}\n"))
        .collect()
}

/// OpenTSDB telnet lines for `name`: `put name timestamp value tags`.
fn put_lines(name: &str, now: i64) -> String {
    VALUES
        .iter()
        .zip(timestamps(now))
        .map(|(v, t)| format!("put {name} {t} {v} host=h1 chart=system.load\n"))
        .collect()
}

/// An OpenTSDB HTTP `/api/put` body for `name`.
fn put_json(name: &str, now: i64) -> String {
    let points: Vec<String> = VALUES
        .iter()
        .zip(timestamps(now))
        .map(|(v, t)| {
            format!(r#"{{"metric":"{name}","timestamp":{t},"value":{v},"tags":{{"host":"h1"}}}}"#)
        })
        .collect();
    format!("[{}]", points.join(","))
}

/// The lines `series timestamp value` expected back, with the values as `texts`.
fn expected(series: &str, now: i64, texts: [&str; 3]) -> Vec<String> {
    texts
        .iter()
        .zip(timestamps(now))
        .map(|(v, t)| format!("{series} {t} {v}"))
        .collect()
}

fn lines(points: &[Point]) -> Vec<String> {
    points.iter().map(ToString::to_string).collect()
}

/// Every point's value equals the sent one as an `f64`, bit for bit.
fn assert_values_exact(points: &[Point]) {
    assert_eq!(points.len(), VALUES.len(), "{:?}", lines(points));
    for (point, sent) in points.iter().zip(VALUES) {
        let sent: f64 = sent.parse().unwrap();
        assert_eq!(point.value_f64().to_bits(), sent.to_bits(), "{point}");
    }
}

/// A minimal HTTP/1.1 POST over a plain TCP connection; returns the status code.
fn http_post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok());
    status.unwrap_or_else(|| panic!("no HTTP status from {addr}{path}: {answer:?}"))
}

/// Prometheus remote write 1.0, encoded with `prost` and compressed with `snap`.
mod remote_write {
    use prost::Message;

    use backhaul_tests::remote_write_pb::{Label, Sample, TimeSeries, WriteRequest};

    /// One series `name{host="h1"}` with the test's values, snappy-compressed.
    pub(crate) fn body(name: &str, now: i64) -> Vec<u8> {
        let samples = super::VALUES
            .iter()
            .zip(super::timestamps(now))
            .map(|(v, t)| Sample {
                value: v.parse().unwrap(),
                timestamp: t * 1000,
            })
            .collect();
        let labels = [("__name__", name), ("host", "h1")]
            .iter()
            .map(|(n, v)| Label {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect();
        let request = WriteRequest {
            timeseries: vec![TimeSeries { labels, samples }],
        };
        snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .unwrap()
    }

    pub(crate) const HEADERS: [(&str, &str); 3] = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ];
}

#[test]
fn victoria_metrics_graphite_opentsdb_and_remote_write() {
    let vm = VictoriaMetrics::start();
    eprintln!(
        "victoria-metrics ready in {:?}",
        vm.server().ready_in().unwrap()
    );
    let now = peers::now_s();

    peers::send_tcp(
        vm.graphite,
        graphite_lines("netdata.h1.system.cpu.user", now).as_bytes(),
    );
    peers::send_tcp(
        vm.opentsdb,
        put_lines("netdata.system.load", now).as_bytes(),
    );
    let json = put_json("netdata.system.ram", now);
    let status = http_post(vm.opentsdb_http, "/api/put", &[], json.as_bytes());
    assert!(
        (200..300).contains(&status),
        "OpenTSDB HTTP /api/put: {status}"
    );
    let body = remote_write::body("netdata_rw", now);
    let status = http_post(vm.http, "/api/v1/write", &remote_write::HEADERS, &body);
    assert_eq!(status, 204, "remote write");

    // VictoriaMetrics keeps these values' text exactly.
    let graphite = vm.wait_for(r#"{__name__="netdata.h1.system.cpu.user"}"#, 3);
    assert_eq!(
        lines(&graphite),
        expected("netdata.h1.system.cpu.user", now, VALUES)
    );
    assert_values_exact(&graphite);

    let telnet = vm.wait_for(r#"{__name__="netdata.system.load"}"#, 3);
    let series = r#"netdata.system.load{chart="system.load",host="h1"}"#;
    assert_eq!(lines(&telnet), expected(series, now, VALUES));
    assert_values_exact(&telnet);

    let http = vm.wait_for(r#"{__name__="netdata.system.ram"}"#, 3);
    assert_eq!(
        lines(&http),
        expected(r#"netdata.system.ram{host="h1"}"#, now, VALUES)
    );
    assert_values_exact(&http);

    let rw = vm.wait_for(r#"netdata_rw{host="h1"}"#, 3);
    assert_eq!(
        lines(&rw),
        expected(r#"netdata_rw{host="h1"}"#, now, VALUES)
    );
    assert_values_exact(&rw);
}

#[test]
fn carbon_whisper_graphite_plaintext() {
    let carbon = Carbon::start();
    eprintln!(
        "carbon-cache ready in {:?}",
        carbon.server().ready_in().unwrap()
    );
    let now = peers::now_s();
    let name = "netdata.h1.system.cpu.user";
    peers::send_tcp(carbon.line, graphite_lines(name, now).as_bytes());

    let points = carbon.wait_for(name, now - 60, now, 3);
    // Python's repr of the stored doubles.
    assert_eq!(
        lines(&points),
        expected(name, now, ["42.5", "-1e-07", "1234567.1234567"])
    );
    assert_values_exact(&points);
    assert_eq!(carbon.metrics(), [name]);
    assert!(carbon
        .wsp_path(name)
        .ends_with("netdata/h1/system/cpu/user.wsp"));
}

#[test]
fn influxdb_graphite_and_opentsdb_inputs() {
    let influx = Influx::start();
    eprintln!("influxd ready in {:?}", influx.server().ready_in().unwrap());
    let now = peers::now_s();
    peers::send_tcp(
        influx.graphite,
        graphite_lines("netdata.h1.system.cpu.user", now).as_bytes(),
    );
    peers::send_tcp(
        influx.opentsdb,
        put_lines("netdata.system.load", now).as_bytes(),
    );
    let json = put_json("netdata.system.ram", now);
    let status = http_post(influx.opentsdb, "/api/put", &[], json.as_bytes());
    assert!(
        (200..300).contains(&status),
        "OpenTSDB HTTP /api/put: {status}"
    );

    // Go's shortest form of the doubles.
    let texts = ["42.5", "-1e-7", "1234567.1234567"];
    let graphite = influx.wait_for(influx::GRAPHITE_DB, 3);
    assert_eq!(
        lines(&graphite),
        expected("netdata.h1.system.cpu.user", now, texts)
    );
    assert_values_exact(&graphite);

    let opentsdb = influx.wait_for(influx::OPENTSDB_DB, 6);
    let (load, ram) = opentsdb.split_at(3);
    let series = r#"netdata.system.load{chart="system.load",host="h1"}"#;
    assert_eq!(lines(load), expected(series, now, texts));
    assert_eq!(
        lines(ram),
        expected(r#"netdata.system.ram{host="h1"}"#, now, texts)
    );
    assert_values_exact(load);
    assert_values_exact(ram);
}

#[test]
fn prometheus_remote_write_receiver() {
    let prometheus = Prometheus::start();
    eprintln!(
        "prometheus ready in {:?}",
        prometheus.server().ready_in().unwrap()
    );
    let now = peers::now_s();
    let body = remote_write::body("netdata_rw", now);
    let status = http_post(
        prometheus.http,
        "/api/v1/write",
        &remote_write::HEADERS,
        &body,
    );
    assert_eq!(
        status,
        204,
        "remote write\n{}",
        prometheus.server().log_tail(10)
    );

    let points = prometheus.wait_for(r#"netdata_rw{host="h1"}"#, 3);
    // Prometheus writes the tiny value with a two-digit exponent.
    let texts = ["42.5", "-1e-07", "1234567.1234567"];
    assert_eq!(
        lines(&points),
        expected(r#"netdata_rw{host="h1"}"#, now, texts)
    );
    assert_values_exact(&points);

    // Strict: a sample older than the series' newest one is refused.
    let stale = remote_write::body("netdata_rw", now - 100);
    let status = http_post(
        prometheus.http,
        "/api/v1/write",
        &remote_write::HEADERS,
        &stale,
    );
    assert_eq!(status, 400, "out-of-order remote write");
}

#[test]
fn a_missing_peer_fails_with_a_clear_message() {
    // Not a real server: the harness's own check, with PATH pointing nowhere. Run in a
    // child process so that changing PATH cannot affect the other tests.
    if std::env::var_os("BACKHAUL_PEERS_EMPTY_PATH_CHILD").is_some() {
        VictoriaMetrics::start();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "a_missing_peer_fails_with_a_clear_message",
            "--nocapture",
        ])
        .env("BACKHAUL_PEERS_EMPTY_PATH_CHILD", "1")
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("peer not installed: victoria-metrics"),
        "{stderr}"
    );
}
