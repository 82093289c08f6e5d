//! Checks for storage-number, unpack and print vector files.

use backhaul_core::number::{DecimalBuffer, Fixed7Buffer};
use backhaul_core::storage_number::StorageNumber;

use super::tsv::{parse_hex_f64, Row};
use super::{Report, Table};

fn parse_word(cell: &str) -> Result<u32, String> {
    let hex = cell
        .strip_prefix("0x")
        .ok_or_else(|| format!("{cell:?} is not a 0x word"))?;
    u32::from_str_radix(hex, 16).map_err(|_| format!("{cell:?} is not a 32-bit word"))
}

/// Checks the unpacked side of a row: the exact decimal's text against `unpacked_fmt7`,
/// and that the `f64` conversion is correctly rounded. Where netdata's long double chain
/// rounds to a different double than the correctly rounded one (a known, documented
/// difference), a `double:` line is listed and the row still passes.
fn check_unpacked(row: &Row<'_>, sn: StorageNumber, report: &mut Report) -> bool {
    let line = row.line;
    let mut buf = DecimalBuffer::new();
    let text = buf.format(sn.unpack());
    if !report.expect_eq(line, "unpacked_fmt7", text, row.get("unpacked_fmt7")) {
        return false;
    }
    // An independent, correctly rounded reference: Rust's own decimal parser.
    let reference: f64 = text.parse().expect("printed decimals parse");
    let ours = sn.to_f64();
    if ours.to_bits() != reference.to_bits() {
        report.fail(
            line,
            format!("to_f64 {ours:e} is not the correctly rounded {reference:e}"),
        );
        return false;
    }
    let netdata: f64 = match row.get("unpacked").parse() {
        Ok(v) => v,
        Err(_) => {
            report.fail(
                line,
                format!("unparsable unpacked {:?}", row.get("unpacked")),
            );
            return false;
        }
    };
    if netdata != ours {
        report.lines.push(format!(
            "double: line {line}: 0x{:08x}: netdata's long double gives {netdata:e}, the correctly rounded value is {ours:e}",
            sn.to_bits()
        ));
    }
    true
}

/// Checks `storage_number.tsv`-style files: `packed` bit for bit, then the unpacked side.
pub(crate) fn storage_number(table: &Table, report: &mut Report) -> Result<(), String> {
    table.require(&[
        "input_hex",
        "flags_in",
        "packed",
        "unpacked",
        "unpacked_fmt7",
    ])?;
    for row in table.rows() {
        let value =
            parse_hex_f64(row.get("input_hex")).map_err(|e| format!("line {}: {e}", row.line))?;
        let flags =
            parse_word(row.get("flags_in")).map_err(|e| format!("line {}: {e}", row.line))?;
        let want = parse_word(row.get("packed")).map_err(|e| format!("line {}: {e}", row.line))?;
        let got = StorageNumber::pack(value, flags).to_bits();
        if got != want {
            report.fail(
                row.line,
                format!(
                    "pack({}, 0x{flags:08x}) = 0x{got:08x}, want 0x{want:08x}",
                    row.get("input_hex")
                ),
            );
            continue;
        }
        if check_unpacked(&row, StorageNumber::from_bits(want), report) {
            report.pass();
        }
    }
    Ok(())
}

/// Checks `storage_number_unpack.tsv`-style files.
pub(crate) fn unpack(table: &Table, report: &mut Report) -> Result<(), String> {
    table.require(&["packed", "unpacked", "unpacked_fmt7"])?;
    for row in table.rows() {
        let word = parse_word(row.get("packed")).map_err(|e| format!("line {}: {e}", row.line))?;
        if check_unpacked(&row, StorageNumber::from_bits(word), report) {
            report.pass();
        }
    }
    Ok(())
}

/// Checks `number_print.tsv`-style files: `fmt7` byte for byte.
pub(crate) fn print(table: &Table, report: &mut Report) -> Result<(), String> {
    table.require(&["input_hex", "fmt7"])?;
    let mut buf = Fixed7Buffer::new();
    for row in table.rows() {
        let value =
            parse_hex_f64(row.get("input_hex")).map_err(|e| format!("line {}: {e}", row.line))?;
        if report.expect_eq(row.line, "fmt7", buf.format_f64(value), row.get("fmt7")) {
            report.pass();
        }
    }
    Ok(())
}
