//! The checks behind the `vectors` example, shared with `core/tests/vectors.rs`.

mod names;
mod numbers;
mod pattern;
mod tsv;
mod window;

pub(crate) use tsv::Table;

/// The kinds of vector file the runner understands.
pub(crate) const KINDS: &[&str] = &[
    "storage-number",
    "unpack",
    "print",
    "window",
    "names",
    "pattern",
];

/// The outcome of checking one file.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Rows that matched (including `nearer:` and `tie:` rows of a window file).
    pub(crate) passed: usize,
    /// Rows that did not.
    pub(crate) failed: usize,
    /// One line per mismatch, and one per `nearer:` / `tie:` row.
    pub(crate) lines: Vec<String>,
    /// Window rows whose text differs from netdata's but is nearer to the true value.
    pub(crate) nearer: usize,
    /// Window rows whose true value is an exact tie at the 8th decimal.
    pub(crate) ties: usize,
}

impl Report {
    /// Records a passing row.
    pub(crate) fn pass(&mut self) {
        self.passed += 1;
    }

    /// Records a failing row with the file line it came from and what differed.
    pub(crate) fn fail(&mut self, line: usize, what: impl std::fmt::Display) {
        self.failed += 1;
        self.lines.push(format!("line {line}: {what}"));
    }

    /// Checks one field: passes when `got == want`, otherwise records the difference.
    /// Returns whether it matched.
    pub(crate) fn expect_eq<T: PartialEq + std::fmt::Debug>(
        &mut self,
        line: usize,
        field: &str,
        got: T,
        want: T,
    ) -> bool {
        if got == want {
            true
        } else {
            self.fail(line, format!("{field}: got {got:?}, want {want:?}"));
            false
        }
    }
}

/// Checks `text` (a whole vector file) as vectors of `kind`.
///
/// # Errors
///
/// An unknown kind, or a file without the columns that kind needs.
pub(crate) fn run(kind: &str, text: &str) -> Result<Report, String> {
    let table = Table::parse(text)?;
    let mut report = Report::default();
    match kind {
        "storage-number" => numbers::storage_number(&table, &mut report)?,
        "unpack" => numbers::unpack(&table, &mut report)?,
        "print" => numbers::print(&table, &mut report)?,
        "window" => window::window(&table, &mut report)?,
        "names" => names::names(&table, &mut report)?,
        "pattern" => pattern::pattern(&table, &mut report)?,
        _ => {
            return Err(format!(
                "unknown kind {kind:?} (one of {})",
                KINDS.join(", ")
            ))
        }
    }
    Ok(report)
}
