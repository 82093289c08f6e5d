//! Metric-name helpers: the backend name sanitiser (spec §4.0) and the prometheus
//! name, label-value and units helpers (spec §4.9).
//!
//! Every helper works byte-wise (netdata runs in the C locale: bytes ≥ 0x80 are never
//! letters), writes into a caller buffer and returns how many bytes it wrote. None of
//! them fails: like netdata's, they *truncate* at a length limit, `usable`, whose
//! meaning is netdata's limit argument for that helper (it differs between helpers, see
//! each function).
//!
//! # Two limits
//!
//! The output is netdata's output for `usable`, and `out` is a second, hard limit:
//! if `out` is shorter than that output, only the prefix that fits is written (a label
//! escape `\x` is never split). Give `out` at least [`max_sanitized_len`],
//! [`max_label_len`] or [`max_units_len`] bytes of `usable` and the output is always
//! exactly netdata's.
//!
//! A formatter that must write a line whole or not at all can ask for the exact length
//! first: [`sanitized_len`], [`escaped_label_len`] and [`units_suffix_len`] compute it
//! without writing anything.
//!
//! netdata NUL-terminates its results; these helpers do not, and the terminator is not
//! part of any count here. The backend and prometheus name sanitisers and the units
//! suffix may write `usable` bytes (netdata's buffers hold `usable + 1`), the label
//! escaper keeps to `usable − 1` positions but completes an escape that starts on the
//! last one, so it too may write `usable` bytes.

/// The `usable` netdata passes to the backend name sanitiser: `RRD_ID_LENGTH_MAX`.
pub const BACKEND_NAME_USABLE: usize = 200;

/// The `usable` netdata passes to the prometheus name, label and units helpers in the
/// text exposition API and for remote-write labels.
pub const PROMETHEUS_USABLE: usize = 256;

/// Which spelling of units the prometheus units suffix uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UnitNames {
    /// The units as the chart gives them (the default).
    #[default]
    Current,
    /// The names used before netdata v1.12 (`oldunits=yes`), see [`old_units`].
    Old,
}

/// Copies a chart or dimension name for graphite and OpenTSDB: at most `usable` bytes
/// of `src`, every byte that is not ASCII `[A-Za-z0-9.]` replaced by `_`.
///
/// Returns the number of bytes written: `min(src.len(), usable)`, or less if `out` is
/// shorter (see [`sanitized_len`] and [`max_sanitized_len`]). netdata uses
/// [`BACKEND_NAME_USABLE`].
///
/// # Examples
///
/// ```
/// use backhaul_core::name::{sanitize_backend, BACKEND_NAME_USABLE};
///
/// let mut out = [0u8; BACKEND_NAME_USABLE];
/// let n = sanitize_backend(b"disk_util.vg0-root", BACKEND_NAME_USABLE, &mut out);
/// assert_eq!(&out[..n], b"disk_util.vg0_root");
/// ```
pub fn sanitize_backend(src: &[u8], usable: usize, out: &mut [u8]) -> usize {
    copy_mapped(src, usable, out, |b| BACKEND_TABLE[usize::from(b)])
}

/// [`sanitize_backend`]'s byte map as a table.
pub(crate) const BACKEND_TABLE: [u8; 256] = {
    let mut table = [b'_'; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || b == b'.' {
            table[i] = b;
        }
        i += 1;
    }
    table
};

/// [`sanitize_prometheus`]'s byte map as a table.
const PROMETHEUS_TABLE: [u8; 256] = {
    let mut table = [b'_'; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() {
            table[i] = b;
        }
        i += 1;
    }
    table
};

/// Copies a name for prometheus (a metric name part or a label name): at most `usable`
/// bytes of `src`, every byte that is not ASCII alphanumeric replaced by `_` (so `.`
/// becomes `_` too).
///
/// Returns the number of bytes written, as [`sanitize_backend`]. netdata uses
/// [`PROMETHEUS_USABLE`].
///
/// # Examples
///
/// ```
/// use backhaul_core::name::{sanitize_prometheus, PROMETHEUS_USABLE};
///
/// let mut out = [0u8; PROMETHEUS_USABLE];
/// let n = sanitize_prometheus(b"system.cpu", PROMETHEUS_USABLE, &mut out);
/// assert_eq!(&out[..n], b"system_cpu");
/// ```
pub fn sanitize_prometheus(src: &[u8], usable: usize, out: &mut [u8]) -> usize {
    copy_mapped(src, usable, out, |b| PROMETHEUS_TABLE[usize::from(b)])
}

/// The exact length [`sanitize_backend`] and [`sanitize_prometheus`] produce for `src`
/// given a large enough `out`: `min(src.len(), usable)`.
#[must_use]
pub const fn sanitized_len(src: &[u8], usable: usize) -> usize {
    if src.len() < usable {
        src.len()
    } else {
        usable
    }
}

/// The most bytes [`sanitize_backend`] and [`sanitize_prometheus`] write for `usable`:
/// `usable` itself.
#[must_use]
pub const fn max_sanitized_len(usable: usize) -> usize {
    usable
}

/// Escapes a prometheus label value: copies `src`, inserting `\` before `"`, `\` and
/// newline (the newline itself stays a raw newline, as in netdata).
///
/// `usable` is netdata's buffer size, terminator included: the copy stops once
/// `usable − 1` bytes are written, but an escape begun on the last position is
/// completed, so up to `usable` bytes may be written (none when `usable` is 0 or 1).
/// netdata uses [`PROMETHEUS_USABLE`].
///
/// Returns the number of bytes written. If `out` is too short (see
/// [`escaped_label_len`] and [`max_label_len`]) the copy stops before the first byte,
/// or escape pair, that does not fit.
///
/// # Examples
///
/// ```
/// use backhaul_core::name::escape_label;
///
/// let mut out = [0u8; 16];
/// let n = escape_label(br#"fam "q""#, 256, &mut out);
/// assert_eq!(&out[..n], br#"fam \"q\""#);
///
/// // A budget of 2 positions: `a`, then the escape of `"` is completed.
/// let n = escape_label(br#"a"b"#, 3, &mut out);
/// assert_eq!(&out[..n], br#"a\""#);
/// ```
pub fn escape_label(src: &[u8], usable: usize, out: &mut [u8]) -> usize {
    let mut cut = Cut::new(out);
    write_label(src, usable, &mut cut);
    cut.written
}

/// The exact length [`escape_label`] produces for `src` given a large enough `out`.
#[must_use]
pub fn escaped_label_len(src: &[u8], usable: usize) -> usize {
    let mut cut = Cut::new(&mut []);
    write_label(src, usable, &mut cut);
    cut.len
}

/// The most bytes [`escape_label`] writes for `usable`: `usable` for 2 and more (an
/// escape begun on the last of the `usable − 1` positions is completed), 0 below.
#[must_use]
pub const fn max_label_len(usable: usize) -> usize {
    if usable < 2 {
        0
    } else {
        usable
    }
}

/// Builds the units part of a prometheus metric name (`_percentage`, `_KiB_persec`).
///
/// With [`UnitNames::Old`] the whole `units` string is first replaced by its pre-v1.12
/// name when it has one ([`old_units`]). Then `_` is written, followed by the units
/// with every non-alphanumeric byte turned into `_`, while the output is shorter than
/// `usable` (the `_` is always written). Then two of netdata's rewrites apply, both
/// cut at `usable` bytes:
///
/// * if exactly one units byte was copied and the units start with `%`, the result is
///   `_percent`;
/// * otherwise, if more than two units bytes were copied and the last two copied are
///   `/s`, those two output bytes become `_persec`.
///
/// The rewrites look at the *copied* bytes, so a truncation can create one (`KiB/sec`
/// with `usable` 6 gives `_KiB_p`), exactly as netdata does.
///
/// Returns the number of bytes written; `out` cuts the result as for the other helpers
/// (see [`units_suffix_len`] and [`max_units_len`]).
///
/// # Examples
///
/// ```
/// use backhaul_core::name::{units_suffix, UnitNames, PROMETHEUS_USABLE};
///
/// let mut out = [0u8; PROMETHEUS_USABLE];
/// let n = units_suffix(b"KiB/s", PROMETHEUS_USABLE, UnitNames::Current, &mut out);
/// assert_eq!(&out[..n], b"_KiB_persec");
/// let n = units_suffix(b"KiB/s", PROMETHEUS_USABLE, UnitNames::Old, &mut out);
/// assert_eq!(&out[..n], b"_kilobytes_persec");
/// let n = units_suffix(b"%", PROMETHEUS_USABLE, UnitNames::Current, &mut out);
/// assert_eq!(&out[..n], b"_percent");
/// ```
pub fn units_suffix(units: &[u8], usable: usize, names: UnitNames, out: &mut [u8]) -> usize {
    let mut cut = Cut::new(out);
    write_units(units, usable, names, &mut cut);
    cut.written
}

/// The exact length [`units_suffix`] produces given a large enough `out`.
#[must_use]
pub fn units_suffix_len(units: &[u8], usable: usize, names: UnitNames) -> usize {
    let mut cut = Cut::new(&mut []);
    write_units(units, usable, names, &mut cut);
    cut.len
}

/// The most bytes [`units_suffix`] writes for `usable`: `usable`, but at least 1 (the
/// leading `_` is written whatever the limit).
#[must_use]
pub const fn max_units_len(usable: usize) -> usize {
    if usable < 1 {
        1
    } else {
        usable
    }
}

/// The units netdata used before v1.12 for `units`, or `units` itself when the table
/// has no entry for it (exact, case-sensitive match of the whole string).
///
/// # Examples
///
/// ```
/// use backhaul_core::name::old_units;
///
/// assert_eq!(old_units(b"faults/s"), b"page faults/s");
/// assert_eq!(old_units(b"KiB/sec"), b"KiB/sec");
/// ```
#[must_use]
pub fn old_units(units: &[u8]) -> &[u8] {
    OLD_UNITS
        .iter()
        .find(|(current, _)| *current == units)
        .map_or(units, |(_, old)| *old)
}

/// The pre-v1.12 units table: (current name, old name).
const OLD_UNITS: [(&[u8], &[u8]); 11] = [
    (b"KiB/s", b"kilobytes/s"),
    (b"MiB/s", b"MB/s"),
    (b"GiB/s", b"GB/s"),
    (b"KiB", b"KB"),
    (b"MiB", b"MB"),
    (b"GiB", b"GB"),
    (b"inodes", b"Inodes"),
    (b"percentage", b"percent"),
    (b"faults/s", b"page faults/s"),
    (b"KiB/operation", b"kilobytes per operation"),
    (b"milliseconds/operation", b"ms per operation"),
];

/// Copies at most `usable` bytes of `src` through `map` into `out`, as far as it fits.
fn copy_mapped(src: &[u8], usable: usize, out: &mut [u8], map: impl Fn(u8) -> u8) -> usize {
    let n = src.len().min(usable).min(out.len());
    let (Some(src), Some(out)) = (src.get(..n), out.get_mut(..n)) else {
        return 0; // unreachable: n is at most both lengths
    };
    for (slot, &b) in out.iter_mut().zip(src) {
        *slot = map(b);
    }
    n
}

/// The label escaper, written through `cut` so that one body serves both writing and
/// measuring.
fn write_label(src: &[u8], usable: usize, cut: &mut Cut<'_>) {
    let budget = usable.saturating_sub(1);
    for &b in src {
        if cut.len >= budget {
            break;
        }
        if matches!(b, b'"' | b'\\' | b'\n') {
            cut.push_pair(b'\\', b);
        } else {
            cut.push(b);
        }
    }
}

/// The units suffix builder, written through `cut` (see [`write_label`]) in pieces: a
/// table-mapped copy and literals, not byte by byte.
fn write_units(units: &[u8], usable: usize, names: UnitNames, cut: &mut Cut<'_>) {
    let units = match names {
        UnitNames::Current => units,
        UnitNames::Old => old_units(units),
    };
    // netdata copies units bytes while the output, `_` included, is shorter than usable.
    let copied = units.get(..usable.saturating_sub(1)).unwrap_or(units);
    if copied == b"%" {
        let percent = b"_percent";
        cut.push_bytes(percent.get(..usable).unwrap_or(percent));
    } else if let Some(head) = copied.strip_suffix(b"/s").filter(|h| !h.is_empty()) {
        cut.push_bytes(b"_");
        cut.push_mapped(head, &PROMETHEUS_TABLE);
        // `_persec` is cut where the whole suffix reaches `usable`.
        let persec = b"_persec";
        let room = usable.saturating_sub(cut.len);
        cut.push_bytes(persec.get(..room).unwrap_or(persec));
    } else {
        cut.push_bytes(b"_");
        cut.push_mapped(copied, &PROMETHEUS_TABLE);
    }
}

/// A writer that keeps the prefix of its output that fits in `out`, and the length the
/// whole output would have had.
#[derive(Debug)]
struct Cut<'o> {
    out: &'o mut [u8],
    /// Bytes written to `out`; once something did not fit, nothing more is written.
    written: usize,
    /// The length of the whole output.
    len: usize,
    full: bool,
}

impl<'o> Cut<'o> {
    fn new(out: &'o mut [u8]) -> Self {
        Self {
            out,
            written: 0,
            len: 0,
            full: false,
        }
    }

    fn push(&mut self, b: u8) {
        self.len = self.len.saturating_add(1);
        if self.full {
            return;
        }
        match self.out.get_mut(self.written) {
            Some(slot) => {
                *slot = b;
                self.written += 1;
            }
            None => self.full = true,
        }
    }

    /// [`push`](Self::push) of every byte of `src`, in one copy.
    fn push_bytes(&mut self, src: &[u8]) {
        self.push_with(src, |b| b);
    }

    /// [`push`](Self::push) of every byte of `src` through the byte map `table`.
    fn push_mapped(&mut self, src: &[u8], table: &[u8; 256]) {
        self.push_with(src, |b| table[usize::from(b)]);
    }

    /// What fits of `src` through `map`; once a byte does not fit, the writer is full.
    #[inline]
    fn push_with(&mut self, src: &[u8], map: impl Fn(u8) -> u8) {
        self.len = self.len.saturating_add(src.len());
        if self.full {
            return;
        }
        let rest = self.out.get_mut(self.written..).unwrap_or(&mut []);
        let n = src.len().min(rest.len());
        for (d, &b) in rest.iter_mut().zip(src) {
            *d = map(b);
        }
        self.written += n;
        self.full = n < src.len();
    }

    /// Writes both bytes or, if they do not both fit, neither.
    fn push_pair(&mut self, a: u8, b: u8) {
        self.len = self.len.saturating_add(2);
        if self.full {
            return;
        }
        match self
            .out
            .get_mut(self.written..)
            .and_then(|rest| rest.get_mut(..2))
        {
            Some([x, y]) => {
                *x = a;
                *y = b;
                self.written += 2;
            }
            _ => self.full = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        escape_label, escaped_label_len, max_label_len, max_sanitized_len, max_units_len,
        old_units, sanitize_backend, sanitize_prometheus, sanitized_len, units_suffix,
        units_suffix_len, UnitNames, BACKEND_NAME_USABLE, PROMETHEUS_USABLE,
    };

    /// The largest output any helper writes in these tests.
    const BUF: usize = 512;

    /// `name: helper(input, usable) => expected;` checks the output bytes, that the
    /// exact-length function agrees, and that the output stays within the maximum.
    macro_rules! cases {
        ($($name:ident: $helper:ident($input:expr, $usable:expr $(, $names:ident)?) => $want:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    let mut out = [0u8; BUF];
                    let n = cases!(@call $helper, $input, $usable, &mut out $(, $names)?);
                    assert_eq!(&out[..n], &$want[..]);
                }
            )*
        };
        (@call units_suffix, $input:expr, $usable:expr, $out:expr, $names:ident) => {{
            let n = units_suffix($input, $usable, UnitNames::$names, $out);
            assert_eq!(n, units_suffix_len($input, $usable, UnitNames::$names));
            assert!(n <= max_units_len($usable));
            n
        }};
        (@call escape_label, $input:expr, $usable:expr, $out:expr) => {{
            let n = escape_label($input, $usable, $out);
            assert_eq!(n, escaped_label_len($input, $usable));
            assert!(n <= max_label_len($usable));
            n
        }};
        (@call $helper:ident, $input:expr, $usable:expr, $out:expr) => {{
            let n = $helper($input, $usable, $out);
            assert_eq!(n, sanitized_len($input, $usable));
            assert!(n <= max_sanitized_len($usable));
            n
        }};
    }

    cases! {
        backend_spec: sanitize_backend(b"disk_util.vg0-root", 200) => b"disk_util.vg0_root";
        backend_keeps_dot: sanitize_backend(b"a.b", 200) => b"a.b";
        backend_high_bytes: sanitize_backend("°C".as_bytes(), 200) => b"__C";
        backend_truncates: sanitize_backend(b"system.cpu", 7) => b"system.";
        backend_zero: sanitize_backend(b"abc", 0) => b"";
        backend_empty: sanitize_backend(b"", 200) => b"";
        prom_spec: sanitize_prometheus(b"system.cpu", 256) => b"system_cpu";
        prom_symbols: sanitize_prometheus(b"a-b c/d\"e", 256) => b"a_b_c_d_e";
        prom_truncates: sanitize_prometheus(b"system.cpu", 8) => b"system_c";
        label_plain: escape_label(b"system.cpu", 256) => b"system.cpu";
        label_quote: escape_label(b"a\"b", 256) => b"a\\\"b";
        label_backslash: escape_label(b"a\\b", 256) => b"a\\\\b";
        label_newline_raw: escape_label(b"a\nb", 256) => b"a\\\nb";
        label_budget: escape_label(b"system.cpu", 5) => b"syst";
        label_zero: escape_label(b"abc", 0) => b"";
        label_one: escape_label(b"abc", 1) => b"";
        label_escape_completed: escape_label(b"a\"b\"c", 3) => b"a\\\"";
        label_escape_counts: escape_label(b"a\"b\"c", 4) => b"a\\\"";
        label_escape_end: escape_label(b"a\"b\"c", 6) => b"a\\\"b\\\"";
        units_plain: units_suffix(b"percentage", 256, Current) => b"_percentage";
        units_percent: units_suffix(b"%", 256, Current) => b"_percent";
        units_percent_cut: units_suffix(b"%", 4, Current) => b"_per";
        units_percent_too_short: units_suffix(b"%", 1, Current) => b"_";
        units_persec: units_suffix(b"KiB/s", 256, Current) => b"_KiB_persec";
        units_persec_cut: units_suffix(b"KiB/s", 7, Current) => b"_KiB_pe";
        units_truncation_makes_persec: units_suffix(b"KiB/sec", 6, Current) => b"_KiB_p";
        units_slash_s_alone: units_suffix(b"/s", 256, Current) => b"__s";
        units_percent_persec: units_suffix(b"%/s", 256, Current) => b"___persec";
        units_utf8: units_suffix("°C".as_bytes(), 256, Current) => b"___C";
        units_empty: units_suffix(b"", 256, Current) => b"_";
        units_zero: units_suffix(b"KiB", 0, Current) => b"_";
        units_old_percent: units_suffix(b"percentage", 256, Old) => b"_percent";
        units_old_persec: units_suffix(b"KiB/s", 256, Old) => b"_kilobytes_persec";
        units_old_cut: units_suffix(b"KiB/s", 2, Old) => b"_k";
        units_old_faults: units_suffix(b"faults/s", 256, Old) => b"_page_faults_persec";
        units_old_operation: units_suffix(b"milliseconds/operation", 256, Old) => b"_ms_per_operation";
        units_old_unknown: units_suffix(b"KiB/sec", 256, Old) => b"_KiB_sec";
    }

    /// The first units suffix builder, byte by byte through the cutting writer: the
    /// oracle of the one written in pieces.
    fn units_by_bytes(units: &[u8], usable: usize, names: UnitNames, out: &mut [u8]) -> usize {
        let mut cut = super::Cut::new(out);
        let units = match names {
            UnitNames::Current => units,
            UnitNames::Old => old_units(units),
        };
        let copied = units.get(..usable.saturating_sub(1)).unwrap_or(units);
        let sanitized = |b: u8| if b.is_ascii_alphanumeric() { b } else { b'_' };
        if copied == b"%" {
            for &b in b"_percent".iter().take(usable) {
                cut.push(b);
            }
        } else if let Some(head) = copied.strip_suffix(b"/s").filter(|h| !h.is_empty()) {
            cut.push(b'_');
            for &b in head {
                cut.push(sanitized(b));
            }
            for &b in b"_persec" {
                if cut.len >= usable {
                    break;
                }
                cut.push(b);
            }
        } else {
            cut.push(b'_');
            for &b in copied {
                cut.push(sanitized(b));
            }
        }
        cut.written
    }

    /// `units_suffix` writes what the byte-by-byte builder writes, for any units, limit
    /// and room (units from the rewrite table's words, `/s`,
    /// `%` and odd bytes, so that all three cases and every cut are reached).
    #[test]
    fn units_suffix_pieces_match_the_byte_builder() {
        const PARTS: &[&[u8]] = &[
            b"KiB",
            b"/s",
            b"%",
            b"/",
            b"s",
            b"faults",
            b"percentage",
            b" ",
            b"\xc2\xb0",
            b"a",
            b"operation",
            b"",
            b"milliseconds/operation",
        ];
        let mut rng = crate::format::testkit::Rng(7);
        let mut next = || rng.next();
        for _ in 0..20_000 {
            let mut units = [0u8; 96];
            let mut len = 0;
            for _ in 0..next() % 4 {
                let part = PARTS[(next() % PARTS.len() as u64) as usize];
                units[len..len + part.len()].copy_from_slice(part);
                len += part.len();
            }
            let units = &units[..len];
            let usable = (next() % 40) as usize;
            let room = (next() % 40) as usize;
            for names in [UnitNames::Current, UnitNames::Old] {
                let (mut fast, mut slow) = ([0xa5u8; 64], [0xa5u8; 64]);
                let n = units_suffix(units, usable, names, &mut fast[..room]);
                let m = units_by_bytes(units, usable, names, &mut slow[..room]);
                assert_eq!((n, &fast[..]), (m, &slow[..]), "{units:?} {usable} {room}");
            }
        }
    }

    #[test]
    fn old_units_table() {
        assert_eq!(old_units(b"KiB/operation"), b"kilobytes per operation");
        assert_eq!(old_units(b"inodes"), b"Inodes");
        assert_eq!(old_units(b"kib"), b"kib");
        assert_eq!(old_units(b""), b"");
    }

    #[test]
    fn short_out_keeps_a_prefix() {
        let mut out = [0u8; 4];
        assert_eq!(
            sanitize_backend(b"system.cpu", BACKEND_NAME_USABLE, &mut out),
            4
        );
        assert_eq!(&out, b"syst");
        // An escape pair is never split.
        let mut out = [0u8; 2];
        assert_eq!(escape_label(b"a\"", PROMETHEUS_USABLE, &mut out), 1);
        assert_eq!(&out[..1], b"a");
        let mut out = [0u8; 5];
        let n = units_suffix(b"KiB/s", PROMETHEUS_USABLE, UnitNames::Current, &mut out);
        assert_eq!(&out[..n], b"_KiB_");
        assert_eq!(
            units_suffix(b"%", PROMETHEUS_USABLE, UnitNames::Current, &mut []),
            0
        );
    }

    #[test]
    fn maxima_are_reached() {
        for usable in 2..300 {
            // `usable - 2` plain bytes, then an escape begun on the last position.
            let mut src = [b'a'; 300];
            src[usable - 2] = b'"';
            let src = &src[..usable - 1];
            assert_eq!(escaped_label_len(src, usable), max_label_len(usable));
        }
        assert_eq!(escaped_label_len(b"\\", 1), max_label_len(1));
        assert_eq!(units_suffix_len(&[b'a'; 300], 256, UnitNames::Current), 256);
        assert_eq!(units_suffix_len(b"x/s", 5, UnitNames::Current), 5);
        assert_eq!(
            units_suffix_len(b"a", 0, UnitNames::Current),
            max_units_len(0)
        );
    }
}
