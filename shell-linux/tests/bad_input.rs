//! The bad-input catalogue: every configuration in `tests/data/bad/` through the real
//! binary's `--check-config`, compared with the exact message kept next to it.
//!
//! * `NAME.conf` is a configuration; `NAME.path` instead holds a path to check (a missing
//!   file, a directory); paths are relative to `tests/data/bad/`, where the binary runs.
//! * `NAME.expected` holds the exact line the binary prints. A line `NAME.conf: ok: …`
//!   means the input is odd but valid: exit 0, the line on standard output. Any other line
//!   is an error: exit 3, the line on standard error, `FILE:LINE: option: what is wrong`
//!   (or `FILE: …` when the file cannot be read or is not text).
//!
//! Whatever the input, the binary must never panic (exit 101, or "panicked" in its
//! output) and never repeat a password (every password in the catalogue is `hunter2`).
//!
//! To add a case, write `NAME.conf` and run `BLESS=1 cargo test -p backhaul-linux --test
//! bad_input`, which writes `NAME.expected` from the binary's output; review it (it must
//! name the right line and say what is wrong) and commit both files.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// At least this many inputs are checked.
const MIN_CASES: usize = 50;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/bad")
}

/// One input: its name and the path handed to `--check-config`.
struct Case {
    name: String,
    path: String,
}

fn cases(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(dir).expect("tests/data/bad exists") {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        match path.extension().and_then(OsStr::to_str) {
            Some("conf") => cases.push(Case {
                path: format!("{name}.conf"),
                name,
            }),
            Some("path") => {
                let text = std::fs::read_to_string(&path).unwrap();
                cases.push(Case {
                    path: text.strip_suffix('\n').unwrap_or(&text).to_owned(),
                    name,
                });
            }
            _ => {}
        }
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// The number of lines of a configuration file (its last line may lack a `\n`).
fn line_count(bytes: &[u8]) -> usize {
    bytes.split(|&b| b == b'\n').count()
}

#[test]
fn every_bad_input_gets_its_exact_message_and_exit_3() {
    let dir = data_dir();
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    let cases = cases(&dir);
    assert!(
        cases.len() >= MIN_CASES,
        "only {} inputs in {}",
        cases.len(),
        dir.display()
    );
    let mut failures = Vec::new();
    let (mut errors, mut accepted) = (0, 0);
    for case in &cases {
        let out = Command::new(env!("CARGO_BIN_EXE_backhaul"))
            .arg("--check-config")
            .arg(&case.path)
            .current_dir(&dir)
            .output()
            .expect("the backhaul binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        let fail = |why: String| format!("{}: {why}", case.name);

        // Never a panic, never a password, whatever the expected text says.
        if code == Some(101) || stderr.contains("panicked") || stdout.contains("panicked") {
            failures.push(fail(format!("panicked: {stderr}")));
            continue;
        }
        if stderr.contains("hunter2") || stdout.contains("hunter2") {
            failures.push(fail(format!("a password in the output: {stderr}")));
        }

        let expected_path = dir.join(format!("{}.expected", case.name));
        if bless {
            let text = if code == Some(0) { &stdout } else { &stderr };
            std::fs::write(&expected_path, text.as_bytes()).unwrap();
        }
        let Ok(expected) = std::fs::read_to_string(&expected_path) else {
            failures.push(fail(format!(
                "no {} (write it with BLESS=1)",
                expected_path.display()
            )));
            continue;
        };
        if expected.starts_with(&format!("{}: ok: ", case.path)) {
            accepted += 1;
            if code != Some(0) || stdout != expected || !stderr.is_empty() {
                failures.push(fail(format!(
                    "expected exit 0 and {expected:?} on stdout, got {code:?}, \
                     stdout {stdout:?}, stderr {stderr:?}"
                )));
            }
            continue;
        }
        errors += 1;
        if code != Some(3) || stderr != expected || !stdout.is_empty() {
            failures.push(fail(format!(
                "expected exit 3 and {expected:?} on stderr, got {code:?}, \
                 stderr {stderr:?}, stdout {stdout:?}"
            )));
            continue;
        }
        // The message is one line, and it names the file and, for a configuration it
        // could read, a line of it.
        if expected.lines().count() != 1 {
            failures.push(fail(format!("a message of several lines: {expected:?}")));
        }
        let Some(rest) = expected.strip_prefix(&format!("{}:", case.path)) else {
            failures.push(fail(format!(
                "the message does not start with the file: {expected:?}"
            )));
            continue;
        };
        if let Ok(bytes) = std::fs::read(dir.join(&case.path)) {
            let line: Option<usize> = rest.split(':').next().and_then(|n| n.parse().ok());
            match line {
                Some(n) if (1..=line_count(&bytes)).contains(&n) => {}
                _ => failures.push(fail(format!("no line of the file in {expected:?}"))),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} inputs: {errors} rejected with their exact message, {accepted} accepted",
        cases.len()
    );
}
