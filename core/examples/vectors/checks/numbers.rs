//! Checks for storage-number, unpack and print vector files.

use super::{Report, Table};

/// Checks `storage_number.tsv`-style files.
pub fn storage_number(table: &Table, report: &mut Report) -> Result<(), String> {
    let _ = (table, report);
    Err("not implemented yet".to_owned())
}

/// Checks `storage_number_unpack.tsv`-style files.
pub fn unpack(table: &Table, report: &mut Report) -> Result<(), String> {
    let _ = (table, report);
    Err("not implemented yet".to_owned())
}

/// Checks `number_print.tsv`-style files.
pub fn print(table: &Table, report: &mut Report) -> Result<(), String> {
    let _ = (table, report);
    Err("not implemented yet".to_owned())
}
