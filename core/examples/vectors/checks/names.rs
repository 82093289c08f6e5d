//! Checks for `names` vector files.

use backhaul_core::name::{
    escape_label, escaped_label_len, max_label_len, max_sanitized_len, max_units_len,
    sanitize_backend, sanitize_prometheus, sanitized_len, units_suffix, units_suffix_len,
    UnitNames,
};

use super::{tsv, Report, Table};

const COLUMNS: [&str; 10] = [
    "input",
    "usable",
    "backend_name",
    "backend_name_len",
    "prom_name",
    "prom_name_len",
    "prom_label",
    "prom_label_len",
    "prom_units",
    "prom_units_oldunits",
];

/// Checks every row of a `names` file: each helper's output and return value, and that
/// the exact-length and worst-case functions agree with what was written.
pub(crate) fn names(table: &Table, report: &mut Report) -> Result<(), String> {
    table.require(&COLUMNS)?;
    for row in table.rows() {
        match check_row(|c| row.get(c)) {
            Ok(diffs) if diffs.is_empty() => report.pass(),
            Ok(diffs) => report.fail(row.line, diffs.join("; ")),
            Err(e) => report.fail(row.line, e),
        }
    }
    Ok(())
}

/// The differences found in one row, or why the row could not be read.
fn check_row<'r>(get: impl Fn(&str) -> &'r str) -> Result<Vec<String>, String> {
    let input = tsv::unescape(get("input"))?;
    let usable: usize = parse(get("usable"), "usable")?;
    let mut diffs = Vec::new();
    let mut out = vec![0u8; max_units_len(usable).max(max_label_len(usable))];

    type Helper = fn(&[u8], usize, &mut [u8]) -> usize;
    // (output column, length column, helper, exact length, worst case)
    let outputs: [(&str, &str, Helper, usize, usize); 3] = [
        (
            "backend_name",
            "backend_name_len",
            sanitize_backend,
            sanitized_len(&input, usable),
            max_sanitized_len(usable),
        ),
        (
            "prom_name",
            "prom_name_len",
            sanitize_prometheus,
            sanitized_len(&input, usable),
            max_sanitized_len(usable),
        ),
        (
            "prom_label",
            "prom_label_len",
            escape_label,
            escaped_label_len(&input, usable),
            max_label_len(usable),
        ),
    ];
    for (column, len_column, helper, exact, max) in outputs {
        let n = helper(&input, usable, &mut out);
        compare(&mut diffs, column, &out[..n], &tsv::unescape(get(column))?);
        let want: usize = parse(get(len_column), len_column)?;
        if n != want {
            diffs.push(format!("{len_column}: got {n}, want {want}"));
        }
        check_sizes(&mut diffs, column, n, exact, max);
    }

    for (column, names) in [
        ("prom_units", UnitNames::Current),
        ("prom_units_oldunits", UnitNames::Old),
    ] {
        let n = units_suffix(&input, usable, names, &mut out);
        compare(&mut diffs, column, &out[..n], &tsv::unescape(get(column))?);
        let exact = units_suffix_len(&input, usable, names);
        check_sizes(&mut diffs, column, n, exact, max_units_len(usable));
    }
    Ok(diffs)
}

fn parse(cell: &str, column: &str) -> Result<usize, String> {
    cell.parse()
        .map_err(|_| format!("{column} is {cell:?}, not a count"))
}

fn compare(diffs: &mut Vec<String>, column: &str, got: &[u8], want: &[u8]) {
    if got != want {
        diffs.push(format!(
            "{column}: got \"{}\", want \"{}\"",
            got.escape_ascii(),
            want.escape_ascii()
        ));
    }
}

/// The exact-length function must predict what was written, within the worst case.
fn check_sizes(diffs: &mut Vec<String>, column: &str, n: usize, exact: usize, max: usize) {
    if n != exact {
        diffs.push(format!(
            "{column}: wrote {n} bytes, the length function says {exact}"
        ));
    }
    if n > max {
        diffs.push(format!(
            "{column}: wrote {n} bytes, more than the maximum {max}"
        ));
    }
}
