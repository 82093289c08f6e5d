//! Checks for `pattern` vector files.

use backhaul_core::pattern::SimplePattern;

use super::{tsv, Report, Table};

/// Checks every row of a `pattern` file: `pattern` matched against `string` must give
/// `matches` (`1` or `0`).
pub(crate) fn pattern(table: &Table, report: &mut Report) -> Result<(), String> {
    table.require(&["pattern", "string", "matches"])?;
    for row in table.rows() {
        let cells = (
            tsv::unescape(row.get("pattern")),
            tsv::unescape(row.get("string")),
            row.get("matches"),
        );
        let (pattern, string, want) = match cells {
            (Ok(p), Ok(s), "1") => (p, s, true),
            (Ok(p), Ok(s), "0") => (p, s, false),
            (Err(e), _, _) | (_, Err(e), _) => {
                report.fail(row.line, e);
                continue;
            }
            (_, _, other) => {
                report.fail(row.line, format!("matches is {other:?}, not 1 or 0"));
                continue;
            }
        };
        let p = SimplePattern::new(&pattern);
        let verdict = p.evaluate(&string);
        if p.matches(&string) == want {
            report.pass();
        } else {
            report.fail(
                row.line,
                format!(
                    "pattern \"{}\" on \"{}\": got {verdict:?}, want {}",
                    pattern.escape_ascii(),
                    string.escape_ascii(),
                    if want { "a match" } else { "no match" },
                ),
            );
        }
    }
    Ok(())
}
