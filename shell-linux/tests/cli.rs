//! The `backhaul` binary: command line, exit codes, configuration checks, and the daemon
//! running for real (pull endpoint, `--print`, signals).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use backhaul_tests::daemon::Daemon;

fn backhaul(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backhaul"))
        .args(args)
        .output()
        .expect("the backhaul binary runs")
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("output is UTF-8")
}

fn temp_file(name: &str, content: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("backhaul-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Runs the daemon with `args` alone (no configuration of the test's making).
fn daemon(args: &[&str]) -> Daemon {
    Daemon::spawn(Command::new(env!("CARGO_BIN_EXE_backhaul")).args(args))
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn version_flags_print_name_and_version() {
    for flag in ["--version", "-V"] {
        let out = backhaul(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert_eq!(
            text(&out.stdout),
            concat!("backhaul ", env!("CARGO_PKG_VERSION"), "\n")
        );
        assert_eq!(text(&out.stderr), "", "{flag}");
    }
}

#[test]
fn help_documents_every_flag() {
    for flag in ["--help", "-h"] {
        let out = backhaul(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let usage = text(&out.stdout);
        for option in [
            "Usage: backhaul [OPTIONS]",
            "--config FILE",
            "--check-config FILE",
            "--print FORMAT",
            "--bind ADDR",
            "--history N",
            "--hostname NAME",
            "-h, --help",
            "-V, --version",
            "Exit codes",
        ] {
            assert!(usage.contains(option), "{option} missing from --help");
        }
    }
}

#[test]
fn unknown_flag_is_named_and_exits_2() {
    let out = backhaul(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    let err = text(&out.stderr);
    assert!(err.contains("unknown argument \"--frobnicate\""), "{err}");
    assert!(err.contains("backhaul --help"), "{err}");
}

#[test]
fn check_config_names_file_line_and_option() {
    let good = temp_file(
        "good.conf",
        b"[global]\n    hostname = h\n\n[backend]\n    enabled = yes\n    destination = 127.0.0.1:2003\n",
    );
    let out = backhaul(&["--check-config", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let bad = temp_file(
        "bad.conf",
        b"[backend]\n    enabled = yes\n    # a comment\n    update every = often\n",
    );
    let out = backhaul(&["--check-config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("{}:4: update every: ", bad.display())),
        "{err}"
    );

    let missing = backhaul(&["--check-config", "/nonexistent/backhaul.conf"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(text(&missing.stderr).contains("/nonexistent/backhaul.conf: cannot read"));

    let binary = temp_file(
        "binary.conf",
        b"[backend]\n enabled = yes\n prefix = \xff\xfe\n",
    );
    let out = backhaul(&["--check-config", binary.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains(":3: the file is not valid UTF-8"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn runs_with_nothing_configured_and_serves_prometheus() {
    let mut d = daemon(&["--bind", "127.0.0.1:0"]);
    let status = d.first_log_line(Duration::from_secs(60));
    assert!(status.contains("collecting"), "{status}");
    let addr = status
        .split("serving http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("the status line names the address")
        .to_owned();
    // As-collected values are there within two seconds of the start; stored averages
    // once the first points are in the rings and the window has passed them (the window
    // ends three intervals before now; `system.load` is stored every 5 s).
    let started = Instant::now();
    let mut response = String::new();
    while started.elapsed() < Duration::from_secs(30) {
        response = http_get(
            &addr,
            "/api/v1/allmetrics?format=prometheus&help=yes&types=yes",
        );
        if response.contains("netdata_system_load_load_average{") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(response.contains("netdata_info{instance="), "{response}");
    assert!(
        response.contains("# TYPE netdata_system_load_load_average gauge"),
        "{response}"
    );
    assert!(
        response.contains("netdata_system_ram_MiB_average{chart=\"system.ram\""),
        "{response}"
    );
    let collected = http_get(
        &addr,
        "/api/v1/allmetrics?format=prometheus&source=as-collected&server=t",
    );
    assert!(
        collected.contains("netdata_system_cpu_total{chart=\"system.cpu\""),
        "{collected}"
    );
    assert!(http_get(&addr, "/nope").starts_with("HTTP/1.1 404"));
    assert!(http_get(&addr, "/api/v1/allmetrics?format=shell").starts_with("HTTP/1.1 400"));
    d.stop();
}

#[test]
fn print_streams_graphite_lines() {
    let mut d = daemon(&[
        "--bind",
        "none",
        "--print",
        "graphite",
        "--hostname",
        "cli-test",
    ]);
    d.wait_printed(1, Duration::from_secs(15));
    let line = d.printed().swap_remove(0);
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts.len(), 3, "{line}");
    assert!(parts[0].starts_with("netdata.cli-test."), "{line}");
    assert!(
        parts[1].contains('.') && parts[1].split('.').nth(1).unwrap().len() == 7,
        "{line}"
    );
    let ts: i64 = parts[2].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - 40..=now).contains(&ts), "{line}");
    d.stop_with(libc::SIGINT);
}

#[test]
fn a_port_in_use_is_a_clear_runtime_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let out = backhaul(&["--bind", &addr]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

/// A destination that is down falls behind: its 1 KiB buffer holds a few records of the
/// first span, and every later span is due and never formatted. At `SIGTERM` those
/// records are counted as lost and logged with their reason, so that the exit report
/// accounts for every record: the `records lost` lines add up to the final `lost`.
#[test]
fn records_never_formatted_at_exit_are_logged_as_lost() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
        // Closed here: connections are refused.
    };
    let config = temp_file(
        "behind.conf",
        format!(
            "[graphite:behind]\n    destination = 127.0.0.1:{port}\n    update every = 1\n    \
             buffer size = 1KiB\n    send charts matching = synthetic.*\n"
        )
        .as_bytes(),
    );
    let mut d = daemon(&[
        "--bind",
        "none",
        "--synthetic-metrics",
        "200",
        "--config",
        config.to_str().unwrap(),
    ]);
    // Stored averages need three seconds of points before the first span has records;
    // after that, each second adds 200 records the buffer has no room for.
    std::thread::sleep(Duration::from_secs(7));
    d.stop();
    let log = d.log();
    let shutdown: Vec<&str> = log
        .lines()
        .filter(|l| l.ends_with("records lost: due but not yet formatted at shutdown"))
        .collect();
    assert_eq!(shutdown.len(), 1, "{log}");
    assert!(shutdown[0].starts_with("backhaul: behind: "), "{log}");
    let logged = d.logged_losses("behind");
    let never_formatted = logged["due but not yet formatted at shutdown"];
    assert!(never_formatted >= 200, "{log}");
    let (delivered, lost) = d.delivered("behind");
    assert_eq!(delivered, 0, "{log}");
    assert_eq!(
        logged.values().sum::<u64>(),
        lost,
        "every lost record is in a `records lost` line: {log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("backhaul: behind: ") && l.contains("still buffered at exit")),
        "{log}"
    );
}
