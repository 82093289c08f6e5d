//! The population through backhaul's other wire formats: Prometheus remote write (a
//! protobuf `WriteRequest`, then snappy) and the Prometheus text exposition.
//!
//! Like [`cycle`](crate::cycle), every buffer is allocated once, up front: a cycle
//! allocates nothing.

use backhaul_core::config::DataSource;
use backhaul_core::engine::{RecordFormat, COMPRESSION_TABLE_LEN};
use backhaul_core::format::chart::ChartCache;
use backhaul_core::format::prometheus::{Exposition, PromChart, PromQuery};
use backhaul_core::format::remote_write::snappy::{self, Compressor};
use backhaul_core::format::remote_write::{
    push_record, Options, RemoteWriteFormat, SeriesKind, WriteRequestEncoder,
};
use backhaul_core::format::{DimensionMeta, Record};
use backhaul_core::window::Reduce;

use crate::cycle::CYCLE_BYTES_PER_METRIC;
use crate::population::{Population, Source, AFTER, BEFORE, METRICS};

/// One cycle's remote-write request: the records (the population's averages, computed
/// once), the protobuf request and its snappy block, compressed with the engine's table
/// size ([`COMPRESSION_TABLE_LEN`]), as the daemon compresses it.
#[derive(Debug)]
pub struct RemoteWrite<'p> {
    records: Vec<Record<'p>>,
    request: Vec<u8>,
    request_len: usize,
    body: Vec<u8>,
    body_len: usize,
    compressor: Box<Compressor<COMPRESSION_TABLE_LEN>>,
}

impl<'p> RemoteWrite<'p> {
    /// The averages of one export cycle of `pop`, and buffers large enough for their
    /// request and its compressed body.
    #[must_use]
    pub fn new(pop: &'p Population) -> Self {
        let records: Vec<Record<'p>> = pop.cycle_records(Source::Stored).collect();
        let request = vec![0; METRICS * CYCLE_BYTES_PER_METRIC];
        let body = vec![0; snappy::max_compressed_len(request.len())];
        Self {
            records,
            request,
            request_len: 0,
            body,
            body_len: 0,
            compressor: Box::new(Compressor::new()),
        }
    }

    /// The number of samples (series) in a request.
    #[must_use]
    pub fn samples(&self) -> usize {
        self.records.len()
    }

    /// The records of a request.
    #[must_use]
    pub fn records(&self) -> &[Record<'p>] {
        &self.records
    }

    /// Encodes every record as one `TimeSeries` (`average` series, default naming) into
    /// the request, as the engine does: with [`RemoteWriteFormat`] through
    /// [`RecordFormat::write_cached`] and one [`ChartCache`] (so each chart's labels are
    /// encoded once). Returns the request's length.
    ///
    /// # Panics
    ///
    /// If the request buffer is too small (it is sized for 512 bytes a series).
    pub fn encode(&mut self) -> usize {
        let format = RemoteWriteFormat {
            kind: SeriesKind::Stored(Reduce::Average),
            options: Options::new(),
        };
        let mut cache = ChartCache::new();
        let mut len = 0;
        for record in &self.records {
            len += format
                .write_cached(&mut cache, record, &mut self.request[len..])
                .expect("the request fits");
        }
        self.request_len = len;
        len
    }

    /// Encodes every record with [`push_record`] into a [`WriteRequestEncoder`], record
    /// by record (the same bytes as [`encode`](Self::encode)). Returns the request's
    /// length.
    ///
    /// # Panics
    ///
    /// If the request buffer is too small.
    pub fn encode_per_record(&mut self) -> usize {
        let mut encoder = WriteRequestEncoder::new(&mut self.request);
        let kind = SeriesKind::Stored(Reduce::Average);
        for record in &self.records {
            push_record(&mut encoder, record, kind, Options::new()).expect("the request fits");
        }
        self.request_len = encoder.finish();
        self.request_len
    }

    /// Compresses the request with snappy (2^14-entry table). Returns the body's length.
    ///
    /// # Panics
    ///
    /// Never: the body buffer has snappy's worst-case size.
    pub fn compress(&mut self) -> usize {
        let request = &self.request[..self.request_len];
        self.body_len = self
            .compressor
            .compress(request, &mut self.body)
            .expect("the body buffer has the worst-case size");
        self.body_len
    }

    /// Compresses the request with an empty hash table: an all-literal block, the cost of
    /// the copy alone (a floor for [`compress`](Self::compress)).
    ///
    /// # Panics
    ///
    /// Never: the body buffer has snappy's worst-case size.
    pub fn compress_literal(&mut self) -> usize {
        let request = &self.request[..self.request_len];
        snappy::compress(request, &mut self.body, &mut []).expect("the body buffer fits")
    }

    /// [`encode`](Self::encode) then [`compress`](Self::compress): one request body.
    pub fn cycle(&mut self) -> usize {
        self.encode();
        self.compress()
    }

    /// The encoded request.
    #[must_use]
    pub fn request(&self) -> &[u8] {
        &self.request[..self.request_len]
    }

    /// The compressed body.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body[..self.body_len]
    }
}

/// One scrape of the population's averages as Prometheus text (`format=prometheus`,
/// default switches: no help, no types, timestamps) into `out`. Returns the bytes written.
///
/// # Panics
///
/// If `out` is too small for the scrape.
pub fn prometheus(pop: &Population, out: &mut [u8]) -> usize {
    let query = PromQuery::new(DataSource::Average, pop.names);
    let exposition = Exposition::new(pop.host(), &query);
    let mut len = 0;
    for chart in &pop.charts {
        let prom_chart = PromChart {
            meta: chart.meta(),
            homogeneous: true,
        };
        len += exposition
            .write_chart(&prom_chart, &mut out[len..])
            .expect("the scrape fits");
        for dim in &chart.dimensions {
            let Ok((value, window)) = Population::stored(chart, dim, AFTER, BEFORE) else {
                continue;
            };
            let meta = DimensionMeta {
                id: &dim.id,
                name: &dim.name,
            };
            len += exposition
                .write_stored(&prom_chart, &meta, value, &window, &mut out[len..])
                .expect("the scrape fits");
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population;

    #[test]
    fn remote_write_request_and_body() {
        let pop = population::shared();
        let mut rw = RemoteWrite::new(pop);
        assert_eq!(rw.samples(), METRICS);
        let len = rw.encode();
        let body = rw.compress();
        assert!(len > 100 * METRICS && body < len, "{len} -> {body}");
        // The first series starts with its field tag and __name__ label.
        assert_eq!(rw.request()[0], 0x0a);
        assert!(rw.request().windows(8).any(|w| w == b"__name__"));
        // Snappy's header: the uncompressed length as a varint.
        let mut n = 0u64;
        for (i, &b) in rw.body().iter().enumerate().take(5) {
            n |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                break;
            }
        }
        assert_eq!(n, len as u64);
        assert!(rw.compress_literal() > body);
        // The naive encoder writes the same bytes, less efficiently.
        let mut naive = Vec::new();
        assert_eq!(
            crate::naive::remote_write(rw.records(), &mut naive),
            METRICS
        );
        assert_eq!(&naive[..], rw.request());
        // The per-record encoder writes the same bytes too.
        let request = rw.request().to_vec();
        assert_eq!(rw.encode_per_record(), request.len());
        assert_eq!(rw.request(), &request[..]);
    }

    #[test]
    fn prometheus_scrape_matches_the_naive_one_in_shape() {
        let pop = population::shared();
        let mut out = vec![0u8; METRICS * CYCLE_BYTES_PER_METRIC];
        let len = prometheus(pop, &mut out);
        let ours = std::str::from_utf8(&out[..len]).unwrap();
        let mut naive = Vec::new();
        assert_eq!(crate::naive::prometheus(pop, &mut naive), METRICS);
        let naive = String::from_utf8(naive).unwrap();
        assert_eq!(ours.lines().count(), METRICS);
        // The same names and labels on every line; values may differ in the last digit.
        for (a, b) in ours.lines().zip(naive.lines()) {
            assert_eq!(a.split('}').next(), b.split('}').next());
            assert_eq!(a.rsplit(' ').next(), b.rsplit(' ').next());
        }
    }
}
