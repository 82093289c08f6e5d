//! Checks for `names` vector files.

use super::{Report, Table};

/// Checks every row of a `names` file.
pub fn names(table: &Table, report: &mut Report) -> Result<(), String> {
    let _ = (table, report);
    Err("not implemented yet".to_owned())
}
