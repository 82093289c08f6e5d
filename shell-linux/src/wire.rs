//! The line formats a stream destination can speak, as one record-format type.

use backhaul_core::engine::RecordFormat;
use backhaul_core::format::{graphite, json, opentsdb, BufferFull, Record};

/// A stream format: Graphite plaintext, OpenTSDB telnet or JSON lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wire {
    /// `prefix.host.chart.dimension value timestamp`.
    Graphite,
    /// `put prefix.chart.dimension timestamp value host=…`.
    OpenTsdb,
    /// One JSON object per line.
    Json,
}

impl Wire {
    /// The name used by `--print` and in logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Graphite => "graphite",
            Self::OpenTsdb => "opentsdb",
            Self::Json => "json",
        }
    }

    /// Parses a `--print` argument.
    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "graphite" => Some(Self::Graphite),
            "opentsdb" => Some(Self::OpenTsdb),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

impl RecordFormat for Wire {
    fn write(&self, record: &Record<'_>, out: &mut [u8]) -> Result<usize, BufferFull> {
        match self {
            Self::Graphite => graphite::write(record, out),
            Self::OpenTsdb => opentsdb::write(record, out),
            Self::Json => json::write(record, out),
        }
    }
}
