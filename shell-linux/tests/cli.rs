//! The `backhaul` binary's command line: exit codes and the texts people read.

use std::process::{Command, Output};

fn backhaul(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backhaul"))
        .args(args)
        .output()
        .expect("the backhaul binary runs")
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("output is UTF-8")
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
fn version_matches_the_workspace() {
    assert_eq!(
        text(&backhaul(&["-V"]).stdout),
        "backhaul 0.1.0\n",
        "update this test with the workspace version"
    );
}

#[test]
fn help_flags_print_usage_and_say_the_daemon_is_missing() {
    for flag in ["--help", "-h"] {
        let out = backhaul(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let usage = text(&out.stdout);
        assert!(usage.contains("Usage: backhaul [OPTIONS]"), "{usage}");
        assert!(usage.contains("-h, --help"), "{usage}");
        assert!(usage.contains("-V, --version"), "{usage}");
        assert!(usage.contains("not implemented yet"), "{usage}");
        assert_eq!(text(&out.stderr), "", "{flag}");
    }
}

#[test]
fn unknown_flag_is_named_and_exits_2() {
    let out = backhaul(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    let err = text(&out.stderr);
    assert!(err.contains("unknown argument '--frobnicate'"), "{err}");
    assert!(err.contains("backhaul --help"), "{err}");
}

#[test]
fn no_arguments_says_the_daemon_is_not_implemented() {
    let out = backhaul(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("not implemented yet"));
}
