//! Checks for window vector files.
//!
//! Everything but the value must match exactly. The value text must equal netdata's, or,
//! where netdata's 80-bit arithmetic rounded the seventh decimal the other way, backhaul's
//! text must be strictly nearer to the true (exact rational) result (listed on a
//! `nearer:` line), or the true result must be an exact tie at the eighth decimal that
//! backhaul rounded half to even (a `tie:` line). Any other difference fails.

use backhaul_core::number::DecimalBuffer;
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::StorageNumber;
use backhaul_core::window::{align, reduce, Missing, Reduce};

use super::tsv::Row;
use super::{Report, Table};

fn num<T: std::str::FromStr>(row: &Row<'_>, column: &str) -> Result<T, String> {
    row.get(column)
        .parse()
        .map_err(|_| format!("line {}: bad {column} {:?}", row.line, row.get(column)))
}

/// A `%0.7f` text as a signed count of 10^-7 units.
fn units_of(text: &str) -> Option<i128> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.')?;
    if frac.len() != 7 {
        return None;
    }
    let v = int.parse::<i128>().ok()? * 10_000_000 + frac.parse::<i128>().ok()?;
    Some(if neg { -v } else { v })
}

/// Checks `window.tsv`-style files.
pub(crate) fn window(table: &Table, report: &mut Report) -> Result<(), String> {
    table.require(&[
        "entries",
        "update_every",
        "counter",
        "current_entry",
        "last_updated",
        "source",
        "after_in",
        "before_in",
        "values",
        "db_first_t",
        "db_last_t",
        "status",
        "first_timestamp",
        "last_timestamp",
        "start_slot",
        "end_slot",
        "slots_visited",
        "samples_counted",
        "value_fmt7",
    ])?;
    for row in table.rows() {
        let line = row.line;
        let ring = RingState::new(
            num(&row, "entries")?,
            num(&row, "update_every")?,
            num(&row, "counter")?,
            num(&row, "current_entry")?,
            num(&row, "last_updated")?,
        );
        let how = match row.get("source") {
            "average" => Reduce::Average,
            "sum" => Reduce::Sum,
            other => return Err(format!("line {line}: unknown source {other:?}")),
        };
        let values = row
            .get("values")
            .split(',')
            .map(|w| {
                w.strip_prefix("0x")
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .map(StorageNumber::from_bits)
                    .ok_or_else(|| format!("line {line}: bad word {w:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if values.len() != ring.entries() {
            return Err(format!(
                "line {line}: {} values for {} entries",
                values.len(),
                ring.entries()
            ));
        }
        let mut ok = report.expect_eq(
            line,
            "db_first_t",
            ring.first_time(),
            num(&row, "db_first_t")?,
        );
        ok &= report.expect_eq(line, "db_last_t", ring.last_time(), num(&row, "db_last_t")?);
        let (after, before): (i64, i64) = (num(&row, "after_in")?, num(&row, "before_in")?);
        let Ok(window) = align(&ring, after, before) else {
            ok &= report.expect_eq(line, "status", "outside", row.get("status"));
            for column in [
                "first_timestamp",
                "last_timestamp",
                "start_slot",
                "end_slot",
            ] {
                ok &= report.expect_eq(line, column, -1, num::<i64>(&row, column)?);
            }
            ok &= report.expect_eq(
                line,
                "samples_counted",
                0,
                num::<usize>(&row, "samples_counted")?,
            );
            if ok {
                report.pass();
            }
            continue;
        };
        ok &= report.expect_eq(
            line,
            "first_timestamp",
            window.first_timestamp,
            num(&row, "first_timestamp")?,
        );
        ok &= report.expect_eq(
            line,
            "last_timestamp",
            window.last_timestamp,
            num(&row, "last_timestamp")?,
        );
        ok &= report.expect_eq(
            line,
            "start_slot",
            ring.time_to_slot(window.first_timestamp),
            num(&row, "start_slot")?,
        );
        ok &= report.expect_eq(
            line,
            "end_slot",
            ring.time_to_slot(window.last_timestamp),
            num(&row, "end_slot")?,
        );
        let reduction = reduce(&values, &ring, &window);
        ok &= report.expect_eq(
            line,
            "slots_visited",
            reduction.slots_visited,
            num(&row, "slots_visited")?,
        );
        ok &= report.expect_eq(
            line,
            "samples_counted",
            reduction.samples,
            num(&row, "samples_counted")?,
        );
        let value = match reduction.value(how) {
            Ok(v) => v,
            Err(Missing::NoValues) => {
                ok &= report.expect_eq(line, "status", "no_values", row.get("status"));
                ok &= report.expect_eq(line, "value_fmt7", "NAN", row.get("value_fmt7"));
                if ok {
                    report.pass();
                }
                continue;
            }
            Err(other) => {
                report.fail(line, format!("unexpected {other}"));
                continue;
            }
        };
        ok &= report.expect_eq(line, "status", "ok", row.get("status"));
        if !ok {
            continue;
        }
        let mut buf = DecimalBuffer::new();
        let ours = buf.format(value);
        let theirs = row.get("value_fmt7");
        if ours == theirs {
            report.pass();
            continue;
        }
        // Decide with exact arithmetic: the true result is S / c units.
        let sum = reduction.sum().map_err(|e| format!("line {line}: {e}"))?;
        let s = sum
            .signed_units()
            .ok_or_else(|| format!("line {line}: sum too large"))?;
        let c: i128 = match how {
            Reduce::Average => reduction.samples as i128,
            Reduce::Sum => 1,
        };
        let (Some(u_ours), Some(u_theirs)) = (units_of(ours), units_of(theirs)) else {
            report.fail(
                line,
                format!("value {ours:?} vs netdata {theirs:?}: unparsable"),
            );
            continue;
        };
        let d_ours = (u_ours * c - s).abs();
        let d_theirs = (u_theirs * c - s).abs();
        if d_ours < d_theirs {
            report.nearer += 1;
            report.lines.push(format!(
                "nearer: line {line}: backhaul {ours}, netdata {theirs}, exact {}/{c} units",
                s
            ));
            report.pass();
        } else if d_ours == d_theirs && u_ours % 2 == 0 && 2 * d_ours == c {
            report.ties += 1;
            report.lines.push(format!(
                "tie: line {line}: backhaul {ours} (half to even), netdata {theirs}, exact {s}/{c} units"
            ));
            report.pass();
        } else {
            report.fail(
                line,
                format!("value {ours}, netdata {theirs}, exact {s}/{c} units"),
            );
        }
    }
    Ok(())
}
