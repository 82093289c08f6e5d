//! Checks for window vector files.

use super::{Report, Table};

/// Checks `window.tsv`-style files.
pub fn window(table: &Table, report: &mut Report) -> Result<(), String> {
    let _ = (table, report);
    Err("not implemented yet".to_owned())
}
