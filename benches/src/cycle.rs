//! One export cycle of the population into one pre-sized buffer, as a benchmark runs it,
//! and the checksums `anchors/baseline checksum` prints.

use backhaul_core::engine::RecordFormat;
use backhaul_core::format::chart::ChartCache;
use backhaul_core::format::graphite::Graphite;
use backhaul_core::format::json::Json;
use backhaul_core::format::opentsdb::Telnet;
use backhaul_core::format::{graphite, json, opentsdb, BufferFull, DimensionMeta, Record, Value};
use backhaul_core::window::{Missing, Reduce, Span};

use crate::population::{Population, Source, AFTER, BEFORE, METRICS};

/// A formatter: writes one whole record at the start of `out`, or nothing.
pub type LineFn = fn(&Record<'_>, &mut [u8]) -> Result<usize, BufferFull>;

/// A wire format of the C baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Graphite plaintext.
    Graphite,
    /// OpenTSDB telnet `put` lines.
    Opentsdb,
    /// netdata's JSON lines.
    Json,
}

impl Format {
    /// backhaul's formatter for one line of this format.
    #[must_use]
    pub fn line(self) -> LineFn {
        match self {
            Self::Graphite => graphite::write,
            Self::Opentsdb => opentsdb::write,
            Self::Json => json::write,
        }
    }
}

/// An export mode of the C baseline: a format and a value source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mode {
    /// The wire format.
    pub format: Format,
    /// Stored averages or collected values.
    pub source: Source,
}

impl Mode {
    /// Every mode, in the order `baseline checksum` prints them.
    pub const ALL: [Self; 6] = [
        Self::new(Format::Graphite, Source::Stored),
        Self::new(Format::Graphite, Source::Collected),
        Self::new(Format::Opentsdb, Source::Stored),
        Self::new(Format::Opentsdb, Source::Collected),
        Self::new(Format::Json, Source::Stored),
        Self::new(Format::Json, Source::Collected),
    ];

    /// A mode.
    #[must_use]
    pub const fn new(format: Format, source: Source) -> Self {
        Self { format, source }
    }

    /// The mode's name in the C baseline, e.g. `graphite_stored`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match (self.format, self.source) {
            (Format::Graphite, Source::Stored) => "graphite_stored",
            (Format::Graphite, Source::Collected) => "graphite_collected",
            (Format::Opentsdb, Source::Stored) => "opentsdb_stored",
            (Format::Opentsdb, Source::Collected) => "opentsdb_collected",
            (Format::Json, Source::Stored) => "json_stored",
            (Format::Json, Source::Collected) => "json_collected",
        }
    }

    /// The mode called `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// An output buffer: pre-sized, initialised bytes and a fill level. Each record is
/// formatted straight into the free tail; the buffer only grows (doubling) when a record
/// does not fit, so after the first cycle it never allocates again.
#[derive(Clone, Debug, Default)]
pub struct Output {
    buf: Vec<u8>,
    len: usize,
}

/// No record of any format comes near this; a formatter that reports a full buffer with
/// this much room free is broken.
const MAX_RECORD: usize = 64 * 1024;

/// The bytes per metric [`Output::for_cycle`] reserves: more than any line of the
/// population takes in any format (JSON lines are about 280 bytes).
pub const CYCLE_BYTES_PER_METRIC: usize = 512;

impl Output {
    /// An empty buffer large enough for one export cycle of the population in any mode.
    #[must_use]
    pub fn for_cycle() -> Self {
        Self::with_capacity(METRICS * CYCLE_BYTES_PER_METRIC)
    }

    /// An empty buffer with `capacity` bytes ready.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: vec![0; capacity],
            len: 0,
        }
    }

    /// Forgets the content, keeps the memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The bytes written so far.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// How many bytes were written.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes the buffer holds without growing.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Appends one record with `line`, growing the buffer if it does not fit. Returns the
    /// record's length.
    ///
    /// # Panics
    ///
    /// If `line` reports [`BufferFull`] with 64 KiB free.
    pub fn push<F>(&mut self, mut line: F, record: &Record<'_>) -> usize
    where
        F: FnMut(&Record<'_>, &mut [u8]) -> Result<usize, BufferFull>,
    {
        loop {
            match line(record, &mut self.buf[self.len..]) {
                Ok(n) => {
                    self.len += n;
                    return n;
                }
                Err(BufferFull) => {
                    let free = self.buf.len() - self.len;
                    assert!(free < MAX_RECORD, "the formatter rejects {free} free bytes");
                    let grown = (2 * self.buf.len()).max(self.len + MAX_RECORD);
                    self.buf.resize(grown, 0);
                }
            }
        }
    }
}

/// One export cycle `(AFTER, BEFORE]` of `source` records formatted by `format` into
/// `out` (cleared first). Returns the number of records written.
///
/// The records are exactly [`Population::cycle_records`]'s, built the way the engine
/// builds them: the host and chart metadata and the window's [`Span`] once per chart,
/// then per dimension the window's average read from the ring (stored) or the last
/// collected value; each is
/// written with [`RecordFormat::write_cached`] and one [`ChartCache`] per cycle, as the
/// engine writes them (so a format with a chart part prepares it once per chart).
pub fn export_with<F: RecordFormat>(
    pop: &Population,
    source: Source,
    format: &F,
    out: &mut Output,
) -> usize {
    out.clear();
    let mut cache = ChartCache::new();
    let mut n = 0;
    for chart in &pop.charts {
        let mut record = Record {
            host: pop.host(),
            chart: chart.meta(),
            dimension: DimensionMeta { id: "", name: "" },
            names: pop.names,
            value: Value::Collected(0),
            timestamp: 0,
        };
        // The window and its slots, once per chart (as the engine works them out once
        // per ring state).
        let span = match source {
            Source::Stored => Span::new(&chart.ring, AFTER, BEFORE),
            Source::Collected => Err(Missing::Outside),
        };
        for dim in &chart.dimensions {
            if dim.collected_at < AFTER {
                continue;
            }
            (record.value, record.timestamp) = match source {
                Source::Stored => {
                    match span.and_then(|s| Ok((s.value(&dim.values, Reduce::Average)?, s))) {
                        Ok((avg, s)) => (Value::Stored(avg), s.window().last_timestamp),
                        Err(_) => continue,
                    }
                }
                Source::Collected => (Value::Collected(dim.collected), dim.collected_at),
            };
            record.dimension = DimensionMeta {
                id: &dim.id,
                name: &dim.name,
            };
            out.push(|r, o| format.write_cached(&mut cache, r, o), &record);
            n += 1;
        }
    }
    n
}

/// One export cycle `(AFTER, BEFORE]` of `mode` with backhaul's formatters into `out`
/// (cleared first). Returns the number of records written.
pub fn export(pop: &Population, mode: Mode, out: &mut Output) -> usize {
    match mode.format {
        Format::Graphite => export_with(pop, mode.source, &Graphite, out),
        Format::Opentsdb => export_with(pop, mode.source, &Telnet, out),
        Format::Json => export_with(pop, mode.source, &Json, out),
    }
}

/// FNV-1a 64 of `bytes`, as `baseline checksum` computes it.
#[must_use]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The two lines `baseline checksum` prints for one mode's output.
#[must_use]
pub fn checksum_lines(mode: Mode, output: &[u8]) -> String {
    let name = mode.name();
    format!(
        "{name}_output_bytes {}\n{name}_output_fnv1a64 {:016x}\n",
        output.len(),
        fnv1a64(output)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn mode_names_round_trip() {
        for mode in Mode::ALL {
            assert_eq!(Mode::from_name(mode.name()), Some(mode));
        }
        assert_eq!(Mode::from_name("graphite"), None);
    }

    fn tiny(record: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull> {
        let line = format!("{}\n", record.dimension.name);
        let dst = out.get_mut(..line.len()).ok_or(BufferFull)?;
        dst.copy_from_slice(line.as_bytes());
        Ok(line.len())
    }

    #[test]
    fn output_grows_and_keeps_whole_records() {
        let pop = crate::population::shared();
        let mut out = Output::with_capacity(3);
        let n = export_with(pop, Source::Collected, &tiny, &mut out);
        assert_eq!(n, METRICS);
        assert!(out.as_bytes().starts_with(b"user\nsystem\nnice\n"));
        let cap = out.capacity();
        export_with(pop, Source::Collected, &tiny, &mut out);
        assert_eq!(out.capacity(), cap);
    }
}
