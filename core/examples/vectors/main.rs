//! Checks backhaul-core against netdata's test vectors.
//!
//! Run it with:
//!
//! ```text
//! cargo run -q --release -p backhaul-core --example vectors -- KIND FILE.tsv
//! ```
//!
//! KIND is one of `storage-number`, `unpack`, `print`, `window`, `names`, `pattern`, and
//! FILE is any tab-separated file with the header and columns of the matching file in
//! netdata's vector set. One line is printed per mismatch, then `N passed, M failed`; the
//! exit status is 1 if anything failed, 2 on a usage or file error.

mod checks;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, path) = match args.as_slice() {
        [kind, path] => (kind.as_str(), path.as_str()),
        _ => {
            eprintln!("usage: vectors KIND FILE.tsv");
            eprintln!("KIND: {}", checks::KINDS.join(", "));
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("{path}: {err}");
            return ExitCode::from(2);
        }
    };
    let report = match checks::run(kind, &text) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("{path}: {err}");
            return ExitCode::from(2);
        }
    };
    for line in &report.lines {
        println!("{line}");
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    if report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
