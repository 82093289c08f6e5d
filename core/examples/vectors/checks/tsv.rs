//! Reading the vector files: a header row, tab-separated cells, and the cell escapes.

/// A parsed vector file.
#[derive(Debug)]
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

/// One data row with its line number in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'t> {
    table: &'t Table,
    /// The 1-based line number of this row in the file.
    pub(crate) line: usize,
    cells: &'t [String],
}

impl Table {
    /// Parses a whole file. Every row must have as many cells as the header.
    ///
    /// # Errors
    ///
    /// An empty file or a row with the wrong number of cells.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines().enumerate();
        let header: Vec<String> = match lines.next() {
            Some((_, h)) => h.split('\t').map(str::to_owned).collect(),
            None => return Err("empty file: no header row".to_owned()),
        };
        let mut rows = Vec::new();
        for (i, line) in lines {
            if line.is_empty() {
                continue;
            }
            let cells: Vec<String> = line.split('\t').map(str::to_owned).collect();
            if cells.len() != header.len() {
                return Err(format!(
                    "line {}: {} cells, the header has {}",
                    i + 1,
                    cells.len(),
                    header.len()
                ));
            }
            rows.push((i + 1, cells));
        }
        Ok(Self { header, rows })
    }

    /// The index of a column.
    ///
    /// # Errors
    ///
    /// The column is not in the header.
    pub(crate) fn column(&self, name: &str) -> Result<usize, String> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("no column {name:?} in the header"))
    }

    /// Checks that all these columns exist.
    ///
    /// # Errors
    ///
    /// The first missing column.
    pub(crate) fn require(&self, names: &[&str]) -> Result<(), String> {
        names.iter().try_for_each(|n| self.column(n).map(drop))
    }

    /// The data rows.
    pub(crate) fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(move |(line, cells)| Row {
            table: self,
            line: *line,
            cells,
        })
    }
}

impl<'t> Row<'t> {
    /// The raw text of a cell. The column must exist (see [`Table::require`]).
    pub(crate) fn get(&self, column: &str) -> &'t str {
        let i = self
            .table
            .column(column)
            .expect("column checked by require()");
        &self.cells[i]
    }
}

/// Undoes the cell escaping of `names.tsv` and `simple_pattern.tsv`: `\xHH` is the byte
/// 0xHH and `\\` is one backslash; everything else stands for itself.
///
/// # Errors
///
/// A backslash followed by anything else, or bad hex digits.
pub(crate) fn unescape(cell: &str) -> Result<Vec<u8>, String> {
    let b = cell.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => {
                out.push(b'\\');
                i += 2;
            }
            Some(b'x') => {
                let hex = cell
                    .get(i + 2..i + 4)
                    .ok_or_else(|| format!("short \\x escape in {cell:?}"))?;
                let v = u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("bad \\x escape {hex:?} in {cell:?}"))?;
                out.push(v);
                i += 4;
            }
            _ => return Err(format!("bad escape in {cell:?}")),
        }
    }
    Ok(out)
}

/// Parses a C99 hex float as printed by `%a` (`0x1.8p+1`, `-0x0p+0`, `inf`, `nan`) into
/// the exact `f64` it denotes.
///
/// # Errors
///
/// Anything that is not such a number, or one that is not exactly an `f64`.
pub(crate) fn parse_hex_f64(cell: &str) -> Result<f64, String> {
    let (neg, rest) = match cell.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, cell),
    };
    let mag = match rest {
        "inf" | "INF" => f64::INFINITY,
        "nan" | "NAN" => f64::NAN,
        _ => {
            let (mant, exp) = parse_hex_parts(rest)?;
            exact_f64(mant, exp).ok_or_else(|| format!("{cell:?} is not exactly a double"))?
        }
    };
    Ok(if neg { -mag } else { mag })
}

/// Splits `0xH.HHHpE` (without sign) into an integer significand and a binary exponent.
///
/// # Errors
///
/// Malformed text or a significand of more than 64 bits.
pub(crate) fn parse_hex_parts(text: &str) -> Result<(u64, i32), String> {
    let body = text
        .strip_prefix("0x")
        .ok_or_else(|| format!("{text:?} is not a hex float"))?;
    let (digits, exp) = body
        .split_once('p')
        .ok_or_else(|| format!("{text:?} has no exponent"))?;
    let mut exp: i32 = exp.parse().map_err(|_| format!("{text:?}: bad exponent"))?;
    let mut mant: u64 = 0;
    let mut seen_dot = false;
    for c in digits.chars() {
        if c == '.' {
            seen_dot = true;
            continue;
        }
        let d = c
            .to_digit(16)
            .ok_or_else(|| format!("{text:?}: bad hex digit"))?;
        if mant >> 60 != 0 {
            return Err(format!("{text:?}: more than 64 significant bits"));
        }
        mant = mant << 4 | u64::from(d);
        if seen_dot {
            exp -= 4;
        }
    }
    Ok((mant, exp))
}

/// The `f64` equal to `mant * 2^exp`, if there is one.
pub(crate) fn exact_f64(mant: u64, exp: i32) -> Option<f64> {
    if mant == 0 {
        return Some(0.0);
    }
    let bits = 64 - mant.leading_zeros() as i32;
    let top = exp + bits - 1; // the binary exponent of the leading 1
    if top > 1023 {
        return None;
    }
    // Shift so that one unit is the value of the lowest significand bit:
    // 2^(top-52) for normal numbers, 2^-1074 for subnormal ones.
    let unit = if top >= -1022 { top - 52 } else { -1074 };
    let shift = unit - exp; // > 0: drop low bits (must be zero); < 0: add zeros
    let sig = if shift >= 0 {
        if shift >= 64 || mant & ((1u64 << shift) - 1) != 0 {
            return None;
        }
        mant >> shift
    } else {
        mant.checked_shl(u32::try_from(-shift).ok()?)?
    };
    if top >= -1022 {
        let biased = u64::try_from(top + 1023).ok()?;
        Some(f64::from_bits(biased << 52 | (sig & ((1u64 << 52) - 1))))
    } else {
        Some(f64::from_bits(sig))
    }
}
