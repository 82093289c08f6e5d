//! Checks for `pattern` vector files.

use super::{Report, Table};

/// Checks every row of a `pattern` file.
pub fn pattern(table: &Table, report: &mut Report) -> Result<(), String> {
    let _ = (table, report);
    Err("not implemented yet".to_owned())
}
