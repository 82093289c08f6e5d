//! The line formats a stream destination can speak, as one record-format type.

use backhaul_core::engine::RecordFormat;
use backhaul_core::format::chart::ChartCache;
use backhaul_core::format::remote_write::RemoteWriteFormat;
use backhaul_core::format::{bson, graphite, json, opentsdb, BufferFull, Record};

/// A stream format: Graphite plaintext, OpenTSDB telnet or JSON lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wire {
    /// `prefix.host.chart.dimension value timestamp`.
    Graphite,
    /// `put prefix.chart.dimension timestamp value host=…`.
    OpenTsdb,
    /// One JSON object per line.
    Json,
    /// OpenTSDB HTTP: one JSON object per data point, in a JSON array per request.
    OpenTsdbHttp,
    /// Prometheus remote write: one protobuf `TimeSeries` per record.
    RemoteWrite(RemoteWriteFormat),
    /// MongoDB: one BSON document per record (the JSON line's fields).
    Bson,
}

impl Wire {
    /// The name used by `--print` and in logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Graphite => "graphite",
            Self::OpenTsdb => "opentsdb",
            Self::Json => "json",
            Self::OpenTsdbHttp => "opentsdb:http",
            Self::RemoteWrite(_) => "prometheus_remote_write",
            Self::Bson => "mongodb",
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
            Self::OpenTsdbHttp => opentsdb::write_object(record, out),
            Self::RemoteWrite(f) => f.write(record, out),
            Self::Bson => bson::write_document(record, out),
        }
    }

    /// The same bytes as `write`, from each chart's prepared part (see
    /// `backhaul_core::format::chart`): what the engine calls.
    fn write_cached(
        &self,
        cache: &mut ChartCache,
        record: &Record<'_>,
        out: &mut [u8],
    ) -> Result<usize, BufferFull> {
        match self {
            Self::Graphite => cache.write(&graphite::Graphite, record, out),
            Self::OpenTsdb => cache.write(&opentsdb::Telnet, record, out),
            Self::Json => cache.write(&json::Json, record, out),
            Self::OpenTsdbHttp => cache.write(&opentsdb::HttpObject, record, out),
            Self::RemoteWrite(f) => cache.write(f, record, out),
            Self::Bson => bson::write_document(record, out),
        }
    }
}
