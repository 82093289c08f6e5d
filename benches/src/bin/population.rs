//! The C baseline's `dump` and `checksum` commands (`anchors/baseline.c`), on the Rust
//! population and backhaul's formatters:
//!
//! ```text
//! population dump MODE    one export cycle's output to stdout
//! population checksum     bytes and FNV-1a 64 of each mode's cycle output
//! ```
//!
//! Modes: `graphite_stored graphite_collected opentsdb_stored opentsdb_collected
//! json_stored json_collected`. Collected modes print exactly what `baseline` prints;
//! stored modes differ only where backhaul's exactly rounded average is the nearer one.

use std::io::{self, Write};
use std::process::ExitCode;

use backhaul_benches::cycle::{self, Mode, Output};
use backhaul_benches::population::Population;

fn usage(problem: &str) -> ExitCode {
    let modes: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
    eprintln!(
        "population: {problem}\n\
         usage: population dump MODE   one export cycle's output to stdout\n       \
         population checksum    bytes and FNV-1a 64 of each mode's output\n\
         modes: {}",
        modes.join(" ")
    );
    ExitCode::from(2)
}

/// Writes `bytes` to stdout. A reader that went away (`| head`) is not an error.
fn emit(bytes: &[u8]) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("population: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["dump", name] => {
            let Some(mode) = Mode::from_name(name) else {
                return usage(&format!("unknown mode '{name}'"));
            };
            let pop = Population::new();
            let mut out = Output::for_cycle();
            cycle::export(&pop, mode, &mut out);
            emit(out.as_bytes())
        }
        ["checksum"] => {
            let pop = Population::new();
            let mut out = Output::for_cycle();
            let mut text = String::new();
            for mode in Mode::ALL {
                cycle::export(&pop, mode, &mut out);
                text.push_str(&cycle::checksum_lines(mode, out.as_bytes()));
            }
            emit(text.as_bytes())
        }
        ["dump"] => usage("dump needs a MODE"),
        [] => usage("no command"),
        [cmd, ..] => usage(&format!("unknown command or arguments after '{cmd}'")),
    }
}
