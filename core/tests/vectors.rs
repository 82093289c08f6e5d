//! Runs the vector checks (the same code as `cargo run --example vectors`) on every
//! netdata vector file: the copies kept in this repository, and the shared originals
//! beside the repository when they are there.

#[path = "../examples/vectors/checks/mod.rs"]
#[allow(dead_code)]
mod checks;

use std::path::{Path, PathBuf};

const FILES: &[(&str, &str)] = &[
    ("storage-number", "storage_number.tsv"),
    ("unpack", "storage_number_unpack.tsv"),
    ("print", "number_print.tsv"),
    ("window", "window.tsv"),
    ("names", "names.tsv"),
    ("pattern", "simple_pattern.tsv"),
];

fn repo_vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/netdata")
}

fn shared_vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/vectors")
}

fn check(kind: &str, path: &Path) -> checks::Report {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let report = checks::run(kind, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let failures: Vec<&String> = report
        .lines
        .iter()
        .filter(|l| l.starts_with("line "))
        .collect();
    assert_eq!(report.failed, 0, "{}: {failures:#?}", path.display());
    assert!(report.passed > 0, "{}: no rows", path.display());
    report
}

#[test]
fn every_vector_file_passes() {
    for (kind, file) in FILES {
        check(kind, &repo_vectors().join(file));
    }
}

#[test]
fn row_counts_match_the_vector_readme() {
    let counts = [1991, 572, 283, 1500, 230, 1404];
    for ((kind, file), rows) in FILES.iter().zip(counts) {
        assert_eq!(
            check(kind, &repo_vectors().join(file)).passed,
            rows,
            "{file}"
        );
    }
}

/// 1,036 windows have a value: 818 print exactly netdata's text, 210 are nearer to the
/// true average than netdata's 80-bit result, and 8 are exact ties rounded half to even.
#[test]
fn window_deviations_are_counted() {
    let report = check("window", &repo_vectors().join("window.tsv"));
    assert_eq!((report.nearer, report.ties), (210, 8));
}

/// netdata's long double chain rounds 15 words of the unpack vectors to a different
/// double than the correctly rounded one backhaul returns.
#[test]
fn double_rounding_words_are_listed() {
    let report = check("unpack", &repo_vectors().join("storage_number_unpack.tsv"));
    assert_eq!(
        report
            .lines
            .iter()
            .filter(|l| l.starts_with("double:"))
            .count(),
        15
    );
}

#[test]
fn shared_vectors_are_the_same_files() {
    let shared = shared_vectors();
    if !shared.is_dir() {
        eprintln!(
            "{} is not there; only the repository copies were checked",
            shared.display()
        );
        return;
    }
    for (kind, file) in FILES {
        let ours = std::fs::read(repo_vectors().join(file)).unwrap();
        let theirs = std::fs::read(shared.join(file)).unwrap();
        assert!(ours == theirs, "{file} differs from the shared copy");
        check(kind, &shared.join(file));
    }
}

#[test]
fn a_wrong_row_is_reported_with_its_line() {
    let text = "pattern\tstring\tmatches\n*\ta\t1\na*\tb\t1\n";
    let report = checks::run("pattern", text).unwrap();
    assert_eq!((report.passed, report.failed), (1, 1));
    assert!(report.lines[0].starts_with("line 3:"), "{:?}", report.lines);
    assert!(checks::run("nope", text).is_err());
    assert!(
        checks::run("window", text).is_err(),
        "missing columns are an error"
    );
}
