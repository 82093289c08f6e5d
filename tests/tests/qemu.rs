//! The embedded demo end to end: the firmware (`shell-embedded/firmware`, built for
//! thumbv7m-none-eabi) runs on qemu's emulated lm3s6965evb through
//! `scripts/qemu-demo.sh`, its UART0 connected to a real VictoriaMetrics' Graphite port;
//! every point is read back and checked: the series names, one point per second per
//! series within the run's wall-clock window, and the values (the counter counts the
//! seconds, the sensor is its known function of the counter, the CPU figure is a
//! plausible share of one second).
//!
//! Needs qemu-system-arm (`scripts/qemu-demo.sh install`, as root, once) and the
//! VictoriaMetrics peer (`scripts/peers.sh install`). Without qemu the test fails with
//! "qemu-system-arm not installed: run scripts/qemu-demo.sh as root once".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use backhaul_tests::peers::{self, Point, VictoriaMetrics};

/// Lines the firmware sends before it exits (the script's `LINES`).
const LINES: usize = 30;
/// The firmware's metric prefix and hostname.
const PREFIX: &str = "netdata.lm3s6965evb.";
const COUNTER: &str = "netdata.lm3s6965evb.demo.counter.ticks";
const SENSOR: &str = "netdata.lm3s6965evb.demo.sensor.temperature";
const CPU: &str = "netdata.lm3s6965evb.netdata.backend_thread_cpu.user";

/// The firmware's synthetic sensor at second `k`, in milli-degrees (see
/// `shell-embedded/firmware/src/bin/demo.rs`).
fn sensor(k: i64) -> i64 {
    21_000 + 250 * ((7 * k) % 13)
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// qemu-system-arm, installed by the script if this runs as root; a clear failure if not.
fn require_qemu(script: &Path) {
    if on_path("qemu-system-arm") {
        return;
    }
    // As root the script installs it; otherwise it fails with the same message as below.
    let installed = Command::new(script)
        .arg("install")
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed && on_path("qemu-system-arm"),
        "qemu-system-arm not installed: run scripts/qemu-demo.sh as root once"
    );
}

#[test]
fn the_firmware_under_qemu_exports_to_victoria_metrics() {
    let root = repo_root();
    let script = root.join("scripts/qemu-demo.sh");
    require_qemu(&script);
    // Build first, so that the measured window is the run's alone.
    let build = Command::new(&script)
        .arg("build")
        .status()
        .expect("scripts/qemu-demo.sh runs");
    assert!(build.success(), "scripts/qemu-demo.sh build failed");

    let vm = VictoriaMetrics::start();
    let start = peers::now_s();
    let output = Command::new(&script)
        .env("GRAPHITE_ADDR", vm.graphite.to_string())
        .env("LINES", LINES.to_string())
        .output()
        .expect("scripts/qemu-demo.sh runs");
    let end = peers::now_s();
    assert!(
        output.status.success(),
        "scripts/qemu-demo.sh failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let selector = format!(r#"{{__name__=~"{}.*"}}"#, PREFIX.replace('.', "\\\\."));
    let points = vm.wait_for(&selector, LINES);
    // Nothing more arrives: the firmware stopped after exactly LINES lines.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        vm.export(&selector),
        points,
        "more points arrived after the run"
    );
    assert_eq!(points.len(), LINES, "{}", show(&points));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.contains(&format!("backhaul-demo: {LINES} lines sent, 0 lost")),
        "the firmware's report: {report}"
    );

    let mut series: BTreeMap<&str, Vec<&Point>> = BTreeMap::new();
    for p in &points {
        assert!(p.labels.is_empty(), "graphite points have no labels: {p}");
        series.entry(p.name.as_str()).or_default().push(p);
    }
    let names: Vec<&str> = series.keys().copied().collect();
    let mut want = vec![COUNTER, SENSOR, CPU];
    want.sort_unstable();
    assert_eq!(names, want, "{}", show(&points));

    // One point a second per series, consecutive, within the run's wall-clock window
    // (the firmware's clock is the host's time at boot plus the emulated seconds), and
    // the series in step: a second's lines go out together, counter first.
    let first = series[COUNTER][0].timestamp_s();
    for (name, pts) in &series {
        for (i, p) in pts.iter().enumerate() {
            assert_eq!(p.timestamp_ms % 1000, 0, "{p}");
            assert_eq!(
                p.timestamp_s(),
                first + i as i64,
                "{name}: not one a second:\n{}",
                show(&points)
            );
            assert!(
                (start..=end).contains(&p.timestamp_s()),
                "{p} is outside the run's window {start}..={end}"
            );
        }
    }
    let counts: Vec<usize> = [COUNTER, SENSOR, CPU]
        .iter()
        .map(|n| series[n].len())
        .collect();
    assert!(
        counts[0] >= counts[1] && counts[1] >= counts[2] && counts[0] - counts[2] <= 1,
        "per-series counts {counts:?}"
    );

    // The counter is the seconds since boot: its first point (second 1) is 1, and it
    // increments by exactly 1 a second; each point is exported once.
    for (i, p) in series[COUNTER].iter().enumerate() {
        let k = i as i64 + 1;
        assert_eq!(p.value_f64(), k as f64, "{p}");
        let s = series[SENSOR].get(i);
        if let Some(s) = s {
            assert_eq!(
                s.value_f64(),
                sensor(k) as f64 / 1000.0,
                "{s} (counter {k})"
            );
        }
    }
    // The exporter's own CPU time, in milliseconds per second: more than nothing, far
    // less than all of it.
    for p in &series[CPU] {
        let ms = p.value_f64();
        assert!((0.0..100.0).contains(&ms), "{p}");
    }
    assert!(
        series[CPU].iter().any(|p| p.value_f64() > 0.0),
        "{}",
        show(&points)
    );
}

fn show(points: &[Point]) -> String {
    points
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
